//! How the journal stores a row: a JSON array of the values' exact JSON
//! forms ([`Value::to_json`]), so every value reads back as the same value,
//! Postgres text forms and SQLite storage classes alike.

use crate::db::Value;
use crate::error::{Error, Result};

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
