//! Statements read from their tokens instead of the parser: `TABLE name`
//! and `PRAGMA`.
//!
//! `sqlparser` does not read these the way the engines do. It has no
//! top-level `TABLE name` (and its `TABLE` inside a query swallows the two
//! tokens after the name unread), and it rejects `PRAGMA table_info(t)`
//! while reading `PRAGMA x(5)` — which *sets* x on SQLite — the same as
//! a report. So both are matched token by token against the one shape
//! dbguard accepts, and anything else is refused with the reason.

use sqlparser::ast::{self, Ident, ObjectName, ObjectNamePart};
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, Word};

use super::classify::{Kind, Statement};
use crate::db::Engine;

/// SQLite pragmas that, given one argument in parentheses, only report
/// on the object it names. For any other pragma an argument sets it
/// (`PRAGMA user_version(5)` writes the header).
const REPORTS_ON_ARGUMENT: &[&str] = &[
    "table_info",
    "table_xinfo",
    "table_list",
    "index_list",
    "index_info",
    "index_xinfo",
    "foreign_key_list",
    "foreign_key_check",
    "integrity_check",
    "quick_check",
];

/// SQLite pragmas that, bare, only report: the catalog lists, the checks,
/// and settings whose bare form answers their value. Pragmas that act
/// when bare (`optimize`, `incremental_vacuum`, `wal_checkpoint`,
/// `shrink_memory`, ...) are not here, nor is any pragma not known to
/// only report.
const REPORTS_BARE: &[&str] = &[
    "application_id",
    "auto_vacuum",
    "busy_timeout",
    "cache_size",
    "collation_list",
    "compile_options",
    "data_version",
    "database_list",
    "defer_foreign_keys",
    "encoding",
    "foreign_key_check",
    "foreign_keys",
    "freelist_count",
    "function_list",
    "integrity_check",
    "max_page_count",
    "module_list",
    "page_count",
    "page_size",
    "pragma_list",
    "query_only",
    "quick_check",
    "recursive_triggers",
    "schema_version",
    "secure_delete",
    "synchronous",
    "table_list",
    "temp_store",
    "user_version",
];

/// The tokens of `text` that mean something (no whitespace or comments),
/// or `None` when it cannot be tokenized (the parser reports that).
fn significant(engine: Engine, text: &str) -> Option<Vec<Token>> {
    let tokens = super::tokenize(engine, text).ok()?;
    Some(
        tokens
            .into_iter()
            .map(|t| t.token)
            .filter(|t| !super::is_trivia(t))
            .collect(),
    )
}

fn is_keyword(t: Option<&Token>, k: Keyword) -> bool {
    matches!(t, Some(Token::Word(w)) if w.quote_style.is_none() && w.keyword == k)
}

/// `TABLE name`: on PostgreSQL the same as `SELECT * FROM name`, which is
/// what is returned to be parsed and classified in its place (the text
/// that runs stays the one typed). `None` when `text` is not a `TABLE`
/// statement.
pub(super) fn table_statement(engine: Engine, text: &str) -> Option<Result<String, Statement>> {
    let tokens = significant(engine, text)?;
    if !is_keyword(tokens.first(), Keyword::TABLE) {
        return None;
    }
    if engine == Engine::Sqlite {
        // Not rewritten: what runs is what was typed and put on record.
        return Some(Err(Statement::unknown(
            text,
            "SQLite has no TABLE statement\nWrite SELECT * FROM followed by the table name.",
        )));
    }
    let name = &tokens[1..];
    let plain = !name.is_empty()
        && name.len() <= 5
        && name.iter().enumerate().all(|(i, t)| match t {
            Token::Word(_) => i % 2 == 0,
            Token::Period => i % 2 == 1,
            _ => false,
        })
        && name.len() % 2 == 1;
    if !plain {
        return Some(Err(Statement::unknown(
            text,
            "dbguard reads TABLE only in its plain form, TABLE name\nFor more (ONLY, ORDER BY, LIMIT, ...), write it as SELECT * FROM name ...",
        )));
    }
    let name: String = name.iter().map(ToString::to_string).collect();
    Some(Ok(format!("SELECT * FROM {name}")))
}

