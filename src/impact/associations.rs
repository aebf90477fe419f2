//! Associations: references the database does not declare.
//!
//! Rails and Django apps often have no foreign keys; an `architecture_id`
//! column still points at `architectures.id`, and deleting the architecture
//! leaves those rows dangling. Associations come from policy
//! (`[[association]]`, source `declared`) or are inferred from column names
//! (`<name>_id` → the table `<name>`/`<name>s`/`<name>es`/`<nam>ies` in the
//! same schema with an `id` key, or `<name>_ids` arrays on Postgres; source
//! `inferred`). A column that already carries a foreign key is never an
//! association: the database enforces that reference itself.

use crate::db::dialect::Dialect;
use crate::policy::Policy;
use crate::schema::{QualName, Schema, Table, split_ident_path};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssocSource {
    Declared,
    Inferred,
}

impl AssocSource {
    pub fn name(self) -> &'static str {
        match self {
            AssocSource::Declared => "declared",
            AssocSource::Inferred => "inferred",
        }
    }
}

/// `table.column` references `ref_table.ref_column` without a constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Association {
    pub table: QualName,
    pub column: String,
    pub ref_table: QualName,
    pub ref_column: String,
    pub source: AssocSource,
    /// The column is an array of keys (`tag_ids integer[]`).
    pub array: bool,
    /// The column's element type, for array comparisons.
    pub elem_type: String,
}

impl Association {
    /// How the association is named in previews: `table.column → ref.col`.
    pub fn name(&self) -> String {
        format!(
            "{}.{} → {}.{}",
            self.table, self.column, self.ref_table, self.ref_column
        )
    }
}

/// Splits `[schema.]table.column` and resolves the table.
fn resolve_column<'s>(schema: &'s Schema, path: &str) -> Option<(&'s Table, String)> {
    let mut parts = split_ident_path(path)?;
    if parts.len() < 2 {
        return None;
    }
    let (col, quoted) = parts.pop()?;
    let table = schema.resolve(&parts)?;
    let col = Dialect(schema.engine)
        .find_column(table, &col, quoted)?
        .name
        .clone();
    Some((table, col))
}

fn has_fk_on(table: &Table, column: &str) -> bool {
    table
        .foreign_keys
        .iter()
        .any(|fk| fk.columns.len() == 1 && fk.columns[0] == column)
}

/// The key column an inferred reference points at: `id` when it is the
/// primary key or a single-column unique key.
fn id_key(table: &Table) -> Option<String> {
    let single = |cols: &[String]| cols.len() == 1 && cols[0] == "id";
    let pk = table
        .primary_key
        .as_ref()
        .is_some_and(|k| single(&k.columns));
    let uq = table.unique.iter().any(|k| single(&k.columns));
    (pk || uq).then(|| "id".to_owned())
}

/// The kind of value a column of `type_name` holds, as far as comparing
/// a reference with a key goes: numbers of any width or precision, text
/// of any length, else the type itself (without its modifier, which a
/// domain, a range or `interval` keeps apart from numbers). An untyped
/// SQLite column compares with anything.
fn value_family(type_name: &str) -> Option<String> {
    let t = type_name.trim_end_matches("[]").to_ascii_lowercase();
    let base = t.split('(').next().unwrap_or_default().trim().to_owned();
    const NUMBERS: &[&str] = &[
        "smallint",
        "integer",
        "bigint",
        "int",
        "int2",
        "int4",
        "int8",
        "tinyint",
        "mediumint",
        "unsigned big int",
        "numeric",
        "decimal",
        "real",
        "double precision",
        "double",
        "float",
        "float4",
        "float8",
        "smallserial",
        "serial",
        "bigserial",
    ];
    const TEXT: &[&str] = &[
        "text",
        "character varying",
        "varchar",
        "character",
        "char",
        "bpchar",
        "nchar",
        "nvarchar",
        "varying character",
        "native character",
        "clob",
        "citext",
        "name",
    ];
    Some(if base.is_empty() {
        return None;
    } else if NUMBERS.contains(&base.as_str()) {
        "number".to_owned()
    } else if TEXT.contains(&base.as_str()) {
        "text".to_owned()
    } else {
        base
    })
}

