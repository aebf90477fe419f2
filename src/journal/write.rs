//! Writing the journal: one change is recorded in one journal transaction
//! that stays open while the target transaction captures and executes, and
//! becomes durable as `prepared` before the target commits.

use rusqlite::params;

use super::codec::{row_from_json, row_to_json};
use super::{ChangeMeta, Journal, Op, Status, now};
use crate::db::BulkFormat;
use crate::db::Value;
use crate::db::bulk::StoredChunk;
use crate::error::{Error, Result};
use crate::schema::TableInfo;

impl Journal {
    /// Starts recording a change: one journal transaction that stays open
    /// while the target transaction captures and executes.
    pub fn begin(&mut self, meta: &ChangeMeta) -> Result<Recording<'_>> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO changes (created_at, operator, engine, target, target_database, system_identifier,
                 statement, kind, digest, impact, status, undo_of)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'prepared', ?11)",
            params![
                now(),
                meta.operator,
                meta.engine,
                meta.target,
                meta.target_database,
                meta.system_identifier,
                meta.statement,
                meta.kind,
                meta.digest,
                meta.impact,
                meta.undo_of
            ],
        )?;
        let id = tx.last_insert_rowid();
        Ok(Recording {
            tx,
            id,
            seq: 0,
            position: 0,
        })
    }

    /// Marks a prepared change committed or aborted.
    pub(crate) fn set_status(&self, id: i64, status: Status) -> Result<()> {
        set_status(&self.conn, id, status)
    }

    /// Settles a change found `prepared` after its session: its status,
    /// and for an aborted one an `abort` record, in one transaction. The
    /// trail already holds the change's `apply` record (written with the
    /// entry, before the target committed); without this one it would
    /// claim a change the target never kept.
    pub(crate) fn settle(
        &self,
        id: i64,
        status: Status,
        operator: &str,
        target: &str,
    ) -> Result<()> {
        let tx = rusqlite::Transaction::new_unchecked(
            &self.conn,
            rusqlite::TransactionBehavior::Immediate,
        )?;
        set_status(&tx, id, status)?;
        if status == Status::Aborted {
            let detail = serde_json::json!({
                "reason": "the target never committed the change its apply record names"
            });
            super::audit::append(&tx, operator, Some(target), &[("abort", Some(id), detail)])?;
        }
        tx.commit()?;
        Ok(())
    }
}

fn set_status(conn: &rusqlite::Connection, id: i64, status: Status) -> Result<()> {
    let committed_at = (status == Status::Committed).then(now);
    let n = conn.execute(
        "UPDATE changes SET status = ?2, committed_at = coalesce(?3, committed_at) WHERE id = ?1",
        params![id, status.name(), committed_at],
    )?;
    if n == 0 {
        return Err(Error::input(format!("no change {id} in the journal")));
    }
    Ok(())
}

/// A change being recorded: rows go into the open journal transaction.
pub struct Recording<'j> {
    tx: rusqlite::Transaction<'j>,
    id: i64,
    seq: i64,
    position: i64,
}

