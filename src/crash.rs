//! Crash injection for the crash tests: the process dies at a named step of
//! a change when `DBGUARD_CRASH_AT` names that step, so the tests can prove
//! that every step leaves the journal and the target consistent.
//!
//! The hook exists only with the `crash-points` feature, which the test
//! suite turns on (the crate's dev-dependency on itself); a release build
//! has none, so no environment variable can kill a production apply
//! halfway.

/// Dies here if `DBGUARD_CRASH_AT` is `step`: by SIGKILL, as when the
/// machine loses power, so no destructor, rollback or flush runs after it.
#[cfg(feature = "crash-points")]
pub fn point(step: &str) {
    if std::env::var("DBGUARD_CRASH_AT").is_ok_and(|v| v == step) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &std::process::id().to_string()])
            .status();
        std::process::abort();
    }
}

/// Without the `crash-points` feature, steps are only names.
#[cfg(not(feature = "crash-points"))]
#[inline(always)]
pub fn point(_step: &str) {}
