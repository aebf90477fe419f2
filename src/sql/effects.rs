//! Functions whose effects a read-only transaction does not stop.
//!
//! `BEGIN READ ONLY` refuses writes to tables, but a PostgreSQL function
//! can act elsewhere: on another connection (`dblink_exec`), on large
//! objects, on other sessions (`pg_terminate_backend`), on the server
//! (`pg_reload_conf`, `pg_switch_wal`), on replication slots, or on this
//! session's later statements (`set_config(..., false)`, session-level
//! advisory locks). A statement that calls one of them, at any depth (a
//! subquery, a `FROM` function, a write's `WHERE`, which the preview runs),
//! is refused: [`SIDE_EFFECTS`] is the reviewed list, one entry per
//! function (or family), each with what it does that the guard cannot see.
//!
//! Names match however they are written: schema-qualified or not, quoted
//! or not, in any case. Code of the database's own that makes such calls
//! (a function's body, a view) is found by the engine layer
//! (`crate::db::postgres::reach`), which reads the catalog.

use std::ops::ControlFlow;

use sqlparser::ast::{self, Visit, Visitor};

use crate::db::Engine;

use crate::db::postgres::side_effects::listed;
pub use crate::db::postgres::side_effects::{SIDE_EFFECTS, SideEffect};

/// The first call in `stmt` whose effects a read-only transaction does
/// not stop: the name as written, and why.
pub(crate) fn side_effect(engine: Engine, stmt: &ast::Statement) -> Option<(String, &'static str)> {
    if engine != Engine::Postgres {
        return None;
    }
    let mut finder = Finder(None);
    let _ = stmt.visit(&mut finder);
    finder.0
}

/// Functions and relations that read the state of the transaction they
/// run in. A write is previewed in one transaction and applied in another
/// that also writes its journal entry: a predicate reading either can
/// select other rows at apply time than the ones previewed, approved and
/// captured (`WHERE id = CASE WHEN txid_current_if_assigned() IS NULL THEN 1
/// ELSE 4 END`).
const OWN_STATE_FUNCTIONS: &[&str] = &[
    "txid_current",
    "txid_current_if_assigned",
    "txid_current_snapshot",
    "txid_status",
    "pg_current_xact_id",
    "pg_current_xact_id_if_assigned",
    "pg_current_snapshot",
    "pg_xact_status",
    "pg_trigger_depth",
    "pg_stat_get_xact_",
];

