//! Undo and replay: put back every row a journaled change touched.
//!
//! The inverse of a change is planned from its journal entry: deleted rows
//! are re-inserted (parents first), updated rows get their before-images
//! back, inserted rows are deleted (children first). Before anything runs,
//! every row is checked against the database as it is now: a re-inserted
//! key that exists again, or an updated or inserted row that no longer
//! equals its after-image, is a **conflict**. Conflicts are listed row by
//! row and nothing changes, unless `--force` skips the conflicting rows
//! (the skipped rows are written into the undo's own journal entry).
//!
//! Deleted rows captured in bulk go back in bulk: on Postgres through
//! `COPY` into staging tables, one set-based conflict check and `INSERT
//! ... SELECT`; on SQLite each stored chunk's packed rows bound straight
//! into batches of `INSERT OR ABORT ... VALUES` (chunks of older journals,
//! JSON lines, as the parameter of one `INSERT OR ABORT ... SELECT` from
//! `jsonb_each()`). SQLite's preview
//! looks for conflicts with one query per chunk; the apply repeats it only
//! for tables without a key, which `INSERT OR ABORT` cannot catch, or once
//! an insert fails (to name them). Everything else (and `--force`) goes in
//! batches of literal statements.
//!
//! The restore runs through the same guarded path as any change
//! (`crate::apply::run_guarded`): one transaction, timeouts, and its own
//! journal entry with before- and after-images, so an undo can be undone.
//! On Postgres, where the role may set `session_replication_role`, rows
//! are restored in `replica` mode so triggers and `ON UPDATE` actions do
//! not bend them, and referential integrity is checked before commit;
//! otherwise triggers fire and the undo reports, column by column, where
//! restored rows differ from their before-images.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::apply::ApplyOptions;
use crate::db::{ApplyTx, BulkFormat, Connection, Engine, PreviewTx, Value};
use crate::error::{Error, ErrorKind, Result};
use crate::journal::{Change, Journal, Op, Recording, RowChange, Status};
use crate::journal::{ChangeMeta, run_guarded};
use crate::schema::{QualName, Schema, TableInfo, quote_ident};

/// One row that cannot be restored as recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conflict {
    pub table: String,
    pub key: Vec<Option<String>>,
    pub reason: String,
}

/// What an undo will do, per table.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UndoCounts {
    pub reinsert: u64,
    pub revert: u64,
    pub delete: u64,
}

/// The plan of an undo, as previewed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UndoPlan {
    pub change_id: i64,
    pub statement: String,
    pub tables: BTreeMap<String, UndoCounts>,
    pub conflicts: Vec<Conflict>,
    pub partial: Option<String>,
}

/// What an undo's preview planned for the rows it restores one by one
/// (their conflicts and the rows `--force` skips), with the target's data
/// version it read them at ([`PreviewTx::data_version`]). The undo itself
/// takes it instead of planning again when its own transaction reads the
/// same version: no other session committed, so the rows are as the
/// preview found them. At 100k rows planning again was 38M of a SQLite
/// undo's 1,334M instructions. Only the SQLite bulk undo makes one (its
/// preview plans exactly the phases the undo does), and a memo is taken
/// only for the same change, journal and target it was made for.
#[derive(Debug, Clone)]
pub struct PlanMemo {
    plan: UndoPlan,
    skip: std::collections::BTreeSet<i64>,
    version: String,
    change_id: i64,
    source: std::path::PathBuf,
    target: String,
}

/// The outcome of an applied undo.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UndoReport {
    pub plan: UndoPlan,
    pub change_id: i64,
    /// `replica` (triggers and FK actions off, integrity checked) or
    /// `triggers` (they fired).
    pub mode: &'static str,
    /// Restored rows that differ from their before-images (triggers mode).
    pub differences: Vec<String>,
    pub skipped: usize,
}

/// How an undo runs.
#[derive(Debug, Clone, Default)]
pub struct UndoOptions {
    pub apply: ApplyOptions,
    /// Skip conflicting rows instead of refusing.
    pub force: bool,
    /// Allow restoring into a database other than the change's target.
    pub replay: bool,
}

fn text(v: &Value) -> Option<String> {
    v.text()
}

/// A literal for `v` in a column of `type_name`, for the engine.
pub fn literal(engine: Engine, v: &Value, type_name: &str) -> String {
    match engine {
        Engine::Sqlite => crate::db::sqlite::literal(v),
        Engine::Postgres => match v {
            // Typed, so a VALUES column of only NULLs still has its type.
            Value::Null if !type_name.is_empty() => format!("NULL::{type_name}"),
            Value::Null => "NULL".into(),
            other => {
                let lit = crate::db::postgres::text_literal(&other.text().unwrap_or_default());
                if type_name.is_empty() {
                    lit
                } else {
                    format!("{lit}::{type_name}")
                }
            }
        },
    }
}

fn table_sql(info: &TableInfo) -> String {
    match &info.schema {
        Some(s) => format!("{}.{}", quote_ident(s), quote_ident(&info.table)),
        None => quote_ident(&info.table),
    }
}

/// Rows restored per statement: big enough to amortise round trips, small
/// enough that a batch's literals stay a modest statement.
const BATCH: usize = 500;

/// Rows per conflict-check query when planning an undo. A batch's rows
/// and its query are held at once: at 5,000, SQLite's parse of the key
/// list and the decoded rows were 6 MiB, a third of a 1M-row undo's peak
/// memory.
const PLAN_BATCH: usize = 2000;

/// Whether the key columns are a primary key (never NULL) rather than all
/// columns of a keyless table (which may hold NULLs).
fn key_is_primary(info: &TableInfo) -> bool {
    info.key_columns.len() < info.columns.iter().filter(|c| !c.generated).count()
}

fn col_type<'a>(info: &'a TableInfo, name: &str) -> &'a str {
    info.columns
        .iter()
        .find(|c| c.name == name)
        .map(|c| c.type_name.as_str())
        .unwrap_or("")
}

