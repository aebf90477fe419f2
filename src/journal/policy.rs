//! The journal's table of pinned policies (`policies`, journal version 2):
//! every version of a database's policy pushed into it, the newest
//! governing. What a policy means is the policy layer's
//! (`crate::policy::pinned`); here it is text and its digest.

use sha2::{Digest, Sha256};

use super::schema::{JournalState, rows, state_in};
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

/// The policy the database pins, if any, read in `tx`. A journal older
/// than the table, or newer than this dbguard, pins none it can read (and
/// takes no change until `init` or an upgrade).
pub fn pinned_in(tx: &mut dyn PreviewTx) -> Result<Option<PinnedRow>> {
    let found = newest_in(tx)?;
    if found.is_none() {
        elsewhere(tx)?;
    }
    Ok(found)
}

/// A journal in another schema (PostgreSQL's `--journal-schema`) may pin
/// the policy that governs this database; one named nowhere would walk
/// around it. Refused, naming the schema to use.
fn elsewhere(tx: &mut dyn PreviewTx) -> Result<()> {
    let Some(sql) = Dialect(tx.engine()).other_journals_query() else {
        return Ok(());
    };
    let others: Vec<String> = rows(tx, &sql)?
        .iter()
        .filter_map(|r| r.first().and_then(Value::text))
        .collect();
    let Some(first) = others.first() else {
        return Ok(());
    };
    Err(Error::refused(format!(
        "this database keeps a dbguard journal in schema {}, which may pin the policy that governs it, and the journal named here ({}) pins none; nothing was done\nName that journal: --journal-schema {first} (or $DBGUARD_JOURNAL_SCHEMA).",
        others.join(", "),
        crate::db::journal::journal_schema()
    )))
}

/// The newest row of this journal's `policies`, if it has one.
fn newest_in(tx: &mut dyn PreviewTx) -> Result<Option<PinnedRow>> {
    if state_in(tx)? != JournalState::Current {
        return Ok(None);
    }
    let names = JournalNames::new(tx.engine());
    let found = rows(
        tx,
        &format!(
            "SELECT id, digest, files, pushed_by, pushed_at FROM {} ORDER BY id DESC LIMIT 1",
            names.table("policies")
        ),
    )?;
    let Some(row) = found.into_iter().next() else {
        return Ok(None);
    };
    let text = |i: usize| row.get(i).and_then(Value::text).unwrap_or_default();
    let files = text(2);
    let digest = text(1);
    if base16ct::lower::encode_string(&Sha256::digest(&files)) != digest {
        return Err(Error::database(format!(
            "the policy pinned in this database does not match its digest {digest}: it was edited outside dbguard; nothing was done\nPush the policy again: dbguard policy push DIR"
        )));
    }
    Ok(Some(PinnedRow {
        id: super::schema::int(row.first())?,
        digest,
        files,
        pushed_by: text(3),
        pushed_at: text(4),
    }))
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
