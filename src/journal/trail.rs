//! Where a session's audit records go: [`Trail`] writes them into the
//! target's hash-chained trail (`super::audit`) and to the [`Witness`], an
//! append-only file on this machine that a rewrite inside the database
//! cannot follow. Kept apart from the chain's format and checks, which
//! readers (`audit show`, `audit verify`, import) need without a session.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::audit::{AuditRecord, Event, chain_in};
use super::schema::JournalState;
use crate::db::{Connection, GuardOptions, TargetIdentity};
use crate::error::{Error, Result};

/// Where a session's audit records go: the target's trail, when the
/// target has a journal, and the witness on this machine.
///
/// Events that record no effect (a session's start, the statement and
/// preview of a write, its verdict, its approvals) may wait in a queue:
/// the next append writes them first, and a change stages them in its own
/// transaction, so a one-statement change writes its whole story with the
/// change instead of one transaction per event. Anything that must be on
/// record before it happens (a read, a request, a refusal) is appended at
/// once, queue first.
pub struct Trail {
    witness: Option<Witness>,
    in_target: bool,
    queued: Vec<Event>,
    /// Whether linking staged records may wait for the session's next
    /// append: set by sessions that end with one (exec), never by a shell
    /// that may sit idle.
    link_later: bool,
}

impl Trail {
    /// The trail of the target `conn` talks to, with `witness` beside it.
    pub fn open(conn: &mut Connection, witness: Option<Witness>) -> Result<Trail> {
        let in_target = super::schema::state(conn)? == JournalState::Current;
        Ok(Trail {
            witness,
            in_target,
            queued: Vec::new(),
            link_later: false,
        })
    }

    /// A trail that writes into the target (it has a current journal).
    pub fn set_in_target(&mut self, in_target: bool) {
        self.in_target = in_target;
    }

    /// Whether records go into the target (it has a journal).
    pub fn in_target(&self) -> bool {
        self.in_target
    }

    /// Lets [`Trail::flush`] leave staged records for the session's next
    /// append, which the caller promises (a session end).
    pub fn link_later(&mut self) {
        self.link_later = true;
    }

    /// Appends events in a short transaction of their own (the target's
    /// trail, when it has a journal), queued ones first, then to the
    /// witness.
    pub fn append(
        &mut self,
        conn: &mut Connection,
        operator: &str,
        events: &[(&str, Option<i64>, serde_json::Value)],
    ) -> Result<Vec<AuditRecord>> {
        let identity = conn.identity().clone();
        let mut all = std::mem::take(&mut self.queued);
        let queued = all.len();
        match Event::now(operator, Some(&identity.display), events) {
            Ok(now) => all.extend(now),
            Err(e) => {
                self.queued = all;
                return Err(e);
            }
        }
        let written = if self.in_target {
            conn.short_write(&short(), |tx| chain_in(tx, &all))
        } else {
            Ok(all.iter().map(Event::unchained).collect())
        };
        let records = match written {
            Ok(r) => r,
            Err(e) => {
                // Still owed: the next append tries them again.
                all.truncate(queued);
                self.queued = all;
                return Err(e);
            }
        };
        self.witness(&identity, &records)?;
        Ok(records)
    }

    /// Queues events that record no effect, for the next append or
    /// change (see [`Trail`]).
    pub fn queue(
        &mut self,
        conn: &Connection,
        operator: &str,
        events: &[(&str, Option<i64>, serde_json::Value)],
    ) -> Result<()> {
        let target = conn.identity().display.clone();
        self.queued
            .extend(Event::now(operator, Some(&target), events)?);
        Ok(())
    }

    /// The queue, for a change to stage in its own transaction
    /// ([`stage_events`]); [`Trail::requeue`] puts it back when the change
    /// does not commit.
    pub(crate) fn take_queued(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.queued)
    }

    /// Puts back what [`Trail::take_queued`] took, before anything queued
    /// since.
    pub(crate) fn requeue(&mut self, mut events: Vec<Event>) {
        events.append(&mut self.queued);
        self.queued = events;
    }

    /// Writes whatever is queued, unless the session's next append will
    /// ([`Trail::link_later`]).
    pub fn settle(&mut self, conn: &mut Connection, operator: &str) -> Result<()> {
        if self.queued.is_empty() || self.link_later {
            return Ok(());
        }
        self.append(conn, operator, &[]).map(|_| ())
    }

    /// Links the records a change staged in its own transaction into the
    /// chain, and writes them to the witness; or leaves that to the
    /// session's next append (see [`Trail::link_later`]).
    pub fn flush(&mut self, conn: &mut Connection) -> Result<()> {
        if !self.in_target || self.link_later {
            return Ok(());
        }
        let identity = conn.identity().clone();
        let records = conn.short_write(&short(), |tx| chain_in(tx, &[]))?;
        self.witness(&identity, &records)
    }

    /// Writes records the target's trail holds to the witness.
    fn witness(&mut self, identity: &TargetIdentity, records: &[AuditRecord]) -> Result<()> {
        match &self.witness {
            Some(w) => w.append(identity, records, self.in_target),
            None => Ok(()),
        }
    }
}

