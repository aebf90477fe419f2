//! The rustyline helper: multi-line validation and tab completion.
//!
//! Completion is the pure function [`candidates`] over the introspected
//! [`Schema`], so it is tested without a terminal; `ShellHelper` only
//! adapts it to rustyline. It offers what pgcli and psql users expect:
//!
//! - meta commands after `\`, table names after `\d`, `\dt` and `\refs`,
//!   and the settings words of `\x` and `\timing`;
//! - table names where a table is expected (after `FROM`, `JOIN`, `UPDATE`,
//!   `INTO`, `TABLE`), bare when the search path finds them and
//!   schema-qualified otherwise, plus `schema.` prefixes;
//! - column names of the tables the statement mentions (found with the
//!   sqlparser tokenizer, resolved with the engine's name rules), also after
//!   `table.` or `alias.`;
//! - common SQL keywords, in the case the user is typing.
//!
//! Identifiers are offered in the form that must be typed (`display_ident`:
//! quoted when they need quotes), and matched case-insensitively, so `my`
//! finds `"MyTable"`.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use rustyline::Helper;
use rustyline::completion::Completer;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, Tokenizer, Word};

use crate::schema::{NameCase, Schema, Table, display_ident};

/// Meta commands offered after `\`, in the order `\?` lists them.
pub(crate) const META_COMMANDS: &[&str] = &[
    "\\?",
    "\\h",
    "\\q",
    "\\dt",
    "\\dt+",
    "\\d",
    "\\d+",
    "\\refs",
    "\\l",
    "\\dn",
    "\\df",
    "\\dv",
    "\\di",
    "\\du",
    "\\x",
    "\\timing",
    "\\limit",
    "\\conninfo",
    "\\samples",
    "\\preview",
    "\\undo",
];

/// The keywords worth offering: sqlparser knows hundreds (`ABS`, `A`, ...),
/// which would bury the useful ones in every completion list.
const KEYWORDS: &[&str] = &[
    "ALL",
    "AND",
    "ANY",
    "AS",
    "ASC",
    "BEGIN",
    "BETWEEN",
    "BY",
    "CASE",
    "CAST",
    "COALESCE",
    "COMMIT",
    "COUNT",
    "CROSS",
    "CURRENT_DATE",
    "CURRENT_TIMESTAMP",
    "DELETE",
    "DESC",
    "DISTINCT",
    "ELSE",
    "END",
    "EXCEPT",
    "EXISTS",
    "EXPLAIN",
    "FALSE",
    "FETCH",
    "FILTER",
    "FIRST",
    "FROM",
    "FULL",
    "GROUP",
    "HAVING",
    "ILIKE",
    "IN",
    "INNER",
    "INSERT",
    "INTERSECT",
    "INTO",
    "IS",
    "JOIN",
    "LATERAL",
    "LEFT",
    "LIKE",
    "LIMIT",
    "NATURAL",
    "NOT",
    "NULL",
    "NULLS",
    "OFFSET",
    "ON",
    "OR",
    "ORDER",
    "OUTER",
    "OVER",
    "PARTITION",
    "RETURNING",
    "RIGHT",
    "ROLLBACK",
    "ROWS",
    "SELECT",
    "SET",
    "SHOW",
    "TABLE",
    "THEN",
    "TRUE",
    "TRUNCATE",
    "UNION",
    "UPDATE",
    "USING",
    "VALUES",
    "WHEN",
    "WHERE",
    "WINDOW",
    "WITH",
];

