//! SQLite catalog introspection through table-valued pragma functions.
//!
//! SQLite has no catalog tables beyond `sqlite_schema`, but its pragmas are
//! also table-valued functions, so joining `sqlite_schema` with
//! `pragma_table_xinfo(name)`, `pragma_foreign_key_list(name)` and
//! `pragma_index_list(name)`/`pragma_index_info(index)` reads every table's
//! columns, foreign keys and unique indexes in one query each: five queries
//! for the whole database, never one per table.
//!
//! What the pragmas do not say is recovered from the stored `CREATE` text
//! with `sqlparser` (never with regular expressions, which break on quoted
//! names and comments):
//! - trigger timing and events, by scanning the `CREATE TRIGGER` header
//!   tokens;
//! - foreign-key constraint names, `DEFERRABLE INITIALLY DEFERRED`, and the
//!   expressions of generated columns, by parsing `CREATE TABLE`. SQLite
//!   accepts some syntax `sqlparser` does not; such a table keeps synthesized
//!   FK names, counts as not deferrable and shows no generation expression,
//!   while everything the pragmas report stays exact.
//!
//! SQLite foreign keys have no names; an unnamed one gets a stable
//! Postgres-style name `<table>_<cols>_fkey` so messages and approvals can
//! refer to it.

use std::collections::HashMap;

use rusqlite::Transaction;
use sqlparser::ast::{
    ColumnOption, ConstraintCharacteristics, DeferrableInitial, ObjectName, Statement,
    TableConstraint,
};
use sqlparser::dialect::SQLiteDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::db::Engine;
use crate::db::dialect::Dialect;
use crate::error::Result;
use crate::schema::{
    Check, Column, FkAction, ForeignKey, Generated, Key, MatchType, QualName, Schema, Table,
    Trigger, TriggerEvent, TriggerTiming,
};

/// Counts catalog queries (see the Postgres twin).
#[derive(Debug, Default)]
pub struct QueryCounter {
    pub queries: usize,
}

/// The tables the pragma joins run over. Virtual tables are left out: their
/// pragmas fail when the module is not loaded, and they hold no FKs. Internal
/// `sqlite_%` tables are SQLite's own.
const TABLE_FILTER: &str = "m.type = 'table' \
     AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
     AND m.name NOT LIKE 'dbguard\\_%' ESCAPE '\\' \
     AND m.sql NOT LIKE 'CREATE VIRTUAL%'";

/// Loads every table of the main database, in five queries.
pub fn load(tx: &Transaction<'_>, counter: &mut QueryCounter) -> Result<Schema> {
    let mut tables = load_tables(tx, counter)?;
    load_columns(tx, counter, &mut tables)?;
    load_foreign_keys(tx, counter, &mut tables)?;
    load_unique_indexes(tx, counter, &mut tables)?;
    load_triggers(tx, counter, &mut tables)?;
    let names = Dialect(Engine::Sqlite).name_rules();
    Ok(Schema::new(Engine::Sqlite, names, tables.list, Vec::new()))
}

/// The loaded tables, what their CREATE TABLE text adds (same index), and
/// where each name's table is.
struct Tables {
    list: Vec<Table>,
    parsed: Vec<ParsedTable>,
    by_name: HashMap<String, usize>,
}

impl Tables {
    /// The table with exactly this name, as the pragmas report it.
    fn index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// The table a name refers to as written by a user: SQLite matches
    /// table names case-insensitively.
    fn find(&self, name: &str) -> Option<usize> {
        self.index(name).or_else(|| {
            self.list
                .iter()
                .position(|t| t.name.name.eq_ignore_ascii_case(name))
        })
    }
}

/// 1. Tables. `pragma_table_list` (SQLite 3.37) says which are
///    `WITHOUT ROWID` and which are shadow tables of virtual tables
///    (internal: left out).
fn load_tables(tx: &Transaction<'_>, counter: &mut QueryCounter) -> Result<Tables> {
    counter.queries += 1;
    let mut stmt = tx.prepare(&format!(
        "SELECT m.name, m.sql, l.wr FROM sqlite_schema m \
         JOIN pragma_table_list l ON l.schema = 'main' AND l.name = m.name \
         WHERE {TABLE_FILTER} AND l.type = 'table'"
    ))?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Option<String>>(1)?,
            r.get::<_, bool>(2)?,
        ))
    })?;
    let mut tables = Tables {
        list: Vec::new(),
        parsed: Vec::new(),
        by_name: HashMap::new(),
    };
    for row in rows {
        let (name, sql, without_rowid) = row?;
        let mut t = Table::new(QualName::new(None, &name));
        t.without_rowid = without_rowid;
        tables.by_name.insert(name, tables.list.len());
        tables.list.push(t);
        tables
            .parsed
            .push(sql.as_deref().map(parse_create_table).unwrap_or_default());
    }
    Ok(tables)
}

