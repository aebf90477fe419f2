//! Guarded apply: execute exactly what was previewed, and record the
//! inverse of every changed row before the change can be seen.
//!
//! Everything happens in one target transaction (Postgres REPEATABLE READ,
//! SQLite `BEGIN IMMEDIATE`), with lock and statement timeouts:
//!
//! 1. Recompute the impact in the transaction's snapshot; if its digest is
//!    not the confirmed one, the database drifted: roll back (exit 4). A
//!    DELETE with no commit by another session since the preview (SQLite's
//!    `PRAGMA data_version`, the Postgres snapshot) recounts only its
//!    target rows and their fingerprint: everything else follows from them
//!    and unchanged data.
//! 2. Lock (Postgres `FOR UPDATE`) the rows the engine's counters
//!    cannot vouch for: every row set that is updated (`SET NULL`/`SET
//!    DEFAULT` rows, `UPDATE` targets, `ON CONFLICT` updates), and every
//!    row set when a trigger fires. Rows that are only deleted need no
//!    lock: the statement locks them itself, REPEATABLE READ fails it on a
//!    row changed after the snapshot, and a row someone else deleted first
//!    makes the exact delete count fall short (drift). Updates are not
//!    counted exactly (a row set to NULL and then deleted counts as both),
//!    so a concurrent delete of a `SET NULL` row could go unnoticed; and a
//!    row `ON CONFLICT` would update, deleted concurrently, turns into an
//!    insert without an error. Locking everything cost a third of a
//!    100k-row apply. SQLite's `BEGIN IMMEDIATE` holds the whole database.
//! 3. Capture full before-images of every row that will be deleted or
//!    changed, from that snapshot: the server copies them into the
//!    journal's snapshot tables (`crate::journal`), in their own types.
//! 4. Execute the operator's statement as typed (an INSERT as the first
//!    part of a statement that also copies the rows it inserts, or watched
//!    by a temporary trigger on SQLite). The rows its own `RETURNING` list
//!    gives back are kept for the operator, as the engine returned them
//!    here: what a committed change returned, not read again later.
//! 5. Verify coverage: the statement's row count, and the engine's own
//!    per-table counters (Postgres `pg_stat_xact_user_tables`, SQLite
//!    `total_changes()`), equal what was captured. A table changed that was
//!    not captured (a trigger writing elsewhere) rolls back, unless the
//!    operator allowed an uncovered change, which is then marked partial.
//! 6. Capture after-images of updated rows, found by their key (or
//!    SQLite's rowid), never by reading the table.
//!
//! The pipeline (`super`) runs this inside the guarded transaction, with
//! the change's journal entry written in the same transaction, as it runs
//! an undo's restore, so an undo is itself journaled and can be undone.
//! Engine differences are the engine's: locking, finding inserted rows,
//! counting what a statement changed (`crate::db`).

use std::collections::{BTreeMap, BTreeSet};

use super::ApplyContext;
use crate::db::dialect::Dialect;
use crate::db::journal::Part;
use crate::db::{
    ApplyTx, Executed, GuardOptions, OwnReturning, Returned, RowScope, RowSink, TableCounts,
};
use crate::error::{Error, ErrorKind, Result};
use crate::impact::{self, Context, Impact, PreviewOptions, RowSet};
use crate::journal::write::Capture;
use crate::journal::{Op, Recording};
use crate::model::ChangeKind;
use crate::schema::{QualName, Schema, Table, TableInfo};
use crate::sql::Statement;

/// How an apply runs.
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    pub guard: GuardOptions,
    /// Commit even when the engine reports changes the journal cannot
    /// cover (triggers writing elsewhere); the entry is marked partial.
    pub allow_uncovered: bool,
}

/// What an applied write recorded.
pub(super) struct Done {
    /// Rows recorded per table and operation.
    pub recorded: BTreeMap<String, TableCounts>,
    /// Set when the change is only partly covered by its entry.
    pub partial: Option<String>,
    /// The rows the statement's own `RETURNING` list gave back, if it has
    /// one.
    pub returned: Option<Returned>,
}

