//! The psql meta commands of the session itself (issue 17, items 5, 6, 10):
//! `\pset` (null, format, border, pager), `\set`/`\echo` and variables in
//! statements, `\o`, `\i`, `\e`, `\g`/`\gx`, `\c`, `\watch`, `\copy`,
//! `\timing` without the time at the Apply prompt, and the pager.
//! Rendered output is held by snapshots; what reaches the database is
//! checked in the database.

use dbguard::db::Engine;

use crate::apply::Db;
use crate::helpers::*;
use crate::terminal::Terminal;

const ROWS: &str = "CREATE TABLE t (id integer PRIMARY KEY, v text);
     INSERT INTO t VALUES (1, 'one'), (2, NULL), (3, '<null>'), (4, 'a,b');";

/// The piped shell's stdout for `input` on a fresh SQLite database.
fn piped(input: &str) -> String {
    let db = SqliteDb::with(ROWS);
    let out = run_with_stdin(&[&db.target()], input);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    stdout(&out)
}

/// NULL is empty by default, as in psql, so the string `<null>` cannot be
/// mistaken for it; `\pset null` names it.
#[test]
fn null_display_and_output_formats() {
    let out = piped(
        "SELECT id, v FROM t ORDER BY id;
\\pset null (null)
SELECT id, v FROM t ORDER BY id;
\\pset format unaligned
SELECT id, v FROM t ORDER BY id;
\\pset format csv
SELECT id, v FROM t ORDER BY id;
\\pset format aligned
\\pset border 2
SELECT id, v FROM t WHERE id < 3 ORDER BY id;
\\pset border 0
SELECT id, v FROM t WHERE id < 3 ORDER BY id;
\\pset
",
    );
    insta::assert_snapshot!("pset_null_formats_borders", out);
}

#[test]
fn variables_echo_and_the_query_buffer() {
    let out = piped(
        "\\set id 4
\\set who 'O''Brien'
\\echo looking for :id and :'who'
SELECT id, v, :'who' AS who FROM t WHERE id = :id;
SELECT 1 + 1 AS two
\\p
\\g
SELECT id
  FROM t WHERE id = 2 \\gx
\\r
\\p
",
    );
    insta::assert_snapshot!("variables_echo_buffer", out);
}

#[test]
fn results_to_a_file_and_statements_from_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.txt");
    let script = dir.path().join("in.sql");
    std::fs::write(
        &script,
        "SELECT count(*) AS from_the_file FROM t;\nDELETE FROM t WHERE id = 1;\n",
    )
    .unwrap();
    let db = SqliteDb::with(ROWS);
    let input = format!(
        "\\o {}\nSELECT v FROM t WHERE id = 1;\n\\o\nSELECT 'on the terminal' AS here;\n\\i {}\n",
        file.display(),
        script.display()
    );
    let out = run_with_stdin(&[&db.target()], &input);
    let written = std::fs::read_to_string(&file).unwrap();
    assert_eq!(written, " v\n-----\n one\n(1 row)\n");
    let shown = stdout(&out);
    assert!(!shown.contains(" one\n"), "went to the terminal: {shown}");
    assert!(shown.contains("on the terminal"), "{shown}");
    assert!(shown.contains("from_the_file"), "{shown}");
    // The file's DELETE went through the guard: previewed, and refused in
    // a script without a terminal to confirm it.
    assert!(shown.contains("target t: 1 row to delete"), "{shown}");
    assert!(
        stderr(&out).contains("confirming a change needs a terminal"),
        "{}",
        stderr(&out)
    );
    let n: i64 = db
        .conn()
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 4, "the file's DELETE was applied unconfirmed");
}

