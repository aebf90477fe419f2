//! The audit trail in the target database (issue 14), on both engines:
//! appends through the library, `dbguard audit show [DB]` and `dbguard
//! audit verify [DB]`, and verify naming the first broken record after
//! each kind of tampering done with a plain client on the journal's
//! `audit` table (the append-only trigger dropped first).
//!
//! Also: a change's own record (apply, undo) is in the trail with the
//! change; the witness (`--audit-log FILE`, default
//! `$XDG_STATE_HOME/dbguard/audit.jsonl`) makes a trail rewritten inside
//! the database evident, which the chain alone cannot; concurrent appends
//! keep one chain; a journal of a newer dbguard is refused. `undo prune`,
//! which drops rows but never the trail, is `audit_prune`'s.

use std::time::Duration;

use dbguard::ErrorKind;
use dbguard::db::{Connection, Engine};
use dbguard::journal::audit::{self, AuditRecord, GENESIS_HASH};
use dbguard::journal::trail::Trail;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::apply::{Db, assert_exit};
use crate::helpers::*;

/// Each scenario below, as one test per engine: `audit::sqlite::NAME` and
/// `audit::pg::NAME`.
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                super::$name(dbguard::db::Engine::Sqlite);
            })*
        }
        mod pg {
            $(#[test]
            fn $name() {
                super::$name(dbguard::db::Engine::Postgres);
            })*
        }
    };
}
pub(crate) use on_both_engines;

on_both_engines!(
    untouched_trail_verifies,
    records_appended_together_chain_like_single_ones,
    unknown_events_are_refused,
    edited_detail_is_named,
    edited_event_is_named,
    edited_operator_or_time_is_named,
    changed_hash_is_named,
    deleted_middle_record_is_named,
    deleted_first_record_is_named,
    deleted_and_renumbered_record_is_named,
    deleted_last_record_is_detected_by_the_chain_head,
    swapped_records_are_named,
    the_trail_refuses_update_and_delete,
    show_prints_a_table_or_json_oldest_first,
    show_since_filters_by_time,
    concurrent_appends_keep_one_chain,
    a_newer_journal_is_refused_untouched,
    change_records_are_in_the_target_with_their_change,
    an_entry_the_trail_does_not_vouch_for_is_named,
    the_witness_holds_what_this_machine_appended,
    a_truncated_and_resealed_trail_is_caught_by_the_witness,
    a_rewritten_and_rehashed_trail_is_caught_by_the_witness,
    each_witness_vouches_for_its_own_machine,
);

// ---- building and reading a trail ----

pub(crate) fn connect(db: &Db) -> Connection {
    let target = db.target();
    Connection::open(Some(&target), &Default::default())
        .unwrap_or_else(|e| panic!("open {target}: {e}"))
}

pub(crate) const EVENTS: [&str; 5] = ["session_start", "statement", "preview", "verdict", "apply"];

/// The detail of the `i`th record of [`trail`]: nested, unsorted keys,
/// text that needs escaping.
pub(crate) fn detail(i: usize) -> serde_json::Value {
    json!({"statement": format!("DELETE FROM t WHERE id = {i}"), "n": i, "nested": {"b": [1, 2.5, null], "a": "ü\n"}})
}

/// A database with its journal and `n` records appended through the
/// library, one short transaction each, and a machine on it (whose
/// witness does not exist: these records were not appended by it).
pub(crate) fn trail(engine: Engine, n: usize) -> (Db, JournalDir) {
    let db = Db::new(engine, "CREATE TABLE t (id integer PRIMARY KEY);");
    let mut conn = connect(&db);
    let mut trail = Trail::open(&mut conn, None).expect("open the trail");
    assert!(trail.in_target(), "the journal is there");
    for i in 0..n {
        let event = EVENTS[i % EVENTS.len()];
        let change = (event == "apply").then_some(1);
        let appended = trail
            .append(
                &mut conn,
                "alice@example.org",
                &[(event, change, detail(i))],
            )
            .expect("append");
        assert_eq!(appended[0].id, i as i64 + 1, "ids run 1, 2, 3...");
    }
    let j = db.machine();
    (db, j)
}

