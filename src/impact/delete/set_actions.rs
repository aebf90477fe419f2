//! The rows a delete sets rather than deletes: `SET NULL` and `SET
//! DEFAULT` edges, counted net of the rows deleted anyway, with what makes
//! them fail (a NOT NULL column, a default no parent row has) and what the
//! engine counts more than once (the coverage check's allowances).

use std::collections::BTreeMap;

use super::super::cascade::Edge;
use super::super::chain::PendingStep;
use super::super::{Action, Effect, Impact, Totals, qcol};
use super::super::{checks, own_row};
use super::{Node, Sql};
use crate::db::PreviewTx;
use crate::error::Result;
use crate::schema::Table;

/// Net updates: rows set to NULL/default that are not deleted anyway,
/// per table, with the row set the apply captures.
pub(super) fn count_set_rows(
    tx: &mut dyn PreviewTx,
    sql: &Sql<'_>,
    deleted_rows: &BTreeMap<usize, Option<u64>>,
    totals: &mut BTreeMap<usize, Totals>,
    impact: &mut Impact,
) -> Result<()> {
    let g = sql.g;
    let set_edges = || {
        g.edges
            .iter()
            .filter(|e| matches!(e.action, Action::SetNull | Action::SetDefault))
    };
    let mut set_tables: Vec<usize> = Vec::new();
    for e in set_edges() {
        if !set_tables.contains(&e.child) {
            set_tables.push(e.child);
        }
    }
    for c in set_tables {
        // One SET NULL edge into a table with no deleted rows: its count is
        // already the net total.
        let edges_in: Vec<&Effect> = impact
            .effects
            .iter()
            .filter(|e| {
                e.table == sql.table(c).name
                    && matches!(e.action, Action::SetNull | Action::SetDefault)
            })
            .collect();
        let shortcut =
            (edges_in.len() == 1 && !deleted_rows.contains_key(&c)).then(|| edges_in[0].rows);
        let ca = Sql::alias(c);
        let mut needed = Vec::new();
        let conds: Vec<String> = set_edges()
            .filter(|e| e.child == c)
            .map(|e| {
                needed.push(Node::Deleted(e.parent));
                sql.member(e, &ca)
            })
            .collect();
        let mut cond = format!("({})", conds.join(" OR "));
        if deleted_rows.contains_key(&c) {
            needed.push(Node::Deleted(c));
            let reached = cond.clone();
            cond = format!("{cond} AND NOT ({})", sql.is_deleted(c, &ca));
            count_both(tx, sql, c, &needed, &reached, impact)?;
        }
        let n = match shortcut {
            Some(n) => n,
            None => sql.count(
                tx,
                &needed,
                &format!("{} AS {ca} WHERE {cond}", sql.table(c).own_rows()),
            )?,
        };
        impact.bounded &= n.is_some();
        totals.entry(c).or_default().update = n.unwrap_or(0);
        count_again(tx, sql, c, (&needed, &cond), &conds, n, impact)?;
        checked_again(tx, sql, c, deleted_rows, impact)?;
        impact.row_sets.push(super::super::RowSet {
            table: sql.table(c).name.clone(),
            op: crate::journal::Op::Update,
            with: sql.with(&needed),
            alias: ca.clone(),
            join: String::new(),
            cond,
            rows: n,
            position: g.depth.get(&c).copied().unwrap_or(0) as i64,
            new_key: set_key(sql, c, &ca),
            digest_from: None,
        });
    }
    Ok(())
}

/// Where a child's rows (as `alias`) move when a SET DEFAULT (or SET
/// NULL) writes columns of its primary key: each key column's new value,
/// so the journal finds the after-image where the statement leaves it;
/// `None` when no action writes the key (or a default is computed at run
/// time, which the preview never computes: the after-image is then looked
/// for where it was, and its absence refuses the apply).
fn set_key(sql: &Sql<'_>, c: usize, alias: &str) -> Option<Vec<String>> {
    let child = sql.table(c);
    let pk = child.primary_key.as_ref()?;
    let mut moved = false;
    let mut key = Vec::new();
    for col in &pk.columns {
        let edge = sql.g.edges.iter().find(|e| {
            e.child == c
                && matches!(e.action, Action::SetNull | Action::SetDefault)
                && e.set_cols.contains(col)
        });
        let kept = qcol(alias, col);
        key.push(match edge {
            // A row another key's action reaches keeps its value.
            Some(e) => {
                moved = true;
                let value = set_value(sql, e, child, col).ok()?;
                format!(
                    "CASE WHEN {} THEN {value} ELSE {kept} END",
                    sql.member(e, alias)
                )
            }
            None => kept,
        });
    }
    moved.then_some(key)
}