/// 2. Columns. `hidden` is 2 for VIRTUAL and 3 for STORED generated
///    columns (1: hidden columns of virtual tables, which are excluded);
///    `pk` is the column's 1-based position in the primary key.
fn load_columns(
    tx: &Transaction<'_>,
    counter: &mut QueryCounter,
    tables: &mut Tables,
) -> Result<()> {
    counter.queries += 1;
    let mut stmt = tx.prepare(&format!(
        "SELECT m.name, p.name, p.type, p.\"notnull\", p.dflt_value, p.pk, p.hidden \
         FROM sqlite_schema m, pragma_table_xinfo(m.name) p \
         WHERE {TABLE_FILTER} ORDER BY m.name, p.cid"
    ))?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, bool>(3)?,
            r.get::<_, Option<String>>(4)?,
            r.get::<_, i64>(5)?,
            r.get::<_, i64>(6)?,
        ))
    })?;
    let mut pk_cols: Vec<Vec<(i64, String)>> = vec![Vec::new(); tables.list.len()];
    for row in rows {
        let (table, name, type_name, not_null, default, pk, hidden) = row?;
        let Some(ti) = tables.index(&table) else {
            continue;
        };
        let generated = match hidden {
            2 => Some(Generated::Virtual),
            3 => Some(Generated::Stored),
            1 => continue,
            _ => None,
        };
        // The pragma reports no expression for generated columns; the
        // parsed CREATE TABLE has it.
        let default = match generated {
            Some(_) => tables.parsed[ti]
                .generated
                .get(&name.to_lowercase())
                .cloned(),
            None => default,
        };
        if pk > 0 {
            pk_cols[ti].push((pk, name.clone()));
        }
        tables.list[ti].columns.push(Column {
            name,
            type_name: type_name.unwrap_or_default(),
            not_null,
            default,
            generated,
            identity: None,
            collation: None,
        });
    }
    drop(stmt);
    load_collations(tx, tables);
    for (t, cols) in tables.list.iter_mut().zip(pk_cols) {
        set_primary_key(t, cols);
    }
    Ok(())
}

/// Each column's collation, from SQLite itself
/// (`sqlite3_table_column_metadata`): no pragma reports it, and the
/// `CREATE TABLE` text does not always parse. A C call per column, not a
/// query. A column whose metadata cannot be read keeps `BINARY`, as
/// SQLite's default.
fn load_collations(tx: &Transaction<'_>, tables: &mut Tables) {
    for t in &mut tables.list {
        let table = t.name.name.clone();
        for c in &mut t.columns {
            let Ok((_, Some(coll), ..)) =
                tx.column_metadata(Some("main"), table.as_str(), c.name.as_str())
            else {
                continue;
            };
            let coll = coll.to_string_lossy();
            if !coll.eq_ignore_ascii_case("BINARY") {
                c.collation = Some(coll.into_owned());
            }
        }
    }
}

/// The primary key from its columns as (position in the key, name).
fn set_primary_key(t: &mut Table, mut cols: Vec<(i64, String)>) {
    if cols.is_empty() {
        return;
    }
    cols.sort();
    let columns: Vec<String> = cols.into_iter().map(|(_, c)| c).collect();
    // A primary key column cannot hold NULL when the table is WITHOUT
    // ROWID or the column is the rowid itself (`INTEGER PRIMARY KEY`),
    // although the pragma says `notnull = 0`. Other SQLite primary keys
    // do accept NULL (a historical quirk), so they keep the flag.
    let rowid_alias = columns.len() == 1
        && t.column(&columns[0])
            .is_some_and(|c| c.type_name.eq_ignore_ascii_case("INTEGER"));
    if t.without_rowid || rowid_alias {
        for c in &mut t.columns {
            if columns.contains(&c.name) {
                c.not_null = true;
            }
        }
    }
    t.primary_key = Some(Key {
        name: format!("{}_pkey", t.name.name),
        columns,
    });
}

