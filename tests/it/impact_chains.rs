//! Key actions whose changes are themselves referenced (issue 16, item
//! 6): a SET NULL that nulls a column another table references, or an ON
//! UPDATE CASCADE into a column another table references, sets off that
//! table's own ON UPDATE action, and so on. The preview follows each to
//! its end (it showed the first step alone, then refused), and is held
//! against the engine at every depth. Where a chain comes back to a table
//! the statement writes otherwise (itself, a cycle), the outcome depends
//! on the order the engine runs the actions in, and it is refused, with
//! the rows.

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
CREATE TABLE a (rid int PRIMARY KEY, id int UNIQUE, v int);
CREATE TABLE b (id int PRIMARY KEY, aid int UNIQUE REFERENCES a (id) ON UPDATE CASCADE);
CREATE TABLE bb (id int PRIMARY KEY, baid int REFERENCES b (aid) ON UPDATE CASCADE);
INSERT INTO a VALUES (1, 1, 0), (2, 2, 0);
INSERT INTO b VALUES (1, 1), (2, 2);
INSERT INTO bb VALUES (1, 1);
CREATE TABLE x1 (rid int PRIMARY KEY, id int UNIQUE);
CREATE TABLE x2 (id int PRIMARY KEY, a int UNIQUE REFERENCES x1 (id) ON UPDATE CASCADE ON DELETE SET NULL);
CREATE TABLE x3 (id int PRIMARY KEY, b int UNIQUE REFERENCES x2 (a) ON UPDATE CASCADE);
CREATE TABLE x4 (id int PRIMARY KEY, c int REFERENCES x3 (b) ON UPDATE RESTRICT);
CREATE TABLE x5 (id int PRIMARY KEY, c int REFERENCES x3 (b) ON UPDATE SET NULL);
INSERT INTO x1 VALUES (1, 1), (2, 2), (3, 3);
INSERT INTO x2 VALUES (1, 1), (2, 2), (3, 3);
INSERT INTO x3 VALUES (1, 1), (2, 2), (3, 3);
INSERT INTO x4 VALUES (1, 2);
INSERT INTO x5 VALUES (1, 1), (2, 1);
";

/// The tables whose key an UPDATE moves keep a primary key it does not
/// move (`rid`): the oracle follows rows by it.
fn chains(db: Db<'_>) {
    let target = db.target();
    let mut s = Suite::new("chains", db);
    // DELETE -> SET NULL -> ON UPDATE CASCADE (or RESTRICT).
    s.check_ok("DELETE FROM p1 WHERE id = 1");
    s.check_fails("DELETE FROM p1 WHERE id = 2");
    s.check_ok("DELETE FROM p1 WHERE id = 3");
    // ON UPDATE CASCADE past depth 1, and what waits behind it.
    s.check_ok("UPDATE a SET id = 10 WHERE id = 1");
    s.check_ok("UPDATE a SET v = 1");
    s.check_ok("UPDATE x1 SET id = 10 WHERE id = 1");
    s.check_fails("UPDATE x1 SET id = 20 WHERE id = 2");
    s.check_ok("UPDATE x1 SET id = 30 WHERE id = 3");
    s.check_ok("UPDATE x1 SET id = id + 100 WHERE id <> 2");
    s.check_ok("DELETE FROM x1 WHERE id = 1");
    s.check_fails("DELETE FROM x1 WHERE id = 2");
    s.finish();
    let (v, _) = preview_json(&target, "UPDATE x1 SET id = 10 WHERE id = 1", None)
        .unwrap_or_else(|e| panic!("{e}"));
    let depth_of = |table: &str| {
        v["effects"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["table"].as_str().is_some_and(|t| t.ends_with(table)))
            .map(|e| (e["depth"].clone(), e["rows"].clone(), e["parent"].clone()))
    };
    let x5 = depth_of("x5").unwrap_or_else(|| panic!("no x5 effect: {v}"));
    assert_eq!((x5.0.as_u64(), x5.1.as_u64()), (Some(3), Some(2)), "{v}");
    assert!(x5.2.as_str().is_some_and(|p| p.ends_with("x3")), "{v}");
    assert!(!v["warnings"].to_string().contains("depth"), "{v}");
}

