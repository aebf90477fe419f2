//! Shared test helpers: fresh Postgres databases, SQLite files, and running
//! the `dbguard` binary with a clean environment.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The admin URL tests create databases through.
pub fn pg_admin_url() -> String {
    std::env::var("DBGUARD_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Connects to the admin URL or fails with instructions.
pub fn pg_admin() -> postgres::Client {
    let url = pg_admin_url();
    postgres::Client::connect(&url, postgres::NoTls).unwrap_or_else(|e| {
        panic!(
            "cannot reach PostgreSQL at {url}: {e}\n\
             Start one (on Debian: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start)\n\
             or point DBGUARD_TEST_PG at a server where this role may CREATE DATABASE."
        )
    })
}

/// A fresh database, dropped when this value goes out of scope.
pub struct PgDb {
    pub name: String,
    pub url: String,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl PgDb {
    pub fn new() -> PgDb {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!("dbguard_t_{}_{}_{}", std::process::id(), n, nanos);
        let mut admin = pg_admin();
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .expect("CREATE DATABASE");
        let url = replace_dbname(&pg_admin_url(), &name);
        PgDb { name, url }
    }

    /// A database with `sql` already run in it.
    pub fn with(sql: &str) -> PgDb {
        let db = PgDb::new();
        db.client().batch_execute(sql).expect("fixture SQL");
        db
    }

    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).expect("connect to test db")
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&pg_admin_url(), postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// Swaps the database name of a postgres:// URL.
pub fn replace_dbname(url: &str, db: &str) -> String {
    let (base, query) = match url.find('?') {
        Some(i) => (&url[..i], &url[i..]),
        None => (url, ""),
    };
    let after_scheme = base.find("://").map(|i| i + 3).unwrap_or(0);
    match base[after_scheme..].find('/') {
        Some(i) => format!("{}/{}{}", &base[..after_scheme + i], db, query),
        None => format!("{base}/{db}{query}"),
    }
}

/// The parts of a `postgres://[user[:password]@]host[:port][/db][?...]`
/// test URL that tests read or change. Hand-read like [`replace_dbname`]:
/// the `url` crate's IDNA tables were 27 of the test build's crates, for
/// this alone. Parts are kept as written (percent-encoded, if they are).
pub struct PgUrl {
    scheme: String,
    /// Empty when the URL names no user.
    pub user: String,
    pub password: Option<String>,
    /// Without the brackets of an IPv6 address.
    pub host: String,
    pub port: Option<u16>,
    /// The path and query, from the `/` or `?` that ends the host part.
    rest: String,
}

impl PgUrl {
    /// Reads `url`; panics, naming it, when it is not a URL of that shape.
    pub fn parse(url: &str) -> PgUrl {
        let bad = || -> ! { panic!("not a postgres:// test URL: {url}") };
        let (scheme, after) = url.split_once("://").unwrap_or_else(|| bad());
        let end = after.find(['/', '?']).unwrap_or(after.len());
        let (authority, rest) = after.split_at(end);
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (user, password) = match userinfo.map(|u| u.split_once(':')) {
            Some(Some((u, p))) => (u.to_owned(), Some(p.to_owned())),
            Some(None) => (userinfo.unwrap_or_default().to_owned(), None),
            None => (String::new(), None),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, tail) = v6.split_once(']').unwrap_or_else(|| bad());
            (h, tail.strip_prefix(':'))
        } else {
            match hostport.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        PgUrl {
            scheme: scheme.to_owned(),
            user,
            password,
            host: host.to_owned(),
            port: port
                .filter(|p| !p.is_empty())
                .map(|p| p.parse().unwrap_or_else(|_| bad())),
            rest: rest.to_owned(),
        }
    }

    /// The URL again, with what was changed.
    pub fn to_url(&self) -> String {
        let mut s = format!("{}://", self.scheme);
        if !self.user.is_empty() || self.password.is_some() {
            s.push_str(&self.user);
            if let Some(p) = &self.password {
                s.push(':');
                s.push_str(p);
            }
            s.push('@');
        }
        if self.host.contains(':') {
            s.push_str(&format!("[{}]", self.host));
        } else {
            s.push_str(&self.host);
        }
        if let Some(port) = self.port {
            s.push_str(&format!(":{port}"));
        }
        s.push_str(&self.rest);
        s
    }
}

#[test]
fn pg_url_reads_and_rewrites_test_urls() {
    let u = PgUrl::parse("postgres://postgres:pw@127.0.0.1:5432/db?sslmode=disable");
    assert_eq!(
        (
            u.user.as_str(),
            u.password.as_deref(),
            u.host.as_str(),
            u.port
        ),
        ("postgres", Some("pw"), "127.0.0.1", Some(5432))
    );
    let mut u = u;
    u.user = "role".into();
    u.password = None;
    assert_eq!(
        u.to_url(),
        "postgres://role@127.0.0.1:5432/db?sslmode=disable"
    );
    let v6 = PgUrl::parse("postgresql://[::1]/postgres");
    assert_eq!(
        (v6.user.as_str(), v6.host.as_str(), v6.port),
        ("", "::1", None)
    );
    assert_eq!(v6.to_url(), "postgresql://[::1]/postgres");
}

/// A SQLite file in a temp dir, built by `sql`.
pub struct SqliteDb {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl SqliteDb {
    pub fn with(sql: &str) -> SqliteDb {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("test.sqlite");
        let conn = rusqlite::Connection::open(&path).expect("create sqlite");
        conn.execute_batch(sql).expect("fixture SQL");
        SqliteDb { dir, path }
    }

    pub fn conn(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.path).expect("open sqlite")
    }

    pub fn target(&self) -> String {
        self.path.display().to_string()
    }

    /// Whether the database has a key SQLite checks at commit.
    pub fn has_deferred_keys(&self) -> bool {
        sqlite_has_deferred_keys(&self.conn())
    }

    /// Why COMMIT refuses `sql` run on the database as it stands (see
    /// [`sqlite_commit_refused`]).
    pub fn commit_refused(&self, sql: &str) -> Option<String> {
        sqlite_commit_refused(&self.path, sql)
    }
}

/// Runs one statement to completion (RETURNING rows are read and dropped,
/// unbound parameters are NULL, as in the sqlite3 shell) and returns the
/// change count.
pub fn sqlite_run(conn: &rusqlite::Connection, sql: &str) -> rusqlite::Result<u64> {
    let mut st = conn.prepare(sql)?;
    let mut rows = st.raw_query();
    while rows.next()?.is_some() {}
    drop(rows);
    Ok(conn.changes())
}

/// Whether the database `conn` opens has a key SQLite checks at commit.
pub fn sqlite_has_deferred_keys(conn: &rusqlite::Connection) -> bool {
    conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_schema WHERE sql LIKE '%INITIALLY DEFERRED%'",
        [],
        |r| r.get(0),
    )
    .expect("sqlite_schema")
}

/// Why COMMIT refuses `sql` run on the database at `path` as it stands,
/// found by committing it on a copy beside it. SQLite checks deferred keys
/// at commit by a count of the violations the transaction made, which
/// `foreign_key_check` (a scan of the rows) cannot stand in for: a row
/// SQLite failed to find when it wrote it counts though the scan finds it.
/// `None` when the statement itself fails or the commit succeeds.
pub fn sqlite_commit_refused(path: &Path, sql: &str) -> Option<String> {
    let copy = path.with_extension("commit-copy");
    let _ = std::fs::remove_file(&copy);
    rusqlite::Connection::open(path)
        .expect("open sqlite")
        .execute("VACUUM INTO ?1", [copy.display().to_string()])
        .expect("VACUUM INTO");
    let conn = rusqlite::Connection::open(&copy).expect("open copy");
    conn.execute_batch("PRAGMA foreign_keys = ON; BEGIN")
        .expect("BEGIN");
    let refused = match sqlite_run(&conn, sql) {
        Err(_) => None,
        Ok(_) => conn.execute_batch("COMMIT").err().map(|e| e.to_string()),
    };
    drop(conn);
    let _ = std::fs::remove_file(&copy);
    refused
}

/// A policy directory whose only rule is "confirm everything": most tests
/// exercise previews and applies, not policy, and must not depend on the
/// repository's `policies/` (which the binary would read from the crate
/// root). Policy tests pass their own `--policy`.
pub fn permissive_policy() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("permissive.toml"),
            "version = 1\ndefault = \"confirm\"\n",
        )
        .expect("write policy");
        dir
    })
    .path()
}

