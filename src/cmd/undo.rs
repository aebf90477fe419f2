//! `dbguard undo list|show|apply|export|replay|prune`: a database's
//! journaled changes, and putting them back.
//!
//! The journal is in the database, so every command names the database
//! (as the shell does: a URL, conninfo or SQLite path; by default
//! `$DATABASE_URL` and the PG* environment), and works from any machine
//! that can reach it. An undo is a change like any other: planned and
//! checked for conflicts (what `--dry-run` prints), confirmed (on a
//! terminal, or with `--yes`; never by default), then run through the
//! guarded path and journaled. Exit status 5 when conflicts stop it.

use std::io::Write as _;

use crate::cli::{ExportFormat, Format, GlobalArgs, UndoCommand, UndoRunArgs};
use crate::db::{Connection, OpenOptions};
use crate::error::{Error, ErrorKind, Result};
use crate::journal::trail::Trail;
use crate::shell::undo::{UndoRun, UndoTarget, list_text, run_undo, show_text, undo_of};

use super::options;
use super::out;

pub(super) fn run(global: &GlobalArgs, cmd: &UndoCommand) -> Result<()> {
    match cmd {
        UndoCommand::List {
            target,
            limit,
            format,
        } => {
            let mut conn = open(target.as_deref())?;
            let display = conn.identity().display.clone();
            let changes = conn.preview(std::time::Duration::from_secs(60), |tx| {
                crate::journal::schema::readable_in(tx, &display)?;
                crate::journal::read::list(tx, *limit)
            })?;
            out(&list_text(&changes, options::format(*format))?)
        }
        UndoCommand::Show { id, target, format } => {
            let mut conn = open(target.as_deref())?;
            let loaded = crate::undo::load_any(&mut conn, *id)?;
            match format {
                Format::Json => out(&format!(
                    "{}\n",
                    crate::undo::export_json(&mut conn, &loaded)?
                )),
                Format::Text => out(&show_text(&mut conn, &loaded)?),
            }
        }
        UndoCommand::Export { id, target, format } => {
            let mut conn = open(target.as_deref())?;
            let loaded = crate::undo::load_any(&mut conn, *id)?;
            match format {
                ExportFormat::Sql => export_sql(&mut conn, &loaded),
                ExportFormat::Json => out(&format!(
                    "{}\n",
                    crate::undo::export_json(&mut conn, &loaded)?
                )),
            }
        }
        UndoCommand::Apply { id, target, run } => {
            let mut conn = open(target.as_deref())?;
            let run = undo_run(global, run)?;
            let undo = undo_of(&mut conn, *id, &run)?;
            let policy = governing(&mut conn, global)?;
            let operator = options::operator(global);
            let mut trail = Trail::open(&mut conn, options::witness(global))?;
            let at = UndoTarget {
                conn: &mut conn,
                trail: &mut trail,
                policy: &policy,
                operator: &operator,
            };
            run_undo(at, undo, &run)
        }
        UndoCommand::Replay { from, to, ids, run } => {
            replay(global, from, to, ids, &undo_run(global, run)?)
        }
        UndoCommand::Prune {
            target,
            before,
            keep,
        } => {
            let mut conn = open(target.as_deref())?;
            let operator = options::operator(global);
            let mut trail = Trail::open(&mut conn, options::witness(global))?;
            let by = match (before, keep) {
                (Some(b), _) => crate::journal::prune::Prune::Before(b.clone()),
                (None, Some(n)) => crate::journal::prune::Prune::Keep(*n),
                (None, None) => {
                    return Err(Error::input("undo prune needs --before TIME or --keep N"));
                }
            };
            let pruned = crate::journal::prune::prune(&mut conn, &mut trail, &operator, &by)?;
            out(&format!(
                "pruned the rows of {} change{}; their entries and the audit trail stay\n",
                pruned.len(),
                if pruned.len() == 1 { "" } else { "s" }
            ))
        }
    }
}