/// 3. Foreign keys: one row per column; rows with the same `id` form one
///    (composite) key, in `seq` order.
fn load_foreign_keys(
    tx: &Transaction<'_>,
    counter: &mut QueryCounter,
    tables: &mut Tables,
) -> Result<()> {
    counter.queries += 1;
    let mut stmt = tx.prepare(&format!(
        "SELECT m.name, f.id, f.\"table\", f.\"from\", f.\"to\", f.on_update, f.on_delete, m.rowid \
         FROM sqlite_schema m, pragma_foreign_key_list(m.name) f \
         WHERE {TABLE_FILTER} ORDER BY m.name, f.id, f.seq"
    ))?;
    let rows = stmt.query_map([], |r| {
        Ok(FkRow {
            table: r.get(0)?,
            id: r.get(1)?,
            parent: r.get(2)?,
            from: r.get(3)?,
            to: r.get(4)?,
            on_update: r.get(5)?,
            on_delete: r.get(6)?,
            schema_row: r.get(7)?,
        })
    })?;
    let mut fk_rows: Vec<FkRow> = Vec::new();
    for row in rows {
        fk_rows.push(row?);
    }
    drop(stmt);
    let fks: Vec<(usize, ForeignKey)> = fk_rows
        .chunk_by(|a, b| a.table == b.table && a.id == b.id)
        .filter_map(|group| foreign_key(group, tables))
        .collect();
    // Two unnamed FKs on the same columns would get the same synthesized
    // name; number the later ones so every name is unique per table.
    for (ti, mut fk) in fks {
        let base = fk.name.clone();
        let mut n = 1;
        while tables.list[ti]
            .foreign_keys
            .iter()
            .any(|f| f.name == fk.name)
        {
            n += 1;
            fk.name = format!("{base}{n}");
        }
        tables.list[ti].foreign_keys.push(fk);
    }
    Ok(())
}

/// Where a key's action comes among all the keys that reference the same
/// table: SQLite keeps them in one list per parent, each key put first as
/// its table's schema is read (in `sqlite_schema` order, each table's keys
/// in declaration order), and runs the list from the start: the keys of
/// the table created last first, a table's last declared key (id 0)
/// first. Positive and below 2^40, the bound the impact analysis counts
/// on.
fn action_order(schema_row: i64, id: i64) -> i64 {
    let row = schema_row.clamp(0, (1 << 24) - 1);
    ((1 << 24) - row) * (1 << 12) + id.clamp(0, (1 << 12) - 1)
}

/// One foreign key from its rows (one per column), with the index of its
/// table; `None` when the table was not loaded.
fn foreign_key(group: &[FkRow], tables: &Tables) -> Option<(usize, ForeignKey)> {
    let first = group.first()?;
    let ti = tables.index(&first.table)?;
    // The FK names its parent as written; SQLite matches table names
    // case-insensitively, so find the table's real spelling.
    let parent_idx = tables.find(&first.parent);
    let parent_name = parent_idx
        .map(|p| tables.list[p].name.name.clone())
        .unwrap_or_else(|| first.parent.clone());
    let columns: Vec<String> = group.iter().map(|r| r.from.clone()).collect();
    // A NULL `to` means the parent's primary key. A parent without one
    // (or a missing parent) is a schema SQLite rejects at write time
    // ("foreign key mismatch"); the FK then keeps an empty column list.
    let ref_columns: Vec<String> = if group.iter().all(|r| r.to.is_some()) {
        group.iter().filter_map(|r| r.to.clone()).collect()
    } else {
        parent_idx
            .and_then(|p| tables.list[p].primary_key.as_ref())
            .map(|k| k.columns.clone())
            .unwrap_or_default()
    };
    let info = tables.parsed[ti].find_fk(&columns, &first.parent);
    let table = tables.list[ti].name.clone();
    let name = info
        .and_then(|f| f.name.clone())
        .unwrap_or_else(|| format!("{}_{}_fkey", table.name, columns.join("_")));
    let fk = ForeignKey {
        name,
        table,
        columns,
        ref_table: QualName::new(None, &parent_name),
        ref_columns,
        on_delete: fk_action(&first.on_delete),
        on_update: fk_action(&first.on_update),
        delete_set_columns: None,
        // SQLite parses MATCH but ignores it: every FK is SIMPLE.
        match_type: MatchType::Simple,
        deferrable: info.is_some_and(|f| f.deferrable),
        initially_deferred: info.is_some_and(|f| f.initially_deferred),
        ordinal: action_order(first.schema_row, first.id),
    };
    Some((ti, fk))
}