/// `WITH v(k0, ..) AS (VALUES ...)` holding the keys of `rows`, typed.
fn keys_cte(engine: Engine, info: &TableInfo, rows: &[&RowChange]) -> String {
    let names: Vec<String> = (0..info.key_columns.len())
        .map(|i| format!("k{i}"))
        .collect();
    let values: Vec<String> = rows
        .iter()
        .map(|r| {
            let vals: Vec<String> = info
                .key_columns
                .iter()
                .zip(&r.key)
                .map(|(c, v)| literal(engine, v, col_type(info, c)))
                .collect();
            format!("({})", vals.join(", "))
        })
        .collect();
    format!(
        "WITH v({}) AS (VALUES {})",
        names.join(", "),
        values.join(", ")
    )
}

/// Postgres: `WITH v(k0, ..)` holding the keys of `rows` as one array
/// literal per key column, unnested side by side. Postgres parses and
/// plans a 5,000-row `VALUES` list in about 10 ms, more than the lookups
/// cost; an array literal takes well under one. Only for primary keys (never NULL, with a btree equality, so
/// no type with its own array delimiter such as `box`), and not for key
/// columns that are arrays themselves, which `unnest` would flatten.
fn pg_keys_unnest(info: &TableInfo, rows: &[&RowChange]) -> Option<String> {
    if !key_is_primary(info) {
        return None;
    }
    let types: Vec<&str> = info.key_columns.iter().map(|c| col_type(info, c)).collect();
    if types.iter().any(|t| t.is_empty() || t.ends_with(']')) {
        return None;
    }
    let mut arrays: Vec<String> = vec![String::from("{"); types.len()];
    for (i, row) in rows.iter().enumerate() {
        if row.key.len() != types.len() {
            return None;
        }
        for (array, v) in arrays.iter_mut().zip(&row.key) {
            if i > 0 {
                array.push(',');
            }
            let t = v.text()?;
            array.push('"');
            for c in t.chars() {
                if c == '"' || c == '\\' {
                    array.push('\\');
                }
                array.push(c);
            }
            array.push('"');
        }
    }
    let names: Vec<String> = (0..types.len()).map(|i| format!("k{i}")).collect();
    let args: Vec<String> = arrays
        .into_iter()
        .zip(&types)
        .map(|(mut a, t)| {
            a.push('}');
            literal(Engine::Postgres, &Value::Text(a), &format!("{t}[]"))
        })
        .collect();
    Some(format!(
        "WITH v({}) AS (SELECT * FROM unnest({}))",
        names.join(", "),
        args.join(", ")
    ))
}

/// `t.k = v.k0 AND ...` (or the NULL-safe form for keyless tables).
fn key_join(engine: Engine, info: &TableInfo, t: &str) -> String {
    info.key_columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let l = format!("{t}.{}", quote_ident(c));
            if key_is_primary(info) {
                format!("{l} = v.k{i}")
            } else {
                // A keyless table is matched on every column, NULL-safely;
                // on Postgres by text form, since json, xml or point have
                // no equality operator.
                match engine {
                    Engine::Postgres => format!("{l}::text IS NOT DISTINCT FROM v.k{i}::text"),
                    Engine::Sqlite => format!("{l} IS v.k{i}"),
                }
            }
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn key_string(key: &[Value]) -> String {
    serde_json::Value::Array(key.iter().map(Value::to_json).collect()).to_string()
}

/// The current rows with the keys of `rows`, by key.
fn current_rows(
    tx: &mut dyn PreviewTx,
    engine: Engine,
    info: &TableInfo,
    rows: &[&RowChange],
) -> Result<std::collections::HashMap<String, Vec<Value>>> {
    let mut out = std::collections::HashMap::new();
    if rows.is_empty() {
        return Ok(out);
    }
    let cols: Vec<String> = info
        .columns
        .iter()
        .map(|c| format!("t.{}", quote_ident(&c.name)))
        .collect();
    let unnest = match engine {
        Engine::Postgres => pg_keys_unnest(info, rows),
        Engine::Sqlite => None,
    };
    let sql = match unnest {
        // One index probe per key. As a join, the planner hashed the whole
        // table for every batch once its statistics said the keys were
        // dense (20 ms a batch at 180k rows, growing with the table);
        // OFFSET 0 keeps the lateral subquery from being flattened into
        // that join.
        Some(cte) => format!(
            "{cte} SELECT {} FROM v CROSS JOIN LATERAL (SELECT * FROM {} AS t WHERE {} OFFSET 0) AS t",
            cols.join(", "),
            table_sql(info),
            key_join(engine, info, "t")
        ),
        None => format!(
            "{} SELECT {} FROM {} AS t JOIN v ON {}",
            keys_cte(engine, info, rows),
            cols.join(", "),
            table_sql(info),
            key_join(engine, info, "t")
        ),
    };
    let found = tx.query(&sql)?.ok_or_else(|| {
        Error::database(format!(
            "reading {} did not finish within the statement timeout",
            info.name
        ))
    })?;
    for row in found.rows {
        out.insert(key_string(&info.key_of(&row)), row);
    }
    Ok(out)
}

/// Compares two rows, ignoring generated columns; returns the names of the
/// columns that differ.
fn differing(info: &TableInfo, a: &[Value], b: &[Value]) -> Vec<String> {
    info.columns
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.generated)
        .filter(|(i, _)| !same_value(a.get(*i), b.get(*i)))
        .map(|(_, c)| c.name.clone())
        .collect()
}

fn same_value(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(Value::Real(x)), Some(Value::Real(y))) => x.to_bits() == y.to_bits(),
        (a, b) => a == b,
    }
}

/// Why a row cannot be restored as recorded, given the current row.
fn conflict_of(info: &TableInfo, row: &RowChange, now: Option<&Vec<Value>>) -> Option<String> {
    match row.op {
        Op::Delete => now.map(|_| "a row with this key exists again".to_owned()),
        Op::Update | Op::Insert => match (now, &row.after) {
            (None, _) => Some("the row is gone".to_owned()),
            (Some(n), Some(after)) => {
                let cols = differing(info, n, after);
                (!cols.is_empty()).then(|| format!("changed since: {}", cols.join(", ")))
            }
            (Some(_), None) => Some("the journal has no after-image to compare with".to_owned()),
        },
    }
}

/// Loads a change that may be undone.
fn undoable(journal: &Journal, id: i64) -> Result<Change> {
    let change = journal.get(id)?;
    if change.status != Status::Committed {
        return Err(Error::input(format!(
            "change {id} is {}, not committed: there is nothing to undo",
            change.status.name()
        )));
    }
    if let Some(by) = journal.undone_by(id)? {
        return Err(Error::input(format!(
            "change {id} was already undone by change {by}\nTo redo it, undo change {by}."
        )));
    }
    Ok(change)
}