/// The trail, oldest first, as the library reads it.
pub(crate) fn records(db: &Db) -> Vec<AuditRecord> {
    connect(db)
        .preview(Duration::from_secs(30), |tx| audit::records(tx, None))
        .expect("read the trail")
}

/// The library's verdict on the chain.
pub(crate) fn library_verify(db: &Db) -> Option<(i64, String)> {
    connect(db)
        .preview(Duration::from_secs(30), audit::verify)
        .expect("verify the trail")
}

/// Runs SQL on the target with a plain client, as someone bypassing
/// dbguard would: the append-only trigger dropped first. `{audit}` and
/// `{head}` name the journal's trail and its head.
pub(crate) fn tamper(db: &Db, sql: &str) {
    let target = db.target();
    let unlock = if is_pg(&target) {
        "DROP TRIGGER IF EXISTS audit_append_only ON dbguard.audit;"
    } else {
        "DROP TRIGGER IF EXISTS dbguard_audit_no_update; DROP TRIGGER IF EXISTS dbguard_audit_no_delete;"
    };
    let sql = sql
        .replace("{audit}", &journal_table(&target, "audit"))
        .replace("{head}", &journal_table(&target, "audit_head"));
    target_batch(&target, &format!("{unlock} {sql}"));
}

/// `audit verify` on `j` must fail with exit 1 naming record `id` and
/// `why`, and the library must agree.
#[track_caller]
pub(crate) fn assert_broken_at(db: &Db, j: &JournalDir, id: i64, why: &str) {
    let out = j.run(&["audit", "verify"]);
    let err = stderr(&out);
    assert_exit(&out, 1, "audit verify of a tampered trail");
    assert!(
        err.contains(&format!("audit trail broken at record {id}:")),
        "verify must name record {id}: {err}"
    );
    assert!(err.contains(why), "reason should say {why:?}: {err}");
    let (bad, _) = library_verify(db).expect("the library finds it broken");
    assert_eq!(bad, id);
}

/// `audit verify` on `j` must pass with `n` records and the last hash.
#[track_caller]
pub(crate) fn assert_intact(db: &Db, j: &JournalDir, n: usize) {
    let out = j.run(&["audit", "verify"]);
    assert_exit(&out, 0, "audit verify");
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!("audit trail intact: {n} record")),
        "{text}"
    );
    let (count, last) = connect(db)
        .preview(Duration::from_secs(30), audit::summary)
        .unwrap();
    assert_eq!(count, n as i64);
    assert!(
        text.trim_end().ends_with(&format!("last hash {last}")),
        "{text}"
    );
}

// ---- the chain ----

pub(crate) fn untouched_trail_verifies(engine: Engine) {
    let (empty, j) = trail(engine, 0);
    assert_intact(&empty, &j, 0);
    assert!(stdout(&j.run(&["audit", "verify"])).contains(GENESIS_HASH));

    let (db, j) = trail(engine, 5);
    assert_intact(&db, &j, 5);
    let records = records(&db);
    assert_eq!(records.len(), 5);
    assert_eq!(records[0].prev_hash, GENESIS_HASH);
    for w in records.windows(2) {
        assert_eq!(
            w[1].prev_hash, w[0].hash,
            "each record links to the one before"
        );
    }
    assert_eq!(records[4].change_id, Some(1));
    assert_eq!(records[1].detail, detail(1), "detail comes back as given");
    assert_eq!(library_verify(&db), None);
}

/// Records appended together (a write's preview and verdict) chain
/// exactly as records appended one by one, and after earlier ones.
pub(crate) fn records_appended_together_chain_like_single_ones(engine: Engine) {
    let (db, j) = trail(engine, 1);
    let mut conn = connect(&db);
    let mut trail = Trail::open(&mut conn, None).unwrap();
    let appended = trail
        .append(
            &mut conn,
            "alice",
            &[
                ("preview", None, json!({"digest": "d"})),
                ("verdict", None, json!({"decision": "allow"})),
            ],
        )
        .unwrap();
    let ids: Vec<i64> = appended.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![2, 3]);
    assert!(trail.append(&mut conn, "alice", &[]).unwrap().is_empty());
    trail
        .append(&mut conn, "alice", &[("session_end", None, json!({}))])
        .unwrap();
    let records = records(&db);
    let events: Vec<&str> = records.iter().map(|r| r.event.as_str()).collect();
    assert_eq!(
        events,
        ["session_start", "preview", "verdict", "session_end"]
    );
    for w in records.windows(2) {
        assert_eq!(w[1].prev_hash, w[0].hash);
    }
    assert_eq!(records[1..3], appended[..], "appended as returned");
    assert_intact(&db, &j, 4);
}

