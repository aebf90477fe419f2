//! INSERT previews: how many rows, which would break a foreign key, a
//! `NOT NULL` column or a unique key, and what `ON CONFLICT` turns into
//! updates (with before → after of the first ones).
//!
//! The inserted rows are materialised as a CTE `v` — the statement's own
//! `VALUES` list or query, with each column cast to its type — and every
//! check is a query over `v`, so the database evaluates the values exactly
//! as the INSERT would.

use sqlparser::ast::{
    self, AssignmentTarget, ConflictTarget, OnConflictAction, OnInsert, SqliteOnConflict,
};

use super::{
    Context, Impact, add_trigger_effects, changed_rows, empty_impact, qcol, resolve_column,
    target_table, user_ctes, with_clause, write_ast,
};
use crate::db::PreviewTx;
use crate::error::{Error, Result};
use crate::schema::{Key, QualName, Table, quote_ident};
use crate::sql::Statement;

/// What happens to rows whose key already exists.
enum Conflict<'a> {
    /// No ON CONFLICT: the statement fails.
    Fail,
    /// DO NOTHING (on `key`, or on any key).
    Nothing(Option<Key>),
    /// DO UPDATE on `key`.
    Update(Key, &'a [ast::Assignment], Option<&'a ast::Expr>),
}

