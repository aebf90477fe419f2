//! Meta command output that reads the schema: `\dt`, `\d TABLE`, `\refs`.
//!
//! Pure functions from the [`Schema`] model to text, so they are snapshot
//! tested without a terminal. Layout follows psql where psql has an answer
//! (`\d` sections, `Referenced by:` lines) so a DBA reads it without
//! thinking; `\refs` is dbguard's own: the map of everything a delete of
//! the table's rows could touch.
//!
//! Naming: Postgres tables are always shown fully qualified
//! (`public.film`), SQLite tables bare; identifiers that need quotes are
//! quoted, so every name shown can be pasted back into SQL.

use crate::policy::glob::{Glob, Part};
use std::collections::{HashMap, HashSet};

use comfy_table::{ContentArrangement, ContentLineStyle, LineStyle, Table as Grid, TableStyle};

use crate::db::dialect::Dialect;
use crate::schema::{
    ForeignKey, Generated, Identity, MatchType, NameCase, QualName, Schema, Table, TableKind,
    TriggerEvent, TriggerTiming, quote_ident,
};

/// psql's look in plain ASCII (` a | b ` over `---+---`): stable in
/// snapshots and familiar. Used by every table this module draws.
const PSQL_STYLE: TableStyle = TableStyle::new()
    .header_lines(ContentLineStyle::none().junction('|'))
    .header_separator(LineStyle::none().fill('-').junction('+'))
    .content_lines(ContentLineStyle::none().junction('|'));

pub(crate) fn grid(header: &[&str]) -> Grid {
    let mut g = Grid::new();
    g.load_style(PSQL_STYLE);
    // Meta output is not wrapped to the terminal: names must stay whole and
    // the output identical whether or not a terminal is attached.
    g.set_content_arrangement(ContentArrangement::Disabled);
    g.set_header(header.iter().copied());
    g
}

/// A grid as text without the padding comfy-table leaves at line ends.
pub(crate) fn grid_text(g: &Grid) -> String {
    let mut s = String::new();
    for line in g.lines() {
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}

/// An identifier as it must be typed on the schema's engine
/// ([`crate::schema::NameRules::ident`]), so every name shown can be pasted
/// back into SQL.
fn ident(schema: &Schema, name: &str) -> String {
    schema.names.ident(name)
}

/// A table name as shown everywhere in this module: `schema.table` on
/// Postgres, bare on SQLite, quoted where needed.
pub(crate) fn tname(schema: &Schema, q: &QualName) -> String {
    match &q.schema {
        Some(s) => format!("{}.{}", ident(schema, s), ident(schema, &q.name)),
        None => ident(schema, &q.name),
    }
}

fn col_list(schema: &Schema, cols: &[String]) -> String {
    cols.iter()
        .map(|c| ident(schema, c))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub(crate) fn kind_label(t: &Table) -> &'static str {
    match (t.kind, &t.partition_of) {
        (TableKind::Partitioned, _) => "partitioned table",
        (TableKind::Foreign, _) => "foreign table",
        (TableKind::Table, Some(_)) => "partition",
        (TableKind::Table, None) => "table",
    }
}

// ---------------------------------------------------------------- \dt

/// One compiled part (schema or name) of a `\\dt` pattern, matched by the
/// policy's globs: as written, and with its letters lower-cased for
/// engines that ignore case (where the name is lower-cased too).
#[derive(Debug, Clone)]
pub(crate) struct NamePattern {
    exact: Glob,
    folded: Glob,
}

impl NamePattern {
    fn new(parts: &[Part]) -> NamePattern {
        let folded: Vec<Part> = parts
            .iter()
            .map(|p| match *p {
                Part::Lit(c) => Part::Lit(c.to_lowercase().next().unwrap_or(c)),
                other => other,
            })
            .collect();
        NamePattern {
            exact: Glob::of_parts(parts),
            folded: Glob::of_parts(&folded),
        }
    }

    /// Whether `name` matches. The pattern's unquoted letters are already
    /// folded; where the engine ignores case, both sides are compared
    /// folded.
    pub(crate) fn matches(&self, name: &str, case: NameCase) -> bool {
        if case == NameCase::FoldsUnquoted {
            return self.exact.matches(name);
        }
        self.folded.matches(&name.to_lowercase())
    }
}

/// Compiles `[schema.]name` psql-style: `*` and `?` are wildcards outside
/// double quotes; unquoted letters fold to lower case (Postgres rules);
/// inside quotes everything is literal and `""` is a quote. Returns the
/// schema part (if any) and the name part.
pub(crate) fn compile_pattern(p: &str) -> (Option<NamePattern>, NamePattern) {
    let mut parts: Vec<Vec<Part>> = vec![Vec::new()];
    let mut chars = p.trim().chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        let cur = parts.len() - 1;
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                parts[cur].push(Part::Lit('"'));
            }
            '"' => quoted = !quoted,
            _ if quoted => parts[cur].push(Part::Lit(c)),
            '.' => parts.push(Vec::new()),
            '*' => parts[cur].push(Part::Any),
            '?' => parts[cur].push(Part::One),
            _ => {
                for l in c.to_lowercase() {
                    parts[cur].push(Part::Lit(l));
                }
            }
        }
    }
    // An empty part (`public.`) means "anything", as in psql.
    let fix = |v: Vec<Part>| NamePattern::new(if v.is_empty() { &[Part::Any] } else { &v });
    let name = parts
        .pop()
        .map(fix)
        .unwrap_or_else(|| NamePattern::new(&[Part::Any]));
    // `db.schema.name`: the database part is ignored.
    let schema = parts.pop().map(fix);
    (schema, name)
}

