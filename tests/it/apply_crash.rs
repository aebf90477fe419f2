//! Issue 14, acceptance: `kill -9` at every step of an apply and of an undo
//! leaves the change and its journal entry both or neither, 100 runs on
//! each engine.
//!
//! `DBGUARD_CRASH_AT=<step>` makes dbguard SIGKILL itself at a step
//! (`src/crash.rs`, the `crash-points` feature the tests build with). An
//! apply passes `after_begin` (its entry started), `after_capture` (the
//! rows it reaches copied into snapshots), `after_execute` (the statement
//! run), `before_commit` (entry, approvals and audit record written) and
//! `after_commit`; an undo passes `after_begin`, `undo_after_choose` (the
//! rows to revert chosen), `undo_after_reinsert` (deleted rows back),
//! `before_commit` and `after_commit`. Every step before the commit is
//! inside the one transaction that holds the change and its entry.
//!
//! After each crash the invariant is checked from the outside:
//!
//! - **neither**: the data is exactly as before (every table's rows, byte
//!   for byte), `undo list` has no new entry, the journal holds no
//!   snapshot table of a change it does not list, and the journal still
//!   works (the same statement applies and undoes);
//! - **both**: the data changed, `undo list` has exactly one new entry,
//!   and undoing it restores every table exactly (for a crashed undo: the
//!   original is marked undone by it, and undoing the undo re-applies the
//!   change exactly).
//!
//! Either way the audit trail still verifies (against this machine's
//! witness too), every record in it names a change the journal lists, and
//! a committed change's record is in the trail once the next session has
//! linked it (it is staged in the change's transaction; the crash after
//! the commit comes before the link).
//!
//! Each test crashes one step `RUNS` times on data that differs every run
//! (sizes, text lengths, DELETE with cascades and SET NULL, UPDATE,
//! INSERT); ten steps at `RUNS` each are the 100 runs per engine. Nothing
//! here measures time: after a crash on Postgres, the next run waits for
//! the killed client's transaction to end by taking the locks it held.

use std::collections::BTreeSet;
use std::os::unix::process::ExitStatusExt;
use std::process::Output;

use dbguard::db::Engine;

use crate::apply::{Db, assert_exit};
use crate::helpers::*;

/// Crashed runs of each step on each engine.
const RUNS: usize = 10;

const APPLY_STEPS: [&str; 5] = [
    "after_begin",
    "after_capture",
    "after_execute",
    "before_commit",
    "after_commit",
];

const UNDO_STEPS: [&str; 5] = [
    "after_begin",
    "undo_after_choose",
    "undo_after_reinsert",
    "before_commit",
    "after_commit",
];

// The acceptance's count: every step crashed, 100 runs per engine.
const _: () = assert!((APPLY_STEPS.len() + UNDO_STEPS.len()) * RUNS >= 100);

/// Three tables: parent → child (ON DELETE CASCADE) → grandchild (ON
/// DELETE SET NULL), so one DELETE changes rows in all three.
const SCHEMA: &str = "
CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT NOT NULL, amount REAL);
CREATE TABLE child (
  id INTEGER PRIMARY KEY,
  parent_id INTEGER NOT NULL REFERENCES parent(id) ON DELETE CASCADE,
  note TEXT
);
CREATE TABLE grandchild (
  id INTEGER PRIMARY KEY,
  child_id INTEGER REFERENCES child(id) ON DELETE SET NULL,
  v TEXT
);
";

const TABLES: [&str; 3] = ["parent", "child", "grandchild"];

/// The target of one test, with its journal, and the machine that works
/// on it.
struct Target {
    db: Db,
    machine: JournalDir,
}

impl Target {
    fn new(engine: Engine) -> Target {
        let db = Db::new(engine, SCHEMA);
        let machine = db.machine();
        Target { db, machine }
    }

    fn engine(&self) -> Engine {
        match self.db {
            Db::Pg(_) => Engine::Postgres,
            Db::Lite(_) => Engine::Sqlite,
        }
    }

