//! The catalog meta commands: `\\l`, `\\dn`, `\\df`, `\\dv`, `\\di`,
//! `\\du`, `\\dt+`, `\\d+ TABLE`, `\\d VIEW`, and what `\\d TABLE` and
//! `\\refs` show beyond the introspected schema (every index, and the
//! associations dbguard infers or policy declares).
//!
//! The introspected [`Schema`] holds only what previews need; the rest is
//! read from the catalog when the command runs, through
//! [`crate::db::listing`], in a read-only transaction like any other read.
//! This module matches psql patterns against what comes back (no typed
//! text ever reaches SQL) and draws it like psql, passing on what the
//! engine says where it has no such thing (SQLite has no roles).

use std::collections::HashMap;

use super::Shell;
use super::describe::{self, Extras, NamePattern, compile_pattern, grid, grid_text, plural, tname};
use super::interrupt::while_running;
use crate::db::Rows;
use crate::db::listing::{Listed, Listing};
use crate::error::{Error, Result};
use crate::impact::associations::{AssocSource, Association, associations};
use crate::schema::{QualName, Schema, Table, quote_ident};

/// How psql titles one listing.
struct Titles {
    title: &'static str,
    /// `Did not find any {thing} named ...`.
    thing: &'static str,
    /// The column a pattern's name part matches.
    name_col: &'static str,
}

const fn titles(title: &'static str, thing: &'static str, name_col: &'static str) -> Titles {
    Titles {
        title,
        thing,
        name_col,
    }
}

impl Shell {
    /// Runs one listing; Ctrl-C cancels it like any read.
    fn listed(&mut self, what: Listing<'_>) -> Result<Listed> {
        let canceller = self.conn.canceller();
        let conn = &mut self.conn;
        while_running(canceller, || conn.listing(what))
    }

    /// The rows of a listing; none where the engine has no such thing.
    fn listed_rows(&mut self, what: Listing<'_>) -> Result<Option<Rows>> {
        Ok(match self.listed(what)? {
            Listed::Rows { rows, .. } => Some(rows),
            Listed::Absent(_) => None,
        })
    }

    /// `\l`, `\dn`, `\df`, `\dv`, `\di`, `\du` with an optional psql
    /// pattern.
    pub(super) fn list_catalog(
        &mut self,
        schema: &Schema,
        cmd: &str,
        pattern: Option<&str>,
    ) -> Result<String> {
        // System objects only when the pattern names a schema, as in psql.
        let system = pattern.is_some_and(|p| compile_pattern(p).0.is_some());
        let (what, t) = match cmd {
            "\\l" | "\\list" => (
                Listing::Databases,
                titles("List of databases", "database", "Name"),
            ),
            "\\dn" => (
                Listing::Schemas,
                titles("List of schemas", "schema", "Name"),
            ),
            "\\df" => (
                Listing::Functions { system },
                titles("List of functions", "function", "Name"),
            ),
            "\\dv" => (
                Listing::Views { system },
                titles("List of relations", "relation", "Name"),
            ),
            "\\di" => (
                Listing::Indexes { system },
                titles("List of relations", "relation", "Name"),
            ),
            "\\du" | "\\dg" => (Listing::Roles, titles("List of roles", "role", "Role name")),
            other => return Err(Error::input(format!("invalid command {other}"))),
        };
        let (rows, note) = match self.listed(what)? {
            Listed::Rows { rows, note } => (rows, note),
            Listed::Absent(why) => return Ok(format!("{why}\n")),
        };
        let rows = matching_rows(schema, rows, pattern, t.name_col);
        let mut s = draw(schema, &t, &rows, pattern);
        if let Some(n) = note {
            s.push_str(n);
            s.push('\n');
        }
        Ok(s)
    }

    /// `\dt+ [PATTERN]`: `\dt` with each table's size, its size with
    /// indexes, its row estimate and its comment.
    pub(super) fn list_tables_plus(
        &mut self,
        schema: &Schema,
        pattern: Option<&str>,
    ) -> Result<String> {
        let shown = describe::matching_tables(schema, pattern);
        if shown.is_empty() {
            return Ok(describe::list_tables(schema, pattern));
        }
        let sizes = self.sizes()?;
        let with_schema = schema.names.has_schemas();
        let mut header = vec![
            "Name",
            "Type",
            "Size",
            "Total size",
            "Rows (estimate)",
            "Description",
        ];
        if with_schema {
            header.insert(0, "Schema");
        }
        let mut g = grid(&header);
        for t in &shown {
            let mut row = Vec::new();
            if with_schema {
                row.push(schema.names.ident(schema.names.schema_of(&t.name)));
            }
            row.push(schema.names.ident(&t.name.name));
            row.push(describe::kind_label(t).to_owned());
            row.extend(sizes.get(&t.name).cloned().unwrap_or_default());
            g.add_row(row);
        }
        Ok(format!(
            "List of relations\n{}({})\n",
            grid_text(&g),
            plural(shown.len(), "row", "rows")
        ))
    }

