//! The audit trail: every event of every session, append-only and
//! hash-chained, in the journal's `audit` table in the target, with a
//! witness outside the database.
//!
//! Each record carries the SHA-256 of the one before it, so an edit, a
//! deletion or a reordering shows up as a broken link that [`verify`] (and
//! `dbguard audit verify`) names:
//!
//! ```text
//! hash = hex(sha256(prev_hash || "\n" || canonical))
//! ```
//!
//! where `prev_hash` is the previous record's `hash` (64 zeros for the
//! first record) and `canonical` is the record as compact JSON with sorted
//! keys and no whitespace:
//!
//! ```text
//! {"at":"2026-03-01T12:00:00.000Z","change_id":null,"detail":{...},"event":"statement","id":1,"operator":"alice@example.org","target":"/data/app.sqlite"}
//! ```
//!
//! `detail` is stored exactly as it appears there (canonical JSON), so a
//! verifier hashes the stored text without re-encoding it. Ids run 1, 2,
//! 3... without gaps; `at` is UTC with milliseconds.
//!
//! A change's own record is written in the change's transaction, as a
//! staged record (`audit_pending`) that commits with the change or not at
//! all, and is linked into the chain right after the commit. So are the
//! events that led to it and recorded no effect of their own (the
//! statement, its preview and verdict, its approvals: a session queues
//! them, `super::trail::Trail`). Other events (reads, requests,
//! refusals, session ends) are appended in short transactions of their
//! own, queue first. An append locks the chain's head (`audit_head`) and
//! links any staged records first, so appends from several sessions never
//! interleave.
//!
//! What the chain shows and what it cannot:
//!
//! - An edited record (any column, including its hash), a deleted record
//!   with records after it, records swapped or reordered: always, naming the
//!   first broken record.
//! - A truncated tail: the head (last id and hash) is kept in `audit_head`
//!   and updated with every append; a tail deleted without rewriting the
//!   head is reported.
//! - Someone who can write the journal can rewrite every record after the
//!   one they change, and the head with them, and the result verifies. The
//!   witness ([`Witness`], a local append-only JSON lines file each session
//!   writes every record it appends to) makes such a rewrite evident: `audit
//!   verify --audit-log FILE` checks that every record the witness holds
//!   for this database is still in the trail, unchanged.
//!
//! Approval tokens and passwords are never stored here: callers pass
//! principals and key fingerprints only.

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::Offset;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::schema::{int, rows};
use crate::db::dialect::Dialect;
use crate::db::journal::JournalNames;
use crate::db::{ApplyTx, PreviewTx, Value};
use crate::error::{Error, Result};

/// The `prev_hash` of the first record.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The events the trail records.
pub(crate) const EVENTS: &[&str] = &[
    "session_start",
    "session_end",
    "statement",
    "preview",
    "verdict",
    "request",
    "approval",
    "rejection",
    "apply",
    "undo",
    "policy_push",
    "admin",
    "refusal",
    "prune",
    "import",
    "init",
];

/// One record of the trail.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct AuditRecord {
    pub id: i64,
    pub at: String,
    pub event: String,
    pub operator: String,
    pub target: Option<String>,
    pub change_id: Option<i64>,
    pub detail: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

/// Compact JSON with object keys sorted, at every depth.
pub(crate) fn canonical_json(v: &serde_json::Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &serde_json::Value, out: &mut String) {
    use serde_json::Value as V;
    match v {
        V::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&json_string(k));
                out.push(':');
                write_canonical(&m[k], out);
            }
            out.push('}');
        }
        V::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// The canonical form of a record that its hash covers. `detail` is the
/// stored (already canonical) text, embedded as is.
fn record_canonical(
    id: i64,
    at: &str,
    event: &str,
    operator: &str,
    target: Option<&str>,
    change_id: Option<i64>,
    detail: &str,
) -> String {
    format!(
        "{{\"at\":{},\"change_id\":{},\"detail\":{},\"event\":{},\"id\":{},\"operator\":{},\"target\":{}}}",
        json_string(at),
        change_id.map_or_else(|| "null".to_owned(), |c| c.to_string()),
        detail,
        json_string(event),
        id,
        json_string(operator),
        target.map_or_else(|| "null".to_owned(), json_string),
    )
}

/// `hex(sha256(prev_hash || "\n" || canonical))`, in lower case.
fn chain_hash(prev_hash: &str, canonical: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(canonical.as_bytes());
    base16ct::lower::encode_string(&h.finalize())
}

