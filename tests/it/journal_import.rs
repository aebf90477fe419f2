//! `dbguard journal import`: the journal files dbguard 0.1 wrote beside
//! the target (tests/fixtures/journal-0.1, made by its make.sh) come into
//! the journal in the target, and their changes undo from there.
//!
//! Each test rebuilds the fixture's database from its setup script and
//! applies the fixture's statements with a plain client, as dbguard 0.1
//! did then; a copy of the journal file is told, with rusqlite, that it
//! was written for this database (the identity columns of its changes),
//! as if it had been written on this machine.

use std::path::{Path, PathBuf};

use dbguard::db::Engine;

use crate::apply::{Db, Dump, assert_exit, undo_yes};
use crate::helpers::*;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/journal-0.1")
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixture_dir().join(name)).unwrap()
}

/// The statements of changes.sql, in order.
fn statements() -> Vec<String> {
    fixture("changes.sql")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("--"))
        .map(str::to_owned)
        .collect()
}

/// What the fixture's change 6 (the undo of change 5) did.
const UNDO_OF_5: &str = "UPDATE tagged SET v = v - 1 WHERE id <= 3";

/// The fixture's database with its journal, as it was before any change
/// (its dump), and after the changes the journal file records.
fn database(engine: Engine) -> (Db, Dump) {
    let setup = match engine {
        Engine::Postgres => fixture("pg_setup.sql"),
        Engine::Sqlite => fixture("sqlite_setup.sql"),
    };
    let db = Db::new(engine, &setup);
    let before = db.dump();
    for sql in statements() {
        db.plain(&sql);
    }
    db.plain(UNDO_OF_5);
    assert_ne!(db.dump(), before);
    (db, before)
}

/// The database's name (Postgres) or file path (SQLite), and its cluster.
fn identity_of(db: &Db) -> (String, Option<String>) {
    match db {
        Db::Pg(p) => {
            let sysid: String = p
                .client()
                .query_one(
                    "SELECT system_identifier::text FROM pg_control_system()",
                    &[],
                )
                .unwrap()
                .get(0);
            (p.name.clone(), Some(sysid))
        }
        Db::Lite(l) => (
            std::fs::canonicalize(&l.path)
                .unwrap()
                .display()
                .to_string(),
            None,
        ),
    }
}

/// A copy of the engine's fixture journal in `dir`, its changes naming
/// `database` on cluster `sysid` reached as `target`.
fn journal_copy(
    engine: Engine,
    dir: &Path,
    target: &str,
    database: &str,
    sysid: Option<&str>,
) -> PathBuf {
    let name = match engine {
        Engine::Postgres => "pg.journal.sqlite",
        Engine::Sqlite => "sqlite.journal.sqlite",
    };
    let path = dir.join("journal.sqlite");
    std::fs::copy(fixture_dir().join(name), &path).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE changes SET target = ?1, target_database = ?2, system_identifier = ?3",
        rusqlite::params![target, database, sysid],
    )
    .unwrap();
    path
}

/// The imported entries of `j`'s database: the file's id → the new id.
fn imported(j: &JournalDir) -> std::collections::BTreeMap<i64, i64> {
    undo_list(j)
        .iter()
        .filter_map(|c| {
            let origin = c["replay_of"].as_str()?;
            let old = origin.strip_prefix("import:")?.rsplit('#').next()?;
            Some((old.parse().ok()?, c["id"].as_i64()?))
        })
        .collect()
}

