//! The session's own settings, psql's way: `\pset` (how results look:
//! `null`, `format`, `border`, `pager`), `\set`/`\unset`/`\echo`
//! (variables, interpolated as `:name`, `:'name'` and `:"name"` in
//! statements and meta commands), and `\o` (read results to a file).
//!
//! A variable only changes the text typed: the statement it makes goes
//! through the guard like any other.

use std::collections::BTreeMap;

use super::Shell;
use super::pager::PagerMode;
use super::render::OutputFormat;
use crate::error::{Error, Result};

/// Splits a meta command's argument into words, psql's way: a `'...'`
/// word may hold spaces (`''` is a quote), and is taken as written.
pub(crate) fn words(arg: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = arg.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            if c != '\'' {
                word.push(c);
                continue;
            }
            while let Some(q) = chars.next() {
                match q {
                    '\'' if chars.peek() == Some(&'\'') => {
                        chars.next();
                        word.push('\'');
                    }
                    '\'' => break,
                    q => word.push(q),
                }
            }
        }
        out.push(word);
    }
    out
}

impl Shell {
    /// `\pset [OPTION [VALUE]]`.
    pub(crate) fn pset(&mut self, arg: Option<&str>) -> Result<()> {
        let words = arg.map(words).unwrap_or_default();
        let Some(option) = words.first() else {
            let text = ["border", "format", "null", "pager"]
                .iter()
                .map(|o| self.pset_line(o))
                .collect::<Vec<_>>()
                .join("");
            return self.print(&text);
        };
        let value = words.get(1).map(String::as_str);
        match (option.as_str(), value) {
            ("null", v) => self.display.null = v.unwrap_or_default().to_owned(),
            ("format", Some(v)) => self.display.format = format_named(v)?,
            ("format", None) => {}
            ("border", Some(v)) => self.display.border = border_named(v)?,
            ("border", None) => {}
            ("pager", v) => self.pager = pager_named(v, self.pager)?,
            (other, _) => {
                return Err(Error::input(format!(
                    "\\pset: unknown option: {other}\nOptions: null, format, border, pager."
                )));
            }
        }
        let line = self.pset_line(option);
        self.print(&line)
    }

    /// psql's line for one `\pset` option.
    fn pset_line(&self, option: &str) -> String {
        match option {
            "null" => format!("Null display is \"{}\".\n", self.display.null),
            "format" => format!(
                "Output format is {}.\n",
                match self.display.format {
                    OutputFormat::Aligned => "aligned",
                    OutputFormat::Unaligned => "unaligned",
                    OutputFormat::Csv => "csv",
                }
            ),
            "border" => format!("Border style is {}.\n", self.display.border),
            _ => format!("Pager usage is {}.\n", self.pager.word()),
        }
    }

    /// `\set` (list), `\set NAME [VALUE ...]`.
    pub(crate) fn set_var(&mut self, arg: Option<&str>) -> Result<()> {
        let words = arg.map(words).unwrap_or_default();
        let Some((name, value)) = words.split_first() else {
            let text: String = self
                .vars
                .iter()
                .map(|(k, v)| format!("{k} = '{v}'\n"))
                .collect();
            return self.print(&text);
        };
        if !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(Error::input(format!(
                "\\set: invalid variable name: \"{name}\""
            )));
        }
        self.vars.insert(name.clone(), value.concat());
        Ok(())
    }

    /// `\unset NAME`.
    pub(crate) fn unset_var(&mut self, arg: Option<&str>) -> Result<()> {
        let name = arg.ok_or_else(|| Error::input("\\unset: missing required argument"))?;
        self.vars.remove(name.trim());
        Ok(())
    }

    /// `\echo TEXT ...`.
    pub(crate) fn echo(&mut self, arg: Option<&str>) -> Result<()> {
        let text = arg.map(words).unwrap_or_default().join(" ");
        self.print(&format!("{text}\n"))
    }

    /// `\o [FILE]`: read results go to FILE, or back to the terminal. A
    /// write's preview and its questions stay on the terminal: nobody
    /// confirms what they cannot see.
    pub(crate) fn output_to(&mut self, arg: Option<&str>) -> Result<()> {
        let Some(path) = arg.map(words).and_then(|w| w.into_iter().next()) else {
            self.results = None;
            return Ok(());
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(format!("\\o: cannot open {path}: {e}")))?;
        self.results = Some(Box::new(file));
        Ok(())
    }
}

/// `:name`, `:'name'` (a quoted literal) and `:"name"` (a quoted
/// identifier) replaced by the variable's value where `at` says a colon
/// stands at the top level. Unknown names stay as typed, as in psql.
pub(crate) fn interpolate(text: &str, at: &[usize], vars: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for &i in at {
        if i < last {
            continue;
        }
        let rest = &text[i + 1..];
        let (quote, body) = match rest.chars().next() {
            Some(q @ ('\'' | '"')) => (Some(q), &rest[1..]),
            _ => (None, rest),
        };
        let len = body
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(body.len());
        let name = &body[..len];
        let closed = quote.is_none_or(|q| body[len..].starts_with(q));
        let Some(value) = vars.get(name).filter(|_| !name.is_empty() && closed) else {
            continue;
        };
        let replaced = match quote {
            None => value.clone(),
            Some('\'') => format!("'{}'", value.replace('\'', "''")),
            Some(_) => format!("\"{}\"", value.replace('"', "\"\"")),
        };
        out.push_str(&text[last..i]);
        out.push_str(&replaced);
        last = i + 1 + quote.map_or(0, |_| 2) + len;
    }
    out.push_str(&text[last..]);
    out
}

fn format_named(v: &str) -> Result<OutputFormat> {
    match v {
        "aligned" | "wrapped" => Ok(OutputFormat::Aligned),
        "unaligned" => Ok(OutputFormat::Unaligned),
        "csv" => Ok(OutputFormat::Csv),
        other => Err(Error::input(format!(
            "\\pset: allowed formats are aligned, unaligned, csv (not {other})"
        ))),
    }
}

fn border_named(v: &str) -> Result<u8> {
    match v.parse::<u8>() {
        Ok(n @ 0..=2) => Ok(n),
        _ => Err(Error::input(format!(
            "\\pset: border is 0, 1 or 2 (not {v})"
        ))),
    }
}

fn pager_named(v: Option<&str>, now: PagerMode) -> Result<PagerMode> {
    match v {
        None => Ok(if now == PagerMode::Off {
            PagerMode::On
        } else {
            PagerMode::Off
        }),
        Some("on") => Ok(PagerMode::On),
        Some("off") => Ok(PagerMode::Off),
        Some("always") => Ok(PagerMode::Always),
        Some(other) => Err(Error::input(format!(
            "\\pset: pager is on, off or always (not {other})"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_quoted_spaces() {
        assert_eq!(words("null '(null)'"), ["null", "(null)"]);
        assert_eq!(words("a 'it''s here' b"), ["a", "it's here", "b"]);
    }

    #[test]
    fn variables_interpolate_three_ways() {
        let vars: BTreeMap<String, String> = [
            ("id".to_owned(), "5".to_owned()),
            ("n".to_owned(), "O'Brien".to_owned()),
        ]
        .into();
        let text = "SELECT :id, :'n', :\"n\", :missing";
        let at: Vec<usize> = text.match_indices(':').map(|(i, _)| i).collect();
        assert_eq!(
            interpolate(text, &at, &vars),
            "SELECT 5, 'O''Brien', \"O'Brien\", :missing"
        );
    }
}
