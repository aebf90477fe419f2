//! Undo conflicts (issue 4, acceptance 7): a row re-created or changed
//! after the change makes `undo apply` refuse with a row-level list (exit
//! 5, nothing changed); `--force` restores every other row, leaves the
//! conflicting ones, and its journal entry is partial and names them.

use dbguard::db::Engine;

use crate::apply::{Db, assert_exit, exec_yes, list_entry, run_env, undo_yes};
use crate::helpers::*;

const ITEMS: &str = "
CREATE TABLE item (id integer PRIMARY KEY, name text NOT NULL, qty integer NOT NULL);
INSERT INTO item VALUES (1, 'one', 1), (2, 'two', 2), (3, 'three', 3), (4, 'four', 4);
";

/// Applies `sql`, runs `later` with a plain client, then: `undo apply`
/// exits 5 naming row 2 of `item` and changes nothing; `--force` leaves
/// the database equal to `expected` (a fixture built from scratch) and its
/// journal entry names the skipped row.
fn conflict(engine: Engine, sql: &str, later: &str, expected: &str) {
    let db = Db::new(engine, ITEMS);
    let j = db.machine();
    let id = exec_yes(&j, &db, sql, &[]);
    db.plain(later);
    let now = db.dump();
    let ids = id.to_string();

    let o = j.run(&["undo", "apply", &ids, "--yes"]);
    assert_exit(
        &o,
        5,
        &format!("{engine:?}: undo of `{sql}` after `{later}`"),
    );
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(
        all.lines()
            .any(|l| l.contains("item") && l.contains("(2)") && !l.contains("(1)")),
        "{engine:?}: the conflict list does not name row 2 of item on its own line:\n{all}"
    );
    assert!(
        !all.lines()
            .any(|l| l.contains("item") && (l.contains("(1)") || l.contains("(3)"))),
        "{engine:?}: rows 1 and 3 do not conflict:\n{all}"
    );
    assert_eq!(db.dump(), now, "{engine:?}: a refused undo changed data");
    assert!(
        undo_list(&j).iter().all(|c| c["undo_of"].is_null()),
        "{engine:?}: a refused undo was journaled: {:?}",
        undo_list(&j)
    );

    // The JSON form lists the conflict too.
    let o = j.run(&["undo", "apply", &ids, "--yes", "--format", "json"]);
    assert_exit(&o, 5, "undo apply --format json");
    let v = last_json(&o);
    let conflicts = v["plan"]["conflicts"]
        .as_array()
        .unwrap_or_else(|| panic!("no plan.conflicts in {v}"));
    assert_eq!(conflicts.len(), 1, "{v}");
    assert!(
        conflicts[0]["table"]
            .as_str()
            .unwrap_or("")
            .ends_with("item"),
        "{v}"
    );
    assert_eq!(conflicts[0]["key"], serde_json::json!(["2"]), "{v}");
    assert_eq!(db.dump(), now);

    // --force: every other row restored, row 2 left as it is.
    let o = j.run(&[
        "undo", "apply", &ids, "--yes", "--force", "--format", "json",
    ]);
    assert_exit(&o, 0, "undo apply --force");
    let v = last_json(&o);
    assert_eq!(v["skipped"], 1, "{v}");
    let undo_id = v["change_id"].as_i64().expect("change_id");
    let want = Db::new(engine, expected).dump();
    assert_eq!(db.dump(), want, "{engine:?}: after undo --force");

    let entry = list_entry(&j, undo_id);
    assert_eq!(entry["undo_of"].as_i64(), Some(id), "{entry}");
    assert_eq!(
        list_entry(&j, id)["undone_by"].as_i64(),
        Some(undo_id),
        "the change is not marked undone by the forced undo"
    );
    let partial = entry["partial"]
        .as_str()
        .unwrap_or_else(|| panic!("the forced undo's entry is not partial: {entry}"));
    assert!(
        partial.contains("item") && partial.contains("(2)"),
        "the partial note does not name the skipped row: {partial}"
    );
}

fn deleted_row_recreated(engine: Engine) {
    conflict(
        engine,
        "DELETE FROM item WHERE id <= 3",
        "INSERT INTO item VALUES (2, 'again', 20)",
        "CREATE TABLE item (id integer PRIMARY KEY, name text NOT NULL, qty integer NOT NULL);
         INSERT INTO item VALUES (1, 'one', 1), (2, 'again', 20), (3, 'three', 3), (4, 'four', 4);",
    );
}

fn updated_row_changed_again(engine: Engine) {
    conflict(
        engine,
        "UPDATE item SET qty = qty * 10 WHERE id <= 3",
        "UPDATE item SET name = 'changed' WHERE id = 2",
        "CREATE TABLE item (id integer PRIMARY KEY, name text NOT NULL, qty integer NOT NULL);
         INSERT INTO item VALUES (1, 'one', 1), (2, 'changed', 20), (3, 'three', 3), (4, 'four', 4);",
    );
}

