//! `dbguard undo prune`: dropping the rows of old changes from the journal.
//! Their entries stay listed (marked pruned) and the audit trail is never
//! pruned; a pruned change can no longer be shown row by row or undone.
//! Pruning is itself audited, in the same transaction.

use super::audit::parse_since;
use super::schema::{int, rows};
use super::trail::Trail;
use crate::db::dialect::Dialect;
use crate::db::journal::{JournalNames, Part, snapshot_name};
use crate::db::{Connection, GuardOptions, Value};
use crate::error::Result;

/// Which changes to prune.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prune {
    /// Made before this time (RFC 3339, or `YYYY-MM-DD`).
    Before(String),
    /// All but the N newest.
    Keep(u64),
}

/// Prunes the changes `by` picks; returns their ids.
pub fn prune(
    conn: &mut Connection,
    trail: &mut Trail,
    operator: &str,
    by: &Prune,
) -> Result<Vec<i64>> {
    let identity = conn.identity().clone();
    let guard = GuardOptions {
        lock_timeout: std::time::Duration::from_secs(10),
        statement_timeout: std::time::Duration::from_secs(600),
    };
    let filter = match by {
        // Entries keep seconds; the cutoff is compared at that precision.
        Prune::Before(t) => {
            let cutoff: String = parse_since(t)?.chars().take(19).collect();
            format!("created_at < '{cutoff}'")
        }
        Prune::Keep(n) => format!(
            "id NOT IN (SELECT id FROM {} ORDER BY id DESC LIMIT {n})",
            JournalNames::new(identity.engine).table("changes")
        ),
    };
    let ids = conn.guarded(&guard, |tx| {
        super::schema::require_in(tx, &identity.display)?;
        let names = JournalNames::new(tx.engine());
        let dialect = Dialect(tx.engine());
        let found = rows(
            tx,
            &format!(
                "SELECT id FROM {} WHERE pruned_at IS NULL AND {filter} ORDER BY id",
                names.table("changes")
            ),
        )?;
        let ids: Vec<i64> = found
            .iter()
            .map(|r| int(r.first()))
            .collect::<Result<_>>()?;
        for id in &ids {
            for t in super::read::tables(tx, *id)? {
                for part in Part::ALL {
                    let name = names.table(&snapshot_name(*id, t.slot, part));
                    tx.execute(&format!("DROP TABLE IF EXISTS {name}"))?;
                }
            }
            let lit = |s: &str| dialect.literal(&Value::Text(s.to_owned()), "");
            tx.execute(&format!(
                "UPDATE {} SET pruned_at = {}, pruned_by = {}, bytes = 0 WHERE id = {id}",
                names.table("changes"),
                lit(&super::now()),
                lit(operator)
            ))?;
        }
        let detail = serde_json::json!({"pruned": ids, "by": format!("{by:?}")});
        super::audit::stage_in(
            tx,
            operator,
            Some(&identity.display),
            &[("prune", None, detail)],
        )?;
        Ok(ids)
    })?;
    trail.flush(conn)?;
    Ok(ids)
}
