//! UPDATE previews: matched rows, before → after of the first ones, and
//! what a change of referenced key columns does to the rows that point at
//! them (`ON UPDATE` actions, blockers, dangling associations).
//!
//! The new values are computed by the database itself: the assignment
//! expressions are selected, cast to the column type, next to the old
//! values, over exactly the rows the statement matches.
//!
//! The statement is taken apart once into [`Update`], the SQL pieces every
//! phase reuses (the `FROM` list, the predicate, the new value of each
//! assigned column, the CTE `m` of matched rows); each phase is then one
//! method that adds its queries' findings to the impact, in the order the
//! preview has always run them.

use std::collections::BTreeMap;

use sqlparser::ast::{self, AssignmentTarget, UpdateTableFromKind};

use super::{
    Action, Context, Impact, Totals, add_trigger_effects, changed_rows, display_columns,
    empty_impact, qcol, resolve_column, sample_order, table_ref_qual, target_table, user_ctes,
    with_clause,
};
use crate::db::PreviewTx;
use crate::db::dialect::{Dialect, tuple};
use crate::error::{Error, Result};
use crate::schema::{FkAction, Key, QualName, Table};
use crate::sql::Statement;

/// The most key moves whose rings the preview looks for. The walk visits
/// one link of every chain per step, so its time grows with the square of
/// the longest chain (20,000 rows took 48 s on PostgreSQL); past this, a
/// ring is reported as "may fail" like a chain, which the engine's failure
/// still agrees with.
const RING_WALK_LIMIT: u64 = 500;

mod children;
mod own_key;
mod own_row;
mod references;

use children::ChildEdge;

/// For each child table a key change updates, every edge that updates it.
type ChildUpdates = BTreeMap<QualName, Vec<ChildEdge>>;

pub(super) fn analyze(
    tx: &mut dyn PreviewTx,
    ctx: &Context<'_>,
    stmt: &Statement,
) -> Result<Impact> {
    analyze_as(tx, ctx, stmt, None)
}

/// [`analyze`] over the own rows of `own`, a table of the target's
/// inheritance tree ([`super::inherit`]), or over the statement as
/// written.
fn analyze_as(
    tx: &mut dyn PreviewTx,
    ctx: &Context<'_>,
    stmt: &Statement,
    own: Option<&Table>,
) -> Result<Impact> {
    let up = Update::parse(ctx, stmt, own)?;
    let table = up.table;
    let with = super::with_clause(&up.uctes, up.urec);
    let pred = up.pred.strip_prefix(" WHERE ");
    if own.is_none() {
        let others =
            super::inherit::others_written(tx, ctx, table, (&with, &up.from, &up.qual), pred)?;
        if !others.is_empty() {
            return super::inherit::each_table(tx, ctx, table, &others, &mut |tx, t| {
                analyze_as(tx, ctx, stmt, Some(t))
            });
        }
    }
    let inherited = own.is_some_and(|t| target_table(ctx, stmt).is_ok_and(|n| n.name != t.name));
    let mut impact = empty_impact(stmt, table);
    let (matched, changed) = up.count_matched(tx, &mut impact)?;
    // With FROM, which rows are "outside" the WHERE is not one table's
    // question; the WHERE stands.
    if let Some(pred) = up
        .pred
        .strip_prefix(" WHERE ")
        .filter(|_| !up.joined && ctx.options.judge_where)
        && matched.unwrap_or(0) > 0
    {
        let pred = super::inherit::own_rows_only(ctx, table, &up.qual, pred);
        impact.covers_every_row = super::covers_every_row(tx, &with, &up.from, &pred)?;
    }
    if matched.unwrap_or(1) > 0 && ctx.options.sample_rows > 0 {
        up.sample_changes(tx, &mut impact)?;
    }
    let mut totals: BTreeMap<QualName, Totals> = BTreeMap::new();
    totals.entry(table.name.clone()).or_default().update = changed.unwrap_or(0);
    up.check_outgoing_keys(tx, &mut impact)?;
    up.check_own_keys(tx, &mut impact)?;
    up.check_own_row_references(tx, &mut impact)?;
    super::checks::unmodelled_unique(table, &mut impact);
    // A chain's step: the action that makes it has judged its rows'
    // NOT NULLs and CHECKs, in the statement's terms.
    if ctx.step.is_none() {
        up.check_not_null(tx, &mut impact)?;
        up.check_constraints(tx, &mut impact)?;
    }
    up.check_unique_keys(tx, &mut impact)?;
    let mut child_updates = ChildUpdates::new();
    let mut steps = Vec::new();
    for (edge_no, edge) in up.key_edges().into_iter().enumerate() {
        let pending = (&mut child_updates, &mut steps);
        up.follow_key_edge(tx, edge_no, edge, pending, &mut impact)?;
    }
    let reached = up.count_child_updates(tx, &child_updates, &mut totals, &mut impact)?;
    up.push_row_sets(&child_updates, &reached, matched, &mut impact);
    impact.totals = totals;
    impact.will_fail = !impact.failures.is_empty();
    // A child two edges update, whose rows the engine changes twice.
    let twice = |s: &super::chain::Step<'_>, _: &Impact| {
        child_updates.get(&s.child.name).map_or(0, Vec::len) > 1
    };
    super::chain::follow_all(tx, ctx, steps, &mut impact, &twice)?;
    up.refuse_pointing_at_changed_values(&impact)?;
    let target = table.name.clone();
    add_trigger_effects(
        &mut impact,
        ctx,
        &|q: &QualName| usize::from(q != &target),
        inherited,
    );
    Ok(impact)
}