/// Now, in the stored form of `at`.
fn now_ms() -> String {
    format_ms(Timestamp::now())
}

/// The stored form of `at`: UTC with milliseconds (truncated),
/// `2026-03-01T12:00:00.123Z`, so times compare as strings.
fn format_ms(at: Timestamp) -> String {
    format!("{at:.3}")
}

/// Parses `--since`: RFC 3339 (any offset) or `YYYY-MM-DD` (midnight UTC),
/// into the stored form of `at`, so the two compare as strings.
pub(crate) fn parse_since(s: &str) -> Result<String> {
    parse_time(s.trim()).map(format_ms).ok_or_else(|| {
        Error::input(format!(
            "--since {s:?} is not a time\nGive RFC 3339 (2026-03-01T12:00:00Z, 2026-03-01T14:00:00+02:00) or a date (2026-03-01)."
        ))
    })
}

/// RFC 3339 or a date, to the millisecond. jiff parses; the shape is
/// checked first because jiff also reads ISO 8601's other spellings
/// (`12:00Z`, `+0200`, `20260301`, offsets up to 25 hours), which
/// `--since` has never accepted.
fn parse_time(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    let digits = |from: usize, to: usize| {
        b.get(from..to)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(digits(0, 4) && at(4, b'-') && digits(5, 7) && at(7, b'-') && digits(8, 10)) {
        return None;
    }
    if b.len() == 10 {
        let date: Date = s.parse().ok()?;
        return Offset::UTC
            .to_timestamp(date.to_datetime(Time::midnight()))
            .ok();
    }
    let time = matches!(b[10], b'T' | b't' | b' ')
        && digits(11, 13)
        && at(13, b':')
        && digits(14, 16)
        && at(16, b':')
        && digits(17, 19);
    if !time {
        return None;
    }
    let mut end = 19;
    if at(19, b'.') {
        end = 20 + b[20..].iter().take_while(|c| c.is_ascii_digit()).count();
        if end == 20 {
            return None;
        }
    }
    let offset = &s[end..];
    // RFC 3339's `Z` or `±HH:MM`, hours 00 to 23 (jiff checks the minutes).
    let offset_ok = match offset.as_bytes() {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()) && (*h1, *h2) <= (b'2', b'3')
        }
        _ => false,
    };
    if !offset_ok {
        return None;
    }
    // Only milliseconds are kept (truncated), and jiff reads at most nine
    // fraction digits: hand it three.
    format!("{}{offset}", &s[..end.min(23)]).parse().ok()
}

/// Refuses an event the trail does not know.
fn check_events(events: &[(&str, Option<i64>, serde_json::Value)]) -> Result<()> {
    match events.iter().find(|(e, _, _)| !EVENTS.contains(e)) {
        Some((event, _, _)) => Err(Error::input(format!(
            "unknown audit event {event:?}\nUse one of: {}.",
            EVENTS.join(", ")
        ))),
        None => Ok(()),
    }
}

/// One record to write, before the chain gives it an id and a hash: its
/// time is when it happened, not when it reaches the trail.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    at: String,
    event: String,
    operator: String,
    target: Option<String>,
    change_id: Option<i64>,
    /// The stored (canonical) text, as hashed.
    detail: String,
}

impl Event {
    /// `events`, happening now.
    pub(crate) fn now(
        operator: &str,
        target: Option<&str>,
        events: &[(&str, Option<i64>, serde_json::Value)],
    ) -> Result<Vec<Event>> {
        check_events(events)?;
        let at = now_ms();
        Ok(events
            .iter()
            .map(|(event, change_id, detail)| Event {
                at: at.clone(),
                event: (*event).to_owned(),
                operator: operator.to_owned(),
                target: target.map(str::to_owned),
                change_id: *change_id,
                detail: canonical_json(detail),
            })
            .collect())
    }

    /// Its columns as SQL literals: at, event, operator, target,
    /// change_id, detail.
    fn values(&self, dialect: Dialect) -> String {
        let lit = |s: &str| dialect.literal(&Value::Text(s.to_owned()), "");
        format!(
            "{}, {}, {}, {}, {}, {}",
            lit(&self.at),
            lit(&self.event),
            lit(&self.operator),
            self.target
                .as_deref()
                .map_or_else(|| "NULL".to_owned(), lit),
            self.change_id
                .map_or_else(|| "NULL".to_owned(), |c| c.to_string()),
            lit(&self.detail)
        )
    }

