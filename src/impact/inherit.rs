//! Plain inheritance (PostgreSQL `INHERITS`) at the target of a write.
//!
//! Everywhere else a preview reads a table's own rows (`ONLY`,
//! [`crate::schema::Table::own_rows`]), as foreign keys do. A DELETE or
//! UPDATE naming a table that others inherit from writes their matching
//! rows too, each in its own table, where that table's own keys, triggers
//! and constraints act on it, and where the engine counts it.
//!
//! Such a statement is previewed as one analysis per table of the tree
//! that holds matching rows, each reading that table's own rows under the
//! statement's qualifier, joined into one impact: the target's own rows,
//! and under it one `inherited` effect per table inheriting from it, with
//! everything that table's rows set off. The statement's row count is
//! theirs together, as the engine reports it.
//!
//! The join is exact where the tables' effects stay apart. Where what one
//! table's rows set off reaches a table another's rows write (a cascade
//! from the parent deleting the rows that block a child's delete), the
//! outcome depends on the order the engine fires their key actions in,
//! which no analysis of one table sees: such a statement is refused,
//! naming where they meet.

use super::chain::{touches, writes};
use super::{Action, Context, Effect, Impact};
use crate::db::{PreviewTx, count_of};
use crate::error::{Error, Result};
use crate::schema::{QualName, Table};

/// One analysis of the statement over the own rows of one table of the
/// target's tree.
pub(super) type One<'a> = dyn FnMut(&mut dyn PreviewTx, &Table) -> Result<Impact> + 'a;

/// The tables besides `table` that inherit from it and hold rows the
/// statement's `FROM ... WHERE pred` matches (`with`, `from` and `qual` as
/// the statement writes them), in the order of their OIDs. A table the
/// schema dbguard read does not show is refused: its columns and keys are
/// unknown.
pub(super) fn others_written<'a>(
    tx: &mut dyn PreviewTx,
    ctx: &Context<'a>,
    table: &Table,
    (with, from, qual): (&str, &str, &str),
    pred: Option<&str>,
) -> Result<Vec<&'a Table>> {
    let Some(sql) = table
        .inherited
        .then(|| {
            ctx.dialect
                .rows_per_table((with, from, qual), pred.unwrap_or("true"), &table.name)
        })
        .flatten()
    else {
        return Ok(Vec::new());
    };
    let own = &table.name;
    let Some(rows) = tx.query(&sql)? else {
        return Err(Error::refused(format!(
            "cannot preview the statement: other tables inherit from {own}, and its rows in them could not be counted within the preview time limit; nothing was run\nRestrict it to {own}'s own rows (AND {qual}.tableoid = {}), or raise --preview-timeout.",
            regclass(own)
        )));
    };
    let mut others = Vec::new();
    for r in &rows.rows {
        if count_of(r.get(3))? == 1 {
            continue;
        }
        let text = |i: usize| r.get(i).and_then(|v| v.text()).unwrap_or_default();
        let name = QualName::new(Some(&text(0)), &text(1));
        let found = ctx.schema.get(&name).ok_or_else(|| {
            Error::refused(format!(
                "cannot preview the statement: {name} inherits from {own} and holds rows it matches, but the schema dbguard read does not show {name}; nothing was run\nReload the schema (\\d) and preview again."
            ))
        })?;
        others.push(found);
    }
    Ok(others)
}

/// `name` as a `regclass` literal for a hint the operator copies.
fn regclass(name: &QualName) -> String {
    format!("'{}'::regclass", name.sql().replace('\'', "''"))
}

/// The statement's impact as one analysis of `table`'s own rows and one
/// of each of `others`, joined; refused where their effects meet. The
/// types key actions into each other table write are screened first, as
/// the statement's own target's were ([`super::chain::written_types`]).
pub(super) fn each_table(
    tx: &mut dyn PreviewTx,
    ctx: &Context<'_>,
    table: &Table,
    others: &[&Table],
    one: &mut One<'_>,
) -> Result<Impact> {
    let mut whole = one(tx, table)?;
    let mut parts = Vec::with_capacity(others.len());
    for t in others {
        if !ctx.options.target_only {
            let typed = super::chain::written_types(ctx.schema, &t.name).join(" ");
            let beyond = tx.called_beyond(&typed)?;
            if !beyond.is_empty() {
                return Err(Error::refused(format!(
                    "cannot preview the statement: code it runs acts where no transaction can stop it: {}; nothing was run\nWrite the change without that call.",
                    beyond.join("; ")
                )));
            }
        }
        parts.push(one(tx, t)?);
    }
    refuse_meeting(&whole, &parts)?;
    let written: Vec<&Impact> = std::iter::once(&whole)
        .chain(&parts)
        .filter(|i| i.target.rows.unwrap_or(1) > 0)
        .collect();
    // Every row of every table it writes: the WHERE selects every row.
    let covers = !written.is_empty() && written.iter().all(|i| i.covers_every_row);
    for p in parts {
        absorb(&mut whole, p);
    }
    whole.covers_every_row = covers;
    whole.will_fail = !whole.failures.is_empty();
    Ok(whole)
}

/// Refuses a statement two of whose tables' effects meet in one table.
fn refuse_meeting(whole: &Impact, parts: &[Impact]) -> Result<()> {
    let all: Vec<&Impact> = std::iter::once(whole).chain(parts).collect();
    for a in &all {
        for b in all.iter().filter(|b| !std::ptr::eq(**b, *a)) {
            if let Some(t) = writes(a).intersection(&touches(b)).next() {
                let root = &whole.target.table;
                return Err(Error::refused(format!(
                    "cannot preview the statement as one change: it writes rows of {} and of {} (which inherit from {root}), and what they set off meets in {t}, where the engine's outcome depends on the order it fires their key actions in; this preview does not follow that order across tables; nothing was run\nWrite one statement per table: this one for {root}'s own rows (AND tableoid = {}), then one for each table that inherits from it.",
                    a.target.table,
                    b.target.table,
                    regclass(root)
                )));
            }
        }
    }
    Ok(())
}

