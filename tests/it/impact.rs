//! Impact previews against an oracle (issue 3, acceptance 1).
//!
//! Every scenario runs each statement twice: once through
//! `dbguard exec --dry-run --format json`, and once for real inside a
//! transaction the test rolls back (the oracle). The preview's net totals
//! per table, its target row count and its `will_fail` must agree with what
//! the database actually did. The same scenarios run on Postgres and SQLite
//! where the behaviour exists on both.
//!
//! This file holds the harness: the oracle, the preview runners and the
//! comparison. The scenarios live beside it by kind of statement
//! (`impact_delete.rs`, `impact_associations.rs`, `impact_writes.rs`,
//! `impact_pg.rs`); their fixtures are re-exported here because the
//! snapshots and the guard tests name them through this module.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use crate::helpers::{PgDb, SqliteDb, run, stderr, stdout};
pub use crate::impact_associations::{INFERRED, declared_policy};
pub use crate::impact_delete::{
    BLOCKERS, CHAIN3, COMPOSITE, DIAMOND, SET_NULL, SET_NULL_COLS, TREE, TWO_FKS, cycle_pg_sql,
    cycle_sqlite_sql, trigger_pg_sql, trigger_sqlite_sql,
};

/// A database under test.
#[derive(Clone, Copy)]
pub enum Db<'a> {
    Pg(&'a PgDb),
    Lite(&'a SqliteDb),
}

impl Db<'_> {
    pub fn target(&self) -> String {
        match self {
            Db::Pg(d) => d.url.clone(),
            Db::Lite(d) => d.target(),
        }
    }

    pub fn engine(&self) -> &'static str {
        match self {
            Db::Pg(_) => "pg",
            Db::Lite(_) => "sqlite",
        }
    }

    /// A table name as the preview spells it: `public.t` on Postgres.
    pub fn table(&self, name: &str) -> String {
        match self {
            Db::Pg(_) if !name.contains('.') => format!("public.{name}"),
            _ => name.to_owned(),
        }
    }

    /// One integer from a read-only query.
    pub fn count(&self, sql: &str) -> u64 {
        match self {
            Db::Pg(d) => {
                let row = d.client().query_one(sql, &[]).expect(sql);
                let n: i64 = row.get(0);
                n as u64
            }
            Db::Lite(d) => {
                let n: i64 = d.conn().query_row(sql, [], |r| r.get(0)).expect(sql);
                n as u64
            }
        }
    }

    pub fn oracle(&self, sql: &str) -> Oracle {
        match self {
            Db::Pg(d) => pg_oracle(d, sql),
            Db::Lite(d) => sqlite_oracle(d, sql),
        }
    }
}

// ---------------------------------------------------------------- oracle

/// Net changed rows of one table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub delete: u64,
    pub update: u64,
    pub insert: u64,
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "delete {} update {} insert {}",
            self.delete, self.update, self.insert
        )
    }
}

/// What really happened when the statement ran (then rolled back).
#[derive(Debug, Clone, Default)]
pub struct Oracle {
    /// The error that made the statement (or the commit-time check) fail.
    pub fail: Option<String>,
    /// Rows the statement itself reported (the command tag).
    pub affected: u64,
    /// Net changes per table, only tables with changes.
    pub totals: BTreeMap<String, Counts>,
}

type Snapshot = BTreeMap<String, BTreeMap<String, String>>;

fn diff(before: &Snapshot, after: &Snapshot) -> BTreeMap<String, Counts> {
    let mut out = BTreeMap::new();
    let names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let empty = BTreeMap::new();
    for name in names {
        let b = before.get(name).unwrap_or(&empty);
        let a = after.get(name).unwrap_or(&empty);
        let mut c = Counts::default();
        for (k, v) in b {
            match a.get(k) {
                None => c.delete += 1,
                Some(w) if w != v => c.update += 1,
                Some(_) => {}
            }
        }
        c.insert = a.keys().filter(|k| !b.contains_key(*k)).count() as u64;
        if c != Counts::default() {
            out.insert(name.clone(), c);
        }
    }
    out
}

const PG_TABLES: &str = "
SELECT n.nspname || '.' || c.relname,
       CASE WHEN c.relkind = 'r' THEN 'ONLY ' ELSE '' END || format('%I.%I', n.nspname, c.relname),
       (SELECT string_agg(format('%I', a.attname), ',' ORDER BY array_position(i.indkey::int2[], a.attnum))
          FROM pg_index i
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
         WHERE i.indrelid = c.oid AND i.indisprimary)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg_toast%'
 ORDER BY 1";