/// The updates of `c` the engine counts beyond one per row ([`Impact`]'s
/// `updated_again`): with `conds` the rows each SET NULL or SET DEFAULT key
/// reaches and `n` the rows any reaches (where `cond`), the pairs of a row
/// and a key that reaches it, less `n`. Only where no two keys share a
/// column: otherwise one action's change can make the other's miss the
/// row, and the engine counts fewer (the attack review's finding), so no
/// allowance is made there.
fn count_again(
    tx: &mut dyn PreviewTx,
    sql: &Sql<'_>,
    c: usize,
    (needed, cond): (&[Node], &str),
    conds: &[String],
    n: Option<u64>,
    impact: &mut Impact,
) -> Result<()> {
    let edges: Vec<&Edge> = sql
        .g
        .edges
        .iter()
        .filter(|e| e.child == c && matches!(e.action, Action::SetNull | Action::SetDefault))
        .collect();
    // Keys on separate columns: one action's change cannot make the
    // other's row stop matching (nulling a column of the other key) or
    // find it changed already.
    let disjoint = edges.iter().enumerate().all(|(i, a)| {
        edges[i + 1..]
            .iter()
            .all(|b| a.child_cols.iter().all(|col| !b.child_cols.contains(col)))
    });
    let (Some(n), true, true) = (n, conds.len() > 1, disjoint) else {
        return Ok(());
    };
    let ca = Sql::alias(c);
    let keys: Vec<String> = (1..=conds.len())
        .map(|i| format!("SELECT {i} AS i"))
        .collect();
    let which: Vec<String> = conds
        .iter()
        .enumerate()
        .map(|(i, c)| format!("WHEN {} THEN ({c})", i + 1))
        .collect();
    let pairs = sql.count(
        tx,
        needed,
        &format!(
            "{} AS {ca} JOIN ({}) AS k ON (CASE k.i {} END) WHERE {cond}",
            sql.table(c).own_rows(),
            keys.join(" UNION ALL "),
            which.join(" ")
        ),
    )?;
    impact.bounded &= pairs.is_some();
    if let Some(extra) = pairs.map(|p| p.saturating_sub(n)).filter(|&x| x > 0) {
        impact
            .updated_again
            .insert(sql.table(c).name.clone(), extra);
    }
    Ok(())
}

/// A SET NULL or SET DEFAULT that changes a column another table
/// references sets off that table's ON UPDATE action: where rows
/// reference a value it changes, the step to follow.
pub(super) fn chain_steps<'a>(
    tx: &mut dyn PreviewTx,
    sql: &Sql<'a>,
    impact: &Impact,
) -> Result<Vec<PendingStep<'a>>> {
    let mut steps = Vec::new();
    let set_edges = sql
        .g
        .edges
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e.action, Action::SetNull | Action::SetDefault));
    for (edge_no, e) in set_edges {
        let schema: &'a crate::schema::Schema = sql.schema;
        let child = &schema.tables[e.child];
        if !reaches(impact, e, child) {
            continue;
        }
        for fk in sql.schema.referencing_tree(&child.name) {
            let changed: Vec<&String> = fk
                .ref_columns
                .iter()
                .filter(|c| e.set_cols.contains(*c))
                .collect();
            if changed.is_empty() {
                continue;
            }
            let Some(grand) = sql.schema.get(&fk.table) else {
                continue;
            };
            // Rows whose value the action really changes.
            let mut moves = Vec::new();
            for col in &changed {
                let old = qcol("s", col);
                // A default computed at run time may change it or not.
                moves.push(match set_value(sql, e, child, col) {
                    Ok(new) => format!("NOT {}", sql.ctx.dialect.not_distinct(&old, &new)),
                    Err(_) => "TRUE".to_owned(),
                });
            }
            let refs: Vec<String> = fk.ref_columns.iter().map(|c| qcol("s", c)).collect();
            let d = sql.ctx.dialect;
            let cols = super::super::chain::referencing_key(d, fk, (grand, "gx"), child);
            let n = sql.count(
                tx,
                &[Node::Deleted(e.parent)],
                &format!(
                    "{} AS gx WHERE {} IN (SELECT {} FROM {} AS s WHERE {} AND ({}))",
                    grand.own_rows(),
                    cols,
                    refs.join(", "),
                    child.own_rows(),
                    sql.member(e, "s"),
                    moves.join(" OR ")
                ),
            )?;
            if let Some(n) = n.filter(|&n| n > 0) {
                let action = if e.action == Action::SetNull {
                    "SET NULL"
                } else {
                    "SET DEFAULT"
                };
                let what = format!("the {action} of {} ({})", child.name, e.via);
                let refusal =
                    super::super::chain::not_followed("delete", &what, &child.name, fk, n);
                let step = step_sql(sql, edge_no, e).map(|(text, cte)| super::super::chain::Step {
                    child,
                    sql: text,
                    cte,
                    depth: sql.g.depth.get(&e.child).copied().unwrap_or(1),
                    what,
                    via: e.via.clone(),
                });
                steps.push(PendingStep { step, refusal });
                break;
            }
        }
    }
    Ok(steps)
}

