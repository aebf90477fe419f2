//! SQLite's bulk restore of deleted rows: each stored chunk bound straight
//! into the statements that put it back.
//!
//! Packed chunks go through [`ApplyTx::insert_packed`], batches of `INSERT
//! OR ABORT ... VALUES` with the stored values bound as parameters; JSON
//! chunks of older journals as the parameter of one `INSERT OR ABORT ...
//! SELECT ... FROM jsonb_each(?)` each. Keys that exist again are looked
//! for chunk by chunk, read-only, so the preview can name them; the apply
//! repeats that only for tables without a key, which `INSERT OR ABORT`
//! cannot catch, and otherwise lets the insert fail, takes the chunks back
//! (a savepoint) and only then looks the conflicts up to name them.

use super::{json_lines, packed};
use crate::db::bulk::StoredChunk;
use crate::db::restore::{
    BulkRestore, Checked, DeletedRows, Inserted, KeyTaken, RestoreMode, RestoreSink,
};
use crate::db::{ApplyTx, BulkFormat, PreviewTx};
use crate::error::{Error, Result};
use crate::schema::{QualName, Schema, TableInfo, TriggerEvent, quote_ident};

/// SQLite's chunk-by-chunk restore.
pub(crate) struct Chunks;

impl BulkRestore for Chunks {
    /// Whether the deleted rows can go back chunk by chunk: they were all
    /// captured in bulk (packed rows, or `json_array()` lines without a
    /// real given by its bits: -0.0, which SQL cannot read back from JSON),
    /// and no table has an INSERT trigger that could bend a row on the way
    /// in (those go row by row, re-read and compared).
    fn eligible(
        &self,
        schema: &Schema,
        tables: &[TableInfo],
        rows: &dyn DeletedRows,
    ) -> Result<bool> {
        if !rows.all_in_chunks()? {
            return Ok(false);
        }
        for info in tables {
            let formats = rows.formats(info)?;
            if formats.is_empty() {
                continue;
            }
            let name = QualName::new(info.schema.as_deref(), &info.table);
            let Some(table) = schema.get(&name) else {
                return Ok(false);
            };
            let insert_trigger = table
                .triggers
                .iter()
                .any(|t| t.events.contains(&TriggerEvent::Insert));
            if insert_trigger || !readable(info, &formats, rows)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn checks_in_preview(&self) -> bool {
        true
    }

    fn check(
        &self,
        tx: &mut dyn PreviewTx,
        tables: &[&TableInfo],
        rows: &dyn DeletedRows,
        out: &mut Checked,
    ) -> Result<()> {
        find_taken(tx, tables, rows, &mut out.taken, Some(&mut out.rows))
    }

    /// `INSERT OR ABORT` fails only on a PRIMARY KEY or UNIQUE constraint:
    /// rows of a table without a key (matched column by column) are looked
    /// up first, as the preview did. Their counts come with the insert.
    fn prepare(
        &mut self,
        tx: &mut dyn ApplyTx,
        tables: &[&TableInfo],
        rows: &dyn DeletedRows,
        out: &mut Checked,
    ) -> Result<()> {
        let unkeyed: Vec<&TableInfo> = tables
            .iter()
            .copied()
            .filter(|t| !t.has_primary_key())
            .collect();
        find_taken(tx, &unkeyed, rows, &mut out.taken, None)
    }

    /// No conflict query first for a table with a key: `INSERT OR ABORT`
    /// fails on a key that exists again (whatever ON CONFLICT clause the
    /// table declares), the savepoint takes back the chunks before it, and
    /// only then are the conflicts looked up to be named.
    fn insert(
        &mut self,
        tx: &mut dyn ApplyTx,
        tables: &[&TableInfo],
        rows: &dyn DeletedRows,
        _: RestoreMode,
        sink: &mut dyn RestoreSink,
        out: &mut Checked,
    ) -> Result<Inserted> {
        tx.execute("SAVEPOINT dbguard_bulk")?;
        match insert_chunks(tx, tables, rows, sink, out) {
            Ok(()) => {
                tx.execute("RELEASE SAVEPOINT dbguard_bulk")?;
                Ok(Inserted::Done(Vec::new()))
            }
            Err(e) => {
                // An I/O or memory error can end the whole transaction, and
                // the savepoint with it: then the error is the answer. A
                // lookup that fails too (out of time, say) leaves the
                // insert's own error as the answer.
                if tx.execute("ROLLBACK TO SAVEPOINT dbguard_bulk").is_ok() {
                    let mut found = Vec::new();
                    let checked = find_taken(tx, tables, rows, &mut found, None);
                    if checked.is_ok() && !found.is_empty() {
                        return Ok(Inserted::Taken(found));
                    }
                }
                Err(e)
            }
        }
    }
}

/// Whether SQL can read every JSON chunk of `info` back exactly. Packed
/// rows hold every real as SQLite does, sign and all, and need no reading
/// here: at 100k rows reading them all was about 12 ms of CPU, 8% of the
/// undo. Only JSON chunks (older journals) are scanned.
fn readable(info: &TableInfo, formats: &[BulkFormat], rows: &dyn DeletedRows) -> Result<bool> {
    let mut readable = !formats.contains(&BulkFormat::Copy);
    if readable && formats.contains(&BulkFormat::Json) {
        rows.chunks(info, &mut |chunk| {
            // `{"real"` can only be an object key: inside JSON strings a
            // quote is always escaped.
            if chunk.format == BulkFormat::Json {
                readable &= !chunk.text()?.contains("{\"real\"");
            }
            Ok(())
        })?;
    }
    Ok(readable)
}

/// Puts back the deleted rows of every table (parents first), and reports
/// them as the undo's own rows.
fn insert_chunks(
    tx: &mut dyn ApplyTx,
    tables: &[&TableInfo],
    rows: &dyn DeletedRows,
    sink: &mut dyn RestoreSink,
    out: &mut Checked,
) -> Result<()> {
    // One buffer for every chunk: each is a few hundred KiB, and a fresh
    // allocation of that size is a fresh mapping to fault in.
    let mut buffer = String::new();
    for &info in tables {
        let mut insert = TableInsert::new(info);
        rows.chunks(info, &mut |chunk| {
            let n = insert.chunk(tx, chunk, &mut buffer)?;
            if n != chunk.rows {
                return Err(Error::drift(format!(
                    "{}: restoring {} rows inserted {n}; nothing was committed",
                    info.name, chunk.rows
                )));
            }
            *out.rows.entry(info.name.clone()).or_default() += chunk.rows;
            // No INSERT trigger can have changed them: the rows are now
            // what the chunk says.
            sink.same_as(&info.name, chunk)?;
            sink.done(n);
            Ok(())
        })?;
    }
    Ok(())
}

/// The statements that put one table's chunks back.
struct TableInsert<'a> {
    info: &'a TableInfo,
    head: String,
    /// The packed-chunk statement, up to `VALUES`.
    values: String,
    positions: Vec<usize>,
    /// The JSON-chunk statement, without and with tagged objects.
    json: [Option<String>; 2],
}

impl<'a> TableInsert<'a> {
    fn new(info: &'a TableInfo) -> TableInsert<'a> {
        let targets = info
            .written_columns()
            .map(|(_, c)| quote_ident(&c.name))
            .collect::<Vec<_>>()
            .join(", ");
        let head = format!("INSERT OR ABORT INTO {} ({targets})", info.sql_name());
        TableInsert {
            info,
            values: format!("{head} VALUES"),
            head,
            positions: info.written_columns().map(|(i, _)| i).collect(),
            json: [None, None],
        }
    }

    /// Inserts one chunk; returns the rows inserted.
    fn chunk(
        &mut self,
        tx: &mut dyn ApplyTx,
        chunk: &StoredChunk<'_>,
        buffer: &mut String,
    ) -> Result<u64> {
        if chunk.format == BulkFormat::Packed {
            return tx
                .insert_packed(&self.values, &self.positions, chunk.data)
                .and_then(|n| {
                    n.ok_or_else(|| Error::database("this engine cannot restore packed rows"))
                })
                .map_err(|e| e.context(format!("restoring {}", self.info.name)));
        }
        let text = chunk.text()?;
        let objects = text.contains("{\"");
        let (head, positions) = (&self.head, &self.positions);
        let sql = self.json[usize::from(objects)].get_or_insert_with(|| {
            format!(
                "{head} SELECT {} FROM jsonb_each(",
                positions
                    .iter()
                    .map(|i| json_lines::value_sql(*i, objects))
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        });
        json_lines::rows_array(text, buffer);
        tx.execute_with_text(sql, buffer, ") AS j")
    }
}

/// Adds to `found` every deleted row of `tables` whose key exists again,
/// and counts the rows into `counts` when given: one query per chunk, or
/// one index probe where the chunk's integer keys span an empty range.
fn find_taken(
    tx: &mut dyn PreviewTx,
    tables: &[&TableInfo],
    rows: &dyn DeletedRows,
    found: &mut Vec<KeyTaken>,
    mut counts: Option<&mut std::collections::BTreeMap<String, u64>>,
) -> Result<()> {
    let mut buffer = String::new();
    for &info in tables {
        let lookup = KeyLookup::new(info);
        rows.chunks(info, &mut |stored| {
            if let Some(counts) = counts.as_deref_mut() {
                *counts.entry(info.name.clone()).or_default() += stored.rows;
            }
            lookup.chunk(tx, stored, &mut buffer, found)
        })?;
    }
    Ok(())
}

/// How the rows of one table's chunks are looked up by key.
struct KeyLookup<'a> {
    info: &'a TableInfo,
    /// The key columns and their positions in a captured row.
    keys: Vec<(usize, &'a str)>,
    /// `=` for a primary key, `IS` (NULL-safe) for all columns of a
    /// keyless table.
    op: &'static str,
    /// An integer key in the first column: a chunk whose key range holds
    /// no row now cannot conflict, and one index probe says so.
    int_key: Option<&'a str>,
}

impl<'a> KeyLookup<'a> {
    fn new(info: &'a TableInfo) -> KeyLookup<'a> {
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
        let int_key = match keys.as_slice() {
            [(0, k)]
                if info.has_primary_key()
                    && info.column_type(k).to_ascii_uppercase().contains("INT") =>
            {
                Some(*k)
            }
            _ => None,
        };
        KeyLookup {
            info,
            keys,
            op: if info.has_primary_key() { "=" } else { "IS" },
            int_key,
        }
    }

    /// Looks up one chunk's keys, adding those that exist again to `found`.
    fn chunk(
        &self,
        tx: &mut dyn PreviewTx,
        stored: &StoredChunk<'_>,
        buffer: &mut String,
        found: &mut Vec<KeyTaken>,
    ) -> Result<()> {
        if self.empty_range(tx, stored)? {
            return Ok(());
        }
        match stored.format {
            BulkFormat::Packed => packed::json_rows(stored.data, buffer)?,
            _ => json_lines::rows_array(stored.text()?, buffer),
        }
        // `{"` outside a string only starts a blob's object.
        let objects = buffer.contains("{\"");
        let matched: Vec<String> = self
            .keys
            .iter()
            .map(|(i, k)| {
                format!(
                    "t.{} {} {}",
                    quote_ident(k),
                    self.op,
                    json_lines::value_sql(*i, objects)
                )
            })
            .collect();
        let shown: Vec<String> = self
            .keys
            .iter()
            .map(|(i, _)| json_lines::value_sql(*i, objects))
            .collect();
        let rows = tx.query_with_text(
            &format!("SELECT {} FROM jsonb_each(", shown.join(", ")),
            buffer,
            &format!(
                ") AS j WHERE EXISTS (SELECT 1 FROM {} AS t WHERE {}) LIMIT 1000",
                self.info.sql_name(),
                matched.join(" AND ")
            ),
        )?;
        let rows = rows.ok_or_else(|| {
            Error::database(format!(
                "checking {} did not finish within the statement timeout",
                self.info.name
            ))
        })?;
        found.extend(rows.rows.into_iter().map(|row| KeyTaken {
            table: self.info.name.clone(),
            key: row.iter().map(|v| v.text()).collect(),
        }));
        Ok(())
    }

    /// Whether the chunk's integer keys span a range that holds no row
    /// now: then none of them can exist again.
    fn empty_range(&self, tx: &mut dyn PreviewTx, stored: &StoredChunk<'_>) -> Result<bool> {
        let range = match stored.format {
            BulkFormat::Packed => packed::first_int_range(stored.data)?,
            _ => json_lines::first_int_range(stored.text()?),
        };
        let (Some(k), Some((lo, hi))) = (self.int_key, range) else {
            return Ok(false);
        };
        let any = tx.count(&format!(
            "SELECT EXISTS (SELECT 1 FROM {} WHERE {} BETWEEN {lo} AND {hi})",
            self.info.sql_name(),
            quote_ident(k)
        ))?;
        Ok(any == Some(0))
    }
}
