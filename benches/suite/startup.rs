//! The startup measures: opening a database of 5,000 tables and 10,000
//! FKs and reading its schema, against psql's `\d` and SQLite's listing;
//! and the binary's start on a schema of GitLab's shape (issue 16: about
//! 1,000 tables, 90 partitions, 4,000 defaults, 2,000 foreign keys, the
//! generator the tests use), against `psql -X -c 'SELECT 1'`.

use std::time::Instant;

use super::{Env, Opts, progress};
use crate::common::*;
use dbguard::db::{Connection, OpenOptions};

#[path = "../../tests/it/gitlab_schema.rs"]
#[allow(dead_code)]
mod gitlab_schema;

/// psql's `\d`: every relation visible on the search path.
const PSQL_D: &str = "SELECT n.nspname AS \"Schema\", c.relname AS \"Name\", \
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' \
  WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' \
  WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END AS \"Type\", \
  pg_catalog.pg_get_userbyid(c.relowner) AS \"Owner\" \
FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
WHERE c.relkind IN ('r','p','v','m','S','f','') \
  AND n.nspname <> 'pg_catalog' AND n.nspname !~ '^pg_toast' AND n.nspname <> 'information_schema' \
  AND pg_catalog.pg_table_is_visible(c.oid) \
ORDER BY 1, 2";

/// Every table references the previous one (CASCADE) and the one seven
/// back (SET NULL), wrapping around: long FK cycles, as in the tests.
fn startup_edges(i: usize, n: usize) -> (usize, usize) {
    ((i + n - 1) % n, (i + n - 7) % n)
}

pub(super) fn startup(opts: &Opts, env: &Env, report: &mut Report) -> Res<()> {
    let n = opts.tables;
    let runs = opts.runs;
    let mut push = |engine: &'static str, dg: &[f64], baseline: &str, base: &[f64]| {
        let e = Entry {
            measure: format!("startup {n} tables"),
            engine,
            size: None,
            rows: None,
            runs,
            dbguard_ms: median(dg),
            baseline: baseline.to_owned(),
            baseline_ms: median(base),
            target: None,
            limit_ms: Some(500.0),
            unit: Unit::Ms,
        };
        progress(&e);
        report.entries.push(e);
    };

    // Postgres: tables in batches (one transaction would run out of lock slots).
    let db = TempPg::create("startup")?;
    let mut client = postgres::Client::connect(&db.url, postgres::NoTls)?;
    let t = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut ddl = String::from("BEGIN;\n");
        for i in chunk {
            ddl.push_str(&format!(
                "CREATE TABLE t{i} (id int PRIMARY KEY, a int, b int, note text, created timestamptz);\n"
            ));
        }
        ddl.push_str("COMMIT;\n");
        client.batch_execute(&ddl)?;
    }
    for chunk in (0..n).collect::<Vec<_>>().chunks(250) {
        let mut ddl = String::from("BEGIN;\n");
        for &i in chunk {
            let (a, b) = startup_edges(i, n);
            ddl.push_str(&format!(
                "ALTER TABLE t{i} ADD FOREIGN KEY (a) REFERENCES t{a} (id) ON DELETE CASCADE, \
                 ADD FOREIGN KEY (b) REFERENCES t{b} (id) ON DELETE SET NULL;\n"
            ));
        }
        ddl.push_str("COMMIT;\n");
        client.batch_execute(&ddl)?;
    }
    client.batch_execute("ANALYZE")?;
    drop(client);
    eprintln!(
        "postgres: {n} tables / {} FKs created in {:.1} s",
        2 * n,
        t.elapsed().as_secs_f64()
    );
    let mut dg = Vec::new();
    let mut base = Vec::new();
    for i in 0..opts.warmup + runs {
        let (a, ()) = timed(|| {
            let mut conn = Connection::open(Some(&db.url), &OpenOptions::default())?;
            let schema = conn.introspect()?;
            if schema.tables.len() != n {
                return Err(format!("introspected {} tables", schema.tables.len()).into());
            }
            Ok(())
        })?;
        let (b, ()) = timed(|| {
            let mut c = postgres::Client::connect(&db.url, postgres::NoTls)?;
            let rows = c.query(PSQL_D, &[])?;
            if rows.len() != n {
                return Err(format!("\\d listed {} relations", rows.len()).into());
            }
            Ok(())
        })?;
        if i >= opts.warmup {
            dg.push(a);
            base.push(b);
        }
    }
    drop(db);
    push("postgres", &dg, "connect + \\d query", &base);

    // SQLite: the same shape in one file.
    let path = env.dir.join("startup.sqlite");
    {
        let conn = rusqlite::Connection::open(&path)?;
        let mut ddl = String::from("BEGIN;\n");
        for i in 0..n {
            let (a, b) = startup_edges(i, n);
            ddl.push_str(&format!(
                "CREATE TABLE t{i} (id INTEGER PRIMARY KEY, a INT REFERENCES t{a} (id) ON DELETE CASCADE, \
                 b INT REFERENCES t{b} (id) ON DELETE SET NULL, note TEXT, created TEXT);\n"
            ));
        }
        ddl.push_str("COMMIT;\n");
        conn.execute_batch(&ddl)?;
    }
    let target = path.to_string_lossy().into_owned();
    let mut dg = Vec::new();
    let mut base = Vec::new();
    for i in 0..opts.warmup + runs {
        let (a, ()) = timed(|| {
            let mut conn = Connection::open(Some(&target), &OpenOptions::default())?;
            let schema = conn.introspect()?;
            if schema.tables.len() != n {
                return Err(format!("introspected {} tables", schema.tables.len()).into());
            }
            Ok(())
        })?;
        let (b, ()) = timed(|| {
            let conn = rusqlite::Connection::open(&path)?;
            let mut stmt = conn.prepare(
                "SELECT name, type FROM sqlite_schema WHERE type IN ('table', 'view') \
                 AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
            )?;
            let listed = stmt.query_map([], |r| r.get::<_, String>(0))?.count();
            if listed != n {
                return Err(format!(".tables listed {listed} tables").into());
            }
            Ok(())
        })?;
        if i >= opts.warmup {
            dg.push(a);
            base.push(b);
        }
    }
    let _ = std::fs::remove_file(&path);
    push("sqlite", &dg, "open + schema query", &base);
    gitlab_shaped(opts, env, report)
}

