//! The undo journal: a SQLite file that records, durably and before the
//! change commits, everything needed to put every changed row back.
//!
//! One journal may be shared by several shells (WAL mode, a busy timeout,
//! `BEGIN IMMEDIATE` for writers). Its schema is versioned with
//! `PRAGMA user_version`; a journal written by a newer dbguard is refused
//! untouched rather than misread.
//!
//! Write-ahead protocol (`guarded`): a change's rows are streamed into one
//! journal transaction while the target transaction is open; the entry is
//! durable as `prepared` before the target commits, and marked `committed`
//! after. [`reconcile`] settles entries a crash left `prepared`.
//!
//! The file's parts: `schema` (tables and migrations), `codec` (how a row
//! is stored), `write` (recording a change), `read` (changes and their rows
//! in restore order), `guarded` (the protocol), `audit` (the hash-chained
//! audit trail).
//!
//! Values are stored as JSON: Postgres values as their text form (a string,
//! or null), SQLite values tagged with their storage class (`{"int": "42"}`,
//! `{"real": "0x3ff0000000000000"}` with the exact bits, `{"blob": "00ff"}`,
//! text as a plain string), so every value round-trips exactly.
//!
//! Large deletes are captured in bulk, as chunks of rows in the engine's
//! own bulk format (`BulkFormat`): Postgres `COPY` text, or for SQLite
//! one MessagePack array per row (`crate::db::sqlite::packed`, a blob; schema 7),
//! each value exactly as SQLite holds it. Journals written before schema 7
//! hold SQLite's rows as one JSON array per line as `json_array()` writes
//! it (numbers with a `.` or an exponent are reals, given with enough
//! digits to round-trip; blobs as `{"blob": "HEX"}`); those still read.
//!
//! A chunk may stand for another change's chunk in the same file instead of
//! holding its lines: an undo that put back a delete's chunks exactly
//! records them that way (`Recording::chunk_ref`). The read queries
//! resolve the reference, so readers see rows either way.

pub mod audit;
mod codec;
mod guarded;
mod read;
mod schema;
mod write;

#[cfg(test)]
mod tests;

pub use guarded::reconcile;
pub use guarded::run_guarded;
pub use schema::SCHEMA_VERSION;
pub use write::Recording;

use std::path::{Path, PathBuf};

use rusqlite::Connection as RawConnection;
use serde::{Deserialize, Serialize};

use crate::db::Value;
use crate::error::{Error, Result};
use crate::model::{ChangeKind, Engine};

/// Where a change stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Durable, target commit not yet confirmed.
    Prepared,
    Committed,
    /// The target transaction did not commit.
    Aborted,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Prepared => "prepared",
            Status::Committed => "committed",
            Status::Aborted => "aborted",
        }
    }

    fn parse(s: &str) -> Result<Status> {
        match s {
            "prepared" => Ok(Status::Prepared),
            "committed" => Ok(Status::Committed),
            "aborted" => Ok(Status::Aborted),
            other => Err(Error::database(format!(
                "journal has unknown status {other:?}"
            ))),
        }
    }
}

/// What one row change was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Delete,
    Update,
    Insert,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Delete => "delete",
            Op::Update => "update",
            Op::Insert => "insert",
        }
    }

    fn parse(s: &str) -> Result<Op> {
        match s {
            "delete" => Ok(Op::Delete),
            "update" => Ok(Op::Update),
            "insert" => Ok(Op::Insert),
            other => Err(Error::database(format!(
                "journal has unknown row op {other:?}"
            ))),
        }
    }
}

/// What a change was done to, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeMeta {
    pub operator: String,
    pub engine: Engine,
    pub target: String,
    pub target_database: String,
    pub system_identifier: Option<String>,
    pub statement: String,
    pub kind: ChangeKind,
    pub digest: String,
    /// The impact preview that was confirmed, as JSON.
    pub impact: String,
    pub undo_of: Option<i64>,
}

/// A journal entry as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub id: i64,
    pub created_at: String,
    pub status: Status,
    pub txid: Option<String>,
    pub partial: Option<String>,
    pub committed_at: Option<String>,
    pub row_count: i64,
    #[serde(flatten)]
    pub meta: ChangeMeta,
}

