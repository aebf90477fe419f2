//! What Ctrl-C cancels: the one statement running now, on whichever
//! connection runs it. The shell and the change pipeline say when
//! something runs; the command layer installs the handler that asks.

use std::sync::atomic::{AtomicBool, Ordering};
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

/// Ctrl-C is held: it is noted, not acted on (a pager or `\watch` has it).
static HELD: AtomicBool = AtomicBool::new(false);
/// Ctrl-C came while held.
static NOTED: AtomicBool = AtomicBool::new(false);

/// Runs `f` with Ctrl-C held: it neither ends the session nor cancels a
/// statement, and [`interrupted`] says whether it came.
pub(crate) fn holding<T>(f: impl FnOnce() -> T) -> T {
    NOTED.store(false, Ordering::SeqCst);
    HELD.store(true, Ordering::SeqCst);
    let r = f();
    HELD.store(false, Ordering::SeqCst);
    r
}

/// Whether Ctrl-C came while held (and forgets it).
pub(crate) fn interrupted() -> bool {
    NOTED.swap(false, Ordering::SeqCst)
}

/// Cancels the running statement; false when nothing runs and nothing
/// holds Ctrl-C.
pub(crate) fn cancel_running() -> bool {
    if HELD.load(Ordering::SeqCst) {
        NOTED.store(true, Ordering::SeqCst);
        // A statement running under the hold (\watch) is cancelled too.
        if let Some(c) = running().lock().ok().and_then(|g| g.clone()) {
            c.cancel();
        }
        return true;
    }
    let current = running().lock().ok().and_then(|g| g.clone());
    match current {
        Some(c) => {
            c.cancel();
            true
        }
        None => false,
    }
}
