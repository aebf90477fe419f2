//! An undo's preview and its restore.
//!
//! The preview plans the undo in a read-only snapshot (`super::plan`). The
//! restore runs inside the guarded transaction the pipeline opens, which
//! also holds the undo's own journal entry: it plans again, stops on
//! conflicts (unless forced), then restores table by table with one
//! statement per step (`super::sets`), recording what each step changed in
//! the undo's entry through the same recording a write uses, so an undo
//! can be undone. Rows the change inserted go first (children first), then
//! the deleted rows come back (parents first), then the updated rows get
//! their before-images; each step's row count is checked against the plan.

use std::collections::BTreeMap;

use super::coverage::Effects;
use super::plan::{conflict_error, key_text_opt, plan};
use super::sets::TableSets;
use super::{Loaded, UndoOptions, UndoPlan, UndoReport};
use crate::db::dialect::Dialect;
use crate::db::journal::{JournalNames, Part, change_prefix, data_column};
use crate::db::restore::RestoreMode;
use crate::db::{ApplyTx, Connection, PreviewTx, TargetIdentity, Value};
use crate::error::{Error, Result};
use crate::journal::{ChangeMeta, Op, Recording, TableEntry};
use crate::model::ChangeKind;
use crate::schema::{FkAction, Locator, QualName, Schema, quote_ident};

/// One undo of one journaled change on one target.
pub struct Undo {
    loaded: Loaded,
    opts: UndoOptions,
    /// Where the change's rows came from, for a replay (`target#id`).
    replay_of: Option<String>,
}

impl Undo {
    /// Checks that `loaded` may be undone on the target `identity` names:
    /// the database the change was made in, on the same cluster.
    pub fn new(identity: &TargetIdentity, loaded: Loaded, opts: UndoOptions) -> Result<Undo> {
        let meta = &loaded.change.meta;
        let id = loaded.change.id;
        if meta.kind == crate::model::ChangeKind::Policy {
            return Err(Error::input(format!(
                "change {id} pinned a policy, which holds no rows to put back; nothing was undone
To go back to an earlier policy, push it: dbguard policy push DIR"
            )));
        }
        if meta.kind == crate::model::ChangeKind::Admin {
            return Err(Error::input(format!(
                "change {id} signalled a session ({}), which no undo can bring back; nothing was undone",
                meta.statement
            )));
        }
        let other_cluster = matches!(
            (&meta.system_identifier, &identity.system_identifier),
            (Some(a), Some(b)) if a != b
        );
        if meta.database != identity.database || other_cluster {
            return Err(Error::input(format!(
                "change {id} was made in {} ({}), not in {} ({}: {})\nAn undo runs only in the database the change was made in. To put its rows back into another database, use: dbguard undo replay --from {} --to {} {id}",
                meta.database,
                cluster(meta.system_identifier.as_deref()),
                identity.database,
                cluster(identity.system_identifier.as_deref()),
                identity.display,
                meta.target,
                identity.display
            )));
        }
        Ok(Undo {
            loaded,
            opts,
            replay_of: None,
        })
    }

    /// An undo of rows staged from another database's journal (`undo
    /// replay`): no identity check, and the entry says where they came
    /// from.
    pub fn replay(loaded: Loaded, opts: UndoOptions, source: String) -> Undo {
        Undo {
            loaded,
            opts,
            replay_of: Some(source),
        }
    }

    /// The loaded change this undoes.
    pub fn loaded(&self) -> &Loaded {
        &self.loaded
    }

    /// Whether conflicting rows are skipped rather than refusing.
    pub fn force(&self) -> bool {
        self.opts.force
    }