/// The `dbguard` binary with an isolated environment: its own state
/// directory, no colors, no inherited target variables.
pub fn dbguard(state: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dbguard"));
    cmd.env("XDG_STATE_HOME", state)
        .env("DBGUARD_POLICY", permissive_policy())
        .env("NO_COLOR", "1")
        .env("USER", "tester")
        .env_remove("DATABASE_URL")
        .env_remove("PGHOST")
        .env_remove("PGPORT")
        .env_remove("PGUSER")
        .env_remove("PGPASSWORD")
        .env_remove("PGDATABASE")
        .env_remove("PGSSLMODE")
        .env_remove("PGPASSFILE")
        .env_remove("PGSSLROOTCERT")
        .env_remove("PGCONNECT_TIMEOUT")
        .env_remove("PGAPPNAME")
        .env_remove("PGOPTIONS")
        .env_remove("PGHOSTADDR")
        .env_remove("PGTARGETSESSIONATTRS")
        .env_remove("PGCHANNELBINDING");
    cmd
}

/// Runs `dbguard ARGS` with `stdin` piped in.
pub fn run_with_stdin(args: &[&str], stdin: &str) -> Output {
    let state = tempfile::tempdir().expect("tempdir");
    let mut child = dbguard(state.path())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn dbguard");
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("wait dbguard")
}

