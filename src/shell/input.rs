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
        // Where a meta command starts is decided on the line as typed: a
        // variable's value is never scanned for one, as in psql.
        let found = scan(self.engine(), &self.buffer.text, from);
        let meta = found.backslash.map(|at| self.buffer.text.split_off(at));
        self.interpolate_from(from);
        // Text before the backslash is part of the statement; what it
        // completes runs first, as in psql.
        if self.buffer.text.trim().is_empty() {
            self.buffer.text.clear();
        }
        self.run_ready();
        match meta {
            None => Ok(Step::Continue),
            Some(meta) => {
                let meta = self.interpolated_meta(meta);
                self.buffer_meta(&meta)
            }
        }
    }

    /// A meta command's arguments with variables replaced.
    fn interpolated_meta(&self, meta: String) -> String {
        if self.vars.is_empty() {
            return meta;
        }
        let at = scan(self.engine(), &meta, 0).colons;
        super::settings::interpolate(&meta, &at, &self.vars)
    }

    /// psql variables typed in the buffer from `from` on, replaced.
    fn interpolate_from(&mut self, from: usize) {
        if self.vars.is_empty() {
            return;
        }
        let found = scan(self.engine(), &self.buffer.text, from);
        if found.colons.is_empty() {
            return;
        }
        let tail = self.buffer.text.split_off(from);
        let at: Vec<usize> = found.colons.iter().map(|c| c - from).collect();
        let replaced = super::settings::interpolate(&tail, &at, &self.vars);
        self.buffer.text.push_str(&replaced);
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
                let text = self.take_query();
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
            "\\watch" => {
                let text = self.take_query();
                let arg = meta.strip_prefix(cmd).map(str::trim);
                self.watch(&text, arg.filter(|a| !a.is_empty()))?;
                self.buffer.last = text;
                Ok(Step::Continue)
            }
            "\\i" | "\\include" => {
                let arg = meta.strip_prefix(cmd).map(str::trim).unwrap_or_default();
                self.include(arg)
            }
            _ => match self.run_meta(meta)? {
                true => Ok(Step::Continue),
                false => Ok(Step::Quit),
            },
        }
    }

    /// The statement the buffer holds, taken out of it; the last one run
    /// when it is empty.
    fn take_query(&mut self) -> String {
        if self.buffer.text.trim().is_empty() {
            self.buffer.text.clear();
            self.buffer.last.clone()
        } else {
            std::mem::take(&mut self.buffer.text)
        }
    }

    /// `\i FILE`: the file's lines, taken as typed ones (through the
    /// guard, meta commands included), with a buffer of their own.
    fn include(&mut self, arg: &str) -> Result<Step> {
        let Some(path) = super::settings::words(arg).into_iter().next() else {
            return Err(Error::input("\\i: missing required argument: \\i FILE"));
        };
        if self.include_depth >= 16 {
            return Err(Error::input(format!(
                "\\i {path}: files include each other more than 16 deep; stopped"
            )));
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::io(format!("\\i: cannot read {path}: {e}")))?;
        let outer = std::mem::take(&mut self.buffer.text);
        self.include_depth += 1;
        // Ctrl-C abandons the rest of the file, as in psql.
        let step = super::interrupt::holding(|| self.include_lines(&text, &path));
        let rest = std::mem::replace(&mut self.buffer.text, outer);
        self.include_depth -= 1;
        let step = step?;
        if step == Step::Continue && !rest.trim().is_empty() {
            self.run_buffered(rest);
        }
        Ok(step)
    }

    fn include_lines(&mut self, text: &str, path: &str) -> Result<Step> {
        for (n, line) in text.lines().enumerate() {
            let step = self.take_reported(line)?;
            if step == Step::Quit || self.closed.is_some() {
                return Ok(step);
            }
            if super::interrupt::interrupted() {
                self.buffer.text.clear();
                self.print_err(&format!(
                    "\\i {path}: stopped at line {} by Ctrl-C; the rest of the file was not run",
                    n + 1
                ));
                return Ok(Step::Continue);
            }
        }
        Ok(Step::Continue)
    }

    /// `\e`: the buffer (or the last statement) in `$VISUAL`/`$EDITOR`; the
    /// text comes back into the buffer and runs when it ends with `;`.
    fn edit_buffer(&mut self) -> Result<()> {
        let text = self.take_query();
        let edited = super::editor::edit(&text)?;
        self.buffer.text = edited.trim_end().to_owned();
        self.run_ready();
        Ok(())
    }
}
