//! How the shell reads: the interactive loop on a terminal (a line editor
//! with history and completion, the prompt that shows where you are), and
//! script mode for piped input, which runs statements like `psql -f`.

use std::io::BufRead;
use std::path::PathBuf;

use super::{Shell, complete};
use crate::error::{Error, ErrorKind, Result};
use crate::sql;

impl Shell {
    /// Reads statements from a non-terminal, like `psql -f`: no prompt, no
    /// colors, every statement through the guard, and an error at the end
    /// if any statement failed or was refused.
    pub(crate) fn run_script(&mut self, input: Box<dyn BufRead>) -> Result<()> {
        self.script = Some(super::script::Script::new(input));
        let mut failed = 0usize;
        let mut buffer = String::new();
        loop {
            let line = match self.script.as_mut() {
                Some(script) => script.next_line()?,
                None => None,
            };
            let Some(line) = line else { break };
            if buffer.trim().is_empty() && line.trim_start().starts_with('\\') {
                buffer.clear();
                match self.run_meta(&line) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) if e.is_broken_pipe() => return Err(e),
                    Err(e) => {
                        self.report(&e);
                        failed += 1;
                    }
                }
                continue;
            }
            buffer.push_str(&line);
            if sql::is_complete(self.engine(), &buffer) {
                failed += self.run_text(&buffer);
                buffer.clear();
            }
            if let Some(e) = self.closed.take() {
                return Err(e);
            }
        }
        if !buffer.trim().is_empty() {
            failed += self.run_text(&buffer);
        }
        if let Some(e) = self.closed.take() {
            return Err(e);
        }
        if failed > 0 {
            return Err(Error::new(
                ErrorKind::ScriptFailed,
                format!("{failed} statement(s) failed or were refused"),
            ));
        }
        Ok(())
    }

    /// The prompt: `production:obs (alice)=> `, and `-> ` while a statement
    /// continues over several lines. Returns (plain, colored).
    pub fn prompt(&self, continuation: bool) -> (String, String) {
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
        let tail = if continuation { "-> " } else { "=> " };
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
        editor.set_helper(Some(complete::ShellHelper::new(
            self.engine(),
            self.schema(),
        )));
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
        loop {
            let prompt = self.prompt(false);
            match editor.readline(&prompt) {
                Ok(input) => {
                    if input.trim().is_empty() {
                        continue;
                    }
                    // Approval tokens are credentials: never in the history.
                    if !input.contains("dbguard-approval:") {
                        let _ = editor.add_history_entry(input.as_str());
                    }
                    if input.trim_start().starts_with('\\') {
                        match self.run_meta(&input) {
                            Ok(true) => {}
                            Ok(false) => break,
                            Err(e) => self.report(&e),
                        }
                    } else {
                        self.run_text(&input);
                    }
                }
                Err(ReadlineError::Interrupted) => continue,
                Err(ReadlineError::Eof) => break,
                Err(e) => return Err(Error::io(format!("cannot read input: {e}"))),
            }
        }
        if let Some(h) = &history {
            if let Some(dir) = h.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let _ = editor.save_history(h);
        }
        Ok(())
    }
}

fn history_path() -> Option<PathBuf> {
    crate::journal::state_dir().map(|d| d.join("history"))
}
