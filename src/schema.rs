//! The introspected schema: tables, columns, keys, foreign keys, triggers.
//!
//! The model is engine-neutral. `db::postgres` and `db::sqlite` fill it with
//! a handful of catalog queries for the whole database (never one query per
//! table: a schema with thousands of tables must load in well under a
//! second), and everything above `db/` (meta commands, completion, the impact
//! analysis) reads only this model.
//!
//! Names are kept exactly as the catalog spells them. `QualName` displays
//! them unquoted (`public.film`), which is what JSON and messages use;
//! `QualName::sql` quotes them for use in generated SQL.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{Engine, Value};

/// A table name, schema-qualified on Postgres, bare on SQLite.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QualName {
    pub schema: Option<String>,
    pub name: String,
}

impl QualName {
    pub fn new(schema: Option<&str>, name: &str) -> Self {
        QualName {
            schema: schema.map(str::to_owned),
            name: name.to_owned(),
        }
    }

    /// The name quoted for SQL: `"public"."my table"`.
    pub fn sql(&self) -> String {
        match &self.schema {
            Some(s) => format!("{}.{}", quote_ident(s), quote_ident(&self.name)),
            None => quote_ident(&self.name),
        }
    }
}

impl fmt::Display for QualName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{s}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Quotes an identifier for either engine: double quotes, inner quotes doubled.
pub fn quote_ident(name: &str) -> String {
    let mut s = String::with_capacity(name.len() + 2);
    s.push('"');
    for c in name.chars() {
        if c == '"' {
            s.push('"');
        }
        s.push(c);
    }
    s.push('"');
    s
}

