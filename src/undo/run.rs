//! An undo's preview and its restore.
//!
//! The preview plans the undo in a read-only snapshot: every row's
//! conflicts, and for the deleted rows the engine's bulk check where it
//! has one that can run read-only. The restore runs inside a guarded
//! transaction given to it (the caller owns the journal protocol): it plans
//! again (or takes the preview's plan when nothing changed since, see
//! [`PlanMemo`]), stops on conflicts, puts deleted rows back through the
//! engine's bulk path, everything else in batches, checks referential
//! integrity where the engine could not, and records every restored row as
//! the undo's own journal rows, so an undo can be undone.

use std::collections::{BTreeMap, BTreeSet};

use super::plan::{
    BATCH, PHASES, batch_sql, conflict_error, current_rows, differing, for_each_batch, key_string,
    key_text, key_text_opt, plan,
};
use super::{Conflict, Loaded, PlanMemo, UndoOptions, UndoPlan, UndoReport};
use crate::db::bulk::StoredChunk;
use crate::db::dialect::Dialect;
use crate::db::restore::{
    BulkRestore, Checked, DeletedRows, Inserted, KeyTaken, RestoreMode, RestoreSink,
};
use crate::db::{ApplyTx, BulkFormat, Connection, PreviewTx, TargetIdentity};
use crate::error::{Error, Result};
use crate::journal::{ChangeMeta, Journal, Op, Recording, RowChange};
use crate::model::Value;
use crate::schema::{QualName, Schema, TableInfo, quote_ident};

/// One undo of one journaled change on one target.
pub struct Undo {
    loaded: Loaded,
    opts: UndoOptions,
    /// The journal the change's rows are read from: a second handle on the
    /// file, as the recording holds the first one's write transaction.
    source: Journal,
    info_of: BTreeMap<String, TableInfo>,
    dialect: Dialect,
    target: String,
    /// The engine's bulk path for the deleted rows, when they can take it
    /// (not with `--force`, which skips conflicting rows one by one); taken
    /// out while the restore uses it.
    bulk: Option<Box<dyn BulkRestore>>,
    /// Whether the deleted rows go back in bulk (`bulk` was chosen).
    in_bulk: bool,
}

impl Undo {
    /// Checks that `loaded` may be undone on the target `identity` names,
    /// whose schema is `schema`, and decides how.
    pub fn new(
        identity: &TargetIdentity,
        schema: &Schema,
        loaded: Loaded,
        opts: UndoOptions,
    ) -> Result<Undo> {
        let change = &loaded.change;
        let id = change.id;
        if change.meta.engine != identity.engine {
            return Err(Error::input(format!(
                "change {id} was made on {}, this target is {}",
                change.meta.engine.name(),
                identity.engine.name()
            )));
        }
        if !opts.replay && change.meta.target_database != identity.database {
            return Err(Error::input(format!(
                "change {id} was made on {} ({}), not on {}\nConnect to that database, or use dbguard undo replay to restore into another one.",
                change.meta.target, change.meta.target_database, identity.display
            )));
        }
        let source = Journal::open(Some(&loaded.source))?;
        let bulk = if opts.force {
            None
        } else {
            let bulk = crate::db::restore::bulk_restore(identity.engine);
            let rows = Stored {
                journal: &source,
                id,
            };
            bulk.eligible(schema, &loaded.tables, &rows)?
                .then_some(bulk)
        };
        Ok(Undo {
            info_of: loaded
                .tables
                .iter()
                .map(|t| (t.name.clone(), t.clone()))
                .collect(),
            loaded,
            opts,
            source,
            dialect: Dialect(identity.engine),
            target: identity.display.clone(),
            in_bulk: bulk.is_some(),
            bulk,
        })
    }

    /// The undo's own journal entry.
    pub fn meta(&self, identity: &TargetIdentity, operator: &str) -> ChangeMeta {
        let change = &self.loaded.change;
        let id = change.id;
        ChangeMeta::for_target(
            identity,
            operator,
            &format!("UNDO change {id}: {}", change.meta.statement),
            crate::model::ChangeKind::Undo,
            &change.meta.digest,
            serde_json::json!({"undo_of": id}).to_string(),
            (!self.opts.replay).then_some(id),
        )
    }

