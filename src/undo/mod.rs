//! Undo and replay: put back every row a journaled change touched.
//!
//! The inverse of a change is planned from its journal entry: deleted rows
//! are re-inserted (parents first), updated rows get their before-images
//! back, inserted rows are deleted (children first). Before anything runs,
//! every row is checked against the database as it is now: a re-inserted
//! key that exists again, or an updated or inserted row that no longer
//! equals its after-image, is a **conflict**. Conflicts are listed row by
//! row and nothing changes, unless `--force` skips the conflicting rows
//! (the skipped rows are written into the undo's own journal entry).
//!
//! Deleted rows captured in bulk go back in bulk: on Postgres through
//! `COPY` into staging tables, one set-based conflict check and `INSERT
//! ... SELECT`; on SQLite each stored chunk's packed rows bound straight
//! into batches of `INSERT OR ABORT ... VALUES` (chunks of older journals,
//! JSON lines, as the parameter of one `INSERT OR ABORT ... SELECT` from
//! `jsonb_each()`). SQLite's preview
//! looks for conflicts with one query per chunk; the apply repeats it only
//! for tables without a key, which `INSERT OR ABORT` cannot catch, or once
//! an insert fails (to name them). Everything else (and `--force`) goes in
//! batches of literal statements.
//!
//! The restore runs through the same guarded path as any change
//! (`crate::journal::run_guarded`): one transaction, timeouts, and its own
//! journal entry with before- and after-images, so an undo can be undone.
//!
//! Engine-neutral here: the SQL that names rows by key is the dialect's
//! (`crate::db::rows`), and each engine's bulk path for deleted rows is
//! behind `crate::db::restore::BulkRestore`. The parts: `plan` (what the
//! undo does and where it conflicts), `run` (the preview and the restore),
//! `export` (the undo as a script, or the change as JSON).
//! On Postgres, where the role may set `session_replication_role`, rows
//! are restored in `replica` mode so triggers and `ON UPDATE` actions do
//! not bend them, and referential integrity is checked before commit;
//! otherwise triggers fire and the undo reports, column by column, where
//! restored rows differ from their before-images.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;

use crate::db::GuardOptions;
use crate::db::restore::RestoreMode;
use crate::error::{Error, Result};
use crate::journal::{Change, Journal, Status};
use crate::schema::TableInfo;

mod export;
mod plan;
mod run;

pub(crate) use export::{export_json, export_sql};
pub use run::Undo;

/// One row that cannot be restored as recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conflict {
    pub table: String,
    pub key: Vec<Option<String>>,
    pub reason: String,
}

/// What an undo will do, per table.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UndoCounts {
    pub reinsert: u64,
    pub revert: u64,
    pub delete: u64,
}

/// The plan of an undo, as previewed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UndoPlan {
    pub change_id: i64,
    pub statement: String,
    pub tables: BTreeMap<String, UndoCounts>,
    pub conflicts: Vec<Conflict>,
    pub partial: Option<String>,
}

/// What an undo's preview planned for the rows it restores one by one
/// (their conflicts and the rows `--force` skips), with the target's data
/// version it read them at ([`crate::db::PreviewTx::data_version`]). The undo itself
/// takes it instead of planning again when its own transaction reads the
/// same version: no other session committed, so the rows are as the
/// preview found them. At 100k rows planning again was 38M of a SQLite
/// undo's 1,334M instructions. Only the SQLite bulk undo makes one (its
/// preview plans exactly the phases the undo does), and a memo is taken
/// only for the same change, journal and target it was made for.
#[derive(Debug, Clone)]
pub struct PlanMemo {
    plan: UndoPlan,
    skip: BTreeSet<i64>,
    version: String,
    change_id: i64,
    source: PathBuf,
    target: String,
}

/// The outcome of an applied undo.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UndoReport {
    pub plan: UndoPlan,
    pub change_id: i64,
    /// `replica` (triggers and FK actions off, integrity checked) or
    /// `triggers` (they fired).
    pub mode: RestoreMode,
    /// Restored rows that differ from their before-images (triggers mode).
    pub differences: Vec<String>,
    pub skipped: usize,
}

/// How an undo runs.
#[derive(Debug, Clone, Default)]
pub struct UndoOptions {
    /// Lock and statement timeouts of its transaction.
    pub guard: GuardOptions,
    /// Skip conflicting rows instead of refusing.
    pub force: bool,
    /// Allow restoring into a database other than the change's target.
    pub replay: bool,
}

/// Loads a change that may be undone.
fn undoable(journal: &Journal, id: i64) -> Result<Change> {
    let change = journal.get(id)?;
    if change.status != Status::Committed {
        return Err(Error::input(format!(
            "change {id} is {}, not committed: there is nothing to undo",
            change.status.name()
        )));
    }
    if let Some(by) = journal.undone_by(id)? {
        return Err(Error::input(format!(
            "change {id} was already undone by change {by}\nTo redo it, undo change {by}."
        )));
    }
    Ok(change)
}

/// A journaled change ready to be undone: its entry and tables; the rows
/// stream from the journal it came from.
pub struct Loaded {
    pub change: Change,
    pub tables: Vec<TableInfo>,
    /// The journal file holding its rows.
    pub source: std::path::PathBuf,
}

/// Reads change `id` for undoing; `replay` skips the "already undone"
/// check, which is about the original target only.
pub fn load(journal: &Journal, id: i64, replay: bool) -> Result<Loaded> {
    let change = if replay {
        let c = journal.get(id)?;
        if c.status != Status::Committed {
            return Err(Error::input(format!(
                "change {id} is {}, not committed: there is nothing to replay",
                c.status.name()
            )));
        }
        c
    } else {
        undoable(journal, id)?
    };
    Ok(Loaded {
        tables: journal.tables(id)?,
        change,
        source: journal.path().to_path_buf(),
    })
}

/// Reads any change (for show and export), whatever its status.
pub(crate) fn load_any(journal: &Journal, id: i64) -> Result<Loaded> {
    Ok(Loaded {
        change: journal.get(id)?,
        tables: journal.tables(id)?,
        source: journal.path().to_path_buf(),
    })
}
