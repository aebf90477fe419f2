//! The query buffer, as psql keeps it: lines typed (or read from a
//! script) gather until a `;` at the top level ends a statement, and a
//! backslash at the top level starts a meta command even in the middle of
//! a statement. `\g` and `\gx` run what is gathered without a `;`, `\r`
//! clears it, `\p` shows it, `\e` edits it; any other meta command runs
//! and leaves the buffer as it was.
//!
//! The interactive loop and script mode both feed lines here, so a script
//! and a terminal see the same statements. What the buffer holds also
//! decides the prompt (`=>`, `->`, `'>`, `(>` ...), so unfinished input is
//! never invisible.

use super::Shell;
use super::render::Expanded;
use crate::error::{Error, Result};
use crate::sql::pending::{Pending, scan};

/// What the session does after a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Continue,
    Quit,
}

/// The statement being typed, and the one run last (`\g` on an empty
/// buffer runs it again, `\e` on an empty buffer edits it).
#[derive(Debug, Default)]
pub(crate) struct QueryBuffer {
    pub text: String,
    pub last: String,
}

impl QueryBuffer {
    /// What the prompt shows: `None` when nothing is pending.
    pub fn pending(&self, engine: crate::db::Engine) -> Option<Pending> {
        (!self.text.trim().is_empty()).then(|| scan(engine, &self.text, usize::MAX).pending)
    }
}

impl Shell {
    /// Takes one line of input (without its newline) as psql does.
    pub(crate) fn take_line(&mut self, line: &str) -> Result<Step> {
        let line = line.trim_end_matches(['\n', '\r']);
        let from = if self.buffer.text.is_empty() {
            0
        } else {
            self.buffer.text.push('\n');
            self.buffer.text.len()
        };
        self.buffer.text.push_str(line);
        let found = scan(self.engine(), &self.buffer.text, from);
        let Some(at) = found.backslash else {
            self.run_ready();
            return Ok(Step::Continue);
        };
        let meta = self.buffer.text.split_off(at);
        // Text before the backslash is part of the statement; what it
        // completes runs first, as in psql.
        if self.buffer.text.trim().is_empty() {
            self.buffer.text.clear();
        }
        self.run_ready();
        self.buffer_meta(&meta)
    }

    /// Runs the statements the buffer holds up to its last top-level `;`,
    /// keeping what follows.
    fn run_ready(&mut self) {
        let found = scan(self.engine(), &self.buffer.text, usize::MAX);
        let Some(end) = found.last_end else { return };
        let rest = self.buffer.text.split_off(end + 1);
        let ready = std::mem::replace(&mut self.buffer.text, rest.trim_start().to_owned());
        self.run_buffered(ready);
    }

    fn run_buffered(&mut self, text: String) {
        if text.trim().is_empty() {
            return;
        }
        self.failed += self.run_text(&text);
        self.buffer.last = text;
    }

    /// A meta command typed where a statement may be pending.
    fn buffer_meta(&mut self, meta: &str) -> Result<Step> {
        let cmd = meta.split_whitespace().next().unwrap_or_default();
        match cmd {
            "\\g" | "\\gx" => {
                let text = if self.buffer.text.trim().is_empty() {
                    self.buffer.last.clone()
                } else {
                    std::mem::take(&mut self.buffer.text)
                };
                if text.trim().is_empty() {
                    return Err(Error::input("\\g: the query buffer is empty"));
                }
                let saved = self.display.expanded;
                if cmd == "\\gx" {
                    self.display.expanded = Expanded::On;
                }
                self.run_buffered(text);
                self.display.expanded = saved;
                Ok(Step::Continue)
            }
            "\\r" | "\\reset" => {
                self.buffer.text.clear();
                self.print("Query buffer reset (cleared).\n")?;
                Ok(Step::Continue)
            }
            "\\p" | "\\print" => {
                let shown = match (self.buffer.text.trim(), self.buffer.last.trim()) {
                    ("", "") => "Query buffer is empty.".to_owned(),
                    ("", last) => last.to_owned(),
                    (text, _) => text.to_owned(),
                };
                self.print(&format!("{shown}\n"))?;
                Ok(Step::Continue)
            }
            "\\e" | "\\edit" => {
                self.edit_buffer()?;
                Ok(Step::Continue)
            }
            _ => match self.run_meta(meta)? {
                true => Ok(Step::Continue),
                false => Ok(Step::Quit),
            },
        }
    }

    /// `\e`: the buffer (or the last statement) in `$VISUAL`/`$EDITOR`; the
    /// text comes back into the buffer and runs when it ends with `;`.
    fn edit_buffer(&mut self) -> Result<()> {
        let text = if self.buffer.text.trim().is_empty() {
            self.buffer.last.clone()
        } else {
            std::mem::take(&mut self.buffer.text)
        };
        let edited = super::editor::edit(&text)?;
        self.buffer.text = edited.trim_end().to_owned();
        self.run_ready();
        Ok(())
    }
}
