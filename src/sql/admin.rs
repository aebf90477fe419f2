//! Administrative calls dbguard guards as changes of their own kind.
//!
//! `pg_terminate_backend` and `pg_cancel_backend` act on another session,
//! which a read-only transaction does not stop, so anywhere in a read they
//! are refused (`super::effects`). An administrator who has to end a
//! session still should not go back to psql for it: typed as exactly one
//! call on a literal pid (`SELECT pg_terminate_backend(4711)`), the
//! statement is a change of kind `admin`, previewed (the session it acts on,
//! from `pg_stat_activity`), judged by policy, confirmed or approved, and
//! journaled like any other (`crate::change::Admin`). Any other shape (a
//! pid computed by a query, several calls, a call inside a larger query)
//! stays refused: what the preview names must be exactly what is signalled.

use sqlparser::ast::{self, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, SelectItem};

use crate::db::Engine;
pub use crate::model::admin::{AdminCall, AdminFunction};

/// The call `stmt` is, when it is nothing but one administrative call on
/// literal arguments: `SELECT [pg_catalog.]pg_terminate_backend(PID [,
/// TIMEOUT])` or `SELECT [pg_catalog.]pg_cancel_backend(PID)`, with an
/// optional column alias.
pub(crate) fn admin_call(engine: Engine, stmt: &ast::Statement) -> Option<AdminCall> {
    if engine != Engine::Postgres {
        return None;
    }
    let ast::Statement::Query(query) = stmt else {
        return None;
    };
    let plain_query = query.with.is_none()
        && query.order_by.is_none()
        && query.limit_clause.is_none()
        && query.fetch.is_none()
        && query.locks.is_empty();
    let ast::SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    let plain_select = plain_query
        && select.from.is_empty()
        && select.selection.is_none()
        && select.having.is_none()
        && select.distinct.is_none()
        && select.top.is_none()
        && select.into.is_none()
        && select.projection.len() == 1
        && matches!(&select.group_by, ast::GroupByExpr::Expressions(e, m) if e.is_empty() && m.is_empty());
    if !plain_select {
        return None;
    }
    let expr = match select.projection.first()? {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e,
        _ => return None,
    };
    call(expr)
}

/// The call `expr` is: a function of the list, schema `pg_catalog` or none,
/// whose arguments are integer literals only.
fn call(expr: &Expr) -> Option<AdminCall> {
    let Expr::Function(f) = expr else {
        return None;
    };
    let parts: Vec<String> = f
        .name
        .0
        .iter()
        // PostgreSQL folds unquoted names to lower case and keeps quoted
        // ones: `"PG_TERMINATE_BACKEND"` is another (missing) function.
        .map(|p| {
            p.as_ident().map(|i| match i.quote_style {
                Some(_) => i.value.clone(),
                None => i.value.to_lowercase(),
            })
        })
        .collect::<Option<_>>()?;
    let (schema, name) = match parts.as_slice() {
        [name] => (None, name),
        [schema, name] => (Some(schema.as_str()), name),
        _ => return None,
    };
    if schema.is_some_and(|s| s != "pg_catalog")
        || f.filter.is_some()
        || f.over.is_some()
        || !f.within_group.is_empty()
        || !matches!(f.parameters, FunctionArguments::None)
    {
        return None;
    }
    let function = AdminFunction::from_name(name)?;
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    if list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
        return None;
    }
    let args: Vec<i64> = list.args.iter().map(integer).collect::<Option<_>>()?;
    let (pid, timeout_ms) = match (function, args.as_slice()) {
        (_, [pid]) => (*pid, None),
        (AdminFunction::Terminate, [pid, timeout]) => (*pid, Some(*timeout)),
        _ => return None,
    };
    Some(AdminCall {
        function,
        pid: i32::try_from(pid).ok()?,
        timeout_ms,
    })
}

/// An unnamed integer literal argument.
fn integer(arg: &FunctionArg) -> Option<i64> {
    let FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(v))) = arg else {
        return None;
    };
    match &v.value {
        ast::Value::Number(n, false) => n.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::sql::{Kind, classify};

    use super::*;

    fn call_of(sql: &str) -> Option<AdminCall> {
        let s = classify(Engine::Postgres, sql);
        (s.kind == Kind::Admin).then_some(s.admin).flatten()
    }

    #[test]
    fn one_call_on_a_literal_pid_is_an_admin_change() {
        let terminate = |pid, timeout_ms| {
            Some(AdminCall {
                function: AdminFunction::Terminate,
                pid,
                timeout_ms,
            })
        };
        assert_eq!(
            call_of("select pg_terminate_backend(4711)"),
            terminate(4711, None)
        );
        assert_eq!(
            call_of("SELECT pg_catalog.PG_TERMINATE_BACKEND(12, 5000) AS ended;"),
            terminate(12, Some(5000))
        );
        assert_eq!(
            call_of("select \"pg_catalog\".\"pg_cancel_backend\"(7)"),
            Some(AdminCall {
                function: AdminFunction::Cancel,
                pid: 7,
                timeout_ms: None
            })
        );
    }

    /// Every other shape is refused: what the preview names must be what
    /// is signalled.
    #[test]
    fn any_other_shape_stays_refused() {
        for sql in [
            "select pg_terminate_backend(pid) from pg_stat_activity",
            "select pg_terminate_backend(1) where true",
            "select pg_terminate_backend(1), pg_terminate_backend(2)",
            "select pg_terminate_backend(1 + 1)",
            "select pg_terminate_backend('1')",
            "select pg_terminate_backend(-1)",
            "select pg_terminate_backend(99999999999)",
            "select pg_cancel_backend(1, 100)",
            "select pg_terminate_backend(timeout => 1, pid => 2)",
            "select myschema.pg_terminate_backend(1)",
            "select 1 from (select pg_terminate_backend(1)) s",
            "with x as (select 1) select pg_terminate_backend(1)",
            "explain select pg_terminate_backend(1)",
            "select pg_terminate_backend(1) limit 1",
            "select \"PG_TERMINATE_BACKEND\"(1)",
            "select \"PG_CATALOG\".pg_cancel_backend(1)",
        ] {
            let s = classify(Engine::Postgres, sql);
            assert_eq!(s.kind, Kind::Unknown, "{sql} was taken as {:?}", s.kind);
        }
        let s = classify(Engine::Sqlite, "select pg_terminate_backend(1)");
        assert_ne!(s.kind, Kind::Admin);
    }
}
