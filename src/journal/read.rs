//! Reading the journal: changes, their tables, and their rows in the order
//! a restore needs them, streamed in constant memory.
//!
//! Rows recorded one by one (`change_rows`) and rows recorded in bulk
//! chunks (`change_chunks`) are merged into one stream by their sequence
//! number. Every query here is served by an index in its order, with no
//! sort (a test checks the plans): bundled SQLite keeps temporary b-trees
//! in memory, so a sort would hold a whole change in RAM.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};

use super::codec::row_from_json;
use super::{Change, ChangeMeta, Journal, Op, RowChange, Status};
use crate::db::BulkFormat;
use crate::db::bulk::StoredChunk;
use crate::error::{Error, Result};
use crate::schema::TableInfo;

/// The formats of change `?1`'s chunks of table `?2` and operation `?3`,
/// through `change_chunks_format`.
pub(super) const CHUNK_FORMATS: &str =
    "SELECT DISTINCT format FROM change_chunks WHERE change_id = ?1 AND tbl = ?2 AND op = ?3";

/// The committed change that undid change `?1`, through `changes_undo_of`.
pub(super) const UNDONE_BY: &str =
    "SELECT id FROM changes WHERE undo_of = ?1 AND status = 'committed' ORDER BY id LIMIT 1";

/// The changes a crash left `prepared`, newest first, through
/// `changes_prepared`.
pub(super) const PREPARED: &str =
    "SELECT * FROM changes WHERE status = 'prepared' ORDER BY id DESC";

/// A `change_rows` row (columns seq, tbl, op, key, before, after).
fn row_change(r: &rusqlite::Row<'_>) -> Result<RowChange> {
    let key: String = r.get(3)?;
    let before: Option<String> = r.get(4)?;
    let after: Option<String> = r.get(5)?;
    Ok(RowChange {
        seq: r.get(0)?,
        table: r.get(1)?,
        op: Op::parse(&r.get::<_, String>(2)?)?,
        key: row_from_json(&key)?,
        before: before.as_deref().map(row_from_json).transpose()?,
        after: after.as_deref().map(row_from_json).transpose()?,
    })
}

/// A chunk's lines: its own, or those of the chunk it stands for (schema
/// 6); NULL if that one is missing or is itself a reference, whose empty
/// text would read as no rows at all. References are only ever written to
/// chunks that hold their lines (`Chunk::origin`).
macro_rules! chunk_data {
    () => {
        "CASE WHEN c.ref_change IS NULL THEN c.data ELSE (SELECT r.data FROM change_chunks AS r \
         WHERE r.change_id = c.ref_change AND r.first_seq = c.ref_seq AND r.ref_change IS NULL) END"
    };
}

/// The streaming reads of [`Journal::merged_rows`]; each must be served by
/// the primary key in its order, with no sort (a test checks the plans).
pub(super) const ROWS_IN_SEQ: &str = "SELECT seq, tbl, op, key, before, after FROM change_rows
     WHERE change_id = ?1 ORDER BY seq";
pub(super) const CHUNKS_IN_SEQ: &str = concat!(
    "SELECT c.first_seq, c.tbl, c.op, ",
    chunk_data!(),
    ", c.format FROM change_chunks AS c WHERE c.change_id = ?1 ORDER BY c.first_seq"
);
pub(super) const TABLE_ROWS_IN_SEQ: &str =
    "SELECT seq, tbl, op, key, before, after FROM change_rows
     WHERE change_id = ?1 AND tbl = ?2 AND op = ?3 ORDER BY seq";
pub(super) const TABLE_CHUNKS_IN_SEQ: &str = concat!(
    "SELECT c.first_seq, c.tbl, c.op, ",
    chunk_data!(),
    ", c.format, c.rows, coalesce(c.ref_change, c.change_id), coalesce(c.ref_seq, c.first_seq)
     FROM change_chunks AS c WHERE c.change_id = ?1 AND c.tbl = ?2 AND c.op = ?3 ORDER BY c.first_seq"
);

