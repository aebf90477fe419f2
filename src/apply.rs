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
//! 2. On Postgres, lock (`FOR UPDATE`) the rows the engine's counters
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
//!    changed, from that snapshot, streamed into the journal (constant
//!    memory).
//! 4. Execute the operator's statement as typed.
//! 5. Verify coverage: the statement's row count, and the engine's own
//!    per-table counters (Postgres `pg_stat_xact_user_tables`, SQLite
//!    `total_changes()`), equal what was captured. A table changed that was
//!    not captured (a trigger writing elsewhere) rolls back, unless the
//!    operator allowed an uncovered change, which is then marked partial.
//! 6. Capture after-images of updated and inserted rows.
//! 7. Write-ahead: the journal entry becomes durable as `prepared` (with the
//!    Postgres transaction id); the target commits; the entry is marked
//!    `committed`. [`reconcile`] settles entries left `prepared` by a crash.
//!
//! Undo (`crate::restore`) runs through the same path with its own body, so
//! an undo is itself journaled and can be undone.

use crate::model::ChangeKind;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::db::{ApplyTx, Connection, Engine, GuardOptions, TableCounts, Value};
use crate::error::{Error, ErrorKind, Result};
use crate::impact::{self, Context, Impact, PreviewOptions, RowSet};
use crate::journal::{ChangeMeta, Journal, Op, Recording, run_guarded};
use crate::policy::Policy;
use crate::schema::{QualName, Schema, Table, TableInfo, quote_ident};
use crate::sql::Statement;

/// How an apply runs.
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    pub guard: GuardOptions,
    /// Commit even when the engine reports changes the journal cannot
    /// cover (triggers writing elsewhere); the entry is marked partial.
    pub allow_uncovered: bool,
}

/// What a committed apply did.
#[derive(Debug, Clone)]
pub struct Applied {
    pub change_id: i64,
    /// Rows recorded per table and operation.
    pub recorded: BTreeMap<String, TableCounts>,
    pub elapsed: Duration,
    /// Set when the change is only partly covered by its undo entry.
    pub partial: Option<String>,
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
    let now = impact::analyze(tx, target_ctx, stmt)?;
    Ok(now.data_version == confirmed.data_version
        && !now.will_fail
        && now.bounded
        && now.target.rows == confirmed.target.rows
        && now.target.fingerprint == confirmed.target.fingerprint)
}

