//! The undo journal, inside the target database: every change made through
//! dbguard, the exact rows it changed, the approvals it consumed and the
//! audit trail, committed in the same transaction as the change itself.
//!
//! On Postgres the journal is the schema `dbguard`; on SQLite, the
//! `dbguard_` tables of the target file (`crate::db::journal`). A change's
//! entry, its rows, the nonces of its approval tokens and its audit record
//! are written in the change's own transaction: a crash at any point leaves
//! the change with its entry, or neither. There is nothing to settle later.
//!
//! Rows never leave the server on their way into the journal: each part of
//! a table's rows (deleted, updated before and after, inserted) is copied
//! by the server into a snapshot table of its own, column for column, in
//! the columns' own types (SQLite: storage classes). No session setting can
//! change a captured value, and capture costs what a `CREATE TABLE AS`
//! does.
//!
//! The parts: `schema` (creating, checking and migrating the journal),
//! `write` (recording a change), `read` (changes and their rows), `audit`
//! (the hash-chained trail and its local witness), `policy` (the policy
//! the database pins), `import` (entries of the journal files older
//! releases kept beside the target, read by `file`).

pub mod audit;
pub mod file;
pub mod import;
pub mod policy;
pub mod prune;
pub(crate) mod read;
pub(crate) mod schema;
pub mod trail;
pub mod vouched;
pub mod write;

pub use read::{ChangeRows, RowChange};
pub(crate) use schema::require_in;
pub use schema::{Init, JOURNAL_VERSION, JournalState, init, state};
pub use write::Recording;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::model::{ChangeKind, Engine};
use crate::schema::TableInfo;

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
}

/// What a change was done to, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeMeta {
    pub operator: String,
    pub engine: Engine,
    /// The target as the operator named it, without a password.
    pub target: String,
    /// The database name (Postgres) or file path (SQLite).
    pub database: String,
    /// The Postgres cluster's system identifier.
    pub system_identifier: Option<String>,
    pub statement: String,
    pub kind: ChangeKind,
    pub digest: String,
    /// The impact preview that was confirmed, as JSON.
    pub impact: String,
    /// The change this one undid, in the same journal.
    pub undo_of: Option<i64>,
    /// The change of another database this one put back (`undo replay`),
    /// as `target#id`.
    pub replay_of: Option<String>,
}

impl ChangeMeta {
    /// The entry of a change made now on the target `id` describes.
    pub(crate) fn for_target(
        id: &crate::db::TargetIdentity,
        operator: &str,
        statement: &str,
        kind: ChangeKind,
        digest: &str,
        impact: String,
    ) -> ChangeMeta {
        ChangeMeta {
            operator: operator.to_owned(),
            engine: id.engine,
            target: id.display.clone(),
            database: id.database.clone(),
            system_identifier: id.system_identifier.clone(),
            statement: statement.to_owned(),
            kind,
            digest: digest.to_owned(),
            impact,
            undo_of: None,
            replay_of: None,
        }
    }
}

/// A journal entry as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub id: i64,
    pub created_at: String,
    /// Set when the change is only partly covered by its entry.
    pub partial: Option<String>,
    pub row_count: i64,
    /// Bytes its snapshots take in the journal.
    pub bytes: i64,
    /// When its rows were dropped from the journal (`undo prune`).
    pub pruned_at: Option<String>,
    /// The change that undid it.
    pub undone_by: Option<i64>,
    #[serde(flatten)]
    pub meta: ChangeMeta,
}

/// A table a change touched: how its rows are described, found again, and
/// how many of each part the journal holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableEntry {
    #[serde(flatten)]
    pub info: TableInfo,
    /// What finds a row of the table again.
    pub locator: crate::schema::Locator,
    /// The table's number in the change (1, 2, ...), which names its
    /// snapshots; tables restored at the same position have different ones.
    pub slot: i64,
    pub deleted: u64,
    pub updated: u64,
    pub inserted: u64,
}

/// An approval a change consumed: who signed, with which key, the token's
/// nonce (a token is good for one change), when it was accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalUse {
    pub principal: String,
    /// `SHA256:...`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    pub nonce: String,
    /// When the approval was accepted (Unix seconds).
    pub signed_at: i64,
    /// When the change used it (RFC 3339, UTC); unset until recorded.
    pub used_at: Option<String>,
}

/// Where the journal is in a target of `engine`, for the operator.
pub fn describe_location(engine: Engine) -> String {
    match engine {
        Engine::Postgres => format!(
            "the schema {} (changes, their rows, approvals used, the audit trail)",
            crate::db::journal::journal_schema()
        ),
        Engine::Sqlite => {
            "the dbguard_ tables of the file (changes, their rows, approvals used, the audit trail)"
                .to_owned()
        }
    }
}

/// Now, in RFC 3339 UTC to the second, as every journal time is written.
fn now() -> String {
    format!("{:.0}", jiff::Timestamp::now())
}

/// Where dbguard keeps its state on this machine: the shell history and
/// the audit witness. `$XDG_STATE_HOME/dbguard`, default
/// `~/.local/state/dbguard`.
pub(crate) fn state_dir() -> Option<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_STATE_HOME").filter(|x| !x.is_empty()) {
        return Some(PathBuf::from(x).join("dbguard"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".local/state/dbguard"))
}
