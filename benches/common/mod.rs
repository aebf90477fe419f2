//! Shared pieces of the benchmark suite: targets, the synthetic cascade,
//! timing, running the `dbguard` binary, the journal's sizes, and the
//! report (table and JSON).

use std::error::Error;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

pub type Res<T> = Result<T, Box<dyn Error>>;

/// The Postgres server the suite uses: `DBGUARD_TEST_PG` or the local default.
pub fn admin_url() -> String {
    std::env::var("DBGUARD_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// `url` with its database replaced by `db`.
pub fn with_db(url: &str, db: &str) -> String {
    match url.rfind('/') {
        Some(i) if i > "postgres://".len() => format!("{}/{db}", &url[..i]),
        _ => format!("{url}/{db}"),
    }
}

/// A Postgres database created for the suite and dropped however it ends.
pub struct TempPg {
    admin: String,
    pub name: String,
    /// The database's URL, without TLS (see [`TempPg::create`]).
    pub url: String,
}

impl TempPg {
    pub fn create(label: &str) -> Res<TempPg> {
        let admin = admin_url();
        let mut client = postgres::Client::connect(&admin, postgres::NoTls)
            .map_err(|e| format!("cannot reach PostgreSQL at {admin}: {e}"))?;
        let name = format!("dbguard_bench_{label}_{}", std::process::id());
        client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
        client.batch_execute(&format!("CREATE DATABASE {name}"))?;
        let mut url = with_db(&admin, &name);
        // One transport for both sides: the baseline client has no TLS, so
        // dbguard must not negotiate it either (with the server's `ssl = on`
        // it would, and encrypt every COPY byte the baseline sends plain).
        if !url.contains("sslmode=") {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str("sslmode=disable");
        }
        Ok(TempPg { admin, name, url })
    }
}

impl Drop for TempPg {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Median of the samples (mean of the middle two for an even count).
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Times one call, in ms.
pub fn timed<T>(f: impl FnOnce() -> Res<T>) -> Res<(f64, T)> {
    let t = Instant::now();
    let v = f()?;
    Ok((ms(t.elapsed()), v))
}

/// One run of the `dbguard` binary.
pub struct BinRun {
    pub ms: f64,
    pub rss_kb: u64,
    pub stdout: String,
}

/// How the suite runs the `dbguard` binary: its policy and its state
/// directory (`XDG_STATE_HOME`, where the local audit witness goes). The
/// journal itself lives in each target (`dbguard init`).
pub struct Bin {
    pub policy: std::path::PathBuf,
    pub state: std::path::PathBuf,
}

impl Bin {
    /// Writes the permissive policy under `dir` and makes the state
    /// directory.
    pub fn new(dir: &Path) -> Res<Bin> {
        let bin = Bin {
            policy: dir.join("policy"),
            state: dir.join("state"),
        };
        permissive_policy(&bin.policy)?;
        std::fs::create_dir_all(&bin.state)?;
        Ok(bin)
    }

    /// Runs the real `dbguard` binary with the permissive policy, peak-RSS
    /// reporting on, and no `DATABASE_URL` (every call names its target).
    pub fn run(&self, args: &[&str]) -> Res<BinRun> {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dbguard"));
        cmd.args(args)
            .env("DBGUARD_POLICY", &self.policy)
            .env("XDG_STATE_HOME", &self.state)
            .env("DBGUARD_REPORT_RSS", "1")
            .env("USER", "bench")
            .env("NO_COLOR", "1")
            .env_remove("DBGUARD_AUDIT_LOG")
            .env_remove("DBGUARD_ECHO_SQL")
            .env_remove("DATABASE_URL");
        let start = Instant::now();
        let out = cmd.output()?;
        let took = ms(start.elapsed());
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            return Err(
                format!("dbguard {args:?} failed ({}): {stderr}{stdout}", out.status).into(),
            );
        }
        let rss_kb = stderr
            .lines()
            .find_map(|l| l.strip_prefix("peak_rss_kb="))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        Ok(BinRun {
            ms: took,
            rss_kb,
            stdout,
        })
    }

    /// `dbguard init TARGET`: the journal, once per database (not timed).
    pub fn init(&self, target: &str) -> Res<()> {
        self.run(&["init", target])?;
        Ok(())
    }

    /// `dbguard undo prune TARGET --keep 0` (not timed): drops the
    /// snapshots of every change so far, so that each cycle starts from
    /// the same journal (entries and audit trail stay, as in use).
    pub fn prune(&self, target: &str) -> Res<()> {
        self.run(&["undo", "prune", target, "--keep", "0"])?;
        Ok(())
    }
}

/// Runs `psql -X -q -c STMT` against `url` (psql from `PATH`, or `PSQL`),
/// a whole process as the `dbguard` binary is, and returns its wall time
/// in ms.
pub fn psql(url: &str, stmt: &str) -> Res<f64> {
    psql_script(url, &[stmt])
}

/// Runs `psql -X -q` with one `-c` per statement, in one session (a
/// trial run: `BEGIN`, the statement, `ROLLBACK`), a whole process, and
/// returns its wall time in ms.
pub fn psql_script(url: &str, stmts: &[&str]) -> Res<f64> {
    let psql = std::env::var("PSQL").unwrap_or_else(|_| "psql".to_owned());
    let mut cmd = Command::new(&psql);
    cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url]);
    for s in stmts {
        cmd.args(["-c", s]);
    }
    let start = Instant::now();
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {psql} (set PSQL to its path): {e}"))?;
    let took = ms(start.elapsed());
    if !out.status.success() {
        return Err(format!(
            "psql {stmts:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(took)
}

/// Writes the permissive policy directory (`default = "confirm"`: with
/// `--yes` every change applies, as in the integration tests).
pub fn permissive_policy(dir: &Path) -> Res<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("permissive.toml"),
        "version = 1\ndefault = \"confirm\"\n",
    )?;
    Ok(())
}

/// The change id an `exec --format json` apply reported.
pub fn change_id(stdout: &str) -> Res<i64> {
    for line in stdout.lines() {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(line)
            && let Some(id) = v.get("change_id").and_then(|v| v.as_i64())
        {
            return Ok(id);
        }
    }
    Err(format!("no change_id in dbguard output: {stdout}").into())
}

/// The synthetic data for one size: `k` parents are deleted; each parent
/// has 10 children, each child 10 grandchildren (ON DELETE CASCADE), one
/// `side` row (ON DELETE SET NULL) and one `mention` row (an undeclared
/// association: `mention.parent_id` without a foreign key). The tables hold
/// twice the deleted rows (at least 1,000 parents), plus `LONELY` parents
/// without children for the one-row fix.
#[derive(Debug, Clone, Copy)]
pub struct Cascade {
    pub size: u64,
    pub k: u64,
    pub parents: u64,
}

/// Parents with no children, for the one-row fix: ids `LONELY_BASE + 1 ..`.
pub const LONELY: u64 = 1000;
pub const LONELY_BASE: u64 = 1_000_000_000;

impl Cascade {
    pub fn new(size: u64) -> Cascade {
        // Each deleted parent deletes 111 rows and sets one side row to NULL.
        let k = ((size + 56) / 112).max(1);
        Cascade {
            size,
            k,
            parents: (k * 2).max(1000),
        }
    }

    /// Rows deleted (parent, child, grandchild) and updated (side).
    pub fn affected(&self) -> u64 {
        self.k * 112
    }

    /// Rows in all tables, before any change.
    pub fn total_rows(&self) -> u64 {
        self.parents * 113 + LONELY
    }

    pub fn pred(&self) -> String {
        format!("id <= {}", self.k)
    }

    pub fn delete(&self) -> String {
        format!("DELETE FROM parent WHERE {}", self.pred())
    }

    /// The affected rows of every table, as SELECTs (parent, child,
    /// grandchild, side), the way a DBA writes them by hand.
    pub fn selects(&self) -> [(&'static str, String); 4] {
        let sub_p = format!("SELECT id FROM parent WHERE {}", self.pred());
        let sub_c = format!("SELECT id FROM child WHERE parent_id IN ({sub_p})");
        [
            (
                "parent",
                format!("SELECT * FROM parent WHERE {}", self.pred()),
            ),
            (
                "child",
                format!("SELECT * FROM child WHERE parent_id IN ({sub_p})"),
            ),
            (
                "grandchild",
                format!("SELECT * FROM grandchild WHERE child_id IN ({sub_c})"),
            ),
            (
                "side",
                format!("SELECT * FROM side WHERE parent_id IN ({sub_p})"),
            ),
        ]
    }

    /// Hand-written `count(*)` for each edge the delete reaches.
    pub fn counts(&self) -> Vec<String> {
        let sub_p = format!("SELECT id FROM parent WHERE {}", self.pred());
        let sub_c = format!("SELECT id FROM child WHERE parent_id IN ({sub_p})");
        vec![
            format!("SELECT count(*) FROM parent WHERE {}", self.pred()),
            format!("SELECT count(*) FROM child WHERE parent_id IN ({sub_p})"),
            format!("SELECT count(*) FROM grandchild WHERE child_id IN ({sub_c})"),
            format!("SELECT count(*) FROM side WHERE parent_id IN ({sub_p})"),
            format!("SELECT count(*) FROM mention WHERE parent_id IN ({sub_p})"),
        ]
    }

    pub fn pg_load(&self, db: &mut postgres::Client) -> Res<()> {
        let p = self.parents;
        db.batch_execute(&format!(
            "DROP TABLE IF EXISTS side, grandchild, child, parent, mention CASCADE;
             CREATE TABLE parent (id bigint PRIMARY KEY, name text NOT NULL, created timestamptz NOT NULL DEFAULT now(), meta jsonb, amount numeric(12,2));
             CREATE TABLE child (id bigint PRIMARY KEY, parent_id bigint NOT NULL REFERENCES parent ON DELETE CASCADE, label text, created timestamptz NOT NULL DEFAULT now(), meta jsonb);
             CREATE TABLE grandchild (id bigint PRIMARY KEY, child_id bigint NOT NULL REFERENCES child ON DELETE CASCADE, payload text, created timestamptz NOT NULL DEFAULT now(), amount numeric(12,2));
             CREATE TABLE side (id bigint PRIMARY KEY, parent_id bigint REFERENCES parent ON DELETE SET NULL, note text);
             CREATE TABLE mention (id bigint PRIMARY KEY, parent_id bigint, note text);
             INSERT INTO parent SELECT i, 'parent ' || i, now() - i * interval '1 minute', jsonb_build_object('i', i, 'tags', jsonb_build_array('a', 'b')), i * 1.5 FROM generate_series(1, {p}) i;
             INSERT INTO parent SELECT i, 'lonely ' || i, now(), NULL, NULL FROM generate_series({lb} + 1, {lb} + {LONELY}) i;
             INSERT INTO child SELECT i, (i - 1) / 10 + 1, 'child ' || i, now() - i * interval '1 second', jsonb_build_object('i', i) FROM generate_series(1, {p} * 10) i;
             INSERT INTO grandchild SELECT i, (i - 1) / 10 + 1, 'payload ' || md5(i::text), now(), i / 7.0 FROM generate_series(1, {p} * 100) i;
             INSERT INTO side SELECT i, i, 'side ' || i FROM generate_series(1, {p}) i;
             INSERT INTO mention SELECT i, i, 'mention ' || i FROM generate_series(1, {p}) i;
             CREATE INDEX ON child (parent_id); CREATE INDEX ON grandchild (child_id);
             CREATE INDEX ON side (parent_id); CREATE INDEX ON mention (parent_id);",
            lb = LONELY_BASE,
        ))?;
        pg_settle(db)?;
        Ok(())
    }

    pub fn sqlite_load(&self, db: &rusqlite::Connection) -> Res<()> {
        let p = self.parents;
        db.execute_batch(&format!(
            "PRAGMA foreign_keys = OFF;
             BEGIN;
             CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT NOT NULL, created TEXT NOT NULL, meta TEXT, amount NUMERIC);
             CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent (id) ON DELETE CASCADE, label TEXT, created TEXT NOT NULL, meta TEXT);
             CREATE TABLE grandchild (id INTEGER PRIMARY KEY, child_id INTEGER NOT NULL REFERENCES child (id) ON DELETE CASCADE, payload TEXT, created TEXT NOT NULL, amount NUMERIC);
             CREATE TABLE side (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id) ON DELETE SET NULL, note TEXT);
             CREATE TABLE mention (id INTEGER PRIMARY KEY, parent_id INTEGER, note TEXT);
             WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {p})
               INSERT INTO parent SELECT i, 'parent ' || i, datetime('now', '-' || i || ' minutes'), json_object('i', i, 'tags', json_array('a', 'b')), i * 1.5 FROM s;
             WITH RECURSIVE s(i) AS (SELECT {lb} + 1 UNION ALL SELECT i + 1 FROM s WHERE i < {lb} + {LONELY})
               INSERT INTO parent SELECT i, 'lonely ' || i, datetime('now'), NULL, NULL FROM s;
             WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {p} * 10)
               INSERT INTO child SELECT i, (i - 1) / 10 + 1, 'child ' || i, datetime('now', '-' || i || ' seconds'), json_object('i', i) FROM s;
             WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {p} * 100)
               INSERT INTO grandchild SELECT i, (i - 1) / 10 + 1, 'payload ' || hex(randomblob(16)), datetime('now'), i / 7.0 FROM s;
             WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {p})
               INSERT INTO side SELECT i, i, 'side ' || i FROM s;
             WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {p})
               INSERT INTO mention SELECT i, i, 'mention ' || i FROM s;
             CREATE INDEX child_parent_id ON child (parent_id);
             CREATE INDEX grandchild_child_id ON grandchild (child_id);
             CREATE INDEX side_parent_id ON side (parent_id);
             CREATE INDEX mention_parent_id ON mention (parent_id);
             CREATE TABLE bk_parent AS SELECT * FROM parent WHERE 0;
             CREATE TABLE bk_child AS SELECT * FROM child WHERE 0;
             CREATE TABLE bk_grandchild AS SELECT * FROM grandchild WHERE 0;
             CREATE TABLE bk_side AS SELECT * FROM side WHERE 0;
             COMMIT;
             ANALYZE;
             PRAGMA foreign_keys = ON;",
            lb = LONELY_BASE,
        ))?;
        Ok(())
    }
}