/// Applies a confirmed write, as recomputed in the guarded transaction
/// `tx` ([`recompute`], before the entry was begun), recording into `rec`:
/// steps 2 to 6 of the module doc. Of the rows the statement's own
/// `RETURNING` list gives back, the first `keep` are kept.
pub(super) fn write(
    cx: &ApplyContext<'_>,
    tx: &mut dyn ApplyTx,
    rec: &mut Recording,
    stmt: &Statement,
    fresh: &Impact,
    keep: usize,
) -> Result<Done> {
    let mut done = Done {
        recorded: BTreeMap::new(),
        partial: None,
        returned: crate::sql::has_own_returning(rec.engine(), &stmt.text)
            .then(|| Returned::new(keep)),
    };
    describe_tables(cx.schema, rec, fresh)?;
    let expected = lock_and_capture(cx.schema, tx, rec, fresh, &mut done)?;
    crate::crash::point("after_capture");
    execute(cx, tx, rec, stmt, fresh, &expected, &mut done)?;
    crate::crash::point("after_execute");
    after_images(tx, rec, fresh)?;
    Ok(done)
}

/// Step 1: the same impact, now, in this transaction's snapshot; anything
/// else is drift, and nothing is applied. It runs before the change's
/// entry is written, so the transaction has written nothing yet and reads
/// the data as the preview did (`unchanged_since`).
pub(super) fn recompute(
    cx: &ApplyContext<'_>,
    tx: &mut dyn ApplyTx,
    stmt: &Statement,
    confirmed: &Impact,
) -> Result<Impact> {
    let (assocs, _) = impact::associations::associations(cx.schema, cx.policy);
    let preview_opts = PreviewOptions {
        timeout: cx.options.apply.guard.statement_timeout,
        sample_rows: 0,
        target_only: false,
        // The verdict was given on the preview; the recount only checks
        // the impact is the one previewed.
        judge_where: false,
        // The same rows, where the preview bound them.
        bind_rows: !confirmed.row_digests.is_empty(),
    };
    let target_opts = PreviewOptions {
        target_only: true,
        ..preview_opts.clone()
    };
    let dialect = crate::db::dialect::Dialect(cx.identity.engine);
    let context = |options| Context {
        schema: cx.schema,
        associations: &assocs,
        options,
        dialect,
        chain_depth: 0,
        step: None,
    };
    let mut fresh = if unchanged_since(tx, &context(&target_opts), stmt, confirmed)? {
        confirmed.clone()
    } else {
        impact::analyze(tx, &context(&preview_opts), stmt)?
    };
    fresh.digest = impact::digest(cx.identity, &fresh);
    // A preview that did not finish counting leaves nothing to compare:
    // what was confirmed is the statement with its size unknown, and this
    // count, within the apply's own time limit, is the first (a drift
    // there would be false).
    if confirmed.bounded && fresh.digest != confirmed.digest {
        return Err(Error::drift(format!(
            "the database changed since the preview; nothing was applied\n{}\nPreview again and confirm the new impact.",
            drift_details(confirmed, &fresh)
        )));
    }
    // Refused before the entry's first statement: an event trigger would
    // run on the journal's own DDL, and no rollback takes such an act back.
    if let Some(why) = beyond_the_rows(&fresh)
        && !cx.options.apply.allow_uncovered
    {
        return Err(Error::refused(format!(
            "{why}\nNothing was run. Rerun with --allow-uncovered to apply it anyway; its undo entry will be partial."
        )));
    }
    if fresh.will_fail {
        return Err(Error::new(ErrorKind::WouldFail, fresh.failures.join("\n")));
    }
    if !fresh.bounded {
        return Err(Error::refused(
            "the impact could not be counted within the statement timeout, so it cannot be verified; nothing was applied",
        ));
    }
    Ok(fresh)
}

/// A table of the schema the preview named.
fn table<'s>(schema: &'s Schema, name: &QualName) -> Result<&'s Table> {
    schema
        .get(name)
        .ok_or_else(|| Error::database(format!("table {name} vanished from the schema")))
}

