//! Whether a referencing row a delete removes is gone by the time its
//! parent row's `RESTRICT` or `NO ACTION` check runs.
//!
//! The rule of [`super::saved_in_time`] (the statement's own rows, and a
//! cascade from the same parent row that fires first) is what both
//! engines guarantee; a referencing row the statement deletes through
//! another path is the question here.
//!
//! PostgreSQL queues the key actions of the statement's rows and runs the
//! queue in order; the actions of rows a cascade deletes go to its end.
//! So the queue runs breadth first, and a row's depth (the fewest cascade
//! steps from the statement's rows to it, computed per row by the
//! `Depth` CTEs below) tells when it goes: a referencing row at a depth
//! no greater than its parent row's is gone when the parent's check
//! runs; one two levels deeper is still there; one at the next level was
//! deleted by an action queued beside the check, and which runs first
//! depends on the order rows were visited in ("may fail"), unless the
//! statement deleted one row and the check is that row's.
//!
//! With one statement row, the order between branches (the keys of the
//! statement's table whose cascades a row descends from) is known too:
//! the queue holds each depth's rows in branch order.
//!
//! SQLite runs a row's actions depth first as the row goes: with one
//! statement row, a referencing row an earlier branch deletes is gone
//! before anything of a later branch runs, one a later branch deletes is
//! not, and within one branch the order of rows decides ("may fail").
//! With several statement rows their order decides everything beyond
//! the rule above. Tables in a cascade cycle have no order CTE; there
//! too, a row the statement deletes is "may fail", and so is one deleted
//! only by the parent row's own later cascade where cycles hide that.

use std::collections::BTreeMap;

use super::{Edge, Node, Sql};
use crate::db::PreviewTx;
use crate::db::dialect::{RefCheck, tuple};
use crate::error::Result;
use crate::impact::Action;
use crate::schema::quote_ident;

/// Of the referencing rows that hold a check, those the statement deletes
/// in time for sure and those it may delete in time.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Late {
    pub(super) saved: u64,
    pub(super) maybe: u64,
}

/// Depths and branches share one number, `depth * BRANCHES + branch`, so
/// that one `min` finds the shallowest depth and, at it, the branch
/// queued first. Above every key ordinal (see
/// [`crate::schema::ForeignKey::ordinal`]).
const BRANCHES: i64 = 1 << 40;

/// The CTE of table `x`'s deleted rows with when each is deleted
/// (`__order`): its depth (the statement's rows at 0, every other row
/// one deeper than the shallowest deleted parent row a cascade reaches it
/// from) and its branch: the key of the statement's table whose cascade
/// it descends from, the first to run when several reach it at that
/// depth. With one statement row, the queue holds each depth's rows in
/// the order of their branches.
pub(super) fn depth_def(sql: &Sql<'_>, x: usize) -> String {
    let name = sql.name(Node::Depth(x));
    if x == sql.g.target {
        return format!(
            "{name} AS (SELECT *, 0 AS __order FROM {})",
            sql.name(Node::Target)
        );
    }
    let a = Sql::alias(x);
    let table = sql.table(x).own_rows();
    let breadth_first = sql.ctx.dialect.key_actions_breadth_first();
    let arms: Vec<String> = sql
        .g
        .cascade_into(x)
        .map(|e| {
            let on = sql.key_equals(e, &a, "lp");
            // A key of no one order ranks as 0: branches are then not
            // compared (`by_order`), and the depth stays whole.
            let rank = e.ordinal.max(0);
            let order = match (e.parent == sql.g.target, breadth_first) {
                (true, true) => format!("{}", BRANCHES + rank),
                (true, false) => rank.to_string(),
                (false, true) => format!("lp.__order + {BRANCHES}"),
                (false, false) => "lp.__order".to_owned(),
            };
            format!(
                "SELECT {}, {order} AS __order FROM {table} AS {a} JOIN {} AS lp ON {}",
                sql.select_list(x, &a),
                sql.name(Node::Depth(e.parent)),
                on.join(" AND ")
            )
        })
        .collect();
    let mut keys = sql.ident_cols(x);
    keys.extend(
        sql.carried
            .get(&x)
            .into_iter()
            .flatten()
            .map(|c| quote_ident(c)),
    );
    format!(
        "{name} AS (SELECT {keys}, min(__order) AS __order FROM ({}) AS u GROUP BY {keys})",
        arms.join(" UNION ALL "),
        keys = keys.join(", ")
    )
}

