//! `\copy`, psql's client-side COPY, through the guard:
//!
//! - `\copy TABLE [(cols)] | (QUERY) TO FILE|STDOUT [options]` is a read:
//!   `SELECT ... FROM TABLE` or the query, classified and run read-only
//!   like a typed read, streamed to the file as CSV or COPY's text format.
//! - `\copy TABLE [(cols)] FROM FILE [options]` is a write: the file's rows
//!   become one `INSERT INTO TABLE (cols) VALUES ...`, which is previewed,
//!   asked, applied and journaled like a typed INSERT, so it can be undone.
//!
//! Options, in either spelling: `(FORMAT csv, HEADER, DELIMITER ',',
//! NULL 'x')` or psql's older `csv header delimiter ',' null 'x'`.

use std::io::Write;

use super::Shell;
use super::interrupt::while_running;
use super::settings::words;
use crate::db::{ColumnMeta, Engine, RowSink, Value};
use crate::error::{Error, Result};
use crate::sql::{self, Kind};

/// What `\copy` was asked to do.
#[derive(Debug, PartialEq)]
struct Copy {
    /// A table and its column list as typed, or a parenthesized query.
    source: Source,
    from: bool,
    /// `None` for STDIN/STDOUT.
    file: Option<String>,
    csv: bool,
    header: bool,
    delimiter: char,
    null: String,
}

#[derive(Debug, PartialEq)]
enum Source {
    Table {
        name: String,
        columns: Option<String>,
    },
    Query(String),
}

impl Shell {
    /// `\copy ...`.
    pub(crate) fn copy(&mut self, arg: Option<&str>) -> Result<()> {
        let copy = parse(self.engine(), arg.unwrap_or_default())?;
        if copy.from {
            self.copy_from(&copy)
        } else {
            self.copy_to(&copy)
        }
    }

    fn copy_to(&mut self, copy: &Copy) -> Result<()> {
        let query = match &copy.source {
            Source::Query(q) => q.clone(),
            // The column list without its parentheses: `SELECT (a, b)`
            // would be one row-valued column.
            Source::Table { name, columns } => format!(
                "SELECT {} FROM {name}",
                columns
                    .as_deref()
                    .and_then(|c| c.strip_prefix('(')?.strip_suffix(')'))
                    .unwrap_or("*")
            ),
        };
        let stmt = sql::classify(self.engine(), &query);
        if stmt.kind != Kind::Read {
            return Err(Error::refused(format!(
                "\\copy ... TO runs reads only: {} is a {}\nCopy from a table or a SELECT.",
                query,
                stmt.kind.name()
            )));
        }
        self.audit(
            "statement",
            serde_json::json!({"statement": query, "kind": "read", "copy": true}),
        )?;
        let out: Box<dyn Write> = match &copy.file {
            Some(path) => Box::new(
                std::fs::File::create(path)
                    .map_err(|e| Error::io(format!("\\copy: cannot create {path}: {e}")))?,
            ),
            None => Box::new(std::io::stdout()),
        };
        let mut sink = CopySink {
            out: std::io::BufWriter::new(out),
            copy,
            rows: 0,
        };
        let canceller = self.conn.canceller();
        let conn = &mut self.conn;
        while_running(canceller, || conn.run_read(&query, &mut sink))?;
        sink.out
            .flush()
            .map_err(|e| Error::io(format!("\\copy: cannot write: {e}")))?;
        let n = sink.rows;
        self.print(&format!("COPY {n}\n"))
    }

    fn copy_from(&mut self, copy: &Copy) -> Result<()> {
        let Some(path) = &copy.file else {
            return Err(Error::input(
                "\\copy ... FROM STDIN is not supported: give a file\n\\copy t FROM 'rows.csv' (FORMAT csv, HEADER)",
            ));
        };
        let Source::Table { name, columns } = &copy.source else {
            return Err(Error::input(
                "\\copy ... FROM copies into a table, not a query",
            ));
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("\\copy: cannot read {path}: {e}")))?;
        let rows = read_rows(&text, copy)?;
        if rows.is_empty() {
            return self.print("COPY 0\n");
        }
        let insert = insert_for(self.engine(), name, columns.as_deref(), &rows);
        // A write like any typed one: previewed, asked, journaled.
        // Its failure was reported where it happened.
        self.failed += self.run_text(&insert);
        Ok(())
    }
}

