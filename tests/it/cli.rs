//! The command line: targets, exit codes, exec output.

use crate::helpers::*;

#[test]
fn missing_sqlite_file_is_one_clear_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.sqlite");
    let out = run(&["exec", path.to_str().unwrap(), "-c", "select 1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.starts_with("dbguard: SQLite file not found:"), "{err}");
    assert!(!path.exists(), "a missing file must not be created");
}

/// A usage error is bad input, exit 1: clap's own 2 would read as "denied
/// by policy" to a script checking the documented codes. Help and version
/// are not errors.
#[test]
fn usage_errors_exit_1_not_the_policy_denial_code() {
    for args in [
        &["exec", "--no-such-flag"][..],
        &["undo", "list", "--limit", "-1"],
        &["no-such-command-or-file", "extra", "words"],
    ] {
        let out = run(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("error:") && err.contains("Usage"),
            "{args:?}: {err}"
        );
    }
    for args in [&["--help"][..], &["--version"], &["undo", "list", "--help"]] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(!stdout(&out).is_empty(), "{args:?}");
    }
}

#[test]
fn not_a_sqlite_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.txt");
    std::fs::write(&path, "hello, this is not a database at all").unwrap();
    let out = run(&["exec", path.to_str().unwrap(), "-c", "select 1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is not a SQLite database"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unknown_scheme_is_named() {
    let out = run(&["exec", "mysql://root@localhost/test", "-c", "select 1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("unknown target scheme 'mysql://'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn exec_json_read_on_sqlite() {
    let db = SqliteDb::with(
        "create table t(a integer, b text, c real, d blob); insert into t values (1, 'x', 1.5, x'00ff'), (2, null, null, null);",
    );
    let out = run(&[
        "exec",
        &db.target(),
        "-c",
        "select * from t order by a",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "columns": ["a", "b", "c", "d"],
            "rows": [["1", "x", "1.5", "\\x00ff"], ["2", null, null, null]],
            "row_count": 2
        })
    );
}

#[test]
fn exec_json_read_on_postgres_uses_text_form() {
    let db = PgDb::new();
    let out = run(&[
        "exec",
        &db.url,
        "-c",
        "select 1::int as a, null::text as b, '{1,2}'::int[] as c, 1.50::numeric as d; select 'x'",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines[0],
        serde_json::json!({"columns": ["a", "b", "c", "d"], "rows": [["1", null, "{1,2}", "1.50"]], "row_count": 1})
    );
    assert_eq!(lines[1]["rows"], serde_json::json!([["x"]]));
}

#[test]
fn exec_refuses_a_write_with_what_it_recognised() {
    let db = SqliteDb::with("create table t(a integer); insert into t values (1);");
    init_journal(&db.target());
    let out = run(&[
        "exec",
        &db.target(),
        "-c",
        "delete from t where a = 1",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(v["kind"], "delete");
    assert_eq!(v["target"]["table"], "t");
    assert_eq!(v["target"]["rows"], 1);
    let error = v["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("DELETE on t WHERE a = 1: not applied"),
        "{error}"
    );
    let n: i64 = db
        .conn()
        .query_row("select count(*) from t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn global_options_are_accepted_before_and_after_the_subcommand() {
    let db = SqliteDb::with("create table t(a integer); insert into t values (1);");
    let policy = tempfile::tempdir().unwrap();
    let witness = policy.path().join("audit.jsonl");
    for args in [
        vec![
            "--policy",
            policy.path().to_str().unwrap(),
            "--as",
            "bob",
            "exec",
            &db.target(),
            "-c",
            "select a from t",
        ],
        vec![
            "exec",
            "--policy",
            policy.path().to_str().unwrap(),
            "--as",
            "bob",
            &db.target(),
            "-c",
            "select a from t",
        ],
        vec![
            "exec",
            &db.target(),
            "-c",
            "select a from t",
            "--audit-log",
            witness.to_str().unwrap(),
            "--as",
            "bob",
        ],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(
            stdout(&out).lines().any(|l| l.trim() == "1"),
            "{args:?}: {}",
            stdout(&out)
        );
    }
    // The shell is the default subcommand, with or without global options first.
    for args in [
        vec![db.target()],
        vec!["--as".into(), "bob".into(), db.target()],
        vec!["shell".into(), db.target()],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run_with_stdin(&args, "select a + 1 as b from t;\n");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(
            stdout(&out).lines().any(|l| l.trim() == "2"),
            "{args:?}: {}",
            stdout(&out)
        );
    }
}

/// Shell options typed before the subcommand are the subcommand's
/// (issue 17, item 4): they were silently dropped, so `--display-limit 2
/// exec` printed every row and `--statement-timeout 0.3 exec` ran without
/// a limit.
#[test]
fn shell_options_before_the_subcommand_are_honoured() {
    use dbguard::cli::{Cli, Command};
    let parsed = Cli::parse_placed_from([
        "dbguard",
        "--display-limit",
        "2",
        "--statement-timeout",
        "0.3",
        "--lock-timeout",
        "0.1",
        "--env",
        "production",
        "--preview-timeout",
        "4",
        "--detail",
        "--allow-uncovered",
        "db.sqlite",
        "exec",
        "-c",
        "select 1",
    ])
    .unwrap();
    let Some(Command::Exec(exec)) = parsed.command else {
        panic!("not exec: {:?}", parsed.command)
    };
    assert_eq!(exec.display.display_limit, 2);
    assert_eq!(exec.display.env.as_deref(), Some("production"));
    assert_eq!(exec.apply.statement_timeout, Some(0.3));
    assert_eq!(exec.apply.lock_timeout, Some(0.1));
    assert_eq!(exec.preview.preview_timeout, 4.0);
    assert!(exec.preview.detail && exec.apply.allow_uncovered);
    assert_eq!(exec.target.as_deref(), Some("db.sqlite"));

    let db = SqliteDb::with("create table t(a integer); insert into t values (1),(2),(3),(4);");
    let out = run(&[
        "--display-limit",
        "2",
        "exec",
        &db.target(),
        "-c",
        "select a from t order by a",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("showing the first 2 of 4 rows"),
        "{}",
        stdout(&out)
    );
    let out = run(&[&db.target(), "exec", "-c", "select a from t where a = 3"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the DB before exec: {}",
        stderr(&out)
    );
}

/// An option the subcommand does not take, or one given on both sides, is
/// refused: never ignored.
#[test]
fn shell_options_a_subcommand_cannot_take_are_refused() {
    let db = SqliteDb::with("create table t(a integer);");
    for (args, says) in [
        (
            vec!["--display-limit", "2", "undo", "list", &db.target()],
            "--display-limit is an option of the shell, exec and demo, not of `undo`",
        ),
        (
            vec![
                "--env",
                "prod",
                "exec",
                "--env",
                "prod",
                &db.target(),
                "-c",
                "select 1",
            ],
            "--env was given both before and after `exec`",
        ),
        (
            vec![&db.target(), "demo", "--no-shell"],
            "`demo` takes no database",
        ),
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stdout(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
}

/// Runs `dbguard ARGS` with stdout (and, with `both`, stderr) writing into
/// a pipe nobody reads any more, as after `| head -1`: every write fails
/// with EPIPE. Returns the exit status and what went to stderr.
fn run_into_closed_pipe(args: &[&str], both: bool) -> (Option<i32>, String) {
    use std::os::fd::OwnedFd;
    use std::os::unix::net::UnixStream;
    let state = tempfile::tempdir().unwrap();
    // A socket whose other end is closed answers writes with EPIPE, as a
    // pipe does once its reader has left.
    let (gone, end) = UnixStream::pair().unwrap();
    drop(gone);
    let mut cmd = dbguard(state.path());
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .stdout(OwnedFd::from(end.try_clone().unwrap()));
    if both {
        cmd.stderr(OwnedFd::from(end));
    } else {
        cmd.stderr(std::process::Stdio::piped());
    }
    let out = cmd.output().unwrap();
    (out.status.code(), stderr(&out))
}

/// `dbguard --help 2>&1 | head -1`: the reader leaves before the help text
/// is written. That is no failure of dbguard's: exit 0, and never a panic
/// (which would be status 101).
#[test]
fn help_into_a_closed_pipe_exits_quietly() {
    for args in [&["--help"][..], &["exec", "--help"], &["--version"]] {
        let (code, _) = run_into_closed_pipe(args, true);
        assert_eq!(code, Some(0), "{args:?}");
    }
}

/// `dbguard exec DB -c 'select generate_series(1,100000)' | head -1`:
/// a result far larger than a pipe holds, in both formats, ends quietly
/// with status 0 when its reader has gone, whether or not stderr is still
/// open.
#[test]
fn exec_into_a_closed_pipe_exits_quietly() {
    let db = PgDb::new();
    let sql = "select generate_series(1,100000)";
    for format in ["text", "json"] {
        let args = [
            "exec",
            &db.url,
            "-c",
            sql,
            "--format",
            format,
            "--display-limit",
            "100000",
        ];
        let (code, err) = run_into_closed_pipe(&args, false);
        assert_eq!(code, Some(0), "{format}: {err}");
        assert!(err.is_empty(), "{format}: quiet, but said: {err}");
        let (code, _) = run_into_closed_pipe(&args, true);
        assert_eq!(code, Some(0), "{format}, stderr closed too");
    }
}

/// An error said to a closed stderr (`dbguard ... 2>&1 | head -1` after
/// head left) is no panic: the exit status still tells what happened.
#[test]
fn an_error_into_a_closed_stderr_keeps_its_status_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.sqlite");
    let missing = missing.to_str().unwrap();
    for args in [&["exec", missing, "-c", "select 1"][..], &[missing]] {
        let (code, _) = run_into_closed_pipe(args, true);
        assert_eq!(code, Some(1), "{args:?}");
    }
}
