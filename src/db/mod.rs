//! The two engines behind one interface.
//!
//! Everything engine-specific lives under `db/`: connecting, catalog
//! queries, running reads in a read-only transaction, cancelling. Code above
//! this module sees a [`Connection`], the engine-neutral [`Schema`], and
//! [`Value`]s.
//!
//! The connection decides the transaction; functions that run inside one
//! (catalog introspection, reads) take the engine's transaction and never
//! open one themselves, so a caller can compose them.

pub mod bulk;
pub(crate) mod dialect;
pub mod postgres;
pub mod restore;
pub mod rows;
pub mod sqlite;
pub(crate) mod text;

use std::sync::Arc;

use crate::error::{Error, Result};
pub use crate::model::Engine;
pub use crate::model::Value;
use crate::schema::{Schema, Table, TableInfo};
pub use bulk::{BulkFormat, ChunkSink};

/// Who and where a connection talks to: shown by `\conninfo`, recorded with
/// every change (later), never containing a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetIdentity {
    pub engine: Engine,
    /// A URL or path without any password.
    pub display: String,
    /// Database name (Postgres) or absolute file path (SQLite).
    pub database: String,
    /// Host name, or the socket directory for Unix sockets.
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    /// Postgres cluster system identifier, when the role may read it.
    pub system_identifier: Option<String>,
    pub server_version: String,
    /// TLS protocol in use, if any.
    pub tls: Option<String>,
}

impl TargetIdentity {
    /// Whether the target is a database file (SQLite) rather than a
    /// database on a server: it has a path, no host, user or TLS.
    pub(crate) fn is_file(&self) -> bool {
        self.engine == Engine::Sqlite
    }
}

/// Name and display hints of a result column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnMeta {
    pub name: String,
    /// Numeric columns are right-aligned.
    pub numeric: bool,
}

/// Receives a result set row by row, so a huge result never sits in memory.
pub trait RowSink {
    /// Called once, before any row.
    fn columns(&mut self, columns: &[ColumnMeta]) -> Result<()>;
    /// Called for every row, in order.
    fn row(&mut self, row: Vec<Value>) -> Result<()>;
}

/// What a read returned besides its rows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadSummary {
    /// Rows streamed to the sink.
    pub rows: u64,
    /// Whether the statement produced a result set (a `SET` does not).
    pub has_result: bool,
}

/// Stops the statement running on a connection from another thread (Ctrl-C).
#[derive(Clone)]
pub struct Canceller(Arc<dyn Fn() + Send + Sync>);

impl Canceller {
    pub fn new(f: impl Fn() + Send + Sync + 'static) -> Self {
        Canceller(Arc::new(f))
    }
    pub fn cancel(&self) {
        (self.0)()
    }
}

/// Rows returned by a preview query, values in text form.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// The read-only queries of one preview: one snapshot of the database and
/// one time budget for all of them. A query that would run past the budget
/// is stopped and answers `None`, so the preview can say which part could
/// not be computed in time instead of failing as a whole.
pub trait PreviewTx {
    fn engine(&self) -> Engine;
    /// Runs one query; `Ok(None)` when the time budget ran out.
    fn query(&mut self, sql: &str) -> Result<Option<Rows>>;
    /// Asks the engine to parse and plan `sql` without running it. Returns
    /// the engine's error if it rejects the statement: the preview must not
    /// describe a statement the engine reads differently, or not at all.
    fn check(&mut self, sql: &str) -> Result<Option<String>>;
    /// A token that changes whenever another session commits, or this one
    /// writes: SQLite's `PRAGMA data_version`, a count of other
    /// connections' commits to the file, with this connection's
    /// `total_changes()`; Postgres's snapshot (`txid_current_snapshot()`: the oldest
    /// running transaction, the next unassigned one and those in
    /// progress), which any commit moves. Equal tokens read in two
    /// transactions mean both saw the same committed data. `None` where the
    /// engine has no such token. Snapshots are cluster-wide: a commit in
    /// another database moves the token too, so on a busy cluster tokens
    /// rarely match, and the caller only loses a shortcut.
    fn data_version(&mut self) -> Result<Option<String>> {
        Ok(None)
    }
    /// Like [`PreviewTx::query`] for `before`, the text value `text`, then
    /// `after`. SQLite binds `text` as a parameter, so a chunk of a few
    /// hundred KiB is neither escaped into the statement nor tokenized (the
    /// bulk undo's conflict check); Postgres sends it as a literal.
    fn query_with_text(&mut self, before: &str, text: &str, after: &str) -> Result<Option<Rows>>;
}

