//! TRUNCATE previews (Postgres): every row of the named tables, plus every
//! table that references them, recursively, when `CASCADE` is given —
//! whatever the foreign keys' `ON DELETE` actions, since TRUNCATE does not
//! look at rows. Without `CASCADE`, any reference from a table outside the
//! set makes it fail, even an empty one. SQLite has no TRUNCATE.

use std::collections::BTreeMap;

use sqlparser::ast::{self, CascadeOption};

use super::{Action, Context, Effect, Impact, Totals, empty_impact, target_table, write_ast};
use crate::db::{PreviewTx, Rows};
use crate::error::{Error, Result};
use crate::schema::{QualName, TriggerEvent, quote_ident};
use crate::sql::Statement;

/// What a `TRUNCATE ... RESTART IDENTITY` does that the journal does not
/// hold.
const RESTARTS: &str =
    "RESTART IDENTITY resets the sequences of the emptied tables; undo cannot restore them";

fn restarts(t: &ast::Truncate) -> bool {
    matches!(t.identity, Some(ast::TruncateIdentityOption::Restart))
}

/// What of `stmt` its journal entry cannot hold, if anything: the
/// sequences a `TRUNCATE ... RESTART IDENTITY` resets.
pub(crate) fn uncovered(stmt: &Statement) -> Option<&'static str> {
    match write_ast(stmt) {
        Ok(ast::Statement::Truncate(t)) if restarts(t) => Some(RESTARTS),
        _ => None,
    }
}

pub(super) fn analyze(
    tx: &mut dyn PreviewTx,
    ctx: &Context<'_>,
    stmt: &Statement,
) -> Result<Impact> {
    if !ctx.dialect.has_truncate() {
        return Err(Error::refused(
            "SQLite has no TRUNCATE; the statement would fail\nUse DELETE FROM table (previewed with its cascades).",
        ));
    }
    let ast::Statement::Truncate(t) = write_ast(stmt)? else {
        return Err(Error::refused("not a TRUNCATE statement"));
    };
    let first = target_table(ctx, stmt)?;
    let mut impact = empty_impact(stmt, first);
    let (mut set, recursed) = named_tables(ctx, &t.table_names, &mut impact.failures)?;
    inheritance_children(tx, ctx, &recursed, &mut set, &mut impact)?;
    let cascade = matches!(t.cascade, Some(CascadeOption::Cascade));
    let depth = follow_references(ctx, &mut set, cascade, &mut impact);
    // A statement that fails empties nothing.
    if impact.failures.is_empty() {
        let mut emptied_below = recursed;
        emptied_below.extend(
            set.iter()
                .filter(|n| {
                    ctx.schema
                        .get(n)
                        .is_some_and(|t| t.kind == crate::schema::TableKind::Partitioned)
                })
                .cloned(),
        );
        unseen_descendants(tx, ctx, &emptied_below, &set)?;
    }
    let totals = count_rows(tx, ctx.schema, &set, &mut impact)?;
    dangling_associations(tx, ctx, &set, &depth, &mut impact)?;
    for (pos, name) in set.iter().enumerate() {
        if ctx
            .schema
            .get(name)
            .is_some_and(|t| t.kind == crate::schema::TableKind::Partitioned)
        {
            continue; // its rows live in its partitions, which are in the set
        }
        impact.row_sets.push(super::RowSet {
            table: name.clone(),
            op: crate::journal::Op::Delete,
            with: String::new(),
            alias: "a".into(),
            join: String::new(),
            cond: "TRUE".into(),
            rows: totals.get(name).map(|t| t.delete),
            position: pos as i64,
            new_key: None,
            digest_from: None,
        });
    }
    // A partitioned target's rows are its partitions'.
    impact.target.rows = Some(
        set.iter()
            .filter(|n| descends_from(ctx, n, &first.name))
            .filter_map(|n| totals.get(n))
            .map(|t| t.delete)
            .sum(),
    );
    impact.totals = totals;
    impact.will_fail = !impact.failures.is_empty();
    if restarts(t) {
        impact.warnings.push(RESTARTS.into());
    }
    warn_truncate_triggers(ctx, &set, &mut impact);
    Ok(impact)
}

/// The tables the statement names, each followed by its partitions at
/// every depth, which are emptied with it (not with `ONLY`, which
/// PostgreSQL refuses on a partitioned table: a failure); and those named
/// without `ONLY`, whose inheritance children it empties too.
fn named_tables(
    ctx: &Context<'_>,
    targets: &[ast::TruncateTableTarget],
    failures: &mut Vec<String>,
) -> Result<(Vec<QualName>, Vec<QualName>)> {
    let mut set: Vec<QualName> = Vec::new();
    let mut recursed: Vec<QualName> = Vec::new();
    for target in targets {
        let parts: Option<Vec<(String, bool)>> = target
            .name
            .0
            .iter()
            .map(|p| {
                p.as_ident()
                    .map(|i| (i.value.clone(), i.quote_style.is_some()))
            })
            .collect();
        let table = parts
            .as_deref()
            .and_then(|p| ctx.schema.resolve(p))
            .ok_or_else(|| Error::input(format!("table {} not found", target.name)))?;
        if !set.contains(&table.name) {
            set.push(table.name.clone());
        }
        if target.only {
            if table.kind == crate::schema::TableKind::Partitioned {
                failures.push(format!(
                    "cannot truncate only the partitioned table {}: its rows live in its partitions\nTruncate it without ONLY, or truncate its partitions.",
                    table.name
                ));
            }
            continue;
        }
        recursed.push(table.name.clone());
        push_partitions(ctx, &mut set, &table.name);
    }
    Ok((set, recursed))
}

