//! What key actions write, and key actions whose changes are themselves
//! referenced (issue 16, item 6): a SET NULL of a column another table
//! references, an ON UPDATE CASCADE into one. That table's own ON UPDATE
//! action then runs, and no preview follows it yet; where such a chain
//! reaches rows, the preview refuses with them rather than show counts
//! that leave them out.

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

/// What a SET NULL or SET DEFAULT writes into `column` (NULL for any
/// other action), typed as the column: an untyped NULL is text to
/// PostgreSQL. `Err(default)` where the default is computed at run time,
/// which a preview never evaluates (it may call `nextval`).
pub(super) fn action_value(
    d: crate::db::dialect::Dialect,
    action: super::Action,
    column: Option<&crate::schema::Column>,
) -> std::result::Result<String, &str> {
    let t = column.map_or("", |c| c.type_name.as_str());
    match column.and_then(|c| c.default.as_deref()) {
        Some(def) if action == super::Action::SetDefault => {
            if crate::sql::is_constant(d.0, def) {
                Ok(d.cast(def, t))
            } else {
                Err(def)
            }
        }
        _ => Ok(d.cast("NULL", t)),
    }
}

/// The types of the columns key actions may write when `table`'s rows
/// are deleted or its keys change: the referencing columns of every
/// foreign key into it (or a partition of it, or a table it is a partition
/// of), and into the tables those reach in turn. A preview casts NULLs and
/// defaults into them, and a cast into a domain runs the domain's CHECK,
/// so they are screened with the statement
/// ([`crate::db::PreviewTx::called_beyond`]) before anything runs.
/// Built-in types run no code of the database's own, and are left out:
/// their words (`time`, `zone`) would only find functions so named.
pub(super) fn written_types(schema: &crate::schema::Schema, table: &QualName) -> Vec<String> {
    use std::collections::{BTreeSet, HashMap, VecDeque};
    let mut partitions: HashMap<&QualName, Vec<&QualName>> = HashMap::new();
    for t in &schema.tables {
        if let Some(p) = &t.partition_of {
            partitions.entry(p).or_default().push(&t.name);
        }
    }
    let mut seen: BTreeSet<QualName> = BTreeSet::from([table.clone()]);
    let mut queue: VecDeque<QualName> = VecDeque::from([table.clone()]);
    let mut types: BTreeSet<String> = BTreeSet::new();
    while let Some(t) = queue.pop_front() {
        for part in partitions.get(&t).into_iter().flatten() {
            if seen.insert((*part).clone()) {
                queue.push_back((*part).clone());
            }
        }
        for fk in schema.referencing_through_partitions(&t) {
            if let Some(child) = schema.get(&fk.table) {
                let cols = fk.columns.iter().filter_map(|c| child.column(c));
                types.extend(cols.map(|c| c.type_name.clone()).filter(|n| !built_in(n)));
            }
            if seen.insert(fk.table.clone()) {
                queue.push_back(fk.table.clone());
            }
        }
    }
    types.into_iter().collect()
}

/// Whether a type, as the catalog spells it (`format_type`, SQLite's
/// declared type), is one the engine defines: a name with a space, a
/// modifier or an array suffix of a built-in, or one of the common names
/// (unquoted).
fn built_in(name: &str) -> bool {
    const NAMES: [&str; 23] = [
        "integer", "bigint", "smallint", "int", "text", "numeric", "boolean", "date", "uuid",
        "json", "jsonb", "bytea", "real", "money", "inet", "cidr", "xml", "oid", "name", "char",
        "interval", "blob", "",
    ];
    let base = name.trim_end_matches("[]");
    let base = base.split('(').next().unwrap_or(base).trim();
    // A quoted name (`"my domain"`) is the user's, spaces or not.
    !base.contains('"')
        && (base.contains(' ') || NAMES.contains(&base.to_ascii_lowercase().as_str()))
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

#[cfg(test)]
mod tests {
    use super::built_in;

    #[test]
    fn built_in_types_are_told_from_the_users() {
        for t in [
            "integer",
            "integer[]",
            "character varying(20)",
            "timestamp with time zone",
            "numeric(12,2)",
            "TEXT",
            "",
        ] {
            assert!(built_in(t), "{t}");
        }
        for t in ["d", "public.d", "\"my domain\"", "email_address", "d[]"] {
            assert!(!built_in(t), "{t}");
        }
    }
}