    /// Refuses where a table's columns changed since the change: a column
    /// gone, or of another type (`numeric` become `numeric(10,1)`), would
    /// take values other than the captured ones, or none. A column added
    /// since takes its default in re-inserted rows and keeps its value in
    /// reverted ones. Notes on each table what the restore must know of
    /// it now: whether others inherit from it ([`TableInfo::inherited`]).
    pub fn check_columns(&mut self, schema: &Schema) -> Result<()> {
        let id = self.loaded.change.id;
        for t in &mut self.loaded.tables {
            let name = t.info.qual_name();
            let Some(table) = schema.get(&name) else {
                return Err(Error::refused(format!(
                    "cannot undo change {id}: {name} is gone since the change; nothing was changed"
                )));
            };
            t.info.inherited = table.inherited;
            for c in t.info.written_columns().map(|(_, c)| c) {
                let now = table.columns.iter().find(|n| n.name == c.name);
                let problem = match now {
                    None => "was dropped since the change".to_owned(),
                    Some(n) if unqualified(&n.type_name) != unqualified(&c.type_name) => format!(
                        "is {} now, {} when the change was made",
                        n.type_name, c.type_name
                    ),
                    Some(_) => continue,
                };
                return Err(Error::refused(format!(
                    "cannot undo change {id}: column {} of {name} {problem}, so its values could not come back exactly; nothing was changed\nPut the column back as it was, or restore by hand from `dbguard undo export {id}`.",
                    quote_ident(&c.name)
                )));
            }
            // A keyless update is swapped back by deleting copies and
            // inserting before-images: a column added since would lose its
            // values, and rows differing only there would pass for copies.
            let swapped = t.updated > 0 && t.locator == crate::schema::Locator::None;
            if let Some(added) = table
                .columns
                .iter()
                .find(|n| !t.info.columns.iter().any(|c| c.name == n.name))
                .filter(|_| swapped)
            {
                return Err(Error::refused(format!(
                    "cannot undo change {id}: {name} has no primary key and gained column {} since the change, whose values putting its updated rows back by value would lose; nothing was changed\nRestore by hand from `dbguard undo export {id}`.",
                    quote_ident(&added.name)
                )));
            }
        }
        Ok(())
    }

    /// Lets the restore commit rows changed beyond those it restores.
    pub fn allow_uncovered(&mut self, allow: bool) {
        self.opts.allow_uncovered = allow;
    }

    /// The undo's own journal entry.
    pub fn meta(&self, identity: &TargetIdentity, operator: &str) -> ChangeMeta {
        let change = &self.loaded.change;
        let id = change.id;
        ChangeMeta {
            operator: operator.to_owned(),
            engine: identity.engine,
            target: identity.display.clone(),
            database: identity.database.clone(),
            system_identifier: identity.system_identifier.clone(),
            statement: format!("UNDO change {id}: {}", change.meta.statement),
            kind: ChangeKind::Undo,
            digest: change.meta.digest.clone(),
            impact: serde_json::json!({"undo_of": id}).to_string(),
            undo_of: self.replay_of.is_none().then_some(id),
            replay_of: self.replay_of.clone(),
        }
    }

    /// Plans the undo without changing anything; with the data version
    /// the plan was read at.
    pub fn preview(&self, conn: &mut Connection) -> Result<(UndoPlan, Option<String>)> {
        conn.preview(self.opts.guard.statement_timeout, |tx| {
            let version = tx.data_version()?;
            if self.replay_of.is_none() {
                check_sealed(tx, self.loaded.change.id)?;
            }
            Ok((plan(tx, &self.loaded)?, version))
        })
    }

