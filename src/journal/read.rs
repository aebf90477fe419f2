//! Reading the journal: changes, their tables, the approvals they used, and
//! their rows, streamed from the snapshots in constant memory.

use super::schema::{int, rows};
use super::{ApprovalUse, Change, ChangeMeta, Op, TableEntry};
use crate::db::dialect::Dialect;
use crate::db::journal::{JournalNames, Part, data_column};
use crate::db::{PreviewTx, Value};
use crate::error::{Error, Result};
use crate::model::{ChangeKind, Engine};
use crate::schema::TableInfo;

/// One changed row, as `undo show` and `undo export` read it.
#[derive(Debug, Clone, PartialEq)]
pub struct RowChange {
    pub table: String,
    pub op: Op,
    /// The row's key values after the change (before it, for deletes).
    pub key: Vec<Value>,
    pub before: Option<Vec<Value>>,
    pub after: Option<Vec<Value>>,
}

const CHANGE_COLUMNS: &str = "c.id, c.created_at, c.operator, c.target, c.database, c.system_identifier, \
     c.statement, c.kind, c.digest, c.impact, c.undo_of, c.replay_of, c.partial, c.row_count, c.bytes, \
     c.pruned_at, (SELECT u.id FROM {changes} AS u WHERE u.undo_of = c.id)";

fn text(v: Option<&Value>) -> String {
    v.and_then(Value::text).unwrap_or_default()
}

fn opt_text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::text)
}

fn opt_int(v: Option<&Value>) -> Result<Option<i64>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        v => int(v).map(Some),
    }
}

/// A change as a query of [`CHANGE_COLUMNS`] returned it.
fn change_of(engine: Engine, r: &[Value]) -> Result<Change> {
    let kind_text = text(r.get(7));
    let kind: ChangeKind = kind_text
        .parse()
        .map_err(|_| Error::database(format!("the journal holds an unknown kind {kind_text:?}")))?;
    Ok(Change {
        id: int(r.first())?,
        created_at: text(r.get(1)),
        partial: opt_text(r.get(12)),
        row_count: int(r.get(13))?,
        bytes: int(r.get(14))?,
        pruned_at: opt_text(r.get(15)),
        undone_by: opt_int(r.get(16))?,
        meta: ChangeMeta {
            operator: text(r.get(2)),
            engine,
            target: text(r.get(3)),
            database: text(r.get(4)),
            system_identifier: opt_text(r.get(5)),
            statement: text(r.get(6)),
            kind,
            digest: text(r.get(8)),
            impact: text(r.get(9)),
            undo_of: opt_int(r.get(10))?,
            replay_of: opt_text(r.get(11)),
        },
    })
}

fn select_changes(names: &JournalNames, filter: &str) -> String {
    let changes = names.table("changes");
    format!(
        "SELECT {} FROM {changes} AS c {filter}",
        CHANGE_COLUMNS.replace("{changes}", &changes)
    )
}

/// The changes in the journal, newest first; `limit` of them when given.
pub fn list(tx: &mut dyn PreviewTx, limit: Option<u64>) -> Result<Vec<Change>> {
    let names = JournalNames::new(tx.engine());
    let limit = limit.map_or_else(String::new, |n| format!(" LIMIT {n}"));
    let sql = select_changes(&names, &format!("ORDER BY c.id DESC{limit}"));
    let engine = tx.engine();
    rows(tx, &sql)?
        .iter()
        .map(|r| change_of(engine, r))
        .collect()
}

/// One change; an error naming the id when the journal has no such change.
pub fn get(tx: &mut dyn PreviewTx, id: i64) -> Result<Change> {
    let names = JournalNames::new(tx.engine());
    let engine = tx.engine();
    let found = rows(tx, &select_changes(&names, &format!("WHERE c.id = {id}")))?;
    match found.first() {
        Some(r) => change_of(engine, r),
        None => Err(Error::input(format!(
            "no change {id} in this database's journal\nList changes with dbguard undo list."
        ))),
    }
}

/// The tables change `id` touched, in restore order (parents first).
pub fn tables(tx: &mut dyn PreviewTx, id: i64) -> Result<Vec<TableEntry>> {
    let names = JournalNames::new(tx.engine());
    let found = rows(
        tx,
        &format!(
            "SELECT name, schema_name, table_name, position, columns, key_columns, locator, deleted, updated, inserted, slot \
             FROM {} WHERE change_id = {id} ORDER BY position, slot",
            names.table("change_tables")
        ),
    )?;
    found.iter().map(|r| table_of(r)).collect()
}

fn table_of(r: &[Value]) -> Result<TableEntry> {
    let count = |i: usize| -> Result<u64> { Ok(int(r.get(i))?.max(0) as u64) };
    Ok(TableEntry {
        info: TableInfo {
            name: text(r.first()),
            schema: opt_text(r.get(1)),
            table: text(r.get(2)),
            position: int(r.get(3))?,
            columns: json_of(r.get(4))?,
            key_columns: json_of(r.get(5))?,
            inherited: false,
        },
        locator: json_of(r.get(6))?,
        deleted: count(7)?,
        updated: count(8)?,
        inserted: count(9)?,
        slot: int(r.get(10))?,
    })
}

