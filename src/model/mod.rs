//! The vocabulary every layer shares: which engine a target runs, what
//! kind of change a plan makes, the values rows hold, and the
//! administrative calls the guard knows.
//!
//! It sits below everything else (it imports nothing from the crate), so
//! the schema model, the SQL classifier, policy and the journal can all
//! name an engine or a change kind without depending on the layers that
//! know how to talk to an engine. What differs between the engines is not
//! here: that lives in `crate::db`.

use serde::{Deserialize, Serialize};

pub mod admin;
mod value;

pub use value::Value;

/// Which database engine a target runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Engine {
    #[serde(rename = "PostgreSQL")]
    Postgres,
    #[serde(rename = "SQLite")]
    Sqlite,
}

impl Engine {
    /// The engine's name as users know it, and as the journal records it.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Postgres => "PostgreSQL",
            Engine::Sqlite => "SQLite",
        }
    }
}

/// What kind of change a plan makes: what policy rules match on
/// (`operations = [...]`), what the journal records, what an approval
/// names. `merge` and `ddl` can be named by policy before dbguard can
/// preview them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Insert,
    Update,
    Delete,
    Truncate,
    Merge,
    Ddl,
    Undo,
    /// A policy pushed into the database (`dbguard policy push`).
    Policy,
    /// An administrative call on another session (`SELECT
    /// pg_terminate_backend(PID)`, `crate::sql::admin`).
    Admin,
}

impl ChangeKind {
    /// Every kind, in the order policy files list them.
    pub const ALL: [ChangeKind; 9] = [
        ChangeKind::Insert,
        ChangeKind::Update,
        ChangeKind::Delete,
        ChangeKind::Truncate,
        ChangeKind::Merge,
        ChangeKind::Ddl,
        ChangeKind::Undo,
        ChangeKind::Policy,
        ChangeKind::Admin,
    ];

    /// The kind's name, as policy files, the journal and JSON spell it.
    pub fn name(self) -> &'static str {
        match self {
            ChangeKind::Insert => "insert",
            ChangeKind::Update => "update",
            ChangeKind::Delete => "delete",
            ChangeKind::Truncate => "truncate",
            ChangeKind::Merge => "merge",
            ChangeKind::Ddl => "ddl",
            ChangeKind::Undo => "undo",
            ChangeKind::Policy => "policy",
            ChangeKind::Admin => "admin",
        }
    }
}

impl std::fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A kind by its name, as policy files and the journal spell it (any case).
impl std::str::FromStr for ChangeKind {
    type Err = crate::error::Error;

    fn from_str(s: &str) -> Result<ChangeKind, Self::Err> {
        ChangeKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| crate::error::Error::input(format!("unknown kind of change {s:?}")))
    }
}

/// An engine by the name [`Engine::name`] gives it (as the journal records
/// it).
impl std::str::FromStr for Engine {
    type Err = crate::error::Error;

    fn from_str(s: &str) -> Result<Engine, Self::Err> {
        match s {
            "PostgreSQL" => Ok(Engine::Postgres),
            "SQLite" => Ok(Engine::Sqlite),
            other => Err(crate::error::Error::database(format!(
                "unknown engine {other:?}"
            ))),
        }
    }
}
