//! Understanding what the user typed, before anything runs.
//!
//! Input is split into statements with `sqlparser`'s tokenizer (so a `;`
//! inside a string, a comment or a dollar-quoted body does not split), and
//! each statement is parsed with the engine's dialect and classified. The
//! guard acts on the class: reads run in a read-only transaction, a short
//! list of harmless session settings runs as is, and everything else —
//! writes, DDL, transaction control and anything the parser does not
//! understand — is refused. Text that cannot be classified is never run.

pub mod admin;
mod classify;
mod constant;
pub mod effects;
mod forms;
pub mod pending;

/// The engines strip a statement's trailing semicolons the same way.
pub(crate) use crate::db::text::strip_trailing_semicolons;
pub(crate) use classify::write_under_with;
pub use classify::{Kind, Statement, classify};
pub(crate) use constant::is_constant;

use sqlparser::dialect::{Dialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, Whitespace};

use crate::db::Engine;

/// The `sqlparser` dialect for an engine.
pub(crate) fn dialect(engine: Engine) -> Box<dyn Dialect> {
    match engine {
        Engine::Postgres => Box::new(PostgreSqlDialect {}),
        Engine::Sqlite => Box::new(SQLiteDialect {}),
    }
}

fn tokenize(engine: Engine, input: &str) -> Result<Vec<TokenWithSpan>, String> {
    let dialect = dialect(engine);
    Tokenizer::new(dialect.as_ref(), input)
        .tokenize_with_location()
        .map_err(|e| e.to_string())
}

/// Maps the tokenizer's (line, column) locations, which count characters,
/// to byte offsets.
struct Offsets {
    line_starts: Vec<usize>,
}

impl Offsets {
    fn new(s: &str) -> Self {
        let mut line_starts = vec![0];
        for (i, b) in s.bytes().enumerate() {
            if b == b'\n' {
                line_starts.push(i + 1);
            }
        }
        Offsets { line_starts }
    }

    fn byte(&self, s: &str, line: u64, column: u64) -> usize {
        let Some(&start) = usize::try_from(line)
            .ok()
            .and_then(|l| l.checked_sub(1))
            .and_then(|l| self.line_starts.get(l))
        else {
            return s.len();
        };
        let skip = usize::try_from(column.saturating_sub(1)).unwrap_or(usize::MAX);
        match s[start..].char_indices().nth(skip) {
            Some((i, _)) => start + i,
            None => s.len(),
        }
    }
}

/// Whether `input` continues a string constant on another line, which
/// PostgreSQL reads as one string (`'a'` newline `'b'` is `'ab'`, and an
/// `E'...'` keeps its escapes in what follows) and `sqlparser` reads
/// otherwise: the same text would be one statement to dbguard and several
/// to the server. Text that cannot be tokenized is left to the parser.
pub(crate) fn continues_a_string(engine: Engine, input: &str) -> bool {
    if engine != Engine::Postgres {
        return false;
    }
    let Ok(tokens) = tokenize(engine, input) else {
        return false;
    };
    // After a string constant: whitespace and comments so far, and
    // whether a line ended in them.
    let mut after_string: Option<bool> = None;
    for t in &tokens {
        after_string = match &t.token {
            Token::SingleQuotedString(_)
            | Token::EscapedStringLiteral(_)
            | Token::UnicodeStringLiteral(_)
            | Token::NationalStringLiteral(_)
            | Token::HexStringLiteral(_)
            | Token::SingleQuotedByteStringLiteral(_) => {
                if after_string == Some(true) {
                    return true;
                }
                Some(false)
            }
            Token::Whitespace(w) => after_string.map(|newline| {
                newline
                    || matches!(
                        w,
                        Whitespace::Newline | Whitespace::SingleLineComment { .. }
                    )
                    || w.to_string().contains('\n')
            }),
            _ => None,
        };
    }
    false
}