fn updated_row_deleted(engine: Engine) {
    conflict(
        engine,
        "UPDATE item SET qty = qty * 10 WHERE id <= 3",
        "DELETE FROM item WHERE id = 2",
        "CREATE TABLE item (id integer PRIMARY KEY, name text NOT NULL, qty integer NOT NULL);
         INSERT INTO item VALUES (1, 'one', 1), (3, 'three', 3), (4, 'four', 4);",
    );
}

#[test]
fn pg_undo_delete_conflicts_with_recreated_row() {
    deleted_row_recreated(Engine::Postgres);
}

#[test]
fn sqlite_undo_delete_conflicts_with_recreated_row() {
    deleted_row_recreated(Engine::Sqlite);
}

#[test]
fn pg_undo_update_conflicts_with_row_changed_again() {
    updated_row_changed_again(Engine::Postgres);
}

#[test]
fn sqlite_undo_update_conflicts_with_row_changed_again() {
    updated_row_changed_again(Engine::Sqlite);
}

#[test]
fn pg_undo_update_conflicts_with_row_deleted_since() {
    updated_row_deleted(Engine::Postgres);
}

#[test]
fn sqlite_undo_update_conflicts_with_row_deleted_since() {
    updated_row_deleted(Engine::Sqlite);
}

/// An inserted row changed since: the undo must not delete it.
fn inserted_row_changed(engine: Engine) {
    let db = Db::new(engine, ITEMS);
    let j = db.machine();
    let id = exec_yes(
        &j,
        &db,
        "INSERT INTO item VALUES (5, 'five', 5), (6, 'six', 6)",
        &[],
    );
    db.plain("UPDATE item SET qty = 60 WHERE id = 6");
    let now = db.dump();
    let ids = id.to_string();
    let o = j.run(&["undo", "apply", &ids, "--yes"]);
    assert_exit(&o, 5, "undo of an insert whose row changed since");
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(
        all.lines().any(|l| l.contains("item") && l.contains("(6)")),
        "{all}"
    );
    assert_eq!(db.dump(), now);
    let o = j.run(&["undo", "apply", &ids, "--yes", "--force"]);
    assert_exit(&o, 0, "undo --force");
    let want = Db::new(
        engine,
        "CREATE TABLE item (id integer PRIMARY KEY, name text NOT NULL, qty integer NOT NULL);
         INSERT INTO item VALUES (1, 'one', 1), (2, 'two', 2), (3, 'three', 3), (4, 'four', 4),
                                 (6, 'six', 60);",
    )
    .dump();
    assert_eq!(db.dump(), want);
}

#[test]
fn pg_undo_insert_conflicts_with_row_changed_since() {
    inserted_row_changed(Engine::Postgres);
}

#[test]
fn sqlite_undo_insert_conflicts_with_row_changed_since() {
    inserted_row_changed(Engine::Sqlite);
}

