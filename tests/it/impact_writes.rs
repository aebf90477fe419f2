//! UPDATE, INSERT and TRUNCATE previews against the oracle: key updates
//! through ON UPDATE actions, conflicts and upserts, truncating through
//! cascades. The delete scenarios' fixtures serve TRUNCATE.

use crate::impact::{Db, Suite, lite, pg};
use crate::impact_delete::{BLOCKERS, CHAIN3, SET_NULL};

// ---------------------------------------------------------------- UPDATE

/// Products keyed by `id`; `code` is the referenced key, so a key update
/// keeps every row's identity for the oracle.
pub const UPDATES: &str = "
CREATE TABLE products (id int PRIMARY KEY, code text NOT NULL UNIQUE, name text, price int, category text);
CREATE TABLE stock (id int PRIMARY KEY, product text REFERENCES products (code) ON UPDATE CASCADE ON DELETE CASCADE, qty int);
CREATE TABLE frozen (id int PRIMARY KEY, product text REFERENCES products (code) ON UPDATE RESTRICT);
CREATE TABLE pinned (id int PRIMARY KEY, product text REFERENCES products (code) ON UPDATE NO ACTION);
CREATE TABLE loose (id int PRIMARY KEY, product text REFERENCES products (code) ON UPDATE SET NULL);
INSERT INTO products VALUES
  (1, 'A1', 'apple', 10, 'fruit'), (2, 'B2', 'banana', 5, 'fruit'), (3, 'C3', 'carrot', 3, 'veg'),
  (4, 'D4', 'date', 20, 'fruit'), (5, 'E5', 'endive', 7, 'veg');
INSERT INTO stock VALUES (1, 'A1', 5), (2, 'A1', 6), (3, 'B2', 1), (4, 'C3', 0);
INSERT INTO frozen VALUES (1, 'D4');
INSERT INTO pinned VALUES (1, 'E5');
INSERT INTO loose VALUES (1, 'C3'), (2, 'C3'), (3, NULL);
";

fn updates(s: &mut Suite<'_>) {
    s.check_ok("UPDATE products SET price = price * 2 WHERE category = 'fruit'");
    let sql = "UPDATE products SET category = 'fruit' WHERE price < 15";
    if let Some(v) = s.check_ok(sql) {
        let unchanged = v["target"]["unchanged"].as_u64();
        let expected =
            s.db.count("SELECT count(*) FROM products WHERE price < 15 AND category = 'fruit'");
        s.expect(
            sql,
            unchanged == Some(expected),
            &format!("unchanged {unchanged:?}, expected {expected}"),
            Some(&v),
        );
    }
    s.check_ok("UPDATE products SET name = name");
    s.check_ok("UPDATE products SET name = upper(name) WHERE id IN (SELECT id FROM products WHERE price > 5)");
    s.check_ok("UPDATE products SET price = 0 WHERE id = 42");
    // Key updates: ON UPDATE CASCADE children, SET NULL children.
    s.check_ok("UPDATE products SET code = code || 'x' WHERE id = 1");
    s.check_ok("UPDATE products SET code = lower(code) WHERE id IN (1, 2, 3)");
    s.check_ok("UPDATE products SET code = code WHERE id = 4");
    // Blocked by RESTRICT and by NO ACTION.
    s.check_fails("UPDATE products SET code = 'D5' WHERE id = 4");
    s.check_fails("UPDATE products SET code = 'E6' WHERE id = 5");
    s.check_fails("UPDATE products SET code = code || '!'");
    // A child's own update: a missing parent key fails.
    s.check_fails("UPDATE stock SET product = 'ZZ' WHERE id = 1");
    s.check_ok("UPDATE stock SET product = 'C3' WHERE id = 1");
    // A unique violation.
    s.check_fails("UPDATE products SET code = 'A1' WHERE id = 3");
}

#[test]
fn impact_update_pg() {
    let db = pg(UPDATES);
    let mut s = Suite::new("update", Db::Pg(&db));
    updates(&mut s);
    s.check_ok("UPDATE products p SET price = p.price + s.qty FROM stock s WHERE s.product = p.code AND s.qty > 0");
    s.finish();
}