/// The engine's UPDATE of the child rows a SET NULL or SET DEFAULT edge
/// reaches, as SQL over `child AS s`, and the CTE of those rows' identities
/// it reads (a name no other preview CTE takes). `None` where a value is a
/// default computed at run time.
fn step_sql(sql: &Sql<'_>, edge_no: usize, e: &Edge) -> Option<(String, String)> {
    let child = sql.table(e.child);
    let dx = format!("__d{}_{edge_no}", sql.ctx.chain_depth);
    let ident = sql.ident(e.child, "s");
    let ident_cols = sql.ident_cols(e.child);
    let selected: Vec<String> = ident
        .iter()
        .zip(&ident_cols)
        .map(|(i, c)| format!("{i} AS {c}"))
        .collect();
    let cte = format!(
        "{dx} AS ({}SELECT {} FROM {} AS s WHERE {})",
        sql.with(&[Node::Deleted(e.parent)]),
        selected.join(", "),
        child.own_rows(),
        sql.member(e, "s")
    );
    let mut sets = Vec::new();
    for col in &e.set_cols {
        let value = set_value(sql, e, child, col).ok()?;
        sets.push(format!("{} = {value}", crate::schema::quote_ident(col)));
    }
    let text = format!(
        "UPDATE {} AS s SET {} WHERE {} IN (SELECT {} FROM {dx})",
        child.name.sql(),
        sets.join(", "),
        crate::db::dialect::tuple(&ident),
        ident_cols.join(", ")
    );
    Some((text, cte))
}

/// Follows the chains a delete's SET NULL and SET DEFAULT edges start
/// ([`super::super::chain::follow_all`]). A child whose rows the delete
/// also deletes, or that two edges set, is refused: the engine's outcome
/// then depends on the order it runs the actions in.
pub(super) fn follow_steps(
    tx: &mut dyn PreviewTx,
    sql: &Sql<'_>,
    steps: Vec<PendingStep<'_>>,
    impact: &mut Impact,
) -> Result<()> {
    let unsure = |step: &super::super::chain::Step<'_>, impact: &Impact| {
        let name = &step.child.name;
        let deleted = impact.totals.get(name).is_some_and(|t| t.delete > 0);
        let edges_into = impact
            .effects
            .iter()
            .filter(|f| {
                &f.table == name
                    && matches!(f.action, Action::SetNull | Action::SetDefault)
                    && f.rows.unwrap_or(1) > 0
            })
            .count();
        deleted || edges_into > 1
    };
    super::super::chain::follow_all(tx, sql.ctx, steps, impact, &unsure)
}

