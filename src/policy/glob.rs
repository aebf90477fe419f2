//! A tiny glob matcher for policy patterns: `*` (any run of characters,
//! including none), `?` (one character), `[abc]`, `[a-z]`, `[!abc]` /
//! `[^abc]` (classes) and `\x` (a literal `x`). Everything else matches
//! itself. `*` crosses `.` and `/`, so `db*` matches `db1.prod.example.org`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Char(char),
    Any,
    Star,
    Class {
        negated: bool,
        items: Vec<(char, char)>,
    },
}

/// A compiled glob. Compare with [`Glob::matches`] (case-sensitive) or
/// `Glob::matches_ignore_case` (ASCII case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    pattern: String,
    toks: Vec<Tok>,
    qualified: bool,
}

impl Glob {
    /// Compiles `pattern`, or says what is wrong with it.
    pub fn new(pattern: &str) -> Result<Glob, String> {
        if pattern.is_empty() {
            return Err("empty pattern (use \"*\" to match everything)".to_owned());
        }
        let chars: Vec<char> = pattern.chars().collect();
        let mut toks = Vec::new();
        let mut qualified = false;
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '*' => {
                    if toks.last() != Some(&Tok::Star) {
                        toks.push(Tok::Star);
                    }
                    i += 1;
                }
                '?' => {
                    toks.push(Tok::Any);
                    i += 1;
                }
                '\\' => {
                    let Some(&c) = chars.get(i + 1) else {
                        return Err(format!(
                            "pattern {pattern:?} ends with a lone `\\` (write `\\\\` for a backslash)"
                        ));
                    };
                    toks.push(Tok::Char(c));
                    i += 2;
                }
                '[' => {
                    let (tok, next) = parse_class(pattern, &chars, i)?;
                    toks.push(tok);
                    i = next;
                }
                ']' => {
                    return Err(format!(
                        "pattern {pattern:?} has a `]` without a matching `[` (write `\\]` for a literal bracket)"
                    ));
                }
                c => {
                    qualified |= c == '.';
                    toks.push(Tok::Char(c));
                    i += 1;
                }
            }
        }
        Ok(Glob {
            pattern: pattern.to_owned(),
            toks,
            qualified,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether the pattern contains an unescaped `.` (a schema-qualified
    /// table pattern).
    pub(crate) fn is_qualified(&self) -> bool {
        self.qualified
    }

    /// Case-sensitive match of the whole text.
    pub fn matches(&self, text: &str) -> bool {
        self.matches_with(text, false)
    }

    /// ASCII case-insensitive match of the whole text.
    pub(crate) fn matches_ignore_case(&self, text: &str) -> bool {
        self.matches_with(text, true)
    }

    fn matches_with(&self, text: &str, fold: bool) -> bool {
        let text: Vec<char> = text.chars().collect();
        // Classic linear backtracking over the last star.
        let (mut t, mut p) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            if p < self.toks.len() && self.toks[p] == Tok::Star {
                star = Some((p, t));
                p += 1;
                continue;
            }
            if p < self.toks.len() && tok_matches(&self.toks[p], text[t], fold) {
                p += 1;
                t += 1;
                continue;
            }
            match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            }
        }
        self.toks[p..].iter().all(|t| *t == Tok::Star)
    }
}

/// One element of a pattern written in another syntax (psql's `\\dt`
/// patterns, with their own quoting and case folding), to be matched by a
/// [`Glob`] like any other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Lit(char),
    /// Any run of characters, including none.
    Any,
    /// Exactly one character.
    One,
}

impl Glob {
    /// The glob of `parts`, already parsed by their own syntax.
    pub(crate) fn of_parts(parts: &[Part]) -> Glob {
        let mut pattern = String::new();
        let mut toks = Vec::with_capacity(parts.len());
        for part in parts {
            match *part {
                Part::Lit(c) => {
                    if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                        pattern.push('\\');
                    }
                    pattern.push(c);
                    toks.push(Tok::Char(c));
                }
                Part::Any => {
                    pattern.push('*');
                    if toks.last() != Some(&Tok::Star) {
                        toks.push(Tok::Star);
                    }
                }
                Part::One => {
                    pattern.push('?');
                    toks.push(Tok::Any);
                }
            }
        }
        Glob {
            pattern,
            toks,
            qualified: false,
        }
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pattern)
    }
}