/// The three restore phases: re-inserts parents first, reverted updates,
/// deletes of inserted rows children first.
const PHASES: [(Op, bool); 3] = [(Op::Delete, false), (Op::Update, false), (Op::Insert, true)];

/// Streams the rows of a change in restore order, in batches of one table.
fn for_each_batch(
    source: &Journal,
    id: i64,
    info_of: &BTreeMap<String, TableInfo>,
    phases: &[(Op, bool)],
    batch: usize,
    mut f: impl FnMut(&TableInfo, &[RowChange]) -> Result<()>,
) -> Result<()> {
    for &(op, children_first) in phases {
        let mut buf: Vec<RowChange> = Vec::new();
        let mut flush = |buf: &mut Vec<RowChange>| -> Result<()> {
            if let Some(first) = buf.first() {
                if let Some(info) = info_of.get(&first.table) {
                    f(info, buf)?;
                }
            }
            buf.clear();
            Ok(())
        };
        source.for_each_row_of(id, op, children_first, |row| {
            if buf.first().is_some_and(|r| r.table != row.table) || buf.len() >= batch {
                flush(&mut buf)?;
            }
            buf.push(row);
            Ok(())
        })?;
        flush(&mut buf)?;
    }
    Ok(())
}

/// Plans the undo and finds its conflicts, batch by batch.
fn plan(
    tx: &mut dyn PreviewTx,
    engine: Engine,
    change: &Change,
    source: &Journal,
    info_of: &BTreeMap<String, TableInfo>,
    phases: &[(Op, bool)],
) -> Result<(UndoPlan, std::collections::BTreeSet<i64>)> {
    let mut plan = UndoPlan {
        change_id: change.id,
        statement: change.meta.statement.clone(),
        tables: BTreeMap::new(),
        conflicts: Vec::new(),
        partial: change.partial.clone(),
    };
    let mut skip = std::collections::BTreeSet::new();
    // Checking is read-only: bigger batches, fewer round trips.
    for_each_batch(
        source,
        change.id,
        info_of,
        phases,
        PLAN_BATCH,
        |info, rows| {
            let refs: Vec<&RowChange> = rows.iter().collect();
            let now = current_rows(tx, engine, info, &refs)?;
            for row in rows {
                let counts = plan.tables.entry(row.table.clone()).or_default();
                match row.op {
                    Op::Delete => counts.reinsert += 1,
                    Op::Update => counts.revert += 1,
                    Op::Insert => counts.delete += 1,
                }
                if let Some(reason) = conflict_of(info, row, now.get(&key_string(&row.key))) {
                    plan.conflicts.push(Conflict {
                        table: row.table.clone(),
                        key: row.key.iter().map(text).collect(),
                        reason,
                    });
                    skip.insert(row.seq);
                }
            }
            Ok(())
        },
    )?;
    Ok((plan, skip))
}

/// A journaled change ready to be undone: its entry and tables; the rows
/// stream from the journal it came from.
pub struct Loaded {
    pub change: Change,
    pub tables: Vec<TableInfo>,
    /// The journal file holding its rows.
    pub source: std::path::PathBuf,
}

/// Reads change `id` for undoing; `replay` skips the "already undone"
/// check, which is about the original target only.
pub fn load(journal: &Journal, id: i64, replay: bool) -> Result<Loaded> {
    let change = if replay {
        let c = journal.get(id)?;
        if c.status != Status::Committed {
            return Err(Error::input(format!(
                "change {id} is {}, not committed: there is nothing to replay",
                c.status.name()
            )));
        }
        c
    } else {
        undoable(journal, id)?
    };
    Ok(Loaded {
        tables: journal.tables(id)?,
        change,
        source: journal.path().to_path_buf(),
    })
}

/// Reads any change (for show and export), whatever its status.
pub fn load_any(journal: &Journal, id: i64) -> Result<Loaded> {
    Ok(Loaded {
        change: journal.get(id)?,
        tables: journal.tables(id)?,
        source: journal.path().to_path_buf(),
    })
}

/// Undoes change `id` on `conn` (its target, or another database when
/// replaying), or only plans it with `dry_run`.
pub fn undo(
    conn: &mut Connection,
    journal: &mut Journal,
    schema: &Schema,
    id: i64,
    opts: &UndoOptions,
    operator: &str,
    dry_run: bool,
) -> Result<(UndoPlan, Option<UndoReport>)> {
    let loaded = load(journal, id, opts.replay)?;
    undo_loaded(
        conn, journal, schema, &loaded, opts, operator, dry_run, &mut None,
    )
}

/// A multi-row statement restoring one batch; returns the rows it must
/// report.
fn batch_sql(engine: Engine, info: &TableInfo, rows: &[&RowChange]) -> Option<String> {
    let first = rows.first()?;
    let target = table_sql(info);
    match first.op {
        Op::Delete => {
            let cols: Vec<String> = info
                .columns
                .iter()
                .filter(|c| !c.generated)
                .map(|c| quote_ident(&c.name))
                .collect();
            let values: Vec<String> = rows
                .iter()
                .filter_map(|r| r.before.as_ref())
                .map(|before| {
                    let vals: Vec<String> = info
                        .columns
                        .iter()
                        .zip(before)
                        .filter(|(c, _)| !c.generated)
                        .map(|(c, v)| literal(engine, v, &c.type_name))
                        .collect();
                    format!("({})", vals.join(", "))
                })
                .collect();
            let overriding =
                if engine == Engine::Postgres && info.columns.iter().any(|c| c.identity_always) {
                    " OVERRIDING SYSTEM VALUE"
                } else {
                    ""
                };
            Some(format!(
                "INSERT{} INTO {target} ({}){overriding} VALUES {}",
                sqlite_abort(engine),
                cols.join(", "),
                values.join(", ")
            ))
        }
        Op::Update => {
            // Every non-generated column gets its before-image; identity
            // ALWAYS columns cannot be assigned and keep their value.
            let settable: Vec<(usize, &crate::schema::ColumnInfo)> = info
                .columns
                .iter()
                .enumerate()
                .filter(|(_, c)| !c.generated && !c.identity_always)
                .collect();
            let nkeys = info.key_columns.len();
            let mut names: Vec<String> = (0..nkeys).map(|i| format!("k{i}")).collect();
            names.extend((0..settable.len()).map(|j| format!("c{j}")));
            let values: Vec<String> = rows
                .iter()
                .filter_map(|r| r.before.as_ref().map(|b| (r, b)))
                .map(|(r, before)| {
                    let mut vals: Vec<String> = info
                        .key_columns
                        .iter()
                        .zip(&r.key)
                        .map(|(c, v)| literal(engine, v, col_type(info, c)))
                        .collect();
                    for (i, c) in &settable {
                        let v = before.get(*i).cloned().unwrap_or(Value::Null);
                        vals.push(literal(engine, &v, &c.type_name));
                    }
                    format!("({})", vals.join(", "))
                })
                .collect();
            let sets: Vec<String> = settable
                .iter()
                .enumerate()
                .map(|(j, (_, c))| format!("{} = v.c{j}", quote_ident(&c.name)))
                .collect();
            if sets.is_empty() {
                return None;
            }
            Some(format!(
                "WITH v({}) AS (VALUES {}) UPDATE{} {target} SET {} FROM v WHERE {}",
                names.join(", "),
                values.join(", "),
                sqlite_abort(engine),
                sets.join(", "),
                key_join(engine, info, &target)
            ))
        }
        Op::Insert => Some(format!(
            "{} DELETE FROM {target} WHERE EXISTS (SELECT 1 FROM v WHERE {})",
            keys_cte(engine, info, rows),
            key_join(engine, info, &target)
        )),
    }
}

