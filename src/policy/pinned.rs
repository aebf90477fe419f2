//! The policy pinned in the database: which rules and approvers govern
//! changes to it, whoever connects and from wherever.
//!
//! A policy read from the operator's machine (`--policy DIR`, a
//! `./policies` directory) could be swapped by the operator it is meant to
//! hold. So a database keeps its own: `dbguard policy push DIR` stores a
//! directory's files in the journal (`crate::journal::policy`), as a
//! guarded change that needs whatever the policy pinned before it asks of
//! `policy` changes (`crate::change::PolicyPush`). The newest version
//! governs. Against a database that pins one, a local directory may only
//! add rules, judged on their own, that make a verdict stricter
//! ([`Policy::stricter`]); its groups, approvers, limits and default are
//! not used.

use std::path::Path;

use super::Policy;
use super::source::PolicySource;
use crate::db::Connection;
use crate::error::{Error, Result};
use crate::journal::policy::{PinnedRow, pinned_in};

/// The pinned policy: its newest version.
#[derive(Debug, Clone)]
pub struct Pinned {
    pub id: i64,
    pub digest: String,
    pub source: PolicySource,
    pub pushed_by: String,
    pub pushed_at: String,
}

/// The policy the database `conn` talks to pins, if any.
pub fn pinned(conn: &mut Connection) -> Result<Option<Pinned>> {
    let row = conn.preview(std::time::Duration::from_secs(30), pinned_in)?;
    row.map(from_row).transpose()
}

fn from_row(row: PinnedRow) -> Result<Pinned> {
    Ok(Pinned {
        id: row.id,
        source: PolicySource::from_json(&row.files)?,
        digest: row.digest,
        pushed_by: row.pushed_by,
        pushed_at: row.pushed_at,
    })
}

/// The policy of a pinned source, named after the database that pins it.
pub fn pinned_policy(pinned: &Pinned, database: &str) -> Result<Policy> {
    let origin = format!("<policy pinned in {database}>");
    let mut problems = Vec::new();
    let mut policy = Policy::from_source(&pinned.source, Path::new(&origin), &mut problems);
    let errors = super::problem::error_lines(&problems);
    if !errors.is_empty() {
        return Err(Error::input(format!(
            "the policy pinned in {database} does not load here:\n{}\nA newer dbguard may have pushed it: upgrade, or push one this version reads.",
            errors.join("\n")
        )));
    }
    policy.pinned = Some(pinned.digest.clone());
    Ok(policy)
}

/// The policy that governs the database `conn` talks to, with what the
/// operator should be told about it: the pinned one, with the rules of a
/// local directory (`given`, or `./policies`) laid over it; without one,
/// the local directory's (when its `[target]` names this database) or
/// the built-in default.
pub fn governing(conn: &mut Connection, given: Option<&Path>) -> Result<(Policy, Vec<String>)> {
    let Some(pinned) = pinned(conn)? else {
        return Ok(match Policy::directory(given) {
            None => (Policy::builtin(), Vec::new()),
            Some(d) => local_only(Policy::load_dir(&d)?, &d, conn),
        });
    };
    laid_over(conn, &pinned, given)
}

/// The policy `pinned` (read already), with the rules of a local
/// directory (`given`, or `./policies`) laid over it.
pub fn laid_over(
    conn: &Connection,
    pinned: &Pinned,
    given: Option<&Path>,
) -> Result<(Policy, Vec<String>)> {
    let dir = Policy::directory(given);
    let database = conn.identity().display.clone();
    let mut policy = pinned_policy(pinned, &database)?;
    let mut notes = Vec::new();
    if let Some(d) = dir {
        let (local, source) = Policy::load_dir_source(&d)?;
        if source.digest() != pinned.digest {
            policy.stricter = local.rules.into_iter().chain(local.stricter).collect();
            notes.push(format!(
                "{database} pins its policy ({}); the rules in {} can only make it stricter",
                crate::journal::policy::short_digest(&pinned.digest),
                d.display()
            ));
        }
    }
    Ok((policy, notes))
}

/// A local policy without a pinned one: it governs where its `[target]`
/// names the database; elsewhere the built-in default does.
fn local_only(policy: Policy, dir: &Path, conn: &Connection) -> (Policy, Vec<String>) {
    if policy.applies_to(conn.identity()) {
        return (policy, Vec::new());
    }
    let note = format!(
        "the policy in {} does not apply to {} ([target]); using the built-in default policy",
        dir.display(),
        conn.identity().display
    );
    (Policy::builtin(), vec![note])
}