impl Recording<'_> {
    pub fn id(&self) -> i64 {
        self.id
    }

    /// Whether this recording goes into the file `other` reads, so its
    /// chunks can be referred to ([`Recording::chunk_ref`]).
    pub(crate) fn is_in(&self, other: &Journal) -> bool {
        let mine = self.tx.path().map(std::fs::canonicalize);
        matches!(
            (mine, std::fs::canonicalize(&other.path)),
            (Some(Ok(a)), Ok(b)) if a == b
        )
    }

    /// Describes a table before its rows are recorded. Tables are restored
    /// in the order they are described here.
    pub fn table(&mut self, info: &TableInfo) -> Result<()> {
        let columns = serde_json::to_string(&info.columns).map_err(|e| Error::io(e.to_string()))?;
        let keys =
            serde_json::to_string(&info.key_columns).map_err(|e| Error::io(e.to_string()))?;
        self.position += 1;
        self.tx.execute(
            "INSERT INTO change_tables (change_id, tbl, schema_name, table_name, position, columns, key_columns)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (change_id, tbl) DO NOTHING",
            params![self.id, info.name, info.schema, info.table, info.position, columns, keys],
        )?;
        Ok(())
    }

    /// Records one row change. `key` identifies the row after the change
    /// (for a delete, the row that was).
    pub fn row(
        &mut self,
        table: &str,
        op: Op,
        key: &[Value],
        before: Option<&[Value]>,
        after: Option<&[Value]>,
    ) -> Result<()> {
        self.seq += 1;
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO change_rows (change_id, seq, tbl, op, key, before, after)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        stmt.execute(params![
            self.id,
            self.seq,
            table,
            op.name(),
            row_to_json(key),
            before.map(row_to_json),
            after.map(row_to_json)
        ])?;
        Ok(())
    }

    /// Records a chunk of rows (complete rows) in the engine's bulk
    /// format, as captured: the fast path for large deletes. Text formats
    /// must be UTF-8.
    pub fn chunk(
        &mut self,
        table: &str,
        op: Op,
        format: BulkFormat,
        rows: u64,
        data: &[u8],
    ) -> Result<()> {
        self.insert_chunk(table, op, format, rows, data, None)
    }

    /// Records a chunk that stands for `chunk`, as read from this journal:
    /// the same lines, in the same format, stored once (it points at the
    /// chunk's [`Chunk::origin`]).
    pub(crate) fn chunk_ref(&mut self, table: &str, op: Op, chunk: &StoredChunk<'_>) -> Result<()> {
        self.insert_chunk(table, op, chunk.format, chunk.rows, b"", Some(chunk.origin))
    }

    fn insert_chunk(
        &mut self,
        table: &str,
        op: Op,
        format: BulkFormat,
        rows: u64,
        data: &[u8],
        origin: Option<(i64, i64)>,
    ) -> Result<()> {
        // Packed rows are a blob; text formats stay TEXT, so older
        // readers of the same rows and `sqlite3` show them as they are.
        let data = rusqlite::types::ToSqlOutput::Borrowed(match format {
            // A reference holds no rows of its own, whatever their format.
            _ if origin.is_some() => rusqlite::types::ValueRef::Text(b""),
            BulkFormat::Packed => rusqlite::types::ValueRef::Blob(data),
            BulkFormat::Copy | BulkFormat::Json => {
                rusqlite::types::ValueRef::Text(crate::db::bulk::text(data)?.as_bytes())
            }
        });
        let first = self.seq + 1;
        self.seq += rows as i64;
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO change_chunks (change_id, first_seq, tbl, op, rows, data, format, ref_change, ref_seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        stmt.execute(params![
            self.id,
            first,
            table,
            op.name(),
            rows as i64,
            data,
            format.name(),
            origin.map(|o| o.0),
            origin.map(|o| o.1)
        ])?;
        Ok(())
    }

    /// Sets the after-image of the updated row with this key; false when no
    /// updated row of the table has it.
    pub(crate) fn set_after_by_key(
        &mut self,
        table: &str,
        key: &[Value],
        after: &[Value],
    ) -> Result<bool> {
        let mut stmt = self.tx.prepare_cached(
            "UPDATE change_rows SET after = ?4
             WHERE change_id = ?1 AND tbl = ?2 AND key = ?3 AND op = 'update' AND after IS NULL",
        )?;
        let n = stmt.execute(params![
            self.id,
            table,
            row_to_json(key),
            row_to_json(after)
        ])?;
        Ok(n > 0)
    }

    /// Up to `limit` keys of updated rows of `table` after `after_seq`
    /// whose after-image is missing, with their seq (for re-reading them in
    /// batches by key).
    pub(crate) fn missing_after(
        &mut self,
        table: &str,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Vec<Value>)>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT seq, key FROM change_rows
             WHERE change_id = ?1 AND tbl = ?2 AND op = 'update' AND after IS NULL AND seq > ?3
             ORDER BY seq LIMIT ?4",
        )?;
        let mut rows = stmt.query(params![self.id, table, after_seq, limit as i64])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let key: String = r.get(1)?;
            out.push((r.get(0)?, row_from_json(&key)?));
        }
        Ok(out)
    }

    /// Appends an audit event about this change to the trail, in the
    /// entry's own journal transaction: the record is durable with the
    /// entry, and a record that cannot be written stops the change before
    /// the target commits.
    pub fn audit(
        &mut self,
        event: &str,
        operator: &str,
        target: Option<&str>,
        detail: serde_json::Value,
    ) -> Result<()> {
        super::audit::append(
            &self.tx,
            operator,
            target,
            &[(event, Some(self.id), detail)],
        )?;
        Ok(())
    }

    /// The Postgres transaction id the target change runs in.
    pub(crate) fn set_txid(&mut self, txid: &str) -> Result<()> {
        self.tx.execute(
            "UPDATE changes SET txid = ?2 WHERE id = ?1",
            params![self.id, txid],
        )?;
        Ok(())
    }

    /// Marks the entry as not covering every change (`--allow-uncovered`).
    pub(crate) fn set_partial(&mut self, why: &str) -> Result<()> {
        self.tx.execute(
            "UPDATE changes SET partial = ?2 WHERE id = ?1",
            params![self.id, why],
        )?;
        Ok(())
    }

    /// Makes the entry durable as `prepared`. Call before the target
    /// commits.
    pub fn prepare(self) -> Result<i64> {
        self.tx.execute(
            "UPDATE changes SET row_count = ?2 WHERE id = ?1",
            params![self.id, self.seq],
        )?;
        let id = self.id;
        self.tx.commit()?;
        Ok(id)
    }
}
