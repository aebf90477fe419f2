//! Undo in the shell and on the command line: `\\undo [ID]`, and how
//! journaled changes, undo plans and undo reports are shown.
//!
//! An undo is a change like any other: the change pipeline plans it and
//! checks it for conflicts (what `--dry-run` shows), asks for
//! confirmation (on a terminal, or `--yes`; never by default) or
//! approvals, then runs it guarded and journaled. Exit status 5 when
//! conflicts stop it.

use super::{Format, Shell, describe};
use crate::change;
use crate::db::Connection;
use crate::error::{Error, Result};
use crate::journal::Change;
use crate::undo::{Loaded, UndoPlan, UndoReport};

/// How an undo is asked for.
#[derive(Debug, Clone, Default)]
pub(crate) struct UndoRun {
    /// Restore every row that does not conflict.
    pub force: bool,
    pub format: Format,
    pub options: change::Options,
}

/// What an undo runs against.
pub(crate) type UndoTarget<'a> = super::command::CommandTarget<'a>;

/// Undoes `undo` on its target through the change pipeline: shown on
/// stdout, asked on the terminal (nobody is asked otherwise).
pub(crate) fn run_undo(at: UndoTarget<'_>, undo: crate::undo::Undo, run: &UndoRun) -> Result<()> {
    let mut plan = change::Undo::new(undo);
    super::command::run_plan(at, &mut plan, run.format, &run.options)
}

/// The undo of change `id` of `conn`'s journal, checked to belong there.
pub(crate) fn undo_of(conn: &mut Connection, id: i64, run: &UndoRun) -> Result<crate::undo::Undo> {
    let loaded = crate::undo::load(conn, id)?;
    let opts = crate::undo::UndoOptions {
        guard: run.options.apply.guard.clone(),
        force: run.force,
        allow_uncovered: run.options.apply.allow_uncovered,
    };
    crate::undo::Undo::new(conn.identity(), loaded, opts)
}

impl Shell {
    /// `\undo` lists the recent changes in this database; `\undo ID`
    /// plans, confirms and undoes one.
    pub(super) fn undo_meta(&mut self, arg: Option<&str>) -> Result<()> {
        match arg {
            None => {
                let display = self.conn.identity().display.clone();
                let changes = self
                    .conn
                    .preview(std::time::Duration::from_secs(30), |tx| {
                        crate::journal::schema::readable_in(tx, &display)?;
                        crate::journal::read::list(tx, Some(20))
                    })?;
                let text = list_text(&changes, Format::Text)?;
                self.print(&text)
            }
            Some(id) => {
                let id: i64 = id.parse().map_err(|_| {
                    Error::input(format!("\\undo needs a change id, not {id:?}: \\undo 42"))
                })?;
                if !self.interactive {
                    return Err(Error::refused(format!(
                        "undo of change {id} not applied: confirming needs a terminal\nUse dbguard undo apply {id} --yes."
                    )));
                }
                let run = UndoRun::default();
                let undo = undo_of(&mut self.conn, id, &run)?;
                let at = UndoTarget {
                    conn: &mut self.conn,
                    trail: &mut self.trail,
                    policy: &self.policy,
                    operator: &self.operator,
                };
                run_undo(at, undo, &run)
            }
        }
    }
}

/// The changes, as `undo list` shows them: every operator's, with who,
/// when, what, how many rows and how much journal they take.
pub(crate) fn list_text(changes: &[Change], format: Format) -> Result<String> {
    if format == Format::Json {
        let mut items = Vec::new();
        for c in changes {
            let mut v = serde_json::to_value(c).map_err(|e| Error::io(e.to_string()))?;
            if let Some(o) = v.as_object_mut() {
                o.remove("impact");
            }
            items.push(v);
        }
        return Ok(format!("{}\n", serde_json::Value::Array(items)));
    }
    let mut table = describe::grid(&[
        "id",
        "when",
        "operator",
        "kind",
        "status",
        "rows",
        "size",
        "statement",
    ]);
    for c in changes {
        let mut status = match (c.undone_by, &c.pruned_at) {
            (Some(by), _) => format!("undone by {by}"),
            (None, Some(_)) => "pruned".to_owned(),
            (None, None) => "committed".to_owned(),
        };
        if c.partial.is_some() {
            status.push_str(" (partial)");
        }
        let stmt: String = c.meta.statement.chars().take(60).collect();
        table.add_row([
            c.id.to_string(),
            c.created_at.clone(),
            c.meta.operator.clone(),
            c.meta.kind.name().to_owned(),
            status,
            c.row_count.to_string(),
            size_text(c.bytes),
            stmt.replace('\n', " "),
        ]);
    }
    Ok(format!(
        "{}({} change{})\n",
        describe::grid_text(&table),
        changes.len(),
        if changes.len() == 1 { "" } else { "s" }
    ))
}

