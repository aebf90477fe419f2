//! The benchmark suite of issue 6: dbguard side by side with the raw SQL a
//! careful DBA would run for the same rows, in the same database.
//!
//!     cargo bench --bench suite                      # 10k and 100k rows
//!     cargo bench --bench suite -- --big             # adds 1M rows
//!     cargo bench --bench suite -- --json perf.json 10000
//!
//! Postgres comes from `DBGUARD_TEST_PG` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); the suite creates its own
//! databases and drops them afterwards. SQLite uses temporary files.
//!
//! Measures (dbguard vs baseline, medians after a warm-up):
//! - preview: `dbguard::impact::preview` of `DELETE FROM parent WHERE ...`
//!   vs hand-written `count(*)` queries for every edge;
//! - apply: the `dbguard` binary's `exec --yes` (preview, lock, capture into
//!   the journal, delete, verify, commit) vs `COPY (SELECT ...) TO STDOUT`
//!   of every affected table into fsynced files plus the `DELETE`, in one
//!   committed transaction; and vs the bare `DELETE` alone (rolled back);
//! - undo: `undo apply ID --yes` vs `COPY ... FROM STDIN` of the saved rows
//!   (and an `UPDATE ... FROM` for the SET NULL rows), committed;
//! - one-row fix: `exec --yes` of a 1-row delete (3 FK edges and an
//!   association to check) vs the bare `DELETE`;
//! - startup: `Connection::open` + `introspect()` of 5,000 tables / 10,000
//!   FKs vs connecting and running psql's `\d` query;
//! - peak RSS of the binary's apply and undo;
//! - SQLite: apply and undo vs `INSERT INTO bk_* SELECT ...` + `DELETE`,
//!   and the reverse `INSERT ... SELECT`, in the same file.
//!
//! Every apply is followed by its undo (and every baseline delete by its
//! baseline restore), the row counts are checked after each pair, and
//! Postgres tables are vacuumed before every timed step, so each run starts
//! from the same database state. Each timed Postgres run connects anew on
//! both sides (untimed): server processes differ in speed for their whole
//! life. Printing only, no assertions.

// The suite's own setup fails loudly: it is a measuring tool, not a product.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use dbguard::db::{Connection, OpenOptions};
use dbguard::impact::{self, PreviewOptions};
use dbguard::policy::Policy;
use dbguard::sql;

const USAGE: &str = "usage: cargo bench --bench suite -- [SIZE...] [--big] [--json PATH] \
[--runs N] [--big-runs N] [--warmup N] [--tables N] [--only GROUP,...]
  SIZE        affected rows per delete (default 10000 100000)
  --big       also 1000000
  --json PATH write the figures as JSON
  --runs N    timed runs per measure (default 5)
  --big-runs N timed runs at 1M rows and above (default 3)
  --warmup N  untimed runs first (default 1)
  --tables N  tables for the startup measure (default 5000, 2 FKs each)
  --only LIST groups: preview, apply, one-row, startup, sqlite";

const GROUPS: [&str; 5] = ["preview", "apply", "one-row", "startup", "sqlite"];

struct Opts {
    sizes: Vec<u64>,
    json: Option<PathBuf>,
    runs: usize,
    big_runs: usize,
    warmup: usize,
    tables: usize,
    only: Vec<String>,
    args: Vec<String>,
}

