//! What an UPDATE that changes referenced key columns does to the rows
//! that point at them: each foreign key's `ON UPDATE` action (cascade,
//! SET NULL, SET DEFAULT) or blocker, and associations left dangling.

use super::super::chain::{self, PendingStep};
use super::super::own_row;
use super::super::{Action, Effect, Impact, display_columns, qcol, sample_order};
use super::{ChildEdge, ChildUpdates, KeyEdge, Update};
use crate::db::dialect::{RefCheck, tuple};
use crate::db::{PreviewTx, Rows};
use crate::error::Result;
use crate::schema::{FkAction, QualName};

impl<'a> Update<'a> {
    /// Incoming references to key columns that change: foreign keys, and
    /// associations other than arrays.
    pub(super) fn key_edges(&self) -> Vec<KeyEdge> {
        let table = self.table;
        let mut edges = Vec::new();
        for fk in self.ctx.schema.referencing(&table.name) {
            if fk.ref_columns.iter().any(|c| self.assigns(c)) {
                edges.push(KeyEdge {
                    child: fk.table.clone(),
                    columns: fk.columns.clone(),
                    ref_columns: fk.ref_columns.clone(),
                    action: Action::from_fk(fk.on_update),
                    via: fk.name.clone(),
                    source: "fk",
                    deferred: fk.deferrable && fk.initially_deferred,
                    on_update: fk.on_update,
                });
            }
        }
        for a in self
            .ctx
            .associations
            .iter()
            .filter(|a| a.ref_table == table.name)
        {
            if self.assigns(&a.ref_column) && !a.array {
                edges.push(KeyEdge {
                    child: a.table.clone(),
                    columns: vec![a.column.clone()],
                    ref_columns: vec![a.ref_column.clone()],
                    action: Action::Dangling,
                    via: a.name(),
                    source: a.source.name(),
                    deferred: false,
                    on_update: FkAction::NoAction,
                });
            }
        }
        edges
    }

    /// The CTE `k<edge_no>`: old and new values of the referenced key, for
    /// rows where it changes. Returns its name and definition.
    fn key_cte(&self, edge_no: usize, edge: &KeyEdge) -> (String, String) {
        let old: Vec<String> = edge
            .ref_columns
            .iter()
            .map(|c| qcol(&self.qual, c))
            .collect();
        let new: Vec<String> = edge.ref_columns.iter().map(|c| self.new_value(c)).collect();
        let mut sel: Vec<String> = Vec::new();
        for (i, (o, n)) in old.iter().zip(&new).enumerate() {
            sel.push(format!("{o} AS __o{i}"));
            sel.push(format!("{n} AS __n{i}"));
        }
        let kname = format!("k{edge_no}");
        // A foreign key acts when the engine sees its key move; an
        // association is dbguard's, and moves with the stored value.
        let moves = if edge.source == "fk" {
            let moved: Vec<String> = old
                .iter()
                .zip(&new)
                .zip(&edge.ref_columns)
                .map(|((o, n), c)| self.d.key_moves(o, n, self.table.column(c)))
                .collect();
            moved.join(" OR ")
        } else {
            let same: Vec<String> = new
                .iter()
                .zip(&old)
                .map(|(n, o)| self.d.not_distinct(n, o))
                .collect();
            format!("NOT ({})", same.join(" AND "))
        };
        let k_cte = format!(
            "{kname} AS (SELECT DISTINCT {} FROM {}{}{} ({moves}))",
            sel.join(", "),
            self.from,
            self.pred,
            if self.pred.is_empty() {
                " WHERE"
            } else {
                " AND"
            },
        );
        (kname, k_cte)
    }

    /// The referencing columns of an edge's child (as `c`), each as the
    /// engine compares it with the referenced key (with the key's
    /// collation on SQLite).
    fn child_key(&self, edge: &KeyEdge, child: Option<&crate::schema::Table>) -> Vec<String> {
        edge.columns
            .iter()
            .zip(&edge.ref_columns)
            .map(|(c, p)| {
                self.d.as_key_of(
                    &qcol("c", c),
                    child.and_then(|t| t.column(c)),
                    self.table.column(p),
                )
            })
            .collect()
    }