/// Row counts that must be the same before and after every apply + undo.
pub const STATE_QUERY: &str = "SELECT (SELECT count(*) FROM parent), (SELECT count(*) FROM child), \
     (SELECT count(*) FROM grandchild), (SELECT count(*) FROM side), \
     (SELECT count(*) FROM side WHERE parent_id IS NULL), (SELECT count(*) FROM mention)";

pub fn pg_state(db: &mut postgres::Client) -> Res<Vec<i64>> {
    let row = db.query_one(STATE_QUERY, &[])?;
    (0..6).map(|i| Ok(row.try_get(i)?)).collect()
}

pub fn sqlite_state(db: &rusqlite::Connection) -> Res<Vec<i64>> {
    Ok(db.query_row(STATE_QUERY, [], |r| {
        (0..6).map(|i| r.get(i)).collect::<Result<Vec<i64>, _>>()
    })?)
}

/// Vacuums, analyzes and checkpoints the cascade tables, so that every timed operation
/// starts from the same physical state (no dead rows from the last run).
pub fn pg_settle(db: &mut postgres::Client) -> Res<()> {
    db.batch_execute("VACUUM (ANALYZE) parent, child, grandchild, side, mention")?;
    // Flush dirty buffers now rather than in a checkpoint during the next
    // timed step (needs superuser or pg_checkpoint; skipped without).
    let _ = db.batch_execute("CHECKPOINT");
    Ok(())
}

