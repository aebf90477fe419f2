//! Undo and replay: put back every row a journaled change touched.
//!
//! The inverse of a change is computed on the server from the change's
//! snapshots in the journal (`crate::journal`), one set-based statement per
//! table and step, never row by row: rows the change inserted are deleted
//! where they are still as inserted (children first), rows it deleted are
//! inserted again from their before-images (parents first), rows it updated
//! get their before-images back where they still equal their after-images.
//!
//! Before anything runs, every row is checked against the database as it
//! is now: a deleted row whose key exists again, an updated or inserted row
//! that is gone or no longer equals its after-image (byte for byte), is a
//! **conflict**. Conflicts are listed row by row and nothing changes,
//! unless `--force` leaves the conflicting rows as they are and restores
//! the rest (the undo's entry is then marked partial, naming them).
//!
//! The undo is a change like any other: it runs in the pipeline
//! (`crate::change`), in one guarded transaction that also writes its own
//! journal entry, so an undo can be undone. On Postgres, where the role may
//! set `session_replication_role`, rows are restored in `replica` mode so
//! triggers and `ON UPDATE` actions do not bend them, and referential
//! integrity is checked before commit; SQLite drops the restored tables'
//! triggers inside the undo's transaction and creates them again before
//! commit. Otherwise triggers fire, and restored rows that differ from
//! their before-images refuse the undo.
//!
//! The parts: `sets` (the set-based SQL of one table), `plan` (what the
//! undo does and where it conflicts), `run` (the preview and the restore),
//! `export` (the undo as a script for plain psql or sqlite3, or the change
//! as JSON).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::db::journal::change_prefix;
use crate::db::restore::RestoreMode;
use crate::db::{Connection, GuardOptions, PreviewTx};
use crate::error::{Error, Result};
use crate::journal::{Change, TableEntry};

mod coverage;
mod export;
mod plan;
pub mod replay;
mod run;
mod sets;

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
    /// Commit even when the engine changed rows beyond those restored (FK
    /// actions or triggers), marking the undo's entry partial.
    pub allow_uncovered: bool,
}

/// A journaled change ready to be undone: its entry and tables, and where
/// its rows are (its own snapshots, or rows staged for a replay).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub change: Change,
    pub tables: Vec<TableEntry>,
    /// The prefix of the snapshot tables holding its rows (`c{id}`).
    pub prefix: String,
}

/// Whether the plan a preview read at `version` is still the plan in
/// `tx`: `version` moved past the session's own audit writes since
/// (`Connection::refresh_version`), and `tx` reads the same one, so nobody
/// committed in between. Asked before `tx` writes anything (its own writes
/// change the version it reads).
pub fn plan_holds(tx: &mut dyn PreviewTx, version: Option<&str>) -> Result<bool> {
    match version {
        Some(v) => Ok(tx.data_version()?.as_deref() == Some(v)),
        None => Ok(false),
    }
}

/// Reads change `id` of the target's journal for undoing: it must not be
/// undone already, nor pruned.
pub fn load(conn: &mut Connection, id: i64) -> Result<Loaded> {
    let loaded = load_any(conn, id)?;
    if let Some(by) = loaded.change.undone_by {
        return Err(Error::input(format!(
            "change {id} was already undone by change {by}\nTo redo it, undo change {by}."
        )));
    }
    Ok(loaded)
}

/// Reads any change whose rows are still in the journal (for show and
/// export).
pub fn load_any(conn: &mut Connection, id: i64) -> Result<Loaded> {
    let target = conn.identity().display.clone();
    let loaded = conn.preview(std::time::Duration::from_secs(60), |tx| {
        crate::journal::schema::readable_in(tx, &target)?;
        load_in(tx, id)
    })?;
    if loaded.change.pruned_at.is_some() {
        return Err(crate::journal::read::pruned(&loaded.change));
    }
    Ok(loaded)
}

/// Reads change `id` in `tx`.
pub(crate) fn load_in(tx: &mut dyn PreviewTx, id: i64) -> Result<Loaded> {
    Ok(Loaded {
        change: crate::journal::read::get(tx, id)?,
        tables: crate::journal::read::tables(tx, id)?,
        prefix: change_prefix(id),
    })
}
