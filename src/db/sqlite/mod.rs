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
    ApplyTx, Canceller, ColumnMeta, Engine, Executed, GuardOptions, InsertCapture, OwnReturning,
    PreviewTx, ReadSummary, RowScope, RowSink, Rows, TableCounts, TargetIdentity, Value,
};
use crate::error::{Error, Result};
use crate::schema::Schema;

pub(crate) mod affinity;
pub mod catalog;
pub mod demo;
mod fingerprint;

/// The SQL name of the rows' fingerprint aggregate ([`fingerprint`]).
pub(crate) const FINGERPRINT: &str = fingerprint::NAME;
/// The SQL name of the ordered SHA-256 aggregate ([`fingerprint`]).
pub(crate) const DIGEST: &str = fingerprint::DIGEST;
pub(crate) mod journal;
pub(crate) mod json_lines;
pub(crate) mod listing;
pub mod packed;

pub struct SqliteConnection {
    conn: RawConnection,
    identity: TargetIdentity,
    /// The connection's `total_changes()` before and after each of its
    /// recent short writes (audit appends, which touch the journal only):
    /// what [`SqliteConnection::refresh_version`] may move a version past.
    short_writes: Vec<(i64, i64)>,
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
            .caused_by(e)
        })?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        fingerprint::register(&conn)?;
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
            .caused_by(e)
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
        Ok(SqliteConnection {
            conn,
            identity,
            short_writes: Vec::new(),
        })
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

    /// A session statement, prepared as exactly one statement (a second
    /// one is refused), then stepped to the end.
    pub(crate) fn run_session(&mut self, sql: &str) -> Result<()> {
        let mut stmt = self.conn.prepare(sql)?;
        let mut rows = stmt.raw_query();
        while rows.next()?.is_some() {}
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

    /// The token `old` a preview read (`other/own`), moved past this
    /// connection's own short writes since: `Some(now)` when no other
    /// connection committed in between, and every change this one made
    /// since was a short write's (the audit trail's, in the journal).
    pub(crate) fn refresh_version(&mut self, old: &str) -> Result<Option<String>> {
        let (other, own): (i64, i64) = self.conn.query_row(
            "SELECT data_version, total_changes() FROM pragma_data_version",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let mut parts = old.split('/').map(str::parse::<i64>);
        let (Some(Ok(old_other)), Some(Ok(old_own))) = (parts.next(), parts.next()) else {
            return Ok(None);
        };
        let short: i64 = self
            .short_writes
            .iter()
            .filter(|(before, _)| *before >= old_own)
            .map(|(before, after)| after - before)
            .sum();
        let same = old_other == other && own - old_own == short;
        Ok(same.then(|| format!("{other}/{own}")))
    }

    /// A read transaction for the journal's reads; SQLite values have no
    /// text forms to pin.
    pub fn exact_read<T>(&mut self, f: impl FnOnce(&mut dyn PreviewTx) -> Result<T>) -> Result<T> {
        self.preview(std::time::Duration::from_secs(24 * 3600), f)
    }

    /// A short write transaction: SQLite has one writer at a time anyway.
    /// Its changes are remembered as its own (`refresh_version`).
    pub fn short_write<T>(
        &mut self,
        opts: &GuardOptions,
        f: impl FnOnce(&mut dyn ApplyTx) -> Result<T>,
    ) -> Result<T> {
        let before = self.conn.total_changes() as i64;
        let value = self.guarded(opts, f)?;
        if self.short_writes.len() >= 64 {
            self.short_writes.remove(0);
        }
        self.short_writes
            .push((before, self.conn.total_changes() as i64));
        Ok(value)
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
                    .caused_by(e)
                })?;
            let v = {
                let mut runner = SqliteApply {
                    preview: SqlitePreview { tx: &tx, deadline },
                    dropped_triggers: Vec::new(),
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
pub(crate) struct SqlitePreview<'a, 't> {
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
            // A compile error comes as SqlInputError where SQLite gives its
            // offset, as SqliteFailure elsewhere: both are its rejection.
            Err(
                e @ (rusqlite::Error::SqliteFailure(..) | rusqlite::Error::SqlInputError { .. }),
            ) => Ok(Some(describe_error(&e))),
            Err(e) => Err(e.into()),
        }
    }

    fn query(&mut self, sql: &str) -> Result<Option<Rows>> {
        self.run_query(sql)
    }

    fn stream(&mut self, sql: &str, f: &mut dyn FnMut(Vec<Value>) -> Result<()>) -> Result<u64> {
        let started = std::time::Instant::now();
        let mut stmt = self.tx.prepare(sql)?;
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

    fn data_version(&mut self) -> Result<Option<String>> {
        // `data_version` counts other connections' commits only; this
        // connection's own writes show in `total_changes()`.
        let (other, own): (i64, i64) = self.tx.query_row(
            "SELECT data_version, total_changes() FROM pragma_data_version",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(Some(format!("{other}/{own}")))
    }
}

impl SqlitePreview<'_, '_> {
    /// One query, under the time budget.
    fn run_query(&mut self, sql: &str) -> Result<Option<Rows>> {
        if std::time::Instant::now() >= self.deadline {
            return Ok(None);
        }
        let run = || -> rusqlite::Result<Rows> {
            let mut stmt = self.tx.prepare(sql)?;
            let columns: Vec<String> = stmt.column_names().map(str::to_owned).collect();
            let n = columns.len();
            let mut out = Rows {
                columns,
                rows: Vec::new(),
            };
            let mut rows = stmt.query([])?;
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
pub(crate) struct SqliteApply<'a, 't> {
    preview: SqlitePreview<'a, 't>,
    /// The text of the triggers an undo dropped for its restore, in
    /// creation order ([`ApplyTx::restore_mode`]).
    dropped_triggers: Vec<String>,
}

impl SqliteApply<'_, '_> {
    /// Rows changed by this connection so far, foreign-key actions and
    /// triggers included.
    fn total_changes(&self) -> Result<u64> {
        let n: i64 = self
            .preview
            .tx
            .query_row("SELECT total_changes()", [], |r| r.get(0))?;
        Ok(n.max(0) as u64)
    }
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
    fn data_version(&mut self) -> Result<Option<String>> {
        self.preview.data_version()
    }
    fn stream(&mut self, sql: &str, f: &mut dyn FnMut(Vec<Value>) -> Result<()>) -> Result<u64> {
        self.preview.stream(sql, f)
    }
}

impl SqliteApply<'_, '_> {
    /// [`ApplyTx::execute_insert`] watching the table: a temporary trigger
    /// notes the locator of every row inserted.
    fn insert_watched(
        &mut self,
        statement: &str,
        capture: &InsertCapture<'_>,
        loc: &[String],
        returned: Option<&mut dyn RowSink>,
    ) -> Result<(Executed, u64)> {
        let new = capture.locator.exprs("new");
        let cols: Vec<String> = (0..loc.len()).map(|i| format!("l{}", i + 1)).collect();
        self.execute("DROP TRIGGER IF EXISTS temp.dbguard_inserted")?;
        self.execute("DROP TABLE IF EXISTS temp.dbguard_inserted")?;
        self.execute(&format!(
            "CREATE TEMP TABLE dbguard_inserted ({})",
            cols.join(", ")
        ))?;
        self.execute(&format!(
            "CREATE TEMP TRIGGER dbguard_inserted AFTER INSERT ON main.{} BEGIN INSERT INTO dbguard_inserted VALUES ({}); END",
            capture.table,
            new.join(", ")
        ))?;
        let before = self.total_changes()?;
        let reported = self.run_operators(statement, returned)?;
        // The trigger's own rows are dbguard's, not the statement's.
        let noted = self.total_changes()?.saturating_sub(before);
        self.execute("DROP TRIGGER temp.dbguard_inserted")?;
        let inserted = self.copy_inserted(
            capture,
            loc,
            &format!(
                "{} AS t WHERE ({}) IN (SELECT {} FROM temp.dbguard_inserted)",
                capture.table,
                loc.join(", "),
                cols.join(", ")
            ),
        )?;
        let watched: u64 = self
            .preview
            .tx
            .query_row("SELECT count(*) FROM temp.dbguard_inserted", [], |r| {
                r.get::<_, i64>(0)
            })?
            .max(0) as u64;
        self.execute("DROP TABLE temp.dbguard_inserted")?;
        let executed = Executed {
            reported,
            changed: Some(noted.saturating_sub(watched)),
        };
        Ok((executed, inserted))
    }

    /// Runs the operator's statement as typed; the rows of its own
    /// `RETURNING` list go to `returned`, when given. Returns the rows it
    /// changed, as SQLite counts them once it has run to the end.
    fn run_operators(&mut self, sql: &str, returned: Option<&mut dyn RowSink>) -> Result<u64> {
        let Some(sink) = returned else {
            return self.execute(sql);
        };
        let started = std::time::Instant::now();
        let mut stmt = self.preview.tx.prepare(sql)?;
        let metas = column_metas(&stmt);
        sink.columns(&metas)?;
        stream_rows(&mut stmt, metas.len(), sink)?;
        drop(stmt);
        super::trace_sql(sql, started);
        Ok(self.preview.tx.changes())
    }

    /// Whether the key query's `k` is NULL anywhere.
    fn any_null(&mut self, keys: &str) -> Result<bool> {
        let n: i64 = self.preview.tx.query_row(
            &format!("SELECT EXISTS (SELECT 1 FROM ({keys}) WHERE k IS NULL)"),
            [],
            |r| r.get(0),
        )?;
        Ok(n != 0)
    }

    /// Copies the inserted rows (the table as `t`, in `from`) into the
    /// capture's snapshot table: locators, then data columns.
    fn copy_inserted(
        &mut self,
        capture: &InsertCapture<'_>,
        loc: &[String],
        from: &str,
    ) -> Result<u64> {
        let mut names: Vec<String> = (0..loc.len()).map(|i| format!("l{}", i + 1)).collect();
        names.extend((0..capture.columns.len()).map(|i| format!("c{}", i + 1)));
        let mut select: Vec<String> = loc.to_vec();
        select.extend(capture.columns.iter().map(|c| format!("t.{c}")));
        self.execute(&format!(
            "CREATE TABLE {} ({})",
            capture.into,
            names.join(", ")
        ))?;
        self.execute(&format!(
            "INSERT INTO {} SELECT {} FROM {from}",
            capture.into,
            select.join(", "),
        ))
    }
}

impl ApplyTx for SqliteApply<'_, '_> {
    fn lock_rows(&mut self, _: &RowScope<'_>) -> Result<Option<u64>> {
        // BEGIN IMMEDIATE already holds the database against other writers.
        Ok(None)
    }

    fn execute(&mut self, sql: &str) -> Result<u64> {
        let started = std::time::Instant::now();
        let n = self.preview.tx.execute(sql, [])?;
        super::trace_sql(sql, started);
        Ok(n as u64)
    }

    /// A temporary trigger notes the locator of every row inserted into
    /// the table (by the statement, or by a trigger of its own), and the
    /// rows are copied by it afterwards: SQLite has no `RETURNING` inside
    /// another statement. Rows whose keys are known beforehand
    /// ([`InsertCapture::inserted_keys`]) are copied by those instead,
    /// the watching being most of the statement's time.
    fn execute_insert(
        &mut self,
        statement: &str,
        _returning_all: Option<&str>,
        capture: &InsertCapture<'_>,
        own: Option<OwnReturning<'_>>,
    ) -> Result<(Executed, u64)> {
        // Run as typed: the rows go straight to the operator's sink.
        let returned = own.map(|o| o.sink);
        let loc = capture.locator.exprs("t");
        if loc.is_empty() {
            return Err(Error::database(format!(
                "{} has no rowid or key to find inserted rows by",
                capture.table
            )));
        }
        match capture.inserted_keys {
            // `INTEGER PRIMARY KEY DESC` is not the rowid and may be NULL,
            // which no key lookup finds: those rows are watched.
            Some(keys) if !self.any_null(keys.query)? => {
                let executed = self.execute_statement(statement, returned)?;
                // Each key looked up, not the table scanned against a list
                // of them: a third of the copy's time.
                let inserted = self.copy_inserted(
                    capture,
                    &loc,
                    &format!(
                        "({}) AS k CROSS JOIN {} AS t ON t.{} = k.k",
                        keys.query, capture.table, keys.column
                    ),
                )?;
                Ok((executed, inserted))
            }
            _ => self.insert_watched(statement, capture, &loc, returned),
        }
    }

    fn execute_statement(
        &mut self,
        sql: &str,
        returned: Option<&mut dyn RowSink>,
    ) -> Result<Executed> {
        let before = self.total_changes()?;
        let reported = self.run_operators(sql, returned)?;
        let changed = self.total_changes()?.saturating_sub(before);
        Ok(Executed {
            reported,
            changed: Some(changed),
        })
    }

    fn counters(
        &mut self,
    ) -> Result<Option<std::collections::BTreeMap<crate::schema::QualName, TableCounts>>> {
        Ok(None)
    }

    fn restore_mode(
        &mut self,
        tables: &[crate::schema::QualName],
    ) -> Result<crate::db::restore::RestoreMode> {
        // SQLite cannot disable a trigger, but its DDL is transactional:
        // dropped here and created again before commit, a trigger is gone
        // only for this transaction, and a rollback brings it back.
        let mut stmt = self.preview.tx.prepare(
            // The table name as the trigger's ON clause spelled it: SQLite
            // names match in any ASCII case.
            "SELECT name, sql FROM main.sqlite_schema \
             WHERE type = 'trigger' AND tbl_name = ?1 COLLATE NOCASE ORDER BY rowid",
        )?;
        let mut dropped = Vec::new();
        for t in tables {
            let rows = stmt.query_map([&t.name], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?;
            for row in rows {
                dropped.push(row?);
            }
        }
        drop(stmt);
        for (name, _) in &dropped {
            self.execute(&format!(
                "DROP TRIGGER main.{}",
                crate::schema::quote_ident(name)
            ))?;
        }
        self.dropped_triggers = dropped.into_iter().map(|(_, sql)| sql).collect();
        Ok(crate::db::restore::RestoreMode::NoTriggers)
    }

    fn end_restore(&mut self) -> Result<()> {
        for sql in std::mem::take(&mut self.dropped_triggers) {
            self.execute(&sql)?;
        }
        Ok(())
    }

    fn defer_foreign_keys(&mut self) -> Result<bool> {
        self.execute("PRAGMA defer_foreign_keys = ON")?;
        Ok(true)
    }

    fn held_beyond_counters(&mut self) -> Result<Vec<(crate::schema::QualName, crate::db::Held)>> {
        Ok(Vec::new())
    }

    fn catalog_writes(&mut self) -> Result<u64> {
        Ok(0)
    }

    fn fire_deferred(&mut self) -> Result<()> {
        // SQLite defers foreign-key checks only, which write nothing.
        Ok(())
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

/// A value SQLite returned, as a packed cell.
fn cell(v: ValueRef<'_>) -> packed::Cell<'_> {
    match v {
        ValueRef::Null => packed::Cell::Null,
        ValueRef::Integer(i) => packed::Cell::Integer(i),
        ValueRef::Real(f) => packed::Cell::Real(f),
        ValueRef::Text(t) => packed::Cell::Text(t),
        ValueRef::Blob(b) => packed::Cell::Blob(b),
    }
}

fn to_value(v: ValueRef<'_>) -> Value {
    cell(v).to_value()
}

fn is_numeric_decl(decl: Option<&str>) -> bool {
    let Some(d) = decl else { return false };
    let d = d.to_ascii_uppercase();
    ["INT", "REAL", "FLOA", "DOUB", "NUMERIC", "DECIMAL"]
        .iter()
        .any(|k| d.contains(k))
}

/// Runs one read statement inside `tx`, streaming rows to `sink`.
pub(crate) fn read_in(
    tx: &Transaction<'_>,
    sql: &str,
    sink: &mut dyn RowSink,
) -> Result<ReadSummary> {
    let body = crate::db::text::strip_trailing_semicolons(sql);
    let mut stmt = tx.prepare(body)?;
    if !stmt.readonly() {
        return Err(Error::refused(
            "SQLite reports that this statement writes; it was not run\nWrites go through the guarded path.",
        ));
    }
    let metas = column_metas(&stmt);
    let ncols = metas.len();
    if ncols > 0 {
        sink.columns(&metas)?;
    }
    Ok(ReadSummary {
        rows: stream_rows(&mut stmt, ncols, sink)?,
        has_result: ncols > 0,
    })
}

/// The columns a prepared statement returns, numbers by declared type.
fn column_metas(stmt: &rusqlite::Statement<'_>) -> Vec<ColumnMeta> {
    stmt.columns()
        .map(|c| ColumnMeta {
            name: c.name().to_owned(),
            numeric: is_numeric_decl(c.decl_type()),
        })
        .collect()
}

/// Runs a prepared statement to the end, its rows (of `ncols` values) to
/// `sink`; returns how many there were.
fn stream_rows(
    stmt: &mut rusqlite::Statement<'_>,
    ncols: usize,
    sink: &mut dyn RowSink,
) -> Result<u64> {
    let mut n = 0;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let mut values = Vec::with_capacity(ncols);
        for i in 0..ncols {
            values.push(to_value(row.get_ref(i)?));
        }
        sink.row(values)?;
        n += 1;
    }
    Ok(n)
}

/// A SQLite literal for a value, in its storage class.
pub fn literal(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Integer(i) => i.to_string(),
        Value::Real(f) => {
            if f.is_finite() {
                format!("{f:?}")
            } else if f.is_nan() {
                "NULL".into()
            } else if *f > 0.0 {
                "9e999".into()
            } else {
                "-9e999".into()
            }
        }
        // Control characters other than newline and tab go as bytes: the
        // sqlite3 shell reading a script drops a CR before LF.
        Value::Text(s) if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') => format!(
            "CAST(X'{}' AS TEXT)",
            base16ct::upper::encode_string(s.as_bytes())
        ),
        Value::Text(s) => format!("'{}'", s.replace('\'', "''")),
        Value::Blob(b) => format!("X'{}'", base16ct::upper::encode_string(b)),
    }
}

/// One readable message for a SQLite error.
pub(crate) fn describe_error(e: &rusqlite::Error) -> String {
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

/// A SQLite error as the shell shows it: a prepare error at a token gets
/// psql's caret under it, in the text that was prepared (the offset
/// counts bytes of that text); others read as [`describe_error`], which
/// stays one line for the preview's verdicts.
fn shown(e: &rusqlite::Error) -> String {
    if let rusqlite::Error::SqlInputError {
        msg, sql, offset, ..
    } = e
        && let Some(lines) = usize::try_from(*offset)
            .ok()
            .and_then(|o| sql.get(..o))
            .and_then(|before| crate::db::text::caret(sql, before.chars().count()))
    {
        return format!("ERROR: {msg}\n{lines}");
    }
    describe_error(e)
}

/// A driver error as dbguard shows it, keeping the driver error (and its
/// result code) as the cause.
impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        let interrupted = matches!(
            &e,
            rusqlite::Error::SqliteFailure(err, _)
                if err.code == rusqlite::ErrorCode::OperationInterrupted
        );
        let error = Error::database(shown(&e)).caused_by(e);
        if interrupted { error } else { error.labelled() }
    }
}
