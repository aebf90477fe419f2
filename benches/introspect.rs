//! Introspection cost on a large schema: 1,000 tables with 2,000 foreign
//! keys, on PostgreSQL and SQLite.
//!
//! Prints the median time of a full `introspect` (every table, column, key,
//! foreign key and trigger) next to the cheapest catalog query a psql-like
//! tool needs anyway (the `\dt` listing: one query over `pg_class` /
//! `sqlite_schema`), and their ratio. The ratio is the number to watch: a
//! loader that slips into one query per table shows up as a ratio in the
//! hundreds. Printing only, no assertions (timings belong to benchmarks, not
//! tests).
//!
//! Postgres: the server at `DBGUARD_TEST_PG` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); the benchmark creates
//! its own database and drops it afterwards. Run with
//! `cargo bench --bench introspect`.

use std::error::Error;
use std::time::{Duration, Instant};

use dbguard::db::postgres::catalog as pg_catalog;
use dbguard::db::sqlite::catalog as sqlite_catalog;

const TABLES: usize = 1000;
const RUNS: usize = 7;

type Res<T> = Result<T, Box<dyn Error>>;

fn main() -> Res<()> {
    println!(
        "introspection of {TABLES} tables / {} foreign keys, median of {RUNS} runs",
        2 * TABLES
    );
    if let Err(e) = postgres_bench() {
        println!("postgres: skipped ({e})");
    }
    sqlite_bench()?;
    Ok(())
}

/// The same shape as the query-count test: every table references the
/// previous one (CASCADE) and the one seven back (SET NULL), wrapping
/// around, so the FK graph has long cycles.
fn edges(i: usize) -> (usize, usize) {
    ((i + TABLES - 1) % TABLES, (i + TABLES - 7) % TABLES)
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn time<F: FnMut() -> Res<()>>(mut f: F) -> Res<Duration> {
    // One warm-up run fills the catalog caches, as in a live shell.
    f()?;
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        f()?;
        times.push(start.elapsed());
    }
    Ok(median(times))
}

fn report(engine: &str, full: Duration, list: Duration, queries: usize) {
    let ratio = full.as_secs_f64() / list.as_secs_f64().max(1e-9);
    println!(
        "{engine:<9} introspect: {:>9.2} ms ({queries} queries)   \\dt listing query: {:>7.2} ms   ratio: {ratio:.1}x",
        full.as_secs_f64() * 1e3,
        list.as_secs_f64() * 1e3,
    );
}

/// Drops the benchmark database however the benchmark ends.
struct DropDb {
    admin_url: String,
    name: String,
}

impl Drop for DropDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.admin_url, postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}

fn postgres_bench() -> Res<()> {
    let admin_url = std::env::var("DBGUARD_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls)?;
    let name = format!("dbguard_bench_introspect_{}", std::process::id());
    admin.batch_execute(&format!("CREATE DATABASE \"{name}\""))?;
    let _guard = DropDb {
        admin_url: admin_url.clone(),
        name: name.clone(),
    };
    let mut config: postgres::Config = admin_url.parse()?;
    config.dbname(&name);
    let mut client = config.connect(postgres::NoTls)?;

    let mut ddl = String::from("BEGIN;\n");
    for i in 0..TABLES {
        ddl.push_str(&format!(
            "CREATE TABLE t{i} (id int PRIMARY KEY, a int, b int, note text);\n"
        ));
    }
    for i in 0..TABLES {
        let (a, b) = edges(i);
        ddl.push_str(&format!(
            "ALTER TABLE t{i} ADD FOREIGN KEY (a) REFERENCES t{a} (id) ON DELETE CASCADE, \
             ADD FOREIGN KEY (b) REFERENCES t{b} (id) ON DELETE SET NULL;\n"
        ));
    }
    ddl.push_str("COMMIT;\nANALYZE;\n");
    let start = Instant::now();
    client.batch_execute(&ddl)?;
    println!(
        "postgres: schema created in {:.1} s",
        start.elapsed().as_secs_f64()
    );

    let mut queries = 0;
    let full = time(|| {
        let mut tx = client.build_transaction().read_only(true).start()?;
        let mut counter = pg_catalog::QueryCounter::default();
        let schema = pg_catalog::load(&mut tx, &mut counter)?;
        tx.commit()?;
        queries = counter.queries;
        if schema.tables.len() != TABLES {
            return Err(format!("loaded {} tables", schema.tables.len()).into());
        }
        Ok(())
    })?;
    // What psql's `\dt` runs, in essence.
    let list = time(|| {
        let mut tx = client.build_transaction().read_only(true).start()?;
        let rows = tx.query(
            "SELECT n.nspname, c.relname, c.relkind::text FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p', 'f') \
               AND n.nspname <> 'pg_catalog' AND n.nspname <> 'information_schema' \
               AND n.nspname !~ '^pg_toast' \
             ORDER BY 1, 2",
            &[],
        )?;
        tx.commit()?;
        if rows.len() != TABLES {
            return Err(format!("listed {} tables", rows.len()).into());
        }
        Ok(())
    })?;
    report("postgres", full, list, queries);
    Ok(())
}

fn sqlite_bench() -> Res<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bench.sqlite");
    let mut conn = rusqlite::Connection::open(&path)?;
    let mut ddl = String::from("BEGIN;\n");
    for i in 0..TABLES {
        let (a, b) = edges(i);
        ddl.push_str(&format!(
            "CREATE TABLE t{i} (id INTEGER PRIMARY KEY, a INT REFERENCES t{a} (id) ON DELETE CASCADE, \
             b INT REFERENCES t{b} (id) ON DELETE SET NULL, note TEXT);\n"
        ));
    }
    ddl.push_str("COMMIT;\n");
    conn.execute_batch(&ddl)?;

    let mut queries = 0;
    let full = time(|| {
        let tx = conn.transaction()?;
        let mut counter = sqlite_catalog::QueryCounter::default();
        let schema = sqlite_catalog::load(&tx, &mut counter)?;
        tx.commit()?;
        queries = counter.queries;
        if schema.tables.len() != TABLES {
            return Err(format!("loaded {} tables", schema.tables.len()).into());
        }
        Ok(())
    })?;
    let list = time(|| {
        let mut stmt = conn.prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        )?;
        let n = stmt.query_map([], |r| r.get::<_, String>(0))?.count();
        if n != TABLES {
            return Err(format!("listed {n} tables").into());
        }
        Ok(())
    })?;
    report("sqlite", full, list, queries);
    Ok(())
}