/// Applies a previewed write: the whole guarded path for one statement.
#[allow(clippy::too_many_arguments)]
pub fn apply(
    conn: &mut Connection,
    journal: &mut Journal,
    schema: &Schema,
    policy: &Policy,
    stmt: &Statement,
    confirmed: &Impact,
    opts: &ApplyOptions,
    operator: &str,
) -> Result<Applied> {
    let started = Instant::now();
    let identity = conn.identity().clone();
    let engine = conn.engine();
    let (assocs, _) = impact::associations::associations(schema, policy);
    let preview_opts = PreviewOptions {
        timeout: opts.guard.statement_timeout,
        sample_rows: 0,
        target_only: false,
    };
    let target_opts = PreviewOptions {
        target_only: true,
        ..preview_opts.clone()
    };
    let target_ctx = Context {
        schema,
        associations: &assocs,
        options: &target_opts,
        dialect: crate::db::dialect::Dialect(engine),
    };
    let ctx = Context {
        schema,
        associations: &assocs,
        options: &preview_opts,
        dialect: crate::db::dialect::Dialect(engine),
    };
    let impact_json = impact::render::json(confirmed).to_string();
    let meta = ChangeMeta::for_target(
        conn.identity(),
        operator,
        &stmt.text,
        confirmed.kind,
        &confirmed.digest,
        impact_json,
        None,
    );
    let mut recorded: BTreeMap<String, TableCounts> = BTreeMap::new();
    let mut partial = None;
    let (change_id, ()) = run_guarded(conn, journal, &meta, &opts.guard, |tx, rec| {
        // 1. The same impact, now, in this transaction's snapshot.
        let mut fresh = if unchanged_since(tx, &target_ctx, stmt, confirmed)? {
            confirmed.clone()
        } else {
            impact::analyze(tx, &ctx, stmt)?
        };
        fresh.digest = impact::digest(&identity, &fresh);
        if fresh.digest != confirmed.digest {
            return Err(Error::drift(format!(
                "the database changed since the preview; nothing was applied\n{}\nPreview again and confirm the new impact.",
                drift_details(confirmed, &fresh)
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
        // 2. + 3. Lock (see the module doc) and capture, table by table.
        let triggers = fresh
            .effects
            .iter()
            .any(|e| e.action == impact::Action::Trigger);
        let mut infos: BTreeMap<QualName, TableInfo> = BTreeMap::new();
        for set in &fresh.row_sets {
            let table = schema.get(&set.table).ok_or_else(|| {
                Error::database(format!("table {} vanished from the schema", set.table))
            })?;
            if !infos.contains_key(&set.table) {
                let info = TableInfo::of(table, set.position);
                rec.table(&info)?;
                infos.insert(set.table.clone(), info);
            }
        }
        let mut expected: BTreeMap<QualName, TableCounts> = BTreeMap::new();
        for set in fresh.row_sets.iter().filter(|s| s.op != Op::Insert) {
            let table = schema.get(&set.table).ok_or_else(|| {
                Error::database(format!("table {} vanished from the schema", set.table))
            })?;
            let info = &infos[&set.table];
            if engine == Engine::Postgres && (set.op != Op::Delete || triggers) {
                let locked = tx.lock(&lock_sql(set))?;
                if set.rows.is_some_and(|r| r != locked) {
                    return Err(Error::drift(format!(
                        "{}: {} rows to {} at the preview, {locked} locked now; nothing was applied",
                        set.table,
                        set.rows.unwrap_or(0),
                        set.op.name()
                    )));
                }
            }
            let n = capture(tx, rec, set, table, info)?;
            if set.rows.is_some_and(|r| r != n) {
                return Err(Error::drift(format!(
                    "{}: {} rows at the preview, {n} captured; nothing was applied",
                    set.table,
                    set.rows.unwrap_or(0)
                )));
            }
            let e = expected.entry(set.table.clone()).or_default();
            match set.op {
                Op::Delete => e.deleted += n,
                _ => e.updated += n,
            }
            let r = recorded.entry(set.table.to_string()).or_default();
            match set.op {
                Op::Delete => r.deleted += n,
                _ => r.updated += n,
            }
        }
        for set in fresh.row_sets.iter().filter(|s| s.op == Op::Insert) {
            expected.entry(set.table.clone()).or_default().inserted += set.rows.unwrap_or(0);
        }
        crate::crash::point("after_capture");

        // 4. The statement, as typed.
        let before_changes = tx.total_changes()?;
        let sqlite_before = sqlite_rowids_before(tx, &fresh, schema)?;
        let n = tx.execute(&stmt.text)?;
        verify_count(&fresh, &expected, n)?;

        // 5. Coverage.
        if let Some(uncovered) = verify_coverage(tx, &fresh, &expected, before_changes)? {
            if opts.allow_uncovered {
                rec.set_partial(&uncovered)?;
                partial = Some(uncovered);
            } else {
                return Err(Error::refused(format!(
                    "{uncovered}\nNothing was committed. Rerun with --allow-uncovered to apply it anyway; its undo entry will be partial."
                )));
            }
        }

        // 6. After-images.
        for (name, info) in &infos {
            let sets: Vec<&RowSet> = fresh
                .row_sets
                .iter()
                .filter(|s| &s.table == name && s.op != Op::Delete)
                .collect();
            if sets.is_empty() {
                continue;
            }
            let table = schema
                .get(name)
                .ok_or_else(|| Error::database(format!("table {name} vanished from the schema")))?;
            let inserted = after_images(tx, rec, table, info, &sqlite_before)?;
            if inserted > 0 {
                recorded.entry(name.to_string()).or_default().inserted += inserted;
            }
        }
        Ok(())
    })?;
    Ok(Applied {
        change_id,
        recorded,
        elapsed: started.elapsed(),
        partial,
    })
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
    let tables: std::collections::BTreeSet<&QualName> =
        before.totals.keys().chain(now.totals.keys()).collect();
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

fn select_columns(table: &Table, alias: &str) -> String {
    table
        .columns
        .iter()
        .map(|c| format!("{alias}.{}", quote_ident(&c.name)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn lock_sql(set: &RowSet) -> String {
    format!(
        "{}SELECT count(*) FROM (SELECT 1 FROM {} AS {a} {} WHERE {} FOR UPDATE OF {a}) AS s",
        set.with,
        set.table.sql(),
        set.join,
        set.cond,
        a = set.alias
    )
}

/// Streams the before-images of one row set into the journal.
fn capture(
    tx: &mut dyn ApplyTx,
    rec: &mut Recording<'_>,
    set: &RowSet,
    table: &Table,
    info: &TableInfo,
) -> Result<u64> {
    let mut cols = select_columns(table, &set.alias);
    let extra = set.new_key.as_ref().map(|k| k.len()).unwrap_or(0);
    if let Some(k) = &set.new_key {
        cols.push_str(", ");
        cols.push_str(&k.join(", "));
    }
    let sql = format!(
        "{}SELECT {cols} FROM {} AS {} {} WHERE {}",
        set.with,
        set.table.sql(),
        set.alias,
        set.join,
        set.cond
    );
    let ncols = table.columns.len();
    let name = info.name.clone();
    let op = set.op;
    // Deletes (no key moves, no after-image to pair) take the bulk path
    // where the engine has one: the rows as COPY writes them, in chunks.
    if op == Op::Delete && extra == 0 {
        if let Some(n) = tx.copy_out(&sql, &mut |format, text, lines| {
            rec.chunk(&name, op, format, lines, text)
        })? {
            return Ok(n);
        }
    }
    tx.stream(&sql, &mut |mut row: Vec<Value>| {
        let key = if extra > 0 {
            row.split_off(ncols)
        } else {
            info.key_of(&row)
        };
        rec.row(&name, op, &key, Some(&row), None)
    })
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
    fresh: &Impact,
    expected: &BTreeMap<QualName, TableCounts>,
    before_changes: Option<u64>,
) -> Result<Option<String>> {
    if let Some(counters) = tx.counters()? {
        let mut uncovered = Vec::new();
        let names: std::collections::BTreeSet<&QualName> =
            counters.keys().chain(expected.keys()).collect();
        for name in names {
            let got = counters.get(name).copied().unwrap_or_default();
            let want = expected.get(name).copied().unwrap_or_default();
            if fresh.kind == ChangeKind::Truncate && expected.contains_key(name) {
                continue; // TRUNCATE does not count rows
            }
            if !expected.contains_key(name) {
                uncovered.push(format!(
                    "{name} ({} deleted, {} updated, {} inserted)",
                    got.deleted, got.updated, got.inserted
                ));
                continue;
            }
            // A row set to NULL and then deleted by another path counts as
            // both an update and a delete.
            let upd_ok = got.updated >= want.updated && got.updated <= want.updated + want.deleted;
            if got.deleted != want.deleted || !upd_ok || got.inserted != want.inserted {
                if got.deleted > want.deleted
                    || got.inserted > want.inserted
                    || got.updated > want.updated + want.deleted
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
        if uncovered.is_empty() {
            return Ok(None);
        }
        return Ok(Some(format!(
            "the statement changed rows the journal did not capture (triggers or rules writing elsewhere): {}; those cannot be undone",
            uncovered.join(", ")
        )));
    }
    if let (Some(before), Some(after)) = (before_changes, tx.total_changes()?) {
        let want: u64 = expected
            .values()
            .map(|c| c.deleted + c.updated + c.inserted)
            .sum();
        let got = after.saturating_sub(before);
        if got > want {
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

/// SQLite has no "written by this transaction" marker: remember which
/// rowids existed before an INSERT, so the new rows can be found after.
fn sqlite_rowids_before(
    tx: &mut dyn ApplyTx,
    fresh: &Impact,
    schema: &Schema,
) -> Result<BTreeMap<QualName, String>> {
    let mut out = BTreeMap::new();
    if tx.written_by_me("a").is_some() {
        return Ok(out);
    }
    for set in fresh.row_sets.iter().filter(|s| s.op == Op::Insert) {
        let Some(table) = schema.get(&set.table) else {
            continue;
        };
        let temp = format!("dbguard_before_{}", out.len());
        let key = if table.without_rowid {
            match &table.primary_key {
                Some(pk) => pk
                    .columns
                    .iter()
                    .map(|c| quote_ident(c))
                    .collect::<Vec<_>>()
                    .join(", "),
                None => continue,
            }
        } else {
            "rowid".to_owned()
        };
        tx.execute(&format!("DROP TABLE IF EXISTS temp.{temp}"))?;
        tx.execute(&format!(
            "CREATE TEMP TABLE {temp} AS SELECT {key} FROM {}",
            table.name.sql()
        ))?;
        out.insert(
            set.table.clone(),
            format!("({key}) NOT IN (SELECT * FROM temp.{temp})"),
        );
    }
    Ok(out)
}

/// Records after-images of updated rows (by key) and inserted rows.
/// Returns how many inserted rows were recorded.
fn after_images(
    tx: &mut dyn ApplyTx,
    rec: &mut Recording<'_>,
    table: &Table,
    info: &TableInfo,
    sqlite_before: &BTreeMap<QualName, String>,
) -> Result<u64> {
    let cols = select_columns(table, "a");
    let name = info.name.clone();
    let mut inserted = 0u64;
    if let Some(mine) = tx.written_by_me("a") {
        tx.stream(
            &format!("SELECT {cols} FROM {} AS a WHERE {mine}", table.name.sql()),
            &mut |row: Vec<Value>| {
                let key = info.key_of(&row);
                if !rec.set_after_by_key(&name, &key, &row)? {
                    rec.row(&name, Op::Insert, &key, None, Some(&row))?;
                    inserted += 1;
                }
                Ok(())
            },
        )?;
        return Ok(inserted);
    }
    // SQLite: updated rows re-read by key, a batch at a time (constant
    // memory), new rows by what did not exist before.
    let mut last = 0i64;
    loop {
        let batch = rec.missing_after(&name, last, 500)?;
        let Some(&(seq, _)) = batch.last() else { break };
        last = seq;
        let values: Vec<String> = batch
            .iter()
            .map(|(_, key)| {
                let v: Vec<String> = key.iter().map(crate::db::sqlite::literal).collect();
                format!("({})", v.join(", "))
            })
            .collect();
        let names: Vec<String> = (0..info.key_columns.len())
            .map(|i| format!("k{i}"))
            .collect();
        let on: Vec<String> = info
            .key_columns
            .iter()
            .enumerate()
            .map(|(i, c)| format!("a.{} IS v.k{i}", quote_ident(c)))
            .collect();
        let sql = format!(
            "WITH v({}) AS (VALUES {}) SELECT {cols} FROM {} AS a JOIN v ON {}",
            names.join(", "),
            values.join(", "),
            table.name.sql(),
            on.join(" AND ")
        );
        let mut found: Vec<Vec<Value>> = Vec::new();
        tx.stream(&sql, &mut |row| {
            found.push(row);
            Ok(())
        })?;
        for row in found {
            let key = info.key_of(&row);
            rec.set_after_by_key(&name, &key, &row)?;
        }
    }
    if let Some(cond) = sqlite_before.get(&table.name) {
        tx.stream(
            &format!("SELECT {cols} FROM {} AS a WHERE {cond}", table.name.sql()),
            &mut |row: Vec<Value>| {
                let key = info.key_of(&row);
                rec.row(&name, Op::Insert, &key, None, Some(&row))?;
                inserted += 1;
                Ok(())
            },
        )?;
    }
    Ok(inserted)
}