pub(crate) fn unknown_events_are_refused(engine: Engine) {
    let (db, _j) = trail(engine, 0);
    let mut conn = connect(&db);
    let mut trail = Trail::open(&mut conn, None).unwrap();
    let e = trail
        .append(&mut conn, "alice", &[("oops", None, json!({}))])
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Input);
    assert!(e.message.contains("unknown audit event \"oops\""), "{e}");
    // One unknown event refuses the whole batch.
    let e = trail
        .append(
            &mut conn,
            "alice",
            &[("statement", None, json!({})), ("no such", None, json!({}))],
        )
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Input);
    assert!(records(&db).is_empty(), "nothing was appended");
}

// ---- tampering, named ----

pub(crate) fn edited_detail_is_named(engine: Engine) {
    let (db, j) = trail(engine, 5);
    tamper(
        &db,
        r#"UPDATE {audit} SET detail = '{"n":2,"statement":"SELECT 1"}' WHERE id = 3"#,
    );
    assert_broken_at(&db, &j, 3, "the record was edited");
    // The broken record is printed.
    let text = stdout(&j.run(&["audit", "verify"]));
    assert!(text.contains("first broken record:"), "{text}");
    assert!(text.contains("SELECT 1"), "{text}");
}

pub(crate) fn edited_event_is_named(engine: Engine) {
    let (db, j) = trail(engine, 5);
    tamper(&db, "UPDATE {audit} SET event = 'preview' WHERE id = 2");
    assert_broken_at(&db, &j, 2, "the record was edited");
}

pub(crate) fn edited_operator_or_time_is_named(engine: Engine) {
    let (db, j) = trail(engine, 5);
    tamper(&db, "UPDATE {audit} SET operator = 'mallory' WHERE id = 4");
    assert_broken_at(&db, &j, 4, "the record was edited");

    let (db, j) = trail(engine, 5);
    tamper(
        &db,
        "UPDATE {audit} SET at = '2020-01-01T00:00:00.000Z' WHERE id = 1",
    );
    assert_broken_at(&db, &j, 1, "the record was edited");
}

pub(crate) fn changed_hash_is_named(engine: Engine) {
    let (db, j) = trail(engine, 5);
    tamper(
        &db,
        &format!(
            "UPDATE {{audit}} SET hash = '{}' WHERE id = 3",
            "ab".repeat(32)
        ),
    );
    assert_broken_at(&db, &j, 3, "the record was edited");
}

pub(crate) fn deleted_middle_record_is_named(engine: Engine) {
    let (db, j) = trail(engine, 5);
    tamper(&db, "DELETE FROM {audit} WHERE id = 3");
    assert_broken_at(&db, &j, 4, "record 3 is missing (deleted)");
}

pub(crate) fn deleted_first_record_is_named(engine: Engine) {
    let (db, j) = trail(engine, 5);
    tamper(&db, "DELETE FROM {audit} WHERE id = 1");
    assert_broken_at(&db, &j, 2, "record 1 is missing (deleted)");
}

/// Closing the gap by renumbering leaves a prev_hash that does not match.
pub(crate) fn deleted_and_renumbered_record_is_named(engine: Engine) {
    let (db, j) = trail(engine, 5);
    tamper(
        &db,
        "DELETE FROM {audit} WHERE id = 3;
         UPDATE {audit} SET id = 3 WHERE id = 4;
         UPDATE {audit} SET id = 4 WHERE id = 5;
         UPDATE {head} SET last_id = 4",
    );
    assert_broken_at(&db, &j, 3, "does not match the hash of record 2");
}