impl Opts {
    fn parse() -> Res<Opts> {
        let args: Vec<String> = std::env::args()
            .skip(1)
            .filter(|a| a != "--bench")
            .collect();
        let mut o = Opts {
            sizes: Vec::new(),
            json: None,
            runs: 5,
            big_runs: 3,
            warmup: 1,
            tables: 5000,
            only: GROUPS.iter().map(|g| (*g).to_owned()).collect(),
            args: args.clone(),
        };
        let mut big = false;
        let mut it = args.into_iter();
        let num = |v: Option<String>, flag: &str| -> Res<usize> {
            v.and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{flag} needs a number\n{USAGE}").into())
        };
        while let Some(a) = it.next() {
            match a.as_str() {
                "--big" => big = true,
                "--json" => {
                    o.json = Some(
                        it.next()
                            .ok_or(format!("--json needs a path\n{USAGE}"))?
                            .into(),
                    )
                }
                "--runs" => o.runs = num(it.next(), "--runs")?.max(1),
                "--big-runs" => o.big_runs = num(it.next(), "--big-runs")?.max(1),
                "--warmup" => o.warmup = num(it.next(), "--warmup")?,
                "--tables" => o.tables = num(it.next(), "--tables")?.max(10),
                "--only" => {
                    let list = it.next().ok_or(format!("--only needs a list\n{USAGE}"))?;
                    o.only = list.split(',').map(|s| s.trim().to_owned()).collect();
                    if let Some(bad) = o.only.iter().find(|g| !GROUPS.contains(&g.as_str())) {
                        return Err(format!("unknown group {bad:?}\n{USAGE}").into());
                    }
                }
                "-h" | "--help" => return Err(USAGE.into()),
                s => match s.replace('_', "").parse::<u64>() {
                    Ok(n) if n > 0 => o.sizes.push(n),
                    _ => return Err(format!("unknown argument {s:?}\n{USAGE}").into()),
                },
            }
        }
        if o.sizes.is_empty() {
            o.sizes = vec![10_000, 100_000];
        }
        if big && !o.sizes.contains(&1_000_000) {
            o.sizes.push(1_000_000);
        }
        o.sizes.sort_unstable();
        o.sizes.dedup();
        Ok(o)
    }

    fn wants(&self, group: &str) -> bool {
        self.only.iter().any(|g| g == group)
    }

    fn runs_for(&self, size: u64) -> usize {
        if size >= 1_000_000 {
            self.big_runs
        } else {
            self.runs
        }
    }
}

/// Where the suite keeps its files: the policy, journals, backup files.
struct Env {
    dir: PathBuf,
    policy: PathBuf,
}

fn main() {
    let opts = match Opts::parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&opts) {
        eprintln!("benchmark suite failed: {e}");
        std::process::exit(1);
    }
}

