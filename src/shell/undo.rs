//! Undo in the shell and on the command line: `\\undo [ID]`, and how
//! journaled changes, undo plans and undo reports are shown.
//!
//! An undo is a change like any other: the change pipeline plans it and
//! checks it for conflicts (what `--dry-run` shows), asks for
//! confirmation (on a terminal, or `--yes`; never by default) or
//! approvals, then runs it guarded and journaled. Exit status 5 when
//! conflicts stop it.

use std::io::IsTerminal;

use super::ui::{Input, Ui};
use super::{Format, Shell, describe};
use crate::change;
use crate::db::{Connection, OpenOptions};
use crate::error::{Error, Result};
use crate::journal::{Change, Journal};
use crate::policy::Policy;
use crate::undo::{Loaded, UndoPlan, UndoReport};

/// How an undo is asked for.
#[derive(Debug, Clone, Default)]
pub(crate) struct UndoRun {
    /// Restore every row that does not conflict.
    pub force: bool,
    /// Into a database other than the change's own.
    pub replay: bool,
    pub format: Format,
    pub options: change::Options,
}

/// Undoes `loaded` on `conn` through the change pipeline: shown on
/// stdout, asked on the terminal (nobody is asked otherwise).
pub(crate) fn run_undo(
    conn: &mut Connection,
    journal: &mut Journal,
    policy: &Policy,
    operator: &str,
    loaded: Loaded,
    run: &UndoRun,
) -> Result<()> {
    let schema = conn.introspect()?;
    let opts = crate::undo::UndoOptions {
        guard: run.options.apply.guard.clone(),
        force: run.force,
        replay: run.replay,
    };
    let undo = crate::undo::Undo::new(conn.identity(), &schema, loaded, opts)?;
    let mut plan = change::Undo::new(undo);
    let input = if std::io::stdin().is_terminal() {
        Input::Terminal
    } else {
        Input::Nobody
    };
    let mut stdout = std::io::stdout();
    let style = crate::impact::render::Style {
        color: false,
        samples: false,
    };
    let mut ui = Ui::new(&mut stdout, run.format, style, input).dry_run(run.options.dry_run);
    let mut cx = change::Context {
        conn,
        journal,
        policy,
        schema: &schema,
        operator,
        options: &run.options,
    };
    cx.run(&mut plan, &mut ui).map(|_| ())
}

impl Shell {
    /// `\undo` lists the recent changes on this target; `\undo ID` plans,
    /// confirms and undoes one.
    pub(super) fn undo_meta(&mut self, arg: Option<&str>) -> Result<()> {
        let journal = &mut self.journal;
        match arg {
            None => {
                let db = self.conn.identity().database.clone();
                let changes: Vec<_> = journal
                    .list()?
                    .into_iter()
                    .filter(|c| c.meta.target_database == db)
                    .take(20)
                    .collect();
                let text = list_text(journal, &changes, Format::Text)?;
                self.print(&text)
            }
            Some(id) => {
                let id: i64 = id.parse().map_err(|_| {
                    Error::input(format!("\\undo needs a change id, not {id:?}: \\undo 42"))
                })?;
                let loaded = crate::undo::load(journal, id, false)?;
                if !self.interactive {
                    return Err(Error::refused(format!(
                        "undo of change {id} not applied: confirming needs a terminal\nUse dbguard undo apply {id} --yes."
                    )));
                }
                let run = UndoRun::default();
                run_undo(
                    &mut self.conn,
                    &mut self.journal,
                    &self.policy,
                    &self.operator,
                    loaded,
                    &run,
                )
            }
        }
    }
}

/// Settles prepared entries whose targets can be reached.
pub(crate) fn reconcile_all(journal: &Journal, operator: &str) {
    let Ok(prepared) = journal.prepared() else {
        return;
    };
    let mut seen = std::collections::BTreeSet::new();
    for c in prepared {
        if !seen.insert(c.meta.target.clone()) {
            continue;
        }
        if let Ok(mut conn) = Connection::open(Some(&c.meta.target), &OpenOptions::default()) {
            let _ = crate::journal::reconcile(&mut conn, journal, operator);
        }
    }
}

pub(crate) fn list_text(journal: &Journal, changes: &[Change], format: Format) -> Result<String> {
    if format == Format::Json {
        let mut items = Vec::new();
        for c in changes {
            let mut v = serde_json::to_value(c).map_err(|e| Error::io(e.to_string()))?;
            if let Some(o) = v.as_object_mut() {
                o.remove("impact");
                o.insert("undone_by".into(), journal.undone_by(c.id)?.into());
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
        "target",
        "statement",
    ]);
    for c in changes {
        let mut status = c.status.name().to_owned();
        if let Some(by) = journal.undone_by(c.id)? {
            status = format!("undone by {by}");
        }
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
            c.meta.target.clone(),
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

fn value_text(v: &crate::db::Value) -> String {
    v.text().unwrap_or_else(|| "NULL".into())
}

pub(crate) fn show_text(journal: &Journal, l: &Loaded) -> Result<String> {
    let c = &l.change;
    let mut s = format!(
        "change {} — {} by {} at {} on {}\nstatus: {}{}\n{}\n",
        c.id,
        c.meta.kind,
        c.meta.operator,
        c.created_at,
        c.meta.target,
        c.status.name(),
        c.partial
            .as_deref()
            .map(|p| format!(" (partial: {p})"))
            .unwrap_or_default(),
        c.meta.statement
    );
    let columns: std::collections::BTreeMap<&str, &crate::schema::TableInfo> =
        l.tables.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut current = String::new();
    journal.for_each_row(c.id, |r| {
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
        if r.mode == crate::db::restore::RestoreMode::Replica {
            "triggers and foreign-key actions off, referential integrity checked"
        } else {
            "triggers fired"
        }
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
