//! Postgres catalog introspection: the whole schema in a handful of queries.
//!
//! `load` reads `pg_catalog` directly (not `information_schema`, which hides
//! objects the role does not own and cannot express PG15 `SET NULL (col)`
//! lists, partitions or triggers' bit flags) with six queries for the whole
//! database, whatever its size: server version and search path, tables,
//! columns, key/foreign-key constraints, unique indexes that are not
//! constraints, triggers. Each query returns rows for every table at once and
//! is stitched together here by table OID, so 1,000 tables cost the same
//! number of round trips as one.
//!
//! Every query filters relations the same way (`rel_filter`): ordinary,
//! partitioned and foreign tables in every schema except the system ones.
//! Values are read with `try_get` so a catalog surprise becomes an error
//! message, never a panic. Names are kept exactly as the catalog spells them;
//! quoting is a display concern (`schema::display_ident`).

use std::collections::HashMap;

use postgres::{Row, Transaction};

use crate::db::Engine;
use crate::db::dialect::Dialect;
use crate::error::{Error, Result};
use crate::schema::{
    Column, FkAction, ForeignKey, Generated, Identity, Key, MatchType, QualName, Schema, Table,
    TableKind, Trigger, TriggerEvent, TriggerTiming,
};

/// Counts catalog queries, so a test can prove introspection stays at a
/// handful of queries however many tables there are.
#[derive(Debug, Default)]
pub struct QueryCounter {
    pub queries: usize,
}

/// The relations dbguard knows about, as a `WHERE` fragment over `c`
/// (`pg_class`) and `n` (`pg_namespace`). `pg_toast*` and `pg_temp*` cover
/// the per-backend temp and toast schemas (`pg_temp_3`, `pg_toast_temp_3`);
/// another session's temporary tables are not ours to change.
fn rel_filter() -> String {
    format!(
        "c.relkind IN ('r', 'p', 'f') \
         AND n.nspname <> 'pg_catalog' \
         AND n.nspname <> 'information_schema' \
         AND n.nspname <> {} \
         AND n.nspname NOT LIKE 'pg\\_toast%' \
         AND n.nspname NOT LIKE 'pg\\_temp%'",
        crate::db::postgres::text_literal(crate::db::journal::journal_schema())
    )
}

/// PG15 added `pg_constraint.confdelsetcols` (`ON DELETE SET NULL (col)`).
const PG15: i32 = 150_000;

/// Loads every table of every non-system schema.
pub fn load(tx: &mut Transaction<'_>, counter: &mut QueryCounter) -> Result<Schema> {
    let (version, search_path) = load_settings(tx, counter)?;
    let mut tables = load_tables(tx, counter)?;
    let attnames = load_columns(tx, counter, &mut tables)?;
    load_constraints(tx, counter, version, &mut tables, &attnames)?;
    load_unique_indexes(tx, counter, version, &mut tables, &attnames)?;
    load_triggers(tx, counter, &mut tables, &search_path)?;
    let names = Dialect(Engine::Postgres).name_rules();
    Ok(Schema::new(
        Engine::Postgres,
        names,
        tables.list,
        search_path,
    ))
}

/// The loaded tables, in catalog order, and where each OID's table is.
struct Tables {
    list: Vec<Table>,
    by_oid: HashMap<u32, usize>,
}

impl Tables {
    /// The table with this OID; `None` for a relation that was not loaded
    /// (a row that joined a relation created after the tables query).
    fn get_mut(&mut self, oid: u32) -> Option<&mut Table> {
        let i = *self.by_oid.get(&oid)?;
        self.list.get_mut(i)
    }
}

/// Column names by (table OID, attnum): constraints and indexes name their
/// columns by number, mapped back here rather than with a correlated
/// subquery per constraint (five times slower at 2,000 FKs).
type AttNames = HashMap<(u32, i16), String>;