/// The tables a cascade delete captures, in the order of [`STATE_QUERY`]'s
/// first four counts.
pub const CAPTURED: [&str; 4] = ["parent", "child", "grandchild", "side"];

/// Bytes per row of each of [`CAPTURED`] in its own table, as it stands:
/// Postgres `pg_total_relation_size` (heap, TOAST, free space and
/// visibility maps, every index) divided by the table's row count.
pub fn pg_row_bytes(db: &mut postgres::Client, counts: &[i64]) -> Res<Vec<(String, f64)>> {
    let mut out = Vec::new();
    for (t, n) in CAPTURED.iter().zip(counts) {
        let bytes: i64 = db
            .query_one(
                "SELECT pg_catalog.pg_total_relation_size($1::text::regclass)",
                &[t],
            )?
            .try_get(0)?;
        out.push(((*t).to_owned(), bytes as f64 / (*n).max(1) as f64));
    }
    Ok(out)
}

/// Bytes per row of each of [`CAPTURED`] in its own table, as it stands:
/// SQLite's `dbstat` pages of the table's b-tree and of its indexes
/// (`sqlite_schema.tbl_name`) divided by the table's row count.
pub fn sqlite_row_bytes(db: &rusqlite::Connection, counts: &[i64]) -> Res<Vec<(String, f64)>> {
    let mut out = Vec::new();
    for (t, n) in CAPTURED.iter().zip(counts) {
        let bytes: i64 = db.query_row(
            "SELECT coalesce(sum(d.pgsize), 0) FROM dbstat AS d \
             JOIN sqlite_schema AS s ON s.name = d.name WHERE s.tbl_name = ?1",
            [t],
            |r| r.get(0),
        )?;
        out.push(((*t).to_owned(), bytes as f64 / (*n).max(1) as f64));
    }
    Ok(out)
}

