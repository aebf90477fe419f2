//! Rendering result sets: psql-style tables, expanded records, JSON.
//!
//! Results stream through a [`RowSink`]: [`TableCollector`] keeps the first
//! `display_limit` rows for display and only counts the rest, so a `SELECT`
//! over millions of rows prints one page and says how many rows were not
//! shown without ever holding them all.
//!
//! Tables are drawn with comfy-table in the plain ASCII look of psql
//! (` a | b ` over `---+---`, no outer box), because that is what a DBA
//! reads every day and because plain ASCII stays stable in pipes and
//! snapshots. On a terminal (a known width) long values are cut with `…` to
//! fit, and in `\x auto` a result too wide for the terminal is shown as
//! expanded records instead. Piped output is never truncated and `auto`
//! means off there, so scripts see every byte of every shown value.
//!
//! Width is always measured by comfy-table (display width, so wide CJK
//! characters and emoji count as two columns): a multi-line value is laid
//! out as several table rows of one line each, so that comfy-table's
//! one-line row height cuts every physical line with `…` instead of wrapping
//! it, while the value's own newlines stay visible.

use std::io::Write;

use comfy_table::{
    Attribute, Cell, CellAlignment, ContentArrangement, ContentLineStyle, LineStyle, Row, Table,
    TableStyle,
};

use crate::db::{ColumnMeta, ReadSummary, RowSink, Value};
use crate::error::{Error, Result};

/// `\x`: one column per line, off, or chosen per result by width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expanded {
    Off,
    On,
    Auto,
}

/// `\pset format`: psql's aligned tables, its unaligned `a|b` lines, or
/// CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    #[default]
    Aligned,
    Unaligned,
    Csv,
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
    /// How NULL is shown (`\pset null`): empty by default, as in psql,
    /// so a stored `<null>` string is never mistaken for NULL.
    pub null: String,
    /// `\pset format`.
    pub format: OutputFormat,
    /// `\pset border`: 0 (no lines), 1 (psql's default), 2 (a box).
    pub border: u8,
}

impl Default for DisplaySettings {
    fn default() -> Self {
        DisplaySettings {
            expanded: Expanded::Auto,
            color: false,
            width: None,
            display_limit: 1000,
            null: String::new(),
            format: OutputFormat::Aligned,
            border: 1,
        }
    }
}

/// psql's unaligned-border look: ` a | b `, a `---+---` rule under the
/// header, no outer box.
const PSQL_STYLE: TableStyle = TableStyle::new()
    .header_lines(ContentLineStyle::none().junction('|'))
    .header_separator(LineStyle::none().fill('-').junction('+'))
    .content_lines(ContentLineStyle::none().junction('|'));

/// psql's `\pset border 0`: columns apart by a space, a dashed rule
/// under the header.
const BORDER0_STYLE: TableStyle = TableStyle::new()
    .header_lines(ContentLineStyle::none().junction(' '))
    .header_separator(LineStyle::none().fill('-').junction(' '))
    .content_lines(ContentLineStyle::none().junction(' '));

/// psql's `\pset border 2`: the table in a `+---+` box.
const BORDER2_STYLE: TableStyle = TableStyle::new()
    .top_border(LineStyle::new('+', '-', '+', '+'))
    .header_lines(ContentLineStyle::new('|', '|', '|'))
    .header_separator(LineStyle::new('+', '-', '+', '+'))
    .content_lines(ContentLineStyle::new('|', '|', '|'))
    .bottom_border(LineStyle::new('+', '-', '+', '+'));

/// Expanded records: `name | value` lines, nothing else.
const RECORD_STYLE: TableStyle =
    TableStyle::new().content_lines(ContentLineStyle::none().junction('|'));

/// comfy-table wraps at this delimiter before falling back to splitting
/// words by character. Values never contain it (control characters are
/// replaced before display), so lines are cut exactly at the column width
/// rather than at the last space.
const NO_DELIMITER: char = '\u{0}';

