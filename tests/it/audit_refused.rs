//! A step the audit trail cannot record stops the change (issue 13): with
//! a journal whose `audit` table refuses inserts (all of them, or only one
//! event's), a write or an undo commits nothing, in the target or the
//! journal, and says why.

use std::path::Path;

use crate::helpers::*;

const SCHEMA: &str = "CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT);
     INSERT INTO p VALUES (1, 'a'), (2, 'b'), (3, 'c');";

/// Makes the journal at `j` refuse audit records of `event` (every event
/// with `None`), the way a full disk or a broken file would refuse them.
fn refuse_audit(j: &JournalDir, event: Option<&str>) {
    // The journal exists once any command opened it.
    let o = j.run(&["undo", "list"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let when = event.map_or_else(String::new, |e| format!(" WHEN NEW.event = '{e}'"));
    rusqlite::Connection::open(&j.path)
        .unwrap()
        .execute_batch(&format!(
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit{when}
             BEGIN SELECT RAISE(ABORT, 'the audit trail refuses this record'); END;"
        ))
        .unwrap();
}

/// How many changes the journal holds, in any state but aborted.
fn live_changes(path: &Path) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM changes WHERE status != 'aborted'",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

/// A write whose audit record cannot be written: not applied, exit 1,
/// the reason on stderr.
fn write_is_stopped(db: &str, event: Option<&str>, dump: impl Fn() -> Vec<String>) {
    let j = JournalDir::new();
    refuse_audit(&j, event);
    let before = dump();
    let o = j.run(&["exec", db, "-c", "DELETE FROM p WHERE id = 2", "--yes"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{event:?}: {err}");
    assert!(
        err.contains("cannot write the audit trail"),
        "{event:?}: {err}"
    );
    assert_eq!(dump(), before, "{event:?}: the target changed");
    assert_eq!(
        live_changes(&j.path),
        0,
        "{event:?}: a change was journaled"
    );
}

fn sqlite_dump(db: &SqliteDb) -> Vec<String> {
    sqlite_dump_tables(&db.path)
        .into_values()
        .flatten()
        .collect()
}

#[test]
fn sqlite_write_stops_when_any_audit_record_is_refused() {
    for event in [
        None,
        Some("statement"),
        Some("preview"),
        Some("verdict"),
        Some("apply"),
    ] {
        let db = SqliteDb::with(SCHEMA);
        write_is_stopped(&db.target(), event, || sqlite_dump(&db));
    }
}

#[test]
fn pg_write_stops_when_its_apply_record_is_refused() {
    let db = PgDb::with(
        "CREATE TABLE p (id integer PRIMARY KEY, name text);
         INSERT INTO p VALUES (1, 'a'), (2, 'b'), (3, 'c');",
    );
    for event in [Some("apply"), Some("verdict")] {
        write_is_stopped(&db.url, event, || {
            pg_dump_tables(&db.url).into_values().flatten().collect()
        });
    }
}

/// An undo whose record cannot be written restores nothing, and the
/// change stays undoable.
#[test]
fn undo_stops_when_its_record_is_refused() {
    let db = SqliteDb::with(SCHEMA);
    let j = JournalDir::new();
    let id = exec_apply(&j.path, &db.target(), "DELETE FROM p WHERE id = 2").to_string();
    let deleted = sqlite_dump(&db);
    rusqlite::Connection::open(&j.path)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit WHEN NEW.event = 'undo'
             BEGIN SELECT RAISE(ABORT, 'the audit trail refuses this record'); END;",
        )
        .unwrap();
    let o = j.run(&["undo", "apply", &id, "--yes"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("the audit trail refuses this record"), "{err}");
    assert_eq!(sqlite_dump(&db), deleted, "the undo restored rows");
    assert_eq!(live_changes(&j.path), 1, "the undo was journaled");
    rusqlite::Connection::open(&j.path)
        .unwrap()
        .execute_batch("DROP TRIGGER refuse_audit")
        .unwrap();
    let o = j.run(&["undo", "apply", &id, "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_ne!(
        sqlite_dump(&db),
        deleted,
        "the change could not be undone later"
    );
}