    /// The child rows (as `c`) an edge reaches: those that reference an old
    /// key value, less, for the kinds that block, those whose key moves to
    /// another row in time for the check.
    fn edge_cond(&self, kname: &str, edge: &KeyEdge) -> String {
        let n = edge.ref_columns.len();
        let olds: Vec<String> = (0..n).map(|i| format!("__o{i}")).collect();
        let news: Vec<String> = (0..n).map(|i| format!("__n{i}")).collect();
        let cvals = self.child_key(edge, self.ctx.schema.get(&edge.child));
        let mut cond = format!(
            "{} IN (SELECT {} FROM {kname})",
            tuple(&cvals),
            olds.join(", ")
        );
        let blocking_kind = matches!(
            edge.action,
            Action::Restrict | Action::NoAction | Action::Dangling
        );
        // A key that moves to another row (a swap) still satisfies a check
        // that waits for the statement's own rows.
        let check = self
            .d
            .reference_check(edge.action == Action::Restrict, edge.deferred);
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
        if !self.repoints_own_rows(edge) {
            return cond;
        }
        let repointed = format!(
            "{} IN (SELECT {} FROM m)",
            tuple(&self.d.row_ident(self.table, "c")),
            self.ident_cols.join(", ")
        );
        if blocking_kind && check == RefCheck::AtTheRow {
            // Checked as the row goes (SQLite's RESTRICT), after the row is
            // written: a row that referenced its own key and is re-pointed
            // by the statement no longer references it then; one that
            // referenced another row's may not yet.
            let own: Vec<String> = cvals
                .iter()
                .zip(&edge.ref_columns)
                .map(|(c, rc)| format!("{c} = {}", qcol("c", rc)))
                .collect();
            cond.push_str(&format!(" AND NOT ({repointed} AND {})", own.join(" AND ")));
        } else {
            // A check that waits for the statement's rows, and an action,
            // find a re-pointed row by its new value, which the outgoing
            // check judges ([`super::own_key`]).
            cond.push_str(&format!(" AND NOT ({repointed})"));
        }
        cond
    }

    /// For an `ON UPDATE SET DEFAULT` edge, the condition that a child row
    /// (as `c`) already holds the defaults it is given; `None` for other
    /// actions, or a default computed at run time.
    fn defaults_already_held(
        &self,
        edge: &KeyEdge,
        child: &crate::schema::Table,
    ) -> Option<String> {
        if edge.action != Action::SetDefault {
            return None;
        }
        let same: Option<Vec<String>> = edge
            .columns
            .iter()
            .map(|col| {
                let value = chain::action_value(self.d, edge.action, child.column(col)).ok()?;
                Some(self.d.not_distinct(&qcol("c", col), &value))
            })
            .collect();
        same.map(|s| s.join(" AND "))
    }

    /// Whether some of the rows an edge of the table into itself reaches
    /// (`cond`, as `c`) are rows the statement updates.
    fn holds_own_rows(
        &self,
        tx: &mut dyn PreviewTx,
        with_k: &str,
        child: &crate::schema::Table,
        cond: &str,
        impact: &mut Impact,
    ) -> Result<bool> {
        let n = tx.count(&format!(
            "{with_k}SELECT count(*) FROM {} AS c WHERE {cond} AND {} IN (SELECT {} FROM m)",
            child.own_rows(),
            tuple(&self.d.row_ident(self.table, "c")),
            self.ident_cols.join(", ")
        ))?;
        impact.bounded &= n.is_some();
        Ok(n.unwrap_or(0) > 0)
    }

    /// Whether SQLite's count of `edge`'s key takes some of the
    /// statement's rows twice ([`Self::recounted`]): only then can it come
    /// out even while a reference dangles.
    fn recounted_through(
        &self,
        tx: &mut dyn PreviewTx,
        edge: &KeyEdge,
        impact: &mut Impact,
    ) -> Result<bool> {
        let Some(fk) = self.table.foreign_keys.iter().find(|f| f.name == edge.via) else {
            return Ok(false);
        };
        Ok(self.recounted(tx, impact, fk)?.unwrap_or(1) > 0)
    }

