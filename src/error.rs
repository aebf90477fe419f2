//! The crate's one error type and the exit codes it maps to.
//!
//! Every failure a user can see ends up here, so the binary can map it to an
//! exit code in one place (`main.rs`). The codes are a contract documented in
//! the README: scripts branch on them.
//!
//! Messages follow one shape: the object and the consequence first, then, on
//! the next line, what to do about it.

use std::fmt;

/// Exit codes of `dbguard exec` and friends (see the README).
pub mod exit {
    /// Done.
    pub const OK: i32 = 0;
    /// Error or bad input.
    pub const ERROR: i32 = 1;
    /// Denied by policy.
    pub const DENIED: i32 = 2;
    /// Approval missing or invalid.
    pub const APPROVAL: i32 = 3;
    /// The database changed since the preview.
    pub const DRIFT: i32 = 4;
    /// The statement would fail (blocked by a restricting reference).
    pub const WOULD_FAIL: i32 = 5;
}

/// What went wrong, sorted by what the caller should do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The user's input (arguments, SQL, target string) is wrong.
    Input,
    /// The target could not be reached or opened.
    Connect,
    /// The database answered with an error.
    Database,
    /// The guard refused to run a statement.
    Refused,
    /// A local file or terminal could not be read or written.
    Io,
    /// Some statements of a script failed; each was already reported.
    ScriptFailed,
    /// The previewed statement would fail (a restricting reference).
    WouldFail,
    /// The database changed between the preview and the apply.
    Drift,
    /// Policy denies the change.
    Denied,
    /// Approvals are missing or invalid.
    Approval,
}

/// An error with a message written for the person at the terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    /// An approval request line the error carries (exit 3 with a request).
    pub request: Option<String>,
    /// Already shown to the user where it happened; only the exit status
    /// is left to give.
    pub reported: bool,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            request: None,
            reported: false,
        }
    }
    pub fn input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Input, message)
    }
    pub fn connect(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Connect, message)
    }
    pub fn database(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Database, message)
    }
    pub fn refused(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Refused, message)
    }
    pub fn io(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Io, message)
    }
    pub fn drift(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Drift, message)
    }
    pub fn denied(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Denied, message)
    }
    pub fn approval(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Approval, message)
    }

    /// The process exit status for this error.
    pub fn exit_code(&self) -> i32 {
        match self.kind {
            ErrorKind::Input
            | ErrorKind::Connect
            | ErrorKind::Database
            | ErrorKind::Refused
            | ErrorKind::Io
            | ErrorKind::ScriptFailed => exit::ERROR,
            ErrorKind::WouldFail => exit::WOULD_FAIL,
            ErrorKind::Drift => exit::DRIFT,
            ErrorKind::Denied => exit::DENIED,
            ErrorKind::Approval => exit::APPROVAL,
        }
    }

    /// Marks the error as already reported.
    pub fn reported(mut self) -> Self {
        self.reported = true;
        self
    }

    /// Attaches an approval request line.
    pub fn with_request(mut self, line: String) -> Self {
        self.request = Some(line);
        self
    }

    /// Prefixes the message with context, keeping the kind.
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::database(crate::db::sqlite::describe_error(&e))
    }
}

impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Self {
        Error::database(crate::db::postgres::describe_error(&e))
    }
}