/// Truncating the tail leaves a valid chain; the chain head kept in
/// `audit_head` shows it (unless the head is rewritten too: see
/// [`a_truncated_and_resealed_trail_is_caught_by_the_witness`]).
pub(crate) fn deleted_last_record_is_detected_by_the_chain_head(engine: Engine) {
    let (db, j) = trail(engine, 5);
    tamper(&db, "DELETE FROM {audit} WHERE id = 5");
    assert_broken_at(
        &db,
        &j,
        5,
        "record 5 is missing (deleted): the trail was truncated",
    );

    // Later appends chain from the head, so the gap stays visible.
    let mut conn = connect(&db);
    let appended = Trail::open(&mut conn, None)
        .unwrap()
        .append(
            &mut conn,
            "alice@example.org",
            &[("session_end", None, json!({}))],
        )
        .unwrap();
    assert_eq!(appended[0].id, 6);
    assert_broken_at(&db, &j, 6, "record 5 is missing (deleted)");

    let (db, j) = trail(engine, 5);
    tamper(&db, "DELETE FROM {audit} WHERE id >= 4");
    assert_broken_at(&db, &j, 4, "records 4 to 5 are missing");
}

pub(crate) fn swapped_records_are_named(engine: Engine) {
    // Exchange every column of records 3 and 4 but their ids.
    let (db, j) = trail(engine, 5);
    tamper(
        &db,
        "CREATE TEMP TABLE s AS SELECT * FROM {audit} WHERE id IN (3, 4);
         UPDATE {audit} SET (at, event, operator, target, change_id, detail, prev_hash, hash) =
             (SELECT at, event, operator, target, change_id, detail, prev_hash, hash
              FROM s WHERE s.id = 7 - {audit}.id)
         WHERE id IN (3, 4);",
    );
    assert_broken_at(&db, &j, 3, "reordered");

    // The same with the hash columns left in place.
    let (db, j) = trail(engine, 5);
    tamper(
        &db,
        "CREATE TEMP TABLE s AS SELECT * FROM {audit} WHERE id IN (3, 4);
         UPDATE {audit} SET (at, event, operator, target, change_id, detail) =
             (SELECT at, event, operator, target, change_id, detail
              FROM s WHERE s.id = 7 - {audit}.id)
         WHERE id IN (3, 4);",
    );
    assert_broken_at(&db, &j, 3, "do not match its hash");
}

/// The journal refuses edits of its trail to any client that does not
/// drop the trigger first.
pub(crate) fn the_trail_refuses_update_and_delete(engine: Engine) {
    let (db, j) = trail(engine, 2);
    let target = db.target();
    let audit = journal_table(&target, "audit");
    let mut attempts = vec![
        format!("UPDATE {audit} SET event = 'x' WHERE id = 1"),
        format!("DELETE FROM {audit} WHERE id = 2"),
    ];
    if engine == Engine::Postgres {
        attempts.push(format!("TRUNCATE {audit}"));
    }
    for sql in attempts {
        // Debug: the Postgres client keeps the server's message there.
        let e = if is_pg(&target) {
            let e = postgres::Client::connect(&target, postgres::NoTls)
                .unwrap()
                .batch_execute(&sql)
                .unwrap_err();
            format!("{e:?}")
        } else {
            let e = rusqlite::Connection::open(&target)
                .unwrap()
                .execute_batch(&sql)
                .unwrap_err();
            format!("{e:?}")
        };
        assert!(e.contains("append-only"), "{sql}: {e}");
    }
    assert_intact(&db, &j, 2);
}

// ---- showing ----