/// Streams a result to the file.
struct CopySink<'c, W: Write> {
    out: W,
    copy: &'c Copy,
    rows: u64,
}

impl<W: Write> CopySink<'_, W> {
    fn line(&mut self, fields: &[Option<String>]) -> Result<()> {
        let line = if self.copy.csv {
            csv_line(fields, self.copy.delimiter, &self.copy.null)
        } else {
            text_line(fields, self.copy.delimiter, &self.copy.null)
        };
        self.out
            .write_all(line.as_bytes())
            .map_err(|e| Error::io(format!("\\copy: cannot write: {e}")))
    }
}

impl<W: Write> RowSink for CopySink<'_, W> {
    fn columns(&mut self, columns: &[ColumnMeta]) -> Result<()> {
        if self.copy.header {
            let names: Vec<Option<String>> = columns.iter().map(|c| Some(c.name.clone())).collect();
            self.line(&names)?;
        }
        Ok(())
    }

    fn row(&mut self, row: Vec<Value>) -> Result<()> {
        self.rows += 1;
        let fields: Vec<Option<String>> = row.iter().map(Value::text).collect();
        self.line(&fields)
    }
}

/// One CSV line as COPY writes it: NULL as the null string, unquoted; a
/// value quoted when it holds the delimiter, a quote or a line break, and
/// also when it is empty or equals the null string, so that it does not
/// read back as NULL. The csv crate's writer has no such rule (it quotes
/// an empty field only alone on its line), and one writer per field
/// allocated a buffer for every value copied.
fn csv_line(fields: &[Option<String>], delimiter: char, null: &str) -> String {
    let shown: Vec<String> = fields
        .iter()
        .map(|f| match f {
            None => null.to_owned(),
            Some(s) if s.is_empty() || s == null || s.contains([delimiter, '"', '\n', '\r']) => {
                format!("\"{}\"", s.replace('"', "\"\""))
            }
            Some(s) => s.clone(),
        })
        .collect();
    format!("{}\n", shown.join(&delimiter.to_string()))
}

/// COPY's text format: tab-separated, `\N` for NULL, backslash escapes.
fn text_line(fields: &[Option<String>], delimiter: char, null: &str) -> String {
    let mut parts = Vec::with_capacity(fields.len());
    for f in fields {
        parts.push(match f {
            None => null.to_owned(),
            Some(s) => {
                let mut e = String::with_capacity(s.len());
                for c in s.chars() {
                    match c {
                        '\\' => e.push_str("\\\\"),
                        '\n' => e.push_str("\\n"),
                        '\r' => e.push_str("\\r"),
                        '\t' => e.push_str("\\t"),
                        c if c == delimiter => {
                            e.push('\\');
                            e.push(c);
                        }
                        c => e.push(c),
                    }
                }
                e
            }
        });
    }
    format!("{}\n", parts.join(&delimiter.to_string()))
}

/// The file's rows: CSV read by the `csv` crate (an unquoted field equal
/// to the null string is NULL), or COPY's text format.
fn read_rows(text: &str, copy: &Copy) -> Result<Vec<Vec<Option<String>>>> {
    if !copy.csv {
        return Ok(text
            .lines()
            .skip(usize::from(copy.header))
            .map(|l| text_fields(l, copy.delimiter, &copy.null))
            .collect());
    }
    let mut r = ::csv::ReaderBuilder::new()
        .has_headers(copy.header)
        .delimiter(u8::try_from(copy.delimiter).unwrap_or(b','))
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for (n, record) in r.records().enumerate() {
        let record = record.map_err(|e| {
            Error::input(format!(
                "\\copy: line {} of the file is not CSV: {e}",
                n + 1
            ))
        })?;
        rows.push(
            record
                .iter()
                .map(|f| (f != copy.null).then(|| f.to_owned()))
                .collect(),
        );
    }
    // The csv crate does not say whether a field was quoted: an empty
    // field is NULL only when the null string is empty, as COPY's
    // default; `""` then reads as NULL too, which is COPY's one
    // difference we keep.
    Ok(rows)
}