/// The start of the word under the cursor and the completions for it.
/// `pos` is a byte offset into `line` (rustyline's cursor); the caller
/// replaces `line[start..pos]` with the chosen candidate.
pub fn candidates(schema: &Schema, line: &str, pos: usize) -> (usize, Vec<String>) {
    let mut pos = pos.min(line.len());
    while !line.is_char_boundary(pos) {
        pos -= 1;
    }
    let before = &line[..pos];
    if before.trim_start().starts_with('\\') {
        return meta_candidates(schema, before);
    }
    let Some(scan) = scan(before) else {
        // Inside a string literal or a comment: nothing to complete.
        return (pos, Vec::new());
    };
    let word = &before[scan.word_start..];
    let mut out = Candidates::new(word);
    let statement = statement_tables(schema, line, scan.statement);

    if let Some(dot) = last_dot_outside_quotes(word) {
        let qualifier = &word[..dot];
        let rest = &word[dot + 1..];
        // `alias.` or `table.`: that table's columns.
        if let Some(table) = statement.lookup(schema, qualifier) {
            for c in &table.columns {
                if ident_matches(&c.name, rest) {
                    out.push(format!("{qualifier}.{}", display_ident(&c.name)));
                }
            }
        }
        // `schema.`: the tables in it.
        for t in tables_in_schema(schema, qualifier) {
            if ident_matches(&t.name.name, rest) {
                out.push(format!("{qualifier}.{}", display_ident(&t.name.name)));
            }
        }
        return (scan.word_start, out.into_vec());
    }

    if scan.expects_table {
        push_tables(schema, word, &mut out);
        return (scan.word_start, out.into_vec());
    }
    for table in &statement.tables {
        for c in &table.columns {
            if ident_matches(&c.name, word) {
                out.push(display_ident(&c.name));
            }
        }
    }
    push_tables(schema, word, &mut out);
    push_keywords(word, &mut out);
    (scan.word_start, out.into_vec())
}

/// Candidates in first-seen order, without duplicates, in two tiers: those
/// that start with the typed text itself (case aside) and those found only
/// by their raw name (`my` finding `"MyTable"`). The second tier is offered
/// only when the first is empty, so a common prefix exists for Tab to
/// insert: `pack` completes to `packages` rather than cycling through
/// `"Package Notes"` first.
#[derive(Default)]
struct Candidates {
    typed: String,
    seen: BTreeSet<String>,
    exact: Vec<String>,
    loose: Vec<String>,
}

impl Candidates {
    fn new(typed: &str) -> Self {
        Candidates {
            typed: typed.to_lowercase(),
            ..Default::default()
        }
    }
    fn push(&mut self, s: String) {
        if self.seen.insert(s.clone()) {
            if s.to_lowercase().starts_with(&self.typed) {
                self.exact.push(s);
            } else {
                self.loose.push(s);
            }
        }
    }
    fn into_vec(self) -> Vec<String> {
        if self.exact.is_empty() {
            self.loose
        } else {
            self.exact
        }
    }
}

/// Whether `typed` (as the user types it: maybe with an opening quote, any
/// case) is a prefix of the identifier `name`.
fn ident_matches(name: &str, typed: &str) -> bool {
    let typed = typed.strip_prefix('"').unwrap_or(typed);
    // An unquoted name may also be typed as its quoted display form.
    let typed = typed.replace("\"\"", "\"");
    name.to_lowercase().starts_with(&typed.to_lowercase())
}

fn keyword_matches(keyword: &str, typed: &str) -> bool {
    !typed.starts_with('"') && keyword.starts_with(&typed.to_ascii_uppercase())
}

/// Keywords in the case the user is typing: lower case when the typed
/// prefix has lower-case letters, upper case otherwise (psql's habit).
fn push_keywords(word: &str, out: &mut Candidates) {
    let lower = word.chars().any(|c| c.is_lowercase());
    for k in KEYWORDS {
        if keyword_matches(k, word) {
            out.push(if lower {
                k.to_lowercase()
            } else {
                (*k).to_owned()
            });
        }
    }
}

/// Tables by the shortest name that reaches them, then `schema.` prefixes
/// for schemas whose tables need qualifying (Postgres only).
fn push_tables(schema: &Schema, word: &str, out: &mut Candidates) {
    let mut names: Vec<String> = schema
        .tables
        .iter()
        .filter_map(|t| {
            let short = schema.short_name(&t.name);
            let bare = display_ident(&t.name.name);
            let qualified = short != bare;
            let matches = if qualified {
                // Typed as `ta`, `sch` or `sch.ta`: all find `sch.table`.
                t.name
                    .schema
                    .as_deref()
                    .is_some_and(|s| ident_matches(s, word))
                    || ident_matches(&t.name.to_string(), word)
                    || ident_matches(&t.name.name, word)
            } else {
                ident_matches(&t.name.name, word)
            };
            matches.then_some(short)
        })
        .collect();
    names.sort();
    for n in names {
        out.push(n);
    }
    if schema.names.has_schemas() {
        let schemas: BTreeSet<&str> = schema
            .tables
            .iter()
            .filter_map(|t| t.name.schema.as_deref())
            .collect();
        for s in schemas {
            if ident_matches(s, word) {
                out.push(format!("{}.", display_ident(s)));
            }
        }
    }
}