    /// The restore, inside the guarded transaction `tx` on the target
    /// whose schema is `schema`, recording into `rec` (the undo's own
    /// journal entry). `unchanged`: the plan a preview read, when `tx`
    /// has found the data as the preview read it
    /// (`crate::change::undo`); planned again otherwise.
    pub fn restore(
        &mut self,
        tx: &mut dyn ApplyTx,
        rec: &mut Recording,
        schema: &Schema,
        unchanged: Option<&UndoPlan>,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<UndoReport> {
        self.check_columns(schema)?;
        // The preview checked the seal; with the data as it read it (no
        // commit since), that still holds.
        if self.replay_of.is_none() && unchanged.is_none() {
            check_sealed(tx, self.loaded.change.id)?;
        }
        let plan = match unchanged {
            Some(plan) => plan.clone(),
            None => plan(tx, &self.loaded)?,
        };
        if !plan.conflicts.is_empty() && !self.opts.force {
            return Err(conflict_error(&plan));
        }
        let forced = !plan.conflicts.is_empty();
        let tables = by_position(&self.loaded.tables);
        for t in &tables {
            rec.table(&t.info, t.locator.clone());
        }
        let names: Vec<QualName> = tables.iter().map(|t| t.info.qual_name()).collect();
        let mode = tx.restore_mode(&names)?;
        let beyond = self.beyond_the_rows(tx, schema, &names, mode)?;
        let effects = Effects::start(tx)?;
        // A foreign key checked at the end of each statement fails where a
        // restored table references itself or a table restored after it:
        // where the engine can, the checks wait for the end, and are made
        // before commit.
        let deferred = references_forward(schema, &tables) && tx.defer_foreign_keys()?;
        let dialect = Dialect(tx.engine());
        let mut steps = Steps {
            tx,
            rec,
            loaded: &self.loaded,
            dialect,
            strict: !forced,
            done: 0,
            total: self.loaded.change.row_count.max(0) as u64,
            progress,
            effects,
        };
        // What to revert and delete is chosen before anything changes: a
        // foreign-key action one step sets off must not change the choice.
        let mut chosen = BTreeMap::new();
        for t in &tables {
            chosen.insert(t.info.name.clone(), steps.choose(t)?);
        }
        crate::crash::point("undo_after_choose");
        for t in &tables {
            steps.reinsert(t)?;
        }
        crate::crash::point("undo_after_reinsert");
        // With the checks deferred, children first: reverting a parent's
        // key where the engine runs ON UPDATE actions would move the
        // children's rows before their own revert finds them; reverted
        // first, they no longer reference the moved key. Checked at once,
        // a child can only follow its parent.
        let order: Vec<&TableEntry> = if deferred {
            tables.iter().rev().copied().collect()
        } else {
            tables.clone()
        };
        for t in order {
            steps.revert(t, chosen[&t.info.name].reverted)?;
            steps.swap(t, chosen[&t.info.name].swapped)?;
        }
        for t in tables.iter().rev() {
            steps.delete_inserted(t, chosen[&t.info.name].deleted)?;
        }
        steps.tx.end_restore()?;
        let differences = if could_differ(schema, &tables, mode) {
            steps.differences(&tables)?
        } else {
            Vec::new()
        };
        let Steps {
            tx, rec, effects, ..
        } = steps;
        if mode == RestoreMode::Replica || deferred {
            check_integrity(tx, schema, &tables)?;
        }
        let hint = dialect
            .quiet_restore_hint()
            .map_or_else(String::new, |h| format!(", or {h}"));
        let mut partial: Vec<String> = beyond.into_iter().collect();
        if !differences.is_empty() {
            partial.push(self.accepted(
                format!(
                    "the undo would restore rows that differ from their before-images (triggers changed them): {}",
                    differences.join("; ")
                ),
                &format!("Disable the triggers that changed them for the undo{hint}"),
            )?);
        }
        if let Some(beyond) = effects.finish(tx, schema)? {
            partial.push(self.accepted(
                beyond,
                &format!(
                    "Remove or re-point the rows that reference what the undo deletes or moves{hint}"
                ),
            )?);
        }
        if forced {
            partial.push(skipped_text(&plan));
        }
        if !partial.is_empty() {
            rec.set_partial(&partial.join("; "));
        }
        Ok(UndoReport {
            change_id: rec.id(),
            mode,
            differences,
            skipped: if forced { plan.conflicts.len() } else { 0 },
            plan,
        })
    }
}

impl Undo {
    /// What the triggers that fire on the restored tables in `mode`, and
    /// the functions those tables' definitions run, would do beyond the
    /// rows ([`ApplyTx`]'s `beyond_the_rows`): refused before the restore's
    /// first statement unless accepted, since no rollback takes it back.
    fn beyond_the_rows(
        &self,
        tx: &mut dyn ApplyTx,
        schema: &Schema,
        tables: &[QualName],
        mode: RestoreMode,
    ) -> Result<Option<String>> {
        let firing: Vec<(QualName, String)> = tables
            .iter()
            .filter_map(|name| schema.get(name))
            .flat_map(|t| {
                t.triggers
                    .iter()
                    .filter(|tr| mode.fires(tr))
                    .map(|tr| (t.name.clone(), tr.name.clone()))
            })
            .collect();
        // The restore writes rows into every table it restores: their
        // constraints and index expressions run.
        let touched: Vec<crate::db::Touched<'_>> = tables
            .iter()
            .map(|name| crate::db::Touched::in_schema(schema, name))
            .collect();
        let found = tx.beyond_the_rows(&firing, tables, &touched)?;
        if found.is_empty() {
            return Ok(None);
        }
        self.accepted(
            format!(
                "what the undo sets off (triggers, or functions its tables' defaults, constraints and indexes run) would act beyond the rows its entry can hold: {}",
                found.join("; ")
            ),
            "Disable those triggers, or drop those calls, for the undo",
        )
        .map(Some)
    }

