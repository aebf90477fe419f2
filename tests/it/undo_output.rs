//! What an undo shows, and how it ends when that cannot be shown: found by
//! the review of the change pipeline (issue 13).

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;

use dbguard::db::Engine;

use crate::apply::{Db, assert_exit, exec_yes, undo_yes};
use crate::helpers::*;

const SCHEMA: &str = "CREATE TABLE k (id INTEGER PRIMARY KEY, v TEXT);
     INSERT INTO k VALUES (1, 'a'), (2, 'b');";

/// An undo whose plan could not be shown (its reader left, as after
/// `| head`) undoes nothing and fails: exit 0 would say it was done.
#[test]
fn an_undo_whose_plan_cannot_be_shown_is_not_applied() {
    let db = Db::new(Engine::Sqlite, SCHEMA);
    let j = db.machine();
    let id = exec_yes(&j, &db, "DELETE FROM k WHERE id = 1", &[]).to_string();
    let deleted = db.dump();
    let (gone, end) = UnixStream::pair().unwrap();
    drop(gone);
    let o = j
        .command(&["undo", "apply", &id, "--yes"])
        .stdin(std::process::Stdio::null())
        .stdout(OwnedFd::from(end))
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("could not be shown"), "{err}");
    assert_eq!(db.dump(), deleted, "the undo ran unseen");
    let o = j.run(&["undo", "apply", &id, "--yes"]);
    assert_exit(&o, 0, "the change stays undoable");
}

/// `undo apply --dry-run` of a change that cannot be undone says in its
/// JSON that it was a dry run, as it did before the pipeline.
#[test]
fn a_dry_run_with_conflicts_says_it_was_a_dry_run() {
    let db = Db::new(Engine::Sqlite, SCHEMA);
    let j = db.machine();
    let id = exec_yes(&j, &db, "DELETE FROM k WHERE id = 1", &[]).to_string();
    db.plain("INSERT INTO k VALUES (1, 'back')");
    for (dry_run, flag) in [(true, "--dry-run"), (false, "--yes")] {
        let o = j.run(&["undo", "apply", &id, flag, "--format", "json"]);
        assert_exit(&o, 5, flag);
        let v = last_json(&o);
        assert_eq!(v["dry_run"], dry_run, "{flag}: {v}");
        assert_eq!(
            v["plan"]["conflicts"].as_array().map(Vec::len),
            Some(1),
            "{v}"
        );
    }
}

/// SQLite lets a non-integer primary key hold NULL (a legacy quirk the
/// docs keep for compatibility). Such a row is still a row: its
/// after-image is captured, and undoing the change restores it exactly.
#[test]
fn sqlite_rows_keyed_by_null_are_captured_and_undone() {
    let db = Db::new(
        Engine::Sqlite,
        "CREATE TABLE n (k TEXT PRIMARY KEY, v INT);
         INSERT INTO n VALUES (NULL, 1), ('a', 2);",
    );
    let j = db.machine();
    let before = db.dump();
    let updated = exec_yes(&j, &db, "UPDATE n SET v = v + 10", &[]);
    let o = j.run(&["undo", "show", &updated.to_string(), "--format", "json"]);
    assert_exit(&o, 0, "undo show");
    let shown = last_json(&o);
    let null_keyed = shown["rows"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["key"] == serde_json::json!([null])))
        .unwrap_or_else(|| panic!("no NULL-keyed row recorded: {shown}"));
    assert_eq!(
        null_keyed["after"],
        serde_json::json!([null, {"int": "11"}]),
        "the NULL-keyed row's after-image: {shown}"
    );
    let inserted = exec_yes(&j, &db, "INSERT INTO n VALUES ('b', 3)", &[]);
    undo_yes(&j, inserted, &[]);
    undo_yes(&j, updated, &[]);
    assert_eq!(db.dump(), before, "undo restored every row");
}

/// Ctrl-C while `undo apply` waits on the database cancels what runs, as
/// in the shell: the process ends with an error of its own (not killed by
/// the signal), nothing is undone, and the change stays undoable.
#[test]
fn ctrl_c_cancels_a_waiting_undo() {
    let db = Db::new(Engine::Postgres, SCHEMA);
    let Db::Pg(pg) = &db else { unreachable!() };
    let j = db.machine();
    let id = exec_yes(&j, &db, "DELETE FROM k WHERE id = 1", &[]).to_string();
    let deleted = db.dump();
    let mut holder = pg.client();
    let mut lock = holder.transaction().unwrap();
    lock.batch_execute("LOCK TABLE k IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let child = j
        .command(&["undo", "apply", &id, "--yes", "--lock-timeout", "60"])
        .args(["--statement-timeout", "60"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let o = child.wait_with_output().unwrap();
    lock.rollback().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "killed by the signal? {err}");
    assert!(err.contains("cancel"), "{err}");
    assert_eq!(db.dump(), deleted, "the cancelled undo changed the table");
    let o = j.run(&["undo", "apply", &id, "--yes"]);
    assert_exit(&o, 0, "the change stays undoable");
}

/// A SQLite table keyed by text still has a rowid, which is what finds its
/// updated rows again. The undo of an UPDATE gives the rows their
/// before-images back and records them as its own after-images.
#[test]
fn sqlite_undo_of_an_update_of_a_table_keyed_by_text() {
    let db = Db::new(
        Engine::Sqlite,
        "CREATE TABLE n (k TEXT PRIMARY KEY, v INT);
         INSERT INTO n VALUES ('a', 1), ('b', 2);",
    );
    let j = db.machine();
    let before = db.dump();
    let id = exec_yes(&j, &db, "UPDATE n SET v = v + 10", &[]);
    let after = db.dump();
    let (undo_id, _) = undo_yes(&j, id, &[]);
    assert_eq!(db.dump(), before, "the undo restored every row");
    undo_yes(&j, undo_id, &[]);
    assert_eq!(db.dump(), after, "the undo of the undo");
}
