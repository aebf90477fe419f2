//! SQLite: opening files safely, reads under `PRAGMA query_only`, cancelling.
//!
//! A target path that does not exist is an error, never a new empty database
//! (only the demo creates one). Every connection runs with
//! `PRAGMA foreign_keys=ON`, because SQLite leaves foreign keys off by
//! default and dbguard's previews assume the engine enforces them.

use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::{Connection as RawConnection, OpenFlags, Transaction};

use super::{
    ApplyTx, BulkFormat, Canceller, ColumnMeta, Engine, GuardOptions, PreviewTx, ReadSummary,
    RowSink, Rows, TableCounts, TargetIdentity, Value,
};
use crate::error::{Error, Result};
use crate::schema::Schema;

pub mod catalog;

pub struct SqliteConnection {
    conn: RawConnection,
    identity: TargetIdentity,
}

const HEADER: &[u8; 16] = b"SQLite format 3\0";

impl SqliteConnection {
    /// Opens an existing SQLite file (or creates it when `create` is set).
    pub fn open(path: &Path, create: bool) -> Result<SqliteConnection> {
        if !create {
            check_file(path)?;
        }
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let conn = RawConnection::open_with_flags(path, flags).map_err(|e| {
            Error::connect(format!(
                "cannot open SQLite file {}: {}",
                path.display(),
                describe_error(&e)
            ))
        })?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "foreign_keys", true)?;
        // A file with a valid header but a damaged body fails here, not later.
        conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(|e| {
            Error::connect(format!(
                "{} is not a usable SQLite database: {}",
                path.display(),
                describe_error(&e)
            ))
        })?;
        let abs: PathBuf = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let version: String = conn.query_row("SELECT sqlite_version()", [], |r| r.get(0))?;
        let identity = TargetIdentity {
            engine: Engine::Sqlite,
            display: abs.display().to_string(),
            database: abs.display().to_string(),
            host: None,
            port: None,
            user: None,
            system_identifier: None,
            server_version: version,
            tls: None,
        };
        Ok(SqliteConnection { conn, identity })
    }

    pub fn identity(&self) -> &TargetIdentity {
        &self.identity
    }

    /// The underlying connection, for code in `db/` that composes
    /// transactions.
    pub fn raw(&mut self) -> &mut RawConnection {
        &mut self.conn
    }

    pub fn introspect(&mut self) -> Result<Schema> {
        let tx = self.conn.transaction()?;
        let schema = catalog::load(&tx, &mut catalog::QueryCounter::default())?;
        tx.commit()?;
        Ok(schema)
    }

    pub fn run_read(&mut self, sql: &str, sink: &mut dyn RowSink) -> Result<ReadSummary> {
        // query_only makes SQLite itself refuse any write, whatever the
        // statement turns out to do; it is switched off again even on error.
        self.conn.pragma_update(None, "query_only", true)?;
        let result = (|| -> Result<ReadSummary> {
            let tx = self.conn.transaction()?;
            let summary = read_in(&tx, sql, sink)?;
            tx.commit()?;
            Ok(summary)
        })();
        let reset = self.conn.pragma_update(None, "query_only", false);
        let summary = result?;
        reset?;
        Ok(summary)
    }

    pub fn run_session(&mut self, sql: &str) -> Result<()> {
        self.conn.execute_batch(sql)?;
        Ok(())
    }

    /// All queries of a preview in one read transaction under
    /// `query_only`, with a progress handler enforcing the time budget.
    pub fn preview<T>(
        &mut self,
        budget: std::time::Duration,
        f: impl FnOnce(&mut dyn PreviewTx) -> Result<T>,
    ) -> Result<T> {
        let deadline = std::time::Instant::now() + budget;
        self.conn.pragma_update(None, "query_only", true)?;
        self.conn
            .progress_handler(10_000, Some(move || std::time::Instant::now() >= deadline))?;
        let result = (|| -> Result<T> {
            let tx = self.conn.transaction()?;
            let r = {
                let mut runner = SqlitePreview { tx: &tx, deadline };
                f(&mut runner)
            };
            tx.rollback()?;
            r
        })();
        let _ = self.conn.progress_handler(0, None::<fn() -> bool>);
        let reset = self.conn.pragma_update(None, "query_only", false);
        let r = result?;
        reset?;
        Ok(r)
    }

    /// One `BEGIN IMMEDIATE` transaction (the single writer), with the lock
    /// timeout as busy timeout and the statement timeout enforced by a
    /// progress handler; commits only when `f` returns `Ok`.
    pub fn guarded<T>(
        &mut self,
        opts: &GuardOptions,
        f: impl FnOnce(&mut dyn ApplyTx) -> Result<T>,
    ) -> Result<T> {
        self.conn.busy_timeout(opts.lock_timeout)?;
        let deadline = std::time::Instant::now() + opts.statement_timeout;
        self.conn
            .progress_handler(10_000, Some(move || std::time::Instant::now() >= deadline))?;
        let result = (|| -> Result<T> {
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(|e| {
                    Error::database(format!(
                        "could not take the write lock within lock_timeout: {}\nAnother connection is writing; try again.",
                        describe_error(&e)
                    ))
                })?;
            let v = {
                let mut runner = SqliteApply {
                    preview: SqlitePreview { tx: &tx, deadline },
                };
                f(&mut runner)?
            };
            tx.commit()?;
            Ok(v)
        })();
        let _ = self.conn.progress_handler(0, None::<fn() -> bool>);
        let _ = self.conn.busy_timeout(std::time::Duration::from_secs(5));
        result
    }

    pub fn canceller(&self) -> Canceller {
        let handle = self.conn.get_interrupt_handle();
        Canceller::new(move || handle.interrupt())
    }
}