/// The first read in a write's `stmt` of the state of the transaction it
/// runs in (see [`OWN_STATE_FUNCTIONS`]; also the `pg_stat_xact_*` views,
/// `pg_locks` and the journal's own tables): the name as written.
pub(crate) fn reads_own_transaction(engine: Engine, stmt: &ast::Statement) -> Option<String> {
    if engine != Engine::Postgres {
        return None;
    }
    let mut found = None;
    let _ = ast::visit_expressions(stmt, |e| {
        if let ast::Expr::Function(f) = e
            && let Some(last) = f.name.0.last().and_then(|p| p.as_ident())
        {
            let last = last.value.to_lowercase();
            if OWN_STATE_FUNCTIONS
                .iter()
                .any(|n| last == *n || (n.ends_with('_') && last.starts_with(n)))
            {
                found = Some(f.name.to_string());
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    });
    if found.is_some() {
        return found;
    }
    let journal = crate::db::journal::journal_schema();
    let _ = ast::visit_relations(stmt, |r| {
        let parts: Vec<String> =
            r.0.iter()
                .filter_map(|p| p.as_ident().map(|i| i.value.to_lowercase()))
                .collect();
        let last = parts.last().map(String::as_str).unwrap_or_default();
        let in_journal = parts.len() > 1 && parts.first().is_some_and(|s| s == journal);
        if last.starts_with("pg_stat_xact_") || last == "pg_locks" || in_journal {
            found = Some(r.to_string());
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    });
    found
}

struct Finder(Option<(String, &'static str)>);

impl Visitor for Finder {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &ast::Expr) -> ControlFlow<()> {
        if let ast::Expr::Function(f) = expr {
            self.0 = judge(&f.name, Some(&f.args));
        }
        done(&self.0)
    }

    fn pre_visit_table_factor(&mut self, factor: &ast::TableFactor) -> ControlFlow<()> {
        self.0 = match factor {
            ast::TableFactor::Table {
                name,
                args: Some(_),
                ..
            }
            | ast::TableFactor::Function { name, .. } => judge(name, None),
            _ => None,
        };
        done(&self.0)
    }
}

fn done(found: &Option<(String, &'static str)>) -> ControlFlow<()> {
    match found {
        Some(_) => ControlFlow::Break(()),
        None => ControlFlow::Continue(()),
    }
}

/// A call of `name` with `args` (where known), if it is on the list, or a
/// `set_config` that is not local to the transaction.
fn judge(
    name: &ast::ObjectName,
    args: Option<&ast::FunctionArguments>,
) -> Option<(String, &'static str)> {
    let last = name.0.last()?.as_ident()?.value.to_lowercase();
    if last == "set_config" && !is_local(args) {
        return Some((
            name.to_string(),
            "changes a setting for the rest of the session (only set_config(name, value, true) is local to the read)",
        ));
    }
    listed(&last).map(|e| (name.to_string(), e.why))
}

/// Whether a `set_config` call's third argument is a literal true.
fn is_local(args: Option<&ast::FunctionArguments>) -> bool {
    let Some(ast::FunctionArguments::List(list)) = args else {
        return false;
    };
    list.args.get(2).is_some_and(|a| {
        matches!(
            a.to_string().to_lowercase().as_str(),
            "true" | "'true'" | "'t'" | "'on'" | "'yes'" | "'1'"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::{Kind, classify};

    /// Every way of writing a call of `name`: bare, schema-qualified,
    /// quoted, upper case, in a subquery, in `FROM`, in a write's `WHERE`,
    /// behind `EXPLAIN`.
    fn spellings(name: &str) -> Vec<String> {
        let upper = name.to_uppercase();
        vec![
            format!("select {name}(1)"),
            format!("select pg_catalog.{name}(1)"),
            format!("select \"pg_catalog\".\"{name}\"(1)"),
            format!("SELECT {upper}(1)"),
            format!("select 1 where exists (select {name}(1))"),
            format!("select * from {name}(1) as f"),
            format!("select * from t join lateral {name}(t.id) as f on true"),
            format!("delete from t where id = {name}(1)"),
            format!("update t set v = 1 where {name}(id) is not null"),
            format!("explain select {name}(1)"),
            format!("with x as (select {name}(1)) select * from x"),
        ]
    }

    #[test]
    fn every_listed_function_is_refused_however_it_is_written() {
        for entry in SIDE_EFFECTS {
            let name = if entry.prefix {
                format!("{}x", entry.name)
            } else {
                entry.name.to_owned()
            };
            for (i, sql) in spellings(&name).into_iter().enumerate() {
                let s = classify(Engine::Postgres, &sql);
                // Typed as one call on a literal pid, these two are a
                // guarded change of their own (`crate::sql::admin`), never
                // a read; any other spelling stays refused.
                if i < 4 && matches!(entry.name, "pg_terminate_backend" | "pg_cancel_backend") {
                    assert_eq!(s.kind, Kind::Admin, "{sql} was taken as {:?}", s.kind);
                    continue;
                }
                assert_eq!(s.kind, Kind::Unknown, "{sql} was taken as {:?}", s.kind);
                let note = s.note.unwrap_or_default();
                assert!(
                    note.contains(entry.why) && note.to_lowercase().contains(&name),
                    "{sql}: {note}"
                );
            }
        }
    }

    #[test]
    fn set_config_is_a_read_only_when_local_to_it() {
        for sql in [
            "select set_config('standard_conforming_strings', 'off', false)",
            "select set_config('search_path', 'x', 'false')",
            "select set_config('search_path', 'x', f())",
            "select pg_catalog.set_config('search_path', 'x', 0 = 0)",
            "select set_config('search_path', 'x')",
        ] {
            assert_eq!(classify(Engine::Postgres, sql).kind, Kind::Unknown, "{sql}");
        }
        for sql in [
            "select set_config('search_path', 'x', true)",
            "select set_config('search_path', 'x', 'on')",
            "select current_setting('search_path')",
        ] {
            assert_eq!(classify(Engine::Postgres, sql).kind, Kind::Read, "{sql}");
        }
    }

    #[test]
    fn functions_of_the_same_family_name_only_are_not_refused() {
        for sql in [
            "select lo_get(1)",
            "select pg_advisory_xact_lock(1)",
            "select pg_try_advisory_xact_lock(1)",
            "select pg_stat_get_live_tuples(1)",
            "select dbl(1)",
            "select * from lo_unlinked",
            "select pg_notifyx(1)",
        ] {
            assert_eq!(classify(Engine::Postgres, sql).kind, Kind::Read, "{sql}");
        }
    }

    #[test]
    fn sqlite_has_no_list() {
        assert_eq!(
            classify(Engine::Sqlite, "select lo_unlink(1)").kind,
            Kind::Read
        );
    }
}