/// One journaled row change.
#[derive(Debug, Clone, PartialEq)]
pub struct RowChange {
    pub seq: i64,
    pub table: String,
    pub op: Op,
    /// The row's key values after the change (before it, for deletes).
    pub key: Vec<Value>,
    pub before: Option<Vec<Value>>,
    pub after: Option<Vec<Value>>,
}

/// Now, in RFC 3339 UTC to the second, as every journal time is written.
fn now() -> String {
    format!("{:.0}", jiff::Timestamp::now())
}

/// Where dbguard keeps its state on this machine: the default journal and
/// the shell history. `$XDG_STATE_HOME/dbguard`, default
/// `~/.local/state/dbguard`.
pub(crate) fn state_dir() -> Option<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_STATE_HOME").filter(|x| !x.is_empty()) {
        return Some(PathBuf::from(x).join("dbguard"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".local/state/dbguard"))
}

/// Puts the journal in WAL mode. Switching a file's mode takes an
/// exclusive lock and SQLite answers "database is locked" at once, without
/// the busy handler, when another handle holds one at that moment: two
/// shells opening a new journal together. Such a clash lasts as long as the
/// other handle's switch or migration, so it is retried within the same
/// 30 s the busy timeout gives everything else.
fn wal_mode(conn: &RawConnection) -> Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match conn.pragma_update(None, "journal_mode", "wal") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            other => return Ok(other?),
        }
    }
}

/// An open journal file.
pub struct Journal {
    conn: RawConnection,
    path: PathBuf,
}

impl Journal {
    /// `$XDG_STATE_HOME/dbguard/journal.sqlite` (default
    /// `~/.local/state/dbguard/journal.sqlite`).
    pub(crate) fn default_path() -> Option<PathBuf> {
        state_dir().map(|d| d.join("journal.sqlite"))
    }

    /// Opens (creating if needed) the journal at `path`, or the default.
    pub fn open(path: Option<&Path>) -> Result<Journal> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None => Journal::default_path().ok_or_else(|| {
                Error::io("no journal location: set XDG_STATE_HOME or HOME, or give --journal PATH")
            })?,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::io(format!(
                    "cannot create journal directory {}: {e}",
                    dir.display()
                ))
            })?;
        }
        let mut conn = RawConnection::open(&path)
            .map_err(|e| Error::io(format!("cannot open journal {}: {e}", path.display())))?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(Error::io(format!(
                "journal {} was written by a newer dbguard (schema {version}; this version reads {SCHEMA_VERSION})\nUpgrade dbguard to read it; the file was not changed.",
                path.display()
            )));
        }
        // WAL lets several shells read while one writes; FULL makes every
        // commit durable before it returns, which the write-ahead protocol
        // relies on.
        // A new journal gets 64 KiB pages: its bulk is chunks of a few
        // hundred KiB, which SQLite writes to the WAL (and checkpoints) a
        // page per system call; with 4 KiB pages that was a tenth of a
        // 100k-row apply. An existing file keeps its page size.
        conn.pragma_update(None, "page_size", 65536)?;
        wal_mode(&conn)?;
        // SQLite checkpoints after 1,000 pages of WAL: 4 MiB with 4 KiB
        // pages, 64 MiB with 64 KiB ones. Keep it near 4 MiB.
        let page: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        conn.pragma_update(None, "wal_autocheckpoint", (4 << 20) / page.max(512))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        // A large page cache (two handles during an undo) was most of the
        // growth of peak memory from a 10k-row to a 1M-row change, hence
        // 512 KiB. But with 64 KiB pages that is 8 pages, fewer than one
        // write touches (the chunks table and its leaf, overflow pages,
        // `change_rows` and its two indexes, `changes`): pages were evicted,
        // spilled to the WAL and read back again and again. A 100k-row
        // apply read 60 MB from the journal for 7.4 MB of chunks, and spent
        // 15-20 ms more in the kernel. At least 32 pages (2 MiB with
        // 64 KiB pages), per handle.
        conn.pragma_update(None, "cache_size", ((512 << 10) / page.max(512)).max(32))?;
        if version < SCHEMA_VERSION {
            schema::migrate(&mut conn, &path)?;
        }
        Ok(Journal { conn, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