    /// Runs `sql` with a plain client, outside dbguard.
    fn batch(&self, sql: &str) {
        match &self.db {
            Db::Pg(db) => db.client().batch_execute(sql).expect("setup SQL"),
            Db::Lite(db) => db.conn().execute_batch(sql).expect("setup SQL"),
        }
    }

    /// Waits until the transaction of a killed dbguard is over. Its
    /// Postgres backend rolls it back once it notices its client is gone;
    /// until then it holds its locks, which the next run would wait on
    /// (and give up after its lock timeout). Taking every lock such a
    /// transaction holds (the tables it writes, the journal's tables of
    /// entries) waits for exactly that, however long it takes. A killed
    /// SQLite process holds no lock: the next opener rolls back its
    /// journal.
    fn settle(&self) {
        let Db::Pg(db) = &self.db else { return };
        db.client()
            .batch_execute(
                "BEGIN; SET LOCAL lock_timeout = 0; \
                 LOCK TABLE parent, child, grandchild, dbguard.changes, dbguard.change_tables, \
                 dbguard.audit_pending IN ACCESS EXCLUSIVE MODE; COMMIT",
            )
            .expect("wait for the killed transaction to end");
    }

    /// Every table, every row's exact value: Postgres by each row's
    /// binary send form, SQLite by each value with its storage class (reals
    /// by their bits).
    fn checksum(&self) -> String {
        let mut parts = Vec::new();
        for t in TABLES {
            match &self.db {
                Db::Pg(db) => {
                    let row = db
                        .client()
                        .query_one(
                            &format!(
                                "SELECT count(*)::text, md5(coalesce(string_agg( \
                                 encode(pg_catalog.record_send(t), 'hex'), '|' ORDER BY t.id), '')) \
                                 FROM {t} AS t"
                            ),
                            &[],
                        )
                        .expect("checksum");
                    parts.push(format!(
                        "{t}:{}:{}",
                        row.get::<_, String>(0),
                        row.get::<_, String>(1)
                    ));
                }
                Db::Lite(db) => {
                    use std::hash::{Hash, Hasher};
                    let rows = sqlite_rows(&db.conn(), &format!("SELECT * FROM {t} ORDER BY id"));
                    let mut h = std::collections::hash_map::DefaultHasher::new();
                    rows.hash(&mut h);
                    parts.push(format!("{t}:{}:{:016x}", rows.len(), h.finish()));
                }
            }
        }
        parts.join(" ")
    }

    /// Replaces the data with run `i`'s: a different number of parents,
    /// children per parent and text sizes each run. Returns the statement
    /// that run applies (it always changes at least one row).
    fn fill(&self, i: usize) -> String {
        let parents = 3 + (i * 37) % 120;
        let nc = parents * (1 + i % 4);
        let ng = nc + i;
        let note = 1 + (i * 53) % 400;
        let (series, rep) = match self.engine() {
            Engine::Postgres => (
                "SELECT value FROM generate_series(1, {n}) AS g(value)".to_owned(),
                format!("repeat('x', {note})"),
            ),
            Engine::Sqlite => (
                "WITH RECURSIVE s(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM s WHERE value < {n}) \
                 SELECT value FROM s"
                    .to_owned(),
                format!("replace(hex(zeroblob({note})), '00', 'x')"),
            ),
        };
        let from = |n: usize| format!("({}) AS q", series.replace("{n}", &n.to_string()));
        self.batch(&format!(
            "DELETE FROM grandchild; DELETE FROM child; DELETE FROM parent;
             INSERT INTO parent SELECT value, 'p' || value || ' ünï ''q''', value * 1.25 FROM {};
             INSERT INTO child SELECT value, (value - 1) % {parents} + 1, {rep} || value FROM {};
             INSERT INTO grandchild SELECT value, CASE WHEN value % 3 = 0 THEN NULL ELSE (value - 1) % {nc} + 1 END, 'g' || value FROM {};",
            from(parents),
            from(nc),
            from(ng),
        ));
        let m = 2 + i % 5;
        let r = i % m;
        match i % 6 {
            // A DELETE cascading to child and setting grandchild.child_id
            // to NULL, mostly; an UPDATE and an INSERT now and then.
            1 => format!(
                "UPDATE parent SET name = name || ' *', amount = amount * 2 WHERE id % {m} = {r}"
            ),
            4 => format!(
                "INSERT INTO parent (id, name, amount) SELECT id + 100000, 'copy ' || name, amount FROM parent WHERE id % {m} = {r}"
            ),
            3 => format!("DELETE FROM parent WHERE id <= {}", 1 + i % parents),
            _ => format!("DELETE FROM parent WHERE id % {m} = {r}"),
        }
    }

