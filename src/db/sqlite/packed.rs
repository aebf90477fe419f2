//! SQLite values as they come out of the engine ([`Cell`]), and rows in
//! the compact binary form journal files of schema 7 and 8 kept SQLite's
//! bulk-captured rows in: each row one MessagePack array of its values,
//! rows one after another, each value's storage class exactly as SQLite
//! had it (NULL, INTEGER, REAL with its sign bit, TEXT, BLOB). Only
//! `journal import` reads such rows now ([`Rows`]); nothing writes them.
//! The `rmp` crate reads the format; this module only maps it to values.
//!
//! Text was written as MessagePack `str` holding SQLite's bytes as they
//! were (SQLite does not check UTF-8 either); it reads back lossily as a
//! Rust string.

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

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends one row: the array header, then each value.
    fn write_row<'a>(out: &mut Vec<u8>, cells: impl ExactSizeIterator<Item = Cell<'a>>) {
        write_row_len(out, cells.len());
        for c in cells {
            write_cell(out, c);
        }
    }

    /// Starts a row of `n` values; [`write_cell`] each of them next.
    fn write_row_len(out: &mut Vec<u8>, n: usize) {
        // Writing into a Vec cannot fail; a length beyond u32 cannot occur for
        // a row SQLite returned (its values are limited to 1 GB).
        let _ = rmp::encode::write_array_len(out, n as u32);
    }

    /// Appends one value of a row.
    fn write_cell(out: &mut Vec<u8>, cell: Cell<'_>) {
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
}
