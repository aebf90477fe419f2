//! `dbguard audit show|verify`: the hash-chained audit trail, printed or
//! checked.

use crate::cli::{AuditCommand, Format, GlobalArgs};
use crate::error::{Error, Result};
use crate::journal::Journal;
use crate::journal::audit::AuditRecord;

use super::out;

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
    let journal = Journal::open(global.journal.as_deref())?;
    match cmd {
        AuditCommand::Show { since, format } => {
            let records = journal.audit_records(since.as_deref())?;
            out(&records_text(&records, *format)?)?;
            Ok(())
        }
        AuditCommand::Verify => match journal.audit_verify()? {
            None => {
                let (n, hash) = journal.audit_summary()?;
                out(&format!(
                    "audit trail intact: {n} record{}, last hash {hash}\n",
                    if n == 1 { "" } else { "s" }
                ))?;
                Ok(())
            }
            Some((id, reason)) => {
                if let Some(r) = journal.audit_record(id)? {
                    out("first broken record:\n")?;
                    out(&records_text(&[r], Format::Text)?)?;
                }
                Err(Error::database(format!(
                    "audit trail broken at record {id}: {reason}\nThe journal {} was changed outside dbguard; keep a copy of it as evidence.",
                    journal.path().display()
                )))
            }
        },
    }
}