    /// `dbguard ARGS` on this target's machine, crashing at `step`.
    fn crash(&self, args: &[&str], step: &str, what: &str) {
        let out = self
            .machine
            .command(args)
            .env("DBGUARD_CRASH_AT", step)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run dbguard");
        assert_killed(&out, what);
        self.settle();
    }

    /// The ids `undo list` shows.
    fn listed(&self) -> BTreeSet<i64> {
        undo_list(&self.machine)
            .iter()
            .filter_map(|c| c["id"].as_i64())
            .collect()
    }

    /// The changes the journal holds snapshot tables of.
    fn snapshot_owners(&self) -> BTreeSet<i64> {
        let names: Vec<String> = match &self.db {
            Db::Pg(db) => db
                .client()
                .query(
                    "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = 'dbguard' AND c.relkind = 'r' AND c.relname ~ '^c[0-9]+_'",
                    &[],
                )
                .expect("snapshot tables")
                .iter()
                .map(|r| r.get(0))
                .collect(),
            Db::Lite(db) => {
                let conn = db.conn();
                let mut st = conn
                    .prepare(
                        "SELECT substr(name, 9) FROM sqlite_schema \
                         WHERE type = 'table' AND name GLOB 'dbguard_c[0-9]*_*'",
                    )
                    .expect("snapshot tables");
                st.query_map([], |r| r.get::<_, String>(0))
                    .expect("snapshot tables")
                    .collect::<Result<_, _>>()
                    .expect("snapshot tables")
            }
        };
        names
            .iter()
            .map(|n| {
                n[1..]
                    .split('_')
                    .next()
                    .and_then(|id| id.parse().ok())
                    .unwrap_or_else(|| panic!("a snapshot table named {n}"))
            })
            .collect()
    }

    /// The journal after a crash: exactly `want` listed, and no snapshot
    /// of anything else.
    #[track_caller]
    fn assert_journal(&self, want: &BTreeSet<i64>, what: &str) {
        let listed = self.listed();
        assert_eq!(&listed, want, "{what}: the entries undo list shows");
        let owners = self.snapshot_owners();
        assert!(
            owners.is_subset(&listed),
            "{what}: snapshot tables of changes the journal does not list: {:?}",
            owners.difference(&listed).collect::<Vec<_>>()
        );
    }

    /// The audit trail after a crash: another session appends (and so
    /// links what a change staged before the crash), the chain and this
    /// machine's witness verify, every record names a listed change, and
    /// `committed` has its record.
    #[track_caller]
    fn assert_trail(&self, committed: Option<i64>, what: &str) {
        let j = &self.machine;
        let read = j.run(&["exec", "-c", "SELECT 1", "--format", "json"]);
        assert_exit(&read, 0, &format!("{what}: a session after the crash"));
        let witness = j.witness().display().to_string();
        let verify = j.run(&["audit", "verify", "--audit-log", &witness]);
        assert_exit(&verify, 0, &format!("{what}: audit verify"));
        let show = j.run(&["audit", "show", "--format", "json"]);
        assert_exit(&show, 0, &format!("{what}: audit show"));
        let trail: serde_json::Value = serde_json::from_str(stdout(&show).trim())
            .unwrap_or_else(|e| panic!("{what}: audit show JSON: {e}\n{}", stdout(&show)));
        let named: BTreeSet<i64> = trail
            .as_array()
            .expect("a list of records")
            .iter()
            .filter_map(|r| r["change_id"].as_i64())
            .collect();
        let listed = self.listed();
        assert!(
            named.is_subset(&listed),
            "{what}: audit records of changes the journal does not list: {:?}",
            named.difference(&listed).collect::<Vec<_>>()
        );
        if let Some(id) = committed {
            assert!(
                named.contains(&id),
                "{what}: change {id} committed but has no audit record"
            );
        }
    }
}

