//! UPDATE previews: matched rows, before → after of the first ones, and
//! what a change of referenced key columns does to the rows that point at
//! them (`ON UPDATE` actions, blockers, dangling associations).
//!
//! The new values are computed by the database itself: the assignment
//! expressions are selected, cast to the column type, next to the old
//! values, over exactly the rows the statement matches.

use std::collections::BTreeMap;

use sqlparser::ast::{self, AssignmentTarget, UpdateTableFromKind};

use super::{
    Action, Context, Effect, Impact, Totals, add_trigger_effects, changed_rows, display_columns,
    empty_impact, qcol, resolve_column, sample_order, table_ref_qual, target_table, user_ctes,
    with_clause, write_ast,
};
use crate::db::dialect::{RefCheck, tuple};
use crate::db::{PreviewTx, Rows};
use crate::error::{Error, Result};
use crate::schema::{FkAction, QualName, Table};
use crate::sql::Statement;

pub(super) fn analyze(
    tx: &mut dyn PreviewTx,
    ctx: &Context<'_>,
    stmt: &Statement,
) -> Result<Impact> {
    let ast::Statement::Update(up) = write_ast(stmt)? else {
        return Err(Error::refused("not an UPDATE statement"));
    };
    if up.or.is_some() {
        return Err(Error::refused(
            "UPDATE OR ... changes how conflicts are resolved and cannot be previewed exactly",
        ));
    }
    if !up.order_by.is_empty() || up.limit.is_some() {
        return Err(Error::refused(
            "UPDATE ... ORDER BY/LIMIT cannot be previewed exactly\nSelect the rows with a WHERE clause instead.",
        ));
    }
    let table = target_table(ctx, stmt)?;
    let d = ctx.dialect;
    let (relation, qual) = table_ref_qual(&up.table.relation)?;
    let mut from = relation;
    let mut joined = false;
    if let Some(UpdateTableFromKind::AfterSet(f) | UpdateTableFromKind::BeforeSet(f)) = &up.from {
        for t in f {
            from.push_str(", ");
            from.push_str(&t.to_string());
        }
        joined = !f.is_empty();
    }
    // (column, new value expression cast to the column type)
    let mut assigned: Vec<(String, String)> = Vec::new();
    for a in &up.assignments {
        let AssignmentTarget::ColumnName(name) = &a.target else {
            return Err(Error::refused(
                "UPDATE ... SET (a, b) = (...) cannot be previewed yet\nAssign the columns one by one.",
            ));
        };
        let ident = name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .ok_or_else(|| Error::refused("unsupported assignment target"))?;
        let col = resolve_column(ctx, table, ident)?;
        let type_name = table
            .column(&col)
            .map(|c| c.type_name.clone())
            .unwrap_or_default();
        let value = if matches!(a.value, ast::Expr::Identifier(ref i) if i.value.eq_ignore_ascii_case("default") && i.quote_style.is_none())
        {
            return Err(Error::refused(
                "UPDATE ... SET col = DEFAULT cannot be previewed yet",
            ));
        } else {
            d.cast(&a.value.to_string(), &type_name)
        };
        assigned.push((col, value));
    }
    let (uctes, urec) = user_ctes(stmt);
    let pred = up
        .selection
        .as_ref()
        .map(|e| format!(" WHERE ({e})"))
        .unwrap_or_default();
    let ident = d.row_ident(table, &qual);
    let ident_sel: Vec<String> = ident
        .iter()
        .enumerate()
        .map(|(i, e)| format!("{e} AS __i{i}"))
        .collect();
    let ident_cols: Vec<String> = (0..ident.len()).map(|i| format!("__i{i}")).collect();
    let new_eq_old: Vec<String> = assigned
        .iter()
        .map(|(c, v)| d.not_distinct(v, &qcol(&qual, c)))
        .collect();
    let all_same = if new_eq_old.is_empty() {
        "TRUE".to_owned()
    } else {
        new_eq_old.join(" AND ")
    };
    // The primary key's values after the update, when the update moves it,
    // so the guarded apply can find each row's after-image.
    let pk_moves = table.primary_key.as_ref().filter(|pk| {
        pk.columns
            .iter()
            .any(|c| assigned.iter().any(|(a, _)| a == c))
    });
    let mut m_items = ident_sel.clone();
    if let Some(pk) = pk_moves {
        for (i, c) in pk.columns.iter().enumerate() {
            m_items.push(format!("{} AS __k{i}", new_value(&assigned, &qual, c)));
        }
    }
    // m: matched rows (distinct, an UPDATE ... FROM may join a row twice),
    // with a flag saying whether any value changes.
    let m_cte = format!(
        "m AS (SELECT {}{}, CASE WHEN {all_same} THEN 0 ELSE 1 END AS __changed FROM {from}{pred})",
        if joined { "DISTINCT " } else { "" },
        m_items.join(", ")
    );
    let mut ctes = uctes.clone();
    ctes.push(m_cte.clone());
    let with_m = with_clause(&ctes, urec);

    let mut impact = empty_impact(stmt, table);
    let mut bounded = true;
    let counts = tx.query(&format!(
        "{with_m}SELECT count(*), {} FROM m",
        d.count_where("__changed = 0")
    ))?;
    let (matched, unchanged) = match counts.as_ref().and_then(|r| r.rows.first()) {
        Some(row) => (
            row.first()
                .and_then(|v| v.text())
                .and_then(|t| t.parse::<u64>().ok()),
            row.get(1)
                .and_then(|v| v.text())
                .and_then(|t| t.parse::<u64>().ok()),
        ),
        None => {
            bounded = false;
            (None, None)
        }
    };
    impact.target.rows = matched;
    impact.target.unchanged = unchanged;
    if matched.unwrap_or(1) > 0 {
        let on: Vec<String> = d
            .row_ident(table, "a")
            .iter()
            .zip(&ident_cols)
            .map(|(a, m)| format!("{a} = m.{m}"))
            .collect();
        let fp = format!(
            "{with_m}SELECT {} FROM {} AS a JOIN m ON {}",
            d.fingerprint(table, "a"),
            table.name.sql(),
            on.join(" AND ")
        );
        impact.target.fingerprint = tx.query(&fp)?.and_then(|r| {
            r.rows
                .first()
                .and_then(|row| row.first().and_then(|v| v.text()))
        });
    }
    let changed = matched.zip(unchanged).map(|(m, u)| m.saturating_sub(u));

    // Before → after for the first rows.
    let key_cols = display_columns(table, &[], 1);
    let key_cols: Vec<String> = match &table.primary_key {
        Some(pk) => pk.columns.clone(),
        None => key_cols,
    };
    if matched.unwrap_or(1) > 0 && ctx.options.sample_rows > 0 {
        let mut sel: Vec<String> = key_cols.iter().map(|c| qcol(&qual, c)).collect();
        for (c, v) in &assigned {
            sel.push(qcol(&qual, c));
            sel.push(v.clone());
        }
        let sql = format!(
            "{}SELECT {} FROM {from}{pred}{} LIMIT {}",
            with_clause(&uctes, urec),
            sel.join(", "),
            sample_order(d, table, &qual),
            ctx.options.sample_rows
        );
        let rows = tx.query(&sql)?.unwrap_or_default();
        let names: Vec<String> = assigned.iter().map(|(c, _)| c.clone()).collect();
        impact.target.changes = changed_rows(&rows, key_cols.len(), &names);
    }

    let mut totals: BTreeMap<QualName, Totals> = BTreeMap::new();
    totals.entry(table.name.clone()).or_default().update = changed.unwrap_or(0);
    let assigned_names: Vec<&str> = assigned.iter().map(|(c, _)| c.as_str()).collect();

    // Outgoing keys: new values must exist in the parent.
    for fk in &table.foreign_keys {
        if !fk
            .columns
            .iter()
            .any(|c| assigned_names.contains(&c.as_str()))
        {
            continue;
        }
        let Some(parent) = ctx.schema.get(&fk.ref_table) else {
            continue;
        };
        let new_vals: Vec<String> = fk
            .columns
            .iter()
            .map(|c| new_value(&assigned, &qual, c))
            .collect();
        // The new values are computed first and only then compared, so a
        // bare column name in them cannot be captured by the parent table.
        let projected: Vec<String> = new_vals
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{v} AS __n{i}"))
            .collect();
        let not_null: Vec<String> = (0..new_vals.len())
            .map(|i| format!("s.__n{i} IS NOT NULL"))
            .collect();
        let eq: Vec<String> = fk
            .ref_columns
            .iter()
            .enumerate()
            .map(|(i, rc)| format!("{} = s.__n{i}", qcol("p", rc)))
            .collect();
        let sql = format!(
            "{}SELECT count(*) FROM (SELECT {} FROM {from}{pred}) AS s WHERE {} AND NOT EXISTS (SELECT 1 FROM {} AS p WHERE {})",
            with_clause(&uctes, urec),
            projected.join(", "),
            not_null.join(" AND "),
            parent.name.sql(),
            eq.join(" AND ")
        );
        let n = tx.count(&sql)?;
        bounded &= n.is_some();
        if let Some(n) = n.filter(|&n| n > 0) {
            impact.failures.push(format!(
                "cannot update {}: {n} row{} would reference {} rows that do not exist (FK {})",
                table.name,
                if n == 1 { "" } else { "s" },
                parent.name,
                fk.name
            ));
        }
    }

    // NOT NULL columns must not be given NULL.
    for (col, value) in &assigned {
        if !table.column(col).is_some_and(|c| c.not_null) {
            continue;
        }
        let n = tx.count(&format!(
            "{}SELECT count(*) FROM (SELECT {value} AS v FROM {from}{pred}) AS s WHERE s.v IS NULL",
            with_clause(&uctes, urec)
        ))?;
        bounded &= n.is_some();
        if let Some(n) = n.filter(|&n| n > 0) {
            impact.failures.push(format!(
                "cannot update {}: {n} row{} would set the NOT NULL column {col} to NULL",
                table.name,
                if n == 1 { "" } else { "s" }
            ));
        }
    }

    // Unique keys: the new values must not collide with rows that keep
    // theirs, nor with each other.
    let keys: Vec<&crate::schema::Key> = table
        .primary_key
        .iter()
        .chain(table.unique.iter())
        .filter(|k| {
            k.columns
                .iter()
                .any(|c| assigned_names.contains(&c.as_str()))
        })
        .collect();
    for key in keys {
        let mut sel = ident_sel.clone();
        let kcols: Vec<String> = (0..key.columns.len()).map(|i| format!("__k{i}")).collect();
        for (i, c) in key.columns.iter().enumerate() {
            sel.push(format!("{} AS __k{i}", new_value(&assigned, &qual, c)));
        }
        let mut ctes = uctes.clone();
        ctes.push(format!(
            "nk AS (SELECT {}{} FROM {from}{pred})",
            if joined { "DISTINCT " } else { "" },
            sel.join(", ")
        ));
        let with_nk = with_clause(&ctes, urec);
        let nn: Vec<String> = kcols
            .iter()
            .map(|k| format!("nk.{k} IS NOT NULL"))
            .collect();
        let eq: Vec<String> = key
            .columns
            .iter()
            .zip(&kcols)
            .map(|(c, k)| format!("{} = nk.{k}", qcol("t", c)))
            .collect();
        let t_ident = d.row_ident(table, "t");
        let in_nk = format!(
            "{} IN (SELECT {} FROM nk)",
            tuple(&t_ident),
            ident_cols.join(", ")
        );
        let collide = tx.count(&format!(
            "{with_nk}SELECT count(*) FROM nk WHERE {} AND EXISTS (SELECT 1 FROM {} AS t WHERE {} AND NOT ({in_nk}))",
            nn.join(" AND "),
            table.name.sql(),
            eq.join(" AND ")
        ))?;
        let dups = tx.count(&format!(
            "{with_nk}SELECT count(*) FROM (SELECT 1 FROM nk WHERE {} GROUP BY {} HAVING count(*) > 1) AS d",
            nn.join(" AND "),
            kcols.join(", ")
        ))?;
        bounded &= collide.is_some() && dups.is_some();
        let (collide, dups) = (collide.unwrap_or(0), dups.unwrap_or(0));
        if collide > 0 || dups > 0 {
            impact.failures.push(format!(
                "cannot update {}: {} on key {} ({})",
                table.name,
                match (collide, dups) {
                    (c, 0) => format!(
                        "{c} row{} would take a key another row has",
                        if c == 1 { "" } else { "s" }
                    ),
                    (0, n) => format!(
                        "{n} new key value{} would repeat",
                        if n == 1 { "" } else { "s" }
                    ),
                    (c, n) => format!(
                        "{c} rows would take keys other rows have and {n} new values would repeat"
                    ),
                },
                key.name,
                key.columns.join(", ")
            ));
            continue;
        }
        // A new key equal to another updated row's old key works only if
        // that row moves first: the engines check unique keys row by row.
        let shifts = tx.count(&format!(
            "{with_nk}SELECT count(*) FROM nk WHERE {} AND EXISTS (SELECT 1 FROM {} AS t WHERE {} AND {in_nk} AND NOT ({} = {}))",
            nn.join(" AND "),
            table.name.sql(),
            eq.join(" AND "),
            tuple(&t_ident),
            tuple(&ident_cols.iter().map(|c| format!("nk.{c}")).collect::<Vec<_>>())
        ))?;
        if let Some(n) = shifts.filter(|&n| n > 0) {
            // Both engines check a non-deferrable unique key row by row, in
            // an order the statement does not control: taking a key another
            // updated row still holds fails unless that row happens to move
            // first. Predicting failure is the safe side.
            impact.failures.push(format!(
                "cannot update {}: {n} row{} would take a key ({}) that another updated row still holds, and unique key {} is checked row by row; it fails unless the rows happen to be updated in the right order",
                table.name,
                if n == 1 { "" } else { "s" },
                key.columns.join(", "),
                key.name
            ));
        }
    }

    // Incoming references to key columns that change.
    let mut key_edges = Vec::new();
    for fk in ctx.schema.referencing(&table.name) {
        if fk
            .ref_columns
            .iter()
            .any(|c| assigned_names.contains(&c.as_str()))
        {
            key_edges.push((
                fk.table.clone(),
                fk.columns.clone(),
                fk.ref_columns.clone(),
                Action::from_fk(fk.on_update),
                fk.name.clone(),
                "fk",
                fk.deferrable && fk.initially_deferred,
                fk.on_update,
            ));
        }
    }
    for a in ctx
        .associations
        .iter()
        .filter(|a| a.ref_table == table.name)
    {
        if assigned_names.contains(&a.ref_column.as_str()) && !a.array {
            key_edges.push((
                a.table.clone(),
                vec![a.column.clone()],
                vec![a.ref_column.clone()],
                Action::Dangling,
                a.name(),
                a.source.name(),
                false,
                FkAction::NoAction,
            ));
        }
    }
    // For each child table: (k CTE definition, condition) of the edges that
    // update it.
    let mut child_updates: BTreeMap<QualName, Vec<(String, String)>> = BTreeMap::new();
    for (edge_no, (child_name, ccols, pcols, action, via, source, deferred, on_update)) in
        key_edges.into_iter().enumerate()
    {
        let Some(child) = ctx.schema.get(&child_name) else {
            continue;
        };
        // k: old and new values of the referenced key, for rows where it changes.
        let old: Vec<String> = pcols.iter().map(|c| qcol(&qual, c)).collect();
        let new: Vec<String> = pcols
            .iter()
            .map(|c| new_value(&assigned, &qual, c))
            .collect();
        let mut sel: Vec<String> = Vec::new();
        for (i, (o, n)) in old.iter().zip(&new).enumerate() {
            sel.push(format!("{o} AS __o{i}"));
            sel.push(format!("{n} AS __n{i}"));
        }
        let kname = format!("k{edge_no}");
        let k_cte = format!(
            "{kname} AS (SELECT DISTINCT {} FROM {from}{}{} NOT ({}))",
            sel.join(", "),
            pred,
            if pred.is_empty() { " WHERE" } else { " AND" },
            new.iter()
                .zip(&old)
                .map(|(n, o)| d.not_distinct(n, o))
                .collect::<Vec<_>>()
                .join(" AND ")
        );
        let mut ctes = uctes.clone();
        ctes.push(k_cte.clone());
        let with_k = with_clause(&ctes, urec);
        let olds: Vec<String> = (0..pcols.len()).map(|i| format!("__o{i}")).collect();
        let news: Vec<String> = (0..pcols.len()).map(|i| format!("__n{i}")).collect();
        let ca = "c";
        let cvals: Vec<String> = ccols.iter().map(|c| qcol(ca, c)).collect();
        let mut cond = format!(
            "{} IN (SELECT {} FROM {kname})",
            tuple(&cvals),
            olds.join(", ")
        );
        let blocking_kind = matches!(
            action,
            Action::Restrict | Action::NoAction | Action::Dangling
        );
        // A key that moves to another row (a swap) still satisfies a check
        // that waits for the statement's own rows.
        let check = d.reference_check(action == Action::Restrict, deferred);
        if blocking_kind && check != RefCheck::AtTheRow {
            // NOT EXISTS, not NOT IN: a key moved to NULL must not make the
            // comparison unknown and hide the blocker.
            let eq: Vec<String> = cvals
                .iter()
                .zip(&news)
                .map(|(c, n)| format!("{kname}.{n} = {c}"))
                .collect();
            cond.push_str(&format!(
                " AND NOT EXISTS (SELECT 1 FROM {kname} WHERE {})",
                eq.join(" AND ")
            ));
        }
        let n = tx.count(&format!(
            "{with_k}SELECT count(*) FROM {} AS {ca} WHERE {cond}",
            child.name.sql()
        ))?;
        bounded &= n.is_some();
        let rows = n.unwrap_or(0);
        let blocking = matches!(action, Action::Restrict | Action::NoAction) && rows > 0;
        if blocking {
            let clause = format!(
                "ON UPDATE {}{}",
                on_update.sql(),
                if deferred {
                    " DEFERRABLE INITIALLY DEFERRED"
                } else {
                    ""
                }
            );
            impact.failures.push(format!(
                "cannot update {}: {rows} row{} in {} still reference{} the old key (FK {via}, {clause}){}",
                table.name,
                if rows == 1 { "" } else { "s" },
                child.name,
                if rows == 1 { "s" } else { "" },
                if deferred { "; the failure comes at commit" } else { "" }
            ));
        }
        if matches!(
            action,
            Action::Cascade | Action::SetNull | Action::SetDefault
        ) && rows > 0
        {
            child_updates
                .entry(child.name.clone())
                .or_default()
                .push((k_cte.clone(), cond.clone()));
            if child.name != table.name && referenced_columns_change(ctx, child, &ccols) {
                impact.warnings.push(format!(
                    "{via}: the cascaded change of {}({}) is itself referenced; effects beyond depth 1 are not counted",
                    child.name,
                    ccols.join(", ")
                ));
            }
        }
        let sample = if rows > 0 && ctx.options.sample_rows > 0 {
            let shown = display_columns(child, &ccols, 5);
            let cols: Vec<String> = shown.iter().map(|c| qcol(ca, c)).collect();
            tx.query(&format!(
                "{with_k}SELECT {} FROM {} AS {ca} WHERE {cond}{} LIMIT {}",
                cols.join(", "),
                child.name.sql(),
                sample_order(d, child, ca),
                ctx.options.sample_rows
            ))?
            .unwrap_or_default()
        } else {
            Rows::default()
        };
        impact.effects.push(Effect {
            table: child.name.clone(),
            action,
            via,
            source,
            depth: 1,
            rows: n,
            columns: ccols.clone(),
            parent: table.name.clone(),
            reached: true,
            blocking,
            note: deferred.then(|| "deferred: fails at commit".to_owned()),
            sample,
        });
    }
    // Net updated rows of each child: a row reached through two keys, or
    // a target row that is also a cascaded child, counts once.
    for (child_name, edges) in &child_updates {
        let Some(child) = ctx.schema.get(child_name) else {
            continue;
        };
        let mut ctes = uctes.clone();
        let mut conds: Vec<String> = Vec::new();
        for (k, c) in edges {
            ctes.push(k.clone());
            conds.push(format!("({c})"));
        }
        if child_name == &table.name {
            ctes.push(m_cte.clone());
            let cident = d.row_ident(child, "c");
            conds.push(format!(
                "{} IN (SELECT {} FROM m WHERE __changed = 1)",
                tuple(&cident),
                ident_cols.join(", ")
            ));
        }
        let n = tx.count(&format!(
            "{}SELECT count(*) FROM {} AS c WHERE {}",
            with_clause(&ctes, urec),
            child.name.sql(),
            conds.join(" OR ")
        ))?;
        bounded &= n.is_some();
        totals.entry(child_name.clone()).or_default().update = n.unwrap_or(0);
    }
    // The target's rows, and the children a key change updates.
    let a_ident = d.row_ident(table, "a");
    let on: Vec<String> = a_ident
        .iter()
        .zip(&ident_cols)
        .map(|(a, m)| format!("{a} = m.{m}"))
        .collect();
    impact.row_sets.push(super::RowSet {
        table: table.name.clone(),
        op: crate::journal::Op::Update,
        with: with_m.clone(),
        alias: "a".into(),
        join: format!("JOIN m ON {}", on.join(" AND ")),
        cond: "TRUE".into(),
        rows: matched,
        position: 0,
        new_key: pk_moves.map(|pk| (0..pk.columns.len()).map(|i| format!("m.__k{i}")).collect()),
    });
    for (child_name, edges) in &child_updates {
        let mut ctes = uctes.clone();
        let mut conds: Vec<String> = Vec::new();
        for (k, c) in edges {
            ctes.push(k.clone());
            conds.push(format!("({c})"));
        }
        if child_name == &table.name {
            continue; // the target's own set covers it
        }
        impact.row_sets.push(super::RowSet {
            table: child_name.clone(),
            op: crate::journal::Op::Update,
            with: with_clause(&ctes, urec),
            alias: "c".into(),
            join: String::new(),
            cond: conds.join(" OR "),
            rows: totals.get(child_name).map(|t| t.update),
            position: 1,
            new_key: None,
        });
    }
    impact.totals = totals;
    impact.will_fail = !impact.failures.is_empty();
    impact.bounded = bounded;
    let target = table.name.clone();
    add_trigger_effects(&mut impact, ctx, &|q: &QualName| usize::from(q != &target));
    Ok(impact)
}

/// The value a column has after the update: its new expression if it is
/// assigned, its current value otherwise.
fn new_value(assigned: &[(String, String)], qual: &str, col: &str) -> String {
    assigned
        .iter()
        .find(|(c, _)| c == col)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| qcol(qual, col))
}

/// Whether changing `cols` of `table` changes a key other tables reference.
fn referenced_columns_change(ctx: &Context<'_>, table: &Table, cols: &[String]) -> bool {
    ctx.schema
        .referencing(&table.name)
        .iter()
        .any(|fk| fk.ref_columns.iter().any(|c| cols.contains(c)))
}
