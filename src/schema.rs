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
//! How a typed name finds a table differs between the engines (case
//! folding, search path, SQLite's single `main` schema); the model holds
//! those rules as data ([`NameRules`]) that the catalog code hands it, so it
//! resolves names without knowing which engine it describes.

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

/// Each part as written, quoted where it holds what no unquoted name can
/// (a dot, a space, a quote), so two tables never read alike: `"s.t".u`
/// and `s."t.u"`, not `s.t.u` twice. Case is left alone: the name carries
/// no engine, and on SQLite `Film` and `film` are one table.
impl fmt::Display for QualName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{}.{}", shown_part(s), shown_part(&self.name)),
            None => f.write_str(&shown_part(&self.name)),
        }
    }
}

/// One part of a [`QualName`] for display.
fn shown_part(part: &str) -> std::borrow::Cow<'_, str> {
    let word = part
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && part
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '$');
    if word {
        part.into()
    } else {
        quote_ident(part).into()
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
pub(crate) fn display_ident(name: &str) -> String {
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

/// How a name typed in SQL finds a table, and how a name must be written
/// to be found again: the engine's rules, as data. The catalog code that
/// loads a schema hands them over (`db::dialect::Dialect::name_rules`), so
/// the model, which knows no engine, resolves names the way the engine
/// does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameRules {
    pub case: NameCase,
    /// The one schema every table lives in when the catalog names none
    /// (SQLite's `main`): a qualifier may name it and adds nothing. `None`
    /// when tables live in named schemas and an unqualified name is looked
    /// up along the search path.
    pub single_schema: Option<&'static str>,
}

/// How an identifier compares with the catalog's spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameCase {
    /// Unquoted identifiers fold to lower case, quoted ones match exactly
    /// (Postgres): a name needs quotes unless it is lower case.
    FoldsUnquoted,
    /// Identifiers match ignoring ASCII case, quoted or not (SQLite): a name
    /// needs quotes only for characters an unquoted identifier cannot hold.
    IgnoresAsciiCase,
}

impl NameCase {
    /// The catalog spelling an identifier typed as `name` looks for: folded
    /// to lower case unless quoted, or as typed where case is ignored (a
    /// lookup by it then finds only the same case).
    pub fn fold(self, name: &str, quoted: bool) -> String {
        match self {
            NameCase::FoldsUnquoted if !quoted => name.to_lowercase(),
            _ => name.to_owned(),
        }
    }

    /// Whether the catalog name `catalog` is what `name` (typed, quoted or
    /// not) names.
    pub fn names(self, catalog: &str, name: &str, quoted: bool) -> bool {
        match self {
            NameCase::FoldsUnquoted => catalog == self.fold(name, quoted),
            NameCase::IgnoresAsciiCase => catalog.eq_ignore_ascii_case(name),
        }
    }
}

impl NameRules {
    /// Whether tables live in named schemas (shown and completed with
    /// them).
    pub(crate) fn has_schemas(&self) -> bool {
        self.single_schema.is_none()
    }

    /// The schema `table` lives in, by name: its own, or the single schema.
    pub fn schema_of<'a>(&self, table: &'a QualName) -> &'a str {
        table
            .schema
            .as_deref()
            .or(self.single_schema)
            .unwrap_or_default()
    }

    /// `name` as it must be typed to find it again: bare when typing it
    /// bare finds exactly it, quoted otherwise.
    pub fn ident(&self, name: &str) -> String {
        match self.case {
            NameCase::FoldsUnquoted => display_ident(name),
            NameCase::IgnoresAsciiCase => {
                let plain = name
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if plain {
                    name.to_owned()
                } else {
                    quote_ident(name)
                }
            }
        }
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
    /// The collation SQLite compares the column's values with, when it is
    /// not `BINARY`: a foreign key matches child rows with its parent
    /// column's, whatever the child column's is. Not read on PostgreSQL,
    /// where a key's equality operator decides.
    pub collation: Option<String>,
}

/// A CHECK constraint: its name, and its expression over the table's bare
/// column names, as the engine evaluates it on each row written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub expr: String,
    /// Why a preview cannot evaluate it, where it cannot: declared on a
    /// partition rows are routed to, or in table text that could not be
    /// read.
    pub unchecked: Option<String>,
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
    /// Where this key comes in the order the engine runs the actions of
    /// the keys that reference one table, lowest first: on Postgres the
    /// rank of its ON DELETE trigger's name (triggers fire in name order;
    /// an RI trigger is `RI_ConstraintTrigger_a_<oid>`, so `99999` comes
    /// after `100000`, and a renamed one wherever its name sorts), on SQLite
    /// the table's place in `sqlite_schema` (later tables first) and the
    /// `pragma_foreign_key_list` id. Whether a RESTRICT reference is
    /// cleared by a cascade depends on which of the two runs first. In
    /// `0..2^40`, or negative where the engine's order is not one order (a
    /// key into a partitioned table whose partitions fire their triggers
    /// in different orders).
    pub ordinal: i64,
}