/// Whether every deleted row of `x` has a depth: no cascade cycle on any
/// path from the statement's table to it.
fn depth_known(sql: &Sql<'_>, x: usize) -> bool {
    let g = sql.g;
    !g.is_cyclic(x) && (x == g.target || g.cascade_into(x).all(|e| depth_known(sql, e.parent)))
}

/// The referencing rows of `e` matched by `cond` (those no rule of
/// `saved_in_time` saves) that the statement deletes, sorted into those
/// gone before the check for sure and those that may be.
pub(super) fn late_blockers(
    tx: &mut dyn PreviewTx,
    sql: &Sql<'_>,
    e: &Edge,
    (cond, needed): (&str, &[Node]),
    deleted_rows: &BTreeMap<usize, Option<u64>>,
) -> Result<Late> {
    let c = e.child;
    let check = sql
        .ctx
        .dialect
        .reference_check(e.action == Action::Restrict, e.deferred);
    if check == RefCheck::AtTheEnd || !deleted_rows.contains_key(&c) {
        return Ok(Late::default());
    }
    let one_row = deleted_rows.get(&sql.g.target).copied().flatten() == Some(1);
    // The order of branches, and of a row's own actions, is known only
    // with one statement row and where every key runs in one order.
    let keyed = one_row && sql.g.edges.iter().all(|x| super::ordered(x, e));
    // Depth first, the order of the statement's rows decides everything
    // beyond that.
    if (check == RefCheck::InQueue || keyed)
        && depth_known(sql, c)
        && depth_known(sql, e.parent)
        && let Some(late) = by_order(tx, sql, e, (cond, needed), keyed)?
    {
        return Ok(late);
    }
    let ca = Sql::alias(c);
    let count = |tx: &mut dyn PreviewTx, node: Node, extra: String| {
        let mut needed = needed.to_vec();
        needed.push(node);
        sql.count(
            tx,
            &needed,
            &format!(
                "{} AS {ca} WHERE {cond} AND {extra}",
                sql.table(c).own_rows()
            ),
        )
    };
    let gone = count(tx, Node::Deleted(c), sql.is_deleted(c, &ca))?.unwrap_or(0);
    // The statement's one row goes before any action runs.
    let saved = if one_row && c == sql.g.target && gone > 0 {
        count(tx, Node::Target, sql.is_in(c, &ca, Node::Target))?.unwrap_or(0)
    } else {
        0
    };
    let maybe = match elsewhere(sql, e, &ca) {
        Some(_) if gone == 0 => 0,
        Some((way, nodes)) => {
            let mut needed = needed.to_vec();
            needed.extend(nodes);
            sql.count(
                tx,
                &needed,
                &format!("{} AS {ca} WHERE {cond} AND {way}", sql.table(c).own_rows()),
            )?
            .unwrap_or(gone)
        }
        None => gone,
    };
    Ok(Late {
        saved,
        maybe: maybe.saturating_sub(saved),
    })
}

/// The referencing row `qual` is deleted by something other than its
/// parent row's own cascades that run after the check: the statement
/// itself, or a cascade from another row. `None` where a cascade cycle
/// hides which rows reach it.
fn elsewhere(sql: &Sql<'_>, e: &Edge, qual: &str) -> Option<(String, Vec<Node>)> {
    let c = e.child;
    if sql.g.is_cyclic(c) {
        return None;
    }
    let mut ways = Vec::new();
    let mut nodes = Vec::new();
    if c == sql.g.target {
        nodes.push(Node::Target);
        ways.push(sql.is_in(c, qual, Node::Target));
    }
    for g in sql.g.cascade_into(c) {
        nodes.push(Node::Deleted(g.parent));
        let reached = sql.member(g, qual);
        // The parent row's own cascade, known to run after the check, is
        // too late; run in an order not known, it may be in time.
        ways.push(if g.parent == e.parent && super::ordered(g, e) {
            format!(
                "({reached} AND NOT {})",
                super::same_parent_row(sql, e, g, qual)
            )
        } else {
            reached
        });
    }
    if ways.is_empty() {
        ways.push("FALSE".to_owned());
    }
    Some((format!("({})", ways.join(" OR ")), nodes))
}