/// Bytes as psql's `\l+` shows sizes: `8192 bytes`, `40 kB`, `12 MB`.
fn size_text(bytes: i64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 10 * 1024 {
        return format!("{bytes} bytes");
    }
    let mut v = bytes as f64 / 1024.0;
    for unit in UNITS {
        if v < 10.0 * 1024.0 || unit == "TB" {
            return format!("{} {unit}", v.round());
        }
        v /= 1024.0;
    }
    format!("{bytes} bytes")
}

fn value_text(v: &crate::db::Value) -> String {
    v.text().unwrap_or_else(|| "NULL".into())
}

pub(crate) fn show_text(conn: &mut Connection, l: &Loaded) -> Result<String> {
    let c = &l.change;
    let status = match c.undone_by {
        Some(by) => format!("undone by change {by}"),
        None => "committed".to_owned(),
    };
    let mut s = format!(
        "change {} — {} by {} at {} on {}\nstatus: {status}{}\n{}\n",
        c.id,
        c.meta.kind,
        c.meta.operator,
        c.created_at,
        c.meta.target,
        c.partial
            .as_deref()
            .map(|p| format!(" (partial: {p})"))
            .unwrap_or_default(),
        c.meta.statement
    );
    let approvals = conn.exact_read(|tx| crate::journal::read::approvals_of(tx, c.id))?;
    for a in &approvals {
        s.push_str(&format!(
            "approved by {} (key {}), used at {}\n",
            a.principal,
            a.fingerprint,
            a.used_at.as_deref().unwrap_or("?")
        ));
    }
    let columns: std::collections::BTreeMap<&str, &crate::schema::TableInfo> = l
        .tables
        .iter()
        .map(|t| (t.info.name.as_str(), &t.info))
        .collect();
    let mut current = String::new();
    let rows = crate::journal::ChangeRows {
        prefix: &l.prefix,
        tables: &l.tables,
    };
    conn.exact_read(|tx| {
        rows.for_each(tx, &mut |r| {
            let Some(t) = columns.get(r.table.as_str()) else {
                return Ok(());
            };
            if r.table != current {
                s.push_str(&format!("\n{}\n", r.table));
                current = r.table.clone();
            }
            let key: Vec<String> = r.key.iter().map(value_text).collect();
            s.push_str(&format!("  {} ({})\n", r.op.name(), key.join(", ")));
            for (i, col) in t.columns.iter().enumerate() {
                let b = r.before.as_ref().and_then(|v| v.get(i)).map(value_text);
                let a = r.after.as_ref().and_then(|v| v.get(i)).map(value_text);
                match (b, a) {
                    (Some(b), Some(a)) if b != a => s.push_str(&format!(
                        "    - {}: {b}\n    + {}: {a}\n",
                        col.name, col.name
                    )),
                    (Some(b), None) => s.push_str(&format!("    - {}: {b}\n", col.name)),
                    (None, Some(a)) => s.push_str(&format!("    + {}: {a}\n", col.name)),
                    _ => {}
                }
            }
            Ok(())
        })
    })?;
    Ok(s)
}

pub(crate) fn plan_text(p: &UndoPlan) -> String {
    let mut s = format!(
        "undo of change {}: {}\n",
        p.change_id,
        p.statement.replace('\n', " ")
    );
    for (t, c) in &p.tables {
        let mut parts = Vec::new();
        if c.reinsert > 0 {
            parts.push(format!("re-insert {}", c.reinsert));
        }
        if c.revert > 0 {
            parts.push(format!(
                "restore {} before-image{}",
                c.revert,
                if c.revert == 1 { "" } else { "s" }
            ));
        }
        if c.delete > 0 {
            parts.push(format!("delete {} inserted", c.delete));
        }
        s.push_str(&format!("  {t}: {}\n", parts.join(", ")));
    }
    if let Some(p) = &p.partial {
        s.push_str(&format!("warning: the change's entry is partial: {p}\n"));
    }
    if !p.conflicts.is_empty() {
        s.push_str(&format!("CONFLICTS ({}):\n", p.conflicts.len()));
        for c in p.conflicts.iter().take(50) {
            let key: Vec<&str> = c
                .key
                .iter()
                .map(|k| k.as_deref().unwrap_or("NULL"))
                .collect();
            s.push_str(&format!(
                "  {} ({}): {}\n",
                c.table,
                key.join(", "),
                c.reason
            ));
        }
    }
    s
}

pub(crate) fn report_text(r: &UndoReport) -> String {
    let mut s = format!(
        "Undone as change {} ({} mode: {}).\n",
        r.change_id,
        r.mode.name(),
        r.mode.meaning()
    );
    if r.skipped > 0 {
        s.push_str(&format!(
            "--force left {} conflicting row(s) as they were.\n",
            r.skipped
        ));
    }
    if r.differences.is_empty() {
        s.push_str("Every restored row equals its before-image.\n");
    } else {
        s.push_str("Restored rows that differ from their before-images (triggers changed them):\n");
        for d in &r.differences {
            s.push_str(&format!("  {d}\n"));
        }
    }
    s.push_str(&format!(
        "Undo this undo with: dbguard undo apply {}\n",
        r.change_id
    ));
    s
}
