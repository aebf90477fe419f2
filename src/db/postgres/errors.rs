//! How the PostgreSQL driver's errors read: the server's error the way
//! psql prints it (severity, message, the statement's line with a caret
//! under the position, DETAIL, HINT), and what went wrong on the wire
//! otherwise. The SQLSTATE stays reachable through the error's cause.

use postgres::error::{ErrorPosition, SqlState};

use crate::error::Error;

/// Turns a driver error into one readable message: the server's error with
/// its detail and hint, or what went wrong on the wire.
pub(crate) fn describe_error(e: &postgres::Error) -> String {
    describe(e, None)
}

/// `e`'s message, with psql's `LINE n:` and caret when the server gave a
/// position and `sent` says in which text: `(text, skip)` where the server
/// was sent `skip` characters of dbguard's own before `text`.
fn describe(e: &postgres::Error, sent: Option<(&str, usize)>) -> String {
    if let Some(db) = e.as_db_error() {
        if db.code() == &SqlState::QUERY_CANCELED {
            return with_detail("query cancelled".to_owned(), db);
        }
        let mut s = format!("{}: {}", db.severity(), db.message());
        let at = match (db.position(), sent) {
            (Some(ErrorPosition::Original(p)), Some((text, skip))) => {
                // 1-based, in characters of the text sent; a position in
                // dbguard's own prefix is not in what the user typed.
                usize::try_from(*p)
                    .ok()
                    .and_then(|p| p.checked_sub(1 + skip))
                    .and_then(|at| crate::db::text::caret(text, at))
            }
            _ => None,
        };
        if let Some(lines) = at {
            s.push('\n');
            s.push_str(&lines);
        }
        return with_detail(s, db);
    }
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        let text = inner.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = inner.source();
    }
    s
}

fn with_detail(mut s: String, db: &postgres::error::DbError) -> String {
    if let Some(detail) = db.detail() {
        s.push_str("\nDETAIL: ");
        s.push_str(detail);
    }
    if let Some(hint) = db.hint() {
        s.push_str("\nHINT: ");
        s.push_str(hint);
    }
    s
}

/// The SQLSTATE of the server error `e` was made from, if any: psql
/// shows it with `\set VERBOSITY verbose`, dbguard in its JSON output.
pub(crate) fn sqlstate(e: &Error) -> Option<String> {
    e.cause::<postgres::Error>()
        .and_then(postgres::Error::code)
        .map(|c| c.code().to_owned())
}

/// A driver error from running `text` (after `skip` characters of
/// dbguard's own, such as a `DECLARE ... FOR`), shown with the caret
/// under the position the server reported.
pub(super) fn sent_as(e: postgres::Error, text: &str, skip: usize) -> Error {
    let message = describe(&e, Some((text, skip)));
    finish(e, message)
}

/// A driver error as dbguard shows it, keeping the driver error (and its
/// SQLSTATE) as the cause. The server's own errors begin with their
/// severity, as psql shows them.
impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Self {
        let message = describe_error(&e);
        finish(e, message)
    }
}

fn finish(e: postgres::Error, message: String) -> Error {
    let labelled = e
        .as_db_error()
        .is_some_and(|db| db.code() != &SqlState::QUERY_CANCELED);
    let error = Error::database(message).caused_by(e);
    if labelled { error.labelled() } else { error }
}
