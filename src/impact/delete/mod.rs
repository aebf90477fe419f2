//! DELETE previews: the cascade closure over the foreign-key graph.
//!
//! Every table a delete can reach through `ON DELETE CASCADE` (the graph
//! of [`super::cascade`]) gets a CTE holding the identities (and the
//! referenced key columns) of its rows that will be deleted, defined from
//! its parents' CTEs. Tables outside cycles
//! form a chain in topological order, so each set is computed once and
//! joined with hash semi-joins, like hand-written `IN (SELECT ...)`
//! queries. A cycle of tables (a self-reference, or two tables pointing at
//! each other) gets one recursive closure whose `UNION` makes it a fixed
//! point on row sets: it ends however the rows are linked, and a row
//! reached twice counts once.
//!
//! Every other edge out of a deleted table is then one query: `SET NULL`
//! and `SET DEFAULT` rows, `RESTRICT`/`NO ACTION` blockers (referencing rows
//! that are not themselves deleted), and dangling association rows.

use std::collections::{BTreeMap, HashMap};

use sqlparser::ast::{self, FromTable};

use super::cascade::{Edge, Graph};
use super::{
    Action, Context, Effect, Impact, Totals, add_trigger_effects, display_columns, empty_impact,
    qcol, sample_order, table_ref_qual, target_table, user_ctes, with_clause, write_ast_for,
};
use crate::db::dialect::{ClosureStep, RefCheck, tuple};
use crate::db::{PreviewTx, Rows, Value, count_of};
use crate::error::{Error, Result};
use crate::schema::{Schema, Table, quote_ident};
use crate::sql::Statement;

mod queue;
mod set_actions;
use set_actions::{
    chain_steps, check_action_rows, check_own_references, check_set_default, check_set_null,
    count_set_rows,
};

/// A CTE the counting queries may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Node {
    /// The rows the statement itself matches.
    Target,
    /// The deleted rows of a table.
    Deleted(usize),
    /// The recursive closure of a cyclic component.
    Closure(usize),
    /// The deleted rows of a table outside any cycle, each with the depth
    /// it is deleted at (see [`queue`]).
    Depth(usize),
}

/// Writes the counting SQL for one DELETE.
struct Sql<'a> {
    schema: &'a Schema,
    ctx: &'a Context<'a>,
    g: &'a Graph,
    /// `FROM` text of the target: relation (with alias) and USING list.
    from: String,
    /// How the statement refers to the target table (alias or name).
    qual: String,
    pred: Option<String>,
    distinct: bool,
    user_ctes: Vec<String>,
    user_recursive: bool,
    /// Columns each deleted table's CTE carries for its children.
    carried: HashMap<usize, Vec<String>>,
}

