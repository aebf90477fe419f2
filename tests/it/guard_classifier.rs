//! What a third attack review of the classifier found (issue 15, findings
//! 1 and 2): contrib functions that run SQL from a string (`crosstab`,
//! `xpath_table`) or write storage from a read (`heap_force_kill`), a
//! `setval` in a write's `RETURNING` (sequences do not roll back), a
//! predicate reading the state of its own transaction (which tells the
//! preview from the apply, so other rows are applied than approved), and
//! an assignment to a field of a composite column (previewed as another
//! column). Each is refused, and nothing changes.

use crate::helpers::*;

const T: &str = "create table t(id int primary key, v text);
    insert into t values (1, 'scratch'), (4, 'PAYROLL'), (5, 'x');";

fn count(db: &PgDb, sql: &str) -> i64 {
    db.client().query_one(sql, &[]).expect("count").get(0)
}

#[track_caller]
fn refused_and_intact(db: &PgDb, sql: &str, rows: i64) {
    let out = run(&["exec", &db.url, "-c", sql, "--yes"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{sql}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("statement not executed"),
        "{sql}: {}",
        stderr(&out)
    );
    assert_eq!(count(db, "select count(*) from t"), rows, "{sql}");
}

#[test]
fn contrib_functions_that_run_sql_or_write_storage_are_refused() {
    let db = PgDb::with(&format!(
        "{T} create extension dblink; create extension tablefunc; create extension xml2;
         create extension pg_surgery;"
    ));
    let conninfo = format!("dbname={} user=postgres host=127.0.0.1", db.name);
    for sql in [
        format!(
            "select * from crosstab('select 1::text, 1::text, dblink_exec(''{conninfo}'', ''delete from t'')') as ct(r text, c text)"
        ),
        "delete from t where id = 5 returning (select count(*) from xpath_table('id', 'v', '(select 1 as id, ''<a/>''::text as v) x', '/a', 'true') as r(id int, a text))".to_owned(),
        "select heap_force_kill('t'::regclass, array(select ctid from t where id <> 1))".to_owned(),
    ] {
        refused_and_intact(&db, &sql, 3);
    }
}

#[test]
fn a_setval_in_returning_is_refused() {
    let db = PgDb::with(&format!("{T} create sequence s; select setval('s', 40);"));
    refused_and_intact(
        &db,
        "delete from t where id = 5 returning setval('s', 1)",
        3,
    );
    assert_eq!(count(&db, "select last_value from s"), 40);
}

#[test]
fn a_predicate_reading_its_own_transaction_is_refused() {
    let db = PgDb::with(T);
    for sql in [
        "delete from t where id = case when txid_current_if_assigned() is null then 1 else 4 end",
        "delete from t where id = case when exists (select 1 from pg_stat_xact_user_tables where n_tup_ins > 0) then 4 else 1 end",
        "delete from t where id = (select count(*) from dbguard.changes) + 1",
    ] {
        refused_and_intact(&db, sql, 3);
    }
}

#[test]
fn a_field_of_a_composite_column_is_not_taken_for_a_column() {
    let db = PgDb::with(&format!(
        "{T} create type wallet as (balance int, note text);
         create table acct (id int primary key, balance int not null default 100, w wallet);
         insert into acct values (1, 100, row(7, 'n'));"
    ));
    for sql in [
        "update acct set w.balance = 0 where id = 1",
        "insert into acct (id, w.balance) values (2, 0)",
    ] {
        let out = run(&["exec", &db.url, "-c", sql, "--yes"]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{sql}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        assert!(
            stderr(&out).contains("composite column"),
            "{sql}: {}",
            stderr(&out)
        );
    }
    assert_eq!(
        count(
            &db,
            "select count(*) from acct where w = row(7, 'n')::wallet and balance = 100"
        ),
        1
    );
}

/// dbguard's own queries (counts, locks, captures, digests) use built-in
/// operators and functions. A session that searches `public` before
/// `pg_catalog` (an allowed `SET search_path`) would let an operator
/// planted in `public` stand in for them (a third attack review's last
/// note). dbguard's transactions search `pg_catalog` first: an `=` that
/// holds for everything changes neither the preview nor the apply.
#[test]
fn built_ins_are_found_first_in_dbguards_transactions() {
    let db = PgDb::with(&format!(
        "{T}
         create function public.always(int, int) returns boolean language sql as 'select true';
         create operator public.= (leftarg = int, rightarg = int, function = public.always);"
    ));
    crate::helpers::init_journal(&db.url);
    let out = run_with_stdin(
        &[&db.url],
        "SET search_path = public, pg_catalog;\nDELETE FROM t WHERE id = 1;\n",
    );
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(text.contains("1 row to delete"), "{text}");
    assert_eq!(
        count(&db, "select count(*) from t"),
        3,
        "nothing confirmed it: {text}"
    );
    let out = run(&[
        "exec",
        &db.url,
        "-c",
        "SET search_path = public, pg_catalog; DELETE FROM t WHERE id = 1",
        "--yes",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(count(&db, "select count(*) from t"), 2);
    assert_eq!(count(&db, "select count(*) from t where id = 1"), 0);
}
