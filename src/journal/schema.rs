//! Creating the journal in a target, and checking the one that is there.
//!
//! The journal's version is the row `version` of its `meta` table. A
//! journal written by a newer dbguard is refused untouched, naming both
//! versions; an older one is migrated forward in one transaction by
//! `dbguard init`. Creating it (`dbguard init`) is idempotent.

use crate::db::dialect::Dialect;
use crate::db::journal::JournalNames;
use crate::db::{ApplyTx, Connection, GuardOptions, PreviewTx, Value};
use crate::error::{Error, ErrorKind, Result};

/// The journal version this dbguard reads and writes.
///
/// History: 1 — the journal in the target (changes, their tables and
/// snapshots, approvals, the audit trail). 2 — the policy pinned in the
/// database (`policies`). Before them, releases kept a journal file beside
/// the target (`super::file`), which `dbguard journal import` reads.
pub const JOURNAL_VERSION: i64 = 2;

/// What a target holds of a journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalState {
    /// No journal: `dbguard init` creates one.
    Missing,
    /// A journal this dbguard reads and writes.
    Current,
    /// A journal of an older version, migrated when next written.
    Older(i64),
    /// A journal a newer dbguard wrote: left alone.
    Newer(i64),
}

/// The journal's queries, defined beside its names (`crate::db::seal`
/// reads the journal too, below this layer).
pub(crate) use crate::db::journal::{int, rows};

/// The journal's state, read in `tx`.
pub fn state_in(tx: &mut dyn PreviewTx) -> Result<JournalState> {
    let names = JournalNames::new(tx.engine());
    let dialect = Dialect(tx.engine());
    let exists = rows(tx, &dialect.journal_exists_query(&names))?;
    if int(exists.first().and_then(|r| r.first()))? == 0 {
        return Ok(JournalState::Missing);
    }
    let version = rows(tx, &dialect.journal_version_query(&names))?;
    let Some(v) = version.first().and_then(|r| r.first()) else {
        return Err(Error::database(
            "the journal's meta table holds no version: it was edited outside dbguard; restore it from a backup",
        ));
    };
    let v = int(Some(v))?;
    Ok(match v {
        v if v == JOURNAL_VERSION => JournalState::Current,
        v if v < JOURNAL_VERSION => JournalState::Older(v),
        v => JournalState::Newer(v),
    })
}

/// The journal's state in the target `conn` talks to.
pub fn state(conn: &mut Connection) -> Result<JournalState> {
    conn.preview(std::time::Duration::from_secs(30), state_in)
}

/// Checks, inside a change's transaction, that the journal is there and
/// this dbguard may write it.
pub(crate) fn require_in(tx: &mut dyn PreviewTx, target: &str) -> Result<()> {
    match state_in(tx)? {
        JournalState::Current => Ok(()),
        JournalState::Missing => Err(missing(target)),
        JournalState::Newer(v) => Err(newer(v)),
        JournalState::Older(v) => Err(Error::new(
            ErrorKind::Refused,
            format!(
                "the journal in this database is version {v}; this dbguard writes version {JOURNAL_VERSION}\nRun dbguard init {target} to migrate it."
            ),
        )),
    }
}

/// Checks, before reading it, that the journal is there and not newer
/// than this dbguard (an older one reads as it is).
pub(crate) fn readable_in(tx: &mut dyn PreviewTx, target: &str) -> Result<()> {
    match state_in(tx)? {
        JournalState::Missing => Err(Error::input(format!(
            "{target} has no dbguard journal (no changes or audit trail to read)\nCreate it with: dbguard init {target}"
        ))),
        JournalState::Newer(v) => Err(newer(v)),
        _ => Ok(()),
    }
}

/// The error for a target without a journal.
pub(crate) fn missing(target: &str) -> Error {
    Error::new(
        ErrorKind::Refused,
        format!(
            "{target} has no dbguard journal, so a change could not be undone; nothing was changed\nCreate it with: dbguard init {target}"
        ),
    )
}

fn newer(v: i64) -> Error {
    Error::new(
        ErrorKind::Refused,
        format!(
            "the journal in this database is version {v}, written by a newer dbguard; this one reads version {JOURNAL_VERSION}\nUpgrade dbguard; the journal was not changed."
        ),
    )
}

