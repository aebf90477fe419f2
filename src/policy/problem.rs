//! Problems found while reading a policy directory, one per line of
//! `dbguard policy check` output: `FILE:LINE: error: ...`, and the sink
//! that collects them while a file is read.

use std::fmt;
use std::path::{Path, PathBuf};

/// Errors make a policy unusable; warnings are printed and tolerated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    pub severity: Severity,
    pub message: String,
}

/// The errors among `problems`, one line each.
pub(crate) fn error_lines(problems: &[Problem]) -> Vec<String> {
    problems
        .iter()
        .filter(|p| p.is_error())
        .map(ToString::to_string)
        .collect()
}

impl Problem {
    pub(crate) fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        let word = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, ": {word}: {}", self.message)
    }
}

/// The 1-based line of byte offset `at` in `text`.
pub fn line_of(text: &str, at: usize) -> usize {
    let at = at.min(text.len());
    text.as_bytes()[..at]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Collects the problems of one file, turning byte offsets into lines.
pub(super) struct Sink<'a> {
    pub(super) file: &'a Path,
    pub(super) text: &'a str,
    pub(super) problems: &'a mut Vec<Problem>,
}

impl Sink<'_> {
    pub(super) fn push(&mut self, severity: Severity, at: Option<usize>, message: String) {
        self.problems.push(Problem {
            file: self.file.to_path_buf(),
            line: at.map(|a| line_of(self.text, a)),
            severity,
            message,
        });
    }

    pub(super) fn error(&mut self, at: usize, message: impl Into<String>) {
        self.push(Severity::Error, Some(at), message.into());
    }

    pub(super) fn warn(&mut self, at: Option<usize>, message: impl Into<String>) {
        self.push(Severity::Warning, at, message.into());
    }

    pub(super) fn line(&self, at: usize) -> usize {
        line_of(self.text, at)
    }

    /// How many errors have been collected so far (across files).
    pub(super) fn errors(&self) -> usize {
        self.problems.iter().filter(|p| p.is_error()).count()
    }
}
