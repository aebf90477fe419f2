//! What an undo changed beyond the rows it restores.
//!
//! An undo's statements are dbguard's own, but the engine may still act on
//! them: `ON DELETE` and `ON UPDATE` actions of keys that reference a row
//! the undo deletes or moves (a child added since the change), and
//! triggers, on SQLite always and on Postgres when the role may not turn
//! them off (triggers mode). Whatever they change, the undo's own entry
//! does not hold, so it could not be undone in turn. As for a write
//! (`change::apply`), the engine's own counts tell: SQLite's total changes
//! per statement, Postgres's per-table counters over the transaction.

use std::collections::BTreeMap;

use crate::db::{ApplyTx, Executed, TableCounts};
use crate::error::Result;
use crate::journal::Op;
use crate::schema::{QualName, Schema};

/// The undo's own changes per table, and what the engine did beyond them.
pub(super) struct Effects {
    /// The counters before the undo's first statement (Postgres).
    baseline: Option<BTreeMap<QualName, TableCounts>>,
    own: BTreeMap<QualName, TableCounts>,
    beyond: Vec<String>,
}

impl Effects {
    pub fn start(tx: &mut dyn ApplyTx) -> Result<Effects> {
        Ok(Effects {
            baseline: tx.counters()?,
            own: BTreeMap::new(),
            beyond: Vec::new(),
        })
    }

    /// Records one of the undo's statements on `table`: `n` rows it meant
    /// to change by `op`, and what the engine says it changed.
    pub fn statement(&mut self, table: &QualName, op: Op, n: u64, executed: &Executed) {
        let own = self.own.entry(table.clone()).or_default();
        match op {
            Op::Delete => own.deleted += n,
            Op::Update => own.updated += n,
            Op::Insert => own.inserted += n,
        }
        if let Some(changed) = executed.changed
            && changed > n
        {
            self.beyond.push(format!(
                "{table}: {} {n} row(s) changed {changed} in all",
                verb(op)
            ));
        }
    }

    /// What the engine changed beyond the undo's own rows, described, or
    /// `None` when nothing.
    /// `key_actions_only`: key actions run in the undo's mode and no
    /// trigger of a restored table fires, so an update counted beyond the
    /// undo's own can only be such an action's (below); otherwise none is
    /// allowed.
    pub fn finish(
        mut self,
        tx: &mut dyn ApplyTx,
        schema: &Schema,
        key_actions_only: bool,
    ) -> Result<Option<String>> {
        // A deferred constraint trigger would write at COMMIT, after this.
        tx.fire_deferred()?;
        if let (Some(before), Some(now)) = (self.baseline.take(), tx.counters()?) {
            let mut counted: BTreeMap<QualName, TableCounts> = now
                .into_iter()
                .map(|(name, c)| {
                    let got = c.since(before.get(&name).copied().unwrap_or_default());
                    (name, got)
                })
                .collect();
            crate::db::roll_up_partitions(&mut counted, &self.own, schema);
            for (name, got) in counted {
                let want = self.own.get(&name).copied().unwrap_or_default();
                // In a table whose rows the undo reverts, a key action
                // that moves them first (the parent reverted before its
                // children) updates rows the revert then gives their
                // before-images anyway: counted twice, changed once. Only
                // where nothing else can update rows: a trigger's updates
                // (of a sibling partition, counted with its parent) would
                // pass for such.
                let updates_beyond =
                    got.updated > want.updated && !(key_actions_only && want.updated > 0);
                if got.deleted > want.deleted || got.inserted > want.inserted || updates_beyond {
                    self.beyond.push(format!(
                        "{name} (the undo's own: {} deleted, {} updated, {} inserted; the engine changed {} deleted, {} updated, {} inserted)",
                        want.deleted,
                        want.updated,
                        want.inserted,
                        got.deleted,
                        got.updated,
                        got.inserted
                    ));
                }
            }
        }
        // Truncated, rewritten or written on another server by a trigger:
        // no row counter shows it.
        for (name, held) in tx.held_beyond_counters()? {
            self.beyond.push(format!("{name} ({held})"));
        }
        if self.beyond.is_empty() {
            return Ok(None);
        }
        Ok(Some(format!(
            "the undo would also change rows its journal entry cannot hold (ON DELETE or ON UPDATE actions, or triggers, acting on the restored rows): {}",
            self.beyond.join("; ")
        )))
    }
}

fn verb(op: Op) -> &'static str {
    match op {
        Op::Delete => "deleting",
        Op::Update => "reverting",
        Op::Insert => "re-inserting",
    }
}