/// Each referencing row's place in the order of the key actions against
/// its parent row's (see the module doc); `keyed`: the order between
/// branches is known. `None` when not counted in time.
fn by_order(
    tx: &mut dyn PreviewTx,
    sql: &Sql<'_>,
    e: &Edge,
    (cond, needed): (&str, &[Node]),
    keyed: bool,
) -> Result<Option<Late>> {
    let (c, p) = (e.child, e.parent);
    let ca = Sql::alias(c);
    let mut needed = needed.to_vec();
    needed.extend([Node::Depth(c), Node::Depth(p)]);
    let ident: Vec<String> = sql
        .ident_cols(c)
        .iter()
        .map(|i| format!("lc.{i}"))
        .collect();
    let on = sql.key_equals(e, &ca, "lp");
    let (saved, mut maybe) = if sql.ctx.dialect.key_actions_breadth_first() {
        breadth_first(keyed)
    } else {
        depth_first(e.ordinal)
    };
    if let Some((way, nodes)) = elsewhere(sql, e, &ca) {
        maybe = format!("({maybe}) AND {way}");
        needed.extend(nodes);
    }
    let q = format!(
        "{}SELECT COALESCE(sum(CASE WHEN {saved} THEN 1 ELSE 0 END), 0), \
         COALESCE(sum(CASE WHEN {maybe} THEN 1 ELSE 0 END), 0) \
         FROM {} AS {ca} JOIN {} AS lc ON {} = {} JOIN {} AS lp ON {} WHERE {cond}",
        sql.with(&needed),
        sql.table(c).own_rows(),
        sql.name(Node::Depth(c)),
        tuple(&sql.ident(c, &ca)),
        tuple(&ident),
        sql.name(Node::Depth(p)),
        on.join(" AND "),
    );
    let Some(rows) = tx.query(&q)? else {
        return Ok(None);
    };
    let row = rows.rows.first();
    let at = |i: usize| crate::db::count_of(row.and_then(|r| r.get(i)));
    Ok(Some(Late {
        saved: at(0)?,
        maybe: at(1)?,
    }))
}

/// PostgreSQL: the conditions, on the referencing row `lc` and its parent
/// row `lp`, under which the row is gone in time for sure, and under
/// which it may be. A row deleted at the level after its parent row's
/// went beside that row's check; with one statement row the queue order
/// between branches is known, and at depth 0 the branch is the row's own
/// cascade, which `saved_in_time` already let through if it runs first.
fn breadth_first(one_row: bool) -> (String, String) {
    let depth = |x: &str| format!("({x}.__order / {BRANCHES})");
    let branch = |x: &str| format!("({x}.__order % {BRANCHES})");
    let (dc, dp, bc, bp) = (depth("lc"), depth("lp"), branch("lc"), branch("lp"));
    if one_row {
        (
            format!("{dc} <= {dp} OR ({dc} = {dp} + 1 AND {dp} > 0 AND {bc} < {bp})"),
            format!("{dc} = {dp} + 1 AND {dp} > 0 AND {bc} = {bp}"),
        )
    } else {
        (format!("{dc} <= {dp}"), format!("{dc} = {dp} + 1"))
    }
}

/// SQLite, one statement row: a row deleted in an earlier branch is gone
/// before anything of a later one runs; the statement's row itself is
/// gone before its own actions, and its check `e` comes in its place
/// among its branches. Within one branch the order of rows decides.
fn depth_first(check: i64) -> (String, String) {
    (
        format!(
            "(lp.__order = 0 AND lc.__order < {check}) OR (lp.__order > 0 AND lc.__order < lp.__order)"
        ),
        "lp.__order > 0 AND lc.__order = lp.__order".to_owned(),
    )
}