fn pg_snapshot(tx: &mut postgres::Transaction<'_>) -> Snapshot {
    let tables = tx.query(PG_TABLES, &[]).expect("list tables");
    let mut snap = Snapshot::new();
    for t in tables {
        let name: String = t.get(0);
        let from: String = t.get(1);
        let pk: Option<String> = t.get(2);
        let pk = pk.unwrap_or_else(|| panic!("fixture table {name} has no primary key"));
        let rows = tx
            .query(
                &format!("SELECT row({pk})::text, t::text FROM {from} AS t"),
                &[],
            )
            .expect("snapshot table");
        let map = rows
            .iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
            .collect();
        snap.insert(name, map);
    }
    snap
}

/// Runs `sql` on Postgres inside a transaction that is rolled back.
pub fn pg_oracle(db: &PgDb, sql: &str) -> Oracle {
    let mut client = db.client();
    let mut tx = client.transaction().expect("BEGIN");
    let before = pg_snapshot(&mut tx);
    let mut out = Oracle::default();
    match tx.execute(sql, &[]) {
        Err(e) => {
            out.fail = Some(format!("{e}: {:?}", e.as_db_error().map(|d| d.message())));
            return out;
        }
        Ok(n) => out.affected = n,
    }
    if let Err(e) = tx.batch_execute("SET CONSTRAINTS ALL IMMEDIATE") {
        out.fail = Some(format!(
            "at commit: {e}: {:?}",
            e.as_db_error().map(|d| d.message())
        ));
        return out;
    }
    let after = pg_snapshot(&mut tx);
    tx.rollback().expect("ROLLBACK");
    out.totals = diff(&before, &after);
    out
}

fn sqlite_snapshot(conn: &rusqlite::Connection) -> Snapshot {
    let mut names = Vec::new();
    {
        let mut st = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
            )
            .expect("list tables");
        let rows = st.query_map([], |r| r.get::<_, String>(0)).expect("list");
        for r in rows {
            names.push(r.expect("name"));
        }
    }
    let mut snap = Snapshot::new();
    for name in names {
        let mut cols = Vec::new();
        {
            let mut st = conn
                .prepare(&format!("PRAGMA table_info(\"{name}\")"))
                .expect("table_info");
            let rows = st.query_map([], |r| r.get::<_, String>(1)).expect("cols");
            for r in rows {
                cols.push(format!("quote(\"{}\")", r.expect("col")));
            }
        }
        // A WITHOUT ROWID table has no rowid: a fixture gives it a `rid`
        // no statement writes.
        let ident = if cols.iter().any(|c| c == "quote(\"rid\")") {
            "rid"
        } else {
            "rowid"
        };
        let expr = cols.join("||','||");
        let mut st = conn
            .prepare(&format!("SELECT {ident}, {expr} FROM \"{name}\""))
            .expect("snapshot");
        let rows = st
            .query_map([], |r| {
                Ok((r.get::<_, i64>(0)?.to_string(), r.get::<_, String>(1)?))
            })
            .expect("snapshot rows");
        let map = rows.map(|r| r.expect("row")).collect();
        snap.insert(name, map);
    }
    snap
}

/// Runs `sql` on SQLite (foreign keys on) inside a transaction that is
/// rolled back. Deferred foreign keys are checked with
/// `PRAGMA foreign_key_check`, as COMMIT would.
pub fn sqlite_oracle(db: &SqliteDb, sql: &str) -> Oracle {
    let mut out = Oracle::default();
    // SQLite's change count leaves out target rows a cascade of the same
    // statement removed first (self-references, cycles): count the rows the
    // statement matches with foreign keys off.
    {
        let conn = db.conn();
        conn.execute_batch("PRAGMA foreign_keys = OFF; BEGIN")
            .expect("BEGIN");
        if let Ok(n) = conn.execute(sql, []) {
            out.affected = n as u64;
        }
        conn.execute_batch("ROLLBACK").expect("ROLLBACK");
    }
    let at_commit = db
        .has_deferred_keys()
        .then(|| db.commit_refused(sql))
        .flatten();
    let conn = db.conn();
    conn.execute_batch("PRAGMA foreign_keys = ON; BEGIN")
        .expect("BEGIN");
    let before = sqlite_snapshot(&conn);
    match conn.execute(sql, []) {
        Err(e) => out.fail = Some(e.to_string()),
        Ok(_) => match at_commit {
            Some(e) => out.fail = Some(format!("at commit: {e}")),
            None => out.totals = diff(&before, &sqlite_snapshot(&conn)),
        },
    }
    conn.execute_batch("ROLLBACK").expect("ROLLBACK");
    out
}