pub(crate) fn show_prints_a_table_or_json_oldest_first(engine: Engine) {
    let (db, j) = trail(engine, 3);
    let target_display = records(&db)[0].target.clone().unwrap();
    // The database named on the command line, not by the environment.
    let out = run(&["audit", "show", &db.target()]);
    assert_exit(&out, 0, "audit show DB");
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
            target_display.as_str(),
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

    let out = j.run(&["audit", "show", "--format", "json"]);
    assert_exit(&out, 0, "audit show --format json");
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

pub(crate) fn show_since_filters_by_time(engine: Engine) {
    let (db, j) = trail(engine, 2);
    tamper(
        &db,
        "UPDATE {audit} SET at = '2020-01-01T10:00:00.000Z' WHERE id = 1",
    );
    let count = |since: &str| -> usize {
        let out = j.run(&["audit", "show", "--since", since, "--format", "json"]);
        assert_exit(&out, 0, &format!("audit show --since {since}"));
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

    let out = j.run(&["audit", "show", "--since", "last tuesday"]);
    assert_exit(&out, 1, "audit show --since 'last tuesday'");
    assert!(
        stderr(&out).contains("--since \"last tuesday\" is not a time"),
        "{}",
        stderr(&out)
    );
}

// ---- concurrency and versions ----

pub(crate) fn concurrent_appends_keep_one_chain(engine: Engine) {
    const EACH: i64 = 100;
    let (db, j) = trail(engine, 0);
    std::thread::scope(|s| {
        for who in ["alice", "bob"] {
            let db = &db;
            s.spawn(move || {
                let mut conn = connect(db);
                let mut trail = Trail::open(&mut conn, None).expect("open the trail");
                for i in 0..EACH {
                    trail
                        .append(&mut conn, who, &[("statement", None, json!({"i": i}))])
                        .unwrap_or_else(|e| panic!("{who}'s append {i}: {e}"));
                }
            });
        }
    });
    assert_eq!(library_verify(&db), None);
    let records = records(&db);
    assert_eq!(records.len() as i64, 2 * EACH);
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
            (0..EACH).collect::<Vec<_>>(),
            "{who}'s events in order"
        );
    }
    assert_intact(&db, &j, 2 * EACH as usize);
}

/// A journal a newer dbguard wrote is left alone, by writes and by the
/// trail's readers, naming both versions (the old file journal's `audit
/// verify` refused one too).
pub(crate) fn a_newer_journal_is_refused_untouched(engine: Engine) {
    let (db, j) = trail(engine, 1);
    let target = db.target();
    tamper(
        &db,
        &format!(
            "UPDATE {} SET value = '3' WHERE key = 'version'",
            journal_table(&target, "meta")
        ),
    );
    let before = db.dump();
    let trail_before = records(&db);
    let out = j.run(&["exec", "-c", "INSERT INTO t VALUES (1)", "--yes"]);
    assert_exit(&out, 1, "exec on a newer journal");
    let err = stderr(&out);
    assert!(err.contains("newer dbguard"), "{err}");
    assert!(
        err.contains("version 3") && err.contains("version 2"),
        "{err}"
    );
    assert_eq!(db.dump(), before);
    for args in [&["audit", "verify"][..], &["audit", "show"]] {
        let out = j.run(args);
        assert_exit(&out, 1, &format!("{args:?} on a newer journal"));
        assert!(stderr(&out).contains("newer dbguard"), "{}", stderr(&out));
    }
    assert_eq!(records(&db), trail_before, "the trail was not touched");
}

// ---- a change's records, and the witness ----

pub(crate) const ROWS: &str = "CREATE TABLE p (id integer PRIMARY KEY, name text);
     INSERT INTO p VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd');";

/// The records a machine's witness holds, as `(id, hash)`, for any
/// database.
pub(crate) fn witness_of(path: &std::path::Path) -> Vec<(i64, String)> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read the witness {}: {e}", path.display()));
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let r = &v["record"];
            (
                r["id"].as_i64().unwrap(),
                r["hash"].as_str().unwrap().into(),
            )
        })
        .collect()
}

pub(crate) fn ids_and_hashes(records: &[AuditRecord]) -> Vec<(i64, String)> {
    records.iter().map(|r| (r.id, r.hash.clone())).collect()
}

/// An apply's and an undo's records are in the target's trail, each
/// naming its change; read with `audit show DB` and checked with `audit
/// verify DB` from a machine that only names the database.
pub(crate) fn change_records_are_in_the_target_with_their_change(engine: Engine) {
    let db = Db::new(engine, ROWS);
    let j = db.machine();
    let sql = "DELETE FROM p WHERE id = 2";
    let change = exec_apply(&j, sql);
    let undo = undo_apply(&j, change);
    let out = run(&["audit", "show", &db.target(), "--format", "json"]);
    assert_exit(&out, 0, "audit show DB");
    let trail: Vec<serde_json::Value> = serde_json::from_str(stdout(&out).trim()).unwrap();
    let of = |id: i64| -> Vec<&serde_json::Value> {
        trail
            .iter()
            .filter(|r| r["change_id"].as_i64() == Some(id))
            .collect()
    };
    let applied = of(change);
    assert_eq!(applied.len(), 1, "one record names change {change}");
    assert_eq!(applied[0]["event"], "apply");
    assert_eq!(applied[0]["detail"]["statement"], sql);
    assert_eq!(applied[0]["operator"], "tester");
    let undone = of(undo);
    assert_eq!(undone.len(), 1, "one record names the undo {undo}");
    assert_eq!(undone[0]["event"], "undo");
    assert_eq!(undone[0]["detail"]["undo_of"], change);
    let out = run(&["audit", "verify", &db.target()]);
    assert_exit(&out, 0, "audit verify DB");
}

