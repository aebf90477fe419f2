//! Key actions whose changes are themselves referenced (issue 16, item
//! 6): a SET NULL of a column another table references, an ON UPDATE
//! CASCADE into one. That table's own ON UPDATE action then runs, and no
//! preview follows it yet; where such a chain reaches rows, the preview
//! refuses with them rather than show counts that leave them out.

use crate::error::Error;
use crate::schema::{ForeignKey, QualName};

/// The refusal for a key action whose change is itself referenced (issue
/// 16, item 6): `n` rows of `fk`'s table reference values of `changed`'s
/// columns that an action of the statement changes, so their own ON
/// UPDATE action would run, which no preview follows yet. Counts that
/// leave those rows out would be wrong, so there are none.
pub(super) fn not_followed(
    verb: &str,
    step: &str,
    changed: &QualName,
    fk: &ForeignKey,
    n: u64,
) -> Error {
    Error::refused(format!(
        "cannot preview the {verb} exactly: {step} changes a key of {changed} that {n} row{} of {} reference{} (FK {}, ON UPDATE {}), and what that sets off in turn is not followed yet; nothing was run\nChange or re-point those rows of {} first, then run this statement.",
        if n == 1 { "" } else { "s" },
        fk.table,
        if n == 1 { "s" } else { "" },
        fk.name,
        fk.on_update.sql(),
        fk.table
    ))
}