/// Whether `input` holds a Unicode-escaped identifier (`U&"d\0061ta"`),
/// which PostgreSQL reads as one name and `sqlparser` as the word `U`, the
/// operator `&` and a quoted name: `WHERE U&"id" = 1` would be previewed
/// as `u & "id" = 1` while the server deletes by `id`. Text that cannot be
/// tokenized is left to the parser.
pub(crate) fn has_unicode_identifier(engine: Engine, input: &str) -> bool {
    if engine != Engine::Postgres {
        return false;
    }
    let Ok(tokens) = tokenize(engine, input) else {
        return false;
    };
    tokens.windows(3).any(|w| {
        matches!(&w[0].token, Token::Word(u) if u.quote_style.is_none() && u.value.eq_ignore_ascii_case("u"))
            && matches!(w[1].token, Token::Ampersand)
            && matches!(&w[2].token, Token::Word(q) if q.quote_style == Some('"'))
            && w[0].span.end == w[1].span.start
            && w[1].span.end == w[2].span.start
    })
}

fn is_trivia(t: &Token) -> bool {
    matches!(t, Token::Whitespace(_) | Token::EOF)
}

/// Splits input into statements at top-level semicolons, keeping each
/// statement's text exactly as typed (without the semicolon). Pieces that
/// hold only whitespace and comments are dropped. If the input cannot be
/// tokenized (an unterminated string, say), it is returned whole so the
/// classifier reports the problem.
pub fn split(engine: Engine, input: &str) -> Vec<String> {
    let tokens = match tokenize(engine, input) {
        Ok(t) => t,
        Err(_) => {
            return if input.trim().is_empty() {
                Vec::new()
            } else {
                vec![input.trim().to_owned()]
            };
        }
    };
    let offsets = Offsets::new(input);
    let mut out = Vec::new();
    let mut start = 0usize;
    let mut has_content = false;
    for t in &tokens {
        match &t.token {
            Token::SemiColon => {
                let end = offsets.byte(input, t.span.start.line, t.span.start.column);
                if has_content && end >= start {
                    out.push(input[start..end].trim().to_owned());
                }
                start = offsets
                    .byte(input, t.span.end.line, t.span.end.column)
                    .max(end);
                has_content = false;
            }
            tok if !is_trivia(tok) => has_content = true,
            _ => {}
        }
    }
    if has_content && start <= input.len() {
        let rest = input[start..].trim();
        if !rest.is_empty() {
            out.push(rest.to_owned());
        }
    }
    out
}

/// Whether a buffer typed at the prompt is ready to run: it ends with a
/// semicolon outside any string or comment. An unterminated string or
/// comment means more lines are coming.
pub fn is_complete(engine: Engine, buffer: &str) -> bool {
    match tokenize(engine, buffer) {
        Ok(tokens) => tokens
            .iter()
            .rev()
            .find(|t| !is_trivia(&t.token))
            .is_some_and(|t| t.token == Token::SemiColon),
        Err(_) => false,
    }
}