/// Keeps the first rows of a result for display and counts the rest.
pub struct TableCollector {
    settings: DisplaySettings,
    columns: Vec<ColumnMeta>,
    rows: Vec<Vec<Value>>,
    /// Rows received beyond `display_limit`: counted, then dropped.
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

    /// Rows kept for display (at most `display_limit`).
    #[cfg(test)]
    pub(crate) fn stored_rows(&self) -> usize {
        self.rows.len()
    }

    /// Rows received but not kept.
    #[cfg(test)]
    pub(crate) fn hidden_rows(&self) -> u64 {
        self.hidden
    }

    /// Formats without a footer (CSV) cannot say that rows were left
    /// out: the note for the operator, beside the result.
    pub fn cut_note(&self, summary: &ReadSummary) -> Option<String> {
        let shown = self.rows.len() as u64;
        let total = summary.rows.max(shown + self.hidden);
        (self.settings.format == OutputFormat::Csv && total > shown)
            .then(|| format!("(showing the first {shown} of {total} rows; \\limit N shows more)"))
    }

    /// The rendered result, footer included.
    pub fn render(&self, summary: &ReadSummary) -> String {
        let shown = self.rows.len() as u64;
        // The engine's count is authoritative; ours can only be lower if a
        // sink was fed outside `run_read`, so take the larger.
        let total = summary.rows.max(shown + self.hidden);
        match self.settings.format {
            OutputFormat::Aligned => {}
            OutputFormat::Unaligned => {
                return super::formats::unaligned(&self.columns, &self.rows, &self.settings, total);
            }
            OutputFormat::Csv => {
                return super::formats::csv(&self.columns, &self.rows, &self.settings);
            }
        }
        let mut out = String::new();
        if !self.columns.is_empty() {
            let cells = self.display_cells();
            let numeric = self.numeric_columns();
            let expanded = match self.settings.expanded {
                Expanded::On => true,
                Expanded::Off => false,
                Expanded::Auto => self.settings.width.is_some_and(|w| {
                    natural_width(&self.columns, &cells, &self.settings.null) > usize::from(w)
                }),
            };
            if expanded {
                if !cells.is_empty() {
                    out.push_str(&self.render_expanded(&cells));
                }
            } else {
                out.push_str(&self.render_table(&cells, &numeric));
            }
        }
        out.push_str(&format!(
            "({total} row{})\n",
            if total == 1 { "" } else { "s" }
        ));
        if total > shown {
            out.push_str(&format!(
                "(showing the first {shown} of {total} rows; \\limit N shows more)\n"
            ));
        }
        out
    }

    /// Shown rows as display text, control characters made visible.
    fn display_cells(&self) -> Vec<Vec<Shown>> {
        self.rows
            .iter()
            .map(|row| {
                (0..self.columns.len())
                    .map(|i| match row.get(i).and_then(Value::text) {
                        Some(t) => Shown::Text(visible(&t)),
                        None => Shown::Null,
                    })
                    .collect()
            })
            .collect()
    }

    /// Columns to right-align: numeric by type, or (SQLite expressions,
    /// which have no declared type) every shown value an INTEGER or REAL.
    fn numeric_columns(&self) -> Vec<bool> {
        self.columns
            .iter()
            .enumerate()
            .map(|(i, meta)| {
                if meta.numeric {
                    return true;
                }
                let mut any = false;
                for row in &self.rows {
                    match row.get(i) {
                        Some(Value::Integer(_) | Value::Real(_)) => any = true,
                        Some(Value::Null) | None => {}
                        Some(_) => return false,
                    }
                }
                any
            })
            .collect()
    }