/// A change's entry in the journal: its `changes` row (`row_count`,
/// `bytes`) and the rows it captured per table (`change_tables`:
/// deleted + updated + inserted, by bare table name).
#[derive(Debug, Clone)]
pub struct JournalEntry {
    pub row_count: i64,
    pub bytes: i64,
    pub tables: Vec<(String, i64)>,
}

impl JournalEntry {
    /// The journal's bytes per captured row.
    pub fn bytes_per_row(&self) -> f64 {
        self.bytes as f64 / self.row_count.max(1) as f64
    }

    /// What the same rows take in their own tables, per row: each table's
    /// bytes per row (`per_row`) weighted by the rows captured from it.
    pub fn table_bytes_per_row(&self, per_row: &[(String, f64)]) -> Res<f64> {
        let mut sum = 0.0;
        let mut n = 0i64;
        for (t, rows) in &self.tables {
            let b = per_row
                .iter()
                .find(|(name, _)| name == t)
                .map(|(_, b)| *b)
                .ok_or_else(|| {
                    format!("change captured rows of {t}, which the suite did not size")
                })?;
            sum += b * *rows as f64;
            n += rows;
        }
        if n != self.row_count {
            return Err(format!(
                "change_tables count {n} rows, changes.row_count {}",
                self.row_count
            )
            .into());
        }
        Ok(sum / n.max(1) as f64)
    }
}