/// Runs preview queries in one SQLite read transaction.
pub struct SqlitePreview<'a, 't> {
    pub tx: &'a Transaction<'t>,
    pub deadline: std::time::Instant,
}

impl PreviewTx for SqlitePreview<'_, '_> {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }

    fn check(&mut self, sql: &str) -> Result<Option<String>> {
        // Compiling a statement runs nothing.
        match self.tx.prepare(sql) {
            Ok(_) => Ok(None),
            Err(e @ rusqlite::Error::SqliteFailure(..)) => Ok(Some(describe_error(&e))),
            Err(e) => Err(e.into()),
        }
    }

    fn query(&mut self, sql: &str) -> Result<Option<Rows>> {
        self.run_query(sql, None)
    }

    fn query_with_text(&mut self, before: &str, text: &str, after: &str) -> Result<Option<Rows>> {
        self.run_query(&format!("{before}?1{after}"), Some(text))
    }

    fn data_version(&mut self) -> Result<Option<String>> {
        let n: i64 = self.tx.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        Ok(Some(n.to_string()))
    }
}

impl SqlitePreview<'_, '_> {
    /// One query, with `?1` bound to `text` where given (a cached
    /// statement then: the same shape runs once per chunk).
    fn run_query(&mut self, sql: &str, text: Option<&str>) -> Result<Option<Rows>> {
        if std::time::Instant::now() >= self.deadline {
            return Ok(None);
        }
        let run = || -> rusqlite::Result<Rows> {
            let (mut cached, mut plain);
            let stmt: &mut rusqlite::Statement = match text {
                Some(_) => {
                    cached = self.tx.prepare_cached(sql)?;
                    &mut cached
                }
                None => {
                    plain = self.tx.prepare(sql)?;
                    &mut plain
                }
            };
            let columns: Vec<String> = stmt.column_names().map(str::to_owned).collect();
            let n = columns.len();
            let mut out = Rows {
                columns,
                rows: Vec::new(),
            };
            let mut rows = match text {
                Some(t) => stmt.query([t])?,
                None => stmt.query([])?,
            };
            while let Some(row) = rows.next()? {
                let mut values = Vec::with_capacity(n);
                for i in 0..n {
                    values.push(to_value(row.get_ref(i)?));
                }
                out.rows.push(values);
            }
            Ok(out)
        };
        let started = std::time::Instant::now();
        let result = run();
        super::trace_sql(sql, started);
        match result {
            Ok(rows) => Ok(Some(rows)),
            Err(rusqlite::Error::SqliteFailure(err, _))
                if err.code == rusqlite::ErrorCode::OperationInterrupted
                    && std::time::Instant::now() >= self.deadline =>
            {
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// The apply transaction on SQLite.
pub struct SqliteApply<'a, 't> {
    preview: SqlitePreview<'a, 't>,
}

impl PreviewTx for SqliteApply<'_, '_> {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }
    fn check(&mut self, sql: &str) -> Result<Option<String>> {
        self.preview.check(sql)
    }
    fn query(&mut self, sql: &str) -> Result<Option<Rows>> {
        self.preview.query(sql)
    }
    fn query_with_text(&mut self, before: &str, text: &str, after: &str) -> Result<Option<Rows>> {
        self.preview.query_with_text(before, text, after)
    }
    fn data_version(&mut self) -> Result<Option<String>> {
        self.preview.data_version()
    }
}

impl ApplyTx for SqliteApply<'_, '_> {
    fn lock(&mut self, sql: &str) -> Result<u64> {
        // BEGIN IMMEDIATE holds the write lock on the whole database.
        let n = self.preview.tx.query_row(sql, [], |r| r.get::<_, i64>(0))?;
        Ok(n.max(0) as u64)
    }

    fn stream(&mut self, sql: &str, f: &mut dyn FnMut(Vec<Value>) -> Result<()>) -> Result<u64> {
        let started = std::time::Instant::now();
        let mut stmt = self.preview.tx.prepare(sql)?;
        let ncols = stmt.column_count();
        let mut rows = stmt.query([])?;
        let mut n = 0u64;
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(ncols);
            for i in 0..ncols {
                values.push(to_value(row.get_ref(i)?));
            }
            f(values)?;
            n += 1;
        }
        super::trace_sql(sql, started);
        Ok(n)
    }

    fn copy_out(
        &mut self,
        sql: &str,
        f: &mut dyn FnMut(BulkFormat, &str, u64) -> Result<()>,
    ) -> Result<Option<u64>> {
        let started = std::time::Instant::now();
        // SQLite encodes every row itself, as one JSON array: a value
        // crosses into Rust as part of one string instead of one
        // allocation each, and the journal stores a chunk per 256 KiB
        // instead of a row per row (5 µs a row before). Blobs, which JSON
        // cannot hold, go as {"blob": HEX}. SQLite writes -0.0 as 0.0 and
        // has no function that sees the sign, so a row holding a real zero
        // (an element `0.0`, see `real_zero`) is written here from its
        // typed values instead; looking in the text costs a fraction of
        // asking SQLite about every column.
        let names: Vec<String> = {
            let stmt = self.preview.tx.prepare(sql)?;
            stmt.column_names().map(str::to_owned).collect()
        };
        let distinct: std::collections::BTreeSet<&String> = names.iter().collect();
        if names.is_empty() || distinct.len() != names.len() {
            return Ok(None);
        }
        let cols: Vec<String> = names
            .iter()
            .map(|n| format!("s.{}", crate::schema::quote_ident(n)))
            .collect();
        let items: Vec<String> = cols
            .iter()
            .map(|c| {
                format!(
                    "CASE WHEN typeof({c}) = 'blob' THEN json_object('blob', hex({c})) ELSE {c} END"
                )
            })
            .collect();
        let wrapped = format!(
            "SELECT json_array({}), {} FROM ({sql}) AS s",
            items.join(", "),
            cols.join(", ")
        );
        let mut stmt = self.preview.tx.prepare(&wrapped)?;
        let mut rows = stmt.query([])?;
        let mut buf = String::with_capacity(SQLITE_CHUNK + 4096);
        let mut lines = 0u64;
        let mut total = 0u64;
        while let Some(row) = rows.next()? {
            let line = match row.get_ref(0)? {
                // Valid UTF-8 unless a value was not: checked the fast way.
                ValueRef::Text(t) => match std::str::from_utf8(t) {
                    Ok(text) => std::borrow::Cow::Borrowed(text),
                    Err(_) => String::from_utf8_lossy(t),
                },
                other => {
                    return Err(Error::database(format!(
                        "json_array() returned {:?} while capturing rows",
                        other.data_type()
                    )));
                }
            };
            if real_zero(&line) {
                let mut values = Vec::with_capacity(cols.len());
                for i in 0..cols.len() {
                    values.push(crate::journal::value_to_json(&to_value(
                        row.get_ref(1 + i)?,
                    )));
                }
                buf.push_str(&serde_json::Value::Array(values).to_string());
            } else {
                buf.push_str(&line);
            }
            buf.push('\n');
            lines += 1;
            if buf.len() >= SQLITE_CHUNK {
                f(BulkFormat::Json, &buf, lines)?;
                total += lines;
                lines = 0;
                buf.clear();
            }
        }
        if lines > 0 {
            f(BulkFormat::Json, &buf, lines)?;
            total += lines;
        }
        super::trace_sql(&wrapped, started);
        Ok(Some(total))
    }

    fn copy_in(
        &mut self,
        _sql: &str,
        _f: &mut dyn FnMut(&mut dyn std::io::Write) -> Result<()>,
    ) -> Result<Option<u64>> {
        Ok(None)
    }

    fn execute(&mut self, sql: &str) -> Result<u64> {
        let started = std::time::Instant::now();
        let n = self.preview.tx.execute(sql, [])?;
        super::trace_sql(sql, started);
        Ok(n as u64)
    }

    fn execute_with_text(&mut self, before: &str, text: &str, after: &str) -> Result<u64> {
        let started = std::time::Instant::now();
        let sql = format!("{before}?1{after}");
        let n = self.preview.tx.prepare_cached(&sql)?.execute([text])?;
        super::trace_sql(&sql, started);
        Ok(n as u64)
    }

    fn counters(
        &mut self,
    ) -> Result<Option<std::collections::BTreeMap<crate::schema::QualName, TableCounts>>> {
        Ok(None)
    }

    fn total_changes(&mut self) -> Result<Option<u64>> {
        let n: i64 = self
            .preview
            .tx
            .query_row("SELECT total_changes()", [], |r| r.get(0))?;
        Ok(Some(n.max(0) as u64))
    }

    fn txid(&mut self) -> Result<Option<String>> {
        Ok(None)
    }

    fn written_by_me(&self, _alias: &str) -> Option<String> {
        None
    }
}

/// Says precisely why a path is not an openable SQLite database.
fn check_file(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::connect(format!(
                "SQLite file not found: {}\nCheck the path; dbguard never creates an empty database in place of a missing one.",
                path.display()
            ))
        } else {
            Error::connect(format!("cannot read {}: {e}", path.display()))
        }
    })?;
    if meta.is_dir() {
        return Err(Error::connect(format!(
            "{} is a directory, not a SQLite file",
            path.display()
        )));
    }
    if meta.len() == 0 {
        // SQLite treats an empty file as an empty database.
        return Ok(());
    }
    let mut header = [0u8; 16];
    let mut f = std::fs::File::open(path)
        .map_err(|e| Error::connect(format!("cannot open {}: {e}", path.display())))?;
    let n = f.read(&mut header).unwrap_or(0);
    if n < 16 || &header != HEADER {
        return Err(Error::connect(format!(
            "{} is not a SQLite database (no SQLite header)\nGive the path of a SQLite file, or a postgres:// URL.",
            path.display()
        )));
    }
    Ok(())
}

