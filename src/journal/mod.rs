//! The undo journal: a SQLite file that records, durably and before the
//! change commits, everything needed to put every changed row back.
//!
//! One journal may be shared by several shells (WAL mode, a busy timeout,
//! `BEGIN IMMEDIATE` for writers). Its schema is versioned with
//! `PRAGMA user_version`; a journal written by a newer dbguard is refused
//! untouched rather than misread.
//!
//! Write-ahead protocol (see `crate::apply`): a change's rows are streamed
//! into one journal transaction while the target transaction is open; the
//! journal commits the entry as `prepared` (with the Postgres transaction
//! id) *before* the target commits; after the target commits, the entry is
//! marked `committed`. A crash between the two leaves a `prepared` entry
//! that [`Journal::prepared`] lists for reconciliation against the target.
//!
//! Values are stored as JSON: Postgres values as their text form (a string,
//! or null), SQLite values tagged with their storage class (`{"int": "42"}`,
//! `{"real": "0x3ff0000000000000"}` with the exact bits, `{"blob": "00ff"}`,
//! text as a plain string), so every value round-trips exactly.
//!
//! Large deletes are captured in bulk, as chunks of rows in the engine's
//! own bulk format ([`BulkFormat`]): Postgres `COPY` text, or for SQLite
//! one MessagePack array per row (`crate::db::sqlite::packed`, a blob; schema 7),
//! each value exactly as SQLite holds it. Journals written before schema 7
//! hold SQLite's rows as one JSON array per line as `json_array()` writes
//! it (numbers with a `.` or an exponent are reals, given with enough
//! digits to round-trip; blobs as `{"blob": "HEX"}`); those still read.
//!
//! A chunk may stand for another change's chunk in the same file instead of
//! holding its lines: an undo that put back a delete's chunks exactly
//! records them that way ([`Recording::chunk_ref`]). The read queries
//! resolve the reference, so readers see rows either way.

pub mod audit;

use std::path::{Path, PathBuf};

use rusqlite::{Connection as RawConnection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::db::bulk::StoredChunk;
use crate::db::{BulkFormat, Value};
use crate::error::{Error, Result};

/// The journal schema this version reads and writes.
///
/// History: 1 — changes, their tables and rows (the undo log); 2 — the
/// hash-chained audit trail (`audit`, `audit_head`) and the single-use
/// record of approval tokens (`approvals`); 3 — bulk-captured chunks
/// (`change_chunks`); 4 — the format of each chunk; 5 — an index of the
/// changes still prepared; 6 — chunks that stand for another change's
/// chunk (`ref_change`, `ref_seq`); 7 — packed chunks (`packed` format);
/// 8 — an index of the chunks' formats. Opening an older
/// journal migrates it in one transaction; a newer one is refused
/// untouched.
pub const SCHEMA_VERSION: i64 = 8;

/// Schema 1: the undo log.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS changes (
    id                INTEGER PRIMARY KEY,
    created_at        TEXT NOT NULL,
    operator          TEXT NOT NULL,
    engine            TEXT NOT NULL,
    target            TEXT NOT NULL,
    target_database   TEXT NOT NULL,
    system_identifier TEXT,
    statement         TEXT NOT NULL,
    kind              TEXT NOT NULL,
    digest            TEXT NOT NULL,
    impact            TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('prepared', 'committed', 'aborted')),
    txid              TEXT,
    partial           TEXT,
    undo_of           INTEGER REFERENCES changes(id),
    committed_at      TEXT,
    row_count         INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS change_tables (
    change_id   INTEGER NOT NULL REFERENCES changes(id) ON DELETE CASCADE,
    tbl         TEXT NOT NULL,
    schema_name TEXT,
    table_name  TEXT NOT NULL,
    position    INTEGER NOT NULL,
    columns     TEXT NOT NULL,
    key_columns TEXT NOT NULL,
    PRIMARY KEY (change_id, tbl)
);
CREATE TABLE IF NOT EXISTS change_rows (
    change_id INTEGER NOT NULL REFERENCES changes(id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    tbl       TEXT NOT NULL,
    op        TEXT NOT NULL CHECK (op IN ('delete', 'update', 'insert')),
    key       TEXT NOT NULL,
    before    TEXT,
    after     TEXT,
    PRIMARY KEY (change_id, seq)
);
CREATE INDEX IF NOT EXISTS change_rows_key ON change_rows (change_id, tbl, key);
";

/// Schema 3: rows captured in bulk. A Postgres delete's before-images are
/// streamed with `COPY ... TO STDOUT` and kept as the server wrote them (the
/// text format: tab-separated, `\N` for NULL, backslash escapes), a chunk
/// of lines per record: capture then costs about what a manual `COPY` does.
/// Each line is one row, numbered `first_seq + i` in the change's sequence.
const SCHEMA_V3: &str = "
CREATE TABLE IF NOT EXISTS change_chunks (
    change_id INTEGER NOT NULL REFERENCES changes(id) ON DELETE CASCADE,
    first_seq INTEGER NOT NULL,
    tbl       TEXT NOT NULL,
    op        TEXT NOT NULL CHECK (op IN ('delete', 'update', 'insert')),
    rows      INTEGER NOT NULL,
    data      TEXT NOT NULL,
    PRIMARY KEY (change_id, first_seq)
);
";

/// Schema 4: chunks say their format. Chunks written before it are all
/// Postgres `COPY` text.
const SCHEMA_V4: &str = "
ALTER TABLE change_chunks ADD COLUMN format TEXT NOT NULL DEFAULT 'copy'
    CHECK (format IN ('copy', 'json'));
";

/// Schema 5: indexes for the questions asked of every change. Every
/// command settles the entries a crash left `prepared` before it starts,
/// and finding them read every change the journal ever held (20,000
/// changes added 150 ms to each command); the partial index holds only
/// the prepared ones, which are almost always none. Whether a change was
/// undone, asked once per change by `undo list`, read them all each time
/// (20,000 changes: over three minutes).
const SCHEMA_V5: &str = "
CREATE INDEX IF NOT EXISTS changes_prepared ON changes (id) WHERE status = 'prepared';
CREATE INDEX IF NOT EXISTS changes_undo_of ON changes (undo_of) WHERE undo_of IS NOT NULL;
";

/// Schema 6: a chunk may stand for another change's chunk of the same
/// rows instead of holding a copy. An undo puts back exactly the rows a
/// delete captured, and copying their text into its own entry was a
/// sixth of a 100k-row SQLite undo. Changes are never deleted, so the
/// chunk referred to stays.
const SCHEMA_V6: &str = "
ALTER TABLE change_chunks ADD COLUMN ref_change INTEGER;
ALTER TABLE change_chunks ADD COLUMN ref_seq INTEGER;
";

/// Schema 8: which formats a change's chunks are in, answered from an
/// index. `format` was added after `data`, so reading it from the table
/// walks every chunk's overflow pages: the undo's question whether it can
/// restore in bulk read all of a change's rows to learn that they were
/// packed. Building the index reads them once, under the migration's
/// write lock: about 0.8 s per GB of chunks, which other shells opening
/// the journal meanwhile wait for (up to the 30 s busy timeout).
const SCHEMA_V8: &str = "
CREATE INDEX IF NOT EXISTS change_chunks_format ON change_chunks (change_id, tbl, op, format);
";

/// Schema 7: a chunk may hold packed rows (`crate::db::sqlite::packed`, a blob),
/// SQLite's bulk format from now on: the format's CHECK constraint allows
/// `packed`. Loosening a CHECK changes nothing stored, so it is done the
/// way SQLite documents for such changes (editing the table's definition
/// with `writable_schema`, "Making Other Kinds Of Table Schema Changes")
/// rather than by copying every chunk into a rebuilt table, which would
/// hold the journal's write lock for as long as that copy takes.
fn allow_packed_chunks(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    const OLD: &str = "CHECK (format IN ('copy', 'json'))";
    const NEW: &str = "CHECK (format IN ('copy', 'json', 'packed'))";
    let version: i64 = tx.query_row("PRAGMA schema_version", [], |r| r.get(0))?;
    tx.execute_batch("PRAGMA writable_schema = ON")?;
    let changed = tx.execute(
        "UPDATE sqlite_schema SET sql = replace(sql, ?1, ?2)
         WHERE type = 'table' AND name = 'change_chunks' AND instr(sql, ?1) > 0",
        [OLD, NEW],
    );
    // The schema is reloaded from the new definition once its version
    // moves on; writable_schema goes off whatever happened.
    let bumped = tx.pragma_update(None, "schema_version", version + 1);
    tx.execute_batch("PRAGMA writable_schema = OFF")?;
    bumped?;
    if changed? != 1 {
        return Err(Error::io(
            "journal table change_chunks does not have the definition dbguard gave it, so it cannot be upgraded to schema 7\nRestore the journal file from a backup, or start a new journal.",
        ));
    }
    Ok(())
}

/// The formats of change `?1`'s chunks of table `?2` and operation `?3`,
/// through `change_chunks_format`.
const CHUNK_FORMATS: &str =
    "SELECT DISTINCT format FROM change_chunks WHERE change_id = ?1 AND tbl = ?2 AND op = ?3";

/// The committed change that undid change `?1`, through `changes_undo_of`.
const UNDONE_BY: &str =
    "SELECT id FROM changes WHERE undo_of = ?1 AND status = 'committed' ORDER BY id LIMIT 1";

/// The changes a crash left `prepared`, newest first, through
/// `changes_prepared`.
const PREPARED: &str = "SELECT * FROM changes WHERE status = 'prepared' ORDER BY id DESC";

/// Schema 2: the audit trail and the approvals a change used (see
/// [`audit`]). The triggers make the trail append-only for anyone writing
/// through SQLite without dropping them first; the hash chain is what shows
/// an edit made anyway.
const SCHEMA_V2: &str = "
CREATE TABLE IF NOT EXISTS audit (
    id        INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    event     TEXT NOT NULL,
    operator  TEXT NOT NULL,
    target    TEXT,
    change_id INTEGER,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at);
CREATE TABLE IF NOT EXISTS audit_head (
    one       INTEGER PRIMARY KEY CHECK (one = 1),
    last_id   INTEGER NOT NULL,
    last_hash TEXT NOT NULL
);
INSERT OR IGNORE INTO audit_head (one, last_id, last_hash)
    VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
CREATE TABLE IF NOT EXISTS approvals (
    change_id   INTEGER REFERENCES changes(id),
    principal   TEXT,
    fingerprint TEXT,
    nonce       TEXT UNIQUE NOT NULL,
    signed_at   INTEGER,
    used_at     TEXT
);
CREATE INDEX IF NOT EXISTS approvals_change ON approvals (change_id);
";

/// Where a change stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Durable, target commit not yet confirmed.
    Prepared,
    Committed,
    /// The target transaction did not commit.
    Aborted,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Prepared => "prepared",
            Status::Committed => "committed",
            Status::Aborted => "aborted",
        }
    }

    fn parse(s: &str) -> Result<Status> {
        match s {
            "prepared" => Ok(Status::Prepared),
            "committed" => Ok(Status::Committed),
            "aborted" => Ok(Status::Aborted),
            other => Err(Error::database(format!(
                "journal has unknown status {other:?}"
            ))),
        }
    }
}

