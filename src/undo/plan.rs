//! What an undo will do, table by table, and where it cannot: the
//! conflicts of the change's rows with the database as it is now, found by
//! set-based queries (`super::sets`) in one snapshot.

use std::collections::BTreeMap;

use super::sets::TableSets;
use super::{Conflict, Loaded, UndoCounts, UndoPlan};
use crate::db::dialect::Dialect;
use crate::db::journal::Part;
use crate::db::{PreviewTx, Value};
use crate::error::{Error, ErrorKind, Result};
use crate::schema::Locator;

/// Plans the undo of `loaded` in `tx`: what it restores per table, and
/// every conflicting row.
pub(super) fn plan(tx: &mut dyn PreviewTx, loaded: &Loaded) -> Result<UndoPlan> {
    let dialect = Dialect(tx.engine());
    let mut plan = UndoPlan {
        change_id: loaded.change.id,
        statement: loaded.change.meta.statement.clone(),
        tables: BTreeMap::new(),
        conflicts: Vec::new(),
        partial: loaded.change.partial.clone(),
    };
    for entry in &loaded.tables {
        plan.tables.insert(
            entry.info.name.clone(),
            UndoCounts {
                reinsert: entry.deleted,
                revert: entry.updated,
                delete: entry.inserted,
            },
        );
        let sets = TableSets::new(entry, dialect, &loaded.prefix);
        conflicts_of(tx, &sets, &mut plan.conflicts)?;
    }
    Ok(plan)
}

/// The conflicts of one table's rows.
fn conflicts_of(
    tx: &mut dyn PreviewTx,
    sets: &TableSets<'_>,
    out: &mut Vec<Conflict>,
) -> Result<()> {
    let table = sets.entry.info.name.clone();
    let nkey = sets.key_of("s").len();
    if let Some(sql) = sets.taken() {
        tx.stream(&sql, &mut |row| {
            out.push(Conflict {
                table: table.clone(),
                key: row.iter().map(Value::text).collect(),
                reason: "a row with this key exists again".into(),
            });
            Ok(())
        })?;
    }
    let names = sets.compared_names();
    for (part, count) in [
        (Part::After, sets.entry.updated),
        (Part::Inserted, sets.entry.inserted),
    ] {
        if count == 0 {
            continue;
        }
        let Some(sql) = sets.changed(part) else {
            if part == Part::After && sets.entry.locator == Locator::None {
                let missing = missing_copies(tx, sets)?;
                if missing > 0 {
                    out.push(Conflict {
                        table: table.clone(),
                        key: Vec::new(),
                        reason: format!(
                            "{missing} of {count} updated row(s) are no longer as the change left them (the table has no key: rows are matched by their values)"
                        ),
                    });
                }
            }
            continue;
        };
        tx.stream(&sql, &mut |row| {
            out.push(changed(&table, &names, nkey, &row));
            Ok(())
        })?;
    }
    Ok(())
}

/// For a table no locator finds rows in: how many of the change's
/// after-images have no copy left in the table.
pub(super) fn missing_copies(tx: &mut dyn PreviewTx, sets: &TableSets<'_>) -> Result<u64> {
    scalar_count(tx, &sets.missing_after_copies())
}

/// The one number `sql` answers (0 for none).
pub(super) fn scalar_count(tx: &mut dyn PreviewTx, sql: &str) -> Result<u64> {
    let mut n = 0u64;
    tx.stream(sql, &mut |row| {
        n = row
            .first()
            .and_then(Value::text)
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        Ok(())
    })?;
    Ok(n)
}

/// A row of [`TableSets::changed`] as a conflict: its key, then whether
/// the row is there, then a flag per compared column.
fn changed(table: &str, names: &[String], nkey: usize, row: &[Value]) -> Conflict {
    let key: Vec<Option<String>> = row.iter().take(nkey).map(Value::text).collect();
    let flag = |v: Option<&Value>| v.and_then(Value::text).is_some_and(|t| t == "1");
    let reason = if !flag(row.get(nkey)) {
        "the row is gone".to_owned()
    } else {
        let cols: Vec<&str> = names
            .iter()
            .enumerate()
            .filter(|(i, _)| flag(row.get(nkey + 1 + i)))
            .map(|(_, n)| n.as_str())
            .collect();
        format!("changed since: {}", cols.join(", "))
    };
    Conflict {
        table: table.to_owned(),
        key,
        reason,
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

pub(super) fn key_text_opt(key: &[Option<String>]) -> String {
    let parts: Vec<&str> = key.iter().map(|v| v.as_deref().unwrap_or("NULL")).collect();
    format!("({})", parts.join(", "))
}
