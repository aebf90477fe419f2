//! When a delete's RESTRICT and NO ACTION checks run beside its cascades
//! (issue 16, item 2), each against the engine.
//!
//! PostgreSQL queues the key actions of a statement and runs them in
//! order, appending the actions of rows a cascade deletes: a referencing
//! row deleted at a shallower depth than the row it references is gone
//! when that row's check runs, one deleted deeper is not, and one at the
//! next depth depends on the order rows were visited in. SQLite runs a
//! row's actions depth first as the row goes, so whether a row another
//! branch deletes is gone in time depends on the order of the branches:
//! the preview says "may fail" there, never "will fail".

use crate::helpers::{PgDb, SqliteDb};
use crate::impact::{Db, Suite, preview_json};

/// Mastodon's shape: an account's statuses and its pins both cascade from
/// the account, and a pin RESTRICTs the delete of its status.
const SIBLINGS: &str = "
CREATE TABLE accounts (id int PRIMARY KEY);
CREATE TABLE statuses (id int PRIMARY KEY,
    account_id int REFERENCES accounts ON DELETE CASCADE);
CREATE TABLE status_pins (id int PRIMARY KEY,
    status_id int REFERENCES statuses ON DELETE RESTRICT,
    account_id int REFERENCES accounts ON DELETE CASCADE);
CREATE TABLE lists (id int PRIMARY KEY,
    account_id int REFERENCES accounts ON DELETE CASCADE);
CREATE TABLE list_pins (id int PRIMARY KEY,
    list_id int REFERENCES lists ON DELETE CASCADE,
    status_id int REFERENCES statuses ON DELETE NO ACTION);
INSERT INTO accounts VALUES (1), (2), (3), (4);
INSERT INTO statuses VALUES (10, 1), (11, 1), (20, 2), (30, 3), (40, 4);
INSERT INTO status_pins VALUES (100, 10, 1), (101, 11, 1), (102, 20, 1);
INSERT INTO lists VALUES (300, 3);
INSERT INTO list_pins VALUES (3000, 300, 30);
";

fn siblings(s: &mut Suite<'_>) {
    // The pins go with their account at depth 1, the statuses' checks run
    // at depth 1: the pins are gone.
    s.check_ok("DELETE FROM accounts WHERE id = 1");
    // Account 1's pin on account 2's status stays.
    s.check_fails("DELETE FROM accounts WHERE id = 2");
    s.check_ok("DELETE FROM accounts WHERE id IN (1, 2)");
}

#[test]
fn a_sibling_cascade_clears_a_restrict_pg() {
    let db = PgDb::with(SIBLINGS);
    let mut s = Suite::new("siblings", Db::Pg(&db));
    siblings(&mut s);
    // Account 3's list pin goes at depth 2, after its status's NO ACTION
    // check at depth 1: PostgreSQL fails it.
    s.check_fails("DELETE FROM accounts WHERE id = 3");
    s.finish();
}

/// SQLite runs the keys of the table created last first: here
/// `status_pins`' cascade, so the pins are gone before the statuses'
/// checks. Created the other way round, the same delete fails. With one
/// statement row the preview knows which; with two, a pin of one account
/// on the other's status goes in the other row's turn, "may fail".
#[test]
fn a_sibling_cascade_in_declaration_order_sqlite() {
    let db = SqliteDb::with(SIBLINGS);
    let mut s = Suite::new("siblings", Db::Lite(&db));
    s.check_ok("DELETE FROM accounts WHERE id = 1");
    s.check_fails("DELETE FROM accounts WHERE id = 2");
    // NO ACTION waits for the end of the statement on SQLite.
    s.check_ok("DELETE FROM accounts WHERE id = 3");
    s.finish();
    let sql = "DELETE FROM accounts WHERE id IN (1, 2)";
    let (v, _) = preview_json(&Db::Lite(&db).target(), sql, None).expect("preview");
    assert_eq!(v["will_fail"], false, "{sql}: {v}");
    assert!(v["warnings"].to_string().contains("may fail"), "{sql}: {v}");
    assert!(Db::Lite(&db).oracle(sql).fail.is_none(), "{sql}");

    let pins_first = SIBLINGS.replace(
        "CREATE TABLE statuses (id int PRIMARY KEY,\n    account_id int REFERENCES accounts ON DELETE CASCADE);\n",
        "",
    );
    let pins_first = pins_first.replace(
        "CREATE TABLE lists",
        "CREATE TABLE statuses (id int PRIMARY KEY,\n    account_id int REFERENCES accounts ON DELETE CASCADE);\nCREATE TABLE lists",
    );
    assert_ne!(pins_first, SIBLINGS);
    let db = SqliteDb::with(&pins_first);
    let mut s = Suite::new("siblings, pins first", Db::Lite(&db));
    s.check_fails("DELETE FROM accounts WHERE id = 1");
    s.finish();
}

/// Two target rows: the row whose cascade deletes the referencing row and
/// the row it references. Which the engine visits first decides; the
/// rows are stored in both orders, and the engine shows both outcomes.
const TWO_ROWS: &str = "
CREATE TABLE a_first (id int PRIMARY KEY, k int UNIQUE);
CREATE TABLE b_first (id int PRIMARY KEY, k int UNIQUE);
INSERT INTO a_first VALUES (2, 7);
INSERT INTO a_first VALUES (3, 11);
INSERT INTO b_first VALUES (3, 11);
INSERT INTO b_first VALUES (2, 7);
CREATE TABLE ra (id int PRIMARY KEY,
    f0 int REFERENCES a_first (id) ON DELETE RESTRICT,
    f1 int REFERENCES a_first (k) ON DELETE CASCADE);
