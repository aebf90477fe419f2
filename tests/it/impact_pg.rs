//! Postgres-only previews outside the oracle's reach: a preview that runs
//! out of time, the settings that make counts unreliable (row-level
//! security, replica mode), and partitions referenced through their parent.

use crate::helpers::{PgDb, run, stderr, stdout};

/// A preview that runs out of time says which counts are missing and
/// treats the change as unbounded, instead of failing or guessing.
#[test]
fn impact_timeout_reports_uncounted_edges_pg() {
    let db = PgDb::with(
        "CREATE TABLE p (id int PRIMARY KEY);
         CREATE TABLE c (id int PRIMARY KEY, pid int REFERENCES p ON DELETE CASCADE);
         INSERT INTO p SELECT generate_series(1, 20);
         INSERT INTO c SELECT i, i FROM generate_series(1, 20) i;",
    );
    let out = run(&[
        "exec",
        &db.url,
        "-c",
        "DELETE FROM p WHERE pg_sleep(0.1) IS NOT NULL",
        "--dry-run",
        "--format",
        "json",
        "--preview-timeout",
        "0.5",
    ]);
    // Issue 16, item 21: a dry run that did not finish counting does not
    // exit 0, which a script reads as "fine".
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(v["bounded"], false, "{v}");
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.contains("did not finish counting")),
        "{v}"
    );
    assert!(v["target"]["rows"].is_null(), "{v}");
    assert!(
        v["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("unbounded")),
        "{v}"
    );
    let text = run(&[
        "exec",
        &db.url,
        "-c",
        "DELETE FROM p WHERE pg_sleep(0.1) IS NOT NULL",
        "--dry-run",
        "--preview-timeout",
        "0.5",
    ]);
    assert_eq!(text.status.code(), Some(1), "{}", stderr(&text));
    assert!(
        stdout(&text).contains("not counted in time"),
        "{}",
        stdout(&text)
    );
    // Never a number where the count did not finish.
    assert!(
        stdout(&text).contains("will delete rows not counted in time"),
        "{}",
        stdout(&text)
    );
    let n: i64 = db
        .client()
        .query_one("SELECT count(*) FROM c", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 20);
}

/// Row-level security and replica mode make counts unreliable: say so.
#[test]
fn impact_warns_about_rls_and_replication_role_pg() {
    let db = PgDb::with(
        "CREATE TABLE p (id int PRIMARY KEY);
         CREATE TABLE c (id int PRIMARY KEY, pid int REFERENCES p ON DELETE CASCADE);
         ALTER TABLE c ENABLE ROW LEVEL SECURITY;
         INSERT INTO p VALUES (1); INSERT INTO c VALUES (1, 1);",
    );
    let out = run(&[
        "exec",
        &db.url,
        "-c",
        "DELETE FROM p",
        "--dry-run",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains("row-level security is enabled on public.c"),
        "{warnings}"
    );
    // session_replication_role can only be changed by a superuser; the
    // guard refuses SET for it, so it is set for the role instead.
    db.client()
        .batch_execute(&format!(
            "ALTER DATABASE \"{}\" SET session_replication_role = replica",
            db.name
        ))
        .unwrap();
    let out = run(&[
        "exec",
        &db.url,
        "-c",
        "DELETE FROM p",
        "--dry-run",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains("session_replication_role is replica"),
        "{warnings}"
    );
}

/// Deleting from one partition reaches the rows that reference it through
/// a key declared on the partitioned table.
#[test]
fn impact_partition_rows_reach_references_of_the_parent_pg() {
    let db = PgDb::with(
        "CREATE TABLE m (id int, region int, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
         CREATE TABLE m1 PARTITION OF m FOR VALUES IN (1);
         CREATE TABLE m2 PARTITION OF m FOR VALUES IN (2);
         CREATE TABLE r (id int PRIMARY KEY, mid int, mregion int,
             FOREIGN KEY (mid, mregion) REFERENCES m ON DELETE CASCADE);
         INSERT INTO m VALUES (1, 1), (2, 1), (3, 2);
         INSERT INTO r VALUES (1, 1, 1), (2, 2, 1), (3, 3, 2);",
    );
    let out = run(&[
        "exec",
        &db.url,
        "-c",
        "DELETE FROM m1 WHERE id = 1",
        "--dry-run",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(v["totals"]["public.r"]["delete"], 1, "{v}");
    let out = run(&[
        "exec",
        &db.url,
        "-c",
        "DELETE FROM m WHERE region = 1",
        "--dry-run",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(v["totals"]["public.r"]["delete"], 2, "{v}");
}