/// Joins the analysis of a table inheriting from the target into the
/// target's: one `inherited` effect with its rows, its own effects one
/// level below it.
fn absorb(whole: &mut Impact, mut part: Impact) {
    let root = whole.target.table.clone();
    let table = part.target.table.clone();
    let verb = match whole.kind {
        crate::model::ChangeKind::Update => "updates",
        _ => "deletes",
    };
    whole.effects.push(Effect {
        table: table.clone(),
        action: Action::Inherited,
        via: "INHERITS".into(),
        source: "inheritance",
        depth: 1,
        rows: part.target.rows,
        columns: Vec::new(),
        parent: root.clone(),
        reached: true,
        blocking: false,
        note: Some(format!(
            "inherits from {root}: the statement {verb} its matching rows too"
        )),
        sample: if part.target.sample.rows.is_empty() {
            changes_as_rows(&part.target.changes)
        } else {
            std::mem::take(&mut part.target.sample)
        },
        on_update: false,
    });
    whole.effects.extend(
        std::mem::take(&mut part.effects)
            .into_iter()
            .map(|e| Effect {
                depth: e.depth + 1,
                ..e
            }),
    );
    let t = &mut whole.target;
    t.rows = t.rows.zip(part.target.rows).map(|(a, b)| a + b);
    t.unchanged = match (t.unchanged, part.target.unchanged) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    };
    // Which rows of each table, so the same count of others is drift.
    if t.fingerprint.is_some() || part.target.fingerprint.is_some() {
        t.fingerprint = Some(format!(
            "{} {table}:{}",
            t.fingerprint.as_deref().unwrap_or("-"),
            part.target.fingerprint.as_deref().unwrap_or("-")
        ));
    }
    // Tables both count hold rows of one of them only (else they meet),
    // but either may list the other's with none.
    super::chain::merge(whole, part, None, &|_| true);
}

/// An UPDATE's before → after of a table's first rows, as sample rows of
/// its effect: the key, then each changed column as `before → after`.
fn changes_as_rows(changes: &[super::ChangedRow]) -> crate::db::Rows {
    use crate::db::Value;
    let mut out = crate::db::Rows::default();
    let Some(first) = changes.first() else {
        return out;
    };
    // A key column the update changes shows once, as its change.
    let changed = |k: &str| first.changes.iter().any(|c| c.column == k);
    out.columns = first
        .key
        .iter()
        .filter(|(k, _)| !changed(k))
        .map(|(k, _)| k.clone())
        .collect();
    out.columns
        .extend(first.changes.iter().map(|c| c.column.clone()));
    let text = |v: &Option<String>| v.clone().unwrap_or_else(|| "NULL".into());
    for row in changes {
        let mut values: Vec<Value> = row
            .key
            .iter()
            .filter(|(k, _)| !changed(k))
            .map(|(_, v)| v.clone().map_or(Value::Null, Value::Text))
            .collect();
        values.extend(
            row.changes
                .iter()
                .map(|c| Value::Text(format!("{} → {}", text(&c.before), text(&c.after)))),
        );
        out.rows.push(values);
    }
    out
}

/// `pred` narrowed to `table`'s own rows (as `qual`) where other tables
/// inherit from it: whether a WHERE selects every row is a question about
/// the rows of each table the statement writes, each asked apart.
pub(super) fn own_rows_only(ctx: &Context<'_>, table: &Table, qual: &str, pred: &str) -> String {
    match table
        .inherited
        .then(|| ctx.dialect.own_row(qual, &table.name))
        .flatten()
    {
        Some(own) => format!("({pred}) OR NOT ({own})"),
        None => pred.to_owned(),
    }
}

/// Rewrites `schema.table.column` references to the target `target` as
/// `table.column`: each table of the tree is read under the target's
/// name as an alias ([`relation`]), which a schema-qualified reference
/// cannot name.
pub(super) fn unqualify(
    ctx: &Context<'_>,
    stmt: &mut sqlparser::ast::Statement,
    target: &QualName,
) {
    use sqlparser::ast::Expr;
    // Inside a subquery the same words may name another table; which one
    // they name is the engine's scoping, not rewritten here.
    let nested = sqlparser::ast::visit_expressions(stmt, |e| match e {
        Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. } => {
            std::ops::ControlFlow::Break(())
        }
        _ => std::ops::ControlFlow::Continue(()),
    });
    if nested.is_break() {
        return;
    }
    let _ = sqlparser::ast::visit_expressions_mut(stmt, |e| {
        if let sqlparser::ast::Expr::CompoundIdentifier(parts) = e
            && parts.len() == 3
        {
            let named: Vec<(String, bool)> = parts[..2]
                .iter()
                .map(|p| (p.value.clone(), p.quote_style.is_some()))
                .collect();
            if ctx
                .schema
                .resolve(&named)
                .is_some_and(|t| &t.name == target)
            {
                parts.remove(0);
            }
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// The statement's target relation read as `table`'s own rows under the
/// statement's qualifier, for one analysis of [`each_table`]; `relation`
/// as written for the statement itself.
pub(super) fn relation(written: String, own: Option<&Table>, qual: &str) -> String {
    match own {
        Some(t) => format!("{} AS {qual}", t.own_rows()),
        None => written,
    }
}