/// 1. Server version (decides which catalog columns exist) and the
///    effective search path (how unqualified names resolve).
fn load_settings(
    tx: &mut Transaction<'_>,
    counter: &mut QueryCounter,
) -> Result<(i32, Vec<String>)> {
    counter.queries += 1;
    let row = tx.query_typed_one(
        "SELECT current_setting('server_version_num')::int4, current_schemas(false)::text[]",
        &[],
    )?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

/// 2. Tables, with their partition parent. `pg_inherits` also records
///    plain (legacy) inheritance; only `relispartition` rows are
///    partitions, so the join is restricted to those, and whether a table
///    has plain children is asked apart (`Table::inherited`).
fn load_tables(tx: &mut Transaction<'_>, counter: &mut QueryCounter) -> Result<Tables> {
    counter.queries += 1;
    let rel = rel_filter();
    let rows = tx.query_typed(
        &format!(
            "SELECT c.oid, n.nspname::text, c.relname::text, c.relkind::text, \
                    c.relrowsecurity, c.relforcerowsecurity, \
                    pn.nspname::text, pc.relname::text, \
                    (SELECT array_agg(r.rulename::text ORDER BY r.rulename) FROM pg_rewrite r \
                      WHERE r.ev_class = c.oid AND r.rulename <> '_RETURN'), \
                    EXISTS (SELECT 1 FROM pg_inherits h JOIN pg_class hc ON hc.oid = h.inhrelid \
                      WHERE h.inhparent = c.oid AND NOT hc.relispartition) \
             FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND c.relispartition \
             LEFT JOIN pg_class pc ON pc.oid = i.inhparent \
             LEFT JOIN pg_namespace pn ON pn.oid = pc.relnamespace \
             WHERE {rel}"
        ),
        &[],
    )?;
    let mut tables = Tables {
        list: Vec::with_capacity(rows.len()),
        by_oid: HashMap::with_capacity(rows.len()),
    };
    for row in &rows {
        let oid: u32 = row.try_get(0)?;
        let schema: String = row.try_get(1)?;
        let name: String = row.try_get(2)?;
        let relkind: String = row.try_get(3)?;
        let mut t = Table::new(QualName::new(Some(&schema), &name));
        t.kind = match relkind.as_str() {
            "p" => TableKind::Partitioned,
            "f" => TableKind::Foreign,
            _ => TableKind::Table,
        };
        t.rls_enabled = row.try_get(4)?;
        t.rls_forced = row.try_get(5)?;
        let parent_schema: Option<String> = row.try_get(6)?;
        let parent_name: Option<String> = row.try_get(7)?;
        if let (Some(ps), Some(pn)) = (parent_schema, parent_name) {
            t.partition_of = Some(QualName::new(Some(&ps), &pn));
        }
        let rules: Option<Vec<String>> = row.try_get(8)?;
        t.rules = rules.unwrap_or_default();
        t.inherited = row.try_get(9)?;
        tables.by_oid.insert(oid, tables.list.len());
        tables.list.push(t);
    }
    Ok(tables)
}

/// 3. Columns in attnum order. `attgenerated` is 's' (stored) or, from
///    PG18, 'v' (virtual); the generation expression lives in
///    `pg_attrdef` like a default does. Expressions are deparsed in
///    pretty mode, as psql shows them: still valid SQL, minus redundant
///    parentheses. A default names no column, so it is deparsed without
///    its table (relid 0): deparsing with one opens the table for each
///    default, three times the cost over thousands of them, for the same
///    text; a generated column's expression names columns and keeps it.
///    A column of a domain type with no default of its own takes the
///    domain's, as an INSERT or a SET DEFAULT action does.
fn load_columns(
    tx: &mut Transaction<'_>,
    counter: &mut QueryCounter,
    tables: &mut Tables,
) -> Result<AttNames> {
    counter.queries += 1;
    let rel = rel_filter();
    let rows = tx.query_typed(
        &format!(
            "SELECT a.attrelid, a.attname::text, format_type(a.atttypid, a.atttypmod), \
                    a.attnotnull, \
                    coalesce(pg_get_expr(d.adbin, CASE WHEN a.attgenerated = '' THEN 0 ELSE d.adrelid END, true), \
                             pg_get_expr(dt.typdefaultbin, 0, true)), \
                    a.attgenerated::text, a.attidentity::text, a.attnum \
             FROM pg_attribute a \
             JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             LEFT JOIN pg_type dt ON dt.oid = a.atttypid AND dt.typtype = 'd' \
             WHERE a.attnum > 0 AND NOT a.attisdropped AND {rel} \
             ORDER BY a.attrelid, a.attnum"
        ),
        &[],
    )?;
    let mut attnames: AttNames = HashMap::with_capacity(rows.len());
    for row in &rows {
        let oid: u32 = row.try_get(0)?;
        let Some(table) = tables.get_mut(oid) else {
            continue;
        };
        let attnum: i16 = row.try_get(7)?;
        attnames.insert((oid, attnum), row.try_get(1)?);
        let generated: String = row.try_get(5)?;
        let identity: String = row.try_get(6)?;
        table.columns.push(Column {
            name: row.try_get(1)?,
            type_name: row.try_get(2)?,
            not_null: row.try_get(3)?,
            default: row.try_get(4)?,
            generated: match generated.as_str() {
                "s" => Some(Generated::Stored),
                "v" => Some(Generated::Virtual),
                _ => None,
            },
            identity: match identity.as_str() {
                "a" => Some(Identity::Always),
                "d" => Some(Identity::ByDefault),
                _ => None,
            },
            collation: None,
        });
    }
    Ok(attnames)
}

/// 4. Primary keys, unique constraints and foreign keys. `conkey` and
///    `confkey` list column numbers in key order, which is what pairs
///    composite FK columns with the referenced ones.
fn load_constraints(
    tx: &mut Transaction<'_>,
    counter: &mut QueryCounter,
    version: i32,
    tables: &mut Tables,
    attnames: &AttNames,
) -> Result<()> {
    let del_set_cols = if version >= PG15 {
        "con.confdelsetcols"
    } else {
        "NULL::int2[]"
    };
    let nulls_equal = nulls_not_distinct(version, "con.conindid");
    counter.queries += 1;
    let rel = rel_filter();
    let rows = tx.query_typed(
        &format!(
            "{UNORDERED}\
             SELECT con.conrelid, con.conname::text, con.contype::text, \
                    con.conkey, con.confkey, con.confrelid, \
                    fn.nspname::text, fc.relname::text, \
                    con.confdeltype::text, con.confupdtype::text, con.confmatchtype::text, \
                    con.condeferrable, con.condeferred, con.conparentid, \
                    {del_set_cols}, \
                    CASE WHEN con.oid IN (SELECT root FROM unordered) THEN -1 \
                         ELSE COALESCE(ri.n, -1) END, {nulls_equal} \
             FROM pg_constraint con \
             LEFT JOIN (SELECT t.tgconstraint, t.tgrelid, \
                          row_number() OVER (ORDER BY t.tgname COLLATE \"C\", t.oid) AS n \
                        FROM pg_trigger t WHERE t.tgconstraint <> 0 AND t.tgtype & 8 <> 0) ri \
               ON ri.tgconstraint = con.oid AND ri.tgrelid = con.confrelid \
             JOIN pg_class c ON c.oid = con.conrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_class fc ON fc.oid = con.confrelid \
             LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace \
             WHERE con.contype IN ('p', 'u', 'f') AND {rel}"
        ),
        &[],
    )?;
    for row in &rows {
        let oid: u32 = row.try_get(0)?;
        let Some(table) = tables.get_mut(oid) else {
            continue;
        };
        let name: String = row.try_get(1)?;
        let contype: String = row.try_get(2)?;
        let conkey: Option<Vec<i16>> = row.try_get(3)?;
        let columns = column_names(attnames, oid, conkey.as_deref(), &name)?;
        match contype.as_str() {
            "p" => table.primary_key = Some(Key { name, columns }),
            "u" => {
                if row.try_get::<_, bool>(16)? {
                    table
                        .unmodelled_unique
                        .push(format!("{name} (NULLS NOT DISTINCT)"));
                }
                table.unique.push(Key { name, columns });
            }
            "f" => {
                let Some(fk) = foreign_key(row, oid, table.name.clone(), name, columns, attnames)?
                else {
                    continue;
                };
                table.foreign_keys.push(fk);
            }
            _ => {}
        }
    }
    Ok(())
}

/// The keys into a partitioned table whose ON DELETE triggers fire in
/// another order on some partition than on another (or than on the
/// table): PostgreSQL fires the triggers of the partition a row is in,
/// and creates them per partition in the order it scans the keys, which a
/// renamed or validated key changes. Each trigger is traced to the key it
/// was cloned from (`conparentid`) and ranked by name on each relation;
/// a key ranked otherwise on some partition than on its partitioned table
/// is listed (every partition agreeing with the table is one order). A
/// partition that holds a key the table does not (one into the partition
/// itself) ranks otherwise too: listed, "may fail", never a wrong
/// certainty. Only keys into partitioned tables are traced, so a hub table
/// with hundreds of keys costs nothing.
const UNORDERED: &str = "WITH RECURSIVE fk_root AS ( \
      SELECT con.oid, con.oid AS root, con.confrelid AS top FROM pg_constraint con \
        JOIN pg_class pc ON pc.oid = con.confrelid \
       WHERE con.contype = 'f' AND con.conparentid = 0 AND pc.relkind = 'p' \
      UNION ALL \
      SELECT c.oid, r.root, r.top FROM pg_constraint c JOIN fk_root r ON c.conparentid = r.oid \
       WHERE c.contype = 'f'), \
    fk_trigger AS ( \
      SELECT r.root, r.top, t.tgrelid, min(t.tgname::text COLLATE \"C\") AS name \
        FROM fk_root r JOIN pg_constraint c ON c.oid = r.oid \
        JOIN pg_trigger t ON t.tgconstraint = c.oid AND t.tgrelid = c.confrelid \
       WHERE t.tgtype & 8 <> 0 GROUP BY r.root, r.top, t.tgrelid), \
    ranked AS ( \
      SELECT root, top, tgrelid, \
             row_number() OVER (PARTITION BY tgrelid ORDER BY name COLLATE \"C\") AS n \
        FROM fk_trigger), \
    unordered AS ( \
      SELECT x.root FROM ranked x \
        JOIN ranked y ON y.root = x.root AND y.tgrelid = y.top \
       WHERE x.n <> y.n) ";

/// A foreign key from its constraint row, or `None` for a clone.
///
/// A foreign key with a parent constraint is a clone Postgres made itself:
/// on each partition of a partitioned referencing table (a copy of the
/// parent's FK), and on the referencing table for each partition of a
/// partitioned referenced table (pointing at the partition). Both are
/// enforced through the parent constraint, which is listed once on the
/// partitioned table; listing the clones would show every edge once per
/// partition and invent references to partitions nobody declared. psql's
/// `\d` hides them the same way. The impact analysis therefore finds FKs
/// of a partition on its `partition_of` ancestors.
fn foreign_key(
    row: &Row,
    oid: u32,
    table: QualName,
    name: String,
    columns: Vec<String>,
    attnames: &AttNames,
) -> Result<Option<ForeignKey>> {
    let parent_con: u32 = row.try_get(13)?;
    if parent_con != 0 {
        return Ok(None);
    }
    let ref_oid: u32 = row.try_get(5)?;
    let confkey: Option<Vec<i16>> = row.try_get(4)?;
    let ref_columns = column_names(attnames, ref_oid, confkey.as_deref(), &name)?;
    let ref_schema: Option<String> = row.try_get(6)?;
    let ref_name: Option<String> = row.try_get(7)?;
    let ref_name = ref_name
        .ok_or_else(|| Error::database(format!("foreign key {name} references a missing table")))?;
    let on_delete: String = row.try_get(8)?;
    let on_update: String = row.try_get(9)?;
    let match_type: String = row.try_get(10)?;
    // NULL (no PG15 list, or before PG15) means "all FK columns".
    let set_cols: Option<Vec<i16>> = row.try_get(14)?;
    let delete_set_columns = match set_cols {
        Some(nums) if !nums.is_empty() => Some(column_names(attnames, oid, Some(&nums), &name)?),
        _ => None,
    };
    Ok(Some(ForeignKey {
        on_delete: fk_action(&on_delete, &name)?,
        on_update: fk_action(&on_update, &name)?,
        delete_set_columns,
        match_type: match match_type.as_str() {
            "f" => MatchType::Full,
            "p" => MatchType::Partial,
            _ => MatchType::Simple,
        },
        deferrable: row.try_get(11)?,
        initially_deferred: row.try_get(12)?,
        ordinal: row.try_get(15)?,
        table,
        columns,
        ref_table: QualName::new(ref_schema.as_deref(), &ref_name),
        ref_columns,
        name,
    }))
}

/// Whether the unique index `index` (an OID expression) treats NULLs as
/// equal (PostgreSQL 15's `NULLS NOT DISTINCT`): two NULLs collide there,
/// which the preview's unique checks do not model. Its non-NULL values are
/// still checked as a key; the NULLs are named as not checked.
fn nulls_not_distinct(version: i32, index: &str) -> String {
    if version >= PG15 {
        format!(
            "COALESCE((SELECT x.indnullsnotdistinct FROM pg_index x WHERE x.indexrelid = {index}), false)"
        )
    } else {
        "false".to_owned()
    }
}

/// 5. Unique indexes that back no constraint (`CREATE UNIQUE INDEX`):
///    they enforce uniqueness just the same. Partial and expression
///    indexes are left out, since they do not make a column list unique;
///    only key columns count (`indnkeyatts`), not `INCLUDE` ones.
fn load_unique_indexes(
    tx: &mut Transaction<'_>,
    counter: &mut QueryCounter,
    version: i32,
    tables: &mut Tables,
    attnames: &AttNames,
) -> Result<()> {
    counter.queries += 1;
    let nulls_equal = nulls_not_distinct(version, "i.indexrelid");
    let rel = rel_filter();
    let rows = tx.query_typed(
        &format!(
            "SELECT i.indrelid, ic.relname::text, i.indkey::int2[], i.indnkeyatts, \
                    i.indpred IS NOT NULL OR i.indexprs IS NOT NULL, {nulls_equal} \
             FROM pg_index i \
             JOIN pg_class ic ON ic.oid = i.indexrelid \
             JOIN pg_class c ON c.oid = i.indrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE i.indisunique AND i.indisvalid \
               AND NOT EXISTS (SELECT 1 FROM pg_constraint con \
                               WHERE con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x')) \
               AND {rel}"
        ),
        &[],
    )?;
    for row in &rows {
        let oid: u32 = row.try_get(0)?;
        let Some(table) = tables.get_mut(oid) else {
            continue;
        };
        let name: String = row.try_get(1)?;
        if row.try_get::<_, bool>(4)? {
            table.unmodelled_unique.push(name);
            continue;
        }
        let indkey: Vec<i16> = row.try_get(2)?;
        let key_atts: i16 = row.try_get(3)?;
        let keys: Vec<i16> = indkey
            .into_iter()
            .take(usize::try_from(key_atts).unwrap_or(0))
            .collect();
        // attnum 0 is an expression column (excluded above, but a key with
        // one would not be a column list).
        if keys.is_empty() || keys.contains(&0) {
            continue;
        }
        let columns = column_names(attnames, oid, Some(&keys), &name)?;
        if row.try_get::<_, bool>(5)? {
            table
                .unmodelled_unique
                .push(format!("{name} (NULLS NOT DISTINCT)"));
        }
        table.unique.push(Key { name, columns });
    }
    Ok(())
}

/// 6. User triggers. Internal ones implement FK actions, which the model
///    already has as foreign keys. Triggers cloned onto partitions from a
///    partitioned table's trigger are kept: they do fire on the partition.
fn load_triggers(
    tx: &mut Transaction<'_>,
    counter: &mut QueryCounter,
    tables: &mut Tables,
    search_path: &[String],
) -> Result<()> {
    counter.queries += 1;
    let rel = rel_filter();
    let rows = tx.query_typed(
        &format!(
            "SELECT t.tgrelid, t.tgname::text, t.tgtype::int4, t.tgenabled::text, \
                    pn.nspname::text, p.proname::text, \
                    substring(pg_get_triggerdef(t.oid, true) \
                              from ' WHEN \\((.*)\\) EXECUTE (?:FUNCTION|PROCEDURE) ') \
             FROM pg_trigger t \
             JOIN pg_class c ON c.oid = t.tgrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_proc p ON p.oid = t.tgfoid \
             JOIN pg_namespace pn ON pn.oid = p.pronamespace \
             WHERE NOT t.tgisinternal AND {rel}"
        ),
        &[],
    )?;
    for row in &rows {
        let oid: u32 = row.try_get(0)?;
        let Some(table) = tables.get_mut(oid) else {
            continue;
        };
        let tgtype: i32 = row.try_get(2)?;
        let enabled: String = row.try_get(3)?;
        let fn_schema: String = row.try_get(4)?;
        let fn_name: String = row.try_get(5)?;
        // Qualify the function only when the search path would not find it,
        // the way psql prints names.
        let action = if search_path.contains(&fn_schema) || fn_schema == "pg_catalog" {
            format!("{}()", crate::schema::display_ident(&fn_name))
        } else {
            format!(
                "{}.{}()",
                crate::schema::display_ident(&fn_schema),
                crate::schema::display_ident(&fn_name)
            )
        };
        table.triggers.push(Trigger {
            name: row.try_get(1)?,
            timing: decode_timing(tgtype),
            events: decode_events(tgtype),
            for_each_row: tgtype & TRIGGER_TYPE_ROW != 0,
            // 'O' (origin), 'A' (always) and 'R' (replica) all count as
            // enabled: 'R' triggers do not fire in a normal session, but a
            // safety tool would rather list a trigger that stays quiet than
            // hide one that fires (for example under a replication role).
            enabled: enabled != "D",
            fires_in_replica: enabled == "A" || enabled == "R",
            action,
            // Cut from the deparsed definition: the condition stored in
            // `tgqual` names OLD and NEW, which `pg_get_expr` cannot show.
            when: row.try_get(6)?,
        });
    }
    Ok(())
}

/// Maps a constraint's or index's column numbers to names, in order. A
/// number with no loaded column means the catalog changed under us or
/// points outside the loaded tables; better to fail than to show a key
/// with a column missing.
fn column_names(
    attnames: &HashMap<(u32, i16), String>,
    rel: u32,
    nums: Option<&[i16]>,
    object: &str,
) -> Result<Vec<String>> {
    nums.unwrap_or_default()
        .iter()
        .map(|n| {
            attnames.get(&(rel, *n)).cloned().ok_or_else(|| {
                Error::database(format!(
                    "{object} refers to column number {n} of a table dbguard did not load (oid {rel})"
                ))
            })
        })
        .collect()
}

// `pg_trigger.tgtype` bits (src/include/catalog/pg_trigger.h).
const TRIGGER_TYPE_ROW: i32 = 1 << 0;
const TRIGGER_TYPE_BEFORE: i32 = 1 << 1;
const TRIGGER_TYPE_INSERT: i32 = 1 << 2;
const TRIGGER_TYPE_DELETE: i32 = 1 << 3;
const TRIGGER_TYPE_UPDATE: i32 = 1 << 4;
const TRIGGER_TYPE_TRUNCATE: i32 = 1 << 5;
const TRIGGER_TYPE_INSTEAD: i32 = 1 << 6;

fn decode_timing(tgtype: i32) -> TriggerTiming {
    if tgtype & TRIGGER_TYPE_INSTEAD != 0 {
        TriggerTiming::InsteadOf
    } else if tgtype & TRIGGER_TYPE_BEFORE != 0 {
        TriggerTiming::Before
    } else {
        TriggerTiming::After
    }
}

/// An enabled trigger as `run_by_writing` matches the catalog's against
/// it: name, `tgtype`, and whether it fires under a replica role, the
/// parts of `pg_trigger` the schema keeps.
pub(crate) fn signature(t: &Trigger) -> String {
    let timing = match t.timing {
        TriggerTiming::InsteadOf => TRIGGER_TYPE_INSTEAD,
        TriggerTiming::Before => TRIGGER_TYPE_BEFORE,
        TriggerTiming::After => 0,
    };
    let events = [
        (TRIGGER_TYPE_INSERT, TriggerEvent::Insert),
        (TRIGGER_TYPE_UPDATE, TriggerEvent::Update),
        (TRIGGER_TYPE_DELETE, TriggerEvent::Delete),
        (TRIGGER_TYPE_TRUNCATE, TriggerEvent::Truncate),
    ]
    .into_iter()
    .filter(|(_, ev)| t.events.contains(ev))
    .fold(0, |bits, (bit, _)| bits | bit);
    let row = if t.for_each_row { TRIGGER_TYPE_ROW } else { 0 };
    format!(
        "{}/{}/{}",
        t.name,
        timing | events | row,
        t.fires_in_replica
    )
}

/// Events in the order psql prints them.
fn decode_events(tgtype: i32) -> Vec<TriggerEvent> {
    [
        (TRIGGER_TYPE_INSERT, TriggerEvent::Insert),
        (TRIGGER_TYPE_UPDATE, TriggerEvent::Update),
        (TRIGGER_TYPE_DELETE, TriggerEvent::Delete),
        (TRIGGER_TYPE_TRUNCATE, TriggerEvent::Truncate),
    ]
    .into_iter()
    .filter(|(bit, _)| tgtype & bit != 0)
    .map(|(_, ev)| ev)
    .collect()
}

/// Decodes `confdeltype`/`confupdtype`. An unknown code is an error rather
/// than a guess: a wrong action would make every later preview wrong.
fn fk_action(code: &str, constraint: &str) -> Result<FkAction> {
    match code {
        "a" => Ok(FkAction::NoAction),
        "r" => Ok(FkAction::Restrict),
        "c" => Ok(FkAction::Cascade),
        "n" => Ok(FkAction::SetNull),
        "d" => Ok(FkAction::SetDefault),
        other => Err(Error::database(format!(
            "foreign key {constraint} has an action code '{other}' this version of dbguard does not know\n\
             Upgrade dbguard; previews of this database cannot be trusted until then."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_trigger_bits() {
        // BEFORE ROW INSERT OR UPDATE
        let t = 1 | 2 | 4 | 16;
        assert_eq!(decode_timing(t), TriggerTiming::Before);
        assert_eq!(
            decode_events(t),
            vec![TriggerEvent::Insert, TriggerEvent::Update]
        );
        assert_eq!(decode_timing(8), TriggerTiming::After);
        assert_eq!(decode_timing(64 | 1 | 8), TriggerTiming::InsteadOf);
        assert_eq!(decode_events(32), vec![TriggerEvent::Truncate]);
    }
}
