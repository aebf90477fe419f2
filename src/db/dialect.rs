//! The SQL differences between the engines that previews need.
//!
//! The impact analysis (`crate::impact`) writes its counting queries once,
//! engine-neutrally; the few places where Postgres and SQLite spell things
//! differently — how to name a row, casts, `IS NOT DISTINCT FROM`, the shape
//! of a recursive closure over a cycle of tables — are answered here.

use super::Engine;
use crate::schema::{Table, quote_ident};

/// One step of a closure over a cycle of tables: rows of `child` that
/// reference rows of `parent` already in the closure.
#[derive(Debug, Clone)]
pub struct ClosureStep {
    pub parent_tag: usize,
    pub parent_sql: String,
    pub child_tag: usize,
    pub child_sql: String,
    /// `(child_col, parent_col)` pairs of the foreign key.
    pub pairs: Vec<(String, String)>,
    /// Row identity of the parent as `p`, of the child as `c`
    /// ([`Dialect::row_ident`] with those qualifiers).
    pub parent_ident: Vec<String>,
    pub child_ident: Vec<String>,
}

/// SQL spelling for one engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect(pub Engine);

impl Dialect {
    /// Expressions naming one row of `table` (referenced as `qual`) for the
    /// duration of a statement: Postgres `tableoid, ctid` (a partitioned
    /// table's partitions share ctids), SQLite `rowid`, or the primary key of
    /// a `WITHOUT ROWID` table.
    pub fn row_ident(&self, table: &Table, qual: &str) -> Vec<String> {
        match self.0 {
            Engine::Postgres => vec![format!("{qual}.tableoid"), format!("{qual}.ctid")],
            Engine::Sqlite => {
                if table.without_rowid {
                    if let Some(pk) = &table.primary_key {
                        return pk
                            .columns
                            .iter()
                            .map(|c| format!("{qual}.{}", quote_ident(c)))
                            .collect();
                    }
                }
                vec![format!("{qual}.rowid")]
            }
        }
    }

