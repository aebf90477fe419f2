//! `MATCH FULL` foreign keys: a row that gives such a key over several
//! columns some NULL and some non-NULL values is rejected on write, parent
//! row or not. The INSERT and UPDATE previews count such rows among the
//! ones they write, each over its own row source.

use super::Impact;
use crate::db::PreviewTx;
use crate::error::Result;
use crate::schema::{ForeignKey, MatchType, QualName};

/// For a `MATCH FULL` key over several columns, the condition (over
/// `not_null`, one `... IS NOT NULL` per column) of a row that mixes NULL
/// and non-NULL key values; `None` for any other key.
pub(crate) fn mixed_nulls(fk: &ForeignKey, not_null: &[String]) -> Option<String> {
    (fk.match_type == MatchType::Full && not_null.len() > 1).then(|| {
        format!(
            "NOT ({}) AND ({})",
            not_null.join(" AND "),
            not_null.join(" OR ")
        )
    })
}

/// Counts, with `count` (a query given the condition of [`mixed_nulls`]),
/// the rows `verb` (`insert into`, `update`) would write into `table`
/// with a mixed key of `fk`, and records them as a failure.
pub(crate) fn check(
    tx: &mut dyn PreviewTx,
    impact: &mut Impact,
    (verb, table): (&str, &QualName),
    fk: &ForeignKey,
    not_null: &[String],
    count: impl FnOnce(&str) -> String,
) -> Result<()> {
    let Some(mixed) = mixed_nulls(fk, not_null) else {
        return Ok(());
    };
    let n = tx.count(&count(&mixed))?;
    impact.bounded &= n.is_some();
    if let Some(n) = n.filter(|&n| n > 0) {
        impact.failures.push(failure((verb, table), fk, n));
    }
    Ok(())
}

/// The failure of `n` rows that `verb` would write into `table` with a
/// mixed key of `fk`.
pub(crate) fn failure((verb, table): (&str, &QualName), fk: &ForeignKey, n: u64) -> String {
    format!(
        "cannot {verb} {table}: {n} row{} would mix NULL and non-NULL values in the key of FK {}, which MATCH FULL does not allow",
        if n == 1 { "" } else { "s" },
        fk.name
    )
}