impl Sql<'_> {
    fn table(&self, x: usize) -> &Table {
        &self.schema.tables[x]
    }

    fn alias(x: usize) -> String {
        format!("t{x}")
    }

    fn ident(&self, x: usize, qual: &str) -> Vec<String> {
        self.ctx.dialect.row_ident(self.table(x), qual)
    }

    fn ident_cols(&self, x: usize) -> Vec<String> {
        (0..self.ident(x, "q").len())
            .map(|i| format!("__i{i}"))
            .collect()
    }

    fn name(&self, n: Node) -> String {
        match n {
            Node::Target => {
                if self.g.is_cyclic(self.g.target) {
                    "dt".to_owned()
                } else {
                    format!("d{}", self.g.target)
                }
            }
            Node::Deleted(x) if x == self.g.target && !self.g.is_cyclic(x) => {
                self.name(Node::Target)
            }
            Node::Deleted(x) => format!("d{x}"),
            Node::Closure(k) => format!("r{k}"),
            Node::Depth(x) => format!("__l{x}"),
        }
    }

    fn deps(&self, n: Node) -> Vec<Node> {
        match n {
            Node::Target => Vec::new(),
            Node::Depth(x) if x == self.g.target => vec![Node::Target],
            Node::Depth(x) => self
                .g
                .cascade_into(x)
                .map(|e| Node::Depth(e.parent))
                .collect(),
            Node::Deleted(x) if x == self.g.target && !self.g.is_cyclic(x) => vec![Node::Target],
            Node::Deleted(x) => {
                if self.g.is_cyclic(x) {
                    vec![Node::Closure(self.g.scc_of[&x])]
                } else {
                    self.g
                        .cascade_into(x)
                        .map(|e| Node::Deleted(e.parent))
                        .collect()
                }
            }
            Node::Closure(k) => {
                let mut d = Vec::new();
                for &x in &self.g.sccs[k] {
                    if x == self.g.target {
                        d.push(Node::Target);
                    }
                    for e in self.g.cascade_into(x) {
                        if self.g.scc_of.get(&e.parent) != Some(&k) {
                            d.push(Node::Deleted(e.parent));
                        }
                    }
                }
                d
            }
        }
    }

    /// `child cols IN (SELECT parent cols FROM d_parent)` for an edge.
    fn member(&self, e: &Edge, qual: &str) -> String {
        let parent = self.name(Node::Deleted(e.parent));
        let pcols: Vec<String> = e.parent_cols.iter().map(|c| quote_ident(c)).collect();
        if e.array {
            let sub = format!("SELECT {} FROM {parent}", pcols.join(", "));
            if let Some(sql) =
                self.ctx
                    .dialect
                    .array_overlaps(&qcol(qual, &e.child_cols[0]), &e.elem_type, &sub)
            {
                return sql;
            }
        }
        let (child, parent_table) = (self.table(e.child), self.table(e.parent));
        let ccols: Vec<String> = e
            .child_cols
            .iter()
            .zip(&e.parent_cols)
            .map(|(c, p)| {
                self.ctx
                    .dialect
                    .as_key_of(&qcol(qual, c), child.column(c), parent_table.column(p))
            })
            .collect();
        format!(
            "{} IN (SELECT {} FROM {parent})",
            tuple(&ccols),
            pcols.join(", ")
        )
    }

    /// `child key = parent key` for each column pair of `e`, the child as
    /// `qual` (with the parent column's collation where the engine matches
    /// by it) and the parent as `parent`.
    fn key_equals(&self, e: &Edge, qual: &str, parent: &str) -> Vec<String> {
        let (child_table, parent_table) = (self.table(e.child), self.table(e.parent));
        e.child_cols
            .iter()
            .zip(&e.parent_cols)
            .map(|(c, p)| {
                let key = self.ctx.dialect.as_key_of(
                    &qcol(qual, c),
                    child_table.column(c),
                    parent_table.column(p),
                );
                format!("{key} = {parent}.{}", quote_ident(p))
            })
            .collect()
    }

    /// The row `qual` of table `x` is among its deleted rows.
    fn is_deleted(&self, x: usize, qual: &str) -> String {
        self.is_in(x, qual, Node::Deleted(x))
    }

    /// The row `qual` of table `x` is among the rows of CTE `n` (which
    /// carries `x`'s row identities).
    fn is_in(&self, x: usize, qual: &str, n: Node) -> String {
        format!(
            "{} IN (SELECT {} FROM {})",
            tuple(&self.ident(x, qual)),
            self.ident_cols(x).join(", "),
            self.name(n)
        )
    }

    fn select_list(&self, x: usize, qual: &str) -> String {
        let mut items: Vec<String> = self
            .ident(x, qual)
            .into_iter()
            .enumerate()
            .map(|(i, e)| format!("{e} AS __i{i}"))
            .collect();
        for c in self.carried.get(&x).into_iter().flatten() {
            items.push(format!("{} AS {}", qcol(qual, c), quote_ident(c)));
        }
        items.join(", ")
    }

    fn def(&self, n: Node) -> String {
        let name = self.name(n);
        match n {
            Node::Target => {
                let t = self.g.target;
                format!(
                    "{name} AS (SELECT {}{} FROM {}{})",
                    if self.distinct { "DISTINCT " } else { "" },
                    self.select_list(t, &self.qual),
                    self.from,
                    self.pred
                        .as_ref()
                        .map(|p| format!(" WHERE {p}"))
                        .unwrap_or_default()
                )
            }
            Node::Deleted(x) => {
                let a = Self::alias(x);
                let cond = if self.g.is_cyclic(x) {
                    let k = self.g.scc_of[&x];
                    self.ctx
                        .dialect
                        .in_closure(&self.ident(x, &a), &self.name(Node::Closure(k)), x)
                } else {
                    let conds: Vec<String> =
                        self.g.cascade_into(x).map(|e| self.member(e, &a)).collect();
                    conds.join(" OR ")
                };
                format!(
                    "{name} AS (SELECT {} FROM {} AS {a} WHERE {cond})",
                    self.select_list(x, &a),
                    self.table(x).own_rows()
                )
            }
            Node::Closure(k) => {
                let mut seeds = Vec::new();
                let mut steps = Vec::new();
                for &x in &self.g.sccs[k] {
                    if x == self.g.target {
                        seeds.push(self.ctx.dialect.closure_seed(
                            x,
                            &self.ident_cols(x),
                            &format!("FROM {}", self.name(Node::Target)),
                        ));
                    }
                    for e in self.g.cascade_into(x) {
                        if self.g.scc_of.get(&e.parent) == Some(&k) {
                            steps.push(ClosureStep {
                                parent_tag: e.parent,
                                parent_sql: self.table(e.parent).own_rows(),
                                child_tag: e.child,
                                child_sql: self.table(e.child).own_rows(),
                                pairs: e
                                    .child_cols
                                    .iter()
                                    .cloned()
                                    .zip(e.parent_cols.iter().cloned())
                                    .collect(),
                                parent_ident: self.ident(e.parent, "p"),
                                child_ident: self.ident(e.child, "c"),
                            });
                        } else {
                            seeds.push(self.ctx.dialect.closure_seed(
                                x,
                                &self.ident(x, "s"),
                                &format!(
                                    "FROM {} AS s WHERE {}",
                                    self.table(x).own_rows(),
                                    self.member(e, "s")
                                ),
                            ));
                        }
                    }
                }
                self.ctx.dialect.closure_cte(&name, &seeds, &steps)
            }
            Node::Depth(x) => queue::depth_def(self, x),
        }
    }

    /// `WITH ...` defining `needed` and everything they depend on.
    fn with(&self, needed: &[Node]) -> String {
        let mut order: Vec<Node> = Vec::new();
        fn walk(s: &Sql<'_>, n: Node, order: &mut Vec<Node>) {
            if order.contains(&n) {
                return;
            }
            for d in s.deps(n) {
                walk(s, d, order);
            }
            // Deleted(target) outside cycles is the target CTE itself.
            if !(matches!(n, Node::Deleted(x) if x == s.g.target && !s.g.is_cyclic(x)))
                && !order.contains(&n)
            {
                order.push(n);
            }
        }
        for &n in needed {
            walk(self, n, &mut order);
        }
        let recursive = self.user_recursive || order.iter().any(|n| matches!(n, Node::Closure(_)));
        let mut ctes = self.user_ctes.clone();
        ctes.extend(order.into_iter().map(|n| self.def(n)));
        with_clause(&ctes, recursive)
    }

    fn count(&self, tx: &mut dyn PreviewTx, needed: &[Node], body: &str) -> Result<Option<u64>> {
        let sql = format!("{}SELECT count(*) FROM {body}", self.with(needed));
        tx.count(&sql)
    }

    fn sample(
        &self,
        tx: &mut dyn PreviewTx,
        needed: &[Node],
        x: usize,
        focus: &[String],
        cond: &str,
    ) -> Result<Rows> {
        let n = self.ctx.options.sample_rows;
        if n == 0 {
            return Ok(Rows::default());
        }
        let a = Self::alias(x);
        let shown = display_columns(self.table(x), focus, 5);
        let cols: Vec<String> = shown.iter().map(|c| qcol(&a, c)).collect();
        let sql = format!(
            "{}SELECT {} FROM {} AS {a} WHERE {cond}{} LIMIT {n}",
            self.with(needed),
            cols.join(", "),
            self.table(x).own_rows(),
            sample_order(self.ctx.dialect, self.table(x), &a)
        );
        Ok(tx.query(&sql)?.unwrap_or_default())
    }
}

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
    let ast = write_ast_for(ctx, stmt, own)?;
    let ast::Statement::Delete(del) = ast.as_ref() else {
        return Err(Error::refused("not a DELETE statement"));
    };
    if !del.order_by.is_empty() || del.limit.is_some() {
        return Err(Error::refused(
            "DELETE ... ORDER BY/LIMIT cannot be previewed exactly\nSelect the rows with a WHERE clause instead.",
        ));
    }
    let named = target_table(ctx, stmt)?;
    let table = own.unwrap_or(named);
    let target = ctx
        .schema
        .index_of(&table.name)
        .ok_or_else(|| Error::refused("target table vanished from the schema"))?;
    let (from, qual, distinct) = target_from(del, own)?;
    let g = Graph::build(ctx, target);
    let (user_ctes, user_recursive) = user_ctes(stmt);
    let sql = Sql {
        schema: ctx.schema,
        ctx,
        g: &g,
        from,
        qual,
        pred: del.selection.as_ref().map(|e| e.to_string()),
        distinct,
        user_ctes,
        user_recursive,
        carried: carried_columns(&g),
    };
    let with = super::with_clause(&sql.user_ctes, sql.user_recursive);
    if own.is_none() {
        let others = super::inherit::others_written(
            tx,
            ctx,
            table,
            (&with, &sql.from, &sql.qual),
            sql.pred.as_deref(),
        )?;
        if !others.is_empty() {
            return super::inherit::each_table(tx, ctx, table, &others, &mut |tx, t| {
                analyze_as(tx, ctx, stmt, Some(t))
            });
        }
    }
    let mut impact = empty_impact(stmt, table);
    let target_rows = count_target(tx, &sql, &mut impact)?;
    if ctx.options.target_only {
        return Ok(impact);
    }
    // With USING, which rows are "outside" the WHERE is not one table's
    // question; the WHERE stands.
    if let Some(pred) = sql
        .pred
        .as_deref()
        .filter(|_| !sql.distinct && ctx.options.judge_where)
        && target_rows.unwrap_or(0) > 0
    {
        let pred = super::inherit::own_rows_only(ctx, table, &sql.qual, pred);
        impact.covers_every_row = super::covers_every_row(tx, &with, &sql.from, &pred)?;
    }
    let deleted_rows = count_deleted(tx, &sql, target_rows, &mut impact)?;
    for e in &g.edges {
        follow_edge(tx, &sql, e, &deleted_rows, &mut impact)?;
    }
    // SET DEFAULT: the default must still find a parent row.
    for e in g.edges.iter().filter(|e| e.action == Action::SetDefault) {
        check_set_default(tx, &sql, e, &deleted_rows, &mut impact)?;
    }
    for e in g
        .edges
        .iter()
        .filter(|e| matches!(e.action, Action::SetNull | Action::SetDefault))
    {
        check_set_null(tx, &sql, e, &deleted_rows, &mut impact)?;
    }
    for e in g
        .edges
        .iter()
        .filter(|e| matches!(e.action, Action::SetNull | Action::SetDefault))
    {
        check_action_rows(tx, &sql, e, &deleted_rows, &mut impact)?;
        check_own_references(tx, &sql, e, &deleted_rows, &mut impact)?;
    }
    let mut totals: BTreeMap<usize, Totals> = BTreeMap::new();
    for (&x, n) in &deleted_rows {
        totals.entry(x).or_default().delete = n.unwrap_or(0);
    }
    count_set_rows(tx, &sql, &deleted_rows, &mut totals, &mut impact)?;
    let steps = chain_steps(tx, &sql, &impact)?;
    push_deleted_row_sets(&sql, &deleted_rows, &mut impact);
    impact.totals = totals
        .into_iter()
        .map(|(x, t)| (sql.table(x).name.clone(), t))
        .collect();
    impact.totals.entry(table.name.clone()).or_default();
    impact.will_fail = !impact.failures.is_empty();
    set_actions::follow_steps(tx, &sql, steps, &mut impact)?;
    let depth_of = |q: &crate::schema::QualName| {
        ctx.schema
            .index_of(q)
            .and_then(|i| g.depth.get(&i).copied())
            .unwrap_or(1)
    };
    add_trigger_effects(&mut impact, ctx, &depth_of, table.name != named.name);
    Ok(impact)
}

