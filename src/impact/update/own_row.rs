//! A row that references itself through a value of another type
//! (SQLite): the engine does not find it, so the UPDATE fails.
//!
//! SQLite looks a parent row up with the key's affinity, so `'3'` in a
//! TEXT column finds the key `3` of another row; but the row being written
//! is out of the key's index at that moment, and SQLite's shortcut for a
//! row referencing itself compares the two stored values as they are. A
//! row whose reference equals its own key only after the key's affinity is
//! a missing reference ([`Dialect::misses_own_row_by_type`]). The row
//! is out of its indexes only when SQLite rewrites updated rows whole:
//! when the UPDATE assigns a column of a key from the table to itself, or
//! a key column that a key with an `ON UPDATE` action references
//! (`sqlite3FkRequired` returns 2), or assigns any key column and moves
//! the rowid. Then every key from the table to itself is checked on every
//! updated row, assigned or not.
//!
//! [`Dialect::misses_own_row_by_type`]: crate::db::dialect::Dialect::misses_own_row_by_type

use super::Update;
use crate::db::PreviewTx;
use crate::error::Result;
use crate::impact::Impact;
use crate::schema::{FkAction, ForeignKey};

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
        let filter = if self.pred.is_empty() {
            " WHERE".to_owned()
        } else {
            format!("{} AND", self.pred)
        };
        for fk in &self.table.foreign_keys {
            if !self.d.misses_own_row_by_type(self.table, fk) {
                continue;
            }
            let n = tx.count(&format!(
                "{}SELECT count(*) FROM (SELECT DISTINCT {} FROM {}{filter} {}) AS s",
                self.with(&[]),
                self.ident_sel.join(", "),
                self.from,
                self.itself_by_another_type(fk)
            ))?;
            impact.bounded &= n.is_some();
            if let Some(n) = n.filter(|&n| n > 0) {
                let when = if self.d.defers(false, fk.deferrable && fk.initially_deferred) {
                    "; the failure comes at commit"
                } else {
                    ""
                };
                impact.failures.push(format!(
                    "cannot update {}: {n} row{} would reference {} through FK {} with a value stored as another type than the key; SQLite does not find the row it writes that way{when}\nWrite the reference as the key's type (e.g. CAST(... AS INTEGER)).",
                    self.table.name,
                    if n == 1 { "" } else { "s" },
                    if n == 1 { "itself" } else { "themselves" },
                    fk.name
                ));
            }
        }
        Ok(())
    }

    /// Whether SQLite rewrites each updated row whole, out of every index
    /// (`sqlite3FkRequired` returns 2, or returns 1 and the row's key
    /// moves): the UPDATE assigns a column of a key from the table to
    /// itself, or a key column that a key with an `ON UPDATE` action
    /// references; or it assigns any key's column, either side, and moves
    /// the rowid (or a WITHOUT ROWID table's primary key).
    fn rewrites_whole_rows(&self) -> bool {
        let (table, name) = (self.table, &self.table.name);
        let assigns_any = |cols: &[String]| cols.iter().any(|c| self.assigns(c));
        let incoming = self.ctx.schema.referencing(name);
        let own = table
            .foreign_keys
            .iter()
            .any(|fk| &fk.ref_table == name && assigns_any(&fk.columns));
        let acting = incoming
            .iter()
            .any(|fk| fk.on_update != FkAction::NoAction && assigns_any(&fk.ref_columns));
        let keyed = table.foreign_keys.iter().any(|fk| assigns_any(&fk.columns))
            || incoming.iter().any(|fk| assigns_any(&fk.ref_columns));
        let row_moves = table.primary_key.as_ref().is_some_and(|pk| {
            pk.columns.iter().any(|c| {
                self.d.is_rowid_alias(table, c) || (table.without_rowid && self.assigns(c))
            }) && assigns_any(&pk.columns)
        });
        own || acting || (keyed && row_moves)
    }

    /// The row's new reference through `fk` (no NULL in it) finds the
    /// row's own new key by the key's affinity and collation, but is not
    /// the same stored value.
    fn itself_by_another_type(&self, fk: &ForeignKey) -> String {
        let mut found = Vec::new();
        let mut same = Vec::new();
        for (c, rc) in fk.columns.iter().zip(&fk.ref_columns) {
            let (value, key) = (self.new_value(c), self.new_value(rc));
            let key_col = self.table.column(rc);
            let as_key = self.d.cast(
                &format!("+({value})"),
                key_col.map(|k| k.type_name.as_str()).unwrap_or(""),
            );
            let as_key = self.d.as_key_of(&as_key, None, key_col);
            found.push(format!("({value}) IS NOT NULL AND {as_key} = +({key})"));
            same.push(self.d.same_stored_value(&value, &key));
        }
        format!("{} AND NOT ({})", found.join(" AND "), same.join(" AND "))
    }
}
