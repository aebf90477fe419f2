//! Reads run read-only; writes are classified and not executed.

use crate::helpers::*;

#[test]
fn select_of_a_writing_function_fails_read_only_on_postgres() {
    let db = PgDb::with(
        "create table log(id serial primary key, note text);
         create function f() returns int language plpgsql as $$
         begin insert into log(note) values ('written'); return 1; end $$;",
    );
    let out = run_with_stdin(&[&db.url], "SELECT f();\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("read-only transaction"),
        "{}",
        stderr(&out)
    );
    let n: i64 = db
        .client()
        .query_one("select count(*) from log", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
}

#[test]
fn typed_delete_is_classified_not_executed() {
    let pg = PgDb::with("create table t(id int primary key); insert into t values (1),(2);");
    let out = run_with_stdin(&[&pg.url], "DELETE FROM t WHERE id = 1;\n");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("DELETE on t WHERE id = 1: not applied"),
        "{err}"
    );
    let n: i64 = pg
        .client()
        .query_one("select count(*) from t", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
    let db =
        SqliteDb::with("create table t(id integer primary key); insert into t values (1),(2);");
    let out = run_with_stdin(
        &[&db.target()],
        "DELETE FROM t WHERE id = 1;\nSELECT count(*) FROM t;\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).lines().any(|l| l.trim() == "2"),
        "{}",
        stdout(&out)
    );
    let n: i64 = db
        .conn()
        .query_row("select count(*) from t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
}

/// Sends SIGINT to a running `dbguard` after `delay` and returns its output.
fn interrupt_after(
    args: &[&str],
    stdin: &str,
    delay: std::time::Duration,
) -> (std::process::Output, std::time::Duration) {
    use std::io::Write;
    use std::process::Stdio;
    let state = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let mut child = dbguard(state.path())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    std::thread::sleep(delay);
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    (out, started.elapsed())
}

#[test]
fn ctrl_c_cancels_a_running_postgres_query() {
    let db = PgDb::new();
    let (out, took) = interrupt_after(
        &[&db.url],
        "SELECT pg_sleep(60);\nSELECT 'after' AS next;\n",
        std::time::Duration::from_millis(1500),
    );
    assert!(took < std::time::Duration::from_secs(30), "took {took:?}");
    assert!(stderr(&out).contains("query cancelled"), "{}", stderr(&out));
    // the script goes on after a cancelled statement, like psql -f
    assert!(stdout(&out).contains("after"), "{}", stdout(&out));
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn ctrl_c_interrupts_a_running_sqlite_query() {
    let db = SqliteDb::with("create table t(a);");
    let (out, took) = interrupt_after(
        &[&db.target()],
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c;\n",
        std::time::Duration::from_millis(1000),
    );
    assert!(took < std::time::Duration::from_secs(30), "took {took:?}");
    assert!(stderr(&out).contains("query cancelled"), "{}", stderr(&out));
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn reads_on_sqlite_cannot_write_even_through_returning_tricks() {
    let db = SqliteDb::with("create table t(a integer); insert into t values (1);");
    // Classified as a write and refused; the data stays.
    let out = run_with_stdin(&[&db.target()], "INSERT INTO t VALUES (2) RETURNING a;\n");
    assert_eq!(out.status.code(), Some(1));
    let n: i64 = db
        .conn()
        .query_row("select count(*) from t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn piped_script_runs_reads_in_order_and_reports_refusals() {
    let db = SqliteDb::with("create table t(a integer); insert into t values (1), (2);");
    let out = run_with_stdin(
        &[&db.target()],
        "select a from t order by a; BEGIN;\nselect 'multi\nline' as s\n;\nDROP TABLE t;\nselect count(*) as n from t",
    );
    assert_eq!(out.status.code(), Some(1));
    let o = stdout(&out);
    let err = stderr(&out);
    let line_of = |needle: &str| o.lines().position(|l| l.trim() == needle);
    assert!(
        line_of("2").is_some() && o.find("multi") > o.find("2"),
        "{o}"
    );
    assert!(
        line_of("n").is_some(),
        "the last statement without ';' runs at EOF: {o}"
    );
    assert!(err.contains("BEGIN/COMMIT/ROLLBACK not executed"), "{err}");
    assert!(err.contains("DDL not executed"), "{err}");
    assert!(
        db.conn()
            .query_row("select count(*) from t", [], |r| r.get::<_, i64>(0))
            .is_ok()
    );
}

#[test]
fn writable_cte_is_refused_on_postgres() {
    let db = PgDb::with("create table t(id int); insert into t values (1);");
    let out = run_with_stdin(
        &[&db.url],
        "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d;\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("writable CTE"), "{}", stderr(&out));
    let n: i64 = db
        .client()
        .query_one("select count(*) from t", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}

#[test]
fn allowed_session_settings_apply_and_others_are_refused() {
    let db = PgDb::with(
        "create schema other; create table other.only_here(x int); insert into other.only_here values (7);",
    );
    let out = run_with_stdin(
        &[&db.url],
        "SET search_path TO other, public;\nSELECT x FROM only_here;\nSET session_replication_role = replica;\n",
    );
    assert!(
        stdout(&out).lines().any(|l| l.trim() == "7"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("session setting not executed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(out.status.code(), Some(1));
}
