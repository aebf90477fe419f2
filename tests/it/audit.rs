//! The audit trail: appends through the library, `dbguard audit show` and
//! `dbguard audit verify`, and verify naming the first broken record after
//! each kind of tampering done with plain SQLite on the journal file.
//! Also the journal's migration from schema 1, concurrent appends, and the
//! single use of approval nonces.

use std::path::Path;

use dbguard::ErrorKind;
use dbguard::journal::audit::GENESIS_HASH;
use dbguard::journal::{ChangeMeta, Journal};
use serde_json::json;

use crate::helpers::{JournalDir, stderr, stdout};

/// A journal with `n` events appended through the library.
fn trail(n: usize) -> JournalDir {
    let jd = JournalDir::new();
    let j = Journal::open(Some(&jd.path)).expect("open journal");
    let events = ["session_start", "statement", "preview", "verdict", "apply"];
    for i in 0..n {
        let event = events[i % events.len()];
        let id = j
            .audit(
                event,
                "alice@example.org",
                Some("/data/app.sqlite"),
                (event == "apply").then_some(1),
                json!({"statement": format!("DELETE FROM t WHERE id = {i}"), "n": i, "nested": {"b": [1, 2.5, null], "a": "ü\n"}}),
            )
            .expect("append");
        assert_eq!(id, i as i64 + 1, "ids run 1, 2, 3...");
    }
    jd
}

/// Runs SQL on the journal file directly, as someone bypassing dbguard
/// would: dropping the append-only triggers first.
fn tamper(path: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(path).expect("open journal file");
    conn.execute_batch(
        "DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete;",
    )
    .expect("drop triggers");
    conn.execute_batch(sql).expect("tamper");
}

/// `audit verify` must fail with exit 1 and name `id` in its message.
fn assert_broken_at(jd: &JournalDir, id: i64, why: &str) {
    let out = jd.run(&["audit", "verify"]);
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "verify must fail\nstdout: {}\nstderr: {err}",
        stdout(&out)
    );
    assert!(
        err.contains(&format!("audit trail broken at record {id}:")),
        "verify must name record {id}: {err}"
    );
    assert!(err.contains(why), "reason should say {why:?}: {err}");
    // The library agrees.
    let j = Journal::open(Some(&jd.path)).unwrap();
    let (bad, _) = j.audit_verify().unwrap().expect("broken");
    assert_eq!(bad, id);
}

fn assert_intact(jd: &JournalDir, n: usize) {
    let out = jd.run(&["audit", "verify"]);
    assert!(
        out.status.success(),
        "verify failed\nstdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!("audit trail intact: {n} record")),
        "{text}"
    );
    let j = Journal::open(Some(&jd.path)).unwrap();
    let (count, last) = j.audit_summary().unwrap();
    assert_eq!(count, n as i64);
    assert!(
        text.trim_end().ends_with(&format!("last hash {last}")),
        "{text}"
    );
}

#[test]
fn untouched_trail_verifies() {
    let empty = JournalDir::new();
    assert_intact(&empty, 0);
    assert!(stdout(&empty.run(&["audit", "verify"])).contains(GENESIS_HASH));

    let jd = trail(5);
    assert_intact(&jd, 5);
    let j = Journal::open(Some(&jd.path)).unwrap();
    let records = j.audit_records(None).unwrap();
    assert_eq!(records.len(), 5);
    assert_eq!(records[0].prev_hash, GENESIS_HASH);
    for w in records.windows(2) {
        assert_eq!(
            w[1].prev_hash, w[0].hash,
            "each record links to the one before"
        );
    }
    assert_eq!(records[4].change_id, Some(1));
    assert_eq!(records[1].detail["nested"]["a"], "ü\n");
    assert_eq!(j.audit_verify().unwrap(), None);
}