#[test]
fn a_chain_of_key_actions_is_followed_to_its_end_pg() {
    let db = PgDb::with(CHAINS);
    chains(Db::Pg(&db));
}

#[test]
fn a_chain_of_key_actions_is_followed_to_its_end_sqlite() {
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

/// The second attack review: chains through a self-reference and into a
/// key declared on a leaf partition are refused; one matched with the
/// key's collation on SQLite is followed as the engine matches it; a
/// composite key whose referenced column does not move starts no chain.
fn refused(db: &Db<'_>, sql: &str) {
    let engine = db.oracle(sql);
    assert!(
        engine.fail.is_some() || engine.totals.keys().any(|t| t.ends_with('g')),
        "{sql}: the engine does not reach g: {engine:?}"
    );
    match preview_json(&db.target(), sql, None) {
        Ok((v, _)) => panic!("{sql}: previewed without the chain: {v}"),
        Err(e) => assert!(e.contains("cannot be followed exactly"), "{sql}: {e}"),
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
    // Followed, and matched as the engine matches: by the key's collation.
    let mut s = Suite::new("chain_collation", Db::Lite(&db));
    s.check_ok("DELETE FROM p WHERE k = 'abc'");
    s.finish();
}

/// Applied and undone: the journal holds every row a chain changes, at
/// every depth, and the engine's own counters agree with the preview (the
/// apply checks them); the undo puts every table back byte for byte.
fn applies_and_undoes(engine: dbguard::db::Engine) {
    use crate::apply::{Db as ApplyDb, exec_yes, undo_yes};
    let db = ApplyDb::new(engine, CHAINS);
    let j = db.machine();
    for sql in [
        "DELETE FROM p1 WHERE id = 1",
        "UPDATE a SET id = 10 WHERE id = 1",
        "UPDATE x1 SET id = 10 WHERE id = 1",
        "DELETE FROM x1 WHERE id = 3",
    ] {
        let before = db.dump();
        let id = exec_yes(&j, &db, sql, &[]);
        assert_ne!(db.dump(), before, "{sql} changed nothing");
        undo_yes(&j, id, &[]);
        assert_eq!(db.dump(), before, "undo of {sql}");
    }
}

#[test]
fn a_chain_applies_and_undoes_exactly_pg() {
    applies_and_undoes(dbguard::db::Engine::Postgres);
}

#[test]
fn a_chain_applies_and_undoes_exactly_sqlite() {
    applies_and_undoes(dbguard::db::Engine::Sqlite);
}

/// A chain that comes back to a table the statement changes otherwise:
/// `c` is updated by `a`'s own key and again through `b`'s, in an order
/// the preview does not follow. Refused, naming the table, and nothing is
/// written.
const MEETING: &str = "
CREATE TABLE a (rid int PRIMARY KEY, id int UNIQUE);
CREATE TABLE b (id int PRIMARY KEY, aid int UNIQUE REFERENCES a (id) ON UPDATE CASCADE);
CREATE TABLE c (id int PRIMARY KEY, baid int REFERENCES b (aid) ON UPDATE CASCADE,
                aid int REFERENCES a (id) ON UPDATE CASCADE);
INSERT INTO a VALUES (1, 1);
INSERT INTO b VALUES (1, 1);
INSERT INTO c VALUES (1, 1, 1);
";

fn meeting(db: Db<'_>) {
    let sql = "UPDATE a SET id = 10";
    match preview_json(&db.target(), sql, None) {
        Ok((v, _)) => panic!("{sql}: previewed: {v}"),
        Err(e) => assert!(
            e.contains("b (b_aid_fkey)") && e.contains("c, which the statement changes"),
            "{e}"
        ),
    }
}

#[test]
fn a_chain_meeting_the_statement_is_refused_pg() {
    let db = PgDb::with(MEETING);
    meeting(Db::Pg(&db));
}

#[test]
fn a_chain_meeting_the_statement_is_refused_sqlite() {
    let db = SqliteDb::with(MEETING);
    meeting(Db::Lite(&db));
}

/// Found by the generated schemas (schema seed 18278727256151400818): a
/// step's SET DEFAULT needs a parent row as the step leaves its table,
/// where the step itself may have moved the key the default names.
const STEP_MOVES_THE_DEFAULT: &str = "
CREATE TABLE r (rid int PRIMARY KEY, id int UNIQUE);
CREATE TABLE s (id int PRIMARY KEY, u int UNIQUE REFERENCES r (id) ON UPDATE SET NULL);
CREATE TABLE q (id int PRIMARY KEY, f int DEFAULT 5 REFERENCES s (u) ON UPDATE SET DEFAULT);
INSERT INTO r VALUES (1, 1), (2, 2), (5, 5);
INSERT INTO s VALUES (1, 2), (2, 5);
INSERT INTO q VALUES (1, 2);
";

fn step_moves_the_default(db: Db<'_>) {
    let mut s = Suite::new("step_moves_the_default", db);
    s.check_fails("UPDATE r SET id = id + 100 WHERE id > 1");
    s.check_ok("UPDATE r SET id = 200 WHERE id = 2");
    s.finish();
}

#[test]
fn a_steps_set_default_reads_the_table_as_the_step_leaves_it_pg() {
    let db = PgDb::with(STEP_MOVES_THE_DEFAULT);
    step_moves_the_default(Db::Pg(&db));
}

#[test]
fn a_steps_set_default_reads_the_table_as_the_step_leaves_it_sqlite() {
    let db = SqliteDb::with(STEP_MOVES_THE_DEFAULT);
    step_moves_the_default(Db::Lite(&db));
}

/// Found by the generated schemas (GENERATED_SEED=4238491228320147319): a
/// delete whose SET NULL of `t0.u` cascades into `t1.f0` before `t0`'s
/// row is deleted, so the SET DEFAULT that would otherwise fail finds
/// nothing to set. A step into rows the statement also deletes runs in
/// an order the preview does not follow: refused, even though the rest
/// of the preview said the statement fails.
#[test]
fn a_chain_that_changes_what_a_failing_check_reads_is_refused_pg() {
    let db = PgDb::with(
        "CREATE TABLE t0 (id int PRIMARY KEY, u int UNIQUE, f0 int);
         CREATE TABLE t1 (id int PRIMARY KEY, k int UNIQUE, u int UNIQUE, f0 int DEFAULT 10);
         INSERT INTO t0 VALUES (1, 4, NULL), (5, 5, 1), (7, NULL, 5);
         INSERT INTO t1 VALUES (2, 17, 5, NULL), (4, NULL, NULL, 4), (5, 16, NULL, NULL),
                               (6, 23, 1, 4), (8, 4, 7, 5);
         ALTER TABLE t0 ADD FOREIGN KEY (f0) REFERENCES t1 (u) ON DELETE CASCADE ON UPDATE SET DEFAULT DEFERRABLE;
         ALTER TABLE t0 ADD CONSTRAINT t0_fku FOREIGN KEY (u) REFERENCES t1 (id) ON DELETE SET NULL ON UPDATE NO ACTION;
         ALTER TABLE t1 ADD FOREIGN KEY (f0) REFERENCES t0 (u) ON DELETE SET DEFAULT ON UPDATE CASCADE;
         ALTER TABLE t1 ADD FOREIGN KEY (u) REFERENCES t0 (id) ON DELETE SET NULL ON UPDATE SET NULL;",
    );
    let sql = "DELETE FROM t1 WHERE k >= 12";
    assert!(Db::Pg(&db).oracle(sql).fail.is_none(), "the engine runs it");
    match preview_json(&db.url, sql, None) {
        Ok((v, _)) => panic!("{sql}: previewed: {v}"),
        Err(e) => assert!(
            e.contains("t0_fku") && e.contains("cannot be followed"),
            "{e}"
        ),
    }
}

/// The review of 15257ff. A step into a table that references itself
/// updates more of its rows than the action reaches (its own ON UPDATE
/// CASCADE), which the statement counts once: refused. A SET DEFAULT at
/// the next step needs a row as the step leaves its table, read through
/// the step's own join. Keys that reference each other are refused at
/// once, not after a dozen steps.
const REVIEW: &str = "
CREATE TABLE p (rid int PRIMARY KEY, id int UNIQUE);
CREATE TABLE c (id int PRIMARY KEY, pid int UNIQUE REFERENCES p (id) ON UPDATE CASCADE,
                parent_pid int REFERENCES c (pid) ON UPDATE CASCADE);
INSERT INTO p VALUES (1, 1), (2, 2);
INSERT INTO c VALUES (1, 1, NULL), (2, NULL, 1);
CREATE TABLE q (rid int PRIMARY KEY, id int UNIQUE);
CREATE TABLE r (id int PRIMARY KEY, qid int UNIQUE REFERENCES q (id) ON UPDATE CASCADE);
CREATE TABLE g (id int PRIMARY KEY, rq int DEFAULT 0 REFERENCES r (qid) ON UPDATE SET DEFAULT);
INSERT INTO q VALUES (1, 0), (2, 1), (3, 3);
INSERT INTO r VALUES (1, 0), (2, 1), (3, 3);
INSERT INTO g VALUES (1, 1), (2, 3);
CREATE TABLE a (id int PRIMARY KEY, y int UNIQUE);
CREATE TABLE b (id int PRIMARY KEY, x int UNIQUE);
INSERT INTO a VALUES (1, 1);
INSERT INTO b VALUES (1, 1);
";

fn review(db: Db<'_>, cycle: &str) {
    let target = db.target();
    match preview_json(&target, "UPDATE p SET id = 10 WHERE id = 1", None) {
        Ok((v, _)) => panic!("previewed a step into a self-reference: {v}"),
        Err(e) => assert!(e.contains("cannot be followed"), "{e}"),
    }
    let mut s = Suite::new("chain_review", db);
    s.check_ok("UPDATE q SET id = 10 WHERE id = 1");
    s.check_ok("UPDATE q SET id = 20 WHERE id = 0");
    s.check_fails("UPDATE q SET id = id + 10 WHERE id IN (0, 1)");
    s.finish();
    let db2 = match db {
        Db::Pg(d) => {
            d.client().batch_execute(cycle).expect("cycle");
            Db::Pg(d)
        }
        Db::Lite(d) => {
            d.conn().execute_batch(cycle).expect("cycle");
            Db::Lite(d)
        }
    };
    match preview_json(&db2.target(), "UPDATE a SET y = 5", None) {
        Ok((v, _)) => panic!("previewed a cycle of keys: {v}"),
        // Refused at the step back into a, where the chain began.
        Err(e) => assert!(
            e.contains("cannot be followed") && e.contains("a_y_fkey"),
            "{e}"
        ),
    }
}

#[test]
fn chain_review_findings_pg() {
    let db = PgDb::with(REVIEW);
    review(
        Db::Pg(&db),
        "ALTER TABLE a ADD FOREIGN KEY (y) REFERENCES b (x) ON UPDATE CASCADE;
         ALTER TABLE b ADD FOREIGN KEY (x) REFERENCES a (y) ON UPDATE CASCADE;",
    );
}

#[test]
fn chain_review_findings_sqlite() {
    // SQLite declares keys with the table: the cycle is in the fixture.
    let db = SqliteDb::with(&format!("PRAGMA foreign_keys = OFF;\n{}", REVIEW).replace(
        "CREATE TABLE a (id int PRIMARY KEY, y int UNIQUE);
CREATE TABLE b (id int PRIMARY KEY, x int UNIQUE);",
        "CREATE TABLE a (id int PRIMARY KEY, y int UNIQUE REFERENCES b (x) ON UPDATE CASCADE);
CREATE TABLE b (id int PRIMARY KEY, x int UNIQUE REFERENCES a (y) ON UPDATE CASCADE);",
    ));
    review(Db::Lite(&db), "SELECT 1;");
}

/// The review of 15257ff: a SET DEFAULT into a child's primary key moves
/// the row, and a chain then follows its key into the next table. The
/// journal must find each row where the statement leaves it.
fn set_default_into_a_key(engine: dbguard::db::Engine) {
    use crate::apply::{Db as ApplyDb, exec_yes, undo_yes};
    let schema = "
        CREATE TABLE p (id int PRIMARY KEY);
        CREATE TABLE c (pid int PRIMARY KEY DEFAULT 0 REFERENCES p ON DELETE SET DEFAULT);
        CREATE TABLE g (id int PRIMARY KEY, cp int REFERENCES c (pid) ON UPDATE CASCADE);
        INSERT INTO p VALUES (0), (5), (6);
        INSERT INTO c VALUES (5), (6);
        INSERT INTO g VALUES (1, 5);";
    let db = ApplyDb::new(engine, schema);
    let j = db.machine();
    for sql in ["DELETE FROM p WHERE id = 6", "DELETE FROM p WHERE id = 5"] {
        let before = db.dump();
        let id = exec_yes(&j, &db, sql, &[]);
        assert_ne!(db.dump(), before, "{sql} changed nothing");
        undo_yes(&j, id, &[]);
        assert_eq!(db.dump(), before, "undo of {sql}");
    }
}

#[test]
fn a_set_default_into_a_key_applies_and_undoes_pg() {
    set_default_into_a_key(dbguard::db::Engine::Postgres);
}

#[test]
fn a_set_default_into_a_key_applies_and_undoes_sqlite() {
    set_default_into_a_key(dbguard::db::Engine::Sqlite);
}

/// An UPDATE that points a row at a value its own cascade moves: `cb`
/// row 1 at `cu.u = 1`, which the cascade of its key change makes 101.
/// The check of the new reference would read `cu` as it stands (random
/// seed 11431783996900641928). Refused.
fn points_at_a_value_its_cascade_moves(db: Db<'_>) {
    let target = db.target();
    let sql = "UPDATE cb SET id = 101, f0 = 1 WHERE id = 1";
    match preview_json(&target, sql, None) {
        Err(e) => assert!(e.contains("that its own key action changes"), "{e}"),
        Ok((v, _)) => panic!("expected a refusal, got {v}"),
    }
    assert!(db.oracle(sql).fail.is_some(), "the engine rejects it");
}

const POINTS_AT_MOVED: &str = "
CREATE TABLE cb (id int PRIMARY KEY, f0 int);
CREATE TABLE cu (id int PRIMARY KEY, u int UNIQUE REFERENCES cb (id) ON UPDATE CASCADE);
INSERT INTO cb VALUES (1, NULL);
INSERT INTO cu VALUES (2, 1);
";

#[test]
fn a_row_pointed_at_a_value_its_own_cascade_moves_is_refused_pg() {
    let db = PgDb::with(&format!(
        "{POINTS_AT_MOVED} ALTER TABLE cb ADD FOREIGN KEY (f0) REFERENCES cu (u) ON UPDATE RESTRICT;"
    ));
    points_at_a_value_its_cascade_moves(Db::Pg(&db));
}

#[test]
fn a_row_pointed_at_a_value_its_own_cascade_moves_is_refused_sqlite() {
    let db = SqliteDb::with(
        &POINTS_AT_MOVED.replace("f0 int);", "f0 int REFERENCES cu (u) ON UPDATE RESTRICT);"),
    );
    points_at_a_value_its_cascade_moves(Db::Lite(&db));
}
