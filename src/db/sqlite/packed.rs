//! Rows in a compact binary form: each row one MessagePack array of its
//! values, rows one after another.
//!
//! SQLite's bulk capture used to write every row as a `json_array()` line,
//! and its bulk restore read them back with `->>`: building and taking
//! apart JSON was most of what an apply or undo cost beyond the database's
//! own work (about 1,500 instructions per value read back). MessagePack
//! keeps each value's storage class exactly as SQLite has it (NULL,
//! INTEGER, REAL with its sign bit, TEXT, BLOB), so nothing needs escaping
//! and a restore binds values straight from the bytes. The `rmp` crate
//! reads and writes the format; this module only maps values to it.
//!
//! Text is written as MessagePack `str` holding SQLite's bytes as they are
//! (SQLite does not check UTF-8 either); readers that need Rust strings
//! convert lossily, as the JSON path did.

use rmp::Marker;
use rmp::decode::Bytes;

use crate::db::Value;
use crate::error::{Error, Result};

/// One value of a packed row, borrowed from the bytes it was read from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Cell<'a> {
    Null,
    Integer(i64),
    Real(f64),
    Text(&'a [u8]),
    Blob(&'a [u8]),
}

impl Cell<'_> {
    /// The value as an owned [`Value`].
    pub(crate) fn to_value(self) -> Value {
        match self {
            Cell::Null => Value::Null,
            Cell::Integer(i) => Value::Integer(i),
            Cell::Real(f) => Value::Real(f),
            Cell::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            Cell::Blob(b) => Value::Blob(b.to_vec()),
        }
    }
}

/// Appends one row: the array header, then each value.
#[cfg(test)]
pub(crate) fn write_row<'a>(out: &mut Vec<u8>, cells: impl ExactSizeIterator<Item = Cell<'a>>) {
    write_row_len(out, cells.len());
    for c in cells {
        write_cell(out, c);
    }
}

/// Starts a row of `n` values; [`write_cell`] each of them next.
pub(crate) fn write_row_len(out: &mut Vec<u8>, n: usize) {
    // Writing into a Vec cannot fail; a length beyond u32 cannot occur for
    // a row SQLite returned (its values are limited to 1 GB).
    let _ = rmp::encode::write_array_len(out, n as u32);
}

/// Appends one value of a row.
pub(crate) fn write_cell(out: &mut Vec<u8>, cell: Cell<'_>) {
    match cell {
        Cell::Null => {
            let _ = rmp::encode::write_nil(out);
        }
        Cell::Integer(i) => {
            let _ = rmp::encode::write_sint(out, i);
        }
        Cell::Real(f) => {
            let _ = rmp::encode::write_f64(out, f);
        }
        Cell::Text(t) => {
            let _ = rmp::encode::write_str_len(out, t.len() as u32);
            out.extend_from_slice(t);
        }
        Cell::Blob(b) => {
            let _ = rmp::encode::write_bin_len(out, b.len() as u32);
            out.extend_from_slice(b);
        }
    }
}

/// Reads packed rows one after another.
pub struct Rows<'a> {
    rest: &'a [u8],
}

