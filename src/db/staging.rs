//! Rows that come into a journal from outside it: a replay's rows, read
//! from another database's journal, and an old journal file's rows brought
//! in by `journal import`. They travel as values, not as server-side
//! copies, so what each value's text means must not depend on the session
//! that writes them.
//!
//! On Postgres the values are the server's text forms, read with every
//! output setting pinned (`postgres::EXACT_OUTPUT`); the transaction that
//! writes them pins the same settings, so each text reads back as the
//! value it was written from. SQLite values keep their storage class and
//! need no setting.

use super::Engine;
use super::dialect::Dialect;
use super::journal::{
    KEPT_COLUMN, Part, counts_copies, data_column, kept_uncounted, locator_column,
};
use crate::model::Value;
use crate::schema::{Locator, TableInfo, quote_ident};

impl Dialect {
    /// Statements that pin, for the rest of the transaction, every setting
    /// that changes how a value's text reads: the settings of
    /// [`super::postgres::EXACT_OUTPUT`]. `search_path` is pinned (empty,
    /// so `reg*` values must be schema-qualified, as exact reads write
    /// them) only when `search_path` is true: text written by an older
    /// release was read under the operator's own path. Nothing on SQLite.
    pub(crate) fn pin_value_settings(&self, search_path: bool) -> Vec<String> {
        match self.0 {
            Engine::Postgres => super::postgres::EXACT_OUTPUT
                .split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .filter(|s| search_path || !s.contains("search_path"))
                .map(str::to_owned)
                .collect(),
            Engine::Sqlite => Vec::new(),
        }
    }
}

/// The columns of a snapshot of `part` of a table found by `locator`:
/// `row` pairing updated rows, the locator's values (not for deleted
/// rows), the data (`c1..cN`, one per column of `info`).
pub(crate) fn snapshot_columns(info: &TableInfo, locator: &Locator, part: Part) -> Vec<String> {
    let mut cols = Vec::new();
    if matches!(part, Part::Before | Part::After) {
        cols.push("row".to_owned());
    }
    if part != Part::Deleted {
        cols.extend((0..locator.exprs("t").len()).map(locator_column));
    }
    cols.extend((0..info.columns.len()).map(data_column));
    if counts_copies(info, part) {
        cols.push(KEPT_COLUMN.to_owned());
    }
    cols
}

impl Dialect {
    /// The statements creating an empty snapshot `name` of `part` of the
    /// table `info` names, for rows written as values, and its columns
    /// ([`snapshot_columns`]). On Postgres each column takes the type of
    /// the target table's column it holds, so a value's text is read in
    /// the type it will be restored into; on SQLite it has no declared
    /// type, so a value keeps its storage class.
    pub(crate) fn create_staging(
        &self,
        name: &str,
        info: &TableInfo,
        locator: &Locator,
        part: Part,
    ) -> (Vec<String>, Vec<String>) {
        let columns = snapshot_columns(info, locator, part);
        let mut select = Vec::new();
        if matches!(part, Part::Before | Part::After) {
            select.push("CAST(NULL AS bigint) AS row".to_owned());
        }
        if part != Part::Deleted {
            for (i, e) in locator.exprs("t").iter().enumerate() {
                select.push(format!("{e} AS {}", locator_column(i)));
            }
        }
        for (i, c) in info.columns.iter().enumerate() {
            select.push(format!("t.{} AS {}", quote_ident(&c.name), data_column(i)));
        }
        if counts_copies(info, part) {
            select.push(kept_uncounted());
        }
        let typed = format!("SELECT {} FROM {} AS t", select.join(", "), info.sql_name());
        (self.create_empty_snapshot(name, &columns, &typed), columns)
    }

    /// One `INSERT` of `rows` into `dest`'s `columns`, each value a literal
    /// the column's type reads (untyped on Postgres, so the column
    /// decides; in its storage class on SQLite).
    pub(crate) fn insert_values(
        &self,
        dest: &str,
        columns: &[String],
        rows: &[Vec<Value>],
    ) -> String {
        let values: Vec<String> = rows
            .iter()
            .map(|r| {
                let vals: Vec<String> = r.iter().map(|v| self.literal(v, "")).collect();
                format!("({})", vals.join(", "))
            })
            .collect();
        format!(
            "INSERT INTO {dest} ({}) VALUES {}",
            columns.join(", "),
            values.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_pins_every_output_setting_and_sqlite_none() {
        let pg = Dialect(Engine::Postgres).pin_value_settings(true);
        for setting in [
            "DateStyle",
            "IntervalStyle",
            "TimeZone",
            "extra_float_digits",
            "bytea_output",
            "search_path",
        ] {
            assert!(pg.iter().any(|s| s.contains(setting)), "{setting}: {pg:?}");
        }
        assert!(pg.iter().all(|s| s.starts_with("SET LOCAL ")), "{pg:?}");
        let kept = Dialect(Engine::Postgres).pin_value_settings(false);
        assert_eq!(kept.len(), pg.len() - 1);
        assert!(!kept.iter().any(|s| s.contains("search_path")));
        assert!(Dialect(Engine::Sqlite).pin_value_settings(true).is_empty());
    }
}
