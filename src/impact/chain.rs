//! What key actions write, and key actions whose changes are themselves
//! referenced (issue 16, item 6): a SET NULL of a column another table
//! references, an ON UPDATE CASCADE into one. That table's own ON UPDATE
//! action then runs, and so on.
//!
//! Such a step is the engine's own UPDATE of the child's rows the action
//! reaches, setting the columns it writes: the preview writes that UPDATE
//! out ([`Step`]), previews it as an UPDATE of the child's own rows (which
//! follows its own chains in turn, to the end), and grafts what it finds
//! below the action's effect ([`graft`]). Each step reads the database as
//! the statement found it, which is what the engine's step sees wherever
//! the chain stays apart from the rest of the statement; where it comes
//! back to a table the statement writes otherwise (the target, a cycle,
//! a table two steps write), the outcome depends on the order the engine
//! runs the actions in, and the preview refuses with the rows.

use std::collections::BTreeSet;

use super::{Action, Context, Impact, PreviewOptions};
use crate::db::PreviewTx;
use crate::error::{Error, Result};
use crate::schema::{ForeignKey, QualName, Table};

/// The most steps a chain is followed through; past them, refused.
const MAX_STEPS: usize = 12;

/// What the preview of a step reads besides its statement.
#[derive(Debug, Clone)]
pub struct StepContext {
    /// The key whose action the step is: the values it writes are its
    /// parent rows' as the statement leaves them, which the statement's
    /// own preview checks.
    pub via: String,
    /// The CTE the step's statement reads (the rows the action reaches,
    /// computed from the statement's own), written by the preview and
    /// never parsed: only the statement that reads it is.
    pub cte: String,
    /// The tables the chain has passed through, the statement's target
    /// first.
    pub path: Vec<QualName>,
}

/// One step of a chain: the UPDATE of `child`'s own rows a key action
/// makes, and where its effects hang in the statement's tree.
pub(super) struct Step<'a> {
    /// The table whose key columns the action writes.
    pub child: &'a Table,
    /// The action's UPDATE of them, as SQL over `child AS {alias}`,
    /// reading `cte`.
    pub sql: String,
    pub cte: String,
    /// The depth of the action's effect in the statement's tree.
    pub depth: usize,
    /// `the SET NULL of c1 (c1_x_fkey)`, for a refusal.
    pub what: String,
    /// The foreign key whose action the step is.
    pub via: String,
}

/// A step a statement's analysis found, with the refusal that stands
/// where it cannot be followed.
pub(super) struct PendingStep<'a> {
    /// `None` where the step cannot be written out (a default computed at
    /// run time).
    pub step: Option<Step<'a>>,
    pub refusal: Error,
}