/// Tables whose schema is the typed qualifier (`public`, `"Sales"`).
fn tables_in_schema<'s>(schema: &'s Schema, qualifier: &str) -> Vec<&'s Table> {
    if !schema.names.has_schemas() {
        return Vec::new();
    }
    let Some(parts) = crate::schema::split_ident_path(qualifier) else {
        return Vec::new();
    };
    let [(name, quoted)] = parts.as_slice() else {
        return Vec::new();
    };
    let case = schema.names.case;
    schema
        .tables
        .iter()
        .filter(|t| {
            t.name
                .schema
                .as_deref()
                .is_some_and(|s| case.names(s, name, *quoted))
        })
        .collect()
}

/// Byte offset of the last `.` in `word` that is not inside quotes.
fn last_dot_outside_quotes(word: &str) -> Option<usize> {
    let mut quoted = false;
    let mut last = None;
    for (i, c) in word.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => last = Some(i),
            _ => {}
        }
    }
    last
}

/// What a forward scan of the text before the cursor found.
struct Scan {
    /// Byte offset where the word under the cursor starts.
    word_start: usize,
    /// Whether the previous keyword expects a table name.
    expects_table: bool,
    /// Index of the statement the cursor is in (top-level `;`s before it).
    statement: usize,
}

/// Walks the text before the cursor like a tokenizer would, tracking the
/// current word (identifier characters, dots, and quoted parts that may hold
/// spaces), the last keyword, and the statement count. Returns `None` when
/// the cursor is inside a string literal or a comment.
fn scan(before: &str) -> Option<Scan> {
    #[derive(PartialEq)]
    enum State {
        Normal,
        Single,
        Double,
        Line,
        Block,
    }
    let mut state = State::Normal;
    let mut word_start = 0usize;
    let mut statement = 0usize;
    let mut last_word = String::new();
    let mut prev_word = String::new();
    let mut chars = before.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        match state {
            State::Single => {
                if c == '\'' {
                    state = State::Normal;
                    word_start = i + 1;
                }
            }
            State::Double => {
                if c == '"' {
                    state = State::Normal;
                }
            }
            State::Line => {
                if c == '\n' {
                    state = State::Normal;
                    word_start = i + 1;
                }
            }
            State::Block => {
                if c == '*' && next == Some('/') {
                    chars.next();
                    state = State::Normal;
                    word_start = i + 2;
                }
            }
            State::Normal => {
                if c == '"' {
                    state = State::Double;
                } else if is_word_char(c) || c == '.' {
                    // part of the current word
                } else {
                    let w = &before[word_start..i];
                    if !w.is_empty() {
                        prev_word = std::mem::take(&mut last_word);
                        last_word = w.to_owned();
                    }
                    match c {
                        '\'' => state = State::Single,
                        '-' if next == Some('-') => state = State::Line,
                        '/' if next == Some('*') => state = State::Block,
                        ';' => {
                            statement += 1;
                            last_word.clear();
                            prev_word.clear();
                        }
                        ',' => {}
                        _ if !c.is_whitespace() => {
                            // An operator or parenthesis: what follows is
                            // an expression, not a table.
                            last_word.clear();
                            prev_word.clear();
                        }
                        _ => {}
                    }
                    word_start = i + c.len_utf8();
                }
            }
        }
    }
    if state != State::Normal && state != State::Double {
        return None;
    }
    let kw = last_word.to_ascii_uppercase();
    let after_list = before[..word_start].trim_end().ends_with(',');
    let expects_table = matches!(
        kw.as_str(),
        "FROM" | "JOIN" | "UPDATE" | "INTO" | "TABLE" | "TRUNCATE"
    ) || (after_list && prev_word.eq_ignore_ascii_case("from"));
    Some(Scan {
        word_start,
        expects_table,
        statement,
    })
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// Tables mentioned in one statement, with their aliases.
struct StatementTables<'s> {
    tables: Vec<&'s Table>,
    /// Alias or bare table name (folded as typed) to table.
    names: HashMap<String, &'s Table>,
}

