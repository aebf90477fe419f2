//! Postgres's bulk restore of deleted rows: staging tables.
//!
//! Each table's stored rows are copied into a temporary table shaped like
//! it (`COPY ... FROM STDIN`, fed with the `COPY` text the journal holds,
//! or rows of other formats encoded on the way), then one set-based query
//! finds the keys that exist again, and one `INSERT ... SELECT` per table
//! puts them back. A read-only preview cannot create staging tables, so
//! this path checks nothing there; the preview checks the rows one by one.

use super::copy;
use crate::db::bulk::{self, StoredChunk};
use crate::db::restore::{
    BulkRestore, Checked, DeletedRows, Inserted, KeyTaken, RestoreMode, RestoreSink,
};
use crate::db::{ApplyTx, BulkFormat, PreviewTx};
use crate::error::{Error, Result};
use crate::schema::{Schema, TableInfo, quote_ident};

/// The staging tables of one undo, in restore order: the table, its stage,
/// and how many rows it holds.
#[derive(Default)]
pub(crate) struct Staged {
    stages: Vec<(TableInfo, String, u64)>,
}

impl BulkRestore for Staged {
    fn eligible(&self, _: &Schema, _: &[TableInfo], _: &dyn DeletedRows) -> Result<bool> {
        Ok(true)
    }

    fn checks_in_preview(&self) -> bool {
        false
    }

    fn check(
        &self,
        _: &mut dyn PreviewTx,
        _: &[&TableInfo],
        _: &dyn DeletedRows,
        _: &mut Checked,
    ) -> Result<()> {
        Ok(())
    }

    /// Loads the deleted rows of every table into staging tables and finds
    /// the keys that exist again. Nothing in the user's tables changes.
    fn prepare(
        &mut self,
        tx: &mut dyn ApplyTx,
        tables: &[&TableInfo],
        rows: &dyn DeletedRows,
        out: &mut Checked,
    ) -> Result<()> {
        for (i, &info) in tables.iter().enumerate() {
            let stage = format!("pg_temp.dbguard_stage_{i}");
            tx.execute(&format!(
                "CREATE TEMP TABLE dbguard_stage_{i} (LIKE {}) ON COMMIT DROP",
                info.sql_name()
            ))?;
            let n = stage_rows(tx, info, &stage, rows)?;
            if n == 0 {
                continue;
            }
            *out.rows.entry(info.name.clone()).or_default() += n;
            out.taken.extend(taken(tx, info, &stage)?);
            self.stages.push((info.clone(), stage, n));
        }
        Ok(())
    }

    fn insert(
        &mut self,
        tx: &mut dyn ApplyTx,
        _: &[&TableInfo],
        _: &dyn DeletedRows,
        mode: RestoreMode,
        sink: &mut dyn RestoreSink,
        _: &mut Checked,
    ) -> Result<Inserted> {
        let mut differences = Vec::new();
        for (info, stage, rows) in &self.stages {
            let n = insert_staged(tx, info, stage)?;
            if n != *rows {
                return Err(Error::drift(format!(
                    "{}: restoring {rows} rows inserted {n}; nothing was committed",
                    info.name
                )));
            }
            read_back(tx, info, stage, mode, sink)?;
            if mode == RestoreMode::Triggers
                && let Some(d) = differing(tx, info, stage)?
            {
                differences.push(format!(
                    "{}: {d} re-inserted row(s) differ from their before-images (triggers)",
                    info.name
                ));
            }
            sink.done(n);
        }
        Ok(Inserted::Done(differences))
    }
}

/// Copies `info`'s deleted rows into `stage`; returns how many.
fn stage_rows(
    tx: &mut dyn ApplyTx,
    info: &TableInfo,
    stage: &str,
    rows: &dyn DeletedRows,
) -> Result<u64> {
    let cols: Vec<String> = info.columns.iter().map(|c| quote_ident(&c.name)).collect();
    let n = tx.copy_in(
        &format!("COPY {stage} ({}) FROM STDIN", cols.join(", ")),
        &mut |w| {
            let mut write = |text: &str| -> Result<()> {
                // The COPY writer buffers whatever one write hands it: a
                // whole 1 MiB chunk at once would be copied whole.
                for piece in text.as_bytes().chunks(64 * 1024) {
                    w.write_all(piece)
                        .map_err(|e| Error::io(format!("cannot stream rows to restore: {e}")))?;
                }
                Ok(())
            };
            copy_text(info, rows, &mut write)
        },
    )?;
    Ok(n.unwrap_or(0))
}

