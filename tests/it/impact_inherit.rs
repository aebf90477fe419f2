//! PostgreSQL plain inheritance (issue 16, item 10). A scan of a table
//! that others inherit from also returns their rows, but a foreign key,
//! its actions and the engine's counters see the table's own rows only
//! (`ONLY`). Each statement is held against the engine; an apply and its
//! undo leave every table byte for byte as it was.

use dbguard::db::Engine;

use crate::apply::{Db, exec_yes, undo_yes};
use crate::helpers::{PgDb, run, stderr, stdout};
use crate::impact::{Db as ImpactDb, Suite, preview_json};

/// Every inheritance child holds rows that match what its parent's do,
/// so a preview reading the parent with its children counts them.
const INHERIT: &str = "
CREATE TABLE q (id int PRIMARY KEY);
CREATE TABLE pp (id int PRIMARY KEY, qid int REFERENCES q ON DELETE CASCADE);
CREATE TABLE pp2 (PRIMARY KEY (id)) INHERITS (pp);
INSERT INTO q VALUES (1), (2);
INSERT INTO pp VALUES (1, 1);
INSERT INTO pp2 VALUES (1, 1), (2, 1);
CREATE TABLE sq (id int PRIMARY KEY);
CREATE TABLE sn (id int PRIMARY KEY, sid int REFERENCES sq ON DELETE SET NULL ON UPDATE CASCADE);
CREATE TABLE sn2 (PRIMARY KEY (id)) INHERITS (sn);
INSERT INTO sq VALUES (1);
INSERT INTO sn VALUES (1, 1);
INSERT INTO sn2 VALUES (2, 1), (3, 1);
CREATE TABLE rq (id int PRIMARY KEY);
CREATE TABLE rr (id int PRIMARY KEY, rid int REFERENCES rq ON DELETE RESTRICT ON UPDATE RESTRICT);
CREATE TABLE rr2 (PRIMARY KEY (id)) INHERITS (rr);
INSERT INTO rq VALUES (1), (2);
INSERT INTO rr VALUES (1, 1);
INSERT INTO rr2 VALUES (2, 2);
CREATE TABLE hp (id int PRIMARY KEY);
CREATE TABLE hp2 (PRIMARY KEY (id)) INHERITS (hp);
CREATE TABLE hc (id int PRIMARY KEY, hid int REFERENCES hp ON DELETE CASCADE ON UPDATE CASCADE);
INSERT INTO hp VALUES (1);
INSERT INTO hp2 VALUES (1), (2);
INSERT INTO hc VALUES (1, 1);
CREATE TABLE parent (id int PRIMARY KEY, v text);
CREATE TABLE child (extra int, PRIMARY KEY (id)) INHERITS (parent);
INSERT INTO parent VALUES (1, 'a'), (2, 'b');
INSERT INTO child VALUES (3, 'c', 1), (4, 'd', 1), (5, 'e', 1), (6, 'f', 1), (7, 'g', 1);
";

#[test]
fn foreign_keys_see_a_tables_own_rows_only() {
    let db = PgDb::with(INHERIT);
    let mut s = Suite::new("inheritance", ImpactDb::Pg(&db));
    // Actions reach pp's own rows, not pp2's.
    s.check_ok("DELETE FROM q WHERE id = 1");
    s.check_ok("DELETE FROM sq");
    // rr2's rows reference nothing: the FK is rr's alone.
    s.check_ok("DELETE FROM rq WHERE id = 2");
    s.check_fails("DELETE FROM rq WHERE id = 1");
    s.check_fails("UPDATE rq SET id = 7 WHERE id = 1");
    // hp2's keys are not hp's.
    s.check_fails("INSERT INTO hc VALUES (2, 2)");
    s.check_fails("UPDATE hc SET hid = 2");
    s.check_ok("INSERT INTO hc VALUES (3, 1)");
    s.check_ok("DELETE FROM hp WHERE tableoid = 'hp'::regclass");
    // A child is a table of its own. (Key updates are held by the apply
    // test below: this oracle tells rows apart by their key.)
    s.check_ok("DELETE FROM child WHERE id > 5");
    s.check_ok("UPDATE child SET v = 'z' WHERE id = 3");
    s.check_ok("DELETE FROM parent WHERE id > 1 AND tableoid = 'parent'::regclass");
    s.finish();
}