/// The `FROM` text of the target (relation with alias, or `own`'s own
/// rows under the statement's qualifier, and the `USING` list), how the
/// statement names the target, and whether `USING` may join a row twice.
fn target_from(del: &ast::Delete, own: Option<&Table>) -> Result<(String, String, bool)> {
    let from = match &del.from {
        FromTable::WithFromKeyword(v) | FromTable::WithoutKeyword(v) => v,
    };
    let relation = &from
        .first()
        .ok_or_else(|| Error::refused("DELETE without a table"))?
        .relation;
    let (written, qual) = table_ref_qual(relation)?;
    let mut from_sql = super::inherit::relation(written, own, &qual);
    let mut distinct = false;
    if let Some(using) = &del.using {
        for u in using {
            from_sql.push_str(", ");
            from_sql.push_str(&u.to_string());
        }
        distinct = !using.is_empty();
    }
    Ok((from_sql, qual, distinct))
}

/// The key columns each deleted table's CTE carries, so its children can
/// be matched against them.
fn carried_columns(g: &Graph) -> HashMap<usize, Vec<String>> {
    let mut carried: HashMap<usize, Vec<String>> = HashMap::new();
    for e in &g.edges {
        let v = carried.entry(e.parent).or_default();
        for c in &e.parent_cols {
            if !v.contains(c) {
                v.push(c.clone());
            }
        }
    }
    carried
}