    /// A table with the shell's look; on a terminal it is fitted to the
    /// width, every row capped at one line so overflow is cut with `…`.
    fn new_table(&self, style: TableStyle) -> Table {
        let mut t = Table::new();
        // The shell decides width and color itself: comfy-table must not
        // probe stdout (tests and pipes would then differ from terminals).
        t.force_no_tty();
        t.load_style(style);
        t.set_delimiter(NO_DELIMITER);
        t.set_truncation_indicator("…");
        if self.settings.color {
            t.enforce_styling();
        }
        match self.settings.width {
            Some(w) => {
                t.set_content_arrangement(ContentArrangement::Dynamic);
                t.set_width(w);
            }
            None => {
                t.set_content_arrangement(ContentArrangement::Disabled);
            }
        }
        t
    }

    fn null_cell(&self) -> Cell {
        let c = Cell::new(visible(&self.settings.null));
        if self.settings.color {
            c.add_attribute(Attribute::Dim)
        } else {
            c
        }
    }

    fn render_table(&self, cells: &[Vec<Shown>], numeric: &[bool]) -> String {
        let style = match self.settings.border {
            0 => BORDER0_STYLE,
            2 => BORDER2_STYLE,
            _ => PSQL_STYLE,
        };
        let mut t = self.new_table(style);
        let mut header = Row::new();
        for (c, is_num) in self.columns.iter().zip(numeric) {
            // Names are aligned like their values (pgcli's choice rather
            // than psql's centring, which floats a name in the middle of a
            // wide text column); a name never wraps, it is cut.
            let align = if *is_num {
                CellAlignment::Right
            } else {
                CellAlignment::Left
            };
            let mut cell = Cell::new(visible(&c.name)).set_alignment(align);
            if self.settings.color {
                cell = cell.add_attribute(Attribute::Bold);
            }
            header.add_cell(cell);
        }
        header.max_height(1);
        t.set_header(header);
        for (i, is_num) in numeric.iter().enumerate() {
            if let Some(col) = t.column_mut(i) {
                col.set_cell_alignment(if *is_num {
                    CellAlignment::Right
                } else {
                    CellAlignment::Left
                });
            }
        }
        for row in cells {
            let height = row.iter().map(Shown::line_count).max().unwrap_or(1);
            for line in 0..height {
                let mut r = Row::new();
                for value in row {
                    r.add_cell(match value {
                        Shown::Null if line == 0 => self.null_cell(),
                        Shown::Null => Cell::new(""),
                        Shown::Text(s) => Cell::new(s.split('\n').nth(line).unwrap_or("")),
                    });
                }
                r.max_height(1);
                t.add_row(r);
            }
        }
        if self.settings.border == 0 {
            for i in 0..self.columns.len() {
                if let Some(col) = t.column_mut(i) {
                    col.set_padding((0, 0));
                }
            }
        }
        let mut s = t.trim_fmt();
        s.push('\n');
        s
    }

    /// psql's `\x` layout: a `-[ RECORD n ]---` rule, then `name | value`
    /// lines with names padded to the widest.
    fn render_expanded(&self, cells: &[Vec<Shown>]) -> String {
        let names: Vec<String> = self.columns.iter().map(|c| visible(&c.name)).collect();
        // One rule width for every record, like psql: the widest name plus
        // the widest value line, capped at the terminal width.
        let mut measure = Table::new();
        measure.force_no_tty();
        for row in cells {
            for (name, value) in names.iter().zip(row) {
                measure.add_row(vec![name.as_str(), value.as_str(&self.settings.null)]);
            }
        }
        let widths = measure.column_max_content_widths();
        let natural = widths.iter().map(|w| usize::from(*w)).sum::<usize>() + 3;
        let rule_width = match self.settings.width {
            Some(w) => natural.min(usize::from(w)),
            None => natural,
        };
        let mut out = String::new();
        for (n, row) in cells.iter().enumerate() {
            let label = format!("-[ RECORD {} ]", n + 1);
            // At least one dash, like psql, so the rule reads as a rule.
            let fill = rule_width.saturating_sub(label.chars().count()).max(1);
            out.push_str(&label);
            out.push_str(&"-".repeat(fill));
            out.push('\n');
            let mut t = self.new_table(RECORD_STYLE);
            for (name, value) in names.iter().zip(row) {
                for line in 0..value.line_count() {
                    let name_cell = if line == 0 {
                        let c = Cell::new(name);
                        if self.settings.color {
                            c.add_attribute(Attribute::Bold)
                        } else {
                            c
                        }
                    } else {
                        Cell::new("")
                    };
                    let value_cell = match value {
                        Shown::Null => self.null_cell(),
                        Shown::Text(s) => Cell::new(s.split('\n').nth(line).unwrap_or("")),
                    };
                    let mut r = Row::from(vec![name_cell, value_cell]);
                    r.max_height(1);
                    t.add_row(r);
                }
            }
            // Padding is one space each side; psql starts the name at column 0.
            if let Some(col) = t.column_mut(0) {
                col.set_padding((0, 1));
            }
            out.push_str(&t.trim_fmt());
            out.push('\n');
        }
        out
    }
}