impl dyn PreviewTx + '_ {
    /// Runs a query whose first column of the first row is a count.
    pub fn count(&mut self, sql: &str) -> Result<Option<u64>> {
        let Some(rows) = self.query(sql)? else {
            return Ok(None);
        };
        count_of(rows.rows.first().and_then(|r| r.first())).map(Some)
    }
}

/// A count a query returned (no value: 0).
pub(crate) fn count_of(v: Option<&Value>) -> Result<u64> {
    let text = v.and_then(Value::text).unwrap_or_else(|| "0".into());
    text.trim()
        .parse::<u64>()
        .map_err(|_| Error::database(format!("count query returned {text:?}, not a number")))
}

/// Rows one transaction deleted, updated and inserted in one table, as
/// the engine counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableCounts {
    pub deleted: u64,
    pub updated: u64,
    pub inserted: u64,
}

/// Runs `f`, and returns with its result the data version
/// ([`PreviewTx::data_version`]) read before and after it when the two are
/// equal: every query `f` ran then saw the same committed data (Postgres
/// previews read committed data query by query). `None` when a commit fell
/// in between, or the engine has no such token.
pub(crate) fn at_one_version<T>(
    tx: &mut dyn PreviewTx,
    f: impl FnOnce(&mut dyn PreviewTx) -> Result<T>,
) -> Result<(T, Option<String>)> {
    let first = tx.data_version()?;
    let value = f(&mut *tx)?;
    let last = tx.data_version()?;
    Ok((value, first.filter(|v| last.as_ref() == Some(v))))
}

/// The rows of one table a change reaches, as SQL: `{with}SELECT ... FROM
/// {table} AS {alias} {join} WHERE {cond}`.
#[derive(Debug, Clone, Copy)]
pub struct RowScope<'a> {
    pub with: &'a str,
    pub table: &'a str,
    pub alias: &'a str,
    pub join: &'a str,
    pub cond: &'a str,
}

/// Where [`ApplyTx::written_rows`] gets the keys of updated rows and
/// puts what it read back: one object, since both are the journal.
pub trait WrittenSink {
    /// A batch of the updated rows whose after-image is still missing,
    /// after `seq`, with their own seq (the journal's `missing_after`).
    fn updated_keys(&mut self, after_seq: i64) -> Result<Vec<(i64, Vec<Value>)>>;
    /// A row read back, with what it is known to be.
    fn row(&mut self, written: Written, row: Vec<Value>) -> Result<()>;
}

/// What a row read back by [`ApplyTx::written_rows`] is known to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// A row the statement updated.
    Updated,
    /// A row the statement inserted.
    Inserted,
    /// A row the transaction wrote, updated or inserted: the engine does
    /// not tell (the journal does, by whether an updated row has its key).
    Either,
}

/// Timeouts of a guarded apply.
#[derive(Debug, Clone)]
pub struct GuardOptions {
    /// How long to wait for a row or table lock.
    pub lock_timeout: std::time::Duration,
    /// How long any one statement may run.
    pub statement_timeout: std::time::Duration,
}

/// 2 s to wait for locks, 30 s to run: a hand-made change that waits
/// longer is blocking others, or doing more than its operator meant.
impl Default for GuardOptions {
    fn default() -> Self {
        GuardOptions {
            lock_timeout: std::time::Duration::from_secs(2),
            statement_timeout: std::time::Duration::from_secs(30),
        }
    }
}

