//! Setting up the journal (issue 14): `dbguard init` is idempotent and says
//! what it created; a change on a database without a journal is refused by
//! `exec` with the one command to run, and offered by the shell on a
//! terminal; a Postgres role that may not create the schema is told the
//! statement an administrator runs, after which `init` works.

use dbguard::db::Engine;

use crate::apply::{Db, assert_exit};
use crate::helpers::*;
use crate::terminal::Terminal;

const ROWS: &str = "CREATE TABLE t (id integer PRIMARY KEY, v text);
                    INSERT INTO t VALUES (1, 'a'), (2, 'b');";

fn init_twice(engine: Engine) {
    let db = Db::bare(engine, ROWS);
    let j = db.machine();
    let target = db.target();
    let o = j.run(&["init", &target]);
    assert_exit(&o, 0, "first init");
    assert!(
        stdout(&o).contains("created the dbguard journal (version 2)"),
        "{}",
        stdout(&o)
    );
    let o = j.run(&["init", &target]);
    assert_exit(&o, 0, "second init");
    assert!(
        stdout(&o).contains("already has the dbguard journal (version 2)"),
        "{}",
        stdout(&o)
    );
    let o = j.run(&["exec", &target, "-c", "DELETE FROM t WHERE id = 1", "--yes"]);
    assert_exit(&o, 0, "exec once the journal is there");
}

#[test]
fn sqlite_init_is_idempotent() {
    init_twice(Engine::Sqlite);
}

#[test]
fn pg_init_is_idempotent() {
    init_twice(Engine::Postgres);
}

/// `exec` refuses a change on a database without a journal, naming the
/// command that creates it; a dry run needs none.
fn exec_without_a_journal(engine: Engine) {
    let db = Db::bare(engine, ROWS);
    let j = db.machine();
    let target = db.target();
    let before = db.dump();
    let o = j.run(&["exec", &target, "-c", "DELETE FROM t WHERE id = 1", "--yes"]);
    assert_exit(&o, 1, "exec without a journal");
    let err = stderr(&o);
    assert!(
        err.contains("has no dbguard journal") && err.contains("dbguard init"),
        "{err}"
    );
    assert_eq!(db.dump(), before, "a refused change changed data");
    let o = j.run(&[
        "exec",
        &target,
        "-c",
        "DELETE FROM t WHERE id = 1",
        "--dry-run",
    ]);
    assert_exit(&o, 0, "a dry run without a journal");
    assert!(stdout(&o).contains("1 row"), "{}", stdout(&o));
}

#[test]
fn sqlite_exec_without_a_journal_refuses_with_the_command() {
    exec_without_a_journal(Engine::Sqlite);
}

#[test]
fn pg_exec_without_a_journal_refuses_with_the_command() {
    exec_without_a_journal(Engine::Postgres);
}

/// On a terminal the shell, once the change is confirmed, says what
/// creating the journal adds and asks; `yes` creates it and applies, any
/// other answer applies nothing and creates nothing.
fn shell_offers_the_journal(engine: Engine) {
    let db = Db::bare(engine, ROWS);
    let j = db.machine();
    let before = db.dump();

    let mut term = Terminal::open(&j);
    term.wait_for(&["=> "]);
    term.send("DELETE FROM t WHERE id = 1;");
    term.wait_for(&["anything else cancels: "]);
    term.send("apply");
    term.wait_for(&["has no dbguard journal"]);
    term.wait_for(&["Create it now?"]);
    term.send("no");
    term.wait_for(&["Not applied."]);
    term.wait_for(&["=> "]);
    term.quit();
    assert_eq!(db.dump(), before, "declined, yet the data changed");
    let o = j.run(&["undo", "list", &db.target()]);
    assert!(
        stderr(&o).contains("has no dbguard journal"),
        "declined, yet a journal was created: {}{}",
        stdout(&o),
        stderr(&o)
    );

    let mut term = Terminal::open(&j);
    term.wait_for(&["=> "]);
    term.send("DELETE FROM t WHERE id = 1;");
    term.wait_for(&["anything else cancels: "]);
    term.send("apply");
    term.wait_for(&["Create it now?"]);
    term.send("yes");
    term.wait_for(&["Applied as change 1"]);
    term.wait_for(&["=> "]);
    term.quit();
    assert_ne!(db.dump(), before, "the change was not applied");
    let o = j.run(&["undo", "apply", "1", &db.target(), "--yes"]);
    assert_exit(&o, 0, "undo of the change applied with the new journal");
    assert_eq!(db.dump(), before);
}