/// Whether a `<name>_id` column of `col_type` can hold keys of `key_type`:
/// an inference between other types (a `text` `user_id` beside a `bigint`
/// key, an `int4range`) is a guess the engine cannot even compare. A
/// domain is its own name here: over a number, it is not inferred.
fn comparable(col_type: &str, key_type: &str) -> bool {
    match (value_family(col_type), value_family(key_type)) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

fn plural_candidates(stem: &str) -> Vec<String> {
    let mut v = vec![stem.to_owned(), format!("{stem}s"), format!("{stem}es")];
    if let Some(base) = stem.strip_suffix('y') {
        v.push(format!("{base}ies"));
    }
    v
}

/// Every association that applies: declared ones, plus inferred ones
/// unless policy turns inference off or silences a column.
pub(crate) fn associations(schema: &Schema, policy: &Policy) -> (Vec<Association>, Vec<String>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let mut silenced: Vec<(QualName, String)> = Vec::new();
    for decl in &policy.associations {
        let Some((table, column)) = resolve_column(schema, &decl.from) else {
            warnings.push(format!(
                "policy association from {}: no such table or column",
                decl.from
            ));
            continue;
        };
        silenced.push((table.name.clone(), column.clone()));
        if decl.ignore {
            continue;
        }
        let Some(to) = &decl.to else { continue };
        let Some((ref_table, ref_column)) = resolve_column(schema, to) else {
            warnings.push(format!(
                "policy association {} → {to}: no such table or column",
                decl.from
            ));
            continue;
        };
        let type_name = table
            .column(&column)
            .map(|c| c.type_name.clone())
            .unwrap_or_default();
        let array = type_name.ends_with("[]");
        out.push(Association {
            table: table.name.clone(),
            column,
            ref_table: ref_table.name.clone(),
            ref_column,
            source: AssocSource::Declared,
            array,
            elem_type: type_name.trim_end_matches("[]").to_owned(),
        });
    }
    if policy.infer_associations {
        // A partition's references are its parent's: inferring on it would
        // show the same rows twice, or beside the parent's real key.
        for table in schema.tables.iter().filter(|t| t.partition_of.is_none()) {
            for col in &table.columns {
                let name = col.name.as_str();
                let (stem, array) = if let Some(s) = name.strip_suffix("_ids") {
                    (s, true)
                } else if let Some(s) = name.strip_suffix("_id") {
                    (s, false)
                } else {
                    continue;
                };
                // `_id` names one key, `_ids` an array of them: an array
                // under `_id` compares with no key.
                if stem.is_empty()
                    || array != col.type_name.ends_with("[]")
                    || has_fk_on(table, name)
                    || silenced.iter().any(|(t, c)| t == &table.name && c == name)
                {
                    continue;
                }
                let target = plural_candidates(stem).into_iter().find_map(|cand| {
                    let q = QualName::new(table.name.schema.as_deref(), &cand);
                    schema.get(&q).filter(|t| t.partition_of.is_none())
                });
                let Some(target) = target else { continue };
                let Some(key) = id_key(target) else { continue };
                let key_type = target.column(&key).map(|c| c.type_name.as_str());
                if !comparable(&col.type_name, key_type.unwrap_or_default()) {
                    continue;
                }
                out.push(Association {
                    table: table.name.clone(),
                    column: name.to_owned(),
                    ref_table: target.name.clone(),
                    ref_column: key,
                    source: AssocSource::Inferred,
                    array,
                    elem_type: col.type_name.trim_end_matches("[]").to_owned(),
                });
            }
        }
    }
    (out, warnings)
}
