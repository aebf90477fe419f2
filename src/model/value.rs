//! Values as they come out of either engine, and their text forms.
//!
//! Postgres values are kept in the server's own text form (what the simple
//! query protocol returns), because that form round-trips every type exactly
//! and needs no per-type code. SQLite values keep their storage class, since
//! an integer `1` and a text `'1'` are different values there.

use crate::error::{Error, Result};

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

    /// The value as JSON, exactly: text as a string, NULL as null, and
    /// SQLite's other storage classes tagged (`{"int": "42"}`, `{"real":
    /// "0x3ff0000000000000"}` with the exact bits, `{"blob": "00ff"}`), so
    /// that every value reads back as the same value.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Text(s) => serde_json::Value::String(s.clone()),
            Value::Integer(i) => json!({"int": i.to_string()}),
            Value::Real(f) => json!({"real": format!("{:#018x}", f.to_bits())}),
            Value::Blob(b) => json!({"blob": base16ct::lower::encode_string(b)}),
        }
    }

    /// Reads a value back from [`Value::to_json`]'s form.
    pub(crate) fn from_json(v: &serde_json::Value) -> Result<Value> {
        let bad = || Error::database(format!("journal holds a value it cannot read: {v}"));
        match v {
            serde_json::Value::Null => Ok(Value::Null),
            serde_json::Value::String(s) => Ok(Value::Text(s.clone())),
            serde_json::Value::Object(m) => {
                if let Some(i) = m.get("int").and_then(|x| x.as_str()) {
                    return i.parse().map(Value::Integer).map_err(|_| bad());
                }
                if let Some(r) = m.get("real").and_then(|x| x.as_str()) {
                    let hex = r.trim_start_matches("0x");
                    return u64::from_str_radix(hex, 16)
                        .map(|bits| Value::Real(f64::from_bits(bits)))
                        .map_err(|_| bad());
                }
                if let Some(b) = m.get("blob").and_then(|x| x.as_str()) {
                    return base16ct::mixed::decode_vec(b)
                        .map(Value::Blob)
                        .map_err(|_| bad());
                }
                Err(bad())
            }
            _ => Err(bad()),
        }
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
pub(crate) fn real_text(f: f64) -> String {
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
pub(crate) fn blob_text(b: &[u8]) -> String {
    format!("\\x{}", base16ct::lower::encode_string(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_exactly() {
        for v in [
            Value::Null,
            Value::Text("it's \\ \n ünï".into()),
            Value::Integer(i64::MIN),
            Value::Integer(i64::MAX),
            Value::Real(-0.0),
            Value::Real(f64::NAN),
            Value::Real(1e-310),
            Value::Blob(vec![0, 255, 1]),
        ] {
            let back = Value::from_json(&v.to_json()).unwrap();
            match (&v, &back) {
                (Value::Real(a), Value::Real(b)) => assert_eq!(a.to_bits(), b.to_bits()),
                _ => assert_eq!(v, back),
            }
        }
    }

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
