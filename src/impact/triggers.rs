//! Triggers a change sets off: which fire on each table it writes, and
//! the effects and warning that say so. What a trigger does cannot be
//! computed from the catalog; that it fires can, including the
//! statement-level ones a key action's statement fires with no row
//! changed.

use std::collections::BTreeMap;

use super::{Action, Context, Effect, Impact, Totals};
use crate::db::Rows;
use crate::model::ChangeKind;
use crate::schema::{QualName, Table, TriggerEvent};

/// Triggers on `table` that fire for `event`.
fn firing_triggers(table: &Table, event: TriggerEvent) -> Vec<&crate::schema::Trigger> {
    table
        .triggers
        .iter()
        .filter(|t| t.enabled && t.events.contains(&event))
        .collect()
}

/// Whether a statement of `kind` fires `event`'s statement-level triggers
/// on its target with no row changed: a DELETE its DELETE ones, an UPDATE
/// its UPDATE ones, an INSERT its INSERT ones and, since an `ON CONFLICT
/// DO UPDATE` fires both, its UPDATE ones too (listed for any INSERT:
/// one that fires is never left out).
fn own_event(kind: ChangeKind, event: TriggerEvent) -> bool {
    matches!(
        (kind, event),
        (ChangeKind::Delete, TriggerEvent::Delete)
            | (ChangeKind::Update, TriggerEvent::Update)
            | (
                ChangeKind::Insert,
                TriggerEvent::Insert | TriggerEvent::Update
            )
    )
}

/// Whether a key of `table` runs `event` on it: PostgreSQL runs a key
/// action's statement for each row its parent loses (or whose key
/// changes), and that statement fires `table`'s statement-level triggers
/// even when it changes no row. A self-reference counts too.
fn key_action_into(
    table: &crate::schema::Table,
    event: TriggerEvent,
    totals: &BTreeMap<QualName, Totals>,
) -> bool {
    use crate::schema::FkAction;
    let runs = |action: FkAction, on_delete: bool| match action {
        FkAction::SetNull | FkAction::SetDefault => Some(TriggerEvent::Update),
        FkAction::Cascade if on_delete => Some(TriggerEvent::Delete),
        FkAction::Cascade => Some(TriggerEvent::Update),
        _ => None,
    };
    table.foreign_keys.iter().any(|fk| {
        let Some(parent) = totals.get(&fk.ref_table) else {
            return false;
        };
        (parent.delete > 0 && runs(fk.on_delete, true) == Some(event))
            || (parent.update > 0 && runs(fk.on_update, false) == Some(event))
    })
}

/// Adds trigger effects for every table with changed rows. `inherited`:
/// the target is a table the statement reaches through inheritance
/// ([`inherit`]), whose statement-level triggers do not fire (only the
/// named table's do).
pub(super) fn add_trigger_effects(
    impact: &mut Impact,
    ctx: &Context<'_>,
    depth_of: &dyn Fn(&QualName) -> usize,
    inherited: bool,
) {
    let mut extra = Vec::new();
    let mut names = Vec::new();
    let target = impact.target.table.clone();
    for (tname, totals) in &impact.totals {
        let Some(table) = ctx.schema.get(tname) else {
            continue;
        };
        for (event, rows) in [
            (TriggerEvent::Delete, totals.delete),
            (TriggerEvent::Update, totals.update),
            (TriggerEvent::Insert, totals.insert),
        ] {
            for trig in firing_triggers(table, event) {
                if inherited
                    && !trig.for_each_row
                    && tname == &target
                    && own_event(impact.kind, event)
                    && !key_action_into(table, event, &impact.totals)
                {
                    continue;
                }
                // Statement-level triggers fire even for 0 rows: the
                // target's for the statement's own event, and any table's
                // for the events of the key actions run into it.
                let fires_empty = !trig.for_each_row
                    && ((tname == &target && own_event(impact.kind, event))
                        || key_action_into(table, event, &impact.totals));
                if rows == 0 && !fires_empty {
                    continue;
                }
                names.push(format!("{} on {}", trig.name, tname));
                extra.push(Effect {
                    table: tname.clone(),
                    action: Action::Trigger,
                    via: trig.name.clone(),
                    source: "trigger",
                    depth: depth_of(tname),
                    rows: Some(if trig.for_each_row { rows } else { 1 }),
                    columns: Vec::new(),
                    parent: tname.clone(),
                    reached: true,
                    blocking: false,
                    note: Some(format!(
                        "{} {} {} trigger, calls {}",
                        match trig.timing {
                            crate::schema::TriggerTiming::Before => "BEFORE",
                            crate::schema::TriggerTiming::After => "AFTER",
                            crate::schema::TriggerTiming::InsteadOf => "INSTEAD OF",
                        },
                        match event {
                            TriggerEvent::Delete => "DELETE",
                            TriggerEvent::Update => "UPDATE",
                            TriggerEvent::Insert => "INSERT",
                            TriggerEvent::Truncate => "TRUNCATE",
                        },
                        if trig.for_each_row {
                            "row"
                        } else {
                            "statement"
                        },
                        trig.action
                    )),
                    sample: Rows::default(),
                    on_update: false,
                });
            }
        }
    }
    if !names.is_empty() {
        impact.warnings.push(format!(
            "triggers will fire ({}): what they do cannot be computed from the catalog and is not in these counts",
            names.join(", ")
        ));
    }
    impact.effects.extend(extra);
}