// ---------------------------------------------------------------- preview

/// Runs the preview of one statement and returns its JSON and exit code.
pub fn preview_json(
    target: &str,
    sql: &str,
    policy: Option<&Path>,
) -> Result<(Value, i32), String> {
    // `--policy` after `exec`: `dbguard --policy DIR exec` is covered by
    // `impact_policy_before_exec`.
    let mut args: Vec<&str> = vec!["exec"];
    let pol;
    if let Some(p) = policy {
        pol = p.display().to_string();
        args.extend(["--policy", pol.as_str()]);
    }
    args.extend([target, "-c", sql, "--dry-run", "--format", "json"]);
    let out = run(&args);
    let code = out.status.code().unwrap_or(-1);
    let text = stdout(&out);
    let line = text.lines().find(|l| !l.trim().is_empty()).ok_or_else(|| {
        format!(
            "no JSON output (exit {code}); stderr: {}",
            stderr(&out).trim()
        )
    })?;
    let v: Value = serde_json::from_str(line)
        .map_err(|e| format!("bad JSON ({e}): {line}; stderr: {}", stderr(&out)))?;
    if let Some(err) = v.get("error") {
        return Err(format!("preview refused/errored (exit {code}): {err}"));
    }
    Ok((v, code))
}

/// Runs the text preview of `sql`.
pub fn preview_text(target: &str, sql: &str, policy: Option<&Path>) -> String {
    let mut args: Vec<&str> = vec!["exec"];
    let pol;
    if let Some(p) = policy {
        pol = p.display().to_string();
        args.extend(["--policy", pol.as_str()]);
    }
    args.extend([target, "-c", sql, "--dry-run"]);
    stdout(&run(&args))
}

/// The preview's totals, absent tables as zero.
pub fn totals_of(v: &Value) -> BTreeMap<String, Counts> {
    let mut out = BTreeMap::new();
    if let Some(m) = v["totals"].as_object() {
        for (k, t) in m {
            let c = Counts {
                delete: t["delete"].as_u64().unwrap_or(0),
                update: t["update"].as_u64().unwrap_or(0),
                insert: t["insert"].as_u64().unwrap_or(0),
            };
            out.insert(k.clone(), c);
        }
    }
    out
}

pub fn effects(v: &Value) -> Vec<Value> {
    v["effects"].as_array().cloned().unwrap_or_default()
}

/// Effects with this action on this table.
pub fn effects_on(v: &Value, action: &str, table: &str) -> Vec<Value> {
    effects(v)
        .into_iter()
        .filter(|e| e["action"] == action && e["table"] == table)
        .collect()
}

/// What a scenario statement expects beyond the oracle.
#[derive(Default, Clone, Copy)]
pub struct Opts<'a> {
    /// Tables whose changes the preview cannot know (trigger targets).
    pub ignore: &'a [&'a str],
    pub policy: Option<&'a Path>,
    /// Associations exist in this schema: dangling effects are allowed.
    pub dangling: bool,
}

/// Collects mismatches of a whole scenario, so one run reports them all.
pub struct Suite<'a> {
    pub db: Db<'a>,
    pub name: &'static str,
    pub errors: Vec<String>,
    pub opts: Opts<'a>,
}

impl<'a> Suite<'a> {
    pub fn new(name: &'static str, db: Db<'a>) -> Suite<'a> {
        Suite {
            db,
            name,
            errors: Vec::new(),
            opts: Opts::default(),
        }
    }

    pub fn with(mut self, opts: Opts<'a>) -> Suite<'a> {
        self.opts = opts;
        self
    }

    pub fn fail(&mut self, sql: &str, msg: String) {
        self.errors.push(format!("  [{sql}]\n    {msg}"));
    }

    /// Previews `sql`, runs the oracle, and compares. Returns the preview
    /// JSON when there was one.
    pub fn check(&mut self, sql: &str) -> Option<Value> {
        let opts = self.opts;
        let oracle = self.db.oracle(sql);
        let (v, code) = match preview_json(&self.db.target(), sql, opts.policy) {
            Ok(x) => x,
            Err(e) => {
                self.fail(sql, e);
                return None;
            }
        };
        if let Some(errs) = compare(self.db, &v, code, &oracle, opts) {
            for e in errs {
                self.fail(sql, e);
            }
        }
        Some(v)
    }

    /// Like `check`, and the oracle must say the statement fails.
    pub fn check_fails(&mut self, sql: &str) -> Option<Value> {
        let v = self.check(sql);
        if let Some(v) = &v
            && v["will_fail"] != true
        {
            self.fail(sql, "scenario expects will_fail".into());
        }
        v
    }

    /// Like `check`, and the oracle must say the statement succeeds.
    pub fn check_ok(&mut self, sql: &str) -> Option<Value> {
        let v = self.check(sql);
        if let Some(v) = &v
            && v["will_fail"] != false
        {
            self.fail(sql, "scenario expects will_fail false".into());
        }
        v
    }

    /// Asserts a condition on a preview, recording a mismatch.
    pub fn expect(&mut self, sql: &str, ok: bool, msg: &str, v: Option<&Value>) {
        if !ok {
            let shown = v.map(|v| v.to_string()).unwrap_or_default();
            self.fail(sql, format!("{msg}\n    preview: {shown}"));
        }
    }

    pub fn finish(self) {
        if !self.errors.is_empty() {
            panic!(
                "scenario {} on {}: {} mismatch(es)\n{}",
                self.name,
                self.db.engine(),
                self.errors.len(),
                self.errors.join("\n")
            );
        }
    }
}

