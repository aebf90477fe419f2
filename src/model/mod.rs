//! The vocabulary every layer shares: which engine a target runs, what
//! kind of change a plan makes, and the values rows hold.
//!
//! It sits below everything else (it imports nothing from the crate), so
//! the schema model, the SQL classifier, policy and the journal can all
//! name an engine or a change kind without depending on the layers that
//! know how to talk to an engine. What differs between the engines is not
//! here: that lives in `crate::db`.

use serde::{Deserialize, Serialize};

mod value;

pub use value::{Value, blob_text, real_text};

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
