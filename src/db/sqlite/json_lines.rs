//! SQLite chunks written before journal schema 7: one `json_array()` line
//! per row. Numbers with a `.` or an exponent are reals (written with
//! enough digits to round-trip), integers too large for JSON numbers,
//! blobs and text that is not UTF-8 are tagged objects as in
//! [`Value::from_json`]. Journals of that age still read and undo: these
//! are the decoders, and the SQL that reads such lines inside SQLite.

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

/// A chunk's lines (one JSON array per row) as one JSON array of rows, in
/// `out`. A raw newline only ever separates lines: inside JSON strings it
/// is escaped.
pub(crate) fn rows_array(text: &str, out: &mut String) {
    out.clear();
    out.reserve(text.len() + 2);
    out.push('[');
    for (i, line) in text.trim_end_matches('\n').split('\n').enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(line);
    }
    out.push(']');
}

/// Element `i` of the row `j.value` (see [`decode_line`])
/// as the SQLite value it was: `->>` gives nulls, text, integers and reals
/// (SQLite reads back the digits its `json_array()` wrote); blobs, text
/// that is not UTF-8 (`crate::db::sqlite::packed::json_rows`) and integers written
/// as objects are unwrapped. A chunk without objects
/// (`{"` outside a string, where quotes are always escaped) needs no
/// unwrapping, and each extra JSON call per value costs about a third.
pub(crate) fn value_sql(i: usize, objects: bool) -> String {
    if !objects {
        return format!("j.value ->> {i}");
    }
    format!(
        "CASE json_type(j.value, '$[{i}]') WHEN 'object' THEN \
         CASE WHEN json_type(j.value, '$[{i}].blob') IS NOT NULL THEN unhex(j.value ->> '$[{i}].blob') \
         WHEN json_type(j.value, '$[{i}].texthex') IS NOT NULL \
         THEN CAST(unhex(j.value ->> '$[{i}].texthex') AS TEXT) \
         ELSE CAST(j.value ->> '$[{i}].int' AS INTEGER) END \
         ELSE j.value ->> {i} END"
    )
}

/// The smallest and largest first element of a chunk's lines, when every
/// one is a plain integer (a key too large for JSON numbers is written as
/// an object, and then there is no range).
pub(crate) fn first_int_range(chunk: &str) -> Option<(i64, i64)> {
    let mut range: Option<(i64, i64)> = None;
    for line in chunk.lines() {
        let rest = line.strip_prefix('[')?;
        let end = rest.find([',', ']'])?;
        let v: i64 = rest[..end].parse().ok()?;
        range = Some(match range {
            None => (v, v),
            Some((lo, hi)) => (lo.min(v), hi.max(v)),
        });
    }
    range
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

    #[test]
    fn first_int_range_needs_an_integer_first_in_every_line() {
        assert_eq!(
            first_int_range("[5,\"a\"]\n[-3,null]\n[12]\n"),
            Some((-3, 12))
        );
        assert_eq!(first_int_range("[7,1]\n"), Some((7, 7)));
        for none in [
            "",
            "[1,2]\n[\"2\",3]\n",
            "[1.5,0]\n",
            "[{\"int\":\"9223372036854775807\"},1]\n",
            "[null,1]\n",
            "[99999999999999999999,1]\n",
        ] {
            assert_eq!(first_int_range(none), None, "{none}");
        }
    }
}
