//! SQLite chunks written before journal file schema 7: one `json_array()`
//! line per row. Numbers with a `.` or an exponent are reals (written with
//! enough digits to round-trip), integers too large for JSON numbers,
//! blobs and text that is not UTF-8 are tagged objects as in
//! [`Value::from_json`]. `journal import` reads them with the decoder
//! here.

use crate::db::Value;
use crate::error::{Error, Result};

/// Decodes one line of a SQLite bulk chunk: a JSON array as `json_array()`
/// writes it. Numbers are parsed from their text here (Rust's parser is
/// correctly rounded), with a `.` or an exponent meaning a real, so the
/// storage class and the exact bits survive.
pub(crate) fn decode_line(line: &str) -> Result<Vec<Value>> {
    let bad = || Error::database(format!("journal chunk holds a row it cannot read: {line}"));
    let items: Vec<&serde_json::value::RawValue> = serde_json::from_str(line).map_err(|_| bad())?;
    items
        .into_iter()
        .map(|raw| {
            let text = raw.get();
            match text.as_bytes().first() {
                Some(b'n') if text == "null" => Ok(Value::Null),
                Some(b'"') => serde_json::from_str::<String>(text)
                    .map(Value::Text)
                    .map_err(|_| bad()),
                Some(b'{') => serde_json::from_str::<serde_json::Value>(text)
                    .map_err(|_| bad())
                    .and_then(|v| Value::from_json(&v)),
                Some(_) if text.contains(['.', 'e', 'E']) => {
                    text.parse::<f64>().map(Value::Real).map_err(|_| bad())
                }
                Some(_) => text.parse::<i64>().map(Value::Integer).map_err(|_| bad()),
                None => Err(bad()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_keep_storage_classes_and_bits() {
        let line = r#"[null,42,-9223372036854775808,0.1,10000000000000000.0,9.0e+999,-4.9406564584124654e-324,"tab\there \u0000 \"q\"",{"blob":"00FF"},{"real":"0x8000000000000000"}]"#;
        let got = decode_line(line).unwrap();
        let want = vec![
            Value::Null,
            Value::Integer(42),
            Value::Integer(i64::MIN),
            Value::Real(0.1),
            Value::Real(1e16),
            Value::Real(f64::INFINITY),
            Value::Real(-5e-324),
            Value::Text("tab\there \0 \"q\"".into()),
            Value::Blob(vec![0, 255]),
            Value::Real(-0.0),
        ];
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            match (g, w) {
                (Value::Real(a), Value::Real(b)) => assert_eq!(a.to_bits(), b.to_bits()),
                _ => assert_eq!(g, w),
            }
        }
        for bad in [
            "",
            "[",
            "[1,",
            "{}",
            "[tru]",
            "[1.2.3]",
            "[99999999999999999999]",
        ] {
            assert!(decode_line(bad).is_err(), "{bad:?} decoded");
        }
    }
}
