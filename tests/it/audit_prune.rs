//! `dbguard undo prune` (issue 14): it drops the snapshots of old changes,
//! never their entries' place in the audit trail, and a pruned change says
//! so when shown, exported or undone.

use dbguard::db::Engine;
use dbguard::journal::audit::AuditRecord;
use serde_json::json;

use crate::apply::{Db, assert_exit};
use crate::audit::*;
use crate::helpers::*;

crate::audit::on_both_engines!(
    prune_keep_drops_old_rows_and_never_the_trail,
    prune_before_a_date,
    a_pruned_change_cannot_be_shown_or_exported,
);

// ---- undo prune: rows go, the trail stays ----

/// How many snapshot tables of change `id` the journal holds.
fn snapshots_of(db: &Db, id: i64) -> i64 {
    let target = db.target();
    let sql = if is_pg(&target) {
        format!(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'dbguard' AND tablename LIKE 'c{id}\\_%'"
        )
    } else {
        format!(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name LIKE 'dbguard\\_c{id}\\_%' ESCAPE '\\'"
        )
    };
    target_i64(&target, &sql)
}

/// Ids of the changes `undo list` shows as pruned.
fn pruned(j: &JournalDir) -> Vec<i64> {
    let mut ids: Vec<i64> = undo_list(j)
        .iter()
        .filter(|c| !c["pruned_at"].is_null())
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    ids.sort();
    ids
}

/// `args` (`undo apply ID`, `undo show ID`...) of a pruned change refuse,
/// saying so, and change nothing.
#[track_caller]
fn assert_pruned(db: &Db, j: &JournalDir, id: i64, commands: &[&str]) {
    let before = db.dump();
    let ids = id.to_string();
    for command in commands {
        let mut args = vec!["undo", command, &ids];
        if *command == "apply" {
            args.push("--yes");
        }
        let out = j.run(&args);
        assert_exit(&out, 1, &format!("{args:?} of a pruned change"));
        assert!(
            stderr(&out).contains(&format!("change {id}'s rows were pruned")),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(
            !stdout(&out).contains("BEGIN"),
            "{args:?}: no half restore script: {}",
            stdout(&out)
        );
    }
    assert_eq!(db.dump(), before);
    assert_eq!(snapshots_of(db, id), 0, "change {id}'s snapshots are gone");
}

/// The trail after a prune: every record before it unchanged, one
/// `prune` record naming the pruned changes, the chain intact, the record
/// in the witness too.
#[track_caller]
fn assert_prune_recorded(db: &Db, j: &JournalDir, earlier: &[AuditRecord], ids: &[i64]) {
    let now = records(db);
    assert_eq!(&now[..earlier.len()], earlier, "the trail is never pruned");
    let added = &now[earlier.len()..];
    let prunes: Vec<&AuditRecord> = added.iter().filter(|r| r.event == "prune").collect();
    assert_eq!(prunes.len(), 1, "one prune record: {added:?}");
    assert_eq!(prunes[0].detail["pruned"], json!(ids));
    assert_eq!(prunes[0].operator, "tester");
    assert!(
        witness_of(&j.witness()).contains(&(prunes[0].id, prunes[0].hash.clone())),
        "the prune record is in the witness"
    );
    assert_intact(db, j, now.len());
}

fn prune_keep_drops_old_rows_and_never_the_trail(engine: Engine) {
    let db = Db::new(engine, ROWS);
    let j = db.machine();
    let ids = [
        exec_apply(&j, "DELETE FROM p WHERE id = 1"),
        exec_apply(&j, "UPDATE p SET name = 'x' WHERE id = 2"),
        exec_apply(&j, "INSERT INTO p VALUES (9, 'nine')"),
    ];
    for id in ids {
        assert!(snapshots_of(&db, id) > 0, "change {id} has snapshots");
    }
    let earlier = records(&db);
    let out = j.run(&["undo", "prune", "--keep", "1"]);
    assert_exit(&out, 0, "undo prune --keep 1");
    assert!(
        stdout(&out).contains("pruned the rows of 2 changes"),
        "{}",
        stdout(&out)
    );
    assert_eq!(pruned(&j), ids[..2]);
    assert_eq!(undo_list(&j).len(), 3, "pruned entries are still listed");
    assert_prune_recorded(&db, &j, &earlier, &ids[..2]);
    for id in &ids[..2] {
        assert_pruned(&db, &j, *id, &["apply"]);
    }
    // The kept change is whole: its undo works.
    assert!(snapshots_of(&db, ids[2]) > 0);
    let before_undo = db.dump();
    undo_apply(&j, ids[2]);
    assert_ne!(db.dump(), before_undo);
}

fn prune_before_a_date(engine: Engine) {
    let db = Db::new(engine, ROWS);
    let j = db.machine();
    let ids = [
        exec_apply(&j, "DELETE FROM p WHERE id = 1"),
        exec_apply(&j, "DELETE FROM p WHERE id = 2"),
        exec_apply(&j, "DELETE FROM p WHERE id = 3"),
    ];
    let target = db.target();
    target_batch(
        &target,
        &format!(
            "UPDATE {} SET created_at = '2020-01-01T00:00:00Z' WHERE id = {}",
            journal_table(&target, "changes"),
            ids[0]
        ),
    );
    let earlier = records(&db);
    let out = j.run(&["undo", "prune", "--before", "2021-01-01"]);
    assert_exit(&out, 0, "undo prune --before 2021-01-01");
    assert_eq!(pruned(&j), [ids[0]]);
    assert_prune_recorded(&db, &j, &earlier, &ids[..1]);
    assert_pruned(&db, &j, ids[0], &["apply"]);
    assert!(snapshots_of(&db, ids[1]) > 0 && snapshots_of(&db, ids[2]) > 0);

    let earlier = records(&db);
    let out = j.run(&["undo", "prune", "--before", "2999-01-01"]);
    assert_exit(&out, 0, "undo prune --before 2999-01-01");
    assert_eq!(pruned(&j), ids);
    assert_prune_recorded(&db, &j, &earlier, &ids[1..]);

    let out = j.run(&["undo", "prune", "--before", "last tuesday"]);
    assert_exit(&out, 1, "undo prune --before 'last tuesday'");
    assert!(stderr(&out).contains("is not a time"), "{}", stderr(&out));
}

fn a_pruned_change_cannot_be_shown_or_exported(engine: Engine) {
    let db = Db::new(engine, ROWS);
    let j = db.machine();
    let id = exec_apply(&j, "DELETE FROM p WHERE id = 1");
    exec_apply(&j, "DELETE FROM p WHERE id = 2");
    let out = j.run(&["undo", "prune", "--keep", "1"]);
    assert_exit(&out, 0, "undo prune --keep 1");
    assert_pruned(&db, &j, id, &["show", "export"]);
}
