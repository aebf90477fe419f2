//! The text view of a large preview (issue 16, item 20).
//!
//! The effects tree draws one line per key and sample rows under each, so
//! the delete of a hub row in a real application's schema is thousands of
//! lines, most of them keys that reach no row; nobody can review that. A
//! preview whose tree is taller than [`FULL_LINES`] (or has a line longer
//! than [`MAX_LINE`]) is shown instead as what a reviewer needs first:
//! one line per table the change reaches, sorted by rows, with the net
//! numbers the apply is held to; how many keys reach nothing; failures,
//! dangling references and warnings, each wrapped and listed up to
//! [`LISTED`]. The whole tree stays one command away (`\preview full` in
//! the shell, `--detail` with exec) and in the JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use comfy_table::{CellAlignment, ContentArrangement, Table as Grid, presets};

use super::render::{Style, paint, sample_lines, target_lines, verdict_lines};
use super::{Action, Impact};
use crate::schema::QualName;

/// The tallest tree shown whole.
pub(super) const FULL_LINES: usize = 60;
/// No line of the summary is longer.
pub(super) const MAX_LINE: usize = 400;
/// Tables listed by name; the rest are one line of totals.
const TABLES: usize = 40;
/// Failures, warnings and dangling tables listed; the rest are counted.
const LISTED: usize = 10;
/// Where failure and warning text is wrapped.
const WRAP: usize = 100;

/// Whether the tree `full` is too large to be the default view.
pub(super) fn needed(full: &str) -> bool {
    full.lines().count() > FULL_LINES || full.lines().any(|l| l.chars().count() > MAX_LINE)
}

/// The summary of `impact`; `full_lines` is the height of its tree.
pub(super) fn text(impact: &Impact, style: Style, full_lines: usize) -> String {
    let mut out = String::new();
    for line in target_lines(impact, style) {
        let _ = writeln!(out, "{}", clip(&line));
    }
    if style.samples {
        let mut first = impact.target.sample.clone();
        first.rows.truncate(3);
        sample_lines(&first, "  ", &mut out);
    }
    reach_line(impact, &mut out);
    out.push_str(&tables(impact));
    listed(
        &impact.failures,
        &paint(style, "1;31", "WILL FAIL:"),
        "failures",
        &mut out,
    );
    for line in verdict_lines(impact, true) {
        let _ = writeln!(out, "{}", clip(&line));
    }
    dangling(impact, &mut out);
    listed(
        &impact.warnings,
        &paint(style, "33", "warning:"),
        "warnings",
        &mut out,
    );
    for b in &impact.beyond_the_rows {
        let text = format!("{b}; no undo can take that back");
        wrapped(&paint(style, "31", "beyond undo:"), &text, &mut out);
    }
    let _ = writeln!(
        out,
        "(a summary: the full preview is {full_lines} lines; \\preview full shows it, as exec --detail and --format json do)"
    );
    out
}

/// How far the change reaches: tables, keys, and keys that reach nothing.
fn reach_line(impact: &Impact, out: &mut String) {
    let reaching = impact.effects.iter().filter(|e| e.rows != Some(0));
    let tables: std::collections::BTreeSet<&QualName> = reaching.map(|e| &e.table).collect();
    let idle = impact.effects.iter().filter(|e| e.rows == Some(0)).count();
    let _ = writeln!(
        out,
        "reaches {} table{} through {} key{}, and {idle} key{} reach no row",
        tables.len(),
        plural(tables.len()),
        impact.effects.len() - idle,
        plural(impact.effects.len() - idle),
        plural(idle),
    );
}

