//! Time for approvals: the clock, and how times read in messages.
//!
//! Requests, tokens and approvers entries hold Unix seconds (UTC), which
//! [`now`] reads from the clock (call it rather than reading the clock
//! again elsewhere); approvers and operators read times as
//! `2026-05-01 12:00:00 UTC` and spans as `14 min`.

use jiff::Timestamp;

/// The current time in Unix seconds.
pub fn now() -> i64 {
    Timestamp::now().as_second()
}

/// `2026-05-01 12:00:00 UTC`.
pub(crate) fn format_time(secs: i64) -> String {
    Timestamp::from_second(secs)
        .ok()
        .and_then(|t| jiff::fmt::strtime::format("%Y-%m-%d %H:%M:%S UTC", t).ok())
        // Beyond the years -9999..=9999 only a forged request goes: say the
        // number rather than a calendar date.
        .unwrap_or_else(|| format!("{secs} (Unix seconds)"))
}

/// `42s`, `14 min`, `2 h 5 min`, `3 days`: coarse, as requests live
/// minutes. Written out because jiff's span printer has no such spelling.
pub(crate) fn format_duration(secs: i64) -> String {
    let secs = secs.max(0);
    if secs < 60 {
        format!("{secs}s")
    } else if secs < 3600 {
        format!("{} min", secs / 60)
    } else if secs < 86_400 {
        format!("{} h {} min", secs / 3600, (secs % 3600) / 60)
    } else {
        format!("{} days", secs / 86_400)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_time(951_782_400 + 3661), "2000-02-29 01:01:01 UTC");
    }

    #[test]
    fn times_out_of_range_do_not_panic() {
        assert_eq!(format_time(i64::MAX), "9223372036854775807 (Unix seconds)");
        assert_eq!(format_time(-62_135_596_800), "0001-01-01 00:00:00 UTC");
    }

    #[test]
    fn durations() {
        assert_eq!(format_duration(-5), "0s");
        assert_eq!(format_duration(42), "42s");
        assert_eq!(format_duration(14 * 60 + 59), "14 min");
        assert_eq!(format_duration(2 * 3600 + 5 * 60), "2 h 5 min");
        assert_eq!(format_duration(3 * 86_400 + 1), "3 days");
    }
}
