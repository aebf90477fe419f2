//! Rows in bulk: how each engine writes many rows at once, and how a
//! stored chunk of them reads back.
//!
//! A large change's rows are captured in the engine's own bulk format
//! ([`BulkFormat`]) and kept as chunks of complete rows: Postgres `COPY`
//! text (`postgres::copy`), SQLite rows packed as MessagePack
//! (`sqlite::packed`), or, in journals written before schema 7, SQLite's
//! `json_array()` lines (`sqlite::json_lines`). The journal stores them
//! without looking inside; whoever needs the values decodes them here.

use crate::db::Value;
use crate::error::{Error, Result};

/// How an engine writes rows in bulk, one row per line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkFormat {
    /// Postgres `COPY ... TO STDOUT` text: tab-separated, `\N` for NULL,
    /// backslash escapes; every value in its text form.
    Copy,
    /// SQLite before schema 7: one `json_array(...)` per row, so each
    /// value keeps its storage class (`sqlite::json_lines`).
    Json,
    /// SQLite: one MessagePack array per row (`sqlite::packed`), each
    /// value exactly as SQLite holds it.
    Packed,
}

impl BulkFormat {
    /// The format's name as stored.
    pub fn name(self) -> &'static str {
        match self {
            BulkFormat::Copy => "copy",
            BulkFormat::Json => "json",
            BulkFormat::Packed => "packed",
        }
    }

    /// A stored format name.
    pub fn parse(s: &str) -> Result<BulkFormat> {
        match s {
            "copy" => Ok(BulkFormat::Copy),
            "json" => Ok(BulkFormat::Json),
            "packed" => Ok(BulkFormat::Packed),
            other => Err(Error::database(format!(
                "journal has a chunk in an unknown format {other:?}"
            ))),
        }
    }
}

/// Takes captured rows in chunks: their format, the complete rows, and how
/// many rows they are.
pub type ChunkSink<'a> = dyn FnMut(BulkFormat, &[u8], u64) -> Result<()> + 'a;

/// One stored chunk of rows, as the journal hands it out.
pub(crate) struct StoredChunk<'a> {
    pub format: BulkFormat,
    pub rows: u64,
    /// Complete rows: text lines (`Copy`, `Json`) or packed rows.
    pub data: &'a [u8],
    /// The change and first seq of the chunk that holds these rows: this
    /// one, or the one it stands for (a reference to it).
    pub origin: (i64, i64),
}

impl StoredChunk<'_> {
    /// The lines of a text chunk (`Copy` or `Json`).
    pub fn text(&self) -> Result<&str> {
        text(self.data).map_err(|e| {
            e.context(format!(
                "journal chunk at seq {} of change {}",
                self.origin.1, self.origin.0
            ))
        })
    }
}

/// A text chunk's lines as a string.
pub fn text(data: &[u8]) -> Result<&str> {
    std::str::from_utf8(data)
        .map_err(|e| Error::database(format!("journal chunk is not UTF-8 text: {e}")))
}

/// Calls `f` with every row of a chunk in any format, decoded, in order.
/// A row that cannot be decoded is an error that names the chunk (`at`).
pub fn for_each_row(
    format: BulkFormat,
    data: &[u8],
    at: &dyn Fn() -> String,
    mut f: impl FnMut(Vec<Value>) -> Result<()>,
) -> Result<()> {
    let named = |e: Error| e.context(at());
    match format {
        BulkFormat::Packed => {
            let mut rows = super::sqlite::packed::Rows::new(data);
            let mut row = Vec::new();
            while rows.next_into(&mut row).map_err(named)? {
                f(row.iter().map(|c| c.to_value()).collect())?;
            }
            Ok(())
        }
        BulkFormat::Copy | BulkFormat::Json => {
            for line in text(data).map_err(named)?.lines() {
                f(match format {
                    BulkFormat::Copy => super::postgres::copy::decode_line(line),
                    _ => super::sqlite::json_lines::decode_line(line).map_err(named)?,
                })?;
            }
            Ok(())
        }
    }
}
