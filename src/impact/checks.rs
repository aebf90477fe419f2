//! CHECK constraints on the rows a write stores (issue 16, item 7).
//!
//! Both engines evaluate every CHECK of a table on each row an INSERT or
//! UPDATE writes, before the row is stored and before ON CONFLICT looks
//! for a conflict; a row fails when the expression is false (NULL passes).
//! The preview evaluates each expression over the rows as the statement
//! would leave them, a subquery whose columns carry the table's names, so
//! the expression reads exactly as the engine reads it. An expression the
//! preview cannot evaluate there (it names a generated column, or a column
//! an INSERT leaves to its default, which the preview never computes: it
//! may call `nextval`), or whose code could act beyond a read-only
//! transaction, is named as not checked, never passed silently.
//!
//! Not evaluated yet: rows changed by foreign-key actions (a SET NULL or
//! SET DEFAULT child, a cascaded key), and the UPDATE of an ON CONFLICT.

use super::Impact;
use crate::db::PreviewTx;
use crate::error::Result;
use crate::schema::Table;

/// Adds a failure for each CHECK of `table` that rows of `rows` (a
/// `SELECT count(*) FROM (...) AS __row` over the rows written) violate.
pub(super) fn violations(
    tx: &mut dyn PreviewTx,
    table: &Table,
    rows: &str,
    verb: &str,
    impact: &mut Impact,
) -> Result<()> {
    let Some(checks) = tx.checks(table)? else {
        impact.bounded = false;
        return Ok(());
    };
    for check in checks {
        // The preview reads: a check whose code could act beyond a
        // read-only transaction (a function calling dblink, setval) is not
        // run to count, and the apply's own reading refuses it.
        if let Some(why) = tx.called_beyond(&check.expr)?.first() {
            impact.warnings.push(format!(
                "CHECK {} of {} is not checked by the preview: evaluating it runs code that acts beyond the transaction ({why})",
                check.name, table.name
            ));
            continue;
        }
        let sql = format!("{rows} WHERE NOT ({})", check.expr);
        if let Some(err) = tx.check(&sql)? {
            let err = err.lines().next().unwrap_or_default().to_owned();
            impact.warnings.push(format!(
                "CHECK {} of {} ({}) is not checked by the preview: {err}",
                check.name, table.name, check.expr
            ));
            continue;
        }
        let n = tx.count(&sql)?;
        impact.bounded &= n.is_some();
        if let Some(n) = n.filter(|&n| n > 0) {
            impact.failures.push(format!(
                "cannot {verb} {}: {n} row{} would violate CHECK {} ({})",
                table.name,
                if n == 1 { "" } else { "s" },
                check.name,
                check.expr
            ));
        }
    }
    Ok(())
}