/// Target rows, the fingerprint of which rows they are, and a sample.
///
/// When the fingerprint reads only the primary key and the target CTE
/// already carries it (to follow the foreign keys), one pass over the CTE
/// gives count and fingerprint, where joining the table back was a second
/// query ([`Dialect::fingerprints_by_key`](crate::db::dialect::Dialect::fingerprints_by_key)).
fn count_target(tx: &mut dyn PreviewTx, sql: &Sql<'_>, impact: &mut Impact) -> Result<Option<u64>> {
    let target = sql.g.target;
    let table = sql.table(target);
    let d = sql.ctx.dialect;
    let target_name = sql.name(Node::Target);
    let a = Sql::alias(target);
    let key_carried = d.fingerprints_by_key(table)
        && table.primary_key.as_ref().is_some_and(|pk| {
            pk.columns
                .iter()
                .all(|c| sql.carried.get(&target).is_some_and(|v| v.contains(c)))
        });
    let in_target = sql.is_in(target, &a, Node::Target);
    let (target_rows, fingerprint) = if key_carried {
        let both = format!(
            "{}SELECT count(*), {} FROM {target_name} AS {a}",
            sql.with(&[Node::Target]),
            d.fingerprint(table, &a),
        );
        match tx.query(&both)? {
            None => (None, None),
            Some(r) => {
                let row = r.rows.first();
                (
                    Some(count_of(row.and_then(|row| row.first()))?),
                    row.and_then(|row| row.get(1)).and_then(Value::text),
                )
            }
        }
    } else {
        let n = sql.count(tx, &[Node::Target], &target_name)?;
        let fp = if n.unwrap_or(1) > 0 {
            let fp = format!(
                "{}SELECT {} FROM {} AS {a} WHERE {in_target}",
                sql.with(&[Node::Target]),
                d.fingerprint(table, &a),
                table.own_rows(),
            );
            tx.query(&fp)?.and_then(|r| {
                r.rows
                    .first()
                    .and_then(|row| row.first().and_then(|v| v.text()))
            })
        } else {
            None
        };
        (n, fp)
    };
    impact.bounded &= target_rows.is_some();
    impact.target.rows = target_rows;
    if target_rows.unwrap_or(1) > 0 {
        impact.target.fingerprint = fingerprint;
        impact.target.sample = sql.sample(tx, &[Node::Target], target, &[], &in_target)?;
    }
    Ok(target_rows)
}