#[track_caller]
fn assert_killed(out: &Output, what: &str) {
    assert!(
        out.status.code().is_none() && out.status.signal() == Some(9),
        "{what}: expected dbguard to be killed by SIGKILL, got {:?}\nstdout: {}\nstderr: {}",
        out.status,
        stdout(out),
        stderr(out)
    );
}

/// The one id in `now` and not in `before`.
#[track_caller]
fn new_id(before: &BTreeSet<i64>, now: &BTreeSet<i64>, what: &str) -> i64 {
    let new: Vec<&i64> = now.difference(before).collect();
    assert_eq!(new.len(), 1, "{what}: new entries {new:?}");
    *new[0]
}

/// Crashes an apply at `step` RUNS times and checks the invariant after
/// each.
fn crash_apply(engine: Engine, step: &str) {
    let target = Target::new(engine);
    let j = &target.machine;
    for i in 0..RUNS {
        let sql = target.fill(i);
        let before = target.checksum();
        let listed = target.listed();
        let what = format!("{engine:?} apply crashed {step}, run {i} ({sql})");
        target.crash(
            &["exec", "-c", &sql, "--yes", "--format", "json"],
            step,
            &what,
        );
        if step == "after_commit" {
            let now = target.listed();
            let id = new_id(&listed, &now, &what);
            target.assert_journal(&now, &what);
            assert_ne!(
                target.checksum(),
                before,
                "{what}: change {id} is in the journal, yet the data is unchanged"
            );
            target.assert_trail(Some(id), &what);
            let e = crate::apply::list_entry(j, id);
            assert!(e["undone_by"].is_null(), "{what}: {e}");
            let undo = undo_apply(j, id);
            assert_eq!(
                target.checksum(),
                before,
                "{what}: the undo of change {id} (by {undo}) did not restore every table"
            );
        } else {
            target.assert_journal(&listed, &what);
            assert_eq!(
                target.checksum(),
                before,
                "{what}: no journal entry, yet the data changed"
            );
            target.assert_trail(None, &what);
            // The target and its journal still work: the same change,
            // applied and undone.
            let id = exec_apply(j, &sql);
            assert_ne!(
                target.checksum(),
                before,
                "{what}: the apply changed nothing"
            );
            undo_apply(j, id);
            assert_eq!(target.checksum(), before, "{what}: an undo after the crash");
        }
    }
}