impl<'s> StatementTables<'s> {
    /// The table a qualifier like `f`, `film` or `public.film` names.
    fn lookup(&self, schema: &'s Schema, qualifier: &str) -> Option<&'s Table> {
        let parts = crate::schema::split_ident_path(qualifier)?;
        if let [(name, quoted)] = parts.as_slice() {
            let key = fold(name, *quoted);
            if let Some(t) = self.names.get(&key) {
                return Some(t);
            }
        }
        schema.resolve(&parts)
    }
}

/// Folds an alias or table name so both engines find it: Postgres's rule
/// (unquoted names fold to lower case) also matches SQLite's unquoted
/// names, which ignore case.
fn fold(name: &str, quoted: bool) -> String {
    NameCase::FoldsUnquoted.fold(name, quoted)
}

/// Finds the tables the statement at index `statement` mentions: the names
/// after `FROM` (and its comma list), `JOIN`, `UPDATE`, `INTO` and `TABLE`,
/// each with an optional alias. Text that does not tokenize (an open string
/// while typing) is retried up to its last complete line.
fn statement_tables<'s>(schema: &'s Schema, line: &str, statement: usize) -> StatementTables<'s> {
    let dialect = crate::sql::dialect(schema.engine);
    let mut text = line;
    let tokens = loop {
        match Tokenizer::new(dialect.as_ref(), text).tokenize() {
            Ok(t) => break t,
            Err(_) => match text.rfind('\n') {
                Some(i) => text = &text[..i],
                None => break Vec::new(),
            },
        }
    };
    let tokens: Vec<&Token> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let segment: Vec<&Token> = tokens
        .split(|t| matches!(t, Token::SemiColon))
        .nth(statement)
        .map(<[_]>::to_vec)
        .unwrap_or_default();

    let mut found = StatementTables {
        tables: Vec::new(),
        names: HashMap::new(),
    };
    let mut i = 0;
    while i < segment.len() {
        let starts_list = matches!(
            segment[i],
            Token::Word(Word {
                keyword: Keyword::FROM
                    | Keyword::JOIN
                    | Keyword::UPDATE
                    | Keyword::INTO
                    | Keyword::TABLE,
                quote_style: None,
                ..
            })
        );
        i += 1;
        if !starts_list {
            continue;
        }
        loop {
            // A dotted name: word (. word)*
            let mut parts: Vec<(String, bool)> = Vec::new();
            while let Some(Token::Word(w)) = segment.get(i) {
                if w.quote_style.is_none() && is_clause_keyword(w.keyword) {
                    break;
                }
                parts.push((w.value.clone(), w.quote_style.is_some()));
                i += 1;
                if matches!(segment.get(i), Some(Token::Period)) {
                    i += 1;
                } else {
                    break;
                }
            }
            let table = if parts.is_empty() {
                None
            } else {
                schema.resolve(&parts)
            };
            if let Some(t) = table {
                found.tables.push(t);
                if let Some((name, quoted)) = parts.last() {
                    found.names.insert(fold(name, *quoted), t);
                }
                // Optional alias: `film f` or `film AS f`.
                let explicit = matches!(segment.get(i), Some(Token::Word(w)) if w.keyword == Keyword::AS && w.quote_style.is_none());
                if explicit {
                    i += 1;
                }
                if let Some(Token::Word(w)) = segment.get(i)
                    && (explicit || w.quote_style.is_some() || w.keyword == Keyword::NoKeyword)
                {
                    found
                        .names
                        .insert(fold(&w.value, w.quote_style.is_some()), t);
                    i += 1;
                }
            }
            if matches!(segment.get(i), Some(Token::Comma)) && !parts.is_empty() {
                i += 1;
                continue;
            }
            break;
        }
    }
    found
}

