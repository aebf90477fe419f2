//! `undo replay` into another database (two SQLite files; two PostgreSQL
//! clusters, the second made by `initdb` here, with databases of the same
//! name), the refusal of an undo in another cluster's database of the same
//! name, `undo export`'s SQLite script stopping at the first error, `undo
//! show`, and `\undo` in a piped shell (which must not undo without a
//! terminal).

use std::process::Command;

use dbguard::db::Engine;

use crate::apply::{Db, assert_exit, exec_yes, list_entry, undo_yes};
use crate::cluster::Cluster;
use crate::helpers::*;

const SCHEMA: &str = "CREATE TABLE p (id integer PRIMARY KEY, name text);
     CREATE TABLE c (id integer PRIMARY KEY, pid integer REFERENCES p ON DELETE CASCADE, note text);
     INSERT INTO p VALUES (1, 'one'), (2, 'two'), (3, 'three');
     INSERT INTO c VALUES (10, 1, 'a'), (11, 1, 'b'), (12, 2, 'c');";

/// A table keyed by text, whose rowids differ between two files holding
/// the same rows, and a column without a type holding every storage class.
const LITE_EXTRA: &str = "CREATE TABLE k (code TEXT PRIMARY KEY, loose, v INTEGER);";
const LITE_ROWS: [&str; 4] = [
    "('a', 1, 1)",
    "('b', 2.5, 2)",
    "('c', 'text', 3)",
    "('d', x'00ff', 4)",
];

/// `undo replay --from FROM --to TO ARGS...` on `j`.
fn replay(j: &JournalDir, from: &str, to: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["undo", "replay", "--from", from, "--to", to];
    all.extend_from_slice(args);
    j.run(&all)
}

/// The SQLite databases of the replay tests: production, and a copy that
/// got the same changes by other means (a backup restored after them), its
/// rows inserted in another order so its rowids differ.
fn lite_pair() -> (Db, Db) {
    let mut forward = LITE_ROWS.to_vec();
    let prod = Db::new(
        Engine::Sqlite,
        &format!(
            "{SCHEMA} {LITE_EXTRA} INSERT INTO k VALUES {};",
            forward.join(", ")
        ),
    );
    forward.reverse();
    let staging = Db::new(
        Engine::Sqlite,
        &format!(
            "{SCHEMA} {LITE_EXTRA} INSERT INTO k VALUES {};",
            forward.join(", ")
        ),
    );
    (prod, staging)
}

#[test]
fn replay_between_two_sqlite_files_restores_rows_with_their_storage_classes() {
    let (prod, staging) = lite_pair();
    let before = staging.dump();
    let j = prod.machine();
    let del = exec_yes(&j, &prod, "DELETE FROM p WHERE id = 1", &[]);
    let upd = exec_yes(&j, &prod, "UPDATE k SET loose = 'changed', v = v * 10", &[]);
    staging.plain("DELETE FROM p WHERE id = 1; UPDATE k SET loose = 'changed', v = v * 10;");
    let changed = staging.dump();
    assert_ne!(changed, before);

    // A dry run shows the plan and changes nothing.
    let other = staging.machine();
    let (from, to) = (prod.target(), staging.target());
    let o = replay(&other, &from, &to, &[&del.to_string(), "--dry-run"]);
    assert_exit(&o, 0, "replay --dry-run");
    assert!(stdout(&o).contains("re-insert 1"), "{}", stdout(&o));
    assert_eq!(staging.dump(), changed);

    let o = replay(
        &other,
        &from,
        &to,
        &[&upd.to_string(), &del.to_string(), "--yes"],
    );
    assert_exit(&o, 0, "replay");
    assert_eq!(staging.dump(), before, "the staging copy is as it was");
    // Production is untouched; the replays are journaled in the target,
    // naming where their rows came from, and no staging table is left.
    assert_ne!(prod.dump(), before);
    let list = undo_list(&other);
    assert_eq!(list.len(), 2, "{list:?}");
    for entry in &list {
        assert_eq!(entry["kind"], "undo");
        let origin = entry["replay_of"].as_str().unwrap_or_default();
        assert!(origin.ends_with(&format!("#{del}")) || origin.ends_with(&format!("#{upd}")));
        assert!(origin.starts_with(&from), "{origin}");
    }
    assert_eq!(staging_tables(&staging), Vec::<String>::new());

    // A second replay conflicts (the rows exist again): exit 5, no change.
    let o = replay(&other, &from, &to, &[&del.to_string(), "--yes"]);
    assert_exit(&o, 5, "second replay");
    assert!(stderr(&o).contains("conflict"), "{}", stderr(&o));
    assert_eq!(staging.dump(), before);
    assert_eq!(staging_tables(&staging), Vec::<String>::new());

    // The original change is still undoable where it was made.
    let prod_changed = prod.dump();
    undo_yes(&j, del, &[]);
    assert_ne!(prod.dump(), prod_changed);
    assert!(list_entry(&j, del)["undone_by"].is_i64());
}