#[test]
fn sqlite_shell_offers_the_journal_on_a_terminal() {
    shell_offers_the_journal(Engine::Sqlite);
}

#[test]
fn pg_shell_offers_the_journal_on_a_terminal() {
    shell_offers_the_journal(Engine::Postgres);
}

/// A role without CREATE on the database is told the statement an
/// administrator runs; once it has run, `init` as that role creates the
/// journal in the schema it now owns (`CREATE SCHEMA IF NOT EXISTS` would
/// have asked for CREATE on the database again).
#[test]
fn pg_role_without_create_is_told_what_an_administrator_runs() {
    let db = PgDb::with(ROWS);
    let role = format!("dbguard_noinit_{}", std::process::id());
    let mut admin = pg_admin();
    admin
        .batch_execute(&format!(
            "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN"
        ))
        .expect("create role");
    db.client()
        .batch_execute(&format!("GRANT ALL ON t TO {role}"))
        .expect("grant");
    let mut url = crate::helpers::PgUrl::parse(&db.url);
    url.user = role.clone();
    let url = url.to_url();
    let j = JournalDir::on(&url);

    let o = j.run(&["init", &url]);
    assert_exit(&o, 1, "init without CREATE on the database");
    let err = stderr(&o);
    let statement = format!("CREATE SCHEMA dbguard AUTHORIZATION {role};");
    assert!(
        err.contains("lacks the privilege") && err.contains(&statement),
        "{err}"
    );

    db.client()
        .batch_execute(&statement)
        .expect("the administrator's statement");
    let o = j.run(&["init", &url]);
    assert_exit(&o, 0, "init in the schema an administrator made");
    let o = j.run(&["exec", &url, "-c", "DELETE FROM t WHERE id = 1", "--yes"]);
    assert_exit(&o, 0, "a change as the role");

    drop(db);
    let _ = admin.batch_execute(&format!("DROP ROLE IF EXISTS {role}"));
}

/// A journal whose version was edited to one no dbguard wrote: `init`
/// refuses it untouched instead of claiming a migration it cannot make
/// (it once printed "migrated from version 0" and left it at 0, so every
/// change was refused from then on).
fn a_version_no_dbguard_wrote(engine: Engine) {
    let db = Db::new(engine, ROWS);
    let j = db.machine();
    let target = db.target();
    let meta = match engine {
        Engine::Postgres => "dbguard.meta",
        Engine::Sqlite => "dbguard_meta",
    };
    db.plain(&format!(
        "UPDATE {meta} SET value = '0' WHERE key = 'version'"
    ));
    let o = j.run(&["init", &target]);
    assert_exit(&o, 1, "init of a journal at version 0");
    assert!(
        stderr(&o).contains("version 0, which no dbguard wrote"),
        "{}",
        stderr(&o)
    );
    let o = j.run(&["exec", &target, "-c", "DELETE FROM t WHERE id = 1", "--yes"]);
    assert_exit(&o, 1, "exec on a journal at version 0");
    let version = match &db {
        Db::Pg(pg) => pg
            .client()
            .query_one("SELECT value FROM dbguard.meta WHERE key = 'version'", &[])
            .expect("version")
            .get::<_, String>(0),
        Db::Lite(lite) => rusqlite::Connection::open(&lite.path)
            .expect("open")
            .query_row(
                "SELECT value FROM dbguard_meta WHERE key = 'version'",
                [],
                |r| r.get::<_, String>(0),
            )
            .expect("version"),
    };
    assert_eq!(version, "0", "init changed a journal it refused");
}

#[test]
fn sqlite_init_refuses_a_version_no_dbguard_wrote() {
    a_version_no_dbguard_wrote(Engine::Sqlite);
}

#[test]
fn pg_init_refuses_a_version_no_dbguard_wrote() {
    a_version_no_dbguard_wrote(Engine::Postgres);
}

