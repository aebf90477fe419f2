//! Key actions whose changes are themselves referenced (issue 16, item
//! 6): a SET NULL that nulls a column another table references, or an ON
//! UPDATE CASCADE into a column another table references, sets off that
//! table's own ON UPDATE action. The preview does not follow those yet;
//! where such a chain reaches rows it refuses, with the rows, instead of
//! showing counts that leave them out (it showed the first step alone, or
//! a warning); where it reaches none, the preview is exact as before.

use crate::helpers::{PgDb, SqliteDb};
use crate::impact::{Db, Suite, preview_json};

const CHAINS: &str = "
CREATE TABLE p1 (id int PRIMARY KEY);
CREATE TABLE c1 (id int PRIMARY KEY, x int UNIQUE REFERENCES p1 ON DELETE SET NULL);
CREATE TABLE g1 (id int PRIMARY KEY, cx int REFERENCES c1 (x) ON UPDATE CASCADE);
CREATE TABLE g2 (id int PRIMARY KEY, cx int REFERENCES c1 (x) ON UPDATE RESTRICT);
INSERT INTO p1 VALUES (1), (2), (3);
INSERT INTO c1 VALUES (1, 1), (2, 2), (3, 3);
INSERT INTO g1 VALUES (1, 1), (2, 1);
INSERT INTO g2 VALUES (1, 2);
CREATE TABLE a (id int PRIMARY KEY, v int);
CREATE TABLE b (id int PRIMARY KEY, aid int UNIQUE REFERENCES a ON UPDATE CASCADE);
CREATE TABLE bb (id int PRIMARY KEY, baid int REFERENCES b (aid) ON UPDATE CASCADE);
INSERT INTO a VALUES (1, 0), (2, 0);
INSERT INTO b VALUES (1, 1), (2, 2);
INSERT INTO bb VALUES (1, 1);
";

fn chains(db: Db<'_>) {
    let target = db.target();
    for (sql, rows, table) in [
        ("DELETE FROM p1 WHERE id = 1", "2 rows of ", "g1 reference"),
        ("DELETE FROM p1 WHERE id = 2", "1 row of ", "g2 references"),
        (
            "UPDATE a SET id = 10 WHERE id = 1",
            "1 row of ",
            "bb references",
        ),
    ] {
        // The engine does change (or refuse on) those rows.
        let engine = db.oracle(sql);
        let reached = engine.fail.is_some()
            || engine
                .totals
                .keys()
                .any(|t| t.ends_with("g1") || t.ends_with("bb"));
        assert!(
            reached,
            "{sql}: the engine does not reach the chain: {engine:?}"
        );
        match preview_json(&target, sql, None) {
            Ok((v, _)) => panic!("{sql}: previewed without the chain: {v}"),
            Err(e) => {
                assert!(e.contains(rows), "{sql}: {rows:?} not in {e}");
                assert!(e.contains(table), "{sql}: {table:?} not in {e}");
                assert!(e.contains("not followed"), "{sql}: {e}");
            }
        }
    }
    // No row references the changed values: exact, as before.
    let mut s = Suite::new("chains", db);
    s.check_ok("DELETE FROM p1 WHERE id = 3");
    s.check_ok("UPDATE a SET v = 1");
    s.finish();
    let (v, _) = preview_json(&target, "UPDATE a SET id = 20 WHERE id = 2", None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v["will_fail"], false, "{v}");
    assert!(!v["warnings"].to_string().contains("depth"), "{v}");
}

#[test]
fn a_chain_of_key_actions_is_refused_where_it_reaches_rows_pg() {
    let db = PgDb::with(CHAINS);
    chains(Db::Pg(&db));
}

#[test]
fn a_chain_of_key_actions_is_refused_where_it_reaches_rows_sqlite() {
    let db = SqliteDb::with(CHAINS);
    chains(Db::Lite(&db));
}

/// The attack review: ON CONFLICT DO UPDATE that changes a referenced
/// key sets off the ON UPDATE actions of the tables referencing it.
const UPSERT_KEY: &str = "
CREATE TABLE p (id int PRIMARY KEY, v int);
CREATE TABLE c (id int PRIMARY KEY, pid int REFERENCES p ON UPDATE CASCADE);
INSERT INTO p VALUES (1, 0), (2, 0);
INSERT INTO c VALUES (1, 1), (2, 1);
";

fn upsert_key(db: Db<'_>) {
    let sql = "INSERT INTO p VALUES (1, 5) ON CONFLICT (id) DO UPDATE SET id = 7";
    let engine = db.oracle(sql);
    assert!(
        engine.totals.keys().any(|t| t.ends_with('c')),
        "the engine does not cascade: {engine:?}"
    );
    match preview_json(&db.target(), sql, None) {
        Ok((v, _)) => panic!("{sql}: previewed without the cascade: {v}"),
        Err(e) => assert!(e.contains("2 rows of") && e.contains("not followed"), "{e}"),
    }
    // A key no row references, or a column no key reads: exact.
    let mut s = Suite::new("upsert_key", db);
    s.check_ok("INSERT INTO p VALUES (1, 5) ON CONFLICT (id) DO UPDATE SET v = excluded.v");
    s.finish();
    let (v, _) = preview_json(
        &db.target(),
        "INSERT INTO p VALUES (2, 5) ON CONFLICT (id) DO UPDATE SET id = 9",
        None,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v["will_fail"], false, "{v}");
}