/// An UPDATE of a SQLite table whose primary key is not its rowid (here a
/// text key) is undone where it was made.
#[test]
fn sqlite_undo_of_an_update_of_a_table_keyed_by_text() {
    let (prod, _) = lite_pair();
    let before = prod.dump();
    let j = prod.machine();
    let upd = exec_yes(&j, &prod, "UPDATE k SET loose = 'changed', v = v * 10", &[]);
    undo_yes(&j, upd, &[]);
    assert_eq!(prod.dump(), before);
}

/// The staging tables a replay left in a SQLite target.
fn staging_tables(db: &Db) -> Vec<String> {
    let Db::Lite(l) = db else { unreachable!() };
    let conn = l.conn();
    let mut st = conn
        .prepare("SELECT name FROM sqlite_schema WHERE name LIKE 'dbguard\\_r%' ESCAPE '\\'")
        .unwrap();
    st.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn replay_lists_conflicts_in_the_target_and_force_restores_the_rest() {
    let (prod, staging) = lite_pair();
    let j = prod.machine();
    let id = exec_yes(&j, &prod, "DELETE FROM p WHERE id = 1", &[]);
    // The copy lost the same rows, then someone put one of them back.
    staging.plain("DELETE FROM p WHERE id = 1; INSERT INTO p VALUES (1, 'back again');");
    let conflicted = staging.dump();
    let other = staging.machine();
    let (from, to) = (prod.target(), staging.target());
    let o = replay(&other, &from, &to, &[&id.to_string(), "--yes"]);
    assert_exit(&o, 5, "replay with a conflict");
    let out = format!("{}{}", stdout(&o), stderr(&o));
    assert!(out.contains("p (1)"), "the conflicting row is named: {out}");
    assert_eq!(staging.dump(), conflicted, "nothing changed");
    assert!(undo_list(&other).is_empty());

    let o = replay(&other, &from, &to, &[&id.to_string(), "--yes", "--force"]);
    assert_exit(&o, 0, "replay --force");
    let after = staging.dump();
    let rows = |t: &str| after.get(t).cloned().unwrap_or_default();
    assert_eq!(
        rows("p")
            .iter()
            .filter(|r| r.contains("back again"))
            .count(),
        1
    );
    assert!(
        rows("c").iter().any(|r| r.starts_with("10|1|'a'")),
        "{after:?}"
    );
    assert!(
        rows("c").iter().any(|r| r.starts_with("11|1|'b'")),
        "{after:?}"
    );
    let entry = &undo_list(&other)[0];
    assert!(
        entry["partial"]
            .as_str()
            .unwrap_or_default()
            .contains("p (1)"),
        "{entry}"
    );
    assert_eq!(staging_tables(&staging), Vec::<String>::new());
}

#[test]
fn replay_needs_the_targets_own_journal_and_two_databases() {
    let prod = Db::new(Engine::Sqlite, SCHEMA);
    let bare = Db::bare(Engine::Sqlite, SCHEMA);
    let j = prod.machine();
    let id = exec_yes(&j, &prod, "DELETE FROM p WHERE id = 1", &[]).to_string();
    let before = bare.dump();
    let o = replay(&j, &prod.target(), &bare.target(), &[&id, "--yes"]);
    assert_exit(&o, 1, "replay into a database without a journal");
    assert!(
        stderr(&o).contains("has no dbguard journal") && stderr(&o).contains("dbguard init"),
        "{}",
        stderr(&o)
    );
    assert_eq!(bare.dump(), before);

    let o = replay(&j, &prod.target(), &prod.target(), &[&id, "--yes"]);
    assert_exit(&o, 1, "replay into the same database");
    assert!(stderr(&o).contains("undo apply"), "{}", stderr(&o));

    let pg = Db::new(Engine::Postgres, SCHEMA);
    let o = replay(&j, &prod.target(), &pg.target(), &[&id, "--yes"]);
    assert_exit(&o, 1, "replay across engines");
    assert!(stderr(&o).contains("one engine"), "{}", stderr(&o));
}

// ---- PostgreSQL: a second cluster ----

/// Types whose text depends on session settings, set to other values on
/// each side.
const PG_TYPED: &str = "CREATE TABLE t (id integer PRIMARY KEY, span interval, at timestamptz,
        d date, f float8, raw bytea, doc jsonb, tags text[], n numeric(10, 3));
     INSERT INTO t VALUES
        (1, '-3 days -04:05:06', '2024-03-01 12:00:00.123456+00', '2024-02-29', 0.1,
         '\\x00ff', '{\"a\": \"café\"}', ARRAY['x', NULL], 1.500),
        (2, '1 year 2 mons', '1999-12-31 23:59:59+05:30', '0044-03-15 BC', 1e-300,
         '\\x', '[]', '{}', -0.001);";