/// Describes every table the change touches in the entry, in restore
/// order, before any of their rows.
fn describe_tables(schema: &Schema, rec: &mut Recording, fresh: &Impact) -> Result<()> {
    let dialect = Dialect(rec.engine());
    for set in &fresh.row_sets {
        let t = table(schema, &set.table)?;
        rec.table(&TableInfo::of(t, set.position), dialect.locator(t));
    }
    Ok(())
}

/// Steps 2 and 3: locks (where the engine's counters cannot vouch for the
/// rows, see the module doc) and captures the before-images, table by
/// table. Returns the rows the statement must change in each table.
fn lock_and_capture(
    schema: &Schema,
    tx: &mut dyn ApplyTx,
    rec: &mut Recording,
    fresh: &Impact,
    done: &mut Done,
) -> Result<BTreeMap<QualName, TableCounts>> {
    let triggers = sets_off_triggers(fresh);
    let mut expected: BTreeMap<QualName, TableCounts> = BTreeMap::new();
    for set in fresh.row_sets.iter().filter(|s| s.op != Op::Insert) {
        // Counted in this transaction's own snapshot: a set with no rows
        // has nothing to lock or copy, and rows the statement changed
        // there anyway fail the coverage check. An empty snapshot table
        // per such set was a millisecond each of a one-row change.
        expected.entry(set.table.clone()).or_default();
        if set.rows == Some(0) {
            continue;
        }
        if set.op != Op::Delete || triggers {
            lock(tx, schema, set)?;
        }
        let n = capture(tx, rec, set, table(schema, &set.table)?)?;
        if set.rows.is_some_and(|r| r != n) {
            return Err(Error::drift(format!(
                "{}: {} rows at the preview, {n} captured; nothing was applied",
                set.table,
                set.rows.unwrap_or(0)
            )));
        }
        let e = expected.entry(set.table.clone()).or_default();
        let r = done.recorded.entry(set.table.to_string()).or_default();
        match set.op {
            Op::Delete => {
                e.deleted += n;
                r.deleted += n;
            }
            _ => {
                e.updated += n;
                r.updated += n;
            }
        }
    }
    for set in fresh.row_sets.iter().filter(|s| s.op == Op::Insert) {
        expected.entry(set.table.clone()).or_default().inserted += set.rows.unwrap_or(0);
    }
    Ok(expected)
}

/// Whether the preview found triggers the change sets off.
fn sets_off_triggers(fresh: &Impact) -> bool {
    fresh
        .effects
        .iter()
        .any(|e| e.action == impact::Action::Trigger)
}

/// Locks a row set; fewer rows locked than previewed is drift.
fn lock(tx: &mut dyn ApplyTx, schema: &Schema, set: &RowSet) -> Result<()> {
    let table = schema.own_rows(&set.table);
    let scope = RowScope {
        with: &set.with,
        table: &table,
        alias: &set.alias,
        join: &set.join,
        cond: &set.cond,
    };
    let Some(locked) = tx.lock_rows(&scope)? else {
        return Ok(());
    };
    if set.rows.is_some_and(|r| r != locked) {
        return Err(Error::drift(format!(
            "{}: {} rows to {} at the preview, {locked} locked now; nothing was applied",
            set.table,
            set.rows.unwrap_or(0),
            set.op.name()
        )));
    }
    Ok(())
}

/// Steps 4 and 5: the statement as typed, its row count, and the engine's
/// count of what it changed against what was captured.
fn execute(
    cx: &ApplyContext<'_>,
    tx: &mut dyn ApplyTx,
    rec: &mut Recording,
    stmt: &Statement,
    fresh: &Impact,
    expected: &BTreeMap<QualName, TableCounts>,
    done: &mut Done,
) -> Result<()> {
    let beyond = beyond_the_rows(fresh);
    // The engine's per-table counts may still hold earlier transactions'
    // (Postgres publishes a backend's counts at most once a second): what
    // the statement did is the difference.
    let baseline = tx.counters()?;
    let triggers = cx.schema.has_triggers();
    let catalog_before = if triggers {
        Some(tx.catalog_writes()?)
    } else {
        None
    };
    let executed = run_statement(tx, rec, stmt, fresh, done)?;
    let n = executed.reported;
    verify_count(fresh, expected, n)?;
    let mut uncovered = verify_coverage(
        tx,
        cx.schema,
        fresh,
        expected,
        &executed,
        baseline,
        catalog_before,
    )?;
    let kept = deleted_rows_kept(cx.schema, tx, rec, fresh)?;
    for more in [
        crate::impact::uncovered(stmt).map(str::to_owned),
        beyond,
        kept,
    ]
    .into_iter()
    .flatten()
    {
        uncovered = Some(match uncovered {
            Some(u) => format!("{u}; {more}"),
            None => more,
        });
    }
    if let Some(uncovered) = uncovered {
        if !cx.options.apply.allow_uncovered {
            return Err(Error::refused(format!(
                "{uncovered}\nNothing was committed. Rerun with --allow-uncovered to apply it anyway; its undo entry will be partial."
            )));
        }
        rec.set_partial(&uncovered);
        done.partial = Some(uncovered);
    }
    Ok(())
}