/// The chain cannot tell an entry edited beside it, or a tail cut together
/// with its head; holding each entry against its record can, on a machine
/// with no witness too.
pub(crate) fn an_entry_the_trail_does_not_vouch_for_is_named(engine: Engine) {
    let db = Db::new(engine, ROWS);
    let j = db.machine();
    let target = db.target();
    let change = exec_apply(&j, "DELETE FROM p WHERE id = 2");
    let undo = undo_apply(&j, change);
    let elsewhere = JournalDir::on(&target);
    let verify = || elsewhere.run(&["audit", "verify", &target]);
    assert_exit(&verify(), 0, "verify of an untouched journal");

    let changes = journal_table(&target, "changes");
    target_batch(
        &target,
        &format!(
            "UPDATE {changes} SET statement = 'DELETE FROM p WHERE id = 3' WHERE id = {change}"
        ),
    );
    let out = verify();
    assert_exit(&out, 1, "verify of an edited entry");
    assert!(
        stderr(&out).contains(&format!("change {change}'s statement or digest")),
        "{}",
        stderr(&out)
    );
    target_batch(
        &target,
        &format!(
            "UPDATE {changes} SET statement = 'DELETE FROM p WHERE id = 2' WHERE id = {change}"
        ),
    );
    assert_exit(&verify(), 0, "verify once the entry is put back");

    // The undo's record and everything after it cut, the head moved back:
    // the chain is whole, the undo's entry has no record.
    let cut = records(&db)
        .iter()
        .find(|r| r.change_id == Some(undo))
        .map(|r| r.id)
        .expect("the undo's record");
    tamper(
        &db,
        &format!(
            "DELETE FROM {{audit}} WHERE id >= {cut}; \
             UPDATE {{head}} SET last_id = (SELECT max(id) FROM {{audit}}), \
             last_hash = (SELECT hash FROM {{audit}} WHERE id = (SELECT max(id) FROM {{audit}}))"
        ),
    );
    let out = verify();
    assert_exit(&out, 1, "verify of a trail cut with its head");
    assert!(
        stderr(&out).contains(&format!("change {undo} has no audit record")),
        "{}",
        stderr(&out)
    );
}

/// Every record a session appends goes to the machine's witness too: the
/// default file under `$XDG_STATE_HOME`, or `--audit-log FILE` instead.
pub(crate) fn the_witness_holds_what_this_machine_appended(engine: Engine) {
    let db = Db::new(engine, ROWS);
    let j = db.machine();
    exec_apply(&j, "DELETE FROM p WHERE id = 1");
    let trail = records(&db);
    assert_eq!(witness_of(&j.witness()), ids_and_hashes(&trail));

    let elsewhere = tempfile::tempdir().unwrap();
    let file = elsewhere.path().join("witness.jsonl");
    let other = db.machine();
    let out = other.run(&[
        "--audit-log",
        file.to_str().unwrap(),
        "exec",
        "-c",
        "DELETE FROM p WHERE id = 2",
        "--yes",
    ]);
    assert_exit(&out, 0, "exec --audit-log FILE");
    assert!(
        !other.witness().exists(),
        "--audit-log replaces the default"
    );
    let added = records(&db).split_off(trail.len());
    assert!(!added.is_empty());
    assert_eq!(witness_of(&file), ids_and_hashes(&added));
    let out = other.run(&["--audit-log", file.to_str().unwrap(), "audit", "verify"]);
    assert_exit(&out, 0, "audit verify --audit-log FILE");

    // A witness asked for by name must be there.
    let missing = elsewhere.path().join("nope.jsonl");
    let out = other.run(&["--audit-log", missing.to_str().unwrap(), "audit", "verify"]);
    assert_exit(&out, 1, "audit verify with a missing --audit-log");
    assert!(stderr(&out).contains("nope.jsonl"), "{}", stderr(&out));
}

