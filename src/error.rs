//! The crate's one error type and the exit codes it maps to.
//!
//! Every failure a user can see ends up here, so the command layer can map
//! it to an exit code in one place (`crate::cmd`). The codes are a contract
//! documented in the README: scripts branch on them.
//!
//! Messages follow one shape: the object and the consequence first, then, on
//! the next line, what to do about it. An error made from a driver or I/O
//! error keeps that error as its [`std::error::Error::source`], so code that
//! must react to a particular failure asks the source for its code (a
//! Postgres SQLSTATE, a SQLite result code, an I/O error kind) through
//! [`Error::cause`], never the message text.

use std::fmt;
use std::sync::Arc;

/// Exit codes of `dbguard exec` and friends (see the README).
pub mod exit {
    /// Done.
    pub(crate) const OK: u8 = 0;
    /// Error or bad input.
    pub(crate) const ERROR: u8 = 1;
    /// Denied by policy.
    pub(crate) const DENIED: u8 = 2;
    /// Approval missing or invalid.
    pub(crate) const APPROVAL: u8 = 3;
    /// The database changed since the preview.
    pub(crate) const DRIFT: u8 = 4;
    /// The statement would fail (blocked by a restricting reference).
    pub(crate) const WOULD_FAIL: u8 = 5;
    /// Ended by Ctrl-C while nothing ran that it could cancel: the status
    /// a shell gives a process ended by SIGINT.
    pub(crate) const INTERRUPTED: u8 = 130;
}

/// What went wrong, sorted by what the caller should do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// The error another one was made from.
type Source = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// An error with a message written for the person at the terminal.
#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    /// An approval request line the error carries (exit 3 with a request).
    pub request: Option<String>,
    /// Already shown to the user where it happened; only the exit status
    /// is left to give.
    pub reported: bool,
    /// The message already begins with the server's severity (`ERROR:`,
    /// `FATAL:`), the way psql prints it; others get `ERROR: ` when shown.
    pub labelled: bool,
    source: Option<Source>,
}

/// Two errors are equal when they say the same thing; their sources are
/// how they came about, not what they say.
impl PartialEq for Error {
    fn eq(&self, other: &Error) -> bool {
        self.kind == other.kind
            && self.message == other.message
            && self.request == other.request
            && self.reported == other.reported
    }
}

impl Eq for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            request: None,
            reported: false,
            labelled: false,
            source: None,
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

    /// Output that could not be written (stdout, a pipe, a file).
    pub fn output(e: std::io::Error) -> Self {
        Error::io(format!("cannot write output: {e}")).caused_by(e)
    }

    /// Keeps `source` as the cause of this error.
    pub(crate) fn caused_by(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// Marks the message as beginning with the server's severity.
    pub(crate) fn labelled(mut self) -> Self {
        self.labelled = true;
        self
    }

    /// The first error of type `T` in this error's source chain: how code
    /// asks a driver error for its SQLSTATE or an I/O error for its kind.
    pub fn cause<T: std::error::Error + 'static>(&self) -> Option<&T> {
        let mut next: Option<&(dyn std::error::Error + 'static)> = self
            .source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static));
        while let Some(e) = next {
            if let Some(found) = e.downcast_ref::<T>() {
                return Some(found);
            }
            next = e.source();
        }
        None
    }

    /// Whether the reader of our output went away (`dbguard ... | head`):
    /// not a failure of dbguard's, so the process ends quietly.
    pub(crate) fn is_broken_pipe(&self) -> bool {
        self.cause::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// The process exit status for this error.
    pub fn exit_code(&self) -> u8 {
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
    pub(crate) fn with_request(mut self, line: String) -> Self {
        self.request = Some(line);
        self
    }

    /// Prefixes the message with context, keeping the kind and the cause.
    pub(crate) fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self.labelled = false;
        self
    }

    /// The message as a shell prints it: with the server's severity, or
    /// `ERROR: ` in front.
    pub fn shown(&self) -> String {
        if self.labelled {
            self.message.clone()
        } else {
            format!("ERROR: {}", self.message)
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_found_through_the_chain() {
        let io = std::io::Error::new(std::io::ErrorKind::BrokenPipe, "gone");
        let e = Error::output(io).context("writing the list");
        assert!(e.is_broken_pipe());
        assert_eq!(e.message, "writing the list: cannot write output: gone");
        let outer = Error::io("outer").caused_by(e);
        assert!(outer.is_broken_pipe(), "found below another Error");
        assert!(!Error::io("no cause").is_broken_pipe());
    }

    #[test]
    fn shown_adds_a_severity_only_where_there_is_none() {
        assert_eq!(Error::database("x").shown(), "ERROR: x");
        assert_eq!(Error::database("FATAL: y").labelled().shown(), "FATAL: y");
        assert_eq!(
            Error::database("ERROR: y").labelled().context("c").shown(),
            "ERROR: c: ERROR: y"
        );
    }
}
