//! Rows that reference a key of their own table which the same UPDATE
//! changes away: whether their reference is checked before or after the
//! key's `ON UPDATE` action rewrites it.
//!
//! A row's reference is checked when the row is written with a changed
//! reference, or (PostgreSQL) when it moves to another partition, which
//! is checked as an insert. A key the statement changes away is missing
//! then, unless the key's `ON UPDATE CASCADE / SET NULL / SET DEFAULT`
//! has already rewritten the reference:
//!
//! - The row's own action comes first: PostgreSQL fires a row's action
//!   trigger before its check trigger (they fire in name order, `_a_`
//!   before `_c_`), and the check then skips a row version the action has
//!   replaced; SQLite runs the action as the row goes. So a row pointed at
//!   the key it gives up ends with what the action writes.
//! - Except a row moved across partitions: its insert is queued, and
//!   checked, before the UPDATE event that carries its own action.
//! - A row pointed at the key another row gives up is rewritten first only
//!   if that row comes first: the order the engine visits rows in decides
//!   ("may fail").
//! - A deferred key is checked at commit, after every action; but SQLite
//!   runs a row's action as the row goes, so a row another row re-points
//!   later is not rewritten by it.
//!
//! And SQLite counts references instead of checking them: a row that
//! references the key it is given (again) is counted against that key
//! twice ([`Dialect::recounts_own_reference`]).
//!
//! [`Dialect::recounts_own_reference`]: crate::db::dialect::Dialect::recounts_own_reference

use super::Update;
use crate::db::PreviewTx;
use crate::db::dialect::tuple;
use crate::error::{Error, Result};
use crate::impact::{Action, Impact, qcol};
use crate::schema::{FkAction, ForeignKey, quote_ident};

/// How the rows whose reference is missing when it is checked divide.
#[derive(Default)]
struct Missing {
    /// The key never existed, or no action rewrites the reference.
    dangling: u64,
    /// Pointed at the key they give up, rewritten by its action first.
    own: u64,
    /// Pointed at the key they give up, but moved across partitions.
    own_moved: u64,
    /// Pointed at a key another row gives up.
    other: u64,
}