/// A DELETE or UPDATE through a table also writes its children's rows,
/// which the preview would hold as the parent's: the journal would put
/// them back into the parent, without their own columns. It is refused
/// with each table's count and what to write instead.
#[test]
fn a_write_through_a_parent_that_reaches_its_children_is_refused() {
    let db = PgDb::with(INHERIT);
    for sql in [
        "DELETE FROM parent WHERE id > 1",
        "UPDATE parent SET v = 'z' WHERE id > 1",
    ] {
        let err = match preview_json(&db.url, sql, None) {
            Ok((v, code)) => panic!("{sql}: previewed (exit {code}): {v}"),
            Err(e) => e,
        };
        for part in [
            "public.child (5 rows)",
            "public.parent (1 row)",
            "inherit",
            "tableoid = 'public.parent'::regclass",
        ] {
            assert!(err.contains(part), "{sql}: {part:?} not in {err}");
        }
    }
    // Through the whole CLI: nothing was written.
    let before = crate::helpers::pg_dump_tables(&db.url);
    let o = run(&["exec", &db.url, "-c", "DELETE FROM parent", "--yes"]);
    assert_ne!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(crate::helpers::pg_dump_tables(&db.url), before);
}

/// Applied and undone: the cascade deletes pp's row only, and the undo of
/// an insert into hp deletes that row only, not hp2's row with the same key.
#[test]
fn applies_and_undoes_exactly_beside_inheritance_children() {
    let db = Db::new(Engine::Postgres, INHERIT);
    let j = db.machine();
    for sql in [
        "DELETE FROM q WHERE id = 1",
        "DELETE FROM sq",
        "INSERT INTO hp VALUES (2)",
        "UPDATE hp SET id = 5 WHERE tableoid = 'hp'::regclass",
        "UPDATE sq SET id = 5",
        "UPDATE rq SET id = 7 WHERE id = 2",
        "UPDATE hp2 SET id = 9 WHERE id = 1",
        "DELETE FROM child WHERE id > 5",
    ] {
        let before = db.dump();
        let id = exec_yes(&j, &db, sql, &[]);
        let after = db.dump();
        assert_ne!(before, after, "{sql} changed nothing");
        undo_yes(&j, id, &[]);
        assert_eq!(db.dump(), before, "undo of {sql}");
    }
}

/// The attack review of f2b987f. A WHERE that selects every row of the
/// parent's own (`tableoid = 'parent'::regclass`, what the refusal tells
/// the operator to write) is a write of every row to the policy, as on a
/// table without children; and a child whose name reads like the
/// parent's (`"s.t".u` and `s."t.u"`) is still another table.
#[test]
fn the_parents_own_rows_are_all_its_rows_and_names_do_not_collide() {
    let db = PgDb::with(INHERIT);
    for sql in [
        "DELETE FROM parent WHERE tableoid = 'parent'::regclass",
        "UPDATE parent SET v = 'x' WHERE tableoid = 'parent'::regclass",
        "DELETE FROM q WHERE id = id",
    ] {
        let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        match preview_json(&db.url, sql, Some(&shipped)) {
            Ok((v, _)) => panic!("{sql}: not denied: {v}"),
            Err(e) => assert!(e.contains("rule no-unbounded-writes"), "{sql}: {e}"),
        }
    }
    let db = PgDb::with(
        r#"CREATE SCHEMA "s.t"; CREATE SCHEMA s;
           CREATE TABLE "s.t".u (id int PRIMARY KEY);
           CREATE TABLE s."t.u" (PRIMARY KEY (id)) INHERITS ("s.t".u);
           INSERT INTO "s.t".u VALUES (1); INSERT INTO s."t.u" VALUES (2);"#,
    );
    match preview_json(&db.url, r#"DELETE FROM "s.t".u"#, None) {
        Ok((v, _)) => panic!("previewed: {v}"),
        Err(e) => assert!(e.contains("inherit"), "{e}"),
    }
}
