//! Catalog listings behind the shell's psql-style meta commands (`\l`,
//! `\dn`, `\df`, `\dv`, `\di`, `\du`, `\dt+`, `\d+`, `\d VIEW`).
//!
//! The shell names what it wants ([`Listing`]); each engine answers with
//! its own catalog query (`postgres::listing`, `sqlite::listing`), or with
//! nothing where it has no such thing (SQLite has no roles or stored
//! functions). Every listing runs in the same read-only transaction a
//! preview uses: a meta command is a read, and must not be able to write.
//!
//! Queries return every row of their kind; patterns are matched by the
//! shell, so no text the operator typed is ever put into SQL. Names that
//! must be (a table's indexes, a view's columns) come from the catalog or
//! the introspected schema and are passed as quoted literals.

use std::time::Duration;

use super::{Connection, Rows};
use crate::error::Result;
use crate::schema::QualName;

/// What to list. Lists that have system objects (`pg_catalog`) leave them
/// out unless `system` is set: psql shows them only when asked by schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing<'a> {
    /// `\l`: databases (Postgres), attached database files (SQLite).
    Databases,
    /// `\dn`: schemas, or SQLite's `main` and attached databases.
    Schemas,
    /// `\df`: functions and procedures.
    Functions { system: bool },
    /// `\dv`: views.
    Views { system: bool },
    /// `\di`: indexes.
    Indexes { system: bool },
    /// `\du`: roles.
    Roles,
    /// `\dt+`: table and total sizes in bytes, and a row estimate.
    TableSizes,
    /// `\d TABLE`: every index of one table.
    TableIndexes(&'a QualName),
    /// `\d+ TABLE`: each column's storage and description.
    ColumnDetails(&'a QualName),
    /// `\d VIEW`: a view's columns.
    ViewColumns(&'a QualName),
    /// `\d VIEW`: a view's definition.
    ViewDefinition(&'a QualName),
}

/// What a listing found.
#[derive(Debug, Clone, PartialEq)]
pub enum Listed {
    /// The rows, and what to tell the operator about them on this engine
    /// (what SQLite's "schemas" are).
    Rows {
        rows: Rows,
        note: Option<&'static str>,
    },
    /// The engine has no such thing: why, in a sentence.
    Absent(&'static str),
}

/// How long a listing may take: catalogs are small, but a size on a busy
/// server can wait on a lock.
const BUDGET: Duration = Duration::from_secs(30);

impl Connection {
    /// Runs `what` in a read-only transaction.
    pub fn listing(&mut self, what: Listing<'_>) -> Result<Listed> {
        let (sql, note) = match self {
            Connection::Postgres(_) => (super::postgres::listing::sql(what), None),
            Connection::Sqlite(_) => (
                super::sqlite::listing::sql(what),
                super::sqlite::listing::note(what),
            ),
        };
        let sql = match sql {
            Ok(sql) => sql,
            Err(why) => return Ok(Listed::Absent(why)),
        };
        let rows = self.preview(BUDGET, |tx| tx.query(&sql))?;
        let rows = rows.ok_or_else(|| {
            crate::error::Error::database("the catalog query did not finish in 30 seconds")
        })?;
        Ok(Listed::Rows { rows, note })
    }
}
