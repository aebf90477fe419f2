//! How each engine puts a change's deleted rows back in bulk, behind one
//! interface the undo drives without knowing the engine.
//!
//! Deleted rows are most of what a large undo restores, and row-by-row
//! statements cost several times what the engine's own bulk paths do. The
//! engines' paths differ: Postgres copies the stored rows into staging
//! tables (`COPY ... FROM STDIN`), checks them against the tables with one
//! set-based query, and inserts them with one `INSERT ... SELECT` per
//! table; SQLite binds each stored chunk straight into batches of `INSERT
//! OR ABORT`, checking for keys that exist again chunk by chunk (it can in
//! the read-only preview too) and letting the insert itself catch them in
//! the apply. `BulkRestore` is the shape both fit: check (read-only,
//! where the engine can), prepare (before anything changes), insert.
//!
//! The rows come from the journal through `DeletedRows`, and the undo's
//! own record of what it restored goes back through `RestoreSink`, so
//! this layer knows neither.

use std::collections::BTreeMap;

use super::bulk::StoredChunk;
use super::{ApplyTx, BulkFormat, Engine, PreviewTx};
use crate::error::Result;
use crate::model::Value;
use crate::schema::{Schema, TableInfo};

/// How rows were restored: with triggers and foreign-key actions off
/// (Postgres `session_replication_role = replica`, where the role may set
/// it; integrity is then checked before commit), or with triggers firing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RestoreMode {
    Replica,
    Triggers,
}

impl RestoreMode {
    pub fn name(self) -> &'static str {
        match self {
            RestoreMode::Replica => "replica",
            RestoreMode::Triggers => "triggers",
        }
    }
}

/// The deleted rows of a change, as the journal stores them.
pub(crate) trait DeletedRows {
    /// The stored chunks of `table`'s deleted rows, in storage order.
    fn chunks(
        &self,
        table: &TableInfo,
        f: &mut dyn FnMut(&StoredChunk<'_>) -> Result<()>,
    ) -> Result<()>;
    /// `table`'s deleted rows stored one by one, decoded.
    fn singles(&self, table: &TableInfo, f: &mut dyn FnMut(Vec<Value>) -> Result<()>)
    -> Result<()>;
    /// Whether every deleted row of the change is in a chunk.
    fn all_in_chunks(&self) -> Result<bool>;
    /// The formats of `table`'s chunks, without reading them.
    fn formats(&self, table: &TableInfo) -> Result<Vec<BulkFormat>>;
}

/// Where a bulk restore reports the rows it put back: the undo's own
/// journal entry, and its progress.
pub(crate) trait RestoreSink {
    /// `rows` rows of `table` as they are now, read back in the engine's
    /// bulk format.
    fn read_back(&mut self, table: &str, format: BulkFormat, rows: u64, data: &[u8]) -> Result<()>;
    /// The rows of `table` are now exactly those of `chunk`.
    fn same_as(&mut self, table: &str, chunk: &StoredChunk<'_>) -> Result<()>;
    /// `rows` more rows are back.
    fn done(&mut self, rows: u64);
}

/// A deleted row whose key exists again in its table.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyTaken {
    pub table: String,
    pub key: Vec<Option<String>>,
}

/// What a bulk restore found: rows to put back per table, and the keys
/// that exist again.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    pub rows: BTreeMap<String, u64>,
    pub taken: Vec<KeyTaken>,
}

/// How an insert ended: the differences triggers made to restored rows,
/// or the keys that exist again (the insert found them; nothing of it
/// stays).
pub(crate) enum Inserted {
    Done(Vec<String>),
    Taken(Vec<KeyTaken>),
}

/// An engine's bulk path for deleted rows. `tables` are in restore order,
/// parents first.
pub(crate) trait BulkRestore {
    /// Whether these rows can go back in bulk; otherwise they go row by
    /// row with the rest.
    fn eligible(
        &self,
        schema: &Schema,
        tables: &[TableInfo],
        rows: &dyn DeletedRows,
    ) -> Result<bool>;
    /// Whether [`BulkRestore::check`] works in a read-only preview; where
    /// it cannot, the preview checks the deleted rows row by row.
    fn checks_in_preview(&self) -> bool;
    /// Counts the rows to put back and finds keys that exist again,
    /// without writing.
    fn check(
        &self,
        tx: &mut dyn PreviewTx,
        tables: &[&TableInfo],
        rows: &dyn DeletedRows,
        out: &mut Checked,
    ) -> Result<()>;
    /// In the apply transaction, before anything changes: what must be
    /// known before the rows go back.
    fn prepare(
        &mut self,
        tx: &mut dyn ApplyTx,
        tables: &[&TableInfo],
        rows: &dyn DeletedRows,
        out: &mut Checked,
    ) -> Result<()>;
    /// Puts the rows back and reports them to `sink`.
    fn insert(
        &mut self,
        tx: &mut dyn ApplyTx,
        tables: &[&TableInfo],
        rows: &dyn DeletedRows,
        mode: RestoreMode,
        sink: &mut dyn RestoreSink,
        out: &mut Checked,
    ) -> Result<Inserted>;
}

/// The bulk path of `engine`.
pub(crate) fn bulk_restore(engine: Engine) -> Box<dyn BulkRestore> {
    match engine {
        Engine::Postgres => Box::new(super::postgres::restore::Staged::default()),
        Engine::Sqlite => Box::new(super::sqlite::restore::Chunks),
    }
}
