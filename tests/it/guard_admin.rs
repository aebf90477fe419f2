//! Issue 15, finding 2: `pg_terminate_backend` and `pg_cancel_backend` are
//! refused in a read, but an administrator who must end a session can: typed
//! as one call on a literal pid, the statement is a change of kind `admin`,
//! previewed with the session it acts on, judged by policy, journaled and
//! audited, and never undone. The engine is the oracle: the session really
//! ends (or its query is really cancelled), and only when applied.

use std::time::{Duration, Instant};

use dbguard::db::Engine;

use crate::apply::{Db, assert_exit};
use crate::helpers::*;

/// A second session on `db`, named so the preview can be checked.
fn victim(db: &Db, application: &str) -> (postgres::Client, i32) {
    let Db::Pg(pg) = db else {
        panic!("a PostgreSQL database")
    };
    let mut config: postgres::Config = pg.url.parse().expect("url");
    config.application_name(application);
    let mut client = config.connect(postgres::NoTls).expect("connect");
    let pid: i32 = client
        .query_one("SELECT pg_backend_pid()", &[])
        .expect("pid")
        .get(0);
    (client, pid)
}

/// Sessions with `pid` on the server now.
fn sessions(db: &Db, pid: i32) -> i64 {
    let Db::Pg(pg) = db else {
        panic!("a PostgreSQL database")
    };
    pg.client()
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
            &[&pid],
        )
        .expect("pg_stat_activity")
        .get(0)
}