pub(super) fn analyze(
    tx: &mut dyn PreviewTx,
    ctx: &Context<'_>,
    stmt: &Statement,
) -> Result<Impact> {
    let ast::Statement::Insert(ins) = write_ast(stmt)? else {
        return Err(Error::refused("not an INSERT statement"));
    };
    let table = target_table(ctx, stmt)?;
    let d = ctx.dialect;
    if ins.replace_into || matches!(ins.or, Some(SqliteOnConflict::Replace)) {
        return Err(Error::refused(
            "INSERT OR REPLACE deletes the conflicting rows (with their cascades) and cannot be previewed yet\nUse INSERT ... ON CONFLICT DO UPDATE.",
        ));
    }
    if matches!(
        ins.or,
        Some(SqliteOnConflict::Rollback | SqliteOnConflict::Abort | SqliteOnConflict::Fail)
    ) {
        return Err(Error::refused(
            "INSERT OR ROLLBACK/ABORT/FAIL cannot be previewed yet",
        ));
    }
    // The columns the rows provide, in order.
    let columns: Vec<String> = if ins.columns.is_empty() {
        table
            .columns
            .iter()
            .filter(|c| c.generated.is_none())
            .map(|c| c.name.clone())
            .collect()
    } else {
        let mut v = Vec::new();
        for name in &ins.columns {
            let ident = name
                .0
                .last()
                .and_then(|p| p.as_ident())
                .ok_or_else(|| Error::refused("unsupported column name"))?;
            v.push(resolve_column(ctx, table, ident)?);
        }
        v
    };
    let (mut ctes, urec) = user_ctes(stmt);
    let qcols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    let source = match &ins.source {
        Some(q) => q.to_string(),
        None => {
            return Err(Error::refused(
                "INSERT ... DEFAULT VALUES cannot be previewed yet",
            ));
        }
    };
    ctes.push(format!("v0({}) AS ({source})", qcols.join(", ")));
    let casts: Vec<String> = columns
        .iter()
        .map(|c| {
            let t = table
                .column(c)
                .map(|x| x.type_name.clone())
                .unwrap_or_default();
            format!("{} AS {}", d.cast(&quote_ident(c), &t), quote_ident(c))
        })
        .collect();
    ctes.push(format!("v AS (SELECT {} FROM v0)", casts.join(", ")));
    let with_v = with_clause(&ctes, urec);

    let mut impact = empty_impact(stmt, table);
    let mut bounded = true;
    let rows = tx.count(&format!("{with_v}SELECT count(*) FROM v"))?;
    bounded &= rows.is_some();
    impact.target.rows = rows;
    if rows.unwrap_or(1) > 0 && ctx.options.sample_rows > 0 {
        impact.target.sample = tx
            .query(&format!(
                "{with_v}SELECT * FROM v LIMIT {}",
                ctx.options.sample_rows
            ))?
            .unwrap_or_default();
    }
    let provided = |cols: &[String]| cols.iter().all(|c| columns.contains(c));

    // NOT NULL columns left without a value, or given NULL.
    for c in &table.columns {
        if !c.not_null || c.generated.is_some() {
            continue;
        }
        if !columns.contains(&c.name) {
            if c.default.is_none()
                && c.identity.is_none()
                && !ctx.dialect.is_rowid_alias(table, &c.name)
            {
                impact.failures.push(format!(
                    "cannot insert into {}: column {} is NOT NULL and has no default",
                    table.name, c.name
                ));
            }
            continue;
        }
        if ctx.dialect.is_rowid_alias(table, &c.name) {
            continue; // SQLite assigns a NULL INTEGER PRIMARY KEY a new rowid
        }
        let n = tx.count(&format!(
            "{with_v}SELECT count(*) FROM v WHERE {} IS NULL",
            quote_ident(&c.name)
        ))?;
        bounded &= n.is_some();
        if let Some(n) = n.filter(|&n| n > 0) {
            impact.failures.push(format!(
                "cannot insert into {}: {n} row{} NULL for the NOT NULL column {}",
                table.name,
                if n == 1 { " gives" } else { "s give" },
                c.name
            ));
        }
    }

    // Foreign keys: every non-NULL key must find its parent row.
    for fk in &table.foreign_keys {
        if !provided(&fk.columns) {
            continue;
        }
        let Some(parent) = ctx.schema.get(&fk.ref_table) else {
            continue;
        };
        let not_null: Vec<String> = fk
            .columns
            .iter()
            .map(|c| format!("v.{} IS NOT NULL", quote_ident(c)))
            .collect();
        let eq = |alias: &str| -> String {
            fk.ref_columns
                .iter()
                .zip(&fk.columns)
                .map(|(rc, c)| format!("{} = v.{}", qcol(alias, rc), quote_ident(c)))
                .collect::<Vec<_>>()
                .join(" AND ")
        };
        let mut cond = format!(
            "{} AND NOT EXISTS (SELECT 1 FROM {} AS p WHERE {})",
            not_null.join(" AND "),
            parent.name.sql(),
            eq("p")
        );
        if parent.name == table.name {
            // A row may reference another row inserted by the same statement.
            cond.push_str(&format!(
                " AND NOT EXISTS (SELECT 1 FROM v AS w WHERE {})",
                eq("w")
            ));
        }
        let n = tx.count(&format!("{with_v}SELECT count(*) FROM v WHERE {cond}"))?;
        bounded &= n.is_some();
        if let Some(n) = n.filter(|&n| n > 0) {
            let when = if fk.deferrable && fk.initially_deferred {
                "; the failure comes at commit"
            } else {
                ""
            };
            impact.failures.push(format!(
                "cannot insert into {}: {n} row{} {} rows that do not exist (FK {}){when}",
                table.name,
                if n == 1 { " references" } else { "s reference" },
                parent.name,
                fk.name
            ));
        }
    }

    // Unique keys.
    let conflict = match &ins.on {
        Some(OnInsert::OnConflict(oc)) => {
            let key = match &oc.conflict_target {
                Some(ConflictTarget::Columns(cols)) => {
                    let mut names = Vec::new();
                    for c in cols {
                        names.push(resolve_column(ctx, table, c)?);
                    }
                    Some(key_with_columns(table, &names).ok_or_else(|| {
                        Error::input(format!(
                            "there is no unique key on {}({}) for ON CONFLICT",
                            table.name,
                            names.join(", ")
                        ))
                    })?)
                }
                Some(ConflictTarget::OnConstraint(name)) => {
                    let n = name.to_string();
                    let n = n.trim_matches('"');
                    Some(
                        all_keys(table)
                            .into_iter()
                            .find(|k| k.name == n)
                            .ok_or_else(|| {
                                Error::input(format!(
                                    "constraint {n} is not a unique key of {}",
                                    table.name
                                ))
                            })?,
                    )
                }
                None => None,
            };
            match &oc.action {
                OnConflictAction::DoNothing => Conflict::Nothing(key),
                OnConflictAction::DoUpdate(du) => match key {
                    Some(k) => Conflict::Update(k, &du.assignments, du.selection.as_ref()),
                    None => {
                        return Err(Error::input(
                            "ON CONFLICT DO UPDATE needs a conflict target: ON CONFLICT (col) DO UPDATE",
                        ));
                    }
                },
            }
        }
        Some(_) => {
            return Err(Error::refused(
                "ON DUPLICATE KEY UPDATE is not SQL for this engine",
            ));
        }
        None if matches!(ins.or, Some(SqliteOnConflict::Ignore)) => Conflict::Nothing(None),
        None => Conflict::Fail,
    };
    let keys: Vec<Key> = all_keys(table)
        .into_iter()
        .filter(|k| provided(&k.columns))
        .collect();
    let kname = table.name.sql();
    let exists = |k: &Key| -> String {
        let eq: Vec<String> = k
            .columns
            .iter()
            .map(|c| format!("{} = v.{}", qcol("t", c), quote_ident(c)))
            .collect();
        format!(
            "EXISTS (SELECT 1 FROM {kname} AS t WHERE {})",
            eq.join(" AND ")
        )
    };
    let not_null = |k: &Key| -> String {
        k.columns
            .iter()
            .map(|c| format!("v.{} IS NOT NULL", quote_ident(c)))
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    let vkey = |k: &Key| -> String {
        k.columns
            .iter()
            .map(|c| format!("v.{}", quote_ident(c)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let counted = |tx: &mut dyn PreviewTx, sql: String, bounded: &mut bool| -> Result<u64> {
        let n = tx.count(&format!("{with_v}{sql}"))?;
        *bounded &= n.is_some();
        Ok(n.unwrap_or(0))
    };
    // Rows that conflict with an existing row on `k`, among rows matching `among`.
    let key_failures = |tx: &mut dyn PreviewTx,
                        k: &Key,
                        among: &str,
                        bounded: &mut bool,
                        failures: &mut Vec<String>|
     -> Result<()> {
        let existing = counted(
            tx,
            format!(
                "SELECT count(*) FROM v WHERE {among}{} AND {}",
                not_null(k),
                exists(k)
            ),
            bounded,
        )?;
        let dups = counted(
            tx,
            format!(
                "SELECT count(*) FROM (SELECT 1 FROM v WHERE {among}{} GROUP BY {} HAVING count(*) > 1) AS d",
                not_null(k),
                vkey(k)
            ),
            bounded,
        )?;
        if existing > 0 || dups > 0 {
            failures.push(format!(
                "cannot insert into {}: {} on key {} ({})",
                table.name,
                match (existing, dups) {
                    (e, 0) => format!(
                        "{e} row{} conflict with existing rows",
                        if e == 1 { "" } else { "s" }
                    ),
                    (0, d) => format!(
                        "{d} key value{} repeat within the inserted rows",
                        if d == 1 { "" } else { "s" }
                    ),
                    (e, d) =>
                        format!("{e} rows conflict with existing rows and {d} key values repeat"),
                },
                k.name,
                k.columns.join(", ")
            ));
        }
        Ok(())
    };
    let mut inserted = rows.unwrap_or(0);
    let mut updated = 0u64;
    match &conflict {
        Conflict::Fail => {
            for k in &keys {
                key_failures(tx, k, "", &mut bounded, &mut impact.failures)?;
            }
        }
        Conflict::Nothing(None) => {
            // A row conflicting on any key is skipped.
            if let Some(first) = keys.first() {
                let any: Vec<String> = keys
                    .iter()
                    .map(|k| format!("({} AND {})", not_null(k), exists(k)))
                    .collect();
                let any = any.join(" OR ");
                let skipped = counted(
                    tx,
                    format!("SELECT count(*) FROM v WHERE {any}"),
                    &mut bounded,
                )?;
                impact.target.conflicts = Some(skipped);
                // Repeats within the statement: the later row is skipped too.
                let fresh = counted(
                    tx,
                    format!(
                        "SELECT count(*) FROM (SELECT DISTINCT {} FROM v WHERE NOT ({any}) AND {}) AS f",
                        vkey(first),
                        not_null(first)
                    ),
                    &mut bounded,
                )?;
                let nulls = counted(
                    tx,
                    format!(
                        "SELECT count(*) FROM v WHERE NOT ({any}) AND NOT ({})",
                        not_null(first)
                    ),
                    &mut bounded,
                )?;
                inserted = fresh + nulls;
            }
        }
        Conflict::Nothing(Some(key)) | Conflict::Update(key, _, _) => {
            let on_key = format!("({} AND {})", not_null(key), exists(key));
            let skipped = counted(
                tx,
                format!("SELECT count(*) FROM v WHERE {on_key}"),
                &mut bounded,
            )?;
            impact.target.conflicts = Some(skipped);
            // Rows that do not hit the conflict key must not hit another.
            let among = format!("NOT {on_key} AND ");
            for k in keys.iter().filter(|k| k.columns != key.columns) {
                key_failures(tx, k, &among, &mut bounded, &mut impact.failures)?;
            }
            let dups = counted(
                tx,
                format!(
                    "SELECT count(*) FROM (SELECT 1 FROM v WHERE {} GROUP BY {} HAVING count(*) > 1) AS d",
                    not_null(key),
                    vkey(key)
                ),
                &mut bounded,
            )?;
            match &conflict {
                Conflict::Update(_, assignments, selection) => {
                    let twice = ctx.dialect.upsert_updates_row_twice();
                    if dups > 0 && !twice {
                        impact.failures.push(format!(
                            "cannot insert into {}: ON CONFLICT DO UPDATE would affect a row twice ({dups} key value{} repeat within the inserted rows)",
                            table.name,
                            if dups == 1 { "" } else { "s" }
                        ));
                    }
                    inserted = if twice {
                        counted(
                            tx,
                            format!(
                                "SELECT count(*) FROM (SELECT DISTINCT {} FROM v WHERE NOT {on_key} AND {}) AS f",
                                vkey(key),
                                not_null(key)
                            ),
                            &mut bounded,
                        )? + counted(
                            tx,
                            format!("SELECT count(*) FROM v WHERE NOT ({})", not_null(key)),
                            &mut bounded,
                        )?
                    } else {
                        counted(
                            tx,
                            format!("SELECT count(*) FROM v WHERE NOT {on_key}"),
                            &mut bounded,
                        )?
                    };
                    let (n, changes) = conflict_updates(
                        tx,
                        ctx,
                        table,
                        &ctes,
                        urec,
                        key,
                        assignments,
                        *selection,
                        ins.table_alias.as_ref().map(|a| a.alias.to_string()),
                    )?;
                    bounded &= n.is_some();
                    updated = n.unwrap_or(0);
                    impact.target.changes = changes;
                }
                _ => {
                    let fresh = counted(
                        tx,
                        format!(
                            "SELECT count(*) FROM (SELECT DISTINCT {} FROM v WHERE NOT {on_key} AND {}) AS f",
                            vkey(key),
                            not_null(key)
                        ),
                        &mut bounded,
                    )?;
                    let nulls = counted(
                        tx,
                        format!("SELECT count(*) FROM v WHERE NOT ({})", not_null(key)),
                        &mut bounded,
                    )?;
                    inserted = fresh + nulls;
                }
            }
        }
    }
    let inserted = rows.map(|_| inserted);
    let mut totals = std::collections::BTreeMap::new();
    totals.insert(
        table.name.clone(),
        super::Totals {
            delete: 0,
            update: updated,
            insert: inserted.unwrap_or(0),
        },
    );
    impact.row_sets.push(super::RowSet {
        table: table.name.clone(),
        op: crate::journal::Op::Insert,
        with: String::new(),
        alias: "a".into(),
        join: String::new(),
        cond: String::new(),
        rows: inserted,
        position: 0,
        new_key: None,
    });
    if impact.target.conflicts.unwrap_or(0) > 0 {
        if let Conflict::Update(key, _, _) = &conflict {
            let eq: Vec<String> = key
                .columns
                .iter()
                .map(|c| format!("{} = v.{}", qcol("a", c), quote_ident(c)))
                .collect();
            impact.row_sets.push(super::RowSet {
                table: table.name.clone(),
                op: crate::journal::Op::Update,
                with: with_v.clone(),
                alias: "a".into(),
                join: String::new(),
                cond: format!("EXISTS (SELECT 1 FROM v WHERE {})", eq.join(" AND ")),
                // Rows whose update changes nothing are touched all the
                // same; the apply counts what it captures.
                rows: None,
                position: 0,
                new_key: None,
            });
        }
    }
    impact.totals = totals;
    impact.will_fail = !impact.failures.is_empty();
    impact.bounded = bounded;
    add_trigger_effects(&mut impact, ctx, &|_: &QualName| 0);
    Ok(impact)
}

/// ON CONFLICT DO UPDATE: how many existing rows change, and before →
/// after of the first ones. The SET expressions run with the proposed row
/// named `excluded`, as in the statement.
#[allow(clippy::too_many_arguments)]
fn conflict_updates(
    tx: &mut dyn PreviewTx,
    ctx: &Context<'_>,
    table: &Table,
    ctes: &[String],
    urec: bool,
    key: &Key,
    assignments: &[ast::Assignment],
    selection: Option<&ast::Expr>,
    alias: Option<String>,
) -> Result<(Option<u64>, Vec<super::ChangedRow>)> {
    let d = ctx.dialect;
    let qual = alias.unwrap_or_else(|| crate::schema::display_ident(&table.name.name));
    let mut assigned: Vec<(String, String)> = Vec::new();
    for a in assignments {
        let AssignmentTarget::ColumnName(name) = &a.target else {
            return Err(Error::refused(
                "SET (a, b) = (...) in ON CONFLICT cannot be previewed yet",
            ));
        };
        let ident = name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .ok_or_else(|| Error::refused("unsupported assignment target"))?;
        let col = resolve_column(ctx, table, ident)?;
        let t = table
            .column(&col)
            .map(|c| c.type_name.clone())
            .unwrap_or_default();
        assigned.push((col, d.cast(&a.value.to_string(), &t)));
    }
    let on: Vec<String> = key
        .columns
        .iter()
        .map(|c| format!("{} = excluded.{}", qcol(&qual, c), quote_ident(c)))
        .collect();
    let mut from = format!(
        "v AS excluded JOIN {} AS {qual} ON {}",
        table.name.sql(),
        on.join(" AND ")
    );
    if let Some(w) = selection {
        from.push_str(&format!(" WHERE ({w})"));
    }
    let with = with_clause(ctes, urec);
    // Like an UPDATE, a row whose new values equal the old ones is not a
    // change in the totals (the database is the same afterwards).
    let same: Vec<String> = assigned
        .iter()
        .map(|(c, v)| d.not_distinct(v, &qcol(&qual, c)))
        .collect();
    let changed = if same.is_empty() {
        String::new()
    } else {
        format!(
            " {} NOT ({})",
            if selection.is_some() { "AND" } else { "WHERE" },
            same.join(" AND ")
        )
    };
    // Distinct rows: SQLite may update one row twice from two proposed rows.
    let key_sel: Vec<String> = key.columns.iter().map(|c| qcol(&qual, c)).collect();
    let n = tx.count(&format!(
        "{with}SELECT count(*) FROM (SELECT DISTINCT {} FROM {from}{changed}) AS u",
        key_sel.join(", ")
    ))?;
    let mut sel: Vec<String> = key.columns.iter().map(|c| qcol(&qual, c)).collect();
    for (c, v) in &assigned {
        sel.push(qcol(&qual, c));
        sel.push(v.clone());
    }
    let rows = if ctx.options.sample_rows > 0 && n.unwrap_or(1) > 0 {
        tx.query(&format!(
            "{with}SELECT {} FROM {from}{} LIMIT {}",
            sel.join(", "),
            super::sample_order(ctx.dialect, table, &qual),
            ctx.options.sample_rows
        ))?
        .unwrap_or_default()
    } else {
        Default::default()
    };
    let names: Vec<String> = assigned.iter().map(|(c, _)| c.clone()).collect();
    Ok((n, changed_rows(&rows, key.columns.len(), &names)))
}

/// The primary key and unique keys.
fn all_keys(table: &Table) -> Vec<Key> {
    table
        .primary_key
        .iter()
        .chain(table.unique.iter())
        .cloned()
        .collect()
}

/// The unique key with exactly these columns (in any order).
fn key_with_columns(table: &Table, cols: &[String]) -> Option<Key> {
    let mut want: Vec<&String> = cols.iter().collect();
    want.sort();
    all_keys(table).into_iter().find(|k| {
        let mut have: Vec<&String> = k.columns.iter().collect();
        have.sort();
        have == want
    })
}
