//! The audit trail: every event of every session, append-only and
//! hash-chained, in the journal's `audit` table.
//!
//! Each record carries the SHA-256 of the one before it, so an edit, a
//! deletion or a reordering shows up as a broken link that
//! [`Journal::audit_verify`] (and `dbguard audit verify`) names:
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
//! `detail` is stored in the table exactly as it appears there (canonical
//! JSON: object keys sorted, compact, strings escaped as `serde_json` writes
//! them), so a verifier hashes the stored text without re-encoding it. Ids
//! run 1, 2, 3... without gaps; `at` is UTC with milliseconds.
//!
//! Appends read the chain head and insert in one `BEGIN IMMEDIATE`
//! transaction, so several shells may share one journal.
//!
//! What the chain shows and what it cannot:
//!
//! - An edited record (any column, including its hash), a deleted record
//!   with records after it, records swapped or reordered: always, naming the
//!   first broken record.
//! - A truncated tail (the last records deleted): not from the chain alone,
//!   since what remains is a valid chain. The journal therefore also keeps
//!   the chain head (last id and hash) in `audit_head`, updated in the same
//!   transaction as every append; a tail deleted without rewriting the head
//!   is reported. The same holds after later appends, which chain from the
//!   head, so the gap stays visible.
//! - Known limit: the chain has no secret. Someone who can write the journal
//!   file can rewrite every record after the one they change, and the head
//!   with them, and the result verifies. To make such a rewrite evident,
//!   copy the last hash `dbguard audit verify` prints somewhere the operator
//!   cannot write (a ticket, a log shipper): a later trail must still
//!   contain that record with that hash. The `audit` table also has
//!   triggers that refuse `UPDATE` and `DELETE`, a guard against accidents,
//!   not against someone who drops them.
//!
//! Approval tokens and passwords are never stored here: callers pass
//! principals and key fingerprints only.

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::Offset;
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Journal;
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
    "refusal",
    "abort",
];

/// One record of the trail.
#[derive(Debug, Clone, PartialEq, Serialize)]
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

/// An approval token's use, as recorded with the change it approved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalUse {
    pub change_id: Option<i64>,
    pub principal: Option<String>,
    pub fingerprint: Option<String>,
    pub nonce: String,
    /// When the approver signed (Unix seconds).
    pub signed_at: Option<i64>,
    /// When the change used it (RFC 3339, UTC).
    pub used_at: Option<String>,
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

fn record_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRecord> {
    let detail: String = r.get(6)?;
    Ok(AuditRecord {
        id: r.get(0)?,
        at: r.get(1)?,
        event: r.get(2)?,
        operator: r.get(3)?,
        target: r.get(4)?,
        change_id: r.get(5)?,
        // A record edited into invalid JSON still shows (verify names it).
        detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::String(detail)),
        prev_hash: r.get(7)?,
        hash: r.get(8)?,
    })
}

const RECORD_COLUMNS: &str = "id, at, event, operator, target, change_id, detail, prev_hash, hash";

