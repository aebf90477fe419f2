//! The journal's table of pinned policies (`policies`, journal version 2):
//! every version of a database's policy pushed into it, the newest
//! governing. What a policy means is the policy layer's
//! (`crate::policy::pinned`); here it is text and its digest.

use sha2::{Digest, Sha256};

use super::schema::{JOURNAL_VERSION, int, rows};
use crate::db::dialect::Dialect;
use crate::db::journal::JournalNames;
use crate::db::{ApplyTx, PreviewTx, Value};
use crate::error::{Error, Result};

/// The newest pinned policy, as stored.
#[derive(Debug, Clone)]
pub struct PinnedRow {
    pub id: i64,
    /// Hex SHA-256 of `files`.
    pub digest: String,
    /// The policy's files by name, as canonical JSON.
    pub files: String,
    pub pushed_by: String,
    pub pushed_at: String,
}

/// The policy the database pins, if any, read in `tx` in two queries
/// (where the journals that can pin one are, then this one's version and
/// newest policy). A journal older than the table, or newer than this
/// dbguard, pins none it can read (and takes no change until `init` or an
/// upgrade). A journal in another schema (PostgreSQL's `--journal-schema`)
/// may pin the policy that governs this database: while this one pins
/// none, that is refused, naming the schema to use.
pub fn pinned_in(tx: &mut dyn PreviewTx) -> Result<Option<PinnedRow>> {
    let names = JournalNames::new(tx.engine());
    let dialect = Dialect(tx.engine());
    let places: Vec<String> = rows(tx, &dialect.policy_journals_query(&names))?
        .iter()
        .filter_map(|r| r.first().and_then(Value::text))
        .collect();
    let ours = dialect.journal_place();
    let found = if places.iter().any(|p| p == ours) {
        newest_in(tx, &names)?
    } else {
        None
    };
    let others: Vec<&String> = places.iter().filter(|p| *p != ours).collect();
    match (found, others.first()) {
        (None, Some(first)) => Err(Error::refused(format!(
            "this database keeps a dbguard journal in schema {}, which may pin the policy that governs it, and the journal named here ({ours}) pins none; nothing was done\nName that journal: --journal-schema {first} (or $DBGUARD_JOURNAL_SCHEMA).",
            others
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        (found, _) => Ok(found),
    }
}

/// This journal's newest pinned policy, when its version is this
/// dbguard's: one query over `meta` and `policies`, which both exist.
fn newest_in(tx: &mut dyn PreviewTx, names: &JournalNames) -> Result<Option<PinnedRow>> {
    let found = rows(
        tx,
        &format!(
            "SELECT m.value, p.id, p.digest, p.files, p.pushed_by, p.pushed_at \
             FROM (SELECT value FROM {} WHERE key = 'version') AS m \
             LEFT JOIN (SELECT id, digest, files, pushed_by, pushed_at FROM {} ORDER BY id DESC LIMIT 1) AS p \
             ON 1 = 1",
            names.table("meta"),
            names.table("policies")
        ),
    )?;
    let Some(row) = found.into_iter().next() else {
        return Ok(None);
    };
    if int(row.first())? != JOURNAL_VERSION || row.get(1).is_none_or(|v| *v == Value::Null) {
        return Ok(None);
    }
    let text = |i: usize| row.get(i).and_then(Value::text).unwrap_or_default();
    let files = text(3);
    let digest = text(2);
    if files_digest(&files) != digest {
        return Err(Error::database(format!(
            "the policy pinned in this database does not match its digest {digest}: it was edited outside dbguard; nothing was done\nPush the policy again: dbguard policy push DIR"
        )));
    }
    Ok(Some(PinnedRow {
        id: int(row.get(1))?,
        digest,
        files,
        pushed_by: text(4),
        pushed_at: text(5),
    }))
}

/// The digest of a policy: hex SHA-256 of its files' canonical JSON.
pub fn files_digest(files: &str) -> String {
    base16ct::lower::encode_string(&Sha256::digest(files))
}

/// How a digest is shown in messages: its first 12 digits.
pub fn short_digest(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}

/// Pins a policy's `files` (canonical JSON, whose SHA-256 is `digest`) in
/// `tx`: the newest version, governing from its commit.
pub fn pin_in(tx: &mut dyn ApplyTx, files: &str, digest: &str, operator: &str) -> Result<()> {
    let names = JournalNames::new(tx.engine());
    let dialect = Dialect(tx.engine());
    let lit = |s: &str| dialect.literal(&Value::Text(s.to_owned()), "");
    tx.execute(&format!(
        "INSERT INTO {} (pushed_at, pushed_by, digest, files) VALUES ({}, {}, {}, {})",
        names.table("policies"),
        lit(&super::now()),
        lit(operator),
        lit(digest),
        lit(files)
    ))?;
    Ok(())
}