#[test]
fn an_upsert_changing_a_referenced_key_is_refused_pg() {
    let db = PgDb::with(UPSERT_KEY);
    upsert_key(Db::Pg(&db));
}

#[test]
fn an_upsert_changing_a_referenced_key_is_refused_sqlite() {
    let db = SqliteDb::with(UPSERT_KEY);
    upsert_key(Db::Lite(&db));
}

/// The second attack review: chains through a self-reference, into a key
/// declared on a leaf partition, and matched with the key's collation on
/// SQLite are refused too; a composite key whose referenced column does
/// not move starts no chain.
fn refused(db: &Db<'_>, sql: &str) {
    let engine = db.oracle(sql);
    assert!(
        engine.fail.is_some() || engine.totals.keys().any(|t| t.ends_with('g')),
        "{sql}: the engine does not reach g: {engine:?}"
    );
    match preview_json(&db.target(), sql, None) {
        Ok((v, _)) => panic!("{sql}: previewed without the chain: {v}"),
        Err(e) => assert!(e.contains("not followed"), "{sql}: {e}"),
    }
}

const SELF_CHAIN: &str = "
CREATE TABLE t (id int PRIMARY KEY, alt int UNIQUE REFERENCES t (id) ON UPDATE CASCADE);
CREATE TABLE g (id int PRIMARY KEY, x int REFERENCES t (alt) ON UPDATE CASCADE);
INSERT INTO t VALUES (1, NULL), (2, 1);
INSERT INTO g VALUES (1, 1);
CREATE TABLE cp (a int, b int, PRIMARY KEY (a, b));
CREATE TABLE cc (id int PRIMARY KEY, a int UNIQUE, b int, FOREIGN KEY (a, b) REFERENCES cp (a, b) ON UPDATE CASCADE);
CREATE TABLE cg (id int PRIMARY KEY, x int REFERENCES cc (a) ON UPDATE RESTRICT);
INSERT INTO cp VALUES (1, 1);
INSERT INTO cc VALUES (1, 1, 1);
INSERT INTO cg VALUES (1, 1);
";

fn self_chain(db: Db<'_>) {
    refused(&db, "UPDATE t SET id = 10 WHERE id = 1");
    let sql = "UPDATE cp SET b = 2 WHERE a = 1";
    assert!(db.oracle(sql).fail.is_none(), "{sql}");
    let (v, _) = preview_json(&db.target(), sql, None).unwrap_or_else(|e| panic!("{sql}: {e}"));
    assert_eq!(v["will_fail"], false, "{v}");
}

#[test]
fn chains_through_a_self_reference_pg() {
    let db = PgDb::with(SELF_CHAIN);
    self_chain(Db::Pg(&db));
}

#[test]
fn chains_through_a_self_reference_sqlite() {
    let db = SqliteDb::with(SELF_CHAIN);
    self_chain(Db::Lite(&db));
}

#[test]
fn a_chain_into_a_key_on_a_leaf_partition_pg() {
    let db = PgDb::with(
        "CREATE TABLE p (id int PRIMARY KEY);
         CREATE TABLE c (id int PRIMARY KEY, x int REFERENCES p (id) ON DELETE SET NULL ON UPDATE CASCADE)
           PARTITION BY RANGE (id);
         CREATE TABLE c1 PARTITION OF c FOR VALUES FROM (0) TO (100);
         ALTER TABLE c1 ADD CONSTRAINT c1_x_key UNIQUE (x);
         CREATE TABLE g (id int PRIMARY KEY, gx int REFERENCES c1 (x) ON UPDATE CASCADE);
         INSERT INTO p VALUES (1), (2); INSERT INTO c VALUES (5, 1); INSERT INTO g VALUES (1, 1);",
    );
    refused(&Db::Pg(&db), "DELETE FROM p WHERE id = 1");
}

#[test]
fn a_chain_matched_with_the_keys_collation_sqlite() {
    let db = SqliteDb::with(
        "CREATE TABLE p (k text COLLATE NOCASE PRIMARY KEY);
         CREATE TABLE c (id integer PRIMARY KEY,
           x text COLLATE NOCASE UNIQUE REFERENCES p (k) ON DELETE SET NULL ON UPDATE CASCADE);
         CREATE TABLE g (id integer PRIMARY KEY, gx text REFERENCES c (x) ON UPDATE CASCADE);
         INSERT INTO p VALUES ('abc'); INSERT INTO c VALUES (1, 'abc'); INSERT INTO g VALUES (1, 'ABC');",
    );
    refused(&Db::Lite(&db), "DELETE FROM p WHERE k = 'abc'");
}