/// What one row change was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Delete,
    Update,
    Insert,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Delete => "delete",
            Op::Update => "update",
            Op::Insert => "insert",
        }
    }

    fn parse(s: &str) -> Result<Op> {
        match s {
            "delete" => Ok(Op::Delete),
            "update" => Ok(Op::Update),
            "insert" => Ok(Op::Insert),
            other => Err(Error::database(format!(
                "journal has unknown row op {other:?}"
            ))),
        }
    }
}

/// A column of a journaled table, as the target described it at capture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnInfo {
    pub name: String,
    pub type_name: String,
    /// Generated columns are left to the database on restore.
    #[serde(default)]
    pub generated: bool,
    /// `GENERATED ALWAYS AS IDENTITY` needs `OVERRIDING SYSTEM VALUE`.
    #[serde(default)]
    pub identity_always: bool,
}

/// A table touched by a change, with its columns in capture order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableInfo {
    /// `schema.table` on Postgres, bare on SQLite (display form).
    pub name: String,
    pub schema: Option<String>,
    pub table: String,
    /// Restore order: parents before children (lower first).
    pub position: i64,
    pub columns: Vec<ColumnInfo>,
    /// Columns that identify a row (primary key, or all columns).
    pub key_columns: Vec<String>,
}

/// What a change was done to, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeMeta {
    pub operator: String,
    pub engine: String,
    pub target: String,
    pub target_database: String,
    pub system_identifier: Option<String>,
    pub statement: String,
    pub kind: String,
    pub digest: String,
    /// The impact preview that was confirmed, as JSON.
    pub impact: String,
    pub undo_of: Option<i64>,
}

/// A journal entry as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub id: i64,
    pub created_at: String,
    pub status: Status,
    pub txid: Option<String>,
    pub partial: Option<String>,
    pub committed_at: Option<String>,
    pub row_count: i64,
    #[serde(flatten)]
    pub meta: ChangeMeta,
}

