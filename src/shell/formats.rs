//! `\pset format unaligned` and `\pset format csv`: results as lines a
//! script or a spreadsheet reads, not a table to look at. Unaligned is
//! psql's: a `|` between fields, the header first, the row count last.
//! CSV is RFC 4180 written by the `csv` crate (quoting is easy to get
//! wrong by hand), header first, no footer, as psql writes it.

use super::render::DisplaySettings;
use crate::db::{ColumnMeta, Value};

/// Unaligned lines; NULL as `\pset null` says.
pub(crate) fn unaligned(
    columns: &[ColumnMeta],
    rows: &[Vec<Value>],
    settings: &DisplaySettings,
    total: u64,
) -> String {
    let mut out = String::new();
    if !columns.is_empty() {
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        out.push_str(&names.join("|"));
        out.push('\n');
        for row in rows {
            out.push_str(&fields(row, columns.len(), &settings.null).join("|"));
            out.push('\n');
        }
    }
    out.push_str(&format!(
        "({total} row{})\n",
        if total == 1 { "" } else { "s" }
    ));
    out
}

/// CSV with a header line; NULL as an empty field (or `\pset null`).
pub(crate) fn csv(
    columns: &[ColumnMeta],
    rows: &[Vec<Value>],
    settings: &DisplaySettings,
) -> String {
    let mut w = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let _ = w.write_record(columns.iter().map(|c| c.name.as_str()));
    for row in rows {
        let _ = w.write_record(fields(row, columns.len(), &settings.null));
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A row's `n` values as text, NULL as `null`.
fn fields(row: &[Value], n: usize, null: &str) -> Vec<String> {
    (0..n)
        .map(|i| {
            row.get(i)
                .and_then(Value::text)
                .unwrap_or_else(|| null.to_owned())
        })
        .collect()
}