/// Step 4: the operator's statement, an INSERT copying the rows it
/// inserts; the rows of its own `RETURNING` list go to `done.returned`.
fn run_statement(
    tx: &mut dyn ApplyTx,
    rec: &mut Recording,
    stmt: &Statement,
    fresh: &Impact,
    done: &mut Done,
) -> Result<Executed> {
    let returned = done.returned.as_mut().map(|r| r as &mut dyn RowSink);
    let Some(set) = fresh.row_sets.iter().find(|s| s.op == Op::Insert) else {
        return tx.execute_statement(&stmt.text, returned);
    };
    let engine = rec.engine();
    let returning = crate::sql::returning_all(engine, &stmt.text);
    let then_all = crate::sql::own_returning_then_all(engine, &stmt.text);
    let own = match (returned, then_all.as_deref()) {
        (Some(sink), Some(then_all)) => Some(OwnReturning { then_all, sink }),
        _ => None,
    };
    let (executed, inserted) = rec.execute_insert(
        tx,
        &set.table.to_string(),
        &stmt.text,
        returning.as_deref(),
        None,
        own,
    )?;
    done.recorded
        .entry(set.table.to_string())
        .or_default()
        .inserted += inserted;
    Ok(executed)
}

/// What the code the statement sets off would do beyond the rows its
/// entry can hold ([`Impact::beyond_the_rows`]), described: refused by
/// [`recompute`] unless the operator accepted a partial entry, then the
/// entry's partial mark.
fn beyond_the_rows(fresh: &Impact) -> Option<String> {
    (!fresh.beyond_the_rows.is_empty()).then(|| {
        format!(
            "what the statement sets off (triggers, or functions its tables' defaults, constraints and indexes run) would act beyond the rows an undo entry can hold: {}",
            fresh.beyond_the_rows.join("; ")
        )
    })
}

/// Step 6: the after-images of updated rows, found by their locators. A
/// row the statement updated and something then removed has none: the
/// entry could not undo it, so the change is refused like any uncovered
/// one.
fn after_images(tx: &mut dyn ApplyTx, rec: &mut Recording, fresh: &Impact) -> Result<()> {
    let tables: BTreeSet<String> = fresh
        .row_sets
        .iter()
        .filter(|s| s.op == Op::Update)
        .map(|s| s.table.to_string())
        .collect();
    for name in tables {
        let updated = rec.entry(&name)?.updated;
        let found = rec.after_images(tx, &name)?;
        if found < updated && rec.entry(&name)?.locator != crate::schema::Locator::None {
            return Err(Error::refused(format!(
                "{name}: {updated} rows were updated but {found} are still there to record; something the statement set off removed the others, and their undo could not be checked\nNothing was committed."
            )));
        }
    }
    Ok(())
}