CREATE TABLE rb (id int PRIMARY KEY,
    f0 int REFERENCES b_first (id) ON DELETE RESTRICT,
    f1 int REFERENCES b_first (k) ON DELETE CASCADE);
INSERT INTO ra VALUES (1, 3, 7);
INSERT INTO rb VALUES (1, 3, 7);
";

fn two_rows(db: Db<'_>) -> Vec<bool> {
    let mut outcomes = Vec::new();
    for table in ["a_first", "b_first"] {
        let sql = format!("DELETE FROM {table} WHERE id <= 3");
        let (v, _) = preview_json(&db.target(), &sql, None).expect("preview");
        assert_eq!(v["will_fail"], false, "{}: {sql}: {v}", db.engine());
        assert!(
            v["warnings"].to_string().contains("may fail"),
            "{}: {sql}: {v}",
            db.engine()
        );
        outcomes.push(db.oracle(&sql).fail.is_none());
    }
    outcomes
}

#[test]
fn two_target_rows_in_either_order_pg() {
    let db = PgDb::with(TWO_ROWS);
    assert_eq!(two_rows(Db::Pg(&db)), [true, false]);
}

#[test]
fn two_target_rows_in_either_order_sqlite() {
    let db = SqliteDb::with(TWO_ROWS);
    assert_eq!(two_rows(Db::Lite(&db)), [true, false]);
}

/// Found by the generated-schema test (seed 2564858060979945756): the
/// RESTRICT check of a row deleted at depth 2 runs after the referencing
/// row went at depth 1, though the key that deletes it comes from
/// another table.
#[test]
fn a_shallower_cascade_clears_a_deeper_check_pg() {
    let db = PgDb::with(
        "CREATE TABLE t0 (id int PRIMARY KEY, k int UNIQUE, f0 int, f1 int);
         CREATE TABLE t2 (id int PRIMARY KEY);
         CREATE TABLE t4 (id int PRIMARY KEY, f0 int NOT NULL);
         INSERT INTO t0 VALUES (3, 4, 4, 4);
         INSERT INTO t2 VALUES (4);
         INSERT INTO t4 VALUES (4, 4);
         ALTER TABLE t0 ADD FOREIGN KEY (f0) REFERENCES t2 (id) ON DELETE CASCADE;
         ALTER TABLE t0 ADD FOREIGN KEY (f1) REFERENCES t4 (id) ON DELETE RESTRICT;
         ALTER TABLE t4 ADD FOREIGN KEY (f0) REFERENCES t0 (k) ON DELETE CASCADE;",
    );
    let mut s = Suite::new("shallower", Db::Pg(&db));
    s.check_ok("DELETE FROM t2 WHERE id > 0");
    s.finish();
}

/// Found by review against the engine: PostgreSQL fires triggers in name
/// order, and an RI trigger can be renamed. Renamed to sort last, the
/// statuses' branch runs after the lists' one, and account 3's list pin
/// is gone before its status's check: the same delete now succeeds.
#[test]
fn branches_follow_trigger_names_pg() {
    let db = PgDb::with(&format!(
        "{SIBLINGS}
         DO $$ DECLARE n name; BEGIN
           SELECT t.tgname INTO n FROM pg_trigger t
             JOIN pg_constraint c ON c.oid = t.tgconstraint
            WHERE c.conname = 'statuses_account_id_fkey'
              AND t.tgrelid = 'accounts'::regclass AND t.tgtype & 8 <> 0;
           EXECUTE format('ALTER TRIGGER %I ON accounts RENAME TO %I', n, 'RI_ConstraintTrigger_a_9999999999');
         END $$;"
    ));
    let mut s = Suite::new("renamed trigger", Db::Pg(&db));
    s.check_ok("DELETE FROM accounts WHERE id = 3");
    s.finish();
}

/// Found by review: PostgreSQL fires the triggers of the partition a row
/// is in, which it creates per partition in the order it scans the keys;
/// a renamed (or validated) key moves in that scan, so a partition may
/// run the keys in another order than its partitioned table. Where the
/// partitions disagree, the order is not known: "may fail".
#[test]
fn partitions_may_order_keys_differently_pg() {
    let schema = |rename: bool| {
        format!(
            "CREATE TABLE r (id int PRIMARY KEY) PARTITION BY LIST (id);
             CREATE TABLE e (id int PRIMARY KEY, a int, b int);
             ALTER TABLE e ADD CONSTRAINT ea FOREIGN KEY (a) REFERENCES r ON DELETE CASCADE;
             ALTER TABLE e ADD CONSTRAINT eb FOREIGN KEY (b) REFERENCES r ON DELETE RESTRICT;
             {}
             CREATE TABLE r1 PARTITION OF r FOR VALUES IN (1, 2, 3);
             INSERT INTO r VALUES (1);
             INSERT INTO e VALUES (10, 1, 1);",
            if rename {
                "ALTER TABLE e RENAME CONSTRAINT ea TO ea2;"
            } else {
                ""
            }
        )
    };
    let sql = "DELETE FROM r WHERE id = 1";
    for rename in [false, true] {
        let db = PgDb::with(&schema(rename));
        let db = Db::Pg(&db);
        let (v, _) = preview_json(&db.target(), sql, None).expect("preview");
        assert_eq!(v["will_fail"], false, "{v}");
        let warned = v["warnings"].to_string().contains("may fail");
        let failed = db.oracle(sql).fail.is_some();
        // In agreement, the cascade runs first and the delete works; the
        // renamed key's partition runs the RESTRICT first.
        assert_eq!((warned, failed), (rename, rename), "{v}");
    }
}
