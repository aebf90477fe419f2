//! Connecting when the environment says little, or the port speaks
//! something else (issue 17, item 11): with no user anywhere, the
//! operating system's name for this user, as libpq; a peer that does not
//! speak the PostgreSQL protocol is named as such, with what to check.

use std::io::{Read, Write};
use std::net::TcpListener;

use crate::helpers::*;

/// This process's user name as the system reports it.
fn os_user() -> String {
    let out = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn with_no_user_anywhere_the_os_user_connects() {
    let db = PgDb::new();
    // The admin URL without its user.
    let url = db.url.replacen("postgres@", "", 1);
    assert!(!url.contains('@'), "{url}");
    let state = tempfile::tempdir().unwrap();
    let out = dbguard(state.path())
        .env_remove("USER")
        .env_remove("LOGNAME")
        .args(["exec", &url, "-c", "select current_user"])
        .output()
        .unwrap();
    let (text, err) = (stdout(&out), stderr(&out));
    assert!(!err.contains("no user name"), "{err}");
    // Connected as that user, or refused by the server naming it: either
    // way, it is the user libpq would have used.
    let user = os_user();
    assert!(
        text.contains(&format!(" {user}\n")) || err.contains(&format!("\"{user}\"")),
        "{text}{err}"
    );
}

/// A one-connection server on a free port that answers with `reply`,
/// first or after reading what the client sent.
fn not_postgres(reply: &'static [u8], greets_first: bool) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(2) {
            let Ok(mut s) = stream else { continue };
            if !greets_first {
                let mut buf = [0u8; 512];
                let _ = s.read(&mut buf);
            }
            let _ = s.write_all(reply);
            let _ = s.flush();
            // Take what the client sends next, so closing does not reset
            // the connection before it has read the reply; a client that
            // waits for the rest of a "message" gets the end of the stream.
            let _ = s.set_read_timeout(Some(std::time::Duration::from_millis(500)));
            let mut rest = [0u8; 512];
            let _ = s.read(&mut rest);
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    });
    port
}

#[test]
fn a_port_that_speaks_something_else_is_named_as_such() {
    // A MySQL greeting, sent before the client says anything.
    let mysql: &[u8] =
        b"\x4a\x00\x00\x00\x0a5.5.5-10.11.6-MariaDB\x00\x08\x00\x00\x00abcdefgh\x00\xfe\xf7";
    // An HTTP server answering whatever arrives.
    let http: &[u8] = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    for (reply, first, sslmode) in [
        (mysql, true, "disable"),
        (http, false, "disable"),
        (http, false, "prefer"),
    ] {
        let port = not_postgres(reply, first);
        let url = format!("postgres://postgres@127.0.0.1:{port}/x?sslmode={sslmode}");
        let out = run(&["exec", &url, "-c", "select 1"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains(&format!(
                "the server at 127.0.0.1:{port} did not speak the PostgreSQL protocol as expected"
            )),
            "{sslmode}: {err}"
        );
        assert!(err.contains("connection pooler"), "{err}");
    }
}

/// With `$USER` unset, the operator on record is the operating system's
/// name for this user too, not `unknown`.
#[test]
fn with_no_user_anywhere_the_os_user_is_the_operator() {
    let db = SqliteDb::with("create table t(a integer);");
    let state = tempfile::tempdir().unwrap();
    let out = dbguard(state.path())
        .env_remove("USER")
        .env_remove("LOGNAME")
        .args(["exec", &db.target(), "-c", "select 1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let witness = state.path().join("dbguard").join("audit.jsonl");
    let audit = std::fs::read_to_string(&witness).unwrap_or_default();
    let user = os_user();
    assert!(
        audit.contains(&format!("\"operator\":\"{user}\"")),
        "not {user} on record:\n{audit}"
    );
}

/// A peer that accepts and then says nothing held the session forever:
/// the driver's timeout covers opening the socket only. Connecting now
/// gives up at `connect_timeout`, naming the host.
#[test]
fn a_port_that_never_answers_is_given_up_at_connect_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(4) {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
            held.push(s);
        }
        std::thread::sleep(std::time::Duration::from_secs(30));
    });
    let state = tempfile::tempdir().unwrap();
    let url = format!("postgres://postgres@127.0.0.1:{port}/x?sslmode=disable&connect_timeout=2");
    let started = std::time::Instant::now();
    let out = dbguard(state.path())
        .args(["exec", &url, "-c", "select 1"])
        .output()
        .unwrap();
    let waited = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no answer from 127.0.0.1 within 2 s"),
        "{}",
        stderr(&out)
    );
    assert!(waited < std::time::Duration::from_secs(20), "{waited:?}");
}