    /// The restore phases this undo plans row by row: all of them, or all
    /// but the deleted rows where those go back in bulk.
    fn phases(&self) -> &'static [(Op, bool)] {
        if self.in_bulk { &PHASES[1..] } else { &PHASES }
    }

    fn rows(&self) -> Stored<'_> {
        Stored {
            journal: &self.source,
            id: self.loaded.change.id,
        }
    }

    /// Plans the undo without changing anything; leaves in `memo` what
    /// the restore may reuse.
    pub fn preview(&self, conn: &mut Connection, memo: &mut Option<PlanMemo>) -> Result<UndoPlan> {
        let change = &self.loaded.change;
        let bulk = self.bulk.as_deref().filter(|b| b.checks_in_preview());
        let (plan, _) = conn.preview(self.opts.guard.statement_timeout, |tx| {
            let Some(bulk) = bulk else {
                return self.plan(tx, &PHASES);
            };
            let ((mut plan, skip), version) =
                crate::db::at_one_version(tx, |tx| self.plan(tx, self.phases()))?;
            if let Some(version) = version {
                *memo = Some(PlanMemo {
                    plan: plan.clone(),
                    skip: skip.clone(),
                    version,
                    change_id: change.id,
                    source: self.loaded.source.clone(),
                    target: self.target.clone(),
                });
            }
            let mut checked = Checked::default();
            bulk.check(tx, &self.by_position(), &self.rows(), &mut checked)?;
            add_checked(&mut plan, checked);
            Ok((plan, skip))
        })?;
        Ok(plan)
    }

    /// Tables in restore order, parents first.
    fn by_position(&self) -> Vec<&TableInfo> {
        by_position(&self.loaded.tables)
    }

    /// The loaded change this undoes.
    pub fn loaded(&self) -> &Loaded {
        &self.loaded
    }

    /// Whether conflicting rows are skipped rather than refusing.
    pub fn force(&self) -> bool {
        self.opts.force
    }

    /// The restore, inside the guarded transaction `tx` on the target
    /// whose schema is `schema`, recording into `rec` (the undo's own
    /// journal entry).
    pub fn restore(
        &mut self,
        tx: &mut dyn ApplyTx,
        rec: &mut Recording<'_>,
        schema: &Schema,
        prior: Option<PlanMemo>,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<UndoReport> {
        let (mut plan, skip) = self.plan_again(tx, prior)?;
        let mut bulk = self.bulk.take();
        let result =
            self.restore_planned(tx, rec, schema, &mut plan, &skip, bulk.as_mut(), progress);
        self.bulk = bulk;
        let (mode, differences) = result?;
        if !skip.is_empty() {
            rec.set_partial(&skipped_text(&plan, skip.len()))?;
        }
        Ok(UndoReport {
            plan,
            change_id: rec.id(),
            mode,
            differences,
            skipped: skip.len(),
        })
    }

    /// The preview's plan, when nothing committed and this connection
    /// wrote nothing since (see [`PlanMemo`]); otherwise a new one.
    fn plan_again(
        &self,
        tx: &mut dyn ApplyTx,
        prior: Option<PlanMemo>,
    ) -> Result<(UndoPlan, BTreeSet<i64>)> {
        let change = &self.loaded.change;
        let prior = prior.filter(|m| {
            m.change_id == change.id && m.source == self.loaded.source && m.target == self.target
        });
        if let Some(m) = prior
            && self.in_bulk
            && tx.data_version()?.as_deref() == Some(m.version.as_str())
        {
            return Ok((m.plan, m.skip));
        }
        self.plan(tx, self.phases())
    }

    /// Plans the rows of `phases` one by one: what each does, and its
    /// conflicts with the database now.
    fn plan(
        &self,
        tx: &mut dyn PreviewTx,
        phases: &[(Op, bool)],
    ) -> Result<(UndoPlan, BTreeSet<i64>)> {
        plan(
            tx,
            self.dialect,
            &self.loaded.change,
            &self.source,
            &self.info_of,
            phases,
        )
    }

    /// Everything after planning: conflicts, the bulk path, the batches,
    /// integrity. Returns the mode the rows were restored in and the
    /// differences triggers made.
    #[allow(clippy::too_many_arguments)]
    fn restore_planned(
        &self,
        tx: &mut dyn ApplyTx,
        rec: &mut Recording<'_>,
        schema: &Schema,
        plan: &mut UndoPlan,
        skip: &BTreeSet<i64>,
        mut bulk: Option<&mut Box<dyn BulkRestore>>,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<(RestoreMode, Vec<String>)> {
        let tables = self.by_position();
        let rows = self.rows();
        if let Some(bulk) = bulk.as_deref_mut() {
            let mut checked = Checked::default();
            bulk.prepare(tx, &tables, &rows, &mut checked)?;
            add_checked(plan, checked);
        }
        if !plan.conflicts.is_empty() && !self.opts.force {
            return Err(conflict_error(plan));
        }
        for t in &self.loaded.tables {
            rec.table(t)?;
        }
        let mode = tx.restore_mode()?;
        // A foreign key checked at the end of each statement fails where a
        // restored table references itself or a table restored after it
        // (a child can come back before its parent): where the engine can,
        // the checks wait for the end, and are made before the journal
        // entry is prepared.
        let deferred =
            references_forward(schema, &self.loaded.tables) && tx.defer_foreign_keys()?;
        let mut done = Done {
            rows: 0,
            total: self.loaded.change.row_count.max(0) as u64,
            crashed_half: false,
            progress,
        };
        let mut differences = Vec::new();
        if let Some(bulk) = bulk {
            let same_file = rec.is_in(&self.source);
            let mut sink = Restored {
                rec: &mut *rec,
                same_file,
                done: &mut done,
            };
            let mut checked = Checked::default();
            let inserted = bulk.insert(tx, &tables, &rows, mode, &mut sink, &mut checked)?;
            add_checked(plan, checked);
            match inserted {
                Inserted::Done(found) => differences.extend(found),
                Inserted::Taken(found) => {
                    plan.conflicts = found.into_iter().map(conflict).collect();
                    return Err(conflict_error(plan));
                }
            }
        }
        self.restore_batches(tx, rec, mode, skip, &mut done, &mut differences)?;
        if mode == RestoreMode::Replica || deferred {
            check_integrity(tx, schema, &self.loaded.tables)?;
        }
        Ok((mode, differences))
    }

    /// Restores every row the bulk path did not, in batches of one table
    /// and operation, and records each as the undo's own row.
    fn restore_batches(
        &self,
        tx: &mut dyn ApplyTx,
        rec: &mut Recording<'_>,
        mode: RestoreMode,
        skip: &BTreeSet<i64>,
        done: &mut Done<'_>,
        differences: &mut Vec<String>,
    ) -> Result<()> {
        let id = self.loaded.change.id;
        for_each_batch(
            &self.source,
            id,
            &self.info_of,
            self.phases(),
            BATCH,
            |info, rows| {
                let todo: Vec<&RowChange> =
                    rows.iter().filter(|r| !skip.contains(&r.seq)).collect();
                if todo.is_empty() {
                    return Ok(());
                }
                if let Some(sql) = batch_sql(self.dialect, info, &todo) {
                    let n = tx.execute(&sql)?;
                    if n != todo.len() as u64 {
                        return Err(Error::drift(format!(
                            "{}: restoring {} rows changed {n}; nothing was committed",
                            info.name,
                            todo.len()
                        )));
                    }
                }
                // What the rows are now: their before-images, unless triggers
                // (in triggers mode) changed them.
                let now = if mode == RestoreMode::Triggers && todo[0].op != Op::Insert {
                    Some(current_rows(tx, self.dialect, info, &todo)?)
                } else {
                    None
                };
                for row in &todo {
                    record_restored(rec, info, row, now.as_ref(), differences)?;
                }
                done.add(todo.len() as u64);
                Ok(())
            },
        )
    }
}

/// Records one restored row as the undo's own, noting where triggers made
/// it differ from its before-image.
fn record_restored(
    rec: &mut Recording<'_>,
    info: &TableInfo,
    row: &RowChange,
    now: Option<&std::collections::HashMap<String, Vec<Value>>>,
    differences: &mut Vec<String>,
) -> Result<()> {
    if row.op == Op::Insert {
        return rec.row(&row.table, Op::Delete, &row.key, row.after.as_deref(), None);
    }
    let before = row.before.clone().unwrap_or_default();
    let actual = now
        .and_then(|m| m.get(&key_string(&row.key)).cloned())
        .unwrap_or_else(|| before.clone());
    let cols = differing(info, &actual, &before);
    if !cols.is_empty() {
        differences.push(format!(
            "{} {}: {}",
            row.table,
            key_text(&row.key),
            cols.join(", ")
        ));
    }
    let key = info.key_of(&actual);
    if row.op == Op::Delete {
        rec.row(&row.table, Op::Insert, &key, None, Some(&actual))
    } else {
        rec.row(
            &row.table,
            Op::Update,
            &key,
            row.after.as_deref(),
            Some(&actual),
        )
    }
}

/// What the partial entry of an undo with `--force` says it skipped.
fn skipped_text(plan: &UndoPlan, skipped: usize) -> String {
    format!(
        "--force skipped {skipped} conflicting row(s): {}",
        plan.conflicts
            .iter()
            .take(100)
            .map(|c| format!("{} {} ({})", c.table, key_text_opt(&c.key), c.reason))
            .collect::<Vec<_>>()
            .join("; ")
    )
}

/// A key that exists again, as a conflict of the plan.
fn conflict(taken: KeyTaken) -> Conflict {
    Conflict {
        table: taken.table,
        key: taken.key,
        reason: "a row with this key exists again".into(),
    }
}

/// Adds what a bulk path found to the plan: rows to re-insert, conflicts.
fn add_checked(plan: &mut UndoPlan, checked: Checked) {
    for (table, rows) in checked.rows {
        plan.tables.entry(table).or_default().reinsert += rows;
    }
    plan.conflicts
        .extend(checked.taken.into_iter().map(conflict));
}

/// A change's deleted rows in the journal, as the bulk paths read them.
struct Stored<'j> {
    journal: &'j Journal,
    id: i64,
}

