//! Statement classification: what kind of statement, on which table, with
//! which predicate.
//!
//! Classification is a whitelist. A statement is a read only when its parse
//! tree says so (a query with no data-modifying CTE and no `SELECT INTO`, a
//! plain `EXPLAIN`, a `SHOW`, a reporting `PRAGMA` on SQLite); every parse tree the
//! code does not recognise, and every text the parser rejects, is `Unknown`
//! and is refused. Reads additionally run in a read-only transaction, so a
//! function with side effects called from a `SELECT` fails in the engine.

use std::ops::ControlFlow;

use sqlparser::ast::{
    self, FromTable, ObjectName, ObjectNamePart, SetExpr, TableFactor, TableObject,
    visit_statements,
};
use sqlparser::parser::Parser;

use crate::db::Engine;

/// The class of a statement, which decides what the guard does with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Read,
    Insert,
    Update,
    Delete,
    Truncate,
    Merge,
    Ddl,
    /// One administrative call dbguard guards as a change (`SELECT
    /// pg_terminate_backend(PID)`, `super::admin`).
    Admin,
    /// `BEGIN`, `COMMIT`, `ROLLBACK`, savepoints.
    Transaction,
    /// `SET`, `RESET`, `DISCARD`, ...
    Session,
    Unknown,
}

impl Kind {
    /// Lower-case name used in messages and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Read => "read",
            Kind::Transaction => "transaction",
            Kind::Session => "session",
            Kind::Unknown => "unknown",
            // The kinds of change are named once, by `ChangeKind`.
            change => change.change_kind().map_or("unknown", |k| k.name()),
        }
    }

    /// Statements that change rows.
    pub fn is_data_write(self) -> bool {
        matches!(
            self,
            Kind::Insert | Kind::Update | Kind::Delete | Kind::Truncate | Kind::Merge
        )
    }
}

/// One classified statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// The text exactly as typed, without the trailing semicolon.
    pub text: String,
    pub kind: Kind,
    /// The target table of a write, as typed (`public."My T"`).
    pub table: Option<String>,
    /// The target table's identifier parts with their quote flags, for
    /// resolving against the schema.
    pub table_parts: Option<Vec<(String, bool)>>,
    /// The `WHERE` clause of an UPDATE or DELETE, as SQL.
    pub predicate: Option<String>,
    /// The `WHERE` clause holds for every row whatever the row (`WHERE
    /// true`, `WHERE 1 = 1`): it filters nothing, and policy treats the
    /// statement as one without WHERE.
    pub where_always_true: bool,
    /// For `Session` statements: whether the setting is on the short list
    /// the guard lets through (search_path, timezone, ...).
    pub session_allowed: bool,
    /// Why the statement is `Unknown`, or a note on how it was read.
    pub note: Option<String>,
    /// The parse tree, when the parser accepted the statement.
    pub ast: Option<ast::Statement>,
    /// For `Admin` statements: the call.
    pub admin: Option<super::admin::AdminCall>,
    /// A read-only `WITH` clause in front of a write
    /// (`WITH old AS (SELECT ...) DELETE ...`), as SQL; the write itself is
    /// `ast`'s body.
    pub with: Option<String>,
}

impl Statement {
    pub(super) fn new(text: &str, kind: Kind) -> Self {
        Statement {
            text: text.to_owned(),
            kind,
            table: None,
            table_parts: None,
            predicate: None,
            where_always_true: false,
            session_allowed: false,
            note: None,
            ast: None,
            admin: None,
            with: None,
        }
    }

    pub(super) fn unknown(text: &str, why: impl Into<String>) -> Self {
        let mut s = Statement::new(text, Kind::Unknown);
        s.note = Some(why.into());
        s
    }

    fn with_table(mut self, name: &ObjectName) -> Self {
        self.table = Some(name.to_string());
        self.table_parts = name_parts(name);
        self
    }
}