/// Applies a change, then crashes its undo at `step` RUNS times and checks
/// the invariant after each.
fn crash_undo(engine: Engine, step: &str) {
    let target = Target::new(engine);
    let j = &target.machine;
    for i in 0..RUNS {
        let sql = target.fill(i);
        let before = target.checksum();
        let id = exec_apply(j, &sql);
        let applied = target.checksum();
        let what = format!("{engine:?} undo of change {id} crashed {step}, run {i} ({sql})");
        assert_ne!(applied, before, "{what}: the apply changed nothing");
        let listed = target.listed();
        let ids = id.to_string();
        target.crash(
            &["undo", "apply", &ids, "--yes", "--format", "json"],
            step,
            &what,
        );
        let original = || crate::apply::list_entry(j, id);
        if step == "after_commit" {
            let now = target.listed();
            let undo = new_id(&listed, &now, &what);
            target.assert_journal(&now, &what);
            assert_eq!(
                target.checksum(),
                before,
                "{what}: the undo {undo} is in the journal, yet the data is not restored"
            );
            target.assert_trail(Some(undo), &what);
            let e = crate::apply::list_entry(j, undo);
            assert_eq!(e["undo_of"].as_i64(), Some(id), "{what}: {e}");
            assert_eq!(original()["undone_by"].as_i64(), Some(undo), "{what}");
            let redo = undo_apply(j, undo);
            assert_eq!(
                target.checksum(),
                applied,
                "{what}: undoing the undo {undo} (by {redo}) did not re-apply the change"
            );
        } else {
            target.assert_journal(&listed, &what);
            assert_eq!(
                target.checksum(),
                applied,
                "{what}: the crashed undo left part of its restore in the database"
            );
            target.assert_trail(None, &what);
            let e = original();
            assert!(
                e["undone_by"].is_null(),
                "{what}: the crashed undo marked change {id} undone: {e}"
            );
            undo_apply(j, id);
            assert_eq!(
                target.checksum(),
                before,
                "{what}: the undo after the crashed one did not restore every table"
            );
        }
    }
}

#[test]
fn crash_pg_apply_after_begin() {
    crash_apply(Engine::Postgres, APPLY_STEPS[0]);
}

#[test]
fn crash_pg_apply_after_capture() {
    crash_apply(Engine::Postgres, APPLY_STEPS[1]);
}

#[test]
fn crash_pg_apply_after_execute() {
    crash_apply(Engine::Postgres, APPLY_STEPS[2]);
}

#[test]
fn crash_pg_apply_before_commit() {
    crash_apply(Engine::Postgres, APPLY_STEPS[3]);
}

#[test]
fn crash_pg_apply_after_commit() {
    crash_apply(Engine::Postgres, APPLY_STEPS[4]);
}

#[test]
fn crash_pg_undo_after_begin() {
    crash_undo(Engine::Postgres, UNDO_STEPS[0]);
}

#[test]
fn crash_pg_undo_after_choose() {
    crash_undo(Engine::Postgres, UNDO_STEPS[1]);
}

#[test]
fn crash_pg_undo_after_reinsert() {
    crash_undo(Engine::Postgres, UNDO_STEPS[2]);
}

#[test]
fn crash_pg_undo_before_commit() {
    crash_undo(Engine::Postgres, UNDO_STEPS[3]);
}

#[test]
fn crash_pg_undo_after_commit() {
    crash_undo(Engine::Postgres, UNDO_STEPS[4]);
}

#[test]
fn crash_sqlite_apply_after_begin() {
    crash_apply(Engine::Sqlite, APPLY_STEPS[0]);
}

#[test]
fn crash_sqlite_apply_after_capture() {
    crash_apply(Engine::Sqlite, APPLY_STEPS[1]);
}

#[test]
fn crash_sqlite_apply_after_execute() {
    crash_apply(Engine::Sqlite, APPLY_STEPS[2]);
}

#[test]
fn crash_sqlite_apply_before_commit() {
    crash_apply(Engine::Sqlite, APPLY_STEPS[3]);
}

#[test]
fn crash_sqlite_apply_after_commit() {
    crash_apply(Engine::Sqlite, APPLY_STEPS[4]);
}

#[test]
fn crash_sqlite_undo_after_begin() {
    crash_undo(Engine::Sqlite, UNDO_STEPS[0]);
}

#[test]
fn crash_sqlite_undo_after_choose() {
    crash_undo(Engine::Sqlite, UNDO_STEPS[1]);
}

#[test]
fn crash_sqlite_undo_after_reinsert() {
    crash_undo(Engine::Sqlite, UNDO_STEPS[2]);
}

#[test]
fn crash_sqlite_undo_before_commit() {
    crash_undo(Engine::Sqlite, UNDO_STEPS[3]);
}

#[test]
fn crash_sqlite_undo_after_commit() {
    crash_undo(Engine::Sqlite, UNDO_STEPS[4]);
}