    /// An aggregate over rows of `table` (as `qual`) that changes when the
    /// set of rows changes, whatever their order: a sum of hashes of the
    /// primary key (Postgres), or of mixed rowids (SQLite). Part of the
    /// preview's digest, so the same number of *other* rows is drift too.
    pub fn fingerprint(&self, table: &Table, qual: &str) -> String {
        match self.0 {
            Engine::Postgres => {
                let key = match &table.primary_key {
                    Some(pk) if pk.columns.len() == 1 => {
                        format!("{qual}.{}::text", quote_ident(&pk.columns[0]))
                    }
                    Some(pk) => format!(
                        "ROW({})::text",
                        pk.columns
                            .iter()
                            .map(|c| format!("{qual}.{}", quote_ident(c)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    None => format!("{qual}.ctid::text"),
                };
                format!("coalesce(sum(hashtextextended({key}, 0)::numeric), 0)::text")
            }
            Engine::Sqlite => {
                if table.without_rowid {
                    let cols: Vec<String> = table
                        .primary_key
                        .iter()
                        .flat_map(|pk| pk.columns.iter())
                        .map(|c| format!("length(quote({qual}.{}))", quote_ident(c)))
                        .collect();
                    if cols.is_empty() {
                        return "0".into();
                    }
                    format!("coalesce(sum({}), 0)", cols.join(" * 31 + "))
                } else {
                    format!("coalesce(sum(({qual}.rowid * 2654435761) % 4294967311), 0)")
                }
            }
        }
    }

    /// Width of the identity of any row in a closure over a cycle: the
    /// closure table has one fixed shape for all tables in the cycle.
    fn closure_ident(&self, ident: &[String]) -> Vec<String> {
        match self.0 {
            Engine::Postgres => ident.to_vec(),
            Engine::Sqlite => {
                if ident.len() == 1 {
                    ident.to_vec()
                } else {
                    vec![format!("json_array({})", ident.join(", "))]
                }
            }
        }
    }

    /// The number of identity columns a closure row carries.
    pub fn closure_width(&self) -> usize {
        match self.0 {
            Engine::Postgres => 2,
            Engine::Sqlite => 1,
        }
    }

    /// `expr` as a value of the column type (Postgres); SQLite's dynamic
    /// typing applies column affinity by itself.
    pub fn cast(&self, expr: &str, type_name: &str) -> String {
        match self.0 {
            Engine::Postgres => format!("CAST(({expr}) AS {type_name})"),
            Engine::Sqlite => format!("({expr})"),
        }
    }

    /// `a IS NOT DISTINCT FROM b`.
    ///
    /// "Not distinct" here means the stored value would be the same: on
    /// Postgres the text forms are compared (json, xml and point have no
    /// `=`, and `1.0 = 1.00` or two boxes of the same area are equal but
    /// not the same value); on SQLite the storage class must match too.
    pub fn not_distinct(&self, a: &str, b: &str) -> String {
        match self.0 {
            Engine::Postgres => format!("(({a})::text IS NOT DISTINCT FROM ({b})::text)"),
            Engine::Sqlite => format!("(({a}) IS ({b}) AND typeof({a}) = typeof({b}))"),
        }
    }

    /// `count(*)` of rows where `cond` holds, as an aggregate.
    pub fn count_where(&self, cond: &str) -> String {
        match self.0 {
            Engine::Postgres => format!("count(*) FILTER (WHERE {cond})"),
            Engine::Sqlite => format!("coalesce(sum(CASE WHEN {cond} THEN 1 ELSE 0 END), 0)"),
        }
    }

    /// Whether an array column overlaps the values of a subquery (the
    /// `X_ids` association form); Postgres only.
    pub fn array_overlaps(&self, col: &str, elem_type: &str, subquery: &str) -> Option<String> {
        match self.0 {
            Engine::Postgres => Some(format!(
                "{col} && ARRAY(SELECT CAST(v AS {elem_type}) FROM ({subquery}) AS s(v))"
            )),
            Engine::Sqlite => None,
        }
    }

    /// `WITH RECURSIVE` CTE body computing the closure of a cycle of tables,
    /// as `name(tag, i0[, i1])`: the seed rows, then repeatedly the rows
    /// that reference a row already in it through a cascading key. `UNION`
    /// (not `UNION ALL`) makes it a fixed point on row sets, so cycles end.
    pub fn closure_cte(&self, name: &str, seeds: &[String], steps: &[ClosureStep]) -> String {
        let width = self.closure_width();
        let cols: Vec<String> = (0..width).map(|i| format!("i{i}")).collect();
        let head = format!("{name}(tag, {})", cols.join(", "));
        let seed_sql = seeds.join("\n  UNION\n  ");
        match self.0 {
            Engine::Postgres => {
                // Postgres allows one reference to the recursive CTE, so all
                // steps go in one LATERAL branch, each guarded by the tag.
                let branches: Vec<String> = steps
                    .iter()
                    .map(|s| {
                        let on = join_pairs(&s.pairs, "c", "p");
                        format!(
                            "SELECT {ct} AS tag, c.tableoid AS i0, c.ctid AS i1 FROM {psql} AS p JOIN {csql} AS c ON {on} \
                             WHERE d.tag = {pt} AND p.tableoid = d.i0 AND p.ctid = d.i1",
                            ct = s.child_tag,
                            pt = s.parent_tag,
                            psql = s.parent_sql,
                            csql = s.child_sql,
                        )
                    })
                    .collect();
                format!(
                    "{head} AS (\n  {seed_sql}\n  UNION\n  SELECT x.tag, x.i0, x.i1 FROM {name} AS d CROSS JOIN LATERAL (\n    {}\n  ) AS x\n)",
                    branches.join("\n    UNION ALL\n    ")
                )
            }
            Engine::Sqlite => {
                let branches: Vec<String> = steps
                    .iter()
                    .map(|s| {
                        let on = join_pairs(&s.pairs, "c", "p");
                        let pid = self.closure_ident(&s.parent_ident);
                        let cid = self.closure_ident(&s.child_ident);
                        format!(
                            "SELECT {ct}, {cid} FROM {name} AS d JOIN {psql} AS p ON {pid} = d.i0 JOIN {csql} AS c ON {on} WHERE d.tag = {pt}",
                            ct = s.child_tag,
                            pt = s.parent_tag,
                            cid = cid.join(", "),
                            pid = pid.join(", "),
                            psql = s.parent_sql,
                            csql = s.child_sql,
                        )
                    })
                    .collect();
                format!(
                    "{head} AS (\n  {seed_sql}\n  UNION\n  {}\n)",
                    branches.join("\n  UNION\n  ")
                )
            }
        }
    }

    /// A seed row of a closure: `SELECT tag, identity FROM ...`.
    pub fn closure_seed(&self, tag: usize, ident: &[String], from_where: &str) -> String {
        format!(
            "SELECT {tag}, {} {from_where}",
            self.closure_ident(ident).join(", ")
        )
    }

    /// The predicate "this row's identity is among the closure rows tagged
    /// `tag`".
    pub fn in_closure(&self, ident: &[String], closure: &str, tag: usize) -> String {
        let id = self.closure_ident(ident);
        let cols: Vec<String> = (0..id.len()).map(|i| format!("i{i}")).collect();
        format!(
            "{} IN (SELECT {} FROM {closure} WHERE tag = {tag})",
            tuple(&id),
            cols.join(", ")
        )
    }
}

/// `(a, b)` for several expressions, `a` for one.
pub fn tuple(exprs: &[String]) -> String {
    if exprs.len() == 1 {
        exprs[0].clone()
    } else {
        format!("({})", exprs.join(", "))
    }
}

fn join_pairs(pairs: &[(String, String)], child: &str, parent: &str) -> String {
    pairs
        .iter()
        .map(|(c, p)| format!("{child}.{} = {parent}.{}", quote_ident(c), quote_ident(p)))
        .collect::<Vec<_>>()
        .join(" AND ")
}
