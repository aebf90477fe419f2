//! Administrative calls on other sessions, as the guard knows them: which
//! function, on which pid (recognised in `crate::sql::admin`, carried out
//! by `crate::db::admin`).

/// Which administrative function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminFunction {
    /// `pg_terminate_backend`: ends the session.
    Terminate,
    /// `pg_cancel_backend`: cancels the session's running query.
    Cancel,
}

impl AdminFunction {
    /// The function's name in SQL.
    pub fn sql_name(self) -> &'static str {
        match self {
            AdminFunction::Terminate => "pg_terminate_backend",
            AdminFunction::Cancel => "pg_cancel_backend",
        }
    }

    /// What it does to a session, as a verb phrase for messages.
    pub fn verb(self) -> &'static str {
        match self {
            AdminFunction::Terminate => "terminate session",
            AdminFunction::Cancel => "cancel the running query of session",
        }
    }

    /// What has happened once it is sent, for the change's outcome.
    pub fn done(self) -> &'static str {
        match self {
            AdminFunction::Terminate => "the session is ended",
            AdminFunction::Cancel => "its running query is cancelled",
        }
    }

    /// What it does, as a bare verb.
    pub fn action(self) -> &'static str {
        match self {
            AdminFunction::Terminate => "terminate",
            AdminFunction::Cancel => "cancel",
        }
    }

    /// The function a call names (its last name part, lower case).
    pub fn from_name(name: &str) -> Option<AdminFunction> {
        match name {
            "pg_terminate_backend" => Some(AdminFunction::Terminate),
            "pg_cancel_backend" => Some(AdminFunction::Cancel),
            _ => None,
        }
    }
}

/// One recognised administrative call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct AdminCall {
    pub function: AdminFunction,
    /// The session's process id, as typed.
    pub pid: i32,
    /// `pg_terminate_backend(pid, timeout)`: milliseconds to wait for the
    /// session to end.
    pub timeout_ms: Option<i64>,
}
