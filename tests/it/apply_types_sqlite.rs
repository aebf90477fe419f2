//! Issue 14 on SQLite, which has no output settings: every storage class
//! in typed, untyped, STRICT and WITHOUT ROWID tables, affinity edge
//! cases, text that is not UTF-8, reals by their bits, in UTF-8 and UTF-16
//! files, compared by `typeof()`, `quote()` and the raw value of every
//! column, through a change and its undo.

use dbguard::db::Engine;

use crate::apply::{Db, assert_exit, list_entry};
use crate::apply_types::*;
use crate::helpers::*;

// ---------------------------------------------------------------- SQLite

/// Every storage class in columns of every affinity (declared INTEGER,
/// REAL, TEXT, BLOB, NUMERIC, none, and type names whose affinity comes
/// from SQLite's rules: "FLOATING POINT" is INTEGER, STRING is NUMERIC,
/// VARCHAR(3) is TEXT without a length check, DOUBLE PRECISION is REAL),
/// generated columns, values that affinity converted on the way in (text
/// '123' in an INTEGER column is stored as the integer 123) and values it
/// could not (text '12abc' stays text), text that is not UTF-8 (with a NUL
/// in it), signed zeros, infinities, subnormals, extreme integers.
const SQLITE_FIXTURE: &str = "
CREATE TABLE s (
  id INTEGER PRIMARY KEY,
  i INTEGER, r REAL, t TEXT, b BLOB, n NUMERIC, u,
  fp \"FLOATING POINT\", st STRING, vc VARCHAR(3), dbl DOUBLE PRECISION,
  \"wéird \"\" name\" TEXT,
  gv TEXT GENERATED ALWAYS AS (typeof(u) || '/' || typeof(n)) VIRTUAL,
  gs GENERATED ALWAYS AS (i) STORED
);
INSERT INTO s (id, i, r, t, b, n, u, fp, st, vc, dbl, \"wéird \"\" name\") VALUES
  (1, -9223372036854775808, 0.1, 'it''s', X'00FF00', 1, NULL, '1.0', '1.0', 'abcdef', 1, 'a'),
  (2, 9223372036854775807, -0.0, 'line1
line2	tab \\ backslash \"dq\"', X'', 1.5, 1, 1.5, ' 12 ', 12, '-0.0', 'b'),
  (3, 0, 1e308, 'ünïcødé ☃ 𝄞', X'000000', '12abc', 1.0, '0x1F', '1e3', 'é', -0.0, 'c'),
  (4, -1, 5e-324, '', zeroblob(3), 9223372036854775807, 'text', 9223372036854775808,
   '9223372036854775808', NULL, 9e999, 'd'),
  (5, 'text in an integer column', 9e999, 'NULL', X'DEADBEEF', '0x10', X'01', X'02', X'03', X'04',
   X'05', ''),
  (6, 1.5, -9e999, '0', 'text in a blob column', ' 12 ', 2.5, '  7', '7  ', 7, '7', NULL),
  (7, 1e20, 'not a real', 'x', 42, 1e-5, -0.0, 1e20, 1e20, 1e20, 1e20, 'e'),
  (8, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (9, '42', '3', '', 1.25, '', '', '', '', '', '', 'f'),
  (10, 2.2250738585072014e-308, 1.7976931348623157e308, 'end', -9223372036854775808,
   0.30000000000000004, 4.9406564584124654e-324, 4.9406564584124654e-324, 1e-310, 1e-310,
   2.2250738585072014e-308, 'g'),
  (11, CAST(X'FFFE800041' AS TEXT), CAST(X'C0' AS TEXT), CAST(X'FFFE800041' AS TEXT),
   CAST(X'EDA080' AS TEXT), CAST(X'FF' AS TEXT), CAST(X'00' AS TEXT), CAST(X'80' AS TEXT),
   CAST(X'3100' AS TEXT), CAST(X'F4908080' AS TEXT), CAST(X'31FF' AS TEXT), 'h'),
  (12, '123', '123', 123, 123, '123', '123', '123.0', '123.0', 123.0, '123', 'i'),
  (13, '-0', '-0.0', -0.0, -0.0, '-0.0', '-0', '+5', '+5', '+5', '+5', 'j'),
  (14, '1e400', '-1e400', 1e-400, '1e-400', 'Infinity', '-inf', 0.0 / 0.0, '0.0', -0, '0e0', 'k');
CREATE TABLE strict_t (id INTEGER PRIMARY KEY, a ANY, i INTEGER, r REAL, t TEXT, b BLOB) STRICT;
INSERT INTO strict_t VALUES
  (1, '123', 1, 1.5, 'x', X'00'), (2, 1.0, NULL, 2, '', X''),
  (3, X'FF', -1, -0.0, CAST(X'C0FF' AS TEXT), zeroblob(2)), (4, -0.0, 9223372036854775807, 1e308, 'ü ✓', X'80'),
  (5, NULL, NULL, NULL, NULL, NULL), (6, ' 1', '2', '3.5', 4, X'05');
CREATE TABLE wr (k TEXT PRIMARY KEY, v, r REAL) WITHOUT ROWID;
INSERT INTO wr VALUES ('a', 1, 1), ('b', '1', -0.0), ('c', X'01', 1e-300), ('ü', NULL, NULL),
                      (CAST(X'FFD8' AS TEXT), 1.5, 2), ('', -0.0, 5e-324);
CREATE TABLE nk (r REAL, b BLOB, t TEXT, i INTEGER, u);
INSERT INTO nk VALUES (0.1, X'00', 'a', 1, 1), (0.1, X'00', 'a', 1, 1), (NULL, NULL, NULL, NULL, NULL),
                      (-0.0, X'', '', 9223372036854775807, -0.0),
                      (1e308, 'blob col text', 'ü', -9223372036854775808, CAST(X'FF00' AS TEXT));
";

const SQLITE_TABLES: [&str; 4] = ["s", "strict_t", "wr", "nk"];

/// Every row of a SQLite table, every column (generated ones too) as
/// `typeof()`, `quote()` and the value itself (reals by their bits, text
/// by its bytes), sorted. The rowid of a table without an INTEGER PRIMARY
/// KEY is left out: SQLite does not keep it (VACUUM may renumber it), it
/// is not part of the row.
fn sqlite_image(path: &std::path::Path, table: &str) -> Vec<Vec<SqlVal>> {
    let conn = rusqlite::Connection::open(path).expect("open sqlite");
    let cols: Vec<String> = {
        let mut st = conn
            .prepare(&format!(
                "SELECT name FROM pragma_table_xinfo({})",
                sqlite_str(table)
            ))
            .expect("columns");
        st.query_map([], |r| r.get::<_, String>(0))
            .expect("columns")
            .collect::<Result<_, _>>()
            .expect("columns")
    };
    let mut exprs = Vec::new();
    let mut order = Vec::new();
    for c in &cols {
        let q = quote_ident(c);
        exprs.push(format!("typeof({q}), quote({q}), {q}"));
        order.push(format!("quote({q})"));
    }
    sqlite_rows(
        &conn,
        &format!(
            "SELECT {} FROM {} ORDER BY {}",
            exprs.join(", "),
            quote_ident(table),
            order.join(", ")
        ),
    )
}

/// Asserts two images of a SQLite table are identical, naming the
/// differing rows.
#[track_caller]
fn assert_same_sqlite(before: &[Vec<SqlVal>], after: &[Vec<SqlVal>], what: &str) {
    let diffs: Vec<String> = before
        .iter()
        .zip(after)
        .filter(|(b, a)| b != a)
        .map(|(b, a)| format!("  before {b:?}\n  after  {a:?}"))
        .collect();
    assert!(
        diffs.is_empty() && before.len() == after.len(),
        "{what}: {} rows before, {} after; differing rows:\n{}",
        before.len(),
        after.len(),
        diffs.join("\n")
    );
}

/// `statements` run in one exec session; each change undone, newest
/// first: every table of `tables` must be as it was, value for value and
/// storage class for storage class. Then each undo undone: every table as
/// the statements left it.
fn sqlite_round_trip(db: &Db, tables: &[&str], statements: &[&str]) {
    let Db::Lite(lite) = db else {
        panic!("a SQLite test")
    };
    let j = db.machine();
    let image = |t: &str| sqlite_image(&lite.path, t);
    let before: Vec<_> = tables.iter().map(|t| image(t)).collect();
    assert!(before.iter().all(|t| !t.is_empty()));
    let script = statements.join("; ");
    let (out, lines) = run_env(
        &j,
        &["exec", "-c", &script, "--yes", "--format", "json"],
        &[],
    );
    assert_exit(&out, 0, &script);
    let ids = change_ids(&lines);
    assert_eq!(
        ids.len(),
        statements.len(),
        "one change per statement: {lines:?}"
    );
    let after: Vec<_> = tables.iter().map(|t| image(t)).collect();
    assert!(
        before != after,
        "the statements changed nothing: {statements:?}"
    );
    let undos: Vec<i64> = ids.iter().rev().map(|id| undo_env(&j, *id, &[])).collect();
    for (i, t) in tables.iter().enumerate() {
        let what = format!("{t} after the undo of changes {ids:?}");
        assert_same_sqlite(&before[i], &image(t), &what);
    }
    for u in undos.iter().rev() {
        undo_env(&j, *u, &[]);
    }
    for (i, t) in tables.iter().enumerate() {
        let what = format!("{t} after undoing the undos {undos:?}");
        assert_same_sqlite(&after[i], &image(t), &what);
    }
}

/// NaN is not a value SQLite stores: bound, it becomes NULL. Checked here
/// so the fixtures need not hold it.
#[test]
fn sqlite_nan_is_stored_as_null() {
    let db = SqliteDb::with("CREATE TABLE k (r REAL, u);");
    db.conn()
        .execute("INSERT INTO k VALUES (?1, ?1)", rusqlite::params![f64::NAN])
        .expect("insert NaN");
    assert_eq!(
        sqlite_rows(&db.conn(), "SELECT r, u FROM k"),
        vec![vec![SqlVal::Null, SqlVal::Null]]
    );
}

const SQLITE_DELETES: [&str; 4] = [
    "DELETE FROM s",
    "DELETE FROM strict_t",
    "DELETE FROM wr",
    "DELETE FROM nk",
];

/// Every value moves to another row's column of another affinity (which
/// converts it where it can), keys of a WITHOUT ROWID table move, rows of
/// a table without a key change.
const SQLITE_UPDATES: [&str; 4] = [
    "UPDATE s SET i = (SELECT x.u FROM s AS x WHERE x.id = s.id % 14 + 1), \
     r = (SELECT x.b FROM s AS x WHERE x.id = s.id % 14 + 1), \
     t = (SELECT x.i FROM s AS x WHERE x.id = s.id % 14 + 1), \
     b = (SELECT x.r FROM s AS x WHERE x.id = s.id % 14 + 1), \
     n = (SELECT x.t FROM s AS x WHERE x.id = s.id % 14 + 1), \
     u = (SELECT x.n FROM s AS x WHERE x.id = s.id % 14 + 1), \
     fp = (SELECT x.dbl FROM s AS x WHERE x.id = s.id % 14 + 1), \
     st = (SELECT x.fp FROM s AS x WHERE x.id = s.id % 14 + 1), \
     vc = (SELECT x.st FROM s AS x WHERE x.id = s.id % 14 + 1), \
     dbl = (SELECT x.vc FROM s AS x WHERE x.id = s.id % 14 + 1), \
     \"wéird \"\" name\" = 'changed'",
    "UPDATE strict_t SET a = (SELECT x.b FROM strict_t AS x WHERE x.id = strict_t.id % 6 + 1), \
     i = -i, r = -r, t = t || '.'",
    "UPDATE wr SET k = k || '!', v = r, r = 7",
    "UPDATE nk SET t = 'u', u = b WHERE i IS NOT NULL",
];

const SQLITE_INSERTS: [&str; 4] = [
    "INSERT INTO s (id, i, r, t, b, n, u, fp, st, vc, dbl, \"wéird \"\" name\") \
     SELECT id + 100, i, r, t, b, n, u, fp, st, vc, dbl, \"wéird \"\" name\" FROM s",
    "INSERT INTO strict_t SELECT id + 100, a, i, r, t, b FROM strict_t",
    "INSERT INTO wr SELECT k || '#', v, r FROM wr",
    "INSERT INTO nk SELECT * FROM nk",
];

#[test]
fn sqlite_every_storage_class_delete_then_undo_is_identical() {
    let db = Db::new(Engine::Sqlite, SQLITE_FIXTURE);
    sqlite_round_trip(&db, &SQLITE_TABLES, &SQLITE_DELETES);
}

#[test]
fn sqlite_every_storage_class_update_then_undo_is_identical() {
    let db = Db::new(Engine::Sqlite, SQLITE_FIXTURE);
    sqlite_round_trip(&db, &SQLITE_TABLES, &SQLITE_UPDATES);
}

#[test]
fn sqlite_every_storage_class_insert_then_undo_is_identical() {
    let db = Db::new(Engine::Sqlite, SQLITE_FIXTURE);
    sqlite_round_trip(&db, &SQLITE_TABLES, &SQLITE_INSERTS);
}

/// The same in a file whose text encoding is UTF-16: the journal's
/// snapshots live in the same file, so text is never converted, not even
/// text that is not valid in either encoding.
#[test]
fn sqlite_utf16_file_every_change_then_undo_is_identical() {
    let db = Db::new(
        Engine::Sqlite,
        &format!("PRAGMA encoding = 'UTF-16le';{SQLITE_FIXTURE}"),
    );
    let Db::Lite(lite) = &db else { unreachable!() };
    let encoding: String = lite
        .conn()
        .query_row("PRAGMA encoding", [], |r| r.get(0))
        .expect("encoding");
    assert_eq!(encoding, "UTF-16le");
    let all: Vec<&str> = SQLITE_DELETES
        .iter()
        .chain(&SQLITE_UPDATES)
        .chain(&SQLITE_INSERTS)
        .copied()
        .collect();
    // Deletes last: the updates and inserts then have rows to work on.
    let (deletes, rest) = all.split_at(SQLITE_DELETES.len());
    let mut ordered: Vec<&str> = rest.to_vec();
    ordered.extend_from_slice(deletes);
    sqlite_round_trip(&db, &SQLITE_TABLES, &ordered);
}

/// A deterministic stream of f64 bit patterns (xorshift), finite only.
fn random_reals(n: usize) -> Vec<f64> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let f = f64::from_bits(x);
        if f.is_finite() {
            out.push(f);
        }
    }
    // Decimal short forms and subnormals.
    out.extend([
        0.1,
        0.2,
        0.30000000000000004,
        1.0 / 3.0,
        -0.0,
        f64::MIN_POSITIVE,
        f64::MIN_POSITIVE / 3.0,
        f64::EPSILON,
        f64::MAX,
        f64::MIN,
        1e23,
        8.41e21,
        5e-324,
        123456789.12345679,
        9007199254740993.0,
    ]);
    out
}

/// Reals must come back bit for bit: the values are bound as parameters
/// (not parsed from decimal), in a REAL column and in a column without
/// affinity, as the key of a table without rowid too.
#[test]
fn sqlite_random_reals_are_bit_exact_after_delete_and_undo() {
    let db = Db::new(
        Engine::Sqlite,
        "CREATE TABLE reals (id INTEGER PRIMARY KEY, r REAL, u);
         CREATE TABLE rkey (r REAL PRIMARY KEY, v) WITHOUT ROWID;",
    );
    let Db::Lite(lite) = &db else { unreachable!() };
    {
        let mut conn = lite.conn();
        let tx = conn.transaction().expect("tx");
        for (i, f) in random_reals(2000).into_iter().enumerate() {
            tx.execute(
                "INSERT INTO reals VALUES (?1, ?2, ?2)",
                rusqlite::params![i as i64, f],
            )
            .expect("insert");
            tx.execute(
                "INSERT OR IGNORE INTO rkey VALUES (?1, ?2)",
                rusqlite::params![f, i as i64],
            )
            .expect("insert");
        }
        tx.commit().expect("commit");
    }
    sqlite_round_trip(
        &db,
        &["reals", "rkey"],
        &["DELETE FROM reals", "DELETE FROM rkey"],
    );
}

/// `INTEGER PRIMARY KEY DESC` is not the rowid (SQLite's documented
/// quirk), so rows' rowids and keys differ. An undo with no conflicts
/// finds the rows it re-inserted by their key, not by rowid: its entry
/// holds exactly the rows it put back, so undoing the undo deletes
/// exactly them.
#[test]
fn sqlite_undo_finds_reinserted_rows_by_key_where_the_key_is_not_the_rowid() {
    let db = Db::new(
        Engine::Sqlite,
        "CREATE TABLE q (id INTEGER PRIMARY KEY DESC, v TEXT);
         INSERT INTO q (rowid, id, v) VALUES (100, 1, 'a'), (200, 2, 'b'), (300, 3, 'c'), (7, 4, 'd');",
    );
    let j = db.machine();
    let rows = |sql: &str| -> Vec<(i64, String)> {
        let c = rusqlite::Connection::open(db.target()).expect("open");
        let mut st = c.prepare(sql).expect("prepare");
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    let all = "SELECT id, v FROM q ORDER BY id";
    let before = rows(all);
    let change = exec_apply(&j, "DELETE FROM q WHERE id IN (1, 4)");
    let undo = undo_apply(&j, change);
    assert_eq!(rows(all), before);
    assert_eq!(
        list_entry(&j, undo)["row_count"].as_i64(),
        Some(2),
        "{}",
        list_entry(&j, undo)
    );
    undo_apply(&j, undo);
    assert_eq!(rows(all), [(2, "b".to_owned()), (3, "c".to_owned())]);
}

/// `INTEGER PRIMARY KEY DESC` may even be NULL (SQLite allows it in a key
/// that is not the rowid), which no key lookup finds: such rows are
/// watched as they go back in, and the undo restores them (it was refused
/// as "re-inserted but 0 recorded").
#[test]
fn sqlite_undo_restores_rows_whose_non_rowid_integer_key_is_null() {
    let db = Db::new(
        Engine::Sqlite,
        "CREATE TABLE q (id INTEGER PRIMARY KEY DESC, v TEXT);
         INSERT INTO q (id, v) VALUES (NULL, 'a'), (2, 'b');",
    );
    let j = db.machine();
    let before = db.dump();
    let change = exec_apply(&j, "DELETE FROM q WHERE v = 'a'");
    assert_ne!(db.dump(), before);
    undo_apply(&j, change);
    let c = rusqlite::Connection::open(db.target()).expect("open");
    let rows: Vec<(Option<i64>, String)> = c
        .prepare("SELECT id, v FROM q ORDER BY v")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(rows, [(None, "a".to_owned()), (Some(2), "b".to_owned())]);
}
