//! A row of the statement's own that references itself through a value
//! of another type or case (SQLite): the engine does not find it, so the
//! UPDATE fails ([`crate::impact::own_row`]).

use super::Update;
use crate::db::PreviewTx;
use crate::error::Result;
use crate::impact::Impact;
use crate::schema::ForeignKey;

impl Update<'_> {
    /// Adds a failure for the rows that reference themselves through a
    /// value stored as another type than their key.
    pub(super) fn check_own_row_references(
        &self,
        tx: &mut dyn PreviewTx,
        impact: &mut Impact,
    ) -> Result<()> {
        if !self.rewrites_whole_rows() {
            return Ok(());
        }
        for fk in &self.table.foreign_keys {
            if !self.d.misses_own_row_by_type(self.table, fk) {
                continue;
            }
            let n = tx.count(&format!(
                "{}SELECT count(*) FROM (SELECT DISTINCT {} FROM {}) AS s",
                self.with(&[]),
                self.ident_sel.join(", "),
                self.rows_where(&self.itself_by_another_type(fk))
            ))?;
            impact.bounded &= n.is_some();
            if let Some(n) = n.filter(|&n| n > 0) {
                let deferred = self.d.defers(false, fk.deferrable && fk.initially_deferred);
                impact.failures.push(format!(
                    "cannot update {}: {}\nWrite the reference as the key's type (e.g. CAST(... AS INTEGER)).",
                    self.table.name,
                    super::super::own_row::missing_itself(self.table, fk, n, deferred)
                ));
            }
        }
        Ok(())
    }

    /// Whether SQLite rewrites each updated row whole, out of every index.
    fn rewrites_whole_rows(&self) -> bool {
        super::super::own_row::rewrites_whole_rows(self.d, self.ctx.schema, self.table, &|c| {
            self.assigns(c)
        })
    }

    /// The row's new reference through `fk` finds the row's own new key
    /// only by the key's affinity or collation.
    fn itself_by_another_type(&self, fk: &ForeignKey) -> String {
        super::super::own_row::itself_by_another_type(self.d, self.table, fk, &|c| {
            self.new_value(c)
        })
    }
}