    /// Whether `edge` is a key from the table to itself whose referencing
    /// columns the statement assigns.
    fn repoints_own_rows(&self, edge: &KeyEdge) -> bool {
        edge.child == self.table.name
            && !self.joined
            && edge.columns.iter().any(|c| self.assigns(c))
    }

    /// Counts the rows one edge reaches and records what happens to them:
    /// a failure, cascaded updates (kept in `child_updates` for the net
    /// totals), and the effect with its sample.
    pub(super) fn follow_key_edge(
        &self,
        tx: &mut dyn PreviewTx,
        edge_no: usize,
        edge: KeyEdge,
        (child_updates, steps): (&mut ChildUpdates, &mut Vec<PendingStep<'a>>),
        impact: &mut Impact,
    ) -> Result<()> {
        let Some(child) = self.ctx.schema.get(&edge.child) else {
            return Ok(());
        };
        let (kname, k_cte) = self.key_cte(edge_no, &edge);
        let with_k = self.with(&[self.m_cte.clone(), k_cte.clone()]);
        let cond = self.edge_cond(&kname, &edge);
        let n = tx.count(&format!(
            "{with_k}SELECT count(*) FROM {} AS c WHERE {cond}",
            child.own_rows()
        ))?;
        impact.bounded &= n.is_some();
        let rows = n.unwrap_or(0);
        let mut blocking = matches!(edge.action, Action::Restrict | Action::NoAction) && rows > 0;
        if blocking
            && edge.child == self.table.name
            && self
                .d
                .counts_own_references(edge.action == Action::Restrict)
            && self.holds_own_rows(tx, &with_k, child, &cond, impact)?
            && self.recounted_through(tx, &edge, impact)?
        {
            impact.warnings.push(format!(
                "may fail: updating {}, {rows} of its rows still reference{} the old key (FK {}), some of them rows it updates: SQLite checks a key from a table to itself by counting references as it rewrites each row, in the order it picks, and the count can come out even and let the statement through, leaving them referencing a key that no longer exists\nPoint those rows elsewhere in a statement of their own first.",
                self.table.name,
                if rows == 1 { "s" } else { "" },
                edge.via
            ));
        } else if blocking {
            impact
                .failures
                .push(self.still_referenced(&edge, &child.name, rows));
        }
        if edge.action == Action::Cascade && rows > 0 {
            blocking |=
                self.cascades_a_mixed_key(tx, &edge, child, (&kname, &with_k, &cond), impact)?;
        }
        if rows > 0 {
            let k = (kname.as_str(), with_k.as_str(), cond.as_str());
            blocking |= self.checks_on_action_rows(tx, &edge, child, k, impact)?;
            let k = (kname.as_str(), k_cte.as_str(), cond.as_str());
            blocking |= self.action_rows_miss_themselves(tx, &edge, child, k, impact)?;
        }
        if edge.action == Action::SetDefault && rows > 0 {
            blocking |= self.default_has_no_parent(tx, &edge, child, impact)?;
        }
        if matches!(
            edge.action,
            Action::Cascade | Action::SetNull | Action::SetDefault
        ) && rows > 0
        {
            child_updates
                .entry(child.name.clone())
                .or_default()
                .push(ChildEdge {
                    k_cte,
                    cond: cond.clone(),
                    cascade: (edge.action == Action::Cascade)
                        .then(|| (kname.clone(), edge.columns.clone())),
                    same: self.defaults_already_held(&edge, child),
                });
            if let Some(step) =
                self.chain_step(tx, edge_no, &edge, child, (&kname, &with_k, &cond))?
            {
                steps.push(step);
            }
        }
        let sample = if rows > 0 && self.ctx.options.sample_rows > 0 {
            let shown = display_columns(child, &edge.columns, 5);
            let cols: Vec<String> = shown.iter().map(|c| qcol("c", c)).collect();
            tx.query(&format!(
                "{with_k}SELECT {} FROM {} AS c WHERE {cond}{} LIMIT {}",
                cols.join(", "),
                child.own_rows(),
                sample_order(self.d, child, "c"),
                self.ctx.options.sample_rows
            ))?
            .unwrap_or_default()
        } else {
            Rows::default()
        };
        impact.effects.push(Effect {
            table: child.name.clone(),
            action: edge.action,
            via: edge.via,
            source: edge.source,
            depth: 1,
            rows: n,
            columns: edge.columns,
            parent: self.table.name.clone(),
            reached: true,
            blocking,
            note: self
                .d
                .defers(edge.action == Action::Restrict, edge.deferred)
                .then(|| "deferred: fails at commit".to_owned()),
            sample,
            on_update: false,
        });
        Ok(())
    }

    /// An action that changes columns of `child` another table references
    /// sets off that table's ON UPDATE action: where rows reference a
    /// value of the child rows the edge reaches (`cond`, as `c`) that the
    /// action moves, the step to follow ([`super::super::chain`]), with
    /// the refusal that stands where it cannot be followed.
    fn chain_step(
        &self,
        tx: &mut dyn PreviewTx,
        edge_no: usize,
        edge: &KeyEdge,
        child: &'a crate::schema::Table,
        (kname, with_k, cond): (&str, &str, &str),
    ) -> Result<Option<PendingStep<'a>>> {
        for fk in self.ctx.schema.referencing_tree(&child.name) {
            // The referenced columns the action writes, and their new
            // values: a chain starts only where one of them moves.
            let moved: Vec<String> = fk
                .ref_columns
                .iter()
                .filter_map(|rc| {
                    let i = edge.columns.iter().position(|c| c == rc)?;
                    let new = match edge.action {
                        Action::Cascade => format!("k.__n{i}"),
                        Action::SetNull => "NULL".to_owned(),
                        _ => return Some("TRUE".to_owned()),
                    };
                    Some(format!("NOT {}", self.d.not_distinct(&new, &qcol("c", rc))))
                })
                .collect();
            if moved.is_empty() {
                continue;
            }
            let Some(grand) = self.ctx.schema.get(&fk.table) else {
                continue;
            };
            let refs: Vec<String> = fk.ref_columns.iter().map(|c| qcol("c", c)).collect();
            let cols = super::super::chain::referencing_key(self.d, fk, (grand, "gx"), child);
            let n = tx.count(&format!(
                "{with_k}SELECT count(*) FROM {} AS gx WHERE {cols} IN (SELECT {} FROM {} AS c WHERE {cond} \
                 AND EXISTS (SELECT 1 FROM {kname} AS k WHERE {} AND ({})))",
                grand.own_rows(),
                refs.join(", "),
                child.own_rows(),
                k_joins(edge),
                moved.join(" OR ")
            ))?;
            if let Some(n) = n.filter(|&n| n > 0) {
                let what = format!(
                    "the ON UPDATE {} of {} ({})",
                    edge.on_update.sql(),
                    child.name,
                    edge.via
                );
                let refusal =
                    super::super::chain::not_followed("update", &what, &child.name, fk, n);
                let sql = self.step_sql(edge_no, edge, child, (kname, with_k));
                return Ok(Some(PendingStep {
                    step: sql.map(|(sql, cte)| super::super::chain::Step {
                        child,
                        sql,
                        cte,
                        depth: 1,
                        what,
                        via: edge.via.clone(),
                    }),
                    refusal,
                }));
            }
        }
        Ok(None)
    }

