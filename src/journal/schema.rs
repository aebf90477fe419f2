//! The journal file's schema and its migrations.
//!
//! The schema is versioned with `PRAGMA user_version`. Opening an older
//! journal migrates it in one transaction, step by step; a journal written
//! by a newer dbguard is refused untouched rather than misread.

use std::path::Path;

use rusqlite::Connection as RawConnection;

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
pub(super) const SCHEMA: &str = "
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

/// Schema 2: the audit trail and the approvals a change used (see
/// [`audit`]). The triggers make the trail append-only for anyone writing
/// through SQLite without dropping them first; the hash chain is what shows
/// an edit made anyway.
pub(super) const SCHEMA_V2: &str = "
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

/// Schema 3: rows captured in bulk. A Postgres delete's before-images are
/// streamed with `COPY ... TO STDOUT` and kept as the server wrote them (the
/// text format: tab-separated, `\N` for NULL, backslash escapes), a chunk
/// of lines per record: capture then costs about what a manual `COPY` does.
/// Each line is one row, numbered `first_seq + i` in the change's sequence.
pub(super) const SCHEMA_V3: &str = "
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
pub(super) const SCHEMA_V4: &str = "
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
pub(super) const SCHEMA_V5: &str = "
CREATE INDEX IF NOT EXISTS changes_prepared ON changes (id) WHERE status = 'prepared';
CREATE INDEX IF NOT EXISTS changes_undo_of ON changes (undo_of) WHERE undo_of IS NOT NULL;
";

/// Schema 6: a chunk may stand for another change's chunk of the same
/// rows instead of holding a copy. An undo puts back exactly the rows a
/// delete captured, and copying their text into its own entry was a
/// sixth of a 100k-row SQLite undo. Changes are never deleted, so the
/// chunk referred to stays.
pub(super) const SCHEMA_V6: &str = "
ALTER TABLE change_chunks ADD COLUMN ref_change INTEGER;
ALTER TABLE change_chunks ADD COLUMN ref_seq INTEGER;
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

/// Schema 8: which formats a change's chunks are in, answered from an
/// index. `format` was added after `data`, so reading it from the table
/// walks every chunk's overflow pages: the undo's question whether it can
/// restore in bulk read all of a change's rows to learn that they were
/// packed. Building the index reads them once, under the migration's
/// write lock: about 0.8 s per GB of chunks, which other shells opening
/// the journal meanwhile wait for (up to the 30 s busy timeout).
pub(super) const SCHEMA_V8: &str = "
CREATE INDEX IF NOT EXISTS change_chunks_format ON change_chunks (change_id, tbl, op, format);
";

/// Brings the schema up to [`SCHEMA_VERSION`], step by step, in one
/// `BEGIN IMMEDIATE` transaction. The version is read again inside it:
/// another shell may have migrated the file meanwhile.
pub(super) fn migrate(conn: &mut RawConnection, path: &Path) -> Result<()> {
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
