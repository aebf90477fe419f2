//! The rows an applied write's own `RETURNING` list gives back, taken from
//! the statement that makes the change, in the guarded transaction.
//!
//! Values arrive in the server's text form (the simple query protocol),
//! as a read's do, so they print the same. Each statement is described
//! first, as a read is: the server refuses more than one statement there,
//! and the description gives the columns' names and types (numbers are
//! aligned right) even when no row comes back.

use postgres::SimpleQueryMessage;

use super::{PgApply, apply_error, is_numeric_type, text_row};
use crate::db::{ColumnMeta, Executed, OwnReturning, RowSink};
use crate::error::{Error, Result};

impl PgApply<'_, '_> {
    /// Runs `sql` (an UPDATE or DELETE with its own `RETURNING` list),
    /// its rows to `sink`; returns the rows it reports.
    pub(super) fn execute_returning(&mut self, sql: &str, sink: &mut dyn RowSink) -> Result<u64> {
        let started = std::time::Instant::now();
        sink.columns(&self.describe(sql)?)?;
        let mut reported = 0;
        for msg in self.preview.tx.simple_query(sql).map_err(apply_error)? {
            match msg {
                SimpleQueryMessage::Row(row) => sink.row(text_row(&row))?,
                SimpleQueryMessage::CommandComplete(n) => reported = n,
                _ => {}
            }
        }
        super::super::trace_sql(sql, started);
        Ok(reported)
    }

    /// An INSERT with its own `RETURNING` list, run as `own.then_all`
    /// (its list, then every column) inside the statement that copies the
    /// rows it inserts (`copy`, the CTE `dbguard_s` reading `dbguard_w`).
    /// The CTE renames only the list's columns, so the table's columns
    /// after them keep their names for the copy, whatever the list calls
    /// its own. Each row carries the count copied, then the list's values.
    pub(super) fn insert_returning_own(
        &mut self,
        statement: &str,
        own: OwnReturning<'_>,
        copy: &str,
    ) -> Result<(Executed, u64)> {
        let columns = self.describe(statement)?;
        own.sink.columns(&columns)?;
        let names: Vec<String> = (1..=columns.len())
            .map(|i| format!("dbguard_r{i}"))
            .collect();
        let names = names.join(", ");
        let sql = format!(
            "WITH dbguard_w({names}) AS ({}), {copy} \
             SELECT (SELECT count(*) FROM dbguard_s), {names} FROM dbguard_w",
            own.then_all
        );
        let started = std::time::Instant::now();
        let (mut reported, mut inserted) = (0u64, 0u64);
        for msg in self.preview.tx.simple_query(&sql).map_err(apply_error)? {
            if let SimpleQueryMessage::Row(row) = msg {
                let mut values = text_row(&row).into_iter();
                let copied = values.next().and_then(|v| v.text()).unwrap_or_default();
                inserted = copied.parse().map_err(|_| {
                    Error::database(format!("the insert copy counted {copied:?} rows"))
                })?;
                own.sink.row(values.collect())?;
                reported += 1;
            }
        }
        super::super::trace_sql(&sql, started);
        let executed = Executed {
            reported,
            changed: None,
        };
        Ok((executed, inserted))
    }

    /// The columns `sql` returns, as the server describes them.
    fn describe(&mut self, sql: &str) -> Result<Vec<ColumnMeta>> {
        let stmt = self.preview.tx.prepare(sql).map_err(apply_error)?;
        Ok(stmt
            .columns()
            .iter()
            .map(|c| ColumnMeta {
                name: c.name().to_owned(),
                numeric: is_numeric_type(c.type_()),
            })
            .collect())
    }
}
