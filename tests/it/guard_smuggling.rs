//! Issue 15, finding 1: statement smuggling. Text that dbguard's parser
//! reads as one read (or one session statement) while the server reads
//! it as several: PostgreSQL continues a string across a newline
//! (`E'x'` newline `'...'` stays an escape string), and with
//! `standard_conforming_strings` off a backslash escapes a quote in any
//! string. The embedded `COMMIT` would end the read-only transaction and
//! the `DELETE` after it would run unguarded.
//!
//! Each variant from the finding (exec, an `EXPLAIN` prefix, piped into
//! the shell, after `set_config('standard_conforming_strings', 'off',
//! false)`, and a session statement) must leave every row in place: the
//! server is handed the operator's text only where it has parsed it as
//! exactly one statement.

use std::process::Output;

use crate::helpers::*;

const T: &str = "create table t(id int primary key); insert into t values (1), (2), (3);";

/// `E'x'`, a newline, then what the server keeps in the escape string
/// (`\'` is an escaped quote there) and sqlparser does not.
const CONTINUED: &str = "E'x'\n'\\''; commit; delete from t; --'";

fn rows_left(db: &PgDb) -> i64 {
    db.client()
        .query_one("select count(*) from t", &[])
        .expect("count")
        .get(0)
}

/// Nothing was deleted, and dbguard did not report success.
#[track_caller]
fn held(db: &PgDb, out: &Output, what: &str) {
    assert_eq!(
        rows_left(db),
        3,
        "{what}: rows were deleted\nstdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
    assert_ne!(
        out.status.code(),
        Some(0),
        "{what}: reported success\nstdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
}

#[test]
fn a_continued_escape_string_smuggles_nothing_through_exec() {
    let db = PgDb::with(T);
    let sql = format!("/**/select {CONTINUED}");
    let out = run(&["exec", &db.url, "-c", &sql]);
    held(&db, &out, "exec -c");
}

#[test]
fn a_continued_escape_string_smuggles_nothing_behind_explain() {
    let db = PgDb::with(T);
    let sql = format!("EXPLAIN select {CONTINUED}");
    let out = run(&["exec", &db.url, "-c", &sql]);
    held(&db, &out, "exec -c EXPLAIN");
}

#[test]
fn a_continued_escape_string_smuggles_nothing_through_the_shell() {
    let db = PgDb::with(T);
    let out = run_with_stdin(&[&db.url], &format!("/**/select {CONTINUED}\n"));
    held(&db, &out, "piped into the shell");
}

/// With `standard_conforming_strings` off (here from the connection's
/// options: `set_config(..., false)` is refused as a read since finding
/// 2), `'\''` is a string holding a quote to the server, and the start of
/// a longer one to sqlparser. dbguard's transactions, reads included, now
/// read text with standard conforming strings whatever the session says,
/// so its reads report them on.
#[test]
fn a_backslash_quote_smuggles_nothing_once_strings_are_not_standard() {
    let db = PgDb::with(T);
    let url = format!("{}?options=-c%20standard_conforming_strings%3Doff", db.url);
    let mut plain = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let setting: String = plain
        .query_one("SHOW standard_conforming_strings", &[])
        .unwrap()
        .get(0);
    assert_eq!(setting, "off", "the options did not reach the session");
    let script = "show standard_conforming_strings;\n\
                  /**/select 'x'\n'\\''; commit; delete from t; --';\n";
    let out = run_with_stdin(&[&url], script);
    assert!(
        stdout(&out).lines().any(|l| l.trim() == "on"),
        "a dbguard read does not read strings the standard way: {}",
        stdout(&out)
    );
    held(&db, &out, "with standard_conforming_strings off");
}

/// A session statement goes to the server only as the one statement it
/// was taken for. (dbguard's parser refuses this text today; the server's
/// parse, which now comes first, would refuse it too.)
#[test]
fn a_continued_escape_string_smuggles_nothing_through_a_session_statement() {
    let db = PgDb::with(T);
    let sql = format!("set application_name = {CONTINUED}");
    let out = run(&["exec", &db.url, "-c", &sql]);
    held(&db, &out, "SET");
}

/// The same text as the operand of a write's WHERE: the server's own
/// parse of the statement, which the preview starts with, finds three
/// statements, so nothing is counted, shown as the change, or applied.
#[test]
fn a_continued_escape_string_smuggles_nothing_through_a_where_clause() {
    let db = PgDb::with(T);
    let sql = format!("DELETE FROM t WHERE id::text = {CONTINUED}");
    let out = run(&["exec", &db.url, "-c", &sql, "--yes"]);
    held(&db, &out, "DELETE ... WHERE");
}

/// Collects nothing: the reads below must not run.
struct Discard;

impl dbguard::db::RowSink for Discard {
    fn columns(&mut self, _: &[dbguard::db::ColumnMeta]) -> dbguard::Result<()> {
        Ok(())
    }
    fn row(&mut self, _: Vec<dbguard::db::Value>) -> dbguard::Result<()> {
        Ok(())
    }
}

/// Texts of more than one statement, as a classifier fooled some other
/// way would hand them on.
const SEVERAL: [&str; 4] = [
    "/**/select E'x'\n'\\''; commit; delete from t; --'",
    "explain select 1; commit; delete from t",
    "select 1; delete from t",
    "values (1); delete from t",
];

/// Below the classifier: whatever reaches the connection as a read or a
/// session statement, the server parses first, and a second statement is
/// refused before anything runs.
#[test]
fn postgres_runs_only_what_the_server_parses_as_one_statement() {
    use dbguard::db::{Connection, OpenOptions};
    let db = PgDb::with(T);
    let mut conn = Connection::open(Some(&db.url), &OpenOptions::default()).expect("open");
    for text in SEVERAL {
        assert!(conn.run_read(text, &mut Discard).is_err(), "{text:?} ran");
    }
    for text in [
        "set application_name = 'a'; commit; delete from t",
        "set application_name = E'x'\n'\\''; commit; delete from t; --'",
    ] {
        assert!(conn.run_session(text).is_err(), "{text:?} ran");
    }
    assert_eq!(rows_left(&db), 3);
}

/// The same on SQLite, whose reads were prepared one statement at a time
/// already and whose session statements were not.
#[test]
fn sqlite_runs_only_one_statement_as_a_read_or_a_session_statement() {
    use dbguard::db::{Connection, OpenOptions};
    let db = SqliteDb::with(T);
    let mut conn = Connection::open(Some(&db.target()), &OpenOptions::default()).expect("open");
    for text in ["select 1; delete from t", "values (1); delete from t"] {
        assert!(conn.run_read(text, &mut Discard).is_err(), "{text:?} ran");
    }
    for text in [
        "pragma user_version = 7; delete from t",
        "pragma foreign_keys = on; delete from t",
    ] {
        assert!(conn.run_session(text).is_err(), "{text:?} ran");
    }
    let n: i64 = db
        .conn()
        .query_row("select count(*) from t", [], |r| r.get(0))
        .expect("count");
    assert_eq!(n, 3);
}

/// Found by an attack review: `U&"id"` is the column `id` to PostgreSQL
/// and `u & "id"` to dbguard's parser, so `DELETE FROM t WHERE U&"id" = 1`
/// was previewed (and approved, and journaled) as deleting the row where
/// `u & id = 1` while the server deleted the row where `id = 1`. Text with
/// a Unicode-escaped identifier is refused.
#[test]
fn a_unicode_escaped_identifier_is_refused() {
    let db = PgDb::with(
        "create table t (id int primary key, u int not null default 0, note text);
         insert into t values (1, 0, 'IMPORTANT'), (3, 1, 'junk');",
    );
    for sql in [
        "DELETE FROM t WHERE U&\"id\" = 1",
        "delete from t where u&\"\\0069d\" = 1",
        "SELECT * FROM t WHERE U&\"id\" = 1",
    ] {
        let out = run(&["exec", &db.url, "-c", sql, "--yes"]);
        assert_eq!(out.status.code(), Some(1), "{sql}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("Unicode-escaped identifier"),
            "{}",
            stderr(&out)
        );
    }
    let left: i64 = db
        .client()
        .query_one("select count(*) from t", &[])
        .unwrap()
        .get(0);
    assert_eq!(left, 2);
}
