//! Connecting to PostgreSQL the way psql does: URLs, key=value conninfo,
//! the PG* environment, `.pgpass`, Unix sockets, TLS modes, and one clear
//! line (plus what to do) for each way a connection can fail.
//!
//! The password and TLS tests run against a throwaway cluster
//! (`crate::cluster`) that checks the password of the role `dbguard_pw`
//! and serves a certificate made for it: the shared server is never
//! reconfigured.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use crate::cluster::{Cluster, Setup};
use crate::helpers::*;

/// The role whose password the throwaway cluster checks.
const PW_ROLE: &str = "dbguard_pw";
const PW_RIGHT: &str = "right-pw";
const SOCKET_DIR: &str = "/var/run/postgresql";

/// Host, port and user of the admin URL, to build other target forms.
struct Admin {
    host: String,
    port: u16,
    user: String,
}

fn admin() -> Admin {
    let url = pg_admin_url();
    let cfg: postgres::Config = url.parse().expect("DBGUARD_TEST_PG parses");
    let host = match cfg.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        other => panic!("these tests need a TCP host in DBGUARD_TEST_PG, got {other:?}"),
    };
    Admin {
        host,
        port: cfg.get_ports().first().copied().unwrap_or(5432),
        user: cfg.get_user().unwrap_or("postgres").to_owned(),
    }
}

/// Adds a query parameter to a URL.
fn with_param(url: &str, param: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{param}")
}

/// Runs `dbguard exec [TARGET] -c SQL --format json` with extra env vars.
fn exec_env(target: Option<&str>, sql: &str, envs: &[(&str, &str)]) -> Output {
    let state = tempfile::tempdir().expect("tempdir");
    let mut cmd = dbguard(state.path());
    cmd.arg("exec");
    if let Some(t) = target {
        cmd.arg(t);
    }
    cmd.args(["-c", sql, "--format", "json"]);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run dbguard")
}

fn exec(target: &str, sql: &str) -> Output {
    exec_env(Some(target), sql, &[])
}

/// The single value of a one-row, one-column JSON result.
fn scalar(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(out));
    let v: serde_json::Value = serde_json::from_str(stdout(out).trim())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)));
    v["rows"][0][0]
        .as_str()
        .unwrap_or_else(|| panic!("no scalar in {v}"))
        .to_owned()
}

const SSL_IN_USE: &str = "select ssl from pg_stat_ssl where pid = pg_backend_pid()";

/// Asserts a failed connection: exit 1, and the message is one line of
/// cause plus one line of advice.
fn assert_connect_error(out: &Output, first_line_has: &[&str]) -> String {
    let err = stderr(out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {}\nstderr: {err}",
        stdout(out)
    );
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "want cause + advice, got:\n{err}");
    for needle in first_line_has {
        assert!(
            lines[0].contains(needle),
            "first line lacks {needle:?}:\n{err}"
        );
    }
    err
}

/// A throwaway cluster that checks `dbguard_pw`'s password (everyone
/// else is trusted) and serves TLS with a certificate for `localhost`.
fn checked_cluster() -> Cluster {
    let cluster = Cluster::start_with(&Setup {
        hba_first: vec![format!("host all {PW_ROLE} 127.0.0.1/32 scram-sha-256")],
        tls: true,
    });
    cluster
        .client("postgres")
        .batch_execute(&format!(
            "CREATE ROLE {PW_ROLE} LOGIN PASSWORD '{PW_RIGHT}'"
        ))
        .expect("create role dbguard_pw");
    cluster
}

fn pgpass_file(dir: &Path, contents: &str, mode: u32) -> String {
    let path = dir.join("pgpass");
    std::fs::write(&path, contents).expect("write pgpass");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod pgpass");
    path.display().to_string()
}

#[test]
fn sslmode_require_uses_tls() {
    let cluster = checked_cluster();
    assert_eq!(
        scalar(&exec(
            &with_param(&cluster.url("postgres"), "sslmode=require"),
            SSL_IN_USE
        )),
        "t"
    );
}

#[test]
fn sslmode_disable_is_plain() {
    let db = PgDb::new();
    assert_eq!(
        scalar(&exec(&with_param(&db.url, "sslmode=disable"), SSL_IN_USE)),
        "f"
    );
}

#[test]
fn pgsslmode_from_environment() {
    let db = PgDb::new();
    let out = exec_env(Some(&db.url), SSL_IN_USE, &[("PGSSLMODE", "disable")]);
    assert_eq!(scalar(&out), "f");
}

