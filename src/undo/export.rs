//! An undo written out for whoever has no dbguard at hand: as one
//! transaction of plain SQL for psql or sqlite3, or the change and its rows
//! as JSON.

use std::collections::BTreeMap;

use super::Loaded;
use super::plan::{BATCH, PHASES, batch_sql, for_each_batch};
use crate::db::dialect::Dialect;
use crate::error::{Error, Result};
use crate::journal::{Journal, RowChange};
use crate::model::Value;
use crate::schema::TableInfo;

/// The undo of a change as a script for plain `psql -v ON_ERROR_STOP=1` or
/// `sqlite3`: one transaction, rows in restore order (multi-row statements
/// like the guarded undo), values as literals cast to their types,
/// identifiers quoted. Streams: constant memory whatever the change's size.
pub(crate) fn export_sql(loaded: &Loaded, out: &mut dyn std::io::Write) -> Result<()> {
    let io = |e: std::io::Error| Error::io(format!("cannot write the script: {e}")).caused_by(e);
    let dialect = Dialect(loaded.change.meta.engine);
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
    write!(out, "{}", dialect.script_begin()).map_err(io)?;
    let source = Journal::open(Some(&loaded.source))?;
    for_each_batch(&source, c.id, &info_of, &PHASES, BATCH, |info, rows| {
        let refs: Vec<&RowChange> = rows.iter().collect();
        if let Some(sql) = batch_sql(dialect, info, &refs) {
            writeln!(out, "{sql};").map_err(io)?;
        }
        Ok(())
    })?;
    writeln!(out, "COMMIT;").map_err(io)?;
    Ok(())
}

/// The change and its rows as JSON (values in the journal's encoding).
pub(crate) fn export_json(loaded: &Loaded) -> Result<serde_json::Value> {
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