/// Keywords that end a table list and can never be a table name.
fn is_clause_keyword(k: Keyword) -> bool {
    matches!(
        k,
        Keyword::WHERE
            | Keyword::JOIN
            | Keyword::ON
            | Keyword::USING
            | Keyword::LEFT
            | Keyword::RIGHT
            | Keyword::INNER
            | Keyword::OUTER
            | Keyword::FULL
            | Keyword::CROSS
            | Keyword::NATURAL
            | Keyword::GROUP
            | Keyword::ORDER
            | Keyword::LIMIT
            | Keyword::SET
            | Keyword::SELECT
            | Keyword::VALUES
            | Keyword::UNION
            | Keyword::RETURNING
            | Keyword::AS
            | Keyword::HAVING
    )
}

/// `\` commands, then table names after `\d`, `\dt`, `\refs`, and the
/// on/off words of `\x` and `\timing`.
fn meta_candidates(schema: &Schema, before: &str) -> (usize, Vec<String>) {
    let indent = before.len() - before.trim_start().len();
    let rest = &before[indent..];
    let Some(space) = rest.find(char::is_whitespace) else {
        let list = META_COMMANDS
            .iter()
            .filter(|m| m.starts_with(rest))
            .map(|m| (*m).to_owned())
            .collect();
        return (indent, list);
    };
    let cmd = &rest[..space];
    let arg_start = indent + space + (rest[space..].len() - rest[space..].trim_start().len());
    let arg = &before[arg_start..];
    let mut out = Candidates::new(arg);
    match cmd {
        "\\d" | "\\dt" | "\\d+" | "\\dt+" | "\\refs" => {
            if let Some(dot) = last_dot_outside_quotes(arg) {
                let qualifier = &arg[..dot];
                for t in tables_in_schema(schema, qualifier) {
                    if ident_matches(&t.name.name, &arg[dot + 1..]) {
                        out.push(format!("{qualifier}.{}", display_ident(&t.name.name)));
                    }
                }
            } else {
                push_tables(schema, arg, &mut out);
            }
        }
        "\\x" => ["on", "off", "auto"]
            .iter()
            .filter(|w| w.starts_with(arg))
            .for_each(|w| out.push((*w).to_owned())),
        "\\timing" => ["on", "off"]
            .iter()
            .filter(|w| w.starts_with(arg))
            .for_each(|w| out.push((*w).to_owned())),
        _ => {}
    }
    (arg_start, out.into_vec())
}

pub(crate) struct ShellHelper {
    schema: Arc<RwLock<Schema>>,
}

impl ShellHelper {
    pub fn new(schema: Arc<RwLock<Schema>>) -> Self {
        ShellHelper { schema }
    }
}

impl Helper for ShellHelper {}

impl Completer for ShellHelper {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        // A poisoned lock only means a reload panicked elsewhere; offering
        // nothing is better than failing the line editor.
        match self.schema.read() {
            Ok(schema) => Ok(candidates(&schema, line, pos)),
            Err(_) => Ok((pos, Vec::new())),
        }
    }
}

/// No hints: pgcli-style suggestions while typing would fight with the
/// multi-line editing.
impl Hinter for ShellHelper {
    type Hint = String;
}

/// The input line is not colored; the colored prompt comes as a
/// (plain, styled) pair from `Shell::prompt`, which rustyline shows as is.
impl Highlighter for ShellHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        Cow::Borrowed(line)
    }
}

/// Every line is taken as typed: the shell's query buffer gathers a
/// statement over lines, so each shows its continuation prompt.
impl Validator for ShellHelper {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Engine;
    use crate::db::dialect::Dialect;
    use crate::schema::{Column, QualName};

    fn table(schema: Option<&str>, name: &str, cols: &[&str]) -> Table {
        let mut t = Table::new(QualName::new(schema, name));
        t.columns = cols
            .iter()
            .map(|c| Column {
                name: (*c).to_owned(),
                type_name: "text".into(),
                not_null: false,
                default: None,
                generated: None,
                identity: None,
                collation: None,
            })
            .collect();
        t
    }