/// Deleting the last records and rewriting the head to match leaves a
/// chain that verifies: the chain alone cannot show a truncation resealed
/// by someone who can write the database (the documented limit). The
/// witness of the machine that appended them names the first missing one.
pub(crate) fn a_truncated_and_resealed_trail_is_caught_by_the_witness(engine: Engine) {
    let db = Db::new(engine, ROWS);
    let j = db.machine();
    exec_apply(&j, "DELETE FROM p WHERE id = 1");
    let second = exec_apply(&j, "DELETE FROM p WHERE id = 2");
    let trail = records(&db);
    let cut = trail
        .iter()
        .find(|r| r.change_id == Some(second))
        .expect("the second change's record")
        .id;
    tamper(
        &db,
        &format!(
            "DELETE FROM {{audit}} WHERE id >= {cut};
             UPDATE {{head}} SET last_id = {}, last_hash = '{}'",
            cut - 1,
            trail[cut as usize - 2].hash
        ),
    );

    // A thorough forger removes the second change's entry too, else the
    // entry without its record gives the cut away
    // (`an_entry_the_trail_does_not_vouch_for_is_named`).
    let target = db.target();
    target_batch(
        &target,
        &format!(
            "DELETE FROM {} WHERE change_id = {second}; DELETE FROM {} WHERE id = {second}",
            journal_table(&target, "change_tables"),
            journal_table(&target, "changes")
        ),
    );
    // The limit: without a witness, the resealed trail verifies.
    assert_intact(&db, &db.machine(), cut as usize - 1);
    // The machine that appended them has them in its witness.
    assert_broken_at_by_witness(&j, &[], cut, "which the trail no longer has");
    // So does a copy of its witness, given by name on another machine.
    let copy = tempfile::tempdir().unwrap();
    let file = copy.path().join("audit.jsonl");
    std::fs::copy(j.witness(), &file).unwrap();
    assert_broken_at_by_witness(
        &db.machine(),
        &["--audit-log", file.to_str().unwrap()],
        cut,
        "the trail was truncated or rewritten",
    );
}

/// `audit verify` (with `global` options first) must fail naming `id`
/// from the witness, the chain itself being intact.
#[track_caller]
pub(crate) fn assert_broken_at_by_witness(j: &JournalDir, global: &[&str], id: i64, why: &str) {
    let mut args = global.to_vec();
    args.extend(["audit", "verify"]);
    let out = j.run(&args);
    assert_exit(&out, 1, "audit verify against the witness");
    let err = stderr(&out);
    assert!(
        err.contains(&format!("audit trail broken at record {id}:")),
        "verify must name record {id}: {err}"
    );
    assert!(err.contains(why), "reason should say {why:?}: {err}");
}

/// A record as stored, with its detail's stored text.
pub(crate) struct Stored {
    id: i64,
    at: String,
    event: String,
    operator: String,
    target: Option<String>,
    change_id: Option<i64>,
    detail: String,
}

