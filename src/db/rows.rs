//! The SQL that finds and writes rows by their key, in each engine's
//! spelling: literals of recorded values, key comparisons, and the
//! multi-row statements an undo restores a batch with.
//!
//! A journaled row is named by its key: the primary key, or for a table
//! without one every column (which may hold NULLs, so those are matched
//! NULL-safely). Values are written as literals of the column's type, so a
//! restored row is the recorded row: Postgres text forms cast to the type,
//! SQLite values in their storage class.

use super::Engine;
use super::dialect::Dialect;
use crate::model::Value;
use crate::schema::{ColumnInfo, TableInfo, quote_ident};

impl Dialect {
    /// A literal for `v` in a column of `type_name`.
    pub fn literal(&self, v: &Value, type_name: &str) -> String {
        match self.0 {
            Engine::Sqlite => super::sqlite::literal(v),
            Engine::Postgres => match v {
                // Typed, so a VALUES column of only NULLs still has its type.
                Value::Null if !type_name.is_empty() => format!("NULL::{type_name}"),
                Value::Null => "NULL".into(),
                other => {
                    let lit = super::postgres::text_literal(&other.text().unwrap_or_default());
                    if type_name.is_empty() {
                        lit
                    } else {
                        format!("{lit}::{type_name}")
                    }
                }
            },
        }
    }

    /// `t.k = v.k0 AND ...` (or the NULL-safe form where a key may hold
    /// NULL): the row of `t` whose key is the one in the CTE `v`.
    pub(crate) fn key_match(&self, info: &TableInfo, t: &str) -> String {
        info.key_columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let l = format!("{t}.{}", quote_ident(c));
                match self.0 {
                    Engine::Postgres if info.has_primary_key() => format!("{l} = v.k{i}"),
                    // A keyless table is matched on every column,
                    // NULL-safely, by text form: json, xml or point have
                    // no equality operator.
                    Engine::Postgres => format!("{l}::text IS NOT DISTINCT FROM v.k{i}::text"),
                    // SQLite lets a primary key column that is not the
                    // rowid hold NULL; `IS` matches it and still uses the
                    // key's index.
                    Engine::Sqlite => format!("{l} IS v.k{i}"),
                }
            })
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// `WITH v(k0, ..) AS (VALUES ...)` holding `keys`, typed.
    fn keys_values(&self, info: &TableInfo, keys: &[&[Value]]) -> String {
        let names: Vec<String> = (0..info.key_columns.len())
            .map(|i| format!("k{i}"))
            .collect();
        let values: Vec<String> = keys
            .iter()
            .map(|key| {
                let vals: Vec<String> = info
                    .key_columns
                    .iter()
                    .zip(key.iter())
                    .map(|(c, v)| self.literal(v, info.column_type(c)))
                    .collect();
                format!("({})", vals.join(", "))
            })
            .collect();
        format!(
            "WITH v({}) AS (VALUES {})",
            names.join(", "),
            values.join(", ")
        )
    }

    /// Inserts whole rows (`images`, every column in capture order) back;
    /// generated columns are left to the database.
    pub(crate) fn insert_rows(&self, info: &TableInfo, images: &[&[Value]]) -> String {
        let cols: Vec<String> = info
            .written_columns()
            .map(|(_, c)| quote_ident(&c.name))
            .collect();
        let values: Vec<String> = images
            .iter()
            .map(|image| {
                // A short image leaves the statement short of values, and
                // the engine refuses it: nothing is guessed.
                let vals: Vec<String> = info
                    .columns
                    .iter()
                    .zip(image.iter())
                    .filter(|(c, _)| !c.generated)
                    .map(|(c, v)| self.literal(v, &c.type_name))
                    .collect();
                format!("({})", vals.join(", "))
            })
            .collect();
        format!(
            "INSERT{} INTO {} ({}){} VALUES {}",
            self.or_abort(),
            info.sql_name(),
            cols.join(", "),
            self.overriding(info),
            values.join(", ")
        )
    }

    /// Sets every column a row may be given back to its image, by key
    /// (`rows`: key, image); `None` when no column can be set. Identity
    /// ALWAYS columns cannot be assigned and keep their value.
    pub(crate) fn update_rows(
        &self,
        info: &TableInfo,
        rows: &[(&[Value], &[Value])],
    ) -> Option<String> {
        let settable: Vec<(usize, &ColumnInfo)> = info
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.generated && !c.identity_always)
            .collect();
        if settable.is_empty() {
            return None;
        }
        let mut names: Vec<String> = (0..info.key_columns.len())
            .map(|i| format!("k{i}"))
            .collect();
        names.extend((0..settable.len()).map(|j| format!("c{j}")));
        let values: Vec<String> = rows
            .iter()
            .map(|(key, image)| {
                let mut vals: Vec<String> = info
                    .key_columns
                    .iter()
                    .zip(key.iter())
                    .map(|(c, v)| self.literal(v, info.column_type(c)))
                    .collect();
                for (i, c) in &settable {
                    let v = image.get(*i).cloned().unwrap_or(Value::Null);
                    vals.push(self.literal(&v, &c.type_name));
                }
                format!("({})", vals.join(", "))
            })
            .collect();
        let sets: Vec<String> = settable
            .iter()
            .enumerate()
            .map(|(j, (_, c))| format!("{} = v.c{j}", quote_ident(&c.name)))
            .collect();
        Some(format!(
            "WITH v({}) AS (VALUES {}) UPDATE{} {} SET {} FROM v WHERE {}",
            names.join(", "),
            values.join(", "),
            self.or_abort(),
            info.own_rows(),
            sets.join(", "),
            self.key_match(info, &info.sql_name())
        ))
    }

    /// Deletes the rows with these keys.
    pub(crate) fn delete_keys(&self, info: &TableInfo, keys: &[&[Value]]) -> String {
        format!(
            "{} DELETE FROM {} WHERE EXISTS (SELECT 1 FROM v WHERE {})",
            self.keys_values(info, keys),
            info.own_rows(),
            self.key_match(info, &info.sql_name())
        )
    }

    /// ` OR ABORT` on SQLite: a restored value that collides with another
    /// row must fail, whatever `ON CONFLICT` clause the table declares
    /// (`REPLACE` would delete the other row, `IGNORE` would skip the
    /// restore).
    pub(crate) fn or_abort(&self) -> &'static str {
        match self.0 {
            Engine::Sqlite => " OR ABORT",
            Engine::Postgres => "",
        }
    }

    /// ` OVERRIDING SYSTEM VALUE` where a Postgres table has an identity
    /// ALWAYS column: a restored row keeps the value it had.
    pub(crate) fn overriding(&self, info: &TableInfo) -> &'static str {
        match self.0 {
            Engine::Postgres if info.columns.iter().any(|c| c.identity_always) => {
                " OVERRIDING SYSTEM VALUE"
            }
            _ => "",
        }
    }

    /// What a restore script starts with, to run in plain psql or sqlite3:
    /// one transaction, and on SQLite foreign keys checked at its end (a
    /// child may come back in a statement before its parent's).
    pub(crate) fn script_begin(&self) -> &'static str {
        match self.0 {
            Engine::Sqlite => "BEGIN;\nPRAGMA defer_foreign_keys = ON;\n",
            Engine::Postgres => "BEGIN;\n",
        }
    }
}