    /// Size, total size, row estimate and description of every table, as
    /// shown.
    fn sizes(&mut self) -> Result<HashMap<QualName, Vec<String>>> {
        let Some(rows) = self.listed_rows(Listing::TableSizes)? else {
            return Ok(HashMap::new());
        };
        let mut out = HashMap::new();
        for r in &rows.rows {
            let text = |i: usize| r.get(i).and_then(|v| v.text());
            let Some(name) = text(1) else { continue };
            let shown = vec![
                size_text(text(2)),
                size_text(text(3)),
                text(4).unwrap_or_else(|| "unknown".to_owned()),
                text(5).unwrap_or_default(),
            ];
            out.insert(QualName::new(text(0).as_deref(), &name), shown);
        }
        Ok(out)
    }

    /// `\d NAME` and `\d+ NAME`: a table, else a view.
    pub(super) fn describe_named(
        &mut self,
        schema: &Schema,
        name: &str,
        plus: bool,
    ) -> Result<String> {
        if let Some(table) = schema.resolve_str(name) {
            let extras = self.table_extras(schema, table, plus)?;
            return Ok(describe::describe_table_with(schema, table, &extras));
        }
        match self.find_view(schema, name)? {
            Some((view, kind)) => self.describe_view(schema, &view, &kind),
            None => Err(super::meta::not_found(name)),
        }
    }

    fn table_extras(&mut self, schema: &Schema, table: &Table, plus: bool) -> Result<Extras> {
        let mut extras = Extras {
            indexes: self.index_lines(table)?,
            sections: association_sections(schema, &associations(schema, &self.policy).0, table),
            ..Extras::default()
        };
        if plus {
            extras.details = self.column_details(table)?;
            extras.footer = self.size_lines(table)?;
        }
        Ok(extras)
    }

    /// psql's index lines for the indexes the key lines do not show:
    /// every one that is not the primary key or a unique key of the
    /// schema's.
    fn index_lines(&mut self, table: &Table) -> Result<Vec<String>> {
        let Some(rows) = self.listed_rows(Listing::TableIndexes(&table.name))? else {
            return Ok(Vec::new());
        };
        let col = |name: &str| rows.columns.iter().position(|c| c == name);
        let (Some(n), Some(k), Some(m), Some(d)) =
            (col("Name"), col("Kind"), col("Method"), col("Definition"))
        else {
            return Ok(Vec::new());
        };
        let mut lines = Vec::new();
        for r in &rows.rows {
            let text = |i: usize| r.get(i).and_then(|v| v.text()).unwrap_or_default();
            let (name, kind, def) = (text(n), text(k), text(d));
            if kind == "primary key" || shown_as_key(table, &name, &def) {
                continue;
            }
            let unique = if kind == "unique" { "UNIQUE, " } else { "" };
            lines.push(format!(
                "    {} {unique}{} {def}",
                quote_ident(&name),
                text(m)
            ));
        }
        Ok(lines)
    }

    /// `\d+`: storage and description by column; `None` where the engine
    /// keeps neither.
    fn column_details(
        &mut self,
        table: &Table,
    ) -> Result<Option<HashMap<String, (String, String)>>> {
        let Some(rows) = self.listed_rows(Listing::ColumnDetails(&table.name))? else {
            return Ok(None);
        };
        let details = rows.rows.iter().filter_map(|r| {
            let text = |i: usize| r.get(i).and_then(|v| v.text());
            Some((
                text(0)?,
                (text(1).unwrap_or_default(), text(2).unwrap_or_default()),
            ))
        });
        Ok(Some(details.collect()))
    }

    /// `\d+`: the table's sizes and row estimate, one line.
    fn size_lines(&mut self, table: &Table) -> Result<Vec<String>> {
        let sizes = self.sizes()?;
        Ok(match sizes.get(&table.name).map(Vec::as_slice) {
            Some([size, total, rows, ..]) => vec![format!(
                "Size: {size}, with indexes: {total}, rows (estimate): {rows}"
            )],
            _ => Vec::new(),
        })
    }