impl Update<'_> {
    /// Whether the references of `fk` are checked here rather than as
    /// references into a table the statement leaves alone.
    pub(super) fn checks_own_key(&self, fk: &ForeignKey) -> bool {
        fk.ref_table == self.table.name && !self.joined
    }

    /// Checks the references of each key from the table to itself
    /// against the keys the statement changes.
    pub(super) fn check_own_keys(&self, tx: &mut dyn PreviewTx, impact: &mut Impact) -> Result<()> {
        let leaves = self.leaves(tx, impact)?;
        for fk in &self.table.foreign_keys {
            // A chain's step writes what its key's parent rows hold once
            // the statement has changed them ([`crate::impact::chain`]).
            if !self.checks_own_key(fk) || self.ctx.step.as_ref().is_some_and(|s| s.via == fk.name)
            {
                continue;
            }
            let assigned = fk.columns.iter().any(|c| self.assigns(c));
            if assigned || !leaves.is_empty() {
                let missing = self.missing(tx, impact, fk, assigned, &leaves)?;
                // Checks the preview could not read count as some.
                let checked = missing.own + missing.own_moved + missing.other > 0
                    && tx.checks(self.table)?.is_none_or(|c| !c.is_empty());
                self.report(impact, fk, &missing, checked);
            }
            self.check_recount(tx, impact, fk)?;
        }
        Ok(())
    }

    /// The leaves of a partitioned table with their partition
    /// constraints, when the statement may move rows between them.
    fn leaves(&self, tx: &mut dyn PreviewTx, impact: &mut Impact) -> Result<Vec<(String, String)>> {
        let movable = self.table.kind == crate::schema::TableKind::Partitioned
            && self.ctx.step.is_none()
            && self
                .table
                .foreign_keys
                .iter()
                .any(|fk| self.checks_own_key(fk));
        let query = self.d.leaf_constraints_query(&self.table.name);
        let (true, Some(query)) = (movable, query) else {
            return Ok(Vec::new());
        };
        let Some(rows) = tx.query(&query)? else {
            impact.bounded = false;
            return Ok(Vec::new());
        };
        Ok(rows
            .rows
            .iter()
            .filter_map(|row| {
                let oid = row.first()?.text()?.to_owned();
                let def = row.get(1)?.text()?.to_owned();
                Some((oid, def))
            })
            .collect())
    }

    /// Counts the rows whose reference through `fk` is checked and finds
    /// no key once the statement's rows are written.
    fn missing(
        &self,
        tx: &mut dyn PreviewTx,
        impact: &mut Impact,
        fk: &ForeignKey,
        assigned: bool,
        leaves: &[(String, String)],
    ) -> Result<Missing> {
        let n = fk.columns.len();
        let mut items: Vec<String> = Vec::new();
        for (i, (c, rc)) in fk.columns.iter().zip(&fk.ref_columns).enumerate() {
            items.push(format!("{} AS __n{i}", self.new_value(c)));
            items.push(format!("{} AS __o{i}", qcol(&self.qual, rc)));
        }
        if !leaves.is_empty() {
            items.push(format!("{} AS __leaf", self.d.leaf_of(&self.qual)));
            // The partition constraints name the columns: give them their
            // new values.
            for col in &self.table.columns {
                items.push(format!(
                    "{} AS {}",
                    self.new_value(&col.name),
                    quote_ident(&col.name)
                ));
            }
        }
        let moved = moved_expr(leaves);
        let checked = if assigned { "TRUE" } else { moved.as_str() };
        let existed = self.held_before(fk, &self.table.name);
        let own: Vec<String> = (0..n).map(|i| format!("s.__o{i} = s.__n{i}")).collect();
        let own = own.join(" AND ");
        let not_null: Vec<String> = (0..n).map(|i| format!("s.__n{i} IS NOT NULL")).collect();
        let rescuing = match fk.on_update {
            FkAction::NoAction | FkAction::Restrict => "FALSE",
            _ => "TRUE",
        };
        let classes = [
            format!("NOT ({existed}) OR NOT {rescuing}"),
            format!("{existed} AND {rescuing} AND {own} AND NOT ({moved})"),
            format!("{existed} AND {rescuing} AND {own} AND {moved}"),
            format!("{existed} AND {rescuing} AND NOT ({own})"),
        ];
        let counts: Vec<String> = classes.iter().map(|c| self.d.count_where(c)).collect();
        let sql = format!(
            "{}SELECT {} FROM (SELECT {} FROM {}{}) AS s WHERE {} AND {} AND {checked}",
            self.with_m,
            counts.join(", "),
            items.join(", "),
            self.from,
            self.pred,
            not_null.join(" AND "),
            self.parent_missing(fk, &self.table.name),
        );
        let row = tx.query(&sql)?.and_then(|r| r.rows.into_iter().next());
        impact.bounded &= row.is_some();
        let at = |i: usize| {
            row.as_ref()
                .and_then(|r| r.get(i))
                .and_then(|v| v.text())
                .and_then(|t| t.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok(Missing {
            // Rows the statement only moves had their reference before:
            // what fails them is the key action's business.
            dangling: if assigned { at(0) } else { 0 },
            own: at(1),
            own_moved: at(2),
            other: at(3),
        })
    }

    /// Turns the counts into failures and warnings.
    fn report(&self, impact: &mut Impact, fk: &ForeignKey, m: &Missing, checked: bool) {
        let t = &self.table.name;
        let rows = |n: u64| format!("{n} row{}", if n == 1 { "" } else { "s" });
        let deferred = fk.deferrable && fk.initially_deferred;
        if m.dangling > 0 {
            impact.failures.push(format!(
                "cannot update {t}: {} would reference {t} rows that do not exist (FK {})",
                rows(m.dangling),
                fk.name
            ));
        }
        if m.own_moved > 0 && !deferred {
            impact.failures.push(format!(
                "cannot update {t}: {} would move to another partition still pointing at the key they give up (FK {}): PostgreSQL checks a moved row as an insert, before the key's ON UPDATE {} reaches it",
                rows(m.own_moved),
                fk.name,
                fk.on_update.sql()
            ));
        }
        // Checked at commit, a row another row re-points is rewritten by
        // that row's action first where the actions run after the rows.
        let others_first = deferred && self.d.runs_actions_after_rows();
        let rewritten =
            m.own + if deferred { m.own_moved } else { 0 } + if others_first { m.other } else { 0 };
        if m.other > 0 && !others_first && self.nulled_not_null(fk).is_some() {
            // Either order fails: the check first, or the action's NULL.
            impact.failures.push(format!(
                "cannot update {t}: {} would point at a key another updated row gives up (FK {}), whose ON UPDATE SET NULL would set a NOT NULL column to NULL: it fails whichever comes first\nPoint them at a key the statement keeps.",
                rows(m.other),
                fk.name
            ));
        } else if m.other > 0 && !others_first {
            impact.warnings.push(format!(
                "may fail: updating {t}, {} would point at a key another updated row gives up (FK {}): the key's ON UPDATE {} rewrites them only if the engine happens to handle the two rows in the right order, which depends on the order it visits rows in",
                rows(m.other),
                fk.name,
                fk.on_update.sql()
            ));
        }
        if rewritten > 0 {
            self.rewritten_by_own_action(impact, fk, rows(rewritten), checked);
        }
    }

    /// Rows the key's own `ON UPDATE` action rewrites after the statement
    /// pointed them at the key it changes.
    fn rewritten_by_own_action(
        &self,
        impact: &mut Impact,
        fk: &ForeignKey,
        rows: String,
        checked: bool,
    ) {
        let t = &self.table.name;
        let what = format!(
            "{rows} would point at a key this statement changes (FK {}), and its ON UPDATE {} rewrites them",
            fk.name,
            fk.on_update.sql()
        );
        match (self.nulled_not_null(fk), fk.on_update) {
            (Some(col), _) => impact.failures.push(format!(
                "cannot update {t}: {what}, setting the NOT NULL column {col} to NULL"
            )),
            (None, FkAction::SetDefault) => impact.warnings.push(format!(
                "may fail: updating {t}, {what} with the column defaults, which this preview does not look up in the key\nRun it as two statements: one that changes the key, then one that points the rows."
            )),
            // The rewritten row is checked again: its CHECKs see the
            // action's values, which this preview does not evaluate.
            _ if checked => impact.warnings.push(format!(
                "may fail: updating {t}, {what}, and the table's CHECK constraints then see the values the action writes, which this preview does not evaluate\nRun it as two statements: one that changes the key, then one that points the rows."
            )),
            _ => impact.warnings.push(format!("updating {t}: {what}")),
        }
    }

    /// A NOT NULL column of `fk` its `ON UPDATE SET NULL` would set to
    /// NULL.
    fn nulled_not_null<'f>(&self, fk: &'f ForeignKey) -> Option<&'f str> {
        let col = fk
            .columns
            .iter()
            .find(|c| self.table.column(c).is_some_and(|c| c.not_null))?;
        (fk.on_update == FkAction::SetNull).then_some(col.as_str())
    }

    /// Refuses an UPDATE that points rows at values of another table that
    /// its own key actions change: the new references are checked against
    /// that table as it stands, and whether the engine checks them before
    /// or after the action is not modelled.
    pub(super) fn refuse_pointing_at_changed_values(&self, impact: &Impact) -> Result<()> {
        for fk in self.table.foreign_keys.iter().filter(|fk| {
            fk.ref_table != self.table.name && fk.columns.iter().any(|c| self.assigns(c))
        }) {
            let Some(e) = impact.effects.iter().find(|e| {
                e.table == fk.ref_table
                    && matches!(
                        e.action,
                        Action::Cascade | Action::SetNull | Action::SetDefault
                    )
                    // Not counted in time: it may reach rows.
                    && e.rows.unwrap_or(1) > 0
                    && e.columns.iter().any(|c| fk.ref_columns.contains(c))
            }) else {
                continue;
            };
            return Err(Error::refused(format!(
                "cannot preview the statement exactly: it points rows of {} at values of {} (FK {}) that its own key action changes (FK {}, {} rows), and the preview does not model whether the engine checks those references before or after that action; nothing was run\nWrite it as two statements: one that changes the key, then one that points the rows.",
                self.table.name,
                fk.ref_table,
                fk.name,
                e.via,
                e.rows.map_or("uncounted".into(), |n| n.to_string())
            )));
        }
        Ok(())
    }

    /// SQLite: rows that reference the key the statement gives them.
    fn check_recount(
        &self,
        tx: &mut dyn PreviewTx,
        impact: &mut Impact,
        fk: &ForeignKey,
    ) -> Result<()> {
        let Some(n) = self.recounted(tx, impact, fk)?.filter(|&n| n > 0) else {
            return Ok(());
        };
        let t = &self.table.name;
        if impact.target.rows != Some(1) {
            impact.warnings.push(format!(
                "may fail: updating {t}, {n} row{} reference{} the key this statement gives {} (FK {}): SQLite counts such a row against that key twice as it rewrites it, and the statement (or the commit, for a deferred key) fails when the count does not come back even, which depends on the order it rewrites rows in\nUpdate those rows in a statement of their own.",
                if n == 1 { "" } else { "s" },
                if n == 1 { "s" } else { "" },
                if n == 1 { "it" } else { "them" },
                fk.name
            ));
            return Ok(());
        }
        // One row: no order to decide; it fails when other rows reference
        // its old key, counted once going and twice coming back.
        let others = self.others_referencing_old_key(tx, impact, fk)?;
        if others > 0 {
            impact.failures.push(format!(
                "cannot update {t}: the row references the key this statement gives it (FK {}), and {others} other row{} reference{} its old key: SQLite counts the row against that key twice as it rewrites it, and its count of FK {} does not come back even\nUpdate without assigning the key columns, or point the row elsewhere first.",
                fk.name,
                if others == 1 { "" } else { "s" },
                if others == 1 { "s" } else { "" },
                fk.name
            ));
        }
        Ok(())
    }

    /// SQLite: the rows of the statement that reference the key it gives
    /// them (their old reference is their new key), which its count of
    /// `fk` takes twice; `Some(0)` where that count does not apply.
    pub(super) fn recounted(
        &self,
        tx: &mut dyn PreviewTx,
        impact: &mut Impact,
        fk: &ForeignKey,
    ) -> Result<Option<u64>> {
        // Only a NO ACTION key is counted so: an action (or RESTRICT's
        // trigger) acts on the rows instead.
        if fk.on_update != FkAction::NoAction
            || !fk.ref_columns.iter().any(|c| self.assigns(c))
            || !self.d.recounts_own_reference(self.table, &fk.ref_columns)
        {
            return Ok(Some(0));
        }
        let same: Vec<String> = fk
            .columns
            .iter()
            .zip(&fk.ref_columns)
            .map(|(c, rc)| {
                let old = qcol(&self.qual, c);
                format!("{old} IS NOT NULL AND {old} = {}", self.new_value(rc))
            })
            .collect();
        let n = tx.count(&format!(
            "{}SELECT count(*) FROM {}",
            self.with(&[]),
            self.rows_where(&same.join(" AND "))
        ))?;
        impact.bounded &= n.is_some();
        Ok(n)
    }

    /// The rows other than the statement's one row that reference its
    /// old key through `fk`.
    fn others_referencing_old_key(
        &self,
        tx: &mut dyn PreviewTx,
        impact: &mut Impact,
        fk: &ForeignKey,
    ) -> Result<u64> {
        let eq: Vec<String> = fk
            .columns
            .iter()
            .zip(&fk.ref_columns)
            .map(|(c, rc)| format!("{} = {}", qcol("x", c), qcol(&self.qual, rc)))
            .collect();
        let others = format!(
            "EXISTS (SELECT 1 FROM {} AS x WHERE {} AND {} <> {})",
            self.table.own_rows(),
            eq.join(" AND "),
            tuple(&self.d.row_ident(self.table, "x")),
            tuple(&self.d.row_ident(self.table, &self.qual)),
        );
        let n = tx.count(&format!(
            "{}SELECT count(*) FROM {}",
            self.with(&[]),
            self.rows_where(&others)
        ))?;
        impact.bounded &= n.is_some();
        Ok(n.unwrap_or(0))
    }
}

/// Whether the row `s` (its leaf as `__leaf`, its new values under the
/// column names) fails its leaf's partition constraint, so that the
/// engine moves it to another leaf. A NULL constraint holds, as a CHECK.
fn moved_expr(leaves: &[(String, String)]) -> String {
    if leaves.is_empty() {
        return "FALSE".into();
    }
    let arms: Vec<String> = leaves
        .iter()
        .map(|(oid, def)| format!("WHEN '{oid}' THEN NOT COALESCE(({def}), TRUE)"))
        .collect();
    format!("(CASE s.__leaf {} ELSE FALSE END)", arms.join(" "))
}
