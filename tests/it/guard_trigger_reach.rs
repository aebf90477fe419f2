//! Issue 15, findings 9 and 11 ("every kind of write a trigger can do"):
//! what a trigger does outside the rows a transaction's counters see.
//!
//! Acts that no rollback takes back (SQL on another connection, a sequence
//! set, dynamic SQL that could do either) are found in the trigger
//! functions' source before the statement runs (`src/sql/reach.rs`) and
//! refused with nothing run. Acts that are part of the transaction but
//! show in no row counter (a foreign table written, the catalog changed)
//! are found after the statement, from the engine's locks and catalog
//! counters, and rolled back.

use dbguard::db::Engine;

use crate::apply::{Db, assert_exit, exec_yes, list_entry, undo_yes};
use crate::helpers::*;

const T: &str = "CREATE TABLE t (id integer PRIMARY KEY, v text);
    CREATE TABLE other (id integer PRIMARY KEY);
    INSERT INTO t VALUES (1, 'a'), (2, 'b');
    INSERT INTO other VALUES (1), (2), (3);";

fn pg(db: &Db) -> &PgDb {
    match db {
        Db::Pg(pg) => pg,
        Db::Lite(_) => unreachable!("a PostgreSQL test"),
    }
}

fn count(db: &Db, sql: &str) -> i64 {
    pg(db).client().query_one(sql, &[]).expect(sql).get(0)
}

fn conninfo(db: &Db) -> String {
    format!("dbname={} user=postgres host=127.0.0.1", pg(db).name)
}

/// A trigger whose helper function deletes through `dblink_exec`: the
/// delete would commit on its own connection at once, before any check
/// after the statement could look. Refused before anything runs, named
/// with the path to the call, shown in the preview; with
/// `--allow-uncovered` it runs and its entry says why it is partial.
#[test]
fn pg_trigger_reaching_dblink_is_refused_before_it_runs() {
    let db = Db::new(Engine::Postgres, &format!("{T} CREATE EXTENSION dblink;"));
    db.plain(&format!(
        "CREATE FUNCTION forget(i integer) RETURNS void LANGUAGE sql AS $$
           SELECT public.dblink_exec('{}', 'DELETE FROM other WHERE id = ' || i) $$;
         CREATE FUNCTION on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN PERFORM forget(OLD.id); RETURN OLD; END $$;
         CREATE TRIGGER t_forget AFTER DELETE ON t FOR EACH ROW EXECUTE FUNCTION on_delete();",
        conninfo(&db)
    ));
    let j = db.machine();
    let target = db.target();
    let sql = "DELETE FROM t WHERE id = 1";
    let before = db.dump();

    let preview = j.run(&["exec", &target, "-c", sql]);
    let shown = stdout(&preview);
    assert!(
        shown.contains("beyond undo: trigger t_forget on")
            && shown.contains("on_delete() → forget() calls dblink_exec"),
        "{shown}{}",
        stderr(&preview)
    );

    let o = j.run(&["exec", &target, "-c", sql, "--yes"]);
    assert_exit(&o, 1, "a trigger reaching dblink_exec");
    let err = stderr(&o);
    assert!(
        err.contains("dblink_exec")
            && err.contains("Nothing was run")
            && err.contains("--allow-uncovered"),
        "{err}"
    );
    assert_eq!(db.dump(), before, "the refused change ran something");

    let id = exec_yes(&j, &db, sql, &["--allow-uncovered"]);
    let entry = list_entry(&j, id);
    assert!(
        entry["partial"]
            .as_str()
            .is_some_and(|p| p.contains("dblink_exec")),
        "{entry}"
    );
    assert_eq!(count(&db, "SELECT count(*) FROM other"), 2);
}

