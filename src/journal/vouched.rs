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
use crate::db::journal::JournalNames;
use crate::db::{PreviewTx, Value};
use crate::error::{Error, Result};

/// One entry as `changes` holds it.
struct Entry {
    id: i64,
    statement: String,
    digest: String,
    kind: String,
    /// Its undo data was pruned: no seal can be held against it.
    pruned: bool,
    undo_of: Option<i64>,
    partial: Option<String>,
    target: String,
}

/// What one record says of the change it names.
struct Vouch {
    event: String,
    target: Option<String>,
    detail: serde_json::Value,
}

/// The first entry the trail does not vouch for, described; `None` when
/// every entry has its record and agrees with it.
pub fn unvouched(tx: &mut dyn PreviewTx, records: &[AuditRecord]) -> Result<Option<String>> {
    let names = JournalNames::new(tx.engine());
    let mut vouching: BTreeMap<i64, Vec<Vouch>> = BTreeMap::new();
    // Imported entries, with the seal the import's record gave each.
    let mut imported: BTreeMap<i64, serde_json::Value> = BTreeMap::new();
    for r in records {
        let vouch = Vouch {
            event: r.event.clone(),
            target: r.target.clone(),
            detail: r.detail.clone(),
        };
        note(&mut vouching, &mut imported, r.change_id, vouch);
    }
    let pending = rows(
        tx,
        &format!(
            "SELECT change_id, event, detail, target FROM {}",
            names.table("audit_pending")
        ),
    )?;
    for p in &pending {
        let vouch = Vouch {
            event: text_of(p.get(1)),
            target: p.get(3).and_then(Value::text),
            detail: serde_json::from_str(&text_of(p.get(2))).unwrap_or(serde_json::Value::Null),
        };
        note(
            &mut vouching,
            &mut imported,
            optional_int(p.first())?,
            vouch,
        );
    }
    let entries = entries(tx, &names)?;
    if let Some(unvouched) = unvouched_policy(tx, &names, &vouching, &entries)? {
        return Ok(Some(unvouched));
    }
    // Once one entry carries a seal, every later one made by dbguard does:
    // a record without one, for a later entry, was written outside it.
    let mut sealed_since: Option<i64> = None;
    for e in entries {
        if let Some(seal) = imported.get(&e.id) {
            if let Some(broken) = seal_broken(tx, &e, seal)? {
                return Ok(Some(broken));
            }
            continue;
        }
        let vouch = match vouching.get(&e.id).map(Vec::as_slice) {
            Some([one]) => one,
            Some(many) if many.len() > 1 => {
                return Ok(Some(format!(
                    "change {} has {} audit records that vouch for it, where dbguard writes one with the change: the others were written outside dbguard",
                    e.id,
                    many.len()
                )));
            }
            _ => {
                return Ok(Some(format!(
                    "change {} has no audit record: the trail lost it, or the entry was written outside dbguard",
                    e.id
                )));
            }
        };
        if let Some(why) = disagrees(&e, vouch) {
            return Ok(Some(format!(
                "change {}'s {why} is not what its audit record holds: the entry was edited outside dbguard",
                e.id
            )));
        }
        let seal = &vouch.detail["seal"];
        match (seal.is_null(), sealed_since) {
            (false, _) => sealed_since = sealed_since.or(Some(e.id)),
            (true, Some(first)) => {
                return Ok(Some(format!(
                    "change {}'s audit record carries no seal of its undo data, though change {first} before it does: the record was written outside dbguard",
                    e.id
                )));
            }
            // Entries from before seals were written carry none.
            (true, None) => {}
        }
        if let Some(broken) = seal_broken(tx, &e, seal)? {
            return Ok(Some(broken));
        }
    }
    Ok(None)
}

/// What no longer matches entry `e`'s `seal`, unless its undo data was
/// pruned or it has no seal (from before seals were written).
fn seal_broken(
    tx: &mut dyn PreviewTx,
    e: &Entry,
    seal: &serde_json::Value,
) -> Result<Option<String>> {
    if e.pruned || seal.is_null() {
        return Ok(None);
    }
    crate::db::seal::broken(tx, e.id, seal)
}

/// The events whose record vouches for the change it names: written with
/// the change, one per change.
const VOUCHING: [&str; 4] = ["apply", "undo", "policy_push", "admin"];