/// The policy that governs `conn`'s database, its notes said on stderr.
fn governing(conn: &mut Connection, global: &GlobalArgs) -> Result<crate::policy::Policy> {
    let (policy, notes) = crate::policy::pinned::governing(conn, global.policy.as_deref())?;
    for note in notes {
        let _ = writeln!(std::io::stderr(), "dbguard: {note}");
    }
    Ok(policy)
}

/// The target a command names.
fn open(target: Option<&str>) -> Result<Connection> {
    Connection::open(target, &OpenOptions::default())
}

/// The undo options of `undo apply` and `undo replay`.
fn undo_run(global: &GlobalArgs, args: &UndoRunArgs) -> Result<UndoRun> {
    Ok(UndoRun {
        force: args.force,
        format: options::format(args.format),
        options: crate::change::Options {
            dry_run: args.dry_run,
            yes: args.yes,
            tokens: args.tokens.clone(),
            key: global.key.clone(),
            apply: options::apply(&args.apply)?.resolve(None),
        },
    })
}

/// `undo export --format sql`: the restore as a script, streamed.
fn export_sql(conn: &mut Connection, loaded: &crate::undo::Loaded) -> Result<()> {
    let stdout = std::io::stdout();
    let mut lock = std::io::BufWriter::new(stdout.lock());
    crate::undo::export_sql(conn, loaded, &mut lock)?;
    std::io::Write::flush(&mut lock)
        .map_err(|e| Error::io(format!("cannot write the script: {e}")).caused_by(e))
}

/// `undo replay`: undoes changes made in the database `from` in the
/// database `to`, in order; each failure is said and counted.
fn replay(global: &GlobalArgs, from: &str, to: &str, ids: &[i64], run: &UndoRun) -> Result<()> {
    let mut source = open(Some(from))?;
    let mut conn = open(Some(to))?;
    let ids: Vec<i64> = if ids.is_empty() {
        source
            .preview(std::time::Duration::from_secs(60), |tx| {
                crate::journal::read::list(tx, None)
            })?
            .into_iter()
            .filter(|c| {
                !matches!(
                    c.meta.kind,
                    crate::model::ChangeKind::Undo
                        | crate::model::ChangeKind::Policy
                        | crate::model::ChangeKind::Admin
                ) && c.undone_by.is_none()
                    && c.pruned_at.is_none()
            })
            .map(|c| c.id)
            .collect()
    } else {
        ids.to_vec()
    };
    let policy = governing(&mut conn, global)?;
    let operator = options::operator(global);
    let mut trail = Trail::open(&mut conn, options::witness(global))?;
    let opts = crate::undo::UndoOptions {
        guard: run.options.apply.guard.clone(),
        force: run.force,
        allow_uncovered: run.options.apply.allow_uncovered,
    };
    let mut failed: Vec<ErrorKind> = Vec::new();
    for id in ids {
        let one = crate::undo::replay::stage(&mut source, &mut conn, id, opts.clone()).and_then(
            |(undo, staged)| {
                crate::crash::point("replay_after_staging");
                let at = UndoTarget {
                    conn: &mut conn,
                    trail: &mut trail,
                    policy: &policy,
                    operator: &operator,
                };
                let ran = run_undo(at, undo, run);
                // Staged rows are dropped whatever the undo did.
                let dropped = staged.drop_staging(&mut conn);
                ran.and(dropped)
            },
        );
        if let Err(e) = one {
            if e.is_broken_pipe() {
                return Err(e);
            }
            super::err(&format!("dbguard: change {id}: {e}"));
            failed.push(e.kind);
        }
    }
    if let Some(&kind) = failed.first() {
        // One reason for every failure gives its exit status (5 for
        // conflicts); mixed reasons are a failed script.
        let kind = if failed.iter().all(|k| *k == kind) {
            kind
        } else {
            ErrorKind::ScriptFailed
        };
        let text = format!("{} change(s) were not replayed", failed.len());
        super::err(&format!("dbguard: {text}"));
        return Err(Error::new(kind, text).reported());
    }
    Ok(())
}