/// Keys that need quoting in any text form (quotes, backslashes, commas,
/// braces, the word NULL, the empty string, blanks, tabs, newlines) must
/// each be found as conflicts, in a two-column key, and reported as they
/// are, for re-inserted rows and for reverted updates alike.
#[test]
fn pg_undo_conflict_keys_that_need_quoting_in_arrays() {
    const NAMES: &str = "('plain'), ('with \"quote\"'), ('back\\slash'), ('comma,brace{}'), ('NULL'), (''), \
                         (' spaced '), (E'tab\\there'), (E'new\\nline'), ('ünï ✓')";
    let fixture = format!(
        "CREATE TABLE k (name text, day date, n integer NOT NULL, PRIMARY KEY (name, day));
         INSERT INTO k SELECT v.name, date '2026-01-01' + i, 1
           FROM (VALUES {NAMES}) AS v(name), generate_series(0, 1) AS i;"
    );
    let db = Db::new(Engine::Postgres, &fixture);
    let j = db.machine();

    // Every deleted row re-created: every key is a conflict.
    let id = exec_yes(&j, &db, "DELETE FROM k WHERE day = date '2026-01-01'", &[]);
    db.plain(&format!(
        "INSERT INTO k SELECT v.name, date '2026-01-01', 2 FROM (VALUES {NAMES}) AS v(name)"
    ));
    let v = refused_undo(&j, id, "undo of a delete whose every row exists again");
    let mut found: Vec<String> = v["plan"]["conflicts"]
        .as_array()
        .unwrap_or_else(|| panic!("no plan.conflicts in {v}"))
        .iter()
        .map(|c| c["key"][0].as_str().unwrap_or("?").to_owned())
        .collect();
    found.sort();
    let mut want: Vec<String> = [
        "plain",
        "with \"quote\"",
        "back\\slash",
        "comma,brace{}",
        "NULL",
        "",
        " spaced ",
        "tab\there",
        "new\nline",
        "ünï ✓",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    want.sort();
    assert_eq!(found, want, "{v}");

    // Updates: only the row changed again conflicts, found by its key.
    let id = exec_yes(
        &j,
        &db,
        "UPDATE k SET n = n + 10 WHERE day = date '2026-01-02'",
        &[],
    );
    db.plain("UPDATE k SET n = 99 WHERE name = E'back\\\\slash' AND day = date '2026-01-02'");
    let v = refused_undo(&j, id, "undo of an update whose row changed again");
    assert_eq!(
        v["plan"]["conflicts"],
        serde_json::json!([{
            "table": "public.k",
            "key": ["back\\slash", "2026-01-02"],
            "reason": "changed since: n"
        }]),
        "{v}"
    );
}

/// Keys with quotes, backslashes, newlines and JSON-looking text must each
/// be found as conflicts, and once the conflicting rows are gone the undo
/// restores every row exactly, values of every storage class as they were.
#[test]
fn sqlite_bulk_undo_conflicts_and_restores_awkward_values() {
    let fixture = "CREATE TABLE k (name TEXT PRIMARY KEY, v);
         INSERT INTO k VALUES ('plain', 1), ('it''s', 2.5), ('back\\slash', X'00FF'),
           ('new' || char(10) || 'line', 'x'), ('{\"real\": 1}', NULL), ('[1,2]', -1),
           ('ünï ✓', 9223372036854775807), ('', 1e300);";
    let db = Db::new(Engine::Sqlite, fixture);
    let before = db.dump();
    let j = db.machine();
    let id = exec_yes(&j, &db, "DELETE FROM k", &[]);
    db.plain("INSERT INTO k (name) SELECT name FROM (SELECT 'plain' AS name UNION ALL SELECT 'it''s' UNION ALL SELECT 'back\\slash' UNION ALL SELECT 'new' || char(10) || 'line' UNION ALL SELECT '{\"real\": 1}' UNION ALL SELECT '[1,2]' UNION ALL SELECT 'ünï ✓' UNION ALL SELECT '')");
    let v = refused_undo(&j, id, "undo of a delete whose every row exists again");
    let conflicts = v["plan"]["conflicts"]
        .as_array()
        .unwrap_or_else(|| panic!("no plan.conflicts in {v}"));
    assert_eq!(conflicts.len(), 8, "{v}");
    assert_eq!(v["plan"]["tables"]["k"]["reinsert"], 8, "{v}");

    db.plain("DELETE FROM k");
    let (undo_id, _) = undo_yes(&j, id, &[]);
    assert_eq!(db.dump(), before);
    // The undo's own entry holds the rows it put back, so it can be undone.
    assert_eq!(list_entry(&j, undo_id)["row_count"], 8);
    undo_yes(&j, undo_id, &[]);
    assert!(
        crate::apply::rows(&db.dump(), "k").is_empty(),
        "the undo of the undo left rows"
    );
}

/// SQLite checks a foreign key at the end of each statement, and a
/// self-referencing table's rows are restored in capture order, children
/// possibly first: the undo defers the checks to the commit and must put
/// every row back, with `--force` too.
#[test]
fn sqlite_undo_of_a_self_referencing_cascade_in_several_statements() {
    let fixture = "CREATE TABLE n (id INTEGER PRIMARY KEY,
                                   parent INTEGER REFERENCES n(id) ON DELETE CASCADE,
                                   label TEXT NOT NULL);
         INSERT INTO n VALUES (100000, NULL, 'root');
         WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 5000)
         INSERT INTO n SELECT i, 100000, printf('%0100d', i) FROM s;";
    for extra in [&[][..], &["--force"][..]] {
        let db = Db::new(Engine::Sqlite, fixture);
        let before = db.dump();
        let j = db.machine();
        let id = exec_yes(&j, &db, "DELETE FROM n WHERE id = 100000", &[]);
        let ids = id.to_string();
        let mut args = vec!["undo", "apply", ids.as_str(), "--yes"];
        args.extend_from_slice(extra);
        let o = run_env(&j, &args, &[("DBGUARD_ECHO_SQL", "1")]);
        assert_exit(
            &o,
            0,
            &format!("undo {extra:?} of a self-referencing cascade"),
        );
        assert!(stderr(&o).contains("PRAGMA defer_foreign_keys = ON"));
        assert_eq!(db.dump(), before, "undo {extra:?}");
    }
}