/// ` OR ABORT` on SQLite: a restored value that collides with another row
/// must fail, whatever `ON CONFLICT` clause the table declares (`REPLACE`
/// would delete the other row, `IGNORE` would skip the restore).
fn sqlite_abort(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => " OR ABORT",
        Engine::Postgres => "",
    }
}

/// Undoes a loaded change, recording the undo in `journal`. A dry run
/// leaves in `memo` what a run after it may reuse ([`PlanMemo`]); a run
/// takes it.
#[allow(clippy::too_many_arguments)]
pub fn undo_loaded(
    conn: &mut Connection,
    journal: &mut Journal,
    schema: &Schema,
    loaded: &Loaded,
    opts: &UndoOptions,
    operator: &str,
    dry_run: bool,
    memo: &mut Option<PlanMemo>,
) -> Result<(UndoPlan, Option<UndoReport>)> {
    let prior = memo.take();
    let change = &loaded.change;
    let tables = &loaded.tables;
    let id = change.id;
    let engine = conn.engine();
    if change.meta.engine != engine.name() {
        return Err(Error::input(format!(
            "change {id} was made on {}, this target is {}",
            change.meta.engine,
            engine.name()
        )));
    }
    let identity = conn.identity().clone();
    if !opts.replay && change.meta.target_database != identity.database {
        return Err(Error::input(format!(
            "change {id} was made on {} ({}), not on {}\nConnect to that database, or use dbguard undo replay to restore into another one.",
            change.meta.target, change.meta.target_database, identity.display
        )));
    }
    // The rows are read through a second handle on the journal file: the
    // recording holds the first one's write transaction.
    let source = Journal::open(Some(&loaded.source))?;
    let info_of: BTreeMap<String, TableInfo> =
        tables.iter().map(|t| (t.name.clone(), t.clone())).collect();
    let sqlite_bulk =
        engine == Engine::Sqlite && !opts.force && sqlite_bulk_ok(schema, &source, id, tables)?;
    let prior = prior
        .filter(|m| m.change_id == id && m.source == loaded.source && m.target == identity.display);
    if dry_run {
        let (plan, _) = conn.preview(opts.apply.guard.statement_timeout, |tx| {
            if sqlite_bulk {
                let ((mut plan, skip), version) = crate::db::at_one_version(tx, |tx| {
                    plan(tx, engine, change, &source, &info_of, &PHASES[1..])
                })?;
                if let Some(version) = version {
                    *memo = Some(PlanMemo {
                        plan: plan.clone(),
                        skip: skip.clone(),
                        version,
                        change_id: id,
                        source: loaded.source.clone(),
                        target: identity.display.clone(),
                    });
                }
                sqlite_bulk_check(
                    tx,
                    &source,
                    id,
                    &by_position(tables),
                    &mut plan.conflicts,
                    &mut plan.tables,
                )?;
                Ok((plan, skip))
            } else {
                plan(tx, engine, change, &source, &info_of, &PHASES)
            }
        })?;
        return Ok((plan, None));
    }
    let meta = ChangeMeta::for_target(
        conn.identity(),
        operator,
        &format!("UNDO change {id}: {}", change.meta.statement),
        "undo",
        &change.meta.digest,
        serde_json::json!({"undo_of": id}).to_string(),
        (!opts.replay).then_some(id),
    );
    let total: u64 = change.row_count.max(0) as u64;
    let progress = Progress::new(total);
    let mut result: Option<(UndoPlan, UndoReport)> = None;
    let (undo_id, ()) = run_guarded(conn, journal, &meta, &opts.apply.guard, |tx, rec| {
        // Postgres re-inserts deleted rows in bulk: COPY into a staging
        // table, one set-based conflict check, INSERT ... SELECT. SQLite
        // does it a stored chunk per statement where it can (see
        // `sqlite_bulk_ok`). Other rows (and --force, which skips row by
        // row) go in batches of literal statements.
        let staged = engine == Engine::Postgres && !opts.force;
        let phases: &[(Op, bool)] = if staged || sqlite_bulk {
            &PHASES[1..]
        } else {
            &PHASES
        };
        // The preview's plan, when nothing committed and this connection
        // wrote nothing since (see `PlanMemo`).
        let reused = match prior {
            Some(m) if sqlite_bulk && tx.data_version()?.as_deref() == Some(m.version.as_str()) => {
                Some((m.plan, m.skip))
            }
            _ => None,
        };
        let (mut plan, skip) = match reused {
            Some(p) => p,
            None => plan(tx, engine, change, &source, &info_of, phases)?,
        };
        let mut stages: Vec<(TableInfo, String, u64)> = Vec::new();
        if staged {
            stage_deleted_rows(tx, &source, id, tables, &mut plan, &mut stages)?;
        }
        if sqlite_bulk {
            // `INSERT OR ABORT` fails only on a PRIMARY KEY or UNIQUE
            // constraint: rows of a table without a key (matched column by
            // column) are looked up first, as the preview did.
            // Their counts come with the insert.
            let unkeyed: Vec<&TableInfo> = by_position(tables)
                .into_iter()
                .filter(|t| !key_is_primary(t))
                .collect();
            sqlite_bulk_check(
                tx,
                &source,
                id,
                &unkeyed,
                &mut plan.conflicts,
                &mut BTreeMap::new(),
            )?;
        }
        if !plan.conflicts.is_empty() && !opts.force {
            return Err(conflict_error(&plan));
        }
        for t in tables {
            rec.table(t)?;
        }
        let mode = if engine == Engine::Postgres && try_replica(tx)? {
            "replica"
        } else {
            "triggers"
        };
        // SQLite checks a foreign key at the end of each statement. Where
        // a restored table references itself, or a table restored after
        // it, a child can come back in an earlier statement than its
        // parent: the checks wait for the end, and are made before the
        // journal entry is prepared.
        let deferred = engine == Engine::Sqlite && references_forward(schema, tables);
        if deferred {
            tx.execute("PRAGMA defer_foreign_keys = ON")?;
        }
        let mut differences = Vec::new();
        let mut done = Done {
            rows: 0,
            total,
            crashed_half: false,
            progress: &progress,
        };
        for (info, stage, rows) in &stages {
            let cols: Vec<String> = info
                .columns
                .iter()
                .filter(|c| !c.generated)
                .map(|c| quote_ident(&c.name))
                .collect();
            let overriding = if info.columns.iter().any(|c| c.identity_always) {
                " OVERRIDING SYSTEM VALUE"
            } else {
                ""
            };
            let n = tx.execute(&format!(
                "INSERT INTO {} ({}){overriding} SELECT {} FROM {stage}",
                table_sql(info),
                cols.join(", "),
                cols.join(", ")
            ))?;
            if n != *rows {
                return Err(Error::drift(format!(
                    "{}: restoring {rows} rows inserted {n}; nothing was committed",
                    info.name
                )));
            }
            // The undo's own record: the restored rows. In replica mode
            // nothing could change them on the way in, so the staged rows
            // are what the table now holds; with triggers, they are re-read.
            let all: Vec<String> = info
                .columns
                .iter()
                .map(|c| format!("t.{}", quote_ident(&c.name)))
                .collect();
            let now_sql = if mode == "replica" && !info.columns.iter().any(|c| c.generated) {
                format!("SELECT {} FROM {stage} AS t", all.join(", "))
            } else {
                format!(
                    "SELECT {} FROM {} AS t WHERE EXISTS (SELECT 1 FROM {stage} AS s WHERE {})",
                    all.join(", "),
                    table_sql(info),
                    stage_match(info)
                )
            };
            let name = info.name.clone();
            tx.copy_out(&now_sql, &mut |format, text, lines| {
                rec.chunk(&name, Op::Insert, format, lines, text)
            })?;
            if mode == "triggers" {
                let diff_sql = format!(
                    "SELECT count(*) FROM {} AS t JOIN {stage} AS s ON {} WHERE ({}) IS DISTINCT FROM ({})",
                    table_sql(info),
                    stage_match(info),
                    info.columns
                        .iter()
                        .filter(|c| !c.generated)
                        .map(|c| format!("t.{}::text", quote_ident(&c.name)))
                        .collect::<Vec<_>>()
                        .join(", "),
                    info.columns
                        .iter()
                        .filter(|c| !c.generated)
                        .map(|c| format!("s.{}::text", quote_ident(&c.name)))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                if let Some(d) = (tx as &mut dyn PreviewTx)
                    .count(&diff_sql)?
                    .filter(|&d| d > 0)
                {
                    differences.push(format!(
                        "{}: {d} re-inserted row(s) differ from their before-images (triggers)",
                        info.name
                    ));
                }
            }
            done.add(n);
        }
        if sqlite_bulk {
            // No conflict query first for a table with a key: `INSERT OR
            // ABORT` fails on a key that exists again (whatever ON CONFLICT
            // clause the table declares), the savepoint takes back the
            // chunks before it, and only then are the conflicts looked up
            // to be named.
            tx.execute("SAVEPOINT dbguard_bulk")?;
            match sqlite_bulk_insert(tx, rec, &source, id, tables, &mut plan, &mut done) {
                Ok(()) => {
                    tx.execute("RELEASE SAVEPOINT dbguard_bulk")?;
                }
                Err(e) => {
                    // An I/O or memory error can end the whole transaction,
                    // and the savepoint with it: then the error is the answer.
                    // A lookup that fails too (out of time, say) leaves the
                    // insert's own error as the answer.
                    if tx.execute("ROLLBACK TO SAVEPOINT dbguard_bulk").is_ok() {
                        let mut found = Vec::new();
                        let checked = sqlite_bulk_check(
                            tx,
                            &source,
                            id,
                            &by_position(tables),
                            &mut found,
                            &mut BTreeMap::new(),
                        );
                        if checked.is_ok() && !found.is_empty() {
                            plan.conflicts = found;
                            return Err(conflict_error(&plan));
                        }
                    }
                    return Err(e);
                }
            }
        }
        for_each_batch(&source, id, &info_of, phases, BATCH, |info, rows| {
            let todo: Vec<&RowChange> = rows.iter().filter(|r| !skip.contains(&r.seq)).collect();
            if todo.is_empty() {
                return Ok(());
            }
            if let Some(sql) = batch_sql(engine, info, &todo) {
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
            let now = if mode == "triggers" && todo[0].op != Op::Insert {
                Some(current_rows(tx, engine, info, &todo)?)
            } else {
                None
            };
            for row in &todo {
                match row.op {
                    Op::Delete | Op::Update => {
                        let before = row.before.clone().unwrap_or_default();
                        let actual = now
                            .as_ref()
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
                            rec.row(&row.table, Op::Insert, &key, None, Some(&actual))?;
                        } else {
                            rec.row(
                                &row.table,
                                Op::Update,
                                &key,
                                row.after.as_deref(),
                                Some(&actual),
                            )?;
                        }
                    }
                    Op::Insert => {
                        rec.row(&row.table, Op::Delete, &row.key, row.after.as_deref(), None)?;
                    }
                }
            }
            done.add(todo.len() as u64);
            Ok(())
        })?;
        progress.finish();
        if mode == "replica" || deferred {
            check_integrity(tx, schema, tables)?;
        }
        if !skip.is_empty() {
            rec.set_partial(&format!(
                "--force skipped {} conflicting row(s): {}",
                skip.len(),
                plan.conflicts
                    .iter()
                    .take(100)
                    .map(|c| format!("{} {} ({})", c.table, key_text_opt(&c.key), c.reason))
                    .collect::<Vec<_>>()
                    .join("; ")
            ))?;
        }
        let report = UndoReport {
            plan: plan.clone(),
            change_id: 0,
            mode,
            differences,
            skipped: skip.len(),
        };
        result = Some((plan, report));
        Ok(())
    })?;
    match result {
        Some((plan, mut report)) => {
            report.change_id = undo_id;
            Ok((plan, Some(report)))
        }
        None => Err(Error::io("undo finished without a report")),
    }
}

/// Rows an undo has restored so far: shown as progress, and the midpoint
/// where the crash tests kill it (`DBGUARD_CRASH_AT=during_undo`).
struct Done<'a> {
    rows: u64,
    total: u64,
    crashed_half: bool,
    progress: &'a Progress,
}

