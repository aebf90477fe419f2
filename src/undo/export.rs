//! An undo written out for whoever has no dbguard at hand: as one
//! transaction of plain SQL for psql or sqlite3, or the change and its rows
//! as JSON.
//!
//! Rows are read from the journal in a transaction whose output settings
//! are pinned (`crate::db::Connection::exact_read`), so the literals in the
//! script read back as the values the journal holds.

use super::Loaded;
use crate::db::dialect::Dialect;
use crate::db::{Connection, PreviewTx};
use crate::error::{Error, Result};
use crate::journal::{ChangeRows, Op, RowChange, TableEntry};
use crate::model::{Engine, Value};

/// Rows per statement of a script: big enough to amortise round trips,
/// small enough that a statement's literals stay modest.
const BATCH: usize = 500;

/// The undo of a change as a script for plain `psql -v ON_ERROR_STOP=1` or
/// `sqlite3 -bail`: one transaction, rows in restore order (inserted rows
/// deleted, children first; deleted rows inserted, parents first; updated
/// rows given their before-images), values as literals cast to their
/// types, identifiers quoted. Streams: constant memory whatever the
/// change's size.
pub(crate) fn export_sql(
    conn: &mut Connection,
    loaded: &Loaded,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    let id = loaded.change.id;
    match loaded.change.meta.kind {
        crate::model::ChangeKind::Admin => {
            return Err(Error::input(format!(
                "change {id} signalled a session, which no script can bring back; nothing was written"
            )));
        }
        crate::model::ChangeKind::Policy => {
            return Err(Error::input(format!(
                "change {id} pinned a policy, which holds no rows to put back; nothing was written\nTo go back to an earlier policy, push it: dbguard policy push DIR"
            )));
        }
        _ => {}
    }
    let io = |e: std::io::Error| Error::io(format!("cannot write the script: {e}")).caused_by(e);
    let engine = loaded.change.meta.engine;
    let dialect = Dialect(engine);
    header(loaded, out).map_err(io)?;
    write!(out, "{}", dialect.script_begin()).map_err(io)?;
    let mut tables: Vec<&TableEntry> = loaded.tables.iter().collect();
    tables.sort_by_key(|t| (t.info.position, t.info.name.clone()));
    conn.exact_read(|tx| {
        for t in tables.iter().rev() {
            write_batches(tx, loaded, t, Op::Insert, out)?;
        }
        for t in &tables {
            write_batches(tx, loaded, t, Op::Delete, out)?;
        }
        for t in &tables {
            write_batches(tx, loaded, t, Op::Update, out)?;
        }
        Ok(())
    })?;
    writeln!(out, "COMMIT;").map_err(io)?;
    Ok(())
}

fn header(loaded: &Loaded, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let c = &loaded.change;
    writeln!(
        out,
        "-- dbguard undo of change {} ({} on {}, by {} at {})",
        c.id, c.meta.kind, c.meta.target, c.meta.operator, c.created_at
    )?;
    for line in c.meta.statement.lines() {
        writeln!(out, "-- {line}")?;
    }
    if let Some(p) = &c.partial {
        writeln!(out, "-- WARNING: partial entry: {p}")?;
    }
    match c.meta.engine {
        Engine::Postgres => writeln!(out, "-- Run with: psql -v ON_ERROR_STOP=1 -f FILE")?,
        Engine::Sqlite => {
            writeln!(
                out,
                "-- Run with: sqlite3 -bail DB < FILE (the .bail line below stops it at the first error too)"
            )?;
            writeln!(out, ".bail on")?;
        }
    }
    writeln!(
        out,
        "-- Rows are restored as recorded, without conflict checks: any error rolls it all back."
    )
}

/// The statements restoring one table's rows of `op`, in batches.
fn write_batches(
    tx: &mut dyn PreviewTx,
    loaded: &Loaded,
    t: &TableEntry,
    op: Op,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    let io = |e: std::io::Error| Error::io(format!("cannot write the script: {e}")).caused_by(e);
    let dialect = Dialect(loaded.change.meta.engine);
    let rows = ChangeRows {
        prefix: &loaded.prefix,
        tables: &loaded.tables,
    };
    let mut batch: Vec<RowChange> = Vec::with_capacity(BATCH);
    let mut flush = |batch: &mut Vec<RowChange>| -> Result<()> {
        if let Some(sql) = batch_sql(dialect, t, batch) {
            writeln!(out, "{sql};").map_err(io)?;
        }
        batch.clear();
        Ok(())
    };
    rows.for_each_of(tx, t, op, &mut |row| {
        batch.push(row);
        if batch.len() >= BATCH {
            flush(&mut batch)?;
        }
        Ok(())
    })?;
    flush(&mut batch)
}

/// A multi-row statement restoring a batch of one table and operation:
/// inserted rows deleted by key, deleted rows inserted again, updated rows
/// given their before-images by key. `None` for an empty batch.
fn batch_sql(dialect: Dialect, t: &TableEntry, rows: &[RowChange]) -> Option<String> {
    let first = rows.first()?;
    let info = &t.info;
    match first.op {
        Op::Insert => {
            let keys: Vec<&[Value]> = rows.iter().map(|r| r.key.as_slice()).collect();
            Some(dialect.delete_keys(info, &keys))
        }
        Op::Delete => {
            let images: Vec<&[Value]> = rows.iter().filter_map(|r| r.before.as_deref()).collect();
            Some(dialect.insert_rows(info, &images))
        }
        Op::Update => {
            let rows: Vec<(&[Value], &[Value])> = rows
                .iter()
                .filter_map(|r| r.before.as_deref().map(|b| (r.key.as_slice(), b)))
                .collect();
            dialect.update_rows(info, &rows)
        }
    }
}

/// The change and its rows as JSON (values in their exact JSON forms).
pub(crate) fn export_json(conn: &mut Connection, loaded: &Loaded) -> Result<serde_json::Value> {
    let reader = ChangeRows {
        prefix: &loaded.prefix,
        tables: &loaded.tables,
    };
    let mut rows = Vec::new();
    let approvals =
        conn.exact_read(|tx| crate::journal::read::approvals_of(tx, loaded.change.id))?;
    conn.exact_read(|tx| {
        reader.for_each(tx, &mut |r| {
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
        })
    })?;
    Ok(serde_json::json!({
        "change": loaded.change,
        "tables": loaded.tables,
        "approvals": approvals,
        "rows": rows,
    }))
}
