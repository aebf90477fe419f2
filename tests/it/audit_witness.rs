//! What the witness catches that the chain in the database cannot (issue
//! 15, finding 16): a trail emptied and its head set back to the start,
//! and a journal dropped and made again. Either leaves a chain that
//! verifies on its own; the witness of the machine that appended the
//! records names the first one missing. And undo data edited beside the
//! trail, which each change's seal in its record catches.

use dbguard::db::Engine;
use dbguard::journal::audit::GENESIS_HASH;

use crate::apply::{Db, assert_exit};
use crate::audit::{
    ROWS, assert_broken_at_by_witness, assert_intact, on_both_engines, records, tamper,
};
use crate::helpers::JournalDir;
use crate::helpers::*;

on_both_engines!(
    an_emptied_trail_is_caught_by_the_witness,
    a_replaced_journal_is_caught_by_the_witness,
    edited_undo_data_is_caught_by_the_seal,
    edited_entry_fields_are_named,
);

/// Issue 15, finding 16: every record deleted, the head set back to the
/// start, and every entry with them. What is left is a valid empty chain
/// (the limit without a witness); the witness names the first record it
/// holds.
fn an_emptied_trail_is_caught_by_the_witness(engine: Engine) {
    let db = Db::new(engine, ROWS);
    let j = db.machine();
    exec_apply(&j, "DELETE FROM p WHERE id = 1");
    let first = records(&db).first().expect("a record").id;
    let target = db.target();
    tamper(
        &db,
        &format!(
            "DELETE FROM {{audit}}; UPDATE {{head}} SET last_id = 0, last_hash = '{GENESIS_HASH}'"
        ),
    );
    target_batch(
        &target,
        &format!(
            "DELETE FROM {}; DELETE FROM {}; DELETE FROM {}",
            journal_table(&target, "approvals"),
            journal_table(&target, "change_tables"),
            journal_table(&target, "changes")
        ),
    );
    assert_intact(&db, &db.machine(), 0);
    assert_broken_at_by_witness(&j, &[], first, "which the trail no longer has");
}

/// Issue 15, finding 16: the whole journal dropped and made again (`dbguard
/// init`): a new chain that verifies on its own; the witness holds records
/// it does not.
fn a_replaced_journal_is_caught_by_the_witness(engine: Engine) {
    let db = Db::new(engine, ROWS);
    let j = db.machine();
    exec_apply(&j, "DELETE FROM p WHERE id = 1");
    let target = db.target();
    let drop = match engine {
        Engine::Postgres => "DROP SCHEMA dbguard CASCADE".to_owned(),
        Engine::Sqlite => {
            let conn = rusqlite::Connection::open(target.trim_start_matches("sqlite:")).unwrap();
            let mut stmt = conn
                .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name LIKE 'dbguard\\_%' ESCAPE '\\'")
                .unwrap();
            let names: Vec<String> = stmt
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(|n| n.unwrap())
                .collect();
            let drops: Vec<String> = names
                .iter()
                .map(|n| format!("DROP TABLE \"{n}\";"))
                .collect();
            format!("PRAGMA foreign_keys = OFF; {}", drops.join(" "))
        }
    };
    target_batch(&target, &drop);
    let o = db.machine().run(&["init", &target]);
    assert_exit(&o, 0, "init of a new journal");
    assert_broken_at_by_witness(&j, &[], 1, "");
}

