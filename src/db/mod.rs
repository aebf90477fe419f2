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

pub mod admin;
pub mod bulk;
pub(crate) mod dialect;
pub mod journal;
pub mod listing;
pub mod postgres;
pub mod restore;
pub mod returned;
pub mod rows;
pub mod seal;
pub mod sqlite;
mod staging;
pub(crate) mod text;

use std::sync::Arc;

use crate::error::{Error, Result};
pub use crate::model::Engine;
pub use crate::model::Value;
use crate::schema::{QualName, Schema};
pub use bulk::BulkFormat;
/// The operating system's name for this process's user, as libpq finds it.
pub(crate) use postgres::conninfo::os_user_name;
pub use returned::Returned;
use std::collections::BTreeMap;

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
    /// The CHECK constraints of `table`, read when a preview needs them
    /// rather than with the schema: deparsing every constraint of a large
    /// schema at startup would cost more than the previews that use them.
    /// `None` when the time budget ran out.
    fn checks(
        &mut self,
        table: &crate::schema::Table,
    ) -> Result<Option<Vec<crate::schema::Check>>> {
        let name = table.name.sql().replace('\'', "''");
        // PostgreSQL: the table's own checks, and those declared on its
        // partitions, which apply only to the rows routed there.
        let sql = match self.engine() {
            Engine::Postgres => format!(
                "SELECT c.conname::text, pg_get_expr(c.conbin, c.conrelid, true), \
                 CASE WHEN c.conrelid = t.oid THEN '' ELSE c.conrelid::regclass::text END \
                 FROM pg_catalog.pg_constraint c, (SELECT '{name}'::regclass AS oid) t \
                 WHERE c.contype = 'c' AND (c.conrelid = t.oid OR (c.conislocal AND c.conrelid IN \
                 (SELECT relid FROM pg_catalog.pg_partition_tree(t.oid)))) ORDER BY 3, 1"
            ),
            Engine::Sqlite => format!(
                "SELECT name, sql, '' FROM sqlite_schema WHERE type = 'table' AND name = '{}'",
                table.name.name.replace('\'', "''")
            ),
        };
        let Some(rows) = self.query(&sql)? else {
            return Ok(None);
        };
        let texts = rows.rows.iter().filter_map(|r| match r.as_slice() {
            [n, e, p] => Some((n.text()?, e.text()?, p.text().unwrap_or_default())),
            _ => None,
        });
        Ok(Some(match self.engine() {
            Engine::Postgres => texts
                .map(|(name, expr, partition)| crate::schema::Check {
                    name,
                    expr,
                    unchecked: (!partition.is_empty()).then(|| {
                        format!("it is declared on the partition {partition}, and the preview does not work out which partition each row goes to")
                    }),
                })
                .collect(),
            Engine::Sqlite => texts
                .flat_map(|(table, sql, _)| sqlite::catalog::parse_checks(&table, &sql))
                .collect(),
        }))
    }

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
    /// Streams the rows of a query, values in the engine's form, without
    /// the time budget: the journal's reads, which must finish.
    fn stream(&mut self, sql: &str, f: &mut dyn FnMut(Vec<Value>) -> Result<()>) -> Result<u64>;
    /// What a write sets off — the triggers in `firing` (table, trigger
    /// name), what the `written` tables (rows inserted or updated) run on a
    /// row (defaults, constraints, index expressions), the triggers of the
    /// partitions and children of the `touched` tables (any row changed)
    /// and those of theirs the schema does not list as it stands now,
    /// event triggers — would do beyond the rows the transaction's counters
    /// see, one line each, read from its source (Postgres,
    /// `postgres::reach`). None on SQLite, whose triggers can only run SQL
    /// on the same file.
    fn beyond_the_rows(
        &mut self,
        _firing: &[(crate::schema::QualName, String)],
        _written: &[crate::schema::QualName],
        _touched: &[Touched<'_>],
    ) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    /// What the code a statement's text names (functions, views, domains,
    /// operators of the database's own) can do that a read-only transaction
    /// does not stop, one line each (Postgres, `postgres::reach`): a
    /// preview runs a write's predicate, and with it that code.
    fn called_beyond(&mut self, _text: &str) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
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

impl TableCounts {
    /// What was counted since `before`: the engine's counters add up over
    /// a session, so a transaction's own are the difference.
    pub fn since(self, before: TableCounts) -> TableCounts {
        TableCounts {
            deleted: self.deleted.saturating_sub(before.deleted),
            updated: self.updated.saturating_sub(before.updated),
            inserted: self.inserted.saturating_sub(before.inserted),
        }
    }
}

/// The engine counts a write through a partitioned table in the
/// partitions whose rows it changes; a change's capture (or an undo's own
/// rows, `expected`) holds them under the table the preview counted them
/// in. Each partition's counts go to its nearest ancestor among those
/// tables (none: they stay, and count as beyond what was expected).
pub(crate) fn roll_up_partitions(
    counters: &mut BTreeMap<QualName, TableCounts>,
    expected: &BTreeMap<QualName, TableCounts>,
    schema: &crate::schema::Schema,
    moves: bool,
) {
    let partitions: Vec<QualName> = counters
        .keys()
        .filter(|n| !expected.contains_key(*n))
        .cloned()
        .collect();
    let mut rolled: Vec<QualName> = Vec::new();
    for partition in partitions {
        // The nearest table above it that the capture holds.
        let Some(ancestor) = schema
            .partition_chain(&partition)
            .into_iter()
            .skip(1)
            .map(|t| t.name.clone())
            .find(|name| expected.contains_key(name))
        else {
            continue;
        };
        if let Some(c) = counters.remove(&partition) {
            let sum = counters.entry(ancestor.clone()).or_default();
            sum.deleted += c.deleted;
            sum.updated += c.updated;
            sum.inserted += c.inserted;
            rolled.push(ancestor);
        }
    }
    // An UPDATE that moves a row to another partition is counted as a
    // delete from the one and an insert into the other: one update of
    // the ancestor, up to the updates it expects. Only where the caller
    // says a move is what such a pair can be (`moves`: an UPDATE, no
    // trigger that could delete and insert in its place).
    for ancestor in rolled.into_iter().filter(|_| moves) {
        let want = expected.get(&ancestor).copied().unwrap_or_default();
        if let Some(sum) = counters.get_mut(&ancestor) {
            let moved = sum
                .deleted
                .saturating_sub(want.deleted)
                .min(sum.inserted.saturating_sub(want.inserted))
                .min(want.updated.saturating_sub(sum.updated));
            sum.deleted -= moved;
            sum.inserted -= moved;
            sum.updated += moved;
        }
    }
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

/// A table whose rows a write changes, with the triggers the schema the
/// write was previewed with lists on it ([`PreviewTx::beyond_the_rows`]):
/// the schema is read once per session, and a trigger created, enabled
/// or altered since was never judged by the preview.
#[derive(Debug, Clone, Copy)]
pub struct Touched<'a> {
    pub table: &'a crate::schema::QualName,
    pub triggers: &'a [crate::schema::Trigger],
}

impl<'a> Touched<'a> {
    /// `table` with the triggers `schema` lists on it (none when it does
    /// not know the table).
    pub fn in_schema(schema: &'a Schema, table: &'a crate::schema::QualName) -> Touched<'a> {
        let triggers = schema.get(table).map(|t| t.triggers.as_slice());
        Touched {
            table,
            triggers: triggers.unwrap_or_default(),
        }
    }
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

/// What running the operator's statement did: the row count it reports,
/// and where the engine counts them (SQLite's `total_changes()`), every
/// row it changed, foreign-key actions and triggers included, and the
/// journal's own rows left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Executed {
    pub reported: u64,
    pub changed: Option<u64>,
}