/// One value as displayed.
enum Shown {
    Null,
    Text(String),
}

impl Shown {
    fn line_count(&self) -> usize {
        match self {
            Shown::Null => 1,
            Shown::Text(s) => s.split('\n').count(),
        }
    }

    fn as_str<'a>(&'a self, null: &'a str) -> &'a str {
        match self {
            Shown::Null => null,
            Shown::Text(s) => s,
        }
    }
}

/// The width of the table laid out without any limit: every column's widest
/// line plus one space of padding each side, and a `|` between columns.
fn natural_width(columns: &[ColumnMeta], cells: &[Vec<Shown>], null: &str) -> usize {
    let mut t = Table::new();
    t.force_no_tty();
    t.set_header(columns.iter().map(|c| visible(&c.name)));
    for row in cells {
        t.add_row(row.iter().map(|v| v.as_str(null)));
    }
    let widths = t.column_max_content_widths();
    widths.iter().map(|w| usize::from(*w) + 2).sum::<usize>() + widths.len().saturating_sub(1)
}

/// Makes control characters visible as their Unicode control pictures
/// (`␉` for a tab, `␛` for escape): raw, they would break the alignment, and
/// an escape sequence stored in a row must not drive the operator's
/// terminal. Newlines stay; they are laid out as separate lines. A CR of a
/// CRLF line end is dropped, since it only ends the line.
pub fn visible(s: &str) -> String {
    if !s.chars().any(|c| c.is_control() && c != '\n') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => out.push('\n'),
            '\r' if chars.peek() == Some(&'\n') => {}
            c if (c as u32) < 0x20 => {
                out.push(char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}'))
            }
            '\u{7f}' => out.push('\u{2421}'),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
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
            // Dropped here: memory stays at one page however long the
            // result is.
            self.hidden += 1;
        }
        Ok(())
    }
}

/// Writes a result as one JSON object:
/// `{"columns": [...], "rows": [[...]], "row_count": N}`, values in the
/// engine's text form and NULL as `null`.
///
/// A result that fits in [`JsonWriter::HELD`] bytes is held until it is
/// complete, so a read that fails prints only its error object, as it
/// always did; a larger one streams from then on, in constant memory, and
/// should it fail midway, the object it began is closed with the error
/// (`..., "row_count": N, "error": "..."}`), still one valid JSON line.
pub(crate) struct JsonWriter<'w> {
    out: &'w mut dyn Write,
    held: Vec<u8>,
    /// Some of the object has been written to `out`.
    streaming: bool,
    started: bool,
    rows: u64,
}

impl<'w> JsonWriter<'w> {
    /// Bytes held before a result starts streaming.
    pub(crate) const HELD: usize = 1 << 20;

    pub fn new(out: &'w mut dyn Write) -> Self {
        JsonWriter {
            out,
            held: Vec::new(),
            streaming: false,
            started: false,
            rows: 0,
        }
    }