    /// The engine's UPDATE of the child rows an ON UPDATE CASCADE, SET
    /// NULL or SET DEFAULT edge reaches, as SQL, each column set to what
    /// the action writes there, and the CTE it reads: the key CTE (one row
    /// per old key) wrapped in one of a name no other preview CTE takes.
    /// `None` where a value is a default computed at run time.
    fn step_sql(
        &self,
        edge_no: usize,
        edge: &KeyEdge,
        child: &crate::schema::Table,
        (kname, with_k): (&str, &str),
    ) -> Option<(String, String)> {
        let kx = format!("__k{}_{edge_no}", self.ctx.chain_depth);
        let joins: Vec<String> = self
            .child_key(edge, Some(child))
            .iter()
            .enumerate()
            .map(|(i, c)| format!("k.__o{i} = {c}"))
            .collect();
        let mut sets = Vec::new();
        for (i, col) in edge.columns.iter().enumerate() {
            let value = match edge.action {
                Action::Cascade => format!("k.__n{i}"),
                _ => super::super::chain::action_value(self.d, edge.action, child.column(col))
                    .ok()?,
            };
            sets.push(format!("{} = {value}", crate::schema::quote_ident(col)));
        }
        // Joined, not a subquery per column: SQLite's affinity casts
        // repeat an assigned expression, and a subquery repeated at each
        // step of a chain nests past SQLite's limit.
        let sql = format!(
            "UPDATE {} AS c SET {} FROM {kx} AS k WHERE {}",
            child.name.sql(),
            sets.join(", "),
            joins.join(" AND ")
        );
        Some((sql, format!("{kx} AS ({with_k}SELECT * FROM {kname})")))
    }