pub fn pg_journal_entry(db: &mut postgres::Client, id: i64) -> Res<JournalEntry> {
    let r = db.query_one(
        "SELECT row_count, bytes FROM dbguard.changes WHERE id = $1",
        &[&id],
    )?;
    let tables = db
        .query(
            "SELECT table_name, deleted + updated + inserted FROM dbguard.change_tables \
             WHERE change_id = $1 ORDER BY slot",
            &[&id],
        )?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Res<Vec<(String, i64)>>>()?;
    Ok(JournalEntry {
        row_count: r.try_get(0)?,
        bytes: r.try_get(1)?,
        tables,
    })
}

pub fn sqlite_journal_entry(db: &rusqlite::Connection, id: i64) -> Res<JournalEntry> {
    let (row_count, bytes) = db.query_row(
        "SELECT row_count, bytes FROM dbguard_changes WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let mut stmt = db.prepare(
        "SELECT table_name, deleted + updated + inserted FROM dbguard_change_tables \
         WHERE change_id = ?1 ORDER BY slot",
    )?;
    let tables = stmt
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<(String, i64)>, _>>()?;
    Ok(JournalEntry {
        row_count,
        bytes,
        tables,
    })
}

/// Rows of the table the `one-row-3m` measures write one row of.
pub const BIG_ROWS: u64 = 3_000_000;

/// `big`: [`BIG_ROWS`] rows of realistic width (text, numeric, jsonb,
/// timestamptz), a primary key, and a foreign key to `account` (indexed);
/// ids above `BIG_ROWS` are free for the one-row inserts.
pub fn pg_load_big(db: &mut postgres::Client) -> Res<()> {
    db.batch_execute(&format!(
        "DROP TABLE IF EXISTS big, account CASCADE;
         CREATE TABLE account (id bigint PRIMARY KEY, name text NOT NULL);
         CREATE TABLE big (id bigint PRIMARY KEY, account_id bigint NOT NULL, status text NOT NULL, amount numeric(12,2) NOT NULL, note text, meta jsonb, created timestamptz NOT NULL DEFAULT now());
         INSERT INTO account SELECT i, 'account ' || i FROM generate_series(1, 1000) i;
         INSERT INTO big SELECT i, i % 1000 + 1, 'open', i / 100.0, 'row ' || md5(i::text), jsonb_build_object('i', i), now() - i * interval '1 second' FROM generate_series(1, {BIG_ROWS}) i;
         ALTER TABLE big ADD FOREIGN KEY (account_id) REFERENCES account;
         CREATE INDEX ON big (account_id);"
    ))?;
    db.batch_execute("VACUUM (ANALYZE) big, account")?;
    let _ = db.batch_execute("CHECKPOINT");
    Ok(())
}

