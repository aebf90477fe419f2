//! Previews readable at scale (issue 16, item 20): the delete of one hub
//! row that reaches 300 tables (cascades two deep, SET NULL, a blocker,
//! inferred associations left dangling, and many keys that reach no row)
//! is summarized by table within 200 lines, no line over 400 characters;
//! its numbers are the engine's; `--detail` shows the whole tree.

use std::fmt::Write as _;

use crate::helpers::{PgDb, SqliteDb, run, stdout};
use crate::impact::{Db, Suite, preview_text};

/// 300 tables under `users`: every 7th has no rows, every 5th is SET
/// NULL, every 10th has an `items` table under it, every 11th an
/// undeclared `user_id` (an inferred association), and `t150` blocks.
fn wide_schema() -> String {
    let mut s = String::from(
        "CREATE TABLE users (id int PRIMARY KEY, name text);
         INSERT INTO users VALUES (1, 'ann'), (2, 'bob'), (3, 'cy');\n",
    );
    for i in 0..300 {
        let action = match i {
            150 => "NO ACTION",
            _ if i % 5 == 0 => "SET NULL",
            _ => "CASCADE",
        };
        let _ = writeln!(
            s,
            "CREATE TABLE t{i:03} (id int PRIMARY KEY, owner int REFERENCES users (id) ON DELETE {action}{}, note text);",
            if i % 11 == 0 { ", user_id int" } else { "" }
        );
        let rows = if i % 7 == 0 { 0 } else { 1 + i % 4 };
        for r in 0..rows {
            // t150 blocks only the delete of user 2.
            let owner = if i == 150 { 2 } else { 1 + r % 2 };
            let extra = if i % 11 == 0 { ", 1" } else { "" };
            let _ = writeln!(
                s,
                "INSERT INTO t{i:03} (id, owner{}, note) VALUES ({r}, {owner}{extra}, 'row {r} of t{i:03}');",
                if i % 11 == 0 { ", user_id" } else { "" }
            );
        }
        if i % 10 == 3 {
            let _ = writeln!(
                s,
                "CREATE TABLE t{i:03}_items (id int PRIMARY KEY, parent int REFERENCES t{i:03} (id) ON DELETE CASCADE);"
            );
            for r in 0..rows * 2 {
                let _ = writeln!(s, "INSERT INTO t{i:03}_items VALUES ({r}, {});", r % rows);
            }
        }
    }
    s
}

fn check(db: Db<'_>, sql: &str) {
    let target = db.target();
    let text = preview_text(&target, sql, None);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() <= 200, "{} lines:\n{text}", lines.len());
    let longest = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(longest <= 400, "a line of {longest} characters:\n{text}");
    assert!(text.contains("reaches "), "{text}");
    assert!(text.contains("\\preview full"), "{text}");
    let full = stdout(&run(&["exec", &target, "-c", sql, "--dry-run", "--detail"]));
    assert!(full.lines().count() > 200, "{full}");
    assert!(
        full.contains("└── ") && !full.contains("\\preview full"),
        "{full}"
    );
    // The numbers the summary shows are the engine's, where the delete
    // goes through and where it fails.
    let mut s = Suite::new("wide", db);
    s.opts.dangling = true;
    s.check_fails(sql);
    let one = "DELETE FROM users WHERE id = 1";
    if let Some(v) = s.check_ok(one) {
        let text = preview_text(&target, one, None);
        // Tables with deleted rows, which the verdict line counts.
        let tables = v["totals"].as_object().map_or(0, |t| {
            t.values()
                .filter(|c| c["delete"].as_u64() > Some(0))
                .count()
        });
        let said = format!("rows in {tables} tables");
        s.expect(
            one,
            text.contains(&said),
            &format!("the summary says {said}:\n{text}"),
            None,
        );
        s.expect(one, text.lines().count() <= 200, "at most 200 lines", None);
    }
    s.finish();
}

#[test]
fn a_300_table_delete_is_summarized_pg() {
    let db = PgDb::with(&wide_schema());
    let sql = "DELETE FROM users WHERE id IN (1, 2)";
    check(Db::Pg(&db), sql);
    let text = preview_text(&Db::Pg(&db).target(), sql, None);
    insta::assert_snapshot!("impact_wide_pg_text", text);
}

#[test]
fn a_300_table_delete_is_summarized_sqlite() {
    let db = SqliteDb::with(&format!("PRAGMA foreign_keys = ON;\n{}", wide_schema()));
    check(Db::Lite(&db), "DELETE FROM users WHERE id IN (1, 2)");
}
