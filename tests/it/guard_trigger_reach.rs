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

/// How the server itself reaches the test database through dblink: the
/// server, user and password `DBGUARD_TEST_PG` names, not a fixed port, so
/// the test passes against any reachable server.
fn conninfo(db: &Db) -> String {
    let url = PgUrl::parse(&pg_admin_url());
    let mut s = format!("dbname={} host={}", pg(db).name, url.host);
    if let Some(port) = url.port {
        s.push_str(&format!(" port={port}"));
    }
    if !url.user.is_empty() {
        s.push_str(&format!(" user={}", url.user));
    }
    if let Some(pw) = &url.password {
        s.push_str(&format!(" password={pw}"));
    }
    s
}

/// A postgres_fdw server `loopback` back to the test database, and the
/// current user's mapping, from [`conninfo`]'s options.
fn loopback_server(info: &str) -> String {
    let option = |k: &str| {
        info.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")).map(str::to_owned))
    };
    let port = option("port").unwrap_or_else(|| "5432".to_owned());
    format!(
        "CREATE SERVER loopback FOREIGN DATA WRAPPER postgres_fdw
           OPTIONS (dbname '{}', host '{}', port '{port}');
         CREATE USER MAPPING FOR CURRENT_USER SERVER loopback OPTIONS (user '{}');",
        option("dbname").unwrap_or_default(),
        option("host").unwrap_or_default(),
        option("user").unwrap_or_default(),
    )
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
/// trigger names the foreign table, so the preview refuses before anything
/// runs; allowed to run, the foreign table's lock shows the write after the
/// statement, and the entry's partial mark says so.
#[test]
fn pg_trigger_writing_a_foreign_table_is_refused() {
    let db = Db::new(Engine::Postgres, T);
    let server = loopback_server(&conninfo(&db));
    db.plain(&format!(
        "CREATE EXTENSION postgres_fdw;
         {server}
         CREATE FOREIGN TABLE far_other (id integer) SERVER loopback
           OPTIONS (table_name 'other');
         CREATE FUNCTION on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN DELETE FROM far_other WHERE id = OLD.id; RETURN OLD; END $$;
         CREATE TRIGGER t_far AFTER DELETE ON t FOR EACH ROW EXECUTE FUNCTION on_delete();"
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

    let id = exec_yes(
        &j,
        &db,
        "DELETE FROM t WHERE id = 1",
        &["--allow-uncovered"],
    );
    let entry = list_entry(&j, id);
    assert!(
        entry["partial"]
            .as_str()
            .is_some_and(|p| p
                .contains("far_other (a foreign table written: its rows live on another server")),
        "the lock check did not name the write: {entry}"
    );
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

/// A preview evaluates CHECK constraints on the rows a write leaves, by
/// running them: one whose function deletes through `dblink_exec` would
/// delete for real even in the preview's read-only transaction. It is not
/// run; the preview says the check was not evaluated, and why.
#[test]
fn pg_a_preview_does_not_run_a_check_that_reaches_beyond_the_rows() {
    let db = Db::new(Engine::Postgres, &format!("{T} CREATE EXTENSION dblink;"));
    db.plain(&format!(
        "CREATE FUNCTION ok(v text) RETURNS boolean LANGUAGE sql AS $$
           SELECT public.dblink_exec('{}', 'DELETE FROM other') IS NOT NULL OR v IS NULL $$;
         ALTER TABLE t ADD CONSTRAINT v_ok CHECK (ok(v)) NOT VALID;",
        conninfo(&db)
    ));
    let (out, err) = dry_run_json(&db, "UPDATE t SET v = 'c' WHERE id = 1");
    assert!(
        out.contains("CHECK v_ok of public.t is not checked by the preview"),
        "{out}\n{err}"
    );
    assert_eq!(count(&db, "SELECT count(*) FROM other"), 3, "{out}");
}

/// The second attack review of this session: a preview casts values into
/// the columns a key action writes (a NULL for a SET NULL, a default for
/// a SET DEFAULT), and a cast into a domain runs the domain's CHECK. One
/// whose function deletes through `dblink_exec` deleted during a dry run
/// of a DELETE that named only the parent. Such a delete is now refused
/// before anything runs, and nothing is deleted.
#[test]
fn pg_a_domain_check_reached_through_a_key_action_is_refused() {
    let db = Db::new(Engine::Postgres, &format!("{T} CREATE EXTENSION dblink;"));
    db.plain(&format!(
        "CREATE FUNCTION evil(v int) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN
           PERFORM public.dblink_exec('{}', 'DELETE FROM other'); RETURN true; END $$;
         CREATE DOMAIN d AS int;
         CREATE DOMAIN d2 AS int DEFAULT 7;
         CREATE TABLE p (id int PRIMARY KEY);
         INSERT INTO p VALUES (1), (2), (7);
         CREATE TABLE c (id int PRIMARY KEY, x d UNIQUE REFERENCES p (id) ON DELETE SET NULL);
         CREATE TABLE g (y int REFERENCES c (x) ON UPDATE CASCADE);
         CREATE TABLE c2 (id int PRIMARY KEY, x d2 REFERENCES p (id) ON DELETE SET DEFAULT);
         INSERT INTO c VALUES (1, 1);
         INSERT INTO g VALUES (1);
         INSERT INTO c2 VALUES (1, 2);
         ALTER DOMAIN d ADD CONSTRAINT evil CHECK (evil(VALUE)) NOT VALID;
         ALTER DOMAIN d2 ADD CONSTRAINT evil CHECK (evil(VALUE)) NOT VALID;",
        conninfo(&db)
    ));
    for sql in ["DELETE FROM p WHERE id = 1", "DELETE FROM p WHERE id = 2"] {
        let (out, err) = dry_run_json(&db, sql);
        assert!(out.contains("evil"), "{sql}: {out}\n{err}");
        assert_eq!(count(&db, "SELECT count(*) FROM other"), 3, "{sql}: {out}");
    }
}

/// The JSON preview of `sql` (`exec --dry-run`), and what went to stderr.
fn dry_run_json(db: &Db, sql: &str) -> (String, String) {
    let o = db.machine().run(&[
        "exec",
        &db.target(),
        "-c",
        sql,
        "--dry-run",
        "--format",
        "json",
    ]);
    (stdout(&o), stderr(&o))
}

/// A SET DEFAULT whose default calls code (a function writing through
/// `dblink_exec`, a `nextval`) is never evaluated by a preview: the dry
/// runs write nothing and fail on nothing, and say the default is not
/// checked. Its `::integer` cast once made it pass for a constant.
#[test]
fn pg_a_preview_does_not_run_a_set_default_that_calls_code() {
    let db = Db::new(
        Engine::Postgres,
        &format!("{T} CREATE EXTENSION dblink; CREATE SEQUENCE s;"),
    );
    db.plain(&format!(
        "CREATE FUNCTION side() RETURNS bigint LANGUAGE plpgsql AS $$ BEGIN
           PERFORM public.dblink_exec('{}', 'DELETE FROM other'); RETURN 1; END $$;
         CREATE TABLE p (id int PRIMARY KEY);
         INSERT INTO p VALUES (1), (2);
         CREATE TABLE c (id int PRIMARY KEY, pid int DEFAULT side()::int
           REFERENCES p ON UPDATE SET DEFAULT ON DELETE SET DEFAULT);
         CREATE TABLE n (id int PRIMARY KEY, pid int DEFAULT nextval('s')::int
           REFERENCES p ON UPDATE SET DEFAULT);
         INSERT INTO c VALUES (1, 2);
         INSERT INTO n VALUES (1, 2);",
        conninfo(&db)
    ));
    for sql in [
        "UPDATE p SET id = 3 WHERE id = 2",
        "DELETE FROM p WHERE id = 2",
    ] {
        let (out, err) = dry_run_json(&db, sql);
        assert!(
            out.contains("is computed at run time and not checked"),
            "{sql}: {out}\n{err}"
        );
        assert_eq!(count(&db, "SELECT count(*) FROM other"), 3, "{sql}: {out}");
        assert_eq!(count(&db, "SELECT last_value FROM s"), 1, "{sql}");
    }
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

/// The SQL of a call that inserts a row into `side` on a connection of its
/// own: committed at once, whatever becomes of the transaction it runs in.
fn leak_sql(db: &Db) -> String {
    format!(
        "public.dblink_exec('{}', 'INSERT INTO side VALUES (1)')",
        conninfo(db)
    )
}

/// Each case in a database of its own (`T`, dblink, sequence `s`, table
/// `side`): its setup made from [`leak_sql`], then its write refused with
/// nothing run — the data, `side` and the sequence as they were.
fn assert_refused_before_running(cases: Vec<(&str, Setup, &str)>) {
    for (what, setup, sql) in cases {
        let db = Db::new(
            Engine::Postgres,
            &format!(
                "{T} CREATE EXTENSION dblink; CREATE SEQUENCE s; CREATE TABLE side (n integer);"
            ),
        );
        db.plain(&setup(&leak_sql(&db)));
        let j = db.machine();
        let before = db.dump();
        let o = j.run(&["exec", &db.target(), "-c", sql, "--yes"]);
        assert_exit(&o, 1, what);
        assert!(
            stderr(&o).to_lowercase().contains("nothing was run"),
            "{what}: {}",
            stderr(&o)
        );
        assert_eq!(db.dump(), before, "{what}");
        assert_eq!(count(&db, "SELECT last_value FROM s"), 1, "{what}");
    }
}

/// Builds a case's setup SQL from the SQL of a call that leaks.
type Setup = Box<dyn Fn(&str) -> String>;

/// The attack review's ways around the first reading of trigger code, each
/// reproduced: code hidden behind a quote opened in a comment or a string,
/// a `U&"..."` name, a view, an operator, a domain cast and an aggregate
/// reached from a trigger, a generated column and an index expression, an
/// event trigger fired by dbguard's own temporary tables, a function put
/// into `pg_catalog`, an `internal` function bound to `setval`'s symbol,
/// and a trigger on a partition written through its parent. Each leaked
/// (a row in `side`, written on another connection) or set the sequence
/// while dbguard applied; each is refused now with nothing run.
#[test]
fn pg_code_reached_any_way_from_a_write_is_read() {
    let update = "UPDATE t SET v = 'c' WHERE id = 1";
    let cases: Vec<(&str, Setup, &str)> = vec![
        (
            "an open quote in a comment",
            Box::new(|leak| {
                format!(
                    "CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN -- \"
                   PERFORM {leak}; -- \"
                   RETURN NEW; END $f$;
                 CREATE TRIGGER t_trg AFTER UPDATE ON t FOR EACH ROW EXECUTE FUNCTION trg();"
                )
            }),
            update,
        ),
        (
            "a unicode-escaped name",
            Box::new(|_| {
                "CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN
                   PERFORM U&\"setv\\0061l\"('s', 555); RETURN NEW; END $f$;
                 CREATE TRIGGER t_trg AFTER UPDATE ON t FOR EACH ROW EXECUTE FUNCTION trg();"
                    .to_owned()
            }),
            update,
        ),
        (
            "a view",
            Box::new(|leak| {
                format!(
                    "CREATE VIEW v_side AS SELECT {leak} AS r;
                 CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN
                   PERFORM * FROM v_side; RETURN NEW; END $f$;
                 CREATE TRIGGER t_trg AFTER UPDATE ON t FOR EACH ROW EXECUTE FUNCTION trg();"
                )
            }),
            update,
        ),
        (
            "an operator, a domain and an aggregate",
            Box::new(|leak| {
                format!(
                    "CREATE FUNCTION evil(a integer, b integer) RETURNS boolean LANGUAGE sql AS $f$
                   SELECT {leak} IS NOT NULL $f$;
                 CREATE OPERATOR <~~> (FUNCTION = evil, LEFTARG = integer, RIGHTARG = integer);
                 CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN
                   PERFORM NEW.id <~~> 1; RETURN NEW; END $f$;
                 CREATE TRIGGER t_trg AFTER UPDATE ON t FOR EACH ROW EXECUTE FUNCTION trg();"
                )
            }),
            update,
        ),
        (
            "a generated column and an expression index",
            Box::new(|leak| {
                format!(
                    "CREATE FUNCTION evil(x text) RETURNS text LANGUAGE sql IMMUTABLE AS $f$
                   SELECT x || {leak} $f$;
                 CREATE INDEX t_evil ON t (evil(v));"
                )
            }),
            update,
        ),
        (
            "an event trigger",
            Box::new(|leak| {
                format!(
                    "CREATE FUNCTION evt() RETURNS event_trigger LANGUAGE plpgsql AS $f$ BEGIN
                   PERFORM {leak}; END $f$;
                 CREATE EVENT TRIGGER et ON ddl_command_start EXECUTE FUNCTION evt();"
                )
            }),
            update,
        ),
        (
            "a function in pg_catalog",
            Box::new(|leak| {
                format!(
                "CREATE FUNCTION pg_catalog.innocent2() RETURNS void LANGUAGE plpgsql AS $f$ BEGIN
                   PERFORM {leak}; END $f$;
                 CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN
                   PERFORM innocent2(); RETURN NEW; END $f$;
                 CREATE TRIGGER t_trg AFTER UPDATE ON t FOR EACH ROW EXECUTE FUNCTION trg();"
            )
            }),
            update,
        ),
        (
            "an internal function bound to setval",
            Box::new(|_| {
                "CREATE FUNCTION innocent(regclass, bigint) RETURNS bigint
                   LANGUAGE internal STRICT AS 'setval_oid';
                 CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN
                   PERFORM innocent('s', 777); RETURN NEW; END $f$;
                 CREATE TRIGGER t_trg AFTER UPDATE ON t FOR EACH ROW EXECUTE FUNCTION trg();"
                    .to_owned()
            }),
            update,
        ),
        (
            "a trigger on a partition",
            Box::new(|leak| {
                format!(
                    "CREATE TABLE par (id integer, v integer) PARTITION BY RANGE (id);
                 CREATE TABLE par1 PARTITION OF par FOR VALUES FROM (0) TO (100);
                 INSERT INTO par VALUES (1, 1);
                 CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN
                   PERFORM {leak}; RETURN NEW; END $f$;
                 CREATE TRIGGER p_trg AFTER UPDATE ON par1 FOR EACH ROW EXECUTE FUNCTION trg();"
                )
            }),
            "UPDATE par SET v = 2 WHERE id = 1",
        ),
    ];
    assert_refused_before_running(cases);
}

/// The same ways around the call lookup, from a read: attribute notation,
/// a view, a domain cast, an aggregate, a `BEGIN ATOMIC`
/// function and a function put into `pg_catalog`.
#[test]
fn pg_code_reached_any_way_from_a_read_is_read() {
    let db = Db::new(
        Engine::Postgres,
        &format!("{T} CREATE EXTENSION dblink; CREATE TABLE side (n integer);"),
    );
    let leak = format!(
        "public.dblink_exec('{}', 'INSERT INTO side VALUES (1)')",
        conninfo(&db)
    );
    db.plain(&format!(
        "CREATE FUNCTION evil(t) RETURNS text LANGUAGE sql AS $f$ SELECT {leak} $f$;
         CREATE VIEW v_evil AS SELECT {leak} AS r;
         CREATE FUNCTION ok(integer) RETURNS boolean LANGUAGE sql AS $f$ SELECT {leak} IS NOT NULL $f$;
         CREATE DOMAIN dint AS integer CHECK (ok(VALUE));
         CREATE FUNCTION step(integer, integer) RETURNS integer LANGUAGE sql AS $f$
           SELECT length({leak}) $f$;
         CREATE AGGREGATE myagg(integer) (SFUNC = step, STYPE = integer);
         CREATE FUNCTION atomic_f() RETURNS text LANGUAGE sql BEGIN ATOMIC SELECT {leak}; END;
         CREATE FUNCTION pg_catalog.innocent3() RETURNS text LANGUAGE sql AS $f$ SELECT {leak} $f$;"
    ));
    for sql in [
        "SELECT t.evil FROM t WHERE id = 1",
        "SELECT * FROM v_evil",
        "SELECT 1::dint",
        "SELECT myagg(1)",
        "SELECT atomic_f()",
        "SELECT innocent3()",
    ] {
        let o = db.machine().run(&["exec", &db.target(), "-c", sql]);
        assert_exit(&o, 1, sql);
        assert!(stderr(&o).contains("dblink_exec"), "{sql}: {}", stderr(&o));
        assert_eq!(count(&db, "SELECT count(*) FROM side"), 0, "{sql} leaked");
    }
    let o = db
        .machine()
        .run(&["exec", &db.target(), "-c", "SELECT count(*) FROM t"]);
    assert_exit(&o, 0, "a plain read");
}

/// Found by the second attack review: with any trigger in the database,
/// every INSERT was refused as "the system catalog changed", because the
/// catalog's counters were read before dbguard created the INSERT's own
/// snapshot table. A Pagila-like table (serial key, a BEFORE trigger
/// stamping a column, a built-in tsvector trigger) takes an INSERT, and
/// its undo.
#[test]
fn pg_an_insert_beside_triggers_is_applied_and_undone() {
    let db = Db::new(
        Engine::Postgres,
        "CREATE TABLE b (id integer PRIMARY KEY, x text);
         CREATE TABLE film (film_id serial PRIMARY KEY, title text NOT NULL,
           last_update timestamptz NOT NULL DEFAULT now(), fulltext tsvector);
         CREATE FUNCTION last_updated() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN NEW.last_update = CURRENT_TIMESTAMP; RETURN NEW; END $$;
         CREATE TRIGGER last_updated BEFORE UPDATE ON film FOR EACH ROW EXECUTE FUNCTION last_updated();
         CREATE TRIGGER film_fulltext BEFORE INSERT OR UPDATE ON film FOR EACH ROW
           EXECUTE FUNCTION tsvector_update_trigger(fulltext, 'pg_catalog.english', title);",
    );
    let j = db.machine();
    let before = db.dump();
    for sql in [
        "INSERT INTO b VALUES (2, '1')",
        "INSERT INTO film (title) VALUES ('Academy Dinosaur')",
    ] {
        let id = exec_yes(&j, &db, sql, &[]);
        assert!(list_entry(&j, id)["partial"].is_null(), "{sql}");
        undo_yes(&j, id, &[]);
    }
    let after = db.dump();
    assert_eq!(after["public.b"], before["public.b"]);
    assert_eq!(after["public.film"], before["public.film"]);
}

/// The second attack review's ways around the walk, from a write: a
/// trigger reading every view through `schema_to_xml`, a domain checked
/// through a table's row type, a trigger of a table a cascade reaches, a
/// range type's `subtype_diff` run by a GiST index with no code named at
/// all, a foreign table, and `×$$`, which the server reads as a name and
/// the first lexer as a dollar quote.
#[test]
fn pg_code_the_statement_never_names_is_read() {
    let trigger = |body: &str| {
        format!(
            "CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN {body}; RETURN NEW; END $f$;
             CREATE TRIGGER t_trg AFTER UPDATE ON t FOR EACH ROW EXECUTE FUNCTION trg();"
        )
    };
    let update = "UPDATE t SET v = 'c' WHERE id = 1";
    let cases: Vec<(&str, Setup, &str)> = vec![
        (
            "schema_to_xml",
            Box::new(move |leak| {
                format!(
                    "CREATE VIEW v_evil AS SELECT {leak} AS r; {}",
                    trigger("PERFORM schema_to_xml('public', true, false, '')")
                )
            }),
            update,
        ),
        (
            "a domain through a row type",
            Box::new(move |leak| {
                format!(
                    "CREATE FUNCTION ok(integer) RETURNS boolean LANGUAGE sql AS $f$ SELECT {leak} IS NOT NULL $f$;
                     CREATE DOMAIN dint AS integer CHECK (ok(VALUE));
                     CREATE TABLE logt (n dint); {}",
                    trigger("PERFORM ROW(NEW.id)::logt")
                )
            }),
            update,
        ),
        (
            "a cascade's trigger",
            Box::new(move |leak| {
                format!(
                    "CREATE TABLE child (id integer REFERENCES other ON DELETE CASCADE);
                     INSERT INTO child VALUES (1);
                     CREATE FUNCTION child_fn() RETURNS trigger LANGUAGE plpgsql AS $f$
                       BEGIN PERFORM {leak}; RETURN OLD; END $f$;
                     CREATE TRIGGER child_trg AFTER DELETE ON child FOR EACH ROW EXECUTE FUNCTION child_fn(); {}",
                    trigger("DELETE FROM other WHERE id = NEW.id")
                )
            }),
            update,
        ),
        (
            "a range type's subtype_diff",
            Box::new(|leak| {
                format!(
                    "CREATE FUNCTION rdiff(a integer, b integer) RETURNS float8 LANGUAGE plpgsql IMMUTABLE AS $f$
                       BEGIN IF a >= 400000 THEN PERFORM {leak}; END IF; RETURN a - b; END $f$;
                     CREATE TYPE myr AS RANGE (subtype = integer, subtype_diff = rdiff);
                     CREATE TABLE bk (id integer PRIMARY KEY, r myr);
                     INSERT INTO bk SELECT g, myr(g, g + 5) FROM generate_series(1, 2000) g;
                     CREATE INDEX bk_r ON bk USING gist (r);"
                )
            }),
            "UPDATE bk SET r = myr(424242, 424250) WHERE id = 8",
        ),
        (
            "a name ending in $$",
            Box::new(move |_| {
                trigger("PERFORM 1 AS ×$$; EXECUTE 'SELECT set' || 'val(''s'', 999)' -- $$\n")
            }),
            update,
        ),
        (
            // Found by the third review: with the function's own
            // standard_conforming_strings off, `\'` escapes the quote, and
            // EXECUTE is code, not part of a constant.
            "EXECUTE behind a backslash-escaped quote",
            Box::new(|_| {
                "CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql
                   SET standard_conforming_strings = off AS $f$
                   DECLARE x text; y text; z text;
                   BEGIN x := 'a\\';  y := ' ; EXECUTE 'SELECT set' || 'val(''s'', 4242)'; z := '';
                   RETURN NEW; END $f$;
                 CREATE TRIGGER t_trg BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION trg();"
                    .to_owned()
            }),
            update,
        ),
    ];
    assert_refused_before_running(cases);
}

/// The same from reads: an operator resolved by `IN` with no operator
/// written, a cast named by its SQL spelling, a domain through a row type,
/// `database_to_xml`, and a foreign table (its server runs code of its
/// own). Operators and casts of the database's own may run from any
/// statement: with these in the database, every statement is refused.
#[test]
fn pg_reads_run_nothing_unnamed() {
    let db = Db::new(
        Engine::Postgres,
        &format!(
            "{T} CREATE EXTENSION dblink; CREATE EXTENSION postgres_fdw; CREATE TABLE side (n integer);"
        ),
    );
    let info = conninfo(&db);
    let leak = format!("public.dblink_exec('{info}', 'INSERT INTO side VALUES (1)')");
    let server = loopback_server(&info);
    db.plain(&format!(
        "CREATE FUNCTION eqti(text, integer) RETURNS boolean LANGUAGE sql AS $f$ SELECT {leak} IS NULL $f$;
         CREATE OPERATOR public.= (FUNCTION = eqti, LEFTARG = text, RIGHTARG = integer);
         CREATE FUNCTION i2v(integer) RETURNS character varying LANGUAGE sql AS $f$ SELECT {leak} $f$;
         CREATE CAST (integer AS character varying) WITH FUNCTION i2v(integer) AS ASSIGNMENT;
         CREATE FUNCTION ok(integer) RETURNS boolean LANGUAGE sql AS $f$ SELECT {leak} IS NOT NULL $f$;
         CREATE DOMAIN dint AS integer CHECK (ok(VALUE));
         CREATE TABLE logt (n dint);
         {server}
         CREATE FOREIGN TABLE far_side (n integer) SERVER loopback OPTIONS (table_name 'side');"
    ));
    for sql in [
        "SELECT count(*) FROM t WHERE v IN (1)",
        "SELECT CAST(1 AS character varying)",
        "SELECT ROW(1)::logt",
        "SELECT length(database_to_xml(true, false, ''))",
        "SELECT * FROM far_side",
    ] {
        let o = db.machine().run(&["exec", &db.target(), "-c", sql]);
        assert_exit(&o, 1, sql);
        assert_eq!(count(&db, "SELECT count(*) FROM side"), 0, "{sql} leaked");
    }
}

/// Found by the second review: an event trigger for other commands (the
/// CREATE EXTENSION hook managed platforms install, here with dynamic
/// SQL) stopped every write; dbguard's own DDL does not fire it.
#[test]
fn pg_an_event_trigger_for_other_commands_does_not_stop_a_write() {
    let db = Db::new(Engine::Postgres, T);
    db.plain(
        "CREATE FUNCTION on_ext() RETURNS event_trigger LANGUAGE plpgsql AS $f$
           BEGIN EXECUTE 'SELECT 1'; END $f$;
         CREATE EVENT TRIGGER grant_on_ext ON ddl_command_end WHEN TAG IN ('CREATE EXTENSION')
           EXECUTE FUNCTION on_ext();",
    );
    let j = db.machine();
    exec_yes(&j, &db, "UPDATE other SET id = 30 WHERE id = 3", &[]);
}

/// Found by the second review: `undo replay` created its staging tables,
/// firing the target's event trigger, before anything looked at it; even
/// `--dry-run` leaked. Now refused before the staging tables exist.
#[test]
fn pg_replay_refuses_an_event_trigger_before_its_staging_tables() {
    let source = Db::new(Engine::Postgres, T);
    let target = Db::new(
        Engine::Postgres,
        &format!("{T} CREATE EXTENSION dblink; CREATE TABLE side (n integer);"),
    );
    target.plain(&format!(
        "CREATE FUNCTION evt() RETURNS event_trigger LANGUAGE plpgsql AS $f$ BEGIN
           PERFORM public.dblink_exec('{}', 'INSERT INTO side VALUES (1)'); END $f$;
         CREATE EVENT TRIGGER et ON ddl_command_start EXECUTE FUNCTION evt();",
        conninfo(&target)
    ));
    let j = source.machine();
    let id = exec_yes(&j, &source, "UPDATE t SET v = 'z' WHERE id = 1", &[]);
    let ids = id.to_string();
    for extra in ["--dry-run", "--yes"] {
        let o = j.run(&[
            "undo",
            "replay",
            "--from",
            &source.target(),
            "--to",
            &target.target(),
            &ids,
            extra,
        ]);
        assert_exit(&o, 1, extra);
        assert!(stderr(&o).contains("event trigger et"), "{}", stderr(&o));
        assert_eq!(
            count(&target, "SELECT count(*) FROM side"),
            0,
            "{extra} leaked"
        );
    }
}

/// The attack review of the catalog trigger read: a key action runs its
/// statement for each deleted row whether or not it changes one, and that
/// statement fires statement-level triggers: on the table itself (a
/// self-referencing key), and on a referencing table no row of which is
/// changed; and a referencing table created after the session read its
/// schema, whose trigger the preview never saw. Each leaked (or set the
/// sequence); each is refused now with nothing run.
#[test]
fn pg_triggers_key_actions_fire_with_no_row_changed_are_read() {
    let stmt_trigger = |table: &str, event: &str| -> Setup {
        let (table, event) = (table.to_owned(), event.to_owned());
        Box::new(move |leak: &str| {
            format!(
                "CREATE FUNCTION leak() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN PERFORM {leak}; RETURN NULL; END$$;
                 CREATE TRIGGER leak AFTER {event} ON {table} FOR EACH STATEMENT EXECUTE FUNCTION leak();"
            )
        })
    };
    let self_ref = "CREATE TABLE tree (id integer PRIMARY KEY, parent_id integer REFERENCES tree ON DELETE SET NULL);
        INSERT INTO tree VALUES (1, NULL), (2, 1), (3, NULL);";
    let child =
        "CREATE TABLE kid (id integer PRIMARY KEY, t_id integer REFERENCES t ON DELETE SET NULL);
        INSERT INTO kid VALUES (1, 1);";
    let in_self = stmt_trigger("tree", "UPDATE");
    let in_child = stmt_trigger("kid", "UPDATE");
    assert_refused_before_running(vec![
        (
            "a self-referencing SET NULL that changes no row",
            Box::new(move |leak| format!("{self_ref} {}", in_self(leak))),
            "DELETE FROM tree WHERE id = 3",
        ),
        (
            "a referencing table's SET NULL that changes no row",
            Box::new(move |leak| format!("{child} {}", in_child(leak))),
            "DELETE FROM t WHERE id = 2",
        ),
    ]);
}

/// The second attack review, finding 5: a table the delete already
/// touches (its rows cascaded) has a statement trigger for an event of
/// another key action into it that changes no row; that trigger fires,
/// and was left out of the catalog read as known and out of the preview
/// as firing. Refused now with nothing run.
#[test]
fn pg_a_touched_tables_statement_trigger_for_another_key_action_is_read() {
    assert_refused_before_running(vec![(
        "a SET NULL with no row into a table a cascade touches",
        Box::new(|leak: &str| {
            format!(
                "CREATE TABLE c (id integer PRIMARY KEY,
                   owner integer REFERENCES t ON DELETE CASCADE,
                   reviewer integer REFERENCES t ON DELETE SET NULL);
                 INSERT INTO c VALUES (1, 1, 2);
                 CREATE FUNCTION leak() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN PERFORM {leak}; RETURN NULL; END$$;
                 CREATE TRIGGER c_upd AFTER UPDATE ON c FOR EACH STATEMENT EXECUTE FUNCTION leak();"
            )
        }),
        "DELETE FROM t WHERE id = 1",
    )]);
}
