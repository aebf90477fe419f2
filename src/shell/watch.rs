//! `\watch [SECONDS]`: the statement in the buffer (or the last one) run
//! again every few seconds until Ctrl-C, as in psql. Only reads are
//! watched: repeating a write would ask, preview and apply it again and
//! again, which no one means by watching.

use std::time::Duration;

use super::Shell;
use super::interrupt::{holding, interrupted};
use crate::error::{Error, Result};
use crate::sql::{self, Kind};

impl Shell {
    /// Runs `text` every `arg` seconds (2 by default) until Ctrl-C.
    pub(crate) fn watch(&mut self, text: &str, arg: Option<&str>) -> Result<()> {
        let every = interval(arg)?;
        if text.trim().is_empty() {
            return Err(Error::input("\\watch cannot be used with an empty query"));
        }
        for piece in sql::split(self.engine(), text) {
            let kind = sql::classify(self.engine(), &piece).kind;
            if kind != Kind::Read {
                return Err(Error::refused(format!(
                    "\\watch runs reads only: {} is a {}, not repeated\nRun it once, on its own.",
                    piece.lines().next().unwrap_or_default(),
                    kind.name()
                )));
            }
        }
        holding(|| self.watch_loop(text, every));
        Ok(())
    }

    fn watch_loop(&mut self, text: &str, every: Duration) {
        loop {
            let now = jiff::Timestamp::now().strftime("%a %d %b %Y %T UTC");
            let secs = every.as_secs_f64();
            if self.print(&format!("{now} (every {secs}s)\n\n")).is_err() {
                return;
            }
            let failed = self.run_text(text);
            if failed > 0 || self.closed.is_some() || interrupted() {
                return;
            }
            let start = std::time::Instant::now();
            while start.elapsed() < every {
                std::thread::sleep(Duration::from_millis(50));
                if interrupted() {
                    return;
                }
            }
        }
    }
}

/// `\watch 5`, `\watch i=5` or `\watch interval=5`: the interval.
fn interval(arg: Option<&str>) -> Result<Duration> {
    let Some(arg) = arg.map(str::trim).filter(|a| !a.is_empty()) else {
        return Ok(Duration::from_secs(2));
    };
    let value = arg
        .strip_prefix("interval=")
        .or_else(|| arg.strip_prefix("i="))
        .unwrap_or(arg);
    value
        .parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .filter(|d| *d >= Duration::from_millis(100))
        .ok_or_else(|| {
            Error::input(format!(
                "\\watch: invalid interval \"{value}\"\nGive seconds, at least 0.1: \\watch 5"
            ))
        })
}