/// The transaction a guarded apply runs in: the preview queries (to
/// recompute the impact), plus locking, capturing, executing and counting.
/// Nothing commits unless the closure given to [`Connection::guarded`]
/// returns `Ok`.
pub trait ApplyTx: PreviewTx {
    /// Locks the rows of `scope` against concurrent change (Postgres
    /// `FOR UPDATE`) and says how many it locked; `None` where the
    /// transaction already holds the whole database (SQLite's `BEGIN
    /// IMMEDIATE`).
    fn lock_rows(&mut self, scope: &RowScope<'_>) -> Result<Option<u64>>;
    /// Streams the rows of a query, values in the engine's form.
    fn stream(&mut self, sql: &str, f: &mut dyn FnMut(Vec<Value>) -> Result<()>) -> Result<u64>;
    /// Streams the rows of a query in the engine's bulk format, in chunks
    /// of complete rows (and how many rows each holds); `None` when the
    /// engine has no such bulk path for this query. Text formats are
    /// checked to be UTF-8 where they are stored (`Recording::chunk`).
    fn copy_out(&mut self, sql: &str, f: &mut ChunkSink<'_>) -> Result<Option<u64>>;
    /// Runs `COPY ... FROM STDIN` with the text `f` writes; `None` when the
    /// engine has no such bulk path.
    fn copy_in(
        &mut self,
        sql: &str,
        f: &mut dyn FnMut(&mut dyn std::io::Write) -> Result<()>,
    ) -> Result<Option<u64>>;
    /// Runs the operator's statement as typed; returns the rows it reports.
    fn execute(&mut self, sql: &str) -> Result<u64>;
    /// Runs `before`, the text value `text`, then `after` as one
    /// statement, `text` bound as a parameter: a large value reaches the
    /// engine without being quoted into the statement and tokenized again
    /// (SQLite's bulk restore binds a whole chunk).
    fn execute_with_text(&mut self, before: &str, text: &str, after: &str) -> Result<u64>;
    /// Inserts packed rows (`crate::db::sqlite::packed`): `insert` is a statement
    /// up to `VALUES`, and each row gives the values at `columns`, bound as
    /// parameters in batches. Returns the rows inserted; `None` when the
    /// engine has no such path.
    fn insert_packed(
        &mut self,
        insert: &str,
        columns: &[usize],
        packed: &[u8],
    ) -> Result<Option<u64>>;
    /// Per-table row counts of this transaction so far, where the engine
    /// keeps them (Postgres `pg_stat_xact_user_tables`).
    fn counters(
        &mut self,
    ) -> Result<Option<std::collections::BTreeMap<crate::schema::QualName, TableCounts>>>;
    /// All rows changed so far by this connection (SQLite
    /// `total_changes()`, which includes foreign-key actions and triggers).
    fn total_changes(&mut self) -> Result<Option<u64>>;
    /// The transaction id (Postgres), for reconciling after a crash.
    fn txid(&mut self) -> Result<Option<String>>;
    /// Remembers which rows `table` holds now, before an INSERT, where the
    /// engine cannot tell afterwards which rows a transaction wrote
    /// (SQLite has no such marker; Postgres has `xmin`).
    fn remember_rows(&mut self, table: &Table) -> Result<()>;
    /// Reads back the rows of `info`'s table this transaction updated or
    /// inserted, every column, and hands each to `sink` with what it is
    /// known to be; engines that read updated rows back by key ask the
    /// sink for their keys.
    fn written_rows(&mut self, info: &TableInfo, sink: &mut dyn WrittenSink) -> Result<()>;
    /// Turns off triggers and foreign-key actions for the rest of this
    /// transaction where the engine and the role allow it (Postgres
    /// `session_replication_role = replica`: a superuser, or granted SET on
    /// the parameter), so restored rows cannot be bent on the way in; the
    /// caller then checks referential integrity itself.
    fn restore_mode(&mut self) -> Result<restore::RestoreMode>;
    /// Defers foreign-key checks to the end of the transaction, where the
    /// engine checks them at the end of each statement otherwise (SQLite's
    /// `defer_foreign_keys`); false where it cannot.
    fn defer_foreign_keys(&mut self) -> Result<bool>;
}

/// With `DBGUARD_ECHO_SQL` set, every query a preview runs is printed to
/// stderr with its time, like `psql -E` shows the queries behind meta
/// commands: the operator can see, and rerun, exactly what was counted.
pub(crate) fn trace_sql(sql: &str, started: std::time::Instant) {
    if std::env::var_os("DBGUARD_ECHO_SQL").is_some() {
        use std::io::Write;
        // A trace that cannot be written is no reason to stop the query.
        let _ = writeln!(
            std::io::stderr().lock(),
            "-- {:.3} ms\n{sql};",
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
}

/// Options for opening a target.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Create a missing SQLite file (only the demo does this).
    pub create_sqlite: bool,
}

/// An open connection to one target.
// A process holds one or two connections; boxing to even out the variant
// sizes would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Connection {
    Postgres(postgres::PgConnection),
    Sqlite(sqlite::SqliteConnection),
}

/// How a target string was understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TargetSpec {
    /// A Postgres URL or key=value conninfo (empty: from the environment).
    Postgres(String),
    /// A SQLite file path.
    Sqlite(String),
}

impl TargetSpec {
    /// Decides the engine from the target string, like a user would:
    /// `postgres://`/`postgresql://` URLs and `key=value` strings are
    /// Postgres; `sqlite:` prefixes and plain paths are SQLite. Without a
    /// target, `DATABASE_URL` and then the libpq environment are used.
    pub fn parse(target: Option<&str>) -> Result<TargetSpec> {
        let target = match target {
            Some(t) => t.to_owned(),
            None => match std::env::var("DATABASE_URL") {
                Ok(url) if !url.trim().is_empty() => url,
                _ => return Ok(TargetSpec::Postgres(String::new())),
            },
        };
        let t = target.trim();
        if t.is_empty() {
            return Err(Error::input(
                "empty target\nGive a postgres:// URL, a conninfo string or a SQLite file path.",
            ));
        }
        let lower = t.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            return Ok(TargetSpec::Postgres(t.to_owned()));
        }
        if let Some(rest) = t
            .strip_prefix("sqlite://")
            .or_else(|| t.strip_prefix("sqlite:"))
        {
            if rest.is_empty() {
                return Err(Error::input(
                    "sqlite target has no path\nWrite sqlite:PATH or a plain file path.",
                ));
            }
            return Ok(TargetSpec::Sqlite(rest.to_owned()));
        }
        if let Some(idx) = t.find("://") {
            let scheme = &t[..idx];
            if !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            {
                return Err(Error::input(format!(
                    "unknown target scheme '{scheme}://'\nUse postgres://, postgresql://, sqlite: or a SQLite file path."
                )));
            }
        }
        if postgres::conninfo::looks_like_keyword_value(t) {
            return Ok(TargetSpec::Postgres(t.to_owned()));
        }
        Ok(TargetSpec::Sqlite(t.to_owned()))
    }
}