fn run(opts: &Opts) -> Res<()> {
    let started = Instant::now();
    let tmp = tempfile::Builder::new()
        .prefix("dbguard-bench-")
        .tempdir()?;
    let env = Env {
        dir: tmp.path().to_owned(),
        policy: tmp.path().join("policy"),
    };
    permissive_policy(&env.policy)?;
    let mut report = Report::default();
    let mut phases = serde_json::Map::new();
    let date = utc_now();
    let command = format!(
        "cargo bench --bench suite{}{}",
        if opts.args.is_empty() { "" } else { " -- " },
        opts.args.join(" ")
    );
    eprintln!(
        "dbguard benchmark suite: sizes {:?}, {} runs ({} at 1M+) after {} warm-up",
        opts.sizes, opts.runs, opts.big_runs, opts.warmup
    );

    let mut pg_version = None;
    let pg_groups = ["preview", "apply", "one-row"];
    if pg_groups.iter().any(|g| opts.wants(g)) {
        let db = TempPg::create("suite")?;
        let mut client = postgres::Client::connect(&db.url, postgres::NoTls)?;
        pg_version = Some(
            client
                .query_one("SHOW server_version", &[])?
                .try_get::<_, String>(0)?,
        );
        for &size in &opts.sizes {
            let t = Instant::now();
            pg_size(opts, &env, &db.url, &mut client, size, &mut report)?;
            phases.insert(
                format!("postgres_{size}_s"),
                t.elapsed().as_secs_f64().into(),
            );
        }
    }
    if opts.wants("startup") {
        let t = Instant::now();
        startup(opts, &env, &mut report)?;
        phases.insert("startup_s".into(), t.elapsed().as_secs_f64().into());
    }
    if opts.wants("sqlite") {
        for &size in &opts.sizes {
            let t = Instant::now();
            sqlite_size(opts, &env, size, &mut report)?;
            phases.insert(format!("sqlite_{size}_s"), t.elapsed().as_secs_f64().into());
        }
    }

    let elapsed = started.elapsed();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = mem_total_kb();
    println!();
    println!(
        "dbguard benchmark suite, {date}, {cores} cores, {:.1} GiB RAM, PostgreSQL {}, SQLite {}",
        mem as f64 / 1024.0 / 1024.0,
        pg_version.as_deref().unwrap_or("-"),
        rusqlite::version()
    );
    println!("command: {command}");
    println!(
        "medians of {} runs ({} at 1M rows and above) after {} warm-up; ratio = dbguard / baseline",
        opts.runs, opts.big_runs, opts.warmup
    );
    println!();
    print!("{}", report.table());
    let mem_table = report.memory_table();
    if !mem_table.is_empty() {
        println!();
        println!("peak RSS of the dbguard binary (max over the timed runs):");
        println!();
        print!("{mem_table}");
    }
    for n in &report.notes {
        println!("note: {n}");
    }
    println!();
    println!("suite took {:.0} s", elapsed.as_secs_f64());

    if let Some(path) = &opts.json {
        let meta = serde_json::json!({
            "date": date,
            "commit": git_commit(),
            "command": command,
            "cores": cores,
            "mem_total_kb": mem,
            "postgres": pg_version,
            "sqlite": rusqlite::version(),
            "sizes": opts.sizes,
            "runs": opts.runs,
            "big_runs": opts.big_runs,
            "warmup": opts.warmup,
            "startup_tables": opts.tables,
            "elapsed_s": elapsed.as_secs_f64(),
            "phases_s": phases,
        });
        let json = serde_json::to_string_pretty(&report.json(meta))?;
        std::fs::write(path, json + "\n")?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn remove_journal(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

fn exec_args<'a>(target: &'a str, stmt: &'a str) -> Vec<&'a str> {
    vec![
        "exec",
        target,
        "-c",
        stmt,
        "--yes",
        "--format",
        "json",
        "--statement-timeout",
        "3600",
        "--lock-timeout",
        "60",
        "--preview-timeout",
        "3600",
    ]
}

fn undo_args(id: &str) -> Vec<&str> {
    vec![
        "undo",
        "apply",
        id,
        "--yes",
        "--format",
        "json",
        "--statement-timeout",
        "3600",
        "--lock-timeout",
        "60",
    ]
}

fn check_state(what: &str, now: &[i64], initial: &[i64]) -> Res<()> {
    if now != initial {
        return Err(format!(
            "{what}: row counts {now:?} differ from the initial {initial:?}; the runs would not be comparable"
        )
        .into());
    }
    Ok(())
}

/// Collects the timed samples of one apply/undo cycle.
#[derive(Default)]
struct Cycle {
    base_apply: Vec<f64>,
    bare: Vec<f64>,
    base_undo: Vec<f64>,
    apply: Vec<f64>,
    undo: Vec<f64>,
    apply_rss: u64,
    undo_rss: u64,
}

impl Cycle {
    fn report(
        &self,
        report: &mut Report,
        engine: &'static str,
        c: &Cascade,
        runs: usize,
        backup: &str,
        restore: &str,
    ) {
        let entry = |measure: &str, dg: &[f64], baseline: &str, base: &[f64], target| Entry {
            measure: measure.to_owned(),
            engine,
            size: Some(c.size),
            rows: Some(c.affected()),
            runs,
            dbguard_ms: median(dg),
            baseline: baseline.to_owned(),
            baseline_ms: median(base),
            target,
            limit_ms: None,
        };
        let new = [
            entry("apply", &self.apply, backup, &self.base_apply, Some(1.5)),
            entry("apply", &self.apply, "DELETE", &self.bare, None),
            entry("undo", &self.undo, restore, &self.base_undo, Some(1.5)),
        ];
        for e in new {
            progress(&e);
            report.entries.push(e);
        }
        report.memory.push(Memory {
            engine,
            size: c.size,
            apply_kb: self.apply_rss,
            undo_kb: self.undo_rss,
        });
        eprintln!(
            "  peak RSS: apply {:.1} MiB, undo {:.1} MiB",
            self.apply_rss as f64 / 1024.0,
            self.undo_rss as f64 / 1024.0
        );
    }
}

/// The one-row fix: `exec --yes` of a 1-row delete of a childless parent
/// (its FK edges and association checked, journal made durable) against
/// the bare autocommit `DELETE` of the next such parent.
fn one_row_fix(
    opts: &Opts,
    env: &Env,
    report: &mut Report,
    engine: &'static str,
    size: u64,
    target: &str,
    bare: &mut dyn FnMut(&str) -> Res<u64>,
) -> Res<()> {
    let journal = env.dir.join(format!("journal-{engine}-one-{size}.sqlite"));
    remove_journal(&journal);
    let runs = opts.runs.max(5);
    let mut dg = Vec::new();
    let mut base = Vec::new();
    let mut next = LONELY_BASE;
    for i in 0..opts.warmup + runs {
        next += 1;
        let stmt = format!("DELETE FROM parent WHERE id = {next}");
        let a = dbguard(&env.policy, &journal, &exec_args(target, &stmt))?;
        next += 1;
        let stmt = format!("DELETE FROM parent WHERE id = {next}");
        let (b, n) = timed(|| bare(&stmt))?;
        if n != 1 {
            return Err(format!("one-row baseline deleted {n} rows").into());
        }
        if i >= opts.warmup {
            dg.push(a.ms);
            base.push(b);
        }
    }
    remove_journal(&journal);
    let e = Entry {
        measure: "one-row fix".into(),
        engine,
        size: Some(size),
        rows: Some(1),
        runs,
        dbguard_ms: median(&dg),
        baseline: "DELETE (autocommit)".into(),
        baseline_ms: median(&base),
        target: None,
        limit_ms: None,
    };
    progress(&e);
    report.entries.push(e);
    Ok(())
}

fn progress(e: &Entry) {
    eprintln!(
        "  {:<12} {:<9} {:>9} rows: dbguard {:>10.2} ms, {:<22} {:>10.2} ms, ratio {:.2}",
        e.measure,
        e.engine,
        e.rows.map_or("-".to_owned(), |r| r.to_string()),
        e.dbguard_ms,
        e.baseline,
        e.baseline_ms,
        e.ratio()
    );
}

fn pg_size(
    opts: &Opts,
    env: &Env,
    url: &str,
    db: &mut postgres::Client,
    size: u64,
    report: &mut Report,
) -> Res<()> {
    let c = Cascade::new(size);
    let runs = opts.runs_for(size);
    let (load, ()) = timed(|| c.pg_load(db))?;
    eprintln!(
        "postgres, {size} rows: loaded {} rows in {:.1} s",
        c.total_rows(),
        load / 1000.0
    );
    let initial = pg_state(db)?;

    if opts.wants("preview") {
        let schema = Connection::open(Some(url), &OpenOptions::default())?.introspect()?;
        let policy = Policy::default();
        let statement = c.delete();
        let stmt = sql::classify(dbguard::db::Engine::Postgres, &statement);
        let popts = PreviewOptions {
            timeout: Duration::from_secs(3600),
            ..PreviewOptions::default()
        };
        let mut reached = 0u64;
        let queries = c.counts();
        let mut dg = Vec::new();
        let mut base = Vec::new();
        for i in 0..opts.warmup + runs {
            // Both sides on new server processes every run (connecting is
            // not timed): one backend can run the same query a third
            // slower than the next, for its whole life, so a pair of
            // long-lived connections made the ratio a draw.
            let mut conn = Connection::open(Some(url), &OpenOptions::default())?;
            let mut base_db = postgres::Client::connect(url, postgres::NoTls)?;
            let (t, ()) = timed(|| {
                let imp = impact::preview(&mut conn, &schema, &policy, &stmt, &popts)?;
                reached = imp.totals.values().map(|t| t.delete + t.update).sum();
                Ok(())
            })?;
            let (b, ()) = timed(|| {
                for q in &queries {
                    base_db.query_one(q.as_str(), &[])?;
                }
                Ok(())
            })?;
            if i >= opts.warmup {
                dg.push(t);
                base.push(b);
            }
        }
        if reached != c.affected() {
            report.notes.push(format!(
                "postgres preview at {size}: dbguard counted {reached} rows, expected {}",
                c.affected()
            ));
        }
        let e = Entry {
            measure: "preview".into(),
            engine: "postgres",
            size: Some(size),
            rows: Some(reached),
            runs,
            dbguard_ms: median(&dg),
            baseline: "count(*) per edge".into(),
            baseline_ms: median(&base),
            target: Some(1.2),
            limit_ms: None,
        };
        progress(&e);
        report.entries.push(e);
    }

    if opts.wants("apply") {
        let delete = c.delete();
        let selects = c.selects();
        let files: Vec<PathBuf> = selects
            .iter()
            .map(|(t, _)| env.dir.join(format!("{t}.copy")))
            .collect();
        // One journal for all runs, as in use: the warm-up run creates it,
        // and every change after finds it there, as the one-row fix does.
        let journal = env.dir.join(format!("journal-pg-{size}.sqlite"));
        remove_journal(&journal);
        let mut cy = Cycle::default();
        for i in 0..opts.warmup + runs {
            let keep = i >= opts.warmup;
            // The baseline on a new server process every run, as the
            // dbguard binary is (see the preview).
            let mut base_db = postgres::Client::connect(url, postgres::NoTls)?;
            // The careful DBA: every affected table out to a file, then delete.
            pg_settle(db)?;
            let (t, n) = timed(|| {
                let mut tx = base_db.transaction()?;
                for ((_, q), f) in selects.iter().zip(&files) {
                    let mut r = tx.copy_out(format!("COPY ({q}) TO STDOUT").as_str())?;
                    let mut w = BufWriter::new(File::create(f)?);
                    std::io::copy(&mut r, &mut w)?;
                    w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
                }
                let n = tx.execute(delete.as_str(), &[])?;
                tx.commit()?;
                Ok(n)
            })?;
            if n != c.k {
                return Err(format!("baseline deleted {n} parents, expected {}", c.k).into());
            }
            pg_settle(db)?;
            // ... and puts them back: COPY FROM, SET NULL rows from a staging table.
            let (u, ()) = timed(|| {
                let mut tx = base_db.transaction()?;
                for ((t, _), f) in selects.iter().zip(&files).take(3) {
                    let mut w = tx.copy_in(format!("COPY {t} FROM STDIN").as_str())?;
                    std::io::copy(&mut File::open(f)?, &mut w)?;
                    w.finish()?;
                }
                tx.batch_execute("CREATE TEMP TABLE side_bk (LIKE side) ON COMMIT DROP")?;
                let mut w = tx.copy_in("COPY side_bk FROM STDIN")?;
                std::io::copy(&mut File::open(&files[3])?, &mut w)?;
                w.finish()?;
                tx.batch_execute(
                    "UPDATE side s SET parent_id = b.parent_id FROM side_bk b WHERE s.id = b.id",
                )?;
                tx.commit()?;
                Ok(())
            })?;
            check_state("after the baseline restore", &pg_state(db)?, &initial)?;
            pg_settle(db)?;
            let start = Instant::now();
            let mut tx = base_db.transaction()?;
            tx.execute(delete.as_str(), &[])?;
            let bare = ms(start.elapsed());
            // Not timed: the rollback.
            tx.rollback()?;
            pg_settle(db)?;
            let a = dbguard(&env.policy, &journal, &exec_args(url, &delete))?;
            let id = change_id(&a.stdout)?.to_string();
            pg_settle(db)?;
            let un = dbguard(&env.policy, &journal, &undo_args(&id))?;
            check_state("after dbguard's undo", &pg_state(db)?, &initial)?;
            if keep {
                cy.base_apply.push(t);
                cy.base_undo.push(u);
                cy.bare.push(bare);
                cy.apply.push(a.ms);
                cy.undo.push(un.ms);
                cy.apply_rss = cy.apply_rss.max(a.rss_kb);
                cy.undo_rss = cy.undo_rss.max(un.rss_kb);
            }
        }
        remove_journal(&journal);
        cy.report(
            report,
            "postgres",
            &c,
            runs,
            "COPY TO files + DELETE",
            "COPY FROM",
        );
    }

    if opts.wants("one-row") {
        pg_settle(db)?;
        one_row_fix(opts, env, report, "postgres", size, url, &mut |stmt| {
            Ok(db.execute(stmt, &[])?)
        })?;
    }
    Ok(())
}

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

fn startup(opts: &Opts, env: &Env, report: &mut Report) -> Res<()> {
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
    Ok(())
}

fn sqlite_size(opts: &Opts, env: &Env, size: u64, report: &mut Report) -> Res<()> {
    let c = Cascade::new(size);
    let runs = opts.runs_for(size);
    let path = env.dir.join(format!("cascade-{size}.sqlite"));
    remove_journal(&path);
    let db = rusqlite::Connection::open(&path)?;
    let (load, ()) = timed(|| c.sqlite_load(&db))?;
    eprintln!(
        "sqlite, {size} rows: loaded {} rows in {:.1} s",
        c.total_rows(),
        load / 1000.0
    );
    let initial = sqlite_state(&db)?;
    let target = path.to_string_lossy().into_owned();
    let delete = c.delete();
    let selects = c.selects();
    let backup: Vec<String> = selects
        .iter()
        .map(|(t, q)| format!("INSERT INTO bk_{t} {q};"))
        .collect::<Vec<_>>();
    let backup_and_delete = format!("BEGIN IMMEDIATE; {} {delete}; COMMIT;", backup.join(" "));
    let restore = "BEGIN IMMEDIATE;
         INSERT INTO parent SELECT * FROM bk_parent;
         INSERT INTO child SELECT * FROM bk_child;
         INSERT INTO grandchild SELECT * FROM bk_grandchild;
         UPDATE side SET parent_id = (SELECT b.parent_id FROM bk_side b WHERE b.id = side.id)
           WHERE id IN (SELECT id FROM bk_side);
         COMMIT;";
    let clear = "DELETE FROM bk_parent; DELETE FROM bk_child; DELETE FROM bk_grandchild; DELETE FROM bk_side;";

    if opts.wants("sqlite") {
        let journal = env.dir.join(format!("journal-sqlite-{size}.sqlite"));
        remove_journal(&journal);
        let mut cy = Cycle::default();
        for i in 0..opts.warmup + runs {
            let keep = i >= opts.warmup;
            let (t, ()) = timed(|| Ok(db.execute_batch(&backup_and_delete)?))?;
            let (u, ()) = timed(|| Ok(db.execute_batch(restore)?))?;
            db.execute_batch(clear)?;
            check_state("after the baseline restore", &sqlite_state(&db)?, &initial)?;
            let (bare, ()) = timed(|| {
                db.execute_batch("BEGIN IMMEDIATE")?;
                db.execute(&delete, [])?;
                Ok(())
            })?;
            db.execute_batch("ROLLBACK")?;
            let a = dbguard(&env.policy, &journal, &exec_args(&target, &delete))?;
            let id = change_id(&a.stdout)?.to_string();
            let un = dbguard(&env.policy, &journal, &undo_args(&id))?;
            check_state("after dbguard's undo", &sqlite_state(&db)?, &initial)?;
            if keep {
                cy.base_apply.push(t);
                cy.base_undo.push(u);
                cy.bare.push(bare);
                cy.apply.push(a.ms);
                cy.undo.push(un.ms);
                cy.apply_rss = cy.apply_rss.max(a.rss_kb);
                cy.undo_rss = cy.undo_rss.max(un.rss_kb);
            }
        }
        remove_journal(&journal);
        cy.report(
            report,
            "sqlite",
            &c,
            runs,
            "INSERT bk SELECT + DELETE",
            "INSERT SELECT bk",
        );

        // One-row fix on SQLite too: cheap, and shows the fixed cost.
        one_row_fix(opts, env, report, "sqlite", size, &target, &mut |stmt| {
            Ok(db.execute(stmt, [])? as u64)
        })?;
    }
    drop(db);
    remove_journal(&path);
    Ok(())
}