/// Where the rows an INSERT adds go: the journal's snapshot `into`, whose
/// columns are `columns` of `table` in order (after `locator`'s values,
/// where the engine keeps them), leaving out rows that were updated rather
/// than inserted (an upsert's), which the snapshot `updated` holds.
#[derive(Debug, Clone, Copy)]
pub struct InsertCapture<'a> {
    pub table: &'a str,
    pub into: &'a str,
    pub columns: &'a [String],
    /// What finds an inserted row again.
    pub locator: &'a crate::schema::Locator,
    pub updated: Option<&'a str>,
    /// The rows the statement inserts, when they are known before it
    /// runs: found by them instead of being watched as they go in.
    pub inserted_keys: Option<InsertedKeys<'a>>,
}

/// An INSERT's own `RETURNING` list, whose rows the operator sees. On
/// Postgres the statement runs inside one that also copies the rows it
/// inserts, as `then_all`: its text with `*` after its own list (so its
/// own columns come first, however they are named); SQLite runs it as
/// typed.
pub struct OwnReturning<'a> {
    pub then_all: &'a str,
    pub sink: &'a mut dyn RowSink,
}

/// The key values of the rows an INSERT puts in, when it inserts exactly
/// those rows or fails: an undo's re-insert with no conflicts, under a
/// one-column key (SQLite's `INTEGER PRIMARY KEY`; a NULL among them sends
/// the engine back to watching the rows go in).
#[derive(Debug, Clone, Copy)]
pub struct InsertedKeys<'a> {
    /// A query of the values, as its one column `k`.
    pub query: &'a str,
    /// The key column, quoted.
    pub column: &'a str,
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
    /// Runs one statement of dbguard's own (the journal's); returns the
    /// rows it reports.
    fn execute(&mut self, sql: &str) -> Result<u64>;
    /// Runs the operator's INSERT and copies every row it inserts into
    /// `capture.into`, found without scanning the table: through
    /// `returning_all` (the same statement returning every column) on
    /// Postgres, a temporary trigger on SQLite. The rows of the
    /// statement's own `RETURNING` list go to `own`, when given. Returns
    /// the rows the statement reported and the rows it inserted.
    fn execute_insert(
        &mut self,
        statement: &str,
        returning_all: Option<&str>,
        capture: &InsertCapture<'_>,
        own: Option<OwnReturning<'_>>,
    ) -> Result<(Executed, u64)>;
    /// Runs the operator's statement (not an INSERT) as typed; the rows
    /// of its own `RETURNING` list go to `returned`, when given.
    fn execute_statement(
        &mut self,
        sql: &str,
        returned: Option<&mut dyn RowSink>,
    ) -> Result<Executed>;
    /// Per-table row counts of this transaction so far, where the engine
    /// keeps them (Postgres `pg_stat_xact_user_tables`).
    fn counters(
        &mut self,
    ) -> Result<Option<std::collections::BTreeMap<crate::schema::QualName, TableCounts>>>;
    /// Keeps triggers (and foreign-key actions, where the engine can) from
    /// writing while `tables` are restored, so restored rows cannot be
    /// bent on the way in: Postgres `session_replication_role = replica`
    /// for the rest of the transaction, where the role may set it (a
    /// superuser, or granted SET on the parameter; the caller then checks
    /// referential integrity itself); SQLite drops the tables' triggers,
    /// to be created again by [`ApplyTx::end_restore`].
    fn restore_mode(&mut self, tables: &[crate::schema::QualName]) -> Result<restore::RestoreMode>;
    /// Puts back what [`ApplyTx::restore_mode`] took away for the restore
    /// (SQLite's triggers, from their own text), before commit.
    fn end_restore(&mut self) -> Result<()>;
    /// Defers foreign-key checks to the end of the transaction, where the
    /// engine checks them at the end of each statement otherwise (SQLite's
    /// `defer_foreign_keys`); false where it cannot.
    fn defer_foreign_keys(&mut self) -> Result<bool>;
    /// Runs now what the engine would run at commit: deferred constraint
    /// triggers (Postgres `SET CONSTRAINTS ALL IMMEDIATE`), whose writes
    /// would otherwise land after the last look at what the transaction
    /// changed. A deferred check that fails fails here. Called once the
    /// change's own statements are done.
    fn fire_deferred(&mut self) -> Result<()>;
    /// Relations outside the journal this transaction changed where its
    /// row counters do not look, by the locks it holds: tables held
    /// exclusively (Postgres ACCESS EXCLUSIVE: truncated, rewritten,
    /// altered or dropped) and foreign tables written (their rows live on
    /// another server). None on SQLite, which has no such statement a
    /// trigger could run.
    fn held_beyond_counters(&mut self) -> Result<Vec<(crate::schema::QualName, Held)>>;
    /// Rows of the system catalog this transaction has inserted, updated
    /// or deleted so far (DDL, GRANT, COMMENT, ...), large objects aside
    /// ([`ApplyTx::counters`] has them), less what dbguard's own journal
    /// DDL wrote since the first call; 0 on SQLite, whose triggers cannot
    /// run DDL.
    fn catalog_writes(&mut self) -> Result<u64>;
}