/// The trail's records as stored, read with a plain client.
pub(crate) fn stored(db: &Db) -> Vec<Stored> {
    let target = db.target();
    let sql = format!(
        "SELECT id, at, event, operator, target, change_id, detail FROM {} ORDER BY id",
        journal_table(&target, "audit")
    );
    if is_pg(&target) {
        let mut c = postgres::Client::connect(&target, postgres::NoTls).unwrap();
        c.query(&sql, &[])
            .unwrap()
            .iter()
            .map(|r| Stored {
                id: r.get(0),
                at: r.get(1),
                event: r.get(2),
                operator: r.get(3),
                target: r.get(4),
                change_id: r.get(5),
                detail: r.get(6),
            })
            .collect()
    } else {
        let c = rusqlite::Connection::open(&target).unwrap();
        let mut st = c.prepare(&sql).unwrap();
        st.query_map([], |r| {
            Ok(Stored {
                id: r.get(0)?,
                at: r.get(1)?,
                event: r.get(2)?,
                operator: r.get(3)?,
                target: r.get(4)?,
                change_id: r.get(5)?,
                detail: r.get(6)?,
            })
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    }
}

/// The chain hash of a record, computed from the formula in the module
/// doc of `journal::audit` (not with dbguard's code): what anyone with
/// write access can recompute.
pub(crate) fn forged_hash(prev: &str, r: &Stored) -> String {
    let s = |v: &str| serde_json::to_string(v).unwrap();
    let canonical = format!(
        "{{\"at\":{},\"change_id\":{},\"detail\":{},\"event\":{},\"id\":{},\"operator\":{},\"target\":{}}}",
        s(&r.at),
        r.change_id.map_or("null".into(), |c| c.to_string()),
        r.detail,
        s(&r.event),
        r.id,
        s(&r.operator),
        r.target.as_deref().map_or("null".into(), s),
    );
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(canonical.as_bytes());
    base16ct::lower::encode_string(&h.finalize())
}

/// Edits record `id` with `edit` and rewrites every hash from it on, and
/// the head: a trail rewritten by someone who can write the database.
pub(crate) fn rewrite(db: &Db, id: i64, edit: impl Fn(&mut Stored)) {
    let mut records = stored(db);
    let q = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let mut prev = GENESIS_HASH.to_owned();
    let mut sql = String::new();
    for r in &mut records {
        if r.id == id {
            edit(r);
        }
        let hash = forged_hash(&prev, r);
        if r.id >= id {
            sql.push_str(&format!(
                "UPDATE {{audit}} SET operator = {}, detail = {}, prev_hash = {}, hash = {} WHERE id = {};\n",
                q(&r.operator),
                q(&r.detail),
                q(&prev),
                q(&hash),
                r.id
            ));
        }
        prev = hash;
    }
    sql.push_str(&format!("UPDATE {{head}} SET last_hash = {}", q(&prev)));
    tamper(db, &sql);
}

/// A record edited and every hash after it recomputed (and the head):
/// the chain verifies, again the documented limit; the witness names the
/// edited record.
pub(crate) fn a_rewritten_and_rehashed_trail_is_caught_by_the_witness(engine: Engine) {
    let db = Db::new(engine, ROWS);
    let j = db.machine();
    let first = exec_apply(&j, "DELETE FROM p WHERE id = 1");
    exec_apply(&j, "DELETE FROM p WHERE id = 2");
    let edited = records(&db)
        .iter()
        .find(|r| r.change_id == Some(first))
        .unwrap()
        .id;
    rewrite(&db, edited, |r| {
        r.detail = r.detail.replace("WHERE id = 1", "WHERE id = 4");
        r.operator = "mallory".into();
    });
    assert!(
        records(&db).iter().any(|r| r.operator == "mallory"),
        "the rewrite took"
    );
    // A thorough forger rewrites the entry as well, else it no longer
    // matches its record (`an_entry_the_trail_does_not_vouch_for_is_named`).
    let target = db.target();
    target_batch(
        &target,
        &format!(
            "UPDATE {} SET statement = 'DELETE FROM p WHERE id = 4' WHERE id = {first}",
            journal_table(&target, "changes")
        ),
    );
    // The limit: without a witness, the rewritten trail verifies.
    assert_intact(&db, &db.machine(), records(&db).len());
    assert_broken_at_by_witness(&j, &[], edited, "differs from the witness's copy");
}

/// A machine's witness holds the records that machine appended: a record
/// another machine appended and someone rewrote is caught by that other
/// machine's witness, not by this one's.
pub(crate) fn each_witness_vouches_for_its_own_machine(engine: Engine) {
    let db = Db::new(engine, ROWS);
    let (alice, bob) = (db.machine(), db.machine());
    exec_apply(&alice, "DELETE FROM p WHERE id = 1");
    let bobs = exec_apply(&bob, "DELETE FROM p WHERE id = 2");
    let edited = records(&db)
        .iter()
        .find(|r| r.change_id == Some(bobs))
        .unwrap()
        .id;
    rewrite(&db, edited, |r| r.operator = "mallory".into());
    let out = alice.run(&["audit", "verify"]);
    assert_exit(&out, 0, "alice's witness holds none of bob's records");
    assert_broken_at_by_witness(&bob, &[], edited, "differs from the witness's copy");
}