/// Imports the fixture journal (after `prepare` did what it does to the
/// copy), then undoes the imported changes newest first through dbguard:
/// every table is as before any change.
fn import_then_undo(engine: Engine, prepare: impl Fn(&rusqlite::Connection)) {
    let (db, before) = database(engine);
    let j = db.machine();
    let (database, sysid) = identity_of(&db);
    let dir = tempfile::tempdir().unwrap();
    let file = journal_copy(
        engine,
        dir.path(),
        &db.target(),
        &database,
        sysid.as_deref(),
    );
    prepare(&rusqlite::Connection::open(&file).unwrap());
    let file_s = file.display().to_string();
    let o = j.run(&["journal", "import", &file_s]);
    assert_exit(&o, 0, "journal import");
    let ids = imported(&j);
    assert_eq!(ids.keys().copied().collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6]);
    assert!(
        stdout(&o).contains("imported 6 change(s)"),
        "{}",
        stdout(&o)
    );

    let list = undo_list(&j);
    let entry = |old: i64| {
        list.iter()
            .find(|c| c["id"].as_i64() == Some(ids[&old]))
            .unwrap()
            .clone()
    };
    // The old entries keep who, when and what.
    let first = entry(1);
    assert_eq!(first["created_at"], "2026-12-02T08:24:44Z");
    assert_eq!(first["operator"], "unknown");
    assert_eq!(first["statement"], "DELETE FROM parent WHERE id IN (2, 3)");
    assert_eq!(first["row_count"], 12);
    assert_eq!(entry(4)["row_count"], 2500);
    assert_eq!(entry(6)["kind"], "undo");
    assert_eq!(entry(6)["undo_of"].as_i64(), Some(ids[&5]));
    assert_eq!(entry(5)["undone_by"].as_i64(), Some(ids[&6]));

    // Newest first: the undo of 5 stays (5 is undone already).
    for old in [4, 3, 2, 1] {
        undo_yes(&j, ids[&old], &[]);
    }
    assert_eq!(db.dump(), before, "every table as before the changes");
    // The import sealed what it brought: intact as imported and undone,
    // named once a before-image is edited with another client.
    let target = db.target();
    assert_exit(
        &j.run(&["audit", "verify", &target]),
        0,
        "verify after import",
    );
    let first = ids[&1];
    target_batch(
        &target,
        &format!(
            "UPDATE {} SET c1 = c1 + 1000",
            journal_table(&target, &format!("c{first}_1_d"))
        ),
    );
    let o = j.run(&["audit", "verify", &target]);
    assert_exit(&o, 1, "verify of an imported change's edited undo data");
    assert!(
        stderr(&o).contains(&format!("change {first}'s snapshot")),
        "{}",
        stderr(&o)
    );
    if let Db::Lite(l) = &db {
        // Exactly: storage classes, and reals by their bits.
        let conn = l.conn();
        for t in ["parent", "child", "tagged", "bulk"] {
            let rows = sqlite_rows(&conn, &format!("SELECT * FROM {t} ORDER BY id"));
            let setup = SqliteDb::with(&fixture("sqlite_setup.sql"));
            let want = sqlite_rows(&setup.conn(), &format!("SELECT * FROM {t} ORDER BY id"));
            assert_eq!(rows, want, "{t}");
        }
    }
}

#[test]
fn pg_journal_file_of_0_1_imports_and_undoes() {
    import_then_undo(Engine::Postgres, |_| {});
}

#[test]
fn sqlite_journal_file_of_0_1_imports_and_undoes() {
    import_then_undo(Engine::Sqlite, |_| {});
}

/// Old journals were in WAL mode, as the release left them.
#[test]
fn sqlite_journal_file_in_wal_mode_imports() {
    import_then_undo(Engine::Sqlite, |conn| {
        conn.pragma_update(None, "journal_mode", "wal").unwrap();
    });
}

/// A file of an older schema is read as that schema wrote it: schema 3
/// had chunks, but neither their format (all `COPY` text then) nor
/// references to other chunks.
#[test]
fn pg_journal_file_of_schema_3_imports_and_undoes() {
    import_then_undo(Engine::Postgres, |conn| {
        conn.execute_batch(
            "DROP INDEX change_chunks_format;
             ALTER TABLE change_chunks DROP COLUMN format;
             ALTER TABLE change_chunks DROP COLUMN ref_change;
             ALTER TABLE change_chunks DROP COLUMN ref_seq;
             PRAGMA user_version = 3;",
        )
        .unwrap();
    });
}