#[test]
fn replay_between_two_clusters_into_a_database_of_the_same_name() {
    let prod = PgDb::with(&format!("{SCHEMA} {PG_TYPED}"));
    init_journal(&prod.url);
    let other = Cluster::start();
    other
        .client("postgres")
        .batch_execute(&format!("CREATE DATABASE \"{}\"", prod.name))
        .unwrap();
    let staging_url = other.url(&prod.name);
    other
        .client(&prod.name)
        .batch_execute(&format!("{SCHEMA} {PG_TYPED}"))
        .unwrap();
    init_journal(&staging_url);
    // Each side reads and writes values under settings of its own.
    prod.client()
        .batch_execute(&format!(
            "ALTER DATABASE \"{0}\" SET IntervalStyle = 'sql_standard';
             ALTER DATABASE \"{0}\" SET DateStyle = 'SQL, DMY';
             ALTER DATABASE \"{0}\" SET TimeZone = 'Asia/Kolkata';
             ALTER DATABASE \"{0}\" SET extra_float_digits = -3;
             ALTER DATABASE \"{0}\" SET bytea_output = 'escape';",
            prod.name
        ))
        .unwrap();
    other
        .client(&prod.name)
        .batch_execute(&format!(
            "ALTER DATABASE \"{0}\" SET IntervalStyle = 'iso_8601';
             ALTER DATABASE \"{0}\" SET DateStyle = 'German, MDY';
             ALTER DATABASE \"{0}\" SET TimeZone = 'America/Los_Angeles';",
            prod.name
        ))
        .unwrap();
    let before = pg_dump_tables(&staging_url);

    let j = JournalDir::on(&prod.url);
    let del_t = exec_apply(&j, "DELETE FROM t");
    let del_p = exec_apply(&j, "DELETE FROM p WHERE id = 1");
    other
        .client(&prod.name)
        .batch_execute("DELETE FROM t; DELETE FROM p WHERE id = 1")
        .unwrap();
    assert_ne!(pg_dump_tables(&staging_url), before);

    let machine = JournalDir::on(&staging_url);
    let o = replay(
        &machine,
        &prod.url,
        &staging_url,
        &[&del_p.to_string(), &del_t.to_string(), "--yes"],
    );
    assert_exit(&o, 0, "replay into the other cluster");
    assert_eq!(
        pg_dump_tables(&staging_url),
        before,
        "every value as it was"
    );
    let staged: i64 = other
        .client(&prod.name)
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'dbguard' AND tablename LIKE 'r%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(staged, 0, "staging tables are dropped");

    // The original change is still undoable where it was made.
    let prod_before = pg_dump_tables(&prod.url);
    undo_apply(&j, del_p);
    assert_ne!(pg_dump_tables(&prod.url), prod_before);
    assert!(list_entry(&j, del_p)["undone_by"].is_i64());
}

#[test]
fn undo_in_another_clusters_database_of_the_same_name_is_refused() {
    let prod = PgDb::with(SCHEMA);
    init_journal(&prod.url);
    let j = JournalDir::on(&prod.url);
    let id = exec_apply(&j, "DELETE FROM p WHERE id = 1");
    // A restore of production, journal included, under the same name on
    // another cluster.
    let dump = Command::new("pg_dump")
        .args(["--no-owner", "-d", &prod.url])
        .output()
        .unwrap();
    assert!(dump.status.success(), "pg_dump: {}", stderr(&dump));
    let other = Cluster::start();
    other
        .client("postgres")
        .batch_execute(&format!("CREATE DATABASE \"{}\"", prod.name))
        .unwrap();
    let copy_url = other.url(&prod.name);
    let mut psql = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &copy_url])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        psql.stdin.take().unwrap().write_all(&dump.stdout).unwrap();
    }
    let restored = psql.wait_with_output().unwrap();
    assert!(restored.status.success(), "psql: {}", stderr(&restored));
    let before = pg_dump_tables(&copy_url);

    let there = JournalDir::on(&copy_url);
    let o = there.run(&["undo", "apply", &id.to_string(), "--yes"]);
    assert_exit(&o, 1, "undo in the other cluster's copy");
    let err = stderr(&o);
    let cluster_of = |url: &str| -> String {
        postgres::Client::connect(url, postgres::NoTls)
            .unwrap()
            .query_one(
                "SELECT system_identifier::text FROM pg_control_system()",
                &[],
            )
            .unwrap()
            .get(0)
    };
    let (a, b) = (cluster_of(&prod.url), cluster_of(&copy_url));
    assert_ne!(a, b);
    assert!(
        err.contains(&a) && err.contains(&b),
        "both clusters named: {err}"
    );
    assert!(err.contains("undo replay"), "{err}");
    assert_eq!(pg_dump_tables(&copy_url), before, "nothing changed there");
}

