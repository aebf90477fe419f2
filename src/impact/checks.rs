//! CHECK constraints on the rows a write stores (issue 16, item 7).
//!
//! Both engines evaluate every CHECK of a table on each row an INSERT or
//! UPDATE writes, before the row is stored and before ON CONFLICT looks
//! for a conflict; a row fails when the expression is false (NULL passes).
//! Rows a foreign-key action changes are checked too, by the engine as by
//! an UPDATE of their own.
//!
//! The preview evaluates each expression over the rows as the statement
//! leaves them ([`Written`]): a subquery whose columns carry the table's
//! names, so the expression reads as the engine reads it. On SQLite the
//! columns must also carry the table's affinity, which decides how
//! `f <> 2` compares a TEXT column with a number; a computed column has
//! none, so each is given it by a CAST to its affinity, which leaves the
//! value as it is except for a text in a numeric column or a blob in a
//! TEXT one. A check that reads such a column is not judged on the rows
//! holding one, and said so; the table's other checks are.
//!
//! An expression the preview cannot evaluate (it names a generated
//! column, or a column an INSERT leaves to its default, which the preview
//! never computes: it may call `nextval`), or whose code could act beyond
//! a read-only transaction, is named as not checked, never passed
//! silently. The rows an ON CONFLICT DO UPDATE leaves are checked like an
//! UPDATE's.

use super::Impact;
use crate::db::PreviewTx;
use crate::error::Result;
use crate::schema::{Check, Table, quote_ident};

/// The rows a write (or a key action) leaves in `table`: `{with}` then
/// `SELECT ... FROM {from}` gives them, with `values` the expression of
/// each column over `from` (the columns not listed are missing, and a
/// check naming them cannot be evaluated).
pub(super) struct Written<'a> {
    pub table: &'a Table,
    pub with: &'a str,
    pub from: &'a str,
    pub values: Vec<(String, String)>,
}

impl Written<'_> {
    /// `(SELECT <column values> FROM ...) AS __src`: the rows as written.
    fn source(&self) -> String {
        let cols: Vec<String> = self
            .values
            .iter()
            .map(|(c, v)| format!("{v} AS {}", quote_ident(c)))
            .collect();
        format!("(SELECT {} FROM {}) AS __src", cols.join(", "), self.from)
    }

    /// `{with}SELECT count(*) FROM (the rows, typed) AS __row WHERE `,
    /// and the condition (over `__src`) of rows a CAST to their column's
    /// affinity would change in a column `expr` reads, which are left out
    /// of judging it.
    fn counted(&self, tx: &mut dyn PreviewTx, expr: &str) -> (String, Option<String>) {
        let d = crate::db::dialect::Dialect(tx.engine());
        let mut cols = Vec::new();
        let mut unsure = Vec::new();
        for (col, _) in &self.values {
            let t = self.table.column(col).map_or("", |c| c.type_name.as_str());
            let (typed, changed) = d.with_affinity(&quote_ident(col), t);
            cols.push(format!("{typed} AS {}", quote_ident(col)));
            unsure.extend(changed.filter(|_| mentions(expr, col)));
        }
        let unsure = (!unsure.is_empty()).then(|| unsure.join(" OR "));
        let rows = format!(
            "{}SELECT count(*) FROM (SELECT {} FROM {}{}) AS __row WHERE ",
            self.with,
            cols.join(", "),
            self.source(),
            match &unsure {
                Some(u) => format!(" WHERE NOT ({u})"),
                None => String::new(),
            }
        );
        (rows, unsure)
    }
}

/// Adds a failure for each CHECK of the written rows' table that some of
/// them violate; `verb` says what the write does (`update`).
pub(super) fn violations(
    tx: &mut dyn PreviewTx,
    rows: &Written<'_>,
    verb: &str,
    impact: &mut Impact,
) -> Result<()> {
    for (check, n) in violated(tx, rows, impact)? {
        impact.failures.push(format!(
            "cannot {verb} {}: {n} row{} would violate CHECK {} ({})",
            rows.table.name,
            if n == 1 { "" } else { "s" },
            check.name,
            check.expr
        ));
    }
    Ok(())
}

/// Of `before` (checks some rows violate), those `rows` still violate,
/// with how many rows each: the same checks over fewer rows, which were
/// evaluated already and warn of nothing new.
pub(super) fn still_violated(
    tx: &mut dyn PreviewTx,
    rows: &Written<'_>,
    before: &[(Check, u64)],
    impact: &mut Impact,
) -> Result<Vec<(Check, u64)>> {
    let mut out = Vec::new();
    for (check, _) in before {
        let (counted, _) = rows.counted(tx, &check.expr);
        if let Some(n) = count_rejected(tx, check, &counted, impact)? {
            out.push((check.clone(), n));
        }
    }
    Ok(out)
}

