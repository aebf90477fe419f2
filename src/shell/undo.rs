//! `dbguard undo ...` and `\undo`: listing, showing, undoing, exporting and
//! replaying journaled changes.
//!
//! An undo is a change like any other: it is planned and checked for
//! conflicts first (what `--dry-run` prints), confirmed (on a terminal, or
//! with `--yes`; never by default), then run through the guarded path and
//! journaled. Exit status 5 when conflicts stop it.

use std::io::IsTerminal;

use super::Format;
use super::render::out;
use crate::db::{Connection, OpenOptions};
use crate::error::{Error, ErrorKind, Result};
use crate::journal::{Change, Journal};
use crate::undo::{self as restore, UndoOptions, UndoPlan, UndoReport};

/// How an undo is confirmed and run.
#[derive(Debug, Clone, Default)]
pub struct UndoRun {
    /// Undo without asking (still planned, checked, journaled).
    pub yes: bool,
    /// Show the plan and its conflicts only.
    pub dry_run: bool,
    /// Restore every row that does not conflict.
    pub force: bool,
    pub format: Format,
    /// Approval tokens, when policy asks for them.
    pub tokens: Vec<String>,
    pub apply: crate::apply::ApplyOptions,
}

/// Plans, confirms and runs one undo, printing what happened.
pub fn undo_one(
    conn: &mut Connection,
    journal: &mut Journal,
    policy: &crate::policy::Policy,
    loaded: restore::Loaded,
    run: &UndoRun,
    operator: &str,
    replay: bool,
) -> Result<()> {
    let schema = conn.introspect()?;
    let opts = UndoOptions {
        guard: run.apply.guard.clone(),
        force: run.force,
        replay,
    };
    let id = loaded.change.id;
    let mut memo = None;
    let plan = restore::preview(conn, &schema, &loaded, &opts, &mut memo)?;
    let shown = match run.format {
        Format::Text => out(&plan_text(&plan)),
        Format::Json => Ok(()),
    };
    let blocked = !plan.conflicts.is_empty() && !run.force;
    if run.dry_run || blocked {
        let shown = shown.and_then(|()| match run.format {
            Format::Json => out(&format!(
                "{}\n",
                serde_json::json!({"undo_of": id, "plan": plan, "dry_run": run.dry_run})
            )),
            Format::Text => Ok(()),
        });
        // The conflicts are the answer: output that cannot be written must
        // not replace their exit status.
        if blocked {
            return Err(Error::new(
                ErrorKind::WouldFail,
                format!(
                    "change {id} cannot be undone: {} conflicting row(s)",
                    plan.conflicts.len()
                ),
            ));
        }
        return shown;
    }
    shown?;
    // The undo is a change like any other: policy decides what it needs.
    let tables: Vec<crate::schema::QualName> = loaded
        .tables
        .iter()
        .map(|t| crate::schema::QualName::new(t.schema.as_deref(), &t.table))
        .collect();
    let first = tables
        .first()
        .cloned()
        .unwrap_or_else(|| crate::schema::QualName::new(None, "?"));
    let rows = loaded.change.row_count.max(0) as u64;
    let verdict = policy.verdict(&crate::policy::verdict::VerdictInput {
        kind: crate::model::ChangeKind::Undo,
        table: &first,
        has_where: true,
        target_rows: rows,
        total_rows: rows,
        has_cascades: false,
        has_dangling: false,
        has_warnings: plan.partial.is_some(),
        tables: tables.clone(),
    });
    if run.format == Format::Text {
        out(&format!("{}\n", super::gate::verdict_line(&verdict)))?;
    }
    let statement = format!("UNDO change {id}: {}", loaded.change.meta.statement);
    let digest = {
        use sha2::{Digest, Sha256};
        let canonical = serde_json::json!({"undo_of": id, "digest": loaded.change.meta.digest, "plan": plan.tables});
        Sha256::digest(canonical.to_string().as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let identity = conn.identity().clone();
    let passed = {
        let session = super::gate::Session {
            policy,
            journal,
            identity: &identity,
            operator,
            tokens: &run.tokens,
            yes: run.yes,
            interactive: std::io::stdin().is_terminal(),
            script: false,
        };
        let change = super::gate::Change {
            kind: crate::model::ChangeKind::Undo,
            statement: &statement,
            digest: &digest,
            verdict: &verdict,
            summary: serde_json::json!({"undo_of": id, "plan": plan.tables, "conflicts": plan.conflicts.len()}),
        };
        match super::gate::decide(
            &session,
            &change,
            &mut |t| out(t),
            &mut super::gate::terminal_line,
        ) {
            Ok(p) => p,
            Err(e) => {
                let _ = journal.audit(
                    "refusal",
                    operator,
                    Some(&identity.display),
                    None,
                    serde_json::json!({"statement": statement, "reason": e.message}),
                );
                if run.format == Format::Json {
                    // The refusal is the answer: output that cannot be
                    // written must not replace its exit status or request.
                    let _ = out(&format!(
                        "{}\n",
                        serde_json::json!({
                            "undo_of": id,
                            "plan": plan,
                            "verdict": super::gate::verdict_json(&verdict),
                            "request": e.request,
                            "error": e.message,
                        })
                    ));
                }
                return Err(e);
            }
        }
    };
    if passed.cancelled {
        out("Not undone.\n")?;
        return Ok(());
    }
    let mut progress = super::progress::Progress::default();
    let report = restore::run(
        conn,
        journal,
        &schema,
        &loaded,
        &opts,
        operator,
        &mut memo,
        &mut |done, total| progress.update(done, total),
    );
    progress.finish();
    let report = report?;
    passed.record(journal, report.change_id)?;
    let _ = journal.audit(
        "undo",
        operator,
        Some(&identity.display),
        Some(report.change_id),
        serde_json::json!({"undo_of": id, "mode": report.mode, "approvals": passed.approvals, "skipped": report.skipped}),
    );
    match run.format {
        Format::Text => out(&report_text(&report))?,
        Format::Json => out(&format!(
            "{}\n",
            serde_json::json!({
                "undo_of": id,
                "change_id": report.change_id,
                "mode": report.mode,
                "plan": report.plan,
                "differences": report.differences,
                "skipped": report.skipped,
            })
        ))?,
    }
    Ok(())
}

/// Settles prepared entries whose targets can be reached.
pub fn reconcile_all(journal: &Journal) {
    let Ok(prepared) = journal.prepared() else {
        return;
    };
    let mut seen = std::collections::BTreeSet::new();
    for c in prepared {
        if !seen.insert(c.meta.target.clone()) {
            continue;
        }
        if let Ok(mut conn) = Connection::open(Some(&c.meta.target), &OpenOptions::default()) {
            let _ = crate::journal::reconcile(&mut conn, journal);
        }
    }
}

pub fn list_text(journal: &Journal, changes: &[Change], format: Format) -> Result<String> {
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
    let mut table = super::describe::grid(&[
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
        super::describe::grid_text(&table),
        changes.len(),
        if changes.len() == 1 { "" } else { "s" }
    ))
}

fn value_text(v: &crate::db::Value) -> String {
    v.text().unwrap_or_else(|| "NULL".into())
}

pub fn show_text(journal: &Journal, l: &restore::Loaded) -> Result<String> {
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

pub fn plan_text(p: &UndoPlan) -> String {
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

pub fn report_text(r: &UndoReport) -> String {
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
