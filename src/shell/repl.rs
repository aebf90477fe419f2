//! How the shell reads: the interactive loop on a terminal (a line editor
//! with history and completion, the prompt that shows where you are), and
//! script mode for piped input, which runs statements like `psql -f`.

use std::io::BufRead;
use std::path::PathBuf;

use super::input::Step;
use super::{Shell, complete};
use crate::error::{Error, ErrorKind, Result};
use crate::sql::pending::Pending;

impl Shell {
    /// Reads statements from a non-terminal, like `psql -f`: no prompt, no
    /// colors, every statement through the guard, and an error at the end
    /// if any statement failed or was refused.
    pub(crate) fn run_script(&mut self, input: Box<dyn BufRead>) -> Result<()> {
        self.script = Some(super::script::Script::new(input));
        loop {
            let line = match self.script.as_mut() {
                Some(script) => script.next_line()?,
                None => None,
            };
            let Some(line) = line else { break };
            if self.take_reported(&line)? == Step::Quit {
                break;
            }
            if let Some(e) = self.closed.take() {
                return Err(e);
            }
        }
        // A script may end without a last `;`, as with psql -f.
        let rest = std::mem::take(&mut self.buffer.text);
        if !rest.trim().is_empty() {
            self.failed += self.run_text(&rest);
        }
        if let Some(e) = self.closed.take() {
            return Err(e);
        }
        if self.failed > 0 {
            return Err(Error::new(
                ErrorKind::ScriptFailed,
                format!("{} statement(s) failed or were refused", self.failed),
            ));
        }
        Ok(())
    }

    /// Takes a line, reporting a meta command's failure; only output that
    /// can no longer be written ends the session.
    pub(super) fn take_reported(&mut self, line: &str) -> Result<Step> {
        match self.take_line(line) {
            Ok(step) => Ok(step),
            Err(e) if e.is_broken_pipe() => Err(e),
            Err(e) => {
                self.report(&e);
                self.failed += 1;
                Ok(Step::Continue)
            }
        }
    }

    /// The prompt: `production:obs (alice)=> `, and while a statement
    /// continues over several lines psql's `-> `, or what is open: `'> `,
    /// `"> `, `$> `, `*> `, `(> `. Returns (plain, colored).
    pub fn prompt(&self, pending: Option<Pending>) -> (String, String) {
        let env = self.env_label.as_deref().unwrap_or("unknown");
        let id = self.conn.identity();
        let db = if id.is_file() {
            std::path::Path::new(&id.database)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "sqlite".into())
        } else {
            id.database.clone()
        };
        let tail = match pending {
            None => "=> ".to_owned(),
            Some(p) => format!("{}> ", p.prompt_char()),
        };
        let plain = format!("{env}:{db} ({}){tail}", self.operator);
        if !self.display.color {
            return (plain.clone(), plain);
        }
        let env_color = match env {
            "production" | "prod" => "\x1b[1;31m",
            "staging" => "\x1b[1;33m",
            _ => "\x1b[1;32m",
        };
        let colored = format!(
            "{env_color}{env}\x1b[0m:\x1b[1m{db}\x1b[0m ({}){tail}",
            self.operator
        );
        (plain, colored)
    }

    /// The interactive loop on a terminal.
    pub(crate) fn run_interactive(&mut self) -> Result<()> {
        use rustyline::error::ReadlineError;
        use rustyline::history::FileHistory;
        use rustyline::{Config, Editor};

        let config = Config::builder()
            .auto_add_history(false)
            .completion_type(rustyline::CompletionType::List)
            .max_history_size(10_000)
            .map_err(|e| Error::io(format!("cannot configure line editor: {e}")))?
            .build();
        let mut editor: Editor<complete::ShellHelper, FileHistory> = Editor::with_config(config)
            .map_err(|e| Error::io(format!("cannot start line editor: {e}")))?;
        editor.set_helper(Some(complete::ShellHelper::new(self.schema())));
        let history = history_path();
        if let Some(h) = &history {
            let _ = editor.load_history(h);
        }
        let ident = self.conn.identity().clone();
        self.print(&format!(
            "dbguard {} — {} {} ({})\nType \\? for help. Reads run read-only; a write shows its preview and asks before it is applied.\n",
            env!("CARGO_PKG_VERSION"),
            ident.engine.name(),
            ident.server_version,
            ident.display
        ))?;
        // The lines of the statement being typed: one history entry once
        // it has run, saved at once so a killed session keeps it.
        let mut typed: Vec<String> = Vec::new();
        loop {
            let prompt = self.prompt(self.buffer.pending(self.engine()));
            let read = super::interrupt::reading(|| editor.readline(&prompt));
            // Ctrl-C on a terminal the editor cannot drive came as a
            // signal: the line is dropped, as the editor drops it.
            let read = match read {
                Ok(_) if super::interrupt::interrupted() => Err(ReadlineError::Interrupted),
                other => other,
            };
            match read {
                Ok(input) => {
                    typed.push(input.clone());
                    let step = self.take_reported(&input)?;
                    if self.buffer.text.is_empty() {
                        remember(&mut editor, history.as_deref(), &typed.join("\n"));
                        typed.clear();
                    }
                    if step == Step::Quit {
                        break;
                    }
                }
                // Ctrl-C drops what was typed, like psql; only Ctrl-D or
                // \q end the session.
                Err(ReadlineError::Interrupted) => {
                    self.buffer.text.clear();
                    typed.clear();
                }
                Err(ReadlineError::Eof) => break,
                Err(e) => return Err(Error::io(format!("cannot read input: {e}"))),
            }
        }
        Ok(())
    }
}

fn history_path() -> Option<PathBuf> {
    crate::journal::state_dir().map(|d| d.join("history"))
}

/// Adds a statement or meta command to the history and appends it to the
/// history file now. Approval tokens are credentials: never kept.
fn remember<H: rustyline::Helper>(
    editor: &mut rustyline::Editor<H, rustyline::history::FileHistory>,
    file: Option<&std::path::Path>,
    entry: &str,
) {
    if entry.trim().is_empty() || entry.contains("dbguard-approval:") {
        return;
    }
    let _ = editor.add_history_entry(entry);
    if let Some(path) = file {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = editor.append_history(path);
    }
}