/// 4. Unique indexes and constraints. `origin` is 'pk' for the primary
///    key (already known from the columns), 'u' for a UNIQUE constraint,
///    'c' for CREATE UNIQUE INDEX. A NULL column name is an expression; an
///    index on one, or a partial one, is kept by name only
///    (`Table::unmodelled_unique`).
fn load_unique_indexes(
    tx: &Transaction<'_>,
    counter: &mut QueryCounter,
    tables: &mut Tables,
) -> Result<()> {
    counter.queries += 1;
    let mut stmt = tx.prepare(&format!(
        "SELECT m.name, il.name, il.origin, CASE WHEN il.partial = 0 THEN ii.name END \
         FROM sqlite_schema m, pragma_index_list(m.name) il, pragma_index_info(il.name) ii \
         WHERE {TABLE_FILTER} AND il.\"unique\" = 1 AND il.origin <> 'pk' \
         ORDER BY m.name, il.name, ii.seqno"
    ))?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<String>>(3)?,
        ))
    })?;
    let mut indexes: Vec<UniqueIndex> = Vec::new();
    for row in rows {
        let (table, index, origin, column) = row?;
        let Some(ti) = tables.index(&table) else {
            continue;
        };
        let key = (ti, index);
        if indexes.last().is_none_or(|(k, _, _)| *k != key) {
            indexes.push((key, origin, Some(Vec::new())));
        }
        if let Some((_, _, cols)) = indexes.last_mut() {
            match (cols.as_mut(), column) {
                (Some(c), Some(name)) => c.push(name),
                _ => *cols = None,
            }
        }
    }
    drop(stmt);
    for ((ti, index), origin, cols) in indexes {
        let Some(columns) = cols.filter(|c| !c.is_empty()) else {
            // On an expression, or partial: not a column list.
            tables.list[ti].unmodelled_unique.push(index);
            continue;
        };
        let t = &mut tables.list[ti];
        // Unique constraints get SQLite's internal `sqlite_autoindex_*`
        // names; a Postgres-style name says more.
        let name = if origin == "u" && index.starts_with("sqlite_autoindex_") {
            format!("{}_{}_key", t.name.name, columns.join("_"))
        } else {
            index
        };
        t.unique.push(Key { name, columns });
    }
    Ok(())
}

/// 5. Triggers, decoded from their CREATE TRIGGER text. Triggers on
///    views (INSTEAD OF) have no table here and are skipped.
fn load_triggers(
    tx: &Transaction<'_>,
    counter: &mut QueryCounter,
    tables: &mut Tables,
) -> Result<()> {
    counter.queries += 1;
    let mut stmt = tx.prepare(
        "SELECT name, tbl_name, sql FROM sqlite_schema WHERE type = 'trigger' ORDER BY name",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
        ))
    })?;
    for row in rows {
        let (name, table, sql) = row?;
        let Some(ti) = tables.find(&table) else {
            continue;
        };
        let header = parse_trigger(sql.as_deref().unwrap_or(""));
        tables.list[ti].triggers.push(Trigger {
            name,
            timing: header.timing,
            events: header.events,
            // SQLite only has row-level triggers.
            for_each_row: true,
            // SQLite cannot disable a trigger, and has no replica mode.
            enabled: true,
            fires_in_replica: false,
            action: header.body,
            when: header.when,
        });
    }
    Ok(())
}

/// A unique index as read: ((table index, index name), origin, columns),
/// the columns `None` once an expression column is seen.
type UniqueIndex = ((usize, String), String, Option<Vec<String>>);

struct FkRow {
    table: String,
    id: i64,
    parent: String,
    from: String,
    to: Option<String>,
    on_update: String,
    on_delete: String,
    /// The table's row in `sqlite_schema`: the order its schema is read in.
    schema_row: i64,
}