#[test]
fn impact_update_sqlite() {
    let db = lite(UPDATES);
    let mut s = Suite::new("update", Db::Lite(&db));
    updates(&mut s);
    s.finish();
}

// ---------------------------------------------------------------- INSERT

pub const INSERTS: &str = "
CREATE TABLE kinds (id int PRIMARY KEY, name text NOT NULL UNIQUE, hits int NOT NULL DEFAULT 0);
CREATE TABLE things (id int PRIMARY KEY, kind int NOT NULL REFERENCES kinds (id), label text);
CREATE TABLE archive (id int PRIMARY KEY, name text);
INSERT INTO kinds VALUES (1, 'one', 0), (2, 'two', 0), (3, 'three', 5);
INSERT INTO things VALUES (1, 1, 'a'), (2, 2, 'b');
";

fn inserts(s: &mut Suite<'_>) {
    s.check_ok("INSERT INTO things (id, kind, label) VALUES (10, 1, 'x'), (11, 3, 'y')");
    s.check_ok("INSERT INTO archive (id, name) SELECT id + 100, name FROM kinds WHERE id > 1");
    s.check_ok("INSERT INTO archive (id, name) SELECT id, name FROM kinds WHERE id > 99");
    s.check_fails("INSERT INTO things (id, kind, label) VALUES (12, 999, 'missing')");
    s.check_fails("INSERT INTO things (id, kind, label) VALUES (13, 1, 'ok'), (14, 42, 'missing')");
    s.check_fails("INSERT INTO kinds (id, name) VALUES (1, 'dup id')");
    s.check_fails("INSERT INTO kinds (id, name) VALUES (9, 'one')");
    s.check_fails("INSERT INTO kinds (id, name) VALUES (7, 'seven'), (8, 'seven')");
    s.check_ok(
        "INSERT INTO kinds (id, name) VALUES (1, 'uno'), (4, 'four') ON CONFLICT DO NOTHING",
    );
    s.check_ok(
        "INSERT INTO kinds (id, name) VALUES (5, 'five'), (6, 'two') ON CONFLICT DO NOTHING",
    );
    let sql = "INSERT INTO kinds (id, name) VALUES (1, 'uno'), (4, 'four') ON CONFLICT (id) DO UPDATE SET name = excluded.name";
    if let Some(v) = s.check_ok(sql) {
        let c = v["target"]["conflicts"].as_u64();
        s.expect(
            sql,
            c == Some(1),
            &format!("conflicts {c:?}, expected 1"),
            Some(&v),
        );
    }
    s.check_ok(
        "INSERT INTO kinds (id, name) VALUES (2, 'x'), (3, 'y') ON CONFLICT (id) DO UPDATE SET hits = kinds.hits + 1",
    );
    s.check_ok("INSERT INTO kinds (id, name) VALUES (3, 'three') ON CONFLICT (id) DO UPDATE SET name = excluded.name");
}

#[test]
fn impact_insert_pg() {
    let db = pg(INSERTS);
    let mut s = Suite::new("insert", Db::Pg(&db));
    inserts(&mut s);
    s.finish();
}

#[test]
fn impact_insert_sqlite() {
    let db = lite(INSERTS);
    let mut s = Suite::new("insert", Db::Lite(&db));
    inserts(&mut s);
    s.finish();
}

// ---------------------------------------------------------------- TRUNCATE

#[test]
fn impact_truncate_pg() {
    let db = pg(&format!("{CHAIN3}\n{SET_NULL}\n{BLOCKERS}"));
    let mut s = Suite::new("truncate", Db::Pg(&db));
    s.check_ok("TRUNCATE regions CASCADE");
    s.check_fails("TRUNCATE regions");
    s.check_ok("TRUNCATE slots");
    s.check_ok("TRUNCATE TABLE stores, shelves, slots");
    s.check_ok("TRUNCATE teams CASCADE");
    s.check_fails("TRUNCATE teams");
    s.check_ok("TRUNCATE hubs CASCADE");
    s.finish();
}