/// Runs `dbguard ARGS` with no stdin.
pub fn run(args: &[&str]) -> Output {
    run_with_stdin(args, "")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

// ---- guarded apply and undo (tests/it/apply*.rs) ----

/// Every user table of a Postgres database (not the journal's), each as
/// its rows' text forms (`t::text`), sorted: equal dumps mean equal
/// contents.
pub fn pg_dump_tables(url: &str) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut client = postgres::Client::connect(url, postgres::NoTls).expect("connect to test db");
    pg_dump_in(&mut client)
}

/// [`pg_dump_tables`] through `client`, which may be inside a transaction
/// (what a statement would leave, before its rollback).
pub fn pg_dump_in(
    client: &mut impl postgres::GenericClient,
) -> std::collections::BTreeMap<String, Vec<String>> {
    let tables: Vec<String> = client
        .query(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables \
             WHERE schemaname NOT IN ('pg_catalog', 'information_schema', 'dbguard') ORDER BY 1",
            &[],
        )
        .expect("list tables")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut out = std::collections::BTreeMap::new();
    for t in tables {
        let rows: Vec<String> = client
            .query(
                &format!("SELECT t::text FROM {t} AS t ORDER BY t::text COLLATE \"C\""),
                &[],
            )
            .expect("dump table")
            .iter()
            .map(|r| r.get(0))
            .collect();
        out.insert(t, rows);
    }
    out
}

/// Every table of a SQLite file (not the journal's), each as its rows
/// (`quote()` of every column, so storage classes show), sorted.
pub fn sqlite_dump_tables(path: &Path) -> std::collections::BTreeMap<String, Vec<String>> {
    let conn = rusqlite::Connection::open(path).expect("open sqlite");
    sqlite_dump_in(&conn)
}

