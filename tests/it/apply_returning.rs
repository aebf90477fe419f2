//! An applied write's own `RETURNING` list (issue 17, item 7): the rows
//! the engine returned in the guarded transaction are printed after the
//! apply report, as the table a read prints (text), or as the write
//! object's `returning` field (JSON), on both engines.
//!
//! What the engine returns is found by running the same statement with a
//! plain client in a transaction that is rolled back, before dbguard
//! applies it (UPDATE, DELETE), or by the rows the returned keys name
//! afterwards (INSERT, whose sequence moves on in a rolled-back run).

use dbguard::db::Engine;
use serde_json::Value as Json;

use crate::apply::{Db, assert_exit};
use crate::helpers::*;

const PEOPLE: &str = "
CREATE TABLE people (id integer PRIMARY KEY, email text NOT NULL, score integer);
INSERT INTO people (id, email, score) VALUES
  (1, 'MARY.SMITH@EXAMPLE.COM', 10), (2, 'John.Doe@Example.com', NULL),
  (3, 'ann@example.com', 30), (4, 'bob@example.com', 40), (5, 'eve@example.com', 50);
";

/// The rows `sql` returns on `db`, each value in the engine's text form
/// (NULL as `None`), run in a transaction that is rolled back.
fn returned_by_engine(db: &Db, sql: &str) -> Vec<Vec<Option<String>>> {
    match db {
        Db::Pg(pg) => {
            let mut client = pg.client();
            let mut tx = client.transaction().expect("begin");
            let rows = tx
                .simple_query(sql)
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .into_iter()
                .filter_map(|m| match m {
                    postgres::SimpleQueryMessage::Row(r) => {
                        Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
                    }
                    _ => None,
                })
                .collect();
            tx.rollback().expect("rollback");
            rows
        }
        Db::Lite(lite) => {
            let mut conn = lite.conn();
            let tx = conn.transaction().expect("begin");
            let rows = sqlite_rows(&tx, sql)
                .into_iter()
                .map(|r| r.into_iter().map(sqlite_text).collect())
                .collect();
            tx.rollback().expect("rollback");
            rows
        }
    }
}

/// A SQLite value as dbguard shows it: integers in decimal, text as is.
fn sqlite_text(v: SqlVal) -> Option<String> {
    match v {
        SqlVal::Null => None,
        SqlVal::Int(i) => Some(i.to_string()),
        SqlVal::Text(t) => Some(String::from_utf8(t).expect("utf-8 text")),
        other => panic!("no such value in these tests: {other:?}"),
    }
}

/// The `returning` rows of a write's JSON object, as text or `None`.
fn json_rows(v: &Json) -> Vec<Vec<Option<String>>> {
    v["returning"]["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("no returning rows in {v}"))
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap_or_else(|| panic!("a row is not an array: {r}"))
                .iter()
                .map(|c| c.as_str().map(str::to_owned))
                .collect()
        })
        .collect()
}

fn json_columns(v: &Json) -> Vec<String> {
    v["returning"]["columns"]
        .as_array()
        .unwrap_or_else(|| panic!("no returning columns in {v}"))
        .iter()
        .map(|c| c.as_str().unwrap_or_default().to_owned())
        .collect()
}

/// `exec SQL --yes --format json` (plus `extra`): its one JSON object.
#[track_caller]
fn apply_json(j: &JournalDir, db: &Db, sql: &str, extra: &[&str]) -> Json {
    let target = db.target();
    let mut args = vec!["exec", &target, "-c", sql, "--yes", "--format", "json"];
    args.extend_from_slice(extra);
    let o = j.run(&args);
    assert_exit(&o, 0, sql);
    last_json(&o)
}

/// `exec SQL --yes` (plus `extra`) in text: its output.
#[track_caller]
fn apply_text(j: &JournalDir, db: &Db, sql: &str, extra: &[&str]) -> String {
    let target = db.target();
    let mut args = vec!["exec", &target, "-c", sql, "--yes"];
    args.extend_from_slice(extra);
    let o = j.run(&args);
    assert_exit(&o, 0, sql);
    stdout(&o)
}

/// What dbguard prints for a read of `sql` (the table and its footer).
fn read_text(j: &JournalDir, db: &Db, sql: &str) -> String {
    let target = db.target();
    let o = j.run(&["exec", &target, "-c", sql]);
    assert_exit(&o, 0, sql);
    stdout(&o)
}

fn insert_returns_the_new_keys(engine: Engine) {
    let db = Db::new(engine, PEOPLE);
    let j = db.machine();
    let sql = "INSERT INTO people (id, email) SELECT max(id) + 1, 'new@example.com' FROM people \
               RETURNING id, email, score";
    let v = apply_json(&j, &db, sql, &[]);
    assert_eq!(json_columns(&v), ["id", "email", "score"], "{v}");
    assert_eq!(
        json_rows(&v),
        [[
            Some("6".to_owned()),
            Some("new@example.com".to_owned()),
            None
        ]],
        "{v}"
    );
    assert_eq!(v["returning"]["row_count"], 1, "{v}");
    // The key returned is the row committed.
    assert_eq!(
        target_i64(
            &db.target(),
            "SELECT count(*) FROM people WHERE id = 6 AND email = 'new@example.com'"
        ),
        1
    );
    // An INSERT without a list of its own returns nothing to show.
    let v = apply_json(
        &j,
        &db,
        "INSERT INTO people (id, email) VALUES (7, 'x@example.com')",
        &[],
    );
    assert!(v.get("returning").is_none(), "{v}");
}

