//! Which journal file schema has what, so a file is read as its own
//! version wrote it. The file is never migrated: an import leaves it as it
//! was.
//!
//! History: 1 — changes, their tables and rows (`changes`,
//! `change_tables`, `change_rows`); 2 — the audit trail (`audit`,
//! `audit_head`) and the approvals a change used (`approvals`); 3 — rows
//! captured in bulk chunks (`change_chunks`, all Postgres `COPY` text);
//! 4 — the format of each chunk (`format`: `copy` or `json`); 5 — indexes;
//! 6 — a chunk standing for another change's chunk (`ref_change`,
//! `ref_seq`); 7 — packed chunks (`packed` format); 8 — an index of the
//! chunks' formats.

/// The newest journal file schema this dbguard reads.
pub const SCHEMA_VERSION: i64 = 8;

/// The schema that added the audit trail and the approvals table.
pub(super) const AUDIT: i64 = 2;
/// The schema that added chunks.
pub(super) const CHUNKS: i64 = 3;
/// The schema that added each chunk's format.
pub(super) const CHUNK_FORMATS: i64 = 4;
/// The schema that added chunk references.
pub(super) const CHUNK_REFS: i64 = 6;
