//! What Ctrl-C cancels: the one statement running now, on whichever
//! connection runs it. The shell and the change pipeline say when
//! something runs; the command layer installs the handler that asks.

use std::sync::{Mutex, OnceLock};

use crate::db::Canceller;

/// The statement running now.
fn running() -> &'static Mutex<Option<Canceller>> {
    static RUNNING: OnceLock<Mutex<Option<Canceller>>> = OnceLock::new();
    RUNNING.get_or_init(|| Mutex::new(None))
}

/// Says what Ctrl-C cancels now: `cancel`, or (`None`) nothing runs.
pub(crate) fn set_running(cancel: Option<Canceller>) {
    if let Ok(mut g) = running().lock() {
        *g = cancel;
    }
}

/// Marks a statement as running for the duration of a closure.
pub(crate) fn while_running<T>(canceller: Canceller, f: impl FnOnce() -> T) -> T {
    set_running(Some(canceller));
    let r = f();
    set_running(None);
    r
}

/// Cancels the running statement; false when nothing runs.
pub(crate) fn cancel_running() -> bool {
    let current = running().lock().ok().and_then(|g| g.clone());
    match current {
        Some(c) => {
            c.cancel();
            true
        }
        None => false,
    }
}
