//! Rows that reference a key of their own table which the same UPDATE
//! changes (issue 16: the generated schemas' self-references). What the
//! engine does then depends on when it checks the reference against the
//! key actions the statement sets off, and each engine has its own rule:
//!
//! - A row pointed at the key it gives up, where the key's `ON UPDATE`
//!   action rewrites references: the row's own action runs before its own
//!   check (PostgreSQL fires the action trigger first, SQLite runs it as
//!   the row goes), so it succeeds; a row pointed at a key another row
//!   gives up is rewritten only if that row comes first.
//! - PostgreSQL checks a row moved to another partition as an insert,
//!   before the `ON UPDATE` action its own move sets off.
//! - SQLite counts the references to a key as it rewrites each row, and a
//!   row that references the key it is given again is counted against it
//!   twice.
//!
//! Each is held against the engine: the same statement run and rolled
//! back.

use crate::helpers::{PgDb, SqliteDb};
use crate::impact::{Db, Suite, preview_json, totals_of};

const OWN: &str = "
CREATE TABLE n (rid int PRIMARY KEY, k int UNIQUE, f int REFERENCES n (k) ON UPDATE SET NULL);
INSERT INTO n VALUES (1, 5, 5), (2, 3, 5), (4, 6, 5);
CREATE TABLE a (rid int PRIMARY KEY, k int UNIQUE, f int REFERENCES a (k));
INSERT INTO a VALUES (1, 5, 5), (2, 3, 5);
CREATE TABLE nn (rid int PRIMARY KEY, k int UNIQUE, f int NOT NULL REFERENCES nn (k) ON UPDATE SET NULL);
INSERT INTO nn VALUES (1, 5, 5), (2, 3, 5);
CREATE TABLE q (rid int PRIMARY KEY, k int UNIQUE, f int REFERENCES q (k));
INSERT INTO q VALUES (1, 3, 3), (2, 1, 3), (3, 7, 7);
CREATE TABLE r (rid int PRIMARY KEY, id int, k int, fa int, fb int, UNIQUE (id, k), FOREIGN KEY (fa, fb) REFERENCES r (id, k) ON UPDATE RESTRICT);
INSERT INTO r VALUES (1, 1, 4, NULL, NULL), (2, 2, 6, 2, 6);
";

/// Whether the preview said the statement may fail, and did not say it
/// will.
fn may_fail(v: &serde_json::Value) -> bool {
    v["will_fail"] == false
        && v["warnings"].as_array().is_some_and(|w| {
            w.iter()
                .any(|w| w.as_str().is_some_and(|w| w.starts_with("may fail:")))
        })
}

/// Previews `sql`, runs it, and checks that the preview warned that it
/// may fail, that the engine did what `fails` says, and, when it
/// succeeded, that the counts agree.
fn check_may_fail(s: &mut Suite<'_>, sql: &str, fails: Option<bool>) {
    let oracle = s.db.oracle(sql);
    let v = match preview_json(&s.db.target(), sql, None) {
        Ok((v, _)) => v,
        Err(e) => return s.fail(sql, e),
    };
    s.expect(
        sql,
        may_fail(&v),
        "expected a \"may fail\" warning",
        Some(&v),
    );
    if let Some(f) = fails
        && f != oracle.fail.is_some()
    {
        s.fail(
            sql,
            format!("the engine: {:?}, expected it to fail: {f}", oracle.fail),
        );
    }
    if oracle.fail.is_none() && totals_of(&v) != oracle.totals {
        s.fail(
            sql,
            format!(
                "totals: preview {:?}, engine {:?}",
                totals_of(&v),
                oracle.totals
            ),
        );
    }
}