/// Rows of `c` that two SET NULL or SET DEFAULT keys reach are updated
/// twice, and PostgreSQL checks every key of a row it updates a second
/// time in the transaction ([`Dialect::rechecks_rows_updated_twice`]).
/// Where such a row's other key `f` points at a row the statement
/// deletes, the check fails if it runs before what `f`'s own action does
/// to the row (delete it, set it), and passes after: that depends on the
/// order the engine fires its actions in, so it is a "may fail". `f`'s
/// action reaching the row counts as one of its updates only where other
/// keys update it twice besides; keys sharing a column with `f` are left
/// out (a NULL they write makes the check pass).
///
/// [`Dialect::rechecks_rows_updated_twice`]: crate::db::dialect::Dialect::rechecks_rows_updated_twice
fn checked_again(
    tx: &mut dyn PreviewTx,
    sql: &Sql<'_>,
    c: usize,
    deleted_rows: &BTreeMap<usize, Option<u64>>,
    impact: &mut Impact,
) -> Result<()> {
    if !sql.ctx.dialect.rechecks_rows_updated_twice() {
        return Ok(());
    }
    let set: Vec<&Edge> = sql
        .g
        .edges
        .iter()
        .filter(|e| e.child == c && matches!(e.action, Action::SetNull | Action::SetDefault))
        .collect();
    let keys = sql
        .g
        .edges
        .iter()
        .filter(|f| f.child == c && f.source == "fk" && deleted_rows.contains_key(&f.parent));
    let ca = Sql::alias(c);
    for f in keys {
        let others: Vec<&&Edge> = set
            .iter()
            .filter(|e| e.via != f.via)
            .filter(|e| e.set_cols.iter().all(|col| !f.child_cols.contains(col)))
            .collect();
        if others.len() < 2 {
            continue;
        }
        let mut needed = vec![Node::Deleted(f.parent)];
        let hits: Vec<String> = others
            .iter()
            .map(|e| {
                needed.push(Node::Deleted(e.parent));
                format!("CASE WHEN {} THEN 1 ELSE 0 END", sql.member(e, &ca))
            })
            .collect();
        let n = sql.count(
            tx,
            &needed,
            &format!(
                "{} AS {ca} WHERE {} AND ({}) >= 2",
                sql.table(c).own_rows(),
                sql.member(f, &ca),
                hits.join(" + ")
            ),
        )?;
        impact.bounded &= n.is_some();
        if let Some(n) = n.filter(|&n| n > 0) {
            let names: Vec<&str> = others.iter().map(|e| e.via.as_str()).collect();
            impact.warnings.push(format!(
                "may fail: deleting from {}, {n} row{} of {} {} set by two keys ({}), and PostgreSQL then checks {} key {}, which points at rows this statement deletes: the check fails if it runs before the action of {} reaches {}, and which comes first depends on the order the engine fires its actions in",
                sql.table(sql.g.target).name,
                if n == 1 { "" } else { "s" },
                sql.table(c).name,
                if n == 1 { "is" } else { "are" },
                names.join(", "),
                if n == 1 { "its" } else { "their" },
                f.via,
                f.via,
                if n == 1 { "it" } else { "them" },
            ));
        }
    }
    Ok(())
}

/// Rows of `c` that a SET NULL reaches and that are deleted anyway: the
/// engine counts each as updated too when its SET NULL fires before the
/// delete, and only as deleted otherwise. The coverage check allows that
/// many extra updates of `c`, and no more.
fn count_both(
    tx: &mut dyn PreviewTx,
    sql: &Sql<'_>,
    c: usize,
    needed: &[Node],
    reached: &str,
    impact: &mut Impact,
) -> Result<()> {
    let ca = Sql::alias(c);
    let n = sql.count(
        tx,
        needed,
        &format!(
            "{} AS {ca} WHERE {reached} AND {}",
            sql.table(c).own_rows(),
            sql.is_deleted(c, &ca)
        ),
    )?;
    impact.bounded &= n.is_some();
    if let Some(n) = n.filter(|&n| n > 0) {
        impact.counted_twice.insert(sql.table(c).name.clone(), n);
    }
    Ok(())
}