impl Done<'_> {
    fn add(&mut self, rows: u64) {
        self.rows += rows;
        self.progress.show(self.rows);
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

/// The columns a restore writes (generated ones are the database's), with
/// their positions in a captured row.
fn insert_columns(info: &TableInfo) -> Vec<(usize, &str)> {
    info.columns
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.generated)
        .map(|(i, c)| (i, c.name.as_str()))
        .collect()
}

/// Puts back the deleted rows of every table (parents first), and records
/// them as the undo's own rows: packed chunks through the engine's
/// [`ApplyTx::insert_packed`], JSON chunks (older journals) a chunk per
/// `INSERT OR ABORT ... SELECT ... FROM jsonb_each(?1)`, the chunk bound as
/// one JSON array.
fn sqlite_bulk_insert(
    tx: &mut dyn ApplyTx,
    rec: &mut Recording,
    source: &Journal,
    id: i64,
    tables: &[TableInfo],
    plan: &mut UndoPlan,
    done: &mut Done,
) -> Result<()> {
    // One buffer for every chunk: each is a few hundred KiB, and a fresh
    // allocation of that size is a fresh mapping to fault in.
    let mut rows = String::new();
    let same_file = rec.is_in(source);
    for info in by_position(tables) {
        let cols = insert_columns(info);
        let name = info.name.clone();
        let targets = cols
            .iter()
            .map(|(_, c)| quote_ident(c))
            .collect::<Vec<_>>()
            .join(", ");
        let mut statements: [Option<String>; 2] = [None, None];
        let head = format!(
            "INSERT{} INTO {} ({targets})",
            sqlite_abort(Engine::Sqlite),
            table_sql(info)
        );
        let insert = format!("{head} VALUES");
        let positions: Vec<usize> = cols.iter().map(|(i, _)| *i).collect();
        source.for_each_chunk_of(id, &info.name, Op::Delete, |chunk| {
            let lines = chunk.rows;
            let n = if chunk.format == BulkFormat::Packed {
                tx.insert_packed(&insert, &positions, chunk.data)
                    .and_then(|n| {
                        n.ok_or_else(|| Error::database("this engine cannot restore packed rows"))
                    })
                    .map_err(|e| e.context(format!("restoring {name}")))?
            } else {
                let text = chunk.text()?;
                let objects = text.contains("{\"");
                let sql = statements[usize::from(objects)].get_or_insert_with(|| {
                    format!(
                        "{head} SELECT {} FROM jsonb_each(",
                        cols.iter()
                            .map(|(i, _)| crate::db::sqlite::json_lines::value_sql(*i, objects))
                            .collect::<Vec<_>>()
                            .join(", "),
                    )
                });
                crate::db::sqlite::json_lines::rows_array(text, &mut rows);
                tx.execute_with_text(sql, &rows, ") AS j")?
            };
            if n != lines {
                return Err(Error::drift(format!(
                    "{name}: restoring {lines} rows inserted {n}; nothing was committed"
                )));
            }
            plan.tables.entry(name.clone()).or_default().reinsert += lines;
            // No INSERT trigger can have changed them: the rows are now
            // what the chunk says, so the undo's entry can say "that
            // chunk" when it is in the same journal file.
            if same_file {
                rec.chunk_ref(&name, Op::Insert, chunk)?;
            } else {
                rec.chunk(&name, Op::Insert, chunk.format, n, chunk.data)?;
            }
            done.add(n);
            Ok(())
        })?;
    }
    Ok(())
}