/// The seal the trail holds for change `id`'s undo data: from the record
/// committed with it, or from the import that brought it; `None` for an
/// entry from before seals. More than one record vouching for it is an
/// error: the others were written outside dbguard.
pub fn seal_of(tx: &mut dyn PreviewTx, id: i64) -> Result<Option<serde_json::Value>> {
    let names = JournalNames::new(tx.engine());
    let events = format!("('{}')", VOUCHING.join("', '"));
    let found = rows(
        tx,
        &format!(
            "SELECT detail FROM {audit} WHERE change_id = {id} AND event IN {events} \
             UNION ALL SELECT detail FROM {pending} WHERE change_id = {id} AND event IN {events}",
            audit = names.table("audit"),
            pending = names.table("audit_pending"),
        ),
    )?;
    let detail = |r: &Vec<Value>| {
        serde_json::from_str::<serde_json::Value>(&text_of(r.first()))
            .unwrap_or(serde_json::Value::Null)
    };
    match found.as_slice() {
        [one] => return Ok(Some(detail(one)["seal"].clone()).filter(|s| !s.is_null())),
        [] => {}
        many => {
            return Err(Error::refused(format!(
                "change {id} has {} audit records that vouch for it, where dbguard writes one with the change: the journal was written outside dbguard; nothing was undone\nRun dbguard audit verify, and keep a copy of the database as evidence.",
                many.len()
            )));
        }
    }
    let imports = rows(
        tx,
        &format!(
            "SELECT detail FROM {} WHERE event = 'import' UNION ALL SELECT detail FROM {} WHERE event = 'import'",
            names.table("audit"),
            names.table("audit_pending"),
        ),
    )?;
    Ok(imports
        .iter()
        .map(|r| detail(r)["seals"][id.to_string()].clone())
        .find(|s| !s.is_null()))
}

/// Which part of entry `e` its record `v` says otherwise, if any: the
/// statement and digest of an apply or an administrative call (and an
/// apply's partial mark), the change an undo undid, the target of any.
fn disagrees(e: &Entry, v: &Vouch) -> Option<&'static str> {
    let d = &v.detail;
    if v.target.as_deref().is_some_and(|t| t != e.target) {
        return Some("target");
    }
    match v.event.as_str() {
        "apply" | "admin" => {
            if d["statement"].as_str() != Some(e.statement.as_str())
                || d["digest"].as_str() != Some(e.digest.as_str())
            {
                return Some("statement or digest");
            }
            if v.event == "apply" && d["partial"].as_str() != e.partial.as_deref() {
                return Some("partial mark");
            }
            None
        }
        "undo" => (d["undo_of"].as_i64() != e.undo_of).then_some("undone change"),
        _ => None,
    }
}

/// Where the pinned policies and the pushes the trail records part: every
/// version pinned must be a push's, in the order pushed, and the newest
/// pinned the newest pushed, so a policy written outside dbguard (digest
/// and all) and a newest version deleted to roll back to an older one are
/// both reported. A push record must also name a change the journal holds.
fn unvouched_policy(
    tx: &mut dyn PreviewTx,
    names: &JournalNames,
    vouching: &BTreeMap<i64, Vec<Vouch>>,
    entries: &[Entry],
) -> Result<Option<String>> {
    // Change ids grow with time: the pushes in the order they were made.
    let pushes: Vec<(i64, &str)> = vouching
        .iter()
        .flat_map(|(id, vs)| vs.iter().map(move |v| (*id, v)))
        .filter(|(_, v)| v.event == "policy_push")
        .filter_map(|(id, v)| v.detail["digest"].as_str().map(|dg| (id, dg)))
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
    vouching: &mut BTreeMap<i64, Vec<Vouch>>,
    imported: &mut BTreeMap<i64, serde_json::Value>,
    change_id: Option<i64>,
    vouch: Vouch,
) {
    match (vouch.event.as_str(), change_id) {
        (event, Some(id)) if VOUCHING.contains(&event) => {
            vouching.entry(id).or_default().push(vouch);
        }
        ("import", _) => {
            // `imported` lists [old id, new id] pairs.
            for pair in vouch.detail["imported"].as_array().into_iter().flatten() {
                if let Some(new) = pair.get(1).and_then(serde_json::Value::as_i64) {
                    let seal = vouch.detail["seals"][new.to_string()].clone();
                    imported.insert(new, seal);
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
            "SELECT id, statement, digest, kind, pruned_at IS NOT NULL, undo_of, partial, target FROM {} ORDER BY id",
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
            undo_of: optional_int(r.get(5))?,
            partial: r.get(6).and_then(Value::text),
            target: text_of(r.get(7)),
        })
    })
    .collect()
}