/// A `PRAGMA` statement, classified: on SQLite a read when it is one of
/// the reporting pragmas in the shape that only reports, else refused; on
/// PostgreSQL always refused. `None` when `text` is not a `PRAGMA`.
pub(super) fn pragma(engine: Engine, text: &str) -> Option<Statement> {
    let tokens = significant(engine, text)?;
    if !matches!(tokens.first(), Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("pragma"))
    {
        return None;
    }
    if engine == Engine::Postgres {
        return Some(Statement::unknown(
            text,
            "PRAGMA is SQLite's; PostgreSQL has no PRAGMA statement\nOn PostgreSQL, read a setting with SHOW name and a table's columns with \\d name.",
        ));
    }
    Some(match sqlite_pragma(&tokens[1..]) {
        Ok(stmt) => {
            let mut s = Statement::new(text, Kind::Read);
            s.ast = Some(stmt);
            s
        }
        Err(why) => Statement::unknown(text, why),
    })
}

/// The words after `PRAGMA`: `[schema.]name` bare, or with one argument in
/// parentheses, and nothing else (no `=`, no second argument).
fn sqlite_pragma(rest: &[Token]) -> Result<ast::Statement, String> {
    let (schema, name, after) = match rest {
        [Token::Word(s), Token::Period, Token::Word(n), after @ ..] => (Some(s), n, after),
        [Token::Word(n), after @ ..] => (None, n, after),
        _ => return Err("a PRAGMA dbguard cannot read\nOnly pragmas that report run here, such as PRAGMA table_info(t).".to_owned()),
    };
    let lower = name.value.to_ascii_lowercase();
    let value = match after {
        [] if REPORTS_BARE.contains(&lower.as_str()) => None,
        [Token::LParen, arg, Token::RParen] if REPORTS_ON_ARGUMENT.contains(&lower.as_str()) => {
            match arg {
                Token::Word(w) => Some(w.value.clone()),
                Token::SingleQuotedString(s) => Some(s.clone()),
                Token::Number(n, _) => Some(n.clone()),
                _ => {
                    return Err(format!(
                        "PRAGMA {lower} with an argument dbguard cannot read\nName the table or index plainly: PRAGMA {lower}(t)."
                    ));
                }
            }
        }
        [Token::Eq, ..] | [Token::LParen, ..] => {
            return Err(format!(
                "PRAGMA {lower} with a value sets it, and pragmas can turn off foreign keys, durability or the schema's protection\nOnly pragmas that report run here, such as PRAGMA table_info(t) or PRAGMA {lower}."
            ));
        }
        [] => {
            return Err(format!(
                "PRAGMA {lower} is not on dbguard's list of pragmas that only report; it may change the database or the session\nRead it through its table function where SQLite has one (SELECT * FROM pragma_{lower}), or use a reporting pragma such as table_info or index_list."
            ));
        }
        _ => {
            return Err(format!(
                "PRAGMA {lower} in a form dbguard cannot read\nOnly pragmas that report run here, such as PRAGMA table_info(t)."
            ));
        }
    };
    let mut parts = Vec::new();
    if let Some(s) = schema {
        parts.push(ident(s));
    }
    parts.push(ident(name));
    Ok(ast::Statement::Pragma {
        name: ObjectName(parts),
        value: value.map(|v| ast::Value::SingleQuotedString(v).with_empty_span()),
        is_eq: false,
    })
}

fn ident(w: &Word) -> ObjectNamePart {
    ObjectNamePart::Identifier(Ident {
        value: w.value.clone(),
        quote_style: w.quote_style,
        span: sqlparser::tokenizer::Span::empty(),
    })
}