/// Dynamic SQL, and a sequence set directly or through a `BEGIN ATOMIC`
/// SQL function: each refused, named, nothing run.
#[test]
fn pg_triggers_running_dynamic_sql_or_setting_a_sequence_are_refused() {
    for (body, named) in [
        (
            "LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'DELETE FROM ot' || 'her'; RETURN OLD; END $$",
            "dynamic SQL",
        ),
        (
            "LANGUAGE plpgsql AS $$ BEGIN PERFORM setval('s', 100); RETURN OLD; END $$",
            "calls setval",
        ),
        // A SQL function in the BEGIN ATOMIC form keeps no source text.
        (
            "LANGUAGE plpgsql AS $$ BEGIN PERFORM bump(); RETURN OLD; END $$",
            "bump() calls setval",
        ),
    ] {
        let db = Db::new(
            Engine::Postgres,
            &format!(
                "{T} CREATE SEQUENCE s;
                 CREATE FUNCTION bump() RETURNS bigint LANGUAGE sql
                   BEGIN ATOMIC SELECT setval('s', 100); END;
                 CREATE FUNCTION on_delete() RETURNS trigger {body};
                 CREATE TRIGGER t_act BEFORE DELETE ON t FOR EACH ROW EXECUTE FUNCTION on_delete();"
            ),
        );
        let j = db.machine();
        let before = db.dump();
        let o = j.run(&[
            "exec",
            &db.target(),
            "-c",
            "DELETE FROM t WHERE id = 2",
            "--yes",
        ]);
        assert_exit(&o, 1, body);
        let err = stderr(&o);
        assert!(
            err.contains("trigger t_act on") && err.contains(named),
            "{body}: {err}"
        );
        assert_eq!(db.dump(), before, "{body}");
        assert_eq!(count(&db, "SELECT last_value FROM s"), 1, "{body}");
    }
}

/// A trigger writing a foreign table (postgres_fdw, back into this same
/// database): the remote table's counters are another transaction's, the
/// foreign table has none, and the write commits with the change. The
/// foreign table's lock shows it; the change rolls back, the remote rows
/// with it.
#[test]
fn pg_trigger_writing_a_foreign_table_is_refused() {
    let db = Db::new(Engine::Postgres, T);
    let info = conninfo(&db);
    let option = |k: &str| {
        info.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")).map(str::to_owned))
            .unwrap_or_default()
    };
    db.plain(&format!(
        "CREATE EXTENSION postgres_fdw;
         CREATE SERVER loopback FOREIGN DATA WRAPPER postgres_fdw
           OPTIONS (dbname '{}', host '{}');
         CREATE USER MAPPING FOR CURRENT_USER SERVER loopback OPTIONS (user '{}');
         CREATE FOREIGN TABLE far_other (id integer) SERVER loopback
           OPTIONS (table_name 'other');
         CREATE FUNCTION on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN DELETE FROM far_other WHERE id = OLD.id; RETURN OLD; END $$;
         CREATE TRIGGER t_far AFTER DELETE ON t FOR EACH ROW EXECUTE FUNCTION on_delete();",
        option("dbname"),
        option("host"),
        option("user"),
    ));
    let j = db.machine();
    let before = db.dump();
    let o = j.run(&[
        "exec",
        &db.target(),
        "-c",
        "DELETE FROM t WHERE id = 1",
        "--yes",
    ]);
    assert_exit(&o, 1, "a trigger writing a foreign table");
    let err = stderr(&o);
    assert!(
        err.contains("far_other") && err.contains("foreign table"),
        "{err}"
    );
    assert_eq!(db.dump(), before);
    assert_eq!(count(&db, "SELECT count(*) FROM other"), 3);
}

/// A trigger that changes the catalog (here a GRANT): no user table's
/// counter moves, the catalog's do.
#[test]
fn pg_trigger_changing_the_catalog_is_refused() {
    let db = Db::new(
        Engine::Postgres,
        &format!(
            "{T} CREATE FUNCTION on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN GRANT SELECT ON other TO PUBLIC; RETURN OLD; END $$;
             CREATE TRIGGER t_grant AFTER DELETE ON t FOR EACH ROW EXECUTE FUNCTION on_delete();"
        ),
    );
    let j = db.machine();
    let before = db.dump();
    let o = j.run(&[
        "exec",
        &db.target(),
        "-c",
        "DELETE FROM t WHERE id = 1",
        "--yes",
    ]);
    assert_exit(&o, 1, "a trigger running GRANT");
    let err = stderr(&o);
    assert!(err.contains("system catalog"), "{err}");
    assert_eq!(db.dump(), before);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM information_schema.role_table_grants \
             WHERE table_name = 'other' AND grantee = 'PUBLIC'"
        ),
        0
    );
}