impl Connection {
    /// Opens a target string (see `TargetSpec::parse`).
    pub fn open(target: Option<&str>, opts: &OpenOptions) -> Result<Connection> {
        match TargetSpec::parse(target)? {
            TargetSpec::Postgres(s) => {
                Ok(Connection::Postgres(postgres::PgConnection::connect(&s)?))
            }
            TargetSpec::Sqlite(path) => Ok(Connection::Sqlite(sqlite::SqliteConnection::open(
                std::path::Path::new(&path),
                opts.create_sqlite,
            )?)),
        }
    }

    pub fn engine(&self) -> Engine {
        match self {
            Connection::Postgres(_) => Engine::Postgres,
            Connection::Sqlite(_) => Engine::Sqlite,
        }
    }

    pub fn identity(&self) -> &TargetIdentity {
        match self {
            Connection::Postgres(c) => c.identity(),
            Connection::Sqlite(c) => c.identity(),
        }
    }

    /// Loads the whole schema in one read-only transaction.
    pub fn introspect(&mut self) -> Result<Schema> {
        match self {
            Connection::Postgres(c) => c.introspect(),
            Connection::Sqlite(c) => c.introspect(),
        }
    }

    /// Runs one statement already classified as a read, inside a read-only
    /// transaction, streaming its rows to `sink`.
    pub fn run_read(&mut self, sql: &str, sink: &mut dyn RowSink) -> Result<ReadSummary> {
        match self {
            Connection::Postgres(c) => c.run_read(sql, sink),
            Connection::Sqlite(c) => c.run_read(sql, sink),
        }
    }