impl ForeignKey {
    /// The columns an `ON DELETE SET NULL/DEFAULT` changes.
    pub fn delete_set_columns(&self) -> &[String] {
        self.delete_set_columns.as_deref().unwrap_or(&self.columns)
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
    /// Fires with `session_replication_role = replica` too (Postgres
    /// `ENABLE ALWAYS` or `ENABLE REPLICA`), where an undo restores with
    /// ordinary triggers off.
    pub fires_in_replica: bool,
    /// The function it calls (Postgres) or its body (SQLite), for display.
    pub action: String,
    /// The `WHEN (...)` condition, for display: a trigger that looks like
    /// it fires on every row may fire on few.
    pub when: Option<String>,
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
    /// PostgreSQL rewrite rules on the table (`CREATE RULE`), by name: they
    /// run statements of their own that no preview sees.
    pub rules: Vec<String>,
    pub rls_enabled: bool,
    pub rls_forced: bool,
    /// SQLite `WITHOUT ROWID` tables have no rowid to address rows by.
    pub without_rowid: bool,
    /// Other tables inherit from this one (PostgreSQL `INHERITS`, not
    /// partitions): a scan of it also returns their rows, where its
    /// foreign keys, their actions and the engine's counters see its own
    /// rows only.
    pub inherited: bool,
    /// Unique indexes on an expression or with a WHERE (partial), by
    /// name, and those whose NULLs collide (`NULLS NOT DISTINCT`, named
    /// with that): the preview does not evaluate them, and says so.
    pub unmodelled_unique: Vec<String>,
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
            rules: Vec::new(),
            rls_enabled: false,
            rls_forced: false,
            without_rowid: false,
            inherited: false,
            unmodelled_unique: Vec::new(),
        }
    }

    /// Whether an enabled trigger or a rule of the table can write.
    fn writes(&self) -> bool {
        self.triggers.iter().any(|tg| tg.enabled) || !self.rules.is_empty()
    }

    /// The table as a `FROM` item that reads its own rows only, as the
    /// engine's foreign-key checks and actions do: `ONLY name` when other
    /// tables inherit from it, whose rows a plain scan would add.
    pub(crate) fn own_rows(&self) -> String {
        if self.inherited {
            format!("ONLY {}", self.name.sql())
        } else {
            self.name.sql()
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
    /// How typed names find tables on this engine.
    pub names: NameRules,
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
    pub fn new(
        engine: Engine,
        names: NameRules,
        mut tables: Vec<Table>,
        search_path: Vec<String>,
    ) -> Self {
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
            names,
            tables,
            search_path,
            by_name,
            incoming,
        }
    }

    pub fn get(&self, name: &QualName) -> Option<&Table> {
        self.by_name.get(name).map(|&i| &self.tables[i])
    }

    /// [`Table::own_rows`] of the table `name`; its plain name when the
    /// schema does not hold it.
    pub(crate) fn own_rows(&self, name: &QualName) -> String {
        self.get(name).map_or_else(|| name.sql(), Table::own_rows)
    }

    /// Whether any table has an enabled trigger or a rule: without one,
    /// nothing but a change's own statements writes while it runs.
    pub fn has_triggers(&self) -> bool {
        self.tables.iter().any(Table::writes)
    }

    /// Whether a trigger or rule can write when a change writes `tables`:
    /// one on any of them or on a partition of one, at any depth. A table
    /// a change does not write fires nothing.
    pub(crate) fn has_triggers_on<'q>(
        &self,
        tables: impl IntoIterator<Item = &'q QualName>,
    ) -> bool {
        let written: Vec<&QualName> = tables.into_iter().collect();
        self.tables.iter().filter(|t| t.writes()).any(|t| {
            self.partition_chain(&t.name)
                .iter()
                .any(|a| written.contains(&&a.name))
        })
    }

    pub(crate) fn index_of(&self, name: &QualName) -> Option<usize> {
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

    /// `table` and the tables it is a partition of, nearest first (empty
    /// when the schema does not know `table`). A malformed catalog could
    /// loop; the walk stops at a table it has seen.
    pub fn partition_chain(&self, table: &QualName) -> Vec<&Table> {
        let mut out: Vec<&Table> = self.get(table).into_iter().collect();
        while let Some(parent) = out
            .last()
            .and_then(|t| t.partition_of.as_ref())
            .and_then(|p| self.get(p))
        {
            if out.iter().any(|t| t.name == parent.name) {
                break;
            }
            out.push(parent);
        }
        out
    }

    /// Foreign keys that act when rows of `table` are deleted or updated:
    /// those that reference it and, for a partition, its ancestors (a key
    /// into a partitioned table references the rows of each partition).
    /// Foreign keys whose rows a change of `table`'s rows can reach: those
    /// into it or a table it is a partition of
    /// ([`Self::referencing_through_partitions`]), and those into any of
    /// its own partitions, at any depth (a key may name a leaf).
    pub fn referencing_tree(&self, table: &QualName) -> Vec<&ForeignKey> {
        let mut fks = self.referencing_through_partitions(table);
        for t in self.tables.iter().filter(|t| t.name != *table) {
            if self
                .partition_chain(&t.name)
                .iter()
                .any(|a| a.name == *table)
            {
                fks.extend(self.referencing(&t.name));
            }
        }
        fks
    }

    pub fn referencing_through_partitions(&self, table: &QualName) -> Vec<&ForeignKey> {
        self.partition_chain(table)
            .into_iter()
            .flat_map(|t| self.referencing(&t.name))
            .collect()
    }

    /// Resolves a name as the user typed it, with the engine's rules
    /// ([`NameRules`]): unquoted names fold to lower case on Postgres and
    /// match case-insensitively on SQLite; quoted names match exactly on
    /// Postgres; an unqualified Postgres name is looked up along the search
    /// path, and a qualifier on SQLite may only name `main`.
    ///
    /// `parts` are the identifier parts with their quote flag.
    pub fn resolve(&self, parts: &[(String, bool)]) -> Option<&Table> {
        let case = self.names.case;
        match (self.names.single_schema, parts) {
            (None, [name]) => self
                .search_path
                .iter()
                .find_map(|schema| self.find(Some(schema), name)),
            (None, [schema, name] | [_, schema, name]) => {
                self.find(Some(&case.fold(&schema.0, schema.1)), name)
            }
            (Some(_), [name]) => self.find(None, name),
            (Some(only), [schema, name]) if case.names(only, &schema.0, schema.1) => {
                self.find(None, name)
            }
            _ => None,
        }
    }

    /// The table `name` (as typed) in the catalog's `schema`: by its folded
    /// spelling, or, where case is ignored, by any case of it (the same
    /// case first).
    fn find(&self, schema: Option<&str>, name: &(String, bool)) -> Option<&Table> {
        let case = self.names.case;
        let exact = self.get(&QualName::new(schema, &case.fold(&name.0, name.1)));
        match case {
            NameCase::FoldsUnquoted => exact,
            NameCase::IgnoresAsciiCase => exact.or_else(|| {
                self.tables.iter().find(|t| {
                    t.name.schema.as_deref() == schema && case.names(&t.name.name, &name.0, name.1)
                })
            }),
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
    pub(crate) fn short_name(&self, table: &QualName) -> String {
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
pub(crate) fn split_ident_path(s: &str) -> Option<Vec<(String, bool)>> {
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

    const FOLDS: NameRules = NameRules {
        case: NameCase::FoldsUnquoted,
        single_schema: None,
    };
    const IGNORES_CASE: NameRules = NameRules {
        case: NameCase::IgnoresAsciiCase,
        single_schema: Some("main"),
    };

    fn schema(names: NameRules, tables: &[(Option<&str>, &str)], path: &[&str]) -> Schema {
        let tables = tables
            .iter()
            .map(|(s, n)| Table::new(QualName::new(*s, n)))
            .collect();
        let path = path.iter().map(|s| (*s).to_owned()).collect();
        Schema::new(Engine::Postgres, names, tables, path)
    }

    fn resolved(s: &Schema, typed: &str) -> Option<String> {
        s.resolve_str(typed).map(|t| t.name.to_string())
    }

    #[test]
    fn names_that_would_read_alike_are_quoted() {
        let a = QualName::new(Some("s.t"), "u");
        let b = QualName::new(Some("s"), "t.u");
        assert_eq!(a.to_string(), "\"s.t\".u");
        assert_eq!(b.to_string(), "s.\"t.u\"");
        for (name, shown) in [
            ("Orders", "Orders"),
            ("my table", "\"my table\""),
            ("a\"b", "\"a\"\"b\""),
            ("1x", "\"1x\""),
            ("", "\"\""),
            ("café", "café"),
        ] {
            assert_eq!(QualName::new(None, name).to_string(), shown, "{name}");
        }
    }

    #[test]
    fn folding_names_use_the_search_path() {
        let s = schema(
            FOLDS,
            &[
                (Some("public"), "film"),
                (Some("sales"), "film"),
                (Some("sales"), "Orders"),
            ],
            &["public", "sales"],
        );
        assert_eq!(resolved(&s, "FILM").as_deref(), Some("public.film"));
        assert_eq!(resolved(&s, "Sales.Film").as_deref(), Some("sales.film"));
        assert_eq!(resolved(&s, "db.sales.film").as_deref(), Some("sales.film"));
        assert_eq!(resolved(&s, "orders"), None);
        assert_eq!(resolved(&s, "\"Orders\"").as_deref(), Some("sales.Orders"));
        assert_eq!(resolved(&s, "\"SALES\".film"), None);
        assert_eq!(resolved(&s, "a.b.c.d"), None);
    }

    #[test]
    fn case_blind_names_live_in_one_schema() {
        let s = schema(IGNORES_CASE, &[(None, "Film"), (None, "film_actor")], &[]);
        assert_eq!(resolved(&s, "film").as_deref(), Some("Film"));
        assert_eq!(resolved(&s, "\"FILM\"").as_deref(), Some("Film"));
        assert_eq!(
            resolved(&s, "MAIN.film_ACTOR").as_deref(),
            Some("film_actor")
        );
        assert_eq!(resolved(&s, "other.film"), None);
        assert_eq!(resolved(&s, "x.main.film"), None);
    }

    #[test]
    fn names_show_as_they_must_be_typed() {
        assert_eq!(FOLDS.ident("film_2$"), "film_2$");
        assert_eq!(FOLDS.ident("Film"), "\"Film\"");
        assert_eq!(IGNORES_CASE.ident("Film_2"), "Film_2");
        assert_eq!(IGNORES_CASE.ident("a$"), "\"a$\"");
        assert_eq!(IGNORES_CASE.ident("2a"), "\"2a\"");
        let bare = QualName::new(None, "t");
        assert_eq!(IGNORES_CASE.schema_of(&bare), "main");
        assert!(FOLDS.has_schemas() && !IGNORES_CASE.has_schemas());
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

/// What finds a row of a table again after a change: SQLite's rowid (which
/// an update keeps), the primary key, or nothing (a Postgres table without
/// a key, whose rows are known only by their values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Locator {
    Rowid,
    Key(Vec<String>),
    None,
}

impl Locator {
    /// The locator's values as SQL over the table aliased `alias`.
    pub fn exprs(&self, alias: &str) -> Vec<String> {
        match self {
            Locator::Rowid => vec![format!("{alias}.rowid")],
            Locator::Key(cols) => cols
                .iter()
                .map(|c| format!("{alias}.{}", quote_ident(c)))
                .collect(),
            Locator::None => Vec::new(),
        }
    }
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
    /// [`Table::inherited`] of the live table, read from the schema of
    /// the transaction that uses this (not journaled: children come and
    /// go).
    #[serde(skip, default)]
    pub inherited: bool,
}

impl TableInfo {
    /// The table's name as the schema and the engine's counters name it.
    pub(crate) fn qual_name(&self) -> QualName {
        QualName::new(self.schema.as_deref(), &self.table)
    }

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
            inherited: table.inherited,
        }
    }

    /// [`Table::own_rows`]: the table as the object of a `FROM`, `UPDATE`
    /// or `DELETE` that must reach its own rows only (not of an `INSERT
    /// INTO`, which takes no `ONLY` and writes the table alone).
    pub(crate) fn own_rows(&self) -> String {
        if self.inherited {
            format!("ONLY {}", self.sql_name())
        } else {
            self.sql_name()
        }
    }

    /// The table's name as SQL, quoted.
    pub(crate) fn sql_name(&self) -> String {
        match &self.schema {
            Some(s) => format!("{}.{}", quote_ident(s), quote_ident(&self.table)),
            None => quote_ident(&self.table),
        }
    }

    /// Whether the key columns are a primary key (never NULL) rather than
    /// all columns of a keyless table (which may hold NULLs).
    pub(crate) fn has_primary_key(&self) -> bool {
        self.key_columns.len() < self.columns.iter().filter(|c| !c.generated).count()
    }

    /// The type of column `name` as captured (empty if there is none).
    pub(crate) fn column_type(&self, name: &str) -> &str {
        self.columns
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.type_name.as_str())
            .unwrap_or("")
    }

    /// The columns a restore writes, with their positions in a captured
    /// row: every column but the generated ones, which are the database's.
    pub fn written_columns(&self) -> impl Iterator<Item = (usize, &ColumnInfo)> {
        self.columns
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.generated)
    }

    /// The key values of a captured row.
    pub(crate) fn key_of(&self, row: &[Value]) -> Vec<Value> {
        self.key_columns
            .iter()
            .filter_map(|k| self.columns.iter().position(|c| &c.name == k))
            .filter_map(|i| row.get(i).cloned())
            .collect()
    }
}
