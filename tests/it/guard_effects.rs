//! Issue 15, finding 2: writes through functions in a read. A read-only
//! transaction refuses writes to tables, not a function that commits on
//! another connection or writes large objects; such calls are refused
//! wherever they stand in the statement (`src/sql/effects.rs` holds the
//! reviewed list, each entry tested there).

use std::process::Output;

use crate::helpers::*;

const T: &str = "create table t(id int primary key); insert into t values (1), (2), (3);";

fn count(db: &PgDb, sql: &str) -> i64 {
    db.client().query_one(sql, &[]).expect("count").get(0)
}

#[track_caller]
fn refused(out: &Output, name: &str) {
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
    let err = stderr(out);
    assert!(
        err.contains("statement not executed") && err.to_lowercase().contains(name),
        "{err}"
    );
}

/// `dblink_exec` commits on a connection of its own: the read-only
/// transaction around the read never sees the delete.
#[test]
fn dblink_exec_in_a_read_deletes_nothing() {
    let db = PgDb::with(&format!("{T} create extension dblink;"));
    let conninfo = format!("dbname={} user=postgres host=127.0.0.1", db.name);
    for sql in [
        format!("select dblink_exec('{conninfo}', 'delete from t where id = 1')"),
        format!(
            "select * from dblink('{conninfo}', 'delete from t where id = 2 returning id') as d(id int)"
        ),
        format!("select 1 where exists (select public.dblink_exec('{conninfo}', 'delete from t'))"),
    ] {
        let out = run(&["exec", &db.url, "-c", &sql]);
        refused(&out, "dblink");
        assert_eq!(count(&db, "select count(*) from t"), 3, "{sql}");
    }
}

/// Large objects are written from a read-only transaction in PostgreSQL
/// 15; a read, or the preview of a write whose WHERE calls one, would
/// create or remove them.
#[test]
fn large_object_writers_in_a_read_or_a_where_write_nothing() {
    let db = PgDb::with(T);
    let objects = "select count(*) from pg_largeobject_metadata";
    let out = run(&["exec", &db.url, "-c", "select lo_from_bytea(0, 'x')"]);
    refused(&out, "lo_from_bytea");
    let out = run(&[
        "exec",
        &db.url,
        "-c",
        "delete from t where id = (select lo_create(0) % 2)",
        "--dry-run",
    ]);
    refused(&out, "lo_create");
    assert_eq!(count(&db, objects), 0);
    assert_eq!(count(&db, "select count(*) from t"), 3);
}

/// `set_config(..., false)` changes how the rest of the session reads
/// text (`standard_conforming_strings`, `search_path`); only the local form
/// runs as a read.
#[test]
fn session_wide_set_config_is_refused_and_the_local_one_runs() {
    let db = PgDb::with(T);
    let out = run_with_stdin(
        &[&db.url],
        "select set_config('search_path', 'nowhere', false);\nselect count(*) from t;\n",
    );
    refused(&out, "set_config");
    assert!(
        stdout(&out).lines().any(|l| l.trim() == "3"),
        "the session's search_path is unchanged: {}",
        stdout(&out)
    );
    let out = run(&[
        "exec",
        &db.url,
        "-c",
        "select set_config('search_path', 'nowhere', true)",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// Found by an attack review: a function's name spelled as a Unicode
/// escape (`U&"\006Co_unlink"`), which dbguard's parser read as `U & "..."`,
/// and SQL inside a string that a built-in runs (`query_to_xml`,
/// `ts_stat`), both called what the list refuses. Both are refused now,
/// and the objects and rows are all there.
#[test]
fn escaped_names_and_sql_in_strings_call_nothing() {
    let db = PgDb::with(&format!("{T} create extension dblink;"));
    db.client()
        .batch_execute("select lo_from_bytea(424242, 'kept')")
        .unwrap();
    let conninfo = format!("dbname={} user=postgres host=127.0.0.1", db.name);
    for sql in [
        "select U&\"\\006Co_unlink\"(424242)".to_owned(),
        format!("select U&\"\\0064blink_exec\"('{conninfo}', 'delete from t')"),
        "select query_to_xml('select lo_unlink(424242)', false, false, '')".to_owned(),
        format!(
            "select * from ts_stat('select to_tsvector(dblink_exec(''{conninfo}'', ''delete from t''))')"
        ),
    ] {
        let out = run(&["exec", &db.url, "-c", &sql]);
        assert_eq!(out.status.code(), Some(1), "{sql}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("statement not executed"),
            "{sql}: {}",
            stderr(&out)
        );
        assert_eq!(count(&db, "select count(*) from t"), 3, "{sql}");
        assert_eq!(
            count(&db, "select count(*) from pg_largeobject_metadata"),
            1,
            "{sql}"
        );
    }
}

/// A function of the database's own that makes such a call in its body
/// (here through a helper): the parse tree shows only `my_cleanup()`, the
/// body shows `dblink_exec`. Refused before anything runs; a function
/// whose body only reads runs as before.
#[test]
fn a_read_calling_a_function_that_reaches_dblink_deletes_nothing() {
    let db = PgDb::with(&format!("{T} create extension dblink;"));
    let conninfo = format!("dbname={} user=postgres host=127.0.0.1", db.name);
    db.client()
        .batch_execute(&format!(
            "create function helper(i int) returns text language sql as $$
               select public.dblink_exec('{conninfo}', 'delete from t where id = ' || i) $$;
             create function My_Cleanup(i int) returns text language plpgsql as $$
               begin return helper(i); end $$;
             create function dyn(q text) returns int language plpgsql as $$
               begin execute q; return 1; end $$;
             create function harmless() returns bigint language sql as $$ select count(*) from t $$;"
        ))
        .expect("functions");
    for (sql, named) in [
        ("select my_cleanup(1)", "dblink_exec"),
        (
            "select * from t where id = length(public.\"my_cleanup\"(2))",
            "dblink_exec",
        ),
        ("select dyn('select lo_unlink(1)')", "dynamic sql"),
    ] {
        let out = run(&["exec", &db.url, "-c", sql]);
        refused(&out, named);
        assert!(stderr(&out).contains("my_cleanup() → helper()") || named != "dblink_exec");
        assert_eq!(count(&db, "select count(*) from t"), 3, "{sql}");
    }
    let out = run(&["exec", &db.url, "-c", "select harmless()"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains('3'), "{}", stdout(&out));
}

/// The same function in a write's WHERE: the preview counts the rows by
/// running the predicate, so it would call it. Refused before the preview.
#[test]
fn a_write_whose_where_calls_a_function_that_reaches_dblink_runs_nothing() {
    let db = PgDb::with(&format!("{T} create extension dblink;"));
    let conninfo = format!("dbname={} user=postgres host=127.0.0.1", db.name);
    db.client()
        .batch_execute(&format!(
            "create function forget(i int) returns int language sql as $$
               select length(public.dblink_exec('{conninfo}', 'delete from t where id = ' || i)) $$;"
        ))
        .expect("function");
    let out = run(&[
        "exec",
        &db.url,
        "-c",
        "delete from t where id = forget(3)",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("forget() calls dblink_exec"),
        "{}",
        stderr(&out)
    );
    assert_eq!(count(&db, "select count(*) from t"), 3);
}
