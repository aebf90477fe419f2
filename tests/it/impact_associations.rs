//! Associations the schema does not declare, against the oracle: inferred
//! from a `<name>_id` column or declared in a policy file, shown as rows
//! left dangling (never as deletes), and the global `--policy` option that
//! declares them.

use serde_json::Value;

use crate::helpers::{run, stderr, stdout};
use crate::impact::{Db, Opts, Suite, effects_on, lite, pg};

/// An association without a foreign key, inferred from `widget_id`.
pub const INFERRED: &str = "
CREATE TABLE widgets (id int PRIMARY KEY, name text);
CREATE TABLE parts (id int PRIMARY KEY, widget_id int, name text);
CREATE TABLE gadgets (id int PRIMARY KEY, owner_ref int, name text);
INSERT INTO widgets VALUES (1, 'w1'), (2, 'w2'), (3, 'w3');
INSERT INTO parts VALUES (1, 1, 'p1'), (2, 1, 'p2'), (3, 2, 'p3'), (4, NULL, 'p4'), (5, 99, 'p5');
INSERT INTO gadgets VALUES (1, 1, 'g1'), (2, 3, 'g2'), (3, 3, 'g3');
";

fn dangling_rows(v: &Value, table: &str) -> Option<u64> {
    effects_on(v, "dangling", table)
        .first()
        .and_then(|e| e["rows"].as_u64())
}

fn inferred(s: &mut Suite<'_>) {
    for (sql, pred) in [
        ("DELETE FROM widgets WHERE id = 1", "id = 1"),
        ("DELETE FROM widgets WHERE id IN (2, 3)", "id IN (2, 3)"),
        ("DELETE FROM widgets", "true"),
    ] {
        let Some(v) = s.check_ok(sql) else { continue };
        let parts = s.db.table("parts");
        let expected = s.db.count(&format!(
            "SELECT count(*) FROM parts WHERE widget_id IN (SELECT id FROM widgets WHERE {pred})"
        ));
        let e = effects_on(&v, "dangling", &parts);
        let src = e.first().map(|e| e["source"].clone());
        if expected > 0 {
            s.expect(
                sql,
                src == Some(Value::from("inferred")),
                &format!("dangling effect on {parts} with source inferred, got {src:?}"),
                Some(&v),
            );
            let cols = e.first().map(|e| e["columns"].clone());
            s.expect(
                sql,
                cols == Some(serde_json::json!(["widget_id"])),
                &format!("dangling columns {cols:?}"),
                Some(&v),
            );
        }
        let rows = dangling_rows(&v, &parts).unwrap_or(0);
        s.expect(
            sql,
            rows == expected,
            &format!("dangling rows {rows}, a SELECT counts {expected}"),
            Some(&v),
        );
    }
}

#[test]
fn impact_inferred_pg() {
    let db = pg(INFERRED);
    let mut s = Suite::new("inferred", Db::Pg(&db)).with(Opts {
        dangling: true,
        ..Opts::default()
    });
    inferred(&mut s);
    s.finish();
}

#[test]
fn impact_inferred_sqlite() {
    let db = lite(INFERRED);
    let mut s = Suite::new("inferred", Db::Lite(&db)).with(Opts {
        dangling: true,
        ..Opts::default()
    });
    inferred(&mut s);
    s.finish();
}

/// A policy directory declaring `gadgets.owner_ref → widgets.id`.
pub fn declared_policy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("x.toml"),
        "[[association]]\nfrom = \"gadgets.owner_ref\"\nto = \"widgets.id\"\n",
    )
    .expect("write policy");
    dir
}

fn declared(s: &mut Suite<'_>) {
    for (sql, pred) in [
        ("DELETE FROM widgets WHERE id = 3", "id = 3"),
        ("DELETE FROM widgets WHERE id = 1", "id = 1"),
        ("DELETE FROM widgets WHERE id = 2", "id = 2"),
    ] {
        let Some(v) = s.check_ok(sql) else { continue };
        let gadgets = s.db.table("gadgets");
        let expected = s.db.count(&format!(
            "SELECT count(*) FROM gadgets WHERE owner_ref IN (SELECT id FROM widgets WHERE {pred})"
        ));
        let e = effects_on(&v, "dangling", &gadgets);
        if expected > 0 {
            let src = e.first().map(|e| e["source"].clone());
            s.expect(
                sql,
                src == Some(Value::from("declared")),
                &format!("dangling effect on {gadgets} with source declared, got {src:?}"),
                Some(&v),
            );
        }
        let rows = dangling_rows(&v, &gadgets).unwrap_or(0);
        s.expect(
            sql,
            rows == expected,
            &format!("declared dangling rows {rows}, a SELECT counts {expected}"),
            Some(&v),
        );
    }
}

#[test]
fn impact_declared_pg() {
    let db = pg(INFERRED);
    let dir = declared_policy();
    let mut s = Suite::new("declared", Db::Pg(&db)).with(Opts {
        dangling: true,
        policy: Some(dir.path()),
        ..Opts::default()
    });
    declared(&mut s);
    s.finish();
}

#[test]
fn impact_declared_sqlite() {
    let db = lite(INFERRED);
    let dir = declared_policy();
    let mut s = Suite::new("declared", Db::Lite(&db)).with(Opts {
        dangling: true,
        policy: Some(dir.path()),
        ..Opts::default()
    });
    declared(&mut s);
    s.finish();
}

/// Global options go before or after the subcommand name.
#[test]
fn impact_policy_before_exec() {
    let db = lite(INFERRED);
    let dir = declared_policy();
    let pol = dir.path().display().to_string();
    let target = db.target();
    let out = run(&[
        "--policy",
        &pol,
        "exec",
        &target,
        "-c",
        "DELETE FROM widgets WHERE id = 3",
        "--dry-run",
        "--format",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "dbguard --policy DIR exec ... was rejected: {}",
        stderr(&out)
    );
    let v: Value = serde_json::from_str(stdout(&out).trim()).expect("json");
    assert_eq!(dangling_rows(&v, "gadgets"), Some(2), "{v}");
}
