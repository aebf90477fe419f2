//! What an undo will do, row by row, and where it cannot: the restore
//! phases, the batches rows go in, and the conflicts a row of the journal
//! has with the database as it is now.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{Conflict, UndoPlan};
use crate::db::PreviewTx;
use crate::db::dialect::Dialect;
use crate::error::{Error, ErrorKind, Result};
use crate::journal::{Change, Journal, Op, RowChange};
use crate::model::Value;
use crate::schema::TableInfo;

/// Rows restored per statement: big enough to amortise round trips, small
/// enough that a batch's literals stay a modest statement.
pub(super) const BATCH: usize = 500;

/// Rows per conflict-check query when planning an undo. A batch's rows
/// and its query are held at once: at 5,000, SQLite's parse of the key
/// list and the decoded rows were 6 MiB, a third of a 1M-row undo's peak
/// memory.
const PLAN_BATCH: usize = 2000;

/// The three restore phases: re-inserts parents first, reverted updates,
/// deletes of inserted rows children first.
pub(super) const PHASES: [(Op, bool); 3] =
    [(Op::Delete, false), (Op::Update, false), (Op::Insert, true)];

/// Streams the rows of a change in restore order, in batches of one table.
pub(super) fn for_each_batch(
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
            if let Some(first) = buf.first()
                && let Some(info) = info_of.get(&first.table)
            {
                f(info, buf)?;
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
pub(super) fn plan(
    tx: &mut dyn PreviewTx,
    dialect: Dialect,
    change: &Change,
    source: &Journal,
    info_of: &BTreeMap<String, TableInfo>,
    phases: &[(Op, bool)],
) -> Result<(UndoPlan, BTreeSet<i64>)> {
    let mut plan = UndoPlan {
        change_id: change.id,
        statement: change.meta.statement.clone(),
        tables: BTreeMap::new(),
        conflicts: Vec::new(),
        partial: change.partial.clone(),
    };
    let mut skip = BTreeSet::new();
    // Checking is read-only: bigger batches, fewer round trips.
    for_each_batch(
        source,
        change.id,
        info_of,
        phases,
        PLAN_BATCH,
        |info, rows| {
            let refs: Vec<&RowChange> = rows.iter().collect();
            let now = current_rows(tx, dialect, info, &refs)?;
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
                        key: row.key.iter().map(Value::text).collect(),
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

/// The current rows with the keys of `rows`, by key.
pub(super) fn current_rows(
    tx: &mut dyn PreviewTx,
    dialect: Dialect,
    info: &TableInfo,
    rows: &[&RowChange],
) -> Result<HashMap<String, Vec<Value>>> {
    let mut out = HashMap::new();
    if rows.is_empty() {
        return Ok(out);
    }
    let keys: Vec<&[Value]> = rows.iter().map(|r| r.key.as_slice()).collect();
    let sql = dialect.select_by_keys(info, &keys);
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

pub(super) fn key_string(key: &[Value]) -> String {
    serde_json::Value::Array(key.iter().map(Value::to_json).collect()).to_string()
}

/// Compares two rows, ignoring generated columns; returns the names of the
/// columns that differ.
pub(super) fn differing(info: &TableInfo, a: &[Value], b: &[Value]) -> Vec<String> {
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

pub(super) fn conflict_error(plan: &UndoPlan) -> Error {
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

pub(super) fn key_text(key: &[Value]) -> String {
    let parts: Vec<String> = key
        .iter()
        .map(|v| v.text().unwrap_or_else(|| "NULL".into()))
        .collect();
    format!("({})", parts.join(", "))
}

pub(super) fn key_text_opt(key: &[Option<String>]) -> String {
    let parts: Vec<&str> = key.iter().map(|v| v.as_deref().unwrap_or("NULL")).collect();
    format!("({})", parts.join(", "))
}

/// A multi-row statement restoring one batch of one table and operation:
/// deleted rows re-inserted, updated rows given their before-images,
/// inserted rows deleted. `None` when there is nothing a statement can do
/// (an empty batch, or no column that can be set).
pub(super) fn batch_sql(dialect: Dialect, info: &TableInfo, rows: &[&RowChange]) -> Option<String> {
    let first = rows.first()?;
    match first.op {
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
        Op::Insert => {
            let keys: Vec<&[Value]> = rows.iter().map(|r| r.key.as_slice()).collect();
            Some(dialect.delete_keys(info, &keys))
        }
    }
}