/// One journaled row change.
#[derive(Debug, Clone, PartialEq)]
pub struct RowChange {
    pub seq: i64,
    pub table: String,
    pub op: Op,
    /// The row's key values after the change (before it, for deletes).
    pub key: Vec<Value>,
    pub before: Option<Vec<Value>>,
    pub after: Option<Vec<Value>>,
}

fn row_to_json(row: &[Value]) -> String {
    serde_json::Value::Array(row.iter().map(Value::to_json).collect()).to_string()
}

fn row_from_json(text: &str) -> Result<Vec<Value>> {
    let v: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| Error::database(format!("journal row is not valid JSON: {e}")))?;
    let arr = v
        .as_array()
        .ok_or_else(|| Error::database("journal row is not a JSON array"))?;
    arr.iter().map(Value::from_json).collect()
}

/// Now, in RFC 3339 UTC to the second, as every journal time is written.
fn now() -> String {
    format!("{:.0}", jiff::Timestamp::now())
}

/// A `change_rows` row (columns seq, tbl, op, key, before, after).
fn row_change(r: &rusqlite::Row<'_>) -> Result<RowChange> {
    let key: String = r.get(3)?;
    let before: Option<String> = r.get(4)?;
    let after: Option<String> = r.get(5)?;
    Ok(RowChange {
        seq: r.get(0)?,
        table: r.get(1)?,
        op: Op::parse(&r.get::<_, String>(2)?)?,
        key: row_from_json(&key)?,
        before: before.as_deref().map(row_from_json).transpose()?,
        after: after.as_deref().map(row_from_json).transpose()?,
    })
}

/// A chunk's lines: its own, or those of the chunk it stands for (schema
/// 6); NULL if that one is missing or is itself a reference, whose empty
/// text would read as no rows at all. References are only ever written to
/// chunks that hold their lines (`Chunk::origin`).
macro_rules! chunk_data {
    () => {
        "CASE WHEN c.ref_change IS NULL THEN c.data ELSE (SELECT r.data FROM change_chunks AS r \
         WHERE r.change_id = c.ref_change AND r.first_seq = c.ref_seq AND r.ref_change IS NULL) END"
    };
}

/// The streaming reads of [`Journal::merged_rows`]; each must be served by
/// the primary key in its order, with no sort (a test checks the plans).
const ROWS_IN_SEQ: &str = "SELECT seq, tbl, op, key, before, after FROM change_rows
     WHERE change_id = ?1 ORDER BY seq";
const CHUNKS_IN_SEQ: &str = concat!(
    "SELECT c.first_seq, c.tbl, c.op, ",
    chunk_data!(),
    ", c.format FROM change_chunks AS c WHERE c.change_id = ?1 ORDER BY c.first_seq"
);
const TABLE_ROWS_IN_SEQ: &str = "SELECT seq, tbl, op, key, before, after FROM change_rows
     WHERE change_id = ?1 AND tbl = ?2 AND op = ?3 ORDER BY seq";
const TABLE_CHUNKS_IN_SEQ: &str = concat!(
    "SELECT c.first_seq, c.tbl, c.op, ",
    chunk_data!(),
    ", c.format, c.rows, coalesce(c.ref_change, c.change_id), coalesce(c.ref_seq, c.first_seq)
     FROM change_chunks AS c WHERE c.change_id = ?1 AND c.tbl = ?2 AND c.op = ?3 ORDER BY c.first_seq"
);

/// A chunk as [`merge_by_seq`] reads it: first seq, table, operation,
/// rows (text lines or packed), format.
type SeqChunk = (i64, String, String, Vec<u8>, String);

/// The next row of [`CHUNKS_IN_SEQ`] or [`TABLE_CHUNKS_IN_SEQ`].
fn read_chunk(chunks: &mut rusqlite::Rows<'_>) -> Result<Option<SeqChunk>> {
    let Some(r) = chunks.next()? else {
        return Ok(None);
    };
    let first: i64 = r.get(0)?;
    Ok(Some((
        first,
        r.get(1)?,
        r.get(2)?,
        chunk_bytes(r, 3, first)?.to_owned(),
        r.get(4)?,
    )))
}

/// The rows of a chunk row (text lines, or packed rows in a blob), or an
/// error that says which chunk has none: one standing for a chunk that is
/// no longer in the journal.
fn chunk_bytes<'r>(r: &'r rusqlite::Row<'_>, idx: usize, first_seq: i64) -> Result<&'r [u8]> {
    match r.get_ref(idx)? {
        rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => Ok(t),
        _ => Err(Error::database(format!(
            "journal chunk at seq {first_seq} stands for another change's rows, which are no longer in the journal\nThe change cannot be read; restore the journal file from a backup."
        ))),
    }
}

/// Merges single rows and chunk lines, each stream already in seq order,
/// into one stream in seq order. Rows of tables the change does not
/// describe are left out, as a restore could not place them.
fn merge_by_seq(
    mut rows: rusqlite::Rows<'_>,
    mut chunks: rusqlite::Rows<'_>,
    tables: &std::collections::HashMap<&str, &TableInfo>,
    f: &mut dyn FnMut(RowChange) -> Result<()>,
) -> Result<()> {
    let mut next_row = rows.next()?.map(row_change).transpose()?;
    let mut next_chunk = read_chunk(&mut chunks)?;
    loop {
        let take_chunk = match (&next_row, &next_chunk) {
            (None, None) => break,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (Some(r), Some(c)) => c.0 < r.seq,
        };
        if take_chunk {
            let Some((first, tbl, op_s, data, format)) = next_chunk.take() else {
                break;
            };
            if let Some(info) = tables.get(tbl.as_str()) {
                let op = Op::parse(&op_s)?;
                let format = BulkFormat::parse(&format)?;
                let mut seq = first;
                let at = || format!("journal chunk of {tbl} at seq {first}");
                crate::db::bulk::for_each_row(format, &data, &at, |values| {
                    let key = crate::apply::key_of(info, &values);
                    let (before, after) = match op {
                        Op::Insert => (None, Some(values)),
                        _ => (Some(values), None),
                    };
                    f(RowChange {
                        seq,
                        table: tbl.clone(),
                        op,
                        key,
                        before,
                        after,
                    })?;
                    seq += 1;
                    Ok(())
                })?;
            }
            next_chunk = read_chunk(&mut chunks)?;
        } else {
            let Some(row) = next_row.take() else {
                break;
            };
            if tables.contains_key(row.table.as_str()) {
                f(row)?;
            }
            next_row = rows.next()?.map(row_change).transpose()?;
        }
    }
    Ok(())
}

