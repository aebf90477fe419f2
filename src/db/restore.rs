//! How an undo's rows went back: with triggers and foreign-key actions off
//! where the engine and the role allow it, with triggers kept from firing
//! where only that is possible, or with them firing.

use crate::schema::Trigger;

/// How rows were restored:
/// - `Replica`: triggers and foreign-key actions off (Postgres
///   `session_replication_role = replica`, where the role may set it;
///   integrity is then checked before commit);
/// - `NoTriggers`: the restored tables' triggers dropped inside the undo's
///   transaction and created again from their own text before commit
///   (SQLite, which cannot disable a trigger); foreign-key actions fire;
/// - `Triggers`: everything fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestoreMode {
    Replica,
    NoTriggers,
    Triggers,
}

impl RestoreMode {
    pub fn name(self) -> &'static str {
        match self {
            RestoreMode::Replica => "replica",
            RestoreMode::NoTriggers => "no-triggers",
            RestoreMode::Triggers => "triggers",
        }
    }

    /// What the mode means, in a few words for the undo's report.
    pub fn meaning(self) -> &'static str {
        match self {
            RestoreMode::Replica => {
                "triggers and foreign-key actions off, referential integrity checked"
            }
            RestoreMode::NoTriggers => {
                "triggers dropped for the restore and created again before commit; foreign-key actions on"
            }
            RestoreMode::Triggers => "triggers fired",
        }
    }

    /// Whether `trigger` fires while rows are restored in this mode.
    pub fn fires(self, trigger: &Trigger) -> bool {
        match self {
            RestoreMode::Replica => trigger.enabled && trigger.fires_in_replica,
            RestoreMode::NoTriggers => false,
            RestoreMode::Triggers => trigger.enabled,
        }
    }

    /// Whether foreign-key actions (cascades, SET NULL) run in this mode.
    pub fn key_actions(self) -> bool {
        self != RestoreMode::Replica
    }
}
