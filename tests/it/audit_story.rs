//! What a session records about a change, and when (issue 14): the
//! records that lead to a change and record no effect of their own (an
//! `exec` session's start, the statement, its preview, verdict and
//! approvals) wait, and commit in the change's own transaction with its
//! record; a change that does not commit leaves them to whatever ends it;
//! a read is on record before its rows are shown.
//!
//! Checked from the outside: the trail's events in order, nothing left
//! staged once the session ended, the chain and the machine's witness in
//! agreement, and after a `kill -9` at either side of the commit, either
//! no trace of the attempt or its whole story, linked by the next session.

use std::os::unix::process::ExitStatusExt;

use dbguard::db::Engine;

use crate::apply::{Db, assert_exit, run_env};
use crate::audit::{ids_and_hashes, library_verify, on_both_engines, records, witness_of};
use crate::helpers::*;

on_both_engines!(
    an_exec_change_commits_its_story_with_it,
    a_read_is_on_record_with_what_waited,
    a_change_that_would_fail_leaves_its_story_at_the_session_end,
    a_crash_before_the_commit_leaves_no_trace_and_after_it_the_whole_story,
);

const SCHEMA: &str = "CREATE TABLE p (id integer PRIMARY KEY, name text);
     CREATE TABLE c (id integer PRIMARY KEY, p_id integer NOT NULL REFERENCES p (id));
     INSERT INTO p VALUES (1, 'a'), (2, 'b'), (3, 'c');
     INSERT INTO c VALUES (10, 3);";

/// What an exec session records of a change it applies, before its end.
const CHANGE_STORY: [&str; 5] = ["session_start", "statement", "preview", "verdict", "apply"];

fn events(db: &Db) -> Vec<String> {
    records(db).into_iter().map(|r| r.event).collect()
}

/// Nothing waits in `audit_pending`, the chain verifies, and the witness
/// holds exactly the trail.
fn settled(db: &Db, j: &JournalDir) {
    assert_eq!(journal_count(&db.target(), "audit_pending"), 0);
    assert_eq!(library_verify(db), None);
    assert_eq!(witness_of(&j.witness()), ids_and_hashes(&records(db)));
}

/// One `exec` of a change: its whole story, in order, the apply naming
/// its change, and the preview's digest the one the apply records.
pub(crate) fn an_exec_change_commits_its_story_with_it(engine: Engine) {
    let db = Db::new(engine, SCHEMA);
    let j = db.machine();
    let sql = "DELETE FROM p WHERE id = 2";
    let change = exec_apply(&j, sql);
    assert_eq!(events(&db), [&CHANGE_STORY[..], &["session_end"]].concat());
    let trail = records(&db);
    assert_eq!(trail[1].detail["statement"], sql);
    assert_eq!(trail[1].detail["kind"], "delete");
    assert_eq!(trail[4].change_id, Some(change));
    assert_eq!(
        trail.iter().filter(|r| r.change_id.is_some()).count(),
        1,
        "only the apply names the change: {trail:#?}"
    );
    assert_eq!(
        trail[2].detail["digest"], trail[4].detail["digest"],
        "the apply records the digest previewed: {trail:#?}"
    );
    settled(&db, &j);
}

/// A read's statement is appended before its rows are shown, with the
/// session start that waited for it.
pub(crate) fn a_read_is_on_record_with_what_waited(engine: Engine) {
    let db = Db::new(engine, SCHEMA);
    let j = db.machine();
    let out = j.run(&["exec", "-c", "SELECT name FROM p ORDER BY id"]);
    assert_exit(&out, 0, "exec of a read");
    assert!(stdout(&out).contains('b'), "{}", stdout(&out));
    assert_eq!(events(&db), ["session_start", "statement", "session_end"]);
    assert_eq!(records(&db)[1].detail["kind"], "read");
    settled(&db, &j);
}

/// A change whose preview shows it failing (a RESTRICT-like foreign key)
/// is not applied and not refused by policy: its statement, preview and
/// verdict are written by the session's end. A dry run the same.
pub(crate) fn a_change_that_would_fail_leaves_its_story_at_the_session_end(engine: Engine) {
    let db = Db::new(engine, SCHEMA);
    let j = db.machine();
    let before = db.dump();
    let out = j.run(&["exec", "-c", "DELETE FROM p WHERE id = 3", "--yes"]);
    assert!(!out.status.success(), "{}", stdout(&out));
    assert_eq!(db.dump(), before);
    let story = [
        "session_start",
        "statement",
        "preview",
        "verdict",
        "session_end",
    ];
    assert_eq!(events(&db), story);
    let out = j.run(&["exec", "-c", "DELETE FROM p WHERE id = 1", "--dry-run"]);
    assert_exit(&out, 0, "exec --dry-run");
    assert_eq!(db.dump(), before);
    assert_eq!(events(&db)[5..], story);
    settled(&db, &j);
}

/// `kill -9` just before the commit: the change, its entry and every
/// record of the attempt are gone together (they were one transaction).
/// Just after it: the change and its whole story are committed, staged;
/// the next session links them first, in order.
pub(crate) fn a_crash_before_the_commit_leaves_no_trace_and_after_it_the_whole_story(
    engine: Engine,
) {
    let db = Db::new(engine, SCHEMA);
    let j = db.machine();
    let before = db.dump();
    let args = ["exec", "-c", "DELETE FROM p WHERE id = 2", "--yes"];
    let killed = |step: &str| {
        let out = run_env(&j, &args, &[("DBGUARD_CRASH_AT", step)]);
        assert_eq!(out.status.signal(), Some(9), "{step}: {}", stderr(&out));
        if let Db::Pg(pg) = &db {
            // The killed client's transaction ends when its backend sees
            // the socket closed: wait for its locks.
            pg.client()
                .batch_execute("BEGIN; LOCK TABLE p, dbguard.audit_pending; COMMIT")
                .expect("wait for the killed session");
        }
    };
    killed("before_commit");
    assert_eq!(db.dump(), before);
    assert!(undo_list(&j).is_empty());
    assert_eq!(journal_count(&db.target(), "audit_pending"), 0);
    assert!(events(&db).is_empty(), "{:?}", events(&db));

    killed("after_commit");
    assert_ne!(db.dump(), before);
    assert_eq!(undo_list(&j).len(), 1);
    assert_eq!(journal_count(&db.target(), "audit_pending"), 5);
    assert!(events(&db).is_empty(), "staged, not linked yet");
    let out = j.run(&["exec", "-c", "SELECT 1"]);
    assert_exit(&out, 0, "the next session");
    assert_eq!(
        events(&db),
        [
            &CHANGE_STORY[..],
            &["session_start", "statement", "session_end"]
        ]
        .concat()
    );
    settled(&db, &j);
}
