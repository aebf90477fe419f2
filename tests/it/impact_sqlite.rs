//! SQLite's own rules for values and keys (issue 16, items 11–14), each
//! held against the engine: a foreign key matches child rows with the
//! parent column's collation and acts only when the key moves under it;
//! a value is converted to its column's affinity before it is compared;
//! an `INTEGER PRIMARY KEY` given NULL takes a new rowid; `rowid` is a
//! column a statement may name.

use crate::helpers::SqliteDb;
use crate::impact::{Db, Suite};

/// Item 11. `n` tables are NOCASE, `b` tables BINARY; each scenario has
/// its own parent so the statements do not meet.
const COLLATIONS: &str = "
CREATE TABLE n1 (a text COLLATE NOCASE PRIMARY KEY);
CREATE TABLE c1 (id integer PRIMARY KEY, a text REFERENCES n1 ON DELETE CASCADE ON UPDATE CASCADE);
INSERT INTO n1 VALUES ('ABC'), ('def');
INSERT INTO c1 VALUES (1, 'abc'), (2, 'Abc'), (3, 'DEF');
CREATE TABLE n2 (a text COLLATE NOCASE PRIMARY KEY);
CREATE TABLE c2 (id integer PRIMARY KEY, a text REFERENCES n2 ON DELETE RESTRICT ON UPDATE RESTRICT);
INSERT INTO n2 VALUES ('X');
INSERT INTO c2 VALUES (1, 'x');
CREATE TABLE b3 (a text PRIMARY KEY);
CREATE TABLE c3 (id integer PRIMARY KEY, a text COLLATE NOCASE REFERENCES b3 ON DELETE RESTRICT);
INSERT INTO b3 VALUES ('ABC'), ('abc');
INSERT INTO c3 VALUES (1, 'abc');
CREATE TABLE b4 (a text PRIMARY KEY);
CREATE TABLE c4 (id integer PRIMARY KEY, a text COLLATE NOCASE REFERENCES b4 ON UPDATE CASCADE);
INSERT INTO b4 VALUES ('X');
INSERT INTO c4 VALUES (1, 'X');
CREATE TABLE n5 (a text COLLATE NOCASE PRIMARY KEY);
CREATE TABLE c5 (id integer PRIMARY KEY, a text REFERENCES n5 ON DELETE SET NULL ON UPDATE SET NULL);
INSERT INTO n5 VALUES ('Q');
INSERT INTO c5 VALUES (1, 'q');
CREATE TABLE n6 (a text COLLATE NOCASE PRIMARY KEY, up text REFERENCES n6 ON DELETE CASCADE);
INSERT INTO n6 VALUES ('A', NULL), ('b', 'a'), ('C', 'B');
CREATE TABLE r7 (a text COLLATE RTRIM PRIMARY KEY);
CREATE TABLE c7 (id integer PRIMARY KEY, a text REFERENCES r7 ON DELETE CASCADE);
INSERT INTO r7 VALUES ('k');
INSERT INTO c7 VALUES (1, 'k  ');
";

#[test]
fn keys_match_with_the_parent_columns_collation() {
    let db = SqliteDb::with(COLLATIONS);
    let mut s = Suite::new("collations", Db::Lite(&db));
    // The child's BINARY values match the NOCASE parent.
    s.check_ok("DELETE FROM n1 WHERE a = 'ABC'");
    s.check_fails("DELETE FROM n2");
    s.check_ok("DELETE FROM n5");
    s.check_ok("DELETE FROM r7");
    s.check_ok("DELETE FROM n6 WHERE a = 'a'");
    // The child's NOCASE does not make it reference a BINARY parent.
    s.check_ok("DELETE FROM b3 WHERE a = 'ABC'");
    s.check_fails("DELETE FROM b3 WHERE a = 'abc'");
    // A key that moves only in case moves for BINARY, not for NOCASE.
    s.check_ok("UPDATE n1 SET a = 'abc' WHERE a = 'ABC'");
    s.check_ok("UPDATE n1 SET a = 'xyz' WHERE a = 'ABC'");
    s.check_ok("UPDATE n2 SET a = 'x'");
    s.check_fails("UPDATE n2 SET a = 'y'");
    s.check_ok("UPDATE n5 SET a = 'q'");
    s.check_ok("UPDATE b4 SET a = 'x'");
    // New child values are looked up with the parent's collation too.
    s.check_ok("INSERT INTO c1 VALUES (9, 'aBc')");
    s.check_ok("INSERT INTO c3 VALUES (9, 'ABC')");
    s.check_fails("INSERT INTO c3 VALUES (9, 'Abc')");
    s.check_ok("UPDATE c2 SET a = 'X'");
    s.check_fails("UPDATE c3 SET a = 'aBC'");
    s.finish();
}

/// Item 13: each column holds what its affinity made of the value.
const AFFINITY: &str = "
CREATE TABLE q (a integer PRIMARY KEY);
CREATE TABLE d (id integer PRIMARY KEY, a int REFERENCES q ON UPDATE CASCADE);
INSERT INTO q VALUES (1), (2);
INSERT INTO d VALUES (1, 1), (2, 2);
CREATE TABLE qi (a int PRIMARY KEY);
CREATE TABLE di (id integer PRIMARY KEY, a int REFERENCES qi ON UPDATE CASCADE);
INSERT INTO qi VALUES (1), (2);
INSERT INTO di VALUES (1, 1), (2, 2);
CREATE TABLE v (id integer PRIMARY KEY, n numeric, t text, r real, b blob);
INSERT INTO v VALUES (1, 3, '5', 2.0, 7);
CREATE TABLE tp (k text PRIMARY KEY);
CREATE TABLE tc (id integer PRIMARY KEY, k text REFERENCES tp ON UPDATE CASCADE);
INSERT INTO tp VALUES ('10');
INSERT INTO tc VALUES (1, '10');
";

#[test]
fn values_are_compared_as_their_column_stores_them() {
    let db = SqliteDb::with(AFFINITY);
    let mut s = Suite::new("affinity", Db::Lite(&db));
    for sql in [
        "UPDATE q SET a = '1' WHERE a = 1",
        "UPDATE q SET a = 1.0 WHERE a = 1",
        "UPDATE q SET a = ' 2 ' WHERE a = 2",
        "UPDATE qi SET a = '3' WHERE a = 2",
        "UPDATE qi SET a = '2.0' WHERE a = 2",
        "UPDATE v SET n = '3.0'",
        "UPDATE v SET n = '3.0e0', t = 5, r = 2",
        "UPDATE v SET t = 5.0",
        "UPDATE v SET b = '7'",
        "UPDATE v SET r = '2'",
        "UPDATE tp SET k = 10",
        "UPDATE tp SET k = 10.0",
        "INSERT INTO d VALUES (3, '2')",
        "INSERT INTO d VALUES (3, '4')",
        "INSERT INTO tc VALUES (2, 10)",
    ] {
        s.check(sql);
    }
    s.finish();
}
