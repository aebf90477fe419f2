//! The seal of a change's undo data: what `audit verify` holds a journal
//! entry's snapshots and table descriptions against. It is written into
//! the change's audit record, in the change's transaction, and so into the
//! hash chain and the witness outside the database: before-images edited
//! with another client later (an undo that would then put back values the
//! change never removed) are evident.
//!
//! Postgres stamps every row version with the transaction that wrote it:
//! a change's snapshot rows and `change_tables` rows are all its own
//! transaction's (`xmin`), and a row edited, added or put in a replaced
//! table since carries another. The seal is that transaction id and how
//! many rows each snapshot got, so sealing reads nothing at commit and
//! costs nothing as the change grows; the snapshots' columns are held to
//! the same transaction through their `pg_attribute` rows, which every
//! column DDL rewrites. (A 32-bit `xmin` recurs only after four billion
//! transactions, and then only for that one transaction.) A logical copy
//! of the database (`pg_dump` and restore, logical replication) writes
//! every row anew and so reads as edited; a physical one keeps the stamps.
//! SQLite keeps no such stamp: its seal is one SHA-256 per snapshot and
//! one over the change's `change_tables` rows, over their columns as
//! declared and their rows in rowid order (`dbguard_digest`), read at
//! commit.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};

use super::journal::{JournalNames, change_prefix, int, journal_schema, rows};
use super::{PreviewTx, Value};
use crate::error::{Error, Result};
use crate::model::Engine;
use crate::schema::quote_ident;

/// What a change's `INSERT INTO changes ... RETURNING id, ...` also
/// returns: the transaction's id on Postgres, where it seals the change.
pub(crate) fn stamp_expr(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => "pg_catalog.txid_current()::text",
        Engine::Sqlite => "NULL",
    }
}

/// The seal of change `id`, in its transaction, once every row of its
/// entry is written: `stamp` from [`stamp_expr`], `copied` the rows each
/// snapshot got (by bare name), `tables` how many tables it describes.
pub fn seal(
    tx: &mut dyn PreviewTx,
    id: i64,
    stamp: Option<&str>,
    copied: &BTreeMap<String, u64>,
    tables: usize,
) -> Result<Json> {
    match tx.engine() {
        Engine::Postgres => Ok(json!({
            "xid": stamp,
            "rows": copied,
            "tables": tables,
        })),
        Engine::Sqlite => Ok(json!({
            "digests": sqlite_digests(tx, id)?,
            "tables": sqlite_digest(tx, &JournalNames::new(Engine::Sqlite).bare("change_tables"), &format!("change_id = {id}"))?,
        })),
    }
}

/// What no longer matches change `id`'s `seal`, described; `None` when its
/// undo data is as the change committed it.
pub fn broken(tx: &mut dyn PreviewTx, id: i64, seal: &Json) -> Result<Option<String>> {
    match tx.engine() {
        Engine::Postgres => pg_broken(tx, id, seal),
        Engine::Sqlite => sqlite_broken(tx, id, seal),
    }
}

fn pg_broken(tx: &mut dyn PreviewTx, id: i64, seal: &Json) -> Result<Option<String>> {
    let Some(xid) = seal["xid"].as_str().and_then(|x| x.parse::<u64>().ok()) else {
        return Ok(Some(format!("change {id}'s seal names no transaction")));
    };
    let xmin = xid % (1 << 32);
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    if let Some(rows) = seal["rows"].as_object() {
        for (name, n) in rows {
            expected.insert(name.clone(), n.as_u64().unwrap_or(0));
        }
    }
    let names = JournalNames::new(Engine::Postgres);
    for name in snapshots(tx, id)? {
        let want = expected.remove(&name).unwrap_or(0);
        let table = names.table(&name);
        if let Some(why) = pg_rows_broken(tx, &table, "true", xmin, want)? {
            return Ok(Some(format!("change {id}'s snapshot {name} {why}")));
        }
        if pg_columns_altered(tx, &name, xmin)? {
            return Ok(Some(format!(
                "change {id}'s snapshot {name} has columns added, dropped, renamed or altered after the change committed: its undo data was edited outside dbguard"
            )));
        }
    }
    if let Some((name, _)) = expected.into_iter().find(|(_, n)| *n > 0) {
        return Ok(Some(format!(
            "change {id}'s snapshot {name} is gone, though the change was not pruned"
        )));
    }
    let tables = seal["tables"].as_u64().unwrap_or(0);
    let described = names.table("change_tables");
    Ok(
        pg_rows_broken(tx, &described, &format!("change_id = {id}"), xmin, tables)?
            .map(|why| format!("change {id}'s table descriptions (change_tables) {why}")),
    )
}

