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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_only_the_tail() {
        assert_eq!(strip_trailing_semicolons("select 1 ; ;\n"), "select 1");
        assert_eq!(strip_trailing_semicolons("select ';'"), "select ';'");
        assert_eq!(strip_trailing_semicolons(" ;; "), "");
    }
}
