//! How a journal file stored what it stored: a row as a JSON array of the
//! values' exact JSON forms ([`Value::from_json`]: Postgres text forms,
//! SQLite values tagged with their storage class), an engine and a kind
//! of change by their names.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ValueRef};

use crate::db::Value;
use crate::error::{Error, Result};
use crate::model::{ChangeKind, Engine};

/// Reads a name stored as text into what it names.
fn named<T: std::str::FromStr>(value: ValueRef<'_>) -> FromSqlResult<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    value
        .as_str()?
        .parse()
        .map_err(|e| FromSqlError::Other(Box::new(e)))
}

impl FromSql for ChangeKind {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        named(value)
    }
}

impl FromSql for Engine {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        named(value)
    }
}

/// A row as `change_rows` stores it.
pub(super) fn row_from_json(text: &str) -> Result<Vec<Value>> {
    let v: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| Error::database(format!("journal file row is not valid JSON: {e}")))?;
    let arr = v
        .as_array()
        .ok_or_else(|| Error::database("journal file row is not a JSON array"))?;
    arr.iter().map(Value::from_json).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_read_back_with_their_storage_classes() {
        let row = row_from_json(
            r#"[{"int":"5"},"a\nb",null,{"real":"0x3ff0000000000000"},{"blob":"00ff"}]"#,
        )
        .unwrap();
        assert_eq!(
            row,
            vec![
                Value::Integer(5),
                Value::Text("a\nb".into()),
                Value::Null,
                Value::Real(1.0),
                Value::Blob(vec![0, 255]),
            ]
        );
        for bad in ["", "{}", "[{\"x\":1}]"] {
            assert!(row_from_json(bad).is_err(), "{bad:?}");
        }
    }
}