/// Records appended together (a write's preview and verdict, one fsync)
/// chain exactly as records appended one by one, and after earlier ones.
#[test]
fn records_appended_together_chain_like_single_ones() {
    let jd = JournalDir::new();
    let j = Journal::open(Some(&jd.path)).unwrap();
    j.audit(
        "session_start",
        "alice",
        Some("db"),
        None,
        serde_json::json!({}),
    )
    .unwrap();
    let ids = j
        .audit_many(
            "alice",
            Some("db"),
            &[
                ("preview", None, serde_json::json!({"digest": "d"})),
                ("verdict", None, serde_json::json!({"decision": "allow"})),
            ],
        )
        .unwrap();
    assert_eq!(ids, vec![2, 3]);
    assert_eq!(j.audit_many("alice", None, &[]).unwrap(), Vec::<i64>::new());
    assert!(
        j.audit_many("alice", None, &[("no such", None, serde_json::json!({}))])
            .is_err()
    );
    j.audit(
        "session_end",
        "alice",
        Some("db"),
        None,
        serde_json::json!({}),
    )
    .unwrap();
    let records = j.audit_records(None).unwrap();
    let events: Vec<&str> = records.iter().map(|r| r.event.as_str()).collect();
    assert_eq!(
        events,
        ["session_start", "preview", "verdict", "session_end"]
    );
    for w in records.windows(2) {
        assert_eq!(w[1].prev_hash, w[0].hash);
    }
    assert_eq!(j.audit_verify().unwrap(), None);
}

#[test]
fn edited_detail_is_named() {
    let jd = trail(5);
    tamper(
        &jd.path,
        r#"UPDATE audit SET detail = '{"n":2,"statement":"SELECT 1"}' WHERE id = 3"#,
    );
    assert_broken_at(&jd, 3, "the record was edited");
    // The broken record is printed.
    let out = jd.run(&["audit", "verify"]);
    let text = stdout(&out);
    assert!(text.contains("first broken record:"), "{text}");
    assert!(text.contains("SELECT 1"), "{text}");
}

#[test]
fn edited_event_is_named() {
    let jd = trail(5);
    tamper(&jd.path, "UPDATE audit SET event = 'preview' WHERE id = 2");
    assert_broken_at(&jd, 2, "the record was edited");
}

#[test]
fn edited_operator_or_time_is_named() {
    let jd = trail(5);
    tamper(
        &jd.path,
        "UPDATE audit SET operator = 'mallory' WHERE id = 4",
    );
    assert_broken_at(&jd, 4, "the record was edited");

    let jd = trail(5);
    tamper(
        &jd.path,
        "UPDATE audit SET at = '2020-01-01T00:00:00.000Z' WHERE id = 1",
    );
    assert_broken_at(&jd, 1, "the record was edited");
}

#[test]
fn changed_hash_is_named() {
    let jd = trail(5);
    tamper(
        &jd.path,
        &format!("UPDATE audit SET hash = '{}' WHERE id = 3", "ab".repeat(32)),
    );
    assert_broken_at(&jd, 3, "the record was edited");
}

#[test]
fn deleted_middle_record_is_named() {
    let jd = trail(5);
    tamper(&jd.path, "DELETE FROM audit WHERE id = 3");
    assert_broken_at(&jd, 4, "record 3 is missing (deleted)");
}

#[test]
fn deleted_first_record_is_named() {
    let jd = trail(5);
    tamper(&jd.path, "DELETE FROM audit WHERE id = 1");
    assert_broken_at(&jd, 2, "record 1 is missing (deleted)");
}

#[test]
fn deleted_and_renumbered_record_is_named() {
    // Closing the gap by renumbering leaves a prev_hash that does not match.
    let jd = trail(5);
    tamper(
        &jd.path,
        "DELETE FROM audit WHERE id = 3; UPDATE audit SET id = id - 1 WHERE id > 3;
         UPDATE audit_head SET last_id = 4",
    );
    assert_broken_at(&jd, 3, "does not match the hash of record 2");
}

/// Truncating the tail leaves a valid chain; the chain head kept in
/// `audit_head` shows it (unless the head is rewritten too: a known limit,
/// see the module doc of `journal::audit`).
#[test]
fn deleted_last_record_is_detected_by_the_chain_head() {
    let jd = trail(5);
    tamper(&jd.path, "DELETE FROM audit WHERE id = 5");
    assert_broken_at(
        &jd,
        5,
        "record 5 is missing (deleted): the trail was truncated",
    );

    // Later appends chain from the head, so the gap stays visible.
    let j = Journal::open(Some(&jd.path)).unwrap();
    let id = j
        .audit("session_end", "alice@example.org", None, None, json!({}))
        .unwrap();
    assert_eq!(id, 6);
    assert_broken_at(&jd, 6, "record 5 is missing (deleted)");

    let jd = trail(5);
    tamper(&jd.path, "DELETE FROM audit WHERE id >= 4");
    assert_broken_at(&jd, 4, "records 4 to 5 are missing");
}