/// The checks some written rows violate, with how many rows each.
pub(super) fn violated(
    tx: &mut dyn PreviewTx,
    rows: &Written<'_>,
    impact: &mut Impact,
) -> Result<Vec<(Check, u64)>> {
    let Some(checks) = tx.checks(rows.table)? else {
        impact.bounded = false;
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    if checks.is_empty() {
        return Ok(out);
    }
    // One reading of every expression: only when it finds code reaching
    // beyond the transaction is each read on its own, to name which.
    let all: Vec<&str> = checks.iter().map(|c| c.expr.as_str()).collect();
    let reaching = !tx.called_beyond(&all.join(" ;\n"))?.is_empty();
    let mut unsure_any = Vec::new();
    for check in checks {
        let (counted, unsure) = rows.counted(tx, &check.expr);
        unsure_any.extend(unsure);
        if let Some(n) = count_violations(tx, rows.table, (&check, reaching), &counted, impact)? {
            out.push((check, n));
        }
    }
    if !unsure_any.is_empty() {
        not_judged(tx, rows, &unsure_any.join(" OR "), impact)?;
    }
    Ok(out)
}

/// Whether `expr` may read column `col`: the name, any case, not inside a
/// longer identifier. A name inside a string literal counts too, which
/// only leaves a row unjudged that could have been judged.
fn mentions(expr: &str, col: &str) -> bool {
    let (expr, col) = (expr.to_lowercase(), col.to_lowercase());
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    // Quoted, a name's double quotes are doubled.
    let quoted = col.replace('"', "\"\"");
    [col, quoted].iter().any(|name| {
        expr.match_indices(name.as_str()).any(|(i, _)| {
            !word(expr[..i].chars().next_back()) && !word(expr[i + name.len()..].chars().next())
        })
    })
}

/// Rows whose value a CAST to the column's affinity would change (a text
/// in a numeric column) in a column some check reads: those checks were
/// not evaluated on them.
fn not_judged(
    tx: &mut dyn PreviewTx,
    rows: &Written<'_>,
    unsure: &str,
    impact: &mut Impact,
) -> Result<()> {
    let n = tx.count(&format!(
        "{}SELECT count(*) FROM {} WHERE {unsure}",
        rows.with,
        rows.source()
    ))?;
    impact.bounded &= n.is_some();
    if let Some(n) = n.filter(|&n| n > 0) {
        impact.warnings.push(format!(
            "the CHECK constraints of {} that read a column holding text where it is numeric (or a blob where it is text) are not checked on {n} row{} that do, which the preview cannot compare as SQLite does",
            rows.table.name,
            if n == 1 { "" } else { "s" }
        ));
    }
    Ok(())
}

/// The rows of `counted` (the query of [`Written::counted`]) that `check`
/// rejects, when there are any; `None` also where it cannot be evaluated,
/// which is said as a warning. `reaching`: whether some check of the
/// table names code that reaches beyond the transaction.
fn count_violations(
    tx: &mut dyn PreviewTx,
    table: &Table,
    (check, reaching): (&Check, bool),
    counted: &str,
    impact: &mut Impact,
) -> Result<Option<u64>> {
    if let Some(why) = &check.unchecked {
        impact.warnings.push(format!(
            "CHECK {} of {} is not checked by the preview: {why}",
            check.name, table.name
        ));
        return Ok(None);
    }
    // The preview reads: a check whose code could act beyond a read-only
    // transaction (a function calling dblink, setval) is not run to count,
    // and the apply's own reading refuses it.
    let beyond = match reaching {
        true => tx.called_beyond(&check.expr)?,
        false => Vec::new(),
    };
    if let Some(why) = beyond.first() {
        impact.warnings.push(format!(
            "CHECK {} of {} is not checked by the preview: evaluating it runs code that acts beyond the transaction ({why})",
            check.name, table.name
        ));
        return Ok(None);
    }
    if let Some(err) = tx.check(&format!("{counted}NOT ({})", check.expr))? {
        let err = err.lines().next().unwrap_or_default().to_owned();
        impact.warnings.push(format!(
            "CHECK {} of {} ({}) is not checked by the preview: {err}",
            check.name, table.name, check.expr
        ));
        return Ok(None);
    }
    count_rejected(tx, check, counted, impact)
}

/// The rows of `counted` that `check` rejects, when there are any.
fn count_rejected(
    tx: &mut dyn PreviewTx,
    check: &Check,
    counted: &str,
    impact: &mut Impact,
) -> Result<Option<u64>> {
    let n = tx.count(&format!("{counted}NOT ({})", check.expr))?;
    impact.bounded &= n.is_some();
    Ok(n.filter(|&n| n > 0))
}

/// The values of every stored column of `table` over `alias`, with `set`
/// (a key action's or a write's assignments) in place of the old ones.
pub(super) fn row_values(
    table: &Table,
    alias: &str,
    set: &[(String, String)],
) -> Vec<(String, String)> {
    table
        .columns
        .iter()
        .filter(|c| c.generated.is_none())
        .map(|c| {
            let value = set
                .iter()
                .find(|(col, _)| *col == c.name)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| format!("{alias}.{}", quote_ident(&c.name)));
            (c.name.clone(), value)
        })
        .collect()
}

/// Names, as not checked, the unique indexes of `table` on an expression,
/// with a WHERE, or whose NULLs collide (`NULLS NOT DISTINCT`), which the
/// preview does not evaluate: a row written may collide on one (failing
/// the statement, or skipped by ON CONFLICT DO NOTHING) without the
/// preview counting it.
pub(super) fn unmodelled_unique(table: &Table, impact: &mut Impact) {
    if table.unmodelled_unique.is_empty() {
        return;
    }
    impact.warnings.push(format!(
        "not checked: unique index{} {} of {} (on an expression, partial, or with NULLs that collide), which the preview does not evaluate: a row written may collide on it",
        if table.unmodelled_unique.len() == 1 { "" } else { "es" },
        table.unmodelled_unique.join(", "),
        table.name
    ));
}

#[cfg(test)]
mod tests {
    use super::mentions;

    #[test]
    fn a_check_mentions_a_column_as_a_whole_word() {
        assert!(mentions("v <> 13", "v"));
        assert!(mentions("\"F0\" <> 5", "f0"));
        assert!(mentions("lo <= hi", "HI"));
        assert!(!mentions("v2 <> 13", "v"));
        assert!(!mentions("level <> 1", "v"));
        assert!(!mentions("x_v <> 1", "v"));
        assert!(mentions("\"a\"\"b\" > 5", "a\"b"));
    }
}