    /// An ON UPDATE CASCADE of a MATCH FULL key that gives children a key
    /// with some columns NULL and some not (the parent's new key is so
    /// mixed, which its own MATCH SIMPLE keys allow): the engine rejects
    /// the cascaded row. Returns whether it fails.
    fn cascades_a_mixed_key(
        &self,
        tx: &mut dyn PreviewTx,
        edge: &KeyEdge,
        child: &crate::schema::Table,
        (kname, with_k, cond): (&str, &str, &str),
        impact: &mut Impact,
    ) -> Result<bool> {
        let Some(fk) = child.foreign_keys.iter().find(|f| f.name == edge.via) else {
            return Ok(false);
        };
        let not_null: Vec<String> = (0..edge.columns.len())
            .map(|i| format!("k.__n{i} IS NOT NULL"))
            .collect();
        let Some(mixed) = super::super::match_full::mixed_nulls(fk, &not_null) else {
            return Ok(false);
        };
        let same = k_joins(edge);
        let n = tx.count(&format!(
            "{with_k}SELECT count(*) FROM {} AS c WHERE {cond} AND EXISTS (SELECT 1 FROM {kname} AS k WHERE {} AND {mixed})",
            child.own_rows(),
            same
        ))?;
        impact.bounded &= n.is_some();
        let Some(n) = n.filter(|&n| n > 0) else {
            return Ok(false);
        };
        impact.failures.push(format!(
            "cannot update {}: ON UPDATE CASCADE would give {n} row{} of {} a key mixing NULL and non-NULL values, which MATCH FULL does not allow (FK {})",
            self.table.name,
            if n == 1 { "" } else { "s" },
            child.name,
            fk.name
        ));
        Ok(true)
    }

    /// ON UPDATE SET DEFAULT gives the reached rows the key of the child
    /// columns' defaults, which a row of this table must hold once the
    /// statement is done (a key it leaves alone, or one it gives), or the
    /// engine rejects it. Returns whether it fails.
    fn default_has_no_parent(
        &self,
        tx: &mut dyn PreviewTx,
        edge: &KeyEdge,
        child: &crate::schema::Table,
        impact: &mut Impact,
    ) -> Result<bool> {
        let Some(fk) = child.foreign_keys.iter().find(|f| f.name == edge.via) else {
            return Ok(false);
        };
        let mut defaults = Vec::new();
        for (i, col) in edge.columns.iter().enumerate() {
            let column = child.column(col);
            if column.and_then(|c| c.default.as_deref()).is_none() {
                return Ok(false); // a NULL in the key satisfies it
            }
            let value = match super::super::chain::action_value(self.d, edge.action, column) {
                Ok(value) => value,
                Err(d) => {
                    impact.warnings.push(format!(
                        "{}: the default of {}.{col} ({d}) is computed at run time and not checked",
                        edge.via, child.name
                    ));
                    return Ok(false);
                }
            };
            defaults.push(format!("{value} AS __n{i}"));
        }
        let missing = self.parent_missing(fk, &self.table.name);
        let n = tx.count(&format!(
            "{}SELECT count(*) FROM (SELECT {}) AS s WHERE {missing}",
            self.with_m,
            defaults.join(", ")
        ))?;
        impact.bounded &= n.is_some();
        if n.unwrap_or(0) == 0 {
            return Ok(false);
        }
        impact.failures.push(format!(
            "cannot update {}: ON UPDATE SET DEFAULT gives rows of {} the key ({}) of their defaults, which no {} row holds once the update is done (FK {})",
            self.table.name,
            child.name,
            edge.columns.join(", "),
            self.table.name,
            edge.via
        ));
        Ok(true)
    }