    fn pg() -> Schema {
        Schema::new(
            Engine::Postgres,
            Dialect(Engine::Postgres).name_rules(),
            vec![
                table(Some("public"), "film", &["film_id", "title", "rating"]),
                table(Some("public"), "film_actor", &["actor_id", "film_id"]),
                table(Some("public"), "actor", &["actor_id", "first_name"]),
                table(Some("public"), "My Table", &["Id", "label"]),
                table(Some("sales"), "orders", &["order_id", "total"]),
                table(Some("sales"), "film", &["sale_id"]),
            ],
            vec!["public".into()],
        )
    }

    fn sqlite() -> Schema {
        Schema::new(
            Engine::Sqlite,
            Dialect(Engine::Sqlite).name_rules(),
            vec![
                table(None, "packages", &["id", "name", "project_id"]),
                table(None, "projects", &["id", "title"]),
            ],
            vec![],
        )
    }

    fn at_end(schema: &Schema, line: &str) -> (usize, Vec<String>) {
        candidates(schema, line, line.len())
    }

    #[test]
    fn table_names_after_from() {
        let (start, c) = at_end(&pg(), "select * from fi");
        assert_eq!(start, 14);
        assert_eq!(c, vec!["film", "film_actor"]);
    }

    #[test]
    fn tables_off_the_search_path_are_qualified() {
        let (_, c) = at_end(&pg(), "select * from ord");
        assert_eq!(c, vec!["sales.orders"]);
        let (start, c) = at_end(&pg(), "select * from sa");
        assert_eq!(start, 14);
        assert_eq!(c, vec!["sales.film", "sales.orders", "sales."]);
    }

    #[test]
    fn schema_prefix_completes_its_tables() {
        let (start, c) = at_end(&pg(), "SELECT * FROM sales.");
        assert_eq!(start, 14);
        assert_eq!(c, vec!["sales.film", "sales.orders"]);
        let (_, c) = at_end(&pg(), "SELECT * FROM sales.o");
        assert_eq!(c, vec!["sales.orders"]);
    }

    #[test]
    fn names_starting_with_the_typed_text_come_alone() {
        let s = Schema::new(
            Engine::Sqlite,
            Dialect(Engine::Sqlite).name_rules(),
            vec![
                table(None, "packages", &["id"]),
                table(None, "Package Notes", &["id"]),
            ],
            vec![],
        );
        assert_eq!(at_end(&s, "select * from pack").1, vec!["packages"]);
        assert_eq!(
            at_end(&s, "select * from \"pack").1,
            vec!["\"Package Notes\""]
        );
        assert_eq!(at_end(&s, "select * from \"P").1, vec!["\"Package Notes\""]);
    }

    #[test]
    fn names_that_need_quotes_are_quoted() {
        let (_, c) = at_end(&pg(), "select * from my");
        assert_eq!(c, vec!["\"My Table\""]);
        let (start, c) = at_end(&pg(), "select * from \"My T");
        assert_eq!(start, 14);
        assert_eq!(c, vec!["\"My Table\""]);
    }

    #[test]
    fn columns_of_tables_in_the_statement() {
        // No table in the statement yet: no columns to offer.
        assert!(at_end(&pg(), "select ti").1.is_empty());
        let line = "select ti from film";
        let (start, c) = candidates(&pg(), line, 9);
        assert_eq!(start, 7);
        assert_eq!(c, vec!["title"]);
        let (_, c) = at_end(
            &pg(),
            "select * from film f join actor a on a.actor_id = f.film_id where fir",
        );
        assert_eq!(c, vec!["first_name", "first"]);
    }

    #[test]
    fn alias_and_table_qualified_columns() {
        let line = "select f. from film f";
        let (start, c) = candidates(&pg(), line, 9);
        assert_eq!(start, 7);
        assert_eq!(c, vec!["f.film_id", "f.title", "f.rating"]);
        let (_, c) = at_end(&pg(), "select * from film_actor where film_actor.a");
        assert_eq!(c, vec!["film_actor.actor_id"]);
        let (_, c) = at_end(&pg(), "select * from \"My Table\" t where t.");
        assert_eq!(c, vec!["t.\"Id\"", "t.label"]);
    }

