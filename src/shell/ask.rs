//! Questions asked on the terminal in the middle of a change ("Apply this
//! change?", an approval token, creating the journal). They are read with
//! the line editor, as the prompt is, so the terminal is raw while a
//! person decides: Ctrl-C cancels the question instead of reaching the
//! process as SIGINT, and the shell goes on with nothing applied.

use std::sync::atomic::{AtomicU64, Ordering};

use rustyline::error::ReadlineError;

use crate::error::{Error, Result};

/// What the person at the terminal answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    Line(String),
    /// Ctrl-C, or Ctrl-D: no answer, so nothing happens.
    Cancelled,
}

impl Answer {
    /// The line, or an empty one for a cancelled question.
    pub fn text(self) -> String {
        match self {
            Answer::Line(s) => s,
            Answer::Cancelled => String::new(),
        }
    }
}

/// Microseconds spent waiting for answers, ever: `\timing` leaves them
/// out, so it reports the statement's time, not the person's.
static WAITED_US: AtomicU64 = AtomicU64::new(0);

/// Time spent waiting for answers so far.
pub(crate) fn waited() -> std::time::Duration {
    std::time::Duration::from_micros(WAITED_US.load(Ordering::SeqCst))
}

/// Asks `prompt` and reads one line. No history: answers are not
/// statements, and tokens are credentials.
pub(crate) fn ask(prompt: &str) -> Result<Answer> {
    let started = std::time::Instant::now();
    let answer = read(prompt);
    let us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    WAITED_US.fetch_add(us, Ordering::SeqCst);
    answer
}

fn read(prompt: &str) -> Result<Answer> {
    let config = rustyline::Config::builder().auto_add_history(false).build();
    let mut editor = rustyline::DefaultEditor::with_config(config)
        .map_err(|e| Error::io(format!("cannot read the answer: {e}")))?;
    let read = super::interrupt::reading(|| editor.readline(prompt));
    if super::interrupt::interrupted() {
        return Ok(Answer::Cancelled);
    }
    match read {
        Ok(line) => Ok(Answer::Line(line)),
        Err(ReadlineError::Interrupted | ReadlineError::Eof) => Ok(Answer::Cancelled),
        Err(e) => Err(Error::io(format!("cannot read the answer: {e}"))),
    }
}