/// [`sqlite_dump_tables`] through `conn`, which may be inside a
/// transaction.
pub fn sqlite_dump_in(
    conn: &rusqlite::Connection,
) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut tables: Vec<String> = Vec::new();
    {
        let mut st = conn
            .prepare(
                "SELECT name FROM sqlite_schema WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
                 AND name NOT LIKE 'dbguard\\_%' ESCAPE '\\' ORDER BY name",
            )
            .expect("list tables");
        let rows = st.query_map([], |r| r.get::<_, String>(0)).expect("tables");
        for r in rows {
            tables.push(r.expect("table name"));
        }
    }
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut out = std::collections::BTreeMap::new();
    for t in tables {
        let mut cols: Vec<String> = Vec::new();
        {
            let mut st = conn
                .prepare(&format!(
                    "SELECT name FROM pragma_table_xinfo({})",
                    sqlite_str(&t)
                ))
                .expect("columns");
            let rows = st
                .query_map([], |r| r.get::<_, String>(0))
                .expect("columns");
            for r in rows {
                cols.push(r.expect("column"));
            }
        }
        let expr = cols
            .iter()
            .map(|c| format!("quote({})", q(c)))
            .collect::<Vec<_>>()
            .join(" || '|' || ");
        let mut st = conn
            .prepare(&format!("SELECT {expr} AS r FROM {} ORDER BY r", q(&t)))
            .expect("dump table");
        // Text that is not UTF-8 is shown as its bytes.
        let rows: Vec<String> = st
            .query_map([], |r| Ok(r.get_ref(0)?.as_bytes()?.to_vec()))
            .expect("dump")
            .map(|r| {
                String::from_utf8(r.expect("row"))
                    .unwrap_or_else(|e| format!("<not UTF-8: {:02x?}>", e.into_bytes()))
            })
            .collect();
        out.insert(t, rows);
    }
    out
}

/// A SQL string literal.
pub fn sqlite_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// One operator's machine, for `dbguard` runs against one database: its
/// own state directory (shell history, the audit witness) and the database
/// as the default target (`DATABASE_URL`) of the commands that take
/// `[DB]`. Two of them on one database are two machines of one team.
pub struct JournalDir {
    pub dir: tempfile::TempDir,
    /// The default target.
    pub target: String,
}

impl JournalDir {
    /// A machine working on `target`.
    pub fn on(target: &str) -> JournalDir {
        let dir = tempfile::tempdir().expect("tempdir");
        JournalDir {
            dir,
            target: target.to_owned(),
        }
    }

    /// The audit witness this machine writes.
    pub fn witness(&self) -> PathBuf {
        self.dir.path().join("dbguard").join("audit.jsonl")
    }

    /// `dbguard ARGS` on this machine, with no stdin.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args)
            .stdin(Stdio::null())
            .output()
            .expect("run dbguard")
    }

    /// `dbguard ARGS` on this machine, to spawn as the test needs.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = dbguard(self.dir.path());
        cmd.env("DATABASE_URL", &self.target).args(args);
        cmd
    }
}

/// Creates the dbguard journal in `target`, as `dbguard init` does.
pub fn init_journal(target: &str) {
    let mut conn = dbguard::db::Connection::open(Some(target), &Default::default())
        .unwrap_or_else(|e| panic!("open {target}: {e}"));
    dbguard::journal::init(&mut conn, "tester").unwrap_or_else(|e| panic!("init {target}: {e}"));
}

