//! A step the audit trail cannot record stops the change (issue 13), with
//! the trail in the target (issue 14): when the journal's `audit` table
//! refuses inserts (all of them, or only one event's), a write or an undo
//! commits nothing — neither the change nor its entry, its snapshots, the
//! approvals it would consume, or its record — and says why. The apply's
//! own record is written in the change's transaction (staged in
//! `audit_pending`, which is as much the trail as `audit`, and linked into
//! the chain right after the commit), so refusing it rolls the change back
//! with it; nothing is left to settle.

use dbguard::db::Engine;

use crate::apply::{Db, assert_exit};
use crate::helpers::*;

const SCHEMA: &str = "CREATE TABLE p (id integer PRIMARY KEY, name text);
     INSERT INTO p VALUES (1, 'a'), (2, 'b'), (3, 'c');";

/// Makes the target's trail refuse records of `event` (every event with
/// `None`), the way a full disk or a broken table would refuse them. On
/// Postgres the trigger fires ALWAYS: an undo in replica mode
/// (`session_replication_role`) skips ordinary triggers, a full disk it
/// would not skip.
fn refuse_audit(db: &Db, event: Option<&str>) {
    let target = db.target();
    let sql = if is_pg(&target) {
        let when = event.map_or_else(String::new, |e| format!(" WHEN (NEW.event = '{e}')"));
        let mut sql = "CREATE FUNCTION dbguard.refuse_audit() RETURNS trigger LANGUAGE plpgsql AS
                 $$BEGIN RAISE EXCEPTION 'the audit trail refuses this record'; END$$;"
            .to_owned();
        for table in ["audit", "audit_pending"] {
            sql.push_str(&format!(
                "CREATE TRIGGER refuse_audit BEFORE INSERT ON dbguard.{table}
                     FOR EACH ROW{when} EXECUTE FUNCTION dbguard.refuse_audit();
                 ALTER TABLE dbguard.{table} ENABLE ALWAYS TRIGGER refuse_audit;"
            ));
        }
        sql
    } else {
        let when = event.map_or_else(String::new, |e| format!(" WHEN NEW.event = '{e}'"));
        ["audit", "audit_pending"]
            .iter()
            .map(|table| {
                format!(
                    "CREATE TRIGGER refuse_{table} BEFORE INSERT ON dbguard_{table}{when}
                     BEGIN SELECT RAISE(ABORT, 'the audit trail refuses this record'); END;"
                )
            })
            .collect()
    };
    target_batch(&target, &sql);
}

/// Lets the trail take records again.
fn accept_audit(db: &Db) {
    let target = db.target();
    let sql = if is_pg(&target) {
        "DROP TRIGGER refuse_audit ON dbguard.audit; DROP TRIGGER refuse_audit ON dbguard.audit_pending;
         DROP FUNCTION dbguard.refuse_audit();"
    } else {
        "DROP TRIGGER refuse_audit; DROP TRIGGER refuse_audit_pending;"
    };
    target_batch(&target, sql);
}

/// How many snapshot tables the journal holds.
fn snapshot_tables(db: &Db) -> i64 {
    let target = db.target();
    let sql = if is_pg(&target) {
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'dbguard' AND tablename ~ '^c[0-9]+_'"
    } else {
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name GLOB 'dbguard_c[0-9]*_*'"
    };
    target_i64(&target, sql)
}

/// What the journal holds of changes: entries, their tables, their
/// snapshots, approvals used, and records naming a change.
fn journal_of_changes(db: &Db) -> [i64; 5] {
    let target = db.target();
    [
        journal_count(&target, "changes"),
        journal_count(&target, "change_tables"),
        snapshot_tables(db),
        journal_count(&target, "approvals"),
        target_i64(
            &target,
            &format!(
                "SELECT count(*) FROM {} WHERE change_id IS NOT NULL",
                journal_table(&target, "audit")
            ),
        ),
    ]
}

/// The events the machine's witness holds, in order.
fn witnessed_events(j: &JournalDir) -> Vec<String> {
    std::fs::read_to_string(j.witness())
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["record"]["event"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// A write whose audit record `event` cannot be written: not applied,
/// exit 1, the reason on stderr; no entry, no snapshot, no record of a
/// change in the trail or in the witness. Once the trail takes records
/// again, the same write applies.
fn write_is_stopped(engine: Engine, event: Option<&str>) {
    let db = Db::new(engine, SCHEMA);
    let j = db.machine();
    refuse_audit(&db, event);
    let before = db.dump();
    let o = j.run(&["exec", "-c", "DELETE FROM p WHERE id = 2", "--yes"]);
    assert_exit(&o, 1, &format!("exec with the {event:?} record refused"));
    let err = stderr(&o);
    assert!(
        err.contains("cannot write the audit trail"),
        "{event:?}: {err}"
    );
    assert!(
        err.contains("the audit trail refuses this record"),
        "{event:?}: the cause is named: {err}"
    );
    assert_eq!(db.dump(), before, "{event:?}: the target changed");
    assert_eq!(
        journal_of_changes(&db),
        [0; 5],
        "{event:?}: the journal holds a change"
    );
    let witnessed = witnessed_events(&j);
    assert!(
        !witnessed.iter().any(|e| e == "apply"),
        "{event:?}: the witness holds an apply the target never committed: {witnessed:?}"
    );

    accept_audit(&db);
    let id = exec_apply(&j, "DELETE FROM p WHERE id = 2");
    assert_ne!(db.dump(), before, "{event:?}: applied once the trail works");
    assert_eq!(journal_count(&db.target(), "changes"), 1, "change {id}");
    let out = j.run(&["audit", "verify"]);
    assert_exit(&out, 0, "the trail and the witness agree");
}

const EVENTS: [Option<&str>; 5] = [
    None,
    Some("statement"),
    Some("preview"),
    Some("verdict"),
    Some("apply"),
];

#[test]
fn sqlite_write_stops_when_any_audit_record_is_refused() {
    for event in EVENTS {
        write_is_stopped(Engine::Sqlite, event);
    }
}

#[test]
fn pg_write_stops_when_any_audit_record_is_refused() {
    for event in EVENTS {
        write_is_stopped(Engine::Postgres, event);
    }
}

/// An undo whose record cannot be written restores nothing and records
/// nothing, and the change stays undoable.
fn undo_is_stopped(engine: Engine) {
    let db = Db::new(engine, SCHEMA);
    let j = db.machine();
    let id = exec_apply(&j, "DELETE FROM p WHERE id = 2");
    let deleted = db.dump();
    let journal = journal_of_changes(&db);
    refuse_audit(&db, Some("undo"));
    let ids = id.to_string();
    let o = j.run(&["undo", "apply", &ids, "--yes"]);
    assert_exit(&o, 1, "undo with its record refused");
    let err = stderr(&o);
    assert!(err.contains("the audit trail refuses this record"), "{err}");
    assert_eq!(db.dump(), deleted, "the undo restored rows");
    assert_eq!(journal_of_changes(&db), journal, "the undo was journaled");
    assert!(
        !witnessed_events(&j).iter().any(|e| e == "undo"),
        "the witness holds an undo the target never committed"
    );

    accept_audit(&db);
    undo_apply(&j, id);
    assert_ne!(db.dump(), deleted, "the change could not be undone later");
}

#[test]
fn sqlite_undo_stops_when_its_record_is_refused() {
    undo_is_stopped(Engine::Sqlite);
}

#[test]
fn pg_undo_stops_when_its_record_is_refused() {
    undo_is_stopped(Engine::Postgres);
}