/// Deleted rows per table (distinct, whatever the paths).
fn count_deleted(
    tx: &mut dyn PreviewTx,
    sql: &Sql<'_>,
    target_rows: Option<u64>,
    impact: &mut Impact,
) -> Result<BTreeMap<usize, Option<u64>>> {
    let g = sql.g;
    let mut deleted_rows: BTreeMap<usize, Option<u64>> = BTreeMap::new();
    for &x in &g.deleted {
        let n = if x == g.target && !g.is_cyclic(x) {
            target_rows
        } else {
            sql.count(tx, &[Node::Deleted(x)], &sql.name(Node::Deleted(x)))?
        };
        impact.bounded &= n.is_some();
        deleted_rows.insert(x, n);
    }
    Ok(deleted_rows)
}

/// Counts the rows one edge reaches and adds its effect (with a sample),
/// and the failure when they block the delete.
fn follow_edge(
    tx: &mut dyn PreviewTx,
    sql: &Sql<'_>,
    e: &Edge,
    deleted_rows: &BTreeMap<usize, Option<u64>>,
    impact: &mut Impact,
) -> Result<()> {
    let g = sql.g;
    let c = e.child;
    let ca = Sql::alias(c);
    let (cond, needed) = edge_cond(sql, e, deleted_rows.contains_key(&c));
    let single_path = e.action == Action::Cascade
        && !g.is_cyclic(c)
        && c != g.target
        && g.cascade_into(c).count() == 1;
    let rows = if single_path {
        deleted_rows.get(&c).copied().flatten()
    } else {
        sql.count(
            tx,
            &needed,
            &format!("{} AS {ca} WHERE {cond}", sql.table(c).own_rows()),
        )?
    };
    impact.bounded &= rows.is_some();
    let blocking_kind = matches!(e.action, Action::Restrict | Action::NoAction);
    let late = match rows {
        Some(n) if n > 0 && blocking_kind => {
            queue::late_blockers(tx, sql, e, (&cond, &needed), deleted_rows)?
        }
        _ => queue::Late::default(),
    };
    let certain = rows
        .unwrap_or(0)
        .saturating_sub(late.saved)
        .saturating_sub(late.maybe);
    let blocking = blocking_kind && certain > 0;
    let at_commit = sql
        .ctx
        .dialect
        .defers(e.action == Action::Restrict, e.deferred);
    let mut note = None;
    if blocking {
        impact
            .failures
            .push(still_referenced(sql, e, certain, at_commit));
        if at_commit {
            note = Some("deferred: fails at commit".into());
        }
    } else if late.maybe > 0 {
        impact.warnings.push(format!(
            "may fail: {}, unless the statement deletes them before the check: that depends on the order the engine runs its key actions and visits rows in",
            still_referenced(sql, e, late.maybe, at_commit)
        ));
    }
    let sample = if rows.unwrap_or(0) > 0 {
        sql.sample(tx, &needed, c, &e.child_cols, &cond)?
    } else {
        Rows::default()
    };
    impact.effects.push(Effect {
        table: sql.table(c).name.clone(),
        action: e.action,
        via: e.via.clone(),
        source: e.source,
        depth: g.depth.get(&e.parent).copied().unwrap_or(0) + 1,
        rows,
        columns: if e.set_cols.is_empty() {
            e.child_cols.clone()
        } else {
            e.set_cols.clone()
        },
        parent: sql.table(e.parent).name.clone(),
        reached: true,
        blocking,
        note,
        sample,
        on_update: false,
    });
    Ok(())
}