/// Appends events to the chain inside the write transaction `tx` holds
/// (`BEGIN IMMEDIATE`, so no other append interleaves): the journal's own
/// appends, and a change's record written with its journal entry.
pub(super) fn append(
    tx: &rusqlite::Connection,
    operator: &str,
    target: Option<&str>,
    events: &[(&str, Option<i64>, serde_json::Value)],
) -> Result<Vec<i64>> {
    if let Some((event, _, _)) = events.iter().find(|(e, _, _)| !EVENTS.contains(e)) {
        return Err(Error::input(format!(
            "unknown audit event {event:?}\nUse one of: {}.",
            EVENTS.join(", ")
        )));
    }
    let head: Option<(i64, String)> = tx
        .query_row(
            "SELECT last_id, last_hash FROM audit_head WHERE one = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let last: Option<(i64, String)> = tx
        .query_row(
            "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    // Chain from the recorded head, so a truncated tail stays a visible
    // gap; from the table only if the head is missing or behind it.
    let (mut last_id, mut prev_hash) = match (head, last) {
        (Some(h), Some(l)) if l.0 > h.0 => l,
        (Some(h), _) => h,
        (None, Some(l)) => l,
        (None, None) => (0, GENESIS_HASH.to_owned()),
    };
    let mut ids = Vec::with_capacity(events.len());
    for (event, change_id, detail) in events {
        let detail = canonical_json(detail);
        let at = now_ms();
        let id = last_id + 1;
        let hash = chain_hash(
            &prev_hash,
            &record_canonical(id, &at, event, operator, target, *change_id, &detail),
        );
        tx.execute(
            "INSERT INTO audit (id, at, event, operator, target, change_id, detail, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                id, at, event, operator, target, change_id, detail, prev_hash, hash
            ],
        )?;
        ids.push(id);
        last_id = id;
        prev_hash = hash;
    }
    if !ids.is_empty() {
        tx.execute(
            "INSERT INTO audit_head (one, last_id, last_hash) VALUES (1, ?1, ?2)
             ON CONFLICT (one) DO UPDATE SET last_id = excluded.last_id, last_hash = excluded.last_hash",
            params![last_id, prev_hash],
        )?;
    }
    Ok(ids)
}

impl Journal {
    /// Appends one event. `event` is one of `EVENTS`: session_start,
    /// session_end, statement, preview, verdict, request, approval,
    /// rejection, apply, undo, refusal, abort. `detail` is any JSON (the statement
    /// as typed, the digest, the verdict...); never tokens or passwords
    /// (callers pass only principals/fingerprints). Returns the record's id.
    pub fn audit(
        &self,
        event: &str,
        operator: &str,
        target: Option<&str>,
        change_id: Option<i64>,
        detail: serde_json::Value,
    ) -> Result<i64> {
        let ids = self.audit_many(operator, target, &[(event, change_id, detail)])?;
        ids.first()
            .copied()
            .ok_or_else(|| Error::database("the audit record was not written"))
    }

    /// Appends several events in order, in one transaction: one durable
    /// commit (an fsync) instead of one each, for records written at the
    /// same moment (a write's preview and verdict). Returns their ids.
    pub fn audit_many(
        &self,
        operator: &str,
        target: Option<&str>,
        events: &[(&str, Option<i64>, serde_json::Value)],
    ) -> Result<Vec<i64>> {
        // One writer at a time: the head read and the inserts must not
        // interleave with another shell's append.
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let ids = append(&tx, operator, target, events)?;
        tx.commit()?;
        Ok(ids)
    }

    /// The trail, oldest first; with `since` (RFC 3339 or `YYYY-MM-DD`),
    /// only records at or after that time.
    pub fn audit_records(&self, since: Option<&str>) -> Result<Vec<AuditRecord>> {
        let since = since.map(parse_since).transpose()?;
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {RECORD_COLUMNS} FROM audit WHERE ?1 IS NULL OR at >= ?1 ORDER BY id"
        ))?;
        let rows = stmt.query_map([since], record_from_row)?;
        let mut out = Vec::new();
        for r in rows {
            out.push(r?);
        }
        Ok(out)
    }

    /// One record, if it exists.
    pub(crate) fn audit_record(&self, id: i64) -> Result<Option<AuditRecord>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {RECORD_COLUMNS} FROM audit WHERE id = ?1"),
                [id],
                record_from_row,
            )
            .optional()?)
    }

    /// How many records the trail has, and the last one's hash
    /// ([`GENESIS_HASH`] when empty).
    pub fn audit_summary(&self) -> Result<(i64, String)> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM audit", [], |r| r.get(0))?;
        let last: Option<String> = self
            .conn
            .query_row("SELECT hash FROM audit ORDER BY id DESC LIMIT 1", [], |r| {
                r.get(0)
            })
            .optional()?;
        Ok((n, last.unwrap_or_else(|| GENESIS_HASH.to_owned())))
    }

    /// Checks the whole chain, in constant memory. `Ok(None)` when it is
    /// intact; `Ok(Some((id, reason)))` naming the first broken record
    /// (edited, deleted — a gap or a prev_hash that does not match —, or
    /// reordered). For a deleted record, the id named is the record after
    /// the gap (the reason names the missing ones); for a truncated tail,
    /// the first missing id.
    pub fn audit_verify(&self) -> Result<Option<(i64, String)>> {
        // A snapshot: appends by other shells during the scan are not seen.
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Deferred)?;
        let head: Option<(i64, String)> = tx
            .query_row(
                "SELECT last_id, last_hash FROM audit_head WHERE one = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let mut prev_id = 0i64;
        let mut prev_hash = GENESIS_HASH.to_owned();
        {
            let mut stmt = tx.prepare(
                "SELECT id, at, event, operator, target, change_id, detail, prev_hash, hash
                 FROM audit ORDER BY id",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let id: i64 = r.get(0)?;
                let at: String = r.get(1)?;
                let event: String = r.get(2)?;
                let operator: String = r.get(3)?;
                let target: Option<String> = r.get(4)?;
                let change_id: Option<i64> = r.get(5)?;
                let detail: String = r.get(6)?;
                let stored_prev: String = r.get(7)?;
                let hash: String = r.get(8)?;
                if id != prev_id + 1 {
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
                    return Ok(Some((id, format!("{missing} (deleted): {after}"))));
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
                let expected = chain_hash(
                    &stored_prev,
                    &record_canonical(
                        id,
                        &at,
                        &event,
                        &operator,
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
        }
        let broken = match head {
            None if prev_id > 0 => Some((
                prev_id,
                "the chain head (audit_head) is missing: it was deleted".to_owned(),
            )),
            None => None,
            Some((head_id, _)) if head_id > prev_id => {
                let missing = if head_id == prev_id + 1 {
                    format!("record {head_id} is missing")
                } else {
                    format!("records {} to {head_id} are missing", prev_id + 1)
                };
                Some((
                    prev_id + 1,
                    format!(
                        "{missing} (deleted): the trail was truncated; the recorded chain head is record {head_id}"
                    ),
                ))
            }
            Some((head_id, _)) if head_id < prev_id => Some((
                head_id + 1,
                format!(
                    "record {} was not appended by dbguard: the recorded chain head is record {head_id}",
                    head_id + 1
                ),
            )),
            Some((head_id, head_hash)) if head_hash != prev_hash => Some((
                head_id,
                "its hash does not match the recorded chain head: the record was replaced"
                    .to_owned(),
            )),
            Some(_) => None,
        };
        tx.commit()?;
        Ok(broken)
    }

    /// Records the approvals a change used, marking each token's nonce
    /// used, in one small transaction; `Err` ([`crate::ErrorKind::Approval`])
    /// and nothing recorded if any nonce was used before. Call it after the
    /// change is prepared and before the target commits, so a token raced
    /// by another shell aborts the change.
    pub fn record_approvals(
        &self,
        change_id: i64,
        approvals: &[(String, String, String, i64)],
    ) -> Result<()> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let used_at = super::now();
        for (principal, fingerprint, nonce, signed_at) in approvals {
            let before: Option<(Option<i64>, Option<String>)> = tx
                .query_row(
                    "SELECT change_id, used_at FROM approvals WHERE nonce = ?1",
                    [nonce],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            if let Some((by, when)) = before {
                let by = by.map_or_else(String::new, |c| format!(" by change {c}"));
                let when = when.map_or_else(String::new, |w| format!(" at {w}"));
                return Err(Error::approval(format!(
                    "the approval by {principal} was already used{by}{when}; a token is good for one change only\nAsk the approver for a new token."
                )));
            }
            tx.execute(
                "INSERT INTO approvals (change_id, principal, fingerprint, nonce, signed_at, used_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![change_id, principal, fingerprint, nonce, signed_at, used_at],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Whether an approval with this nonce was already used.
    pub fn nonce_used(&self, nonce: &str) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM approvals WHERE nonce = ?1)",
            [nonce],
            |r| r.get(0),
        )?)
    }

    /// The approvals a change used, in the order recorded.
    pub fn approvals_of(&self, change_id: i64) -> Result<Vec<ApprovalUse>> {
        let mut stmt = self.conn.prepare(
            "SELECT change_id, principal, fingerprint, nonce, signed_at, used_at
             FROM approvals WHERE change_id = ?1 ORDER BY rowid",
        )?;
        let rows = stmt.query_map([change_id], |r| {
            Ok(ApprovalUse {
                change_id: r.get(0)?,
                principal: r.get(1)?,
                fingerprint: r.get(2)?,
                nonce: r.get(3)?,
                signed_at: r.get(4)?,
                used_at: r.get(5)?,
            })
        })?;
        let mut out = Vec::new();
        for r in rows {
            out.push(r?);
        }
        Ok(out)
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