/// `\e` puts the buffer in the editor and takes back what it saved.
#[test]
fn edit_the_buffer_in_the_editor() {
    let db = SqliteDb::with(ROWS);
    let state = tempfile::tempdir().unwrap();
    let out = dbguard(state.path())
        .arg(db.target())
        .env("EDITOR", "sed -i s/41/42/")
        .env_remove("VISUAL")
        .env_remove("PSQL_EDITOR")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(b"SELECT 41 AS answer\n\\e\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("     42"), "{}", stdout(&out));
}

#[test]
fn copy_to_a_file_reads_and_copy_from_one_is_a_guarded_insert() {
    let db = Db::new(Engine::Postgres, ROWS);
    let j = db.machine();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    let out = j
        .command(&[])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            let line = format!(
                "\\copy (SELECT id, v FROM t ORDER BY id) TO '{}' (FORMAT csv, HEADER)\n",
                csv.display()
            );
            c.stdin.take().unwrap().write_all(line.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(stdout(&out).contains("COPY 4"), "{}", stdout(&out));
    let written = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(written, "id,v\n1,one\n2,\n3,<null>\n4,\"a,b\"\n");

    let rows = dir.path().join("new.csv");
    std::fs::write(&rows, "id,v\n10,\"x, y\"\n11,\n12,it's\n").unwrap();
    let before = db.dump();
    let mut term = Terminal::open_raw(&j, &[]);
    term.wait_for(&["=> "]);
    term.key(&format!(
        "\\copy t (id, v) FROM '{}' (FORMAT csv, HEADER)\r",
        rows.display()
    ));
    term.wait_for(&["3 rows to insert"]);
    term.wait_for(&["anything else cancels: "]);
    term.key("apply\r");
    term.wait_for(&["Applied as change "]);
    term.wait_for(&["=> "]);
    term.quit_raw();
    let Db::Pg(pg) = &db else { unreachable!() };
    let mut c = pg.client();
    let got: Vec<(i32, Option<String>)> = c
        .query("SELECT id, v FROM t WHERE id >= 10 ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        got,
        vec![
            (10, Some("x, y".into())),
            (11, None),
            (12, Some("it's".into()))
        ]
    );
    // Undone like any insert.
    let o = j.run(&["undo", "apply", "1", "--yes"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(db.dump(), before);
}

/// `\c NAME` moves the session to another database of the same server.
#[test]
fn connect_to_another_database_by_name() {
    let first = PgDb::with("CREATE TABLE only_in_first (a int);");
    let second =
        PgDb::with("CREATE TABLE only_in_second (b int); INSERT INTO only_in_second VALUES (7);");
    let out = run_with_stdin(
        &[&first.url],
        &format!(
            "\\c {}\nSELECT b FROM only_in_second;\n\\conninfo\n",
            second.name
        ),
    );
    let shown = stdout(&out);
    assert!(out.status.success(), "{shown}\n{}", stderr(&out));
    assert!(
        shown.contains(&format!(
            "You are now connected to database \"{}\"",
            second.name
        )),
        "{shown}"
    );
    assert!(shown.contains("\n 7\n"), "{shown}");
}

/// `\watch` runs a read again until Ctrl-C, and refuses a write.
#[test]
fn watch_repeats_a_read_until_ctrl_c() {
    let db = Db::new(Engine::Sqlite, ROWS);
    let before = db.dump();
    let j = db.machine();
    let mut term = Terminal::open_raw(&j, &[]);
    term.wait_for(&["=> "]);
    term.key("SELECT count(*) AS watched FROM t \\watch 0.2\r");
    term.wait_for(&["(every 0.2s)"]);
    term.wait_for(&["watched"]);
    term.wait_for(&["(every 0.2s)"]);
    term.wait_for(&["watched"]);
    term.key("\x03");
    term.wait_for(&["=> "]);
    term.key("DELETE FROM t \\watch\r");
    term.wait_for(&["\\watch runs reads only"]);
    term.wait_for(&["=> "]);
    term.quit_raw();
    assert_eq!(db.dump(), before);
}

/// A result taller than the terminal goes through the pager; `\pset
/// pager off` prints it.
#[test]
fn tall_results_go_through_the_pager() {
    let db = Db::new(Engine::Sqlite, ROWS);
    let j = db.machine();
    let dir = tempfile::tempdir().unwrap();
    let paged = dir.path().join("paged.txt");
    let pager = format!("cat > '{}'", paged.display());
    let mut term = Terminal::open_raw_env(&j, &[], &[("PAGER", &pager)]);
    term.wait_for(&["=> "]);
    term.key("WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 200) SELECT n FROM s;\r");
    term.wait_for(&["=> "]);
    let text = std::fs::read_to_string(&paged).unwrap_or_default();
    assert!(text.contains("(200 rows)"), "not paged: {text:?}");
    std::fs::remove_file(&paged).unwrap();
    term.key("\\pset pager off\r");
    term.wait_for(&["Pager usage is off."]);
    term.key("WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 200) SELECT n FROM s;\r");
    term.wait_for(&["(200 rows)"]);
    term.wait_for(&["=> "]);
    term.key("SELECT 'short' AS s;\r");
    term.wait_for(&["(1 row)"]);
    term.quit_raw();
    assert!(!paged.exists(), "paged with the pager off");
}

/// `\timing` is the statement's time: the seconds a person spends at
/// "Apply this change?" are not in it.
#[test]
fn timing_leaves_out_the_time_at_the_apply_prompt() {
    let db = Db::new(Engine::Sqlite, ROWS);
    let j = db.machine();
    let mut term = Terminal::open_raw(&j, &[]);
    term.wait_for(&["=> "]);
    term.key("\\timing on\r");
    term.wait_for(&["Timing is on."]);
    term.key("DELETE FROM t WHERE id = 4;\r");
    term.wait_for(&["anything else cancels: "]);
    std::thread::sleep(std::time::Duration::from_millis(2500));
    term.key("apply\r");
    term.wait_for(&["Time: "]);
    let rest = term.fresh().to_owned();
    let ms: f64 = rest
        .split(" ms")
        .next()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no time after \"Time: \": {rest}"));
    assert!(ms < 2500.0, "the time at the prompt was counted: {ms} ms");
    term.wait_for(&["=> "]);
    term.quit_raw();
}

/// A variable's value is never scanned for a meta command, as in psql: a
/// `\o` inside one opened the file (found in review).
#[test]
fn a_variable_never_becomes_a_meta_command() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    let db = SqliteDb::with(ROWS);
    let input = format!(
        "\\set id '5 \\o {}'\nSELECT :id AS x;\n\\echo :id\n",
        victim.display()
    );
    // The SELECT it makes is not SQL, and is refused as such.
    let out = stdout(&run_with_stdin(&[&db.target()], &input));
    assert!(!victim.exists(), "the variable ran \\o: {out}");
    assert!(
        out.contains(&format!("5 \\o {}", victim.display())),
        "{out}"
    );
}

/// Catalog meta commands are reads: on record like any read.
#[test]
fn catalog_meta_commands_are_on_record() {
    let db = SqliteDb::with(ROWS);
    let state = tempfile::tempdir().unwrap();
    let out = dbguard(state.path())
        .arg(db.target())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"\\dt+ t*\n\\di\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success());
    let audit = std::fs::read_to_string(state.path().join("dbguard").join("audit.jsonl")).unwrap();
    assert!(audit.contains("\\\\dt+ t*"), "{audit}");
    assert!(audit.contains("\\\\di"), "{audit}");
}

/// `\copy t (a, b) TO` copies two columns, not one row-valued column.
#[test]
fn copy_a_column_list_to_stdout() {
    let out = piped("\\copy t (id, v) TO STDOUT (FORMAT csv)\n");
    assert!(out.starts_with("1,one\n2,\n3,<null>\n4,\"a,b\"\n"), "{out}");
}