/// The tables `\\dt [pattern]` lists. A pattern without a schema part
/// matches tables of every schema (psql limits it to the search path; a
/// guard shell would rather show a same-named table elsewhere).
pub(crate) fn matching_tables<'s>(schema: &'s Schema, pattern: Option<&str>) -> Vec<&'s Table> {
    let (schema_pat, name_pat) = match pattern {
        Some(p) => {
            let (s, n) = compile_pattern(p);
            (s, Some(n))
        }
        None => (None, None),
    };
    schema
        .tables
        .iter()
        .filter(|t| {
            name_pat
                .as_ref()
                .is_none_or(|p| p.matches(&t.name.name, schema.names.case))
                && schema_pat
                    .as_ref()
                    .is_none_or(|p| p.matches(schema.names.schema_of(&t.name), schema.names.case))
        })
        .collect()
}

/// `\dt [pattern]`: the list of tables.
pub(crate) fn list_tables(schema: &Schema, pattern: Option<&str>) -> String {
    let shown = matching_tables(schema, pattern);
    if shown.is_empty() {
        return match pattern {
            Some(p) => format!("Did not find any relation named \"{p}\".\n"),
            None => "Did not find any relations.\n".to_owned(),
        };
    }
    let with_schema = schema.names.has_schemas();
    let mut g = if with_schema {
        grid(&["Schema", "Name", "Type"])
    } else {
        grid(&["Name", "Type"])
    };
    for t in &shown {
        let name = ident(schema, &t.name.name);
        let kind = kind_label(t).to_owned();
        match (&t.name.schema, with_schema) {
            (Some(s), true) => g.add_row(vec![ident(schema, s), name, kind]),
            _ => g.add_row(vec![name, kind]),
        };
    }
    let mut s = String::from("List of relations\n");
    s.push_str(&grid_text(&g));
    s.push_str(&format!("({})\n", plural(shown.len(), "row", "rows")));
    s
}

// ---------------------------------------------------------------- \d

/// `FOREIGN KEY (a) REFERENCES t(b) MATCH FULL ON UPDATE ... ON DELETE ...
/// DEFERRABLE INITIALLY DEFERRED`, in `pg_get_constraintdef` order, except
/// that both actions are always spelled out (NO ACTION included): the
/// action is the point of showing a foreign key here.
fn fk_definition(schema: &Schema, fk: &ForeignKey) -> String {
    let mut s = format!(
        "FOREIGN KEY ({}) REFERENCES {}({})",
        col_list(schema, &fk.columns),
        tname(schema, &fk.ref_table),
        col_list(schema, &fk.ref_columns)
    );
    match fk.match_type {
        MatchType::Full => s.push_str(" MATCH FULL"),
        MatchType::Partial => s.push_str(" MATCH PARTIAL"),
        MatchType::Simple => {}
    }
    s.push_str(&format!(
        " ON UPDATE {} ON DELETE {}",
        fk.on_update.sql(),
        on_delete_text(schema, fk)
    ));
    s.push_str(deferral(fk));
    s
}

/// `SET NULL (col)` with the engine's quoting of the column list.
fn on_delete_text(schema: &Schema, fk: &ForeignKey) -> String {
    match &fk.delete_set_columns {
        Some(cols) => format!("{} ({})", fk.on_delete.sql(), col_list(schema, cols)),
        None => fk.on_delete.sql().to_owned(),
    }
}

fn deferral(fk: &ForeignKey) -> &'static str {
    match (fk.deferrable, fk.initially_deferred) {
        (true, true) => " DEFERRABLE INITIALLY DEFERRED",
        (true, false) => " DEFERRABLE",
        _ => "",
    }
}

