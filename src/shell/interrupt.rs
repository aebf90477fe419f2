//! What Ctrl-C cancels: the one statement running now, on whichever
//! connection runs it. The shell and the change pipeline say when
//! something runs; the command layer installs the handler that asks.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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

/// How many callers hold Ctrl-C: it is noted, not acted on (a pager,
/// `\\watch`, `\\i`, a line being read). Holds nest: the pager inside
/// `\\watch` must not let go of `\\watch`'s.
static HELD: AtomicUsize = AtomicUsize::new(0);
/// Ctrl-C came while held.
static NOTED: AtomicBool = AtomicBool::new(false);
/// A line is being read: on a terminal the line editor cannot drive (a
/// `dumb` one) Ctrl-C arrives as SIGINT, and the read only ends at Enter.
static READING: AtomicBool = AtomicBool::new(false);

/// Runs `f` with Ctrl-C held: it neither ends the session nor cancels
/// anything but a running statement, and [`interrupted`] says whether it
/// came.
pub(crate) fn holding<T>(f: impl FnOnce() -> T) -> T {
    if HELD.fetch_add(1, Ordering::SeqCst) == 0 {
        NOTED.store(false, Ordering::SeqCst);
    }
    let r = f();
    HELD.fetch_sub(1, Ordering::SeqCst);
    r
}

/// Reads a line with Ctrl-C held; see [`READING`].
pub(crate) fn reading<T>(f: impl FnOnce() -> T) -> T {
    READING.store(true, Ordering::SeqCst);
    let r = holding(f);
    READING.store(false, Ordering::SeqCst);
    r
}

/// Whether Ctrl-C came while held (and forgets it).
pub(crate) fn interrupted() -> bool {
    NOTED.swap(false, Ordering::SeqCst)
}

/// Cancels the running statement; false when nothing runs and nothing
/// holds Ctrl-C.
pub(crate) fn cancel_running() -> bool {
    if HELD.load(Ordering::SeqCst) > 0 {
        NOTED.store(true, Ordering::SeqCst);
        if READING.load(Ordering::SeqCst) {
            let _ = writeln!(std::io::stderr(), "^C (cancelled: press Enter)");
        }
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
