//! The rows an UPDATE's key actions reach in other tables (and in the
//! target itself): their net count per table for the totals, and the row
//! sets the guarded apply captures. A row two edges reach counts once; a
//! row an action leaves as it was counts in the row set (the engine writes
//! it) but not in the totals.

use std::collections::BTreeMap;

use super::{ChildUpdates, Update};
use crate::db::PreviewTx;
use crate::db::dialect::tuple;
use crate::error::Result;
use crate::impact::{Impact, RowSet, Totals, qcol};
use crate::schema::{QualName, Table};

/// The rows the key actions reach in each child table, those they leave as
/// they were included: the engine writes each, and the apply captures it.
pub(super) type Reached = BTreeMap<QualName, Option<u64>>;

/// One edge through which a key change updates a child's rows (as `c`).
pub(super) struct ChildEdge {
    /// The `k` CTE definition the condition reads.
    pub(super) k_cte: String,
    /// Selects the child rows the edge reaches.
    pub(super) cond: String,
    /// For `ON UPDATE CASCADE`: the `k` CTE's name and the child's columns
    /// it rewrites, so a cascade into the child's own key can say where
    /// each row moves.
    pub(super) cascade: Option<(String, Vec<String>)>,
    /// For `ON UPDATE SET DEFAULT`: the rows it gives the values they
    /// already hold, which it leaves as they were (not counted as
    /// updated).
    pub(super) same: Option<String>,
}

impl Update<'_> {
    /// Net updated rows of each child: a row reached through two keys, or
    /// a target row that is also a cascaded child, counts once, and a row
    /// a SET DEFAULT gives the values it holds not at all. Returns the
    /// rows reached, those included, for the row sets.
    pub(super) fn count_child_updates(
        &self,
        tx: &mut dyn PreviewTx,
        child_updates: &ChildUpdates,
        totals: &mut BTreeMap<QualName, Totals>,
        impact: &mut Impact,
    ) -> Result<Reached> {
        let mut reached = Reached::new();
        for (child_name, edges) in child_updates {
            let Some(child) = self.ctx.schema.get(child_name) else {
                continue;
            };
            let (mut ctes, mut all) = child_ctes_and_conds(edges);
            let mut changed: Vec<String> = edges
                .iter()
                .map(|e| match &e.same {
                    Some(same) => format!("(({}) AND NOT ({same}))", e.cond),
                    None => format!("({})", e.cond),
                })
                .collect();
            if child_name == &self.table.name {
                ctes.push(self.m_cte.clone());
                let own = format!(
                    "{} IN (SELECT {} FROM m WHERE __changed = 1)",
                    tuple(&self.d.row_ident(child, "c")),
                    self.ident_cols.join(", ")
                );
                all.push(own.clone());
                changed.push(own);
            }
            let mut count = |conds: &[String]| {
                tx.count(&format!(
                    "{}SELECT count(*) FROM {} AS c WHERE {}",
                    self.with(&ctes),
                    child.own_rows(),
                    conds.join(" OR ")
                ))
            };
            let n_all = count(&all)?;
            let n = if edges.iter().any(|e| e.same.is_some()) {
                count(&changed)?
            } else {
                n_all
            };
            impact.bounded &= n.is_some() && n_all.is_some();
            reached.insert(child_name.clone(), n_all);
            // A table whose rows the actions all leave as they were
            // changes nothing.
            if n != Some(0) || totals.contains_key(child_name) {
                totals.entry(child_name.clone()).or_default().update = n.unwrap_or(0);
            }
        }
        Ok(reached)
    }

    /// The target's rows, and the children a key change updates.
    pub(super) fn push_row_sets(
        &self,
        child_updates: &ChildUpdates,
        reached: &Reached,
        matched: Option<u64>,
        impact: &mut Impact,
    ) {
        impact.row_sets.push(RowSet {
            table: self.table.name.clone(),
            op: crate::journal::Op::Update,
            with: self.with_m.clone(),
            alias: "a".into(),
            join: format!("JOIN m ON {}", self.join_m()),
            cond: "TRUE".into(),
            rows: matched,
            position: 0,
            new_key: self
                .pk_moves
                .map(|pk| (0..pk.columns.len()).map(|i| format!("m.__k{i}")).collect()),
            digest_from: None,
        });
        for (child_name, edges) in child_updates {
            if child_name == &self.table.name {
                continue; // the target's own set covers it
            }
            let (ctes, conds) = child_ctes_and_conds(edges);
            impact.row_sets.push(RowSet {
                table: child_name.clone(),
                op: crate::journal::Op::Update,
                with: self.with(&ctes),
                alias: "c".into(),
                join: String::new(),
                cond: conds.join(" OR "),
                rows: reached.get(child_name).copied().flatten(),
                position: 1,
                new_key: self
                    .ctx
                    .schema
                    .get(child_name)
                    .and_then(|child| cascaded_key(child, edges)),
                digest_from: None,
            });
        }
    }
}

/// The CTEs and the condition selecting the rows of one child that the
/// key change updates (as `c`), through any of its edges.
fn child_ctes_and_conds(edges: &[ChildEdge]) -> (Vec<String>, Vec<String>) {
    let mut ctes = Vec::new();
    let mut conds = Vec::new();
    for e in edges {
        ctes.push(e.k_cte.clone());
        conds.push(format!("({})", e.cond));
    }
    (ctes, conds)
}

/// Where a child's rows (as `c`) move when a cascade rewrites columns of
/// its primary key: each key column's new value, `None` when no cascade
/// touches the key. A row one cascade does not reach keeps its value (a
/// key column is never NULL, so `COALESCE` tells the two apart).
fn cascaded_key(child: &Table, edges: &[ChildEdge]) -> Option<Vec<String>> {
    let pk = child.primary_key.as_ref()?;
    let mut moved = false;
    let exprs = pk
        .columns
        .iter()
        .map(|col| {
            let kept = qcol("c", col);
            let Some((kname, cols, i)) = edges.iter().find_map(|e| {
                let (kname, cols) = e.cascade.as_ref()?;
                Some((kname, cols, cols.iter().position(|c| c == col)?))
            }) else {
                return kept;
            };
            moved = true;
            let on: Vec<String> = cols
                .iter()
                .enumerate()
                .map(|(j, c)| format!("k.__o{j} = {}", qcol("c", c)))
                .collect();
            format!(
                "COALESCE((SELECT k.__n{i} FROM {kname} AS k WHERE {}), {kept})",
                on.join(" AND ")
            )
        })
        .collect();
    moved.then_some(exprs)
}