    fn push(&mut self, bytes: &[u8]) -> Result<()> {
        self.held.extend_from_slice(bytes);
        if self.held.len() >= Self::HELD {
            self.streaming = true;
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.out.write_all(&self.held).map_err(Error::output)?;
        self.held.clear();
        Ok(())
    }

    /// Closes the object (writes an empty result if no columns came).
    pub fn finish(mut self) -> Result<()> {
        if !self.started {
            self.columns(&[])?;
        }
        let end = format!("],\"row_count\":{}}}\n", self.rows);
        self.held.extend_from_slice(end.as_bytes());
        self.flush()
    }

    /// The read failed with `message`. When part of the object was already
    /// written, closes it with the error and returns true; otherwise
    /// nothing is written, and false leaves the error to be reported as
    /// for any failed statement.
    pub fn fail(mut self, message: &str) -> Result<bool> {
        if !self.streaming {
            return Ok(false);
        }
        let message = serde_json::to_string(message).map_err(|e| Error::io(e.to_string()))?;
        let end = format!("],\"row_count\":{},\"error\":{message}}}\n", self.rows);
        self.held.extend_from_slice(end.as_bytes());
        self.flush()?;
        Ok(true)
    }
}

impl RowSink for JsonWriter<'_> {
    fn columns(&mut self, columns: &[ColumnMeta]) -> Result<()> {
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        let names = serde_json::to_string(&names).map_err(|e| Error::io(e.to_string()))?;
        self.push(format!("{{\"columns\":{names},\"rows\":[").as_bytes())?;
        self.started = true;
        Ok(())
    }

    fn row(&mut self, row: Vec<Value>) -> Result<()> {
        let vals: Vec<Option<String>> = row.iter().map(Value::text).collect();
        let json = serde_json::to_string(&vals).map_err(|e| Error::io(e.to_string()))?;
        if self.rows > 0 {
            self.push(b",")?;
        }
        self.push(json.as_bytes())?;
        self.rows += 1;
        Ok(())
    }
}

/// Writes text to stdout, flushed: a program driving dbguard waits for
/// prompts and requests. A reader that went away is an error whose cause
/// is the broken pipe (never a panic, as `print!` would).
pub fn out(text: &str) -> Result<()> {
    write_flushed(&mut std::io::stdout().lock(), text)
}

