//! Columns an INSERT leaves out: what the engine writes into them (a
//! literal default, its domain's, NULL), so keys and CHECKs read the rows
//! as the engine writes them; and the foreign keys whose columns take a
//! value computed at run time, which no preview computes.

use super::super::{Context, Impact};
use crate::schema::Table;

/// The columns an INSERT leaves out, with what each takes, typed as the
/// column: its default where that is a literal
/// ([`crate::sql::is_constant`]), NULL where it has none. So keys and
/// CHECKs are checked on the rows as the engine writes them. A default
/// computed at run time (`nextval`, a function) is never evaluated: its
/// foreign key is left unchecked, and [`unchecked_defaults`] says so, as
/// does the CHECK that reads it. A NOT NULL column with no default is
/// left to the NOT NULL check, which names it.
pub(super) fn omitted_values(
    ctx: &Context<'_>,
    table: &Table,
    columns: &[String],
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let fk_columns = table.foreign_keys.iter().flat_map(|fk| &fk.columns);
    // A unique key's column with a literal default collides like a given
    // value (NULL never does, so no default adds nothing there).
    let keys = super::all_keys(table);
    let unique_columns = keys.iter().flat_map(|k| &k.columns).filter(|c| {
        table
            .column(c)
            .and_then(|c| c.default.as_deref())
            .is_some_and(|d| crate::sql::is_constant(ctx.dialect.0, d))
    });
    // Any other column a CHECK may read (the catalog's checks are read
    // later, with the rows).
    let others = table
        .columns
        .iter()
        .filter(|c| !(c.not_null && c.default.is_none()))
        .map(|c| &c.name);
    for name in fk_columns.chain(unique_columns).chain(others) {
        let Some(c) = table.column(name) else {
            continue;
        };
        let taken = columns.contains(name) || out.iter().any(|(n, _)| n == name);
        if taken
            || c.generated.is_some()
            || c.identity.is_some()
            || ctx.dialect.is_rowid_alias(table, name)
        {
            continue;
        }
        let value = match c.default.as_deref() {
            None => "NULL",
            Some(d) if crate::sql::is_constant(ctx.dialect.0, d) => d,
            Some(_) => continue,
        };
        out.push((name.clone(), ctx.dialect.cast(value, &c.type_name)));
    }
    out
}

/// Warnings for the foreign keys of `table` with a column the INSERT
/// leaves to a value computed at run time, which [`omitted_values`]
/// does not evaluate: a default that is not a literal, an identity, a
/// generated column, the rowid SQLite assigns.
pub(super) fn unchecked_defaults(
    ctx: &Context<'_>,
    table: &Table,
    columns: &[String],
    impact: &mut Impact,
) {
    for fk in &table.foreign_keys {
        let computed: Vec<String> = fk
            .columns
            .iter()
            .filter(|c| !columns.contains(*c))
            .filter_map(|c| table.column(c))
            .filter_map(|c| {
                let what = if ctx.dialect.is_rowid_alias(table, &c.name) {
                    "the rowid SQLite assigns".to_owned()
                } else if c.identity.is_some() {
                    "its identity value".to_owned()
                } else if c.generated.is_some() {
                    format!("GENERATED AS ({})", c.default.as_deref().unwrap_or("?"))
                } else {
                    format!("DEFAULT {}", c.default.as_deref()?)
                };
                Some(format!("{} ({what})", c.name))
            })
            .collect();
        if !computed.is_empty() {
            impact.warnings.push(format!(
                "not checked: FK {} of {}, whose {} the preview does not compute",
                fk.name,
                table.name,
                computed.join(", ")
            ));
        }
    }
}
