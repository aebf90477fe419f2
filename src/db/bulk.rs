//! Rows in bulk, as journal files of older releases kept them: how a
//! stored chunk of rows reads back.
//!
//! Those releases captured a large change's rows in the engine's own bulk
//! format ([`BulkFormat`]) and kept them as chunks of complete rows:
//! Postgres `COPY` text (`postgres::copy`), SQLite rows packed as
//! MessagePack (`sqlite::packed`), or, in journals written before schema 7,
//! SQLite's `json_array()` lines (`sqlite::json_lines`). Only
//! `journal import` reads them now, to bring those rows into the journal
//! in the target; nothing writes them any more.

use crate::db::Value;
use crate::error::{Error, Result};

/// How an engine wrote rows in bulk.
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

/// A text chunk's lines as a string.
fn text(data: &[u8]) -> Result<&str> {
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
