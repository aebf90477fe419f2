//! Issue 4, acceptance 4: crash safety of the write-ahead journal.
//!
//! `DBGUARD_CRASH_AT=<step>` makes dbguard SIGKILL itself at a step of the
//! guarded apply (`after_capture`, `after_prepare`, `after_commit`) or of an
//! undo (`during_undo`). Each test crashes one step at least 20 times, on
//! data of varying size, then restarts (`undo list`, which reconciles, or
//! `undo apply`, which reconciles first) and checks promise 3: every change
//! is either absent with its entry aborted (or no entry at all, when the
//! crash came before the entry was durable), or present with a committed
//! entry whose undo puts every table back exactly as it was.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::helpers::*;

const RUNS: usize = 20;

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

enum Target {
    Pg(PgDb),
    Lite(SqliteDb),
}

impl Target {
    fn new(pg: bool) -> Target {
        if pg {
            Target::Pg(PgDb::with(SCHEMA))
        } else {
            Target::Lite(SqliteDb::with(SCHEMA))
        }
    }

    fn db(&self) -> String {
        match self {
            Target::Pg(db) => db.url.clone(),
            Target::Lite(db) => db.target(),
        }
    }

    fn batch(&self, sql: &str) {
        match self {
            Target::Pg(db) => db.client().batch_execute(sql).expect("setup SQL"),
            Target::Lite(db) => db.conn().execute_batch(sql).expect("setup SQL"),
        }
    }