fn timing_text(t: TriggerTiming) -> &'static str {
    match t {
        TriggerTiming::Before => "BEFORE",
        TriggerTiming::After => "AFTER",
        TriggerTiming::InsteadOf => "INSTEAD OF",
    }
}

fn event_text(e: TriggerEvent) -> &'static str {
    match e {
        TriggerEvent::Insert => "INSERT",
        TriggerEvent::Update => "UPDATE",
        TriggerEvent::Delete => "DELETE",
        TriggerEvent::Truncate => "TRUNCATE",
    }
}

/// What `\\d TABLE` shows beyond the introspected schema, read from the
/// catalog when the command runs (`shell::catalog`): the schema keeps
/// only what previews need.
#[derive(Debug, Default)]
pub(crate) struct Extras {
    /// Index lines for the indexes the key lines do not already show.
    pub indexes: Vec<String>,
    /// `\\d+`: each column's storage and description, by column name.
    pub details: Option<HashMap<String, (String, String)>>,
    /// Sections after the triggers (associations): title and lines.
    pub sections: Vec<(String, Vec<String>)>,
    /// Lines at the very end (sizes).
    pub footer: Vec<String>,
}

/// `\\d TABLE`, with what the catalog added.
pub(crate) fn describe_table_with(schema: &Schema, table: &Table, extras: &Extras) -> String {
    let title = match table.kind {
        TableKind::Partitioned => "Partitioned table",
        TableKind::Foreign => "Foreign table",
        TableKind::Table => "Table",
    };
    // psql's title: the raw qualified name in double quotes.
    let raw = match &table.name.schema {
        Some(sch) => format!("{sch}.{}", table.name.name),
        None => table.name.name.clone(),
    };
    let mut s = format!("{title} \"{raw}\"\n");
    s.push_str(&column_grid(schema, table, extras.details.as_ref()));
    let mut indexes = key_lines(schema, table);
    indexes.extend(extras.indexes.iter().cloned());
    section(&mut s, "Indexes:", indexes);
    section(
        &mut s,
        "Foreign-key constraints:",
        outgoing_lines(schema, table),
    );
    let refs: Vec<String> = schema
        .referencing_through_partitions(&table.name)
        .into_iter()
        .map(|fk| {
            format!(
                "    TABLE {} CONSTRAINT {} {}",
                tname(schema, &fk.table),
                quote_ident(&fk.name),
                fk_definition(schema, fk)
            )
        })
        .collect();
    section(&mut s, "Referenced by:", refs);
    section(&mut s, "Triggers:", trigger_lines(schema, table));
    for (title, lines) in &extras.sections {
        section(&mut s, title, lines.clone());
    }
    push_table_footer(&mut s, schema, table);
    for line in &extras.footer {
        s.push_str(line);
        s.push('\n');
    }
    s
}

/// The `Column | Type | Nullable | Default` grid, with `Storage |
/// Description` when `details` are given (`\\d+`).
fn column_grid(
    schema: &Schema,
    table: &Table,
    details: Option<&HashMap<String, (String, String)>>,
) -> String {
    let mut header = vec!["Column", "Type", "Nullable", "Default"];
    if details.is_some() {
        header.extend(["Storage", "Description"]);
    }
    let mut g = grid(&header);
    for c in &table.columns {
        let default = match (c.generated, c.identity, &c.default) {
            (_, Some(Identity::Always), _) => "generated always as identity".to_owned(),
            (_, Some(Identity::ByDefault), _) => "generated by default as identity".to_owned(),
            (Some(g), _, expr) => {
                let how = match g {
                    Generated::Stored => "stored",
                    Generated::Virtual => "virtual",
                };
                match expr {
                    Some(x) => format!("generated always as ({x}) {how}"),
                    None => format!("generated always ({how})"),
                }
            }
            (None, None, Some(d)) => d.clone(),
            (None, None, None) => String::new(),
        };
        let mut row = vec![
            ident(schema, &c.name),
            c.type_name.clone(),
            if c.not_null { "not null" } else { "" }.to_owned(),
            default,
        ];
        if let Some(d) = details {
            let (storage, description) = d.get(&c.name).cloned().unwrap_or_default();
            row.extend([storage, description]);
        }
        g.add_row(row);
    }
    grid_text(&g)
}

