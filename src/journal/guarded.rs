//! The write-ahead protocol between a target transaction and its journal
//! entry, and the settling of entries a crash left behind.
//!
//! A change's rows are streamed into one journal transaction while the
//! target transaction is open; the journal commits the entry as `prepared`
//! (with the Postgres transaction id) *before* the target commits; after
//! the target commits, the entry is marked `committed`. A crash between
//! the two leaves a `prepared` entry, which [`reconcile`] settles from what
//! the target says: the transaction's fate where the engine keeps ids, the
//! first recorded row's state otherwise.

use super::{ChangeMeta, Journal, Op, Recording, Status};
use crate::db::{ApplyTx, Connection, GuardOptions, TargetIdentity, TxStatus};
use crate::error::Result;
use crate::model::ChangeKind;

impl ChangeMeta {
    /// The journal metadata of a change on the target `id`.
    pub(crate) fn for_target(
        id: &TargetIdentity,
        operator: &str,
        statement: &str,
        kind: ChangeKind,
        digest: &str,
        impact_json: String,
        undo_of: Option<i64>,
    ) -> ChangeMeta {
        ChangeMeta {
            operator: operator.to_owned(),
            engine: id.engine,
            target: id.display.clone(),
            target_database: id.database.clone(),
            system_identifier: id.system_identifier.clone(),
            statement: statement.to_owned(),
            kind,
            digest: digest.to_owned(),
            impact: impact_json,
            undo_of,
        }
    }
}

/// Runs `body` in a guarded transaction with a journal recording, and
/// carries out the write-ahead protocol around it. Returns the change's id
/// and what `body` returned.
pub fn run_guarded<T>(
    conn: &mut Connection,
    journal: &mut Journal,
    meta: &ChangeMeta,
    guard: &GuardOptions,
    body: impl FnOnce(&mut dyn ApplyTx, &mut Recording<'_>) -> Result<T>,
) -> Result<(i64, T)> {
    let (id, value) = conn.guarded(guard, |tx| {
        let mut rec = journal.begin(meta)?;
        let value = body(tx, &mut rec)?;
        if let Some(txid) = tx.txid()? {
            rec.set_txid(&txid)?;
        }
        let id = rec.prepare()?;
        crate::crash::point("after_prepare");
        Ok((id, value))
    })?;
    crate::crash::point("after_commit");
    journal.set_status(id, Status::Committed)?;
    Ok((id, value))
}

/// Settles journal entries a crash left `prepared`, for the connected
/// target; `operator` is who found them, named on `abort` records.
pub fn reconcile(
    conn: &mut Connection,
    journal: &Journal,
    operator: &str,
) -> Result<Vec<(i64, Status)>> {
    let identity = conn.identity().clone();
    let mut settled = Vec::new();
    for change in journal.prepared()? {
        if change.meta.engine != identity.engine || change.meta.target_database != identity.database
        {
            continue;
        }
        let status = match &change.txid {
            Some(txid) => match conn.transaction_status(txid)? {
                TxStatus::Committed => Some(Status::Committed),
                TxStatus::Aborted | TxStatus::Forgotten => Some(Status::Aborted),
                TxStatus::InProgress => None,
            },
            // Prepared without a transaction id where the engine has them:
            // the target never got that far.
            None if conn.keeps_transaction_ids() => Some(Status::Aborted),
            None => Some(first_row_status(conn, journal, change.id)?),
        };
        if let Some(s) = status {
            journal.settle(change.id, s, operator, &change.meta.target)?;
            settled.push((change.id, s));
        }
    }
    Ok(settled)
}

/// Whether a change committed, where the engine keeps no transaction ids:
/// its first recorded row shows it.
fn first_row_status(conn: &mut Connection, journal: &Journal, id: i64) -> Result<Status> {
    let tables = journal.tables(id)?;
    let mut first = None;
    journal.for_each_row(id, |r| {
        if first.is_none() {
            first = Some(r);
        }
        Ok(())
    })?;
    let Some(row) = first else {
        return Ok(Status::Aborted);
    };
    let Some(info) = tables.iter().find(|t| t.name == row.table) else {
        return Ok(Status::Aborted);
    };
    let current = conn.row_by_key(info, &row.key)?;
    Ok(match row.op {
        Op::Delete => {
            if current.is_some() {
                Status::Aborted
            } else {
                Status::Committed
            }
        }
        Op::Update => {
            if current.as_ref() == row.after.as_ref() && row.after != row.before {
                Status::Committed
            } else if current.as_ref() == row.before.as_ref() {
                Status::Aborted
            } else {
                Status::Committed
            }
        }
        Op::Insert => {
            if current.is_some() {
                Status::Committed
            } else {
                Status::Aborted
            }
        }
    })
}