/// Whether two SQL texts are the same token sequence, ignoring whitespace,
/// comments, the case of unquoted words, the optional keyword `AS` and the
/// spelling `!=` for `<>`. Used to prove that printing a parse tree back
/// gives what was typed.
pub(crate) fn same_tokens(engine: Engine, a: &str, b: &str) -> bool {
    fn norm(engine: Engine, s: &str) -> Option<Vec<String>> {
        let tokens = tokenize(engine, s).ok()?;
        Some(
            tokens
                .into_iter()
                .filter_map(|t| match t.token {
                    Token::Whitespace(_) | Token::EOF | Token::SemiColon => None,
                    Token::Word(w) if w.quote_style.is_none() => {
                        let lower = w.value.to_lowercase();
                        (lower != "as").then_some(lower)
                    }
                    Token::Neq => Some("<>".to_owned()),
                    other => Some(other.to_string()),
                })
                .collect(),
        )
    }
    match (norm(engine, a), norm(engine, b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// A write's text split at its own top-level `RETURNING`: the text before
/// the keyword, and the list after it (`None` when it has none). A
/// `RETURNING` inside parentheses belongs to a subquery or a CTE. `None`
/// when the text cannot be tokenized.
fn split_returning(engine: Engine, text: &str) -> Option<(&str, Option<&str>)> {
    use sqlparser::keywords::Keyword;
    let body = strip_trailing_semicolons(text);
    let tokens = tokenize(engine, body).ok()?;
    let offsets = Offsets::new(body);
    let mut depth = 0i64;
    for t in &tokens {
        match &t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            Token::Word(w)
                if depth == 0 && w.quote_style.is_none() && w.keyword == Keyword::RETURNING =>
            {
                let at = offsets.byte(body, t.span.start.line, t.span.start.column);
                let list = body[at..].get("RETURNING".len()..)?;
                return Some((&body[..at], Some(list)));
            }
            _ => {}
        }
    }
    Some((body, None))
}

/// An INSERT's text made to return every column of the rows it inserts:
/// its own top-level `RETURNING` list replaced by `*`, or `RETURNING *`
/// added. The journal captures inserted rows through it on Postgres (the
/// statement runs inside `WITH ... AS (...)`). `None` when the text
/// cannot be tokenized.
pub(crate) fn returning_all(engine: Engine, text: &str) -> Option<String> {
    match split_returning(engine, text)? {
        (before, Some(_)) => Some(format!("{before}RETURNING *")),
        // On a line of its own: the text may end in a `--` comment.
        (body, None) => Some(format!("{body}\nRETURNING *")),
    }
}

/// A write's own `RETURNING` list with every column after it: what
/// captures an INSERT's rows on Postgres while its own list is still what
/// the operator sees, first. `None` when it has no list of its own.
pub(crate) fn own_returning_then_all(engine: Engine, text: &str) -> Option<String> {
    let (before, list) = split_returning(engine, text)?;
    // The `*` on a line of its own: the list may end in a `--` comment.
    list.map(|list| format!("{before}RETURNING{list}\n, *"))
}

/// Whether a write has a top-level `RETURNING` list of its own, whose
/// rows the operator is shown once it is applied.
pub(crate) fn has_own_returning(engine: Engine, text: &str) -> bool {
    matches!(split_returning(engine, text), Some((_, Some(_))))
}

impl Statement {
    /// What the classifier recognised, to name the statement in a
    /// refusal: `DELETE on t WHERE id = 1`.
    pub(crate) fn recognised(&self) -> String {
        let mut what = self.kind.name().to_uppercase();
        if let Some(t) = &self.table {
            what.push_str(&format!(" on {t}"));
        }
        if let Some(p) = &self.predicate {
            what.push_str(&format!(" WHERE {p}"));
        }
        what
    }
}

impl Kind {
    /// The kind of change a statement of this kind makes, for a write or
    /// a schema change; `None` for what changes no data (reads, session
    /// settings, transaction control, the unrecognised).
    pub(crate) fn change_kind(self) -> Option<crate::model::ChangeKind> {
        use crate::model::ChangeKind;
        Some(match self {
            Kind::Insert => ChangeKind::Insert,
            Kind::Update => ChangeKind::Update,
            Kind::Delete => ChangeKind::Delete,
            Kind::Truncate => ChangeKind::Truncate,
            Kind::Merge => ChangeKind::Merge,
            Kind::Ddl => ChangeKind::Ddl,
            Kind::Admin => ChangeKind::Admin,
            Kind::Read | Kind::Transaction | Kind::Session | Kind::Unknown => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PostgreSQL joins string constants separated by whitespace with a
    /// newline (a `--` comment ends a line too); on one line, or with
    /// something else between them, they are not one string.
    #[test]
    fn strings_continued_on_another_line_are_found() {
        let pg = Engine::Postgres;
        for continued in [
            "select 'a'\n'b'",
            "select E'x'\n'\\''; commit; delete from t; --'",
            "select 'x'\n'\\''; commit; delete from t; --'",
            "select 'a' -- note\n 'b'",
            "select U&'a'\r\n\t'b'",
            "delete from t where v = 'a'\n\n  'b'",
        ] {
            assert!(continues_a_string(pg, continued), "{continued:?}");
        }
        for single in [
            "select 'a' 'b'",
            "select 'a', 'b'",
            "select 'a'\n, 'b'",
            "select 'a'\n|| 'b'",
            "select $$a$$\n'b'",
            "select 'a\nb'",
            "select 1",
        ] {
            assert!(!continues_a_string(pg, single), "{single:?}");
        }
        assert!(!continues_a_string(Engine::Sqlite, "select 'a'\n'b'"));
    }

    #[test]
    fn own_returning_list_comes_first_then_every_column() {
        let pg = Engine::Postgres;
        assert_eq!(
            own_returning_then_all(pg, "INSERT INTO t VALUES (1) returning id -- note;").as_deref(),
            Some("INSERT INTO t VALUES (1) RETURNING id -- note\n, *")
        );
        assert_eq!(
            own_returning_then_all(
                pg,
                "WITH s AS (INSERT INTO u VALUES (1) RETURNING a) INSERT INTO t SELECT a FROM s"
            ),
            None
        );
        assert!(has_own_returning(
            Engine::Sqlite,
            "DELETE FROM t RETURNING *;"
        ));
        assert!(!has_own_returning(
            Engine::Sqlite,
            "DELETE FROM t WHERE note = 'returning'"
        ));
    }

    #[test]
    fn returning_all_replaces_or_adds_the_top_level_list() {
        let pg = Engine::Postgres;
        assert_eq!(
            returning_all(pg, "INSERT INTO t VALUES (1) RETURNING id;").as_deref(),
            Some("INSERT INTO t VALUES (1) RETURNING *")
        );
        assert_eq!(
            returning_all(pg, "INSERT INTO t SELECT 1 -- no list").as_deref(),
            Some("INSERT INTO t SELECT 1 -- no list\nRETURNING *")
        );
        // A RETURNING inside parentheses is not the statement's.
        assert_eq!(
            returning_all(
                pg,
                "WITH s AS (SELECT 1 AS returning) INSERT INTO t SELECT * FROM s"
            )
            .as_deref(),
            Some("WITH s AS (SELECT 1 AS returning) INSERT INTO t SELECT * FROM s\nRETURNING *")
        );
        assert_eq!(
            returning_all(
                pg,
                "INSERT INTO t VALUES ('returning') returning \"returning\", 2"
            )
            .as_deref(),
            Some("INSERT INTO t VALUES ('returning') RETURNING *")
        );
    }

    #[test]
    fn splits_at_top_level_semicolons_only() {
        let s = split(
            Engine::Postgres,
            "select 'a;b'; select $$x;y$$ ;-- c;\nselect 3 /* ; */",
        );
        assert_eq!(
            s,
            vec!["select 'a;b'", "select $$x;y$$", "-- c;\nselect 3 /* ; */"]
        );
    }

    #[test]
    fn keeps_non_ascii_text_intact() {
        let s = split(Engine::Postgres, "select 'ünï';\nselect \"bıgınt\" ;");
        assert_eq!(s, vec!["select 'ünï'", "select \"bıgınt\""]);
    }

    #[test]
    fn drops_empty_pieces() {
        assert!(split(Engine::Sqlite, " ; ;; -- nothing\n").is_empty());
    }

    #[test]
    fn token_comparison_ignores_only_spelling() {
        let pg = Engine::Postgres;
        assert!(same_tokens(
            pg,
            "delete from t x where a != 1",
            "DELETE FROM t AS x WHERE a <> 1"
        ));
        assert!(same_tokens(pg, "select 'it''s' -- c", "SELECT 'it''s'"));
        assert!(!same_tokens(
            pg,
            "delete from t where a == 1",
            "DELETE FROM t WHERE a = 1"
        ));
        assert!(!same_tokens(pg, "select \"A\"", "SELECT a"));
    }

    #[test]
    fn completeness() {
        assert!(is_complete(Engine::Postgres, "select 1;"));
        assert!(is_complete(Engine::Postgres, "select 1; -- trailing"));
        assert!(!is_complete(Engine::Postgres, "select 1"));
        assert!(!is_complete(Engine::Postgres, "select ';"));
        assert!(!is_complete(Engine::Postgres, "select 1 /* ; "));
    }
}
