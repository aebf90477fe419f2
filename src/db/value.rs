//! Values as they come out of either engine, and their text forms.
//!
//! Postgres values are kept in the server's own text form (what the simple
//! query protocol returns), because that form round-trips every type exactly
//! and needs no per-type code. SQLite values keep their storage class, since
//! an integer `1` and a text `'1'` are different values there.

use std::fmt::Write as _;

/// One value of a result row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    /// Postgres text form, or SQLite TEXT.
    Text(String),
    /// SQLite INTEGER.
    Integer(i64),
    /// SQLite REAL.
    Real(f64),
    /// SQLite BLOB.
    Blob(Vec<u8>),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The engine's text form, or `None` for NULL. This is what JSON output
    /// carries and what tables display.
    pub fn text(&self) -> Option<String> {
        match self {
            Value::Null => None,
            Value::Text(s) => Some(s.clone()),
            Value::Integer(i) => Some(i.to_string()),
            Value::Real(f) => Some(real_text(*f)),
            Value::Blob(b) => Some(blob_text(b)),
        }
    }
}

/// SQLite prints reals with up to 17 significant digits and always with a
/// decimal point or exponent; Rust's shortest round-trip form is the same
/// number, so it is used and completed with `.0` where needed.
pub fn real_text(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Inf".into() } else { "-Inf".into() };
    }
    let s = format!("{f:?}");
    if s.contains(['.', 'e', 'E']) {
        s
    } else {
        format!("{s}.0")
    }
}

/// Blobs are shown the way Postgres shows bytea: `\x` and hex digits.
pub fn blob_text(b: &[u8]) -> String {
    let mut s = String::with_capacity(2 + b.len() * 2);
    s.push_str("\\x");
    for byte in b {
        let _ = write!(s, "{byte:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reals_keep_a_decimal_point() {
        assert_eq!(real_text(1.0), "1.0");
        assert_eq!(real_text(0.1), "0.1");
        assert_eq!(real_text(-0.0), "-0.0");
        assert_eq!(real_text(1e300), "1e300");
        assert_eq!(real_text(f64::NEG_INFINITY), "-Inf");
    }

    #[test]
    fn blobs_are_hex() {
        assert_eq!(blob_text(&[0, 255, 16]), "\\x00ff10");
        assert_eq!(Value::Blob(vec![]).text().as_deref(), Some("\\x"));
        assert_eq!(Value::Null.text(), None);
    }
}