/// Restore order alone satisfies the foreign keys of a plain cascade with
/// a SET NULL table beside the parent (both at the same position): the
/// undo neither defers them nor pays for checking every one afterwards.
#[test]
fn sqlite_undo_of_a_plain_cascade_does_not_defer_foreign_keys() {
    let fixture = "CREATE TABLE parent (id INTEGER PRIMARY KEY);
         CREATE TABLE child (id INTEGER PRIMARY KEY,
                             parent_id INTEGER NOT NULL REFERENCES parent(id) ON DELETE CASCADE);
         CREATE TABLE side (id INTEGER PRIMARY KEY,
                            parent_id INTEGER REFERENCES parent(id) ON DELETE SET NULL);
         INSERT INTO parent VALUES (1), (2);
         INSERT INTO child VALUES (1, 1), (2, 1), (3, 2);
         INSERT INTO side VALUES (1, 1), (2, 2);";
    let db = Db::new(Engine::Sqlite, fixture);
    let before = db.dump();
    let j = db.machine();
    let id = exec_yes(&j, &db, "DELETE FROM parent WHERE id = 1", &[]);
    let ids = id.to_string();
    let o = run_env(
        &j,
        &["undo", "apply", ids.as_str(), "--yes"],
        &[("DBGUARD_ECHO_SQL", "1")],
    );
    assert_exit(&o, 0, "undo of a plain cascade");
    assert!(!stderr(&o).contains("defer_foreign_keys"), "{}", stderr(&o));
    assert_eq!(db.dump(), before);
}

/// Deletes every row of `k` (built by `fixture`), previews its undo through
/// the library (no conflict), runs `came_back` with a plain client, then
/// runs the restore as the pipeline does after its preview, so the row is
/// there for the restore only: the restore plans again in its own
/// transaction and must refuse naming `row` alone, change nothing and
/// leave no journal entry.
fn undo_refuses_a_row_back_since_the_preview(fixture: &str, came_back: &str, row: &str) {
    undo_refuses_a_row_back_since_the_preview_on(Engine::Sqlite, fixture, came_back, row);
}

/// [`undo_refuses_a_row_back_since_the_preview`] on `engine`.
fn undo_refuses_a_row_back_since_the_preview_on(
    engine: Engine,
    fixture: &str,
    came_back: &str,
    row: &str,
) {
    use dbguard::error::ErrorKind;

    let db = Db::new(engine, fixture);
    let j = db.machine();
    let id = exec_yes(&j, &db, "DELETE FROM k", &[]);
    let mut undo = LibUndo::new(&db, id);
    let plan = undo.preview().expect("preview");
    assert!(plan.conflicts.is_empty(), "{plan:?}");
    db.plain(came_back);
    let now = db.dump();

    let err = match undo.restore() {
        Ok(report) => panic!("the undo went through a row that exists again: {report:?}"),
        Err(e) => e,
    };
    assert_eq!(err.kind, ErrorKind::Refused, "{err}");
    assert!(
        err.to_string().contains("1 row conflict") && err.to_string().contains(row),
        "the refusal does not name {row} alone:\n{err}"
    );
    assert_eq!(db.dump(), now, "a refused undo changed the table");
    assert!(
        undo_list(&j)
            .iter()
            .all(|c| c["undo_of"].as_i64() != Some(id)),
        "a refused undo left a journal entry: {:?}",
        undo_list(&j)
    );
}

/// A keyed row: the table declares `ON CONFLICT REPLACE`, which would
/// silently overwrite the row that came back; the last of 600 rows, so
/// the rows before it would be restored first.
#[test]
fn sqlite_undo_refuses_a_keyed_row_back_since_the_preview() {
    undo_refuses_a_row_back_since_the_preview(
        "CREATE TABLE k (id INTEGER PRIMARY KEY ON CONFLICT REPLACE, v TEXT);
         WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 600)
         INSERT INTO k SELECT i, printf('%.1000d', i) FROM s;",
        "INSERT INTO k VALUES (600, 'came back')",
        "k (600)",
    );
}

/// A table without a key gives `INSERT OR ABORT` nothing to fail on: its
/// rows are looked up (every column standing in for the key) before the
/// insert, as the preview does.
#[test]
fn sqlite_undo_refuses_an_unkeyed_row_back_since_the_preview() {
    undo_refuses_a_row_back_since_the_preview(
        "CREATE TABLE k (a INT, b TEXT); INSERT INTO k VALUES (1, 'x'), (2, 'y');",
        "INSERT INTO k VALUES (1, 'x')",
        "k (1, x)",
    );
}

/// The same on Postgres.
#[test]
fn pg_undo_refuses_an_unkeyed_row_back_since_the_preview() {
    undo_refuses_a_row_back_since_the_preview_on(
        Engine::Postgres,
        "CREATE TABLE k (a int, b text); INSERT INTO k VALUES (1, 'x'), (2, 'y');",
        "INSERT INTO k VALUES (1, 'x')",
        "public.k (1, x)",
    );
}