/// Whether session `pid` leaves the server within ten seconds (a
/// terminated backend takes a moment to go).
fn ends(db: &Db, pid: i32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while sessions(db, pid) > 0 {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// Whether session `pid` is still there, and its client still answered,
/// after a moment a signal would have taken effect in.
fn kept(db: &Db, pid: i32, client: &mut postgres::Client) -> bool {
    std::thread::sleep(Duration::from_millis(200));
    sessions(db, pid) == 1 && client.simple_query("SELECT 1").is_ok()
}

#[test]
fn pg_terminate_backend_is_a_guarded_change_naming_the_session() {
    let db = Db::new(Engine::Postgres, "CREATE TABLE t (id integer PRIMARY KEY);");
    let j = db.machine();
    let target = db.target();
    let (mut client, pid) = victim(&db, "stuck-report");
    client
        .batch_execute("BEGIN; SELECT count(*) FROM t;")
        .expect("open a transaction");
    let sql = format!("SELECT pg_terminate_backend({pid})");

    let o = j.run(&["exec", &target, "-c", &sql, "--dry-run"]);
    assert_exit(&o, 0, "dry run of a terminate");
    let shown = stdout(&o);
    for part in [
        &format!("terminate session {pid}"),
        "stuck-report",
        "idle in transaction",
        "SELECT count(*) FROM t",
        "This cannot be undone",
    ] {
        assert!(shown.contains(part), "the preview lacks {part:?}:\n{shown}");
    }
    assert!(kept(&db, pid, &mut client), "a dry run ended the session");

    let o = j.run(&["exec", &target, "-c", &sql, "--yes", "--format", "json"]);
    assert_exit(&o, 0, "terminate --yes");
    let v = last_json(&o);
    assert_eq!(v["session"]["application"], "stuck-report", "{v}");
    let id = v["change_id"].as_i64().expect("a change id");
    assert!(ends(&db, pid), "the session survived its terminate");
    assert!(
        client.simple_query("SELECT 1").is_err(),
        "the terminated client still runs queries"
    );

    let listed = j.run(&["undo", "list", &target, "--format", "json"]);
    assert_exit(&listed, 0, "undo list");
    assert!(stdout(&listed).contains("\"admin\""), "{}", stdout(&listed));
    let ids = id.to_string();
    let o = j.run(&["undo", "apply", &ids, "--yes"]);
    assert_exit(&o, 1, "undo of a terminate");
    assert!(
        stderr(&o).contains("no undo can bring back"),
        "{}",
        stderr(&o)
    );
    let o = j.run(&["undo", "export", &ids]);
    assert_exit(&o, 1, "export of a terminate's undo");
    assert!(
        stderr(&o).contains("no script can bring back"),
        "{}",
        stderr(&o)
    );

    let o = j.run(&["audit", "verify", &target]);
    assert_exit(&o, 0, "audit verify after an admin change");
    let o = run(&["audit", "show", &target, "--format", "json"]);
    let trail: Vec<serde_json::Value> = serde_json::from_str(stdout(&o).trim()).expect("json");
    let record = trail
        .iter()
        .find(|r| r["change_id"].as_i64() == Some(id))
        .expect("the change's record");
    assert_eq!(record["event"], "admin");
    assert_eq!(record["detail"]["admin"]["session"]["pid"], pid);
}

#[test]
fn pg_cancel_backend_cancels_the_running_query_and_keeps_the_session() {
    let db = Db::new(Engine::Postgres, "");
    let j = db.machine();
    let target = db.target();
    let (mut client, pid) = victim(&db, "long-query");
    let sleeper = std::thread::spawn(move || {
        let r = client.simple_query("SELECT pg_sleep(60)");
        let code = r.err().and_then(|e| e.code().cloned());
        let after = client.simple_query("SELECT 1").is_ok();
        (code, after)
    });
    let Db::Pg(pg) = &db else { unreachable!() };
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let active: i64 = pg
            .client()
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND state = 'active'",
                &[&pid],
            )
            .expect("activity")
            .get(0);
        if active == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let sql = format!("select pg_catalog.pg_cancel_backend({pid})");
    let o = j.run(&["exec", &target, "-c", &sql, "--yes"]);
    assert_exit(&o, 0, "cancel --yes");
    assert!(
        stdout(&o).contains("pg_sleep(60)"),
        "the preview does not show the query it cancels:\n{}",
        stdout(&o)
    );
    let (code, after) = sleeper.join().expect("the sleeping client");
    assert_eq!(code, Some(postgres::error::SqlState::QUERY_CANCELED));
    assert!(after, "cancelling the query ended the session");
}

/// Policy judges the kind: a rule denying `admin` stops it before anything
/// is sent; a pid no session has fails the preview; nothing is journaled.
#[test]
fn pg_admin_changes_are_judged_and_need_a_live_session() {
    let db = Db::new(Engine::Postgres, "");
    let j = db.machine();
    let target = db.target();
    let (mut client, pid) = victim(&db, "kept");
    let policy = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        policy.path().join("policy.toml"),
        "version = 1\ndefault = \"allow\"\n\n[[rule]]\nname = \"no-kills\"\noperations = [\"admin\"]\nverdict = \"deny\"\nmessage = \"ask the on-call DBA\"\n",
    )
    .expect("policy");
    let sql = format!("SELECT pg_terminate_backend({pid})");
    let policy_dir = policy.path().to_str().expect("path");
    let o = j.run(&["--policy", policy_dir, "exec", &target, "-c", &sql, "--yes"]);
    assert_exit(&o, 2, "a denied terminate");
    assert!(stderr(&o).contains("no-kills"), "{}", stderr(&o));
    assert!(
        kept(&db, pid, &mut client),
        "a denied terminate ended the session"
    );

    let o = j.run(&[
        "exec",
        &target,
        "-c",
        "SELECT pg_terminate_backend(2147483647)",
        "--yes",
    ]);
    assert_exit(&o, 5, "a terminate of no session");
    assert!(
        format!("{}{}", stdout(&o), stderr(&o)).contains("no session has pid 2147483647"),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
    let listed = j.run(&["undo", "list", &target, "--format", "json"]);
    assert_eq!(stdout(&listed).trim(), "[]", "something was journaled");
}

/// The policy that judges an admin change is the connected database's: a
/// session of another database on the same server is refused (its own
/// database's policy would judge it there), and stays up.
#[test]
fn pg_a_session_of_another_database_is_not_this_ones_to_end() {
    let db = Db::new(Engine::Postgres, "");
    let other = Db::new(Engine::Postgres, "");
    let j = db.machine();
    let target = db.target();
    let (mut client, pid) = victim(&other, "elsewhere");
    let sql = format!("SELECT pg_terminate_backend({pid})");
    let o = j.run(&["exec", &target, "-c", &sql, "--yes"]);
    assert_exit(&o, 5, "a terminate of another database's session");
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(all.contains("is connected to database"), "{all}");
    assert!(
        kept(&other, pid, &mut client),
        "another database's session was ended"
    );
}
