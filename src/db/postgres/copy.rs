//! Postgres `COPY` text format, one row per line, as the server writes
//! rows with `COPY ... TO STDOUT`. Journal files of older releases kept a
//! Postgres delete's before-images in this form (`crate::db::bulk`);
//! `journal import` decodes them here.

use crate::db::Value;

/// Decodes one line of Postgres `COPY` text format into text-form values.
pub(crate) fn decode_line(line: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for field in line.split('\t') {
        if field == "\\N" {
            out.push(Value::Null);
            continue;
        }
        let mut s = String::with_capacity(field.len());
        let mut bytes: Vec<u8> = Vec::new();
        let mut chars = field.chars().peekable();
        // Octal and hex escapes produce bytes; collect them so multi-byte
        // characters written as escapes come out whole.
        let flush = |bytes: &mut Vec<u8>, s: &mut String| {
            if !bytes.is_empty() {
                s.push_str(&String::from_utf8_lossy(bytes));
                bytes.clear();
            }
        };
        while let Some(c) = chars.next() {
            if c != '\\' {
                flush(&mut bytes, &mut s);
                s.push(c);
                continue;
            }
            match chars.next() {
                Some('b') => {
                    flush(&mut bytes, &mut s);
                    s.push('\u{8}')
                }
                Some('f') => {
                    flush(&mut bytes, &mut s);
                    s.push('\u{c}')
                }
                Some('n') => {
                    flush(&mut bytes, &mut s);
                    s.push('\n')
                }
                Some('r') => {
                    flush(&mut bytes, &mut s);
                    s.push('\r')
                }
                Some('t') => {
                    flush(&mut bytes, &mut s);
                    s.push('\t')
                }
                Some('v') => {
                    flush(&mut bytes, &mut s);
                    s.push('\u{b}')
                }
                Some(d @ '0'..='7') => {
                    let mut v = d.to_digit(8).unwrap_or(0);
                    for _ in 0..2 {
                        match chars.peek().and_then(|c| c.to_digit(8)) {
                            Some(x) => {
                                v = v * 8 + x;
                                chars.next();
                            }
                            None => break,
                        }
                    }
                    bytes.push((v & 0xff) as u8);
                }
                Some('x') => {
                    let mut v = 0u32;
                    let mut n = 0;
                    while n < 2 {
                        match chars.peek().and_then(|c| c.to_digit(16)) {
                            Some(x) => {
                                v = v * 16 + x;
                                chars.next();
                                n += 1;
                            }
                            None => break,
                        }
                    }
                    bytes.push(v as u8);
                }
                Some(other) => {
                    flush(&mut bytes, &mut s);
                    s.push(other)
                }
                None => {
                    flush(&mut bytes, &mut s);
                    s.push('\\')
                }
            }
        }
        flush(&mut bytes, &mut s);
        out.push(Value::Text(s));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes text-form values as one line of Postgres `COPY` text format
    /// (without the newline).
    fn encode_line(values: &[Value], out: &mut String) {
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                out.push('\t');
            }
            match v.text() {
                None => out.push_str("\\N"),
                Some(t) => {
                    for c in t.chars() {
                        match c {
                            '\\' => out.push_str("\\\\"),
                            '\t' => out.push_str("\\t"),
                            '\n' => out.push_str("\\n"),
                            '\r' => out.push_str("\\r"),
                            other => out.push(other),
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn copy_lines_round_trip() {
        let row = vec![
            Value::Text("a\tb\nc\\d\re".into()),
            Value::Null,
            Value::Text("\\N".into()),
            Value::Text(String::new()),
            Value::Text("ünï \u{1F600}".into()),
        ];
        let mut line = String::new();
        encode_line(&row, &mut line);
        assert_eq!(decode_line(&line), row);
        // What the server writes for bytes given as escapes.
        assert_eq!(
            decode_line("\\303\\274\\x41\\\\N\t\\N"),
            vec![Value::Text("üA\\N".into()), Value::Null]
        );
    }
}
