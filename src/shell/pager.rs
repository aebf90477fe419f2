//! Results taller or wider than the terminal go through a pager, as in
//! psql: `$PSQL_PAGER`, else `$PAGER`, else `less -S` (long lines scroll
//! sideways instead of wrapping into a mess). `\pset pager off` turns it
//! off, `always` pages every result on a terminal. Nothing is paged when
//! output is not a terminal, or goes to a file (`\o`).
//!
//! Ctrl-C belongs to the pager while it runs: the shell holds the
//! interrupt (`interrupt::holding`) so it does not end the session.

use std::io::{IsTerminal, Write};

use crate::error::{Error, Result};

/// `\pset pager`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum PagerMode {
    /// When the result does not fit the terminal.
    #[default]
    On,
    Off,
    Always,
}

impl PagerMode {
    pub fn word(self) -> &'static str {
        match self {
            PagerMode::On => "on",
            PagerMode::Off => "off",
            PagerMode::Always => "always",
        }
    }
}

/// The pager command, or `None` when one is set empty (psql's way to turn
/// it off from the environment).
fn command() -> Option<String> {
    for key in ["PSQL_PAGER", "PAGER"] {
        if let Ok(v) = std::env::var(key) {
            return (!v.trim().is_empty()).then_some(v);
        }
    }
    Some("less -S".to_owned())
}

/// Whether `text` fits a terminal of `rows` x `cols`.
fn fits(text: &str, rows: u16, cols: u16) -> bool {
    let lines = text.lines().count();
    // The prompt takes a line after the result.
    lines < usize::from(rows)
        && text
            .lines()
            .all(|l| console::measure_text_width(l) <= usize::from(cols))
}

/// Shows `text` through the pager when `mode` asks for it; `false` when it
/// was not paged, and the caller prints it.
pub(crate) fn page(text: &str, mode: PagerMode) -> Result<bool> {
    if mode == PagerMode::Off || !std::io::stdout().is_terminal() {
        return Ok(false);
    }
    let Some((rows, cols)) = console::Term::stdout().size_checked() else {
        return Ok(false);
    };
    if mode == PagerMode::On && fits(text, rows, cols) {
        return Ok(false);
    }
    let Some(pager) = command() else {
        return Ok(false);
    };
    super::interrupt::holding(|| run(&pager, text))?;
    Ok(true)
}

fn run(pager: &str, text: &str) -> Result<()> {
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(pager)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| Error::io(format!("cannot start the pager ({pager}): {e}\nSet PAGER, or turn it off with \\pset pager off.")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // The pager may quit before reading everything (q in less): that
        // ends the result, not the session.
        let _ = stdin.write_all(text.as_bytes());
    }
    child
        .wait()
        .map_err(|e| Error::io(format!("the pager ({pager}) failed: {e}")))?;
    Ok(())
}
