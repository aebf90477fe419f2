//! How an UPDATE's preview shows a changed value: whole, as `old → new`,
//! when that reads best (a short value, NULL on either side, or values
//! that share less than half their text), and otherwise as a word-level
//! diff of the long value, `[-removed-]{+added+}` around the changed words
//! only, consecutive changed words grouped into one pair. A diff by
//! character marked every letter of a case change on its own
//! (`[-M-]{+m+}ary`), which no one could read.

use similar::{ChangeTag, TextDiff};

use super::Change;
use super::render::{Style, paint};

/// Values up to this many characters are shown whole: they fit in a
/// glance, and a diff would only break them up.
const WHOLE_UP_TO: usize = 30;

/// The line of one changed column: `column: ...`.
pub(super) fn change_line(c: &Change, style: Style) -> String {
    let before = c.before.as_deref().unwrap_or("NULL");
    let after = c.after.as_deref().unwrap_or("NULL");
    if c.before == c.after {
        return format!("{}: {before} (unchanged)", c.column);
    }
    let short = before.chars().count().max(after.chars().count()) <= WHOLE_UP_TO;
    let diffed = match (&c.before, &c.after) {
        (Some(b), Some(a)) if !short => word_diff(b, a, style),
        _ => None,
    };
    match diffed {
        Some(d) => format!("{}: {d}", c.column),
        None => format!(
            "{}: {} → {}",
            c.column,
            paint(style, "31", before),
            paint(style, "32", after)
        ),
    }
}

/// The word-level diff of two values, or `None` when less than half of
/// the longer one is unchanged (the whole values read better then).
fn word_diff(before: &str, after: &str, style: Style) -> Option<String> {
    let diff = TextDiff::from_words(before, after);
    let mut group = Group::default();
    let mut out = String::new();
    let mut kept = 0;
    for op in diff.iter_all_changes() {
        let v = op.value();
        match op.tag() {
            // Whitespace between changed words joins their group.
            ChangeTag::Equal if v.trim().is_empty() && !group.is_empty() => group.gap.push_str(v),
            ChangeTag::Equal => {
                group.flush(style, &mut out);
                out.push_str(v);
                kept += v.chars().count();
            }
            ChangeTag::Delete => group.removed(v, style, &mut out),
            ChangeTag::Insert => group.added(v, style, &mut out),
        }
    }
    group.flush(style, &mut out);
    let longer = before.chars().count().max(after.chars().count());
    (kept * 2 >= longer).then_some(out)
}

/// Consecutive changed words: what they were, what they are, and the
/// whitespace seen after them that may still join the group.
#[derive(Default)]
struct Group {
    del: String,
    ins: String,
    gap: String,
}

impl Group {
    fn is_empty(&self) -> bool {
        self.del.is_empty() && self.ins.is_empty()
    }

    fn removed(&mut self, v: &str, style: Style, out: &mut String) {
        self.join_gap(!self.del.is_empty(), style, out);
        self.del.push_str(v);
    }

    fn added(&mut self, v: &str, style: Style, out: &mut String) {
        self.join_gap(!self.ins.is_empty(), style, out);
        self.ins.push_str(v);
    }

    /// Whitespace between two changes belongs to the group when the
    /// change continues one of its sides (`[-kappa lambda-]`); a change
    /// that would start a side after it starts a new group instead, so no
    /// side begins with a space.
    fn join_gap(&mut self, same_side: bool, style: Style, out: &mut String) {
        if self.gap.is_empty() {
            return;
        }
        if same_side {
            let gap = std::mem::take(&mut self.gap);
            for side in [&mut self.del, &mut self.ins] {
                if !side.is_empty() {
                    side.push_str(&gap);
                }
            }
        } else {
            self.flush(style, out);
        }
    }

    /// Writes the group (and the whitespace after it) and empties it.
    fn flush(&mut self, style: Style, out: &mut String) {
        if !self.del.is_empty() {
            out.push_str(&paint(style, "31", &format!("[-{}-]", self.del)));
        }
        if !self.ins.is_empty() {
            out.push_str(&paint(style, "32", &format!("{{+{}+}}", self.ins)));
        }
        out.push_str(&self.gap);
        *self = Group::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(before: Option<&str>, after: Option<&str>, color: bool) -> String {
        let c = Change {
            column: "v".into(),
            before: before.map(str::to_owned),
            after: after.map(str::to_owned),
        };
        let style = Style {
            color,
            samples: false,
            detail: false,
        };
        change_line(&c, style)
    }

    #[test]
    fn a_case_change_is_shown_whole() {
        assert_eq!(
            line(
                Some("MARY.SMITH@EXAMPLE.COM"),
                Some("mary.smith@example.com"),
                false
            ),
            "v: MARY.SMITH@EXAMPLE.COM → mary.smith@example.com"
        );
    }

    #[test]
    fn one_word_of_a_long_text_is_diffed_by_word() {
        assert_eq!(
            line(
                Some("the report was approved by the finance committee on Monday"),
                Some("the report was rejected by the finance committee on Monday"),
                false
            ),
            "v: the report was [-approved-]{+rejected+} by the finance committee on Monday"
        );
    }

    #[test]
    fn neighbouring_changed_words_are_one_group() {
        assert_eq!(
            line(
                Some("alpha beta gamma delta epsilon zeta eta theta kappa lambda"),
                Some("alpha beta gamma delta epsilon zeta eta theta mu nu"),
                false
            ),
            "v: alpha beta gamma delta epsilon zeta eta theta [-kappa lambda-]{+mu nu+}"
        );
    }

    #[test]
    fn values_with_little_in_common_are_shown_whole() {
        let before = "one two three four five six seven eight";
        let after = "nine ten eleven twelve thirteen fourteen";
        assert_eq!(
            line(Some(before), Some(after), false),
            format!("v: {before} → {after}")
        );
        assert_eq!(line(None, Some(after), false), format!("v: NULL → {after}"));
    }

    #[test]
    fn colors_paint_the_changed_words() {
        assert_eq!(
            line(
                Some("Die Straße nach Köln führt über Düsseldorf nach Duisburg"),
                Some("Die Straße nach Köln führt über Düsseldorf nach Essen"),
                true
            ),
            "v: Die Straße nach Köln führt über Düsseldorf nach \u{1b}[31m[-Duisburg-]\u{1b}[0m\u{1b}[32m{+Essen+}\u{1b}[0m"
        );
        assert_eq!(
            line(Some("a"), Some("b"), true),
            "v: \u{1b}[31ma\u{1b}[0m → \u{1b}[32mb\u{1b}[0m"
        );
    }
}
