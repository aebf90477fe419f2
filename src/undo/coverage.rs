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
    pub fn finish(mut self, tx: &mut dyn ApplyTx, schema: &Schema) -> Result<Option<String>> {
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
            let moves = !schema.has_triggers_on(self.own.keys());
            crate::db::roll_up_partitions(&mut counted, &self.own, schema, moves);
            for (name, got) in counted {
                let want = self.own.get(&name).copied().unwrap_or_default();
                // Every update beyond the undo's own counts. A key action
                // that moves a reverted row before its revert (counted
                // twice, changed once) looks the same as one that changes
                // a row added since, which no entry holds, or a trigger's
                // (the attack reviews): where key actions run (a role that
                // may not set session_replication_role), such an undo is
                // refused, or partial with --allow-uncovered.
                let updates_beyond = got.updated > want.updated;
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