    /// The record as a trail without a journal keeps it (the witness
    /// only): no id, no chain.
    pub(super) fn unchained(&self) -> AuditRecord {
        AuditRecord {
            id: 0,
            at: self.at.clone(),
            event: self.event.clone(),
            operator: self.operator.clone(),
            target: self.target.clone(),
            change_id: self.change_id,
            detail: detail_value(&self.detail),
            prev_hash: String::new(),
            hash: String::new(),
        }
    }
}

/// Stored detail text as JSON (text that is not JSON stays a string).
fn detail_value(detail: &str) -> serde_json::Value {
    serde_json::from_str(detail).unwrap_or_else(|_| serde_json::Value::String(detail.to_owned()))
}

/// Stages events in `tx`, a change's own transaction: they commit with
/// the change, or not at all. Linking them into the chain needs the
/// chain's head, which a change's long REPEATABLE READ transaction cannot
/// read as it is (another session may append meanwhile), so [`chain_in`]
/// links them right after the commit, in a short transaction of its own;
/// after a crash in between, the next append links them first.
pub(crate) fn stage_in(
    tx: &mut dyn ApplyTx,
    operator: &str,
    target: Option<&str>,
    events: &[(&str, Option<i64>, serde_json::Value)],
) -> Result<()> {
    stage_events(tx, &Event::now(operator, target, events)?)
}

/// [`stage_in`] for events that happened earlier (a session's queue),
/// in one statement.
pub(crate) fn stage_events(tx: &mut dyn ApplyTx, events: &[Event]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let names = JournalNames::new(tx.engine());
    let dialect = Dialect(tx.engine());
    let values: Vec<String> = events
        .iter()
        .map(|e| format!("({})", e.values(dialect)))
        .collect();
    // Rows of one statement get their `seq` in the order of VALUES.
    tx.execute(&format!(
        "INSERT INTO {} (at, event, operator, target, change_id, detail) VALUES {}",
        names.table("audit_pending"),
        values.join(", ")
    ))?;
    Ok(())
}

/// In a short write transaction: locks the chain's head, links every
/// staged record into the chain (oldest first), then appends `events`.
/// Returns every record appended, staged ones first.
pub(crate) fn chain_in(tx: &mut dyn ApplyTx, events: &[Event]) -> Result<Vec<AuditRecord>> {
    let names = JournalNames::new(tx.engine());
    let dialect = Dialect(tx.engine());
    if let Some(lock) = dialect.lock_audit_head(&names) {
        // Not through `query`: its savepoint would take a subtransaction
        // id of its own for the lock, which `refresh_version` cannot tell
        // from another session's commit.
        tx.execute(&lock)?;
    }
    let ((mut last_id, mut prev_hash), waiting) = head_of(tx, &names)?;
    let mut links = if waiting > 0 {
        take_staged(tx, &names)?
    } else {
        Vec::new()
    };
    links.extend(events.iter().cloned());
    let lit = |s: &str| dialect.literal(&Value::Text(s.to_owned()), "");
    let mut out = Vec::with_capacity(links.len());
    let mut values = Vec::with_capacity(links.len());
    for l in links {
        let id = last_id + 1;
        let hash = chain_hash(
            &prev_hash,
            &record_canonical(
                id,
                &l.at,
                &l.event,
                &l.operator,
                l.target.as_deref(),
                l.change_id,
                &l.detail,
            ),
        );
        values.push(format!(
            "({id}, {}, {}, {})",
            l.values(dialect),
            lit(&prev_hash),
            lit(&hash)
        ));
        out.push(AuditRecord {
            id,
            detail: detail_value(&l.detail),
            at: l.at,
            event: l.event,
            operator: l.operator,
            target: l.target,
            change_id: l.change_id,
            prev_hash: prev_hash.clone(),
            hash: hash.clone(),
        });
        last_id = id;
        prev_hash = hash;
    }
    if !out.is_empty() {
        // One statement for all of them: an append is a round trip each.
        tx.execute(&format!(
            "INSERT INTO {} (id, at, event, operator, target, change_id, detail, prev_hash, hash) VALUES {}",
            names.table("audit"),
            values.join(", ")
        ))?;
        tx.execute(&format!(
            "UPDATE {} SET last_id = {last_id}, last_hash = {}",
            names.table("audit_head"),
            lit(&prev_hash)
        ))?;
    }
    Ok(out)
}

