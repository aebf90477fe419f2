//! `undo export --format sql` (issue 4, acceptance 8): the script restores
//! the change with plain `psql -v ON_ERROR_STOP=1` / `sqlite3`, no dbguard,
//! including nasty identifiers and values.

use std::path::Path;
use std::process::{Command, Stdio};

use dbguard::db::Engine;

use crate::apply::{Db, assert_exit, exec_yes};
use crate::helpers::*;

const PG_NASTY: &str = r#"
CREATE TABLE "Weird ""T"" ü" (
    id integer PRIMARY KEY,
    "Col; DROP" text,
    b bytea,
    arr text[],
    grid integer[][],
    j jsonb,
    js json,
    n numeric(30, 10),
    ts timestamptz
);
CREATE TABLE "kid ""x""" (
    id integer PRIMARY KEY,
    "parent id" integer REFERENCES "Weird ""T"" ü"(id) ON DELETE CASCADE,
    "Col; DROP" text
);
INSERT INTO "Weird ""T"" ü" VALUES
    (1, 'it''s "quoted"', '\x00ff0027005c'::bytea, ARRAY['a,b', NULL, 'c"d', 'e\f', '{}', 'NULL'],
     '{{1,2},{3,NULL}}', '{"k": "v\n\"q\"", "ü": [1, null, "\\"]}', '{"x":   1, "x": 2}',
     12345678901234567890.0123456789, '2024-02-29 23:59:59.999999+05:30'),
    (2, E'back\\slash\nnew line\ttab\r\n-- not a comment; DROP TABLE x;', '\x'::bytea, '{}',
     NULL, 'null', '[]', NULL, 'infinity'),
    (3, 'ünïcødé ✓ 🎉 日本', NULL, NULL, NULL, NULL, NULL, -0.5, NULL),
    (4, '', '\x5c7830'::bytea, ARRAY[''], '{}', '""', '"$$ $tag$"', 0, '-infinity'),
    (5, NULL, NULL, ARRAY[NULL]::text[], NULL, NULL, NULL, NULL, NULL),
    (6, '$$; SELECT 1; $$', E'\\x00', ARRAY[E'new\nline', E'back\\slash'], NULL, '{"a": {"b": []}}',
     'null', 'NaN', NULL),
    (7, 'keep', NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO "kid ""x""" VALUES (1, 1, 'kid''s'), (2, 2, E'\\'), (3, NULL, NULL), (4, 7, 'kept');
"#;

const SQLITE_NASTY: &str = r#"
CREATE TABLE "Weird ""T"" ü" (
    id INTEGER PRIMARY KEY,
    "Col; DROP" TEXT,
    b BLOB,
    r REAL,
    anything
);
CREATE TABLE "kid ""x""" (
    id INTEGER PRIMARY KEY,
    "parent id" INTEGER REFERENCES "Weird ""T"" ü"(id) ON DELETE CASCADE,
    "Col; DROP" TEXT
);
INSERT INTO "Weird ""T"" ü" VALUES
    (1, 'it''s "quoted"', X'00FF0027005C', 1.5, 42),
    (2, 'back\slash' || char(10) || 'new line' || char(9) || 'tab' || char(13, 10) || '-- not a comment; DROP TABLE x;',
     X'', 0.1, 'text in an untyped column'),
    (3, 'ünïcødé ✓ 🎉 日本', NULL, -0.0, X'0001'),
    (4, '', NULL, 1e300, NULL),
    (5, NULL, X'5C78', -123.456e-7, 9223372036854775807),
    (6, 'tab' || char(9) || 'ü''"', NULL, 2.5, -9223372036854775808),
    (7, 'keep', NULL, NULL, NULL);
INSERT INTO "kid ""x""" VALUES (1, 1, 'kid''s'), (2, 2, '\'), (3, NULL, NULL), (4, 7, 'kept');
"#;

const DELETE_NASTY: &str = r#"DELETE FROM "Weird ""T"" ü" WHERE id <= 6"#;

/// Applies the delete through dbguard and returns the exported undo script.
fn export(db: &Db, j: &JournalDir) -> (crate::apply::Dump, String) {
    let before = db.dump();
    let id = exec_yes(j, db, DELETE_NASTY, &[]);
    let after = db.dump();
    assert_ne!(before, after, "the delete changed nothing");
    let ids = id.to_string();
    let o = j.run(&["undo", "export", &ids, "--format", "sql"]);
    assert_exit(&o, 0, "undo export --format sql");
    (before, stdout(&o))
}

/// Runs a CLI that must be installed, with instructions when it is not.
fn cli(program: &str, install: &str) -> Command {
    let probe = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if probe.is_err() {
        panic!("{program} is not installed; this test needs it: {install}");
    }
    Command::new(program)
}

/// `psql -f FILE` on database `dbname` of the server `url` names, as an
/// operator would run an exported script: no psqlrc, stop at the first
/// error, nothing taken from the PG* environment.
fn psql_file(url: &str, dbname: &str, file: &std::path::Path) -> std::process::Output {
    let url = crate::helpers::PgUrl::parse(url);
    let mut cmd = cli(
        "psql",
        "on Debian/Ubuntu: apt-get install postgresql-client",
    );
    for var in [
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGPASSWORD",
        "PGDATABASE",
        "PGOPTIONS",
        "PGSERVICE",
        "PSQLRC",
    ] {
        cmd.env_remove(var);
    }
    if let Some(p) = &url.password {
        cmd.env("PGPASSWORD", p);
    }
    let user = if url.user.is_empty() {
        "postgres"
    } else {
        &url.user
    };
    let host = if url.host.is_empty() {
        "127.0.0.1"
    } else {
        &url.host
    };
    cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", host])
        .args(["-p", &url.port.unwrap_or(5432).to_string()])
        .args(["-U", user, "-d", dbname, "-f"])
        .arg(file)
        .output()
        .expect("run psql")
}

#[test]
fn pg_undo_export_restores_with_plain_psql() {
    let wrapped = Db::new(Engine::Postgres, PG_NASTY);
    let j = wrapped.machine();
    let (before, script) = export(&wrapped, &j);
    let Db::Pg(db) = &wrapped else { unreachable!() };
    let file = j.dir.path().join("undo.sql");
    std::fs::write(&file, &script).expect("write script");

    let o = psql_file(&db.url, &db.name, &file);
    assert!(
        o.status.success(),
        "psql failed on the exported script ({:?}):\n{}\n--- script ---\n{script}",
        o.status.code(),
        stderr(&o)
    );
    assert_eq!(
        wrapped.dump(),
        before,
        "psql -f <export> did not restore every row\n--- script ---\n{script}"
    );
}

fn sqlite3_restore(path: &Path, script: &str) -> std::process::Output {
    let mut child = cli("sqlite3", "on Debian/Ubuntu: apt-get install sqlite3")
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sqlite3");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write script");
    child.wait_with_output().expect("wait sqlite3")
}

#[test]
fn sqlite_undo_export_restores_with_plain_sqlite3() {
    let wrapped = Db::new(Engine::Sqlite, SQLITE_NASTY);
    let j = wrapped.machine();
    let (before, script) = export(&wrapped, &j);
    let Db::Lite(db) = &wrapped else {
        unreachable!()
    };
    let o = sqlite3_restore(&db.path, &script);
    assert!(
        o.status.success() && stderr(&o).trim().is_empty(),
        "sqlite3 < <export> failed ({:?}):\n{}\n--- script ---\n{script}",
        o.status.code(),
        stderr(&o)
    );
    assert_eq!(
        wrapped.dump(),
        before,
        "sqlite3 < <export> did not restore every row\n--- script ---\n{script}"
    );
}

/// The exported script of an UPDATE and of an INSERT restores too.
fn export_update_insert(engine: Engine) {
    let fixture = match engine {
        Engine::Postgres => PG_NASTY,
        Engine::Sqlite => SQLITE_NASTY,
    };
    for sql in [
        r#"UPDATE "Weird ""T"" ü" SET "Col; DROP" = 'it''s; changed' || chr(10), id = id + 100 WHERE id IN (3, 5)"#,
        r#"INSERT INTO "kid ""x""" VALUES (10, 1, 'new ''one'''), (11, NULL, '\')"#,
    ] {
        let sql = if engine == Engine::Sqlite {
            sql.replace("chr(10)", "char(10)")
        } else {
            sql.to_owned()
        };
        let db = Db::new(engine, fixture);
        let j = db.machine();
        let before = db.dump();
        let id = exec_yes(&j, &db, &sql, &[]);
        assert_ne!(db.dump(), before, "{sql}");
        let ids = id.to_string();
        let o = j.run(&["undo", "export", &ids, "--format", "sql"]);
        assert_exit(&o, 0, "undo export");
        let script = stdout(&o);
        match &db {
            Db::Lite(lite) => {
                let o = sqlite3_restore(&lite.path, &script);
                assert!(
                    o.status.success() && stderr(&o).trim().is_empty(),
                    "{sql}: sqlite3 failed:\n{}\n--- script ---\n{script}",
                    stderr(&o)
                );
            }
            Db::Pg(pg) => {
                let file = j.dir.path().join("undo.sql");
                std::fs::write(&file, &script).expect("write script");
                let o = psql_file(&pg.url, &pg.name, &file);
                assert!(
                    o.status.success(),
                    "{sql}: psql failed:\n{}\n--- script ---\n{script}",
                    stderr(&o)
                );
            }
        }
        assert_eq!(
            db.dump(),
            before,
            "{sql}: the exported script did not restore\n--- script ---\n{script}"
        );
    }
}

#[test]
fn pg_undo_export_of_update_and_insert_restores_with_psql() {
    export_update_insert(Engine::Postgres);
}

#[test]
fn sqlite_undo_export_of_update_and_insert_restores_with_sqlite3() {
    export_update_insert(Engine::Sqlite);
}

/// The SQLite script stops at its first error (`.bail on`, said in its
/// header) even when run without `-bail`: otherwise sqlite3 would go on
/// after a failed statement and commit the rest, a half restore. A row of
/// the child table re-created after the delete makes its re-insert fail
/// after the parents were re-inserted: nothing of the restore may remain.
#[test]
fn sqlite_undo_export_stops_at_the_first_error() {
    let db = Db::new(Engine::Sqlite, SQLITE_NASTY);
    let j = db.machine();
    let id = exec_yes(&j, &db, DELETE_NASTY, &[]);
    db.plain(r#"INSERT INTO "kid ""x""" VALUES (1, NULL, 'came back')"#);
    let now = db.dump();
    let o = j.run(&["undo", "export", &id.to_string(), "--format", "sql"]);
    assert_exit(&o, 0, "undo export --format sql");
    let script = stdout(&o);
    let header: Vec<&str> = script
        .lines()
        .take_while(|l| l.starts_with("--") || l.starts_with('.'))
        .collect();
    assert!(
        header.contains(&".bail on"),
        "no .bail on among the header lines:\n{script}"
    );
    assert!(
        header
            .iter()
            .any(|l| l.starts_with("--") && l.contains("bail")),
        "the header does not say the script stops at the first error:\n{script}"
    );
    let Db::Lite(lite) = &db else { unreachable!() };
    let o = sqlite3_restore(&lite.path, &script);
    assert_ne!(
        o.status.code(),
        Some(0),
        "sqlite3 ran a failing restore to the end\n--- script ---\n{script}"
    );
    assert!(
        stderr(&o).contains("UNIQUE constraint failed"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        db.dump(),
        now,
        "a failed restore left rows behind\n--- script ---\n{script}"
    );
}
