//! The progress line of work that takes more than a moment (an undo
//! restoring many rows), drawn by indicatif on stderr.
//!
//! It appears only on a terminal and only after 700 ms, so quick changes,
//! scripts and JSON output never see it; what it reports comes through the
//! change pipeline's interface, not from inside the work.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Rows done of a known total.
pub(crate) struct Progress {
    started: Instant,
    bar: Option<ProgressBar>,
    tty: bool,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            started: Instant::now(),
            bar: None,
            tty: std::io::stderr().is_terminal(),
        }
    }
}

impl Progress {
    /// The work starts now: the 700 ms count from here.
    pub fn start(&mut self) {
        self.started = Instant::now();
    }

    /// `done` of `total` rows are restored.
    pub fn update(&mut self, done: u64, total: u64) {
        if self.bar.is_none() {
            if !self.tty || self.started.elapsed() < Duration::from_millis(700) {
                return;
            }
            self.bar = Some(bar(total));
        }
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
    }

    /// The work ended: the line stays as it was last drawn, and what
    /// follows starts on a line of its own.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.abandon();
            use std::io::Write;
            let _ = writeln!(std::io::stderr().lock());
        }
    }
}

fn bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    // A template with no error at runtime: it is a constant, checked by the
    // test below.
    if let Ok(style) = ProgressStyle::with_template(TEMPLATE) {
        bar.set_style(style.progress_chars("#>-"));
    }
    bar
}

const TEMPLATE: &str = "restoring [{bar:30}] {pos}/{len} rows";

#[cfg(test)]
mod tests {
    #[test]
    fn the_template_parses() {
        assert!(indicatif::ProgressStyle::with_template(super::TEMPLATE).is_ok());
    }
}