/// Whether a column of snapshot `name` was defined by another transaction
/// than `xmin`: every column DDL (add, drop, rename, type, default)
/// rewrites the column's `pg_attribute` row, though adding a column with a
/// default rewrites no table row.
fn pg_columns_altered(tx: &mut dyn PreviewTx, name: &str, xmin: u64) -> Result<bool> {
    let dialect = super::dialect::Dialect(Engine::Postgres);
    let lit = |s: &str| dialect.literal(&Value::Text(s.to_owned()), "");
    let row = one_row(
        tx,
        &format!(
            "SELECT count(*) FROM pg_catalog.pg_attribute a \
             JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = {} AND c.relname = {} AND a.attnum > 0 \
               AND a.xmin::text <> '{xmin}'",
            lit(journal_schema()),
            lit(name)
        ),
    )?;
    Ok(count(row.first())? > 0)
}

/// Whether the rows of `table` where `cond` are `want` rows all written
/// by transaction `xmin`.
fn pg_rows_broken(
    tx: &mut dyn PreviewTx,
    table: &str,
    cond: &str,
    xmin: u64,
    want: u64,
) -> Result<Option<String>> {
    let row = one_row(
        tx,
        &format!(
            "SELECT count(*), count(*) FILTER (WHERE xmin::text <> '{xmin}') FROM {table} WHERE {cond}"
        ),
    )?;
    let (n, foreign) = (count(row.first())?, count(row.get(1))?);
    Ok(if foreign > 0 {
        Some(format!(
            "holds {foreign} row(s) written after the change committed: its undo data was edited outside dbguard"
        ))
    } else if n != want {
        Some(format!(
            "holds {n} row(s) where the change wrote {want}: its undo data was edited outside dbguard"
        ))
    } else {
        None
    })
}

fn sqlite_broken(tx: &mut dyn PreviewTx, id: i64, seal: &Json) -> Result<Option<String>> {
    let mut sealed: BTreeMap<String, String> = BTreeMap::new();
    if let Some(digests) = seal["digests"].as_object() {
        for (name, d) in digests {
            sealed.insert(name.clone(), d.as_str().unwrap_or_default().to_owned());
        }
    }
    for (name, digest) in sqlite_digests(tx, id)? {
        match sealed.remove(&name) {
            Some(d) if d == digest || d == sqlite_digest_sorted(tx, &name, "1")? => {}
            Some(_) => {
                return Ok(Some(format!(
                    "change {id}'s snapshot {name} does not hold the rows the change wrote: its undo data was edited outside dbguard"
                )));
            }
            None => {
                return Ok(Some(format!(
                    "change {id}'s snapshot {name} was not written by the change: its undo data was edited outside dbguard"
                )));
            }
        }
    }
    if let Some(name) = sealed.keys().next() {
        return Ok(Some(format!(
            "change {id}'s snapshot {name} is gone, though the change was not pruned"
        )));
    }
    let described = JournalNames::new(Engine::Sqlite).bare("change_tables");
    let cond = format!("change_id = {id}");
    let sealed = seal["tables"].as_str();
    let same = sealed == Some(sqlite_digest(tx, &described, &cond)?.as_str())
        || sealed == Some(sqlite_digest_sorted(tx, &described, &cond)?.as_str());
    Ok((!same).then(|| {
        format!(
            "change {id}'s table descriptions (change_tables) are not the ones the change wrote: its undo data was edited outside dbguard"
        )
    }))
}

/// The digest of every snapshot table of change `id`, by bare name.
fn sqlite_digests(tx: &mut dyn PreviewTx, id: i64) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for name in snapshots(tx, id)? {
        let digest = sqlite_digest(tx, &name, "1")?;
        out.insert(name, digest);
    }
    Ok(out)
}