/// Bytes of rows per bulk-captured chunk. A SQLite undo binds a chunk,
/// rebuilt as one JSON array, to one statement, so the chunk, that array
/// and SQLite's parsed copy are all in memory at once: a quarter of the
/// 1 MiB Postgres chunk keeps a 1M-row undo's peak memory near a 10k-row
/// one's.
const SQLITE_CHUNK: usize = 256 * 1024;

/// Whether a `json_array()` line may hold a real zero, which SQLite writes
/// as `0.0` whatever its sign: an element that is exactly `0.0`. A string
/// holding `,0.0,` also answers yes; its row then merely takes the slower,
/// typed path.
fn real_zero(line: &str) -> bool {
    let bytes = line.as_bytes();
    // `find(char)` is a memchr; most lines hold few dots or none.
    let mut from = 0;
    while let Some(p) = line[from..].find('.') {
        let dot = from + p;
        if dot >= 2
            && bytes[dot - 1] == b'0'
            && matches!(bytes[dot - 2], b'[' | b',')
            && bytes.get(dot + 1) == Some(&b'0')
            && matches!(bytes.get(dot + 2), Some(b',' | b']'))
        {
            return true;
        }
        from = dot + 1;
    }
    false
}

fn to_value(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

fn is_numeric_decl(decl: Option<&str>) -> bool {
    let Some(d) = decl else { return false };
    let d = d.to_ascii_uppercase();
    ["INT", "REAL", "FLOA", "DOUB", "NUMERIC", "DECIMAL"]
        .iter()
        .any(|k| d.contains(k))
}

/// Runs one read statement inside `tx`, streaming rows to `sink`.
pub fn read_in(tx: &Transaction<'_>, sql: &str, sink: &mut dyn RowSink) -> Result<ReadSummary> {
    let body = crate::sql::strip_trailing_semicolons(sql);
    let mut stmt = tx.prepare(body)?;
    if !stmt.readonly() {
        return Err(Error::refused(
            "SQLite reports that this statement writes; it was not run\nWrites go through the guarded path.",
        ));
    }
    let metas: Vec<ColumnMeta> = stmt
        .columns()
        .map(|c| ColumnMeta {
            name: c.name().to_owned(),
            numeric: is_numeric_decl(c.decl_type()),
        })
        .collect();
    let ncols = metas.len();
    let mut summary = ReadSummary {
        rows: 0,
        has_result: ncols > 0,
    };
    if ncols > 0 {
        sink.columns(&metas)?;
    }
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let mut values = Vec::with_capacity(ncols);
        for i in 0..ncols {
            values.push(to_value(row.get_ref(i)?));
        }
        sink.row(values)?;
        summary.rows += 1;
    }
    Ok(summary)
}

/// One readable line for a SQLite error.
pub fn describe_error(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(err, Some(msg)) => {
            if err.code == rusqlite::ErrorCode::OperationInterrupted {
                "query cancelled".to_owned()
            } else {
                format!("ERROR: {msg}")
            }
        }
        rusqlite::Error::SqliteFailure(err, None) => format!("ERROR: {err}"),
        other => format!("ERROR: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::real_zero;

    #[test]
    fn real_zero_finds_a_zero_element_and_nothing_else() {
        for yes in [
            "[0.0]",
            "[1,0.0]",
            "[0.0,\"x\"]",
            "[1.0e-5,0.0,2]",
            "[\"a,0.0,b\"]",
        ] {
            assert!(real_zero(yes), "{yes}");
        }
        for no in [
            "[0]",
            "[10.0]",
            "[0.05]",
            "[1,0.01]",
            "[\"0.0\"]",
            "[100.0,20.0]",
            "",
            "0.0",
        ] {
            assert!(!real_zero(no), "{no}");
        }
    }
}