/// Decodes the pragma's action spelling. SQLite only ever reports these
/// five; anything else would be a newer SQLite, and NO ACTION is what
/// SQLite does by default.
fn fk_action(s: &str) -> FkAction {
    match s.to_ascii_uppercase().as_str() {
        "CASCADE" => FkAction::Cascade,
        "SET NULL" => FkAction::SetNull,
        "SET DEFAULT" => FkAction::SetDefault,
        "RESTRICT" => FkAction::Restrict,
        _ => FkAction::NoAction,
    }
}

/// What the parsed CREATE TABLE adds to the pragmas.
#[derive(Debug, Default)]
struct ParsedTable {
    fks: Vec<ParsedFk>,
    /// Generation expression by lower-cased column name.
    generated: HashMap<String, String>,
}

#[derive(Debug)]
struct ParsedFk {
    name: Option<String>,
    /// Lower-cased: SQLite names are case-insensitive.
    columns: Vec<String>,
    ref_table: String,
    deferrable: bool,
    initially_deferred: bool,
}

impl ParsedTable {
    fn find_fk(&self, columns: &[String], ref_table: &str) -> Option<&ParsedFk> {
        let cols: Vec<String> = columns.iter().map(|c| c.to_lowercase()).collect();
        self.fks
            .iter()
            .find(|f| f.columns == cols && f.ref_table.eq_ignore_ascii_case(ref_table))
    }
}

/// Parses a CREATE TABLE statement for FK names, deferrability and
/// generation expressions. Anything `sqlparser` cannot parse yields the
/// empty default (see the module docs).
fn parse_create_table(sql: &str) -> ParsedTable {
    let mut out = ParsedTable::default();
    let Ok(statements) = Parser::parse_sql(&SQLiteDialect {}, sql) else {
        return out;
    };
    let Some(Statement::CreateTable(ct)) = statements.into_iter().next() else {
        return out;
    };
    for col in &ct.columns {
        for opt in &col.options {
            match &opt.option {
                ColumnOption::ForeignKey(fk) => {
                    let (deferrable, initially_deferred) = deferral(fk.characteristics.as_ref());
                    out.fks.push(ParsedFk {
                        name: opt
                            .name
                            .as_ref()
                            .or(fk.name.as_ref())
                            .map(|i| i.value.clone()),
                        columns: vec![col.name.value.to_lowercase()],
                        ref_table: last_part(&fk.foreign_table),
                        deferrable,
                        initially_deferred,
                    });
                }
                ColumnOption::Generated {
                    generation_expr: Some(expr),
                    ..
                } => {
                    out.generated
                        .insert(col.name.value.to_lowercase(), expr.to_string());
                }
                _ => {}
            }
        }
    }
    for constraint in &ct.constraints {
        if let TableConstraint::ForeignKey(fk) = constraint {
            let (deferrable, initially_deferred) = deferral(fk.characteristics.as_ref());
            out.fks.push(ParsedFk {
                name: fk.name.as_ref().map(|i| i.value.clone()),
                columns: fk.columns.iter().map(|c| c.value.to_lowercase()).collect(),
                ref_table: last_part(&fk.foreign_table),
                deferrable,
                initially_deferred,
            });
        }
    }
    out
}

/// The CHECK constraints of a `CREATE TABLE`, on columns and on the table,
/// with their names, or `<table>_check<n>` for an unnamed one as SQLite
/// keeps no name. A statement sqlparser cannot read that mentions CHECK
/// gives one check the preview cannot evaluate, so it is said, not passed.
pub(crate) fn parse_checks(table: &str, sql: &str) -> Vec<Check> {
    let unread = || {
        let mentions = sql.to_ascii_lowercase().contains("check");
        let why = "the table's CREATE TABLE text could not be read";
        match mentions {
            true => vec![Check {
                name: "(any)".into(),
                expr: String::new(),
                unchecked: Some(why.into()),
            }],
            false => Vec::new(),
        }
    };
    let Ok(statements) = Parser::parse_sql(&SQLiteDialect {}, sql) else {
        return unread();
    };
    let Some(Statement::CreateTable(ct)) = statements.into_iter().next() else {
        return unread();
    };
    let mut found: Vec<(Option<String>, String)> = Vec::new();
    for col in &ct.columns {
        for opt in &col.options {
            if let ColumnOption::Check(c) = &opt.option {
                let name = opt.name.as_ref().or(c.name.as_ref());
                found.push((name.map(|n| n.value.clone()), c.expr.to_string()));
            }
        }
    }
    for constraint in &ct.constraints {
        if let TableConstraint::Check(c) = constraint {
            found.push((c.name.as_ref().map(|n| n.value.clone()), c.expr.to_string()));
        }
    }
    found
        .into_iter()
        .enumerate()
        .map(|(i, (name, expr))| Check {
            name: name.unwrap_or_else(|| format!("{table}_check{}", i + 1)),
            expr,
            unchecked: None,
        })
        .collect()
}

