//! Statement forms psql and sqlite3 users type that the parser does not
//! read as the engines do (issue 17, item 8 b–e): `TABLE t`, SQLite's
//! reporting pragmas (and every pragma that sets or acts, which must stay
//! refused however it is spelled), `TRUNCATE` on SQLite, and
//! `EXPLAIN ANALYZE` of a write, which runs the write.

use crate::helpers::*;

const PG: &str = "create table t(id int primary key, name text);
    insert into t values (1, 'a'), (2, 'b');";

const LITE: &str = "create table p(id integer primary key);
    create table t(id integer primary key, name text check (name <> 'x'),
                   p integer references p(id));
    create index t_name on t(name);
    insert into p values (1);
    insert into t values (1, 'a', 1), (2, 'b', null);";

#[track_caller]
fn refused(target: &str, sql: &str, says: &str) {
    let out = run(&["exec", target, "-c", sql, "--yes"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{sql}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(err.contains("statement not executed"), "{sql}: {err}");
    assert!(err.contains(says), "{sql}: wanted {says:?} in {err}");
}

#[track_caller]
fn reads(target: &str, sql: &str) -> String {
    let out = run(&["exec", target, "-c", sql]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{sql}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

#[test]
fn table_is_a_read_on_postgres() {
    let db = PgDb::with(PG);
    let out = reads(&db.url, "TABLE t;");
    assert!(out.contains("(2 rows)") && out.contains(" b"), "{out}");
    assert!(reads(&db.url, "table public.t").contains("(2 rows)"));
    refused(
        &db.url,
        "TABLE t ORDER BY 1",
        "TABLE only in its plain form",
    );
    refused(&db.url, "TABLE ONLY t", "TABLE only in its plain form");
}

#[test]
fn explain_analyze_of_a_write_is_refused_and_nothing_changes() {
    let db = PgDb::with(PG);
    for (sql, what) in [
        (
            "EXPLAIN ANALYZE DELETE FROM t",
            "DELETE FROM t would be executed",
        ),
        (
            "explain (analyze) update t set name = 'z'",
            "UPDATE t SET name = 'z' would be executed",
        ),
        (
            "EXPLAIN (ANALYZE true, VERBOSE) INSERT INTO t VALUES (3, 'c')",
            "INSERT",
        ),
        (
            "EXPLAIN (FORMAT JSON, ANALYZE) DELETE FROM t",
            "DELETE FROM t would be executed",
        ),
        (
            "EXPLAIN (ANALYZE on) DELETE FROM t WHERE id = 1",
            "run the DELETE itself",
        ),
        (
            "EXPLAIN (ANALYSE) DELETE FROM t",
            "Use EXPLAIN without ANALYZE",
        ),
        (
            "EXPLAIN (ANALYZE false, ANALYZE) DELETE FROM t",
            "would be executed",
        ),
    ] {
        refused(&db.url, sql, what);
    }
    let mut c = db.client();
    let n: i64 = c.query_one("select count(*) from t", &[]).unwrap().get(0);
    assert_eq!(n, 2);
    // Without ANALYZE (or with it off), EXPLAIN only plans: a read.
    for sql in [
        "EXPLAIN DELETE FROM t",
        "EXPLAIN (ANALYZE false) DELETE FROM t",
        "EXPLAIN (ANALYZE off, FORMAT JSON) UPDATE t SET name = 'z'",
        "EXPLAIN ANALYZE SELECT * FROM t",
    ] {
        assert!(reads(&db.url, sql).contains("QUERY PLAN"), "{sql}");
    }
}

#[test]
fn pragma_is_refused_on_postgres() {
    let db = PgDb::with(PG);
    refused(&db.url, "PRAGMA table_info(t)", "PostgreSQL has no PRAGMA");
    refused(&db.url, "pragma user_version", "PostgreSQL has no PRAGMA");
}

#[test]
fn sqlite_refuses_table_and_truncate_with_what_to_type() {
    let db = SqliteDb::with(LITE);
    let target = db.target();
    refused(&target, "TABLE t", "SQLite has no TABLE statement");
    refused(
        &target,
        "TRUNCATE t",
        "SQLite has no TRUNCATE; use DELETE FROM t (it is previewed and can be undone)",
    );
    refused(
        &target,
        "EXPLAIN ANALYZE DELETE FROM t",
        "would be executed",
    );
    let n: i64 = db
        .conn()
        .query_row("select count(*) from t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
}

#[test]
fn sqlite_reporting_pragmas_read_and_change_nothing() {
    let db = SqliteDb::with(LITE);
    let target = db.target();
    let before = std::fs::read(&db.path).unwrap();
    for (sql, shows) in [
        ("PRAGMA table_info(t);", "name"),
        ("pragma TABLE_XINFO('t')", "notnull"),
        ("PRAGMA main.index_list(t)", "t_name"),
        ("PRAGMA index_info(t_name)", "name"),
        ("PRAGMA index_xinfo(\"t_name\")", "name"),
        ("PRAGMA foreign_key_list(t)", "p"),
        ("PRAGMA foreign_key_check", ""),
        ("PRAGMA foreign_key_check(t)", ""),
        ("PRAGMA database_list", "main"),
        ("PRAGMA table_list", "t"),
        ("PRAGMA collation_list", "BINARY"),
        ("PRAGMA compile_options", "compile_options"),
        ("PRAGMA integrity_check", "ok"),
        ("PRAGMA quick_check(t)", "ok"),
        ("PRAGMA user_version", "0"),
        ("PRAGMA /* c */ foreign_keys", "1"),
    ] {
        let out = reads(&target, sql);
        assert!(out.contains(shows), "{sql}: {out}");
    }
    assert_eq!(
        std::fs::read(&db.path).unwrap(),
        before,
        "the file is byte-identical"
    );
}

#[test]
fn sqlite_pragmas_that_set_or_act_stay_refused() {
    let db = SqliteDb::with(LITE);
    let target = db.target();
    let before = std::fs::read(&db.path).unwrap();
    for sql in [
        "PRAGMA foreign_keys = OFF",
        "pragma FOREIGN_KEYS = off",
        "PRAGMA/**/foreign_keys=0",
        "PRAGMA foreign_keys(0)",
        "PRAGMA \"foreign_keys\" = 0",
        "PRAGMA writable_schema=1",
        "PRAGMA writable_schema = RESET",
        "PRAGMA journal_mode = WAL",
        "PRAGMA journal_mode(DELETE)",
        "PRAGMA user_version = 5",
        "PRAGMA user_version(5)",
        "PRAGMA main.user_version=1",
        "PRAGMA main . user_version = 1",
        "PRAGMA application_id = 7",
        "PRAGMA ignore_check_constraints = 1",
        "PRAGMA ignore_check_constraints",
        "PRAGMA recursive_triggers = 1",
        "PRAGMA optimize",
        "PRAGMA main.optimize",
        "PRAGMA incremental_vacuum",
        "PRAGMA incremental_vacuum(1)",
        "PRAGMA wal_checkpoint",
        "PRAGMA wal_checkpoint(TRUNCATE)",
        "PRAGMA shrink_memory",
        "PRAGMA table_info = t",
        "PRAGMA table_info(t, u)",
        "PRAGMA table_info(t) x",
        "PRAGMA schema_version = 99",
        "PRAGMA query_only = 0",
        "PRAGMA",
        "EXPLAIN PRAGMA recursive_triggers = 1",
        "EXPLAIN QUERY PLAN PRAGMA ignore_check_constraints = 1",
    ] {
        let out = run(&["exec", &target, "-c", sql, "--yes"]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{sql}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        assert!(
            stderr(&out).contains("not executed"),
            "{sql}: {}",
            stderr(&out)
        );
    }
    assert_eq!(
        std::fs::read(&db.path).unwrap(),
        before,
        "the file is byte-identical"
    );
    // Nor does a refused pragma change the session for what follows: SQLite
    // carries out `EXPLAIN PRAGMA x = 1` while preparing it.
    let out = run(&[
        "exec",
        &target,
        "-c",
        "EXPLAIN PRAGMA recursive_triggers = 1; PRAGMA recursive_triggers",
    ]);
    let text = stdout(&out);
    assert!(
        text.contains("recursive_triggers"),
        "{text}{}",
        stderr(&out)
    );
    assert!(!text.contains(" 1\n"), "{text}");
}