/// Puts the journal in WAL mode. Switching a file's mode takes an
/// exclusive lock and SQLite answers "database is locked" at once, without
/// the busy handler, when another handle holds one at that moment: two
/// shells opening a new journal together. Such a clash lasts as long as the
/// other handle's switch or migration, so it is retried within the same
/// 30 s the busy timeout gives everything else.
fn wal_mode(conn: &RawConnection) -> Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match conn.pragma_update(None, "journal_mode", "wal") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            other => return Ok(other?),
        }
    }
}

/// An open journal file.
pub struct Journal {
    conn: RawConnection,
    path: PathBuf,
}

impl Journal {
    /// `$XDG_STATE_HOME/dbguard/journal.sqlite` (default
    /// `~/.local/state/dbguard/journal.sqlite`).
    pub fn default_path() -> Option<PathBuf> {
        crate::shell::state_dir().map(|d| d.join("journal.sqlite"))
    }

    /// Opens (creating if needed) the journal at `path`, or the default.
    pub fn open(path: Option<&Path>) -> Result<Journal> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None => Journal::default_path().ok_or_else(|| {
                Error::io("no journal location: set XDG_STATE_HOME or HOME, or give --journal PATH")
            })?,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::io(format!(
                    "cannot create journal directory {}: {e}",
                    dir.display()
                ))
            })?;
        }
        let mut conn = RawConnection::open(&path)
            .map_err(|e| Error::io(format!("cannot open journal {}: {e}", path.display())))?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(Error::io(format!(
                "journal {} was written by a newer dbguard (schema {version}; this version reads {SCHEMA_VERSION})\nUpgrade dbguard to read it; the file was not changed.",
                path.display()
            )));
        }
        // WAL lets several shells read while one writes; FULL makes every
        // commit durable before it returns, which the write-ahead protocol
        // relies on.
        // A new journal gets 64 KiB pages: its bulk is chunks of a few
        // hundred KiB, which SQLite writes to the WAL (and checkpoints) a
        // page per system call; with 4 KiB pages that was a tenth of a
        // 100k-row apply. An existing file keeps its page size.
        conn.pragma_update(None, "page_size", 65536)?;
        wal_mode(&conn)?;
        // SQLite checkpoints after 1,000 pages of WAL: 4 MiB with 4 KiB
        // pages, 64 MiB with 64 KiB ones. Keep it near 4 MiB.
        let page: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        conn.pragma_update(None, "wal_autocheckpoint", (4 << 20) / page.max(512))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        // A large page cache (two handles during an undo) was most of the
        // growth of peak memory from a 10k-row to a 1M-row change, hence
        // 512 KiB. But with 64 KiB pages that is 8 pages, fewer than one
        // write touches (the chunks table and its leaf, overflow pages,
        // `change_rows` and its two indexes, `changes`): pages were evicted,
        // spilled to the WAL and read back again and again. A 100k-row
        // apply read 60 MB from the journal for 7.4 MB of chunks, and spent
        // 15-20 ms more in the kernel. At least 32 pages (2 MiB with
        // 64 KiB pages), per handle.
        conn.pragma_update(None, "cache_size", ((512 << 10) / page.max(512)).max(32))?;
        if version < SCHEMA_VERSION {
            Journal::migrate(&mut conn, &path)?;
        }
        Ok(Journal { conn, path })
    }

    /// Brings the schema up to [`SCHEMA_VERSION`], step by step, in one
    /// `BEGIN IMMEDIATE` transaction. The version is read again inside it:
    /// another shell may have migrated the file meanwhile.
    fn migrate(conn: &mut RawConnection, path: &Path) -> Result<()> {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(Error::io(format!(
                "journal {} was written by a newer dbguard (schema {version}; this version reads {SCHEMA_VERSION})\nUpgrade dbguard to read it; the file was not changed.",
                path.display()
            )));
        }
        if version < 1 {
            tx.execute_batch(SCHEMA)?;
        }
        if version < 2 {
            tx.execute_batch(SCHEMA_V2)?;
        }
        if version < 3 {
            tx.execute_batch(SCHEMA_V3)?;
        }
        if version < 4 {
            tx.execute_batch(SCHEMA_V4)?;
        }
        if version < 5 {
            tx.execute_batch(SCHEMA_V5)?;
        }
        if version < 6 {
            tx.execute_batch(SCHEMA_V6)?;
        }
        if version < 7 {
            allow_packed_chunks(&tx)?;
        }
        if version < 8 {
            tx.execute_batch(SCHEMA_V8)?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts recording a change: one journal transaction that stays open
    /// while the target transaction captures and executes.
    pub fn begin(&mut self, meta: &ChangeMeta) -> Result<Recording<'_>> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO changes (created_at, operator, engine, target, target_database, system_identifier,
                 statement, kind, digest, impact, status, undo_of)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'prepared', ?11)",
            params![
                now(),
                meta.operator,
                meta.engine,
                meta.target,
                meta.target_database,
                meta.system_identifier,
                meta.statement,
                meta.kind,
                meta.digest,
                meta.impact,
                meta.undo_of
            ],
        )?;
        let id = tx.last_insert_rowid();
        Ok(Recording {
            tx,
            id,
            seq: 0,
            position: 0,
        })
    }

    /// Marks a prepared change committed or aborted.
    pub fn set_status(&self, id: i64, status: Status) -> Result<()> {
        let committed_at = (status == Status::Committed).then(now);
        let n = self.conn.execute(
            "UPDATE changes SET status = ?2, committed_at = coalesce(?3, committed_at) WHERE id = ?1",
            params![id, status.name(), committed_at],
        )?;
        if n == 0 {
            return Err(Error::input(format!("no change {id} in the journal")));
        }
        Ok(())
    }

    fn change_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Change, String)> {
        let status: String = r.get("status")?;
        Ok((
            Change {
                id: r.get("id")?,
                created_at: r.get("created_at")?,
                status: Status::Prepared,
                txid: r.get("txid")?,
                partial: r.get("partial")?,
                committed_at: r.get("committed_at")?,
                row_count: r.get("row_count")?,
                meta: ChangeMeta {
                    operator: r.get("operator")?,
                    engine: r.get("engine")?,
                    target: r.get("target")?,
                    target_database: r.get("target_database")?,
                    system_identifier: r.get("system_identifier")?,
                    statement: r.get("statement")?,
                    kind: r.get("kind")?,
                    digest: r.get("digest")?,
                    impact: r.get("impact")?,
                    undo_of: r.get("undo_of")?,
                },
            },
            status,
        ))
    }

    /// Every change, newest first.
    pub fn list(&self) -> Result<Vec<Change>> {
        self.changes_where("SELECT * FROM changes ORDER BY id DESC")
    }

    /// The `limit` newest changes, newest first (all of them without a
    /// limit), read off the primary key.
    pub fn list_newest(&self, limit: Option<u64>) -> Result<Vec<Change>> {
        match limit {
            None => self.list(),
            Some(n) => self.changes_where(&format!(
                "SELECT * FROM changes ORDER BY id DESC LIMIT {}",
                n.min(i64::MAX as u64)
            )),
        }
    }

    fn changes_where(&self, sql: &str) -> Result<Vec<Change>> {
        let mut stmt = self.conn.prepare(sql)?;
        let rows = stmt.query_map([], Journal::change_from_row)?;
        let mut out = Vec::new();
        for r in rows {
            let (mut c, status) = r?;
            c.status = Status::parse(&status)?;
            out.push(c);
        }
        Ok(out)
    }

    /// One change.
    pub fn get(&self, id: i64) -> Result<Change> {
        let found = self
            .conn
            .query_row(
                "SELECT * FROM changes WHERE id = ?1",
                [id],
                Journal::change_from_row,
            )
            .optional()?;
        let (mut c, status) = found.ok_or_else(|| {
            Error::input(format!(
                "no change {id} in the journal {}\nList changes with dbguard undo list.",
                self.path.display()
            ))
        })?;
        c.status = Status::parse(&status)?;
        Ok(c)
    }

    /// Changes still `prepared`, for reconciliation (every command asks).
    pub fn prepared(&self) -> Result<Vec<Change>> {
        self.changes_where(PREPARED)
    }

    /// The tables of a change, in restore order.
    pub fn tables(&self, id: i64) -> Result<Vec<TableInfo>> {
        let mut stmt = self.conn.prepare(
            "SELECT tbl, schema_name, table_name, position, columns, key_columns
             FROM change_tables WHERE change_id = ?1 ORDER BY position, tbl",
        )?;
        let rows = stmt.query_map([id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for r in rows {
            let (name, schema, table, position, columns, keys) = r?;
            out.push(TableInfo {
                name,
                schema,
                table,
                position,
                columns: serde_json::from_str(&columns)
                    .map_err(|e| Error::database(format!("journal column list unreadable: {e}")))?,
                key_columns: serde_json::from_str(&keys)
                    .map_err(|e| Error::database(format!("journal key list unreadable: {e}")))?,
            });
        }
        Ok(out)
    }

    /// Streams the rows of a change in capture order (constant memory).
    pub fn for_each_row(&self, id: i64, f: impl FnMut(RowChange) -> Result<()>) -> Result<()> {
        self.merged_rows(id, None, false, f)
    }

    /// Rows and chunk-decoded rows of a change, merged in one order: by
    /// seq, or (with `op`) by table position then seq.
    ///
    /// Every query here walks the primary key (change_id, seq) in order:
    /// bundled SQLite keeps temporary b-trees in memory, so an `ORDER BY`
    /// that needs a sorter would hold the whole change (the chunks' text
    /// included) in RAM. Tables are ordered here instead, one query pair
    /// per table, each filtering the change's rows by table and operation.
    /// Extra indexes for that filter cost more than they save: with them, a
    /// 1M-row apply on Postgres took 12 s instead of 5 s.
    fn merged_rows(
        &self,
        id: i64,
        op: Option<Op>,
        children_first: bool,
        mut f: impl FnMut(RowChange) -> Result<()>,
    ) -> Result<()> {
        let mut tables = self.tables(id)?;
        if op.is_some() && children_first {
            tables.sort_by(|a, b| b.position.cmp(&a.position).then(a.name.cmp(&b.name)));
        }
        let infos: std::collections::HashMap<&str, &TableInfo> =
            tables.iter().map(|t| (t.name.as_str(), t)).collect();
        let Some(op) = op else {
            let mut rows_stmt = self.conn.prepare(ROWS_IN_SEQ)?;
            let mut chunk_stmt = self.conn.prepare(CHUNKS_IN_SEQ)?;
            let rows = rows_stmt.query(params![id])?;
            let chunks = chunk_stmt.query(params![id])?;
            return merge_by_seq(rows, chunks, &infos, &mut f);
        };
        let mut rows_stmt = self.conn.prepare(TABLE_ROWS_IN_SEQ)?;
        let mut chunk_stmt = self.conn.prepare(TABLE_CHUNKS_IN_SEQ)?;
        for t in &tables {
            let rows = rows_stmt.query(params![id, t.name, op.name()])?;
            let chunks = chunk_stmt.query(params![id, t.name, op.name()])?;
            merge_by_seq(rows, chunks, &infos, &mut f)?;
        }
        Ok(())
    }

    /// Streams the rows of one operation of a change, grouped by table in
    /// restore order (parents first, or children first), then capture
    /// order: what a restore needs, in constant memory.
    pub fn for_each_row_of(
        &self,
        id: i64,
        op: Op,
        children_first: bool,
        f: impl FnMut(RowChange) -> Result<()>,
    ) -> Result<()> {
        self.merged_rows(id, Some(op), children_first, f)
    }

    /// Streams the images of one table's rows of one operation as Postgres
    /// `COPY` text (complete lines): bulk-captured chunks as they were
    /// stored, single rows encoded. The image is the before-image, or the
    /// after-image for inserts. Order is not capture order (chunks come
    /// first): this feeds a staging table, where order does not matter, and
    /// skipping the decode and re-encode of every line is the point.
    pub fn copy_text_of(
        &self,
        id: i64,
        table: &str,
        op: Op,
        mut f: impl FnMut(&str) -> Result<()>,
    ) -> Result<()> {
        let mut line = String::new();
        self.for_each_chunk_of(id, table, op, |chunk| {
            let at = || {
                format!(
                    "journal chunk of {table} at seq {} of change {}",
                    chunk.origin.1, chunk.origin.0
                )
            };
            match chunk.format {
                BulkFormat::Copy => {
                    let data = crate::db::bulk::text(chunk.data).map_err(|e| e.context(at()))?;
                    if !data.is_empty() {
                        f(data)?;
                        if !data.ends_with('\n') {
                            f("\n")?;
                        }
                    }
                }
                BulkFormat::Json | BulkFormat::Packed => {
                    crate::db::bulk::for_each_row(chunk.format, chunk.data, &at, |values| {
                        line.clear();
                        crate::db::postgres::copy::encode_line(&values, &mut line);
                        line.push('\n');
                        f(&line)
                    })?;
                }
            }
            Ok(())
        })?;
        let mut rows_stmt = self.conn.prepare(TABLE_ROWS_IN_SEQ)?;
        let mut rows = rows_stmt.query(params![id, table, op.name()])?;
        while let Some(r) = rows.next()? {
            let row = row_change(r)?;
            let image = match op {
                Op::Insert => row.after,
                _ => row.before,
            };
            if let Some(values) = image {
                line.clear();
                crate::db::postgres::copy::encode_line(&values, &mut line);
                line.push('\n');
                f(&line)?;
            }
        }
        Ok(())
    }

    /// The chunks of one table and operation of a change, as stored: their
    /// format, row count and text (complete lines).
    pub fn for_each_chunk_of(
        &self,
        id: i64,
        table: &str,
        op: Op,
        mut f: impl FnMut(&StoredChunk<'_>) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self.conn.prepare(TABLE_CHUNKS_IN_SEQ)?;
        let mut chunks = stmt.query(params![id, table, op.name()])?;
        while let Some(r) = chunks.next()? {
            let first: i64 = r.get(0)?;
            let rows: i64 = r.get(5)?;
            f(&StoredChunk {
                format: BulkFormat::parse(&r.get::<_, String>(4)?)?,
                rows: rows.max(0) as u64,
                data: chunk_bytes(r, 3, first)?,
                origin: (r.get(6)?, r.get(7)?),
            })?;
        }
        Ok(())
    }

    /// The formats of the chunks a change holds for `table` and `op`,
    /// without reading their rows (a reference has its origin's format):
    /// from the index `change_chunks_format` alone.
    pub fn chunk_formats(&self, id: i64, table: &str, op: Op) -> Result<Vec<BulkFormat>> {
        let mut stmt = self.conn.prepare(CHUNK_FORMATS)?;
        let formats = stmt.query_map(params![id, table, op.name()], |r| r.get::<_, String>(0))?;
        formats
            .map(|f| BulkFormat::parse(&f?))
            .collect::<Result<Vec<_>>>()
    }

    /// How many rows of `op` a change recorded one by one (not in chunks).
    pub fn single_rows(&self, id: i64, op: Op) -> Result<i64> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM change_rows WHERE change_id = ?1 AND op = ?2",
            params![id, op.name()],
            |r| r.get(0),
        )?)
    }

    /// How many rows of each operation a change recorded.
    pub fn row_counts(&self, id: i64) -> Result<Vec<(String, Op, i64)>> {
        let mut stmt = self.conn.prepare(
            "SELECT tbl, op, sum(n) FROM (
                 SELECT tbl, op, count(*) AS n FROM change_rows WHERE change_id = ?1 GROUP BY tbl, op
                 UNION ALL
                 SELECT tbl, op, sum(rows) FROM change_chunks WHERE change_id = ?1 GROUP BY tbl, op
             ) GROUP BY tbl, op ORDER BY tbl, op",
        )?;
        let rows = stmt.query_map([id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for r in rows {
            let (t, op, n) = r?;
            out.push((t, Op::parse(&op)?, n));
        }
        Ok(out)
    }

    /// The change that undid `id`, if any (committed).
    pub fn undone_by(&self, id: i64) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row(UNDONE_BY, [id], |r| r.get(0))
            .optional()?)
    }
}