/// SET NULL into a NOT NULL column fails the statement, for every row it
/// reaches; so does `SET NULL (col)` on a MATCH FULL key. Where the
/// statement also deletes every such row, which comes first depends on
/// the order the engine fires its actions in: that may fail, and is said
/// so.
pub(super) fn check_set_null(
    tx: &mut dyn PreviewTx,
    sql: &Sql<'_>,
    e: &Edge,
    deleted: &BTreeMap<usize, Option<u64>>,
    impact: &mut Impact,
) -> Result<()> {
    let child = sql.table(e.child);
    let rows: u64 = impact
        .effects
        .iter()
        .filter(|f| f.via == e.via && f.table == child.name)
        .filter_map(|f| f.rows)
        .sum();
    // SET DEFAULT of a column with no default sets NULL too.
    let not_null: Vec<&String> = e
        .set_cols
        .iter()
        .filter(|c| {
            child.column(c).is_some_and(|col| {
                col.not_null && (e.action == Action::SetNull || col.default.is_none())
            })
        })
        .collect();
    // PostgreSQL 15's SET NULL (col) on a MATCH FULL key leaves it part
    // NULL, which the key refuses.
    let part_null = e.action == Action::SetNull
        && e.set_cols.len() < e.child_cols.len()
        && child
            .foreign_keys
            .iter()
            .any(|f| f.name == e.via && f.match_type == crate::schema::MatchType::Full);
    if rows == 0 || (not_null.is_empty() && !part_null) {
        return Ok(());
    }
    let via = &e.via;
    let what = match not_null.first() {
        Some(col) => format!(
            "ON DELETE {} would set {rows} row(s) of {}.{col} to NULL, which is NOT NULL (FK {via})",
            if e.action == Action::SetNull {
                "SET NULL"
            } else {
                "SET DEFAULT (no default)"
            },
            child.name
        ),
        None => format!(
            "ON DELETE SET NULL ({}) would leave {rows} row(s) of {} with the key ({}) part NULL, which MATCH FULL does not allow (FK {via})",
            e.set_cols.join(", "),
            child.name,
            e.child_cols.join(", ")
        ),
    };
    let certain = if deletes_rows_of(deleted, e.child) {
        let ca = Sql::alias(e.child);
        let (needed, reached) = reached_rows(sql, e, &ca, true);
        let from = format!("{} AS {ca} WHERE {reached}", child.own_rows());
        let spared = sql.count(tx, &needed, &from)?;
        impact.bounded &= spared.is_some();
        spared != Some(0)
    } else {
        true
    };
    let help = format!(
        "\nDelete or re-point those {} rows first, or change the foreign key's action.",
        child.name
    );
    judge(impact, (sql, e), (&what, &help), certain);
    Ok(())
}

/// For `ON DELETE SET DEFAULT`: the key each reached row is given must
/// reference a parent row that survives the delete, or the statement
/// fails.
pub(super) fn check_set_default(
    tx: &mut dyn PreviewTx,
    sql: &Sql<'_>,
    e: &Edge,
    deleted: &BTreeMap<usize, Option<u64>>,
    impact: &mut Impact,
) -> Result<()> {
    let child = sql.table(e.child);
    let parent = sql.table(e.parent);
    if !reaches(impact, e, child) {
        return Ok(());
    }
    // The key each reached row ends with: the defaults of the columns the
    // action sets (all, or PostgreSQL 15's column list), its own values
    // in the others.
    let ca = Sql::alias(e.child);
    let mut key = Vec::new();
    for col in &e.child_cols {
        let value = match set_value(sql, e, child, col) {
            _ if !e.set_cols.contains(col) => qcol(&ca, col),
            Ok(v) => v,
            Err(d) => {
                impact.warnings.push(format!(
                    "{}: the default of {}.{col} ({d}) is computed at run time and not checked",
                    e.via, child.name
                ));
                return Ok(());
            }
        };
        key.push(value);
    }
    let pa = "p";
    let set: Vec<String> = key
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{v} AS v{i}"))
        .collect();
    let present: Vec<String> = (0..key.len())
        .map(|i| format!("s.v{i} IS NOT NULL"))
        .collect();
    let eq: Vec<String> = e
        .parent_cols
        .iter()
        .enumerate()
        .map(|(i, pc)| format!("{} = s.v{i}", qcol(pa, pc)))
        .collect();
    let count = |tx: &mut dyn PreviewTx, spare_deleted: bool| {
        let (needed, reached) = reached_rows(sql, e, &ca, spare_deleted);
        let body = format!(
            "(SELECT {} FROM {} AS {ca} WHERE {reached}) AS s WHERE {} AND NOT EXISTS (SELECT 1 FROM {} AS {pa} WHERE {} AND NOT ({}))",
            set.join(", "),
            child.own_rows(),
            present.join(" AND "),
            parent.own_rows(),
            eq.join(" AND "),
            sql.is_deleted(e.parent, pa)
        );
        sql.count(tx, &needed, &body)
    };
    let all = count(tx, false)?;
    impact.bounded &= all.is_some();
    let Some(all) = all.filter(|&n| n > 0) else {
        return Ok(());
    };
    // Rows the statement deletes too may be gone before the action runs:
    // only the rest fail for certain.
    let mut n = all;
    if deletes_rows_of(deleted, e.child) {
        let certain = count(tx, true)?;
        impact.bounded &= certain.is_some();
        n = match certain {
            None => return Ok(()),
            Some(n) => n,
        };
        // PostgreSQL deletes the target's rows before any action runs.
        if n == 0 && e.child == sql.g.target && sql.ctx.dialect.deletes_targets_before_actions() {
            return Ok(());
        }
    }
    let shown = if n > 0 { n } else { all };
    let what = format!(
        "ON DELETE SET DEFAULT would give {shown} row{} of {} a key ({}) that no remaining {} row has (FK {})",
        if shown == 1 { "" } else { "s" },
        child.name,
        e.child_cols.join(", "),
        parent.name,
        e.via
    );
    judge(impact, (sql, e), (&what, ""), n > 0);
    Ok(())
}

