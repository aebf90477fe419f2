//! Where text typed at the prompt stands lexically, the way psql's own
//! scanner sees it: inside a string, a quoted name, a dollar-quoted body,
//! a comment or parentheses, or at the top level. The shell needs three
//! answers before anything is parsed: which continuation prompt to show
//! (`'>`, `(>`, `*>` ...), where a statement typed so far ends (a `;` at
//! the top level), and where a backslash starts a meta command (`\g`,
//! `\gx`, `\r` typed after an unfinished statement).
//!
//! `sqlparser`'s tokenizer answers none of these for unfinished text: it
//! fails on an unterminated string and does not track parentheses. The
//! statements themselves are still split and classified by `sql::split`
//! and `sql::classify`; this scanner only decides when and what to hand
//! them.

use crate::db::Engine;

/// What an unfinished input is inside of, innermost first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    /// Nothing open: the statement merely has no `;` yet.
    Statement,
    /// An unterminated `'...'` string.
    Quote,
    /// An unterminated `"..."` (or SQLite's `` `...` `` / `[...]`) name.
    Identifier,
    /// An unterminated `$tag$...$tag$` body.
    Dollar,
    /// An unterminated `/* ... */` comment.
    Comment,
    /// More `(` than `)`.
    Paren,
}

impl Pending {
    /// The character psql shows in its continuation prompt (`%R`).
    pub fn prompt_char(self) -> char {
        match self {
            Pending::Statement => '-',
            Pending::Quote => '\'',
            Pending::Identifier => '"',
            Pending::Dollar => '$',
            Pending::Comment => '*',
            Pending::Paren => '(',
        }
    }
}

/// What scanning a text found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// Where the end of the text stands.
    pub pending: Pending,
    /// Byte offset of the last `;` at the top level (outside quotes,
    /// comments and parentheses): everything up to it is ready to run.
    pub last_end: Option<usize>,
    /// Byte offset of the first backslash at the top level at or after
    /// the offset asked for: a meta command starts there.
    pub backslash: Option<usize>,
    /// Byte offsets, at or after the offset asked for, of top-level `:`
    /// that may start a psql variable (`:name`, `:'name'`, `:"name"`);
    /// never one of a `::` cast.
    pub colons: Vec<usize>,
    /// Byte offset of the `)` that closes the first top-level `(`.
    pub first_close: Option<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Top,
    /// In a string; `true` for an `E'...'` string, where `\` escapes.
    Quote(bool),
    /// In a quoted name closed by this character.
    Ident(char),
    /// In a dollar-quoted body; the tag's byte range in the text.
    Dollar(usize, usize),
    /// In a block comment, this deep.
    Comment(u32),
    LineComment,
}

/// Scans `text`; backslashes before `meta_from` are not looked for (they
/// belong to lines already taken).
pub fn scan(engine: Engine, text: &str, meta_from: usize) -> Scan {
    let bytes = text.as_bytes();
    let pg = engine == Engine::Postgres;
    let mut state = State::Top;
    let mut depth = 0u32;
    let mut last_end = None;
    let mut backslash = None;
    let mut colons = Vec::new();
    let mut first_close = None;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let next = bytes.get(i + 1).copied();
        let mut step = 1;
        state = match state {
            State::Top => match c {
                b'\'' => State::Quote(pg && is_escape_prefix(bytes, i)),
                b'"' => State::Ident('"'),
                b'`' if !pg => State::Ident('`'),
                b'[' if !pg => State::Ident(']'),
                b'-' if next == Some(b'-') => State::LineComment,
                b'/' if next == Some(b'*') => {
                    step = 2;
                    State::Comment(1)
                }
                b'$' if pg => match dollar_tag(bytes, i) {
                    Some(end) => {
                        step = end - i;
                        State::Dollar(i, end)
                    }
                    None => State::Top,
                },
                b'(' => {
                    depth += 1;
                    State::Top
                }
                b')' => {
                    if depth == 1 && first_close.is_none() {
                        first_close = Some(i);
                    }
                    depth = depth.saturating_sub(1);
                    State::Top
                }
                b';' if depth == 0 => {
                    last_end = Some(i);
                    State::Top
                }
                b'\\' => {
                    if i >= meta_from && backslash.is_none() {
                        backslash = Some(i);
                    }
                    State::Top
                }
                b':' if next == Some(b':') => {
                    step = 2;
                    State::Top
                }
                b':' => {
                    let starts = next.is_some_and(|n| is_word_byte(n) || n == b'\'' || n == b'"');
                    if i >= meta_from && starts {
                        colons.push(i);
                    }
                    State::Top
                }
                _ => State::Top,
            },
            State::Quote(escapes) => match c {
                b'\\' if escapes => {
                    step = 2;
                    State::Quote(true)
                }
                b'\'' if next == Some(b'\'') => {
                    step = 2;
                    State::Quote(escapes)
                }
                b'\'' => State::Top,
                _ => State::Quote(escapes),
            },
            State::Ident(close) => {
                if c == close as u8 && close != ']' && next == Some(c) {
                    step = 2;
                    State::Ident(close)
                } else if c == close as u8 {
                    State::Top
                } else {
                    State::Ident(close)
                }
            }
            State::Dollar(start, end) => {
                let tag = &bytes[start..end];
                if bytes[i..].starts_with(tag) {
                    step = tag.len();
                    State::Top
                } else {
                    State::Dollar(start, end)
                }
            }
            State::Comment(d) => match (c, next) {
                (b'*', Some(b'/')) => {
                    step = 2;
                    if d <= 1 {
                        State::Top
                    } else {
                        State::Comment(d - 1)
                    }
                }
                // PostgreSQL nests block comments; SQLite does not.
                (b'/', Some(b'*')) if pg => {
                    step = 2;
                    State::Comment(d + 1)
                }
                _ => State::Comment(d),
            },
            State::LineComment if c == b'\n' => State::Top,
            State::LineComment => State::LineComment,
        };
        i += step;
    }
    let pending = match state {
        State::Quote(_) => Pending::Quote,
        State::Ident(_) => Pending::Identifier,
        State::Dollar(..) => Pending::Dollar,
        State::Comment(_) => Pending::Comment,
        State::Top | State::LineComment if depth > 0 => Pending::Paren,
        State::Top | State::LineComment => Pending::Statement,
    };
    Scan {
        pending,
        last_end,
        backslash,
        colons,
        first_close,
    }
}