    /// The view `name` means, psql pattern rules (an exact name matches
    /// only itself); the first on the search path when several schemas
    /// have one.
    /// Returns the view and its kind (`view`, `materialized view`).
    fn find_view(&mut self, schema: &Schema, name: &str) -> Result<Option<(QualName, String)>> {
        let Some(rows) = self.listed_rows(Listing::Views { system: true })? else {
            return Ok(None);
        };
        let rows = matching_rows(schema, rows, Some(name), "Name");
        let col = |c: &str| rows.columns.iter().position(|x| x == c);
        let mut found: Vec<(QualName, String)> = rows
            .rows
            .iter()
            .filter_map(|r| {
                let text = |i: Option<usize>| i.and_then(|i| r.get(i)).and_then(|v| v.text());
                let view = QualName::new(text(col("Schema")).as_deref(), &text(col("Name"))?);
                Some((view, text(col("Type")).unwrap_or_else(|| "view".to_owned())))
            })
            .collect();
        let rank = |(q, _): &(QualName, String)| {
            let s = schema.names.schema_of(q);
            schema
                .search_path
                .iter()
                .position(|p| p == s)
                .unwrap_or(usize::MAX)
        };
        found.sort_by_key(rank);
        Ok(found.into_iter().next())
    }

    /// `\d VIEW`: its columns and its definition.
    fn describe_view(&mut self, schema: &Schema, view: &QualName, kind: &str) -> Result<String> {
        let raw = match &view.schema {
            Some(s) => format!("{s}.{}", view.name),
            None => view.name.clone(),
        };
        // psql's title: "View" or "Materialized view".
        let mut title = kind.to_owned();
        if let Some(first) = title.get_mut(..1) {
            first.make_ascii_uppercase();
        }
        let mut s = format!("{title} \"{raw}\"\n");
        if let Some(rows) = self.listed_rows(Listing::ViewColumns(view))? {
            s.push_str(&grid_text(&rows_grid(schema, &rows)));
        }
        let def = self.listed_rows(Listing::ViewDefinition(view))?;
        let def = def.and_then(|r| {
            r.rows
                .first()
                .and_then(|r| r.first())
                .and_then(|v| v.text())
        });
        if let Some(def) = def {
            s.push_str("View definition:\n");
            // As the engine spells it (psql too prints Postgres's
            // deparsed text as is).
            for line in def.trim_end().lines() {
                s.push_str(line.trim_end());
                s.push('\n');
            }
        }
        Ok(s)
    }

    /// `\refs TABLE`: the foreign-key tree, then the associations that
    /// point at the table.
    pub(super) fn refs_text(&self, schema: &Schema, table: &Table) -> String {
        let mut s = describe::refs_tree(schema, table);
        let (all, _) = associations(schema, &self.policy);
        let lines: Vec<String> = all
            .iter()
            .filter(|a| a.ref_table == table.name)
            .map(|a| format!("    {}", incoming_text(schema, a)))
            .collect();
        describe::section(
            &mut s,
            "Associations (references no foreign key enforces: deleting its rows leaves these dangling):",
            lines,
        );
        s
    }
}

/// Whether the key lines of `\d` already show this index: it has a key's
/// name, or (SQLite, whose automatic indexes are named apart from the
/// constraint) a unique key's columns.
fn shown_as_key(table: &Table, name: &str, def: &str) -> bool {
    table
        .unique
        .iter()
        .chain(&table.primary_key)
        .any(|k| k.name == name || def == format!("({})", k.columns.join(", ")))
}

/// The rows whose schema and name match `pattern` psql-style.
fn matching_rows(schema: &Schema, mut rows: Rows, pattern: Option<&str>, name_col: &str) -> Rows {
    let Some(p) = pattern else {
        return rows;
    };
    let (schema_pat, name_pat) = compile_pattern(p);
    let col = |c: &str| rows.columns.iter().position(|x| x == c);
    let (schema_col, name_col) = (col("Schema"), col(name_col));
    let default_schema = schema.names.schema_of(&QualName::new(None, "")).to_owned();
    let case = schema.names.case;
    let ok = |pat: &NamePattern, i: Option<usize>, r: &[crate::db::Value], dflt: &str| {
        let text = i.and_then(|i| r.get(i)).and_then(|v| v.text());
        pat.matches(text.as_deref().unwrap_or(dflt), case)
    };
    rows.rows.retain(|r| {
        ok(&name_pat, name_col, r, "")
            && schema_pat
                .as_ref()
                .is_none_or(|sp| ok(sp, schema_col, r, &default_schema))
    });
    rows
}