/// [`analyze`] of one step of a chain of key actions: the engine's UPDATE
/// of `child`'s own rows ([`super::chain::follow`]).
pub(super) fn analyze_step(
    tx: &mut dyn PreviewTx,
    ctx: &Context<'_>,
    stmt: &Statement,
    child: &Table,
) -> Result<Impact> {
    analyze_as(tx, ctx, stmt, Some(child))
}

/// One UPDATE taken apart into the SQL its phases share.
struct Update<'a> {
    ctx: &'a Context<'a>,
    table: &'a Table,
    d: Dialect,
    /// `FROM` text: the relation (with alias) and any `FROM` list.
    from: String,
    /// An `UPDATE ... FROM` may join a row twice.
    joined: bool,
    /// How the statement refers to the target table (alias or name).
    qual: String,
    /// (column, new value expression cast to the column type)
    assigned: Vec<(String, String)>,
    uctes: Vec<String>,
    urec: bool,
    /// ` WHERE (...)`, or empty.
    pred: String,
    /// The row identity selected as `__i0, __i1, ...`.
    ident_sel: Vec<String>,
    ident_cols: Vec<String>,
    /// m: matched rows (distinct, an UPDATE ... FROM may join a row twice),
    /// with a flag saying whether any value changes.
    m_cte: String,
    with_m: String,
    /// The primary key, when the update moves it.
    pk_moves: Option<&'a Key>,
}

/// A reference into the target through columns the update changes.
struct KeyEdge {
    child: QualName,
    columns: Vec<String>,
    ref_columns: Vec<String>,
    action: Action,
    via: String,
    source: &'static str,
    deferred: bool,
    on_update: FkAction,
}

