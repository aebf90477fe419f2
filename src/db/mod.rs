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

pub mod postgres;
pub mod sqlite;
pub mod value;

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::schema::Schema;
pub use value::Value;

/// Which database engine a target runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    Postgres,
    Sqlite,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Postgres => "PostgreSQL",
            Engine::Sqlite => "SQLite",
        }
    }
}

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
pub enum TargetSpec {
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
    /// Opens a target string (see [`TargetSpec::parse`]).
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
    pub fn run_session(&mut self, sql: &str) -> Result<()> {
        match self {
            Connection::Postgres(c) => c.run_session(sql),
            Connection::Sqlite(c) => c.run_session(sql),
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