/// Streams `info`'s deleted rows as `COPY` text (complete lines): chunks
/// captured as `COPY` text as they were stored, other rows encoded. Order
/// is not capture order (chunks first): this feeds a staging table, where
/// order does not matter, and skipping the decode and re-encode of every
/// line is the point.
fn copy_text(
    info: &TableInfo,
    rows: &dyn DeletedRows,
    f: &mut dyn FnMut(&str) -> Result<()>,
) -> Result<()> {
    let mut line = String::new();
    rows.chunks(info, &mut |chunk: &StoredChunk<'_>| {
        let at = || {
            format!(
                "journal chunk of {} at seq {} of change {}",
                info.name, chunk.origin.1, chunk.origin.0
            )
        };
        match chunk.format {
            BulkFormat::Copy => {
                let data = bulk::text(chunk.data).map_err(|e| e.context(at()))?;
                if !data.is_empty() {
                    f(data)?;
                    if !data.ends_with('\n') {
                        f("\n")?;
                    }
                }
                Ok(())
            }
            BulkFormat::Json | BulkFormat::Packed => {
                bulk::for_each_row(chunk.format, chunk.data, &at, |values| {
                    line.clear();
                    copy::encode_line(&values, &mut line);
                    line.push('\n');
                    f(&line)
                })
            }
        }
    })?;
    rows.singles(info, &mut |values| {
        line.clear();
        copy::encode_line(&values, &mut line);
        line.push('\n');
        f(&line)
    })
}

/// The keys of staged rows that exist again in the table (the first
/// thousand).
fn taken(tx: &mut dyn ApplyTx, info: &TableInfo, stage: &str) -> Result<Vec<KeyTaken>> {
    let keys: Vec<String> = info
        .key_columns
        .iter()
        .map(|k| format!("s.{}", quote_ident(k)))
        .collect();
    let found = (tx as &mut dyn PreviewTx).query(&format!(
        "SELECT {} FROM {stage} AS s WHERE EXISTS (SELECT 1 FROM {} AS t WHERE {}) LIMIT 1000",
        keys.join(", "),
        info.sql_name(),
        stage_match(info)
    ))?;
    Ok(found
        .map(|r| r.rows)
        .unwrap_or_default()
        .into_iter()
        .map(|row| KeyTaken {
            table: info.name.clone(),
            key: row.iter().map(|v| v.text()).collect(),
        })
        .collect())
}

/// Puts the staged rows back; returns how many the insert reported.
fn insert_staged(tx: &mut dyn ApplyTx, info: &TableInfo, stage: &str) -> Result<u64> {
    let cols: Vec<String> = info
        .written_columns()
        .map(|(_, c)| quote_ident(&c.name))
        .collect();
    let overriding = if info.columns.iter().any(|c| c.identity_always) {
        " OVERRIDING SYSTEM VALUE"
    } else {
        ""
    };
    tx.execute(&format!(
        "INSERT INTO {} ({}){overriding} SELECT {} FROM {stage}",
        info.sql_name(),
        cols.join(", "),
        cols.join(", ")
    ))
}

/// The undo's own record: the restored rows. In replica mode nothing could
/// change them on the way in, so the staged rows are what the table now
/// holds; with triggers, they are read back from the table.
fn read_back(
    tx: &mut dyn ApplyTx,
    info: &TableInfo,
    stage: &str,
    mode: RestoreMode,
    sink: &mut dyn RestoreSink,
) -> Result<()> {
    let all: Vec<String> = info
        .columns
        .iter()
        .map(|c| format!("t.{}", quote_ident(&c.name)))
        .collect();
    let now_sql = if mode == RestoreMode::Replica && !info.columns.iter().any(|c| c.generated) {
        format!("SELECT {} FROM {stage} AS t", all.join(", "))
    } else {
        format!(
            "SELECT {} FROM {} AS t WHERE EXISTS (SELECT 1 FROM {stage} AS s WHERE {})",
            all.join(", "),
            info.sql_name(),
            stage_match(info)
        )
    };
    tx.copy_out(&now_sql, &mut |format, text, lines| {
        sink.read_back(&info.name, format, lines, text)
    })?;
    Ok(())
}

/// How many restored rows differ from their staged before-images (triggers
/// changed them on the way in); `None` when there are none.
fn differing(tx: &mut dyn ApplyTx, info: &TableInfo, stage: &str) -> Result<Option<u64>> {
    let texts = |qual: &str| {
        info.written_columns()
            .map(|(_, c)| format!("{qual}.{}::text", quote_ident(&c.name)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let diff_sql = format!(
        "SELECT count(*) FROM {} AS t JOIN {stage} AS s ON {} WHERE ({}) IS DISTINCT FROM ({})",
        info.sql_name(),
        stage_match(info),
        texts("t"),
        texts("s")
    );
    Ok((tx as &mut dyn PreviewTx)
        .count(&diff_sql)?
        .filter(|&d| d > 0))
}

/// The table row `t` is the staged row `s`: by primary key, or for a
/// keyless table column by column.
fn stage_match(info: &TableInfo) -> String {
    if info.has_primary_key() {
        return info
            .key_columns
            .iter()
            .map(|k| format!("t.{k} = s.{k}", k = quote_ident(k)))
            .collect::<Vec<_>>()
            .join(" AND ");
    }
    info.columns
        .iter()
        .filter(|c| !c.generated)
        .map(|c| {
            format!(
                "t.{n}::text IS NOT DISTINCT FROM s.{n}::text",
                n = quote_ident(&c.name)
            )
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}