/// What the two figures of an entry are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Wall time, ms (medians).
    Ms,
    /// Bytes per captured row (medians).
    BytesPerRow,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Unit::Ms => "ms",
            Unit::BytesPerRow => "B/row",
        }
    }

    fn fmt(self, v: f64) -> String {
        match self {
            Unit::Ms => fmt_ms(v),
            Unit::BytesPerRow if v.is_finite() => format!("{v:.1} B/row"),
            Unit::BytesPerRow => "-".to_owned(),
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Entry {
    pub measure: String,
    pub engine: &'static str,
    pub size: Option<u64>,
    pub rows: Option<u64>,
    pub runs: usize,
    /// dbguard's median, in `unit`.
    pub dbguard_ms: f64,
    pub baseline: String,
    /// The baseline's median, in `unit`.
    pub baseline_ms: f64,
    pub target: Option<f64>,
    /// For one-row fix and startup: the absolute bound in ms, if any.
    pub limit_ms: Option<f64>,
    pub unit: Unit,
}

impl Entry {
    pub fn ratio(&self) -> f64 {
        self.dbguard_ms / self.baseline_ms.max(1e-9)
    }

    pub fn verdict(&self) -> &'static str {
        let ratio_ok = self.target.map(|t| self.ratio() <= t);
        let limit_ok = self.limit_ms.map(|l| self.dbguard_ms <= l);
        match (ratio_ok, limit_ok) {
            (None, None) => "",
            (Some(false), _) | (_, Some(false)) => "MISS",
            _ => "ok",
        }
    }

    /// The target as the table prints it.
    pub fn target_text(&self) -> String {
        match (self.target, self.limit_ms) {
            (Some(t), Some(l)) => format!("≤ {t}, ≤ {l:.0} ms"),
            (Some(t), None) => format!("≤ {t}"),
            (None, Some(l)) => format!("≤ {l:.0} ms"),
            _ => "report".to_owned(),
        }
    }

    pub fn dbguard_text(&self) -> String {
        self.unit.fmt(self.dbguard_ms)
    }

    pub fn baseline_text(&self) -> String {
        self.unit.fmt(self.baseline_ms)
    }
}

/// The bound on the binary's peak RSS, at every size (issue 14).
pub const RSS_LIMIT_MIB: f64 = 32.0;

/// Peak RSS of the binary for one size (max over the timed runs).
#[derive(Debug, Clone)]
pub struct Memory {
    pub engine: &'static str,
    pub size: u64,
    pub apply_kb: u64,
    pub undo_kb: u64,
}

impl Memory {
    /// Both peaks within [`RSS_LIMIT_MIB`] (and measured at all).
    pub fn within_limit(&self) -> bool {
        let ok = |kb: u64| kb > 0 && mib(kb) <= RSS_LIMIT_MIB;
        ok(self.apply_kb) && ok(self.undo_kb)
    }
}

#[derive(Default)]
pub struct Report {
    pub entries: Vec<Entry>,
    pub memory: Vec<Memory>,
    pub notes: Vec<String>,
}

fn fmt_ms(v: f64) -> String {
    if !v.is_finite() {
        "-".to_owned()
    } else if v < 10.0 {
        format!("{v:.2} ms")
    } else if v < 1000.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.0} ms")
    }
}