/// Follows each step and grafts what it sets off into `impact`, once the
/// statement's own effects are known, even where it fails: a step may
/// change the rows a failing check reads before the check runs. A step
/// the caller's `unsure` says the engine runs in an order of its own
/// (a child also deleted, or updated twice) is refused.
pub(super) fn follow_all(
    tx: &mut dyn PreviewTx,
    ctx: &Context<'_>,
    steps: Vec<PendingStep<'_>>,
    impact: &mut Impact,
    unsure: &dyn Fn(&Step<'_>, &Impact) -> bool,
) -> Result<()> {
    let target = impact.target.table.clone();
    for p in steps {
        let Some(step) = p.step.filter(|s| !unsure(s, impact)) else {
            return Err(p.refusal);
        };
        let Some(sub) = follow(tx, ctx, &step, &target)? else {
            return Err(p.refusal);
        };
        graft(impact, sub, (&step.child.name, step.depth, &step.what))?;
    }
    Ok(())
}

/// What one step sets off, previewed; `None` where the step is refused
/// before it is previewed (a self-reference, a partition, too deep).
pub(super) fn follow(
    tx: &mut dyn PreviewTx,
    ctx: &Context<'_>,
    step: &Step<'_>,
    target: &QualName,
) -> Result<Option<Impact>> {
    let partitions = step.child.partition_of.is_some()
        || step.child.kind == crate::schema::TableKind::Partitioned;
    // A table the chain has passed through (a cycle of keys), or one
    // whose own keys reference it: the engine changes its rows again,
    // beyond the rows the action reaches.
    let mut path = ctx
        .step
        .as_ref()
        .map(|s| s.path.clone())
        .unwrap_or_default();
    path.push(target.clone());
    let again = path.contains(&step.child.name)
        || step
            .child
            .foreign_keys
            .iter()
            .any(|fk| fk.ref_table == step.child.name);
    if again || partitions || ctx.chain_depth >= MAX_STEPS {
        return Ok(None);
    }
    let stmt = crate::sql::classify(ctx.dialect.0, &step.sql);
    if stmt.kind != crate::sql::Kind::Update {
        return Ok(None);
    }
    let options = PreviewOptions {
        judge_where: false,
        ..ctx.options.clone()
    };
    let sub = Context {
        schema: ctx.schema,
        associations: ctx.associations,
        options: &options,
        dialect: ctx.dialect,
        chain_depth: ctx.chain_depth + 1,
        step: Some(StepContext {
            via: step.via.clone(),
            cte: step.cte.clone(),
            path,
        }),
    };
    super::update::analyze_step(tx, &sub, &stmt, step.child).map(Some)
}

/// The tables an impact writes rows of.
pub(super) fn writes(i: &Impact) -> BTreeSet<&QualName> {
    i.totals
        .iter()
        .filter(|(_, t)| t.delete + t.update + t.insert > 0)
        .map(|(n, _)| n)
        .collect()
}

/// The tables whose rows an impact writes or reads for an effect (not
/// counted in time included).
pub(super) fn touches(i: &Impact) -> BTreeSet<&QualName> {
    let mut t = writes(i);
    t.extend(
        i.effects
            .iter()
            .filter(|e| e.rows != Some(0) && e.action != Action::Trigger)
            .map(|e| &e.table),
    );
    t
}

/// Joins what a step set off (`sub`, an UPDATE of `child`) into the
/// statement's impact, below the step's effect at `depth`: its effects,
/// the rows it writes beyond `child`'s (which the statement already
/// counts), its failures and the row sets the journal captures. Refused
/// where the step comes back to a table the statement writes otherwise.
pub(super) fn graft(
    impact: &mut Impact,
    mut sub: Impact,
    (child, depth, what): (&QualName, usize, &str),
) -> Result<()> {
    let own = |set: BTreeSet<&QualName>| -> BTreeSet<QualName> {
        set.into_iter().filter(|t| *t != child).cloned().collect()
    };
    let (sub_writes, sub_touches) = (own(writes(&sub)), own(touches(&sub)));
    let met = sub_writes
        .iter()
        .find(|t| touches(impact).contains(t))
        .or_else(|| sub_touches.iter().find(|t| writes(impact).contains(t)));
    if let Some(t) = met {
        return Err(Error::refused(format!(
            "cannot preview the statement exactly: {what} changes keys of {child}, and what that sets off reaches {t}, which the statement changes otherwise; the engine's outcome then depends on the order it runs those actions in, which this preview does not follow; nothing was run\nChange or re-point the rows of {child} first, then run this statement."
        )));
    }
    // In a DELETE, an ON UPDATE CASCADE is told from the delete's own.
    let on_update = impact.kind != crate::model::ChangeKind::Update;
    impact.effects.extend(
        std::mem::take(&mut sub.effects)
            .into_iter()
            .filter(|e| e.action != Action::Trigger)
            .map(|e| super::Effect {
                depth: e.depth + depth,
                on_update,
                ..e
            }),
    );
    // The statement lists the triggers of every table it writes.
    let keep = |w: &str| !w.starts_with("triggers will fire");
    merge(impact, sub, Some(child), &keep);
    Ok(())
}

/// Adds what `part`, an analysis joined into `whole`, counts and finds:
/// totals and the rows counted twice or updated again (but for
/// `except`'s, which `whole` counts already), failures, the warnings
/// `keep` keeps, boundedness, row sets (restored after `whole`'s), row
/// digests and what triggers do beyond the rows.
pub(super) fn merge(
    whole: &mut Impact,
    part: Impact,
    except: Option<&QualName>,
    keep: &dyn Fn(&str) -> bool,
) {
    let counted = |t: &QualName| Some(t) != except;
    for (name, n) in part.totals.into_iter().filter(|(t, _)| counted(t)) {
        let t = whole.totals.entry(name).or_default();
        t.delete += n.delete;
        t.update += n.update;
        t.insert += n.insert;
    }
    for (name, n) in part.counted_twice.into_iter().filter(|(t, _)| counted(t)) {
        *whole.counted_twice.entry(name).or_default() += n;
    }
    for (name, n) in part.updated_again.into_iter().filter(|(t, _)| counted(t)) {
        *whole.updated_again.entry(name).or_default() += n;
    }
    whole.failures.extend(part.failures);
    whole.will_fail = !whole.failures.is_empty();
    for w in part.warnings {
        if keep(&w) && !whole.warnings.contains(&w) {
            whole.warnings.push(w);
        }
    }
    whole.bounded &= part.bounded;
    let after = whole.row_sets.iter().map(|r| r.position).max().unwrap_or(0) + 1;
    whole.row_sets.extend(
        part.row_sets
            .into_iter()
            .filter(|r| counted(&r.table))
            .map(|r| super::RowSet {
                position: r.position + after,
                ..r
            }),
    );
    whole.row_digests.extend(part.row_digests);
    for b in part.beyond_the_rows {
        if !whole.beyond_the_rows.contains(&b) {
            whole.beyond_the_rows.push(b);
        }
    }
}

/// The refusal for a key action whose change is itself referenced (issue
/// 16, item 6) where the chain cannot be followed exactly: `n` rows of
/// `fk`'s table reference values of `changed`'s columns that an action of
/// the statement changes, and their own ON UPDATE action would run
/// through a self-reference, a partition, a default computed at run time,
/// rows the statement also deletes or updates twice, or past
/// [`MAX_STEPS`]. Counts that leave those rows out would be wrong, so
/// there are none.
pub(super) fn not_followed(
    verb: &str,
    step: &str,
    changed: &QualName,
    fk: &ForeignKey,
    n: u64,
) -> Error {
    refused_chain(
        verb,
        step,
        changed,
        fk,
        n,
        "cannot be followed exactly (a self-reference, a partition, a default computed at run time, or rows the statement changes otherwise)",
    )
}

/// The refusal of a chain an `ON CONFLICT DO UPDATE` starts, which the
/// preview does not follow.
pub(super) fn upsert_not_followed(
    step: &str,
    changed: &QualName,
    fk: &ForeignKey,
    n: u64,
) -> Error {
    refused_chain(
        "insert",
        step,
        changed,
        fk,
        n,
        "is not followed for ON CONFLICT DO UPDATE",
    )
}

fn refused_chain(
    verb: &str,
    step: &str,
    changed: &QualName,
    fk: &ForeignKey,
    n: u64,
    why: &str,
) -> Error {
    Error::refused(format!(
        "cannot preview the {verb} exactly: {step} changes a key of {changed} that {n} row{} of {} reference{} (FK {}, ON UPDATE {}), and what that sets off in turn {why}; nothing was run\nChange or re-point those rows of {} first, then run this statement.",
        if n == 1 { "" } else { "s" },
        fk.table,
        if n == 1 { "s" } else { "" },
        fk.name,
        fk.on_update.sql(),
        fk.table
    ))
}

/// What a SET NULL or SET DEFAULT writes into `column` (NULL for any
/// other action), typed as the column: an untyped NULL is text to
/// PostgreSQL. `Err(default)` where the default is computed at run time,
/// which a preview never evaluates (it may call `nextval`).
pub(super) fn action_value(
    d: crate::db::dialect::Dialect,
    action: super::Action,
    column: Option<&crate::schema::Column>,
) -> std::result::Result<String, &str> {
    let t = column.map_or("", |c| c.type_name.as_str());
    match column.and_then(|c| c.default.as_deref()) {
        Some(def) if action == super::Action::SetDefault => {
            if crate::sql::is_constant(d.0, def) {
                Ok(d.cast(def, t))
            } else {
                Err(def)
            }
        }
        _ => Ok(d.cast("NULL", t)),
    }
}

/// The types of the columns key actions may write when `table`'s rows
/// are deleted or its keys change: the referencing columns of every
/// foreign key into it (or a partition of it, or a table it is a partition
/// of), and into the tables those reach in turn. A preview casts NULLs and
/// defaults into them, and a cast into a domain runs the domain's CHECK,
/// so they are screened with the statement
/// ([`crate::db::PreviewTx::called_beyond`]) before anything runs.
/// Built-in types run no code of the database's own, and are left out:
/// their words (`time`, `zone`) would only find functions so named.
pub(super) fn written_types(schema: &crate::schema::Schema, table: &QualName) -> Vec<String> {
    use std::collections::{BTreeSet, HashMap, VecDeque};
    let mut partitions: HashMap<&QualName, Vec<&QualName>> = HashMap::new();
    for t in &schema.tables {
        if let Some(p) = &t.partition_of {
            partitions.entry(p).or_default().push(&t.name);
        }
    }
    let mut seen: BTreeSet<QualName> = BTreeSet::from([table.clone()]);
    let mut queue: VecDeque<QualName> = VecDeque::from([table.clone()]);
    let mut types: BTreeSet<String> = BTreeSet::new();
    while let Some(t) = queue.pop_front() {
        for part in partitions.get(&t).into_iter().flatten() {
            if seen.insert((*part).clone()) {
                queue.push_back((*part).clone());
            }
        }
        for fk in schema.referencing_through_partitions(&t) {
            if let Some(child) = schema.get(&fk.table) {
                let cols = fk.columns.iter().filter_map(|c| child.column(c));
                types.extend(cols.map(|c| c.type_name.clone()).filter(|n| !built_in(n)));
            }
            if seen.insert(fk.table.clone()) {
                queue.push_back(fk.table.clone());
            }
        }
    }
    types.into_iter().collect()
}

/// Whether a type, as the catalog spells it (`format_type`, SQLite's
/// declared type), is one the engine defines: a name with a space, a
/// modifier or an array suffix of a built-in, or one of the common names
/// (unquoted).
fn built_in(name: &str) -> bool {
    const NAMES: [&str; 23] = [
        "integer", "bigint", "smallint", "int", "text", "numeric", "boolean", "date", "uuid",
        "json", "jsonb", "bytea", "real", "money", "inet", "cidr", "xml", "oid", "name", "char",
        "interval", "blob", "",
    ];
    let base = name.trim_end_matches("[]");
    let base = base.split('(').next().unwrap_or(base).trim();
    // A quoted name (`"my domain"`) is the user's, spaces or not.
    !base.contains('"')
        && (base.contains(' ') || NAMES.contains(&base.to_ascii_lowercase().as_str()))
}

/// The referencing columns of `fk` (on `referencing`, as `alias`) as the
/// engine compares them with the key of `referenced` (SQLite: with the
/// key column's collation), as one tuple.
pub(super) fn referencing_key(
    d: crate::db::dialect::Dialect,
    fk: &ForeignKey,
    (referencing, alias): (&crate::schema::Table, &str),
    referenced: &crate::schema::Table,
) -> String {
    let cols: Vec<String> = fk
        .columns
        .iter()
        .zip(&fk.ref_columns)
        .map(|(c, rc)| {
            d.as_key_of(
                &super::qcol(alias, c),
                referencing.column(c),
                referenced.column(rc),
            )
        })
        .collect();
    crate::db::dialect::tuple(&cols)
}

#[cfg(test)]
mod tests {
    use super::built_in;

    #[test]
    fn built_in_types_are_told_from_the_users() {
        for t in [
            "integer",
            "integer[]",
            "character varying(20)",
            "timestamp with time zone",
            "numeric(12,2)",
            "TEXT",
            "",
        ] {
            assert!(built_in(t), "{t}");
        }
        for t in ["d", "public.d", "\"my domain\"", "email_address", "d[]"] {
            assert!(!built_in(t), "{t}");
        }
    }
}