/// The primary key, then unique keys.
fn key_lines(schema: &Schema, table: &Table) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(pk) = &table.primary_key {
        keys.push(format!(
            "    {} PRIMARY KEY ({})",
            quote_ident(&pk.name),
            col_list(schema, &pk.columns)
        ));
    }
    for k in &table.unique {
        keys.push(format!(
            "    {} UNIQUE ({})",
            quote_ident(&k.name),
            col_list(schema, &k.columns)
        ));
    }
    keys
}

/// Outgoing: the table's own FKs, then (for a partition) the ones it is
/// bound by through its partitioned ancestors, named like psql does.
fn outgoing_lines(schema: &Schema, table: &Table) -> Vec<String> {
    let mut out_fks = Vec::new();
    // A partition is bound by the foreign keys of its partitioned
    // ancestors (Postgres keeps those on the ancestor, see
    // `db::postgres::catalog`).
    for (depth, t) in schema.partition_chain(&table.name).into_iter().enumerate() {
        for fk in &t.foreign_keys {
            let owner = if depth == 0 {
                String::new()
            } else {
                format!("TABLE {} CONSTRAINT ", tname(schema, &t.name))
            };
            out_fks.push(format!(
                "    {owner}{} {}",
                quote_ident(&fk.name),
                fk_definition(schema, fk)
            ));
        }
    }
    out_fks
}

fn trigger_lines(schema: &Schema, table: &Table) -> Vec<String> {
    let dialect = Dialect(schema.engine);
    table
        .triggers
        .iter()
        .map(|t| {
            let events = t
                .events
                .iter()
                .map(|&ev| event_text(ev))
                .collect::<Vec<_>>()
                .join(" OR ");
            let level = if t.for_each_row { "ROW" } else { "STATEMENT" };
            let action = dialect.trigger_action(&t.action);
            let disabled = if t.enabled { "" } else { " (disabled)" };
            let when = t
                .when
                .as_ref()
                .map(|w| format!("WHEN ({w}) "))
                .unwrap_or_default();
            format!(
                "    {} {} {events} FOR EACH {level} {when}{action}{disabled}",
                quote_ident(&t.name),
                timing_text(t.timing)
            )
        })
        .collect()
}

/// Partitioning, row security and table options, one line each.
fn push_table_footer(s: &mut String, schema: &Schema, table: &Table) {
    if let Some(parent) = &table.partition_of {
        s.push_str(&format!("Partition of: {}\n", tname(schema, parent)));
    }
    if table.kind == TableKind::Partitioned {
        let parts: Vec<String> = schema
            .tables
            .iter()
            .filter(|t| t.partition_of.as_ref() == Some(&table.name))
            .map(|t| tname(schema, &t.name))
            .collect();
        if parts.is_empty() {
            s.push_str("Number of partitions: 0\n");
        } else {
            s.push_str(&format!("Partitions: {}\n", parts.join(", ")));
        }
    }
    if table.rls_enabled {
        let forced = if table.rls_forced { " (forced)" } else { "" };
        s.push_str(&format!("Row security: enabled{forced}\n"));
    }
    if table.without_rowid {
        s.push_str("Table options: WITHOUT ROWID\n");
    }
}

pub(crate) fn section(s: &mut String, title: &str, lines: Vec<String>) {
    if lines.is_empty() {
        return;
    }
    s.push_str(title);
    s.push('\n');
    for l in lines {
        s.push_str(&l);
        s.push('\n');
    }
}

// ---------------------------------------------------------------- \refs

/// State of one `\refs` walk.
struct RefsWalk<'s> {
    schema: &'s Schema,
    out: String,
    /// Tables on the path from the root to the current node.
    path: Vec<QualName>,
    /// Tables whose references were already drawn somewhere in the tree.
    expanded: HashSet<QualName>,
    /// Every table and FK reached, for the summary.
    tables: HashSet<QualName>,
    fks: HashSet<(QualName, String)>,
    cycles: bool,
    see_above: bool,
}