    /// What the undo would commit beyond exact before-images, `why`:
    /// refused with `help`, unless the operator allowed it, when it is
    /// what the entry's partial mark says.
    fn accepted(&self, why: String, help: &str) -> Result<String> {
        if self.opts.allow_uncovered {
            return Ok(why);
        }
        Err(Error::refused(format!(
            "{why}\nNothing was committed. {help}, or rerun with --allow-uncovered (the undo's entry will be partial)."
        )))
    }
}

/// Change `id`'s undo data must be what the change committed, by the seal
/// its audit record holds (`crate::db::seal`): before-images edited with
/// another client would be put back as if they were the change's.
fn check_sealed(tx: &mut dyn PreviewTx, id: i64) -> Result<()> {
    let Some(seal) = crate::journal::vouched::seal_of(tx, id)? else {
        return Ok(());
    };
    match crate::db::seal::broken(tx, id, &seal)? {
        None => Ok(()),
        Some(why) => Err(Error::refused(format!(
            "{why}; nothing was undone\nRun dbguard audit verify, and keep a copy of the database as evidence."
        ))),
    }
}

/// A type's name without the schema that qualifies it: Postgres names a
/// type outside the search path with its schema (`public.short_text`)
/// and one on it without, so the name captured and the name now differ
/// when only the session's search path did. (Two types of one name in
/// two schemas are not told apart.)
fn unqualified(type_name: &str) -> &str {
    let mut quoted = false;
    let mut last_dot = None;
    for (i, ch) in type_name.char_indices() {
        match ch {
            '"' => quoted = !quoted,
            '.' if !quoted => last_dot = Some(i),
            _ => {}
        }
    }
    last_dot.map_or(type_name, |i| &type_name[i + 1..])
}

/// Whether anything but the undo's own statements could have written the
/// restored rows: a trigger on a restored table that fires in `mode`
/// (with `session_replication_role = replica`, only those enabled ALWAYS
/// or REPLICA; none when they were dropped for the restore), or, where
/// key actions run, a key action of a restored table's foreign key,
/// which fires only where the undo deletes rows of the parent (the rows
/// its change inserted) or moves their keys (rows it updated). Without either, what the undo wrote is what is there, and
/// comparing every restored row again is only cost (most of a SQLite
/// undo's time after the re-insert itself).
fn could_differ(schema: &Schema, tables: &[&TableEntry], mode: RestoreMode) -> bool {
    let touched: BTreeMap<QualName, &TableEntry> =
        tables.iter().map(|t| (t.info.qual_name(), *t)).collect();
    tables.iter().any(|t| {
        schema.get(&t.info.qual_name()).is_none_or(|table| {
            table.triggers.iter().any(|tg| mode.fires(tg))
                || mode.key_actions()
                    && table.foreign_keys.iter().any(|fk| {
                        let Some(parent) = touched.get(&fk.ref_table) else {
                            return false;
                        };
                        let acts =
                            |a: FkAction| !matches!(a, FkAction::NoAction | FkAction::Restrict);
                        (parent.inserted > 0 && acts(fk.on_delete))
                            || (parent.updated > 0 && acts(fk.on_update))
                    })
        })
    })
}

fn cluster(id: Option<&str>) -> String {
    id.map_or_else(|| "cluster unknown".to_owned(), |s| format!("cluster {s}"))
}

/// The restore's steps, each one statement per table, recorded in the
/// undo's own entry.
struct Steps<'s, 'p> {
    tx: &'s mut dyn ApplyTx,
    rec: &'s mut Recording,
    loaded: &'s Loaded,
    dialect: Dialect,
    /// No conflicts: every step must change exactly the rows planned.
    strict: bool,
    done: u64,
    total: u64,
    progress: &'p mut dyn FnMut(u64, u64),
    effects: Effects,
}

impl Steps<'_, '_> {
    fn advance(&mut self, n: u64) {
        self.done += n;
        (self.progress)(self.done, self.total);
    }