/// Text that is not UTF-8 is looked up as its very bytes: a row of a
/// table without a key that came back is found.
#[test]
fn sqlite_undo_refuses_an_unkeyed_row_back_with_text_that_is_not_utf8() {
    undo_refuses_a_row_back_since_the_preview(
        "CREATE TABLE k (a INT, b TEXT);
         INSERT INTO k VALUES (1, CAST(X'C328' AS TEXT)), (2, 'y');",
        "INSERT INTO k VALUES (1, CAST(X'C328' AS TEXT))",
        "k (1, ",
    );
}

/// Applies `change` to a table whose `e` is `UNIQUE ON CONFLICT REPLACE`,
/// runs `later`, then `undo apply` with each of `flags`: a restored value
/// now held by another row must fail the undo (the table's own rule would
/// delete that row to make room) and leave the table as it is.
fn undo_does_not_replace_through_a_unique_column(change: &str, later: &str, flags: &[&[&str]]) {
    let db = Db::new(
        Engine::Sqlite,
        "CREATE TABLE k (id INTEGER PRIMARY KEY, e TEXT UNIQUE ON CONFLICT REPLACE);
         INSERT INTO k VALUES (1, 'x'), (2, 'y');",
    );
    let j = db.machine();
    let id = exec_yes(&j, &db, change, &[]);
    db.plain(later);
    let now = db.dump();
    let ids = id.to_string();
    for extra in flags {
        let mut args = vec!["undo", "apply", &ids, "--yes"];
        args.extend(*extra);
        let o = j.run(&args);
        assert_exit(&o, 1, &format!("{args:?} after `{change}` and `{later}`"));
        assert!(
            stderr(&o).contains("UNIQUE constraint failed: k.e"),
            "{}",
            stderr(&o)
        );
        assert_eq!(db.dump(), now, "{args:?} changed the table");
    }
}

/// A deleted row, in bulk and then row by row (--force); not its key, so
/// no conflict in the plan.
#[test]
fn sqlite_undo_does_not_replace_a_row_through_a_unique_column() {
    undo_does_not_replace_through_a_unique_column(
        "DELETE FROM k WHERE id = 1",
        "INSERT INTO k VALUES (3, 'x')",
        &[&[], &["--force"]],
    );
}

/// An updated row's before-image.
#[test]
fn sqlite_undo_of_an_update_does_not_replace_a_row_through_a_unique_column() {
    undo_does_not_replace_through_a_unique_column(
        "UPDATE k SET e = 'z' WHERE id = 1",
        "UPDATE k SET e = 'x' WHERE id = 2",
        &[&[]],
    );
}

