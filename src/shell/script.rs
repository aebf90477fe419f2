//! A piped script's lines, read one at a time with one line of
//! look-ahead: the shell runs them as statements, and the gate may take
//! the lines after an approval request as tokens, leaving any other line
//! for the shell.

use std::io::BufRead;

use crate::error::{Error, Result};

/// The lines of a piped input.
pub(crate) struct Script {
    reader: Box<dyn BufRead>,
    ahead: Option<String>,
}

impl Script {
    pub fn new(reader: Box<dyn BufRead>) -> Script {
        Script {
            reader,
            ahead: None,
        }
    }

    /// The next line, with its newline; `None` at the end of the input.
    pub fn next_line(&mut self) -> Result<Option<String>> {
        if let Some(line) = self.ahead.take() {
            return Ok(Some(line));
        }
        let mut line = String::new();
        let n = self
            .reader
            .read_line(&mut line)
            .map_err(|e| Error::io(format!("cannot read input: {e}")))?;
        Ok((n > 0).then_some(line))
    }

    /// The next line if it is an approval token or a rejection; any other line stays
    /// next for the shell.
    pub fn token(&mut self) -> Result<Option<String>> {
        let Some(line) = self.next_line()? else {
            return Ok(None);
        };
        let answer = ["dbguard-approval:", "dbguard-rejection:"];
        if answer.iter().any(|p| line.trim_start().starts_with(p)) {
            Ok(Some(line))
        } else {
            self.ahead = Some(line);
            Ok(None)
        }
    }
}