#[test]
fn verify_ca_with_the_servers_root() {
    let cluster = checked_cluster();
    let url = with_param(
        &cluster.url("postgres"),
        &format!("sslmode=verify-ca&sslrootcert={}", cluster.root_cert()),
    );
    assert_eq!(scalar(&exec(&url, SSL_IN_USE)), "t");
}

#[test]
fn verify_full_checks_the_host_name() {
    let cluster = checked_cluster();
    let (port, root) = (cluster.port, cluster.root_cert());
    // The certificate names "localhost": right name, forced to the
    // cluster's address.
    let good = format!(
        "host=localhost hostaddr=127.0.0.1 port={port} user=postgres dbname=postgres \
         sslmode=verify-full sslrootcert={root}"
    );
    assert_eq!(scalar(&exec(&good, SSL_IN_USE)), "t");
    // An IP address is not the name in the certificate.
    let bad = format!(
        "host=127.0.0.1 port={port} user=postgres dbname=postgres sslmode=verify-full sslrootcert={root}"
    );
    let err = assert_connect_error(&exec(&bad, SSL_IN_USE), &["TLS handshake with 127.0.0.1"]);
    assert!(err.contains("host name"), "{err}");
}

#[test]
fn verify_full_without_root_certificate_says_so() {
    let home = tempfile::tempdir().expect("tempdir");
    let db = PgDb::new();
    let out = exec_env(
        Some(&with_param(&db.url, "sslmode=verify-full")),
        "select 1",
        &[("HOME", home.path().to_str().expect("utf-8 temp path"))],
    );
    let err = assert_connect_error(
        &out,
        &["sslmode=verify-full needs a root certificate", "root.crt"],
    );
    assert!(err.contains("sslrootcert=system"), "{err}");
}

#[test]
fn keyword_value_conninfo_works() {
    let a = admin();
    let db = PgDb::new();
    let spec = format!(
        "host={} port={} user='{}' dbname='{}' application_name='dbguard conninfo test'",
        a.host, a.port, a.user, db.name
    );
    assert_eq!(scalar(&exec(&spec, "select current_database()")), db.name);
    assert_eq!(
        scalar(&exec(&spec, "select current_setting('application_name')")),
        "dbguard conninfo test"
    );
}

#[test]
fn pg_environment_used_without_target() {
    let a = admin();
    let db = PgDb::new();
    let port = a.port.to_string();
    let out = exec_env(
        None,
        "select current_database() || ' ' || current_user",
        &[
            ("PGHOST", &a.host),
            ("PGPORT", &port),
            ("PGUSER", &a.user),
            ("PGDATABASE", &db.name),
        ],
    );
    assert_eq!(scalar(&out), format!("{} {}", db.name, a.user));
}

#[test]
fn database_url_used_without_target() {
    let db = PgDb::new();
    let out = exec_env(
        None,
        "select current_database()",
        &[("DATABASE_URL", &db.url)],
    );
    assert_eq!(scalar(&out), db.name);
}

#[test]
fn unix_socket_host_works_and_never_uses_tls() {
    let a = admin();
    let socket = format!("{SOCKET_DIR}/.s.PGSQL.{}", a.port);
    if !Path::new(&socket).exists() {
        eprintln!("note: no socket {socket} on this machine; socket test not applicable");
        return;
    }
    let db = PgDb::new();
    // libpq does not do SSL over Unix sockets, even with sslmode=require.
    let spec = format!(
        "host={SOCKET_DIR} port={} user={} dbname={} sslmode=require",
        a.port, a.user, db.name
    );
    assert_eq!(scalar(&exec(&spec, SSL_IN_USE)), "f");
    let url = format!(
        "postgresql://{}@%2Fvar%2Frun%2Fpostgresql:{}/{}",
        a.user, a.port, db.name
    );
    assert_eq!(scalar(&exec(&url, "select current_database()")), db.name);
}

#[test]
fn missing_socket_is_named() {
    let out = exec(
        "host=/nonexistent-dbguard-dir port=5432 user=x dbname=y",
        "select 1",
    );
    assert_connect_error(
        &out,
        &[
            "Unix socket /nonexistent-dbguard-dir/.s.PGSQL.5432",
            "no such socket",
        ],
    );
}

#[test]
fn missing_database_is_one_clear_line() {
    let url = replace_dbname(&pg_admin_url(), "dbguard_no_such_database");
    let err = assert_connect_error(
        &exec(&url, "select 1"),
        &["database \"dbguard_no_such_database\" does not exist on server"],
    );
    assert!(err.starts_with("dbguard: "), "{err}");
}

