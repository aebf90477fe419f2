//! Issue 14, client_encoding: a session the operator put in LATIN1 (the
//! shell runs a read calling a function of the database's own that calls
//! `set_config('client_encoding', 'LATIN1', false)`) changes nothing of what dbguard journals or restores: changes
//! applied in such an exec session, and changes undone with `\undo` in
//! such a shell session. The fixtures and comparisons are
//! [`crate::apply_types`]'s.

use dbguard::db::Engine;

use crate::apply::{Db, assert_exit};
use crate::apply_types::*;
use crate::helpers::*;
use crate::terminal::Terminal;

// ------------------------------------------------------- client_encoding

/// The one way left for a dbguard session to get LATIN1: the shell
/// refuses `SET client_encoding` and a read calling `set_config(...,
/// false)` (issue 15), and runs this as a read ([`SESSION_FN`]).
const LATIN1: &str = "SELECT public.session_set('client_encoding', 'LATIN1')";

/// `SESSION_VALUES` with LATIN1.
const LATIN1_VALUES: [&str; 8] = [
    "sql_standard",
    "SQL, DMY",
    "Asia/Kathmandu",
    "-15",
    "escape",
    "app, public",
    // Read with standard conforming strings (see `SESSION_VALUES`).
    "on",
    "LATIN1",
];

/// Text every character of which exists in LATIN1, in a table of its own.
const PG_LATIN1_FIXTURE: &str = r#"
CREATE TYPE latin_mood AS ENUM ('café', 'naïve');
CREATE TABLE public.l1 (id int PRIMARY KEY, t text, v varchar(20), c char(5), a text[], j jsonb,
                        b bytea, e latin_mood);
INSERT INTO public.l1 VALUES
  (1, 'café', 'naïve', 'Ñ', '{"crème brûlée",ß,NULL}', '{"é": "ü"}', '\xe9', 'café'),
  (2, E'it''s \\ "q"\n\t', 'ÿ', ' ', '{}', '[]', '\x', 'naïve'),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
CREATE FUNCTION public.session_set(name text, value text)
    RETURNS text LANGUAGE sql AS $$ SELECT set_config(name, value, false) $$;
"#;

/// Neither the database's defaults, nor `PGOPTIONS`, nor the target
/// string can start a dbguard session in another client_encoding: the
/// driver always asks for UTF8 in its startup packet, which wins over the
/// first two, and dbguard refuses the third. So the undo's session is
/// UTF8 whatever is set outside, and only the apply's session can be in
/// LATIN1 (the tests after this one).
#[test]
fn pg_outside_client_encoding_does_not_reach_a_dbguard_session() {
    let db = Db::new(Engine::Postgres, "");
    let Db::Pg(pg) = &db else { unreachable!() };
    pg.client()
        .batch_execute(&format!(
            "ALTER DATABASE \"{}\" SET client_encoding = 'LATIN1'",
            pg.name
        ))
        .expect("alter database");
    let j = db.machine();
    let show = ["exec", "-c", "SHOW client_encoding", "--format", "json"];
    for env in [vec![], vec![("PGOPTIONS", "-c client_encoding=LATIN1")]] {
        let (out, lines) = run_env(&j, &show, &env);
        assert_exit(&out, 0, "SHOW client_encoding");
        assert_eq!(lines[0]["rows"][0][0], "UTF8", "with {env:?}");
    }
    let url = format!("{}?client_encoding=LATIN1", db.target());
    let (out, lines) = run_env(
        &j,
        &[
            "exec",
            &url,
            "-c",
            "SHOW client_encoding",
            "--format",
            "json",
        ],
        &[],
    );
    if out.status.success() {
        assert_eq!(lines[0]["rows"][0][0], "UTF8", "{url}");
    } else {
        assert!(
            stderr(&out).contains("client_encoding"),
            "a refusal names the option: {}",
            stderr(&out)
        );
    }
}

/// LATIN1 in the operator's session, every other setting changed too,
/// over text that LATIN1 can hold: the capture never passes through the
/// session's encoding.
#[test]
fn pg_latin1_session_around_changes_of_latin1_text_restore_identical_rows() {
    let db = Db::new(Engine::Postgres, PG_LATIN1_FIXTURE);
    pg_settings_round_trip(
        &db,
        &[("public.l1", "id")],
        &format!("{LATIN1}; {SESSION_SETS}"),
        &LATIN1_VALUES,
        &[
            "UPDATE l1 SET t = upper(t), a = a || t, j = j || '{\"x\": 1}', \
             e = (SELECT e FROM l1 WHERE id = 1) WHERE id = 2"
                .into(),
            "DELETE FROM l1 WHERE id IN (1, 3)".into(),
        ],
    );
}

#[test]
fn pg_latin1_session_around_a_delete_of_every_type_restore_identical_rows() {
    let db = Db::new(
        Engine::Postgres,
        &format!(
            "{}ALTER TABLE public.\"tÿpes\" RENAME TO every_type;",
            pg_settings_fixture()
        ),
    );
    pg_settings_round_trip(
        &db,
        &[
            ("public.every_type", "id"),
            ("app.\"régs\"", "id"),
            ("public.fl", "id"),
        ],
        &format!("{LATIN1}; {SESSION_SETS}"),
        &LATIN1_VALUES,
        &["DELETE FROM every_type".into(), "DELETE FROM fl".into()],
    );
}