/// CHECK constraints of the rows a SET NULL or SET DEFAULT edge changes:
/// the engine runs the action as an UPDATE of those rows, which checks
/// them. A row the delete also removes may go first, depending on the
/// order the engine fires its actions in: if only such rows break a
/// check, the delete may fail.
pub(super) fn check_action_rows(
    tx: &mut dyn PreviewTx,
    sql: &Sql<'_>,
    e: &Edge,
    deleted: &BTreeMap<usize, Option<u64>>,
    impact: &mut Impact,
) -> Result<()> {
    let child = sql.table(e.child);
    if !reaches(impact, e, child) {
        return Ok(());
    }
    // A default computed at run time: said by check_set_default.
    let Some(set) = set_values(sql, e, child) else {
        return Ok(());
    };
    let ca = Sql::alias(e.child);
    let values = checks::row_values(child, &ca, &set);
    let written = |spare_deleted: bool| {
        let (needed, reached) = reached_rows(sql, e, &ca, spare_deleted);
        (
            sql.with(&needed),
            format!("{} AS {ca} WHERE {reached}", child.own_rows()),
        )
    };
    let (with, from) = written(false);
    let rows = checks::Written {
        table: child,
        with: &with,
        from: &from,
        values: values.clone(),
    };
    let all = checks::violated(tx, &rows, impact)?;
    // The same checks again without the rows the statement deletes too.
    let certain = match deletes_rows_of(deleted, e.child) && !all.is_empty() {
        true => {
            let (with, from) = written(true);
            let rows = checks::Written {
                table: child,
                with: &with,
                from: &from,
                values,
            };
            checks::still_violated(tx, &rows, &all, impact)?
        }
        false => all.clone(),
    };
    let action = if e.action == Action::SetNull {
        "SET NULL"
    } else {
        "SET DEFAULT"
    };
    for (check, n) in &all {
        let what = format!(
            "ON DELETE {action} would leave {n} row{} of {} violating CHECK {} ({}) (FK {})",
            if *n == 1 { "" } else { "s" },
            child.name,
            check.name,
            check.expr,
            e.via
        );
        let sure = certain.iter().any(|(c, _)| c.name == check.name);
        judge(impact, (sql, e), (&what, ""), sure);
    }
    Ok(())
}