fn own_keys(db: Db<'_>) {
    let mut s = Suite::new("own keys", db);
    // The row's own ON UPDATE SET NULL reaches it before its check.
    s.check_ok("UPDATE n SET k = 22, f = 3 WHERE rid = 2");
    // Row 4 points at the key row 2 gives up: the order decides.
    check_may_fail(
        &mut s,
        "UPDATE n SET k = 22 + rid, f = 3 WHERE rid IN (2, 4)",
        None,
    );
    // No action rewrites it: the reference dangles.
    s.check_fails("UPDATE a SET k = 22, f = 3 WHERE rid = 2");
    // The action's NULL breaks NOT NULL.
    s.check_fails("UPDATE nn SET k = 22, f = 3 WHERE rid = 2");
    // A key given again, referenced by the row itself and by another.
    let again = "UPDATE q SET k = k WHERE rid = 1";
    match db {
        Db::Lite(_) => check_may_fail(&mut s, again, Some(true)),
        Db::Pg(_) => {
            s.check_ok(again);
        }
    }
    // A RESTRICT key the row itself held, re-pointed by the statement:
    // the row no longer references it when SQLite checks it as the row
    // goes, nor when PostgreSQL checks it after the statement's rows.
    s.check_ok("UPDATE r SET id = 53, fa = 1, fb = 4 WHERE rid = 2");
    // Referenced by itself alone: no other reference to count.
    s.check_ok("UPDATE q SET k = k WHERE rid = 3");
    s.finish();
}

#[test]
fn own_keys_pg() {
    let db = PgDb::with(OWN);
    own_keys(Db::Pg(&db));
}

#[test]
fn own_keys_sqlite() {
    let db = SqliteDb::with(OWN);
    own_keys(Db::Lite(&db));
}

/// A row that moves to another partition is checked as an insert, before
/// the `ON UPDATE CASCADE` its own key change sets off: pointed at its own
/// old key it fails; pointed at another moved row's old key, it fails only
/// if it moves first.
#[test]
fn a_row_moved_across_partitions_is_checked_before_its_own_action_pg() {
    let db = PgDb::with(
        "CREATE TABLE t (id int, k int, f int, g int, rid int, PRIMARY KEY (id), UNIQUE (id, k)) PARTITION BY RANGE (id);
         CREATE TABLE t_p0 PARTITION OF t FOR VALUES FROM (MINVALUE) TO (4);
         CREATE TABLE t_p1 PARTITION OF t FOR VALUES FROM (4) TO (100);
         CREATE TABLE t_pd PARTITION OF t DEFAULT;
         INSERT INTO t VALUES (1, 5, 1, 5, 1), (3, 8, 4, 1, 3), (4, 1, NULL, NULL, 4), (50, 2, 50, 2, 50);
         ALTER TABLE t ADD CONSTRAINT t_f FOREIGN KEY (f, g) REFERENCES t (id, k) ON UPDATE CASCADE;",
    );
    let db = Db::Pg(&db);
    let mut s = Suite::new("partition moves", db);
    // The oracle follows rows by primary key, which these statements
    // move: only the outcome is compared.
    let mut outcome = |sql: &str, fails: bool| {
        let oracle = s.db.oracle(sql);
        match preview_json(&s.db.target(), sql, None) {
            Ok((v, _)) => {
                let said = (v["will_fail"] == true, may_fail(&v));
                if said != (fails, false) || oracle.fail.is_some() != fails {
                    s.fail(
                        sql,
                        format!(
                            "expected fails={fails}; preview {v}; engine {:?}",
                            oracle.fail
                        ),
                    );
                }
            }
            Err(e) => s.fail(sql, e),
        }
    };
    // Its own key, across partitions: fails.
    outcome("UPDATE t SET id = 54 WHERE id = 1", true);
    // Its own key, within its partition: the cascade reaches it first.
    outcome("UPDATE t SET id = 60 WHERE id = 50", false);
    // A moved row whose reference stays put: checked, and found.
    outcome("UPDATE t SET id = 70 WHERE id = 3", false);
    // Another moved row's key: the order of the two rows decides.
    check_may_fail(
        &mut s,
        "UPDATE t SET id = id + 100 WHERE id IN (3, 4)",
        None,
    );
    s.finish();
}