/// Whether a DELETE's confirmed impact still holds without computing it
/// again. Each engine gives a token that any other session's commit
/// changes ([`crate::db::PreviewTx::data_version`]: SQLite's count of
/// other connections' commits to the file, the Postgres snapshot); when
/// the preview's token (the same before and after its queries) is this
/// transaction's, every table holds what the preview read, and the
/// cascades, SET NULL rows, blockers and associations it counted follow
/// from the target rows and that data. Only the target rows are counted
/// and fingerprinted again, since a WHERE may read the clock or
/// `random()`. Recomputing everything was a tenth of a 100k-row apply.
/// Anything else (another statement kind, a commit in between, other
/// target rows) takes the full recomputation.
fn unchanged_since(
    tx: &mut dyn ApplyTx,
    target_ctx: &Context<'_>,
    stmt: &Statement,
    confirmed: &Impact,
) -> Result<bool> {
    if confirmed.data_version.is_none()
        || stmt.kind != crate::sql::Kind::Delete
        || confirmed.will_fail
        || !confirmed.bounded
    {
        return Ok(false);
    }
    // Before the WHERE runs again: only at the preview's data version is
    // the catalog the one whose code the preview read, and a function
    // replaced since must be read before it runs (the full analysis).
    if tx.data_version()? != confirmed.data_version {
        return Ok(false);
    }
    let now = impact::analyze(tx, target_ctx, stmt)?;
    Ok(now.data_version == confirmed.data_version
        && !now.will_fail
        && now.bounded
        && now.target.rows == confirmed.target.rows
        && now.target.fingerprint == confirmed.target.fingerprint)
}

fn drift_details(before: &Impact, now: &Impact) -> String {
    let mut lines = Vec::new();
    if before.target.rows != now.target.rows {
        lines.push(format!(
            "  {}: {} target rows at the preview, {} now",
            now.target.table,
            before.target.rows.unwrap_or(0),
            now.target.rows.unwrap_or(0)
        ));
    }
    let tables: BTreeSet<&QualName> = before.totals.keys().chain(now.totals.keys()).collect();
    for t in tables {
        let a = before.totals.get(t).copied().unwrap_or_default();
        let b = now.totals.get(t).copied().unwrap_or_default();
        if a != b {
            lines.push(format!(
                "  {t}: delete {} → {}, update {} → {}, insert {} → {}",
                a.delete, b.delete, a.update, b.update, a.insert, b.insert
            ));
        }
    }
    if lines.is_empty() {
        lines.push("  the effects (edges or their row counts) differ".into());
    }
    lines.join("\n")
}

/// Where a trigger fires, the engine's counts can match the capture while
/// the rows differ: a trigger that skips a captured row's delete and
/// deletes another row in its place. Every captured deleted row of a
/// table with a primary key must be gone; one still there names the
/// table. (Tables without a key are told apart only by their values, and
/// a copy may rightly remain.)
fn deleted_rows_kept(
    schema: &Schema,
    tx: &mut dyn ApplyTx,
    rec: &Recording,
    fresh: &Impact,
) -> Result<Option<String>> {
    if !schema.has_triggers() {
        return Ok(None);
    }
    let tables: BTreeSet<&QualName> = fresh
        .row_sets
        .iter()
        .filter(|s| s.op == Op::Delete && s.rows != Some(0))
        .map(|s| &s.table)
        .collect();
    let mut kept = Vec::new();
    for name in tables {
        let Some(pk) = schema.get(name).and_then(|t| t.primary_key.as_ref()) else {
            continue;
        };
        let entry = rec.entry(&name.to_string())?;
        if entry.deleted == 0 {
            continue;
        }
        let on: Option<Vec<String>> = pk
            .columns
            .iter()
            .map(|k| {
                let i = entry.info.columns.iter().position(|c| &c.name == k)?;
                Some(format!(
                    "t.{} = d.{}",
                    crate::schema::quote_ident(k),
                    crate::db::journal::data_column(i)
                ))
            })
            .collect();
        let Some(on) = on else { continue };
        let sql = format!(
            "SELECT count(*) FROM {} AS d WHERE EXISTS (SELECT 1 FROM {} AS t WHERE {})",
            rec.snapshot(&name.to_string(), Part::Deleted)?,
            schema.own_rows(name),
            on.join(" AND ")
        );
        let rows = crate::db::journal::rows(tx, &sql)?;
        let n = crate::db::count_of(rows.first().and_then(|r| r.first()))?;
        if n > 0 {
            kept.push(format!(
                "{name} ({n} captured row{} still there: something the statement set off kept {} and changed other rows)",
                if n == 1 { "" } else { "s" },
                if n == 1 { "it" } else { "them" }
            ));
        }
    }
    Ok((!kept.is_empty()).then(|| kept.join(", ")))
}