fn fmt_count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn mib(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

impl Report {
    /// The results as a Markdown table (pasteable into the README).
    pub fn table(&self) -> String {
        let mut s = String::new();
        let header = [
            "measure", "engine", "size", "rows", "runs", "dbguard", "baseline", "baseline",
            "ratio", "target", "met",
        ];
        let mut rows: Vec<Vec<String>> = Vec::new();
        for e in &self.entries {
            rows.push(vec![
                e.measure.clone(),
                e.engine.to_owned(),
                e.size.map(fmt_count).unwrap_or_else(|| "-".into()),
                e.rows.map(fmt_count).unwrap_or_else(|| "-".into()),
                e.runs.to_string(),
                e.dbguard_text(),
                e.baseline.clone(),
                e.baseline_text(),
                format!("{:.2}", e.ratio()),
                e.target_text(),
                e.verdict().to_owned(),
            ]);
        }
        let widths: Vec<usize> = (0..header.len())
            .map(|i| {
                rows.iter()
                    .map(|r| r[i].chars().count())
                    .chain([header[i].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let numeric = [
            false, false, true, true, true, true, false, true, true, false, false,
        ];
        let line = |cells: Vec<String>| {
            let mut l = String::from("|");
            for (i, c) in cells.iter().enumerate() {
                let pad = widths[i] - c.chars().count();
                if numeric[i] {
                    l.push_str(&format!(" {}{c} |", " ".repeat(pad)));
                } else {
                    l.push_str(&format!(" {c}{} |", " ".repeat(pad)));
                }
            }
            l
        };
        let _ = writeln!(
            s,
            "{}",
            line(header.iter().map(|h| (*h).to_owned()).collect())
        );
        let sep: Vec<String> = (0..header.len())
            .map(|i| {
                let dashes = "-".repeat(widths[i].max(3));
                if numeric[i] {
                    format!("{}:", &dashes[1..])
                } else {
                    dashes
                }
            })
            .collect();
        let _ = writeln!(
            s,
            "|{}",
            sep.iter().map(|d| format!(" {d} |")).collect::<String>()
        );
        for r in rows {
            let _ = writeln!(s, "{}", line(r));
        }
        s
    }

    /// Peak memory lines, and the flatness verdict per engine.
    pub fn memory_table(&self) -> String {
        let mut s = String::new();
        if self.memory.is_empty() {
            return s;
        }
        let _ = writeln!(
            s,
            "| engine | size | apply peak RSS | undo peak RSS | target | met |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---|---|");
        for m in &self.memory {
            let _ = writeln!(
                s,
                "| {} | {} | {:.1} MiB | {:.1} MiB | ≤ {RSS_LIMIT_MIB:.0} MiB | {} |",
                m.engine,
                fmt_count(m.size),
                mib(m.apply_kb),
                mib(m.undo_kb),
                if m.within_limit() { "ok" } else { "MISS" }
            );
        }
        s.push('\n');
        for engine in ["postgres", "sqlite"] {
            let small = self
                .memory
                .iter()
                .filter(|m| m.engine == engine)
                .min_by_key(|m| m.size);
            let big = self
                .memory
                .iter()
                .filter(|m| m.engine == engine)
                .max_by_key(|m| m.size);
            if let (Some(a), Some(b)) = (small, big)
                && b.size > a.size
            {
                for (what, x, y) in [
                    ("apply", a.apply_kb, b.apply_kb),
                    ("undo", a.undo_kb, b.undo_kb),
                ] {
                    let r = y as f64 / (x as f64).max(1.0);
                    let flat = r <= 1.5 && mib(y) < 64.0;
                    let _ = writeln!(
                        s,
                        "{engine} {what}: {:.1} MiB at {} rows vs {:.1} MiB at {}: {r:.2}x (target ≤ 1.5x and < 64 MiB: {})",
                        mib(y),
                        fmt_count(b.size),
                        mib(x),
                        fmt_count(a.size),
                        if flat { "ok" } else { "MISS" }
                    );
                }
            }
        }
        s
    }

    pub fn json(&self, meta: serde_json::Value) -> serde_json::Value {
        let results: Vec<serde_json::Value> = self
            .entries
            .iter()
            .map(|e| {
                serde_json::json!({
                    "measure": e.measure,
                    "engine": e.engine,
                    "size": e.size,
                    "rows": e.rows,
                    "runs": e.runs,
                    "dbguard_median_ms": e.dbguard_ms,
                    "baseline": e.baseline,
                    "baseline_median_ms": e.baseline_ms,
                    "ratio": e.ratio(),
                    "target_ratio": e.target,
                    "limit_ms": e.limit_ms,
                    "unit": e.unit.name(),
                    "met": match e.verdict() { "ok" => Some(true), "MISS" => Some(false), _ => None },
                })
            })
            .collect();
        let memory: Vec<serde_json::Value> = self
            .memory
            .iter()
            .map(|m| {
                serde_json::json!({
                    "engine": m.engine,
                    "size": m.size,
                    "apply_peak_rss_kb": m.apply_kb,
                    "undo_peak_rss_kb": m.undo_kb,
                    "limit_mib": RSS_LIMIT_MIB,
                    "met": m.within_limit(),
                })
            })
            .collect();
        serde_json::json!({
            "meta": meta,
            "results": results,
            "memory": memory,
            "notes": self.notes,
        })
    }
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_now() -> String {
    format!("{:.0}", jiff::Timestamp::now())
}

/// Total RAM from /proc/meminfo, in KiB (0 if unknown).
pub fn mem_total_kb() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The checkout's commit, if git is there.
pub fn git_commit() -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