/// The staged records, oldest first, removed from `audit_pending` (the
/// caller links them in the same transaction).
///
/// One statement takes exactly the rows it returns: a read then a delete
/// by range would, under READ COMMITTED, also delete a record another
/// change committed in between, unlinked and gone.
fn take_staged(tx: &mut dyn ApplyTx, names: &JournalNames) -> Result<Vec<Event>> {
    let pending = rows(
        tx,
        &format!(
            "DELETE FROM {} RETURNING seq, at, event, operator, target, change_id, detail",
            names.table("audit_pending")
        ),
    )?;
    let mut staged = Vec::with_capacity(pending.len());
    for r in &pending {
        staged.push((
            int(r.first())?,
            Event {
                at: text_of(r.get(1)),
                event: text_of(r.get(2)),
                operator: text_of(r.get(3)),
                target: r.get(4).and_then(Value::text),
                change_id: optional_int(r.get(5))?,
                detail: text_of(r.get(6)),
            },
        ));
    }
    staged.sort_by_key(|(seq, _)| *seq);
    Ok(staged.into_iter().map(|(_, e)| e).collect())
}

/// Where the chain continues: the recorded head, so a truncated tail stays
/// a visible gap; the table's last record only if the head is missing or
/// behind it. Also how many records wait in `audit_pending`. One round
/// trip: every audit append starts with it.
fn head_of(tx: &mut dyn ApplyTx, names: &JournalNames) -> Result<((i64, String), i64)> {
    let (head, audit) = (names.table("audit_head"), names.table("audit"));
    let row = rows(
        tx,
        &format!(
            "SELECT (SELECT last_id FROM {head}), (SELECT last_hash FROM {head}), \
             (SELECT id FROM {audit} ORDER BY id DESC LIMIT 1), \
             (SELECT hash FROM {audit} ORDER BY id DESC LIMIT 1), \
             (SELECT count(*) FROM {})",
            names.table("audit_pending")
        ),
    )?;
    let row = row.first().map(Vec::as_slice).unwrap_or_default();
    let pair = |i: usize| -> Result<Option<(i64, String)>> {
        Ok(optional_int(row.get(i))?.map(|id| (id, text_of(row.get(i + 1)))))
    };
    let at = match (pair(0)?, pair(2)?) {
        (Some(h), Some(l)) if l.0 > h.0 => l,
        (Some(h), _) => h,
        (None, Some(l)) => l,
        (None, None) => (0, GENESIS_HASH.to_owned()),
    };
    Ok((at, optional_int(row.get(4))?.unwrap_or(0)))
}

/// The chain's head as recorded in `audit_head`: the last record's id and
/// hash, if any.
fn recorded_head(tx: &mut dyn PreviewTx, names: &JournalNames) -> Result<Option<(i64, String)>> {
    let head = rows(
        tx,
        &format!(
            "SELECT last_id, last_hash FROM {}",
            names.table("audit_head")
        ),
    )?;
    id_and_hash(head.first())
}

/// A row of (id, hash), if there is one.
fn id_and_hash(r: Option<&Vec<Value>>) -> Result<Option<(i64, String)>> {
    r.map(|r| Ok((int(r.first())?, text_of(r.get(1)))))
        .transpose()
}

pub(super) fn text_of(v: Option<&Value>) -> String {
    v.and_then(Value::text).unwrap_or_default()
}

/// An integer column that may be NULL.
pub(super) fn optional_int(v: Option<&Value>) -> Result<Option<i64>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        v => Ok(Some(int(v)?)),
    }
}

const RECORD_COLUMNS: &str = "id, at, event, operator, target, change_id, detail, prev_hash, hash";

/// A record as a journal query returned it.
fn record_of(r: &[Value]) -> Result<AuditRecord> {
    let detail = text_of(r.get(6));
    Ok(AuditRecord {
        id: int(r.first())?,
        at: text_of(r.get(1)),
        event: text_of(r.get(2)),
        operator: text_of(r.get(3)),
        target: r.get(4).and_then(Value::text),
        change_id: optional_int(r.get(5))?,
        // A record edited into invalid JSON still shows (verify names it).
        detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::String(detail)),
        prev_hash: text_of(r.get(7)),
        hash: text_of(r.get(8)),
    })
}