/// Issue 15, finding 16: undo data edited with another client: a
/// before-image rewritten (the undo would put back a value the change never
/// removed), a captured row deleted or one added, a table description
/// changed, a snapshot's columns altered, a second record without the
/// seal. Each is named by `audit verify`, on a machine without a witness
/// too, and refuses the undo; an untouched journal verifies, also after the server rewrote its
/// rows' headers and its tables (`VACUUM FULL`, `VACUUM FREEZE`).
fn edited_undo_data_is_caught_by_the_seal(engine: Engine) {
    let edits = [
        ("UPDATE {d} SET c2 = 'forged'", "edited outside dbguard"),
        ("DELETE FROM {d} WHERE c1 = 2", "edited outside dbguard"),
        (
            "INSERT INTO {d} SELECT * FROM {d}",
            "edited outside dbguard",
        ),
        (
            "UPDATE {tables} SET key_columns = '[]' WHERE change_id = {id}",
            "(change_tables)",
        ),
        ("UPDATE {b} SET c2 = 'forged'", "edited outside dbguard"),
        // Column DDL: a dropped column added back with a default (no row
        // is rewritten), and two columns swapped by name.
        (
            "ALTER TABLE {b} DROP COLUMN c2; ALTER TABLE {b} ADD COLUMN c2 text DEFAULT 'forged'",
            "edited outside dbguard",
        ),
        (
            "ALTER TABLE {d} RENAME COLUMN c1 TO tmp; ALTER TABLE {d} RENAME COLUMN c2 TO c1; \
             ALTER TABLE {d} RENAME COLUMN tmp TO c2",
            "edited outside dbguard",
        ),
        // A second record for the change, without its seal, queued to be
        // linked into the chain by the next append.
        ("{forged record}", "audit records that vouch for it"),
    ];
    for (edit, why) in edits {
        let db = Db::new(engine, ROWS);
        let j = db.machine();
        let target = db.target();
        let deleted = exec_apply(&j, "DELETE FROM p WHERE id IN (2, 3)");
        let updated = exec_apply(&j, "UPDATE p SET name = 'z' WHERE id = 1");
        let elsewhere = JournalDir::on(&target);
        let verify = || elsewhere.run(&["audit", "verify", &target]);
        if engine == Engine::Postgres {
            target_batch(&target, "VACUUM FULL");
            target_batch(&target, "VACUUM FREEZE");
        }
        assert_exit(&verify(), 0, "verify of untouched undo data");

        let id = if edit.contains("{b}") {
            updated
        } else {
            deleted
        };
        let forged = match engine {
            Engine::Postgres => format!(
                "INSERT INTO dbguard.audit_pending (at, event, operator, target, change_id, detail) \
                 SELECT at, event, operator, target, change_id, (detail::jsonb - 'seal')::text \
                 FROM dbguard.audit WHERE change_id = {id}"
            ),
            Engine::Sqlite => format!(
                "INSERT INTO dbguard_audit_pending (at, event, operator, target, change_id, detail) \
                 SELECT at, event, operator, target, change_id, json_remove(detail, '$.seal') \
                 FROM dbguard_audit WHERE change_id = {id}"
            ),
        };
        let sql = edit
            .replace("{forged record}", &forged)
            .replace("{d}", &journal_table(&target, &format!("c{id}_1_d")))
            .replace("{b}", &journal_table(&target, &format!("c{id}_1_b")))
            .replace("{tables}", &journal_table(&target, "change_tables"))
            .replace("{id}", &id.to_string());
        target_batch(&target, &sql);
        let out = verify();
        assert_exit(&out, 1, &format!("verify after {sql}"));
        let err = stderr(&out);
        assert!(
            err.contains(&format!("change {id}")) && err.contains(why),
            "{sql}: {err}"
        );
        // The undo holds the undo data to the seal too: nothing it would
        // put back from edited before-images is committed.
        let tables = db.dump();
        let ids = id.to_string();
        let out = j.run(&["undo", "apply", &ids, "--yes"]);
        assert_exit(&out, 1, &format!("undo after {sql}"));
        assert!(
            stderr(&out).contains("nothing was undone"),
            "{sql}: {}",
            stderr(&out)
        );
        assert_eq!(db.dump(), tables, "{sql}: a refused undo changed data");
    }
}

/// What the undo and `undo list` read of an entry besides its rows: the
/// change an undo undid (cleared, the undone change lists as committed and
/// could be undone again) and an apply's partial mark. Each is held
/// against the change's record.
fn edited_entry_fields_are_named(engine: Engine) {
    let db = Db::new(engine, ROWS);
    let j = db.machine();
    let target = db.target();
    let change = exec_apply(&j, "DELETE FROM p WHERE id = 2");
    let undo = undo_apply(&j, change);
    let changes = journal_table(&target, "changes");
    let verify = || j.run(&["audit", "verify", &target]);
    assert_exit(&verify(), 0, "verify of an untouched journal");
    for (edit, put_back, why) in [
        (
            format!("UPDATE {changes} SET undo_of = NULL WHERE id = {undo}"),
            format!("UPDATE {changes} SET undo_of = {change} WHERE id = {undo}"),
            format!("change {undo}'s undone change"),
        ),
        (
            format!("UPDATE {changes} SET partial = 'nothing' WHERE id = {change}"),
            format!("UPDATE {changes} SET partial = NULL WHERE id = {change}"),
            format!("change {change}'s partial mark"),
        ),
    ] {
        target_batch(&target, &edit);
        let out = verify();
        assert_exit(&out, 1, &edit);
        assert!(stderr(&out).contains(&why), "{edit}: {}", stderr(&out));
        target_batch(&target, &put_back);
        assert_exit(&verify(), 0, &put_back);
    }
}
