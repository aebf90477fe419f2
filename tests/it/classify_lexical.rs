//! dbguard's reading of a statement against the server's, on every
//! lexical rule that could make them differ (issue 15, finding 1): string
//! constants in every form PostgreSQL has (`'...'` with doubled quotes,
//! `E'...'` with backslash escapes, `U&'...'` with and without `UESCAPE`,
//! dollar quotes with and without tags, bit and hex strings), constants
//! continued on another line, quoted identifiers, line comments, block
//! comments (nested), and values that hold the decoys a smuggler would
//! use (`'`, `\`, `;`, `--`, `/*`, `$$`, a second statement). Thousands of
//! generated texts, and mutations of them that insert one lexically
//! significant character anywhere, go to the classifier and to the server.
//!
//! The engine is the oracle (`impact_props::agrees_pg`): each text the
//! classifier takes as one write is previewed, then run for real in a
//! transaction that is rolled back; the preview's kind, target rows and
//! per-table totals must be what the server did, and a text the server
//! reads as two statements (the extended protocol refuses it) must not be
//! previewed as one. A text the classifier refuses is safe whatever the
//! server makes of it. `LEXICAL_CASES=N` changes the number of texts.

use proptest::prelude::*;

/// Values compared in the generated predicates: some the fixture holds
/// (so a misread constant changes the rows), and decoys.
const VALUES: &[&str] = &[
    "r3",
    "r7",
    "r12",
    "c4@example.com",
    "new",
    "r3' OR 'x' = 'x",
    "r3\\' OR true --",
    "r3\\\\",
    "r3'; DELETE FROM products; --",
    "$$; DELETE FROM products; $$",
    "/* r3 */",
    "-- r3",
    "r3\n' OR '1",
    "é r3 ü",
    "",
];

/// One string constant spelling `v`, in one of PostgreSQL's forms.
fn constant(v: &str, form: u8) -> String {
    let half = (0..=v.len() / 2)
        .rev()
        .find(|&i| v.is_char_boundary(i))
        .unwrap_or(0);
    let (a, b) = v.split_at(half);
    let e = |x: &str| x.replace('\\', "\\\\").replace('\'', "\\'");
    match form % 10 {
        // An escape string continued on the next line: the server keeps
        // reading the continuation with backslash escapes.
        8 => format!("E'{}'\n'{}'", e(a), e(b)),
        9 => format!("E'{}' -- {}\n'{}'", e(a), "note", e(b)),
        0 => format!("'{}'", v.replace('\'', "''")),
        1 => format!("E'{}'", v.replace('\\', "\\\\").replace('\'', "\\'")),
        2 => format!("E'{}'", v.replace('\\', "\\\\").replace('\'', "''")),
        3 => {
            let esc: String = v.chars().map(|c| format!("\\{:04X}", c as u32)).collect();
            format!("U&'{esc}'")
        }
        4 => {
            let esc: String = v.chars().map(|c| format!("!{:04X}", c as u32)).collect();
            format!("U&'{esc}' UESCAPE '!'")
        }
        5 if !v.contains("$$") => format!("$${v}$$"),
        6 if !v.contains("$q$") => format!("$q${v}$q$"),
        // A constant continued on the next line: one string to the server.
        _ => format!("'{}'\n'{}'", a.replace('\'', "''"), b.replace('\'', "''")),
    }
}

/// Trivia between tokens: nothing, a space, a comment holding a decoy.
fn trivia(kind: u8, decoy: &str) -> String {
    let safe_block = decoy.replace("*/", "* /").replace("/*", "/ *");
    let safe_line = decoy.replace('\n', " ");
    match kind % 6 {
        0 => " ".into(),
        1 => format!(" /* {safe_block} */ "),
        2 => format!(" /* a /* {safe_block} */ b */ "),
        3 => format!(" -- {safe_line}\n"),
        4 => "\n".into(),
        _ => " ".into(),
    }
}

