//! Reading a journal file: its changes, their tables, rows and approvals,
//! each query written for the schema the file has (`super::schema`).
//!
//! Rows are streamed table by table and operation by operation, those
//! recorded one by one first, then those in chunks: an import does not
//! need them in the order they were captured, and reading them this way
//! needs no sort, so a change of any size reads in constant memory.

use rusqlite::params;
use sha2::{Digest, Sha256};

use super::codec::row_from_json;
use super::schema::{AUDIT, CHUNK_FORMATS, CHUNK_REFS, CHUNKS};
use super::{Change, OldJournal, OldRow, Status};
use crate::db::{BulkFormat, Value};
use crate::error::{Error, Result};
use crate::journal::Op;
use crate::schema::TableInfo;

/// A file's audit trail: its recorded head (last id and hash) and its
/// records.
pub type AuditRows = (Option<(i64, String)>, Vec<Vec<Value>>);

/// An approval a change of the file used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OldApproval {
    pub principal: String,
    pub fingerprint: String,
    pub nonce: String,
    pub signed_at: Option<i64>,
    pub used_at: Option<String>,
}

fn change_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Change, String)> {
    Ok((
        Change {
            id: r.get("id")?,
            created_at: r.get("created_at")?,
            status: Status::Prepared,
            partial: r.get("partial")?,
            row_count: r.get("row_count")?,
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
        r.get("status")?,
    ))
}

impl OldJournal {
    /// Every change, oldest first.
    pub fn list(&self) -> Result<Vec<Change>> {
        let mut stmt = self.conn.prepare("SELECT * FROM changes ORDER BY id")?;
        let rows = stmt.query_map([], change_from_row)?;
        let mut out = Vec::new();
        for r in rows {
            let (mut c, status) = r.map_err(|e| self.damaged(&e))?;
            c.status = Status::parse(&status)?;
            out.push(c);
        }
        Ok(out)
    }

    /// What identifies the file whatever its name: the hash of its first
    /// audit record, or of its first change where it has no trail. Both
    /// stay as the file grows. `None` for a file without changes.
    pub fn identity(&self) -> Result<Option<String>> {
        if self.version >= AUDIT {
            let first: Option<String> = self
                .conn
                .query_row("SELECT hash FROM audit ORDER BY id LIMIT 1", [], |r| {
                    r.get(0)
                })
                .ok();
            if let Some(h) = first {
                return Ok(Some(h.chars().take(16).collect()));
            }
        }
        let first: Option<(i64, String, String, String)> = self
            .conn
            .query_row(
                "SELECT id, created_at, digest, statement FROM changes ORDER BY id LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .ok();
        Ok(first.map(|(id, at, digest, statement)| {
            let h = Sha256::digest(format!("{id}\n{at}\n{digest}\n{statement}"));
            base16ct::lower::encode_string(&h)
                .chars()
                .take(16)
                .collect()
        }))
    }

    /// The file's audit trail, for a file that has one: its recorded head
    /// and its records as rows of the trail's columns, in id order.
    pub fn audit_trail(&self) -> Result<Option<AuditRows>> {
        if self.version < AUDIT {
            return Ok(None);
        }
        let head = self
            .conn
            .query_row("SELECT last_id, last_hash FROM audit_head", [], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .ok();
        let mut stmt = self.conn.prepare(
            "SELECT id, at, event, operator, target, change_id, detail, prev_hash, hash FROM audit ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            let text = |i: usize| -> rusqlite::Result<Value> {
                Ok(r.get::<_, Option<String>>(i)?
                    .map_or(Value::Null, Value::Text))
            };
            let int = |i: usize| -> rusqlite::Result<Value> {
                Ok(r.get::<_, Option<i64>>(i)?
                    .map_or(Value::Null, Value::Integer))
            };
            Ok(vec![
                int(0)?,
                text(1)?,
                text(2)?,
                text(3)?,
                text(4)?,
                int(5)?,
                text(6)?,
                text(7)?,
                text(8)?,
            ])
        })?;
        let records = rows
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.damaged(&e))?;
        Ok(Some((head, records)))
    }

    /// The tables of a change, in restore order (parents first).
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
            let json = |what: &str, e: serde_json::Error| {
                Error::database(format!(
                    "the {what} of {name} in change {id} of {} cannot be read: {e}",
                    self.path.display()
                ))
            };
            out.push(TableInfo {
                schema,
                table,
                position,
                columns: serde_json::from_str(&columns).map_err(|e| json("columns", e))?,
                key_columns: serde_json::from_str(&keys).map_err(|e| json("key", e))?,
                name,
                inherited: false,
            });
        }
        Ok(out)
    }

    /// Streams the rows of `op` change `id` recorded for `table`.
    pub fn for_each_row(
        &self,
        id: i64,
        table: &TableInfo,
        op: Op,
        f: &mut dyn FnMut(OldRow) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self.conn.prepare(
            "SELECT before, after FROM change_rows WHERE change_id = ?1 AND tbl = ?2 AND op = ?3 ORDER BY seq",
        )?;
        let mut rows = stmt.query(params![id, table.name, op.name()])?;
        while let Some(r) = rows.next()? {
            let before: Option<String> = r.get(0)?;
            let after: Option<String> = r.get(1)?;
            f(OldRow {
                before: before.as_deref().map(row_from_json).transpose()?,
                after: after.as_deref().map(row_from_json).transpose()?,
            })?;
        }
        if self.version >= CHUNKS {
            self.for_each_chunk_row(id, table, op, f)?;
        }
        Ok(())
    }

    /// The rows of the chunks of `op` change `id` recorded for `table`.
    fn for_each_chunk_row(
        &self,
        id: i64,
        table: &TableInfo,
        op: Op,
        f: &mut dyn FnMut(OldRow) -> Result<()>,
    ) -> Result<()> {
        let format = if self.version >= CHUNK_FORMATS {
            "c.format"
        } else {
            "'copy'"
        };
        // A reference reads its origin's rows; NULL if that one is gone.
        let data = if self.version >= CHUNK_REFS {
            "CASE WHEN c.ref_change IS NULL THEN c.data ELSE (SELECT r.data FROM change_chunks AS r \
             WHERE r.change_id = c.ref_change AND r.first_seq = c.ref_seq AND r.ref_change IS NULL) END"
        } else {
            "c.data"
        };
        let mut stmt = self.conn.prepare(&format!(
            "SELECT c.first_seq, {data}, {format} FROM change_chunks AS c \
             WHERE c.change_id = ?1 AND c.tbl = ?2 AND c.op = ?3 ORDER BY c.first_seq"
        ))?;
        let mut chunks = stmt.query(params![id, table.name, op.name()])?;
        while let Some(r) = chunks.next()? {
            let first: i64 = r.get(0)?;
            let format = BulkFormat::parse(&r.get::<_, String>(2)?)?;
            let bytes = match r.get_ref(1)? {
                rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => t,
                _ => {
                    return Err(Error::database(format!(
                        "chunk at seq {first} of change {id} in {} stands for rows that are no longer in the file; the change cannot be imported",
                        self.path.display()
                    )));
                }
            };
            let at = || format!("chunk at seq {first} of change {id}");
            crate::db::bulk::for_each_row(format, bytes, &at, |values| {
                f(match op {
                    Op::Insert => OldRow {
                        before: None,
                        after: Some(values),
                    },
                    _ => OldRow {
                        before: Some(values),
                        after: None,
                    },
                })
            })?;
        }
        Ok(())
    }

    /// The approvals change `id` used (none before the schema that
    /// recorded them).
    pub fn approvals(&self, id: i64) -> Result<Vec<OldApproval>> {
        if self.version < AUDIT {
            return Ok(Vec::new());
        }
        let mut stmt = self.conn.prepare(
            "SELECT principal, fingerprint, nonce, signed_at, used_at FROM approvals WHERE change_id = ?1 ORDER BY nonce",
        )?;
        let rows = stmt.query_map([id], |r| {
            Ok(OldApproval {
                principal: r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                fingerprint: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                nonce: r.get(2)?,
                signed_at: r.get(3)?,
                used_at: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn damaged(&self, e: &rusqlite::Error) -> Error {
        Error::database(format!(
            "a change in journal file {} cannot be read: {e}",
            self.path.display()
        ))
    }
}