impl<'a> Update<'a> {
    /// `own`: read the own rows of this table of the target's inheritance
    /// tree ([`super::inherit`]) instead of the target as written.
    fn parse(ctx: &'a Context<'a>, stmt: &Statement, own: Option<&'a Table>) -> Result<Update<'a>> {
        let ast = super::write_ast_for(ctx, stmt, own)?;
        let ast::Statement::Update(up) = ast.as_ref() else {
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
        let table = own.map_or_else(|| target_table(ctx, stmt), Ok)?;
        let d = ctx.dialect;
        let (relation, qual) = table_ref_qual(&up.table.relation)?;
        let mut from = super::inherit::relation(relation, own, &qual);
        let mut joined = false;
        if let Some(UpdateTableFromKind::AfterSet(f) | UpdateTableFromKind::BeforeSet(f)) = &up.from
        {
            for t in f {
                from.push_str(", ");
                from.push_str(&t.to_string());
            }
            // A chain's step joins each row to the one old key it holds
            // ([`super::chain`]): no row twice.
            joined = !f.is_empty() && ctx.step.is_none();
        }
        let assigned = assignments(ctx, table, &up.assignments)?;
        let (mut uctes, urec) = user_ctes(stmt);
        if let Some(step) = &ctx.step {
            uctes.insert(0, step.cte.clone());
        }
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
        // The primary key's values after the update, when the update moves
        // it, so the guarded apply can find each row's after-image.
        let pk_moves = table.primary_key.as_ref().filter(|pk| {
            pk.columns
                .iter()
                .any(|c| assigned.iter().any(|(a, _)| a == c))
        });
        let mut up = Update {
            ctx,
            table,
            d,
            from,
            joined,
            qual,
            assigned,
            uctes,
            urec,
            pred,
            ident_sel,
            ident_cols,
            m_cte: String::new(),
            with_m: String::new(),
            pk_moves,
        };
        // m is written with the methods above, so it is filled in last.
        up.m_cte = up.matched_cte();
        up.with_m = up.with(&[up.m_cte.clone()]);
        Ok(up)
    }

    /// The CTE `m` of matched rows with their `__changed` flag (and the
    /// moved primary key as `__k0, ...`).
    fn matched_cte(&self) -> String {
        let new_eq_old: Vec<String> = self
            .assigned
            .iter()
            .map(|(c, v)| self.d.not_distinct(v, &qcol(&self.qual, c)))
            .collect();
        let all_same = if new_eq_old.is_empty() {
            "TRUE".to_owned()
        } else {
            new_eq_old.join(" AND ")
        };
        let mut m_items = self.ident_sel.clone();
        if let Some(pk) = self.pk_moves {
            for (i, c) in pk.columns.iter().enumerate() {
                m_items.push(format!("{} AS __k{i}", self.new_value(c)));
            }
        }
        format!(
            "m AS (SELECT {}{}, CASE WHEN {all_same} THEN 0 ELSE 1 END AS __changed FROM {}{})",
            self.distinct(),
            m_items.join(", "),
            self.from,
            self.pred
        )
    }

    fn distinct(&self) -> &'static str {
        if self.joined { "DISTINCT " } else { "" }
    }

    /// `WITH` the user's CTEs and then `extra`.
    fn with(&self, extra: &[String]) -> String {
        let mut ctes = self.uctes.clone();
        ctes.extend_from_slice(extra);
        with_clause(&ctes, self.urec)
    }

    /// The value a column has after the update: its new expression if it
    /// is assigned, its current value otherwise.
    fn new_value(&self, col: &str) -> String {
        self.assigned
            .iter()
            .find(|(c, _)| c == col)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| qcol(&self.qual, col))
    }

    fn assigns(&self, col: &str) -> bool {
        self.assigned.iter().any(|(c, _)| c == col)
    }

    /// `a.<identity> = m.__i0 AND ...`: joins the table (as `a`) to `m`.
    fn join_m(&self) -> String {
        let on: Vec<String> = self
            .d
            .row_ident(self.table, "a")
            .iter()
            .zip(&self.ident_cols)
            .map(|(a, m)| format!("{a} = m.{m}"))
            .collect();
        on.join(" AND ")
    }

    // ---- the matched rows ----