/// Issue 16: the binary, start to exit, running `SELECT 1` against the
/// GitLab-shaped schema (connect, read the schema, run, audit) within 3×
/// psql doing the same; the library's open and schema read beside it.
fn gitlab_shaped(opts: &Opts, env: &Env, report: &mut Report) -> Res<()> {
    let db = TempPg::create("gitlab")?;
    let mut client = postgres::Client::connect(&db.url, postgres::NoTls)?;
    let t = Instant::now();
    let (batches, fks) = gitlab_schema::gitlab_schema();
    for b in &batches {
        client.batch_execute(b)?;
    }
    eprintln!(
        "postgres: the GitLab-shaped schema ({fks} FKs) created in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let args = ["exec", db.url.as_str(), "-c", "SELECT 1"];
    let (mut bin, mut psql_ms, mut lib) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..opts.warmup + opts.runs {
        let b = env.bin.run(&args)?.ms;
        let q = psql(&db.url, "SELECT 1")?;
        let (l, ()) = timed(|| {
            Connection::open(Some(&db.url), &OpenOptions::default())?.introspect()?;
            Ok(())
        })?;
        if i >= opts.warmup {
            bin.push(b);
            psql_ms.push(q);
            lib.push(l);
        }
    }
    let mut push = |measure: &str, dg: &[f64], target: Option<f64>| {
        let e = Entry {
            measure: measure.to_owned(),
            engine: "postgres",
            size: None,
            rows: None,
            runs: opts.runs,
            dbguard_ms: median(dg),
            baseline: "psql -X -c 'SELECT 1'".to_owned(),
            baseline_ms: median(&psql_ms),
            target,
            limit_ms: None,
            unit: Unit::Ms,
        };
        progress(&e);
        report.entries.push(e);
    };
    push("startup GitLab-shaped", &bin, Some(3.0));
    push("schema read GitLab-shaped", &lib, None);
    Ok(())
}