// ---- undo export ----

/// The SQLite script stops at its first error (`.bail on`, said in its
/// header): a restore that fails half-way leaves the database as it was.
#[test]
fn sqlite_export_script_stops_at_the_first_error() {
    let db = Db::new(Engine::Sqlite, SCHEMA);
    let j = db.machine();
    let id = exec_yes(&j, &db, "DELETE FROM p WHERE id = 1", &[]);
    let o = j.run(&["undo", "export", &id.to_string(), "--format", "sql"]);
    assert_exit(&o, 0, "undo export");
    let script = stdout(&o);
    let header: Vec<&str> = script
        .lines()
        .take_while(|l| !l.starts_with("BEGIN"))
        .collect();
    assert!(header.contains(&".bail on"), "{script}");
    assert!(
        header
            .iter()
            .any(|l| l.starts_with("--") && l.contains("first error")),
        "the header says so: {script}"
    );
    // The deleted parent's key is taken again: the script's first INSERT
    // fails, and nothing after it may run.
    db.plain("INSERT INTO p VALUES (1, 'new one'); INSERT INTO c VALUES (11, 1, 'taken');");
    let before = db.dump();
    if Command::new("sqlite3").arg("-version").output().is_err() {
        // No sqlite3 here: what the script says is all that can be checked.
        eprintln!("sqlite3 is not installed: the script was not run");
        return;
    }
    let Db::Lite(l) = &db else { unreachable!() };
    let mut run = Command::new("sqlite3")
        .arg(&l.path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut input = run.stdin.take().unwrap();
        input.write_all(script.as_bytes()).unwrap();
        // Were the script to go on after the error, this would run.
        input
            .write_all(b"\nINSERT INTO p VALUES (99, 'after the error');\n")
            .unwrap();
    }
    let out = run.wait_with_output().unwrap();
    assert!(!out.status.success(), "sqlite3 reports the failure");
    assert!(
        stderr(&out).contains("UNIQUE") || stderr(&out).contains("constraint"),
        "{}",
        stderr(&out)
    );
    assert_eq!(db.dump(), before, "the script stopped and rolled back");
}

// ---- show, list, and the shell ----

