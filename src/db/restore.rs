//! How an undo's rows went back: with triggers and foreign-key actions off
//! where the engine and the role allow it, or with them firing.

/// How rows were restored: with triggers and foreign-key actions off
/// (Postgres `session_replication_role = replica`, where the role may set
/// it; integrity is then checked before commit), or with triggers firing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RestoreMode {
    Replica,
    Triggers,
}

impl RestoreMode {
    pub fn name(self) -> &'static str {
        match self {
            RestoreMode::Replica => "replica",
            RestoreMode::Triggers => "triggers",
        }
    }
}
