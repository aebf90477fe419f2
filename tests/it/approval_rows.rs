//! An approval binds the rows its change touches in every table, not only
//! how many (issue 15, finding 4). Where policy may ask for an approval,
//! the preview's digest holds a SHA-256 over the identity of every row of
//! every row set (the target, cascades, SET NULL and updated rows), so the
//! same counts of other rows at apply time are drift, and a token signed
//! for the first set applies nothing.

use dbguard::db::Engine;

use crate::apply::Db;
use crate::approval_flow::{Approvers, exec_json, request_of};

/// Approved: delete parent 1 and, by cascade, its children 10 and 11.
/// Then the children are re-parented: parent 1 now has 12 and 13, the
/// counts are the same. The token must not delete 12 and 13.
fn re_parented_children_are_not_what_was_approved(engine: Engine) {
    re_parented_children_of(
        engine,
        "CREATE TABLE c (id integer PRIMARY KEY, pid integer REFERENCES p ON DELETE CASCADE);",
        "INSERT INTO c VALUES (10, 1), (11, 1), (12, 2), (13, 2);",
    );
}

#[test]
fn pg_re_parented_children_are_not_what_was_approved() {
    re_parented_children_are_not_what_was_approved(Engine::Postgres);
}

#[test]
fn sqlite_re_parented_children_are_not_what_was_approved() {
    re_parented_children_are_not_what_was_approved(Engine::Sqlite);
}

/// The same for the rows an approved UPDATE changes: which rows, not how
/// many.
fn other_rows_of_the_same_count_are_not_what_was_approved(engine: Engine) {
    let a = Approvers::new(
        "[[rule]]\nname = \"updates-need-a-dba\"\noperations = [\"update\"]\nverdict = \"approve\"\napprovals = 1\nfrom = [\"dba\"]\n",
    );
    let db = Db::new(
        engine,
        "CREATE TABLE t (id integer PRIMARY KEY, status text NOT NULL, n integer NOT NULL);
         INSERT INTO t VALUES (1, 'stale', 0), (2, 'stale', 0), (3, 'ok', 0), (4, 'ok', 0);",
    );
    let j = db.machine();
    let target = db.target();
    let sql = "UPDATE t SET n = n + 1 WHERE status = 'stale'";
    let line = request_of(&j, &a, &target, sql);
    let token = a.approve("alice", &line);
    db.plain("UPDATE t SET status = CASE WHEN status = 'stale' THEN 'ok' ELSE 'stale' END");
    let before = db.dump();
    let (code, v) = exec_json(
        &j,
        &a.policy(),
        "carol@example.org",
        &target,
        sql,
        &[&token],
    );
    assert_eq!(code, Some(3), "{v}");
    assert_eq!(
        db.dump(),
        before,
        "the token updated rows it was not signed for"
    );
}

#[test]
fn pg_other_rows_of_the_same_count_are_not_what_was_approved() {
    other_rows_of_the_same_count_are_not_what_was_approved(Engine::Postgres);
}

#[test]
fn sqlite_other_rows_of_the_same_count_are_not_what_was_approved() {
    other_rows_of_the_same_count_are_not_what_was_approved(Engine::Sqlite);
}

/// The operator of an approved change is whom their key proved, in the
/// journal and in the trail, not the name `--as` gave: carol calling
/// herself bob gets her change recorded as carol's (found by an attack
/// review: it was recorded as bob's, pinning it on someone else).
#[test]
fn an_approved_change_is_recorded_as_the_proven_operators() {
    let a = Approvers::new("");
    let db = Db::new(Engine::Sqlite, crate::approval_flow::SCHEMA);
    let j = db.machine();
    let target = db.target();
    let sql = "DELETE FROM p WHERE id = 1";
    let key = a
        .policy()
        .parent()
        .unwrap()
        .join("carol")
        .display()
        .to_string();
    let policy = a.policy().display().to_string();
    let run = |tokens: &[&str]| {
        let mut args = vec![
            "--policy",
            &policy,
            "--as",
            "bob@example.org",
            "--key",
            &key,
        ];
        args.extend(["exec", &target, "-c", sql, "--yes", "--format", "json"]);
        for t in tokens {
            args.extend(["--token", t]);
        }
        let o = j.run(&args);
        (o.status.code(), crate::helpers::last_json(&o))
    };
    let (code, v) = run(&[]);
    assert_eq!(code, Some(3), "{v}");
    let token = a.approve("alice", v["request"].as_str().unwrap());
    let (code, v) = run(&[&token]);
    assert_eq!(code, Some(0), "{v}");
    let id = v["change_id"].as_i64().unwrap();
    let entry = crate::apply::list_entry(&j, id);
    assert_eq!(entry["operator"], "carol@example.org", "{entry}");
    let trail: serde_json::Value = serde_json::from_str(
        crate::helpers::stdout(&j.run(&["audit", "show", "--format", "json"])).trim(),
    )
    .unwrap();
    let apply = trail
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["event"] == "apply")
        .unwrap();
    assert_eq!(apply["operator"], "carol@example.org", "{apply}");
}