/// Copies the before-images of one row set into the journal, on the
/// server; returns how many rows it holds.
fn capture(tx: &mut dyn ApplyTx, rec: &mut Recording, set: &RowSet, table: &Table) -> Result<u64> {
    let from = format!("{} AS {} {}", table.own_rows(), set.alias, set.join);
    let locator = Dialect(rec.engine()).locator_after(table, &set.alias, set.new_key.as_deref());
    let (part, locator_after) = match set.op {
        Op::Delete => (Part::Deleted, None),
        _ => (Part::Before, Some(locator.as_slice())),
    };
    let capture = Capture {
        with: &set.with,
        from: &from,
        alias: &set.alias,
        cond: &set.cond,
        locator_after,
    };
    rec.capture(tx, &set.table.to_string(), part, &capture)
}

/// The statement's own row count must be what was previewed.
fn verify_count(fresh: &Impact, captured: &BTreeMap<QualName, TableCounts>, n: u64) -> Result<()> {
    let expected = match fresh.kind {
        ChangeKind::Delete | ChangeKind::Update => fresh.target.rows,
        ChangeKind::Insert => {
            // Inserted rows, plus the existing rows ON CONFLICT DO UPDATE
            // touched (as captured), as the engines count them.
            let t = captured
                .get(&fresh.target.table)
                .copied()
                .unwrap_or_default();
            let inserted = fresh
                .totals
                .get(&fresh.target.table)
                .map(|t| t.insert)
                .unwrap_or(0);
            Some(inserted + t.updated)
        }
        _ => None, // TRUNCATE reports no row count
    };
    match expected {
        Some(e) if e != n => Err(Error::drift(format!(
            "the statement reported {n} rows where the preview counted {e}; nothing was committed"
        ))),
        _ => Ok(()),
    }
}