/// How a relation was changed where no row counter looks
/// ([`ApplyTx::held_beyond_counters`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// Truncated, rewritten, altered or dropped.
    Exclusively,
    /// A foreign table written: rows on another server.
    ForeignWrite,
}

impl std::fmt::Display for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Held::Exclusively => "truncated, rewritten or altered: held exclusively",
            Held::ForeignWrite => {
                "a foreign table written: its rows live on another server, beyond the undo entry"
            }
        })
    }
}

/// Whether `e` is the engine refusing a duplicate key (Postgres 23505,
/// SQLite's primary key or unique constraint).
pub(crate) fn is_unique_violation(e: &Error) -> bool {
    if let Some(pg) = e.cause::<::postgres::Error>() {
        return pg.code() == Some(&::postgres::error::SqlState::UNIQUE_VIOLATION);
    }
    if let Some(rusqlite::Error::SqliteFailure(f, _)) = e.cause::<rusqlite::Error>() {
        return f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE;
    }
    false
}

/// Whether `e` is the engine refusing for lack of a privilege (Postgres
/// 42501; SQLite's read-only file).
pub(crate) fn is_insufficient_privilege(e: &Error) -> bool {
    if let Some(pg) = e.cause::<::postgres::Error>() {
        return pg.code() == Some(&::postgres::error::SqlState::INSUFFICIENT_PRIVILEGE);
    }
    if let Some(rusqlite::Error::SqliteFailure(f, _)) = e.cause::<rusqlite::Error>() {
        return f.code == rusqlite::ErrorCode::ReadOnly;
    }
    false
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
    /// transaction, streaming its rows to `sink`. Code of the database's
    /// own that the text names and that reaches beyond what the
    /// transaction stops refuses the read (Postgres).
    pub fn run_read(&mut self, sql: &str, sink: &mut dyn RowSink) -> Result<ReadSummary> {
        match self {
            Connection::Postgres(c) => c.run_read(sql, sink),
            Connection::Sqlite(c) => c.run_read(sql, sink),
        }
    }

    /// Runs a session setting the guard allowed (`SET search_path ...`):
    /// exactly one statement, or none.
    pub fn run_session(&mut self, sql: &str) -> Result<()> {
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

    /// Runs `f` in a read-only snapshot with every output setting pinned
    /// (see `postgres::PgConnection::exact_read`): the journal's reads.
    pub fn exact_read<T>(&mut self, f: impl FnOnce(&mut dyn PreviewTx) -> Result<T>) -> Result<T> {
        match self {
            Connection::Postgres(c) => c.exact_read(f),
            Connection::Sqlite(c) => c.exact_read(f),
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

    /// A short write transaction that reads what other transactions
    /// committed while it waited for a lock (Postgres READ COMMITTED):
    /// the audit trail's appends.
    pub fn short_write<T>(
        &mut self,
        opts: &GuardOptions,
        f: impl FnOnce(&mut dyn ApplyTx) -> Result<T>,
    ) -> Result<T> {
        match self {
            Connection::Postgres(c) => c.short_write(opts, f),
            Connection::Sqlite(c) => c.short_write(opts, f),
        }
    }

    /// A data-version token a preview read ([`PreviewTx::data_version`]),
    /// moved past this connection's own writes since (audit appends):
    /// `Some` when nobody else committed in between, `None` otherwise.
    pub fn refresh_version(&mut self, old: &str) -> Result<Option<String>> {
        match self {
            Connection::Postgres(c) => c.refresh_version(old),
            Connection::Sqlite(c) => c.refresh_version(old),
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