/// Adds the tables inheriting from those named without `ONLY` (plain
/// inheritance, at every depth), which PostgreSQL empties with them, each
/// shown as an `inherited` effect. A table the schema does not show is
/// left for [`unseen_descendants`] to refuse. (Tables a CASCADE adds are
/// emptied without their inheritance children.)
fn inheritance_children(
    tx: &mut dyn PreviewTx,
    ctx: &Context<'_>,
    recursed: &[QualName],
    set: &mut Vec<QualName>,
    impact: &mut Impact,
) -> Result<()> {
    for root in recursed {
        let Some(sql) = ctx
            .schema
            .get(root)
            .filter(|t| t.inherited)
            .and_then(|_| ctx.dialect.descendants_query(std::slice::from_ref(root)))
        else {
            continue;
        };
        let Some(rows) = tx.query(&sql)?.map(|r| r.rows) else {
            return Err(not_listed(root));
        };
        for r in &rows {
            let text = |i: usize| r.get(i).and_then(|v| v.text()).unwrap_or_default();
            let name = QualName::new(Some(&text(0)), &text(1));
            if set.contains(&name) || ctx.schema.get(&name).is_none() {
                continue;
            }
            set.push(name.clone());
            impact.effects.push(Effect {
                table: name,
                action: Action::Inherited,
                via: "INHERITS".into(),
                source: "inheritance",
                depth: 1,
                rows: None,
                columns: Vec::new(),
                parent: root.clone(),
                reached: true,
                blocking: false,
                note: Some(format!("inherits from {root}: TRUNCATE empties it too")),
                sample: Rows::default(),
                on_update: false,
            });
        }
    }
    Ok(())
}

/// Adds the partitions of `table` to `set`, at every depth: a partition
/// may be partitioned too, and PostgreSQL empties them all with it.
fn push_partitions(ctx: &Context<'_>, set: &mut Vec<QualName>, table: &QualName) {
    let mut queue = vec![table.clone()];
    while let Some(parent) = queue.pop() {
        for p in ctx
            .schema
            .tables
            .iter()
            .filter(|p| p.partition_of.as_ref() == Some(&parent))
        {
            if !set.contains(&p.name) {
                set.push(p.name.clone());
                queue.push(p.name.clone());
            }
        }
    }
}

/// Whether `table` is `ancestor` or one of its partitions, at any depth.
fn descends_from(ctx: &Context<'_>, table: &QualName, ancestor: &QualName) -> bool {
    table == ancestor
        || ctx
            .schema
            .partition_chain(table)
            .iter()
            .any(|t| &t.name == ancestor)
}

/// The refusal where the tables inheriting from `table` could not be
/// listed in time: the TRUNCATE empties them too, and nothing would hold
/// their rows.
fn not_listed(table: &QualName) -> Error {
    Error::refused(format!(
        "cannot preview the TRUNCATE: the tables that inherit from {table}, which it empties too, could not be listed within the preview time limit; nothing was run\nRaise --preview-timeout, or truncate with ONLY."
    ))
}

/// What the schema the preview reads does not show: tables that inherit
/// from one of `roots`, the tables emptied with what inherits from them,
/// and are not in the set (a table or partition added since the schema
/// was read). PostgreSQL empties them with their parent, and nothing here
/// would hold their rows, so the statement is refused before it runs.
fn unseen_descendants(
    tx: &mut dyn PreviewTx,
    ctx: &Context<'_>,
    roots: &[QualName],
    set: &[QualName],
) -> Result<()> {
    if roots.is_empty() {
        return Ok(());
    }
    let Some(sql) = ctx.dialect.descendants_query(roots) else {
        return Ok(());
    };
    let Some(rows) = tx.query(&sql)?.map(|r| r.rows) else {
        return Err(not_listed(&roots[0]));
    };
    let found: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            let schema = r.first()?.text()?;
            Some(QualName::new(Some(&schema), &r.get(1)?.text()?))
        })
        .filter(|name| !set.contains(name))
        .map(|name| name.to_string())
        .collect();
    if found.is_empty() {
        return Ok(());
    }
    Err(Error::refused(format!(
        "cannot preview the TRUNCATE: {} inherit from the tables it empties, but the schema dbguard read does not show them (their rows would not be journaled); nothing was run\nReload the schema (\\d) and preview again.",
        found.join(", ")
    )))
}