    /// Matched and unchanged rows, and the fingerprint of which rows they
    /// are. Returns the matched and the changed counts.
    fn count_matched(
        &self,
        tx: &mut dyn PreviewTx,
        impact: &mut Impact,
    ) -> Result<(Option<u64>, Option<u64>)> {
        let counts = tx.query(&format!(
            "{}SELECT count(*), {} FROM m",
            self.with_m,
            self.d.count_where("__changed = 0")
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
                impact.bounded = false;
                (None, None)
            }
        };
        impact.target.rows = matched;
        impact.target.unchanged = unchanged;
        if matched.unwrap_or(1) > 0 {
            let fp = format!(
                "{}SELECT {} FROM {} AS a JOIN m ON {}",
                self.with_m,
                self.d.fingerprint(self.table, "a"),
                self.table.own_rows(),
                self.join_m()
            );
            impact.target.fingerprint = tx.query(&fp)?.and_then(|r| {
                r.rows
                    .first()
                    .and_then(|row| row.first().and_then(|v| v.text()))
            });
        }
        let changed = matched.zip(unchanged).map(|(m, u)| m.saturating_sub(u));
        Ok((matched, changed))
    }

    /// Before → after for the first rows.
    fn sample_changes(&self, tx: &mut dyn PreviewTx, impact: &mut Impact) -> Result<()> {
        let table = self.table;
        let key_cols: Vec<String> = match &table.primary_key {
            Some(pk) => pk.columns.clone(),
            None => display_columns(table, &[], 1),
        };
        let mut sel: Vec<String> = key_cols.iter().map(|c| qcol(&self.qual, c)).collect();
        for (c, v) in &self.assigned {
            sel.push(qcol(&self.qual, c));
            sel.push(v.clone());
        }
        let sql = format!(
            "{}SELECT {} FROM {}{}{} LIMIT {}",
            self.with(&[]),
            sel.join(", "),
            self.from,
            self.pred,
            sample_order(self.d, table, &self.qual),
            self.ctx.options.sample_rows
        );
        let rows = tx.query(&sql)?.unwrap_or_default();
        let names: Vec<String> = self.assigned.iter().map(|(c, _)| c.clone()).collect();
        impact.target.changes = changed_rows(&rows, key_cols.len(), &names);
        Ok(())
    }

    // ---- checks on the new values ----

