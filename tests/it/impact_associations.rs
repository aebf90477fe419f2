//! Associations the schema does not declare, against the oracle: inferred
//! from a `<name>_id` column or declared in a policy file, shown as rows
//! left dangling (never as deletes), and the global `--policy` option that
//! declares them.

use dbguard::db::Engine;
use serde_json::Value;

use crate::helpers::{last_json, run, stderr, stdout};
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

/// Issue 16, items 16 and 18: a `user_id` of another type than the key it
/// would point to is no association (inferring one made the whole preview
/// fail with `operator does not exist: text = bigint`; so did a range or an
/// interval, the attack review found), a number of another width or
/// precision is, and partitions, whose references are their parent's, get
/// none inferred.
#[test]
fn pg_associations_are_inferred_only_between_comparable_columns_and_never_on_partitions() {
    let db = crate::apply::Db::new(
        Engine::Postgres,
        "CREATE TABLE users (id bigint PRIMARY KEY);
         CREATE TABLE notes (id integer PRIMARY KEY, user_id text);
         CREATE TABLE visits (id integer PRIMARY KEY, user_id integer);
         CREATE TABLE payouts (id integer PRIMARY KEY, user_id numeric(20));
         CREATE TABLE spans (id integer PRIMARY KEY, user_id int4range);
         CREATE TABLE waits (id integer PRIMARY KEY, user_id interval);
         CREATE TABLE lists (id integer PRIMARY KEY, user_id integer[]);
         CREATE TABLE events (user_id bigint REFERENCES users ON DELETE CASCADE, at integer NOT NULL)
           PARTITION BY RANGE (at);
         CREATE TABLE events_1 PARTITION OF events FOR VALUES FROM (0) TO (10);
         INSERT INTO users VALUES (1), (2);
         INSERT INTO notes VALUES (1, 'alice');
         INSERT INTO visits VALUES (1, 1);
         INSERT INTO payouts VALUES (1, 1);
         INSERT INTO spans VALUES (1, '[1,3)');
         INSERT INTO waits VALUES (1, '1 day');
         INSERT INTO lists VALUES (1, '{1}');
         INSERT INTO events VALUES (1, 5);",
    );
    let j = db.machine();
    let target = db.target();
    let o = j.run(&[
        "exec",
        &target,
        "-c",
        "DELETE FROM users WHERE id = 1",
        "--dry-run",
        "--format",
        "json",
    ]);
    crate::apply::assert_exit(&o, 0, "DELETE FROM users --dry-run");
    let preview = last_json(&o);
    assert_eq!(preview["will_fail"], false, "{preview}");
    let dangling: Vec<&str> = preview["effects"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["action"] == "dangling")
        .filter_map(|e| e["table"].as_str())
        .collect();
    assert_eq!(dangling, ["public.payouts", "public.visits"], "{preview}");
}