/// Writes text to `w` and flushes it, as [`out`] does stdout.
pub(crate) fn write_flushed(w: &mut dyn std::io::Write, text: &str) -> Result<()> {
    w.write_all(text.as_bytes())
        .and_then(|()| w.flush())
        .map_err(Error::output)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(expanded: Expanded, width: Option<u16>, limit: usize) -> DisplaySettings {
        DisplaySettings {
            expanded,
            width,
            display_limit: limit,
            null: "<null>".into(),
            ..DisplaySettings::default()
        }
    }

    fn meta(name: &str, numeric: bool) -> ColumnMeta {
        ColumnMeta {
            name: name.into(),
            numeric,
        }
    }

    fn collect(s: &DisplaySettings, cols: &[ColumnMeta], rows: Vec<Vec<Value>>) -> String {
        let mut c = TableCollector::new(s);
        let n = rows.len() as u64;
        c.columns(cols).unwrap();
        for r in rows {
            c.row(r).unwrap();
        }
        c.render(&ReadSummary {
            rows: n,
            has_result: true,
        })
    }

    fn t(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn stores_only_one_page_of_a_huge_result() {
        let s = settings(Expanded::Off, None, 1000);
        let mut c = TableCollector::new(&s);
        c.columns(&[meta("n", true)]).unwrap();
        for i in 0..500_000i64 {
            c.row(vec![Value::Integer(i)]).unwrap();
        }
        assert_eq!(c.stored_rows(), 1000);
        assert_eq!(c.hidden_rows(), 499_000);
        assert!(c.rows.capacity() < 2048, "capacity {}", c.rows.capacity());
        let out = c.render(&ReadSummary {
            rows: 500_000,
            has_result: true,
        });
        assert!(out.ends_with(
            "(500000 rows)\n(showing the first 1000 of 500000 rows; \\limit N shows more)\n"
        ));
    }

    #[test]
    fn psql_layout_with_nulls_and_right_aligned_numbers() {
        let s = settings(Expanded::Off, None, 100);
        let out = collect(
            &s,
            &[meta("id", true), meta("name", false)],
            vec![vec![t("1"), t("apple")], vec![t("20"), Value::Null]],
        );
        assert_eq!(
            out,
            " id | name\n----+--------\n  1 | apple\n 20 | <null>\n(2 rows)\n"
        );
    }

    #[test]
    fn sqlite_integer_values_are_right_aligned_without_a_declared_type() {
        let s = settings(Expanded::Off, None, 100);
        let out = collect(
            &s,
            &[meta("count(*)", false)],
            vec![vec![Value::Integer(2)]],
        );
        assert_eq!(out, " count(*)\n----------\n        2\n(1 row)\n");
    }

    #[test]
    fn empty_result_keeps_the_header() {
        let s = settings(Expanded::Auto, Some(80), 100);
        let out = collect(&s, &[meta("a", false), meta("b", false)], vec![]);
        assert_eq!(out, " a | b\n---+---\n(0 rows)\n");
    }

    #[test]
    fn auto_is_off_when_piped_and_nothing_is_cut() {
        let long = "x".repeat(500);
        let s = settings(Expanded::Auto, None, 100);
        let out = collect(&s, &[meta("v", false)], vec![vec![t(&long)]]);
        assert!(out.contains(&long));
        assert!(!out.contains("RECORD"));
    }

    #[test]
    fn truncates_to_the_terminal_width() {
        let long = "y".repeat(200);
        let s = settings(Expanded::Off, Some(40), 100);
        let out = collect(
            &s,
            &[meta("id", true), meta("v", false)],
            vec![vec![t("1"), t(&long)]],
        );
        for line in out.lines() {
            assert!(line.chars().count() <= 40, "{line:?}");
        }
        assert!(out.contains('…'), "{out}");
    }

    #[test]
    fn auto_expands_when_too_wide() {
        let s = settings(Expanded::Auto, Some(30), 100);
        let out = collect(
            &s,
            &[meta("id", true), meta("description", false)],
            vec![vec![t("1"), t("a rather long description here")]],
        );
        assert!(out.starts_with("-[ RECORD 1 ]"), "{out}");
        assert!(out.contains("id          | 1\n"), "{out}");
    }

    #[test]
    fn color_dims_nulls_without_breaking_alignment() {
        let mut s = settings(Expanded::Off, Some(80), 100);
        s.color = true;
        let out = collect(
            &s,
            &[meta("a", false), meta("b", false)],
            vec![vec![Value::Null, t("x")]],
        );
        assert!(out.contains("\u{1b}[2m <null> \u{1b}[0m| x"), "{out:?}");
        let plain = collect(
            &settings(Expanded::Off, Some(80), 100),
            &[meta("a", false), meta("b", false)],
            vec![vec![Value::Null, t("x")]],
        );
        assert!(!plain.contains('\u{1b}'));
        assert!(plain.contains(" <null> | x"), "{plain}");
    }

    #[test]
    fn control_characters_are_made_visible() {
        assert_eq!(visible("a\tb\x1b[31m"), "a\u{2409}b\u{241b}[31m");
        assert_eq!(visible("l1\r\nl2"), "l1\nl2");
        assert_eq!(visible("plain"), "plain");
    }

    #[test]
    fn json_format_is_unchanged() {
        let mut buf = Vec::new();
        {
            let mut w = JsonWriter::new(&mut buf);
            w.columns(&[meta("a", false), meta("b", true)]).unwrap();
            w.row(vec![t("x"), Value::Null]).unwrap();
            w.row(vec![t("y"), Value::Integer(2)]).unwrap();
            w.finish().unwrap();
        }
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "{\"columns\":[\"a\",\"b\"],\"rows\":[[\"x\",null],[\"y\",\"2\"]],\"row_count\":2}\n"
        );
    }
}