/// Session settings that only change how this session reads and displays
/// data. Anything else (`session_replication_role`, `role`, ...) could turn
/// off a safety the guard relies on, so it is refused.
const SAFE_SETTINGS: &[&str] = &[
    "search_path",
    "timezone",
    "time zone",
    "datestyle",
    "intervalstyle",
    "extra_float_digits",
    "statement_timeout",
    "lock_timeout",
    "idle_in_transaction_session_timeout",
    "application_name",
    "bytea_output",
    "client_min_messages",
    "work_mem",
    "jit",
];

fn name_parts(name: &ObjectName) -> Option<Vec<(String, bool)>> {
    name.0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(id) => Some((id.value.clone(), id.quote_style.is_some())),
            _ => None,
        })
        .collect()
}

/// Parses and classifies one statement (as produced by [`super::split`]).
/// Never panics; anything it cannot read is `Unknown` with the reason.
pub fn classify(engine: Engine, text: &str) -> Statement {
    let text = super::strip_trailing_semicolons(text).trim_start();
    if super::has_unicode_identifier(engine, text) {
        return Statement::unknown(
            text,
            "a Unicode-escaped identifier (U&\"...\"), which PostgreSQL reads as one name and dbguard's parser does not\nWrite the name plainly, or as an ordinary quoted identifier.",
        );
    }
    if super::continues_a_string(engine, text) {
        return Statement::unknown(
            text,
            "a string constant continues on the next line, which PostgreSQL joins into one string and dbguard's parser does not read the same way\nWrite the string as one constant.",
        );
    }
    if let Some(pragma) = super::forms::pragma(engine, text) {
        return pragma;
    }
    // `TABLE name` is parsed as the `SELECT * FROM name` it is; the text
    // that runs stays the one typed.
    let parsed = match super::forms::table_statement(engine, text) {
        Some(Err(refused)) => return refused,
        Some(Ok(select)) => parse(engine, &select),
        None => parse(engine, text),
    };
    let mut stmts = match parsed {
        Ok(s) => s,
        Err(e) => {
            return Statement::unknown(
                text,
                format!(
                    "the SQL parser ({} dialect) could not read it: {e}",
                    engine.name()
                ),
            );
        }
    };
    if stmts.len() != 1 {
        return Statement::unknown(
            text,
            format!("expected one statement, the parser found {}", stmts.len()),
        );
    }
    let Some(stmt) = stmts.pop() else {
        return Statement::unknown(text, "empty statement");
    };
    if let Some(call) = super::admin::admin_call(engine, &stmt) {
        let mut out = Statement::new(text, Kind::Admin);
        out.admin = Some(call);
        out.ast = Some(stmt);
        return out;
    }
    if let Some((name, why)) = super::effects::side_effect(engine, &stmt) {
        let last = name.rsplit('.').next().unwrap_or(&name).trim_matches('"');
        let help = match super::admin::AdminFunction::from_name(&last.to_lowercase()) {
            Some(f) => format!(
                "\nTo {} one session, write the call alone on its pid (SELECT {}(4711)): dbguard previews the session and guards it as a change.",
                f.action(),
                f.sql_name()
            ),
            None => String::new(),
        };
        return Statement::unknown(
            text,
            format!(
                "it calls {name}, which {why}; a read-only transaction cannot stop that (nor a preview, which would run it){help}"
            ),
        );
    }
    if let (Engine::Sqlite, ast::Statement::Truncate(t)) = (engine, &stmt) {
        let name = t
            .table_names
            .first()
            .map_or_else(|| "the table".to_owned(), |n| n.name.to_string());
        return Statement::unknown(
            text,
            format!(
                "SQLite has no TRUNCATE; use DELETE FROM {name} (it is previewed and can be undone)\nNothing was run."
            ),
        );
    }
    let mut out = classify_tree(text, &stmt);
    if out.kind.is_data_write()
        && let Some(name) = super::effects::reads_own_transaction(engine, &stmt)
    {
        return Statement::unknown(
            text,
            format!(
                "it reads {name}, the state of the transaction it runs in, which differs between the preview and the apply: the rows applied could be others than the rows shown"
            ),
        );
    }
    // Previews are built from the parse tree, printed back as SQL. A write
    // whose printed form is not the same tokens as what was typed was read
    // differently by the parser than the engine may read it (operators it
    // rewrote, clauses it filled in): it is not analyzable.
    if out.kind.is_data_write() && !super::same_tokens(engine, text, &stmt.to_string()) {
        return Statement::unknown(
            text,
            "the SQL parser does not read this statement back exactly, so its preview could differ from what the database does",
        );
    }
    out.ast = Some(stmt);
    out
}