#[test]
fn pg_latin1_session_writes_and_journals_the_text_the_operator_typed() {
    let db = Db::new(Engine::Postgres, PG_LATIN1_FIXTURE);
    let url = db.target();
    let j = db.machine();
    let before = pg_image(&url, "public.l1");
    let typed = "UPDATE l1 SET t = 'café ✓ 𝄞' WHERE id = 2";
    let (out, lines) = run_env(
        &j,
        &[
            "exec",
            "-c",
            &format!("{LATIN1}; {typed}"),
            "--yes",
            "--format",
            "json",
        ],
        &[],
    );
    let ids = change_ids(&lines);
    assert_eq!(
        ids.len(),
        1,
        "the UPDATE applied: {lines:?}\n{}",
        stderr(&out)
    );
    let written: Option<String> = pg_fixed(&url)
        .query_one("SELECT t FROM public.l1 WHERE id = 2", &[])
        .expect("read the row")
        .get(0);
    assert_eq!(written.as_deref(), Some("café ✓ 𝄞"), "the value written");
    let entry = crate::apply::list_entry(&j, ids[0]);
    assert_eq!(entry["statement"], typed, "the journaled statement");
    let verify = j.run(&["audit", "verify"]);
    assert_exit(
        &verify,
        0,
        "audit verify after a change in a LATIN1 session",
    );
    undo_env(&j, ids[0], &[]);
    assert_same(&before, &pg_image(&url, "public.l1"), "l1 after the undo");
}

// ------------------------------------ client_encoding in the undo's shell

/// Client_encoding between the apply and the undo: the changes are made in
/// an ordinary session, then undone from the shell after the operator put
/// it in LATIN1 and changed every other output setting too (the shell's
/// `\undo` is the one undo that can run in such a session: a new `dbguard
/// undo` process always starts in UTF8). Every table must be as it was,
/// byte for byte.
fn pg_latin1_shell_undo(db: &Db, tables: &[(&str, &str)], statements: &[&str]) {
    let url = db.target();
    let j = db.machine();
    for (i, (t, _)) in tables.iter().enumerate() {
        pg_oracle_copy(&url, t, &format!("before_{i}"));
    }
    let before: Vec<PgImage> = tables.iter().map(|(t, _)| pg_image(&url, t)).collect();
    let ids: Vec<i64> = statements.iter().map(|s| exec_apply(&j, s)).collect();
    let after: Vec<PgImage> = tables.iter().map(|(t, _)| pg_image(&url, t)).collect();
    assert!(before != after, "the statements changed nothing");

    let mut term = Terminal::open(&j);
    term.wait_for(&["=> "]);
    term.run(&format!("{LATIN1}; {SESSION_SETS};"), "(1 row)");
    let settings: Vec<String> = PG_SETTINGS
        .iter()
        .map(|s| format!("current_setting('{s}')"))
        .collect();
    let from = term.seen.len();
    term.run(
        &format!("SELECT concat_ws('/', {}) AS now;", settings.join(", ")),
        "(1 row)",
    );
    let want = LATIN1_VALUES.join("/");
    assert!(
        term.seen[from..].contains(&want),
        "the shell's session runs with {want}:\n{}",
        &term.seen[from..]
    );
    for id in ids.iter().rev() {
        term.undo(*id);
    }
    term.quit();
    for (i, (t, key)) in tables.iter().enumerate() {
        let what = format!("{t} after the shell's undo of changes {ids:?} in LATIN1");
        assert_same(&before[i], &pg_image(&url, t), &what);
        assert_eq!(
            pg_image_mismatches(&url, &format!("before_{i}"), t, key),
            Vec::<String>::new(),
            "{what}: rows whose stored bytes differ from the server's copy (by {key})"
        );
    }
}

#[test]
fn pg_latin1_shell_undo_of_latin1_text_restores_identical_rows() {
    let db = Db::new(Engine::Postgres, PG_LATIN1_FIXTURE);
    pg_latin1_shell_undo(
        &db,
        &[("public.l1", "id")],
        &[
            "UPDATE l1 SET t = upper(t), a = a || t WHERE id = 2",
            "DELETE FROM l1 WHERE id IN (1, 3)",
        ],
    );
}

#[test]
fn pg_latin1_shell_undo_of_every_type_restores_identical_rows() {
    let db = Db::new(
        Engine::Postgres,
        &format!(
            "{}ALTER TABLE public.\"tÿpes\" RENAME TO every_type;",
            pg_settings_fixture()
        ),
    );
    pg_latin1_shell_undo(
        &db,
        &[
            ("public.every_type", "id"),
            ("app.\"régs\"", "id"),
            ("public.fl", "id"),
        ],
        &["DELETE FROM every_type", "DELETE FROM fl"],
    );
}