fn text_fields(line: &str, delimiter: char, null: &str) -> Vec<Option<String>> {
    line.split(delimiter)
        .map(|f| {
            if f == null {
                return None;
            }
            let mut out = String::with_capacity(f.len());
            let mut chars = f.chars();
            while let Some(c) = chars.next() {
                if c != '\\' {
                    out.push(c);
                    continue;
                }
                match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('r') => out.push('\r'),
                    Some('t') => out.push('\t'),
                    Some(other) => out.push(other),
                    None => out.push('\\'),
                }
            }
            Some(out)
        })
        .collect()
}

/// One INSERT of every row, values as literals the engine coerces to the
/// column types.
fn insert_for(
    engine: Engine,
    table: &str,
    columns: Option<&str>,
    rows: &[Vec<Option<String>>],
) -> String {
    let values: Vec<String> = rows
        .iter()
        .map(|row| {
            let fields: Vec<String> = row.iter().map(|f| literal(engine, f.as_deref())).collect();
            format!("({})", fields.join(", "))
        })
        .collect();
    let cols = columns.map(|c| format!(" {c}")).unwrap_or_default();
    format!("INSERT INTO {table}{cols} VALUES\n{};", values.join(",\n"))
}

/// A string literal: `E'...'` on PostgreSQL when it holds a backslash, so
/// it means the same whatever `standard_conforming_strings` says.
fn literal(engine: Engine, value: Option<&str>) -> String {
    let Some(v) = value else {
        return "NULL".to_owned();
    };
    let quoted = v.replace('\'', "''");
    if engine == Engine::Postgres && v.contains('\\') {
        format!("E'{}'", quoted.replace('\\', "\\\\"))
    } else {
        format!("'{quoted}'")
    }
}

/// Parses `\copy`'s argument.
fn parse(engine: Engine, arg: &str) -> Result<Copy> {
    let usage = || {
        Error::input(
            "\\copy: \\copy TABLE [(COLUMNS)] FROM 'FILE' [(FORMAT csv, HEADER)]\n   or: \\copy {TABLE | (QUERY)} TO 'FILE'|STDOUT [(FORMAT csv, HEADER)]",
        )
    };
    let arg = arg.trim();
    let (source, rest) = if arg.starts_with('(') {
        let close = crate::sql::pending::scan(engine, arg, usize::MAX)
            .first_close
            .ok_or_else(usage)?;
        (
            Source::Query(arg[1..close].trim().to_owned()),
            &arg[close + 1..],
        )
    } else {
        let end = arg
            .find(|c: char| c.is_whitespace() || c == '(')
            .unwrap_or(arg.len());
        let name = arg[..end].to_owned();
        let rest = arg[end..].trim_start();
        if rest.starts_with('(') {
            let close = crate::sql::pending::scan(engine, rest, usize::MAX)
                .first_close
                .ok_or_else(usage)?;
            let columns = Some(rest[..=close].to_owned());
            (Source::Table { name, columns }, &rest[close + 1..])
        } else {
            (
                Source::Table {
                    name,
                    columns: None,
                },
                rest,
            )
        }
    };
    let w = words(&unpunctuated(rest));
    let mut it = w.iter().map(String::as_str).peekable();
    let from = match it.next().map(str::to_ascii_lowercase).as_deref() {
        Some("from") => true,
        Some("to") => false,
        _ => return Err(usage()),
    };
    let file = match it.next() {
        Some(f)
            if ["stdin", "stdout", "pstdin", "pstdout"]
                .contains(&f.to_ascii_lowercase().as_str()) =>
        {
            None
        }
        Some(f) => Some(f.to_owned()),
        None => return Err(usage()),
    };
    let mut copy = Copy {
        source,
        from,
        file,
        csv: false,
        header: false,
        delimiter: '\t',
        null: "\\N".to_owned(),
    };
    options(&mut copy, &mut it)?;
    Ok(copy)
}