/// A second import of the same file (under another name) brings nothing
/// twice; approvals come in, their tokens stay used.
#[test]
fn importing_a_file_twice_adds_nothing_and_keeps_tokens_used() {
    let (db, _) = database(Engine::Sqlite);
    let j = db.machine();
    let (database, _) = identity_of(&db);
    let dir = tempfile::tempdir().unwrap();
    let file = journal_copy(Engine::Sqlite, dir.path(), &db.target(), &database, None);
    rusqlite::Connection::open(&file)
        .unwrap()
        .execute(
            "INSERT INTO approvals (change_id, principal, fingerprint, nonce, signed_at, used_at) \
             VALUES (2, 'alice', 'SHA256:abc', 'nonce-of-change-2', 1700000000, '2026-12-02T08:24:44Z')",
            [],
        )
        .unwrap();
    let o = j.run(&["journal", "import", &file.display().to_string()]);
    assert_exit(&o, 0, "first import");
    let ids = imported(&j);
    let renamed = dir.path().join("renamed.sqlite");
    std::fs::copy(&file, &renamed).unwrap();
    let o = j.run(&["journal", "import", &renamed.display().to_string()]);
    assert_exit(&o, 0, "second import");
    assert!(
        stdout(&o).contains("imported 0 change(s)"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("imported before"), "{}", stdout(&o));
    assert_eq!(imported(&j), ids);
    assert_eq!(undo_list(&j).len(), 6);
    let Db::Lite(l) = &db else { unreachable!() };
    let used: (i64, String) = l
        .conn()
        .query_row(
            "SELECT change_id, principal FROM dbguard_approvals WHERE nonce = 'nonce-of-change-2'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(used, (ids[&2], "alice".to_owned()));
    // The import is audited, each time.
    let events: i64 = l
        .conn()
        .query_row(
            "SELECT count(*) FROM dbguard_audit WHERE event = 'import'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(events, 2);
}

/// A journal file written for another database (or the same name on
/// another cluster) brings nothing, and says why.
#[test]
fn a_file_from_another_database_is_refused_with_the_reason() {
    let (db, _) = database(Engine::Postgres);
    let j = db.machine();
    let (name, sysid) = identity_of(&db);
    let dir = tempfile::tempdir().unwrap();
    let before = db.dump();

    let file = journal_copy(
        Engine::Postgres,
        dir.path(),
        "postgres://elsewhere/shop",
        "shop",
        sysid.as_deref(),
    );
    let o = j.run(&["journal", "import", &file.display().to_string()]);
    assert_exit(&o, 1, "import of another database's journal");
    let err = stderr(&o);
    assert!(err.contains("shop") && err.contains(&name), "{err}");
    assert!(err.contains("nothing was imported"), "{err}");
    assert!(undo_list(&j).is_empty());

    let file = journal_copy(
        Engine::Postgres,
        dir.path(),
        &db.target(),
        &name,
        Some("42"),
    );
    let o = j.run(&["journal", "import", &file.display().to_string()]);
    assert_exit(&o, 1, "import of another cluster's journal");
    let err = stderr(&o);
    let ours = sysid.unwrap();
    assert!(err.contains("42") && err.contains(&ours), "{err}");
    assert!(undo_list(&j).is_empty());

    let sqlite_file = journal_copy(Engine::Sqlite, dir.path(), "/x.db", "/x.db", None);
    let o = j.run(&["journal", "import", &sqlite_file.display().to_string()]);
    assert_exit(&o, 1, "import of a SQLite journal into Postgres");
    assert!(stderr(&o).contains("SQLite"), "{}", stderr(&o));
    assert_eq!(db.dump(), before);
}

/// A journal file of a newer schema than 8 is refused, naming both
/// versions, and left byte for byte as it was.
#[test]
fn a_newer_journal_file_is_refused_untouched() {
    let (db, _) = database(Engine::Sqlite);
    let j = db.machine();
    let (database, _) = identity_of(&db);
    let dir = tempfile::tempdir().unwrap();
    let file = journal_copy(Engine::Sqlite, dir.path(), &db.target(), &database, None);
    rusqlite::Connection::open(&file)
        .unwrap()
        .pragma_update(None, "user_version", 9)
        .unwrap();
    let bytes = std::fs::read(&file).unwrap();
    let o = j.run(&["journal", "import", &file.display().to_string()]);
    assert_exit(&o, 1, "import of a newer journal file");
    let err = stderr(&o);
    assert!(err.contains("schema 9") && err.contains('8'), "{err}");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        bytes,
        "the file is unchanged"
    );
    let siblings: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(siblings.len(), 1, "no -wal or -shm beside it: {siblings:?}");
    assert!(undo_list(&j).is_empty());

    let o = j.run(&["journal", "import", &db.target()]);
    assert_exit(&o, 1, "import of a database that is no journal file");
    assert!(
        stderr(&o).contains("not a dbguard journal"),
        "{}",
        stderr(&o)
    );
}

/// A file whose audit trail was edited after dbguard wrote it (here a
/// record's operator, as a forger passing a change off as someone else's
/// would) is refused whole, naming the record, and nothing is imported.
#[test]
fn a_file_with_a_broken_audit_trail_is_refused() {
    let (db, _) = database(Engine::Postgres);
    let j = db.machine();
    let (name, sysid) = identity_of(&db);
    let dir = tempfile::tempdir().unwrap();
    let file = journal_copy(
        Engine::Postgres,
        dir.path(),
        &db.target(),
        &name,
        sysid.as_deref(),
    );
    rusqlite::Connection::open(&file)
        .unwrap()
        .execute_batch(
            "DROP TRIGGER audit_no_update;
             UPDATE audit SET operator = 'ceo@example.org' WHERE id = 3;",
        )
        .unwrap();
    let o = j.run(&["journal", "import", &file.display().to_string()]);
    assert_exit(&o, 1, "import of a file whose trail was edited");
    let err = stderr(&o);
    assert!(
        err.contains("nothing was imported") && err.contains("broken at record 3"),
        "{err}"
    );
    assert!(undo_list(&j).is_empty(), "{:?}", undo_list(&j));
}