#[test]
fn unreachable_port_is_one_clear_line() {
    let out = exec("postgres://postgres@127.0.0.1:1/postgres", "select 1");
    assert_connect_error(&out, &["127.0.0.1:1", "connection refused"]);
}

#[test]
fn unknown_host_is_named() {
    let out = exec(
        "postgres://postgres@no-such-host.invalid/postgres",
        "select 1",
    );
    assert_connect_error(&out, &["cannot resolve host name \"no-such-host.invalid\""]);
}

#[test]
fn bad_targets_are_input_errors() {
    let cases = [
        (
            "postgres://postgres@127.0.0.1/db?sslmode=bogus",
            "invalid sslmode value \"bogus\"",
        ),
        (
            "host=127.0.0.1 frobnicate=1",
            "unknown connection option \"frobnicate\"",
        ),
        (
            "host=127.0.0.1 sslcert=/x.pem",
            "\"sslcert\" is not supported",
        ),
        ("host='127.0.0.1", "unterminated quoted value"),
        (
            "postgres://postgres@127.0.0.1:99999/db",
            "invalid port number \"99999\"",
        ),
        (
            "postgres://postgres@127.0.0.1/d%zz",
            "invalid percent-encoding",
        ),
    ];
    for (target, want) in cases {
        let out = exec(target, "select 1");
        assert_connect_error(&out, &[want]);
    }
}

#[test]
fn wrong_password_is_authentication_failed() {
    let cluster = checked_cluster();
    let port = cluster.port;
    let url = format!("postgres://{PW_ROLE}:wrong-pw@127.0.0.1:{port}/postgres");
    let out = exec(&url, "select current_user");
    let err = assert_connect_error(
        &out,
        &[
            "authentication failed for user \"dbguard_pw\"",
            &format!("127.0.0.1:{port}"),
        ],
    );
    assert!(
        !err.contains("wrong-pw"),
        "the password must never be printed: {err}"
    );
}

#[test]
fn pgpass_supplies_the_password() {
    let cluster = checked_cluster();
    let port = cluster.port;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = pgpass_file(
        dir.path(),
        &format!(
            "# dbguard test\n\
             127.0.0.1:{port}:*:someone_else:not-this\n\
             127.0.0.1:{port}:*:{PW_ROLE}:{PW_RIGHT}\n\
             *:*:*:*:not-this-either\n"
        ),
        0o600,
    );
    let url = format!("postgres://{PW_ROLE}@127.0.0.1:{port}/postgres");
    let out = exec_env(Some(&url), "select current_user", &[("PGPASSFILE", &file)]);
    assert_eq!(scalar(&out), PW_ROLE);
    // The same without the file must fail, or the password was never checked.
    let out = exec_env(
        Some(&url),
        "select current_user",
        &[("PGPASSFILE", "/nonexistent/pgpass")],
    );
    assert_connect_error(&out, &["authentication failed", "none was given"]);
}

#[test]
fn group_readable_pgpass_is_ignored_with_a_warning() {
    let cluster = checked_cluster();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = pgpass_file(dir.path(), &format!("*:*:*:{PW_ROLE}:{PW_RIGHT}\n"), 0o644);
    let url = format!("postgres://{PW_ROLE}@127.0.0.1:{}/postgres", cluster.port);
    let out = exec_env(Some(&url), "select 1", &[("PGPASSFILE", &file)]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("has group or world access; permissions should be u=rw (0600) or less"),
        "{err}"
    );
}

#[test]
fn cancel_request_uses_the_connections_tls() {
    let cluster = checked_cluster();
    let url = with_param(&cluster.url("postgres"), "sslmode=require");
    let mut conn =
        dbguard::db::postgres::PgConnection::connect(&url).expect("connect with sslmode=require");
    assert!(conn.identity().tls.is_some(), "the session should be TLS");
    let canceller = conn.canceller();
    let started = std::time::Instant::now();
    let cancel = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(500));
        canceller.cancel();
    });
    let res = conn.client().simple_query("select pg_sleep(30)");
    cancel.join().expect("cancel thread");
    let err = res.expect_err("the sleep should have been cancelled");
    assert_eq!(
        err.as_db_error().map(|d| d.code().clone()),
        Some(postgres::error::SqlState::QUERY_CANCELED),
        "{err}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}