/// The options' parentheses and commas as spaces, except inside quotes
/// (`DELIMITER ','`).
fn unpunctuated(s: &str) -> String {
    let mut quoted = false;
    s.chars()
        .map(|c| match c {
            '\'' => {
                quoted = !quoted;
                c
            }
            '(' | ')' | ',' if !quoted => ' ',
            c => c,
        })
        .collect()
}

/// `WITH`, `FORMAT csv|text`, `CSV`, `HEADER [true|false]`, `DELIMITER c`,
/// `NULL s`.
fn options<'a>(
    copy: &mut Copy,
    it: &mut std::iter::Peekable<impl Iterator<Item = &'a str>>,
) -> Result<()> {
    let mut delimiter = None;
    let mut null = None;
    while let Some(word) = it.next() {
        match word.to_ascii_lowercase().as_str() {
            "with" => {}
            "format" => match it.next().map(str::to_ascii_lowercase).as_deref() {
                Some("csv") => copy.csv = true,
                Some("text") => copy.csv = false,
                other => {
                    return Err(Error::input(format!(
                        "\\copy: format is csv or text (not {})",
                        other.unwrap_or("nothing")
                    )));
                }
            },
            "csv" => copy.csv = true,
            "header" => {
                copy.header = !matches!(
                    it.peek().map(|w| w.to_ascii_lowercase()).as_deref(),
                    Some("false" | "off" | "0")
                );
                if matches!(
                    it.peek().map(|w| w.to_ascii_lowercase()).as_deref(),
                    Some("true" | "on" | "1" | "false" | "off" | "0")
                ) {
                    it.next();
                }
            }
            "delimiter" => delimiter = it.next().and_then(|d| d.chars().next()),
            "null" => null = it.next().map(str::to_owned),
            other => {
                return Err(Error::input(format!(
                    "\\copy: unknown option {other}\nOptions: FORMAT csv|text, HEADER, DELIMITER 'c', NULL 'text'."
                )));
            }
        }
    }
    if copy.csv {
        copy.delimiter = delimiter.unwrap_or(',');
        copy.null = null.unwrap_or_default();
    } else {
        copy.delimiter = delimiter.unwrap_or('\t');
        copy.null = null.unwrap_or_else(|| "\\N".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_of_the_options_parse() {
        let a = parse(
            Engine::Postgres,
            "t (a, b) FROM 'x.csv' WITH (FORMAT csv, HEADER)",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            a.source,
            Source::Table {
                name: "t".into(),
                columns: Some("(a, b)".into())
            }
        );
        assert!(a.from && a.csv && a.header && a.delimiter == ',' && a.null.is_empty());
        let b = parse(Engine::Postgres, "(select ')' from t) to stdout csv header")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(b.source, Source::Query("select ')' from t".into()));
        assert!(!b.from && b.file.is_none() && b.csv && b.header);
        let d = parse(Engine::Postgres, "t from 'f' (format csv, delimiter ',')")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.delimiter, ',');
        let c = parse(Engine::Sqlite, "t to 'o.txt'").unwrap_or_else(|e| panic!("{e}"));
        assert!(!c.csv && c.delimiter == '\t' && c.null == "\\N");
    }

    #[test]
    fn lines_read_back_as_they_were_written() {
        let fields = vec![
            Some("a,b".to_owned()),
            None,
            Some(String::new()),
            Some("x\"y".to_owned()),
        ];
        let line = csv_line(&fields, ',', "");
        assert_eq!(line, "\"a,b\",,\"\",\"x\"\"y\"\n");
        let text = text_line(&[Some("a\tb\\".into()), None], '\t', "\\N");
        assert_eq!(text, "a\\tb\\\\\t\\N\n");
        assert_eq!(
            text_fields(text.trim_end_matches('\n'), '\t', "\\N"),
            vec![Some("a\tb\\".to_owned()), None]
        );
    }

    #[test]
    fn literals_mean_the_same_on_every_setting() {
        assert_eq!(literal(Engine::Postgres, Some("it's")), "'it''s'");
        assert_eq!(literal(Engine::Postgres, Some("a\\b")), "E'a\\\\b'");
        assert_eq!(literal(Engine::Sqlite, Some("a\\b")), "'a\\b'");
        assert_eq!(literal(Engine::Sqlite, None), "NULL");
    }
}