    /// Waits until no other session is connected to the database: the
    /// backend of a killed dbguard goes away once it notices.
    fn wait_idle(&self) {
        let Target::Pg(db) = self else { return };
        let mut c = db.client();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let n: i64 = c
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
                    &[],
                )
                .expect("pg_stat_activity")
                .get(0);
            if n == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the killed dbguard's backend is still there after 15 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A fingerprint of every table: row counts and every row's values.
    fn checksum(&self) -> String {
        let mut parts = Vec::new();
        for t in TABLES {
            match self {
                Target::Pg(db) => {
                    let row = db
                        .client()
                        .query_one(
                            &format!(
                                "SELECT count(*)::text, md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM {t} AS t"
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
                Target::Lite(db) => {
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
        let per_child = 1 + i % 4;
        let note = 1 + (i * 53) % 400;
        let (series, repeat) = match self {
            Target::Pg(_) => ("generate_series(1, {n}) AS g(value)", "repeat('x', {k})"),
            Target::Lite(_) => ("", "replace(hex(zeroblob({k})), '00', 'x')"),
        };
        let series_of = |n: usize| series.replace("{n}", &n.to_string());
        let rep = |k: usize| repeat.replace("{k}", &k.to_string());
        let sql = match self {
            Target::Pg(_) => format!(
                "DELETE FROM grandchild; DELETE FROM child; DELETE FROM parent;
                 INSERT INTO parent SELECT value, 'p' || value || ' ünï ''q''', value * 1.25 FROM {};
                 INSERT INTO child SELECT value, (value - 1) % {parents} + 1, {} || value FROM {};
                 INSERT INTO grandchild SELECT value, CASE WHEN value % 3 = 0 THEN NULL ELSE (value - 1) % {} + 1 END, 'g' || value FROM {};",
                series_of(parents),
                rep(note),
                series_of(parents * per_child),
                parents * per_child,
                series_of(parents * per_child + i),
            ),
            Target::Lite(_) => format!(
                "DELETE FROM grandchild; DELETE FROM child; DELETE FROM parent;
                 WITH RECURSIVE s(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM s WHERE value < {np})
                 INSERT INTO parent SELECT value, 'p' || value || ' ünï ''q''', value * 1.25 FROM s;
                 WITH RECURSIVE s(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM s WHERE value < {nc})
                 INSERT INTO child SELECT value, (value - 1) % {parents} + 1, {} || value FROM s;
                 WITH RECURSIVE s(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM s WHERE value < {ng})
                 INSERT INTO grandchild SELECT value, CASE WHEN value % 3 = 0 THEN NULL ELSE (value - 1) % {nc} + 1 END, 'g' || value FROM s;",
                rep(note),
                np = parents,
                nc = parents * per_child,
                ng = parents * per_child + i,
            ),
        };
        self.batch(&sql);
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
}

fn assert_killed(out: &std::process::Output, what: &str) {
    assert!(
        out.status.code().is_none() && out.status.signal() == Some(9),
        "{what}: expected dbguard to be killed by SIGKILL, got {:?}\nstdout: {}\nstderr: {}",
        out.status,
        stdout(out),
        stderr(out)
    );
}

/// Lists the journal (reconciling it) until no entry is `prepared`: a
/// Postgres backend may take a moment to notice its client died, and its
/// transaction is "in progress" until then.
fn settled_list(journal: &Path, what: &str) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let list = undo_list(journal);
        let prepared: Vec<&serde_json::Value> =
            list.iter().filter(|c| c["status"] == "prepared").collect();
        if prepared.is_empty() {
            return list;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: entries still prepared after reconciling for 15 s: {prepared:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn max_id(list: &[serde_json::Value]) -> i64 {
    list.iter()
        .filter_map(|c| c["id"].as_i64())
        .max()
        .unwrap_or(0)
}

fn entry(list: &[serde_json::Value], id: i64) -> Option<&serde_json::Value> {
    list.iter().find(|c| c["id"].as_i64() == Some(id))
}

/// The invariant after a crashed apply: the new entries (those above
/// `prev_max`) are all settled; at most one is committed; if one is, the
/// change is in the database and its undo restores `before` exactly; if
/// none is, the database is exactly `before`. Returns the status of the
/// crashed change's entry ("none" when it never became durable).
fn check_apply_invariant(
    target: &Target,
    journal: &Path,
    list: &[serde_json::Value],
    prev_max: i64,
    before: &str,
    what: &str,
) -> String {
    let new: Vec<&serde_json::Value> = list
        .iter()
        .filter(|c| c["id"].as_i64().unwrap_or(0) > prev_max)
        .collect();
    assert!(
        new.len() <= 1,
        "{what}: one crashed statement left {} entries: {new:?}",
        new.len()
    );
    let now = target.checksum();
    match new.first() {
        None => {
            assert_eq!(
                now, before,
                "{what}: no journal entry, yet the database changed"
            );
            "none".to_owned()
        }
        Some(e) => {
            let status = e["status"].as_str().unwrap_or("?").to_owned();
            match status.as_str() {
                "aborted" => {
                    assert_eq!(
                        now, before,
                        "{what}: entry {} is aborted, yet the database changed",
                        e["id"]
                    );
                    assert_trail_settles(journal, e["id"].as_i64().expect("id"), what);
                }
                "committed" => {
                    assert_ne!(
                        now, before,
                        "{what}: entry {} is committed, yet the database is unchanged",
                        e["id"]
                    );
                    assert!(e["undone_by"].is_null(), "{what}: {e}");
                    let id = e["id"].as_i64().expect("id");
                    undo_apply(journal, id, None);
                    assert_eq!(
                        target.checksum(),
                        before,
                        "{what}: undo of committed entry {id} did not restore every table"
                    );
                }
                other => panic!("{what}: entry {} left {other}", e["id"]),
            }
            status
        }
    }
}

/// The trail of an aborted change: its `apply` record was written with the
/// entry, before the target committed, so an `abort` record must follow
/// it, and the trail must still verify.
fn assert_trail_settles(journal: &Path, id: i64, what: &str) {
    let out = dbguard_journal(journal, &["audit", "show", "--format", "json"], &[]);
    let trail: serde_json::Value = serde_json::from_str(stdout(&out).trim())
        .unwrap_or_else(|e| panic!("{what}: audit show JSON: {e}\n{}", stdout(&out)));
    let events: Vec<&str> = trail
        .as_array()
        .expect("a list of records")
        .iter()
        .filter(|r| r["change_id"].as_i64() == Some(id))
        .filter_map(|r| r["event"].as_str())
        .collect();
    if events.contains(&"apply") {
        let after = events.iter().skip_while(|e| **e != "apply");
        assert!(
            after.clone().any(|e| *e == "abort"),
            "{what}: change {id} is aborted but the trail ends {events:?}"
        );
    }
    let out = dbguard_journal(journal, &["audit", "verify"], &[]);
    assert_eq!(out.status.code(), Some(0), "{what}: {}", stderr(&out));
}

/// Crashes an apply at `step` RUNS times and checks the invariant after
/// each; `expected` is the only status the crashed entry may end in.
fn crash_apply(pg: bool, step: &str, expected: &[&str]) {
    let target = Target::new(pg);
    let dir = tempfile::tempdir().expect("tempdir");
    let journal: PathBuf = dir.path().join("journal.sqlite");
    let db = target.db();
    let mut prev_max = 0;
    for i in 0..RUNS {
        let sql = target.fill(i);
        let before = target.checksum();
        let what = format!("{step} run {i} ({sql})");
        let out = dbguard_journal(
            &journal,
            &["exec", &db, "-c", &sql, "--yes", "--format", "json"],
            &[("DBGUARD_CRASH_AT", step)],
        );
        assert_killed(&out, &what);
        // Restart. After a crash past the target commit, odd runs go
        // straight to `undo apply` (which reconciles first) to check that
        // path; the others reconcile through `undo list`.
        if step == "after_commit" && i % 2 == 1 {
            let id = prev_max + 1;
            undo_apply(&journal, id, None);
            assert_eq!(
                target.checksum(),
                before,
                "{what}: undo apply {id} right after the crash did not restore every table"
            );
            let list = settled_list(&journal, &what);
            let e = entry(&list, id).unwrap_or_else(|| panic!("{what}: no entry {id}"));
            assert_eq!(e["status"], "committed", "{what}: {e}");
            assert!(!e["undone_by"].is_null(), "{what}: {e}");
            prev_max = max_id(&list);
            continue;
        }
        // Before the target commit, some runs restart through `exec` of the
        // same statement: it reconciles the crashed entry when it opens the
        // journal, then applies the change for real.
        if step != "after_commit" && i % 4 == 2 {
            target.wait_idle();
            let id = exec_apply(&journal, &db, &sql);
            let list = undo_list(&journal);
            for e in list.iter().filter(|c| {
                let n = c["id"].as_i64().unwrap_or(0);
                n > prev_max && n < id
            }) {
                assert_eq!(
                    e["status"], "aborted",
                    "{what}: after a restart through exec, the crashed entry is not aborted: {e}"
                );
            }
            let e = entry(&list, id).unwrap_or_else(|| panic!("{what}: no entry {id}"));
            assert_eq!(e["status"], "committed", "{what}: {e}");
            assert_ne!(
                target.checksum(),
                before,
                "{what}: the apply changed nothing"
            );
            undo_apply(&journal, id, None);
            assert_eq!(target.checksum(), before, "{what}: undo after a crash");
            prev_max = max_id(&undo_list(&journal));
            continue;
        }
        let list = settled_list(&journal, &what);
        let status = check_apply_invariant(&target, &journal, &list, prev_max, &before, &what);
        assert!(
            expected.contains(&status.as_str()),
            "{what}: the crashed change's entry is {status}, expected one of {expected:?}"
        );
        // The journal still works after the crash: a normal apply and its
        // undo on the same data.
        if i % 5 == 4 {
            let id = exec_apply(&journal, &db, &sql);
            assert_ne!(
                target.checksum(),
                before,
                "{what}: the apply changed nothing"
            );
            undo_apply(&journal, id, None);
            assert_eq!(target.checksum(), before, "{what}: undo after a crash");
        }
        prev_max = max_id(&undo_list(&journal));
    }
}

/// Crashes an undo halfway through restoring RUNS times: the undo's own
/// entry must be absent or aborted, the original change still applied,
/// committed, not marked undone, and undoable.
fn crash_undo(pg: bool) {
    let target = Target::new(pg);
    let dir = tempfile::tempdir().expect("tempdir");
    let journal: PathBuf = dir.path().join("journal.sqlite");
    let db = target.db();
    for i in 0..RUNS {
        let sql = target.fill(i);
        let before = target.checksum();
        let what = format!("during_undo run {i} ({sql})");
        let id = exec_apply(&journal, &db, &sql);
        let applied = target.checksum();
        assert_ne!(applied, before, "{what}: the apply changed nothing");
        let id_s = id.to_string();
        let out = dbguard_journal(
            &journal,
            &["undo", "apply", &id_s, "--yes", "--format", "json"],
            &[("DBGUARD_CRASH_AT", "during_undo")],
        );
        assert_killed(&out, &what);
        let list = settled_list(&journal, &what);
        for e in list.iter().filter(|c| c["id"].as_i64().unwrap_or(0) > id) {
            assert_eq!(
                e["status"], "aborted",
                "{what}: the crashed undo left an entry that is not aborted: {e}"
            );
        }
        let original = entry(&list, id).unwrap_or_else(|| panic!("{what}: no entry {id}"));
        assert_eq!(original["status"], "committed", "{what}: {original}");
        assert!(
            original["undone_by"].is_null(),
            "{what}: the crashed undo marked change {id} undone: {original}"
        );
        assert_eq!(
            target.checksum(),
            applied,
            "{what}: the crashed undo left part of its restore in the database"
        );
        undo_apply(&journal, id, None);
        assert_eq!(
            target.checksum(),
            before,
            "{what}: undo after the crashed undo did not restore every table"
        );
    }
}

#[test]
fn crash_pg_after_capture() {
    crash_apply(true, "after_capture", &["none", "aborted"]);
}

#[test]
fn crash_pg_after_prepare() {
    crash_apply(true, "after_prepare", &["aborted"]);
}

#[test]
fn crash_pg_after_commit() {
    crash_apply(true, "after_commit", &["committed"]);
}

#[test]
fn crash_pg_during_undo() {
    crash_undo(true);
}

#[test]
fn crash_sqlite_after_capture() {
    crash_apply(false, "after_capture", &["none", "aborted"]);
}

#[test]
fn crash_sqlite_after_prepare() {
    crash_apply(false, "after_prepare", &["aborted"]);
}

#[test]
fn crash_sqlite_after_commit() {
    crash_apply(false, "after_commit", &["committed"]);
}

#[test]
fn crash_sqlite_during_undo() {
    crash_undo(false);
}
