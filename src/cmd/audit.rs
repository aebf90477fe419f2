//! `dbguard audit show|verify`: the hash-chained audit trail, printed or
//! checked.

use crate::cli::{AuditCommand, Format, GlobalArgs};
use crate::db::{Connection, OpenOptions};
use crate::error::{Error, Result};
use crate::journal::audit::{self, AuditRecord};

use super::{options, out};

/// Records as a psql-like table (`id | at | event | operator | target |
/// change | detail`, detail as compact JSON) or a JSON array.
fn records_text(records: &[AuditRecord], format: Format) -> Result<String> {
    if format == Format::Json {
        let v = serde_json::to_value(records).map_err(|e| Error::io(e.to_string()))?;
        return Ok(format!("{v}\n"));
    }
    let mut table = crate::shell::describe::grid(&[
        "id", "at", "event", "operator", "target", "change", "detail",
    ]);
    let one_line = |s: &str| s.replace(['\n', '\r'], " ");
    for r in records {
        table.add_row([
            r.id.to_string(),
            r.at.clone(),
            one_line(&r.event),
            one_line(&r.operator),
            r.target.as_deref().map(one_line).unwrap_or_default(),
            r.change_id.map(|c| c.to_string()).unwrap_or_default(),
            r.detail.to_string(),
        ]);
    }
    Ok(format!(
        "{}({} record{})\n",
        crate::shell::describe::grid_text(&table),
        records.len(),
        if records.len() == 1 { "" } else { "s" }
    ))
}

/// `dbguard audit show` and `dbguard audit verify`.
pub(super) fn run(global: &GlobalArgs, cmd: &AuditCommand) -> Result<()> {
    let read = std::time::Duration::from_secs(600);
    match cmd {
        AuditCommand::Show {
            target,
            since,
            format,
        } => {
            let mut conn = Connection::open(target.as_deref(), &OpenOptions::default())?;
            readable(&mut conn)?;
            let records = conn.preview(read, |tx| audit::records(tx, since.as_deref()))?;
            out(&records_text(&records, *format)?)
        }
        AuditCommand::Verify { target } => {
            let mut conn = Connection::open(target.as_deref(), &OpenOptions::default())?;
            readable(&mut conn)?;
            let (broken, records, summary, unvouched) = conn.preview(read, |tx| {
                let records = audit::records(tx, None)?;
                let unvouched = crate::journal::vouched::unvouched(tx, &records)?;
                Ok((audit::verify(tx)?, records, audit::summary(tx)?, unvouched))
            })?;
            let broken = match broken {
                Some(b) => Some(b),
                None => witness_check(global, &conn, &records)?,
            };
            if let (None, Some(why)) = (&broken, unvouched) {
                return Err(Error::database(format!(
                    "audit trail intact, but the journal is not: {why}\nThe journal of {} was changed outside dbguard; keep a copy of the database and of the witness as evidence.",
                    conn.identity().display
                )));
            }
            match broken {
                None => {
                    let (n, hash) = summary;
                    out(&format!(
                        "audit trail intact: {n} record{}, last hash {hash}\n",
                        if n == 1 { "" } else { "s" }
                    ))
                }
                Some((id, reason)) => {
                    if let Some(r) = records.iter().find(|r| r.id == id) {
                        out("first broken record:\n")?;
                        out(&records_text(std::slice::from_ref(r), Format::Text)?)?;
                    }
                    Err(Error::database(format!(
                        "audit trail broken at record {id}: {reason}\nThe journal of {} was changed outside dbguard; keep a copy of the database and of the witness as evidence.",
                        conn.identity().display
                    )))
                }
            }
        }
    }
}

/// The target has a journal this dbguard reads: a newer one is refused
/// untouched rather than misread, a missing one said as such.
fn readable(conn: &mut Connection) -> Result<()> {
    let target = conn.identity().display.clone();
    conn.preview(std::time::Duration::from_secs(30), |tx| {
        crate::journal::schema::readable_in(tx, &target)
    })
}

/// The witness's records of this database against the trail, when the
/// witness file exists (a machine that never wrote one has nothing to
/// check against).
fn witness_check(
    global: &GlobalArgs,
    conn: &Connection,
    records: &[AuditRecord],
) -> Result<Option<(i64, String)>> {
    let Some(witness) = options::witness(global) else {
        return Ok(None);
    };
    if global.audit_log.is_none() && !witness.path().exists() {
        return Ok(None);
    }
    let kept = witness.records_for(conn.identity())?;
    Ok(crate::journal::trail::cross_check(records, &kept))
}
