//! SQLite's check of a row that references itself, when it rewrites the
//! row whole (issue 16, item 13 and the generated self-references).
//!
//! SQLite looks a parent row up with the key's affinity and collation, so
//! `'3'` in a TEXT column finds the key `3` of another row, and a NOCASE
//! key `'K5'` is found by `'k5'`; but a row it rewrites whole is out of
//! the key's index at that moment, and its shortcut for a row referencing
//! itself compares the two stored values as they are. A row whose
//! reference equals its own key only after the key's affinity or
//! collation is then a missing reference
//! ([`Dialect::misses_own_row_by_type`]).
//!
//! SQLite rewrites a row whole when the UPDATE that writes it assigns a
//! column of a key from the table to itself, or a key column that a key
//! with an `ON UPDATE` action references (`sqlite3FkRequired` returns 2),
//! or assigns any key column and moves the rowid. That UPDATE is the
//! statement's own ([`super::update`]) or the one a key action runs on the
//! rows it reaches ([`super::delete`]); either way every key from the table
//! to itself is checked on every row it writes, assigned or not.
//!
//! [`Dialect::misses_own_row_by_type`]: crate::db::dialect::Dialect::misses_own_row_by_type

use crate::db::dialect::Dialect;
use crate::schema::{FkAction, ForeignKey, Schema, Table};

/// Whether SQLite rewrites each row an UPDATE of `table` writes whole,
/// out of every index, when the UPDATE assigns the columns `assigns`
/// says it does.
pub(super) fn rewrites_whole_rows(
    d: Dialect,
    schema: &Schema,
    table: &Table,
    assigns: &dyn Fn(&str) -> bool,
) -> bool {
    let name = &table.name;
    let assigns_any = |cols: &[String]| cols.iter().any(|c| assigns(c));
    let incoming = schema.referencing(name);
    let own = table
        .foreign_keys
        .iter()
        .any(|fk| &fk.ref_table == name && assigns_any(&fk.columns));
    let acting = incoming
        .iter()
        .any(|fk| fk.on_update != FkAction::NoAction && assigns_any(&fk.ref_columns));
    let keyed = table.foreign_keys.iter().any(|fk| assigns_any(&fk.columns))
        || incoming.iter().any(|fk| assigns_any(&fk.ref_columns));
    let row_moves = table.primary_key.as_ref().is_some_and(|pk| {
        pk.columns
            .iter()
            .any(|c| d.is_rowid_alias(table, c) || (table.without_rowid && assigns(c)))
            && assigns_any(&pk.columns)
    });
    own || acting || (keyed && row_moves)
}

/// For the rows a key action's UPDATE of `table` writes, setting the
/// columns of `set` to their values and leaving the others as `kept`
/// gives them: each key SQLite then misses the row through, with the
/// condition that it does. Empty where SQLite does not rewrite the rows
/// whole.
pub(super) fn missed_by_rewrite<'t>(
    d: Dialect,
    schema: &Schema,
    table: &'t Table,
    set: &[(String, String)],
    kept: &dyn Fn(&str) -> String,
) -> Vec<(&'t ForeignKey, String)> {
    if !rewrites_whole_rows(d, schema, table, &|c| set.iter().any(|(s, _)| s == c)) {
        return Vec::new();
    }
    let value = |c: &str| {
        set.iter()
            .find(|(s, _)| s == c)
            .map_or_else(|| kept(c), |(_, v)| v.clone())
    };
    table
        .foreign_keys
        .iter()
        .filter(|fk| d.misses_own_row_by_type(table, fk))
        .map(|fk| (fk, itself_by_another_type(d, table, fk, &value)))
        .collect()
}

/// The condition that a row's reference through `fk` (no NULL in it),
/// with each column's value after the write as `value` gives it, finds
/// the row's own key by the key's affinity and collation but is not the
/// same stored value.
pub(super) fn itself_by_another_type(
    d: Dialect,
    table: &Table,
    fk: &ForeignKey,
    value: &dyn Fn(&str) -> String,
) -> String {
    let mut found = Vec::new();
    let mut same = Vec::new();
    for (c, rc) in fk.columns.iter().zip(&fk.ref_columns) {
        let (v, key) = (value(c), value(rc));
        let key_col = table.column(rc);
        let as_key = d.cast(
            &format!("+({v})"),
            key_col.map(|k| k.type_name.as_str()).unwrap_or(""),
        );
        let as_key = d.as_key_of(&as_key, None, key_col);
        found.push(format!("({v}) IS NOT NULL AND {as_key} = +({key})"));
        same.push(d.same_stored_value(&v, &key));
    }
    format!("{} AND NOT ({})", found.join(" AND "), same.join(" AND "))
}

/// What fails `n` rows of `table` that `fk` misses as their own parent,
/// after the object and before the help.
pub(super) fn missing_itself(table: &Table, fk: &ForeignKey, n: u64, deferred: bool) -> String {
    format!(
        "{n} row{} of {} would reference {} through FK {} with a value stored as another type or in another case than the key; SQLite does not find the row it writes that way{}",
        if n == 1 { "" } else { "s" },
        table.name,
        if n == 1 { "itself" } else { "themselves" },
        fk.name,
        if deferred {
            "; the failure comes at commit"
        } else {
            ""
        }
    )
}