    /// A step changed `got` rows where the plan counted `want`.
    fn check(&self, t: &TableEntry, what: &str, want: u64, got: u64) -> Result<()> {
        if self.strict && want != got {
            return Err(Error::drift(format!(
                "{}: {what} {want} rows changed {got}; nothing was committed",
                t.info.name
            )));
        }
        Ok(())
    }

    /// Records, before anything changes, the rows the undo will revert
    /// (updated rows still equal to their after-images) and delete
    /// (inserted rows still as inserted), as the undo's own before-images.
    fn choose(&mut self, t: &TableEntry) -> Result<Chosen> {
        let sets = TableSets::new(t, self.dialect, &self.loaded.prefix);
        let name = &t.info.name;
        let mut chosen = Chosen::default();
        if t.updated > 0
            && let Some(before) = sets.reverted_before()
        {
            let nloc = match &t.locator {
                Locator::Rowid if !sets.key_is_rowid() => 1,
                _ => t.info.key_columns.len(),
            };
            chosen.reverted = self
                .rec
                .capture_query(self.tx, name, Part::Before, nloc, &before)?;
            self.check(t, "choosing to revert", t.updated, chosen.reverted)?;
        }
        if t.updated > 0 && sets.located("t", "a").is_none() {
            chosen.swapped = self.choose_swap(t, &sets)?;
        }
        if t.inserted > 0 {
            chosen.deleted = self.rec.capture_query(
                self.tx,
                name,
                Part::Deleted,
                0,
                &sets.inserted_still_there(),
            )?;
            self.check(t, "choosing to delete", t.inserted, chosen.deleted)?;
        }
        Ok(chosen)
    }

    /// Updated rows of a table without a key: every after-image still has
    /// a copy in the table, or (forced past that conflict) none is
    /// touched, so no row is deleted that is not put back. The copies it
    /// will delete are recorded as the undo's own deleted rows.
    fn choose_swap(&mut self, t: &TableEntry, sets: &TableSets<'_>) -> Result<u64> {
        if super::plan::missing_copies(self.tx, sets)? > 0 {
            // The plan's conflict: only a forced undo gets here.
            self.check(t, "choosing to revert", t.updated, 0)?;
            return Ok(0);
        }
        let n = self.rec.capture_query(
            self.tx,
            &t.info.name,
            Part::Deleted,
            0,
            &sets.after_copies(),
        )?;
        self.check(t, "choosing to revert", t.updated, n)?;
        Ok(n)
    }

