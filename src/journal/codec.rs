//! How the journal stores what it stores: a row as a JSON array of the
//! values' exact JSON forms ([`Value::to_json`]), so every value reads back
//! as the same value, Postgres text forms and SQLite storage classes alike;
//! an engine and a kind of change by their names.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

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

impl ToSql for ChangeKind {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.name()))
    }
}

impl FromSql for Engine {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        named(value)
    }
}

impl ToSql for Engine {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.name()))
    }
}

pub(super) fn row_to_json(row: &[Value]) -> String {
    serde_json::Value::Array(row.iter().map(Value::to_json).collect()).to_string()
}

pub(super) fn row_from_json(text: &str) -> Result<Vec<Value>> {
    let v: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| Error::database(format!("journal row is not valid JSON: {e}")))?;
    let arr = v
        .as_array()
        .ok_or_else(|| Error::database("journal row is not a JSON array"))?;
    arr.iter().map(Value::from_json).collect()
}
