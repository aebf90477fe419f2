//! Impact previews on the demo database (issue 3, acceptance 3) and the
//! promise that a preview never changes the database (acceptance 4).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::helpers::{PgDb, SqliteDb, run, stderr, stdout};
use crate::impact::{effects_on, preview_json, preview_text};

#[test]
fn impact_demo_i586() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("demo.sqlite");
    let p = path.display().to_string();
    let out = run(&["demo", "--no-shell", "--path", &p]);
    assert!(out.status.success(), "demo failed: {}", stderr(&out));

    let conn = rusqlite::Connection::open(&path).expect("open demo");
    let count = |sql: &str| -> u64 {
        let n: i64 = conn.query_row(sql, [], |r| r.get(0)).expect(sql);
        n as u64
    };
    let cascaded = count(
        "SELECT count(*) FROM distribution_architectures
          WHERE architecture_id IN (SELECT id FROM architectures WHERE name = 'i586')",
    );
    let dangling = count(
        "SELECT count(*) FROM repository_architectures
          WHERE architecture_id IN (SELECT id FROM architectures WHERE name = 'i586')",
    );
    assert!(cascaded > 0 && dangling > 0, "the demo data changed shape");

    let sql = "DELETE FROM architectures WHERE name = 'i586';";
    let (v, code) = preview_json(&p, sql, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["kind"], "delete", "{v}");
    assert_eq!(v["target"]["table"], "architectures", "{v}");
    assert_eq!(v["target"]["rows"], 1, "{v}");
    let c = effects_on(&v, "cascade", "distribution_architectures");
    assert_eq!(
        c.len(),
        1,
        "one cascade into distribution_architectures: {v}"
    );
    assert_eq!(c[0]["rows"].as_u64(), Some(cascaded), "{v}");
    assert_eq!(c[0]["source"], "fk", "{v}");
    let d = effects_on(&v, "dangling", "repository_architectures");
    assert_eq!(
        d.len(),
        1,
        "one dangling effect on repository_architectures: {v}"
    );
    assert_eq!(d[0]["source"], "inferred", "{v}");
    assert_eq!(d[0]["rows"].as_u64(), Some(dangling), "{v}");
    assert_eq!(
        d[0]["columns"],
        serde_json::json!(["architecture_id"]),
        "{v}"
    );
    assert_eq!(
        v["totals"]["distribution_architectures"]["delete"].as_u64(),
        Some(cascaded),
        "{v}"
    );
    // Dangling rows are not changed rows.
    let ra = v["totals"]["repository_architectures"].clone();
    assert!(
        ra.is_null() || (ra["delete"] == 0 && ra["update"] == 0),
        "dangling rows counted as changed: {v}"
    );
    // The file itself is untouched.
    assert_eq!(
        count("SELECT count(*) FROM architectures WHERE name = 'i586'"),
        1
    );

    let text = preview_text(&p, sql, None);
    let has_line = |words: &[&str]| text.lines().any(|l| words.iter().all(|w| l.contains(w)));
    let rows = |n: u64| format!("{n} row");
    assert!(
        has_line(&["cascade", "distribution_architectures", &rows(cascaded)]),
        "no cascade line with {cascaded} rows:\n{text}"
    );
    assert!(
        has_line(&[
            "dangling",
            "repository_architectures",
            "inferred",
            &rows(dangling)
        ]),
        "no dangling line with {dangling} rows and the inferred source:\n{text}"
    );
}

// ------------------------------------------------- previews are read-only

/// A seeded xorshift generator: no new dependency, same run every time.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

/// Cascades, SET NULL, RESTRICT, a self-reference and an inferred
/// association, with a few hundred rows (same SQL on both engines).
fn guard_schema() -> String {
    let mut sql = String::from(
        "CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL);
         CREATE TABLE cats (id int PRIMARY KEY, parent int REFERENCES cats (id) ON DELETE CASCADE, name text);
         CREATE TABLE items (id int PRIMARY KEY,
             cat int REFERENCES cats (id) ON DELETE CASCADE,
             owner int REFERENCES users (id) ON DELETE SET NULL,
             price int NOT NULL DEFAULT 0,
             code text UNIQUE);
         CREATE TABLE reviews (id int PRIMARY KEY,
             item int REFERENCES items (id) ON DELETE RESTRICT,
             user_id int,
             score int);
         CREATE TABLE tags (id int PRIMARY KEY, item int NOT NULL REFERENCES items (id) ON DELETE CASCADE, label text);\n",
    );
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 1..=50 {
        sql.push_str(&format!("INSERT INTO users VALUES ({i}, 'user{i}');\n"));
    }
    for i in 1..=40 {
        let parent = if i <= 4 {
            "NULL".to_owned()
        } else {
            (i / 2).to_string()
        };
        sql.push_str(&format!(
            "INSERT INTO cats VALUES ({i}, {parent}, 'cat{i}');\n"
        ));
    }
    for i in 1..=200 {
        let owner = match rng.below(5) {
            0 => "NULL".to_owned(),
            _ => (1 + rng.below(50)).to_string(),
        };
        sql.push_str(&format!(
            "INSERT INTO items VALUES ({i}, {}, {owner}, {}, 'c{i}');\n",
            1 + rng.below(40),
            rng.below(1000)
        ));
    }
    for i in 1..=120 {
        sql.push_str(&format!(
            "INSERT INTO reviews VALUES ({i}, {}, {}, {});\n",
            1 + rng.below(200),
            1 + rng.below(60),
            rng.below(6)
        ));
    }
    for i in 1..=300 {
        sql.push_str(&format!(
            "INSERT INTO tags VALUES ({i}, {}, 'tag{}');\n",
            1 + rng.below(200),
            rng.below(30)
        ));
    }
    sql
}