/// A write over the fixture comparing a text column to constants.
fn statement(shape: u8, a: &str, b: &str, t: &[String; 3]) -> String {
    match shape % 7 {
        0 => format!("DELETE FROM regions{}WHERE name = {a}", t[0]),
        1 => format!("DELETE FROM regions WHERE{}name IN ({a},{}{b})", t[0], t[1]),
        2 => format!(
            "UPDATE customers SET score = score + 1{}WHERE email = {a} OR email = {b}",
            t[0]
        ),
        3 => format!("DELETE FROM \"regions\" WHERE \"name\" ={}{a}", t[1]),
        4 => format!(
            "UPDATE orders SET status = {a}{}WHERE status = {b} AND id < 5",
            t[2]
        ),
        5 => format!(
            "DELETE FROM regions WHERE name = {a}{}AND parent_id IS NOT NULL",
            t[2]
        ),
        _ => format!(
            "DELETE FROM items WHERE order_id IN (SELECT id FROM orders WHERE status = {a}){}",
            t[0]
        ),
    }
}

/// One lexically significant insertion, for mutations.
const INSERTS: &[&str] = &[
    "'", "''", "\\", "E", "$", "$$", "$q$", "/*", "*/", "--", "\n", ";", "\"", "U&", " ", "e'",
];

fn text() -> impl Strategy<Value = String> {
    let pick = |n: usize| 0..n;
    (
        any::<u8>(),
        (pick(VALUES.len()), any::<u8>()),
        (pick(VALUES.len()), any::<u8>()),
        proptest::array::uniform3((any::<u8>(), pick(VALUES.len()))),
        proptest::option::weighted(0.4, (any::<proptest::sample::Index>(), pick(INSERTS.len()))),
    )
        .prop_map(|(shape, (va, fa), (vb, fb), trivias, mutation)| {
            let t = trivias.map(|(k, d)| trivia(k, VALUES[d]));
            let mut s = statement(
                shape,
                &constant(VALUES[va], fa),
                &constant(VALUES[vb], fb),
                &t,
            );
            if let Some((at, ins)) = mutation {
                let mut i = at.index(s.len() + 1);
                while !s.is_char_boundary(i) {
                    i -= 1;
                }
                s.insert_str(i, INSERTS[ins]);
            }
            s
        })
}

#[test]
fn the_classifier_reads_text_as_the_server_does() {
    let cases = std::env::var("LEXICAL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let report = crate::impact_props::agrees_pg(text(), cases);
    println!("{report}");
}

/// A database whose default is `standard_conforming_strings = off` reads
/// a backslash in a plain string as an escape, where dbguard's parser reads
/// it as a character: `'a\' OR name = ' OR true --'` is one narrow
/// predicate to dbguard and `name = 'a'' OR name = ' OR true` to such a
/// session, which deletes every row. dbguard's own transactions read text
/// with standard conforming strings whatever the database says.
#[test]
fn a_database_without_standard_conforming_strings_reads_as_dbguard_does() {
    let db = crate::apply::Db::new(
        dbguard::db::Engine::Postgres,
        "CREATE TABLE t (id integer PRIMARY KEY, name text);
         INSERT INTO t VALUES (1, 'r1'), (2, 'r2'), (3, 'r3');",
    );
    let crate::apply::Db::Pg(pg) = &db else {
        unreachable!("a PostgreSQL database")
    };
    pg.client()
        .batch_execute(&format!(
            "ALTER DATABASE \"{}\" SET standard_conforming_strings = off",
            pg.name
        ))
        .unwrap();
    let j = db.machine();
    let before = db.dump();
    let sql = "DELETE FROM t WHERE name = 'a\\' OR name = ' OR true --'";
    let o = j.run(&[
        "exec",
        &db.target(),
        "-c",
        sql,
        "--dry-run",
        "--format",
        "json",
    ]);
    let v = crate::helpers::last_json(&o);
    assert_eq!(v["target"]["rows"], 0, "{v}");
    let id = crate::apply::exec_yes(&j, &db, sql, &[]);
    assert!(id > 0);
    assert_eq!(
        db.dump(),
        before,
        "the server read more into it than the preview"
    );

    // A read: dbguard's parser sees two string constants and no call; a
    // session without standard conforming strings would call lo_unlink,
    // which PostgreSQL 15 runs even in a read-only transaction.
    let mut c = pg.client();
    c.batch_execute("SELECT lo_from_bytea(424242, 'kept')")
        .unwrap();
    let read = "SELECT 'a\\' , ' , lo_unlink(424242) --'";
    let o = j.run(&["exec", &db.target(), "-c", read]);
    assert_eq!(o.status.code(), Some(0), "{}", crate::helpers::stderr(&o));
    let left: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_largeobject_metadata WHERE oid = 424242",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 1, "a read unlinked a large object");
}