/// Quotes an identifier only when it needs it (for display, like psql does).
pub fn display_ident(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$');
    if plain {
        name.to_owned()
    } else {
        quote_ident(name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// An ordinary table.
    Table,
    /// A Postgres partitioned table (holds no rows itself).
    Partitioned,
    /// A Postgres foreign table.
    Foreign,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generated {
    Stored,
    Virtual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    Always,
    ByDefault,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// The type as the engine names it (`character varying(20)`, `INTEGER`).
    pub type_name: String,
    pub not_null: bool,
    /// Default expression (or generation expression for generated columns).
    pub default: Option<String>,
    pub generated: Option<Generated>,
    pub identity: Option<Identity>,
}

/// A primary key or unique constraint (or unique index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub name: String,
    pub columns: Vec<String>,
}

/// What a foreign key does to referencing rows when the referenced row is
/// deleted or its key updated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FkAction {
    NoAction,
    Restrict,
    Cascade,
    SetNull,
    SetDefault,
}

impl FkAction {
    /// SQL spelling: `NO ACTION`, `SET NULL`, ...
    pub fn sql(self) -> &'static str {
        match self {
            FkAction::NoAction => "NO ACTION",
            FkAction::Restrict => "RESTRICT",
            FkAction::Cascade => "CASCADE",
            FkAction::SetNull => "SET NULL",
            FkAction::SetDefault => "SET DEFAULT",
        }
    }

    /// JSON spelling: `no_action`, `set_null`, ...
    pub fn json(self) -> &'static str {
        match self {
            FkAction::NoAction => "no_action",
            FkAction::Restrict => "restrict",
            FkAction::Cascade => "cascade",
            FkAction::SetNull => "set_null",
            FkAction::SetDefault => "set_default",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchType {
    /// A row with NULL in any FK column references nothing.
    Simple,
    /// All FK columns NULL references nothing; a mix is rejected on write.
    Full,
    Partial,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKey {
    pub name: String,
    /// The referencing (child) table.
    pub table: QualName,
    pub columns: Vec<String>,
    /// The referenced (parent) table.
    pub ref_table: QualName,
    pub ref_columns: Vec<String>,
    pub on_delete: FkAction,
    pub on_update: FkAction,
    /// PG15 `ON DELETE SET NULL (col, ...)`: only these columns are changed.
    /// `None` means all FK columns.
    pub delete_set_columns: Option<Vec<String>>,
    pub match_type: MatchType,
    pub deferrable: bool,
    pub initially_deferred: bool,
    /// Where this key comes in the order the engine runs the actions of a
    /// table's foreign keys: the constraint's OID on Postgres (its RI
    /// triggers fire in creation order), the `pragma_foreign_key_list` id on
    /// SQLite. Whether a RESTRICT reference is cleared by a cascade on the
    /// same rows depends on which of the two runs first.
    pub ordinal: i64,
}

impl ForeignKey {
    /// The columns an `ON DELETE SET NULL/DEFAULT` changes.
    pub fn delete_set_columns(&self) -> &[String] {
        self.delete_set_columns.as_deref().unwrap_or(&self.columns)
    }

    /// The `ON DELETE ...` clause as SQL, with a PG15 column list if any.
    pub fn on_delete_sql(&self) -> String {
        match (&self.delete_set_columns, self.on_delete) {
            (Some(cols), FkAction::SetNull | FkAction::SetDefault) => format!(
                "{} ({})",
                self.on_delete.sql(),
                cols.iter()
                    .map(|c| display_ident(c))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => self.on_delete.sql().to_owned(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerTiming {
    Before,
    After,
    InsteadOf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TriggerEvent {
    Insert,
    Update,
    Delete,
    Truncate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub name: String,
    pub timing: TriggerTiming,
    pub events: Vec<TriggerEvent>,
    /// `FOR EACH ROW` (true) or `FOR EACH STATEMENT`.
    pub for_each_row: bool,
    /// Disabled triggers (`ALTER TABLE ... DISABLE TRIGGER`) do not fire.
    pub enabled: bool,
    /// The function it calls (Postgres) or its body (SQLite), for display.
    pub action: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub name: QualName,
    pub kind: TableKind,
    /// For a partition: its parent table.
    pub partition_of: Option<QualName>,
    pub columns: Vec<Column>,
    pub primary_key: Option<Key>,
    pub unique: Vec<Key>,
    /// Foreign keys declared on this table (outgoing references).
    pub foreign_keys: Vec<ForeignKey>,
    pub triggers: Vec<Trigger>,
    pub rls_enabled: bool,
    pub rls_forced: bool,
    /// SQLite `WITHOUT ROWID` tables have no rowid to address rows by.
    pub without_rowid: bool,
}

impl Table {
    pub fn new(name: QualName) -> Self {
        Table {
            name,
            kind: TableKind::Table,
            partition_of: None,
            columns: Vec::new(),
            primary_key: None,
            unique: Vec::new(),
            foreign_keys: Vec::new(),
            triggers: Vec::new(),
            rls_enabled: false,
            rls_forced: false,
            without_rowid: false,
        }
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// The whole introspected schema of one database.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub engine: Engine,
    /// Tables sorted by name.
    pub tables: Vec<Table>,
    /// Postgres schemas searched for unqualified names, in order.
    pub search_path: Vec<String>,
    by_name: HashMap<QualName, usize>,
    /// For each table index, the (table index, fk index) of foreign keys
    /// that reference it.
    incoming: Vec<Vec<(usize, usize)>>,
}

impl Schema {
    /// Builds the lookup indexes. Tables are sorted by name so every listing
    /// and snapshot is stable.
    pub fn new(engine: Engine, mut tables: Vec<Table>, search_path: Vec<String>) -> Self {
        tables.sort_by(|a, b| a.name.cmp(&b.name));
        for t in &mut tables {
            t.foreign_keys
                .sort_by(|a, b| a.name.cmp(&b.name).then(a.columns.cmp(&b.columns)));
            t.triggers.sort_by(|a, b| a.name.cmp(&b.name));
            t.unique.sort_by(|a, b| a.name.cmp(&b.name));
        }
        let by_name: HashMap<QualName, usize> = tables
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        let mut incoming = vec![Vec::new(); tables.len()];
        for (ti, t) in tables.iter().enumerate() {
            for (fi, fk) in t.foreign_keys.iter().enumerate() {
                if let Some(&parent) = by_name.get(&fk.ref_table) {
                    incoming[parent].push((ti, fi));
                }
            }
        }
        Schema {
            engine,
            tables,
            search_path,
            by_name,
            incoming,
        }
    }

    pub fn get(&self, name: &QualName) -> Option<&Table> {
        self.by_name.get(name).map(|&i| &self.tables[i])
    }

    pub fn index_of(&self, name: &QualName) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// Foreign keys that reference `table` (incoming references), sorted by
    /// referencing table then constraint name.
    pub fn referencing(&self, table: &QualName) -> Vec<&ForeignKey> {
        let Some(&i) = self.by_name.get(table) else {
            return Vec::new();
        };
        let mut fks: Vec<&ForeignKey> = self.incoming[i]
            .iter()
            .map(|&(t, f)| &self.tables[t].foreign_keys[f])
            .collect();
        fks.sort_by(|a, b| a.table.cmp(&b.table).then(a.name.cmp(&b.name)));
        fks
    }

    /// Resolves a name as the user typed it, with the engine's rules:
    /// unquoted names fold to lower case on Postgres and match
    /// case-insensitively on SQLite; quoted names match exactly; an
    /// unqualified Postgres name is looked up along the search path.
    ///
    /// `parts` are the identifier parts with their quote flag.
    pub fn resolve(&self, parts: &[(String, bool)]) -> Option<&Table> {
        match self.engine {
            Engine::Postgres => {
                let fold = |(s, quoted): &(String, bool)| {
                    if *quoted { s.clone() } else { s.to_lowercase() }
                };
                match parts {
                    [name] => {
                        let name = fold(name);
                        self.search_path
                            .iter()
                            .find_map(|schema| self.get(&QualName::new(Some(schema), &name)))
                    }
                    [schema, name] => self.get(&QualName::new(Some(&fold(schema)), &fold(name))),
                    [_db, schema, name] => {
                        self.get(&QualName::new(Some(&fold(schema)), &fold(name)))
                    }
                    _ => None,
                }
            }
            Engine::Sqlite => {
                let name = match parts {
                    [name] => name,
                    // `main.t`: SQLite's main schema
                    [schema, name] if schema.0.eq_ignore_ascii_case("main") => name,
                    _ => return None,
                };
                self.get(&QualName::new(None, &name.0)).or_else(|| {
                    self.tables
                        .iter()
                        .find(|t| t.name.name.eq_ignore_ascii_case(&name.0))
                })
            }
        }
    }

    /// Resolves a name typed at the prompt (`film`, `public.film`,
    /// `"My Table"`), parsing quotes the SQL way.
    pub fn resolve_str(&self, typed: &str) -> Option<&Table> {
        let parts = split_ident_path(typed)?;
        self.resolve(&parts)
    }

    /// The shortest name that resolves to `table` from the search path:
    /// bare when its schema is first on the path to have that name.
    pub fn short_name(&self, table: &QualName) -> String {
        match &table.schema {
            None => display_ident(&table.name),
            Some(s) => {
                let bare = vec![(table.name.clone(), true)];
                if self.resolve(&bare).map(|t| &t.name) == Some(table) {
                    display_ident(&table.name)
                } else {
                    format!("{}.{}", display_ident(s), display_ident(&table.name))
                }
            }
        }
    }
}

/// Splits `a."B c".d` into identifier parts with their quote flags. Returns
/// `None` on an unterminated quote or an empty part.
pub fn split_ident_path(s: &str) -> Option<Vec<(String, bool)>> {
    let mut parts = Vec::new();
    let mut chars = s.trim().chars().peekable();
    loop {
        let mut part = String::new();
        let quoted = chars.peek() == Some(&'"');
        if quoted {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        part.push('"');
                    }
                    Some('"') => break,
                    Some(c) => part.push(c),
                    None => return None,
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == '.' {
                    break;
                }
                part.push(c);
                chars.next();
            }
            part = part.trim().to_owned();
        }
        if part.is_empty() {
            return None;
        }
        parts.push((part, quoted));
        match chars.next() {
            Some('.') => continue,
            None => return Some(parts),
            Some(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_quoted_paths() {
        assert_eq!(
            split_ident_path(r#"public."My ""T"" .x""#),
            Some(vec![
                ("public".into(), false),
                (r#"My "T" .x"#.into(), true)
            ])
        );
        assert_eq!(split_ident_path("a..b"), None);
        assert_eq!(split_ident_path("\"open"), None);
        assert_eq!(split_ident_path(""), None);
    }

    #[test]
    fn quotes_identifiers() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(display_ident("film"), "film");
        assert_eq!(display_ident("Film"), "\"Film\"");
        assert_eq!(display_ident("bıgınt"), "\"bıgınt\"");
    }
}

/// A column of a journaled table, as the target described it at capture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnInfo {
    pub name: String,
    pub type_name: String,
    /// Generated columns are left to the database on restore.
    #[serde(default)]
    pub generated: bool,
    /// `GENERATED ALWAYS AS IDENTITY` needs `OVERRIDING SYSTEM VALUE`.
    #[serde(default)]
    pub identity_always: bool,
}

/// A table touched by a change, with its columns in capture order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableInfo {
    /// `schema.table` on Postgres, bare on SQLite (display form).
    pub name: String,
    pub schema: Option<String>,
    pub table: String,
    /// Restore order: parents before children (lower first).
    pub position: i64,
    pub columns: Vec<ColumnInfo>,
    /// Columns that identify a row (primary key, or all columns).
    pub key_columns: Vec<String>,
}

impl TableInfo {
    /// How the journal describes `table`, restored at `position`.
    pub fn of(table: &Table, position: i64) -> TableInfo {
        let columns: Vec<ColumnInfo> = table
            .columns
            .iter()
            .map(|c| ColumnInfo {
                name: c.name.clone(),
                type_name: c.type_name.clone(),
                generated: c.generated.is_some(),
                identity_always: c.identity == Some(Identity::Always),
            })
            .collect();
        let key_columns = match &table.primary_key {
            Some(pk) => pk.columns.clone(),
            None => table
                .columns
                .iter()
                .filter(|c| c.generated != Some(Generated::Virtual))
                .map(|c| c.name.clone())
                .collect(),
        };
        TableInfo {
            name: table.name.to_string(),
            schema: table.name.schema.clone(),
            table: table.name.name.clone(),
            position,
            columns,
            key_columns,
        }
    }

    /// The table's name as SQL, quoted.
    pub fn sql_name(&self) -> String {
        match &self.schema {
            Some(s) => format!("{}.{}", quote_ident(s), quote_ident(&self.table)),
            None => quote_ident(&self.table),
        }
    }

    /// Whether the key columns are a primary key (never NULL) rather than
    /// all columns of a keyless table (which may hold NULLs).
    pub fn has_primary_key(&self) -> bool {
        self.key_columns.len() < self.columns.iter().filter(|c| !c.generated).count()
    }

    /// The type of column `name` as captured (empty if there is none).
    pub fn column_type(&self, name: &str) -> &str {
        self.columns
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.type_name.as_str())
            .unwrap_or("")
    }

    /// The key values of a captured row.
    pub fn key_of(&self, row: &[Value]) -> Vec<Value> {
        self.key_columns
            .iter()
            .filter_map(|k| self.columns.iter().position(|c| &c.name == k))
            .filter_map(|i| row.get(i).cloned())
            .collect()
    }
}