/// An undo is journaled as a change of its own: its entry holds exactly
/// the rows it put back, each value in its storage class, so `undo show`
/// lists them and the undo of the undo takes them out again.
#[test]
fn sqlite_undo_entry_holds_the_rows_it_restored() {
    let fixture = "CREATE TABLE k (id INTEGER PRIMARY KEY, v, pad TEXT);
         WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 3000)
         INSERT INTO k SELECT i, CASE i % 4 WHEN 0 THEN X'00FF' WHEN 1 THEN 'a' || char(10) || 'b'
             WHEN 2 THEN i * 0.5 ELSE NULL END, printf('%.200c', 'x') FROM s;";
    let db = Db::new(Engine::Sqlite, fixture);
    let before = db.dump();
    let j = db.machine();
    let id = exec_yes(&j, &db, "DELETE FROM k", &[]);
    let emptied = db.dump();

    let (undo_id, _) = undo_yes(&j, id, &[]);
    assert_eq!(db.dump(), before);
    let entry = list_entry(&j, undo_id);
    assert_eq!(entry["row_count"], 3000, "{entry}");
    assert_eq!(entry["undo_of"].as_i64(), Some(id), "{entry}");

    let o = j.run(&["undo", "show", &undo_id.to_string(), "--format", "json"]);
    assert_exit(&o, 0, "undo show of the undo");
    let shown = last_json(&o);
    let rows = shown["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("no rows in {shown}"));
    assert_eq!(rows.len(), 3000);
    let mut keys = Vec::new();
    for r in rows {
        assert_eq!(r["op"], "insert", "{r}");
        let k: i64 = r["key"][0]["int"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no integer key: {r}"));
        let want = match k % 4 {
            0 => serde_json::json!({"blob": "00ff"}),
            1 => serde_json::json!("a\nb"),
            2 => serde_json::json!({"real": format!("{:#018x}", (k as f64 * 0.5).to_bits())}),
            _ => serde_json::Value::Null,
        };
        assert_eq!(r["after"][1], want, "{r}");
        keys.push(k);
    }
    keys.sort();
    assert_eq!(keys, (1..=3000).collect::<Vec<i64>>());

    undo_yes(&j, undo_id, &[]);
    assert_eq!(db.dump(), emptied, "the undo of the undo");
}

/// A refusal keeps its exit status even when its report cannot be written
/// (the reader of the output is already gone): an undo refused for its
/// conflicts, and a delete a RESTRICT reference would make fail, exit 5,
/// not with the write error. exec's text output is the preview, printed
/// before anything is decided: when it cannot be shown, nothing runs.
#[test]
fn refusals_into_a_closed_stdout_keep_their_exit_status() {
    let db = Db::new(
        Engine::Sqlite,
        "CREATE TABLE k (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO k VALUES (1, 'a');
         CREATE TABLE p (id INTEGER PRIMARY KEY);
         CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p(id) ON DELETE RESTRICT);
         INSERT INTO p VALUES (1); INSERT INTO c VALUES (1, 1);",
    );
    let j = db.machine();
    let id = exec_yes(&j, &db, "DELETE FROM k", &[]).to_string();
    db.plain("INSERT INTO k VALUES (1, 'back')");
    let before = db.dump();
    let target = db.target();
    let undo = ["undo", "apply", id.as_str(), "--yes", "--format"];
    let exec = [
        "exec",
        target.as_str(),
        "-c",
        "DELETE FROM p",
        "--yes",
        "--format",
    ];
    // exec's JSON report carries its refusal, so the status alone does.
    for (args, format, status, said) in [
        (&undo[..], "json", 5, "cannot be undone"),
        (&undo[..], "text", 5, "cannot be undone"),
        (&exec[..], "json", 5, ""),
        (&exec[..], "text", 1, "cannot write output"),
    ] {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let o = j
            .command(args)
            .arg(format)
            .stdin(std::process::Stdio::null())
            .stdout(writer)
            .output()
            .expect("run dbguard");
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(status), "{args:?} {format}: {err}");
        assert!(err.contains(said), "{args:?} {format}: {err}");
        assert!(!err.contains("panicked"), "{args:?} {format}: {err}");
    }
    assert_eq!(db.dump(), before);
}

/// Runs `undo apply ID --yes --format json`, which must refuse with exit 5
/// (conflicts), and returns its JSON.
fn refused_undo(j: &JournalDir, id: i64, what: &str) -> serde_json::Value {
    let o = j.run(&[
        "undo",
        "apply",
        &id.to_string(),
        "--yes",
        "--format",
        "json",
    ]);
    assert_exit(&o, 5, what);
    last_json(&o)
}

/// A parent deleted with its SET NULL references, for the undo's plan.
const SET_NULL: &str = "CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT);
     CREATE TABLE s (id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p (id) ON DELETE SET NULL, note TEXT);
     INSERT INTO p VALUES (1, 'a'), (2, 'b'), (3, 'c');
     INSERT INTO s VALUES (10, 1, 'x'), (11, 2, 'y'), (12, 3, 'z');";