/// The trail, oldest first; with `since` (RFC 3339 or `YYYY-MM-DD`), only
/// records at or after that time.
pub fn records(tx: &mut dyn PreviewTx, since: Option<&str>) -> Result<Vec<AuditRecord>> {
    let names = JournalNames::new(tx.engine());
    let dialect = Dialect(tx.engine());
    let since = since.map(parse_since).transpose()?;
    let filter = since.map_or_else(String::new, |s| {
        format!(" WHERE at >= {}", dialect.literal(&Value::Text(s), ""))
    });
    let found = rows(
        tx,
        &format!(
            "SELECT {RECORD_COLUMNS} FROM {}{filter} ORDER BY id",
            names.table("audit")
        ),
    )?;
    found.iter().map(|r| record_of(r)).collect()
}

/// How many records the trail has, and the last one's hash
/// ([`GENESIS_HASH`] when empty).
pub fn summary(tx: &mut dyn PreviewTx) -> Result<(i64, String)> {
    let names = JournalNames::new(tx.engine());
    let n = rows(
        tx,
        &format!("SELECT count(*) FROM {}", names.table("audit")),
    )?;
    let last = rows(
        tx,
        &format!(
            "SELECT hash FROM {} ORDER BY id DESC LIMIT 1",
            names.table("audit")
        ),
    )?;
    Ok((
        int(n.first().and_then(|r| r.first()))?,
        last.first()
            .map(|r| text_of(r.first()))
            .unwrap_or_else(|| GENESIS_HASH.to_owned()),
    ))
}

/// Checks the whole chain and its head. `Ok(None)` when intact;
/// `Ok(Some((id, reason)))` naming the first broken record (edited,
/// deleted — a gap or a prev_hash that does not match —, or reordered).
/// For a deleted record, the id named is the record after the gap; for a
/// truncated tail, the first missing id.
pub fn verify(tx: &mut dyn PreviewTx) -> Result<Option<(i64, String)>> {
    let names = JournalNames::new(tx.engine());
    let head = recorded_head(tx, &names)?;
    let raw = rows(
        tx,
        &format!(
            "SELECT {RECORD_COLUMNS} FROM {} ORDER BY id",
            names.table("audit")
        ),
    )?;
    verify_rows(head, &raw)
}

/// [`verify`] of records given as rows of [`RECORD_COLUMNS`] in id order,
/// against the recorded `head`: a trail this dbguard keeps, or the one a
/// journal file of an older release kept the same way.
pub(crate) fn verify_rows(
    head: Option<(i64, String)>,
    raw: &[Vec<Value>],
) -> Result<Option<(i64, String)>> {
    let mut prev_id = 0i64;
    let mut prev_hash = GENESIS_HASH.to_owned();
    for r in raw {
        let id = int(r.first())?;
        let detail = text_of(r.get(6));
        let stored_prev = text_of(r.get(7));
        let hash = text_of(r.get(8));
        if id != prev_id + 1 {
            return Ok(Some((id, gap(prev_id, id))));
        }
        if stored_prev != prev_hash {
            let before = if prev_id == 0 {
                "the first record's prev_hash is not 64 zeros".to_owned()
            } else {
                format!("its prev_hash does not match the hash of record {prev_id}")
            };
            return Ok(Some((
                id,
                format!(
                    "{before}: records were deleted, replaced or reordered, or its prev_hash was edited"
                ),
            )));
        }
        let change_id = match r.get(5) {
            None | Some(Value::Null) => None,
            v => Some(int(v)?),
        };
        let target = r.get(4).and_then(Value::text);
        let expected = chain_hash(
            &stored_prev,
            &record_canonical(
                id,
                &text_of(r.get(1)),
                &text_of(r.get(2)),
                &text_of(r.get(3)),
                target.as_deref(),
                change_id,
                &detail,
            ),
        );
        if expected != hash {
            return Ok(Some((
                id,
                "its contents do not match its hash: the record was edited (or its hash was)"
                    .to_owned(),
            )));
        }
        if serde_json::from_str::<serde_json::Value>(&detail).is_err() {
            return Ok(Some((id, "its detail is not valid JSON".to_owned())));
        }
        prev_id = id;
        prev_hash = hash;
    }
    Ok(head_check(head, prev_id, &prev_hash))
}

fn gap(prev_id: i64, id: i64) -> String {
    let missing = if id == prev_id + 2 {
        format!("record {} is missing", prev_id + 1)
    } else {
        format!("records {} to {} are missing", prev_id + 1, id - 1)
    };
    let after = if prev_id == 0 {
        "it is the first record left".to_owned()
    } else {
        format!("the trail jumps from record {prev_id} to {id}")
    };
    format!("{missing} (deleted): {after}")
}

