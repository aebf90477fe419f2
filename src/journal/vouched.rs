//! Every journal entry vouched for by the audit trail.
//!
//! A change and its audit record commit in one transaction, and the record
//! holds the change's statement and digest (an undo's, the change it
//! undid). The hash chain makes the trail tamper-evident, but not the
//! `changes` table beside it: an entry edited with another client (a
//! statement rewritten) or a trail whose tail was cut together with its
//! head (a change left without its record) would pass the chain alone.
//! `audit verify` therefore also holds each entry against its record, its
//! undo data against the seal the record holds (`crate::db::seal`), and
//! each pinned policy against the record of its push.
//! Records not linked into the chain yet (`audit_pending`) count: they are
//! committed with their change and are linked by the next append.

use std::collections::{BTreeMap, BTreeSet};

use super::audit::{AuditRecord, optional_int, text_of};
use super::schema::{int, rows};
use crate::db::PreviewTx;
use crate::db::journal::JournalNames;
use crate::error::Result;

/// One entry as `changes` holds it.
struct Entry {
    id: i64,
    statement: String,
    digest: String,
    kind: String,
    /// Its undo data was pruned: no seal can be held against it.
    pruned: bool,
}

/// The first entry the trail does not vouch for, described; `None` when
/// every entry has its record and agrees with it.
pub fn unvouched(tx: &mut dyn PreviewTx, records: &[AuditRecord]) -> Result<Option<String>> {
    let names = JournalNames::new(tx.engine());
    let mut vouching: BTreeMap<i64, (String, serde_json::Value)> = BTreeMap::new();
    let mut imported: BTreeSet<i64> = BTreeSet::new();
    for r in records {
        note(
            &mut vouching,
            &mut imported,
            r.change_id,
            &r.event,
            &r.detail,
        );
    }
    let pending = rows(
        tx,
        &format!(
            "SELECT change_id, event, detail FROM {}",
            names.table("audit_pending")
        ),
    )?;
    for p in &pending {
        let change_id = optional_int(p.first())?;
        let event = text_of(p.get(1));
        let detail = serde_json::from_str(&text_of(p.get(2))).unwrap_or(serde_json::Value::Null);
        note(&mut vouching, &mut imported, change_id, &event, &detail);
    }
    let entries = entries(tx, &names)?;
    if let Some(unvouched) = unvouched_policy(tx, &names, &vouching, &entries)? {
        return Ok(Some(unvouched));
    }
    for e in entries {
        if imported.contains(&e.id) {
            continue;
        }
        let Some((event, detail)) = vouching.get(&e.id) else {
            return Ok(Some(format!(
                "change {} has no audit record: the trail lost it, or the entry was written outside dbguard",
                e.id
            )));
        };
        if (event == "apply" || event == "admin")
            && (detail["statement"].as_str() != Some(e.statement.as_str())
                || detail["digest"].as_str() != Some(e.digest.as_str()))
        {
            return Ok(Some(format!(
                "change {}'s statement or digest is not the one its audit record holds: the entry was edited outside dbguard",
                e.id
            )));
        }
        // Entries from before seals were written carry none.
        if !e.pruned
            && !detail["seal"].is_null()
            && let Some(broken) = crate::db::seal::broken(tx, e.id, &detail["seal"])?
        {
            return Ok(Some(broken));
        }
    }
    Ok(None)
}

/// Where the pinned policies and the pushes the trail records part: every
/// version pinned must be a push's, in the order pushed, and the newest
/// pinned the newest pushed, so a policy written outside dbguard (digest
/// and all) and a newest version deleted to roll back to an older one are
/// both reported. A push record must also name a change the journal holds.
fn unvouched_policy(
    tx: &mut dyn PreviewTx,
    names: &JournalNames,
    vouching: &BTreeMap<i64, (String, serde_json::Value)>,
    entries: &[Entry],
) -> Result<Option<String>> {
    // Change ids grow with time: the pushes in the order they were made.
    let pushes: Vec<(i64, &str)> = vouching
        .iter()
        .filter(|(_, (event, _))| event == "policy_push")
        .filter_map(|(id, (_, d))| d["digest"].as_str().map(|dg| (*id, dg)))
        .collect();
    let pinned = rows(
        tx,
        &format!(
            "SELECT id, digest FROM {} ORDER BY id",
            names.table("policies")
        ),
    )?;
    let changes: BTreeSet<i64> = entries
        .iter()
        .filter(|e| e.kind == crate::model::ChangeKind::Policy.name())
        .map(|e| e.id)
        .collect();
    if let Some((id, _)) = pushes.iter().find(|(id, _)| !changes.contains(id)) {
        return Ok(Some(format!(
            "the trail records a policy push as change {id}, which the journal does not hold as one: the record was written outside dbguard"
        )));
    }
    for (i, p) in pinned.iter().enumerate() {
        let digest = text_of(p.get(1));
        if pushes.get(i).map(|(_, d)| *d) != Some(digest.as_str()) {
            return Ok(Some(format!(
                "pinned policy {} ({digest}) is not the push the trail records at that place: it was written outside dbguard",
                int(p.first())?
            )));
        }
    }
    if pushes.len() != pinned.len() {
        let (id, digest) = pushes[pinned.len().min(pushes.len().saturating_sub(1))];
        return Ok(Some(format!(
            "the trail records a push of policy {digest} (change {id}) that the journal no longer pins: a newer policy was deleted to go back to an older one"
        )));
    }
    Ok(None)
}

/// Takes one record's word for the change it names.
fn note(
    vouching: &mut BTreeMap<i64, (String, serde_json::Value)>,
    imported: &mut BTreeSet<i64>,
    change_id: Option<i64>,
    event: &str,
    detail: &serde_json::Value,
) {
    match (event, change_id) {
        ("apply" | "undo" | "policy_push" | "admin", Some(id)) => {
            vouching.insert(id, (event.to_owned(), detail.clone()));
        }
        ("import", _) => {
            // `imported` lists [old id, new id] pairs.
            for pair in detail["imported"].as_array().into_iter().flatten() {
                if let Some(new) = pair.get(1).and_then(serde_json::Value::as_i64) {
                    imported.insert(new);
                }
            }
        }
        _ => {}
    }
}

fn entries(tx: &mut dyn PreviewTx, names: &JournalNames) -> Result<Vec<Entry>> {
    rows(
        tx,
        &format!(
            "SELECT id, statement, digest, kind, pruned_at IS NOT NULL FROM {} ORDER BY id",
            names.table("changes")
        ),
    )?
    .iter()
    .map(|r| {
        Ok(Entry {
            id: int(r.first())?,
            statement: text_of(r.get(1)),
            digest: text_of(r.get(2)),
            kind: text_of(r.get(3)),
            pruned: matches!(text_of(r.get(4)).as_str(), "t" | "true" | "1"),
        })
    })
    .collect()
}