#[test]
fn insert_returning_pg() {
    insert_returns_the_new_keys(Engine::Postgres);
}

#[test]
fn insert_returning_sqlite() {
    insert_returns_the_new_keys(Engine::Sqlite);
}

fn update_returns_old_and_new(engine: Engine) {
    let db = Db::new(engine, PEOPLE);
    let j = db.machine();
    // Postgres reads the old value through a join to the row as it was;
    // SQLite's RETURNING may name only the table it changes, so the old
    // value is kept in the new row's other column.
    let sql = match engine {
        Engine::Postgres => {
            "UPDATE people SET email = lower(people.email), score = coalesce(people.score, 0) + 1 \
             FROM people AS o WHERE o.id = people.id AND people.id IN (1, 2) \
             RETURNING people.id, o.email AS old_email, people.email AS new_email, people.score"
        }
        Engine::Sqlite => {
            "UPDATE people SET email = lower(email), score = coalesce(score, 0) + 1 \
             WHERE id IN (1, 2) \
             RETURNING id, upper(email) AS old_email, email AS new_email, score"
        }
    };
    let want = returned_by_engine(&db, sql);
    assert_eq!(want.len(), 2, "{want:?}");
    assert_ne!(want[0][1], want[0][2], "{want:?}");
    let v = apply_json(&j, &db, sql, &[]);
    assert_eq!(
        json_columns(&v),
        ["id", "old_email", "new_email", "score"],
        "{v}"
    );
    assert_eq!(json_rows(&v), want, "{v}");
    assert_eq!(
        target_i64(
            &db.target(),
            "SELECT count(*) FROM people WHERE email = 'mary.smith@example.com' AND score = 11"
        ),
        1
    );
}

#[test]
fn update_returning_pg() {
    update_returns_old_and_new(Engine::Postgres);
}

#[test]
fn update_returning_sqlite() {
    update_returns_old_and_new(Engine::Sqlite);
}

fn delete_returns_every_column(engine: Engine) {
    let db = Db::new(engine, PEOPLE);
    let j = db.machine();
    let sql = "DELETE FROM people WHERE id = 3 RETURNING *";
    let want = returned_by_engine(&db, sql);
    assert_eq!(want.len(), 1, "{want:?}");
    // In text, the table a read of those rows prints.
    let table = read_text(&j, &db, "SELECT * FROM people WHERE id = 3");
    let out = apply_text(&j, &db, sql, &[]);
    let applied = out
        .find("Applied as change")
        .unwrap_or_else(|| panic!("not applied:\n{out}"));
    assert!(
        out[applied..].contains(&table),
        "the returned rows are not printed after the report as a read prints them:\n{table}\nin:\n{out}"
    );
    assert_eq!(
        target_i64(&db.target(), "SELECT count(*) FROM people WHERE id = 3"),
        0
    );
    // JSON: the rows the engine returns for the same statement.
    let sql = "DELETE FROM people WHERE id = 4 RETURNING *";
    let want = returned_by_engine(&db, sql);
    let v = apply_json(&j, &db, sql, &[]);
    assert_eq!(json_columns(&v), ["id", "email", "score"], "{v}");
    assert_eq!(json_rows(&v), want, "{v}");
}

#[test]
fn delete_returning_pg() {
    delete_returns_every_column(Engine::Postgres);
}

#[test]
fn delete_returning_sqlite() {
    delete_returns_every_column(Engine::Sqlite);
}

/// Rows beyond the display limit are counted, not kept, as a read's are.
fn many_rows_respect_the_display_limit(engine: Engine) {
    let db = Db::new(engine, PEOPLE);
    let j = db.machine();
    let sql = "UPDATE people SET score = 1 WHERE id > 1 RETURNING id";
    let out = apply_text(&j, &db, sql, &["--display-limit", "2"]);
    assert!(
        out.contains("(4 rows)\n(showing the first 2 of 4 rows; \\limit N shows more)\n"),
        "{out}"
    );
    let sql = "DELETE FROM people WHERE id > 1 RETURNING id";
    let v = apply_json(&j, &db, sql, &["--display-limit", "2"]);
    assert_eq!(v["returning"]["row_count"], 4, "{v}");
    assert_eq!(json_rows(&v).len(), 2, "{v}");
}

#[test]
fn display_limit_returning_pg() {
    many_rows_respect_the_display_limit(Engine::Postgres);
}

#[test]
fn display_limit_returning_sqlite() {
    many_rows_respect_the_display_limit(Engine::Sqlite);
}