/// A part of a table entry stored as JSON text.
fn json_of<T: serde::de::DeserializeOwned>(v: Option<&Value>) -> Result<T> {
    serde_json::from_str(&text(v))
        .map_err(|e| Error::database(format!("the journal's table entry is damaged: {e}")))
}

/// The approvals change `id` consumed, in the order they were recorded.
pub fn approvals_of(tx: &mut dyn PreviewTx, id: i64) -> Result<Vec<ApprovalUse>> {
    let names = JournalNames::new(tx.engine());
    let found = rows(
        tx,
        &format!(
            "SELECT principal, fingerprint, nonce, signed_at, used_at FROM {} WHERE change_id = {id} ORDER BY used_at, nonce",
            names.table("approvals")
        ),
    )?;
    found
        .iter()
        .map(|r| {
            Ok(ApprovalUse {
                principal: text(r.first()),
                fingerprint: text(r.get(1)),
                nonce: text(r.get(2)),
                signed_at: opt_int(r.get(3))?.unwrap_or(0),
                used_at: opt_text(r.get(4)),
            })
        })
        .collect()
}

/// Whether an approval with this nonce was already used.
pub fn nonce_used(tx: &mut dyn PreviewTx, nonce: &str) -> Result<bool> {
    let names = JournalNames::new(tx.engine());
    let lit = Dialect(tx.engine()).literal(&Value::Text(nonce.to_owned()), "");
    let found = rows(
        tx,
        &format!(
            "SELECT count(*) FROM {} WHERE nonce = {lit}",
            names.table("approvals")
        ),
    )?;
    Ok(int(found.first().and_then(|r| r.first()))? > 0)
}

/// The rows of a change, table by table, read from its snapshots.
pub struct ChangeRows<'a> {
    /// The prefix of its snapshots (`c{id}`, or rows staged for a replay).
    pub prefix: &'a str,
    pub tables: &'a [TableEntry],
}

impl ChangeRows<'_> {
    /// Streams every row of the change to `f`: table by table in restore
    /// order, each table's deleted, then updated, then inserted rows.
    pub fn for_each(
        &self,
        tx: &mut dyn PreviewTx,
        f: &mut dyn FnMut(RowChange) -> Result<()>,
    ) -> Result<()> {
        for t in self.tables {
            for op in [Op::Delete, Op::Update, Op::Insert] {
                self.for_each_of(tx, t, op, f)?;
            }
        }
        Ok(())
    }

    /// Streams the rows of one table and operation to `f`.
    pub fn for_each_of(
        &self,
        tx: &mut dyn PreviewTx,
        t: &TableEntry,
        op: Op,
        f: &mut dyn FnMut(RowChange) -> Result<()>,
    ) -> Result<()> {
        let names = JournalNames::new(tx.engine());
        let n = t.info.columns.len();
        let cols = |alias: &str| -> String {
            (0..n)
                .map(|i| format!("{alias}.{}", data_column(i)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let snap = |part| names.staged(self.prefix, t.slot, part);
        let name = &t.info.name;
        match op {
            Op::Delete if t.deleted > 0 => {
                let sql = format!("SELECT {} FROM {} AS d", cols("d"), snap(Part::Deleted));
                tx.stream(&sql, &mut |row| {
                    f(RowChange {
                        table: name.clone(),
                        op,
                        key: t.info.key_of(&row),
                        before: Some(row),
                        after: None,
                    })
                })?;
            }
            Op::Update if t.updated > 0 => {
                // The first column says whether the row has an after-image.
                let sql = format!(
                    "SELECT CASE WHEN a.row IS NULL THEN 0 ELSE 1 END, {}, {} FROM {} AS b LEFT JOIN {} AS a ON a.row = b.row ORDER BY b.row",
                    cols("b"),
                    cols("a"),
                    snap(Part::Before),
                    snap(Part::After)
                );
                tx.stream(&sql, &mut |mut row| {
                    let paired = int(row.first())? == 1;
                    if !row.is_empty() {
                        row.remove(0);
                    }
                    let after = row.split_off(n.min(row.len()));
                    let after = paired.then_some(after);
                    f(RowChange {
                        table: name.clone(),
                        op,
                        key: t.info.key_of(after.as_deref().unwrap_or(&row)),
                        before: Some(row),
                        after,
                    })
                })?;
            }
            Op::Insert if t.inserted > 0 => {
                let sql = format!("SELECT {} FROM {} AS i", cols("i"), snap(Part::Inserted));
                tx.stream(&sql, &mut |row| {
                    f(RowChange {
                        table: name.clone(),
                        op,
                        key: t.info.key_of(&row),
                        before: None,
                        after: Some(row),
                    })
                })?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// The error for reading the rows of a pruned change.
pub(crate) fn pruned(change: &Change) -> Error {
    Error::input(format!(
        "change {}'s rows were pruned from the journal at {}; it can no longer be shown or undone",
        change.id,
        change.pruned_at.as_deref().unwrap_or("?")
    ))
}