/// SQLite defers an FK only when it is `DEFERRABLE INITIALLY DEFERRED`;
/// every other combination is checked immediately.
fn deferral(c: Option<&ConstraintCharacteristics>) -> (bool, bool) {
    let deferrable = c.is_some_and(|c| c.deferrable == Some(true));
    let deferred =
        deferrable && c.is_some_and(|c| c.initially == Some(DeferrableInitial::Deferred));
    (deferrable, deferred)
}

fn last_part(name: &ObjectName) -> String {
    name.0
        .last()
        .and_then(|p| p.as_ident())
        .map(|i| i.value.clone())
        .unwrap_or_default()
}

/// The parts of a CREATE TRIGGER statement the model keeps.
#[derive(Debug, PartialEq)]
struct TriggerHeader {
    timing: TriggerTiming,
    events: Vec<TriggerEvent>,
    /// The statements between BEGIN and END, whitespace collapsed.
    body: String,
    /// The condition after WHEN, before BEGIN, whitespace collapsed.
    when: Option<String>,
}

/// Reads timing and event from the header of a CREATE TRIGGER:
///
/// `CREATE [TEMP] TRIGGER [IF NOT EXISTS] [schema.]name
///  [BEFORE | AFTER | INSTEAD OF] {DELETE | INSERT | UPDATE [OF col, ...]}
///  ON table [FOR EACH ROW] [WHEN expr] BEGIN ... END`
///
/// Tokens, not text: a trigger named `"after delete"` or a comment in the
/// header cannot fool it. If the text cannot be tokenized, the trigger is
/// reported as firing BEFORE every event: listing too much is the safe error
/// for a tool that warns about triggers.
fn parse_trigger(sql: &str) -> TriggerHeader {
    let unknown = TriggerHeader {
        timing: TriggerTiming::Before,
        events: vec![
            TriggerEvent::Insert,
            TriggerEvent::Update,
            TriggerEvent::Delete,
        ],
        body: String::new(),
        when: None,
    };
    let dialect = SQLiteDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, sql).tokenize() else {
        return unknown;
    };
    // Indexes of the significant tokens; whitespace and comments separate.
    let sig: Vec<usize> = (0..tokens.len())
        .filter(|&i| !matches!(tokens[i], Token::Whitespace(_) | Token::EOF))
        .collect();
    // An unquoted keyword at significant position `i` (a quoted word is
    // always a name).
    let kw = |i: usize| -> Option<Keyword> {
        match sig.get(i).map(|&t| &tokens[t]) {
            Some(Token::Word(w)) if w.quote_style.is_none() => Some(w.keyword),
            _ => None,
        }
    };
    let mut i = 0;
    if kw(i) != Some(Keyword::CREATE) {
        return unknown;
    }
    i += 1;
    if matches!(kw(i), Some(Keyword::TEMP | Keyword::TEMPORARY)) {
        i += 1;
    }
    if kw(i) != Some(Keyword::TRIGGER) {
        return unknown;
    }
    i += 1;
    if kw(i) == Some(Keyword::IF)
        && kw(i + 1) == Some(Keyword::NOT)
        && kw(i + 2) == Some(Keyword::EXISTS)
    {
        i += 3;
    }
    // The name, possibly schema-qualified: skipped whatever it spells.
    i += 1;
    if matches!(sig.get(i).map(|&t| &tokens[t]), Some(Token::Period)) {
        i += 2;
    }
    let mut timing = TriggerTiming::Before; // SQLite's default
    let mut events = Vec::new();
    let mut in_update_of = false;
    while i < sig.len() && kw(i) != Some(Keyword::ON) {
        match kw(i) {
            Some(Keyword::BEFORE) => timing = TriggerTiming::Before,
            Some(Keyword::AFTER) => timing = TriggerTiming::After,
            Some(Keyword::INSTEAD) => timing = TriggerTiming::InsteadOf,
            // Column names after `UPDATE OF` are not events.
            Some(Keyword::OF) => in_update_of = events.last() == Some(&TriggerEvent::Update),
            Some(Keyword::INSERT) if !in_update_of => events.push(TriggerEvent::Insert),
            Some(Keyword::UPDATE) if !in_update_of => events.push(TriggerEvent::Update),
            Some(Keyword::DELETE) if !in_update_of => events.push(TriggerEvent::Delete),
            _ => {}
        }
        i += 1;
    }
    if events.is_empty() {
        return unknown;
    }
    // The body: the tokens after the first BEGIN, up to the last END.
    let begin = (i..sig.len()).find(|&j| kw(j) == Some(Keyword::BEGIN));
    let end = (0..sig.len()).rev().find(|&j| kw(j) == Some(Keyword::END));
    let body = match (begin, end) {
        (Some(b), Some(e)) if e > b + 1 => body_text(&tokens[sig[b + 1]..=sig[e - 1]]),
        _ => String::new(),
    };
    // The header's WHEN (a WHEN inside the body is after BEGIN).
    let when = begin.and_then(|b| {
        let w = (i..b).find(|&j| kw(j) == Some(Keyword::WHEN))?;
        (b > w + 1).then(|| body_text(&tokens[sig[w + 1]..=sig[b - 1]]))
    });
    TriggerHeader {
        timing,
        events,
        body,
        when,
    }
}