/// The SET NULL rows of a delete are updated rows of its entry: the
/// undo's preview plans them as before-images to restore, and the undo
/// after that preview gives them their references back.
#[test]
fn sqlite_undo_restores_set_null_rows_as_previewed() {
    let db = Db::new(Engine::Sqlite, SET_NULL);
    let j = db.machine();
    let id = exec_yes(&j, &db, "DELETE FROM p WHERE id <= 2", &[]);
    let before = db.dump();
    let mut undo = LibUndo::new(&db, id);
    let plan = undo.preview().expect("preview");
    assert!(plan.conflicts.is_empty(), "{plan:?}");
    let counts = |t: &str| {
        let c = &plan.tables[t];
        (c.reinsert, c.revert, c.delete)
    };
    assert_eq!(counts("p"), (2, 0, 0), "{plan:?}");
    assert_eq!(counts("s"), (0, 2, 0), "{plan:?}");
    let report = undo.restore().expect("undo");
    assert_eq!(report.skipped, 0, "{report:?}");
    assert_ne!(db.dump(), before, "the undo changed nothing");
    let s: Vec<(i64, Option<i64>)> = {
        let c = rusqlite::Connection::open(db.target()).expect("open");
        let mut st = c
            .prepare("SELECT id, p_id FROM s ORDER BY id")
            .expect("prepare");
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    assert_eq!(s, [(10, Some(1)), (11, Some(2)), (12, Some(3))]);
    assert_eq!(
        list_entry(&j, id)["undone_by"].as_i64(),
        Some(report.change_id)
    );
}

/// A SET NULL row changed between the undo's preview and the undo: the
/// undo does not go by its preview, and refuses the conflict it would
/// otherwise overwrite.
#[test]
fn sqlite_undo_plans_again_when_a_row_changed_since_its_preview() {
    let db = Db::new(Engine::Sqlite, SET_NULL);
    let j = db.machine();
    let id = exec_yes(&j, &db, "DELETE FROM p WHERE id <= 2", &[]);
    let mut undo = LibUndo::new(&db, id);
    let plan = undo.preview().expect("preview");
    assert!(plan.conflicts.is_empty(), "{plan:?}");
    db.plain("UPDATE s SET p_id = 3 WHERE id = 10");
    undo.refused(
        &db,
        "(10)",
        "the undo overwrote a row changed since its preview",
    );
}

/// The same when the row was changed through the undo's own connection
/// (which SQLite's data version does not count).
#[test]
fn sqlite_undo_plans_again_after_its_own_connection_wrote() {
    let db = Db::new(Engine::Sqlite, SET_NULL);
    let j = db.machine();
    let id = exec_yes(&j, &db, "DELETE FROM p WHERE id <= 2", &[]);
    let mut undo = LibUndo::new(&db, id);
    let plan = undo.preview().expect("preview");
    assert!(plan.conflicts.is_empty(), "{plan:?}");
    let guard = dbguard::db::GuardOptions::default();
    undo.conn
        .guarded(&guard, |tx| {
            tx.execute("UPDATE s SET p_id = 3 WHERE id = 10")
        })
        .expect("write on the same connection");
    undo.refused(
        &db,
        "(10)",
        "the undo overwrote a row its own connection changed",
    );
}

/// A preview of one change says nothing about another's rows: after the
/// first change's undo was previewed, a row of the second changes, and
/// the second's undo refuses it.
#[test]
fn sqlite_undo_takes_no_plan_made_for_another_change() {
    let db = Db::new(Engine::Sqlite, SET_NULL);
    let j = db.machine();
    let first = exec_yes(&j, &db, "DELETE FROM p WHERE id = 1", &[]);
    let second = exec_yes(&j, &db, "DELETE FROM p WHERE id = 2", &[]);
    let plan = LibUndo::new(&db, first)
        .preview()
        .expect("preview of the first change");
    assert!(plan.conflicts.is_empty(), "{plan:?}");
    db.plain("UPDATE s SET p_id = 3 WHERE id = 11");
    LibUndo::new(&db, second).refused(&db, "(11)", "the undo went over a changed row");
}

/// An undo of change `id` run through the library, so a test can act
/// between its preview and the restore.
struct LibUndo {
    conn: dbguard::db::Connection,
    schema: dbguard::schema::Schema,
    undo: dbguard::undo::Undo,
    /// The last preview's plan and the data version it was read at.
    previewed: Option<(dbguard::undo::UndoPlan, Option<String>)>,
}

impl LibUndo {
    fn new(db: &Db, id: i64) -> LibUndo {
        use dbguard::db::{Connection, OpenOptions};
        let mut conn = Connection::open(Some(&db.target()), &OpenOptions::default()).expect("open");
        let schema = conn.introspect().expect("introspect");
        let loaded = dbguard::undo::load(&mut conn, id).expect("load");
        let opts = dbguard::undo::UndoOptions::default();
        let undo = dbguard::undo::Undo::new(conn.identity(), loaded, opts).expect("undo");
        LibUndo {
            conn,
            schema,
            undo,
            previewed: None,
        }
    }

    /// The plan, as `undo apply --dry-run` shows it.
    fn preview(&mut self) -> dbguard::error::Result<dbguard::undo::UndoPlan> {
        let (plan, version) = self.undo.preview(&mut self.conn)?;
        self.previewed = Some((plan.clone(), version));
        Ok(plan)
    }

    /// The restore, in a guarded transaction that journals it, as the
    /// pipeline runs it after its preview (without its gate and audit,
    /// which these tests are not about).
    fn restore(&mut self) -> dbguard::error::Result<dbguard::undo::UndoReport> {
        let meta = self.undo.meta(self.conn.identity(), "tester");
        // As the pipeline does: the preview's version moved past the
        // session's own audit writes, then held against the transaction's.
        let (plan, version) = match &self.previewed {
            Some((plan, Some(v))) => (Some(plan), self.conn.refresh_version(v)?),
            _ => (None, None),
        };
        let (undo, schema) = (&mut self.undo, &self.schema);
        let guard = dbguard::db::GuardOptions::default();
        self.conn.guarded(&guard, |tx| {
            let holds = dbguard::undo::plan_holds(tx, version.as_deref())?;
            let mut rec = dbguard::journal::Recording::begin(tx, &meta)?;
            let unchanged = plan.filter(|_| holds);
            let report = undo.restore(tx, &mut rec, schema, unchanged, &mut |_, _| {})?;
            rec.finish(tx)?;
            Ok(report)
        })
    }

    /// Runs the restore, which must refuse the conflict on `key` and leave
    /// the tables as they are; `why` says what going through would mean.
    fn refused(&mut self, db: &Db, key: &str, why: &str) {
        let now = db.dump();
        let err = match self.restore() {
            Ok(report) => panic!("{why}: {report:?}"),
            Err(e) => e,
        };
        assert_eq!(err.kind, dbguard::error::ErrorKind::Refused, "{err}");
        assert!(err.to_string().contains(key), "{err}");
        assert_eq!(db.dump(), now, "a refused undo changed the tables");
    }
}

/// A table without a key may hold copies of a row. Deleting one of two
/// copies leaves the other: the undo puts the deleted copy back (the copy
/// that stayed is no conflict), the undo of the undo takes it out again,
/// and once someone else has put a copy back, the undo is refused naming
/// that row and changes nothing.
fn copies_of_an_unkeyed_row(engine: Engine, one_copy: &str) {
    let db = Db::new(
        engine,
        "CREATE TABLE k (a int, b text); INSERT INTO k VALUES (1, 'x'), (1, 'x'), (2, 'y');",
    );
    let j = db.machine();
    let before = db.dump();
    let id = exec_yes(&j, &db, &format!("DELETE FROM k WHERE {one_copy}"), &[]);
    let after = db.dump();
    assert_ne!(before, after, "{engine:?}: the delete changed nothing");
    let (undo, _) = undo_yes(&j, id, &[]);
    assert_eq!(
        db.dump(),
        before,
        "{engine:?}: undo of the delete of one copy"
    );
    undo_yes(&j, undo, &[]);
    assert_eq!(db.dump(), after, "{engine:?}: undo of the undo");

    // The copy comes back by another hand: the undo of the undo's undo
    // would make three.
    let id = exec_yes(&j, &db, &format!("DELETE FROM k WHERE {one_copy}"), &[]);
    db.plain("INSERT INTO k VALUES (1, 'x')");
    let now = db.dump();
    let ids = id.to_string();
    let o = j.run(&["undo", "apply", &ids, "--yes", "--format", "json"]);
    assert_exit(&o, 5, &format!("{engine:?}: undo with a copy back"));
    let v = last_json(&o);
    assert_eq!(
        v["plan"]["conflicts"].as_array().map(Vec::len),
        Some(1),
        "{engine:?}: {v}"
    );
    assert_eq!(db.dump(), now, "{engine:?}: a refused undo changed data");
}

#[test]
fn sqlite_undo_of_one_of_two_copies_of_an_unkeyed_row() {
    copies_of_an_unkeyed_row(
        Engine::Sqlite,
        "rowid = (SELECT min(rowid) FROM k WHERE a = 1)",
    );
}

#[test]
fn pg_undo_of_one_of_two_copies_of_an_unkeyed_row() {
    copies_of_an_unkeyed_row(
        Engine::Postgres,
        "ctid = (SELECT min(ctid) FROM k WHERE a = 1)",
    );
}

/// A column whose type changed since the change (another client narrowed
/// it) would take the captured values coerced — 1.25 back as 1.3, 0.1 as
/// 0.100000001 — while the undo said every row equals its before-image:
/// refused, naming the column and both types, nothing changed.
#[test]
fn pg_undo_after_a_column_changed_type_is_refused() {
    let db = Db::new(
        Engine::Postgres,
        "CREATE TABLE m (id int PRIMARY KEY, amount numeric, ratio float8);
         INSERT INTO m VALUES (1, 1.25, 0.1), (2, 2.5, 0.2);",
    );
    let j = db.machine();
    let id = exec_yes(&j, &db, "DELETE FROM m WHERE id = 1", &[]);
    db.plain("ALTER TABLE m ALTER COLUMN amount TYPE numeric(10,1)");
    let now = db.dump();
    let ids = id.to_string();
    for args in [
        vec!["undo", "apply", ids.as_str(), "--yes"],
        vec!["undo", "apply", ids.as_str(), "--dry-run"],
    ] {
        let o = j.run(&args);
        assert_exit(&o, 1, &format!("{args:?} after the type change"));
        let err = stderr(&o);
        assert!(
            err.contains("amount")
                && err.contains("numeric(10,1)")
                && err.contains("nothing was changed"),
            "{args:?}: {err}"
        );
        assert_eq!(db.dump(), now, "{args:?} changed data");
    }
    db.plain("ALTER TABLE m ALTER COLUMN amount TYPE numeric");
    undo_yes(&j, id, &[]);
    assert!(
        db.dump()
            .values()
            .any(|rows| rows.iter().any(|r| r == "(1,1.25,0.1)")),
        "the row did not come back exactly: {:?}",
        db.dump()
    );
}
