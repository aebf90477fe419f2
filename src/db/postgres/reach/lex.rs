//! Splits SQL and PL/pgSQL source the way PostgreSQL's lexer does, far
//! enough to tell code from comments and constants: `--` and nested `/*`
//! comments, `'...'` with `''`, `E'...'` with backslash escapes, `$tag$`
//! quoting, `"..."` names with `""`. Text with a backslash is read a second
//! time with `'...'` taking backslash escapes, as the server reads it with
//! `standard_conforming_strings` off, and both readings count.
//!
//! Names are taken from everywhere (a name in a string may be dynamic SQL,
//! one in a comment costs at most a refusal), keywords only from code (a
//! comment saying "copy the row" is no `COPY`). A quote left open swallows
//! nothing: its words are still names. A `U&"..."` name is not decoded;
//! its presence is reported, for the caller to refuse.

use std::collections::BTreeSet;

/// What one source text holds.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Words {
    /// Every name-like word, wherever it stands, in lower case, and the
    /// exact text of every quoted name.
    pub names: BTreeSet<String>,
    /// Words of the code itself (outside comments and constants), in
    /// lower case: keywords such as `execute`, `copy`.
    pub code: BTreeSet<String>,
    /// A `U&"..."` name, whose escapes are not decoded here.
    pub unicode_names: bool,
}

pub(super) fn lex(source: &str) -> Words {
    // With `standard_conforming_strings` off (a database's, a role's or a
    // function's own setting), a backslash escapes a quote in '...', and
    // the same text splits otherwise: it is read both ways, and what
    // either way finds counts.
    let mut out = lex_as(source, false);
    if source.contains('\\') {
        let other = lex_as(source, true);
        out.names.extend(other.names);
        out.code.extend(other.code);
        out.unicode_names |= other.unicode_names;
    }
    out
}

/// One reading; `escapes`: plain '...' constants take backslash escapes.
fn lex_as(source: &str, escapes: bool) -> Words {
    let chars: Vec<char> = source.chars().collect();
    let mut out = Words::default();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        i = if c == '-' && next == Some('-') {
            let end = find(&chars, i, '\n');
            out.text(&chars[i..end]);
            end
        } else if c == '/' && next == Some('*') {
            let end = block_comment_end(&chars, i);
            out.text(&chars[i..end]);
            end
        } else if c == '\'' {
            let end = string_end(&chars, i + 1, escapes);
            out.text(&chars[i..end]);
            end
        } else if (c == 'e' || c == 'E') && next == Some('\'') && !word_before(&chars, i) {
            let end = string_end(&chars, i + 2, true);
            out.text(&chars[i..end]);
            end
        } else if (c == 'u' || c == 'U') && next == Some('&') && !word_before(&chars, i) {
            if chars.get(i + 2) == Some(&'"') {
                out.unicode_names = true;
            }
            i + 2
        } else if c == '"' {
            let end = quoted_end(&chars, i + 1);
            let inner: String = chars[i + 1..end.saturating_sub(1).max(i + 1)]
                .iter()
                .collect();
            out.names.insert(inner.replace("\"\"", "\""));
            out.text(&chars[i..end]);
            end
        } else if c == '$'
            && let Some(tag_end) = dollar_tag(&chars, i)
        {
            let tag: Vec<char> = chars[i..=tag_end].to_vec();
            let end = find_seq(&chars, tag_end + 1, &tag);
            out.text(&chars[i..end]);
            end
        } else if starts_word(c) {
            let end = word_end(&chars, i);
            let word: String = chars[i..end].iter().collect::<String>().to_lowercase();
            out.names.insert(word.clone());
            out.code.insert(word);
            end
        } else if c.is_ascii_digit() {
            // A number's letters (`1e5`, `0x1F`) are not a word.
            let mut j = i;
            while j < chars.len()
                && (chars[j].is_alphanumeric() || chars[j] == '_' || chars[j] == '.')
            {
                j += 1;
            }
            j
        } else {
            i + 1
        };
    }
    out
}

impl Words {
    /// The words of a comment or a constant: names only.
    fn text(&mut self, chars: &[char]) {
        let mut i = 0;
        while i < chars.len() {
            if starts_word(chars[i]) {
                let end = word_end(chars, i);
                self.names
                    .insert(chars[i..end].iter().collect::<String>().to_lowercase());
                i = end;
            } else {
                i += 1;
            }
        }
    }
}

/// PostgreSQL's identifier start: a letter, `_`, or any non-ASCII
/// character (`×` included: the lexer works on bytes, and every byte
/// above 127 is an identifier byte).
fn starts_word(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || !c.is_ascii()
}

/// An identifier continues with those, digits and `$`.
fn continues_word(c: char) -> bool {
    starts_word(c) || c.is_ascii_digit() || c == '$'
}

fn word_end(chars: &[char], start: usize) -> usize {
    let mut j = start + 1;
    while j < chars.len() && continues_word(chars[j]) {
        j += 1;
    }
    j
}

/// Whether `chars[i]` continues a word (`type'...'` is no `E'...'`).
fn word_before(chars: &[char], i: usize) -> bool {
    i > 0 && continues_word(chars[i - 1])
}

