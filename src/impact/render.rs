//! Rendering an impact: the effects tree for the shell, and JSON.
//!
//! The tree hangs every effect under the table whose deleted rows cause it,
//! so the picture matches `\refs`: a table reached by two paths is drawn
//! under the first and marked `(see above)` under the others, a cycle back
//! to a table on the current path is marked `(cycle)`. The last lines are
//! the verdict in words: what will be deleted and changed, what is left
//! dangling, or that it WILL FAIL and why.

use crate::model::ChangeKind;
use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::{Action, Effect, Impact};
use crate::db::{Rows, Value};
use crate::schema::QualName;

/// How the tree is drawn.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
    /// Show sample rows under each effect.
    pub samples: bool,
    /// Always the whole tree; otherwise a large one is summarized
    /// ([`super::overview`]).
    pub detail: bool,
}

pub(super) fn paint(style: Style, code: &str, text: &str) -> String {
    if style.color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

/// A count, or why there is none: the time limit ran out (`bounded`
/// false), or nothing was counted (a statement the database rejects).
fn rows_text(rows: Option<u64>, bounded: bool) -> String {
    match rows {
        Some(1) => "1 row".into(),
        Some(n) => format!("{n} rows"),
        None if bounded => "not counted".into(),
        None => "not counted in time".into(),
    }
}

pub(super) fn sample_lines(rows: &Rows, indent: &str, out: &mut String) {
    for row in &rows.rows {
        let cells: Vec<String> = rows
            .columns
            .iter()
            .zip(row)
            .map(|(c, v)| format!("{c}={}", cell(v)))
            .collect();
        let _ = writeln!(out, "{indent}· {}", cells.join(", "));
    }
}

fn cell(v: &Value) -> String {
    match v.text() {
        None => "NULL".into(),
        Some(s) => {
            let one_line: String = s
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            if one_line.chars().count() > 40 {
                let cut: String = one_line.chars().take(39).collect();
                format!("{cut}…")
            } else {
                one_line
            }
        }
    }
}

fn verb(action: Action, kind: ChangeKind) -> &'static str {
    match action {
        Action::Cascade if kind == ChangeKind::Update => "cascade update",
        Action::Cascade if kind == ChangeKind::Truncate => "cascade truncate",
        Action::Cascade => "cascade delete",
        Action::SetNull => "set null",
        Action::SetDefault => "set default",
        Action::Restrict => "restrict",
        Action::NoAction => "no action",
        Action::Dangling => "dangling",
        Action::Trigger => "trigger",
        Action::Inherited if kind == ChangeKind::Update => "update",
        Action::Inherited if kind == ChangeKind::Truncate => "truncate",
        Action::Inherited => "delete",
    }
}

fn effect_line(e: &Effect, kind: ChangeKind, bounded: bool, style: Style) -> String {
    // A step of a chain is an UPDATE's, whatever the statement.
    let kind = if e.on_update {
        ChangeKind::Update
    } else {
        kind
    };
    let action = match e.action {
        Action::Restrict | Action::NoAction if e.blocking => {
            paint(style, "1;31", verb(e.action, kind))
        }
        Action::Dangling => paint(style, "33", verb(e.action, kind)),
        Action::Cascade | Action::Inherited => paint(style, "31", verb(e.action, kind)),
        _ => verb(e.action, kind).to_owned(),
    };
    let cols = if e.columns.is_empty() || e.action == Action::Trigger {
        String::new()
    } else {
        format!(" ({})", e.columns.join(", "))
    };
    let source = if matches!(e.source, "fk" | "inheritance") {
        String::new()
    } else {
        format!(", {}", e.source)
    };
    let mut line = format!(
        "{action} {}{cols}: {}  via {}{source}",
        e.table,
        rows_text(e.rows, bounded),
        e.via
    );
    if !e.reached {
        line.push_str("  [not reached: the statement fails]");
    }
    if let Some(n) = &e.note {
        line.push_str(&format!("  — {n}"));
    }
    line
}

/// The effects tree and verdict lines for the shell, or their summary
/// when the tree is too large to review ([`super::overview`]).
pub fn text(impact: &Impact, style: Style) -> String {
    let full = tree_text(impact, style);
    if style.detail || !super::overview::needed(&full) {
        return full;
    }
    super::overview::text(impact, style, full.lines().count())
}