/// Whether the quote at `i` opens an `E'...'` string: an `E` right before
/// it that is not the end of a longer word.
fn is_escape_prefix(bytes: &[u8], i: usize) -> bool {
    let Some(i) = i.checked_sub(1) else {
        return false;
    };
    if !matches!(bytes[i], b'e' | b'E') {
        return false;
    }
    i == 0 || !is_word_byte(bytes[i - 1])
}

/// The end (exclusive) of a dollar-quote tag starting at `i` (`$$`,
/// `$body$`), or `None` for a `$1` parameter or a `$` inside a word.
fn dollar_tag(bytes: &[u8], i: usize) -> Option<usize> {
    if i > 0 && is_word_byte(bytes[i - 1]) {
        return None;
    }
    let mut j = i + 1;
    while j < bytes.len() && is_word_byte(bytes[j]) {
        j += 1;
    }
    let tag = &bytes[i + 1..j];
    let starts_ok = tag.first().is_none_or(|b| !b.is_ascii_digit());
    (starts_ok && bytes.get(j) == Some(&b'$')).then_some(j + 1)
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(engine: Engine, s: &str) -> Pending {
        scan(engine, s, 0).pending
    }

    #[test]
    fn what_is_open_decides_the_prompt() {
        let pg = Engine::Postgres;
        assert_eq!(pending(pg, "SELECT 1"), Pending::Statement);
        assert_eq!(pending(pg, "SELECT 'a"), Pending::Quote);
        assert_eq!(pending(pg, "SELECT 'it''s"), Pending::Quote);
        assert_eq!(pending(pg, "SELECT 'it''s'"), Pending::Statement);
        assert_eq!(pending(pg, "SELECT E'a\\'b"), Pending::Quote);
        assert_eq!(pending(pg, "SELECT 'a\\'"), Pending::Statement);
        assert_eq!(pending(pg, "SELECT \"Na"), Pending::Identifier);
        assert_eq!(pending(pg, "SELECT $$ a ; "), Pending::Dollar);
        assert_eq!(pending(pg, "SELECT $b$ $$ $b$"), Pending::Statement);
        assert_eq!(pending(pg, "SELECT $1"), Pending::Statement);
        assert_eq!(pending(pg, "SELECT /* a /* b */"), Pending::Comment);
        assert_eq!(pending(pg, "SELECT (1, (2)"), Pending::Paren);
        assert_eq!(pending(pg, "SELECT 1 -- ( '"), Pending::Statement);
        let lite = Engine::Sqlite;
        assert_eq!(pending(lite, "SELECT /* a /* b */"), Pending::Statement);
        assert_eq!(pending(lite, "SELECT [a b"), Pending::Identifier);
        assert_eq!(pending(lite, "SELECT `a"), Pending::Identifier);
        assert_eq!(pending(lite, "SELECT $$"), Pending::Statement);
    }

    #[test]
    fn statements_end_at_top_level_semicolons() {
        let pg = Engine::Postgres;
        assert_eq!(scan(pg, "SELECT 1; SELECT 2", 0).last_end, Some(8));
        assert_eq!(scan(pg, "SELECT ';'", 0).last_end, None);
        assert_eq!(scan(pg, "SELECT (1;", 0).last_end, None);
        assert_eq!(scan(pg, "SELECT $$;$$;", 0).last_end, Some(12));
        assert_eq!(scan(pg, "SELECT 1 -- ;\n", 0).last_end, None);
    }

    #[test]
    fn meta_commands_start_at_top_level_backslashes() {
        let pg = Engine::Postgres;
        assert_eq!(scan(pg, "SELECT 1 \\gx", 0).backslash, Some(9));
        assert_eq!(scan(pg, "SELECT '\\d' \\g", 0).backslash, Some(12));
        assert_eq!(scan(pg, "SELECT '\\d'", 0).backslash, None);
        assert_eq!(scan(pg, "a \\x\nb \\g", 5).backslash, Some(7));
    }

    #[test]
    fn the_first_parenthesis_closes_past_quotes() {
        let s = "(select ')' from (t)) to 'f'";
        assert_eq!(scan(Engine::Postgres, s, 0).first_close, Some(20));
    }

    #[test]
    fn variables_are_top_level_colons_but_not_casts() {
        let pg = Engine::Postgres;
        let s = "SELECT :id, 1::int, ':x', :'n' -- :c";
        assert_eq!(scan(pg, s, 0).colons, vec![7, 26]);
    }
}