/// How much stack the parser gets. It recurses once per level of nesting
/// up to its limit (50), and an unoptimised build spends about 100 KiB of
/// stack per level of `IN (SELECT ...`: more than a spawned thread's
/// default 2 MiB holds, so text nested that deep would abort the process
/// instead of being refused. The parse runs on a thread of its own with
/// this much (reserved, not used, unless the text is that deep).
const PARSE_STACK: usize = 64 << 20;

/// `text` parsed with `engine`'s dialect, on a thread with
/// [`PARSE_STACK`] (inline where no thread can be started).
fn parse(
    engine: Engine,
    text: &str,
) -> Result<Vec<ast::Statement>, sqlparser::parser::ParserError> {
    let run = || {
        let dialect = super::dialect(engine);
        Parser::new(dialect.as_ref())
            .try_with_sql(text)
            .and_then(|mut p| p.parse_statements())
    };
    std::thread::scope(|scope| {
        match std::thread::Builder::new()
            .name("dbguard-parse".into())
            .stack_size(PARSE_STACK)
            .spawn_scoped(scope, run)
        {
            Ok(handle) => handle.join().unwrap_or_else(|_| {
                Err(sqlparser::parser::ParserError::ParserError(
                    "the SQL parser stopped on this text".into(),
                ))
            }),
            Err(_) => run(),
        }
    })
}

/// True when a data-modifying statement is nested inside `stmt` (a writable
/// CTE such as `WITH d AS (DELETE ... RETURNING *) SELECT ...`).
fn has_nested_write(stmt: &ast::Statement) -> bool {
    let mut depth = 0usize;
    let mut found = false;
    let _ = visit_statements(stmt, |s| {
        depth += 1;
        if depth > 1
            && matches!(
                s,
                ast::Statement::Insert(_)
                    | ast::Statement::Update(_)
                    | ast::Statement::Delete(_)
                    | ast::Statement::Merge(_)
            )
        {
            found = true;
            return ControlFlow::Break(());
        }
        ControlFlow::<()>::Continue(())
    });
    found
}

/// True when any statement nested in `q` modifies data.
fn query_writes(q: &ast::Query) -> bool {
    let mut found = false;
    let _ = visit_statements(q, |s| {
        if matches!(
            s,
            ast::Statement::Insert(_)
                | ast::Statement::Update(_)
                | ast::Statement::Delete(_)
                | ast::Statement::Merge(_)
        ) {
            found = true;
            return ControlFlow::Break(());
        }
        ControlFlow::<()>::Continue(())
    });
    found
}

/// The write inside `WITH ... DELETE/UPDATE/INSERT`, if that is what `stmt` is.
pub(crate) fn write_under_with(stmt: &ast::Statement) -> Option<(&ast::Query, &ast::Statement)> {
    let ast::Statement::Query(q) = stmt else {
        return None;
    };
    match q.body.as_ref() {
        SetExpr::Insert(inner)
        | SetExpr::Update(inner)
        | SetExpr::Delete(inner)
        | SetExpr::Merge(inner) => Some((q, inner)),
        _ => None,
    }
}

fn has_select_into(body: &SetExpr) -> bool {
    match body {
        SetExpr::Select(s) => s.into.is_some(),
        SetExpr::Query(q) => has_select_into(&q.body),
        SetExpr::SetOperation { left, right, .. } => {
            has_select_into(left) || has_select_into(right)
        }
        _ => false,
    }
}

