//! Rendering result sets: comfy-table tables, expanded records, JSON.
//!
//! Results stream through a [`RowSink`]: the first `display_limit` rows are
//! kept for display, the rest are only counted, so a `SELECT` over millions
//! of rows prints one page and says how many rows were not shown without
//! ever holding them all.
//!
//! (Initial version; being completed.)

use std::io::Write;

use comfy_table::{ContentArrangement, Table};

use crate::db::{ColumnMeta, ReadSummary, RowSink, Value};
use crate::error::{Error, Result};

/// `\x`: one column per line, off, or chosen per result by width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expanded {
    Off,
    On,
    Auto,
}

/// How results are displayed.
#[derive(Debug, Clone)]
pub struct DisplaySettings {
    pub expanded: Expanded,
    /// ANSI colors (a terminal without NO_COLOR).
    pub color: bool,
    /// Terminal width, when output goes to a terminal.
    pub width: Option<u16>,
    /// Rows shown per result.
    pub display_limit: usize,
}

/// Keeps the first rows of a result for display and counts the rest.
pub struct TableCollector {
    settings: DisplaySettings,
    columns: Vec<ColumnMeta>,
    rows: Vec<Vec<Value>>,
    hidden: u64,
}

impl TableCollector {
    pub fn new(settings: &DisplaySettings) -> Self {
        TableCollector {
            settings: settings.clone(),
            columns: Vec::new(),
            rows: Vec::new(),
            hidden: 0,
        }
    }

    /// The rendered result, footer included.
    pub fn render(&self, summary: &ReadSummary) -> String {
        let mut table = Table::new();
        table.set_content_arrangement(ContentArrangement::Dynamic);
        table.set_header(self.columns.iter().map(|c| c.name.clone()));
        for row in &self.rows {
            table.add_row(row.iter().map(|v| v.text().unwrap_or_else(|| "<null>".into())));
        }
        let n = summary.rows;
        let mut s = table.to_string();
        s.push('\n');
        s.push_str(&format!("({n} row{})", if n == 1 { "" } else { "s" }));
        if self.hidden > 0 {
            s.push_str(&format!(", {} not shown", self.hidden));
        }
        s.push('\n');
        s
    }
}

impl RowSink for TableCollector {
    fn columns(&mut self, columns: &[ColumnMeta]) -> Result<()> {
        self.columns = columns.to_vec();
        Ok(())
    }
    fn row(&mut self, row: Vec<Value>) -> Result<()> {
        if self.rows.len() < self.settings.display_limit {
            self.rows.push(row);
        } else {
            self.hidden += 1;
        }
        Ok(())
    }
}

/// Streams a result as one JSON object:
/// `{"columns": [...], "rows": [[...]], "row_count": N}`, values in the
/// engine's text form and NULL as `null`. Rows are written as they arrive.
pub struct JsonWriter<'w> {
    out: &'w mut dyn Write,
    started: bool,
    rows: u64,
}

impl<'w> JsonWriter<'w> {
    pub fn new(out: &'w mut dyn Write) -> Self {
        JsonWriter {
            out,
            started: false,
            rows: 0,
        }
    }

    fn io(e: std::io::Error) -> Error {
        Error::io(format!("cannot write output: {e}"))
    }

    /// Closes the object (writes an empty result if no columns came).
    pub fn finish(mut self) -> Result<()> {
        if !self.started {
            self.columns(&[])?;
        }
        writeln!(self.out, "],\"row_count\":{}}}", self.rows).map_err(Self::io)
    }
}

impl RowSink for JsonWriter<'_> {
    fn columns(&mut self, columns: &[ColumnMeta]) -> Result<()> {
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        let names = serde_json::to_string(&names).map_err(|e| Error::io(e.to_string()))?;
        write!(self.out, "{{\"columns\":{names},\"rows\":[").map_err(Self::io)?;
        self.started = true;
        Ok(())
    }

    fn row(&mut self, row: Vec<Value>) -> Result<()> {
        let vals: Vec<Option<String>> = row.iter().map(Value::text).collect();
        let json = serde_json::to_string(&vals).map_err(|e| Error::io(e.to_string()))?;
        if self.rows > 0 {
            self.out.write_all(b",").map_err(Self::io)?;
        }
        self.out.write_all(json.as_bytes()).map_err(Self::io)?;
        self.rows += 1;
        Ok(())
    }
}