    /// Outgoing keys: new values must exist in the parent.
    fn check_outgoing_keys(&self, tx: &mut dyn PreviewTx, impact: &mut Impact) -> Result<()> {
        let table = self.table;
        for fk in &table.foreign_keys {
            // A chain's step writes what its key's parent rows hold once
            // the statement has changed them ([`super::chain`]).
            if !fk.columns.iter().any(|c| self.assigns(c))
                || self.ctx.step.as_ref().is_some_and(|s| s.via == fk.name)
            {
                continue;
            }
            let Some(parent) = self.ctx.schema.get(&fk.ref_table) else {
                continue;
            };
            // The new values are computed first and only then compared, so
            // a bare column name in them cannot be captured by the parent
            // table.
            let projected: Vec<String> = fk
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{} AS __n{i}", self.new_value(c)))
                .collect();
            let not_null: Vec<String> = (0..fk.columns.len())
                .map(|i| format!("s.__n{i} IS NOT NULL"))
                .collect();
            super::match_full::check(
                tx,
                impact,
                ("update", &table.name),
                fk,
                &not_null,
                |mixed| {
                    format!(
                        "{}SELECT count(*) FROM (SELECT {} FROM {}{}) AS s WHERE {mixed}",
                        self.with(&[]),
                        projected.join(", "),
                        self.from,
                        self.pred,
                    )
                },
            )?;
            if self.checks_own_key(fk) {
                continue;
            }
            let missing = self.parent_missing(fk, &parent.name);
            let sql = format!(
                "{}SELECT count(*) FROM (SELECT {} FROM {}{}) AS s WHERE {} AND {missing}",
                self.with_m,
                projected.join(", "),
                self.from,
                self.pred,
                not_null.join(" AND "),
            );
            let n = tx.count(&sql)?;
            impact.bounded &= n.is_some();
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
        Ok(())
    }

    /// The condition that no row of `parent` holds the key `s.__n0, ...`
    /// of `fk` once the statement is done: [`Self::self_parent_after`] for
    /// a key into this table, the table as it stands otherwise.
    fn parent_missing(&self, fk: &crate::schema::ForeignKey, parent: &QualName) -> String {
        self.self_parent_after(fk, &new_key_eq(fk))
            .unwrap_or_else(|| format!("NOT {}", self.held_before(fk, parent)))
    }

    /// The condition that a row of `parent` holds the key `s.__n0, ...` of
    /// `fk` as the table stands, before the statement.
    fn held_before(&self, fk: &crate::schema::ForeignKey, parent: &QualName) -> String {
        format!(
            "EXISTS (SELECT 1 FROM {} AS p WHERE {})",
            self.ctx.schema.own_rows(parent),
            new_key_eq(fk).join(" AND ")
        )
    }

    /// The statement's rows (`FROM` and `WHERE` as written) that also
    /// satisfy `cond`.
    fn rows_where(&self, cond: &str) -> String {
        let glue = if self.pred.is_empty() { "WHERE" } else { "AND" };
        format!("{}{} {glue} {cond}", self.from, self.pred)
    }

    /// For a key into the updated table itself, the condition that no row
    /// holds the new value (`s.__n0, ...`) once the statement is done: a
    /// row it leaves alone with that key, or a row it gives that key (a
    /// row re-pointed at its own new key, children re-pointed with their
    /// parents); a row whose key it changes away is no parent. PostgreSQL
    /// and SQLite check such a key at the end of the statement. `None`
    /// for a key into another table, or an UPDATE ... FROM, where the
    /// table as it stands decides.
    fn self_parent_after(&self, fk: &crate::schema::ForeignKey, eq: &[String]) -> Option<String> {
        if fk.ref_table != self.table.name || self.joined {
            return None;
        }
        let m_ident = self.ident_cols.join(", ");
        let kept = format!(
            "SELECT 1 FROM {} AS p WHERE {} AND {} NOT IN (SELECT {m_ident} FROM m)",
            self.table.own_rows(),
            eq.join(" AND "),
            tuple(&self.d.row_ident(self.table, "p"))
        );
        let moved_eq: Vec<String> = fk
            .ref_columns
            .iter()
            .enumerate()
            .map(|(i, rc)| {
                // With the key column's affinity, as the engine looks a
                // value up in the key (SQLite finds '2' in an INTEGER key
                // as 2): two computed values compare with none.
                let t = self.table.column(rc).map_or("", |c| c.type_name.as_str());
                let (new, _) = self.d.with_affinity(&self.new_value(rc), t);
                format!("{new} = s.__n{i}")
            })
            .collect();
        // Over the statement's own FROM: a chain's step reads its new
        // values through its join ([`super::chain`]).
        let moved = format!(
            "SELECT 1 FROM {}{} {} {} IN (SELECT {m_ident} FROM m) AND {}",
            self.from,
            self.pred,
            if self.pred.is_empty() { "WHERE" } else { "AND" },
            tuple(&self.d.row_ident(self.table, &self.qual)),
            moved_eq.join(" AND "),
        );
        Some(format!("NOT EXISTS ({kept}) AND NOT EXISTS ({moved})"))
    }

    /// NOT NULL columns must not be given NULL.
    fn check_not_null(&self, tx: &mut dyn PreviewTx, impact: &mut Impact) -> Result<()> {
        for (col, value) in &self.assigned {
            if !self.table.column(col).is_some_and(|c| c.not_null) {
                continue;
            }
            let n = tx.count(&format!(
                "{}SELECT count(*) FROM (SELECT {value} AS v FROM {}{}) AS s WHERE s.v IS NULL",
                self.with(&[]),
                self.from,
                self.pred
            ))?;
            impact.bounded &= n.is_some();
            if let Some(n) = n.filter(|&n| n > 0) {
                impact.failures.push(format!(
                    "cannot update {}: {n} row{} would set the NOT NULL column {col} to NULL",
                    self.table.name,
                    if n == 1 { "" } else { "s" }
                ));
            }
        }
        Ok(())
    }

    /// CHECK constraints on each updated row as the statement leaves it,
    /// which both engines evaluate before the row is stored.
    fn check_constraints(&self, tx: &mut dyn PreviewTx, impact: &mut Impact) -> Result<()> {
        let (with, from) = (self.with(&[]), format!("{}{}", self.from, self.pred));
        let rows = super::checks::Written {
            table: self.table,
            with: &with,
            from: &from,
            values: super::checks::row_values(self.table, &self.qual, &self.assigned),
        };
        super::checks::violations(tx, &rows, "update", impact)
    }

    /// Unique keys: the new values must not collide with rows that keep
    /// theirs, nor with each other.
    fn check_unique_keys(&self, tx: &mut dyn PreviewTx, impact: &mut Impact) -> Result<()> {
        let table = self.table;
        let keys = table
            .primary_key
            .iter()
            .chain(table.unique.iter())
            .filter(|k| k.columns.iter().any(|c| self.assigns(c)));
        for key in keys {
            self.check_unique_key(tx, key, impact)?;
        }
        Ok(())
    }

    fn check_unique_key(
        &self,
        tx: &mut dyn PreviewTx,
        key: &Key,
        impact: &mut Impact,
    ) -> Result<()> {
        let table = self.table;
        let nk = self.new_keys(key);
        let collide = tx.count(&format!(
            "{}SELECT count(*) FROM nk WHERE {} AND EXISTS (SELECT 1 FROM {} AS t WHERE {} AND NOT ({}))",
            nk.with,
            nk.not_null,
            table.own_rows(),
            nk.eq,
            nk.t_in_nk
        ))?;
        let dups = tx.count(&format!(
            "{}SELECT count(*) FROM (SELECT 1 FROM nk WHERE {} GROUP BY {} HAVING count(*) > 1) AS d",
            nk.with,
            nk.not_null,
            nk.key_cols.join(", ")
        ))?;
        impact.bounded &= collide.is_some() && dups.is_some();
        let (collide, dups) = (collide.unwrap_or(0), dups.unwrap_or(0));
        if collide > 0 || dups > 0 {
            impact.failures.push(format!(
                "cannot update {}: {} on key {} ({})",
                table.name,
                collision(collide, dups),
                key.name,
                key.columns.join(", ")
            ));
            return Ok(());
        }
        // A new key equal to another updated row's old key works only if
        // that row moves first: the engines check unique keys row by row.
        let (shifts, cycles) = self.key_shifts(tx, &nk)?;
        impact.bounded &= shifts.is_some() && cycles.is_some();
        let Some(n) = shifts.filter(|&n| n > 0) else {
            return Ok(());
        };
        let what = format!(
            "{n} row{} would take a key ({}) that another updated row still holds, and unique key {} is checked row by row",
            if n == 1 { "" } else { "s" },
            key.columns.join(", "),
            key.name
        );
        match cycles {
            // Rows that trade keys in a ring fail whatever the order.
            Some(c) if c > 0 => impact.failures.push(format!(
                "cannot update {}: {what}, and {c} of them trade keys in a cycle, which fails in every order",
                table.name
            )),
            // A chain works if the engine happens to move its last row
            // first: that depends on the physical order of the rows.
            _ => impact.warnings.push(format!(
                "may fail: updating {}, {what}: it works only if the engine happens to visit the rows in the right order",
                table.name
            )),
        }
        Ok(())
    }

    /// How many updated rows take a key another updated row still holds,
    /// and how many of those lie on a cycle. Each row takes at most one
    /// other's key and gives its own to at most one, so the moves form
    /// chains and rings: walking every chain from its start leaves exactly
    /// the ring rows unvisited.
    fn key_shifts(
        &self,
        tx: &mut dyn PreviewTx,
        nk: &NewKeys,
    ) -> Result<(Option<u64>, Option<u64>)> {
        let t_ident = self.d.row_ident(self.table, "t");
        let src: Vec<String> = (0..self.ident_cols.len())
            .map(|i| format!("__s{i}"))
            .collect();
        let dst: Vec<String> = (0..t_ident.len()).map(|i| format!("__d{i}")).collect();
        let nk_ident: Vec<String> = self.ident_cols.iter().map(|c| format!("nk.{c}")).collect();
        let mut sel: Vec<String> = nk_ident
            .iter()
            .zip(&src)
            .map(|(c, a)| format!("{c} AS {a}"))
            .collect();
        sel.extend(t_ident.iter().zip(&dst).map(|(c, a)| format!("{c} AS {a}")));
        let edges = format!(
            "__e AS (SELECT {} FROM nk JOIN {} AS t ON {} AND {} AND NOT ({} = {}) WHERE {})",
            sel.join(", "),
            self.table.own_rows(),
            nk.eq,
            nk.t_in_nk,
            tuple(&t_ident),
            tuple(&nk_ident),
            nk.not_null
        );
        let cols: Vec<String> = src.iter().chain(&dst).cloned().collect();
        let e_cols: Vec<String> = cols.iter().map(|c| format!("__e.{c}")).collect();
        let walk = format!(
            "__w({all}) AS (SELECT {all} FROM __e WHERE {s} NOT IN (SELECT {d} FROM __e) UNION ALL SELECT {e_all} FROM __w JOIN __e ON {es} = {wd})",
            all = cols.join(", "),
            s = tuple(&src),
            d = dst.join(", "),
            e_all = e_cols.join(", "),
            es = tuple(&src.iter().map(|c| format!("__e.{c}")).collect::<Vec<_>>()),
            wd = tuple(&dst.iter().map(|c| format!("__w.{c}")).collect::<Vec<_>>()),
        );
        let mut ctes = self.uctes.clone();
        ctes.extend([nk.cte.clone(), edges, walk]);
        let with = with_clause(&ctes, true);
        // Edges, and rows with more than one new key: a row an UPDATE ...
        // FROM matches twice may take either, so which ring it is on
        // depends on the join order, and no ring is certain.
        let shifts = tx.count(&format!("{with}SELECT count(*) FROM __e"))?;
        if shifts.is_none_or(|n| n == 0) {
            return Ok((shifts, Some(0)));
        }
        let branching = tx.count(&format!(
            "{with}SELECT count(*) - (SELECT count(*) FROM (SELECT DISTINCT {} FROM nk) AS __u) FROM nk",
            self.ident_cols.join(", ")
        ))?;
        match (shifts, branching) {
            (Some(n), Some(0)) if n <= RING_WALK_LIMIT => {}
            _ => return Ok((shifts, Some(0))),
        }
        let cycles = tx.count(&format!(
            "{with}SELECT (SELECT count(*) FROM __e) - (SELECT count(*) FROM __w)"
        ))?;
        Ok((shifts, cycles))
    }

    /// The CTE `nk` of each matched row's identity and its new values of
    /// `key`, and the conditions the unique-key checks build on it.
    fn new_keys(&self, key: &Key) -> NewKeys {
        let mut sel = self.ident_sel.clone();
        let key_cols: Vec<String> = (0..key.columns.len()).map(|i| format!("__k{i}")).collect();
        for (i, c) in key.columns.iter().enumerate() {
            sel.push(format!("{} AS __k{i}", self.new_value(c)));
        }
        let cte = format!(
            "nk AS (SELECT {}{} FROM {}{})",
            self.distinct(),
            sel.join(", "),
            self.from,
            self.pred
        );
        let with = self.with(std::slice::from_ref(&cte));
        let not_null: Vec<String> = key_cols
            .iter()
            .map(|k| format!("nk.{k} IS NOT NULL"))
            .collect();
        let eq: Vec<String> = key
            .columns
            .iter()
            .zip(&key_cols)
            .map(|(c, k)| format!("{} = nk.{k}", qcol("t", c)))
            .collect();
        let t_in_nk = format!(
            "{} IN (SELECT {} FROM nk)",
            tuple(&self.d.row_ident(self.table, "t")),
            self.ident_cols.join(", ")
        );
        NewKeys {
            with,
            cte,
            key_cols,
            not_null: not_null.join(" AND "),
            eq: eq.join(" AND "),
            t_in_nk,
        }
    }
}

/// The `nk` CTE of one unique key and the conditions over it.
struct NewKeys {
    /// `WITH` the user's CTEs and `nk`.
    with: String,
    /// The CTE `nk` itself.
    cte: String,
    /// `__k0, __k1, ...`: the new key values in `nk`.
    key_cols: Vec<String>,
    /// The new key has no NULL.
    not_null: String,
    /// The table's row `t` has the new key.
    eq: String,
    /// The table's row `t` is one of the updated rows.
    t_in_nk: String,
}

/// `p.<key column> = s.__n<i>` for each column of `fk`'s key.
fn new_key_eq(fk: &crate::schema::ForeignKey) -> Vec<String> {
    fk.ref_columns
        .iter()
        .enumerate()
        .map(|(i, rc)| format!("{} = s.__n{i}", qcol("p", rc)))
        .collect()
}

/// How new key values clash: with rows that keep theirs (`collide`), or
/// among themselves (`dups`).
fn collision(collide: u64, dups: u64) -> String {
    match (collide, dups) {
        (c, 0) => format!(
            "{c} row{} would take a key another row has",
            if c == 1 { "" } else { "s" }
        ),
        (0, n) => format!(
            "{n} new key value{} would repeat",
            if n == 1 { "" } else { "s" }
        ),
        (c, n) => {
            format!("{c} rows would take keys other rows have and {n} new values would repeat")
        }
    }
}

/// The assignments as (column, new value cast to the column type).
fn assignments(
    ctx: &Context<'_>,
    table: &Table,
    assignments: &[ast::Assignment],
) -> Result<Vec<(String, String)>> {
    let mut assigned = Vec::new();
    for a in assignments {
        let AssignmentTarget::ColumnName(name) = &a.target else {
            return Err(Error::refused(
                "UPDATE ... SET (a, b) = (...) cannot be previewed yet\nAssign the columns one by one.",
            ));
        };
        // `SET w.balance = 0` assigns a field of the composite column `w`:
        // taken for the column `balance`, the preview showed another change.
        let [part] = name.0.as_slice() else {
            return Err(Error::refused(format!(
                "cannot preview SET {name} = ...: it assigns a field of a composite column, which dbguard does not preview yet; nothing was changed\nAssign the whole column: SET col = ROW(...)"
            )));
        };
        let ident = part
            .as_ident()
            .ok_or_else(|| Error::refused("unsupported assignment target"))?;
        let col = resolve_column(ctx, table, ident)?;
        let type_name = table
            .column(&col)
            .map(|c| c.type_name.clone())
            .unwrap_or_default();
        if matches!(a.value, ast::Expr::Identifier(ref i) if i.value.eq_ignore_ascii_case("default") && i.quote_style.is_none())
        {
            return Err(Error::refused(
                "UPDATE ... SET col = DEFAULT cannot be previewed yet",
            ));
        }
        assigned.push((col, ctx.dialect.cast(&a.value.to_string(), &type_name)));
    }
    Ok(assigned)
}