/// A change being recorded: rows go into the open journal transaction.
pub struct Recording<'j> {
    tx: rusqlite::Transaction<'j>,
    id: i64,
    seq: i64,
    position: i64,
}

impl Recording<'_> {
    pub fn id(&self) -> i64 {
        self.id
    }

    /// Whether this recording goes into the file `other` reads, so its
    /// chunks can be referred to ([`Recording::chunk_ref`]).
    pub fn is_in(&self, other: &Journal) -> bool {
        let mine = self.tx.path().map(std::fs::canonicalize);
        matches!(
            (mine, std::fs::canonicalize(&other.path)),
            (Some(Ok(a)), Ok(b)) if a == b
        )
    }

    /// Describes a table before its rows are recorded. Tables are restored
    /// in the order they are described here.
    pub fn table(&mut self, info: &TableInfo) -> Result<()> {
        let columns = serde_json::to_string(&info.columns).map_err(|e| Error::io(e.to_string()))?;
        let keys =
            serde_json::to_string(&info.key_columns).map_err(|e| Error::io(e.to_string()))?;
        self.position += 1;
        self.tx.execute(
            "INSERT INTO change_tables (change_id, tbl, schema_name, table_name, position, columns, key_columns)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (change_id, tbl) DO NOTHING",
            params![self.id, info.name, info.schema, info.table, info.position, columns, keys],
        )?;
        Ok(())
    }

    /// Records one row change. `key` identifies the row after the change
    /// (for a delete, the row that was).
    pub fn row(
        &mut self,
        table: &str,
        op: Op,
        key: &[Value],
        before: Option<&[Value]>,
        after: Option<&[Value]>,
    ) -> Result<()> {
        self.seq += 1;
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO change_rows (change_id, seq, tbl, op, key, before, after)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        stmt.execute(params![
            self.id,
            self.seq,
            table,
            op.name(),
            row_to_json(key),
            before.map(row_to_json),
            after.map(row_to_json)
        ])?;
        Ok(())
    }

    /// Records a chunk of rows (complete rows) in the engine's bulk
    /// format, as captured: the fast path for large deletes. Text formats
    /// must be UTF-8.
    pub fn chunk(
        &mut self,
        table: &str,
        op: Op,
        format: BulkFormat,
        rows: u64,
        data: &[u8],
    ) -> Result<()> {
        self.insert_chunk(table, op, format, rows, data, None)
    }

    /// Records a chunk that stands for `chunk`, as read from this journal:
    /// the same lines, in the same format, stored once (it points at the
    /// chunk's [`Chunk::origin`]).
    pub fn chunk_ref(&mut self, table: &str, op: Op, chunk: &StoredChunk<'_>) -> Result<()> {
        self.insert_chunk(table, op, chunk.format, chunk.rows, b"", Some(chunk.origin))
    }

    fn insert_chunk(
        &mut self,
        table: &str,
        op: Op,
        format: BulkFormat,
        rows: u64,
        data: &[u8],
        origin: Option<(i64, i64)>,
    ) -> Result<()> {
        // Packed rows are a blob; text formats stay TEXT, so older
        // readers of the same rows and `sqlite3` show them as they are.
        let data = rusqlite::types::ToSqlOutput::Borrowed(match format {
            // A reference holds no rows of its own, whatever their format.
            _ if origin.is_some() => rusqlite::types::ValueRef::Text(b""),
            BulkFormat::Packed => rusqlite::types::ValueRef::Blob(data),
            BulkFormat::Copy | BulkFormat::Json => {
                rusqlite::types::ValueRef::Text(crate::db::bulk::text(data)?.as_bytes())
            }
        });
        let first = self.seq + 1;
        self.seq += rows as i64;
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO change_chunks (change_id, first_seq, tbl, op, rows, data, format, ref_change, ref_seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        stmt.execute(params![
            self.id,
            first,
            table,
            op.name(),
            rows as i64,
            data,
            format.name(),
            origin.map(|o| o.0),
            origin.map(|o| o.1)
        ])?;
        Ok(())
    }

    /// Sets the after-image of the updated row with this key; false when no
    /// updated row of the table has it.
    pub fn set_after_by_key(
        &mut self,
        table: &str,
        key: &[Value],
        after: &[Value],
    ) -> Result<bool> {
        let mut stmt = self.tx.prepare_cached(
            "UPDATE change_rows SET after = ?4
             WHERE change_id = ?1 AND tbl = ?2 AND key = ?3 AND op = 'update' AND after IS NULL",
        )?;
        let n = stmt.execute(params![
            self.id,
            table,
            row_to_json(key),
            row_to_json(after)
        ])?;
        Ok(n > 0)
    }

    /// Up to `limit` keys of updated rows of `table` after `after_seq`
    /// whose after-image is missing, with their seq (for re-reading them in
    /// batches by key).
    pub fn missing_after(
        &mut self,
        table: &str,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Vec<Value>)>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT seq, key FROM change_rows
             WHERE change_id = ?1 AND tbl = ?2 AND op = 'update' AND after IS NULL AND seq > ?3
             ORDER BY seq LIMIT ?4",
        )?;
        let mut rows = stmt.query(params![self.id, table, after_seq, limit as i64])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let key: String = r.get(1)?;
            out.push((r.get(0)?, row_from_json(&key)?));
        }
        Ok(out)
    }

    /// The Postgres transaction id the target change runs in.
    pub fn set_txid(&mut self, txid: &str) -> Result<()> {
        self.tx.execute(
            "UPDATE changes SET txid = ?2 WHERE id = ?1",
            params![self.id, txid],
        )?;
        Ok(())
    }

    /// Marks the entry as not covering every change (`--allow-uncovered`).
    pub fn set_partial(&mut self, why: &str) -> Result<()> {
        self.tx.execute(
            "UPDATE changes SET partial = ?2 WHERE id = ?1",
            params![self.id, why],
        )?;
        Ok(())
    }

    /// Makes the entry durable as `prepared`. Call before the target
    /// commits.
    pub fn prepare(self) -> Result<i64> {
        self.tx.execute(
            "UPDATE changes SET row_count = ?2 WHERE id = ?1",
            params![self.id, self.seq],
        )?;
        let id = self.id;
        self.tx.commit()?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The questions asked of every change (is it prepared, was it
    /// undone, which formats are its chunks in) go through an index, not
    /// by reading every change, or every chunk's rows, the journal holds.
    #[test]
    fn per_change_questions_use_their_indexes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let journal = Journal::open(Some(&dir.path().join("j.sqlite"))).expect("journal");
        for (sql, index) in [
            (PREPARED, "changes_prepared"),
            (UNDONE_BY, "changes_undo_of"),
            (CHUNK_FORMATS, "COVERING INDEX change_chunks_format"),
        ] {
            let plan: Vec<String> = journal
                .conn
                .prepare(&format!(
                    "EXPLAIN QUERY PLAN {}",
                    sql.replace("?1", "1")
                        .replace("?2", "'t'")
                        .replace("?3", "'delete'")
                ))
                .and_then(|mut s| {
                    s.query_map([], |r| r.get::<_, String>(3))?
                        .collect::<rusqlite::Result<Vec<String>>>()
                })
                .expect("query plan");
            assert!(
                plan.iter().any(|step| step.contains(index)),
                "{sql}: {plan:?}"
            );
        }
        assert!(journal.prepared().expect("prepared").is_empty());
        assert_eq!(journal.undone_by(1).expect("undone_by"), None);
    }

    /// A restore of a 1M-row change once took 122 MiB: the chunk query
    /// sorted every chunk's text in an in-memory temp b-tree. The streaming
    /// reads must come straight off an index.
    #[test]
    fn restore_reads_need_no_sort() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(Some(&dir.path().join("j.sqlite"))).unwrap();
        for sql in [
            ROWS_IN_SEQ,
            CHUNKS_IN_SEQ,
            TABLE_ROWS_IN_SEQ,
            TABLE_CHUNKS_IN_SEQ,
        ] {
            let args: [&dyn rusqlite::ToSql; 3] = [&1, &"t", &"delete"];
            let args = rusqlite::params_from_iter(args.into_iter().take(sql.matches('?').count()));
            let mut stmt = j
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap();
            let plan: Vec<String> = stmt
                .query_map(args, |r| r.get(3))
                .unwrap()
                .collect::<std::result::Result<_, _>>()
                .unwrap();
            assert!(
                plan.iter().all(|d| !d.contains("TEMP B-TREE")),
                "{sql}: {plan:?}"
            );
            assert!(
                plan.iter().any(|d| d.contains("USING INDEX")),
                "{sql}: {plan:?}"
            );
        }
    }

    /// A change's metadata, as a test records it.
    fn meta(statement: &str, kind: &str) -> ChangeMeta {
        ChangeMeta {
            operator: "alice".into(),
            engine: "SQLite".into(),
            target: "/x.sqlite".into(),
            target_database: "/x.sqlite".into(),
            system_identifier: None,
            statement: statement.into(),
            kind: kind.into(),
            digest: "d".into(),
            impact: "{}".into(),
            undo_of: None,
        }
    }

    /// A table of one integer key column `a`.
    fn int_table(name: &str) -> TableInfo {
        TableInfo {
            name: name.into(),
            schema: None,
            table: name.into(),
            position: 1,
            columns: vec![ColumnInfo {
                name: "a".into(),
                type_name: "INTEGER".into(),
                generated: false,
                identity_always: false,
            }],
            key_columns: vec!["a".into()],
        }
    }

    /// A chunk standing for one that is not in the journal is an error
    /// that says so, on every read path, never rows that silently vanish.
    #[test]
    fn a_reference_to_a_missing_chunk_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(Some(&dir.path().join("j.sqlite"))).unwrap();
        let mut rec = j.begin(&meta("UNDO change 9", "undo")).unwrap();
        rec.table(&int_table("t")).unwrap();
        let dangling = StoredChunk {
            format: BulkFormat::Json,
            rows: 2,
            data: b"",
            origin: (9, 1),
        };
        rec.chunk_ref("t", Op::Insert, &dangling).unwrap();
        let id = rec.prepare().unwrap();
        let missing = |e: Error| {
            assert!(e.to_string().contains("no longer in the journal"), "{e}");
        };
        missing(j.for_each_row(id, |_| Ok(())).unwrap_err());
        missing(
            j.for_each_row_of(id, Op::Insert, false, |_| Ok(()))
                .unwrap_err(),
        );
        missing(j.copy_text_of(id, "t", Op::Insert, |_| Ok(())).unwrap_err());

        // A reference to that reference: its text is empty, not rows.
        let mut rec = j.begin(&meta("UNDO change 1", "undo")).unwrap();
        rec.table(&int_table("t")).unwrap();
        rec.chunk_ref(
            "t",
            Op::Insert,
            &StoredChunk {
                origin: (id, 1),
                ..dangling
            },
        )
        .unwrap();
        let second = rec.prepare().unwrap();
        missing(j.for_each_row(second, |_| Ok(())).unwrap_err());
        missing(
            j.for_each_chunk_of(second, "t", Op::Insert, |_| Ok(()))
                .unwrap_err(),
        );
    }

    #[test]
    fn records_and_reads_back_a_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        let mut j = Journal::open(Some(&path)).unwrap();
        let mut rec = j.begin(&meta("DELETE FROM t", "delete")).unwrap();
        rec.table(&int_table("t")).unwrap();
        rec.row(
            "t",
            Op::Delete,
            &[Value::Integer(7)],
            Some(&[Value::Integer(7)]),
            None,
        )
        .unwrap();
        let id = rec.prepare().unwrap();
        assert_eq!(j.get(id).unwrap().status, Status::Prepared);
        j.set_status(id, Status::Committed).unwrap();
        let c = j.get(id).unwrap();
        assert_eq!((c.status, c.row_count), (Status::Committed, 1));
        let mut rows = Vec::new();
        j.for_each_row(id, |r| {
            rows.push(r);
            Ok(())
        })
        .unwrap();
        assert_eq!(rows[0].before, Some(vec![Value::Integer(7)]));
        assert_eq!(j.tables(id).unwrap()[0].key_columns, vec!["a".to_string()]);
        drop(j);
        // A newer schema is refused, and the file is left as it was.
        let conn = RawConnection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let err = Journal::open(Some(&path)).err().unwrap();
        assert!(err.message.contains("newer dbguard"), "{err}");
    }

    /// A schema-3 journal's chunks (all Postgres COPY text then) read back
    /// as such after the migration that gave chunks a format.
    #[test]
    fn schema_3_chunks_read_as_copy_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        let conn = RawConnection::open(&path).unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        conn.execute_batch(SCHEMA_V2).unwrap();
        conn.execute_batch(SCHEMA_V3).unwrap();
        conn.execute_batch(
            "INSERT INTO changes (id, created_at, operator, engine, target, target_database,
                 statement, kind, digest, impact, status, row_count)
             VALUES (1, '2026-01-01T00:00:00Z', 'a', 'PostgreSQL', 'pg', 'db',
                 'DELETE FROM t', 'delete', 'd', '{}', 'committed', 2);
             INSERT INTO change_tables VALUES (1, 'public.t', 'public', 't', 1,
                 '[{\"name\":\"a\",\"type_name\":\"text\"},{\"name\":\"b\",\"type_name\":\"text\"}]', '[\"a\"]');
             INSERT INTO change_chunks VALUES (1, 1, 'public.t', 'delete', 2, 'x\t\\N\ny\tz\n');
             PRAGMA user_version = 3;",
        )
        .unwrap();
        drop(conn);
        let j = Journal::open(Some(&path)).unwrap();
        let mut rows = Vec::new();
        j.for_each_row(1, |r| {
            rows.push(r.before);
            Ok(())
        })
        .unwrap();
        assert_eq!(
            rows,
            vec![
                Some(vec![Value::Text("x".into()), Value::Null]),
                Some(vec![Value::Text("y".into()), Value::Text("z".into())]),
            ]
        );
    }
    /// Schema 7 edits `change_chunks`' definition to allow packed rows: a schema-6
    /// journal's JSON chunks, and a chunk referring to one, read back the
    /// same after it, and the rebuilt table takes packed chunks.
    #[test]
    fn schema_6_chunks_survive_the_rebuild_for_packed_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        let conn = RawConnection::open(&path).unwrap();
        for step in [
            SCHEMA, SCHEMA_V2, SCHEMA_V3, SCHEMA_V4, SCHEMA_V5, SCHEMA_V6,
        ] {
            conn.execute_batch(step).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO changes (id, created_at, operator, engine, target, target_database,
                 statement, kind, digest, impact, status, row_count)
             VALUES (1, '2026-01-01T00:00:00Z', 'a', 'SQLite', 't.db', 'main',
                 'DELETE FROM t', 'delete', 'd', '{}', 'committed', 2),
                    (2, '2026-01-01T00:00:01Z', 'a', 'SQLite', 't.db', 'main',
                 'UNDO change 1', 'undo', 'd', '{}', 'committed', 2);
             INSERT INTO change_tables VALUES (1, 't', NULL, 't', 1,
                 '[{\"name\":\"a\",\"type_name\":\"INTEGER\"},{\"name\":\"b\",\"type_name\":\"\"}]', '[\"a\"]');
             INSERT INTO change_tables VALUES (2, 't', NULL, 't', 1,
                 '[{\"name\":\"a\",\"type_name\":\"INTEGER\"},{\"name\":\"b\",\"type_name\":\"\"}]', '[\"a\"]');
             INSERT INTO change_chunks (change_id, first_seq, tbl, op, rows, data, format)
                 VALUES (1, 1, 't', 'delete', 2, '[1,\"x\"]
[2,{\"blob\":\"00ff\"}]
', 'json');
             INSERT INTO change_chunks VALUES (2, 1, 't', 'insert', 2, '', 'json', 1, 1);
             PRAGMA user_version = 6;",
        )
        .unwrap();
        drop(conn);
        let mut j = Journal::open(Some(&path)).unwrap();
        let want = vec![
            vec![Value::Integer(1), Value::Text("x".into())],
            vec![Value::Integer(2), Value::Blob(vec![0, 255])],
        ];
        for (id, op) in [(1, Op::Delete), (2, Op::Insert)] {
            let mut rows = Vec::new();
            j.for_each_row_of(id, op, false, |r| {
                rows.push(r.before.or(r.after).unwrap());
                Ok(())
            })
            .unwrap();
            assert_eq!(rows, want, "change {id}");
        }
        let mut rec = j.begin(&meta("DELETE FROM t", "delete")).unwrap();
        rec.table(&int_table("t")).unwrap();
        let mut packed = Vec::new();
        crate::db::sqlite::packed::write_row(
            &mut packed,
            [crate::db::sqlite::packed::Cell::Integer(3)].into_iter(),
        );
        rec.chunk("t", Op::Delete, BulkFormat::Packed, 1, &packed)
            .unwrap();
        let id = rec.prepare().unwrap();
        let mut rows = Vec::new();
        j.for_each_row(id, |r| {
            rows.push(r.before);
            Ok(())
        })
        .unwrap();
        assert_eq!(rows, vec![Some(vec![Value::Integer(3)])]);
    }
}