/// SQLite runs a SET NULL or SET DEFAULT as an UPDATE of the rows it
/// reaches, which rewrites them whole when it assigns a column of a key
/// from the table to itself (or one a key with an ON UPDATE action
/// references); such a row then misses itself as the parent of its other
/// references to itself that match its key only by affinity or collation
/// ([`crate::impact::own_row`]).
pub(super) fn check_own_references(
    tx: &mut dyn PreviewTx,
    sql: &Sql<'_>,
    e: &Edge,
    deleted: &BTreeMap<usize, Option<u64>>,
    impact: &mut Impact,
) -> Result<()> {
    let d = sql.ctx.dialect;
    let child = sql.table(e.child);
    if !reaches(impact, e, child) {
        return Ok(());
    }
    let Some(set) = set_values(sql, e, child) else {
        return Ok(());
    };
    let ca = Sql::alias(e.child);
    let kept = |c: &str| qcol(&ca, c);
    for (fk, missed) in own_row::missed_by_rewrite(d, sql.ctx.schema, child, &set, &kept) {
        let count = |tx: &mut dyn PreviewTx, spare_deleted: bool| {
            let (needed, reached) = reached_rows(sql, e, &ca, spare_deleted);
            sql.count(
                tx,
                &needed,
                &format!("{} AS {ca} WHERE {reached} AND {missed}", child.own_rows()),
            )
        };
        let n = count(tx, false)?;
        impact.bounded &= n.is_some();
        let Some(n) = n.filter(|&n| n > 0) else {
            continue;
        };
        let certain = !deletes_rows_of(deleted, e.child) || count(tx, true)?.unwrap_or(n) > 0;
        let deferred = d.defers(false, fk.deferrable && fk.initially_deferred);
        let what = format!(
            "ON DELETE {} of FK {} rewrites {}",
            if e.action == Action::SetNull {
                "SET NULL"
            } else {
                "SET DEFAULT"
            },
            e.via,
            own_row::missing_itself(child, fk, n, deferred)
        );
        judge(impact, (sql, e), (&what, ""), certain);
    }
    Ok(())
}

/// What rows of `e` breaking `what` make of the delete: a failure, with
/// `help` and the edge marked as blocking, where some of them are certain
/// to meet the action; where only rows the statement deletes too do,
/// whether they are gone first depends on the order the engine fires its
/// actions in, and the delete may fail.
fn judge(
    impact: &mut Impact,
    (sql, e): (&Sql<'_>, &Edge),
    (what, help): (&str, &str),
    certain: bool,
) {
    let parent = &sql.table(e.parent).name;
    if !certain {
        impact.warnings.push(format!(
            "may fail: deleting from {parent}, {what}, unless the statement deletes those rows first: that depends on the order the engine fires its actions in"
        ));
        return;
    }
    impact
        .failures
        .push(format!("cannot delete from {parent}: {what}{help}"));
    for f in impact.effects.iter_mut().filter(|f| f.via == e.via) {
        f.blocking = true;
    }
}

/// The rows of `e`'s child (as `ca`) the edge reaches, less those the
/// statement deletes too when `spare_deleted`, and the CTEs that needs.
fn reached_rows(sql: &Sql<'_>, e: &Edge, ca: &str, spare_deleted: bool) -> (Vec<Node>, String) {
    let mut needed = vec![Node::Deleted(e.parent)];
    let mut reached = sql.member(e, ca);
    if spare_deleted {
        needed.push(Node::Deleted(e.child));
        reached = format!("{reached} AND NOT ({})", sql.is_deleted(e.child, ca));
    }
    (needed, reached)
}

/// Whether the statement deletes rows of table `x`.
fn deletes_rows_of(deleted: &BTreeMap<usize, Option<u64>>, x: usize) -> bool {
    deleted.get(&x).copied().flatten().unwrap_or(0) > 0
}

/// Whether the edge reaches any row of its child.
fn reaches(impact: &Impact, e: &Edge, child: &Table) -> bool {
    impact
        .effects
        .iter()
        .any(|f| f.via == e.via && f.table == child.name && f.rows.unwrap_or(0) > 0)
}

/// What a SET NULL or SET DEFAULT edge writes into each column it sets,
/// as (column, value); `None` where a default is computed at run time.
fn set_values(sql: &Sql<'_>, e: &Edge, child: &Table) -> Option<Vec<(String, String)>> {
    e.set_cols
        .iter()
        .map(|col| Some((col.clone(), set_value(sql, e, child, col).ok()?)))
        .collect()
}

/// What a SET NULL or SET DEFAULT edge writes into `col` of its child
/// ([`super::super::chain::action_value`]).
fn set_value<'t>(
    sql: &Sql<'_>,
    e: &Edge,
    child: &'t Table,
    col: &str,
) -> std::result::Result<String, &'t str> {
    super::super::chain::action_value(sql.ctx.dialect, e.action, child.column(col))
}
