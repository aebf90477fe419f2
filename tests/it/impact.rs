//! Impact previews against an oracle (issue 3, acceptance 1).
//!
//! Every scenario runs each statement twice: once through
//! `dbguard exec --dry-run --format json`, and once for real inside a
//! transaction the test rolls back (the oracle). The preview's net totals
//! per table, its target row count and its `will_fail` must agree with what
//! the database actually did. The same scenarios run on Postgres and SQLite
//! where the behaviour exists on both.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use crate::helpers::{PgDb, SqliteDb, run, stderr, stdout};

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
       format('%I.%I', n.nspname, c.relname),
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
        let expr = cols.join("||','||");
        let mut st = conn
            .prepare(&format!("SELECT rowid, {expr} FROM \"{name}\""))
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

fn fk_violations(conn: &rusqlite::Connection) -> usize {
    let mut st = conn.prepare("PRAGMA foreign_key_check").expect("fk check");
    let mut rows = st.query([]).expect("fk check");
    let mut n = 0;
    while rows.next().expect("fk row").is_some() {
        n += 1;
    }
    n
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
    let conn = db.conn();
    conn.execute_batch("PRAGMA foreign_keys = ON; BEGIN")
        .expect("BEGIN");
    let before = sqlite_snapshot(&conn);
    let violations = fk_violations(&conn);
    match conn.execute(sql, []) {
        Err(e) => out.fail = Some(e.to_string()),
        Ok(_) => {
            if fk_violations(&conn) > violations {
                out.fail = Some("at commit: FOREIGN KEY constraint failed".into());
            } else {
                out.totals = diff(&before, &sqlite_snapshot(&conn));
            }
        }
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
        if let Some(v) = &v {
            if v["will_fail"] != true {
                self.fail(sql, "scenario expects will_fail".into());
            }
        }
        v
    }

    /// Like `check`, and the oracle must say the statement succeeds.
    pub fn check_ok(&mut self, sql: &str) -> Option<Value> {
        let v = self.check(sql);
        if let Some(v) = &v {
            if v["will_fail"] != false {
                self.fail(sql, "scenario expects will_fail false".into());
            }
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
        if let Some((n, what)) = expected {
            if rows != Some(n) {
                errs.push(format!("target.rows {rows:?}, {what} {n}\n    {}", shown()));
            }
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
fn pg(sql: &str) -> PgDb {
    PgDb::with(sql)
}

fn lite(sql: &str) -> SqliteDb {
    SqliteDb::with(&format!("PRAGMA foreign_keys = ON;\n{sql}"))
}

pub const CHAIN3: &str = "
CREATE TABLE regions (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE stores (id int PRIMARY KEY, region int NOT NULL REFERENCES regions (id) ON DELETE CASCADE, name text);
CREATE TABLE shelves (id int PRIMARY KEY, store int NOT NULL REFERENCES stores (id) ON DELETE CASCADE, label text);
CREATE TABLE slots (id int PRIMARY KEY, shelf int REFERENCES shelves (id) ON DELETE CASCADE, pos int);
INSERT INTO regions VALUES (1, 'north'), (2, 'south'), (3, 'empty');
INSERT INTO stores VALUES (10, 1, 'n1'), (11, 1, 'n2'), (20, 2, 's1');
INSERT INTO shelves VALUES (100, 10, 'a'), (101, 10, 'b'), (102, 11, 'c'), (200, 20, 'd');
INSERT INTO slots VALUES (1000, 100, 1), (1001, 100, 2), (1002, 101, 1), (1003, 102, 1), (1004, 102, 2), (2000, 200, 1), (2001, NULL, 9);
";

fn chain3(s: &mut Suite<'_>) {
    s.check_ok("DELETE FROM regions WHERE id = 1");
    s.check_ok("DELETE FROM regions");
    s.check_ok("DELETE FROM regions WHERE id = 3");
    s.check_ok("DELETE FROM regions WHERE id = 42");
    s.check_ok("DELETE FROM stores WHERE name LIKE 'n%'");
    s.check_ok("DELETE FROM shelves WHERE id IN (SELECT shelf FROM slots WHERE pos = 2)");
    s.check_ok(
        "DELETE FROM regions WHERE EXISTS (SELECT 1 FROM stores s JOIN shelves h ON h.store = s.id WHERE s.region = regions.id AND h.label = 'd')",
    );
    s.check_ok(
        "WITH doomed AS (SELECT id FROM regions WHERE name <> 'north') DELETE FROM regions WHERE id IN (SELECT id FROM doomed)",
    );
    s.check_ok("DELETE FROM slots WHERE shelf IS NULL");
    let v = s.check_ok("DELETE FROM regions WHERE id = 1");
    if let Some(v) = v {
        let depth = |t: &str| {
            effects_on(&v, "cascade", &s.db.table(t))
                .first()
                .and_then(|e| e["depth"].as_u64())
        };
        let (d1, d2, d3) = (depth("stores"), depth("shelves"), depth("slots"));
        s.expect(
            "DELETE FROM regions WHERE id = 1",
            (d1, d2, d3) == (Some(1), Some(2), Some(3)),
            &format!("cascade depths {d1:?} {d2:?} {d3:?}, expected 1 2 3"),
            Some(&v),
        );
    }
}

#[test]
fn impact_chain3_pg() {
    let db = pg(CHAIN3);
    let mut s = Suite::new("chain3", Db::Pg(&db));
    chain3(&mut s);
    s.check_ok(
        "DELETE FROM shelves USING stores WHERE shelves.store = stores.id AND stores.name = 'n1'",
    );
    s.check_ok(
        "DELETE FROM stores s USING regions r WHERE s.region = r.id AND r.name IN ('north', 'south') AND s.id > 10",
    );
    s.finish();
}

#[test]
fn impact_chain3_sqlite() {
    let db = lite(CHAIN3);
    let mut s = Suite::new("chain3", Db::Lite(&db));
    chain3(&mut s);
    s.finish();
}

pub const DIAMOND: &str = "
CREATE TABLE tops (id int PRIMARY KEY, name text);
CREATE TABLE lefts (id int PRIMARY KEY, top int NOT NULL REFERENCES tops (id) ON DELETE CASCADE);
CREATE TABLE rights (id int PRIMARY KEY, top int NOT NULL REFERENCES tops (id) ON DELETE CASCADE);
CREATE TABLE bottoms (id int PRIMARY KEY,
    l int REFERENCES lefts (id) ON DELETE CASCADE,
    r int REFERENCES rights (id) ON DELETE CASCADE);
INSERT INTO tops VALUES (1, 'one'), (2, 'two');
INSERT INTO lefts VALUES (10, 1), (11, 1), (20, 2);
INSERT INTO rights VALUES (15, 1), (25, 2);
INSERT INTO bottoms VALUES (100, 10, 15), (101, 11, 15), (102, 10, NULL), (103, NULL, 15), (104, 20, 15), (105, 20, 25), (106, NULL, NULL);
";

fn diamond(s: &mut Suite<'_>) {
    s.check_ok("DELETE FROM tops WHERE id = 1");
    s.check_ok("DELETE FROM tops WHERE id = 2");
    s.check_ok("DELETE FROM tops");
    s.check_ok("DELETE FROM lefts WHERE id = 10");
    s.check_ok("DELETE FROM rights WHERE top = 1");
}

#[test]
fn impact_diamond_pg() {
    let db = pg(DIAMOND);
    let mut s = Suite::new("diamond", Db::Pg(&db));
    diamond(&mut s);
    s.finish();
}

#[test]
fn impact_diamond_sqlite() {
    let db = lite(DIAMOND);
    let mut s = Suite::new("diamond", Db::Lite(&db));
    diamond(&mut s);
    s.finish();
}

pub const TREE: &str = "
CREATE TABLE nodes (id int PRIMARY KEY, parent int REFERENCES nodes (id) ON DELETE CASCADE, name text NOT NULL);
CREATE TABLE node_tags (id int PRIMARY KEY, node int NOT NULL REFERENCES nodes (id) ON DELETE CASCADE, tag text);
INSERT INTO nodes VALUES (1, NULL, 'root'), (2, 1, 'a'), (3, 1, 'b'), (4, 2, 'a1'), (5, 2, 'a2'), (6, 4, 'a1x'), (7, 3, 'b1'), (8, NULL, 'other'), (9, 8, 'o1');
INSERT INTO node_tags VALUES (1, 2, 'x'), (2, 6, 'y'), (3, 7, 'z'), (4, 9, 'w'), (5, 6, 'v');
";

fn tree(s: &mut Suite<'_>) {
    s.check_ok("DELETE FROM nodes WHERE id = 2");
    s.check_ok("DELETE FROM nodes WHERE id = 1");
    s.check_ok("DELETE FROM nodes WHERE name LIKE 'a%'");
    s.check_ok("DELETE FROM nodes WHERE parent IS NULL");
    s.check_ok("DELETE FROM nodes WHERE id IN (4, 6, 9)");
    s.check_ok("DELETE FROM nodes");
}

#[test]
fn impact_tree_pg() {
    let db = pg(TREE);
    let mut s = Suite::new("tree", Db::Pg(&db));
    tree(&mut s);
    s.finish();
}

#[test]
fn impact_tree_sqlite() {
    let db = lite(TREE);
    let mut s = Suite::new("tree", Db::Lite(&db));
    tree(&mut s);
    s.finish();
}

const CYCLE_DATA: &str = "
INSERT INTO alpha VALUES (1, NULL, 'a1'), (2, NULL, 'a2'), (3, NULL, 'a3'), (4, NULL, 'a4');
INSERT INTO beta VALUES (1, 1, 'b1'), (2, 2, 'b2'), (3, NULL, 'b3'), (4, 4, 'b4');
UPDATE alpha SET peer = 1 WHERE id = 2;
UPDATE alpha SET peer = 2 WHERE id = 3;
UPDATE alpha SET peer = 4 WHERE id = 4;
";

pub fn cycle_pg_sql() -> String {
    format!(
        "CREATE TABLE alpha (id int PRIMARY KEY, peer int, name text);
         CREATE TABLE beta (id int PRIMARY KEY, peer int, name text);
         ALTER TABLE alpha ADD CONSTRAINT alpha_beta FOREIGN KEY (peer) REFERENCES beta (id) ON DELETE CASCADE;
         ALTER TABLE beta ADD CONSTRAINT beta_alpha FOREIGN KEY (peer) REFERENCES alpha (id) ON DELETE CASCADE;
         {CYCLE_DATA}"
    )
}

pub fn cycle_sqlite_sql() -> String {
    format!(
        "CREATE TABLE alpha (id int PRIMARY KEY, peer int, name text,
             CONSTRAINT alpha_beta FOREIGN KEY (peer) REFERENCES beta (id) ON DELETE CASCADE);
         CREATE TABLE beta (id int PRIMARY KEY, peer int, name text,
             CONSTRAINT beta_alpha FOREIGN KEY (peer) REFERENCES alpha (id) ON DELETE CASCADE);
         {CYCLE_DATA}"
    )
}

fn cycle(s: &mut Suite<'_>) {
    // a1 <- b1 <- a2 <- b2 <- a3; a4 <-> b4 point at each other.
    s.check_ok("DELETE FROM alpha WHERE id = 1");
    s.check_ok("DELETE FROM alpha WHERE id = 4");
    s.check_ok("DELETE FROM beta WHERE id = 2");
    s.check_ok("DELETE FROM beta WHERE id = 3");
    s.check_ok("DELETE FROM alpha");
}

#[test]
fn impact_cycle_pg() {
    let db = pg(&cycle_pg_sql());
    let mut s = Suite::new("cycle", Db::Pg(&db));
    cycle(&mut s);
    s.finish();
}

#[test]
fn impact_cycle_sqlite() {
    let db = lite(&cycle_sqlite_sql());
    let mut s = Suite::new("cycle", Db::Lite(&db));
    cycle(&mut s);
    s.finish();
}

/// Composite keys, MATCH SIMPLE with NULLs.
pub const COMPOSITE: &str = "
CREATE TABLE accounts (org int, num int, name text, PRIMARY KEY (org, num));
CREATE TABLE entries (id int PRIMARY KEY, org int, num int, amount int,
    CONSTRAINT entries_account FOREIGN KEY (org, num) REFERENCES accounts (org, num) ON DELETE CASCADE);
CREATE TABLE holds (id int PRIMARY KEY, org int, num int,
    CONSTRAINT holds_account FOREIGN KEY (org, num) REFERENCES accounts (org, num) ON DELETE RESTRICT);
CREATE TABLE marks (id int PRIMARY KEY, org int, num int,
    CONSTRAINT marks_account FOREIGN KEY (org, num) REFERENCES accounts (org, num) ON DELETE SET NULL);
INSERT INTO accounts VALUES (1, 1, 'a'), (1, 2, 'b'), (2, 1, 'c'), (2, 2, 'd');
INSERT INTO entries VALUES (1, 1, 1, 10), (2, 1, 1, 20), (3, 1, 2, 30), (4, 2, 1, 40), (5, 1, NULL, 50), (6, NULL, 1, 60);
INSERT INTO holds VALUES (1, 2, 2), (2, 1, NULL), (3, NULL, 1);
INSERT INTO marks VALUES (1, 1, 1), (2, 2, 1), (3, 1, NULL), (4, 1, 2);
";

fn composite(s: &mut Suite<'_>) {
    s.check_ok("DELETE FROM accounts WHERE org = 1 AND num = 1");
    s.check_ok("DELETE FROM accounts WHERE org = 1");
    s.check_ok("DELETE FROM accounts WHERE num = 1");
    s.check_fails("DELETE FROM accounts WHERE org = 2");
    s.check_fails("DELETE FROM accounts");
    s.check_ok("DELETE FROM accounts WHERE (org, num) IN (SELECT org, num FROM entries WHERE amount >= 30)");
}

#[test]
fn impact_composite_pg() {
    let db = pg(COMPOSITE);
    let mut s = Suite::new("composite", Db::Pg(&db));
    composite(&mut s);
    s.finish();
}

#[test]
fn impact_composite_sqlite() {
    let db = lite(COMPOSITE);
    let mut s = Suite::new("composite", Db::Lite(&db));
    composite(&mut s);
    s.finish();
}

/// MATCH FULL (Postgres enforces it; SQLite parses and ignores MATCH).
pub const MATCH_FULL: &str = "
CREATE TABLE accounts (org int, num int, name text, PRIMARY KEY (org, num));
CREATE TABLE entries (id int PRIMARY KEY, org int, num int,
    CONSTRAINT entries_account FOREIGN KEY (org, num) REFERENCES accounts (org, num) MATCH FULL ON DELETE CASCADE);
CREATE TABLE holds (id int PRIMARY KEY, org int, num int,
    CONSTRAINT holds_account FOREIGN KEY (org, num) REFERENCES accounts (org, num) MATCH FULL ON DELETE NO ACTION);
INSERT INTO accounts VALUES (1, 1, 'a'), (1, 2, 'b'), (2, 1, 'c');
INSERT INTO entries VALUES (1, 1, 1), (2, 1, 1), (3, 1, 2), (4, NULL, NULL);
INSERT INTO holds VALUES (1, 2, 1), (2, NULL, NULL);
";

#[test]
fn impact_match_full_pg() {
    let db = pg(MATCH_FULL);
    let mut s = Suite::new("match_full", Db::Pg(&db));
    s.check_ok("DELETE FROM accounts WHERE org = 1");
    s.check_ok("DELETE FROM accounts WHERE num = 2");
    s.check_fails("DELETE FROM accounts WHERE org = 2");
    s.check_fails("DELETE FROM accounts");
    s.finish();
}

pub const SET_NULL: &str = "
CREATE TABLE teams (id int PRIMARY KEY, name text);
CREATE TABLE players (id int PRIMARY KEY, team int REFERENCES teams (id) ON DELETE SET NULL, name text);
CREATE TABLE coaches (id int PRIMARY KEY, team int REFERENCES teams (id) ON DELETE SET NULL, name text);
INSERT INTO teams VALUES (1, 'red'), (2, 'blue'), (3, 'green');
INSERT INTO players VALUES (1, 1, 'p1'), (2, 1, 'p2'), (3, 2, 'p3'), (4, NULL, 'p4');
INSERT INTO coaches VALUES (1, 1, 'c1'), (2, 3, 'c2');
";

fn set_null(s: &mut Suite<'_>) {
    s.check_ok("DELETE FROM teams WHERE id = 1");
    s.check_ok("DELETE FROM teams WHERE id <> 2");
    s.check_ok("DELETE FROM teams");
}

#[test]
fn impact_set_null_pg() {
    let db = pg(SET_NULL);
    let mut s = Suite::new("set_null", Db::Pg(&db));
    set_null(&mut s);
    s.finish();
}

#[test]
fn impact_set_null_sqlite() {
    let db = lite(SET_NULL);
    let mut s = Suite::new("set_null", Db::Lite(&db));
    set_null(&mut s);
    s.finish();
}

/// PG15 `ON DELETE SET NULL (col)`: only the listed column is nulled, the
/// tenant column stays.
pub const SET_NULL_COLS: &str = "
CREATE TABLE folders (tenant int, id int, name text, PRIMARY KEY (tenant, id));
CREATE TABLE docs (tenant int NOT NULL, id int, folder int, title text, PRIMARY KEY (tenant, id),
    CONSTRAINT docs_folder FOREIGN KEY (tenant, folder) REFERENCES folders (tenant, id) ON DELETE SET NULL (folder));
INSERT INTO folders VALUES (1, 1, 'inbox'), (1, 2, 'archive'), (2, 1, 'inbox');
INSERT INTO docs VALUES (1, 1, 1, 'd1'), (1, 2, 1, 'd2'), (1, 3, 2, 'd3'), (2, 1, 1, 'd4'), (2, 2, NULL, 'd5');
";

#[test]
fn impact_set_null_columns_pg() {
    let db = pg(SET_NULL_COLS);
    let mut s = Suite::new("set_null_columns", Db::Pg(&db));
    let sql = "DELETE FROM folders WHERE tenant = 1 AND id = 1";
    if let Some(v) = s.check_ok(sql) {
        let e = effects_on(&v, "set_null", "public.docs");
        let cols = e.first().map(|e| e["columns"].clone());
        s.expect(
            sql,
            cols == Some(serde_json::json!(["folder"])),
            &format!("set_null columns {cols:?}, expected [\"folder\"]"),
            Some(&v),
        );
    }
    s.check_ok("DELETE FROM folders WHERE id = 1");
    s.check_ok("DELETE FROM folders");
    s.finish();
}

/// SET DEFAULT to a row that exists in the parent; deleting that row too
/// makes the statement fail.
pub const SET_DEFAULT: &str = "
CREATE TABLE owners (id int PRIMARY KEY, name text);
CREATE TABLE pets (id int PRIMARY KEY, owner int DEFAULT 0 REFERENCES owners (id) ON DELETE SET DEFAULT, name text);
INSERT INTO owners VALUES (0, 'shelter'), (1, 'ann'), (2, 'bob');
INSERT INTO pets VALUES (1, 1, 'rex'), (2, 1, 'tom'), (3, 2, 'kit'), (4, 0, 'old');
";

fn set_default(s: &mut Suite<'_>) {
    s.check_ok("DELETE FROM owners WHERE id = 1");
    s.check_ok("DELETE FROM owners WHERE id > 0");
    s.check_fails("DELETE FROM owners");
    s.check_fails("DELETE FROM owners WHERE id IN (0, 2)");
}

#[test]
fn impact_set_default_pg() {
    let db = pg(SET_DEFAULT);
    let mut s = Suite::new("set_default", Db::Pg(&db));
    set_default(&mut s);
    s.finish();
}

#[test]
fn impact_set_default_sqlite() {
    let db = lite(SET_DEFAULT);
    let mut s = Suite::new("set_default", Db::Lite(&db));
    set_default(&mut s);
    s.finish();
}

/// RESTRICT vs NO ACTION vs deferred NO ACTION, each on its own parent row.
pub const BLOCKERS: &str = "
CREATE TABLE hubs (id int PRIMARY KEY, name text);
CREATE TABLE r_refs (id int PRIMARY KEY, hub int REFERENCES hubs (id) ON DELETE RESTRICT);
CREATE TABLE n_refs (id int PRIMARY KEY, hub int REFERENCES hubs (id) ON DELETE NO ACTION);
CREATE TABLE d_refs (id int PRIMARY KEY, hub int REFERENCES hubs (id) ON DELETE NO ACTION DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE c_refs (id int PRIMARY KEY, hub int REFERENCES hubs (id) ON DELETE CASCADE);
INSERT INTO hubs VALUES (1, 'restricted'), (2, 'no action'), (3, 'deferred'), (4, 'free'), (5, 'cascade only');
INSERT INTO r_refs VALUES (1, 1), (2, 1), (3, NULL);
INSERT INTO n_refs VALUES (1, 2);
INSERT INTO d_refs VALUES (1, 3), (2, 3);
INSERT INTO c_refs VALUES (1, 4), (2, 5), (3, 1);
";

fn blockers(s: &mut Suite<'_>) {
    let v = s.check_fails("DELETE FROM hubs WHERE id = 1");
    let blocker = |v: &Value, action: &str, table: &str| {
        effects_on(v, action, table)
            .iter()
            .any(|e| e["blocking"] == true)
    };
    if let Some(v) = &v {
        let ok = blocker(v, "restrict", &s.db.table("r_refs"));
        s.expect(
            "DELETE FROM hubs WHERE id = 1",
            ok,
            "no blocking restrict effect on r_refs",
            Some(v),
        );
        let unreached = effects_on(v, "cascade", &s.db.table("c_refs"))
            .iter()
            .all(|e| e["reached"] == false);
        s.expect(
            "DELETE FROM hubs WHERE id = 1",
            unreached,
            "cascade under a failing delete should be marked reached: false",
            Some(v),
        );
    }
    let v = s.check_fails("DELETE FROM hubs WHERE id = 2");
    if let Some(v) = &v {
        let ok = blocker(v, "no_action", &s.db.table("n_refs"));
        s.expect(
            "DELETE FROM hubs WHERE id = 2",
            ok,
            "no blocking no_action effect on n_refs",
            Some(v),
        );
    }
    let sql = "DELETE FROM hubs WHERE id = 3";
    let v = s.check_fails(sql);
    if let Some(v) = &v {
        let ok = blocker(v, "no_action", &s.db.table("d_refs"));
        s.expect(sql, ok, "no blocking no_action effect on d_refs", Some(v));
        let commit = v["failures"].as_array().is_some_and(|f| {
            f.iter()
                .any(|m| m.as_str().unwrap_or("").contains("commit"))
        });
        s.expect(
            sql,
            commit,
            "a deferred failure should say it comes at commit",
            Some(v),
        );
    }
    s.check_ok("DELETE FROM hubs WHERE id = 4");
    s.check_ok("DELETE FROM hubs WHERE id IN (4, 5)");
    s.check_fails("DELETE FROM hubs WHERE id IN (2, 4)");
    s.check_fails("DELETE FROM hubs");
    // The referencing rows go first: nothing blocks any more.
    s.check_ok("DELETE FROM r_refs WHERE hub = 1");
}

#[test]
fn impact_blockers_pg() {
    let db = pg(BLOCKERS);
    let mut s = Suite::new("blockers", Db::Pg(&db));
    blockers(&mut s);
    s.finish();
}

#[test]
fn impact_blockers_sqlite() {
    let db = lite(BLOCKERS);
    let mut s = Suite::new("blockers", Db::Lite(&db));
    blockers(&mut s);
    s.finish();
}

/// A RESTRICT / NO ACTION reference whose referencing row the same
/// statement deletes through another cascade path: the oracle decides.
/// Projects 1 and 2: the referencing note is also deleted two levels down
/// (through tasks). Projects 4 to 7: one table holds both a CASCADE and a
/// RESTRICT / NO ACTION reference to the same project, declared in both
/// orders (Postgres fires the actions in declaration order).
pub const SHADOWED: &str = "
CREATE TABLE projects (id int PRIMARY KEY, name text);
CREATE TABLE tasks (id int PRIMARY KEY, project int NOT NULL REFERENCES projects (id) ON DELETE CASCADE);
CREATE TABLE notes_r (id int PRIMARY KEY,
    task int REFERENCES tasks (id) ON DELETE CASCADE,
    project int REFERENCES projects (id) ON DELETE RESTRICT);
CREATE TABLE notes_n (id int PRIMARY KEY,
    task int REFERENCES tasks (id) ON DELETE CASCADE,
    project int REFERENCES projects (id) ON DELETE NO ACTION);
CREATE TABLE links_cr (id int PRIMARY KEY, a int REFERENCES projects (id) ON DELETE CASCADE, b int REFERENCES projects (id) ON DELETE RESTRICT);
CREATE TABLE links_rc (id int PRIMARY KEY, a int REFERENCES projects (id) ON DELETE RESTRICT, b int REFERENCES projects (id) ON DELETE CASCADE);
CREATE TABLE links_cn (id int PRIMARY KEY, a int REFERENCES projects (id) ON DELETE CASCADE, b int REFERENCES projects (id) ON DELETE NO ACTION);
CREATE TABLE links_nc (id int PRIMARY KEY, a int REFERENCES projects (id) ON DELETE NO ACTION, b int REFERENCES projects (id) ON DELETE CASCADE);
INSERT INTO projects VALUES (1, 'p1'), (2, 'p2'), (4, 'p4'), (5, 'p5'), (6, 'p6'), (7, 'p7'), (8, 'p8');
INSERT INTO tasks VALUES (10, 1), (20, 2);
INSERT INTO notes_r VALUES (1, 10, 1);
INSERT INTO notes_n VALUES (1, 20, 2);
INSERT INTO links_cr VALUES (1, 4, 4);
INSERT INTO links_rc VALUES (1, 5, 5);
INSERT INTO links_cn VALUES (1, 6, 6);
INSERT INTO links_nc VALUES (1, 7, 7);
";

fn shadowed(s: &mut Suite<'_>) {
    // Each statement is compared with whatever the engine does.
    for id in [1, 2, 4, 5, 6, 7, 8] {
        s.check(&format!("DELETE FROM projects WHERE id = {id}"));
    }
    s.check("DELETE FROM projects WHERE id IN (4, 6, 8)");
    s.check("DELETE FROM projects");
}

#[test]
fn impact_shadowed_restrict_pg() {
    let db = pg(SHADOWED);
    let mut s = Suite::new("shadowed_restrict", Db::Pg(&db));
    shadowed(&mut s);
    s.finish();
}

#[test]
fn impact_shadowed_restrict_sqlite() {
    let db = lite(SHADOWED);
    let mut s = Suite::new("shadowed_restrict", Db::Lite(&db));
    shadowed(&mut s);
    s.finish();
}

/// Two foreign keys between the same pair of tables, different actions:
/// a row deleted through one and set to NULL through the other counts
/// once, as deleted.
pub const TWO_FKS: &str = "
CREATE TABLE people (id int PRIMARY KEY, name text);
CREATE TABLE letters (id int PRIMARY KEY,
    sender int NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    recipient int REFERENCES people (id) ON DELETE SET NULL,
    body text);
INSERT INTO people VALUES (1, 'ann'), (2, 'bob'), (3, 'cy');
INSERT INTO letters VALUES (1, 1, 2, 'a->b'), (2, 2, 1, 'b->a'), (3, 1, 1, 'a->a'), (4, 3, 2, 'c->b'), (5, 2, 3, 'b->c'), (6, 3, NULL, 'c->');
";

fn two_fks(s: &mut Suite<'_>) {
    s.check_ok("DELETE FROM people WHERE id = 1");
    s.check_ok("DELETE FROM people WHERE id = 2");
    s.check_ok("DELETE FROM people WHERE id IN (1, 2)");
    s.check_ok("DELETE FROM people");
}

#[test]
fn impact_two_fks_pg() {
    let db = pg(TWO_FKS);
    let mut s = Suite::new("two_fks", Db::Pg(&db));
    two_fks(&mut s);
    s.finish();
}

#[test]
fn impact_two_fks_sqlite() {
    let db = lite(TWO_FKS);
    let mut s = Suite::new("two_fks", Db::Lite(&db));
    two_fks(&mut s);
    s.finish();
}

/// Tables in another schema (Postgres only).
pub const OTHER_SCHEMA: &str = "
CREATE SCHEMA billing;
CREATE TABLE customers (id int PRIMARY KEY, name text);
CREATE TABLE billing.invoices (id int PRIMARY KEY, customer int NOT NULL REFERENCES customers (id) ON DELETE CASCADE, total int);
CREATE TABLE billing.lines (id int PRIMARY KEY, invoice int NOT NULL REFERENCES billing.invoices (id) ON DELETE CASCADE, qty int);
CREATE TABLE billing.\"Payments\" (id int PRIMARY KEY, invoice int REFERENCES billing.invoices (id) ON DELETE SET NULL);
INSERT INTO customers VALUES (1, 'acme'), (2, 'globex');
INSERT INTO billing.invoices VALUES (1, 1, 100), (2, 1, 50), (3, 2, 70);
INSERT INTO billing.lines VALUES (1, 1, 1), (2, 1, 2), (3, 2, 1), (4, 3, 5);
INSERT INTO billing.\"Payments\" VALUES (1, 1), (2, 3), (3, NULL);
";

#[test]
fn impact_other_schema_pg() {
    let db = pg(OTHER_SCHEMA);
    let mut s = Suite::new("other_schema", Db::Pg(&db));
    if let Some(v) = s.check_ok("DELETE FROM customers WHERE id = 1") {
        let ok = !effects_on(&v, "cascade", "billing.lines").is_empty()
            && !effects_on(&v, "set_null", "billing.Payments").is_empty();
        s.expect(
            "DELETE FROM customers WHERE id = 1",
            ok,
            "expected cascade into billing.lines and set_null into billing.Payments",
            Some(&v),
        );
    }
    s.check_ok("DELETE FROM billing.invoices WHERE total > 60");
    s.check_ok("DELETE FROM billing.lines WHERE qty = 1");
    s.check_ok("DELETE FROM customers");
    s.finish();
}

/// An association without a foreign key, inferred from `widget_id`.
pub const INFERRED: &str = "
CREATE TABLE widgets (id int PRIMARY KEY, name text);
CREATE TABLE parts (id int PRIMARY KEY, widget_id int, name text);
CREATE TABLE gadgets (id int PRIMARY KEY, owner_ref int, name text);
INSERT INTO widgets VALUES (1, 'w1'), (2, 'w2'), (3, 'w3');
INSERT INTO parts VALUES (1, 1, 'p1'), (2, 1, 'p2'), (3, 2, 'p3'), (4, NULL, 'p4'), (5, 99, 'p5');
INSERT INTO gadgets VALUES (1, 1, 'g1'), (2, 3, 'g2'), (3, 3, 'g3');
";

fn dangling_rows(v: &Value, table: &str) -> Option<u64> {
    effects_on(v, "dangling", table)
        .first()
        .and_then(|e| e["rows"].as_u64())
}

fn inferred(s: &mut Suite<'_>) {
    for (sql, pred) in [
        ("DELETE FROM widgets WHERE id = 1", "id = 1"),
        ("DELETE FROM widgets WHERE id IN (2, 3)", "id IN (2, 3)"),
        ("DELETE FROM widgets", "true"),
    ] {
        let Some(v) = s.check_ok(sql) else { continue };
        let parts = s.db.table("parts");
        let expected = s.db.count(&format!(
            "SELECT count(*) FROM parts WHERE widget_id IN (SELECT id FROM widgets WHERE {pred})"
        ));
        let e = effects_on(&v, "dangling", &parts);
        let src = e.first().map(|e| e["source"].clone());
        if expected > 0 {
            s.expect(
                sql,
                src == Some(Value::from("inferred")),
                &format!("dangling effect on {parts} with source inferred, got {src:?}"),
                Some(&v),
            );
            let cols = e.first().map(|e| e["columns"].clone());
            s.expect(
                sql,
                cols == Some(serde_json::json!(["widget_id"])),
                &format!("dangling columns {cols:?}"),
                Some(&v),
            );
        }
        let rows = dangling_rows(&v, &parts).unwrap_or(0);
        s.expect(
            sql,
            rows == expected,
            &format!("dangling rows {rows}, a SELECT counts {expected}"),
            Some(&v),
        );
    }
}

#[test]
fn impact_inferred_pg() {
    let db = pg(INFERRED);
    let mut s = Suite::new("inferred", Db::Pg(&db)).with(Opts {
        dangling: true,
        ..Opts::default()
    });
    inferred(&mut s);
    s.finish();
}

#[test]
fn impact_inferred_sqlite() {
    let db = lite(INFERRED);
    let mut s = Suite::new("inferred", Db::Lite(&db)).with(Opts {
        dangling: true,
        ..Opts::default()
    });
    inferred(&mut s);
    s.finish();
}

/// A policy directory declaring `gadgets.owner_ref → widgets.id`.
pub fn declared_policy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("x.toml"),
        "[[association]]\nfrom = \"gadgets.owner_ref\"\nto = \"widgets.id\"\n",
    )
    .expect("write policy");
    dir
}

fn declared(s: &mut Suite<'_>) {
    for (sql, pred) in [
        ("DELETE FROM widgets WHERE id = 3", "id = 3"),
        ("DELETE FROM widgets WHERE id = 1", "id = 1"),
        ("DELETE FROM widgets WHERE id = 2", "id = 2"),
    ] {
        let Some(v) = s.check_ok(sql) else { continue };
        let gadgets = s.db.table("gadgets");
        let expected = s.db.count(&format!(
            "SELECT count(*) FROM gadgets WHERE owner_ref IN (SELECT id FROM widgets WHERE {pred})"
        ));
        let e = effects_on(&v, "dangling", &gadgets);
        if expected > 0 {
            let src = e.first().map(|e| e["source"].clone());
            s.expect(
                sql,
                src == Some(Value::from("declared")),
                &format!("dangling effect on {gadgets} with source declared, got {src:?}"),
                Some(&v),
            );
        }
        let rows = dangling_rows(&v, &gadgets).unwrap_or(0);
        s.expect(
            sql,
            rows == expected,
            &format!("declared dangling rows {rows}, a SELECT counts {expected}"),
            Some(&v),
        );
    }
}

#[test]
fn impact_declared_pg() {
    let db = pg(INFERRED);
    let dir = declared_policy();
    let mut s = Suite::new("declared", Db::Pg(&db)).with(Opts {
        dangling: true,
        policy: Some(dir.path()),
        ..Opts::default()
    });
    declared(&mut s);
    s.finish();
}

#[test]
fn impact_declared_sqlite() {
    let db = lite(INFERRED);
    let dir = declared_policy();
    let mut s = Suite::new("declared", Db::Lite(&db)).with(Opts {
        dangling: true,
        policy: Some(dir.path()),
        ..Opts::default()
    });
    declared(&mut s);
    s.finish();
}

/// A row-level AFTER DELETE trigger that writes to an audit table.
const TRIGGER_DATA: &str = "
CREATE TABLE orders (id int PRIMARY KEY, item text);
CREATE TABLE order_lines (id int PRIMARY KEY, ord int NOT NULL REFERENCES orders (id) ON DELETE CASCADE, qty int);
INSERT INTO orders VALUES (1, 'a'), (2, 'b'), (3, 'c');
INSERT INTO order_lines VALUES (1, 1, 1), (2, 1, 2), (3, 2, 1);
";

pub fn trigger_pg_sql() -> String {
    format!(
        "CREATE TABLE line_audit (id serial PRIMARY KEY, line int, at text);
         {TRIGGER_DATA}
         CREATE FUNCTION audit_line() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN INSERT INTO line_audit (line, at) VALUES (OLD.id, 'deleted'); RETURN OLD; END $$;
         CREATE TRIGGER line_deleted AFTER DELETE ON order_lines FOR EACH ROW EXECUTE FUNCTION audit_line();"
    )
}

pub fn trigger_sqlite_sql() -> String {
    format!(
        "CREATE TABLE line_audit (id INTEGER PRIMARY KEY, line int, at text);
         {TRIGGER_DATA}
         CREATE TRIGGER line_deleted AFTER DELETE ON order_lines FOR EACH ROW
         BEGIN INSERT INTO line_audit (line, at) VALUES (OLD.id, 'deleted'); END;"
    )
}

fn trigger(s: &mut Suite<'_>) {
    for sql in [
        "DELETE FROM orders WHERE id = 1",
        "DELETE FROM order_lines WHERE qty = 1",
    ] {
        let Some(v) = s.check_ok(sql) else { continue };
        let t = effects_on(&v, "trigger", &s.db.table("order_lines"));
        let named = t.iter().any(|e| e["via"] == "line_deleted");
        s.expect(
            sql,
            named,
            "trigger effect line_deleted on order_lines",
            Some(&v),
        );
        let warned = v["warnings"].as_array().is_some_and(|w| {
            w.iter()
                .any(|m| m.as_str().unwrap_or("").contains("line_deleted"))
        });
        s.expect(sql, warned, "a warning naming the trigger", Some(&v));
    }
    // No trigger fires when no order line is deleted.
    if let Some(v) = s.check_ok("DELETE FROM orders WHERE id = 3") {
        let none = effects(&v).iter().all(|e| e["action"] != "trigger");
        s.expect(
            "DELETE FROM orders WHERE id = 3",
            none,
            "no trigger effect",
            Some(&v),
        );
    }
}

#[test]
fn impact_trigger_pg() {
    let db = pg(&trigger_pg_sql());
    let mut s = Suite::new("trigger", Db::Pg(&db)).with(Opts {
        ignore: &["line_audit"],
        ..Opts::default()
    });
    trigger(&mut s);
    s.finish();
}

#[test]
fn impact_trigger_sqlite() {
    let db = lite(&trigger_sqlite_sql());
    let mut s = Suite::new("trigger", Db::Lite(&db)).with(Opts {
        ignore: &["line_audit"],
        ..Opts::default()
    });
    trigger(&mut s);
    s.finish();
}

/// Global options go before or after the subcommand name.
#[test]
fn impact_policy_before_exec() {
    let db = lite(INFERRED);
    let dir = declared_policy();
    let pol = dir.path().display().to_string();
    let target = db.target();
    let out = run(&[
        "--policy",
        &pol,
        "exec",
        &target,
        "-c",
        "DELETE FROM widgets WHERE id = 3",
        "--dry-run",
        "--format",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "dbguard --policy DIR exec ... was rejected: {}",
        stderr(&out)
    );
    let v: Value = serde_json::from_str(stdout(&out).trim()).expect("json");
    assert_eq!(dangling_rows(&v, "gadgets"), Some(2), "{v}");
}

// ---------------------------------------------------------------- UPDATE

/// Products keyed by `id`; `code` is the referenced key, so a key update
/// keeps every row's identity for the oracle.
pub const UPDATES: &str = "
CREATE TABLE products (id int PRIMARY KEY, code text NOT NULL UNIQUE, name text, price int, category text);
CREATE TABLE stock (id int PRIMARY KEY, product text REFERENCES products (code) ON UPDATE CASCADE ON DELETE CASCADE, qty int);
CREATE TABLE frozen (id int PRIMARY KEY, product text REFERENCES products (code) ON UPDATE RESTRICT);
CREATE TABLE pinned (id int PRIMARY KEY, product text REFERENCES products (code) ON UPDATE NO ACTION);
CREATE TABLE loose (id int PRIMARY KEY, product text REFERENCES products (code) ON UPDATE SET NULL);
INSERT INTO products VALUES
  (1, 'A1', 'apple', 10, 'fruit'), (2, 'B2', 'banana', 5, 'fruit'), (3, 'C3', 'carrot', 3, 'veg'),
  (4, 'D4', 'date', 20, 'fruit'), (5, 'E5', 'endive', 7, 'veg');
INSERT INTO stock VALUES (1, 'A1', 5), (2, 'A1', 6), (3, 'B2', 1), (4, 'C3', 0);
INSERT INTO frozen VALUES (1, 'D4');
INSERT INTO pinned VALUES (1, 'E5');
INSERT INTO loose VALUES (1, 'C3'), (2, 'C3'), (3, NULL);
";

fn updates(s: &mut Suite<'_>) {
    s.check_ok("UPDATE products SET price = price * 2 WHERE category = 'fruit'");
    let sql = "UPDATE products SET category = 'fruit' WHERE price < 15";
    if let Some(v) = s.check_ok(sql) {
        let unchanged = v["target"]["unchanged"].as_u64();
        let expected =
            s.db.count("SELECT count(*) FROM products WHERE price < 15 AND category = 'fruit'");
        s.expect(
            sql,
            unchanged == Some(expected),
            &format!("unchanged {unchanged:?}, expected {expected}"),
            Some(&v),
        );
    }
    s.check_ok("UPDATE products SET name = name");
    s.check_ok("UPDATE products SET name = upper(name) WHERE id IN (SELECT id FROM products WHERE price > 5)");
    s.check_ok("UPDATE products SET price = 0 WHERE id = 42");
    // Key updates: ON UPDATE CASCADE children, SET NULL children.
    s.check_ok("UPDATE products SET code = code || 'x' WHERE id = 1");
    s.check_ok("UPDATE products SET code = lower(code) WHERE id IN (1, 2, 3)");
    s.check_ok("UPDATE products SET code = code WHERE id = 4");
    // Blocked by RESTRICT and by NO ACTION.
    s.check_fails("UPDATE products SET code = 'D5' WHERE id = 4");
    s.check_fails("UPDATE products SET code = 'E6' WHERE id = 5");
    s.check_fails("UPDATE products SET code = code || '!'");
    // A child's own update: a missing parent key fails.
    s.check_fails("UPDATE stock SET product = 'ZZ' WHERE id = 1");
    s.check_ok("UPDATE stock SET product = 'C3' WHERE id = 1");
    // A unique violation.
    s.check_fails("UPDATE products SET code = 'A1' WHERE id = 3");
}

#[test]
fn impact_update_pg() {
    let db = pg(UPDATES);
    let mut s = Suite::new("update", Db::Pg(&db));
    updates(&mut s);
    s.check_ok("UPDATE products p SET price = p.price + s.qty FROM stock s WHERE s.product = p.code AND s.qty > 0");
    s.finish();
}

#[test]
fn impact_update_sqlite() {
    let db = lite(UPDATES);
    let mut s = Suite::new("update", Db::Lite(&db));
    updates(&mut s);
    s.finish();
}

// ---------------------------------------------------------------- INSERT

pub const INSERTS: &str = "
CREATE TABLE kinds (id int PRIMARY KEY, name text NOT NULL UNIQUE, hits int NOT NULL DEFAULT 0);
CREATE TABLE things (id int PRIMARY KEY, kind int NOT NULL REFERENCES kinds (id), label text);
CREATE TABLE archive (id int PRIMARY KEY, name text);
INSERT INTO kinds VALUES (1, 'one', 0), (2, 'two', 0), (3, 'three', 5);
INSERT INTO things VALUES (1, 1, 'a'), (2, 2, 'b');
";

fn inserts(s: &mut Suite<'_>) {
    s.check_ok("INSERT INTO things (id, kind, label) VALUES (10, 1, 'x'), (11, 3, 'y')");
    s.check_ok("INSERT INTO archive (id, name) SELECT id + 100, name FROM kinds WHERE id > 1");
    s.check_ok("INSERT INTO archive (id, name) SELECT id, name FROM kinds WHERE id > 99");
    s.check_fails("INSERT INTO things (id, kind, label) VALUES (12, 999, 'missing')");
    s.check_fails("INSERT INTO things (id, kind, label) VALUES (13, 1, 'ok'), (14, 42, 'missing')");
    s.check_fails("INSERT INTO kinds (id, name) VALUES (1, 'dup id')");
    s.check_fails("INSERT INTO kinds (id, name) VALUES (9, 'one')");
    s.check_fails("INSERT INTO kinds (id, name) VALUES (7, 'seven'), (8, 'seven')");
    s.check_ok(
        "INSERT INTO kinds (id, name) VALUES (1, 'uno'), (4, 'four') ON CONFLICT DO NOTHING",
    );
    s.check_ok(
        "INSERT INTO kinds (id, name) VALUES (5, 'five'), (6, 'two') ON CONFLICT DO NOTHING",
    );
    let sql = "INSERT INTO kinds (id, name) VALUES (1, 'uno'), (4, 'four') ON CONFLICT (id) DO UPDATE SET name = excluded.name";
    if let Some(v) = s.check_ok(sql) {
        let c = v["target"]["conflicts"].as_u64();
        s.expect(
            sql,
            c == Some(1),
            &format!("conflicts {c:?}, expected 1"),
            Some(&v),
        );
    }
    s.check_ok(
        "INSERT INTO kinds (id, name) VALUES (2, 'x'), (3, 'y') ON CONFLICT (id) DO UPDATE SET hits = kinds.hits + 1",
    );
    s.check_ok("INSERT INTO kinds (id, name) VALUES (3, 'three') ON CONFLICT (id) DO UPDATE SET name = excluded.name");
}

#[test]
fn impact_insert_pg() {
    let db = pg(INSERTS);
    let mut s = Suite::new("insert", Db::Pg(&db));
    inserts(&mut s);
    s.finish();
}

#[test]
fn impact_insert_sqlite() {
    let db = lite(INSERTS);
    let mut s = Suite::new("insert", Db::Lite(&db));
    inserts(&mut s);
    s.finish();
}

// ---------------------------------------------------------------- TRUNCATE

#[test]
fn impact_truncate_pg() {
    let db = pg(&format!("{CHAIN3}\n{SET_NULL}\n{BLOCKERS}"));
    let mut s = Suite::new("truncate", Db::Pg(&db));
    s.check_ok("TRUNCATE regions CASCADE");
    s.check_fails("TRUNCATE regions");
    s.check_ok("TRUNCATE slots");
    s.check_ok("TRUNCATE TABLE stores, shelves, slots");
    s.check_ok("TRUNCATE teams CASCADE");
    s.check_fails("TRUNCATE teams");
    s.check_ok("TRUNCATE hubs CASCADE");
    s.finish();
}

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
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(v["bounded"], false, "{v}");
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
    assert!(
        stdout(&text).contains("not counted in time"),
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