fn parse_class(pattern: &str, chars: &[char], open: usize) -> Result<(Tok, usize), String> {
    let mut i = open + 1;
    let negated = matches!(chars.get(i), Some('!') | Some('^'));
    if negated {
        i += 1;
    }
    let mut items = Vec::new();
    let mut first = true;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err(format!(
                "pattern {pattern:?} has a `[` that is never closed (add `]`, or write `\\[` for a literal bracket)"
            ));
        };
        if c == ']' && !first {
            i += 1;
            break;
        }
        first = false;
        let lo = if c == '\\' {
            i += 1;
            *chars.get(i).ok_or_else(|| {
                format!("pattern {pattern:?} has a `[` that is never closed (add `]`)")
            })?
        } else {
            c
        };
        i += 1;
        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|&c| c != ']') {
            let hi = chars[i + 1];
            if hi < lo {
                return Err(format!(
                    "pattern {pattern:?} has a reversed range `{lo}-{hi}` (write `{hi}-{lo}`)"
                ));
            }
            items.push((lo, hi));
            i += 2;
        } else {
            items.push((lo, lo));
        }
    }
    Ok((Tok::Class { negated, items }, i))
}

fn tok_matches(tok: &Tok, c: char, fold: bool) -> bool {
    match tok {
        Tok::Char(x) => *x == c || (fold && x.eq_ignore_ascii_case(&c)),
        Tok::Any => true,
        Tok::Star => false,
        Tok::Class { negated, items } => {
            let hit = |c: char| items.iter().any(|&(lo, hi)| lo <= c && c <= hi);
            let found =
                hit(c) || (fold && (hit(c.to_ascii_lowercase()) || hit(c.to_ascii_uppercase())));
            found != *negated
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        Glob::new(p).unwrap().matches(t)
    }

    #[test]
    fn matches_stars_marks_and_classes() {
        assert!(m("*", ""));
        assert!(m("*", "anything.at/all"));
        assert!(m("app_*", "app_users"));
        assert!(!m("app_*", "xapp_users"));
        assert!(m("db?.prod", "db1.prod"));
        assert!(!m("db?.prod", "db12.prod"));
        assert!(m("db[0-9]", "db7"));
        assert!(!m("db[!0-9]", "db7"));
        assert!(m("db[^0-9]", "dbx"));
        assert!(m("[]]x", "]x"));
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "axb"));
        assert!(m("*a*b*c*", "xxaxxbxxcxx"));
        assert!(!m("*a*b*c*", "xxaxxcxxbxx"));
        assert!(m("public.*", "public.users"));
        assert!(!m("public.*", "audit.users"));
        assert!(Glob::new("Users").unwrap().matches_ignore_case("users"));
        assert!(Glob::new("[A-Z]x").unwrap().matches_ignore_case("ax"));
    }

    #[test]
    fn rejects_broken_patterns() {
        assert!(Glob::new("users[").unwrap_err().contains("never closed"));
        assert!(Glob::new("[a-").unwrap_err().contains("never closed"));
        assert!(Glob::new("x]").unwrap_err().contains("without a matching"));
        assert!(Glob::new("a\\").unwrap_err().contains("lone"));
        assert!(Glob::new("[z-a]").unwrap_err().contains("reversed"));
        assert!(Glob::new("").unwrap_err().contains("empty"));
    }

    #[test]
    fn qualified_means_an_unescaped_dot() {
        assert!(Glob::new("public.users").unwrap().is_qualified());
        assert!(!Glob::new("users").unwrap().is_qualified());
        assert!(!Glob::new("a\\.b").unwrap().is_qualified());
    }
}