impl<'a> Rows<'a> {
    pub fn new(bytes: &'a [u8]) -> Rows<'a> {
        Rows { rest: bytes }
    }

    /// Reads the next row into `row` (cleared first); `false` at the end.
    pub(crate) fn next_into(&mut self, row: &mut Vec<Cell<'a>>) -> Result<bool> {
        row.clear();
        if self.rest.is_empty() {
            return Ok(false);
        }
        let mut rd = Bytes::new(self.rest);
        let n = rmp::decode::read_array_len(&mut rd).map_err(read_err)?;
        self.rest = rd.remaining_slice();
        for _ in 0..n {
            let cell = self.cell()?;
            row.push(cell);
        }
        Ok(true)
    }

    fn cell(&mut self) -> Result<Cell<'a>> {
        let first = *self.rest.first().ok_or_else(|| bad(&"row ends early"))?;
        let mut rd = Bytes::new(self.rest);
        let cell = match Marker::from_u8(first) {
            Marker::Null => {
                rmp::decode::read_nil(&mut rd).map_err(read_err)?;
                Cell::Null
            }
            Marker::FixPos(_)
            | Marker::FixNeg(_)
            | Marker::U8
            | Marker::U16
            | Marker::U32
            | Marker::U64
            | Marker::I8
            | Marker::I16
            | Marker::I32
            | Marker::I64 => {
                Cell::Integer(rmp::decode::read_int::<i64, _>(&mut rd).map_err(read_err)?)
            }
            Marker::F64 => Cell::Real(rmp::decode::read_f64(&mut rd).map_err(read_err)?),
            Marker::F32 => Cell::Real(f64::from(rmp::decode::read_f32(&mut rd).map_err(read_err)?)),
            Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => {
                let len = rmp::decode::read_str_len(&mut rd).map_err(read_err)?;
                let (bytes, rest) = take(rd.remaining_slice(), len)?;
                self.rest = rest;
                return Ok(Cell::Text(bytes));
            }
            Marker::Bin8 | Marker::Bin16 | Marker::Bin32 => {
                let len = rmp::decode::read_bin_len(&mut rd).map_err(read_err)?;
                let (bytes, rest) = take(rd.remaining_slice(), len)?;
                self.rest = rest;
                return Ok(Cell::Blob(bytes));
            }
            other => return Err(bad(&format!("unexpected {other:?}"))),
        };
        self.rest = rd.remaining_slice();
        Ok(cell)
    }
}

fn take(bytes: &[u8], len: u32) -> Result<(&[u8], &[u8])> {
    let len = len as usize;
    if bytes.len() < len {
        return Err(bad(&"value ends early"));
    }
    Ok(bytes.split_at(len))
}

fn read_err(e: impl std::fmt::Debug) -> Error {
    bad(&format!("{e:?}"))
}

fn bad(e: &dyn std::fmt::Display) -> Error {
    Error::database(format!(
        "journal chunk holds packed rows it cannot read ({e})\nThe change cannot be read; restore the journal file from a backup."
    ))
}

/// The rows of a packed chunk as one JSON array of `json_array()`-style
/// rows, in `out`: what SQLite's `jsonb_each()` reads in the queries that
/// look for conflicts. Blobs are `{"blob": HEX}`, text that is not UTF-8
/// `{"texthex": HEX}`; reals always carry a point or an exponent, so
/// SQLite reads them back as REAL.
pub(crate) fn json_rows(bytes: &[u8], out: &mut String) -> Result<()> {
    use std::fmt::Write;
    out.clear();
    out.push('[');
    let mut rows = Rows::new(bytes);
    let mut row = Vec::new();
    let mut first_row = true;
    while rows.next_into(&mut row)? {
        if !first_row {
            out.push(',');
        }
        first_row = false;
        out.push('[');
        for (i, c) in row.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            match *c {
                Cell::Null => out.push_str("null"),
                Cell::Integer(v) => {
                    let _ = write!(out, "{v}");
                }
                // SQLite writes infinities as 9e999 and has no NaN (it
                // stores NULL instead).
                Cell::Real(f) if f.is_infinite() => {
                    out.push_str(if f > 0.0 { "9e999" } else { "-9e999" })
                }
                Cell::Real(f) if f.is_nan() => out.push_str("null"),
                Cell::Real(f) => {
                    let _ = write!(out, "{f:?}");
                }
                Cell::Text(t) => match std::str::from_utf8(t) {
                    Ok(s) => out.push_str(&serde_json::Value::String(s.to_owned()).to_string()),
                    // JSON text is Unicode: bytes that are not UTF-8 go as
                    // hex, so a lookup compares the very bytes the restore
                    // binds, not replacement characters.
                    Err(_) => {
                        out.push_str("{\"texthex\":\"");
                        out.push_str(&base16ct::lower::encode_string(t));
                        out.push_str("\"}");
                    }
                },
                Cell::Blob(b) => {
                    out.push_str("{\"blob\":\"");
                    out.push_str(&base16ct::lower::encode_string(b));
                    out.push_str("\"}");
                }
            }
        }
        out.push(']');
    }
    out.push(']');
    Ok(())
}