    #[test]
    fn columns_only_from_the_current_statement() {
        let (_, c) = at_end(&pg(), "select * from actor; select fi");
        assert!(!c.contains(&"first_name".to_owned()), "{c:?}");
        assert!(c.contains(&"film".to_owned()), "{c:?}");
    }

    #[test]
    fn keywords_follow_the_typed_case() {
        let (_, c) = at_end(&pg(), "sel");
        assert_eq!(c, vec!["select"]);
        let (_, c) = at_end(&pg(), "SEL");
        assert_eq!(c, vec!["SELECT"]);
        let (_, c) = at_end(&pg(), "select * from film whe");
        assert_eq!(c, vec!["when", "where"]);
    }

    #[test]
    fn comma_lists_after_from_expect_tables() {
        let (_, c) = at_end(&sqlite(), "select * from packages, pro");
        assert_eq!(c, vec!["projects"]);
    }

    #[test]
    fn sqlite_columns_and_tables() {
        let (_, c) = at_end(&sqlite(), "select * from packages p where p.pro");
        assert_eq!(c, vec!["p.project_id"]);
        let (_, c) = at_end(&sqlite(), "SELECT * FROM PACK");
        assert_eq!(c, vec!["packages"]);
    }

    #[test]
    fn multi_line_buffers() {
        let line = "select *\nfrom packages\nwhere na";
        let (start, c) = at_end(&sqlite(), line);
        assert_eq!(&line[start..], "na");
        assert_eq!(c, vec!["name", "natural"]);
    }

    #[test]
    fn nothing_inside_strings_or_comments() {
        assert!(at_end(&pg(), "select 'fi").1.is_empty());
        assert!(at_end(&pg(), "select 1 -- fi").1.is_empty());
        assert!(at_end(&pg(), "select 1 /* fi").1.is_empty());
    }

    #[test]
    fn meta_commands() {
        let (start, c) = at_end(&pg(), "\\d");
        assert_eq!(start, 0);
        assert_eq!(
            c,
            vec![
                "\\dt", "\\dt+", "\\d", "\\d+", "\\dn", "\\df", "\\dv", "\\di", "\\du"
            ]
        );
        let (_, c) = at_end(&pg(), "\\");
        assert_eq!(c.len(), META_COMMANDS.len());
        let (_, c) = at_end(&pg(), "\\ti");
        assert_eq!(c, vec!["\\timing"]);
    }

    #[test]
    fn table_names_after_meta_commands() {
        let (start, c) = at_end(&pg(), "\\d fi");
        assert_eq!(start, 3);
        assert_eq!(c, vec!["film", "film_actor"]);
        let (start, c) = at_end(&pg(), "\\refs  sales.");
        assert_eq!(start, 7);
        assert_eq!(c, vec!["sales.film", "sales.orders"]);
        let (_, c) = at_end(&sqlite(), "\\dt p");
        assert_eq!(c, vec!["packages", "projects"]);
        let (_, c) = at_end(&pg(), "\\x o");
        assert_eq!(c, vec!["on", "off"]);
    }

    proptest::proptest! {
        #[test]
        fn any_input_at_any_position_is_safe(line in "(\\PC|[\\n\"';.*/ -]|from |select ){0,30}", pos in 0usize..50) {
            let (start, _) = candidates(&pg(), &line, pos);
            proptest::prop_assert!(start <= line.len());
            let (start, _) = candidates(&sqlite(), &format!("\\d {line}"), pos);
            proptest::prop_assert!(start <= line.len() + 3);
        }
    }

    #[test]
    fn odd_cursor_positions_do_not_panic() {
        let s = pg();
        let line = "select 'ünï' from \"bıgınt\".fi";
        for pos in 0..=line.len() + 3 {
            let (start, _) = candidates(&s, line, pos);
            assert!(start <= line.len());
        }
        assert_eq!(candidates(&s, "", 0).0, 0);
        assert_eq!(candidates(&s, "\\d ", 99).0, 3);
    }
}
