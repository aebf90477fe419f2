//! `dbguard undo list|show|apply|export|replay`: the journal's changes,
//! and putting them back.
//!
//! An undo is a change like any other: planned and checked for conflicts
//! (what `--dry-run` prints), confirmed (on a terminal, or with `--yes`;
//! never by default), then run through the guarded path and journaled.
//! Exit status 5 when conflicts stop it.

use crate::cli::{ExportFormat, Format, GlobalArgs, UndoCommand, UndoRunArgs};
use crate::db::{Connection, OpenOptions};
use crate::error::{Error, ErrorKind, Result};
use crate::journal::{Journal, Status};
use crate::shell::undo::{UndoRun, list_text, reconcile_all, run_undo, show_text};

use super::options;
use super::out;

pub(super) fn run(global: &GlobalArgs, cmd: &UndoCommand) -> Result<()> {
    let mut journal = Journal::open(global.journal.as_deref())?;
    match cmd {
        UndoCommand::List { limit, format } => {
            reconcile_all(&journal, &options::operator(global));
            let changes = journal.list_newest(*limit)?;
            out(&list_text(&journal, &changes, options::format(*format))?)
        }
        UndoCommand::Show { id, format } => {
            let loaded = crate::undo::load_any(&journal, *id)?;
            match format {
                Format::Json => out(&format!("{}\n", crate::undo::export_json(&loaded)?)),
                Format::Text => out(&show_text(&journal, &loaded)?),
            }
        }
        UndoCommand::Export { id, format } => {
            let loaded = crate::undo::load_any(&journal, *id)?;
            match format {
                ExportFormat::Sql => export_sql(&loaded),
                ExportFormat::Json => out(&format!("{}\n", crate::undo::export_json(&loaded)?)),
            }
        }
        UndoCommand::Apply { id, target, run } => {
            let change = journal.get(*id)?;
            let target = target.clone().unwrap_or_else(|| change.meta.target.clone());
            let mut conn = Connection::open(Some(&target), &OpenOptions::default())?;
            let operator = options::operator(global);
            crate::journal::reconcile(&mut conn, &journal, &operator)?;
            let loaded = crate::undo::load(&journal, *id, false)?;
            let policy = crate::policy::Policy::load(global.policy.as_deref())?;
            let run = undo_run(run, false)?;
            run_undo(&mut conn, &mut journal, &policy, &operator, loaded, &run)
        }
        UndoCommand::Replay { from, to, ids, run } => {
            replay(global, &mut journal, from, to, ids, &undo_run(run, true)?)
        }
    }
}

/// The undo options of `undo apply` and `undo replay`.
fn undo_run(args: &UndoRunArgs, replay: bool) -> Result<UndoRun> {
    Ok(UndoRun {
        force: args.force,
        replay,
        format: options::format(args.format),
        options: crate::change::Options {
            dry_run: args.dry_run,
            yes: args.yes,
            tokens: args.tokens.clone(),
            apply: options::apply(&args.apply)?.resolve(None),
        },
    })
}

/// `undo export --format sql`: the restore as a script, streamed.
fn export_sql(loaded: &crate::undo::Loaded) -> Result<()> {
    let stdout = std::io::stdout();
    let mut lock = std::io::BufWriter::new(stdout.lock());
    crate::undo::export_sql(loaded, &mut lock)?;
    std::io::Write::flush(&mut lock)
        .map_err(|e| Error::io(format!("cannot write the script: {e}")).caused_by(e))
}

/// `undo replay`: undoes changes recorded in another journal, in order,
/// into another database; each failure is said and counted.
fn replay(
    global: &GlobalArgs,
    journal: &mut Journal,
    from: &std::path::Path,
    to: &str,
    ids: &[i64],
    run: &UndoRun,
) -> Result<()> {
    let source = Journal::open(Some(from))?;
    let mut conn = Connection::open(Some(to), &OpenOptions::default())?;
    let ids: Vec<i64> = if ids.is_empty() {
        source
            .list()?
            .into_iter()
            .filter(|c| {
                c.status == Status::Committed && c.meta.kind != crate::model::ChangeKind::Undo
            })
            .map(|c| c.id)
            .collect()
    } else {
        ids.to_vec()
    };
    let policy = crate::policy::Policy::load(global.policy.as_deref())?;
    let operator = options::operator(global);
    let mut failed = 0;
    for id in ids {
        let loaded = crate::undo::load(&source, id, true)?;
        if let Err(e) = run_undo(&mut conn, journal, &policy, &operator, loaded, run) {
            if e.is_broken_pipe() {
                return Err(e);
            }
            super::err(&format!("dbguard: change {id}: {e}"));
            failed += 1;
        }
    }
    if failed > 0 {
        return Err(Error::new(
            ErrorKind::ScriptFailed,
            format!("{failed} change(s) were not replayed"),
        ));
    }
    Ok(())
}
