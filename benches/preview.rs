//! Preview cost against hand-written counting queries (issue 3).
//!
//! A 3-level cascade (parent → child → grandchild, each child row with ten
//! children, plus a SET NULL side table and an undeclared association) is
//! loaded into a fresh Postgres database, FK columns indexed as a careful
//! DBA would. For deletes whose cascade reaches about 10k, 100k and 1M rows,
//! it times dbguard's full preview (counts, samples, digest) next to the
//! `count(*)` queries a DBA would write by hand for the same edges, in the
//! same process and database, and prints both medians and their ratio.
//! Printing only, no assertions.
//!
//! `cargo bench --bench preview [-- SIZE...]` (default sizes 10000 100000
//! 1000000; the 1M case loads about 2M rows and takes a minute or two).
//! Postgres comes from `DBGUARD_TEST_PG`.

use std::error::Error;
use std::time::{Duration, Instant};

use dbguard::db::{Connection, OpenOptions};
use dbguard::impact::{self, PreviewOptions};
use dbguard::policy::Policy;
use dbguard::sql;

type Res<T> = Result<T, Box<dyn Error>>;

const RUNS: usize = 5;

fn admin_url() -> String {
    std::env::var("DBGUARD_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn with_db(url: &str, db: &str) -> String {
    match url.rfind('/') {
        Some(i) if i > "postgres://".len() => format!("{}/{db}", &url[..i]),
        _ => format!("{url}/{db}"),
    }
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn time(mut f: impl FnMut() -> Res<()>) -> Res<Duration> {
    f()?;
    let mut v = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        f()?;
        v.push(t.elapsed());
    }
    Ok(median(v))
}

fn main() -> Res<()> {
    let sizes: Vec<u64> = {
        let args: Vec<u64> = std::env::args()
            .skip(1)
            .filter_map(|a| a.parse().ok())
            .collect();
        if args.is_empty() {
            vec![10_000, 100_000, 1_000_000]
        } else {
            args
        }
    };
    let admin = admin_url();
    let mut client = postgres::Client::connect(&admin, postgres::NoTls)
        .map_err(|e| format!("cannot reach PostgreSQL at {admin}: {e}"))?;
    let name = format!("dbguard_bench_preview_{}", std::process::id());
    client.batch_execute(&format!("CREATE DATABASE {name}"))?;
    let url = with_db(&admin, &name);
    let result = run(&url, &sizes);
    let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    result
}

fn run(url: &str, sizes: &[u64]) -> Res<()> {
    let mut db = postgres::Client::connect(url, postgres::NoTls)?;
    println!(
        "{:<8} {:>10} {:>14} {:>14} {:>7}",
        "size", "rows", "preview", "hand counts", "ratio"
    );
    for &size in sizes {
        // k parents cascade to 10k children and 100k grandchildren: ~111k rows.
        let k = (size / 111).max(1);
        let parents = (k * 2).max(1000);
        db.batch_execute(&format!(
            "DROP TABLE IF EXISTS side, grandchild, child, parent, mention CASCADE;
             CREATE TABLE parent (id bigint PRIMARY KEY, name text NOT NULL, created timestamptz NOT NULL DEFAULT now(), meta jsonb, amount numeric(12,2));
             CREATE TABLE child (id bigint PRIMARY KEY, parent_id bigint NOT NULL REFERENCES parent ON DELETE CASCADE, label text, created timestamptz NOT NULL DEFAULT now(), meta jsonb);
             CREATE TABLE grandchild (id bigint PRIMARY KEY, child_id bigint NOT NULL REFERENCES child ON DELETE CASCADE, payload text, created timestamptz NOT NULL DEFAULT now(), amount numeric(12,2));
             CREATE TABLE side (id bigint PRIMARY KEY, parent_id bigint REFERENCES parent ON DELETE SET NULL, note text);
             CREATE TABLE mention (id bigint PRIMARY KEY, parent_id bigint, note text);
             INSERT INTO parent SELECT i, 'parent ' || i, now(), jsonb_build_object('i', i), i * 1.5 FROM generate_series(1, {parents}) i;
             INSERT INTO child SELECT i, (i - 1) / 10 + 1, 'child ' || i, now(), jsonb_build_object('i', i) FROM generate_series(1, {parents} * 10) i;
             INSERT INTO grandchild SELECT i, (i - 1) / 10 + 1, repeat('x', 40), now(), i FROM generate_series(1, {parents} * 100) i;
             INSERT INTO side SELECT i, i, 'side' FROM generate_series(1, {parents}) i;
             INSERT INTO mention SELECT i, i, 'mention' FROM generate_series(1, {parents}) i;
             CREATE INDEX ON child (parent_id); CREATE INDEX ON grandchild (child_id);
             CREATE INDEX ON side (parent_id); CREATE INDEX ON mention (parent_id);
             ANALYZE;"
        ))?;
        let pred = format!("id <= {k}");
        let statement = format!("DELETE FROM parent WHERE {pred}");
        let mut conn = Connection::open(Some(url), &OpenOptions::default())?;
        let schema = conn.introspect()?;
        let policy = Policy::default();
        let stmt = sql::classify(conn.engine(), &statement);
        let opts = PreviewOptions {
            timeout: Duration::from_secs(600),
            ..PreviewOptions::default()
        };
        let mut reached = 0u64;
        let preview = time(|| {
            let imp = impact::preview(&mut conn, &schema, &policy, &stmt, &opts)?;
            reached = imp
                .totals
                .values()
                .map(|t| t.delete + t.update)
                .sum::<u64>();
            Ok(())
        })?;
        let sub_p = format!("SELECT id FROM parent WHERE {pred}");
        let sub_c = format!("SELECT id FROM child WHERE parent_id IN ({sub_p})");
        let queries = [
            format!("SELECT count(*) FROM parent WHERE {pred}"),
            format!("SELECT count(*) FROM child WHERE parent_id IN ({sub_p})"),
            format!("SELECT count(*) FROM grandchild WHERE child_id IN ({sub_c})"),
            format!("SELECT count(*) FROM side WHERE parent_id IN ({sub_p})"),
            format!("SELECT count(*) FROM mention WHERE parent_id IN ({sub_p})"),
        ];
        let hand = time(|| {
            for q in &queries {
                db.query_one(q.as_str(), &[])?;
            }
            Ok(())
        })?;
        println!(
            "{:<8} {:>10} {:>11.1} ms {:>11.1} ms {:>6.2}x",
            size,
            reached,
            preview.as_secs_f64() * 1000.0,
            hand.as_secs_f64() * 1000.0,
            preview.as_secs_f64() / hand.as_secs_f64()
        );
    }
    Ok(())
}