/// Compares what the engine says changed with what was captured. Returns
/// a description of changes the journal does not cover, if any.
fn verify_coverage(
    tx: &mut dyn ApplyTx,
    schema: &Schema,
    fresh: &Impact,
    expected: &BTreeMap<QualName, TableCounts>,
    executed: &Executed,
    baseline: Option<BTreeMap<QualName, TableCounts>>,
    catalog_before: Option<u64>,
) -> Result<Option<String>> {
    let triggers = schema.has_triggers();
    // A deferred constraint trigger would write at COMMIT, after this.
    if triggers {
        tx.fire_deferred()?;
    }
    if let Some(mut counters) = tx.counters()? {
        for (name, before) in baseline.unwrap_or_default() {
            if let Some(c) = counters.get_mut(&name) {
                *c = c.since(before);
            }
        }
        counters.retain(|_, c| c.deleted + c.updated + c.inserted > 0);
        // A delete and an insert are a moved row only where no trigger
        // can have made them: none the preview saw fire, none on a table
        // the change writes or its partitions. A trigger elsewhere fires
        // on nothing this statement writes.
        let moves = fresh.kind == ChangeKind::Update
            && !sets_off_triggers(fresh)
            && !schema.has_triggers_on(expected.keys());
        crate::db::roll_up_partitions(&mut counters, expected, schema, moves);
        let mut uncovered = Vec::new();
        let names: std::collections::BTreeSet<&QualName> =
            counters.keys().chain(expected.keys()).collect();
        for name in names {
            let got = counters.get(name).copied().unwrap_or_default();
            let want = expected.get(name).copied().unwrap_or_default();
            // TRUNCATE itself counts no rows: whatever a truncated table
            // shows was written by something else (a trigger ON TRUNCATE
            // putting rows back), which its entry does not hold.
            if fresh.kind == ChangeKind::Truncate && expected.contains_key(name) {
                if got.deleted + got.updated + got.inserted > 0 {
                    uncovered.push(format!(
                        "{name} (truncated; then {} deleted, {} updated, {} inserted)",
                        got.deleted, got.updated, got.inserted
                    ));
                }
                continue;
            }
            if !expected.contains_key(name) {
                uncovered.push(format!(
                    "{name} ({} deleted, {} updated, {} inserted)",
                    got.deleted, got.updated, got.inserted
                ));
                continue;
            }
            // A row set to NULL and then deleted by another path counts as
            // both an update and a delete, and a row two keys set is
            // updated by each; only such rows may, and only where no
            // trigger fires: whether the engine counted a row twice
            // depends on the order its actions fire in, and an update a
            // trigger makes (or skips) looks the same.
            let twice = if triggers {
                0
            } else {
                fresh.counted_twice.get(name).copied().unwrap_or(0)
                    + fresh.updated_again.get(name).copied().unwrap_or(0)
            };
            let upd_ok = got.updated >= want.updated && got.updated <= want.updated + twice;
            if got.deleted != want.deleted || !upd_ok || got.inserted != want.inserted {
                if got.deleted > want.deleted
                    || got.inserted > want.inserted
                    || got.updated > want.updated + twice
                {
                    uncovered.push(format!(
                        "{name} (captured {} deleted, {} updated, {} inserted; the engine changed {} deleted, {} updated, {} inserted)",
                        want.deleted, want.updated, want.inserted, got.deleted, got.updated, got.inserted
                    ));
                } else {
                    return Err(Error::drift(format!(
                        "{name}: captured {} deleted, {} updated, {} inserted, but the statement changed {} deleted, {} updated, {} inserted; nothing was committed",
                        want.deleted,
                        want.updated,
                        want.inserted,
                        got.deleted,
                        got.updated,
                        got.inserted
                    )));
                }
            }
        }
        // Truncated or rewritten by a trigger (there must be one): no row
        // counter shows it.
        // A TRUNCATE shows in no row counter at all: what it emptied
        // beyond its set (a cascade the preview did not follow) shows as
        // a table held exclusively.
        let held = if triggers || fresh.kind == ChangeKind::Truncate {
            tx.held_beyond_counters()?
        } else {
            Vec::new()
        };
        for (name, held) in held {
            let truncated = held == crate::db::Held::Exclusively
                && fresh.kind == ChangeKind::Truncate
                && (expected.contains_key(&name) || fresh.totals.contains_key(&name));
            if !truncated {
                uncovered.push(format!("{name} ({held})"));
            }
        }
        // DDL, GRANT and the like from a trigger: rows of the system
        // catalog, which no undo entry holds.
        if let Some(before) = catalog_before {
            let n = tx.catalog_writes()?.saturating_sub(before);
            if n > 0 {
                uncovered.push(format!(
                    "the system catalog ({n} rows: a trigger ran DDL, GRANT or the like)"
                ));
            }
        }
        if uncovered.is_empty() {
            return Ok(None);
        }
        return Ok(Some(format!(
            "the statement changed rows the journal did not capture (triggers or rules writing elsewhere): {}; those cannot be undone",
            uncovered.join(", ")
        )));
    }
    if let Some(got) = executed.changed {
        let want: u64 = expected
            .values()
            .map(|c| c.deleted + c.updated + c.inserted)
            .sum();
        let again: u64 = if triggers {
            0
        } else {
            fresh.updated_again.values().sum()
        };
        if got > want + again {
            // SQLite keeps no per-table counts: name the triggers that fire,
            // with what they run, so the operator sees where rows went.
            let triggers: Vec<String> = fresh
                .effects
                .iter()
                .filter(|e| e.action == crate::impact::Action::Trigger)
                .map(|e| match &e.note {
                    Some(n) => format!("{} on {} ({n})", e.via, e.table),
                    None => format!("{} on {}", e.via, e.table),
                })
                .collect();
            let by = if triggers.is_empty() {
                "triggers writing elsewhere".to_owned()
            } else {
                format!("triggers: {}", triggers.join("; "))
            };
            return Ok(Some(format!(
                "the statement changed {got} rows but the journal captured {want} ({by}); the difference cannot be undone"
            )));
        }
        if got < want {
            return Err(Error::drift(format!(
                "the statement changed {got} rows where {want} were captured; nothing was committed"
            )));
        }
    }
    Ok(None)
}