/// The timeouts of an append: short, it only waits for another append.
fn short() -> GuardOptions {
    GuardOptions {
        lock_timeout: std::time::Duration::from_secs(10),
        statement_timeout: std::time::Duration::from_secs(10),
    }
}

/// The witness: an append-only file of JSON lines on this machine, one per
/// record a session appended, naming the database it belongs to. A trail
/// rewritten inside the database no longer matches it.
#[derive(Debug, Clone)]
pub struct Witness {
    path: PathBuf,
}

/// One line of the witness.
#[derive(Debug, Serialize, serde::Deserialize)]
struct WitnessLine {
    database: String,
    system_identifier: Option<String>,
    /// Whether the record is in the target's trail too (the target had a
    /// journal); records of targets without one are kept here only.
    in_target: bool,
    record: AuditRecord,
}

impl Witness {
    pub fn new(path: PathBuf) -> Witness {
        Witness { path }
    }

    /// `$XDG_STATE_HOME/dbguard/audit.jsonl`.
    pub fn default_path() -> Option<PathBuf> {
        super::state_dir().map(|d| d.join("audit.jsonl"))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn append(&self, id: &TargetIdentity, records: &[AuditRecord], in_target: bool) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let io = |e: std::io::Error| {
            Error::io(format!(
                "cannot write the audit witness {}: {e}",
                self.path.display()
            ))
            .caused_by(e)
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut text = String::new();
        for record in records {
            let line = WitnessLine {
                database: id.database.clone(),
                system_identifier: id.system_identifier.clone(),
                in_target,
                record: record.clone(),
            };
            let json = serde_json::to_string(&line)
                .map_err(|e| Error::io(format!("cannot encode an audit record: {e}")))?;
            text.push_str(&json);
            text.push('\n');
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(io)?;
        // One write: lines of concurrent sessions do not interleave.
        file.write_all(text.as_bytes()).map_err(io)?;
        file.sync_data().map_err(io)
    }

    /// The records the witness holds of the target's trail for the
    /// database `id` names, in the order they were written.
    pub fn records_for(&self, id: &TargetIdentity) -> Result<Vec<AuditRecord>> {
        let file = std::fs::File::open(&self.path).map_err(|e| {
            Error::io(format!(
                "cannot read the audit witness {}: {e}",
                self.path.display()
            ))
            .caused_by(e)
        })?;
        let mut out = Vec::new();
        for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line =
                line.map_err(|e| Error::io(format!("cannot read the audit witness: {e}")))?;
            if line.trim().is_empty() {
                continue;
            }
            let w: WitnessLine = serde_json::from_str(&line).map_err(|e| {
                Error::io(format!(
                    "line {} of the audit witness {} is not a record: {e}",
                    n + 1,
                    self.path.display()
                ))
            })?;
            let same_cluster = match (&w.system_identifier, &id.system_identifier) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            };
            if w.in_target && w.database == id.database && same_cluster {
                out.push(w.record);
            }
        }
        Ok(out)
    }
}

/// The first record of the witness that the trail does not hold as it was
/// written: `Some((id, reason))`.
pub fn cross_check(trail: &[AuditRecord], witness: &[AuditRecord]) -> Option<(i64, String)> {
    let by_id: std::collections::HashMap<i64, &AuditRecord> =
        trail.iter().map(|r| (r.id, r)).collect();
    for w in witness {
        match by_id.get(&w.id) {
            None => {
                return Some((
                    w.id,
                    format!(
                        "the witness holds record {} ({} at {}), which the trail no longer has: the trail was truncated or rewritten",
                        w.id, w.event, w.at
                    ),
                ));
            }
            Some(t) if t.hash != w.hash => {
                return Some((
                    w.id,
                    format!(
                        "record {} differs from the witness's copy ({} at {}): the trail was rewritten",
                        w.id, w.event, w.at
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    None
}