    /// Child rows an action gives NULL in a NOT NULL column (`set`: the
    /// column values over `from`, which joins the child as `c`). Returns
    /// whether there are any, recorded as a failure.
    fn null_into_not_null(
        &self,
        tx: &mut dyn PreviewTx,
        edge: &KeyEdge,
        child: &crate::schema::Table,
        (with_k, from): (&str, &str),
        set: &[(String, String)],
        impact: &mut Impact,
    ) -> Result<bool> {
        for (col, value) in set {
            if !child.column(col).is_some_and(|c| c.not_null) {
                continue;
            }
            let n = tx.count(&format!(
                "{with_k}SELECT count(*) FROM {from} AND ({value}) IS NULL"
            ))?;
            impact.bounded &= n.is_some();
            let Some(n) = n.filter(|&n| n > 0) else {
                continue;
            };
            impact.failures.push(format!(
                "cannot update {}: ON UPDATE {} would set {n} row{} of {}.{col} to NULL, which is NOT NULL (FK {})\nChange or re-point those rows first, or change the foreign key's action.",
                self.table.name,
                edge.on_update.sql(),
                if n == 1 { "" } else { "s" },
                child.name,
                edge.via
            ));
            return Ok(true);
        }
        Ok(false)
    }

    /// CHECK constraints of the child rows an ON UPDATE CASCADE, SET NULL
    /// or SET DEFAULT changes, as the engine's UPDATE of them checks them.
    /// Returns whether one fails.
    fn checks_on_action_rows(
        &self,
        tx: &mut dyn PreviewTx,
        edge: &KeyEdge,
        child: &crate::schema::Table,
        (kname, with_k, cond): (&str, &str, &str),
        impact: &mut Impact,
    ) -> Result<bool> {
        let mut set = Vec::new();
        for (i, col) in edge.columns.iter().enumerate() {
            let value = match edge.action {
                Action::Cascade => format!("k.__n{i}"),
                Action::SetNull | Action::SetDefault => {
                    let written =
                        super::super::chain::action_value(self.d, edge.action, child.column(col));
                    // Computed at run time: not evaluated.
                    let Ok(value) = written else {
                        return Ok(false);
                    };
                    value
                }
                _ => return Ok(false),
            };
            set.push((col.clone(), value));
        }
        let same = k_joins(edge);
        let from = format!(
            "{} AS c JOIN {kname} AS k ON {} WHERE {cond}",
            child.own_rows(),
            same
        );
        // SET NULL, a cascaded key with a NULL in it, or a SET DEFAULT of a
        // column with no default writes NULL.
        let nulled = self.null_into_not_null(tx, edge, child, (with_k, &from), &set, impact)?;
        let rows = super::super::checks::Written {
            table: child,
            with: with_k,
            from: &from,
            values: super::super::checks::row_values(child, "c", &set),
        };
        let violated = super::super::checks::violated(tx, &rows, impact)?;
        for (check, n) in &violated {
            impact.failures.push(format!(
                "cannot update {}: ON UPDATE {} would leave {n} row{} of {} violating CHECK {} ({}) (FK {})",
                self.table.name,
                edge.on_update.sql(),
                if *n == 1 { "" } else { "s" },
                child.name,
                check.name,
                check.expr,
                edge.via
            ));
        }
        Ok(nulled || !violated.is_empty())
    }