/// One SHA-256 over every column of the rows of table `bare` where
/// `cond`, in rowid order: read through a subquery ordered by rowid,
/// which a rowid table gives without sorting (the aggregate's own `ORDER
/// BY` sorts, three times the cost at commit). SQLite does not promise
/// that an aggregate sees a subquery's order, so a digest that differs is
/// taken again with the aggregate's `ORDER BY` before it counts as an
/// edit ([`sqlite_digest_sorted`]).
fn sqlite_digest(tx: &mut dyn PreviewTx, bare: &str, cond: &str) -> Result<String> {
    sqlite_digest_as(tx, bare, cond, false)
}

/// [`sqlite_digest`], ordered by the aggregate itself.
fn sqlite_digest_sorted(tx: &mut dyn PreviewTx, bare: &str, cond: &str) -> Result<String> {
    sqlite_digest_as(tx, bare, cond, true)
}

fn sqlite_digest_as(
    tx: &mut dyn PreviewTx,
    bare: &str,
    cond: &str,
    sorted: bool,
) -> Result<String> {
    // The columns as declared go into the digest too: renaming or
    // swapping two columns changes what the undo puts where, not a value.
    let declared = rows(
        tx,
        &format!(
            "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info({}) ORDER BY cid",
            super::dialect::Dialect(Engine::Sqlite).literal(&Value::Text(bare.to_owned()), "")
        ),
    )?;
    let columns: Vec<String> = declared
        .iter()
        .map(|r| quote_ident(&r.first().and_then(Value::text).unwrap_or_default()))
        .collect();
    let shape: Vec<Vec<Option<String>>> = declared
        .iter()
        .map(|r| r.iter().map(Value::text).collect())
        .collect();
    let (digest, table) = (super::sqlite::DIGEST, quote_ident(bare));
    let cols = columns.join(", ");
    let sql = if sorted {
        format!("SELECT {digest}(rowid, {cols} ORDER BY rowid) FROM {table} WHERE {cond}")
    } else {
        format!(
            "SELECT {digest}(r, {cols}) FROM (SELECT rowid AS r, {cols} FROM {table} WHERE {cond} ORDER BY rowid)"
        )
    };
    let row = one_row(tx, &sql)?;
    let rows_digest = row.first().and_then(Value::text).unwrap_or_default();
    let both = serde_json::to_string(&(shape, rows_digest))
        .map_err(|e| Error::database(format!("cannot encode a snapshot's seal: {e}")))?;
    Ok(base16ct::lower::encode_string(&Sha256::digest(both)))
}

/// The bare names of change `id`'s snapshot tables, as the catalog lists
/// them (a table added under such a name counts too).
fn snapshots(tx: &mut dyn PreviewTx, id: i64) -> Result<Vec<String>> {
    let prefix = change_prefix(id);
    let sql = match tx.engine() {
        Engine::Postgres => format!(
            "SELECT c.relname::text FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = {} AND c.relkind IN ('r', 'p', 'v', 'm', 'f') \
               AND c.relname LIKE '{prefix}\\_%' ORDER BY 1",
            super::dialect::Dialect(Engine::Postgres)
                .literal(&Value::Text(journal_schema().to_owned()), "")
        ),
        Engine::Sqlite => format!(
            "SELECT name FROM sqlite_schema WHERE type IN ('table', 'view') \
               AND name LIKE '{}\\_%' ESCAPE '\\' ORDER BY 1",
            JournalNames::new(Engine::Sqlite)
                .bare(&prefix)
                .replace('_', "\\_")
        ),
    };
    Ok(rows(tx, &sql)?
        .iter()
        .filter_map(|r| r.first().and_then(Value::text))
        .collect())
}

fn one_row(tx: &mut dyn PreviewTx, sql: &str) -> Result<Vec<Value>> {
    rows(tx, sql)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::database(format!("no row from {sql}")))
}

/// A count a journal query returned.
fn count(v: Option<&Value>) -> Result<u64> {
    Ok(int(v)?.max(0) as u64)
}