/// Whether SQLite can put a change's deleted rows back in bulk, chunk by
/// chunk: they were all captured in bulk (packed rows, or `json_array()`
/// lines without a real given by its bits: -0.0, which SQL cannot read
/// back from JSON), and no table has an INSERT trigger that could bend a
/// row on the way in (those go row by row, re-read and compared).
fn sqlite_bulk_ok(
    schema: &Schema,
    source: &Journal,
    id: i64,
    tables: &[TableInfo],
) -> Result<bool> {
    if source.single_rows(id, Op::Delete)? > 0 {
        return Ok(false);
    }
    for info in tables {
        let formats = source.chunk_formats(id, &info.name, Op::Delete)?;
        if formats.is_empty() {
            continue;
        }
        // Packed rows hold every real as SQLite does, sign and all, and
        // need no reading here: at 100k rows reading them all was about
        // 12 ms of CPU, 8% of the undo. Only JSON chunks (older journals)
        // are scanned.
        let mut readable = !formats.contains(&BulkFormat::Copy);
        if readable && formats.contains(&BulkFormat::Json) {
            source.for_each_chunk_of(id, &info.name, Op::Delete, |chunk| {
                // `{"real"` can only be an object key: inside JSON strings
                // a quote is always escaped.
                if chunk.format == BulkFormat::Json {
                    readable &= !chunk.text()?.contains("{\"real\"");
                }
                Ok(())
            })?;
        }
        let name = QualName::new(info.schema.as_deref(), &info.table);
        let Some(table) = schema.get(&name) else {
            return Ok(false);
        };
        let insert_trigger = table
            .triggers
            .iter()
            .any(|t| t.events.contains(&crate::schema::TriggerEvent::Insert));
        if !readable || insert_trigger {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Counts, into `counts`, the deleted rows of `tables` SQLite will put
/// back in bulk, and adds to `conflicts` every one whose key exists again:
/// one query per chunk, or one index probe where the chunk's integer keys
/// span an empty range.
fn sqlite_bulk_check(
    tx: &mut dyn PreviewTx,
    source: &Journal,
    id: i64,
    tables: &[&TableInfo],
    conflicts: &mut Vec<Conflict>,
    counts: &mut BTreeMap<String, UndoCounts>,
) -> Result<()> {
    let mut rows = String::new();
    for &info in tables {
        let keys: Vec<(usize, &str)> = info
            .key_columns
            .iter()
            .filter_map(|k| {
                info.columns
                    .iter()
                    .position(|c| &c.name == k)
                    .map(|i| (i, k.as_str()))
            })
            .collect();
        let op = if key_is_primary(info) { "=" } else { "IS" };
        // An integer key in the first column: a chunk whose key range
        // holds no row now cannot conflict, and one index probe says so.
        let int_key = match keys.as_slice() {
            [(0, k)]
                if key_is_primary(info)
                    && col_type(info, k).to_ascii_uppercase().contains("INT") =>
            {
                Some(*k)
            }
            _ => None,
        };
        source.for_each_chunk_of(id, &info.name, Op::Delete, |stored| {
            counts.entry(info.name.clone()).or_default().reinsert += stored.rows;
            let range = match stored.format {
                BulkFormat::Packed => crate::db::sqlite::packed::first_int_range(stored.data)?,
                _ => crate::db::sqlite::json_lines::first_int_range(stored.text()?),
            };
            if let (Some(k), Some((lo, hi))) = (int_key, range) {
                let any = (tx as &mut dyn PreviewTx).count(&format!(
                    "SELECT EXISTS (SELECT 1 FROM {} WHERE {} BETWEEN {lo} AND {hi})",
                    table_sql(info),
                    quote_ident(k)
                ))?;
                if any == Some(0) {
                    return Ok(());
                }
            }
            match stored.format {
                BulkFormat::Packed => crate::db::sqlite::packed::json_rows(stored.data, &mut rows)?,
                _ => crate::db::sqlite::json_lines::rows_array(stored.text()?, &mut rows),
            }
            // `{"` outside a string only starts a blob's object.
            let objects = rows.contains("{\"");
            let matched: Vec<String> = keys
                .iter()
                .map(|(i, k)| {
                    format!(
                        "t.{} {op} {}",
                        quote_ident(k),
                        crate::db::sqlite::json_lines::value_sql(*i, objects)
                    )
                })
                .collect();
            let shown: Vec<String> = keys
                .iter()
                .map(|(i, _)| crate::db::sqlite::json_lines::value_sql(*i, objects))
                .collect();
            let found = tx.query_with_text(
                &format!("SELECT {} FROM jsonb_each(", shown.join(", ")),
                &rows,
                &format!(
                    ") AS j WHERE EXISTS (SELECT 1 FROM {} AS t WHERE {}) LIMIT 1000",
                    table_sql(info),
                    matched.join(" AND ")
                ),
            )?;
            let found = found.ok_or_else(|| {
                Error::database(format!(
                    "checking {} did not finish within the statement timeout",
                    info.name
                ))
            })?;
            for row in found.rows {
                conflicts.push(Conflict {
                    table: info.name.clone(),
                    key: row.iter().map(text).collect(),
                    reason: "a row with this key exists again".into(),
                });
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// The table row `t` is the staged row `s`: by primary key, or for a
/// keyless table column by column.
fn stage_match(info: &TableInfo) -> String {
    if key_is_primary(info) {
        return info
            .key_columns
            .iter()
            .map(|k| format!("t.{k} = s.{k}", k = quote_ident(k)))
            .collect::<Vec<_>>()
            .join(" AND ");
    }
    info.columns
        .iter()
        .filter(|c| !c.generated)
        .map(|c| {
            format!(
                "t.{n}::text IS NOT DISTINCT FROM s.{n}::text",
                n = quote_ident(&c.name)
            )
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Loads the deleted rows of every table into staging tables (parents
/// first) and adds a conflict for every row whose key exists again. Nothing
/// in the user's tables changes here.
fn stage_deleted_rows(
    tx: &mut dyn ApplyTx,
    source: &Journal,
    id: i64,
    tables: &[TableInfo],
    plan: &mut UndoPlan,
    stages: &mut Vec<(TableInfo, String, u64)>,
) -> Result<()> {
    for (i, info) in by_position(tables).into_iter().enumerate() {
        let stage = format!("pg_temp.dbguard_stage_{i}");
        tx.execute(&format!(
            "CREATE TEMP TABLE dbguard_stage_{i} (LIKE {}) ON COMMIT DROP",
            table_sql(info)
        ))?;
        let cols: Vec<String> = info.columns.iter().map(|c| quote_ident(&c.name)).collect();
        let n = tx.copy_in(
            &format!("COPY {stage} ({}) FROM STDIN", cols.join(", ")),
            &mut |w| {
                source.copy_text_of(id, &info.name, Op::Delete, |text| {
                    // The COPY writer buffers whatever one write hands it:
                    // a whole 1 MiB chunk at once would be copied whole.
                    for piece in text.as_bytes().chunks(64 * 1024) {
                        w.write_all(piece).map_err(|e| {
                            Error::io(format!("cannot stream rows to restore: {e}"))
                        })?;
                    }
                    Ok(())
                })
            },
        )?;
        let n = n.unwrap_or(0);
        if n == 0 {
            continue;
        }
        plan.tables.entry(info.name.clone()).or_default().reinsert += n;
        let keys: Vec<String> = info
            .key_columns
            .iter()
            .map(|k| format!("s.{}", quote_ident(k)))
            .collect();
        let found = (tx as &mut dyn PreviewTx).query(&format!(
            "SELECT {} FROM {stage} AS s WHERE EXISTS (SELECT 1 FROM {} AS t WHERE {}) LIMIT 1000",
            keys.join(", "),
            table_sql(info),
            stage_match(info)
        ))?;
        for row in found.map(|r| r.rows).unwrap_or_default() {
            plan.conflicts.push(Conflict {
                table: info.name.clone(),
                key: row.iter().map(text).collect(),
                reason: "a row with this key exists again".into(),
            });
        }
        stages.push((info.clone(), stage, n));
    }
    Ok(())
}

/// A progress line on stderr for restores that take more than a moment,
/// only on a terminal.
struct Progress {
    total: u64,
    started: std::time::Instant,
    shown: std::cell::Cell<bool>,
    tty: bool,
}

impl Progress {
    fn new(total: u64) -> Self {
        Progress {
            total,
            started: std::time::Instant::now(),
            shown: std::cell::Cell::new(false),
            tty: std::io::IsTerminal::is_terminal(&std::io::stderr()),
        }
    }

    fn show(&self, done: u64) {
        if !self.tty || self.started.elapsed() < std::time::Duration::from_millis(700) {
            return;
        }
        self.shown.set(true);
        let pct = (done * 100).checked_div(self.total).unwrap_or(100);
        let width = 30usize;
        let filled = (pct as usize * width / 100).min(width);
        eprint!(
            "\rrestoring [{}{}] {done}/{} rows",
            "#".repeat(filled),
            " ".repeat(width - filled),
            self.total
        );
    }

    fn finish(&self) {
        if self.shown.get() {
            eprintln!();
        }
    }
}

fn key_text(key: &[Value]) -> String {
    let parts: Vec<String> = key
        .iter()
        .map(|v| v.text().unwrap_or_else(|| "NULL".into()))
        .collect();
    format!("({})", parts.join(", "))
}

fn key_text_opt(key: &[Option<String>]) -> String {
    let parts: Vec<&str> = key.iter().map(|v| v.as_deref().unwrap_or("NULL")).collect();
    format!("({})", parts.join(", "))
}

fn conflict_error(plan: &UndoPlan) -> Error {
    let mut s = format!(
        "cannot undo change {}: {} row{} conflict with the database as it is now; nothing was changed\n",
        plan.change_id,
        plan.conflicts.len(),
        if plan.conflicts.len() == 1 { "" } else { "s" }
    );
    for c in plan.conflicts.iter().take(50) {
        s.push_str(&format!(
            "  {} {}: {}\n",
            c.table,
            key_text_opt(&c.key),
            c.reason
        ));
    }
    if plan.conflicts.len() > 50 {
        s.push_str(&format!("  ... and {} more\n", plan.conflicts.len() - 50));
    }
    s.push_str("Resolve them, or rerun with --force to restore every other row and leave these as they are.");
    Error::new(ErrorKind::Refused, s)
}

/// Turns off triggers and FK actions for this transaction when the role
/// may (superuser, or granted SET on the parameter). The savepoint in
/// `query` keeps a refusal from aborting the transaction.
fn try_replica(tx: &mut dyn ApplyTx) -> Result<bool> {
    Ok(tx
        .query("SET LOCAL session_replication_role = replica")
        .map(|r| r.is_some())
        .unwrap_or(false))
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

/// The undo of a change as a script for plain `psql -v ON_ERROR_STOP=1` or
/// `sqlite3`: one transaction, rows in restore order (multi-row statements
/// like the guarded undo), values as literals cast to their types,
/// identifiers quoted. Streams: constant memory whatever the change's size.
pub fn export_sql(loaded: &Loaded, out: &mut dyn std::io::Write) -> Result<()> {
    let io = |e: std::io::Error| Error::io(format!("cannot write the script: {e}")).caused_by(e);
    let engine = if loaded.change.meta.engine == Engine::Sqlite.name() {
        Engine::Sqlite
    } else {
        Engine::Postgres
    };
    let info_of: BTreeMap<String, TableInfo> = loaded
        .tables
        .iter()
        .map(|t| (t.name.clone(), t.clone()))
        .collect();
    let c = &loaded.change;
    writeln!(
        out,
        "-- dbguard undo of change {} ({} on {}, by {} at {})",
        c.id, c.meta.kind, c.meta.target, c.meta.operator, c.created_at
    )
    .map_err(io)?;
    for line in c.meta.statement.lines() {
        writeln!(out, "-- {line}").map_err(io)?;
    }
    if let Some(p) = &c.partial {
        writeln!(out, "-- WARNING: partial entry: {p}").map_err(io)?;
    }
    writeln!(
        out,
        "-- Run with: psql -v ON_ERROR_STOP=1 -f FILE (Postgres) or sqlite3 DB < FILE (SQLite)."
    )
    .map_err(io)?;
    writeln!(
        out,
        "-- Rows are restored as recorded, without conflict checks: any error rolls it all back."
    )
    .map_err(io)?;
    writeln!(out, "BEGIN;").map_err(io)?;
    if engine == Engine::Sqlite {
        writeln!(out, "PRAGMA defer_foreign_keys = ON;").map_err(io)?;
    }
    let source = Journal::open(Some(&loaded.source))?;
    for_each_batch(&source, c.id, &info_of, &PHASES, BATCH, |info, rows| {
        let refs: Vec<&RowChange> = rows.iter().collect();
        if let Some(sql) = batch_sql(engine, info, &refs) {
            writeln!(out, "{sql};").map_err(io)?;
        }
        Ok(())
    })?;
    writeln!(out, "COMMIT;").map_err(io)?;
    Ok(())
}

/// The change and its rows as JSON (values in the journal's encoding).
pub fn export_json(loaded: &Loaded) -> Result<serde_json::Value> {
    let source = Journal::open(Some(&loaded.source))?;
    let mut rows = Vec::new();
    source.for_each_row(loaded.change.id, |r| {
        let enc = |v: &Option<Vec<Value>>| match v {
            Some(vals) => serde_json::Value::Array(vals.iter().map(Value::to_json).collect()),
            None => serde_json::Value::Null,
        };
        rows.push(serde_json::json!({
            "table": r.table,
            "op": r.op.name(),
            "key": r.key.iter().map(Value::to_json).collect::<Vec<_>>(),
            "before": enc(&r.before),
            "after": enc(&r.after),
        }));
        Ok(())
    })?;
    Ok(serde_json::json!({
        "change": loaded.change,
        "tables": loaded.tables,
        "rows": rows,
    }))
}