    /// SQLite runs an ON UPDATE action as an UPDATE of the rows it
    /// reaches, which rewrites them whole when it assigns a column of a
    /// key from their table to itself: such a row then misses itself as
    /// the parent of its references to itself that match its key only by
    /// collation or affinity ([`crate::impact::own_row`]). Returns whether
    /// one does.
    fn action_rows_miss_themselves(
        &self,
        tx: &mut dyn PreviewTx,
        edge: &KeyEdge,
        child: &crate::schema::Table,
        (kname, k_cte, cond): (&str, &str, &str),
        impact: &mut Impact,
    ) -> Result<bool> {
        if !matches!(
            edge.action,
            Action::Cascade | Action::SetNull | Action::SetDefault
        ) {
            return Ok(false);
        }
        let mut set = Vec::new();
        for (i, col) in edge.columns.iter().enumerate() {
            let value = match edge.action {
                Action::Cascade => {
                    let t = child.column(col).map_or("", |c| c.type_name.as_str());
                    self.d.cast(&format!("k.__n{i}"), t)
                }
                _ => match chain::action_value(self.d, edge.action, child.column(col)) {
                    Ok(v) => v,
                    // Computed at run time: not evaluated.
                    Err(_) => return Ok(false),
                },
            };
            set.push((col.clone(), value));
        }
        let kept = |c: &str| self.after_statement(child, c);
        let missed = own_row::missed_by_rewrite(self.d, self.ctx.schema, child, &set, &kept);
        if missed.is_empty() {
            return Ok(false);
        }
        let with_k = self.with(&[self.m_cte.clone(), k_cte.to_owned(), self.new_values_cte()]);
        let mut missed_any = false;
        for (fk, cond_missed) in missed {
            let n = tx.count(&format!(
                "{with_k}SELECT count(*) FROM {} AS c JOIN {kname} AS k ON {} WHERE {cond} AND {cond_missed}",
                child.own_rows(),
                k_joins(edge),
            ))?;
            impact.bounded &= n.is_some();
            let Some(n) = n.filter(|&n| n > 0) else {
                continue;
            };
            let deferred = self.d.defers(false, fk.deferrable && fk.initially_deferred);
            impact.failures.push(format!(
                "cannot update {}: ON UPDATE {} of FK {} rewrites {}",
                self.table.name,
                edge.on_update.sql(),
                edge.via,
                own_row::missing_itself(child, fk, n, deferred)
            ));
            missed_any = true;
        }
        Ok(missed_any)
    }

    /// The CTE `__nv` of the statement's rows (`__i0, ...`) with the new
    /// value of each column it assigns (`__v0, ...`, in assignment order):
    /// a CTE, so that the statement's own alias cannot capture the outer
    /// row an expression over it reads.
    fn new_values_cte(&self) -> String {
        let mut items = self.ident_sel.clone();
        for (j, (_, v)) in self.assigned.iter().enumerate() {
            items.push(format!("{v} AS __v{j}"));
        }
        format!(
            "__nv AS (SELECT {}{} FROM {}{})",
            self.distinct(),
            items.join(", "),
            self.from,
            self.pred
        )
    }

    /// Column `col` of a row of `child` (as `c`) once the statement has
    /// written it: the statement's new value for a row of its own
    /// (from [`Self::new_values_cte`]), the value as it stands otherwise.
    fn after_statement(&self, child: &crate::schema::Table, col: &str) -> String {
        let assigned = self.assigned.iter().position(|(c, _)| c == col);
        let (true, false, Some(j)) = (child.name == self.table.name, self.joined, assigned) else {
            return qcol("c", col);
        };
        let own = tuple(&self.d.row_ident(self.table, "c"));
        let ident = self.ident_cols.join(", ");
        format!(
            "CASE WHEN {own} IN (SELECT {ident} FROM __nv) THEN (SELECT __v{j} FROM __nv WHERE ({ident}) = {own}) ELSE {} END",
            qcol("c", col)
        )
    }

    /// The failure of a `RESTRICT`/`NO ACTION` edge `rows` rows of `child`
    /// still hold.
    fn still_referenced(&self, edge: &KeyEdge, child: &QualName, rows: u64) -> String {
        let clause = format!(
            "ON UPDATE {}{}",
            edge.on_update.sql(),
            if edge.deferred {
                " DEFERRABLE INITIALLY DEFERRED"
            } else {
                ""
            }
        );
        format!(
            "cannot update {}: {rows} row{} in {child} still reference{} the old key (FK {}, {clause}){}",
            self.table.name,
            if rows == 1 { "" } else { "s" },
            if rows == 1 { "s" } else { "" },
            edge.via,
            if self
                .d
                .defers(edge.action == Action::Restrict, edge.deferred)
            {
                "; the failure comes at commit"
            } else {
                ""
            }
        )
    }
}

/// `k.__o0 = c.col0 AND ...`: a child row (`c`) with the old key of a row
/// of the key CTE (`k`).
fn k_joins(edge: &KeyEdge) -> String {
    let same: Vec<String> = edge
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("k.__o{i} = {}", qcol("c", c)))
        .collect();
    same.join(" AND ")
}
