//! Plain text handling of one statement, shared by the engines and by the
//! classifier above them.
//!
//! It lives here, at the bottom, because the engines need it to run what
//! they are given (a trailing `;` makes a prepared statement or a cursor
//! fail) and `db` must not reach up into `sql` for it; `sql` re-exports it
//! so there is one implementation.

/// Removes trailing whitespace and semicolons.
pub(crate) fn strip_trailing_semicolons(sql: &str) -> &str {
    sql.trim_end_matches(|c: char| c == ';' || c.is_whitespace())
}

/// Widest stretch of a statement's line shown under an error, as psql
/// (libpq's `DISPLAY_SIZE`).
const LINE_WIDTH: usize = 60;
/// Characters kept right of the caret when a long line is cut on the left
/// (libpq's `MIN_RIGHT_CUT`).
const RIGHT_OF_CARET: usize = 10;

/// The lines psql prints under an error with a position: the statement's
/// line that holds character `at` (0-based, counted in characters of
/// `text`, the text the engine was sent), then a caret under it:
///
/// ```text
/// LINE 2:  nme FROM t
///          ^
/// ```
///
/// A line longer than [`LINE_WIDTH`] is cut around the caret and marked
/// `...`, as psql does. `None` when `at` lies beyond the text: then the
/// text the position counts in is not this one, and no caret is better
/// than one under the wrong word.
pub(crate) fn caret(text: &str, at: usize) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    if at > chars.len() {
        return None;
    }
    let line_start = chars[..at]
        .iter()
        .rposition(|&c| c == '\n')
        .map_or(0, |i| i + 1);
    let line_end = chars[at..]
        .iter()
        .position(|&c| c == '\n')
        .map_or(chars.len(), |i| at + i);
    let number = chars[..line_start].iter().filter(|&&c| c == '\n').count() + 1;
    // Tabs and other control characters would move the caret off its
    // column: each shows as one space.
    let line: Vec<char> = chars[line_start..line_end]
        .iter()
        .map(|&c| if c.is_control() { ' ' } else { c })
        .collect();
    let column = at - line_start;
    let (from, to) = if line.len() <= LINE_WIDTH {
        (0, line.len())
    } else if column + RIGHT_OF_CARET < LINE_WIDTH {
        (0, LINE_WIDTH)
    } else {
        let to = (column + RIGHT_OF_CARET).min(line.len());
        (to.saturating_sub(LINE_WIDTH), to)
    };
    let mut shown: String = line[from..to].iter().collect();
    let mut lead = format!("LINE {number}: ");
    if from > 0 {
        lead.push_str("...");
    }
    if to < line.len() {
        shown.push_str("...");
    }
    let pad = lead.chars().count() + (column - from);
    Some(format!("{lead}{shown}\n{}^", " ".repeat(pad)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caret_sits_under_the_character_on_its_line() {
        assert_eq!(
            caret("SELECT nme FROM t", 7).as_deref(),
            Some("LINE 1: SELECT nme FROM t\n               ^")
        );
        assert_eq!(
            caret("SELECT 1,\n  nme FROM t", 12).as_deref(),
            Some("LINE 2:   nme FROM t\n          ^")
        );
        // At the end of the text ("at end of input").
        assert_eq!(
            caret("SELECT (", 8).as_deref(),
            Some("LINE 1: SELECT (\n                ^")
        );
        assert_eq!(caret("SELECT 1", 9), None);
        // Characters, not bytes.
        assert_eq!(
            caret("SELECT 'ü', nme", 12).as_deref(),
            Some("LINE 1: SELECT 'ü', nme\n                    ^")
        );
    }

    #[test]
    fn long_lines_are_cut_around_the_caret() {
        let long = format!("SELECT {} FROM t WHERE nme = 1", "a, ".repeat(30));
        let at = long.find("nme").unwrap_or_default();
        let shown = caret(&long, at).unwrap_or_default();
        let (line, under) = shown.split_once('\n').unwrap_or_default();
        assert!(line.starts_with("LINE 1: ..."), "{line}");
        assert!(line.ends_with("nme = 1"), "{line}");
        assert_eq!(line.chars().nth(under.len() - 1), Some('n'), "{shown}");
        let early = caret(&long, 0).unwrap_or_default();
        assert!(early.starts_with("LINE 1: SELECT a, "), "{early}");
        assert!(early.lines().next().unwrap_or_default().ends_with("..."));
    }

    #[test]
    fn strips_only_the_tail() {
        assert_eq!(strip_trailing_semicolons("select 1 ; ;\n"), "select 1");
        assert_eq!(strip_trailing_semicolons("select ';'"), "select ';'");
        assert_eq!(strip_trailing_semicolons(" ;; "), "");
    }
}
