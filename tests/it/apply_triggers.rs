//! Triggers around guarded apply and undo (issue 4): triggers and
//! `ON UPDATE CASCADE` do not bend a restore (acceptance 2), whether undo may
//! use replica mode or must let triggers fire and say so; and a trigger
//! that writes where the journal cannot follow is refused unless allowed,
//! then marked partial (acceptance 6).

use dbguard::db::Engine;

use crate::apply::{Db, assert_exit, exec_yes, list_entry, rows, undo_yes};
use crate::helpers::*;

// ---- acceptance 2: triggers and ON UPDATE CASCADE do not bend a restore ----

const STAMPED: &str = "
CREATE TABLE parent (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE child (
    id integer PRIMARY KEY,
    parent_id integer NOT NULL REFERENCES parent(id) ON UPDATE CASCADE,
    updated_at timestamptz NOT NULL DEFAULT '2001-02-03 04:05:06+00',
    edits integer NOT NULL DEFAULT 0
);
CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := clock_timestamp();
    NEW.edits := OLD.edits + 1;
    RETURN NEW;
END $$;
CREATE TRIGGER child_stamp BEFORE UPDATE ON child FOR EACH ROW EXECUTE FUNCTION stamp();
INSERT INTO parent VALUES (1, 'one'), (2, 'two');
INSERT INTO child (id, parent_id) VALUES (10, 1), (11, 1), (12, 2);
";

const KEY_CHANGE: &str = "UPDATE parent SET id = 100 WHERE id = 1";

#[test]
fn pg_undo_as_superuser_uses_replica_mode_and_restores_stamped_rows() {
    let db = Db::new(Engine::Postgres, STAMPED);
    let j = db.machine();
    let before = db.dump();
    let id = exec_yes(&j, &db, KEY_CHANGE, &[]);
    let after = db.dump();
    assert_ne!(rows(&after, "child"), rows(&before, "child"));
    assert!(
        rows(&after, "child")
            .iter()
            .filter(|r| r.contains(",100,"))
            .all(|r| !r.contains("2001-02-03") && r.ends_with(",1)")),
        "the trigger did not stamp the cascaded rows: {after:?}"
    );

    let ids = id.to_string();
    let o = j.run(&["undo", "apply", &ids, "--yes"]);
    assert_exit(&o, 0, "undo apply");
    assert!(
        stdout(&o).contains("replica mode"),
        "the undo does not say it used replica mode:\n{}",
        stdout(&o)
    );
    assert_eq!(db.dump(), before, "undo in replica mode:\n{}", stdout(&o));
}

/// A login role that may not set `session_replication_role`, with every
/// privilege on the test database's tables and its dbguard journal; its
/// URL.
fn plain_role_url(db: &PgDb) -> String {
    let mut admin = pg_admin();
    admin
        .batch_execute(
            "DO $$ BEGIN CREATE ROLE dbguard_plain LOGIN; \
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
        )
        .expect("create role dbguard_plain");
    db.client()
        .batch_execute(
            "GRANT ALL ON SCHEMA public, dbguard TO dbguard_plain; \
             GRANT ALL ON ALL TABLES IN SCHEMA public, dbguard TO dbguard_plain; \
             GRANT ALL ON ALL SEQUENCES IN SCHEMA public, dbguard TO dbguard_plain",
        )
        .expect("grant to dbguard_plain");
    let mut url = crate::helpers::PgUrl::parse(&db.url);
    url.user = "dbguard_plain".into();
    url.password = None;
    let url = url.to_url();
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap_or_else(|e| {
        panic!("cannot connect as dbguard_plain ({url}): {e}\npg_hba.conf must trust 127.0.0.1")
    });
    let r = c.batch_execute("BEGIN; SET LOCAL session_replication_role = replica; ROLLBACK");
    assert!(
        r.is_err(),
        "dbguard_plain may set session_replication_role: the test needs a role that may not"
    );
    url
}

#[test]
fn pg_undo_as_plain_role_fires_triggers_and_reports_the_stamped_column() {
    let db = match Db::new(Engine::Postgres, STAMPED) {
        Db::Pg(db) => db,
        Db::Lite(_) => unreachable!(),
    };
    let url = plain_role_url(&db);
    // The machine works as the plain role: the undo runs as it too.
    let j = JournalDir::on(&url);
    let before = pg_dump_tables(&db.url);
    let o = j.run(&["exec", &url, "-c", KEY_CHANGE, "--yes", "--format", "json"]);
    assert_exit(&o, 0, "exec as dbguard_plain");
    let id = last_json(&o)["change_id"].as_i64().expect("change_id");
    assert_ne!(pg_dump_tables(&db.url), before);

    // Issue 15, finding 14: the rows the triggers would bend are named and
    // nothing is committed (this undo used to commit them and report)...
    let changed = pg_dump_tables(&db.url);
    let ids = id.to_string();
    let o = j.run(&["undo", "apply", &ids, "--yes"]);
    assert_exit(&o, 1, "undo bent by a trigger, as the plain role");
    let err = stderr(&o);
    assert!(
        err.contains("differ from their before-images") && err.contains("updated_at"),
        "{err}"
    );
    assert_eq!(pg_dump_tables(&db.url), changed, "a refused undo committed");
    // ...unless the operator accepts it: then the entry is partial.
    let (_, report) = undo_yes(&j, id, &["--allow-uncovered"]);
    assert_eq!(report["mode"], "triggers", "{report}");
    let diffs = report["differences"].to_string();
    assert!(
        diffs.contains("updated_at") && diffs.contains("child"),
        "the undo does not report the stamped column updated_at of child: {report}"
    );
    // The parent row itself is back; the child rows are, but for what the
    // trigger stamped.
    let now = pg_dump_tables(&db.url);
    assert_eq!(rows(&now, "parent"), rows(&before, "parent"));
    let strip = |rs: &Vec<String>| -> Vec<String> {
        rs.iter()
            .map(|r| r.split(',').take(2).collect::<Vec<_>>().join(","))
            .collect()
    };
    assert_eq!(strip(rows(&now, "child")), strip(rows(&before, "child")));
}

#[test]
fn pg_undo_as_plain_role_says_triggers_mode_in_text() {
    let db = match Db::new(Engine::Postgres, STAMPED) {
        Db::Pg(db) => db,
        Db::Lite(_) => unreachable!(),
    };
    let url = plain_role_url(&db);
    // The machine works as the plain role: the undo runs as it too.
    let j = JournalDir::on(&url);
    let o = j.run(&["exec", &url, "-c", KEY_CHANGE, "--yes", "--format", "json"]);
    assert_exit(&o, 0, "exec as dbguard_plain");
    let id = last_json(&o)["change_id"].as_i64().expect("change_id");
    let ids = id.to_string();
    let o = j.run(&["undo", "apply", &ids, "--yes", "--allow-uncovered"]);
    assert_exit(&o, 0, "undo apply --allow-uncovered");
    let out = stdout(&o);
    assert!(out.contains("triggers mode"), "{out}");
    assert!(out.contains("updated_at"), "{out}");
}

/// Issue 15, finding 12: a trigger enabled ALWAYS fires in replica mode
/// too. Its BEFORE INSERT rewrites the rows the undo puts back; the undo
/// compares what is in the table with the before-images and commits
/// nothing (it used to commit them and say every row was equal).
#[test]
fn pg_undo_in_replica_mode_is_refused_where_an_always_trigger_bends_rows() {
    let db = Db::new(
        Engine::Postgres,
        "CREATE TABLE t (id integer PRIMARY KEY, v text);
         INSERT INTO t VALUES (1, 'a'), (2, 'b');",
    );
    let j = db.machine();
    let id = exec_yes(&j, &db, "DELETE FROM t WHERE id = 1", &[]);
    db.plain(
        "CREATE FUNCTION bend() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN NEW.v := 'bent'; RETURN NEW; END $$;
         CREATE TRIGGER t_bend BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION bend();
         ALTER TABLE t ENABLE ALWAYS TRIGGER t_bend;",
    );
    let now = db.dump();
    let ids = id.to_string();
    let o = j.run(&["undo", "apply", &ids, "--yes"]);
    assert_exit(&o, 1, "undo bent by an ALWAYS trigger");
    let err = stderr(&o);
    assert!(err.contains("differ from their before-images"), "{err}");
    assert_eq!(db.dump(), now, "a refused undo committed");
}

/// Issue 15, finding 12, second variant: an ALWAYS trigger that deletes
/// another row while the undo restores: the deletion is no row the undo
/// restores, so it is refused, the database unchanged; allowed, it commits
/// with the undo's entry marked partial.
#[test]
fn pg_undo_in_replica_mode_is_refused_where_an_always_trigger_deletes_elsewhere() {
    let db = Db::new(
        Engine::Postgres,
        "CREATE TABLE t (id integer PRIMARY KEY, v text);
         CREATE TABLE keep (id integer PRIMARY KEY);
         INSERT INTO t VALUES (1, 'a'), (2, 'b');
         INSERT INTO keep VALUES (1), (2);",
    );
    let j = db.machine();
    let id = exec_yes(&j, &db, "DELETE FROM t WHERE id = 1", &[]);
    db.plain(
        "CREATE FUNCTION wipe() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN DELETE FROM t WHERE id = 2; DELETE FROM keep; RETURN NULL; END $$;
         CREATE TRIGGER t_wipe AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION wipe();
         ALTER TABLE t ENABLE ALWAYS TRIGGER t_wipe;",
    );
    let now = db.dump();
    let ids = id.to_string();
    let o = j.run(&["undo", "apply", &ids, "--yes"]);
    assert_exit(&o, 1, "undo with an ALWAYS trigger deleting elsewhere");
    assert!(stderr(&o).contains("--allow-uncovered"), "{}", stderr(&o));
    assert_eq!(db.dump(), now, "a refused undo committed");

    let (undo, _) = undo_yes(&j, id, &["--allow-uncovered"]);
    assert!(
        list_entry(&j, undo)["partial"]
            .as_str()
            .is_some_and(|p| !p.is_empty()),
        "{}",
        list_entry(&j, undo)
    );
}

// ---- acceptance 6: changes the journal cannot cover ----

fn uncovered_schema(engine: Engine, writes: &str) -> String {
    let base = "
CREATE TABLE target (id integer PRIMARY KEY, v text);
CREATE TABLE unrelated (id integer PRIMARY KEY, v text);
INSERT INTO target VALUES (1, 'a'), (2, 'b'), (3, 'c');
INSERT INTO unrelated VALUES (1, 'x'), (2, 'y'), (3, 'z');
";
    let body = match writes {
        "delete" => "DELETE FROM unrelated WHERE id = OLD.id",
        _ => "INSERT INTO unrelated VALUES (OLD.id + 100, 'gone: ' || OLD.v)",
    };
    // Issue 15, finding 10: a deferred constraint trigger writes at
    // COMMIT, after the look at what the change wrote, unless it is made
    // to fire before it.
    let create = match writes {
        "deferred insert" => {
            "CREATE CONSTRAINT TRIGGER target_spill AFTER DELETE ON target \
             DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION spill();"
        }
        _ => {
            "CREATE TRIGGER target_spill AFTER DELETE ON target FOR EACH ROW EXECUTE FUNCTION spill();"
        }
    };
    match engine {
        Engine::Postgres => format!(
            "{base}
CREATE FUNCTION spill() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN {body}; RETURN OLD; END $$;
{create}"
        ),
        Engine::Sqlite => format!(
            "{base}
CREATE TRIGGER target_spill AFTER DELETE ON target BEGIN {body}; END;"
        ),
    }
}

fn uncovered(engine: Engine, writes: &str) {
    let db = Db::new(engine, &uncovered_schema(engine, writes));
    let j = db.machine();
    let target = db.target();
    let sql = "DELETE FROM target WHERE id <= 2";
    let before = db.dump();

    let o = j.run(&["exec", &target, "-c", sql, "--yes"]);
    assert_exit(&o, 1, "exec --yes with a trigger writing elsewhere");
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(all.contains("--allow-uncovered"), "{all}");
    assert_eq!(
        db.dump(),
        before,
        "{engine:?}: a refused apply changed data"
    );
    assert!(undo_list(&j).is_empty(), "{:?}", undo_list(&j));

    let id = exec_yes(&j, &db, sql, &["--allow-uncovered"]);
    let after = db.dump();
    assert_ne!(rows(&after, "unrelated"), rows(&before, "unrelated"));
    assert_eq!(rows(&after, "target").len(), 1);
    let entry = list_entry(&j, id);
    let partial = entry["partial"].as_str().unwrap_or_else(|| {
        panic!("{engine:?}: an uncovered change is not marked partial: {entry}")
    });
    assert!(!partial.is_empty(), "{entry}");
    // The undo restores what the entry covers and leaves the rest.
    undo_yes(&j, id, &[]);
    let undone = db.dump();
    assert_eq!(rows(&undone, "target"), rows(&before, "target"));
    assert_eq!(rows(&undone, "unrelated"), rows(&after, "unrelated"));
    // Checked last, so the rest of the scenario is verified either way.
    assert!(
        all.contains("unrelated"),
        "{engine:?} ({writes}): the refusal does not name the table the trigger wrote:\n{all}"
    );
}

#[test]
fn pg_trigger_deleting_elsewhere_is_refused_unless_allowed() {
    uncovered(Engine::Postgres, "delete");
}

#[test]
fn pg_trigger_inserting_elsewhere_is_refused_unless_allowed() {
    uncovered(Engine::Postgres, "insert");
}

#[test]
fn pg_deferred_trigger_inserting_elsewhere_is_refused_unless_allowed() {
    uncovered(Engine::Postgres, "deferred insert");
}

#[test]
fn sqlite_trigger_deleting_elsewhere_is_refused_unless_allowed() {
    uncovered(Engine::Sqlite, "delete");
}

#[test]
fn sqlite_trigger_inserting_elsewhere_is_refused_unless_allowed() {
    uncovered(Engine::Sqlite, "insert");
}

// ---- an undo whose key actions reach rows it does not hold ----

const REFERENCED_SINCE: &str = "
CREATE TABLE p (id integer PRIMARY KEY);
CREATE TABLE c (id integer PRIMARY KEY, p_id integer REFERENCES p(id) ON DELETE CASCADE);
INSERT INTO p VALUES (1);";

/// A change inserted a row; since, someone added a child that references
/// it with ON DELETE CASCADE. Deleting the row again would delete the
/// child too, which the undo's entry could not hold (its own undo would
/// bring the parent back without the child): refused, naming the child's
/// table, nothing changed and nothing journaled; with --allow-uncovered
/// it commits, its entry marked partial. `url` is whom the undo runs as.
fn undo_whose_cascade_reaches_a_newer_child(db: &Db, url: &str) {
    let j = JournalDir::on(url);
    let o = j.run(&[
        "exec",
        url,
        "-c",
        "INSERT INTO p VALUES (10)",
        "--yes",
        "--format",
        "json",
    ]);
    assert_exit(&o, 0, "exec INSERT");
    let id = last_json(&o)["change_id"].as_i64().expect("change_id");
    db.plain("INSERT INTO c VALUES (1, 10)");
    let now = db.dump();
    let ids = id.to_string();
    let o = j.run(&["undo", "apply", &ids, "--yes"]);
    assert_exit(&o, 1, "undo whose cascade reaches a newer child");
    let err = stderr(&o);
    assert!(
        err.contains("c")
            && err.contains("--allow-uncovered")
            && err.contains("Nothing was committed"),
        "{err}"
    );
    assert_eq!(db.dump(), now, "a refused undo changed data");
    assert!(
        undo_list(&j).iter().all(|c| c["undo_of"].is_null()),
        "a refused undo was journaled"
    );

    let (undo, report) = undo_yes(&j, id, &["--allow-uncovered"]);
    assert!(rows(&db.dump(), "c").is_empty(), "{report}");
    let entry = list_entry(&j, undo);
    assert!(
        entry["partial"].as_str().is_some_and(|p| p.contains("c")),
        "the undo's entry is not marked partial: {entry}"
    );
}

#[test]
fn sqlite_undo_whose_cascade_reaches_a_newer_child_is_refused() {
    let db = Db::new(Engine::Sqlite, REFERENCED_SINCE);
    let url = db.target();
    undo_whose_cascade_reaches_a_newer_child(&db, &url);
}

/// As a role that may not turn triggers and key actions off: the cascade
/// fires (in replica mode it does not, and the integrity check refuses).
#[test]
fn pg_plain_role_undo_whose_cascade_reaches_a_newer_child_is_refused() {
    let db = Db::new(Engine::Postgres, REFERENCED_SINCE);
    let Db::Pg(pg) = &db else { unreachable!() };
    let url = plain_role_url(pg);
    undo_whose_cascade_reaches_a_newer_child(&db, &url);
}

/// `TRUNCATE ... RESTART IDENTITY` resets sequences the journal does not
/// hold: its undo would bring the rows back while the next insert takes
/// id 1 again. Refused unless --allow-uncovered, which marks the entry
/// partial; `CONTINUE IDENTITY` (the default) is covered.
#[test]
fn pg_truncate_restart_identity_is_uncovered() {
    let db = Db::new(
        Engine::Postgres,
        "CREATE TABLE s (id serial PRIMARY KEY, v text); INSERT INTO s (v) VALUES ('a'), ('b');",
    );
    let j = db.machine();
    let target = db.target();
    let before = db.dump();
    let o = j.run(&[
        "exec",
        &target,
        "-c",
        "TRUNCATE s RESTART IDENTITY",
        "--yes",
    ]);
    assert_exit(&o, 1, "TRUNCATE ... RESTART IDENTITY");
    let err = stderr(&o);
    assert!(
        err.contains("RESTART IDENTITY") && err.contains("--allow-uncovered"),
        "{err}"
    );
    assert_eq!(db.dump(), before, "a refused TRUNCATE changed data");

    let id = exec_yes(
        &j,
        &db,
        "TRUNCATE s RESTART IDENTITY",
        &["--allow-uncovered"],
    );
    let entry = list_entry(&j, id);
    assert!(
        entry["partial"]
            .as_str()
            .is_some_and(|p| p.contains("RESTART IDENTITY")),
        "{entry}"
    );
    undo_yes(&j, id, &[]);
    assert_eq!(db.dump(), before);

    let id = exec_yes(&j, &db, "TRUNCATE s CONTINUE IDENTITY", &[]);
    assert!(
        list_entry(&j, id)["partial"].is_null(),
        "{}",
        list_entry(&j, id)
    );
}

/// Issue 15, finding 13: SQLite cannot disable a trigger, so the undo
/// drops the triggers of the tables it restores inside its transaction and
/// creates them again, from their own text, before commit. A trigger added
/// since the change that rewrites the rows the undo puts back, or one that
/// wipes another table, does not fire: every row comes back as it was, the
/// other table is untouched, and the triggers are there afterwards, the
/// same text, firing again for the next write. (One names its table in
/// another case, which SQLite matches as the same table.)
#[test]
fn sqlite_undo_keeps_triggers_from_firing_and_puts_them_back() {
    let db = Db::new(
        Engine::Sqlite,
        "CREATE TABLE t (id integer PRIMARY KEY, v text, stamp text);
         CREATE TABLE keep (id integer PRIMARY KEY);
         INSERT INTO t VALUES (1, 'a', NULL), (2, 'b', NULL);
         INSERT INTO keep VALUES (1), (2), (3);",
    );
    let j = db.machine();
    let before = db.dump();
    let id = exec_yes(&j, &db, "DELETE FROM t WHERE id = 1", &[]);
    let triggers = "CREATE TRIGGER t_stamp AFTER INSERT ON t BEGIN \
         UPDATE t SET stamp = 'touched' WHERE id = NEW.id; END;
         CREATE TRIGGER t_wipe AFTER INSERT ON T BEGIN DELETE FROM keep; END;";
    db.plain(triggers);
    let defined = sqlite_triggers(&db);
    assert_eq!(defined.len(), 2, "{defined:?}");

    let (_, report) = undo_yes(&j, id, &[]);
    assert_eq!(
        db.dump(),
        before,
        "the undo let a trigger bend rows: {report}"
    );
    assert_eq!(report["mode"], "no-triggers", "{report}");
    assert_eq!(
        sqlite_triggers(&db),
        defined,
        "the undo did not put the triggers back as they were"
    );
    db.plain("INSERT INTO t VALUES (9, 'z', NULL)");
    let after = db.dump();
    assert!(
        after["keep"].is_empty() && after["t"].iter().any(|r| r.contains("touched")),
        "the triggers no longer fire after the undo: {after:?}"
    );
}

/// The triggers of a SQLite database's own tables (not the journal's),
/// name and text, in creation order.
fn sqlite_triggers(db: &Db) -> Vec<(String, String)> {
    let Db::Lite(lite) = db else {
        panic!("a SQLite database")
    };
    let conn = lite.conn();
    let mut stmt = conn
        .prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'trigger' AND tbl_name NOT LIKE 'dbguard%' ORDER BY rowid")
        .expect("prepare");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

/// Issue 15, finding 11: TRUNCATE counts no rows, so a truncated table was
/// not looked at; a trigger AFTER TRUNCATE that puts a row back committed
/// uncovered, and the undo could never put the truncated rows back (the
/// new row is in the way). Refused; with --allow-uncovered, partial.
#[test]
fn pg_truncate_refilled_by_a_trigger_is_refused_unless_allowed() {
    let db = Db::new(
        Engine::Postgres,
        "CREATE TABLE t (id integer PRIMARY KEY, v text);
         INSERT INTO t VALUES (1, 'a'), (2, 'b');
         CREATE FUNCTION refill() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN INSERT INTO t VALUES (1, 'refilled'); RETURN NULL; END $$;
         CREATE TRIGGER t_refill AFTER TRUNCATE ON t FOR EACH STATEMENT EXECUTE FUNCTION refill();",
    );
    let j = db.machine();
    let target = db.target();
    let before = db.dump();
    let o = j.run(&["exec", &target, "-c", "TRUNCATE t", "--yes"]);
    assert_exit(&o, 1, "TRUNCATE refilled by a trigger");
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(
        all.contains("--allow-uncovered") && all.contains("truncated"),
        "{all}"
    );
    assert_eq!(db.dump(), before, "a refused TRUNCATE changed data");
    assert!(undo_list(&j).is_empty());

    let id = exec_yes(&j, &db, "TRUNCATE t", &["--allow-uncovered"]);
    let entry = list_entry(&j, id);
    assert!(
        entry["partial"].as_str().is_some_and(|p| !p.is_empty()),
        "{entry}"
    );
}

/// Issue 15, finding 9: a trigger that truncates another table writes
/// nothing the row counters show. The table it truncated is held
/// exclusively by the change's transaction, which the check now looks
/// at: refused, naming it; with --allow-uncovered, partial.
#[test]
fn pg_trigger_truncating_elsewhere_is_refused_unless_allowed() {
    let db = Db::new(
        Engine::Postgres,
        "CREATE TABLE target (id integer PRIMARY KEY, v text);
         CREATE TABLE audit_log (id integer PRIMARY KEY, note text);
         INSERT INTO target VALUES (1, 'a'), (2, 'b');
         INSERT INTO audit_log VALUES (1, 'kept'), (2, 'kept');
         CREATE FUNCTION forget() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN TRUNCATE audit_log; RETURN NULL; END $$;
         CREATE TRIGGER target_forget AFTER DELETE ON target FOR EACH STATEMENT EXECUTE FUNCTION forget();",
    );
    let j = db.machine();
    let target = db.target();
    let sql = "DELETE FROM target WHERE id = 1";
    let before = db.dump();
    let o = j.run(&["exec", &target, "-c", sql, "--yes"]);
    assert_exit(&o, 1, "a trigger truncating elsewhere");
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(
        all.contains("audit_log") && all.contains("--allow-uncovered"),
        "{all}"
    );
    assert_eq!(db.dump(), before, "a refused apply changed data");

    let id = exec_yes(&j, &db, sql, &["--allow-uncovered"]);
    let entry = list_entry(&j, id);
    assert!(
        entry["partial"]
            .as_str()
            .is_some_and(|p| p.contains("audit_log")),
        "{entry}"
    );
}

/// Issue 15, finding 8: an AFTER DELETE trigger that updates other rows of
/// the table it deletes from. The counters allowed as many extra updates
/// as deleted rows (a row set to NULL and then deleted counts as both),
/// which hid exactly this; after an undo those rows stayed changed.
#[test]
fn pg_trigger_updating_its_own_table_is_refused_unless_allowed() {
    let db = Db::new(
        Engine::Postgres,
        "CREATE TABLE target (id integer PRIMARY KEY, v text);
         INSERT INTO target VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd');
         CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN UPDATE target SET v = 'touched' WHERE id = OLD.id + 2; RETURN OLD; END $$;
         CREATE TRIGGER target_touch AFTER DELETE ON target FOR EACH ROW EXECUTE FUNCTION touch();",
    );
    let j = db.machine();
    let target = db.target();
    let sql = "DELETE FROM target WHERE id <= 2";
    let before = db.dump();
    let o = j.run(&["exec", &target, "-c", sql, "--yes"]);
    assert_exit(&o, 1, "a trigger updating rows of its own table");
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(
        all.contains("target") && all.contains("--allow-uncovered"),
        "{all}"
    );
    assert_eq!(db.dump(), before, "a refused apply changed data");

    let id = exec_yes(&j, &db, sql, &["--allow-uncovered"]);
    let entry = list_entry(&j, id);
    assert!(
        entry["partial"]
            .as_str()
            .is_some_and(|p| p.contains("target")),
        "{entry}"
    );
}

/// What the tolerance was for, kept exact: a row reached both by a SET
/// NULL and by a cascade is counted as updated and deleted when the SET
/// NULL fires first, and only as deleted otherwise. Both orders apply,
/// and their undo restores every row.
#[test]
fn pg_row_set_to_null_then_deleted_is_covered_in_either_order() {
    for set_null_first in [true, false] {
        let fks = [
            "ALTER TABLE c ADD FOREIGN KEY (g_id) REFERENCES g(id) ON DELETE SET NULL;",
            "ALTER TABLE p ADD FOREIGN KEY (g_id) REFERENCES g(id) ON DELETE CASCADE;",
        ];
        let (first, second) = if set_null_first {
            (fks[0], fks[1])
        } else {
            (fks[1], fks[0])
        };
        let db = Db::new(
            Engine::Postgres,
            &format!(
                "CREATE TABLE g (id integer PRIMARY KEY);
                 CREATE TABLE p (id integer PRIMARY KEY, g_id integer);
                 CREATE TABLE c (id integer PRIMARY KEY, g_id integer,
                                 p_id integer REFERENCES p(id) ON DELETE CASCADE);
                 {first}
                 {second}
                 INSERT INTO g VALUES (1), (2);
                 INSERT INTO p VALUES (10, 1), (20, 2);
                 INSERT INTO c VALUES (100, 1, 10), (101, 1, 20), (102, 2, 10), (103, 2, 20);"
            ),
        );
        let j = db.machine();
        let before = db.dump();
        let id = exec_yes(&j, &db, "DELETE FROM g WHERE id = 1", &[]);
        let entry = list_entry(&j, id);
        assert!(
            entry["partial"].is_null(),
            "set null first: {set_null_first}: {entry}"
        );
        assert_eq!(rows(&db.dump(), "c").len(), 2);
        undo_yes(&j, id, &[]);
        assert_eq!(db.dump(), before, "set null first: {set_null_first}");
    }
}

/// Issue 15, finding 9: a trigger that unlinks a large object writes to
/// the system catalog's large-object tables, which the per-table counters
/// of user tables never showed; the undo could not bring the object back.
/// Now counted like any table the journal does not hold: refused, naming
/// it; with --allow-uncovered, partial.
#[test]
fn pg_trigger_unlinking_a_large_object_is_refused_unless_allowed() {
    let db = Db::new(
        Engine::Postgres,
        "CREATE TABLE doc (id integer PRIMARY KEY, blob oid);
         INSERT INTO doc VALUES (1, lo_from_bytea(0, 'one')), (2, lo_from_bytea(0, 'two'));
         CREATE FUNCTION unlink_blob() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN PERFORM lo_unlink(OLD.blob); RETURN OLD; END $$;
         CREATE TRIGGER doc_unlink AFTER DELETE ON doc FOR EACH ROW EXECUTE FUNCTION unlink_blob();",
    );
    let j = db.machine();
    let target = db.target();
    let sql = "DELETE FROM doc WHERE id = 1";
    let objects = || -> i64 {
        let crate::apply::Db::Pg(pg) = &db else {
            unreachable!()
        };
        pg.client()
            .query_one("SELECT count(*) FROM pg_largeobject_metadata", &[])
            .unwrap()
            .get(0)
    };
    let before = (db.dump(), objects());
    let o = j.run(&["exec", &target, "-c", sql, "--yes"]);
    assert_exit(&o, 1, "a trigger unlinking a large object");
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(
        all.contains("pg_largeobject") && all.contains("--allow-uncovered"),
        "{all}"
    );
    assert_eq!(
        (db.dump(), objects()),
        before,
        "a refused apply changed data"
    );

    let id = exec_yes(&j, &db, sql, &["--allow-uncovered"]);
    let entry = list_entry(&j, id);
    assert!(
        entry["partial"]
            .as_str()
            .is_some_and(|p| p.contains("pg_largeobject")),
        "{entry}"
    );
}

/// The allowance for a row both set to NULL and deleted is no hiding place
/// either: here the cascade fires first, the engine counts the row once,
/// and a trigger's update of another row fit in the allowance (found by an
/// attack review). With a trigger firing, no update passes for one counted
/// twice.
#[test]
fn pg_a_trigger_update_cannot_hide_in_the_set_null_allowance() {
    let db = Db::new(
        Engine::Postgres,
        "CREATE TABLE p (id int PRIMARY KEY);
         CREATE TABLE c (id int PRIMARY KEY, a int REFERENCES p ON DELETE CASCADE, b int, note text);
         ALTER TABLE c ADD CONSTRAINT c_b_fk FOREIGN KEY (b) REFERENCES p ON DELETE SET NULL;
         CREATE FUNCTION hide() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN UPDATE c SET note = 'pwned' WHERE id = 2; RETURN OLD; END $$;
         CREATE TRIGGER c_hide AFTER DELETE ON c FOR EACH ROW EXECUTE FUNCTION hide();
         INSERT INTO p VALUES (1);
         INSERT INTO c VALUES (1, 1, 1, 'x'), (2, NULL, NULL, 'secret');",
    );
    let j = db.machine();
    let before = db.dump();
    let o = j.run(&[
        "exec",
        &db.target(),
        "-c",
        "DELETE FROM p WHERE id = 1",
        "--yes",
    ]);
    assert_exit(
        &o,
        1,
        "a trigger's update beside a row set to NULL and deleted",
    );
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(all.contains("--allow-uncovered"), "{all}");
    assert_eq!(db.dump(), before);
}

/// Found by a second attack review: a trigger that drops a table leaves
/// no row counts, and the exclusive lock it holds names a relation no
/// longer in the catalog, which the check joined away. A lock outliving
/// its relation is named now: refused unless allowed. (The trigger drops
/// the table with static DDL: dynamic SQL is refused before the statement
/// runs, see `guard_trigger_reach`, and this holds the check after it.)
#[test]
fn pg_trigger_dropping_a_table_is_refused_unless_allowed() {
    let db = Db::new(
        Engine::Postgres,
        "CREATE TABLE p (id integer PRIMARY KEY);
         CREATE TABLE victim (id integer PRIMARY KEY);
         INSERT INTO p VALUES (1), (2);
         INSERT INTO victim SELECT g FROM generate_series(1, 100) g;
         CREATE FUNCTION drop_it() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN DROP TABLE victim; RETURN NULL; END $$;
         CREATE TRIGGER p_drop AFTER DELETE ON p FOR EACH STATEMENT EXECUTE FUNCTION drop_it();",
    );
    let j = db.machine();
    let before = db.dump();
    let o = j.run(&[
        "exec",
        &db.target(),
        "-c",
        "DELETE FROM p WHERE id = 1",
        "--yes",
    ]);
    assert_exit(&o, 1, "a trigger dropping a table");
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(
        all.contains("dropped") && all.contains("--allow-uncovered"),
        "{all}"
    );
    assert_eq!(db.dump(), before, "a refused apply changed data");
}

/// Found by a second attack review: a rewrite rule runs statements of its
/// own (here, through a function, a TRUNCATE elsewhere), and the schema
/// had no trigger, so no check looked. A write reaching a table with rules
/// is refused, naming them.
#[test]
fn pg_a_table_with_rules_is_refused() {
    let db = Db::new(
        Engine::Postgres,
        "CREATE TABLE p (id integer PRIMARY KEY);
         CREATE TABLE victim (id integer PRIMARY KEY);
         INSERT INTO p VALUES (1), (2);
         INSERT INTO victim SELECT g FROM generate_series(1, 100) g;
         CREATE FUNCTION evil() RETURNS int LANGUAGE plpgsql AS $$
         BEGIN TRUNCATE victim; RETURN 1; END $$;
         CREATE RULE r AS ON DELETE TO p DO ALSO SELECT evil();",
    );
    let j = db.machine();
    let before = db.dump();
    let o = j.run(&[
        "exec",
        &db.target(),
        "-c",
        "DELETE FROM p WHERE id = 1",
        "--yes",
    ]);
    assert_exit(&o, 1, "a delete from a table with a rule");
    assert!(stderr(&o).contains("rewrite rule r"), "{}", stderr(&o));
    assert_eq!(db.dump(), before);
}

/// The second attack review, findings 3 and 4: as a role that may not
/// turn key actions off, an undo allowed any update beyond its own in a
/// table where it reverts updates, for key actions that move reverted rows
/// first. A key action on a row added since (here its key nulled) looked
/// the same and was committed unjournaled, for good. Every update beyond
/// the undo's own is refused now; the row keeps its key.
#[test]
fn pg_plain_role_undo_whose_key_action_changes_a_newer_row_is_refused() {
    let db = Db::new(
        Engine::Postgres,
        "CREATE TABLE p (id int PRIMARY KEY, name text);
         CREATE TABLE c (id int PRIMARY KEY, pid int REFERENCES p (id) ON UPDATE SET NULL, body text);
         INSERT INTO p VALUES (1, 'one'); INSERT INTO c VALUES (1, 1, 'old child');",
    );
    let Db::Pg(pg) = &db else { unreachable!() };
    let url = plain_role_url(pg);
    let j = JournalDir::on(&url);
    let o = j.run(&[
        "exec",
        &url,
        "-c",
        "UPDATE p SET id = 2 WHERE id = 1",
        "--yes",
        "--format",
        "json",
    ]);
    assert_exit(&o, 0, "exec as dbguard_plain");
    let id = last_json(&o)["change_id"].as_i64().expect("change_id");
    db.plain("INSERT INTO c VALUES (50, 2, 'new child of 2')");
    let before = pg_dump_tables(&pg.url);
    let ids = id.to_string();
    let o = j.run(&["undo", "apply", &ids, "--yes"]);
    assert_exit(&o, 1, "an undo whose key action nulls a newer row");
    assert!(stderr(&o).contains("public.c"), "{}", stderr(&o));
    assert_eq!(pg_dump_tables(&pg.url), before, "a refused undo committed");
}

/// The first attack review, finding 3: a trigger that skips the delete of
/// a cascaded row and deletes another row in its place kept the engine's
/// counts equal to the capture, and the change committed saying every
/// changed row was in the journal (the other row beyond any undo). A
/// captured deleted row still there is refused; nothing changes. (SQLite
/// fails such a statement itself: the row kept still references the
/// deleted parent, and its statement count tells a swapped target.)
#[test]
fn pg_a_trigger_swapping_a_deleted_row_is_refused() {
    swapped_delete(
        Engine::Postgres,
        "CREATE FUNCTION swap() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF OLD.id = 10 THEN DELETE FROM c WHERE id = 20; RETURN NULL; END IF; RETURN OLD; END $$;
         CREATE TRIGGER swap BEFORE DELETE ON c FOR EACH ROW EXECUTE FUNCTION swap();",
    );
}

fn swapped_delete(engine: Engine, trigger: &str) {
    let db = Db::new(
        engine,
        &format!(
            "CREATE TABLE p (id integer PRIMARY KEY);
             CREATE TABLE c (id integer PRIMARY KEY, p_id integer REFERENCES p (id) ON DELETE CASCADE, note text);
             INSERT INTO p VALUES (1), (2);
             INSERT INTO c VALUES (10, 1, 'a'), (11, 1, 'b'), (20, 2, 'keep-me');
             {trigger}"
        ),
    );
    let j = db.machine();
    let before = db.dump();
    let target = db.target();
    let o = j.run(&["exec", &target, "-c", "DELETE FROM p WHERE id = 1", "--yes"]);
    assert_exit(
        &o,
        1,
        &format!("{engine:?}: a delete whose trigger swaps rows"),
    );
    let err = stderr(&o);
    assert!(err.contains("still there"), "{engine:?}: {err}");
    assert_eq!(
        db.dump(),
        before,
        "{engine:?}: a refused delete changed rows"
    );
}