/// A chunk as [`merge_by_seq`] reads it: first seq, table, operation,
/// rows (text lines or packed), format.
type SeqChunk = (i64, String, String, Vec<u8>, String);

/// The next row of [`CHUNKS_IN_SEQ`] or [`TABLE_CHUNKS_IN_SEQ`].
fn read_chunk(chunks: &mut rusqlite::Rows<'_>) -> Result<Option<SeqChunk>> {
    let Some(r) = chunks.next()? else {
        return Ok(None);
    };
    let first: i64 = r.get(0)?;
    Ok(Some((
        first,
        r.get(1)?,
        r.get(2)?,
        chunk_bytes(r, 3, first)?.to_owned(),
        r.get(4)?,
    )))
}

/// The rows of a chunk row (text lines, or packed rows in a blob), or an
/// error that says which chunk has none: one standing for a chunk that is
/// no longer in the journal.
fn chunk_bytes<'r>(r: &'r rusqlite::Row<'_>, idx: usize, first_seq: i64) -> Result<&'r [u8]> {
    match r.get_ref(idx)? {
        rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => Ok(t),
        _ => Err(Error::database(format!(
            "journal chunk at seq {first_seq} stands for another change's rows, which are no longer in the journal\nThe change cannot be read; restore the journal file from a backup."
        ))),
    }
}

/// Merges single rows and chunk lines, each stream already in seq order,
/// into one stream in seq order. Rows of tables the change does not
/// describe are left out, as a restore could not place them.
fn merge_by_seq(
    mut rows: rusqlite::Rows<'_>,
    mut chunks: rusqlite::Rows<'_>,
    tables: &HashMap<&str, &TableInfo>,
    f: &mut dyn FnMut(RowChange) -> Result<()>,
) -> Result<()> {
    let mut next_row = rows.next()?.map(row_change).transpose()?;
    let mut next_chunk = read_chunk(&mut chunks)?;
    loop {
        let take_chunk = match (&next_row, &next_chunk) {
            (None, None) => break,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (Some(r), Some(c)) => c.0 < r.seq,
        };
        if take_chunk {
            let Some((first, tbl, op_s, data, format)) = next_chunk.take() else {
                break;
            };
            if let Some(info) = tables.get(tbl.as_str()) {
                let op = Op::parse(&op_s)?;
                let format = BulkFormat::parse(&format)?;
                let mut seq = first;
                let at = || format!("journal chunk of {tbl} at seq {first}");
                crate::db::bulk::for_each_row(format, &data, &at, |values| {
                    let key = info.key_of(&values);
                    let (before, after) = match op {
                        Op::Insert => (None, Some(values)),
                        _ => (Some(values), None),
                    };
                    f(RowChange {
                        seq,
                        table: tbl.clone(),
                        op,
                        key,
                        before,
                        after,
                    })?;
                    seq += 1;
                    Ok(())
                })?;
            }
            next_chunk = read_chunk(&mut chunks)?;
        } else {
            let Some(row) = next_row.take() else {
                break;
            };
            if tables.contains_key(row.table.as_str()) {
                f(row)?;
            }
            next_row = rows.next()?.map(row_change).transpose()?;
        }
    }
    Ok(())
}