/// Classifies one parse tree: a write under `WITH` like the bare write, any
/// other nested write refused, then by statement type.
fn classify_tree(text: &str, stmt: &ast::Statement) -> Statement {
    use ast::Statement as S;
    if let Some((q, inner)) = write_under_with(stmt) {
        return classify_write_under_with(text, q, inner);
    }
    // EXPLAIN is judged by what it runs (see below), not by what it names.
    if !matches!(stmt, S::Explain { .. }) && has_nested_write(stmt) {
        return Statement::unknown(
            text,
            "a data-modifying WITH clause (writable CTE) cannot be analyzed",
        );
    }
    match stmt {
        S::Query(q) => classify_query(text, q),
        S::Insert(ins) => classify_insert(text, ins),
        S::Update(up) => classify_update(text, up),
        S::Delete(del) => classify_delete(text, del),
        S::Truncate(t) => classify_truncate(text, t),
        S::Merge(m) => match &m.table {
            TableFactor::Table { name, .. } => Statement::new(text, Kind::Merge).with_table(name),
            _ => Statement::unknown(text, "MERGE into something other than a table"),
        },
        S::Explain {
            analyze,
            statement,
            options,
            ..
        } => classify_explain(
            text,
            *analyze || analyze_option(options.as_deref()),
            statement,
        ),
        // PRAGMA is read from its tokens (`super::forms`) before parsing;
        // one found in a tree is somewhere dbguard does not look.
        S::Pragma { .. } => Statement::unknown(text, "a PRAGMA inside another statement"),
        S::Set(set) => classify_set(text, set),
        S::Reset { .. } | S::Discard { .. } | S::Use { .. } => Statement::new(text, Kind::Session),
        _ if is_show(stmt) => Statement::new(text, Kind::Read),
        _ if is_transaction_control(stmt) => Statement::new(text, Kind::Transaction),
        _ if is_ddl(stmt) => Statement::new(text, Kind::Ddl),
        other => unsupported(text, other),
    }
}

/// `WITH x AS (SELECT ...) DELETE ...`: the CTEs must only read; the write
/// is judged like the bare statement.
fn classify_write_under_with(text: &str, q: &ast::Query, inner: &ast::Statement) -> Statement {
    let Some(with) = &q.with else {
        return Statement::unknown(text, "a write nested in a query cannot be analyzed");
    };
    if with.cte_tables.iter().any(|c| query_writes(&c.query)) {
        return Statement::unknown(
            text,
            "a data-modifying WITH clause (writable CTE) cannot be analyzed",
        );
    }
    if q.order_by.is_some() || q.limit_clause.is_some() || !q.locks.is_empty() {
        return Statement::unknown(text, "clauses after a WITH ... write cannot be analyzed");
    }
    let mut s = classify_tree(text, inner);
    s.with = Some(with.to_string());
    s
}

fn classify_query(text: &str, q: &ast::Query) -> Statement {
    if has_select_into(&q.body) {
        let mut s = Statement::new(text, Kind::Ddl);
        s.note = Some("SELECT INTO creates a table".into());
        s
    } else {
        Statement::new(text, Kind::Read)
    }
}

fn classify_insert(text: &str, ins: &ast::Insert) -> Statement {
    match &ins.table {
        TableObject::TableName(name) => Statement::new(text, Kind::Insert).with_table(name),
        _ => Statement::unknown(text, "INSERT into a table function cannot be analyzed"),
    }
}

fn classify_update(text: &str, up: &ast::Update) -> Statement {
    if !up.table.joins.is_empty() {
        return Statement::unknown(text, "multi-table UPDATE cannot be analyzed");
    }
    match &up.table.relation {
        TableFactor::Table { name, .. } => {
            let mut s = Statement::new(text, Kind::Update).with_table(name);
            s.predicate = up.selection.as_ref().map(|e| e.to_string());
            s.where_always_true = up.selection.as_ref().is_some_and(always_true);
            s
        }
        _ => Statement::unknown(text, "UPDATE of something other than a table"),
    }
}

fn classify_delete(text: &str, del: &ast::Delete) -> Statement {
    if !del.tables.is_empty() {
        return Statement::unknown(text, "multi-table DELETE cannot be analyzed");
    }
    let from = match &del.from {
        FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
    };
    match from.as_slice() {
        [twj] if twj.joins.is_empty() => match &twj.relation {
            TableFactor::Table { name, .. } => {
                let mut s = Statement::new(text, Kind::Delete).with_table(name);
                s.predicate = del.selection.as_ref().map(|e| e.to_string());
                s.where_always_true = del.selection.as_ref().is_some_and(always_true);
                s
            }
            _ => Statement::unknown(text, "DELETE from something other than a table"),
        },
        _ => Statement::unknown(text, "DELETE from several tables cannot be analyzed"),
    }
}