/// The undo is a change like any other: an `ENABLE ALWAYS` trigger fires
/// in replica mode too, and one reaching `dblink_exec` would delete
/// elsewhere while the undo re-inserts. Refused before the restore.
#[test]
fn pg_undo_refuses_an_always_trigger_reaching_dblink() {
    let db = Db::new(Engine::Postgres, &format!("{T} CREATE EXTENSION dblink;"));
    db.plain(&format!(
        "CREATE FUNCTION on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN PERFORM dblink_exec('{}', 'DELETE FROM other'); RETURN NEW; END $$;
         CREATE TRIGGER t_back AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION on_insert();
         ALTER TABLE t ENABLE ALWAYS TRIGGER t_back;",
        conninfo(&db)
    ));
    let j = db.machine();
    let id = exec_yes(&j, &db, "DELETE FROM t WHERE id = 1", &[]);
    let before = db.dump();
    let ids = id.to_string();
    let o = j.run(&["undo", "apply", &ids, "--yes"]);
    assert_exit(&o, 1, "an undo firing a trigger that reaches dblink_exec");
    let err = stderr(&o);
    assert!(
        err.contains("t_back") && err.contains("dblink_exec") && err.contains("Nothing was"),
        "{err}"
    );
    assert_eq!(db.dump(), before, "the refused undo changed data");
    assert_eq!(count(&db, "SELECT count(*) FROM other"), 3);

    let (undo_id, _) = undo_yes(&j, id, &["--allow-uncovered"]);
    let entry = list_entry(&j, undo_id);
    assert!(
        entry["partial"]
            .as_str()
            .is_some_and(|p| p.contains("dblink_exec")),
        "the accepted undo's entry does not say what it could not hold: {entry}"
    );
}

/// No trigger at all: a column default and a CHECK constraint run
/// functions of their own on every row written. A default whose function
/// deletes through `dblink_exec`, and a CHECK whose function sets a
/// sequence, are refused before the INSERT or UPDATE runs.
#[test]
fn pg_defaults_and_checks_reaching_beyond_the_rows_are_refused() {
    let db = Db::new(
        Engine::Postgres,
        &format!("{T} CREATE EXTENSION dblink; CREATE SEQUENCE s;"),
    );
    db.plain(&format!(
        "CREATE FUNCTION stamp() RETURNS text LANGUAGE sql AS $$
           SELECT public.dblink_exec('{}', 'DELETE FROM other') $$;
         CREATE FUNCTION ok(v text) RETURNS boolean LANGUAGE sql AS $$
           SELECT setval('s', 100) > 0 OR v IS NULL $$;
         CREATE TABLE stamped (id integer PRIMARY KEY, note text DEFAULT stamp());
         ALTER TABLE t ADD CONSTRAINT v_ok CHECK (ok(v));
         SELECT setval('s', 1);",
        conninfo(&db)
    ));
    let j = db.machine();
    let before = db.dump();
    for (sql, named) in [
        (
            "INSERT INTO stamped (id) VALUES (1)",
            "default of stamped: stamp() calls dblink_exec",
        ),
        (
            "UPDATE t SET v = 'c' WHERE id = 1",
            "constraint v_ok on t: ok() calls setval",
        ),
    ] {
        let o = j.run(&["exec", &db.target(), "-c", sql, "--yes"]);
        assert_exit(&o, 1, sql);
        let err = stderr(&o);
        assert!(
            err.contains(named) && err.contains("Nothing was run"),
            "{sql}: {err}"
        );
        assert_eq!(db.dump(), before, "{sql}");
        assert_eq!(count(&db, "SELECT last_value FROM s"), 1, "{sql}");
    }
}
