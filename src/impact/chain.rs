//! Key actions whose changes are themselves referenced (issue 16, item
//! 6): a SET NULL of a column another table references, an ON UPDATE
//! CASCADE into one. That table's own ON UPDATE action then runs, and no
//! preview follows it yet; where such a chain reaches rows, the preview
//! refuses with them rather than show counts that leave them out.

use crate::error::Error;
use crate::schema::{ForeignKey, QualName};

/// The refusal for a key action whose change is itself referenced (issue
/// 16, item 6): `n` rows of `fk`'s table reference values of `changed`'s
/// columns that an action of the statement changes, so their own ON
/// UPDATE action would run, which no preview follows yet. Counts that
/// leave those rows out would be wrong, so there are none.
pub(super) fn not_followed(
    verb: &str,
    step: &str,
    changed: &QualName,
    fk: &ForeignKey,
    n: u64,
) -> Error {
    Error::refused(format!(
        "cannot preview the {verb} exactly: {step} changes a key of {changed} that {n} row{} of {} reference{} (FK {}, ON UPDATE {}), and what that sets off in turn is not followed yet; nothing was run\nChange or re-point those rows of {} first, then run this statement.",
        if n == 1 { "" } else { "s" },
        fk.table,
        if n == 1 { "s" } else { "" },
        fk.name,
        fk.on_update.sql(),
        fk.table
    ))
}

/// The types of the columns key actions may write when `table`'s rows
/// are deleted or its keys change: the referencing columns of every
/// foreign key into it, and into the tables those reach in turn. A
/// preview casts NULLs and defaults into them, and a cast into a domain
/// runs the domain's CHECK, so they are screened with the statement
/// ([`crate::db::PreviewTx::called_beyond`]) before anything runs.
pub(super) fn written_types(schema: &crate::schema::Schema, table: &QualName) -> Vec<String> {
    let mut seen: Vec<QualName> = vec![table.clone()];
    let mut types: Vec<String> = Vec::new();
    let mut i = 0;
    while let Some(t) = seen.get(i).cloned() {
        i += 1;
        for fk in schema.referencing_tree(&t) {
            let Some(child) = schema.get(&fk.table) else {
                continue;
            };
            for c in fk.columns.iter().filter_map(|c| child.column(c)) {
                if !types.contains(&c.type_name) {
                    types.push(c.type_name.clone());
                }
            }
            if !seen.contains(&fk.table) {
                seen.push(fk.table.clone());
            }
        }
    }
    types
}

/// The referencing columns of `fk` (on `referencing`, as `alias`) as the
/// engine compares them with the key of `referenced` (SQLite: with the
/// key column's collation), as one tuple.
pub(super) fn referencing_key(
    d: crate::db::dialect::Dialect,
    fk: &ForeignKey,
    (referencing, alias): (&crate::schema::Table, &str),
    referenced: &crate::schema::Table,
) -> String {
    let cols: Vec<String> = fk
        .columns
        .iter()
        .zip(&fk.ref_columns)
        .map(|(c, rc)| {
            d.as_key_of(
                &super::qcol(alias, c),
                referencing.column(c),
                referenced.column(rc),
            )
        })
        .collect();
    crate::db::dialect::tuple(&cols)
}