    /// Runs a session setting the guard allowed (`SET search_path ...`).
    pub(crate) fn run_session(&mut self, sql: &str) -> Result<()> {
        match self {
            Connection::Postgres(c) => c.run_session(sql),
            Connection::Sqlite(c) => c.run_session(sql),
        }
    }

    /// Runs `f` with the read-only, single-snapshot query runner a preview
    /// uses, bounded by `budget` in total.
    pub fn preview<T>(
        &mut self,
        budget: std::time::Duration,
        f: impl FnOnce(&mut dyn PreviewTx) -> Result<T>,
    ) -> Result<T> {
        match self {
            Connection::Postgres(c) => c.preview(budget, f),
            Connection::Sqlite(c) => c.preview(budget, f),
        }
    }

    /// Runs `f` in one write transaction (Postgres REPEATABLE READ with
    /// lock and statement timeouts; SQLite `BEGIN IMMEDIATE`), committing
    /// only if it returns `Ok`.
    pub fn guarded<T>(
        &mut self,
        opts: &GuardOptions,
        f: impl FnOnce(&mut dyn ApplyTx) -> Result<T>,
    ) -> Result<T> {
        match self {
            Connection::Postgres(c) => c.guarded(opts, f),
            Connection::Sqlite(c) => c.guarded(opts, f),
        }
    }

    /// A handle that cancels whatever statement runs on this connection.
    pub fn canceller(&self) -> Canceller {
        match self {
            Connection::Postgres(c) => c.canceller(),
            Connection::Sqlite(c) => c.canceller(),
        }
    }
}

/// What a target remembers of a transaction a journal entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxStatus {
    Committed,
    Aborted,
    InProgress,
    /// Too old for the server to know (or an engine without ids).
    Forgotten,
}

impl Connection {
    /// Whether the engine gives each transaction an id a journal entry can
    /// record and ask about later (Postgres); SQLite has none.
    pub(crate) fn keeps_transaction_ids(&self) -> bool {
        matches!(self, Connection::Postgres(_))
    }

    /// What became of transaction `txid` ([`ApplyTx::txid`]).
    pub(crate) fn transaction_status(&mut self, txid: &str) -> Result<TxStatus> {
        let Connection::Postgres(pg) = self else {
            return Ok(TxStatus::Forgotten);
        };
        Ok(match pg.txid_status(txid)?.as_deref() {
            Some("committed") => TxStatus::Committed,
            Some("aborted") => TxStatus::Aborted,
            Some(_) => TxStatus::InProgress,
            None => TxStatus::Forgotten,
        })
    }

    /// The row of `info`'s table with this key as it is now, read in a
    /// read-only transaction.
    pub(crate) fn row_by_key(
        &mut self,
        info: &TableInfo,
        key: &[Value],
    ) -> Result<Option<Vec<Value>>> {
        let sql = dialect::Dialect(self.engine()).select_by_keys(info, &[key]);
        let mut current = None;
        self.run_read(&sql, &mut Collect(&mut current))?;
        Ok(current)
    }
}

/// Keeps the first row of a read.
struct Collect<'a>(&'a mut Option<Vec<Value>>);

impl RowSink for Collect<'_> {
    fn columns(&mut self, _: &[ColumnMeta]) -> Result<()> {
        Ok(())
    }
    fn row(&mut self, row: Vec<Value>) -> Result<()> {
        if self.0.is_none() {
            *self.0 = Some(row);
        }
        Ok(())
    }
}

/// The columns of `info`'s table, qualified with `alias`, in capture order.
pub(crate) fn columns_of(info: &TableInfo, alias: &str) -> String {
    info.columns
        .iter()
        .map(|c| format!("{alias}.{}", crate::schema::quote_ident(&c.name)))
        .collect::<Vec<_>>()
        .join(", ")
}
