//! Tables without a primary key (issue 15, finding 15): their rows are
//! told apart by their values alone, so identical rows are
//! interchangeable and an undo matches them as a multiset. On PostgreSQL
//! an UPDATE of such a table could never be undone (exit 5 forever) and
//! `--force` deleted the row it could not find; now the undo swaps each
//! after-image back for its before-image, copy for copy, and a forced undo
//! never deletes a row it does not put back.

use dbguard::db::Engine;

use crate::apply::{Db, assert_exit, exec_yes, list_entry, rows, undo_yes};
use crate::helpers::*;

const KEYLESS: &str = "CREATE TABLE t (a integer, b text);
     INSERT INTO t VALUES (1, 'x'), (1, 'x'), (2, 'y'), (3, 'w'), (3, 'w'), (3, 'q');";

/// Two identical rows updated to one value, and a third that already
/// held it: undone, the table is as it was; the undo undone, as the
/// update left it.
fn an_update_of_identical_rows_undoes_by_value(engine: Engine) {
    let db = Db::new(engine, KEYLESS);
    let j = db.machine();
    let before = db.dump();
    let id = exec_yes(&j, &db, "UPDATE t SET b = 'q' WHERE a = 3 AND b = 'w'", &[]);
    let after = db.dump();
    assert_eq!(
        rows(&after, "t").iter().filter(|r| r.contains('q')).count(),
        3,
        "{after:?}"
    );
    let (undo, _) = undo_yes(&j, id, &[]);
    assert_eq!(db.dump(), before);
    undo_yes(&j, undo, &[]);
    assert_eq!(db.dump(), after);
}

#[test]
fn pg_an_update_of_identical_rows_undoes_by_value() {
    an_update_of_identical_rows_undoes_by_value(Engine::Postgres);
}

#[test]
fn sqlite_an_update_of_identical_rows_undoes_by_value() {
    an_update_of_identical_rows_undoes_by_value(Engine::Sqlite);
}

/// One of the updated rows changed since: the undo names the conflict
/// (exit 5); forced, it restores nothing of that table's update and
/// deletes nothing, and the entry says what it skipped.
#[test]
fn pg_a_keyless_update_changed_since_conflicts_and_force_deletes_nothing() {
    let db = Db::new(Engine::Postgres, KEYLESS);
    let j = db.machine();
    let id = exec_yes(&j, &db, "UPDATE t SET b = 'z' WHERE a = 1", &[]);
    db.plain("UPDATE t SET b = 'changed' WHERE ctid = (SELECT min(ctid) FROM t WHERE b = 'z')");
    let now = db.dump();
    let o = j.run(&["undo", "apply", &id.to_string(), "--yes"]);
    assert_exit(&o, 5, "an undo whose updated row changed since");
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(
        all.contains("1 of 2 updated row(s) are no longer as the change left them"),
        "{all}"
    );
    assert_eq!(db.dump(), now);
    let (undo, _) = undo_yes(&j, id, &["--force"]);
    assert_eq!(db.dump(), now, "a forced undo deleted or changed a row");
    let entry = list_entry(&j, undo);
    assert!(
        entry["partial"]
            .as_str()
            .is_some_and(|p| p.contains("--force skipped")),
        "{entry}"
    );
}

/// One of two identical rows deleted (picked by its physical place): the
/// undo puts one back, not two, and not none.
fn one_of_two_identical_rows_deleted_comes_back(engine: Engine, sql: &str) {
    let db = Db::new(engine, KEYLESS);
    let j = db.machine();
    let before = db.dump();
    let id = exec_yes(&j, &db, sql, &[]);
    assert_eq!(rows(&db.dump(), "t").len(), 5);
    undo_yes(&j, id, &[]);
    assert_eq!(db.dump(), before);
}

#[test]
fn pg_one_of_two_identical_rows_deleted_comes_back() {
    one_of_two_identical_rows_deleted_comes_back(
        Engine::Postgres,
        "DELETE FROM t WHERE ctid = (SELECT min(ctid) FROM t WHERE a = 1)",
    );
}

#[test]
fn sqlite_one_of_two_identical_rows_deleted_comes_back() {
    one_of_two_identical_rows_deleted_comes_back(
        Engine::Sqlite,
        "DELETE FROM t WHERE rowid = (SELECT min(rowid) FROM t WHERE a = 1)",
    );
}

/// An upsert into a table without a primary key (a UNIQUE column only):
/// nothing tells the rows it updates from the rows it inserts once it has
/// run, so its entry could not be undone, and a forced undo deleted a row
/// it never put back (found by an attack review). Refused before anything
/// runs, saying why; the plain insert into the same table is journaled.
#[test]
fn pg_an_upsert_into_a_keyless_table_is_refused() {
    let db = Db::new(
        Engine::Postgres,
        "CREATE TABLE t (u int UNIQUE, v int); INSERT INTO t VALUES (1, 1);",
    );
    let j = db.machine();
    let before = db.dump();
    let sql = "INSERT INTO t VALUES (1, 10), (2, 20) ON CONFLICT (u) DO UPDATE SET v = excluded.v";
    let o = j.run(&["exec", &db.target(), "-c", sql, "--yes"]);
    assert_exit(&o, 1, "an upsert into a keyless table");
    assert!(stderr(&o).contains("no primary key"), "{}", stderr(&o));
    assert_eq!(db.dump(), before);
    let id = exec_yes(&j, &db, "INSERT INTO t VALUES (3, 30)", &[]);
    undo_yes(&j, id, &[]);
    assert_eq!(db.dump(), before);
}

/// Two NaNs whose bytes differ print alike: copies are counted by their
/// bytes, as the undo compares images, not by their text. The copy of one
/// after-image gone since is a conflict, and no other row is deleted in
/// its place (found by an attack review).
#[test]
fn pg_copies_are_counted_by_their_bytes() {
    let db = Db::new(
        Engine::Postgres,
        "CREATE TABLE t (v float8); INSERT INTO t VALUES (1), (2), ('NaN');",
    );
    let j = db.machine();
    let id = exec_yes(
        &j,
        &db,
        "UPDATE t SET v = CASE WHEN v = 1 THEN 'NaN'::float8 ELSE 'Infinity'::float8 - 'Infinity'::float8 END WHERE v IN (1, 2)",
        &[],
    );
    db.plain("DELETE FROM t WHERE float8send(v) = '\\xfff8000000000000'");
    let now = db.dump();
    let o = j.run(&["undo", "apply", &id.to_string(), "--yes"]);
    assert_exit(&o, 5, "an undo whose after-image is gone");
    assert_eq!(db.dump(), now);
}

/// A column added since an update of a keyless table: putting the rows
/// back by value would drop its values and take rows differing only there
/// for copies, so the undo is refused (found by an attack review).
#[test]
fn pg_a_keyless_update_with_a_column_added_since_is_refused() {
    let db = Db::new(Engine::Postgres, KEYLESS);
    let j = db.machine();
    let id = exec_yes(&j, &db, "UPDATE t SET b = 'z' WHERE a = 1", &[]);
    db.plain("ALTER TABLE t ADD COLUMN note text; UPDATE t SET note = 'kept' WHERE a = 1");
    let now = db.dump();
    let o = j.run(&["undo", "apply", &id.to_string(), "--yes"]);
    assert_exit(&o, 1, "an undo after a column was added");
    assert!(stderr(&o).contains("gained column"), "{}", stderr(&o));
    assert_eq!(db.dump(), now);
}
