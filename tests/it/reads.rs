//! Reads run read-only; writes are classified and not executed.

use crate::helpers::*;

#[test]
fn select_of_a_writing_function_fails_read_only_on_postgres() {
    let db = PgDb::with(
        "create table log(id serial primary key, note text);
         create function f() returns int language plpgsql as $$
         begin insert into log(note) values ('written'); return 1; end $$;",
    );
    let out = run_with_stdin(&[&db.url], "SELECT f();\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("read-only transaction"), "{}", stderr(&out));
    let n: i64 = db.client().query_one("select count(*) from log", &[]).unwrap().get(0);
    assert_eq!(n, 0);
}

#[test]
fn typed_delete_is_classified_not_executed() {
    for (target, _keep) in [
        {
            let db = PgDb::with("create table t(id int primary key); insert into t values (1),(2);");
            (db.url.clone(), Box::new(db) as Box<dyn std::any::Any>)
        },
    ] {
        let out = run_with_stdin(&[&target], "DELETE FROM t WHERE id = 1;\n");
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(err.contains("DELETE on t WHERE id = 1: not executed"), "{err}");
    }
    let db = SqliteDb::with("create table t(id integer primary key); insert into t values (1),(2);");
    let out = run_with_stdin(&[&db.target()], "DELETE FROM t WHERE id = 1;\nSELECT count(*) FROM t;\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("| 2 "), "{}", stdout(&out));
    let n: i64 = db.conn().query_row("select count(*) from t", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 2);
}