/// A reader that stops early (`| head`) closes the pipe: every output of
/// `undo show` ends quietly with status 0 (the reader wanted no more; issue
/// 13), never a panic inside `println!`.
#[test]
fn undo_show_into_a_closed_pipe_ends_quietly_not_with_a_panic() {
    use std::io::Read;
    let db = Db::new(
        Engine::Sqlite,
        "CREATE TABLE k (id INTEGER PRIMARY KEY, pad TEXT);
         WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 2000)
         INSERT INTO k SELECT i, printf('%.300c', 'x') FROM s;",
    );
    let j = db.machine();
    let id = exec_yes(&j, &db, "DELETE FROM k", &[]).to_string();
    // Far more than a pipe buffer holds, in both formats.
    for format in ["json", "text"] {
        let mut child = j
            .command(&["undo", "show", &id, "--format", format])
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
    let db = Db::new(Engine::Sqlite, SCHEMA);
    let j = db.machine();
    let mut made = Vec::new();
    for id in [10, 11, 12] {
        made.push(exec_yes(
            &j,
            &db,
            &format!("DELETE FROM c WHERE id = {id}"),
            &[],
        ));
    }
    made.reverse();
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
    assert_eq!(ids(&["undo", "list", "--format", "json"]), made);
    assert_eq!(
        ids(&["undo", "list", "--limit", "2", "--format", "json"]),
        made[..2]
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
    let db = Db::new(Engine::Sqlite, SCHEMA);
    let j = db.machine();
    let id = exec_yes(&j, &db, "UPDATE c SET note = 'zz' WHERE id = 10", &[]).to_string();
    let out = j.run(&["undo", "show", &id]);
    let text = stdout(&out);
    assert!(text.contains("update (10)"), "{text}");
    assert!(
        text.contains("- note: a") && text.contains("+ note: zz"),
        "{text}"
    );
    let out = j.run(&["undo", "show", &id, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(v["rows"][0]["op"], "update");
    assert_eq!(v["rows"][0]["after"][2], "zz");
}

#[test]
fn piped_shell_never_applies_or_undoes_without_a_terminal() {
    let db = Db::new(Engine::Sqlite, SCHEMA);
    let before = db.dump();
    let j = db.machine();
    let out = j
        .command(&[&db.target()])
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
    assert_eq!(db.dump(), before);

    let id = exec_yes(&j, &db, "DELETE FROM p WHERE id = 2", &[]);
    let after = db.dump();
    let out = run_with_stdin(&[&db.target()], &format!("\\undo {id}\n"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("needs a terminal"),
        "{}",
        stderr(&out)
    );
    assert_eq!(db.dump(), after);
}

/// A replay into a table whose column has another type than where the
/// change was made would coerce the values on the way in: refused, naming
/// the column and both types, the target unchanged.
#[test]
fn replay_into_a_column_of_another_type_is_refused() {
    let prod = Db::new(
        Engine::Sqlite,
        "CREATE TABLE m (id integer PRIMARY KEY, v REAL); INSERT INTO m VALUES (1, 0.5), (2, 1.5);",
    );
    let staging = Db::new(
        Engine::Sqlite,
        "CREATE TABLE m (id integer PRIMARY KEY, v INTEGER); INSERT INTO m VALUES (2, 1);",
    );
    let j = prod.machine();
    let id = crate::apply::exec_yes(&j, &prod, "DELETE FROM m WHERE id = 1", &[]);
    let before = staging.dump();
    let ids = id.to_string();
    let o = replay(
        &j,
        &prod.target(),
        &staging.target(),
        &[ids.as_str(), "--yes"],
    );
    assert_exit(&o, 1, "replay into INTEGER of a REAL column");
    let err = stderr(&o);
    assert!(
        err.contains("\"v\"") || err.contains(" v "),
        "the refusal does not name the column: {err}"
    );
    assert!(err.contains("INTEGER") && err.contains("REAL"), "{err}");
    assert_eq!(
        staging.dump(),
        before,
        "a refused replay changed the target"
    );
}

/// The tables named like a replay's staging tables anywhere in `db` a new
/// session sees: the journal's schema (or file) and every temporary schema
/// (Postgres lists other sessions' too).
fn any_staging(db: &Db) -> Vec<String> {
    match db {
        Db::Lite(_) => staging_tables(db),
        Db::Pg(pg) => pg
            .client()
            .query(
                "SELECT n.nspname || '.' || c.relname FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind = 'r' AND (n.nspname = 'dbguard' AND c.relname LIKE 'r%' \
                 OR n.nspname LIKE 'pg\\_temp\\_%' AND c.relname LIKE 'dbguard\\_r%')",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect(),
    }
}

/// A replay killed once its rows are staged leaves no staging table
/// behind (they live in the session's temporary schema), and the replay
/// run again goes through.
fn killed_replay_leaves_no_staging(engine: Engine) {
    let prod = Db::new(engine, SCHEMA);
    let staging = Db::new(engine, SCHEMA);
    let j = prod.machine();
    let before = staging.dump();
    let id = exec_yes(&j, &prod, "DELETE FROM p WHERE id = 1", &[]);
    staging.plain("DELETE FROM p WHERE id = 1");
    let ids = id.to_string();
    let (from, to) = (prod.target(), staging.target());
    let out = j
        .command(&[
            "undo", "replay", "--from", &from, "--to", &to, &ids, "--yes",
        ])
        .env("DBGUARD_CRASH_AT", "replay_after_staging")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run dbguard");
    assert!(
        !out.status.success() && out.status.code().is_none(),
        "the replay was not killed: {out:?}"
    );
    // The server drops a dead session's temporary tables as it notices.
    let mut left = any_staging(&staging);
    for _ in 0..50 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        left = any_staging(&staging);
    }
    assert_eq!(
        left,
        Vec::<String>::new(),
        "{engine:?}: staging tables left"
    );
    let o = replay(&j, &from, &to, &[ids.as_str(), "--yes"]);
    assert_exit(&o, 0, "the replay run again");
    assert_eq!(staging.dump(), before, "{engine:?}");
}

#[test]
fn sqlite_killed_replay_leaves_no_staging() {
    killed_replay_leaves_no_staging(Engine::Sqlite);
}

#[test]
fn pg_killed_replay_leaves_no_staging() {
    killed_replay_leaves_no_staging(Engine::Postgres);
}