/// The title, the grid and psql's row count, or psql's "did not find".
fn draw(schema: &Schema, t: &Titles, rows: &Rows, pattern: Option<&str>) -> String {
    if rows.rows.is_empty() {
        return match pattern {
            Some(p) => format!("Did not find any {} named \"{p}\".\n", t.thing),
            None => format!("Did not find any {}s.\n", t.thing),
        };
    }
    format!(
        "{}\n{}({})\n",
        t.title,
        grid_text(&rows_grid(schema, rows)),
        plural(rows.rows.len(), "row", "rows")
    )
}

/// A grid of the rows as the catalog named their columns: names quoted
/// so they paste back into SQL, sizes spelled out, NULL empty.
fn rows_grid(schema: &Schema, rows: &Rows) -> comfy_table::Table {
    let header: Vec<&str> = rows.columns.iter().map(String::as_str).collect();
    let mut g = grid(&header);
    for r in &rows.rows {
        let cells = rows.columns.iter().zip(r).map(|(c, v)| {
            let text = v.text().unwrap_or_default();
            match c.as_str() {
                "Schema" | "Name" | "Table" if !text.is_empty() => schema.names.ident(&text),
                "Size" | "Total size" => size_text(Some(text)),
                _ => text,
            }
        });
        g.add_row(cells.collect::<Vec<_>>());
    }
    g
}

/// A byte count as `pg_size_pretty` spells it (bytes below 10 kB, then
/// each unit up to 10 of the next, rounded half up), so both engines read
/// alike; anything else (psql's "No Access") as it came.
fn size_text(v: Option<String>) -> String {
    let Some(v) = v else {
        return String::new();
    };
    let Ok(mut n) = v.trim().parse::<i64>() else {
        return v;
    };
    if n.abs() < 10 * 1024 {
        return format!("{n} bytes");
    }
    // One bit more than the unit, for the rounding.
    n >>= 9;
    for unit in ["kB", "MB", "GB", "TB"] {
        if n.abs() < 20 * 1024 - 1 {
            return format!("{} {unit}", (n + 1) / 2);
        }
        n >>= 10;
    }
    format!("{} PB", (n + 1) / 2)
}

/// `\d TABLE`'s association sections: the ones it holds, and the ones
/// that point at it.
fn association_sections(
    schema: &Schema,
    all: &[Association],
    table: &Table,
) -> Vec<(String, Vec<String>)> {
    let ident = |c: &str| schema.names.ident(c);
    let outgoing = all
        .iter()
        .filter(|a| a.table == table.name)
        .map(|a| {
            format!(
                "    ({}) → {}({}) {}",
                ident(&a.column),
                tname(schema, &a.ref_table),
                ident(&a.ref_column),
                source_text(a)
            )
        })
        .collect();
    let incoming = all
        .iter()
        .filter(|a| a.ref_table == table.name)
        .map(|a| format!("    {}", incoming_text(schema, a)))
        .collect();
    vec![
        (
            "Associations (not enforced by the database):".to_owned(),
            outgoing,
        ),
        ("Associated from:".to_owned(), incoming),
    ]
}

/// `TABLE public.builds (architecture_id) → (id) inferred from the column
/// name`.
fn incoming_text(schema: &Schema, a: &Association) -> String {
    format!(
        "TABLE {} ({}) → ({}) {}",
        tname(schema, &a.table),
        schema.names.ident(&a.column),
        schema.names.ident(&a.ref_column),
        source_text(a)
    )
}

fn source_text(a: &Association) -> String {
    let source = match a.source {
        AssocSource::Declared => "declared in policy",
        AssocSource::Inferred => "inferred from the column name",
    };
    let array = if a.array { ", an array of keys" } else { "" };
    format!("{source}{array}")
}

#[cfg(test)]
mod tests {
    use super::size_text;

    /// The values `pg_size_pretty` gives for the same byte counts.
    #[test]
    fn sizes_read_like_pg_size_pretty() {
        let s = |n: i64| size_text(Some(n.to_string()));
        assert_eq!(s(0), "0 bytes");
        assert_eq!(s(10239), "10239 bytes");
        assert_eq!(s(10240), "10 kB");
        assert_eq!(s(8_192_000), "8000 kB");
        assert_eq!(s(10_485_760), "10 MB");
        assert_eq!(s(20_971_520), "20 MB");
        assert_eq!(size_text(Some("No Access".into())), "No Access");
    }
}