/// What `dbguard init` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    Created,
    Migrated(i64),
    AlreadyThere,
}

/// Creates the journal in the target, or migrates an older one; leaves a
/// current one alone. A newer one is refused untouched.
pub fn init(conn: &mut Connection, operator: &str) -> Result<Init> {
    let guard = GuardOptions {
        lock_timeout: std::time::Duration::from_secs(10),
        statement_timeout: std::time::Duration::from_secs(60),
    };
    let created = conn.guarded(&guard, |tx| match state_in(tx)? {
        JournalState::Current => Ok(Init::AlreadyThere),
        JournalState::Newer(v) => Err(newer(v)),
        JournalState::Older(v) => {
            migrate_in(tx, v)?;
            Ok(Init::Migrated(v))
        }
        JournalState::Missing => {
            create_in(tx, operator)?;
            Ok(Init::Created)
        }
    });
    match created {
        // Another session created it at the same moment: its journal is
        // the one this would have made.
        Err(e) if e.kind == ErrorKind::Database && state(conn)? == JournalState::Current => {
            Ok(Init::AlreadyThere)
        }
        Err(e) => Err(privilege_help(conn, e)),
        other => other,
    }
}

/// The statements that take a journal from each version to the next: the
/// first entry migrates version 1 to 2, and so on. `init` refuses, rather
/// than claims, a migration from a version no dbguard wrote.
const MIGRATIONS: &[fn(&Dialect, &JournalNames) -> Vec<String>] = &[Dialect::journal_v2_ddl];

/// Migrates the journal from version `from` to [`JOURNAL_VERSION`] in `tx`.
fn migrate_in(tx: &mut dyn ApplyTx, from: i64) -> Result<()> {
    let steps = usize::try_from(from - 1)
        .ok()
        .and_then(|first| MIGRATIONS.get(first..))
        .filter(|steps| steps.len() as i64 == JOURNAL_VERSION - from);
    let Some(steps) = steps else {
        return Err(Error::new(
            ErrorKind::Refused,
            format!(
                "the journal in this database says it is version {from}, which no dbguard wrote (this one writes version {JOURNAL_VERSION}); it was not changed\nIts meta table was edited outside dbguard: restore it from a backup."
            ),
        ));
    };
    let names = JournalNames::new(tx.engine());
    let dialect = Dialect(tx.engine());
    for step in steps {
        for sql in step(&dialect, &names) {
            tx.execute(&sql)?;
        }
    }
    tx.execute(&format!(
        "UPDATE {} SET value = '{JOURNAL_VERSION}' WHERE key = 'version'",
        names.table("meta")
    ))?;
    Ok(())
}

/// Creates the current journal version in `tx`.
fn create_in(tx: &mut dyn ApplyTx, operator: &str) -> Result<()> {
    let names = JournalNames::new(tx.engine());
    let dialect = Dialect(tx.engine());
    for sql in dialect.journal_ddl(&names) {
        tx.execute(&sql)?;
    }
    let lit = |s: &str| dialect.literal(&Value::Text(s.to_owned()), "");
    let meta = [
        ("version", JOURNAL_VERSION.to_string()),
        ("created_at", super::now()),
        ("created_by", operator.to_owned()),
    ];
    for (k, v) in meta {
        tx.execute(&format!(
            "INSERT INTO {} (key, value) VALUES ({}, {})",
            names.table("meta"),
            lit(k),
            lit(&v)
        ))?;
    }
    Ok(())
}

/// A failed creation, with what an administrator runs when the role may
/// not create the journal.
fn privilege_help(conn: &Connection, e: Error) -> Error {
    if !crate::db::is_insufficient_privilege(&e) {
        return e;
    }
    let id = conn.identity();
    let role = id.user.clone().unwrap_or_else(|| "this role".into());
    let schema = crate::schema::display_ident(crate::db::journal::journal_schema());
    let role = crate::schema::display_ident(&role);
    let message = format!(
        "cannot create the dbguard journal in {}: {role} lacks the privilege to create it ({})\nAn administrator runs, in that database: CREATE SCHEMA {schema} AUTHORIZATION {role};\nthen: dbguard init {}",
        id.database, e.message, id.display
    );
    Error::new(ErrorKind::Refused, message).caused_by(e)
}