/// `\refs TABLE`: everything that references the table, recursively.
///
/// Every edge is drawn, whatever its action, because the tree is the map
/// of what a delete would touch (a RESTRICT edge is where it would fail).
/// The walk stops at a table already on the current path (`(cycle)`) and
/// at a table whose references were already drawn elsewhere
/// (`(see above)`), so cycles terminate and diamonds are drawn once.
pub(crate) fn refs_tree(schema: &Schema, table: &Table) -> String {
    let mut w = RefsWalk {
        schema,
        out: format!("{}\n", tname(schema, &table.name)),
        path: vec![table.name.clone()],
        expanded: HashSet::new(),
        tables: HashSet::new(),
        fks: HashSet::new(),
        cycles: false,
        see_above: false,
    };
    w.expanded.insert(table.name.clone());
    w.walk(table, "");
    let root = tname(schema, &table.name);
    if w.fks.is_empty() {
        w.out.push_str(&format!(
            "Nothing references {root}: deleting its rows touches no other table through a foreign key.\n"
        ));
        return w.out;
    }
    let others = w.tables.iter().filter(|t| **t != table.name).count();
    let mut summary = if others == 0 {
        format!("Only {root} references itself")
    } else {
        format!(
            "{} {root}, directly or indirectly",
            plural(others, "table references", "tables reference")
        )
    };
    summary.push_str(&format!(
        ", through {}.\n",
        plural(w.fks.len(), "foreign key", "foreign keys")
    ));
    w.out.push_str(&summary);
    let mut legend = Vec::new();
    if w.cycles {
        legend.push("(cycle): the table is already on this path");
    }
    if w.see_above {
        legend.push("(see above): its references are drawn above");
    }
    if !legend.is_empty() {
        w.out.push_str(&format!("{}.\n", legend.join("; ")));
    }
    w.out
}

impl RefsWalk<'_> {
    fn walk(&mut self, node: &Table, prefix: &str) {
        let schema = self.schema;
        let edges = schema.referencing_through_partitions(&node.name);
        let n = edges.len();
        for (i, fk) in edges.into_iter().enumerate() {
            let last = i + 1 == n;
            let branch = if last { "└── " } else { "├── " };
            self.tables.insert(fk.table.clone());
            self.fks.insert((fk.table.clone(), fk.name.clone()));
            let child = schema.get(&fk.table);
            let has_refs =
                child.is_some_and(|c| !schema.referencing_through_partitions(&c.name).is_empty());
            let marker = if self.path.contains(&fk.table) {
                self.cycles = true;
                " (cycle)"
            } else if has_refs && self.expanded.contains(&fk.table) {
                self.see_above = true;
                " (see above)"
            } else {
                ""
            };
            self.out.push_str(&format!(
                "{prefix}{branch}{}{marker}\n",
                self.edge_text(node, fk)
            ));
            if !marker.is_empty() {
                continue;
            }
            if let Some(child) = child {
                self.expanded.insert(child.name.clone());
                self.path.push(child.name.clone());
                let next = format!("{prefix}{}", if last { "    " } else { "│   " });
                self.walk(child, &next);
                self.path.pop();
            }
        }
    }

    /// `public.child (a, b) → (x, y) ON DELETE CASCADE ON UPDATE NO ACTION
    /// via child_a_fkey`, naming the referenced table only when it is not
    /// the node above (a partition's ancestor).
    fn edge_text(&self, node: &Table, fk: &ForeignKey) -> String {
        let schema = self.schema;
        let target = if fk.ref_table == node.name {
            String::new()
        } else {
            format!("{} ", tname(schema, &fk.ref_table))
        };
        let mut s = format!(
            "{} ({}) → {target}({}) ON DELETE {} ON UPDATE {}",
            tname(schema, &fk.table),
            col_list(schema, &fk.columns),
            col_list(schema, &fk.ref_columns),
            on_delete_text(schema, fk),
            fk.on_update.sql()
        );
        match fk.match_type {
            MatchType::Full => s.push_str(" MATCH FULL"),
            MatchType::Partial => s.push_str(" MATCH PARTIAL"),
            MatchType::Simple => {}
        }
        s.push_str(deferral(fk));
        s.push_str(&format!(" via {}", ident(schema, &fk.name)));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, schema: Option<&str>, name: &str) -> bool {
        let (sp, np) = compile_pattern(p);
        np.matches(name, NameCase::FoldsUnquoted)
            && sp.is_none_or(|sp| sp.matches(schema.unwrap_or(""), NameCase::FoldsUnquoted))
    }

    #[test]
    fn psql_patterns() {
        assert!(m("film*", Some("public"), "film_actor"));
        assert!(m("FILM", Some("public"), "film"));
        assert!(!m("\"FILM\"", Some("public"), "film"));
        assert!(m("\"Weird \"\"N*\"", Some("public"), "Weird \"N*"));
        assert!(!m("\"Weird \"\"N*\"", Some("public"), "Weird \"Name"));
        assert!(m("f?lm", None, "film"));
        assert!(!m("f?lm", None, "fiilm"));
        assert!(m("other.*", Some("other"), "x"));
        assert!(!m("other.*", Some("public"), "x"));
        assert!(m("*a*a*a*b", None, "aaaaaaaaaaaaaaaaaaaaaaaaab"));
        assert!(!m("*a*a*a*b", None, "aaaaaaaaaaaaaaaaaaaaaaaaaa"));
    }
}
