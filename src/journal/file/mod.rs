//! Journal files of older releases, read for `dbguard journal import`.
//!
//! Until the journal moved into the target, dbguard kept it in a SQLite
//! file on the operator's machine, versioned with `PRAGMA user_version`
//! (schemas 1 to 8, [`SCHEMA_VERSION`]). This module only reads such a
//! file, never writes it: it is opened read-only where SQLite allows, a
//! file of a newer schema is refused before anything else is read, and an
//! older schema is read as it is, not migrated (`schema` says which
//! version has what).
//!
//! What a file holds: changes (with the status of the old two-phase
//! protocol: only `committed` ones happened), the tables each touched, its
//! rows, and the approvals it used. A row was recorded one by one in
//! `change_rows`, its values as JSON (`codec`), or in bulk, in chunks of
//! `change_chunks` in the engine's bulk format (`crate::db::bulk`:
//! Postgres `COPY` text, SQLite packed rows or, before schema 7, JSON
//! lines). A chunk may stand for another change's chunk of the same rows
//! (schema 6); reading resolves it.

mod codec;
mod read;
mod schema;

pub use read::OldApproval;
pub use schema::SCHEMA_VERSION;

use std::path::{Path, PathBuf};

use rusqlite::{Connection as RawConnection, OpenFlags};
use serde::Serialize;

use crate::db::Value;
use crate::error::{Error, Result};
use crate::model::{ChangeKind, Engine};

/// Where a change stood in the old two-phase protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Recorded, the target's commit never confirmed (a crash).
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
                "the journal file has an unknown status {other:?}"
            ))),
        }
    }
}

/// A change as the file records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub id: i64,
    pub created_at: String,
    pub status: Status,
    pub partial: Option<String>,
    pub row_count: i64,
    pub operator: String,
    pub engine: Engine,
    /// The target as the operator named it.
    pub target: String,
    /// The database name (Postgres) or file path (SQLite).
    pub target_database: String,
    pub system_identifier: Option<String>,
    pub statement: String,
    pub kind: ChangeKind,
    pub digest: String,
    pub impact: String,
    /// The change of the same file this one undid.
    pub undo_of: Option<i64>,
}

/// One recorded row: its image before the change (deleted and updated
/// rows) and after it (updated and inserted rows).
#[derive(Debug, Clone, PartialEq)]
pub struct OldRow {
    pub before: Option<Vec<Value>>,
    pub after: Option<Vec<Value>>,
}

/// An open journal file of an older release.
pub struct OldJournal {
    conn: RawConnection,
    path: PathBuf,
    version: i64,
}

impl OldJournal {
    /// Opens the journal file at `path` for reading. A file of a newer
    /// schema than [`SCHEMA_VERSION`], or one that is no dbguard journal,
    /// is refused without reading further.
    pub fn open(path: &Path) -> Result<OldJournal> {
        let conn = open_read_only(path)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| not_a_journal(path, &e.to_string()))?;
        if version > SCHEMA_VERSION {
            return Err(Error::refused(format!(
                "journal file {} was written by a newer dbguard (journal schema {version}; this dbguard imports schemas 1 to {SCHEMA_VERSION})\nImport it with the dbguard that wrote it; the file was not changed.",
                path.display()
            )));
        }
        let tables: i64 = conn.query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('changes', 'change_tables', 'change_rows')",
            [],
            |r| r.get(0),
        )?;
        if version < 1 || tables < 3 {
            return Err(not_a_journal(path, "it has no journal schema"));
        }
        Ok(OldJournal {
            conn,
            path: path.to_path_buf(),
            version,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's journal schema.
    pub fn version(&self) -> i64 {
        self.version
    }
}

/// Opens `path` read-only; where SQLite cannot (a WAL file whose shared
/// memory file it may not create), read-write, never writing to it.
fn open_read_only(path: &Path) -> Result<RawConnection> {
    if !path.is_file() {
        return Err(Error::input(format!(
            "journal file {} not found\nGive the path of the journal.sqlite an older dbguard wrote.",
            path.display()
        )));
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let ro = RawConnection::open_with_flags(path, flags).and_then(|c| {
        c.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))?;
        Ok(c)
    });
    let conn = match ro {
        Ok(c) => c,
        Err(_) => RawConnection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| not_a_journal(path, &e.to_string()))?,
    };
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    // Nothing here writes; this makes SQLite refuse it if anything tried.
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

fn not_a_journal(path: &Path, why: &str) -> Error {
    Error::input(format!(
        "{} is not a dbguard journal file ({why})\nGive the path of the journal.sqlite an older dbguard wrote.",
        path.display()
    ))
}
