//! A server error on a read shows where it is, as psql shows it (issue 17,
//! item 8a): the statement's line with a caret under the position the
//! server gave, then DETAIL and HINT; the SQLSTATE is in the JSON output.
//! SQLite's prepare errors at a token get the same caret.

use crate::helpers::*;

const PG: &str = "create table t(id int primary key, name text);
    insert into t values (1, 'a');";

fn error_of(target: &str, sql: &str) -> String {
    let out = run(&["exec", target, "-c", sql]);
    assert_eq!(out.status.code(), Some(1), "{sql}: {}", stdout(&out));
    stderr(&out)
}

#[test]
fn a_postgres_error_points_at_its_position() {
    let db = PgDb::with(PG);
    insta::assert_snapshot!("pg_error_caret", error_of(&db.url, "SELECT nme FROM t;"));
    // The second line of a statement, with its number; a leading comment
    // is part of the text sent, so the caret still counts right.
    insta::assert_snapshot!(
        "pg_error_caret_line_2",
        error_of(&db.url, "/* who */ SELECT id,\n\tnme\nFROM t")
    );
    insta::assert_snapshot!(
        "pg_error_caret_detail",
        error_of(&db.url, "select id from t where name = any('{a,b'::text[])")
    );
}

#[test]
fn a_long_line_is_cut_around_the_caret() {
    let db = PgDb::with(PG);
    let sql = format!(
        "SELECT {} nme FROM t",
        (1..30).map(|i| format!("{i} AS c{i},")).collect::<String>()
    );
    insta::assert_snapshot!("pg_error_caret_long", error_of(&db.url, &sql));
}

#[test]
fn json_output_keeps_the_sqlstate() {
    let db = PgDb::with(PG);
    let out = run(&[
        "exec",
        &db.url,
        "--format",
        "json",
        "-c",
        "SELECT nme FROM t",
    ]);
    let v = last_json(&out);
    assert_eq!(v["sqlstate"], "42703", "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("LINE 1: SELECT nme FROM t"),
        "{v}"
    );
}

#[test]
fn a_sqlite_prepare_error_points_at_its_token() {
    let db = SqliteDb::with("create table t(id integer primary key, name text);");
    insta::assert_snapshot!(
        "sqlite_error_caret",
        error_of(&db.target(), "SELECT id,\n  nme FROM t")
    );
}