/// The text of `tokens` on one line: whitespace and comments collapsed to
/// single spaces.
fn body_text(tokens: &[Token]) -> String {
    let mut out = String::new();
    let mut space = false;
    for t in tokens {
        if let Token::Whitespace(_) = t {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        out.push_str(&t.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_trigger_headers() {
        let h = parse_trigger(
            "CREATE TRIGGER \"after delete\" -- AFTER INSERT\n AFTER UPDATE OF \"delete\", x ON t \
             FOR EACH ROW WHEN new.x > 1 BEGIN  INSERT INTO log\n VALUES ('end'); END",
        );
        assert_eq!(h.timing, TriggerTiming::After);
        assert_eq!(h.events, vec![TriggerEvent::Update]);
        assert_eq!(h.body, "INSERT INTO log VALUES ('end');");
        assert_eq!(h.when.as_deref(), Some("new.x > 1"));

        let h = parse_trigger(
            "create temp trigger if not exists main.before delete on t begin select 1; end;",
        );
        assert_eq!(h.timing, TriggerTiming::Before);
        assert_eq!(h.events, vec![TriggerEvent::Delete]);

        let h = parse_trigger("CREATE TRIGGER v_ins INSTEAD OF INSERT ON v BEGIN SELECT 1; END");
        assert_eq!(h.timing, TriggerTiming::InsteadOf);
        assert_eq!(h.events, vec![TriggerEvent::Insert]);
    }

    #[test]
    fn parses_fk_details() {
        let p = parse_create_table(
            "CREATE TABLE c (a INT CONSTRAINT c_a REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED, \
             b INT, d INT GENERATED ALWAYS AS (a + b) STORED, \
             FOREIGN KEY (a, b) REFERENCES \"P\"(x, y))",
        );
        let f = p
            .find_fk(&["A".into()], "p")
            .map(|f| (f.name.clone(), f.deferrable, f.initially_deferred));
        assert_eq!(f, Some((Some("c_a".into()), true, true)));
        let f = p
            .find_fk(&["a".into(), "b".into()], "p")
            .map(|f| (f.name.clone(), f.deferrable));
        assert_eq!(f, Some((None, false)));
        assert_eq!(p.generated.get("d").map(String::as_str), Some("a + b"));
    }

    #[test]
    fn checks_of_unreadable_table_text_are_said_not_checked() {
        let unread = parse_checks("t", "CREATE TABLE t (a int CHECK (a > 0)) GARBLED ((");
        assert!(
            unread.len() == 1 && unread[0].unchecked.is_some(),
            "{unread:?}"
        );
        assert!(parse_checks("t", "CREATE TABLE t (a int) GARBLED ((").is_empty());
        let read = parse_checks("t", "CREATE TABLE t (a int CONSTRAINT pos CHECK (a > 0))");
        assert_eq!(read.len(), 1);
        assert_eq!(
            (read[0].name.as_str(), read[0].unchecked.is_none()),
            ("pos", true)
        );
    }
}
