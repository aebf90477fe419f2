//! What the apply transaction has changed, as the engine counts it: rows
//! per user table (`pg_stat_xact_*` counters), relations changed where no
//! row counter looks (the locks this backend holds), and rows of the
//! system catalog. The coverage check holds these against what the
//! journal entry captured (`crate::change::apply`).

use std::collections::BTreeMap;

use postgres::Transaction;

use super::apply_error;
use crate::db::{Held, TableCounts};
use crate::error::Result;
use crate::schema::QualName;

/// What this transaction has deleted, updated and inserted so far in each
/// user table: `pg_stat_xact_user_tables`, read through the functions that
/// view calls, without its grouping over every relation's index scans
/// (planning and running the view took about 1 ms of a one-row change).
/// The large-object tables of the catalog count too: a trigger that
/// unlinks or writes a large object changes data no journal entry holds.
const XACT_COUNTERS: &str = "SELECT s.nspname, s.relname, s.d, s.u, s.i FROM ( \
       SELECT n.nspname::text AS nspname, c.relname::text AS relname, \
              pg_catalog.pg_stat_get_xact_tuples_deleted(c.oid) AS d, \
              pg_catalog.pg_stat_get_xact_tuples_updated(c.oid) AS u, \
              pg_catalog.pg_stat_get_xact_tuples_inserted(c.oid) AS i \
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
       WHERE (c.relkind IN ('r', 't', 'm', 'p') \
         AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast' \
         AND n.nspname::text <> $1) \
          OR c.oid IN ('pg_catalog.pg_largeobject'::regclass, 'pg_catalog.pg_largeobject_metadata'::regclass)) AS s \
     WHERE s.d + s.u + s.i > 0";

pub(super) fn table_counts(tx: &mut Transaction<'_>) -> Result<BTreeMap<QualName, TableCounts>> {
    let rows = tx.query_typed(
        XACT_COUNTERS,
        &[(
            &crate::db::journal::journal_schema(),
            postgres::types::Type::TEXT,
        )],
    )?;
    let mut out = BTreeMap::new();
    for r in rows {
        let schema: String = r.try_get(0)?;
        let name: String = r.try_get(1)?;
        let del: i64 = r.try_get(2)?;
        let upd: i64 = r.try_get(3)?;
        let ins: i64 = r.try_get(4)?;
        out.insert(
            QualName::new(Some(&schema), &name),
            TableCounts {
                deleted: del.max(0) as u64,
                updated: upd.max(0) as u64,
                inserted: ins.max(0) as u64,
            },
        );
    }
    Ok(out)
}

/// Relations this transaction changed where no row counter looks, by
/// the locks it holds ([`crate::db::ApplyTx::held_beyond_counters`]).
pub(super) fn held_beyond_counters(tx: &mut Transaction<'_>) -> Result<Vec<(QualName, Held)>> {
    let rows = tx
        .query_typed(
            // A relation the lock outlived was dropped in this
            // transaction: its name is gone with it. Any lock above
            // ROW SHARE on a foreign table is a write (or DDL) on it.
            "SELECT coalesce(n.nspname::text, ''), \
                    coalesce(c.relname::text, 'relation ' || l.relation::text || ', dropped'), \
                    coalesce(c.relkind = 'f', false) \
             FROM pg_catalog.pg_locks l \
             LEFT JOIN pg_catalog.pg_class c ON c.oid = l.relation \
             LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE l.pid = pg_catalog.pg_backend_pid() AND l.locktype = 'relation' \
               AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()) \
               AND ((l.mode = 'AccessExclusiveLock' \
                     AND (c.oid IS NULL OR (c.relkind IN ('r', 'p', 'm') \
                     AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
                     AND n.nspname !~ '^pg_(toast|temp)' AND n.nspname::text <> $1))) \
                 OR (c.relkind = 'f' AND l.mode NOT IN ('AccessShareLock', 'RowShareLock')))",
            &[(
                &crate::db::journal::journal_schema(),
                postgres::types::Type::TEXT,
            )],
        )
        .map_err(apply_error)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let schema: String = r.try_get(0)?;
        let name: String = r.try_get(1)?;
        let foreign: bool = r.try_get(2)?;
        let schema = (!schema.is_empty()).then_some(schema.as_str());
        let held = if foreign {
            Held::ForeignWrite
        } else {
            Held::Exclusively
        };
        out.push((QualName::new(schema, &name), held));
    }
    Ok(out)
}

/// Catalog rows this transaction wrote so far, large objects aside
/// (counted with the user tables).
pub(super) fn catalog_writes(tx: &mut Transaction<'_>) -> Result<u64> {
    let row = tx
        .query_typed_one(
            "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::int8 \
             FROM pg_catalog.pg_stat_xact_sys_tables \
             WHERE relid NOT IN ('pg_catalog.pg_largeobject'::regclass, \
                                 'pg_catalog.pg_largeobject_metadata'::regclass)",
            &[],
        )
        .map_err(apply_error)?;
    let n: i64 = row.try_get(0)?;
    Ok(n.max(0) as u64)
}