#[test]
fn swapped_records_are_named() {
    // Exchange every column of records 3 and 4 but their ids.
    let jd = trail(5);
    tamper(
        &jd.path,
        "CREATE TEMP TABLE s AS SELECT * FROM audit WHERE id IN (3, 4);
         UPDATE audit SET (at, event, operator, target, change_id, detail, prev_hash, hash) =
             (SELECT at, event, operator, target, change_id, detail, prev_hash, hash
              FROM s WHERE s.id = 7 - audit.id)
         WHERE id IN (3, 4);",
    );
    assert_broken_at(&jd, 3, "reordered");

    // The same with the hash columns left in place.
    let jd = trail(5);
    tamper(
        &jd.path,
        "CREATE TEMP TABLE s AS SELECT * FROM audit WHERE id IN (3, 4);
         UPDATE audit SET (at, event, operator, target, change_id, detail) =
             (SELECT at, event, operator, target, change_id, detail
              FROM s WHERE s.id = 7 - audit.id)
         WHERE id IN (3, 4);",
    );
    assert_broken_at(&jd, 3, "do not match its hash");
}

#[test]
fn the_trail_refuses_update_and_delete() {
    let jd = trail(2);
    let conn = rusqlite::Connection::open(&jd.path).unwrap();
    for sql in [
        "UPDATE audit SET event = 'x' WHERE id = 1",
        "DELETE FROM audit WHERE id = 2",
    ] {
        let e = conn.execute_batch(sql).unwrap_err();
        assert!(e.to_string().contains("append-only"), "{sql}: {e}");
    }
    drop(conn);
    assert_intact(&jd, 2);
}

#[test]
fn unknown_events_are_refused() {
    let jd = JournalDir::new();
    let j = Journal::open(Some(&jd.path)).unwrap();
    let e = j.audit("oops", "alice", None, None, json!({})).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Input);
    assert!(e.message.contains("unknown audit event \"oops\""), "{e}");
    assert_eq!(j.audit_summary().unwrap().0, 0);
}

