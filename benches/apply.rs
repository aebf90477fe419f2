//! Guarded apply and undo at scale: time and peak memory (issue 4).
//!
//! Loads the preview benchmark's 3-level cascade (parent → child →
//! grandchild, a SET NULL side table, an undeclared association) into a
//! fresh Postgres database, then for deletes whose cascade reaches about
//! 10k, 100k and 1M rows runs the real `dbguard` binary:
//! `exec --yes` (preview, lock, capture every row into the journal,
//! delete, verify, commit) and `undo apply --yes` (conflict check,
//! batched restore, integrity check, commit), printing wall time and the
//! process's peak RSS. Next to them, in this process and database, the
//! careful DBA's manual equivalents: `COPY (SELECT ...) TO STDOUT` of every
//! affected table plus the bare `DELETE`, and `COPY ... FROM STDIN` of the
//! same rows (both rolled back). Printing only, no assertions.
//!
//! `cargo bench --bench apply [-- SIZE...]` (default 10000 100000 1000000;
//! the 1M case takes a few minutes). Postgres from `DBGUARD_TEST_PG`.

use std::error::Error;
use std::io::{Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

type Res<T> = Result<T, Box<dyn Error>>;

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

/// Runs dbguard; returns (wall time, peak RSS in KiB, stdout).
fn dbguard(args: &[&str]) -> Res<(Duration, u64, String)> {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_dbguard"))
        .args(args)
        .env("DBGUARD_REPORT_RSS", "1")
        .env("USER", "bench")
        .output()?;
    let took = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        return Err(format!("dbguard {args:?} failed: {stderr}").into());
    }
    let rss = stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak_rss_kb="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    Ok((took, rss, String::from_utf8_lossy(&out.stdout).into_owned()))
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
    let name = format!("dbguard_bench_apply_{}", std::process::id());
    client.batch_execute(&format!("CREATE DATABASE {name}"))?;
    let url = with_db(&admin, &name);
    let result = run(&url, &sizes);
    let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    result
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn run(url: &str, sizes: &[u64]) -> Res<()> {
    let mut db = postgres::Client::connect(url, postgres::NoTls)?;
    let dir = std::env::temp_dir().join(format!("dbguard-bench-apply-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    println!(
        "{:<8} {:>9} | {:>11} {:>9} {:>13} {:>10} {:>6} | {:>11} {:>9} {:>13} {:>6}",
        "size",
        "rows",
        "apply",
        "RSS",
        "COPY+DELETE",
        "DELETE",
        "ratio",
        "undo",
        "RSS",
        "COPY FROM",
        "ratio"
    );
    for &size in sizes {
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
        db.batch_execute("VACUUM")?;
        let pred = format!("id <= {k}");
        let sub_p = format!("SELECT id FROM parent WHERE {pred}");
        let sub_c = format!("SELECT id FROM child WHERE parent_id IN ({sub_p})");
        let copies = [
            format!("COPY (SELECT * FROM parent WHERE {pred}) TO STDOUT"),
            format!("COPY (SELECT * FROM child WHERE parent_id IN ({sub_p})) TO STDOUT"),
            format!("COPY (SELECT * FROM grandchild WHERE child_id IN ({sub_c})) TO STDOUT"),
            format!("COPY (SELECT * FROM side WHERE parent_id IN ({sub_p})) TO STDOUT"),
        ];
        let files: Vec<std::path::PathBuf> = ["parent", "child", "grandchild", "side"]
            .iter()
            .map(|t| dir.join(format!("{t}.copy")))
            .collect();
        // The careful DBA: copy every affected table out, then delete.
        let start = Instant::now();
        let mut tx = db.transaction()?;
        for (q, f) in copies.iter().zip(&files) {
            let mut reader = tx.copy_out(q.as_str())?;
            let mut buf = Vec::new();
            reader.read_to_end(&mut buf)?;
            drop(reader);
            std::fs::write(f, &buf)?;
        }
        let n = tx.execute(format!("DELETE FROM parent WHERE {pred}").as_str(), &[])?;
        let copy_delete = start.elapsed();
        tx.rollback()?;
        let start = Instant::now();
        let mut tx = db.transaction()?;
        tx.execute(format!("DELETE FROM parent WHERE {pred}").as_str(), &[])?;
        let bare_delete = start.elapsed();
        tx.rollback()?;
        let _ = n;

        let journal = dir.join(format!("journal-{size}.sqlite"));
        let _ = std::fs::remove_file(&journal);
        let j = journal.to_string_lossy().into_owned();
        let stmt = format!("DELETE FROM parent WHERE {pred}");
        let (apply_t, apply_rss, _) = dbguard(&[
            "--journal",
            &j,
            "exec",
            url,
            "-c",
            &stmt,
            "--yes",
            "--format",
            "json",
            "--statement-timeout",
            "3600",
            "--lock-timeout",
            "60",
            "--preview-timeout",
            "600",
        ])?;
        let reached: i64 = db
            .query_one("SELECT count(*) FROM grandchild", &[])?
            .try_get(0)?;
        let _ = reached;

        // The careful DBA's restore: COPY the saved rows back in, parents first.
        let start = Instant::now();
        let mut tx = db.transaction()?;
        for (t, f) in ["parent", "child", "grandchild"].iter().zip(&files) {
            let data = std::fs::read(f)?;
            let mut w = tx.copy_in(format!("COPY {t} FROM STDIN").as_str())?;
            w.write_all(&data)?;
            w.finish()?;
        }
        let copy_in = start.elapsed();
        tx.rollback()?;

        let (undo_t, undo_rss, _) = dbguard(&[
            "--journal",
            &j,
            "undo",
            "apply",
            "1",
            "--yes",
            "--statement-timeout",
            "3600",
            "--lock-timeout",
            "60",
        ])?;
        let rows = size;
        println!(
            "{:<8} {:>9} | {:>8.0} ms {:>6} MB {:>10.0} ms {:>7.0} ms {:>5.2}x | {:>8.0} ms {:>6} MB {:>10.0} ms {:>5.2}x",
            size,
            rows,
            ms(apply_t),
            apply_rss / 1024,
            ms(copy_delete),
            ms(bare_delete),
            apply_t.as_secs_f64() / copy_delete.as_secs_f64(),
            ms(undo_t),
            undo_rss / 1024,
            ms(copy_in),
            undo_t.as_secs_f64() / copy_in.as_secs_f64(),
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