fn compare(
    db: Db<'_>,
    v: &Value,
    code: i32,
    oracle: &Oracle,
    opts: Opts<'_>,
) -> Option<Vec<String>> {
    let mut errs = Vec::new();
    let will_fail = v["will_fail"].as_bool();
    let shown = || format!("preview: {v}\n    oracle: {oracle:?}");
    if will_fail != Some(oracle.fail.is_some()) {
        errs.push(format!(
            "will_fail {:?} but the oracle says {}\n    {}",
            will_fail,
            oracle.fail.as_deref().unwrap_or("it succeeds"),
            shown()
        ));
        return Some(errs);
    }
    let expected_code = if oracle.fail.is_some() { 5 } else { 0 };
    if code != expected_code {
        errs.push(format!("exit status {code}, expected {expected_code}"));
    }
    if oracle.fail.is_some() {
        let blocking = effects(v).iter().any(|e| e["blocking"] == true);
        let failures = v["failures"].as_array().is_some_and(|f| !f.is_empty());
        if !blocking && !failures {
            errs.push(format!(
                "will fail but no blocking effect and no failures\n    {}",
                shown()
            ));
        }
    } else {
        let preview = totals_of(v);
        let ignored: Vec<String> = opts.ignore.iter().map(|t| db.table(t)).collect();
        let names: BTreeSet<&String> = preview.keys().chain(oracle.totals.keys()).collect();
        for name in names {
            if ignored.contains(name) {
                continue;
            }
            let p = preview.get(name).copied().unwrap_or_default();
            let o = oracle.totals.get(name).copied().unwrap_or_default();
            if p != o {
                errs.push(format!(
                    "totals for {name}: preview {p}, oracle {o}\n    {}",
                    shown()
                ));
            }
        }
        let kind = v["kind"].as_str().unwrap_or("");
        let rows = v["target"]["rows"].as_u64();
        let conflicts = v["target"].get("conflicts").and_then(Value::as_u64);
        let expected = match kind {
            "delete" | "update" => Some((oracle.affected, "the statement reported")),
            "insert" if conflicts.unwrap_or(0) == 0 => {
                Some((oracle.affected, "the statement inserted"))
            }
            "truncate" => {
                let t = v["target"]["table"].as_str().unwrap_or("");
                let o = oracle.totals.get(t).copied().unwrap_or_default();
                Some((o.delete, "truncate emptied"))
            }
            _ => None,
        };
        if let Some((n, what)) = expected
            && rows != Some(n)
        {
            errs.push(format!("target.rows {rows:?}, {what} {n}\n    {}", shown()));
        }
    }
    if !opts.dangling {
        let d: Vec<Value> = effects(v)
            .into_iter()
            .filter(|e| e["action"] == "dangling")
            .collect();
        if !d.is_empty() {
            errs.push(format!(
                "dangling effects where every reference is a foreign key: {}",
                Value::Array(d)
            ));
        }
    }
    for e in effects(v) {
        if e["rows"].is_null() {
            errs.push(format!("effect not counted in time: {e}"));
        }
    }
    (!errs.is_empty()).then_some(errs)
}

// ---------------------------------------------------------------- fixtures

/// Runs `body` on a fresh Postgres database built by `pg` and a fresh
/// SQLite file built by `lite` (when given).
pub fn pg(sql: &str) -> PgDb {
    PgDb::with(sql)
}

pub fn lite(sql: &str) -> SqliteDb {
    SqliteDb::with(&format!("PRAGMA foreign_keys = ON;\n{sql}"))
}