/// The rows of the child (as its alias) an edge reaches, and the CTEs that
/// condition needs. A blocker or a dangling reference from a row the
/// delete removes in time is no blocker.
fn edge_cond(sql: &Sql<'_>, e: &Edge, child_deleted: bool) -> (String, Vec<Node>) {
    let c = e.child;
    let ca = Sql::alias(c);
    let member = sql.member(e, &ca);
    let mut needed = vec![Node::Deleted(e.parent)];
    let cond = match e.action {
        Action::Cascade | Action::SetNull | Action::SetDefault => member,
        Action::Restrict | Action::NoAction => {
            // Which deleted referencing rows no longer block depends on
            // when the engine checks.
            let check = sql
                .ctx
                .dialect
                .reference_check(e.action == Action::Restrict, e.deferred);
            match check {
                RefCheck::AtTheEnd if child_deleted => {
                    needed.push(Node::Deleted(c));
                    format!("{member} AND NOT ({})", sql.is_deleted(c, &ca))
                }
                RefCheck::AtTheEnd => member,
                RefCheck::AtTheRow | RefCheck::InQueue => {
                    let saves = saved_in_time(sql, e, check, &mut needed);
                    if saves.is_empty() {
                        member
                    } else {
                        // A NULL key column makes a cascade's membership
                        // NULL: that row is not saved, and still blocks.
                        format!("{member} AND NOT COALESCE({}, FALSE)", saves.join(" OR "))
                    }
                }
            }
        }
        _ => {
            if child_deleted {
                needed.push(Node::Deleted(c));
                format!("{member} AND NOT ({})", sql.is_deleted(c, &ca))
            } else {
                member
            }
        }
    };
    (cond, needed)
}