/// The smallest and largest first value of a packed chunk's rows, when
/// every one is an integer. Only the first value of a row is decoded; the
/// others are stepped over by their lengths (the undo's preview asks this
/// of every chunk, and decoding every value was most of its cost).
pub(crate) fn first_int_range(bytes: &[u8]) -> Result<Option<(i64, i64)>> {
    let mut rows = Rows::new(bytes);
    let mut range: Option<(i64, i64)> = None;
    while !rows.rest.is_empty() {
        let mut rd = Bytes::new(rows.rest);
        let n = rmp::decode::read_array_len(&mut rd).map_err(read_err)?;
        rows.rest = rd.remaining_slice();
        if n == 0 {
            return Ok(None);
        }
        let Cell::Integer(v) = rows.cell()? else {
            return Ok(None);
        };
        for _ in 1..n {
            rows.skip_cell()?;
        }
        range = Some(match range {
            None => (v, v),
            Some((lo, hi)) => (lo.min(v), hi.max(v)),
        });
    }
    Ok(range)
}

impl Rows<'_> {
    /// Steps over one value without decoding it.
    fn skip_cell(&mut self) -> Result<()> {
        let rest = self.rest;
        let first = *rest.first().ok_or_else(|| bad(&"row ends early"))?;
        let be = |at: usize, len: usize| -> Result<usize> {
            let b = rest
                .get(at..at + len)
                .ok_or_else(|| bad(&"value ends early"))?;
            Ok(b.iter().fold(0usize, |acc, x| (acc << 8) | usize::from(*x)))
        };
        let size = match first {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 => Some(1),
            0xcc | 0xd0 => Some(2),
            0xcd | 0xd1 => Some(3),
            0xce | 0xd2 | 0xca => Some(5),
            0xcf | 0xd3 | 0xcb => Some(9),
            0xa0..=0xbf => Some(1 + usize::from(first & 0x1f)),
            0xd9 | 0xc4 => be(1, 1)?.checked_add(2),
            0xda | 0xc5 => be(1, 2)?.checked_add(3),
            0xdb | 0xc6 => be(1, 4)?.checked_add(5),
            other => return Err(bad(&format!("unexpected marker {other:#04x}"))),
        };
        let size = size.ok_or_else(|| bad(&"value too long"))?;
        if rest.len() < size {
            return Err(bad(&"value ends early"));
        }
        self.rest = &rest[size..];
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack(rows: &[Vec<Cell<'_>>]) -> Vec<u8> {
        let mut out = Vec::new();
        for r in rows {
            write_row(&mut out, r.iter().copied());
        }
        out
    }

    #[test]
    fn every_storage_class_reads_back_as_written() {
        let rows = vec![
            vec![
                Cell::Null,
                Cell::Integer(i64::MIN),
                Cell::Integer(i64::MAX),
                Cell::Integer(-1),
                Cell::Integer(0),
                Cell::Integer(200),
            ],
            vec![
                Cell::Real(-0.0),
                Cell::Real(1.5),
                Cell::Real(f64::INFINITY),
                Cell::Text(b"tab\tnew\nline \"q\" \xff"),
                Cell::Text(b""),
                Cell::Blob(&[0, 1, 255]),
                Cell::Blob(&[]),
            ],
            vec![],
        ];
        let bytes = pack(&rows);
        let mut r = Rows::new(&bytes);
        let mut row = Vec::new();
        for want in &rows {
            assert!(r.next_into(&mut row).unwrap());
            assert_eq!(&row, want);
        }
        assert!(!r.next_into(&mut row).unwrap());
        // The sign of a real zero survives, which JSON text lost.
        let Cell::Real(z) = rows[1][0] else { panic!() };
        let mut r = Rows::new(&bytes);
        r.next_into(&mut row).unwrap();
        r.next_into(&mut row).unwrap();
        let Cell::Real(back) = row[0] else { panic!() };
        assert_eq!(back.to_bits(), z.to_bits());
    }

    #[test]
    fn truncated_or_foreign_bytes_are_an_error_not_a_panic() {
        let bytes = pack(&[vec![Cell::Text(b"hello"), Cell::Integer(7)]]);
        for cut in 1..bytes.len() {
            let mut r = Rows::new(&bytes[..cut]);
            let mut row = Vec::new();
            assert!(r.next_into(&mut row).is_err(), "cut at {cut}");
        }
        let mut row = Vec::new();
        assert!(Rows::new(&[0x91, 0xc1]).next_into(&mut row).is_err());
        assert!(Rows::new(b"[1,2]").next_into(&mut row).is_err());
    }

    #[test]
    fn json_rows_reads_as_sqlite_json() {
        let bytes = pack(&[
            vec![Cell::Integer(3), Cell::Real(3.0), Cell::Text(b"a\"b")],
            vec![
                Cell::Blob(&[0xab]),
                Cell::Null,
                Cell::Real(f64::NEG_INFINITY),
            ],
        ]);
        let mut out = String::new();
        json_rows(&bytes, &mut out).unwrap();
        assert_eq!(out, r#"[[3,3.0,"a\"b"],[{"blob":"ab"},null,-9e999]]"#);
    }

    #[test]
    fn first_int_range_needs_an_integer_first_in_every_row() {
        let ints = pack(&[
            vec![Cell::Integer(5), Cell::Text(b"a")],
            vec![Cell::Integer(-3)],
            vec![Cell::Integer(12), Cell::Null],
        ]);
        assert_eq!(first_int_range(&ints).unwrap(), Some((-3, 12)));
        let mixed = pack(&[vec![Cell::Integer(1)], vec![Cell::Real(2.0)]]);
        assert_eq!(first_int_range(&mixed).unwrap(), None);
        assert_eq!(first_int_range(&[]).unwrap(), None);
    }

    /// What `first_int_range` steps over is what a full decode reads:
    /// every kind and length of value, and an error, never a panic, for
    /// bytes cut anywhere.
    #[test]
    fn first_int_range_steps_over_every_kind_of_value() {
        let long = vec![b'x'; 70_000];
        let rows = vec![
            vec![
                Cell::Integer(40),
                Cell::Null,
                Cell::Integer(-1),
                Cell::Integer(200),
                Cell::Integer(-200),
                Cell::Integer(70_000),
                Cell::Integer(-70_000),
                Cell::Integer(5_000_000_000),
                Cell::Integer(i64::MIN),
                Cell::Real(-0.0),
            ],
            vec![
                Cell::Integer(-7),
                Cell::Text(b""),
                Cell::Text(&long[..31]),
                Cell::Text(&long[..32]),
                Cell::Text(&long[..300]),
                Cell::Text(&long),
                Cell::Blob(&[]),
                Cell::Blob(&long[..300]),
                Cell::Blob(&long),
            ],
            vec![Cell::Integer(i64::MAX)],
        ];
        let bytes = pack(&rows);
        assert_eq!(first_int_range(&bytes).unwrap(), Some((-7, i64::MAX)));
        // The same answer as decoding every value.
        let mut all = Rows::new(&bytes);
        let mut row = Vec::new();
        let mut decoded = Vec::new();
        while all.next_into(&mut row).unwrap() {
            decoded.push(row.clone());
        }
        assert_eq!(decoded, rows);
        // Cut inside a row, not between two.
        let ends: Vec<usize> = rows
            .iter()
            .scan(0, |at, r| {
                *at += pack(std::slice::from_ref(r)).len();
                Some(*at)
            })
            .collect();
        for cut in (1..bytes.len()).filter(|c| !ends.contains(c)) {
            assert!(first_int_range(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert!(first_int_range(&[0x92, 0x01, 0xc1]).is_err());
    }
}
