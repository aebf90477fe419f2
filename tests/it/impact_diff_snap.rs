//! Snapshots of how an UPDATE's preview shows a changed value (issue 17,
//! item 9): short values, and values that differ almost everywhere, whole
//! as `old → new`; a long value with a small change as a word-level diff,
//! changed words grouped. One row per case, on SQLite (the rendering is
//! the same for both engines; the values are the engine's text forms).

use crate::helpers::SqliteDb;
use crate::impact::preview_text;

const CASES: &str = "
CREATE TABLE cases (id integer PRIMARY KEY, label text, v);
INSERT INTO cases VALUES
  (1, 'email case', 'Mary.Smith@Example.COM'),
  (2, 'long text, one word', 'The quarterly report was approved by the finance committee on Monday after a long review'),
  (3, 'number', 123456789012),
  (4, 'null', NULL),
  (5, 'multi-byte', 'Die Straße nach Köln führt über Düsseldorf und dann weiter nach Duisburg'),
  (6, 'long text, all new', 'The quarterly report was approved by the finance committee'),
  (7, 'long text, two places', 'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda');
";

/// The preview of `SET v = <new>` on the row with `id`.
fn preview(db: &SqliteDb, id: u32, new: &str) -> String {
    preview_text(
        &db.target(),
        &format!("UPDATE cases SET v = {new} WHERE id = {id}"),
        None,
    )
}

#[test]
fn update_diff_snapshots() {
    let db = SqliteDb::with(CASES);
    let cases = [
        (1, "lower(v)"),
        (2, "replace(v, 'approved', 'rejected')"),
        (3, "v + 1"),
        (4, "'called back on 2024-05-01'"),
        (5, "replace(v, 'Duisburg', 'Essen')"),
        (6, "'Nothing in common with what was here before, at all'"),
        (
            7,
            "replace(replace(v, 'beta', 'BETA'), 'kappa lambda', 'mu nu')",
        ),
    ];
    let mut all = String::new();
    for (id, new) in cases {
        all.push_str(&format!("-- case {id}: SET v = {new}\n"));
        all.push_str(&preview(&db, id, new));
    }
    insta::assert_snapshot!("update_diff_values", all);
}
