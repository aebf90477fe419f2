//! Durations in policy files: `"500ms"`, `"2s"`, `"1m"`, `"1h"`, or a
//! sum like `"1m30s"`.

use std::time::Duration;

/// Parses a policy duration, or says how to write one.
pub fn parse(text: &str) -> Result<Duration, String> {
    let help = "write a number and a unit, like \"500ms\", \"2s\", \"1m\" or \"1h\"";
    let s = text.trim();
    if s.is_empty() {
        return Err(format!("empty duration: {help}"));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return Err(format!("{text:?} is not a duration: {help}"));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("{text:?} is too large: {help}"))?;
        rest = &rest[digits..];
        let unit_len = rest.chars().take_while(|c| c.is_ascii_alphabetic()).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let part = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" | "min" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            "" if !rest.is_empty() => {
                return Err(format!("{text:?} is not a duration: {help}"));
            }
            "" => {
                return Err(format!(
                    "{text:?} has no unit: {help} (a bare number is ambiguous)"
                ));
            }
            other => {
                return Err(format!("{text:?} has an unknown unit {other:?}: {help}"));
            }
        };
        total = total.saturating_add(part);
    }
    Ok(total)
}

/// Formats a duration the way policy files write it (`"1m30s"`, `"500ms"`).
pub fn format(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    let (h, rem) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rem) = (rem / 60_000, rem % 60_000);
    let (s, ms) = (rem / 1000, rem % 1000);
    for (n, unit) in [(h, "h"), (m, "m"), (s, "s"), (ms, "ms")] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse("2h").unwrap(), Duration::from_secs(7200));
        assert!(parse("2").unwrap_err().contains("no unit"));
        assert!(parse("2 weeks").unwrap_err().contains("not a duration"));
        assert!(parse("2w").unwrap_err().contains("unknown unit"));
        assert!(parse("soon").unwrap_err().contains("not a duration"));
        assert_eq!(format(Duration::from_secs(90)), "1m30s");
        assert_eq!(format(Duration::from_millis(500)), "500ms");
        assert_eq!(format(Duration::from_secs(900)), "15m");
    }
}