#[test]
fn show_prints_a_table_or_json_oldest_first() {
    let jd = trail(3);
    let out = jd.run(&["audit", "show"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('|').map(str::trim).collect();
    assert_eq!(
        header,
        [
            "id", "at", "event", "operator", "target", "change", "detail"
        ]
    );
    assert!(lines.next().unwrap().starts_with("---"), "{text}");
    let first = lines.next().unwrap();
    let cells: Vec<&str> = first.split(" | ").map(str::trim).collect();
    assert_eq!(
        cells[..6],
        [
            "1",
            cells[1],
            "session_start",
            "alice@example.org",
            "/data/app.sqlite",
            ""
        ],
        "{text}"
    );
    assert!(cells[1].ends_with('Z') && cells[1].len() == 24, "{text}");
    assert!(
        first.contains(r#"{"n":0,"nested":{"a":"ü\n","b":[1,2.5,null]},"statement":"DELETE FROM t WHERE id = 0"}"#),
        "detail as compact JSON, on one line: {text}"
    );
    assert!(text.trim_end().ends_with("(3 records)"), "{text}");

    let out = jd.run(&["audit", "show", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 3);
    assert_eq!(arr[0]["id"], 1);
    assert_eq!(arr[1]["event"], "statement");
    assert_eq!(arr[2]["detail"]["n"], 2);
    assert_eq!(arr[0]["prev_hash"], GENESIS_HASH);
    assert_eq!(arr[1]["prev_hash"], arr[0]["hash"]);
    for k in ["at", "operator", "target", "change_id", "hash"] {
        assert!(arr[0].get(k).is_some(), "JSON record has {k}");
    }
}

#[test]
fn show_since_filters_by_time() {
    let jd = trail(2);
    tamper(
        &jd.path,
        "UPDATE audit SET at = '2020-01-01T10:00:00.000Z' WHERE id = 1",
    );
    let count = |since: &str| -> usize {
        let out = jd.run(&["audit", "show", "--since", since, "--format", "json"]);
        assert!(out.status.success(), "{since}: {}", stderr(&out));
        serde_json::from_str::<serde_json::Value>(stdout(&out).trim())
            .unwrap()
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(count("2019-12-31"), 2);
    assert_eq!(count("2020-01-01"), 2);
    assert_eq!(count("2020-01-01T10:00:00Z"), 2);
    assert_eq!(count("2020-01-01T10:00:00.001Z"), 1);
    // 11:30 at +02:00 is 09:30 UTC: before the first record.
    assert_eq!(count("2020-01-01T11:30:00+02:00"), 2);
    assert_eq!(count("2020-01-01T12:30:00+02:00"), 1);
    assert_eq!(count("2999-01-01"), 0);

    let out = jd.run(&["audit", "show", "--since", "last tuesday"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--since \"last tuesday\" is not a time"),
        "{}",
        stderr(&out)
    );
}

/// The v1 schema as dbguard 0.1 (schema 1) wrote it.
const SCHEMA_V1: &str = "
CREATE TABLE changes (
    id                INTEGER PRIMARY KEY,
    created_at        TEXT NOT NULL,
    operator          TEXT NOT NULL,
    engine            TEXT NOT NULL,
    target            TEXT NOT NULL,
    target_database   TEXT NOT NULL,
    system_identifier TEXT,
    statement         TEXT NOT NULL,
    kind              TEXT NOT NULL,
    digest            TEXT NOT NULL,
    impact            TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('prepared', 'committed', 'aborted')),
    txid              TEXT,
    partial           TEXT,
    undo_of           INTEGER REFERENCES changes(id),
    committed_at      TEXT,
    row_count         INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE change_tables (
    change_id   INTEGER NOT NULL REFERENCES changes(id) ON DELETE CASCADE,
    tbl         TEXT NOT NULL,
    schema_name TEXT,
    table_name  TEXT NOT NULL,
    position    INTEGER NOT NULL,
    columns     TEXT NOT NULL,
    key_columns TEXT NOT NULL,
    PRIMARY KEY (change_id, tbl)
);
CREATE TABLE change_rows (
    change_id INTEGER NOT NULL REFERENCES changes(id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    tbl       TEXT NOT NULL,
    op        TEXT NOT NULL CHECK (op IN ('delete', 'update', 'insert')),
    key       TEXT NOT NULL,
    before    TEXT,
    after     TEXT,
    PRIMARY KEY (change_id, seq)
);
CREATE INDEX change_rows_key ON change_rows (change_id, tbl, key);
INSERT INTO changes (id, created_at, operator, engine, target, target_database, statement, kind,
                     digest, impact, status, committed_at, row_count)
VALUES (1, '2026-01-02T03:04:05Z', 'alice', 'SQLite', '/x.sqlite', '/x.sqlite',
        'DELETE FROM t WHERE a = 7', 'delete', 'd1', '{}', 'committed', '2026-01-02T03:04:06Z', 1);
INSERT INTO change_tables VALUES (1, 't', NULL, 't', 1,
        '[{\"name\":\"a\",\"type_name\":\"INTEGER\"}]', '[\"a\"]');
INSERT INTO change_rows VALUES (1, 1, 't', 'delete', '[{\"int\":\"7\"}]', '[{\"int\":\"7\"}]', NULL);
PRAGMA user_version = 1;
";

fn user_version(path: &Path) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_schema_1_journal_migrates_and_keeps_its_changes() {
    let jd = JournalDir::new();
    rusqlite::Connection::open(&jd.path)
        .unwrap()
        .execute_batch(SCHEMA_V1)
        .unwrap();
    assert_eq!(user_version(&jd.path), 1);

    let j = Journal::open(Some(&jd.path)).expect("a schema 1 journal opens");
    assert_eq!(user_version(&jd.path), dbguard::journal::SCHEMA_VERSION);
    let changes = j.list().unwrap();
    assert_eq!(changes.len(), 1);
    let c = &changes[0];
    assert_eq!(
        (c.meta.statement.as_str(), c.row_count),
        ("DELETE FROM t WHERE a = 7", 1)
    );
    assert_eq!(j.tables(1).unwrap()[0].key_columns, vec!["a".to_string()]);
    let mut rows = 0;
    j.for_each_row(1, |_| {
        rows += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(rows, 1);
    // The new tables work.
    j.audit(
        "session_start",
        "alice",
        None,
        None,
        json!({"from": "test"}),
    )
    .unwrap();
    j.record_approvals(
        1,
        &[("bob".into(), "SHA256:x".into(), "n-1".into(), 1_700_000_000)],
    )
    .unwrap();
    drop(j);

    // Opening again is a no-op, and the binary reads it.
    let j = Journal::open(Some(&jd.path)).unwrap();
    assert_eq!(j.list().unwrap().len(), 1);
    assert!(j.nonce_used("n-1").unwrap());
    drop(j);
    assert_intact(&jd, 1);
    let out = jd.run(&["undo", "list", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("DELETE FROM t WHERE a = 7"));
}

#[test]
fn a_newer_journal_is_refused_untouched() {
    let jd = trail(1);
    rusqlite::Connection::open(&jd.path)
        .unwrap()
        .pragma_update(None, "user_version", dbguard::journal::SCHEMA_VERSION + 1)
        .unwrap();
    let before = std::fs::read(&jd.path).unwrap();
    let e = Journal::open(Some(&jd.path)).err().expect("refused");
    assert!(e.message.contains("newer dbguard"), "{e}");
    assert_eq!(std::fs::read(&jd.path).unwrap(), before);
    let out = jd.run(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("newer dbguard"), "{}", stderr(&out));
}

#[test]
fn concurrent_appends_keep_one_chain() {
    // Both handles create and migrate the file too.
    let jd = JournalDir::new();
    let threads: Vec<_> = ["alice", "bob"]
        .into_iter()
        .map(|who| {
            let path = jd.path.clone();
            std::thread::spawn(move || {
                let j = Journal::open(Some(&path)).expect("open");
                for i in 0..200 {
                    j.audit("statement", who, None, None, json!({"i": i}))
                        .expect("append");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("appender thread");
    }
    let j = Journal::open(Some(&jd.path)).unwrap();
    assert_eq!(j.audit_verify().unwrap(), None);
    let records = j.audit_records(None).unwrap();
    assert_eq!(records.len(), 400);
    assert!(
        records
            .iter()
            .enumerate()
            .all(|(i, r)| r.id == i as i64 + 1),
        "ids run without gaps"
    );
    for who in ["alice", "bob"] {
        let mine: Vec<i64> = records
            .iter()
            .filter(|r| r.operator == who)
            .map(|r| r.detail["i"].as_i64().unwrap())
            .collect();
        assert_eq!(
            mine,
            (0..200).collect::<Vec<_>>(),
            "{who}'s events in order"
        );
    }
    drop(j);
    assert_intact(&jd, 400);
}

fn prepared_change(j: &mut Journal) -> i64 {
    let meta = ChangeMeta {
        operator: "alice@example.org".into(),
        engine: dbguard::model::Engine::Sqlite,
        target: "/x.sqlite".into(),
        target_database: "/x.sqlite".into(),
        system_identifier: None,
        statement: "DELETE FROM t".into(),
        kind: dbguard::model::ChangeKind::Delete,
        digest: "d".into(),
        impact: "{}".into(),
        undo_of: None,
    };
    j.begin(&meta).unwrap().prepare().unwrap()
}

#[test]
fn approval_nonces_are_single_use() {
    let jd = JournalDir::new();
    let mut j = Journal::open(Some(&jd.path)).unwrap();
    let first = prepared_change(&mut j);
    let second = prepared_change(&mut j);
    let approval = |who: &str, nonce: &str| {
        (
            who.to_owned(),
            format!("SHA256:{who}"),
            nonce.to_owned(),
            1_700_000_000,
        )
    };
    assert!(!j.nonce_used("n1").unwrap());
    j.record_approvals(first, &[approval("bob", "n1"), approval("carol", "n2")])
        .unwrap();
    assert!(j.nonce_used("n1").unwrap() && j.nonce_used("n2").unwrap());
    let used = j.approvals_of(first).unwrap();
    assert_eq!(used.len(), 2);
    assert_eq!(used[0].principal.as_deref(), Some("bob"));
    assert_eq!(used[1].fingerprint.as_deref(), Some("SHA256:carol"));
    assert_eq!(used[0].signed_at, Some(1_700_000_000));
    assert!(used[0].used_at.is_some());

    // A used nonce refuses the whole batch: nothing of it is recorded.
    let e = j
        .record_approvals(second, &[approval("dave", "n3"), approval("bob", "n1")])
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Approval);
    assert!(e.message.contains("already used by change"), "{e}");
    assert!(!j.nonce_used("n3").unwrap());
    assert!(j.approvals_of(second).unwrap().is_empty());

    // The same token twice in one batch is refused too.
    let e = j
        .record_approvals(second, &[approval("dave", "n4"), approval("dave", "n4")])
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Approval);
    assert!(!j.nonce_used("n4").unwrap());

    // Another handle on the same file sees the use.
    let other = Journal::open(Some(&jd.path)).unwrap();
    let e = other
        .record_approvals(second, &[approval("carol", "n2")])
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Approval);
}