/// `--journal-schema NAME` (or `DBGUARD_JOURNAL_SCHEMA`) puts the journal
/// in another Postgres schema: created there, written and read there, as
/// guarded as `dbguard` (a write to it is refused), and a schema that holds
/// other tables is refused as the journal's.
#[test]
fn pg_journal_in_a_schema_of_the_operators_choosing() {
    let db = Db::bare(Engine::Postgres, ROWS);
    let j = db.machine();
    let target = db.target();
    let with = |args: &[&str]| {
        let mut all = vec!["--journal-schema", "ops_journal"];
        all.extend_from_slice(args);
        j.run(&all)
    };
    let o = with(&["init", &target]);
    assert_exit(&o, 0, "init in ops_journal");
    assert!(
        stdout(&o).contains("the schema ops_journal"),
        "{}",
        stdout(&o)
    );
    let Db::Pg(pg) = &db else { unreachable!() };
    let schemas: Vec<String> = pg
        .client()
        .query(
            "SELECT nspname::text FROM pg_namespace WHERE nspname IN ('dbguard', 'ops_journal')",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(schemas, vec!["ops_journal".to_owned()]);

    let before = db.dump();
    let o = with(&["exec", &target, "-c", "DELETE FROM t WHERE id = 1", "--yes"]);
    assert_exit(&o, 0, "exec journaled in ops_journal");
    let o = j
        .command(&["undo", "list", &target, "--format", "json"])
        .env("DBGUARD_JOURNAL_SCHEMA", "ops_journal")
        .output()
        .unwrap();
    assert_exit(&o, 0, "undo list through the environment");
    assert!(
        stdout(&o).contains("DELETE FROM t WHERE id = 1"),
        "{}",
        stdout(&o)
    );
    let o = j.run(&["undo", "list", &target]);
    assert!(
        stderr(&o).contains("has no dbguard journal"),
        "the default schema has no journal here: {}",
        stderr(&o)
    );

    let o = with(&[
        "exec",
        &target,
        "-c",
        "DELETE FROM ops_journal.changes",
        "--yes",
    ]);
    assert_exit(&o, 1, "a write to the journal's schema");
    let o = with(&["undo", "apply", "1", &target, "--yes"]);
    assert_exit(&o, 0, "undo from ops_journal");
    let now: std::collections::BTreeMap<String, Vec<String>> = db
        .dump()
        .into_iter()
        .filter(|(t, _)| !t.starts_with("ops_journal."))
        .collect();
    let was: std::collections::BTreeMap<String, Vec<String>> = before
        .into_iter()
        .filter(|(t, _)| !t.starts_with("ops_journal."))
        .collect();
    assert_eq!(now, was);

    for bad in ["public", "pg_catalog", "information_schema"] {
        let o = j.run(&["--journal-schema", bad, "init", &target]);
        assert_exit(&o, 1, &format!("--journal-schema {bad}"));
        assert!(stderr(&o).contains("a schema of its own"), "{}", stderr(&o));
    }
}

/// Journal version 1 (before the pinned policy) is migrated forward, by
/// `init` or by the next write (which migrates what it finds older, as it
/// creates what is missing); its changes stay undoable.
fn a_version_1_journal_is_migrated(engine: Engine) {
    let db = Db::new(engine, ROWS);
    let j = db.machine();
    let target = db.target();
    let id = crate::apply::exec_yes(&j, &db, "DELETE FROM t WHERE id = 1", &[]);
    let (policies, meta) = match engine {
        Engine::Postgres => ("dbguard.policies", "dbguard.meta"),
        Engine::Sqlite => ("dbguard_policies", "dbguard_meta"),
    };
    let downgrade =
        format!("DROP TABLE {policies}; UPDATE {meta} SET value = '1' WHERE key = 'version'");
    db.plain(&downgrade);
    let o = j.run(&["init", &target]);
    assert_exit(&o, 0, "init of a version-1 journal");
    assert!(stdout(&o).contains("from version 1 to 2"), "{}", stdout(&o));
    // The table the migration made (this fails if it is not there).
    db.plain(&format!("SELECT count(*) FROM {policies}"));

    db.plain(&downgrade);
    let o = j.run(&["exec", &target, "-c", "DELETE FROM t WHERE id = 2", "--yes"]);
    assert_exit(&o, 0, "a write on a version-1 journal");
    db.plain(&format!("SELECT count(*) FROM {policies}"));
    let o = j.run(&["init", &target]);
    assert!(
        stdout(&o).contains("already has the dbguard journal (version 2)"),
        "{}",
        stdout(&o)
    );
    crate::apply::undo_yes(&j, id, &[]);
}

#[test]
fn sqlite_a_version_1_journal_is_migrated() {
    a_version_1_journal_is_migrated(Engine::Sqlite);
}

#[test]
fn pg_a_version_1_journal_is_migrated() {
    a_version_1_journal_is_migrated(Engine::Postgres);
}