/// One row per table with net changes, most rows first: what the apply is
/// held to, table by table, and the keys that reach it. The target is
/// left out (its line says it); columns no table has numbers in too.
fn tables(impact: &Impact) -> String {
    let mut via: BTreeMap<&QualName, Vec<&str>> = BTreeMap::new();
    for e in impact.effects.iter().filter(|e| e.rows != Some(0)) {
        let list = via.entry(&e.table).or_default();
        if !list.contains(&e.via.as_str()) {
            list.push(&e.via);
        }
    }
    let mut rows: Vec<(&QualName, [u64; 3])> = impact
        .totals
        .iter()
        .filter(|(name, _)| **name != impact.target.table)
        .map(|(name, t)| (name, [t.delete, t.update, t.insert]))
        .filter(|(_, n)| n.iter().sum::<u64>() > 0)
        .collect();
    rows.sort_by(|a, b| {
        let (x, y) = (a.1.iter().sum::<u64>(), b.1.iter().sum::<u64>());
        y.cmp(&x).then(a.0.cmp(b.0))
    });
    if rows.is_empty() {
        return String::new();
    }
    let shown: Vec<usize> = (0..3)
        .filter(|&i| rows.iter().any(|r| r.1[i] > 0))
        .collect();
    let names = ["deleted", "updated", "inserted"];
    let mut g = Grid::new();
    g.load_style(presets::NOTHING);
    g.set_content_arrangement(ContentArrangement::Disabled);
    let mut header = vec!["  table"];
    header.extend(shown.iter().map(|&i| names[i]));
    header.push("via");
    g.set_header(header);
    for i in 1..=shown.len() {
        if let Some(c) = g.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    for (name, n) in rows.iter().take(TABLES) {
        let keys = match via.get(name).map(Vec::as_slice).unwrap_or_default() {
            [] => String::new(),
            [one] => (*one).to_owned(),
            [one, rest @ ..] => format!("{one} and {} more", rest.len()),
        };
        let mut row = vec![format!("  {name}")];
        row.extend(shown.iter().map(|&i| count(n[i])));
        row.push(keys);
        g.add_row(row);
    }
    let mut s = String::new();
    for line in g.lines() {
        let _ = writeln!(s, "{}", clip(line.trim_end()));
    }
    if rows.len() > TABLES {
        let rest = &rows[TABLES..];
        let sums: Vec<String> = shown
            .iter()
            .map(|&i| format!("{} {}", rest.iter().map(|r| r.1[i]).sum::<u64>(), names[i]))
            .collect();
        let _ = writeln!(
            s,
            "  … {} more table{}: {}",
            rest.len(),
            plural(rest.len()),
            sums.join(", ")
        );
    }
    s
}

/// Rows left dangling, per table and column, most first.
fn dangling(impact: &Impact, out: &mut String) {
    let mut found: Vec<(u64, String)> = impact
        .effects
        .iter()
        .filter(|e| e.action == Action::Dangling)
        .filter_map(|e| {
            let n = e.rows.filter(|&n| n > 0)?;
            Some((
                n,
                format!("{}.{} ({})", e.table, e.columns.join(", "), e.source),
            ))
        })
        .collect();
    if found.is_empty() {
        return;
    }
    found.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let total: u64 = found.iter().map(|f| f.0).sum();
    let _ = writeln!(
        out,
        "leaves {total} row{} dangling in {} place{}:",
        plural(total as usize),
        found.len(),
        plural(found.len())
    );
    for (n, place) in found.iter().take(LISTED) {
        let _ = writeln!(out, "{}", clip(&format!("  {n:>8}  {place}")));
    }
    if found.len() > LISTED {
        let _ = writeln!(out, "  … and {} more", found.len() - LISTED);
    }
}

/// Up to [`LISTED`] of `items`, each wrapped after `label`.
fn listed(items: &[String], label: &str, what: &str, out: &mut String) {
    for item in items.iter().take(LISTED) {
        wrapped(label, item, out);
    }
    if items.len() > LISTED {
        let _ = writeln!(out, "… and {} more {what}", items.len() - LISTED);
    }
}

/// `label text`, the text's lines wrapped at [`WRAP`] columns with the
/// continuation indented.
fn wrapped(label: &str, text: &str, out: &mut String) {
    let mut first = true;
    for para in text.lines() {
        let mut line = if first {
            label.to_owned()
        } else {
            "   ".to_owned()
        };
        first = false;
        let mut width = line.chars().count();
        for word in para.split(' ') {
            let w = word.chars().count();
            if width + 1 + w > WRAP && width > 3 {
                let _ = writeln!(out, "{}", clip(&line));
                line = "   ".to_owned();
                width = 3;
            }
            line.push(' ');
            line.push_str(word);
            width += 1 + w;
        }
        let _ = writeln!(out, "{}", clip(&line));
    }
}

/// At most [`MAX_LINE`] characters: a single word longer than that (a
/// value, a name) is cut, and says so.
fn clip(line: &str) -> String {
    if line.chars().count() <= MAX_LINE {
        return line.to_owned();
    }
    let mut cut: String = line.chars().take(MAX_LINE - 1).collect();
    cut.push('…');
    cut
}

fn count(n: u64) -> String {
    if n == 0 { String::new() } else { n.to_string() }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_wraps_and_never_passes_the_limit() {
        let mut out = String::new();
        let long = format!("cannot delete {}", "word ".repeat(300));
        wrapped("WILL FAIL:", &long, &mut out);
        wrapped("warning:", &"x".repeat(1000), &mut out);
        assert!(out.lines().count() > 10, "{out}");
        assert!(out.lines().all(|l| l.chars().count() <= MAX_LINE), "{out}");
        assert!(
            out.lines()
                .nth(1)
                .is_some_and(|l| l.starts_with("    word"))
        );
    }
}
