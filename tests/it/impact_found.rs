//! Disagreements the generated-schema test (`impact_generated.rs`) found,
//! each kept as the reproduction it shrank to, on the engines it failed
//! on, and held against the engine by the same oracle as every scenario.

use crate::helpers::{PgDb, SqliteDb};
use crate::impact::{Db, Suite};

/// A NULL in the column of a sibling cascade made `NOT (cascades)` NULL,
/// which hid the RESTRICT row that really blocks the delete.
const NULL_SIBLING: &str = "
CREATE TABLE p (id int PRIMARY KEY);
CREATE TABLE c (id int PRIMARY KEY,
  f0 int REFERENCES p (id) ON DELETE RESTRICT,
  f1 int REFERENCES p (id) ON DELETE CASCADE);
INSERT INTO p VALUES (1);
INSERT INTO c VALUES (2, 1, NULL);
";

fn null_sibling(db: Db<'_>) {
    let mut s = Suite::new("null_sibling", db);
    s.check_fails("DELETE FROM p");
    s.finish();
}

#[test]
fn null_in_a_sibling_cascade_hides_no_restrict_pg() {
    let db = PgDb::with(NULL_SIBLING);
    null_sibling(Db::Pg(&db));
}

#[test]
fn null_in_a_sibling_cascade_hides_no_restrict_sqlite() {
    let db = SqliteDb::with(NULL_SIBLING);
    null_sibling(Db::Lite(&db));
}