/// Every reference into the set: with `CASCADE` its table joins the set
/// (and so on, recursively); without, one from outside makes the
/// statement fail. Returns each table's depth below the named ones.
fn follow_references(
    ctx: &Context<'_>,
    set: &mut Vec<QualName>,
    cascade: bool,
    impact: &mut Impact,
) -> BTreeMap<QualName, usize> {
    let mut depth: BTreeMap<QualName, usize> = set.iter().map(|n| (n.clone(), 0)).collect();
    let mut i = 0;
    // A key into a partitioned table reaches each partition in the set:
    // one effect for it.
    let mut seen: Vec<(QualName, String)> = Vec::new();
    while i < set.len() {
        let parent = set[i].clone();
        i += 1;
        for fk in ctx.schema.referencing_through_partitions(&parent) {
            let key = (fk.table.clone(), fk.name.clone());
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let inside = set.contains(&fk.table);
            if !inside && !cascade {
                impact.failures.push(format!(
                    "cannot truncate {parent}: {} references it (FK {}); TRUNCATE without CASCADE fails whatever the rows\nAdd CASCADE to empty {} too, or DELETE the rows instead.",
                    fk.table, fk.name, fk.table
                ));
            }
            let d = depth.get(&parent).copied().unwrap_or(0) + 1;
            impact.effects.push(Effect {
                table: fk.table.clone(),
                action: if cascade {
                    Action::Cascade
                } else {
                    Action::Restrict
                },
                via: fk.name.clone(),
                source: "fk",
                depth: d,
                rows: None,
                columns: fk.columns.clone(),
                parent: parent.clone(),
                reached: true,
                blocking: !cascade && !inside,
                note: cascade.then(|| "TRUNCATE ... CASCADE empties the whole table".to_owned()),
                sample: Rows::default(),
                on_update: false,
            });
            if cascade && !inside {
                depth.insert(fk.table.clone(), d);
                set.push(fk.table.clone());
                // Its partitions go with it (they hold their own copies
                // of the key).
                let before = set.len();
                push_partitions(ctx, set, &fk.table);
                for p in &set[before..] {
                    depth.insert(p.clone(), d);
                }
            }
        }
    }
    depth
}

/// The rows of each emptied table, and of each table whose reference
/// blocks the statement.
fn count_rows(
    tx: &mut dyn PreviewTx,
    schema: &crate::schema::Schema,
    set: &[QualName],
    impact: &mut Impact,
) -> Result<BTreeMap<QualName, Totals>> {
    let mut totals: BTreeMap<QualName, Totals> = BTreeMap::new();
    for name in set {
        let n = tx.count(&format!("SELECT count(*) FROM ONLY {}", name.sql()))?;
        impact.bounded &= n.is_some();
        totals.entry(name.clone()).or_default().delete = n.unwrap_or(0);
    }
    for e in &mut impact.effects {
        e.rows = totals.get(&e.table).map(|t| t.delete).or(Some(0));
        if e.action == Action::Restrict && e.blocking {
            let n = tx.count(&format!(
                "SELECT count(*) FROM {}",
                schema.own_rows(&e.table)
            ))?;
            e.rows = n;
        }
    }
    Ok(totals)
}

/// Associations into emptied tables leave every non-NULL reference dangling.
fn dangling_associations(
    tx: &mut dyn PreviewTx,
    ctx: &Context<'_>,
    set: &[QualName],
    depth: &BTreeMap<QualName, usize>,
    impact: &mut Impact,
) -> Result<()> {
    for a in ctx
        .associations
        .iter()
        .filter(|a| set.contains(&a.ref_table) && !set.contains(&a.table))
    {
        let n = tx.count(&format!(
            "SELECT count(*) FROM {} WHERE {} IS NOT NULL",
            ctx.schema.own_rows(&a.table),
            quote_ident(&a.column)
        ))?;
        impact.bounded &= n.is_some();
        impact.effects.push(Effect {
            table: a.table.clone(),
            action: Action::Dangling,
            via: a.name(),
            source: a.source.name(),
            depth: depth.get(&a.ref_table).copied().unwrap_or(0) + 1,
            rows: n,
            columns: vec![a.column.clone()],
            parent: a.ref_table.clone(),
            reached: true,
            blocking: false,
            note: None,
            sample: Rows::default(),
            on_update: false,
        });
    }
    Ok(())
}

/// TRUNCATE fires TRUNCATE triggers, not DELETE triggers.
fn warn_truncate_triggers(ctx: &Context<'_>, set: &[QualName], impact: &mut Impact) {
    let trig: Vec<String> = set
        .iter()
        .filter_map(|n| ctx.schema.get(n))
        .flat_map(|t| {
            t.triggers
                .iter()
                .filter(|tr| tr.enabled && tr.events.contains(&TriggerEvent::Truncate))
                .map(move |tr| format!("{} on {}", tr.name, t.name))
        })
        .collect();
    if !trig.is_empty() {
        impact.warnings.push(format!(
            "TRUNCATE triggers will fire ({}): what they do is not in these counts",
            trig.join(", ")
        ));
    }
}