fn classify_truncate(text: &str, t: &ast::Truncate) -> Statement {
    match t.table_names.first() {
        Some(first) => {
            let mut s = Statement::new(text, Kind::Truncate).with_table(&first.name);
            if t.table_names.len() > 1 {
                s.note = Some(format!("truncates {} tables", t.table_names.len()));
            }
            s
        }
        None => Statement::unknown(text, "TRUNCATE without a table"),
    }
}

/// EXPLAIN ANALYZE runs the statement: of a read it is a read, of
/// anything else it is refused (it would write outside the guarded path,
/// or fail in the read-only transaction with a message that says less).
/// Plain EXPLAIN only plans the statement, except on a PRAGMA: SQLite
/// carries a pragma out while preparing it, EXPLAIN or not
/// (`EXPLAIN PRAGMA ignore_check_constraints = 1` turns checks off).
fn classify_explain(text: &str, analyze: bool, statement: &ast::Statement) -> Statement {
    if matches!(statement, ast::Statement::Pragma { .. }) {
        return Statement::unknown(
            text,
            "EXPLAIN of a PRAGMA: SQLite carries a pragma out while preparing it, so explaining it can change the session\nRun a reporting pragma (PRAGMA table_info(t)) by itself.",
        );
    }
    if !analyze {
        return Statement::new(text, Kind::Read);
    }
    let inner = classify_tree(text, statement);
    if inner.kind == Kind::Read {
        return Statement::new(text, Kind::Read);
    }
    let what = if inner.kind.is_data_write() {
        inner.kind.name().to_uppercase()
    } else {
        "statement".to_owned()
    };
    Statement::unknown(
        text,
        format!(
            "EXPLAIN ANALYZE runs the statement: {statement} would be executed\nUse EXPLAIN without ANALYZE for the plan, or run the {what} itself to see its preview."
        ),
    )
}

/// Whether PostgreSQL-style options (`EXPLAIN (FORMAT JSON, ANALYZE)`)
/// turn ANALYZE on. Only an explicit false (`false`, `off`, `0`, in any
/// case or quoted) turns it off; `ANALYSE` is PostgreSQL's other
/// spelling; any other value is taken as on, so a
/// value dbguard misreads refuses rather than runs.
fn analyze_option(options: Option<&[ast::UtilityOption]>) -> bool {
    options.unwrap_or_default().iter().any(|o| {
        (o.name.value.eq_ignore_ascii_case("analyze")
            || o.name.value.eq_ignore_ascii_case("analyse"))
            && !o.arg.as_ref().is_some_and(|arg| {
                let word = match arg {
                    ast::Expr::Value(v) => match &v.value {
                        ast::Value::Boolean(b) => return !b,
                        ast::Value::Number(n, _) => n.clone(),
                        ast::Value::SingleQuotedString(s) => s.clone(),
                        _ => return false,
                    },
                    ast::Expr::Identifier(id) => id.value.clone(),
                    _ => return false,
                };
                matches!(word.to_ascii_lowercase().as_str(), "false" | "off" | "0")
            })
    })
}

fn classify_set(text: &str, set: &ast::Set) -> Statement {
    let mut s = Statement::new(text, Kind::Session);
    s.session_allowed = match set {
        ast::Set::SingleAssignment { variable, .. } => {
            let name = variable.to_string().to_ascii_lowercase();
            SAFE_SETTINGS.contains(&name.as_str())
        }
        ast::Set::SetTimeZone { .. } => true,
        _ => false,
    };
    s
}