/// The line that names the target and how many of its rows change.
pub(super) fn target_lines(impact: &Impact, style: Style) -> Vec<String> {
    // Counted in time, or not counted because the statement fails before
    // any row (the database rejects it).
    let rows = match impact.target.rows {
        None if impact.bounded => "nothing counted: the statement fails, so nothing".to_owned(),
        rows => rows_text(rows, impact.bounded),
    };
    // A DELETE or UPDATE counts the rows of the tables inheriting from
    // the target with its own, as the engine reports them.
    let inherited: u64 = impact
        .effects
        .iter()
        .filter(|e| e.action == Action::Inherited && e.parent == impact.target.table)
        .filter_map(|e| e.rows)
        .sum();
    let inherited = match impact.kind {
        ChangeKind::Delete | ChangeKind::Update if inherited > 0 => {
            format!(", {inherited} of them in tables that inherit from it")
        }
        _ => String::new(),
    };
    vec![format!(
        "{} {}: {rows} to {}{inherited}{}",
        paint(style, "1", "target"),
        impact.target.table,
        impact.kind,
        match impact.target.unchanged {
            Some(n) if n > 0 => format!(" ({n} unchanged: new values equal the old)"),
            _ => String::new(),
        }
    )]
}

fn tree_text(impact: &Impact, style: Style) -> String {
    let mut out = String::new();
    for line in target_lines(impact, style) {
        let _ = writeln!(out, "{line}");
    }
    if style.samples {
        sample_lines(&impact.target.sample, "  ", &mut out);
        for row in &impact.target.changes {
            let key: Vec<String> = row
                .key
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_deref().unwrap_or("NULL")))
                .collect();
            let _ = writeln!(out, "  · {}", key.join(", "));
            for c in &row.changes {
                let _ = writeln!(out, "      {}", super::diff::change_line(c, style));
            }
        }
    }
    let mut seen: BTreeSet<QualName> = BTreeSet::new();
    seen.insert(impact.target.table.clone());
    let mut path = vec![impact.target.table.clone()];
    draw(
        impact,
        &impact.target.table,
        "",
        style,
        &mut seen,
        &mut path,
        &mut out,
    );
    for line in summary(impact) {
        let _ = writeln!(out, "{line}");
    }
    for w in &impact.warnings {
        let _ = writeln!(out, "{} {w}", paint(style, "33", "warning:"));
    }
    for b in &impact.beyond_the_rows {
        let _ = writeln!(
            out,
            "{} {b}; no undo can take that back",
            paint(style, "31", "beyond undo:")
        );
    }
    out
}

fn draw(
    impact: &Impact,
    parent: &QualName,
    prefix: &str,
    style: Style,
    seen: &mut BTreeSet<QualName>,
    path: &mut Vec<QualName>,
    out: &mut String,
) {
    let children: Vec<&Effect> = impact
        .effects
        .iter()
        .filter(|e| {
            &e.parent == parent
                && !(e.action == Action::Trigger && &e.table == parent && e.depth == 0)
        })
        .collect();
    for (i, e) in children.iter().enumerate() {
        let last = i + 1 == children.len();
        let branch = if last { "└── " } else { "├── " };
        let mut line = effect_line(e, impact.kind, impact.bounded, style);
        // A table inheriting from the target has effects of its own, and
        // so has a table whose keys an action changes (a chain).
        let descend = (e.action == Action::Cascade && impact.kind != ChangeKind::Update)
            || e.action == Action::Inherited
            || impact.effects.iter().any(|f| {
                f.parent == e.table && f.depth == e.depth + 1 && f.action != Action::Trigger
            });
        if descend && path.contains(&e.table) {
            line.push_str(" (cycle)");
        } else if descend && seen.contains(&e.table) && &e.table != parent {
            line.push_str(" (see above)");
        }
        let _ = writeln!(out, "{prefix}{branch}{line}");
        let inner = format!("{prefix}{}", if last { "    " } else { "│   " });
        if style.samples {
            sample_lines(&e.sample, &format!("{inner}  "), out);
        }
        if descend && !path.contains(&e.table) && seen.insert(e.table.clone()) {
            path.push(e.table.clone());
            draw(impact, &e.table, &inner, style, seen, path, out);
            path.pop();
        }
    }
}

/// The verdict in words: `will delete 1 + 57 rows in 4 tables`, ...
pub fn summary(impact: &Impact) -> Vec<String> {
    let mut lines = Vec::new();
    if impact.will_fail {
        for f in &impact.failures {
            lines.push(format!("WILL FAIL: {f}"));
        }
    }
    lines.extend(verdict_lines(impact, false));
    let mut dangling: Vec<String> = Vec::new();
    for e in impact
        .effects
        .iter()
        .filter(|e| e.action == Action::Dangling)
    {
        if let Some(n) = e.rows.filter(|&n| n > 0) {
            dangling.push(format!(
                "{n} row{} in {}.{} ({})",
                if n == 1 { "" } else { "s" },
                e.table,
                e.columns.join(", "),
                e.source
            ));
        }
    }
    if !dangling.is_empty() {
        lines.push(format!("leaves {} dangling", dangling.join(", ")));
    }
    lines
}