/// The chain's last record against the recorded head.
fn head_check(head: Option<(i64, String)>, last_id: i64, last_hash: &str) -> Option<(i64, String)> {
    match head {
        None if last_id > 0 => Some((
            last_id,
            "the chain head (audit_head) is missing: it was deleted".to_owned(),
        )),
        None => None,
        Some((head_id, _)) if head_id > last_id => {
            let missing = if head_id == last_id + 1 {
                format!("record {head_id} is missing")
            } else {
                format!("records {} to {head_id} are missing", last_id + 1)
            };
            Some((
                last_id + 1,
                format!(
                    "{missing} (deleted): the trail was truncated; the recorded chain head is record {head_id}"
                ),
            ))
        }
        Some((head_id, _)) if head_id < last_id => Some((
            head_id + 1,
            format!(
                "record {} was not appended by dbguard: the recorded chain head is record {head_id}",
                head_id + 1
            ),
        )),
        Some((head_id, head_hash)) if head_hash != last_hash => Some((
            head_id,
            "its hash does not match the recorded chain head: the record was replaced".to_owned(),
        )),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let v = serde_json::json!({"b": [ {"z": 1, "a": "x\n"} ], "a": null, "é": 1.5});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":null,"b":[{"a":"x\n","z":1}],"é":1.5}"#
        );
    }

    #[test]
    fn record_canonical_form_is_stable() {
        assert_eq!(
            record_canonical(
                3,
                "2026-03-01T12:00:00.000Z",
                "statement",
                "alice",
                None,
                Some(7),
                "{\"sql\":\"DELETE\"}"
            ),
            r#"{"at":"2026-03-01T12:00:00.000Z","change_id":7,"detail":{"sql":"DELETE"},"event":"statement","id":3,"operator":"alice","target":null}"#
        );
        // Plain SHA-256 over prev_hash, a newline and the canonical form
        // (checked against Python's hashlib).
        assert_eq!(
            chain_hash(GENESIS_HASH, "{}"),
            "5649d09ed68c17156095d175eef152856c5b1a81c117c409c1e00f096aa6838e"
        );
    }

    #[test]
    fn since_accepts_rfc3339_and_dates() {
        assert_eq!(
            parse_since("2026-03-01").unwrap(),
            "2026-03-01T00:00:00.000Z"
        );
        assert_eq!(
            parse_since("2026-03-01T12:30:05Z").unwrap(),
            "2026-03-01T12:30:05.000Z"
        );
        assert_eq!(
            parse_since("2026-03-01T01:30:05.25+02:00").unwrap(),
            "2026-02-28T23:30:05.250Z"
        );
        assert_eq!(
            parse_since("2024-12-31t23:00:00-01:30").unwrap(),
            "2025-01-01T00:30:00.000Z"
        );
        for bad in [
            "",
            "yesterday",
            "2026-02-30",
            "2026-13-01",
            "2026-03-01T25:00:00Z",
            "2026-03-01T12:00:00",
            "2026-03-01T12:00Z",
            "2026-03-01T12:00:00.Z",
            "2026-03-01T12:00:00+0200",
            "2026-03-01x",
            "２０２６-03-01",
        ] {
            let e = parse_since(bad).unwrap_err();
            assert!(e.message.contains("is not a time"), "{bad}: {e}");
        }
    }

    #[test]
    fn stored_times_have_milliseconds() {
        assert_eq!(format_ms(Timestamp::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = Timestamp::new(1_772_366_400, 123_999_999).unwrap();
        assert_eq!(format_ms(t), "2026-03-01T12:00:00.123Z");
        assert_eq!(
            parse_since("2026-03-01T12:00:00.123999+00:00").unwrap(),
            "2026-03-01T12:00:00.123Z"
        );
        assert_eq!(
            parse_since("2026-03-01T12:00:00.1234567891z").unwrap(),
            "2026-03-01T12:00:00.123Z"
        );
        assert_eq!(
            parse_since("2026-03-01 12:00:60Z").unwrap(),
            "2026-03-01T12:00:59.000Z"
        );
        assert!(parse_since("2026-03-01T12:00:00+24:00").is_err());
        assert!(parse_since("2026-03-01T12:00:00+23:60").is_err());
    }
}
