//! `undo replay` into another database, `undo show`, and `\undo` in a
//! piped shell (which must not undo without a terminal).

use crate::helpers::*;

const SCHEMA: &str = "CREATE TABLE p (id integer PRIMARY KEY, name text);
     CREATE TABLE c (id integer PRIMARY KEY, pid integer REFERENCES p ON DELETE CASCADE, note text);
     INSERT INTO p VALUES (1, 'one'), (2, 'two'), (3, 'three');
     INSERT INTO c VALUES (10, 1, 'a'), (11, 1, 'b'), (12, 2, 'c');";

#[test]
fn replay_restores_a_change_into_another_database_sqlite() {
    let prod = SqliteDb::with(SCHEMA);
    // The staging copy starts as production did, then gets the same change
    // by other means (as a restored backup taken after the change would).
    let staging = SqliteDb::with(SCHEMA);
    let before = sqlite_dump_tables(&prod.path);
    let j = JournalDir::new();
    let out = j.run(&[
        "exec",
        &prod.target(),
        "-c",
        "DELETE FROM p WHERE id = 1",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    staging
        .conn()
        .execute_batch("PRAGMA foreign_keys=ON; DELETE FROM p WHERE id = 1;")
        .unwrap();

    // Dry run: the plan, and nothing changes.
    let other = JournalDir::new();
    let src = j.path.to_str().unwrap();
    let out = other.run(&[
        "undo",
        "replay",
        "--from",
        src,
        "--to",
        &staging.target(),
        "--dry-run",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("re-insert 1"), "{}", stdout(&out));
    assert_ne!(sqlite_dump_tables(&staging.path), before);

    let out = other.run(&[
        "undo",
        "replay",
        "--from",
        src,
        "--to",
        &staging.target(),
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(sqlite_dump_tables(&staging.path), before);
    // The replaying journal holds its own copy of the rows: a reference
    // to a chunk of the source journal could not be read from it.
    let (copies, refs): (i64, i64) = rusqlite::Connection::open(&other.path)
        .unwrap()
        .query_row(
            "SELECT count(*) FILTER (WHERE data <> ''), count(ref_change) FROM change_chunks WHERE op = 'insert'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((copies, refs), (2, 0));
    // Production is untouched by the replay, and the replay is journaled in
    // the replaying journal, not in the source.
    assert_ne!(sqlite_dump_tables(&prod.path), before);
    let list = other.run(&["undo", "list", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(stdout(&list).trim()).unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v[0]["kind"], "undo");

    // A second replay conflicts (the rows exist again): exit 5, no change.
    let out = other.run(&[
        "undo",
        "replay",
        "--from",
        src,
        "--to",
        &staging.target(),
        "--yes",
    ]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("conflict"), "{}", stderr(&out));
    assert_eq!(sqlite_dump_tables(&staging.path), before);
}

#[test]
fn replay_restores_a_change_into_another_database_pg() {
    let prod = PgDb::with(SCHEMA);
    let staging = PgDb::with(SCHEMA);
    let before = pg_dump_tables(&prod.url);
    let j = JournalDir::new();
    let out = j.run(&[
        "exec",
        &prod.url,
        "-c",
        "DELETE FROM p WHERE id = 1",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    staging
        .client()
        .batch_execute("DELETE FROM p WHERE id = 1")
        .unwrap();
    let src = j.path.to_str().unwrap();
    let out = j.run(&[
        "undo",
        "replay",
        "--from",
        src,
        "--to",
        &staging.url,
        "1",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(pg_dump_tables(&staging.url), before);
    assert_ne!(pg_dump_tables(&prod.url), before);
    // The original change is still undoable on production.
    let out = j.run(&["undo", "apply", "1", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(pg_dump_tables(&prod.url), before);
}

/// A reader that stops early (`| head`) closes the pipe: every output of
/// `undo show` ends quietly with status 0 (the reader wanted no more; issue
/// 13), never a panic inside `println!`.
#[test]
fn undo_show_into_a_closed_pipe_ends_quietly_not_with_a_panic() {
    use std::io::Read;
    let db = SqliteDb::with(
        "CREATE TABLE k (id INTEGER PRIMARY KEY, pad TEXT);
         WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 2000)
         INSERT INTO k SELECT i, printf('%.300c', 'x') FROM s;",
    );
    let j = JournalDir::new();
    let out = j.run(&["exec", &db.target(), "-c", "DELETE FROM k", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Far more than a pipe buffer holds, in both formats.
    for format in ["json", "text"] {
        let mut child = dbguard(j.dir.path())
            .args(["--journal"])
            .arg(&j.path)
            .args(["undo", "show", "1", "--format", format])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn dbguard");
        let mut first = [0u8; 16];
        child
            .stdout
            .take()
            .expect("stdout")
            .read_exact(&mut first)
            .expect("the first bytes of the output");
        // The read end is dropped here: the rest cannot be written.
        let out = child.wait_with_output().expect("wait");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{format}: {err}");
        assert!(err.is_empty(), "{format}: quiet, but said: {err}");
    }
}

/// `undo list --limit N` lists the N newest changes, newest first; a
/// journal keeps every change ever made.
#[test]
fn undo_list_limit_keeps_the_newest() {
    let db = SqliteDb::with(SCHEMA);
    let j = JournalDir::new();
    for id in [10, 11, 12] {
        let sql = format!("DELETE FROM c WHERE id = {id}");
        let out = j.run(&["exec", &db.target(), "-c", &sql, "--yes"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let ids = |args: &[&str]| -> Vec<i64> {
        let out = j.run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
        v.as_array()
            .unwrap_or_else(|| panic!("{args:?}: not a list: {v}"))
            .iter()
            .map(|c| c["id"].as_i64().unwrap_or_else(|| panic!("no id in {c}")))
            .collect()
    };
    assert_eq!(ids(&["undo", "list", "--format", "json"]), [3, 2, 1]);
    assert_eq!(
        ids(&["undo", "list", "--limit", "2", "--format", "json"]),
        [3, 2]
    );
    assert!(ids(&["undo", "list", "--limit", "0", "--format", "json"]).is_empty());
    let text = stdout(&j.run(&["undo", "list", "--limit", "1"]));
    assert!(
        text.contains("id = 12") && !text.contains("id = 11"),
        "{text}"
    );
    let bad = j.run(&["undo", "list", "--limit", "-1"]);
    assert_eq!(bad.status.code(), Some(1), "{}", stderr(&bad));
}

#[test]
fn undo_show_lists_rows_before_and_after() {
    let db = SqliteDb::with(SCHEMA);
    let j = JournalDir::new();
    let out = j.run(&[
        "exec",
        &db.target(),
        "-c",
        "UPDATE c SET note = 'zz' WHERE id = 10",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = j.run(&["undo", "show", "1"]);
    let text = stdout(&out);
    assert!(text.contains("update (10)"), "{text}");
    assert!(
        text.contains("- note: a") && text.contains("+ note: zz"),
        "{text}"
    );
    let out = j.run(&["undo", "show", "1", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(v["rows"][0]["op"], "update");
    assert_eq!(v["rows"][0]["after"][2], "zz");
}

#[test]
fn piped_shell_never_applies_or_undoes_without_a_terminal() {
    let db = SqliteDb::with(SCHEMA);
    let before = sqlite_dump_tables(&db.path);
    let j = JournalDir::new();
    let out = dbguard(j.dir.path())
        .arg("--journal")
        .arg(&j.path)
        .arg(db.target())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            if let Some(mut i) = child.stdin.take() {
                i.write_all(b"DELETE FROM p WHERE id = 2;\nyes\napply\n")?;
            }
            child.wait_with_output()
        })
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not applied"), "{}", stderr(&out));
    assert_eq!(sqlite_dump_tables(&db.path), before);

    let out = j.run(&[
        "exec",
        &db.target(),
        "-c",
        "DELETE FROM p WHERE id = 2",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let after = sqlite_dump_tables(&db.path);
    let out = run_with_stdin(
        &["--journal", j.path.to_str().unwrap(), &db.target()],
        "\\undo 1\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("needs a terminal"),
        "{}",
        stderr(&out)
    );
    assert_eq!(sqlite_dump_tables(&db.path), after);
}