impl DeletedRows for Stored<'_> {
    fn chunks(
        &self,
        table: &TableInfo,
        f: &mut dyn FnMut(&StoredChunk<'_>) -> Result<()>,
    ) -> Result<()> {
        self.journal
            .for_each_chunk_of(self.id, &table.name, Op::Delete, |c| f(c))
    }

    fn singles(
        &self,
        table: &TableInfo,
        f: &mut dyn FnMut(Vec<Value>) -> Result<()>,
    ) -> Result<()> {
        self.journal
            .for_each_single_row_of(self.id, &table.name, Op::Delete, |row| match row.before {
                Some(values) => f(values),
                None => Ok(()),
            })
    }

    fn all_in_chunks(&self) -> Result<bool> {
        Ok(self.journal.single_rows(self.id, Op::Delete)? == 0)
    }

    fn formats(&self, table: &TableInfo) -> Result<Vec<BulkFormat>> {
        self.journal.chunk_formats(self.id, &table.name, Op::Delete)
    }
}

/// Where a bulk path's restored rows go: the undo's journal entry.
struct Restored<'r, 'j, 'p> {
    rec: &'r mut Recording<'j>,
    /// The entry goes into the file the rows were read from, so a chunk
    /// put back as it was can be recorded as a reference to it.
    same_file: bool,
    done: &'r mut Done<'p>,
}