/// `re_parented_children_are_not_what_was_approved` on a child table the
/// review found holes in (a second attack review): a keyless child with a
/// column named like the preview's alias for it (its rows were digested by
/// that one column), and a text key holding a newline (two sets of keys
/// joined alike).
fn re_parented_children_of(engine: Engine, child: &str, rows: &str) {
    let a = Approvers::new("");
    let db = Db::new(
        engine,
        &format!(
            "CREATE TABLE p (id integer PRIMARY KEY, name text);
             {child}
             INSERT INTO p VALUES (1, 'one'), (2, 'two');
             {rows}"
        ),
    );
    let j = db.machine();
    let target = db.target();
    let sql = "DELETE FROM p WHERE id = 1";
    let token = a.approve("alice", &request_of(&j, &a, &target, sql));
    db.plain("UPDATE c SET pid = 3 - pid");
    let before = db.dump();
    let (code, v) = exec_json(
        &j,
        &a.policy(),
        "carol@example.org",
        &target,
        sql,
        &[&token],
    );
    assert_eq!(code, Some(3), "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("impact changed"),
        "{v}"
    );
    assert_eq!(
        db.dump(),
        before,
        "the token deleted children it was not signed for"
    );
}

#[test]
fn pg_a_keyless_child_with_a_column_named_like_its_alias_is_bound_whole() {
    re_parented_children_of(
        Engine::Postgres,
        "CREATE TABLE c (t0 int DEFAULT 0, t1 int DEFAULT 0, t2 int DEFAULT 0,
                         pid integer REFERENCES p ON DELETE CASCADE, note text);",
        "INSERT INTO c (pid, note) VALUES (1, 'junk1'), (1, 'junk2'), (2, 'IMPORTANT1'), (2, 'IMPORTANT2');",
    );
}

#[test]
fn pg_text_keys_holding_newlines_are_bound_apart() {
    re_parented_children_of(
        Engine::Postgres,
        "CREATE TABLE c (code text PRIMARY KEY, pid integer REFERENCES p ON DELETE CASCADE);",
        "INSERT INTO c VALUES (E'a\\nb', 1), ('c', 1), ('a', 2), (E'b\\nc', 2);",
    );
}

/// SQLite bound a child's rows by rowid alone: codes swapped between rows
/// that keep their rowids went unseen, and the token deleted the other
/// codes (a second attack review). The key is bound too.
#[test]
fn sqlite_rows_are_bound_by_their_key_not_only_their_rowid() {
    let a = Approvers::new("");
    let db = Db::new(
        Engine::Sqlite,
        "CREATE TABLE p (id integer PRIMARY KEY, name text);
         CREATE TABLE c (code text PRIMARY KEY, pid integer REFERENCES p ON DELETE CASCADE);
         INSERT INTO p VALUES (1, 'one'), (2, 'two');
         INSERT INTO c VALUES ('junk1', 1), ('junk2', 1), ('IMP1', 2), ('IMP2', 2);",
    );
    let j = db.machine();
    let target = db.target();
    let sql = "DELETE FROM p WHERE id = 1";
    let token = a.approve("alice", &request_of(&j, &a, &target, sql));
    db.plain(
        "UPDATE c SET code = code || '.' ;
         UPDATE c SET code = CASE code WHEN 'junk1.' THEN 'IMP1' WHEN 'junk2.' THEN 'IMP2'
                                       WHEN 'IMP1.' THEN 'junk1' ELSE 'junk2' END,
                      pid = CASE WHEN code LIKE 'junk%' THEN 1 ELSE 2 END;
         UPDATE c SET pid = CASE WHEN code LIKE 'IMP%' THEN 1 ELSE 2 END;",
    );
    let before = db.dump();
    let (code, v) = exec_json(
        &j,
        &a.policy(),
        "carol@example.org",
        &target,
        sql,
        &[&token],
    );
    assert_eq!(code, Some(3), "{v}");
    assert_eq!(
        db.dump(),
        before,
        "the token deleted rows it was not signed for"
    );
}

/// `--allow-uncovered` is part of what an approver signs: a token for the
/// change without it does not cover applying it with it (a second attack
/// review), and the approver is shown it when it is asked.
#[test]
fn leave_to_commit_uncovered_writes_is_part_of_the_approval() {
    let a = Approvers::new("");
    let db = Db::new(Engine::Sqlite, crate::approval_flow::SCHEMA);
    let j = db.machine();
    let target = db.target();
    let sql = "DELETE FROM p WHERE id = 1";
    let token = a.approve("alice", &request_of(&j, &a, &target, sql));
    let before = db.dump();
    let policy = a.policy().display().to_string();
    let key = a
        .policy()
        .parent()
        .unwrap()
        .join("carol")
        .display()
        .to_string();
    let args = [
        "--policy",
        &policy,
        "--as",
        "carol@example.org",
        "--key",
        &key,
        "exec",
        &target,
        "-c",
        sql,
        "--yes",
        "--format",
        "json",
        "--allow-uncovered",
        "--token",
        &token,
    ];
    let o = j.run(&args);
    assert_eq!(o.status.code(), Some(3), "{}", crate::helpers::stderr(&o));
    assert_eq!(db.dump(), before);
    let o = j.run(&args[..args.len() - 2]);
    let v = crate::helpers::last_json(&o);
    let shown = crate::helpers::run(&[
        "approve",
        v["request"].as_str().unwrap(),
        "--key",
        &a.policy()
            .parent()
            .unwrap()
            .join("alice")
            .display()
            .to_string(),
        "--yes",
    ]);
    assert!(
        crate::helpers::stdout(&shown).contains("--allow-uncovered"),
        "{}",
        crate::helpers::stdout(&shown)
    );
}