    /// Swaps the chosen after-images of a table without a key for their
    /// before-images: one copy of each deleted, the before-images
    /// inserted and recorded (as the engine stored them) as the undo's
    /// inserted rows.
    fn swap(&mut self, t: &TableEntry, chosen: u64) -> Result<()> {
        if chosen == 0 {
            return Ok(());
        }
        let sets = TableSets::new(t, self.dialect, &self.loaded.prefix);
        let qual = t.info.qual_name();
        let executed = self
            .tx
            .execute_statement(&sets.delete_after_copies(), None)?;
        let deleted = executed.changed.unwrap_or(executed.reported).min(chosen);
        self.effects
            .statement(&qual, Op::Delete, deleted, &executed);
        let sql = sets.insert_before();
        let returning = format!("{sql}\nRETURNING *");
        let (inserted, captured) =
            self.rec
                .execute_insert(self.tx, &t.info.name, &sql, Some(&returning), None, None)?;
        self.effects
            .statement(&qual, Op::Insert, inserted.reported, &inserted);
        if deleted != chosen || inserted.reported != chosen || captured != chosen {
            return Err(Error::drift(format!(
                "{}: {chosen} updated rows to swap back, {deleted} deleted, {} inserted, {captured} recorded; nothing was committed",
                t.info.name, inserted.reported
            )));
        }
        self.advance(chosen);
        Ok(())
    }

    /// Deletes the rows the change inserted that are still as inserted.
    fn delete_inserted(&mut self, t: &TableEntry, chosen: u64) -> Result<()> {
        if t.inserted == 0 {
            return Ok(());
        }
        let sets = TableSets::new(t, self.dialect, &self.loaded.prefix);
        let executed = self.tx.execute_statement(&sets.delete_inserted(), None)?;
        // SQLite's own count leaves out rows of the same table a cascade
        // removed before the statement reached them: the engine's total
        // is the count, and anything beyond `chosen` is not the undo's.
        let deleted = executed.changed.unwrap_or(executed.reported).min(chosen);
        self.effects
            .statement(&t.info.qual_name(), Op::Delete, deleted, &executed);
        if deleted != chosen {
            return Err(Error::drift(format!(
                "{}: {chosen} inserted rows were to be deleted but {deleted} were; nothing was committed",
                t.info.name
            )));
        }
        self.advance(deleted);
        Ok(())
    }

    /// Inserts the deleted rows again, recording them (as the engine
    /// stored them) as the undo's inserted rows.
    fn reinsert(&mut self, t: &TableEntry) -> Result<()> {
        if t.deleted == 0 {
            return Ok(());
        }
        let sets = TableSets::new(t, self.dialect, &self.loaded.prefix);
        let sql = sets.reinsert(!self.strict);
        // The statement is dbguard's own, with no RETURNING list of its own.
        let returning = Some(format!("{sql}\nRETURNING *"));
        // With no conflicts every deleted row goes back under its own key
        // or the statement fails: under a key that is the rowid (never
        // NULL), the rows inserted are those of the deleted rows' keys.
        let keys = (self.strict && sets.key_is_rowid())
            .then(|| sets.deleted_keys())
            .flatten();
        let (executed, captured) = self.rec.execute_insert(
            self.tx,
            &t.info.name,
            &sql,
            returning.as_deref(),
            keys.as_ref()
                .map(|(query, column)| crate::db::InsertedKeys { query, column }),
            None,
        )?;
        self.check(t, "re-inserting", t.deleted, executed.reported)?;
        self.effects.statement(
            &t.info.qual_name(),
            Op::Insert,
            executed.reported,
            &executed,
        );
        if captured != executed.reported {
            return Err(Error::drift(format!(
                "{}: {} rows re-inserted but {captured} recorded; nothing was committed",
                t.info.name, executed.reported
            )));
        }
        self.advance(executed.reported);
        Ok(())
    }