impl RestoreSink for Restored<'_, '_, '_> {
    fn read_back(&mut self, table: &str, format: BulkFormat, rows: u64, data: &[u8]) -> Result<()> {
        self.rec.chunk(table, Op::Insert, format, rows, data)
    }

    fn same_as(&mut self, table: &str, chunk: &StoredChunk<'_>) -> Result<()> {
        if self.same_file {
            self.rec.chunk_ref(table, Op::Insert, chunk)
        } else {
            self.rec
                .chunk(table, Op::Insert, chunk.format, chunk.rows, chunk.data)
        }
    }

    fn done(&mut self, rows: u64) {
        self.done.add(rows);
    }
}

/// Rows an undo has restored so far: reported as progress, and the
/// midpoint where the crash tests kill it (`DBGUARD_CRASH_AT=during_undo`).
struct Done<'p> {
    rows: u64,
    total: u64,
    crashed_half: bool,
    progress: &'p mut dyn FnMut(u64, u64),
}

impl Done<'_> {
    fn add(&mut self, rows: u64) {
        self.rows += rows;
        (self.progress)(self.rows, self.total);
        if !self.crashed_half && self.rows * 2 >= self.total {
            self.crashed_half = true;
            crate::crash::point("during_undo");
        }
    }
}

/// Whether a restored table has a foreign key to itself or to a table
/// restored after it (a cycle), so restore order alone cannot satisfy it.
/// The order is the restore's own (position, then name): tables at the same
/// position, such as a `SET NULL` table beside the parent, are not in a
/// cycle just for sharing it.
fn references_forward(schema: &Schema, tables: &[TableInfo]) -> bool {
    let order: BTreeMap<QualName, usize> = by_position(tables)
        .into_iter()
        .enumerate()
        .map(|(i, t)| (QualName::new(t.schema.as_deref(), &t.table), i))
        .collect();
    order.iter().any(|(name, &i)| {
        schema.get(name).is_some_and(|t| {
            t.foreign_keys
                .iter()
                .any(|fk| order.get(&fk.ref_table).is_some_and(|&r| r >= i))
        })
    })
}

