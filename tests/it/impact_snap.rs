//! Snapshots of impact previews (issue 3, acceptance 2): the rendered tree
//! and the JSON (without the digest, which covers the target identity) of
//! representative scenarios, on both engines.

use std::path::Path;

use serde_json::Value;

use crate::helpers::{PgDb, SqliteDb};
use crate::impact::{
    BLOCKERS, CHAIN3, COMPOSITE, DIAMOND, Db, INFERRED, SET_NULL, SET_NULL_COLS, TREE, TWO_FKS,
    cycle_pg_sql, cycle_sqlite_sql, declared_policy, preview_json, preview_text, trigger_pg_sql,
    trigger_sqlite_sql,
};

/// Snapshots `impact_<scenario>_<engine>_{text,json}`.
fn snap(db: Db<'_>, scenario: &str, sql: &str, policy: Option<&Path>) {
    let target = db.target();
    let engine = db.engine();
    let text = preview_text(&target, sql, policy);
    assert!(!text.trim().is_empty(), "no text preview for {sql}");
    insta::assert_snapshot!(format!("impact_{scenario}_{engine}_text"), text);
    let (mut v, _) = preview_json(&target, sql, policy).unwrap_or_else(|e| panic!("{sql}: {e}"));
    if let Some(o) = v.as_object_mut() {
        let digest = o.remove("digest");
        let ok = digest
            .as_ref()
            .and_then(Value::as_str)
            .is_some_and(|d| d.len() == 64 && d.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(ok, "digest is not a hex SHA-256: {digest:?}");
    }
    let pretty = serde_json::to_string_pretty(&v).expect("json");
    insta::assert_snapshot!(format!("impact_{scenario}_{engine}_json"), pretty);
}

fn pg(sql: &str) -> PgDb {
    PgDb::with(sql)
}

fn lite(sql: &str) -> SqliteDb {
    SqliteDb::with(&format!("PRAGMA foreign_keys = ON;\n{sql}"))
}

#[test]
fn impact_snapshots_pg() {
    let d = pg(CHAIN3);
    snap(
        Db::Pg(&d),
        "chain3",
        "DELETE FROM regions WHERE id = 1",
        None,
    );
    let d = pg(DIAMOND);
    snap(Db::Pg(&d), "diamond", "DELETE FROM tops WHERE id = 1", None);
    let d = pg(TREE);
    snap(Db::Pg(&d), "tree", "DELETE FROM nodes WHERE id = 2", None);
    let d = pg(&cycle_pg_sql());
    snap(Db::Pg(&d), "cycle", "DELETE FROM alpha WHERE id = 1", None);
    let d = pg(SET_NULL_COLS);
    snap(
        Db::Pg(&d),
        "set_null_columns",
        "DELETE FROM folders WHERE tenant = 1 AND id = 1",
        None,
    );
    let d = pg(COMPOSITE);
    snap(
        Db::Pg(&d),
        "composite",
        "DELETE FROM accounts WHERE org = 1",
        None,
    );
    let d = pg(TWO_FKS);
    snap(
        Db::Pg(&d),
        "two_fks",
        "DELETE FROM people WHERE id = 1",
        None,
    );
    let d = pg(BLOCKERS);
    snap(
        Db::Pg(&d),
        "restrict",
        "DELETE FROM hubs WHERE id = 1",
        None,
    );
    snap(
        Db::Pg(&d),
        "deferred",
        "DELETE FROM hubs WHERE id = 3",
        None,
    );
    let d = pg(INFERRED);
    snap(
        Db::Pg(&d),
        "inferred",
        "DELETE FROM widgets WHERE id = 1",
        None,
    );
    let pol = declared_policy();
    snap(
        Db::Pg(&d),
        "declared",
        "DELETE FROM widgets WHERE id = 3",
        Some(pol.path()),
    );
    let d = pg(&trigger_pg_sql());
    snap(
        Db::Pg(&d),
        "trigger",
        "DELETE FROM orders WHERE id = 1",
        None,
    );
}

#[test]
fn impact_snapshots_sqlite() {
    let d = lite(CHAIN3);
    snap(
        Db::Lite(&d),
        "chain3",
        "DELETE FROM regions WHERE id = 1",
        None,
    );
    let d = lite(DIAMOND);
    snap(
        Db::Lite(&d),
        "diamond",
        "DELETE FROM tops WHERE id = 1",
        None,
    );
    let d = lite(TREE);
    snap(Db::Lite(&d), "tree", "DELETE FROM nodes WHERE id = 2", None);
    let d = lite(&cycle_sqlite_sql());
    snap(
        Db::Lite(&d),
        "cycle",
        "DELETE FROM alpha WHERE id = 1",
        None,
    );
    let d = lite(SET_NULL);
    snap(
        Db::Lite(&d),
        "set_null",
        "DELETE FROM teams WHERE id = 1",
        None,
    );
    let d = lite(COMPOSITE);
    snap(
        Db::Lite(&d),
        "composite",
        "DELETE FROM accounts WHERE org = 1",
        None,
    );
    let d = lite(TWO_FKS);
    snap(
        Db::Lite(&d),
        "two_fks",
        "DELETE FROM people WHERE id = 1",
        None,
    );
    let d = lite(BLOCKERS);
    snap(
        Db::Lite(&d),
        "restrict",
        "DELETE FROM hubs WHERE id = 1",
        None,
    );
    snap(
        Db::Lite(&d),
        "deferred",
        "DELETE FROM hubs WHERE id = 3",
        None,
    );
    let d = lite(INFERRED);
    snap(
        Db::Lite(&d),
        "inferred",
        "DELETE FROM widgets WHERE id = 1",
        None,
    );
    let pol = declared_policy();
    snap(
        Db::Lite(&d),
        "declared",
        "DELETE FROM widgets WHERE id = 3",
        Some(pol.path()),
    );
    let d = lite(&trigger_sqlite_sql());
    snap(
        Db::Lite(&d),
        "trigger",
        "DELETE FROM orders WHERE id = 1",
        None,
    );
}

/// Issue 16, item 10: a write through an inheritance parent, each table's
/// rows under it with what they set off.
#[test]
fn impact_snapshots_inheritance_pg() {
    let d = pg(crate::impact_inherit::INHERIT);
    snap(
        Db::Pg(&d),
        "inherit_delete",
        "DELETE FROM parent WHERE id > 1",
        None,
    );
    snap(
        Db::Pg(&d),
        "inherit_update",
        "UPDATE parent SET id = id + 10, v = upper(v) WHERE id > 1",
        None,
    );
    snap(
        Db::Pg(&d),
        "inherit_truncate",
        "TRUNCATE child CASCADE",
        None,
    );
}