/// For a check that runs before the end of the statement: the conditions
/// under which a referencing row is gone by the time its parent row is
/// checked. The statement's own rows (when the check waits for them), and
/// a cascade from the same parent row that fires first; a cascade
/// arriving through a deeper path comes too late.
fn saved_in_time(sql: &Sql<'_>, e: &Edge, check: RefCheck, needed: &mut Vec<Node>) -> Vec<String> {
    let c = e.child;
    let ca = Sql::alias(c);
    let mut saves: Vec<String> = Vec::new();
    if c == sql.g.target && check == RefCheck::InQueue {
        needed.push(Node::Target);
        saves.push(sql.is_in(c, &ca, Node::Target));
    }
    for cg in sql.g.edges.iter().filter(|cg| {
        cg.action == Action::Cascade
            && cg.parent == e.parent
            && cg.child == c
            && fires_before(cg, e)
    }) {
        saves.push(same_parent_row(sql, e, cg, &ca));
    }
    saves
}

/// The row `qual` of `e`'s child reaches, through cascade `cg`, the very
/// parent row it references through `e`. Another deleted parent row's
/// cascade runs in another row's turn, whose order the statement does
/// not control.
fn same_parent_row(sql: &Sql<'_>, e: &Edge, cg: &Edge, qual: &str) -> String {
    let mut conds = sql.key_equals(e, qual, "__q");
    conds.extend(sql.key_equals(cg, qual, "__q"));
    format!(
        "EXISTS (SELECT 1 FROM {} AS __q WHERE {})",
        sql.name(Node::Deleted(e.parent)),
        conds.join(" AND ")
    )
}