/// Tables in restore order, parents first.
fn by_position(tables: &[TableInfo]) -> Vec<&TableInfo> {
    let mut ordered: Vec<&TableInfo> = tables.iter().collect();
    ordered.sort_by_key(|t| (t.position, t.name.clone()));
    ordered
}

/// With triggers off, foreign keys were not checked while restoring: check
/// every key into and out of the restored tables before commit.
fn check_integrity(tx: &mut dyn ApplyTx, schema: &Schema, tables: &[TableInfo]) -> Result<()> {
    let names: Vec<QualName> = tables
        .iter()
        .map(|t| QualName::new(t.schema.as_deref(), &t.table))
        .collect();
    let mut fks = Vec::new();
    for n in &names {
        if let Some(t) = schema.get(n) {
            fks.extend(t.foreign_keys.iter().cloned());
        }
        fks.extend(schema.referencing(n).into_iter().cloned());
    }
    fks.sort_by(|a, b| a.name.cmp(&b.name).then(a.table.cmp(&b.table)));
    fks.dedup_by(|a, b| a.name == b.name && a.table == b.table);
    for fk in fks {
        let not_null: Vec<String> = fk
            .columns
            .iter()
            .map(|c| format!("c.{} IS NOT NULL", quote_ident(c)))
            .collect();
        let eq: Vec<String> = fk
            .columns
            .iter()
            .zip(&fk.ref_columns)
            .map(|(c, r)| format!("p.{} = c.{}", quote_ident(r), quote_ident(c)))
            .collect();
        let sql = format!(
            "SELECT count(*) FROM {} AS c WHERE {} AND NOT EXISTS (SELECT 1 FROM {} AS p WHERE {})",
            fk.table.sql(),
            not_null.join(" AND "),
            fk.ref_table.sql(),
            eq.join(" AND ")
        );
        let n = (tx as &mut dyn PreviewTx).count(&sql)?.unwrap_or(0);
        if n > 0 {
            return Err(Error::refused(format!(
                "the restored rows would leave {n} row{} of {} without their {} row (FK {}); nothing was committed",
                if n == 1 { "" } else { "s" },
                fk.table,
                fk.ref_table,
                fk.name
            )));
        }
    }
    Ok(())
}