impl Journal {
    fn change_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Change, String)> {
        let status: String = r.get("status")?;
        Ok((
            Change {
                id: r.get("id")?,
                created_at: r.get("created_at")?,
                status: Status::Prepared,
                txid: r.get("txid")?,
                partial: r.get("partial")?,
                committed_at: r.get("committed_at")?,
                row_count: r.get("row_count")?,
                meta: ChangeMeta {
                    operator: r.get("operator")?,
                    engine: r.get("engine")?,
                    target: r.get("target")?,
                    target_database: r.get("target_database")?,
                    system_identifier: r.get("system_identifier")?,
                    statement: r.get("statement")?,
                    kind: r.get("kind")?,
                    digest: r.get("digest")?,
                    impact: r.get("impact")?,
                    undo_of: r.get("undo_of")?,
                },
            },
            status,
        ))
    }

    /// Every change, newest first.
    pub fn list(&self) -> Result<Vec<Change>> {
        self.changes_where("SELECT * FROM changes ORDER BY id DESC")
    }

    /// The `limit` newest changes, newest first (all of them without a
    /// limit), read off the primary key.
    pub(crate) fn list_newest(&self, limit: Option<u64>) -> Result<Vec<Change>> {
        match limit {
            None => self.list(),
            Some(n) => self.changes_where(&format!(
                "SELECT * FROM changes ORDER BY id DESC LIMIT {}",
                n.min(i64::MAX as u64)
            )),
        }
    }

    fn changes_where(&self, sql: &str) -> Result<Vec<Change>> {
        let mut stmt = self.conn.prepare(sql)?;
        let rows = stmt.query_map([], Journal::change_from_row)?;
        let mut out = Vec::new();
        for r in rows {
            let (mut c, status) = r?;
            c.status = Status::parse(&status)?;
            out.push(c);
        }
        Ok(out)
    }

    /// One change.
    pub fn get(&self, id: i64) -> Result<Change> {
        let found = self
            .conn
            .query_row(
                "SELECT * FROM changes WHERE id = ?1",
                [id],
                Journal::change_from_row,
            )
            .optional()?;
        let (mut c, status) = found.ok_or_else(|| {
            Error::input(format!(
                "no change {id} in the journal {}\nList changes with dbguard undo list.",
                self.path.display()
            ))
        })?;
        c.status = Status::parse(&status)?;
        Ok(c)
    }

    /// Changes still `prepared`, for reconciliation (every command asks).
    pub fn prepared(&self) -> Result<Vec<Change>> {
        self.changes_where(PREPARED)
    }

    /// The tables of a change, in restore order.
    pub fn tables(&self, id: i64) -> Result<Vec<TableInfo>> {
        let mut stmt = self.conn.prepare(
            "SELECT tbl, schema_name, table_name, position, columns, key_columns
             FROM change_tables WHERE change_id = ?1 ORDER BY position, tbl",
        )?;
        let rows = stmt.query_map([id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for r in rows {
            let (name, schema, table, position, columns, keys) = r?;
            out.push(TableInfo {
                name,
                schema,
                table,
                position,
                columns: serde_json::from_str(&columns)
                    .map_err(|e| Error::database(format!("journal column list unreadable: {e}")))?,
                key_columns: serde_json::from_str(&keys)
                    .map_err(|e| Error::database(format!("journal key list unreadable: {e}")))?,
            });
        }
        Ok(out)
    }

    /// Streams the rows of a change in capture order (constant memory).
    pub fn for_each_row(&self, id: i64, f: impl FnMut(RowChange) -> Result<()>) -> Result<()> {
        self.merged_rows(id, None, false, f)
    }

    /// Rows and chunk-decoded rows of a change, merged in one order: by
    /// seq, or (with `op`) by table position then seq.
    ///
    /// Every query here walks the primary key (change_id, seq) in order:
    /// bundled SQLite keeps temporary b-trees in memory, so an `ORDER BY`
    /// that needs a sorter would hold the whole change (the chunks' text
    /// included) in RAM. Tables are ordered here instead, one query pair
    /// per table, each filtering the change's rows by table and operation.
    /// Extra indexes for that filter cost more than they save: with them, a
    /// 1M-row apply on Postgres took 12 s instead of 5 s.
    fn merged_rows(
        &self,
        id: i64,
        op: Option<Op>,
        children_first: bool,
        mut f: impl FnMut(RowChange) -> Result<()>,
    ) -> Result<()> {
        let mut tables = self.tables(id)?;
        if op.is_some() && children_first {
            tables.sort_by(|a, b| b.position.cmp(&a.position).then(a.name.cmp(&b.name)));
        }
        let infos: HashMap<&str, &TableInfo> =
            tables.iter().map(|t| (t.name.as_str(), t)).collect();
        let Some(op) = op else {
            let mut rows_stmt = self.conn.prepare(ROWS_IN_SEQ)?;
            let mut chunk_stmt = self.conn.prepare(CHUNKS_IN_SEQ)?;
            let rows = rows_stmt.query(params![id])?;
            let chunks = chunk_stmt.query(params![id])?;
            return merge_by_seq(rows, chunks, &infos, &mut f);
        };
        let mut rows_stmt = self.conn.prepare(TABLE_ROWS_IN_SEQ)?;
        let mut chunk_stmt = self.conn.prepare(TABLE_CHUNKS_IN_SEQ)?;
        for t in &tables {
            let rows = rows_stmt.query(params![id, t.name, op.name()])?;
            let chunks = chunk_stmt.query(params![id, t.name, op.name()])?;
            merge_by_seq(rows, chunks, &infos, &mut f)?;
        }
        Ok(())
    }

    /// Streams the rows of one operation of a change, grouped by table in
    /// restore order (parents first, or children first), then capture
    /// order: what a restore needs, in constant memory.
    pub(crate) fn for_each_row_of(
        &self,
        id: i64,
        op: Op,
        children_first: bool,
        f: impl FnMut(RowChange) -> Result<()>,
    ) -> Result<()> {
        self.merged_rows(id, Some(op), children_first, f)
    }

    /// The rows of one table and operation that a change recorded one by
    /// one (not in chunks), in capture order.
    pub(crate) fn for_each_single_row_of(
        &self,
        id: i64,
        table: &str,
        op: Op,
        mut f: impl FnMut(RowChange) -> Result<()>,
    ) -> Result<()> {
        let mut rows_stmt = self.conn.prepare(TABLE_ROWS_IN_SEQ)?;
        let mut rows = rows_stmt.query(params![id, table, op.name()])?;
        while let Some(r) = rows.next()? {
            f(row_change(r)?)?;
        }
        Ok(())
    }

    /// The chunks of one table and operation of a change, as stored: their
    /// format, row count and text (complete lines).
    pub(crate) fn for_each_chunk_of(
        &self,
        id: i64,
        table: &str,
        op: Op,
        mut f: impl FnMut(&StoredChunk<'_>) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self.conn.prepare(TABLE_CHUNKS_IN_SEQ)?;
        let mut chunks = stmt.query(params![id, table, op.name()])?;
        while let Some(r) = chunks.next()? {
            let first: i64 = r.get(0)?;
            let rows: i64 = r.get(5)?;
            f(&StoredChunk {
                format: BulkFormat::parse(&r.get::<_, String>(4)?)?,
                rows: rows.max(0) as u64,
                data: chunk_bytes(r, 3, first)?,
                origin: (r.get(6)?, r.get(7)?),
            })?;
        }
        Ok(())
    }

    /// The formats of the chunks a change holds for `table` and `op`,
    /// without reading their rows (a reference has its origin's format):
    /// from the index `change_chunks_format` alone.
    pub(crate) fn chunk_formats(&self, id: i64, table: &str, op: Op) -> Result<Vec<BulkFormat>> {
        let mut stmt = self.conn.prepare(CHUNK_FORMATS)?;
        let formats = stmt.query_map(params![id, table, op.name()], |r| r.get::<_, String>(0))?;
        formats
            .map(|f| BulkFormat::parse(&f?))
            .collect::<Result<Vec<_>>>()
    }

    /// How many rows of `op` a change recorded one by one (not in chunks).
    pub(crate) fn single_rows(&self, id: i64, op: Op) -> Result<i64> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM change_rows WHERE change_id = ?1 AND op = ?2",
            params![id, op.name()],
            |r| r.get(0),
        )?)
    }

    /// The change that undid `id`, if any (committed).
    pub fn undone_by(&self, id: i64) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row(UNDONE_BY, [id], |r| r.get(0))
            .optional()?)
    }
}