/// The totals in words; `compact` counts the tables a delete sets rows in
/// instead of naming them (the summary's table names them).
pub(super) fn verdict_lines(impact: &Impact, compact: bool) -> Vec<String> {
    let mut lines = Vec::new();
    let target_rows = impact.target.rows.unwrap_or(0);
    let mut deleted = 0u64;
    let mut del_tables = 0usize;
    let mut updated = 0u64;
    let mut upd_tables = Vec::new();
    let mut inserted = 0u64;
    for (t, tot) in &impact.totals {
        if tot.delete > 0 {
            del_tables += 1;
            deleted += tot.delete;
        }
        if tot.update > 0 {
            updated += tot.update;
            upd_tables.push(t.to_string());
        }
        inserted += tot.insert;
    }
    let prefix = if impact.will_fail { "would" } else { "will" };
    // A total of what was counted in time is no total: never a number
    // where the count did not finish.
    if !impact.bounded {
        lines.push(format!(
            "{prefix} {} rows not counted in time: treat the change as unbounded",
            impact.kind
        ));
    }
    match impact.kind {
        // Nothing counted: the statement is rejected before any row.
        _ if !impact.bounded || impact.target.rows.is_none() => {}
        ChangeKind::Delete | ChangeKind::Truncate => {
            let others = deleted.saturating_sub(target_rows);
            let tables = if del_tables == 1 {
                "table".to_owned()
            } else {
                "tables".to_owned()
            };
            if others > 0 {
                lines.push(format!(
                    "{prefix} delete {target_rows} + {others} rows in {del_tables} {tables}"
                ));
            } else {
                lines.push(format!(
                    "{prefix} delete {target_rows} row{} in {del_tables} {tables}",
                    if target_rows == 1 { "" } else { "s" }
                ));
            }
        }
        ChangeKind::Update => lines.push(format!(
            "{prefix} update {updated} row{} in {}",
            if updated == 1 { "" } else { "s" },
            match (upd_tables.len(), compact) {
                (0, _) => impact.target.table.to_string(),
                (n, true) if n > 1 => format!("{n} tables"),
                _ => upd_tables.join(", "),
            }
        )),
        ChangeKind::Insert => lines.push(format!(
            "{prefix} insert {inserted} row{}{}",
            if inserted == 1 { "" } else { "s" },
            if updated > 0 {
                format!(" and update {updated}")
            } else {
                String::new()
            }
        )),
        _ => {}
    }
    if impact.kind == ChangeKind::Delete && updated > 0 && impact.bounded {
        let tables = match compact {
            true => format!(
                "{} table{}",
                upd_tables.len(),
                if upd_tables.len() == 1 { "" } else { "s" }
            ),
            false => upd_tables.join(", "),
        };
        lines.push(format!(
            "{prefix} set {updated} row{} in {tables}",
            if updated == 1 { "" } else { "s" },
        ));
    }
    lines
}

/// The JSON object for `exec --format json`.
pub fn json(impact: &Impact) -> serde_json::Value {
    let mut v = serde_json::to_value(impact).unwrap_or(serde_json::Value::Null);
    if let Some(obj) = v.as_object_mut() {
        // Samples, keyed by column, for scripts that want to show them.
        let sample = |rows: &Rows| -> serde_json::Value {
            rows.rows
                .iter()
                .map(|r| {
                    let m: serde_json::Map<String, serde_json::Value> = rows
                        .columns
                        .iter()
                        .zip(r)
                        .map(|(c, v)| {
                            (
                                c.clone(),
                                v.text()
                                    .map(serde_json::Value::String)
                                    .unwrap_or(serde_json::Value::Null),
                            )
                        })
                        .collect();
                    serde_json::Value::Object(m)
                })
                .collect()
        };
        if let Some(t) = obj.get_mut("target").and_then(|t| t.as_object_mut()) {
            t.insert("sample".into(), sample(&impact.target.sample));
        }
        if let Some(effects) = obj.get_mut("effects").and_then(|e| e.as_array_mut()) {
            for (j, e) in effects.iter_mut().enumerate() {
                if let (Some(o), Some(src)) = (e.as_object_mut(), impact.effects.get(j)) {
                    o.insert("sample".into(), sample(&src.sample));
                }
            }
        }
    }
    v
}