const TABLES: &[&str] = &["users", "cats", "items", "reviews", "tags"];

/// A random write over the guard schema (no `;` inside).
fn random_statement(rng: &mut Rng, pg: bool) -> String {
    let n = rng.below(260);
    let m = rng.below(60);
    let op = rng.pick(&["=", "<", ">", "<=", "<>"]);
    let t = rng.pick(TABLES);
    match rng.below(12) {
        0 | 1 => format!("DELETE FROM {t} WHERE id {op} {n}"),
        2 => format!("DELETE FROM items WHERE owner = {m} OR price > {}", n * 4),
        3 => format!(
            "DELETE FROM cats WHERE id IN (SELECT cat FROM items WHERE price {op} {})",
            n * 4
        ),
        4 => format!(
            "DELETE FROM users WHERE id IN (SELECT user_id FROM reviews WHERE score = {})",
            m % 6
        ),
        5 => format!("UPDATE items SET price = price + {m} WHERE id {op} {n}"),
        6 => format!("UPDATE items SET cat = {} WHERE owner {op} {m}", m % 45),
        7 => format!("UPDATE users SET name = name || 'x' WHERE id {op} {m}"),
        8 => format!(
            "UPDATE reviews SET item = {n}, score = {} WHERE id = {m}",
            m % 6
        ),
        9 => format!(
            "INSERT INTO users (id, name) VALUES ({}, 'new'), ({m}, 'dup')",
            100 + n
        ),
        10 => format!(
            "INSERT INTO tags (id, item, label) SELECT id + 1000, id, 'auto' FROM items WHERE price {op} {} ON CONFLICT DO NOTHING",
            n * 4
        ),
        _ if pg && m.is_multiple_of(3) => format!("TRUNCATE {t} CASCADE"),
        _ => format!(
            "INSERT INTO items (id, cat, owner, code) VALUES ({}, {}, {m}, 'c{n}') ON CONFLICT (id) DO UPDATE SET price = excluded.price + 1",
            100 + n,
            m % 45
        ),
    }
}

fn random_batches(seed: u64, pg: bool) -> Vec<String> {
    let mut rng = Rng(seed);
    (0..10)
        .map(|_| {
            (0..100)
                .map(|_| random_statement(&mut rng, pg))
                .collect::<Vec<_>>()
                .join(";\n")
        })
        .collect()
}

/// Runs the batches as previews, in parallel processes; returns how many
/// previews came back.
fn preview_batches(target: &str, batches: &[String]) -> usize {
    std::thread::scope(|scope| {
        let handles: Vec<_> = batches
            .iter()
            .map(|batch| scope.spawn(move || preview_batch(target, batch)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("preview batch"))
            .sum()
    })
}

fn preview_batch(target: &str, batch: &str) -> usize {
    let out = run(&["exec", target, "-c", batch, "--dry-run", "--format", "json"]);
    let code = out.status.code();
    assert!(
        matches!(code, Some(0 | 1 | 5)),
        "exit {code:?}: {}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("panicked"),
        "dbguard panicked: {}",
        stderr(&out)
    );
    let mut previews = 0;
    for line in stdout(&out).lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        if v.get("digest").is_some() {
            previews += 1;
        }
    }
    previews
}

fn pg_checksums(db: &PgDb) -> BTreeMap<String, String> {
    let mut c = db.client();
    let mut out = BTreeMap::new();
    for t in TABLES {
        let row = c
            .query_one(
                &format!(
                    "SELECT count(*)::text || ' ' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM {t} AS t"
                ),
                &[],
            )
            .expect("checksum");
        out.insert(t.to_string(), row.get::<_, String>(0));
    }
    out
}

fn sqlite_checksums(db: &SqliteDb) -> BTreeMap<String, String> {
    let conn = db.conn();
    let mut out = BTreeMap::new();
    for t in TABLES {
        let cols: Vec<String> = {
            let mut st = conn
                .prepare(&format!("PRAGMA table_info({t})"))
                .expect("table_info");
            st.query_map([], |r| r.get::<_, String>(1))
                .expect("cols")
                .map(|c| format!("quote({})", c.expect("col")))
                .collect()
        };
        let sum: String = conn
            .query_row(
                &format!(
                    "SELECT count(*) || ' ' || coalesce(group_concat(r, ','), '') FROM (SELECT {} AS r FROM {t} ORDER BY r)",
                    cols.join("||'|'||")
                ),
                [],
                |r| r.get(0),
            )
            .expect("checksum");
        out.insert(t.to_string(), sum);
    }
    let schema: String = conn
        .query_row(
            "SELECT group_concat(sql, ';') FROM (SELECT sql FROM sqlite_master ORDER BY name)",
            [],
            |r| r.get(0),
        )
        .expect("schema");
    out.insert("sqlite_master".into(), schema);
    out
}

#[test]
fn impact_previews_never_write_pg() {
    let db = PgDb::with(&guard_schema());
    let before = pg_checksums(&db);
    let previews = preview_batches(&db.url, &random_batches(0x5eed_0001, true));
    assert!(
        previews >= 500,
        "only {previews} of 1000 previews came back"
    );
    assert_eq!(pg_checksums(&db), before, "a preview changed the database");
}

#[test]
fn impact_previews_never_write_sqlite() {
    let db = SqliteDb::with(&format!("PRAGMA foreign_keys = ON;\n{}", guard_schema()));
    let before = sqlite_checksums(&db);
    let previews = preview_batches(&db.target(), &random_batches(0x5eed_0002, false));
    assert!(
        previews >= 500,
        "only {previews} of 1000 previews came back"
    );
    assert_eq!(
        sqlite_checksums(&db),
        before,
        "a preview changed the database"
    );
}
