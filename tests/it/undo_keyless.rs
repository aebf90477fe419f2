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