    /// Gives the chosen updated rows their before-images back, and
    /// records them as they are then (the undo's after-images).
    fn revert(&mut self, t: &TableEntry, chosen: u64) -> Result<()> {
        if chosen == 0 {
            return Ok(());
        }
        let sets = TableSets::new(t, self.dialect, &self.loaded.prefix);
        let name = &t.info.name;
        let own = self.rec.snapshot(name, Part::Before)?;
        let Some(revert) = sets.revert(&own) else {
            return Ok(());
        };
        let executed = self.tx.execute_statement(&revert, None)?;
        let reverted = executed.reported;
        self.effects
            .statement(&t.info.qual_name(), Op::Update, reverted, &executed);
        let after = self.rec.after_images(self.tx, name)?;
        if reverted != chosen || after != chosen {
            return Err(Error::drift(format!(
                "{name}: {chosen} rows to revert, {reverted} reverted, {after} found after; nothing was committed"
            )));
        }
        self.advance(reverted);
        Ok(())
    }

    /// Where triggers made restored rows differ from their before-images:
    /// `table (key): columns`.
    fn differences(&mut self, tables: &[&TableEntry]) -> Result<Vec<String>> {
        let names = JournalNames::new(self.dialect.0);
        let own = change_prefix(self.rec.id());
        let mut out = Vec::new();
        for t in tables {
            let sets = TableSets::new(t, self.dialect, &self.loaded.prefix);
            let slot = self.rec.entry(&t.info.name)?.slot;
            let mine = |part| names.staged(&own, slot, part);
            if t.updated > 0 && sets.located("t", "a").is_none() {
                if self.rec.entry(&t.info.name)?.inserted > 0 {
                    let sql = sets.inserted_beyond_before(&mine(Part::Inserted));
                    let bent = super::plan::scalar_count(self.tx, &sql)?;
                    if bent > 0 {
                        out.push(format!(
                            "{}: {bent} restored row(s) are not among the rows the change took away",
                            t.info.name
                        ));
                    }
                }
                continue;
            }
            let pairs = [
                (
                    t.deleted > 0 && sets.has_key(),
                    Part::Deleted,
                    Part::Inserted,
                ),
                (t.updated > 0, Part::Before, Part::After),
            ];
            for (wanted, theirs, ours) in pairs {
                if !wanted {
                    continue;
                }
                let on = if theirs == Part::Before {
                    "u.row = s.row".to_owned()
                } else {
                    sets.key_of("s")
                        .iter()
                        .zip(sets.key_of("u"))
                        .map(|(a, b)| format!("{a} = {b}"))
                        .collect::<Vec<_>>()
                        .join(" AND ")
                };
                let sql = differing_sql(&sets, &sets.snap(theirs), &mine(ours), &on);
                let cols = sets.compared_names();
                let nkey = sets.key_of("s").len();
                self.tx.stream(&sql, &mut |row| {
                    let key: Vec<Option<String>> = row.iter().take(nkey).map(Value::text).collect();
                    let differ: Vec<&str> = cols
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| {
                            row.get(nkey + i)
                                .and_then(Value::text)
                                .is_some_and(|v| v == "1")
                        })
                        .map(|(_, c)| c.as_str())
                        .collect();
                    out.push(format!(
                        "{} {}: {}",
                        t.info.name,
                        key_text_opt(&key),
                        differ.join(", ")
                    ));
                    Ok(())
                })?;
            }
        }
        Ok(out)
    }
}

/// The rows an undo chose, before anything changed, per table.
#[derive(Debug, Clone, Copy, Default)]
struct Chosen {
    reverted: u64,
    deleted: u64,
    /// Updated rows of a table without a key, swapped back by value.
    swapped: u64,
}