/// `SHOW ...` and the like: they only report.
fn is_show(stmt: &ast::Statement) -> bool {
    use ast::Statement as S;
    matches!(
        stmt,
        S::ExplainTable { .. }
            | S::ShowVariable { .. }
            | S::ShowVariables { .. }
            | S::ShowTables { .. }
            | S::ShowColumns { .. }
            | S::ShowSchemas { .. }
            | S::ShowDatabases { .. }
            | S::ShowViews { .. }
            | S::ShowFunctions { .. }
            | S::ShowCollation { .. }
            | S::ShowCreate { .. }
            | S::ShowStatus { .. }
    )
}

fn is_transaction_control(stmt: &ast::Statement) -> bool {
    use ast::Statement as S;
    matches!(
        stmt,
        S::StartTransaction { .. }
            | S::Commit { .. }
            | S::Rollback { .. }
            | S::Savepoint { .. }
            | S::ReleaseSavepoint { .. }
    )
}

/// Statements that change the schema, roles or privileges.
fn is_ddl(stmt: &ast::Statement) -> bool {
    use ast::Statement as S;
    matches!(
        stmt,
        S::CreateView { .. }
            | S::CreateTable { .. }
            | S::CreateVirtualTable { .. }
            | S::CreateIndex { .. }
            | S::CreateRole { .. }
            | S::CreateSchema { .. }
            | S::CreateDatabase { .. }
            | S::CreateFunction { .. }
            | S::CreateTrigger { .. }
            | S::CreateProcedure { .. }
            | S::CreateSequence { .. }
            | S::CreateDomain { .. }
            | S::CreateType { .. }
            | S::CreateExtension { .. }
            | S::CreatePolicy { .. }
            | S::CreateServer { .. }
            | S::CreateCollation { .. }
            | S::CreateOperator { .. }
            | S::CreateOperatorFamily { .. }
            | S::CreateOperatorClass { .. }
            | S::CreateTextSearch { .. }
            | S::CreateUser { .. }
            | S::AlterTable { .. }
            | S::AlterSchema { .. }
            | S::AlterIndex { .. }
            | S::AlterView { .. }
            | S::AlterFunction { .. }
            | S::AlterType { .. }
            | S::AlterCollation { .. }
            | S::AlterOperator { .. }
            | S::AlterOperatorFamily { .. }
            | S::AlterOperatorClass { .. }
            | S::AlterTextSearch { .. }
            | S::AlterRole { .. }
            | S::AlterPolicy { .. }
            | S::AlterUser { .. }
            | S::Drop { .. }
            | S::DropFunction { .. }
            | S::DropDomain { .. }
            | S::DropProcedure { .. }
            | S::DropPolicy { .. }
            | S::DropTrigger { .. }
            | S::DropExtension { .. }
            | S::DropOperator { .. }
            | S::DropOperatorFamily { .. }
            | S::DropOperatorClass { .. }
            | S::Comment { .. }
            | S::Grant { .. }
            | S::Revoke { .. }
            | S::RenameTable { .. }
    )
}

/// Everything else is refused, named by its statement type.
fn unsupported(text: &str, stmt: &ast::Statement) -> Statement {
    let name = format!("{stmt:?}");
    let name = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or("statement")
        .to_owned();
    Statement::unknown(
        text,
        format!("{name} statements are not supported by the guard"),
    )
}

/// Whether a condition holds for every row whatever the row: `true`,
/// SQLite's `1`, a literal equal to itself (`1 = 1`, `'a' = 'a'`), and
/// `AND`, `OR`, `NOT` and parentheses of those. `WHERE 1 = 1` is the
/// classic way round a rule against unfiltered changes. Where this cannot
/// tell, the answer is no; a wrong yes only makes policy stricter.
fn always_true(e: &ast::Expr) -> bool {
    truth(e) == Some(true)
}

/// The value of a condition that does not depend on the row, if it is one
/// of the forms [`always_true`] knows.
fn truth(e: &ast::Expr) -> Option<bool> {
    use ast::{BinaryOperator as B, Expr, UnaryOperator, Value};
    match e {
        Expr::Nested(inner) => truth(inner),
        Expr::Value(v) => match &v.value {
            Value::Boolean(b) => Some(*b),
            Value::Number(n, _) => n.parse::<f64>().ok().map(|x| x != 0.0),
            _ => None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr,
        } => truth(expr).map(|b| !b),
        Expr::BinaryOp { left, op, right } => match op {
            // NULL AND false is false, NULL OR true is true: an unknown
            // side does not matter when the other decides.
            B::And => match (truth(left), truth(right)) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            },
            B::Or => match (truth(left), truth(right)) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            },
            B::Eq | B::NotEq => {
                let same = same_literal(left, right)?;
                Some(if matches!(op, B::Eq) { same } else { !same })
            }
            _ => None,
        },
        _ => None,
    }
}