/// The failure of a `RESTRICT`/`NO ACTION` edge that `n` rows still hold.
fn still_referenced(sql: &Sql<'_>, e: &Edge, n: u64, at_commit: bool) -> String {
    let child = sql.table(e.child).name.to_string();
    let parent = sql.table(e.parent).name.to_string();
    let action = if e.action == Action::Restrict {
        "RESTRICT"
    } else {
        "NO ACTION"
    };
    let clause = if e.deferred {
        format!("ON DELETE {action} DEFERRABLE INITIALLY DEFERRED")
    } else {
        format!("ON DELETE {action}")
    };
    let when = if at_commit {
        "; the failure comes at commit"
    } else {
        ""
    };
    format!(
        "cannot delete from {parent}: {n} row{} in {child} still reference{} it (FK {}, {clause}){when}",
        if n == 1 { "" } else { "s" },
        if n == 1 { "s" } else { "" },
        e.via
    )
}

/// Deleted rows, parents first.
fn push_deleted_row_sets(
    sql: &Sql<'_>,
    deleted_rows: &BTreeMap<usize, Option<u64>>,
    impact: &mut Impact,
) {
    let g = sql.g;
    for (pos, &x) in g.deleted.iter().enumerate() {
        let a = Sql::alias(x);
        // A cascaded table outside any cycle is selected by its CTE's own
        // condition: matching its rows against the CTE's identities instead
        // would scan the table twice, which made capture 1.5x slower.
        let (with, cond) = if x != g.target && !g.is_cyclic(x) {
            let conds: Vec<String> = g.cascade_into(x).map(|e| sql.member(e, &a)).collect();
            (
                sql.with(&sql.deps(Node::Deleted(x))),
                format!("({})", conds.join(" OR ")),
            )
        } else {
            (sql.with(&[Node::Deleted(x)]), sql.is_deleted(x, &a))
        };
        let digest_from = digest_source(sql, x, &a);
        impact.row_sets.push(super::RowSet {
            table: sql.table(x).name.clone(),
            op: crate::journal::Op::Delete,
            with,
            alias: a.clone(),
            join: String::new(),
            cond,
            rows: deleted_rows.get(&x).copied().flatten(),
            position: pos as i64,
            new_key: None,
            digest_from,
        });
    }
}

/// Where the digest of table `x`'s deleted rows can read them from its
/// own CTE, which carries its key (to follow the foreign keys into it),
/// instead of joining the table back by row identity: about 5x cheaper at
/// 100k rows.
fn digest_source(sql: &Sql<'_>, x: usize, alias: &str) -> Option<(String, String)> {
    let table = sql.table(x);
    let carried = sql.carried.get(&x)?;
    let pk = table.primary_key.as_ref()?;
    let usable = sql.ctx.dialect.fingerprints_by_key(table)
        && !sql.g.is_cyclic(x)
        && pk.columns.iter().all(|c| carried.contains(c));
    let node = if x == sql.g.target {
        Node::Target
    } else {
        Node::Deleted(x)
    };
    usable.then(|| (sql.with(&[node]), format!("{} AS {alias}", sql.name(node))))
}

/// Whether cascade `g` surely runs before the check of `f` on the same
/// parent row: both engines run them in ascending `ordinal` (PostgreSQL
/// its RI triggers by name, SQLite its per-parent list of keys; see
/// [`crate::schema::ForeignKey::ordinal`]), where the order is known.
fn fires_before(g: &Edge, f: &Edge) -> bool {
    ordered(g, f) && g.ordinal < f.ordinal
}

/// Whether the engine runs the actions of `g` and `f` in one known order
/// (see [`crate::schema::ForeignKey::ordinal`]).
fn ordered(g: &Edge, f: &Edge) -> bool {
    g.ordinal >= 0 && f.ordinal >= 0
}
