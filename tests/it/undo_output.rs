//! What an undo shows, and how it ends when that cannot be shown: found by
//! the review of the change pipeline (issue 13).

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;

use dbguard::db::Engine;

use crate::apply::{Db, assert_exit, exec_yes};
use crate::helpers::*;

const SCHEMA: &str = "CREATE TABLE k (id INTEGER PRIMARY KEY, v TEXT);
     INSERT INTO k VALUES (1, 'a'), (2, 'b');";

/// An undo whose plan could not be shown (its reader left, as after
/// `| head`) undoes nothing and fails: exit 0 would say it was done.
#[test]
fn an_undo_whose_plan_cannot_be_shown_is_not_applied() {
    let db = Db::new(Engine::Sqlite, SCHEMA);
    let j = JournalDir::new();
    let id = exec_yes(&j, &db, "DELETE FROM k WHERE id = 1", &[]).to_string();
    let deleted = db.dump();
    let (gone, end) = UnixStream::pair().unwrap();
    drop(gone);
    let o = dbguard(j.dir.path())
        .arg("--journal")
        .arg(&j.path)
        .args(["undo", "apply", &id, "--yes"])
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
    let j = JournalDir::new();
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