/// Whether two literals are equal: numbers by value, strings exactly.
/// Anything else (columns, NULL, other types) is not known.
fn same_literal(a: &ast::Expr, b: &ast::Expr) -> Option<bool> {
    use ast::{Expr, Value};
    let (Expr::Value(a), Expr::Value(b)) = (strip_nested(a), strip_nested(b)) else {
        return None;
    };
    match (&a.value, &b.value) {
        (Value::Number(x, _), Value::Number(y, _)) => {
            Some(x.parse::<f64>().ok()? == y.parse::<f64>().ok()?)
        }
        (Value::SingleQuotedString(x), Value::SingleQuotedString(y)) => Some(x == y),
        (Value::Boolean(x), Value::Boolean(y)) => Some(x == y),
        _ => None,
    }
}

fn strip_nested(e: &ast::Expr) -> &ast::Expr {
    match e {
        ast::Expr::Nested(inner) => strip_nested(inner),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(engine: Engine, sql: &str) -> Kind {
        classify(engine, sql).kind
    }

    #[test]
    fn reads() {
        for sql in [
            "SELECT 1",
            "select * from t where a in (select b from u)",
            "WITH x AS (SELECT 1) SELECT * FROM x",
            "VALUES (1), (2)",
            "EXPLAIN DELETE FROM t",
            "EXPLAIN ANALYZE SELECT 1",
            "SHOW search_path",
            "SELECT f()",
        ] {
            assert_eq!(kind(Engine::Postgres, sql), Kind::Read, "{sql}");
        }
        assert_eq!(kind(Engine::Sqlite, "PRAGMA table_info('t')"), Kind::Read);
        assert_eq!(kind(Engine::Sqlite, "PRAGMA foreign_keys"), Kind::Read);
    }

    /// A WHERE that holds for every row is told from one that filters;
    /// where it cannot tell, it says it filters.
    #[test]
    fn where_always_true_is_recognised() {
        for (sql, engines, want) in [
            ("DELETE FROM t WHERE true", "both", true),
            ("DELETE FROM t WHERE 1 = 1", "both", true),
            ("DELETE FROM t WHERE (1 = 1)", "both", true),
            ("UPDATE t SET a = 1 WHERE 'x' = 'x'", "both", true),
            ("DELETE FROM t WHERE 1", "sqlite", true),
            ("DELETE FROM t WHERE id = 1 OR 1 = 1", "both", true),
            ("DELETE FROM t WHERE NOT false", "both", true),
            ("DELETE FROM t WHERE 1 <> 2", "both", true),
            ("DELETE FROM t WHERE 1.0 = 1", "both", true),
            ("DELETE FROM t WHERE id = 1", "both", false),
            ("DELETE FROM t WHERE id = id", "both", false),
            ("DELETE FROM t WHERE 1 = 1 AND id = 3", "both", false),
            ("DELETE FROM t WHERE 0", "sqlite", false),
            ("DELETE FROM t WHERE NULL = NULL", "both", false),
            ("DELETE FROM t WHERE 1 = 2", "both", false),
            ("DELETE FROM t WHERE 'a' = 'A'", "both", false),
            ("DELETE FROM t", "both", false),
        ] {
            let engines: &[Engine] = match engines {
                "sqlite" => &[Engine::Sqlite],
                _ => &[Engine::Postgres, Engine::Sqlite],
            };
            for &engine in engines {
                let s = classify(engine, sql);
                assert!(s.ast.is_some(), "{engine:?} {sql}: {:?}", s.note);
                assert_eq!(s.where_always_true, want, "{engine:?} {sql}");
            }
        }
    }

    #[test]
    fn writes_with_target_and_predicate() {
        let s = classify(
            Engine::Postgres,
            "DELETE FROM public.\"My T\" WHERE id = 3;",
        );
        assert_eq!(s.kind, Kind::Delete);
        assert_eq!(s.table.as_deref(), Some("public.\"My T\""));
        assert_eq!(
            s.table_parts,
            Some(vec![("public".into(), false), ("My T".into(), true)])
        );
        assert_eq!(s.predicate.as_deref(), Some("id = 3"));
        let s = classify(Engine::Sqlite, "update t set a = 1 where b > 2");
        assert_eq!(
            (s.kind, s.predicate.as_deref()),
            (Kind::Update, Some("b > 2"))
        );
        assert_eq!(
            kind(Engine::Postgres, "INSERT INTO t VALUES (1)"),
            Kind::Insert
        );
        assert_eq!(kind(Engine::Postgres, "TRUNCATE t CASCADE"), Kind::Truncate);
        assert_eq!(
            kind(Engine::Postgres, "DELETE FROM t USING u WHERE t.a = u.a"),
            Kind::Delete
        );
        // It runs the DELETE outside the guarded path: refused.
        assert_eq!(
            kind(Engine::Postgres, "EXPLAIN ANALYZE DELETE FROM t"),
            Kind::Unknown
        );
    }

    #[test]
    fn refused_kinds() {
        assert_eq!(kind(Engine::Postgres, "CREATE TABLE x (a int)"), Kind::Ddl);
        assert_eq!(kind(Engine::Postgres, "DROP TABLE x"), Kind::Ddl);
        assert_eq!(
            kind(Engine::Postgres, "SELECT * INTO newt FROM t"),
            Kind::Ddl
        );
        assert_eq!(kind(Engine::Postgres, "BEGIN"), Kind::Transaction);
        assert_eq!(kind(Engine::Postgres, "COMMIT"), Kind::Transaction);
        assert_eq!(
            kind(
                Engine::Postgres,
                "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d"
            ),
            Kind::Unknown
        );
        assert_eq!(kind(Engine::Postgres, "DO $$ BEGIN END $$"), Kind::Unknown);
        assert_eq!(
            kind(
                Engine::Postgres,
                "WITH x AS (SELECT 1) UPDATE t SET a = 1 WHERE a IN (WITH y AS (DELETE FROM u RETURNING a) SELECT a FROM y)"
            ),
            Kind::Unknown
        );
        assert_eq!(kind(Engine::Postgres, "CALL p()"), Kind::Unknown);
        assert_eq!(kind(Engine::Postgres, "SELEC 1"), Kind::Unknown);
        assert_eq!(
            kind(Engine::Sqlite, "PRAGMA foreign_keys = 0"),
            Kind::Unknown
        );
        assert_eq!(
            kind(Engine::Sqlite, "PRAGMA foreign_keys(0)"),
            Kind::Unknown
        );
        assert_eq!(
            kind(Engine::Sqlite, "PRAGMA foreign_keys = OFF"),
            Kind::Unknown
        );
    }

    #[test]
    fn read_only_with_in_front_of_a_write() {
        let s = classify(
            Engine::Postgres,
            "WITH old AS (SELECT id FROM t WHERE a < 3) DELETE FROM t WHERE id IN (SELECT id FROM old)",
        );
        assert_eq!(s.kind, Kind::Delete);
        assert_eq!(s.table.as_deref(), Some("t"));
        assert_eq!(
            s.with.as_deref(),
            Some("WITH old AS (SELECT id FROM t WHERE a < 3)")
        );
    }

    #[test]
    fn session_settings() {
        let s = classify(Engine::Postgres, "SET search_path TO public, other");
        assert_eq!((s.kind, s.session_allowed), (Kind::Session, true));
        let s = classify(Engine::Postgres, "SET session_replication_role = replica");
        assert_eq!((s.kind, s.session_allowed), (Kind::Session, false));
        let s = classify(Engine::Postgres, "SET ROLE admin");
        assert_eq!((s.kind, s.session_allowed), (Kind::Session, false));
    }
}