/// The last JSON object printed on stdout.
pub fn last_json(o: &Output) -> serde_json::Value {
    let out = stdout(o);
    out.lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{') || l.trim_start().starts_with('['))
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| {
            panic!(
                "no JSON on stdout (exit {:?})\nstdout:\n{out}\nstderr:\n{}",
                o.status.code(),
                stderr(o)
            )
        })
}

// ---- Guarded apply / undo journal helpers (apply_types, apply_crash) ----

/// `exec -c SQL --yes --format json` on `j`'s database must succeed;
/// returns its change id.
#[track_caller]
pub fn exec_apply(j: &JournalDir, sql: &str) -> i64 {
    let out = j.run(&["exec", "-c", sql, "--yes", "--format", "json"]);
    assert!(
        out.status.success(),
        "exec {sql:?} failed ({:?})\nstdout: {}\nstderr: {}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    last_json(&out)["change_id"]
        .as_i64()
        .unwrap_or_else(|| panic!("exec JSON has no change_id: {}", stdout(&out)))
}

/// `undo apply ID --yes --format json` on `j`'s database must succeed;
/// returns the undo's own change id.
#[track_caller]
pub fn undo_apply(j: &JournalDir, id: i64) -> i64 {
    let id_s = id.to_string();
    let out = j.run(&["undo", "apply", &id_s, "--yes", "--format", "json"]);
    assert!(
        out.status.success(),
        "undo apply {id} failed ({:?})\nstdout: {}\nstderr: {}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    last_json(&out)["change_id"]
        .as_i64()
        .unwrap_or_else(|| panic!("undo JSON has no change_id: {}", stdout(&out)))
}

/// `undo list --format json` of `j`'s database.
#[track_caller]
pub fn undo_list(j: &JournalDir) -> Vec<serde_json::Value> {
    let out = j.run(&["undo", "list", "--format", "json"]);
    assert!(
        out.status.success(),
        "undo list failed ({:?})\nstdout: {}\nstderr: {}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim())
        .unwrap_or_else(|e| panic!("undo list JSON: {e}\n{}", stdout(&out)));
    v.as_array().cloned().unwrap_or_default()
}

/// Every row of `table` in the server's text form (simple query protocol),
/// ordered by `order_by`, each value tagged with its column name.
pub fn pg_rows_text(
    client: &mut postgres::Client,
    table: &str,
    order_by: &str,
) -> Vec<Vec<(String, Option<String>)>> {
    let mut rows = Vec::new();
    for msg in client
        .simple_query(&format!("SELECT * FROM {table} ORDER BY {order_by}"))
        .expect("select rows")
    {
        if let postgres::SimpleQueryMessage::Row(r) = msg {
            let row = r
                .columns()
                .iter()
                .enumerate()
                .map(|(i, c)| (c.name().to_owned(), r.get(i).map(str::to_owned)))
                .collect();
            rows.push(row);
        }
    }
    rows
}

/// A SQLite value with its storage class, reals by their bits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SqlVal {
    Null,
    Int(i64),
    RealBits(u64),
    Text(Vec<u8>),
    Blob(Vec<u8>),
}

/// Every row of a SQLite query, each value with its storage class.
pub fn sqlite_rows(conn: &rusqlite::Connection, sql: &str) -> Vec<Vec<SqlVal>> {
    use rusqlite::types::ValueRef;
    let mut stmt = conn.prepare(sql).expect("prepare");
    let n = stmt.column_count();
    let mut rows = stmt.query([]).expect("query");
    let mut out = Vec::new();
    while let Some(r) = rows.next().expect("row") {
        let row = (0..n)
            .map(|i| match r.get_ref(i).expect("value") {
                ValueRef::Null => SqlVal::Null,
                ValueRef::Integer(x) => SqlVal::Int(x),
                ValueRef::Real(f) => SqlVal::RealBits(f.to_bits()),
                ValueRef::Text(t) => SqlVal::Text(t.to_vec()),
                ValueRef::Blob(b) => SqlVal::Blob(b.to_vec()),
            })
            .collect();
        out.push(row);
    }
    out
}

// ---- the journal in the target, read and written behind dbguard's back ----

/// Whether `target` names a Postgres database (else it is a SQLite file).
pub fn is_pg(target: &str) -> bool {
    target.starts_with("postgres://") || target.starts_with("postgresql://")
}

/// The journal's table `name` in `target`, as SQL: `dbguard.name` on
/// Postgres, `dbguard_name` on SQLite.
pub fn journal_table(target: &str, name: &str) -> String {
    if is_pg(target) {
        format!("dbguard.{name}")
    } else {
        format!("dbguard_{name}")
    }
}

/// Runs `sql` on `target` with a plain client, as someone with the
/// database's credentials and another client would.
#[track_caller]
pub fn target_batch(target: &str, sql: &str) {
    if is_pg(target) {
        postgres::Client::connect(target, postgres::NoTls)
            .expect("connect to test db")
            .batch_execute(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    } else {
        rusqlite::Connection::open(target)
            .expect("open sqlite")
            .execute_batch(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// The one integer `sql` returns on `target` (a `count(*)`, an id).
#[track_caller]
pub fn target_i64(target: &str, sql: &str) -> i64 {
    if is_pg(target) {
        postgres::Client::connect(target, postgres::NoTls)
            .expect("connect to test db")
            .query_one(&format!("SELECT ({sql})::bigint"), &[])
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .get(0)
    } else {
        rusqlite::Connection::open(target)
            .expect("open sqlite")
            .query_row(sql, [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

/// How many rows the journal's table `name` holds in `target`.
#[track_caller]
pub fn journal_count(target: &str, name: &str) -> i64 {
    target_i64(
        target,
        &format!("SELECT count(*) FROM {}", journal_table(target, name)),
    )
}
