//! The cascade graph of a DELETE: which tables it reaches and through
//! which references.
//!
//! Starting from the target, every foreign key into a deleted table is an
//! edge (keys on a partitioned ancestor reach its partitions' rows too),
//! and so is every association; `ON DELETE CASCADE` edges add their child
//! to the deleted tables. The strongly connected components of the cascade
//! edges tell the counting SQL ([`super::delete`]) which tables form a
//! chain, each set computed once from its parents', and which form a
//! cycle that needs one recursive closure.

use std::collections::HashMap;

use super::{Action, Context};
use crate::schema::FkAction;

/// One reference into a deleted table.
#[derive(Debug, Clone)]
pub(super) struct Edge {
    pub(super) parent: usize,
    pub(super) child: usize,
    pub(super) action: Action,
    pub(super) via: String,
    pub(super) source: &'static str,
    pub(super) child_cols: Vec<String>,
    pub(super) parent_cols: Vec<String>,
    /// Columns changed by SET NULL / SET DEFAULT.
    pub(super) set_cols: Vec<String>,
    pub(super) deferred: bool,
    /// The engine's firing order among the parent's keys (see
    /// [`crate::schema::ForeignKey::ordinal`]).
    pub(super) ordinal: i64,
    pub(super) array: bool,
    pub(super) elem_type: String,
}

/// The tables a delete reaches and how.
pub(super) struct Graph {
    pub(super) target: usize,
    /// Tables whose rows are deleted, in BFS order from the target.
    pub(super) deleted: Vec<usize>,
    pub(super) depth: HashMap<usize, usize>,
    pub(super) edges: Vec<Edge>,
    /// Strongly connected components of the cascade graph, parents first.
    pub(super) sccs: Vec<Vec<usize>>,
    pub(super) scc_of: HashMap<usize, usize>,
    /// Components that need a recursive closure (a cycle or self-loop).
    pub(super) cyclic: Vec<bool>,
}

impl Graph {
    pub(super) fn build(ctx: &Context<'_>, target: usize) -> Graph {
        let schema = ctx.schema;
        let mut deleted = vec![target];
        let mut depth = HashMap::from([(target, 0usize)]);
        let mut edges = Vec::new();
        let mut i = 0;
        while i < deleted.len() {
            let p = deleted[i];
            i += 1;
            let pname = &schema.tables[p].name;
            // Keys that reference a partitioned table also reference the
            // rows of each of its partitions.
            for fk in schema.referencing_through_partitions(pname) {
                let Some(c) = schema.index_of(&fk.table) else {
                    continue;
                };
                let action = Action::from_fk(fk.on_delete);
                edges.push(Edge {
                    parent: p,
                    child: c,
                    action,
                    via: fk.name.clone(),
                    source: "fk",
                    child_cols: fk.columns.clone(),
                    parent_cols: fk.ref_columns.clone(),
                    set_cols: match fk.on_delete {
                        FkAction::SetNull | FkAction::SetDefault => {
                            fk.delete_set_columns().to_vec()
                        }
                        _ => Vec::new(),
                    },
                    deferred: fk.deferrable && fk.initially_deferred,
                    ordinal: fk.ordinal,
                    array: false,
                    elem_type: String::new(),
                });
                if action == Action::Cascade && !depth.contains_key(&c) {
                    depth.insert(c, depth[&p] + 1);
                    deleted.push(c);
                }
            }
            for a in ctx.associations.iter().filter(|a| &a.ref_table == pname) {
                let Some(c) = schema.index_of(&a.table) else {
                    continue;
                };
                edges.push(Edge {
                    parent: p,
                    child: c,
                    action: Action::Dangling,
                    via: a.name(),
                    source: a.source.name(),
                    child_cols: vec![a.column.clone()],
                    parent_cols: vec![a.ref_column.clone()],
                    set_cols: Vec::new(),
                    deferred: false,
                    ordinal: 0,
                    array: a.array,
                    elem_type: a.elem_type.clone(),
                });
            }
        }
        let (sccs, scc_of, cyclic) = components(&deleted, &edges);
        Graph {
            target,
            deleted,
            depth,
            edges,
            sccs,
            scc_of,
            cyclic,
        }
    }

    pub(super) fn is_cyclic(&self, x: usize) -> bool {
        self.scc_of.get(&x).is_some_and(|&k| self.cyclic[k])
    }

    pub(super) fn cascade_into(&self, x: usize) -> impl Iterator<Item = &Edge> {
        self.edges
            .iter()
            .filter(move |e| e.child == x && e.action == Action::Cascade)
    }
}

/// Tarjan's strongly connected components over the cascade edges, returned
/// parents first, with which ones hold a cycle.
fn components(
    nodes: &[usize],
    edges: &[Edge],
) -> (Vec<Vec<usize>>, HashMap<usize, usize>, Vec<bool>) {
    let mut adj: HashMap<usize, Vec<usize>> = HashMap::new();
    for e in edges.iter().filter(|e| e.action == Action::Cascade) {
        adj.entry(e.parent).or_default().push(e.child);
    }
    struct St<'a> {
        adj: &'a HashMap<usize, Vec<usize>>,
        index: HashMap<usize, usize>,
        low: HashMap<usize, usize>,
        on: HashMap<usize, bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(s: &mut St<'_>, v: usize) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on.insert(v, true);
        let succ = s.adj.get(&v).cloned().unwrap_or_default();
        for w in succ {
            if !s.index.contains_key(&w) {
                visit(s, w);
                let lw = s.low[&w];
                let lv = s.low[&v];
                s.low.insert(v, lv.min(lw));
            } else if s.on.get(&w).copied().unwrap_or(false) {
                let iw = s.index[&w];
                let lv = s.low[&v];
                s.low.insert(v, lv.min(iw));
            }
        }
        if s.low[&v] == s.index[&v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.insert(w, false);
                comp.push(w);
                if w == v {
                    break;
                }
            }
            comp.sort_unstable();
            s.out.push(comp);
        }
    }
    let mut st = St {
        adj: &adj,
        index: HashMap::new(),
        low: HashMap::new(),
        on: HashMap::new(),
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for &n in nodes {
        if !st.index.contains_key(&n) {
            visit(&mut st, n);
        }
    }
    let mut sccs = st.out;
    sccs.reverse();
    let mut scc_of = HashMap::new();
    for (k, comp) in sccs.iter().enumerate() {
        for &x in comp {
            scc_of.insert(x, k);
        }
    }
    let cyclic = sccs
        .iter()
        .map(|comp| {
            comp.len() > 1
                || edges.iter().any(|e| {
                    e.action == Action::Cascade && e.parent == comp[0] && e.child == comp[0]
                })
        })
        .collect();
    (sccs, scc_of, cyclic)
}