/// The index after the first `c` from `from`, or the end.
fn find(chars: &[char], from: usize, c: char) -> usize {
    chars[from..]
        .iter()
        .position(|&x| x == c)
        .map_or(chars.len(), |p| from + p + 1)
}

fn find_seq(chars: &[char], from: usize, seq: &[char]) -> usize {
    (from..chars.len())
        .find(|&j| chars[j..].starts_with(seq))
        .map_or(chars.len(), |j| j + seq.len())
}

fn block_comment_end(chars: &[char], start: usize) -> usize {
    let mut depth = 0usize;
    let mut j = start;
    while j < chars.len() {
        match (chars[j], chars.get(j + 1)) {
            ('/', Some('*')) => {
                depth += 1;
                j += 2;
            }
            ('*', Some('/')) => {
                depth -= 1;
                j += 2;
                if depth == 0 {
                    return j;
                }
            }
            _ => j += 1,
        }
    }
    chars.len()
}

/// The index after a string constant's closing quote; `from` is just past
/// the opening one.
fn string_end(chars: &[char], from: usize, escapes: bool) -> usize {
    let mut j = from;
    while j < chars.len() {
        match chars[j] {
            '\\' if escapes => j += 2,
            '\'' if chars.get(j + 1) == Some(&'\'') => j += 2,
            '\'' => return j + 1,
            _ => j += 1,
        }
    }
    chars.len()
}

fn quoted_end(chars: &[char], from: usize) -> usize {
    let mut j = from;
    while j < chars.len() {
        if chars[j] == '"' {
            if chars.get(j + 1) == Some(&'"') {
                j += 2;
                continue;
            }
            return j + 1;
        }
        j += 1;
    }
    chars.len()
}

/// The index of the closing `$` of a dollar-quote tag starting at
/// `start` (`$$`, `$body$`), if one starts there.
fn dollar_tag(chars: &[char], start: usize) -> Option<usize> {
    if word_before(chars, start) {
        return None;
    }
    let mut j = start + 1;
    while j < chars.len() {
        let c = chars[j];
        if c == '$' {
            return Some(j);
        }
        let ok = starts_word(c) || (j > start + 1 && c.is_ascii_digit());
        if !ok {
            return None;
        }
        j += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(set: &BTreeSet<String>, words: &[&str]) -> bool {
        words.iter().all(|w| set.contains(*w))
    }

    #[test]
    fn keywords_come_from_code_names_from_everywhere() {
        let w = lex(
            "BEGIN -- copy the row\n /* execute /* nested */ still */ PERFORM 'execute'; \
                     x := E'it\\'s copy'; y := $q$ setval $q$; RETURN NEW; END",
        );
        assert!(
            has(
                &w.code,
                &["begin", "perform", "x", "y", "return", "new", "end"]
            ),
            "{w:?}"
        );
        assert!(
            !w.code.contains("copy") && !w.code.contains("execute") && !w.code.contains("setval"),
            "{w:?}"
        );
        assert!(
            has(&w.names, &["copy", "execute", "nested", "setval", "it"]),
            "{w:?}"
        );
    }

    #[test]
    fn an_open_quote_in_a_comment_or_string_hides_nothing() {
        for src in [
            "BEGIN -- \"\n PERFORM dblink_exec('x'); -- \"\n END",
            "BEGIN RAISE NOTICE 'a \"'; PERFORM dblink_exec('x'); RAISE NOTICE '\"'; END",
            "BEGIN PERFORM \"unclosed; PERFORM dblink_exec('x'); END",
        ] {
            let w = lex(src);
            assert!(w.names.contains("dblink_exec"), "{src}: {w:?}");
        }
        assert!(lex("BEGIN -- \"\n EXECUTE q; END").code.contains("execute"));
    }

    #[test]
    fn quoted_names_and_unicode_names() {
        let w = lex(r#"PERFORM "My Func"(1), NEW.id <~~> 1, a-b; PERFORM U&"d\0062link_exec"()"#);
        assert!(
            w.names.contains("My Func") && w.names.contains("my"),
            "{w:?}"
        );
        assert!(w.unicode_names);
        assert!(!lex("SELECT u&'x', menu&1").unicode_names);
    }

    #[test]
    fn any_non_ascii_character_is_part_of_a_name() {
        // `×$$` is one identifier to the server, not a dollar quote.
        let w = lex("BEGIN PERFORM 1 AS ×$$; EXECUTE 'x'; RETURN NEW; END -- $$");
        assert!(w.code.contains("execute"), "{w:?}");
        assert!(w.names.contains("×$$"), "{w:?}");
    }

    #[test]
    fn code_hidden_by_a_backslash_quote_counts_either_way() {
        // With standard_conforming_strings off, `'a\'; y := '` is one
        // constant, and EXECUTE is code.
        let w = lex(r#"x := 'a\';  y := ' ; EXECUTE 'select 1'; z := '';"#);
        assert!(w.code.contains("execute"), "{w:?}");
    }

    #[test]
    fn numbers_are_no_words() {
        let w = lex("x := 1e5 + 0x1F + 2.5e3");
        assert!(!w.names.contains("e5") && !w.names.contains("x1f"), "{w:?}");
    }
}
