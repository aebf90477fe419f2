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
}

/// The `dbguard` binary with an isolated environment: its own state
/// directory, no colors, no inherited target variables.
pub fn dbguard(state: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dbguard"));
    cmd.env("XDG_STATE_HOME", state)
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
