//! Plain inheritance (PostgreSQL `INHERITS`) at the target of a write.
//!
//! Everywhere else a preview reads a table's own rows (`ONLY`,
//! [`crate::schema::Table::own_rows`]), as foreign keys do. A DELETE or
//! UPDATE naming a table with inheritance children reaches their rows
//! too, and those are theirs to hold: this refuses such a statement before
//! anything is counted.

use super::Context;
use crate::db::PreviewTx;
use crate::error::{Error, Result};
use crate::schema::Table;

/// A DELETE or UPDATE of a table that others inherit from (PostgreSQL
/// `INHERITS`) also writes their matching rows, which the preview and the
/// journal would hold as the target's: restored into it, without their
/// own columns. Such a statement is refused, with each table's rows and
/// what to write instead; one that matches the target's own rows only
/// goes on. (`ONLY` is not read: the statement parser takes it for a
/// table name, which does not exist.)
pub(super) fn refuse_inherited_rows(
    tx: &mut dyn PreviewTx,
    ctx: &Context<'_>,
    table: &Table,
    (with, from, qual): (&str, &str, &str),
    pred: Option<&str>,
) -> Result<()> {
    let Some(sql) = table
        .inherited
        .then(|| {
            ctx.dialect
                .rows_per_table((with, from, qual), pred.unwrap_or("true"), &table.name)
        })
        .flatten()
    else {
        return Ok(());
    };
    let own = table.name.to_string();
    let Some(rows) = tx.query(&sql)? else {
        return Err(Error::refused(format!(
            "cannot preview the statement: other tables inherit from {own}, and its rows in them could not be counted within the preview time limit; nothing was run\nRestrict it to {own}'s own rows (AND {qual}.tableoid = '{own}'::regclass), or raise --preview-timeout."
        )));
    };
    let mut parts = Vec::new();
    let mut others = false;
    for r in &rows.rows {
        let name = r.first().and_then(|v| v.text()).unwrap_or_default();
        let n = crate::db::count_of(r.get(1))?;
        others |= crate::db::count_of(r.get(2))? == 0;
        parts.push(format!("{name} ({n} row{})", if n == 1 { "" } else { "s" }));
    }
    if !others {
        return Ok(());
    }
    Err(Error::refused(format!(
        "cannot preview the statement as one change: other tables inherit from {own}, and it writes their rows too: {}; dbguard holds each table's rows with that table's own columns, and would take theirs for {own}'s; nothing was run\nRestrict it to {own}'s own rows (AND {qual}.tableoid = '{own}'::regclass), and write one statement for each table that inherits from it.",
        parts.join(", ")
    )))
}

/// `pred` narrowed to `table`'s own rows (as `qual`) where other tables
/// inherit from it: whether a WHERE selects every row is a question about
/// the rows the statement may write, which are the table's own (the rest
/// are refused above).
pub(super) fn own_rows_only(ctx: &Context<'_>, table: &Table, qual: &str, pred: &str) -> String {
    match table
        .inherited
        .then(|| ctx.dialect.own_row(qual, &table.name))
        .flatten()
    {
        Some(own) => format!("({pred}) OR NOT ({own})"),
        None => pred.to_owned(),
    }
}