/// Rows of snapshot `theirs` (as `s`) whose counterpart in `ours` (as
/// `u`, joined `on`) differs: the key, then a flag per compared column.
fn differing_sql(sets: &TableSets<'_>, theirs: &str, ours: &str, on: &str) -> String {
    let positions: Vec<usize> = sets.entry.info.written_columns().map(|(i, _)| i).collect();
    let col = |a: &str, i: usize| format!("{a}.{}", data_column(i));
    let flags: Vec<String> = positions
        .iter()
        .map(|&i| {
            format!(
                "CASE WHEN {} THEN 0 ELSE 1 END",
                sets.dialect.images_equal(&[col("s", i)], &[col("u", i)])
            )
        })
        .collect();
    let all_s: Vec<String> = positions.iter().map(|&i| col("s", i)).collect();
    let all_u: Vec<String> = positions.iter().map(|&i| col("u", i)).collect();
    let mut select = sets.key_of("s");
    select.extend(flags);
    format!(
        "SELECT {} FROM {theirs} AS s JOIN {ours} AS u ON {on} WHERE NOT {}",
        select.join(", "),
        sets.dialect.images_equal(&all_s, &all_u)
    )
}

/// What the partial entry of an undo with `--force` says it skipped.
fn skipped_text(plan: &UndoPlan) -> String {
    format!(
        "--force skipped {} conflicting row(s): {}",
        plan.conflicts.len(),
        plan.conflicts
            .iter()
            .take(100)
            .map(|c| format!("{} {} ({})", c.table, key_text_opt(&c.key), c.reason))
            .collect::<Vec<_>>()
            .join("; ")
    )
}

/// Tables in restore order, parents first.
fn by_position(tables: &[TableEntry]) -> Vec<&TableEntry> {
    let mut ordered: Vec<&TableEntry> = tables.iter().collect();
    ordered.sort_by_key(|t| (t.info.position, t.info.name.clone()));
    ordered
}

/// Whether a restored table has a foreign key to itself or to a table
/// restored after it (a cycle), so restore order alone cannot satisfy it.
/// Tables at the same position, such as a `SET NULL` table beside the
/// parent, are not in a cycle just for sharing it. A key between two
/// tables that both have rows to revert counts too: the key may move, and
/// only a deferred check lets the child be reverted first.
fn references_forward(schema: &Schema, tables: &[&TableEntry]) -> bool {
    let order: BTreeMap<QualName, usize> = tables
        .iter()
        .enumerate()
        .map(|(i, t)| (t.info.qual_name(), i))
        .collect();
    let reverted = |i: usize| tables.get(i).is_some_and(|t| t.updated > 0);
    order.iter().any(|(name, &i)| {
        schema.get(name).is_some_and(|t| {
            t.foreign_keys.iter().any(|fk| {
                order
                    .get(&fk.ref_table)
                    .is_some_and(|&r| r >= i || (reverted(i) && reverted(r)))
            })
        })
    })
}

/// With triggers off, foreign keys were not checked while restoring: check
/// every key into and out of the restored tables before commit.
fn check_integrity(tx: &mut dyn ApplyTx, schema: &Schema, tables: &[&TableEntry]) -> Result<()> {
    let names: Vec<QualName> = tables.iter().map(|t| t.info.qual_name()).collect();
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
            schema.own_rows(&fk.table),
            not_null.join(" AND "),
            schema.own_rows(&fk.ref_table),
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

#[cfg(test)]
mod tests {
    use super::unqualified;

    #[test]
    fn a_types_schema_is_left_out_and_nothing_else() {
        assert_eq!(unqualified("public.short_text"), "short_text");
        assert_eq!(unqualified("short_text"), "short_text");
        assert_eq!(unqualified("public.short_text[]"), "short_text[]");
        assert_eq!(unqualified("\"T\"\"ýpes .x\".\"Mö.öd\""), "\"Mö.öd\"");
        assert_eq!(unqualified("numeric(10,1)"), "numeric(10,1)");
        assert_ne!(unqualified("numeric(10,1)"), unqualified("numeric"));
        assert_eq!(
            unqualified("timestamp(3) with time zone"),
            "timestamp(3) with time zone"
        );
    }
}
