//! Previews of mutated writes against the engine (issue 3, acceptance 5).
//!
//! A corpus of valid DELETE, UPDATE and INSERT statements over a small
//! schema (a cascade chain, a SET NULL edge, a RESTRICT edge, a deferred
//! NO ACTION edge, a self-reference, unique keys) is mutated at the token
//! level (literals, operators, AND/OR, NOT, names, parentheses, dropped and
//! repeated tokens, `RETURNING *`, a `WITH` in front) and at the character
//! level, and mixed with token soup and random text. Every text is
//! classified and, when it is a write, previewed; nothing may panic.
//!
//! The engine is the oracle: every text that is a write or unknown is run
//! for real inside a transaction that is rolled back, on a separate
//! connection. When the preview produced an impact:
//! - the engine rejects the statement ⇒ the preview said it will fail;
//! - the engine accepts it ⇒ the preview did not say it will fail, its
//!   target row count is the engine's count, and its net totals per table
//!   equal the rows that really changed (rows keyed by an identity that an
//!   UPDATE does not change: a hidden identity column on Postgres, the
//!   rowid on SQLite).
//!
//! Documented differences between the two counts: INSERT ... ON CONFLICT
//! (and SQLite's INSERT OR IGNORE) is judged by the totals only, because
//! the engine counts inserted plus DO UPDATE'd rows whatever they change;
//! SQLite's change count for a DELETE leaves out target rows a cascade of
//! the same statement removed first, so it is taken with foreign keys off.
//!
//! A refused preview for a statement the engine accepts is safe; the ratio
//! is printed and must stay above 30% so the classifier does not refuse
//! everything. The run is deterministic; set `IMPACT_PROPS_RANDOM=1` for a
//! random seed, `IMPACT_PROPS_CASES=N` to change the number of cases and
//! `IMPACT_PROPS_ALL=1` to list every mismatch, not the first 40.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use dbguard::db::{Connection, Engine, OpenOptions};
use dbguard::impact::{self, Impact, PreviewOptions};
use dbguard::policy::Policy;
use dbguard::schema::Schema;
use dbguard::sql::{Kind, classify};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::helpers::{PgDb, SqliteDb};

// ---------------------------------------------------------------- fixture

const TABLES: &[&str] = &[
    "regions",
    "customers",
    "products",
    "orders",
    "items",
    "reviews",
];

const DDL: &str = "
CREATE TABLE regions (
  id int PRIMARY KEY,
  name text NOT NULL UNIQUE,
  parent_id int REFERENCES regions(id) ON DELETE CASCADE
);
CREATE TABLE customers (
  id int PRIMARY KEY,
  email text NOT NULL UNIQUE,
  region_id int REFERENCES regions(id) ON DELETE SET NULL,
  score int NOT NULL DEFAULT 0
);
CREATE TABLE products (
  id int PRIMARY KEY,
  sku text NOT NULL UNIQUE,
  price int NOT NULL
);
CREATE TABLE orders (
  id int PRIMARY KEY,
  customer_id int NOT NULL REFERENCES customers(id) ON DELETE CASCADE ON UPDATE CASCADE,
  total int NOT NULL,
  status text NOT NULL DEFAULT 'new',
  UNIQUE (customer_id, total)
);
CREATE TABLE items (
  id int PRIMARY KEY,
  order_id int NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
  product_id int NOT NULL REFERENCES products(id) ON DELETE RESTRICT,
  qty int NOT NULL
);
CREATE TABLE reviews (
  id int PRIMARY KEY,
  product_id int REFERENCES products(id) DEFERRABLE INITIALLY DEFERRED,
  customer_id int REFERENCES customers(id) ON DELETE CASCADE,
  stars int NOT NULL
);
";

/// The schema and its rows, the same on both engines. `int PRIMARY KEY`
/// (not `INTEGER`) keeps SQLite's rowid apart from `id`, so the oracle can
/// follow a row whose key an UPDATE changes.
fn fixture() -> String {
    fixture_with("")
}

/// The fixture with `extra` run between the tables and the rows.
fn fixture_with(extra: &str) -> String {
    let mut s = format!("{DDL}{extra}");
    let mut rows = |table: &str, cols: &str, vals: Vec<String>| {
        let _ = writeln!(
            s,
            "INSERT INTO {table} ({cols}) VALUES {};",
            vals.join(", ")
        );
    };
    rows(
        "regions",
        "id, name, parent_id",
        (1..=15)
            .map(|i| {
                let parent = if i <= 2 {
                    "NULL".to_owned()
                } else {
                    (i / 2).to_string()
                };
                format!("({i}, 'r{i}', {parent})")
            })
            .collect(),
    );
    rows(
        "customers",
        "id, email, region_id, score",
        (1..=30)
            .map(|i| {
                let region = if i % 7 == 0 {
                    "NULL".to_owned()
                } else {
                    (1 + (i * 4) % 15).to_string()
                };
                format!("({i}, 'c{i}@example.com', {region}, {})", (i * 13) % 50)
            })
            .collect(),
    );
    rows(
        "products",
        "id, sku, price",
        (1..=10)
            .map(|i| format!("({i}, 'p{i}', {})", (i * 11) % 97))
            .collect(),
    );
    rows(
        "orders",
        "id, customer_id, total, status",
        (1..=60)
            .map(|i| {
                let status = ["new", "paid", "shipped"][i % 3];
                format!(
                    "({i}, {}, {}, '{status}')",
                    1 + (i * 7) % 25,
                    (i * 37) % 500 + 1
                )
            })
            .collect(),
    );
    rows(
        "items",
        "id, order_id, product_id, qty",
        (1..=120)
            .map(|i| {
                format!(
                    "({i}, {}, {}, {})",
                    1 + (i * 11) % 60,
                    1 + (i * 3) % 8,
                    1 + i % 5
                )
            })
            .collect(),
    );
    rows(
        "reviews",
        "id, product_id, customer_id, stars",
        (1..=20)
            .map(|i| {
                let product = if i % 6 == 0 {
                    "NULL".to_owned()
                } else {
                    (1 + i % 9).to_string()
                };
                format!("({i}, {product}, {}, {})", 1 + (i * 3) % 30, 1 + i % 5)
            })
            .collect(),
    );
    s
}

/// Valid writes over the fixture: some succeed, some fail (restricted,
/// deferred, unique and foreign-key violations), on both engines.
const CORPUS: &[&str] = &[
    "DELETE FROM customers WHERE id = 3",
    "DELETE FROM customers WHERE id BETWEEN 5 AND 9",
    "DELETE FROM regions WHERE id = 2",
    "DELETE FROM regions WHERE parent_id IS NULL AND name <> 'r1'",
    "DELETE FROM products WHERE id = 10",
    "DELETE FROM products WHERE id = 9",
    "DELETE FROM products WHERE price > 50",
    "DELETE FROM orders WHERE total > 250 AND status = 'new'",
    "DELETE FROM items WHERE qty < 3 OR order_id = 7",
    "DELETE FROM orders WHERE customer_id IN (SELECT id FROM customers WHERE score > 40)",
    "DELETE FROM customers AS c WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id)",
    "DELETE FROM orders USING customers WHERE orders.customer_id = customers.id AND customers.region_id = 4",
    "DELETE FROM reviews WHERE stars >= 4",
    "WITH old AS (SELECT id FROM orders WHERE status = 'shipped') DELETE FROM orders WHERE id IN (SELECT id FROM old)",
    "UPDATE customers SET score = score + 1 WHERE region_id = 3",
    "UPDATE customers SET region_id = NULL WHERE id < 5",
    "UPDATE customers SET id = id + 100 WHERE id = 7",
    "UPDATE orders SET status = 'paid' WHERE total >= 300",
    "UPDATE items SET product_id = 10 WHERE id % 10 = 0",
    "UPDATE items SET product_id = 99 WHERE id = 1",
    "UPDATE customers SET email = 'c1@example.com' WHERE id = 2",
    "UPDATE products SET price = price * 2, sku = sku || 'x' WHERE id IN (1, 2, 3)",
    "UPDATE regions SET parent_id = 1 WHERE id > 8",
    "UPDATE orders SET total = total WHERE id = 1",
    "UPDATE orders SET customer_id = 2 FROM customers WHERE customers.id = orders.customer_id AND customers.score < 10",
    "UPDATE products SET id = 20 WHERE id = 10",
    "UPDATE products SET id = 21 WHERE id = 1",
    "UPDATE reviews SET product_id = 10 WHERE stars = 2",
    "UPDATE items SET product_id = 10 WHERE id = 1 OR qty = 2",
    "UPDATE customers SET email = 'c' || id || '@example.org' WHERE id < 3 OR score > 45",
    "UPDATE customers SET region_id = region_id + 1 WHERE id > 20",
    "INSERT INTO products (id, sku, price) VALUES (11, 'p11', 5), (12, 'p12', 7)",
    "INSERT INTO products (id, sku, price) VALUES (1, 'dup', 5)",
    "INSERT INTO customers (id, email, region_id) VALUES (31, 'c31@example.com', 2)",
    "INSERT INTO customers (id, email, region_id) VALUES (32, 'c32@example.com', 99)",
    "INSERT INTO orders (id, customer_id, total) SELECT id + 100, id, 1 FROM customers WHERE score > 30",
    "INSERT INTO products (id, sku, price) VALUES (1, 'p1', 1) ON CONFLICT (id) DO NOTHING",
    "INSERT INTO products (id, sku, price) VALUES (1, 'p1', 1), (13, 'p13', 2) ON CONFLICT (id) DO UPDATE SET price = excluded.price",
    "INSERT INTO products (id, sku, price) VALUES (14, 'p2', 99) ON CONFLICT (sku) DO UPDATE SET price = excluded.price WHERE products.price < 50",
    "WITH s AS (SELECT 40 AS n) INSERT INTO regions (id, name, parent_id) SELECT n, 'r' || n, 1 FROM s",
    "INSERT INTO items (id, order_id, product_id, qty) VALUES (201, 1, 1, 1), (202, 2, 99, 1)",
    "INSERT INTO reviews (id, product_id, customer_id, stars) VALUES (50, 77, 1, 3)",
];

// ---------------------------------------------------------------- mutations

const KEYWORDS: &[&str] = &[
    "ALL",
    "AND",
    "AS",
    "BETWEEN",
    "BY",
    "CONFLICT",
    "DEFAULT",
    "DELETE",
    "DISTINCT",
    "DO",
    "ESCAPE",
    "EXISTS",
    "FALSE",
    "FROM",
    "IGNORE",
    "IN",
    "INSERT",
    "INTO",
    "IS",
    "LIKE",
    "LIMIT",
    "NOT",
    "NOTHING",
    "NULL",
    "ON",
    "ONLY",
    "OR",
    "ORDER",
    "RETURNING",
    "SELECT",
    "SET",
    "TRUE",
    "UPDATE",
    "USING",
    "VALUES",
    "WHERE",
    "WITH",
];

const NUMBERS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "4",
    "7",
    "9",
    "10",
    "11",
    "30",
    "31",
    "40",
    "50",
    "99",
    "100",
    "101",
    "300",
    "-1",
    "2147483648",
    "1.5",
    "NULL",
    "1e2",
    "'5'",
    "TRUE",
];

const STRINGS: &[&str] = &[
    "''",
    "'x'",
    "'new'",
    "'paid'",
    "'c1@example.com'",
    "'c2@example.com'",
    "'p1'",
    "'p11'",
    "'r1'",
    "'5'",
    "NULL",
    "'it''s'",
    "\"x\"",
    "3",
];

const COMPARISONS: &[&str] = &["=", "<>", "!=", "<", ">", "<=", ">=", "==", "IS", "IS NOT"];

const NAMES: &[&str] = &[
    "regions",
    "customers",
    "products",
    "orders",
    "items",
    "reviews",
    "id",
    "name",
    "parent_id",
    "email",
    "region_id",
    "score",
    "customer_id",
    "total",
    "status",
    "order_id",
    "product_id",
    "qty",
    "sku",
    "price",
    "stars",
    "excluded",
    "c",
    "o",
    "x",
    "old",
    "nosuch",
    "public.customers",
    "main.orders",
    "\"Customers\"",
    "\"email\"",
    "\"Email\"",
    "CUSTOMERS",
    "rowid",
    "ctid",
];

const INSERTED: &[&str] = &[
    "NOT",
    "NULL",
    "AND",
    "OR",
    "IS",
    "IN",
    "(",
    ")",
    ",",
    "*",
    "+",
    "-",
    "=",
    "DEFAULT",
    "ONLY",
    "WHERE",
    "SELECT",
    "FROM",
    "1",
    "'x'",
    "TRUE",
    "FALSE",
    "LIMIT 1",
    "ORDER BY id",
    "RETURNING id",
    "USING customers",
    "FROM customers",
    "AS x",
    "ON CONFLICT DO NOTHING",
    "OR IGNORE",
    "OR REPLACE",
    "DISTINCT",
    "EXISTS",
    "CASE WHEN id > 5 THEN 1 ELSE 0 END",
    "COLLATE \"C\"",
    "::int",
    "::text",
    "LIKE",
    "BETWEEN 1 AND",
    "ISNULL",
    "NOTNULL",
    "||",
    "%",
    "/",
    "$1",
    "?",
    "--",
    ";",
    "GLOB",
    "ILIKE",
    "~",
    "INDEXED BY x",
    "NOT INDEXED",
    "IS NOT DISTINCT FROM",
    "ANY",
    "ALL",
    "(SELECT 1)",
    "(SELECT id FROM customers)",
    "DEFAULT VALUES",
];

const RAW: &[&str] = &[
    "'", "\"", ";", "(", ")", "-", "/*", "*/", "--", "\\", "\0", "ı", "é", " ", "x", "0", "$$",
    "E'", "`", "[", "]", "\n", ".", ",",
];

#[derive(Debug, Clone)]
enum Mutation {
    Number(usize, &'static str),
    Str(usize, &'static str),
    Compare(usize, &'static str),
    AndOr(usize),
    Not(usize),
    Drop(usize),
    Dup(usize),
    Swap(usize, usize),
    Name(usize, &'static str),
    Parens(usize, usize),
    Unparen(usize),
    Insert(usize, &'static str),
    Returning,
    WrapWith(usize),
    RawInsert(usize, String),
    RawDelete(usize, usize),
}

#[derive(Debug, Clone)]
enum Input {
    Mutated(usize, Vec<Mutation>),
    Soup(Vec<&'static str>),
    Bytes(Vec<u8>),
}

impl Input {
    fn text(&self) -> String {
        match self {
            Input::Mutated(i, muts) => mutate(CORPUS[*i], muts),
            Input::Soup(toks) => toks.join(" "),
            Input::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        }
    }
}

/// A small SQL lexer: words, numbers, quoted strings and identifiers,
/// operators. Good enough to mutate the corpus token by token.
fn lex(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '\'' || c == '"' {
            i += 1;
            while i < chars.len() {
                if chars[i] == c {
                    if chars.get(i + 1) == Some(&c) {
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                i += 1;
            }
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if c.is_alphanumeric() || c == '_' {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            i += if ["<=", ">=", "<>", "!=", "||", "::", "=="].contains(&two.as_str()) {
                2
            } else {
                1
            };
        }
        out.push(chars[start..i].iter().collect());
    }
    out
}

fn join(toks: &[String]) -> String {
    let mut s = String::new();
    for (i, t) in toks.iter().enumerate() {
        let glue = i > 0 && t != "." && toks[i - 1] != ".";
        if glue {
            s.push(' ');
        }
        s.push_str(t);
    }
    s
}

fn is_word(t: &str) -> bool {
    t.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '"')
}

fn is_keyword(t: &str) -> bool {
    KEYWORDS.contains(&t.to_ascii_uppercase().as_str())
}

fn is_number(t: &str) -> bool {
    t.chars().next().is_some_and(|c| c.is_ascii_digit())
}

/// The index of the `k`-th token (cyclically) matching `pred`.
fn nth(toks: &[String], k: usize, pred: impl Fn(&str) -> bool) -> Option<usize> {
    let idx: Vec<usize> = (0..toks.len()).filter(|&i| pred(&toks[i])).collect();
    (!idx.is_empty()).then(|| idx[k % idx.len()])
}

fn mutate(base: &str, muts: &[Mutation]) -> String {
    let mut toks = lex(base);
    let mut raw = Vec::new();
    for m in muts {
        let len = toks.len();
        match m {
            Mutation::Number(k, v) => {
                if let Some(i) = nth(&toks, *k, is_number) {
                    toks[i] = (*v).to_owned();
                }
            }
            Mutation::Str(k, v) => {
                if let Some(i) = nth(&toks, *k, |t| t.starts_with('\'')) {
                    toks[i] = (*v).to_owned();
                }
            }
            Mutation::Compare(k, v) => {
                let cmp = |t: &str| COMPARISONS.contains(&t) || t.eq_ignore_ascii_case("is");
                if let Some(i) = nth(&toks, *k, cmp) {
                    toks[i] = (*v).to_owned();
                }
            }
            Mutation::AndOr(k) => {
                let andor = |t: &str| t.eq_ignore_ascii_case("and") || t.eq_ignore_ascii_case("or");
                if let Some(i) = nth(&toks, *k, andor) {
                    toks[i] = if toks[i].eq_ignore_ascii_case("and") {
                        "OR".into()
                    } else {
                        "AND".into()
                    };
                }
            }
            Mutation::Not(k) if len > 0 => toks.insert(k % (len + 1), "NOT".into()),
            Mutation::Drop(k) if len > 0 => {
                toks.remove(k % len);
            }
            Mutation::Dup(k) if len > 0 => {
                let i = k % len;
                let t = toks[i].clone();
                toks.insert(i, t);
            }
            Mutation::Swap(a, b) if len > 0 => toks.swap(a % len, b % len),
            Mutation::Name(k, v) => {
                if let Some(i) = nth(&toks, *k, |t| is_word(t) && !is_keyword(t)) {
                    toks[i] = (*v).to_owned();
                }
            }
            Mutation::Parens(k, n) if len > 0 => {
                let a = k % len;
                let b = (a + 1 + n).min(len);
                toks.insert(b, ")".into());
                toks.insert(a, "(".into());
            }
            Mutation::Unparen(k) => {
                if let Some(i) = nth(&toks, *k, |t| t == "(" || t == ")") {
                    toks.remove(i);
                }
            }
            Mutation::Insert(k, v) => toks.insert(k % (len + 1), (*v).to_owned()),
            Mutation::Returning => toks.extend(["RETURNING".to_owned(), "*".to_owned()]),
            Mutation::WrapWith(v) => {
                let with = [
                    "WITH x AS (SELECT 1)",
                    "WITH x AS (SELECT id FROM customers WHERE score > 20)",
                    "WITH RECURSIVE x(id) AS (SELECT 1 UNION SELECT id + 1 FROM x WHERE id < 5)",
                    "WITH x AS MATERIALIZED (SELECT 3 AS id)",
                ][v % 4];
                let mut w = lex(with);
                w.append(&mut toks);
                toks = w;
            }
            Mutation::RawInsert(..) | Mutation::RawDelete(..) => raw.push(m.clone()),
            _ => {}
        }
    }
    let mut chars: Vec<char> = join(&toks).chars().collect();
    for m in raw {
        let len = chars.len();
        match m {
            Mutation::RawInsert(at, s) => {
                let at = at % (len + 1);
                for (j, c) in s.chars().enumerate() {
                    chars.insert(at + j, c);
                }
            }
            Mutation::RawDelete(at, n) if len > 0 => {
                let at = at % len;
                chars.drain(at..(at + n).min(len));
            }
            _ => {}
        }
    }
    chars.into_iter().collect()
}

fn pick(list: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
    proptest::sample::select(list)
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let k = any::<usize>();
    prop_oneof![
        4 => (k, pick(NUMBERS)).prop_map(|(k, v)| Mutation::Number(k, v)),
        2 => (k, pick(STRINGS)).prop_map(|(k, v)| Mutation::Str(k, v)),
        3 => (k, pick(COMPARISONS)).prop_map(|(k, v)| Mutation::Compare(k, v)),
        2 => k.prop_map(Mutation::AndOr),
        2 => k.prop_map(Mutation::Not),
        2 => k.prop_map(Mutation::Drop),
        1 => k.prop_map(Mutation::Dup),
        1 => (k, k).prop_map(|(a, b)| Mutation::Swap(a, b)),
        4 => (k, pick(NAMES)).prop_map(|(k, v)| Mutation::Name(k, v)),
        1 => (k, 0usize..6).prop_map(|(k, n)| Mutation::Parens(k, n)),
        1 => k.prop_map(Mutation::Unparen),
        3 => (k, pick(INSERTED)).prop_map(|(k, v)| Mutation::Insert(k, v)),
        1 => Just(Mutation::Returning),
        1 => k.prop_map(Mutation::WrapWith),
        1 => (k, prop_oneof![pick(RAW).prop_map(str::to_owned), any::<char>().prop_map(String::from)])
            .prop_map(|(k, s)| Mutation::RawInsert(k, s)),
        1 => (k, 1usize..4).prop_map(|(k, n)| Mutation::RawDelete(k, n)),
    ]
}

fn soup_token() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        pick(KEYWORDS),
        pick(NAMES),
        pick(NUMBERS),
        pick(COMPARISONS),
        pick(INSERTED)
    ]
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        20 => (0..CORPUS.len(), proptest::collection::vec(mutation(), 0..5))
            .prop_map(|(i, m)| Input::Mutated(i, m)),
        1 => proptest::collection::vec(soup_token(), 1..16).prop_map(Input::Soup),
        1 => proptest::collection::vec(any::<u8>(), 0..80).prop_map(Input::Bytes),
    ]
}

// ---------------------------------------------------------------- oracle

/// Net changed rows of one table: delete, update, insert.
type Counts = [u64; 3];
/// Table name (as the preview spells it) → row identity → row text.
type Snapshot = BTreeMap<String, BTreeMap<String, String>>;

/// What the engine did with a statement, rolled back afterwards.
#[derive(Debug)]
struct Run {
    /// The rows the statement reported.
    affected: u64,
    /// Net changes per table, only tables with changes.
    totals: BTreeMap<String, Counts>,
}

fn diff(before: &Snapshot, after: &Snapshot) -> BTreeMap<String, Counts> {
    let mut out = BTreeMap::new();
    for (name, b) in before {
        let empty = BTreeMap::new();
        let a = after.get(name).unwrap_or(&empty);
        let mut c = [0u64; 3];
        for (k, v) in b {
            match a.get(k) {
                None => c[0] += 1,
                Some(w) if w != v => c[1] += 1,
                Some(_) => {}
            }
        }
        c[2] = a.keys().filter(|k| !b.contains_key(*k)).count() as u64;
        if c != [0; 3] {
            out.insert(name.clone(), c);
        }
    }
    out
}

/// The engine side of the property: runs statements and takes snapshots.
trait Oracle {
    fn engine(&self) -> Engine;
    /// Runs `sql` in a transaction that is rolled back. `Err` when the
    /// engine rejects it, at once or at commit.
    fn run(&mut self, sql: &str, kind: Kind) -> Result<Run, String>;
    /// The current contents of every table.
    fn snapshot(&mut self) -> Snapshot;
    /// The fixture's contents, taken once at the start.
    fn before(&self) -> &Snapshot;
}

struct PgOracle {
    client: postgres::Client,
    before: Snapshot,
}

impl PgOracle {
    fn new(db: &PgDb) -> PgOracle {
        let mut client = db.client();
        client
            .batch_execute("SET statement_timeout = '10s'")
            .expect("statement_timeout");
        let mut o = PgOracle {
            client,
            before: Snapshot::new(),
        };
        o.before = o.snapshot();
        o
    }
}

fn pg_snapshot(c: &mut impl postgres::GenericClient) -> Snapshot {
    let mut snap = Snapshot::new();
    for t in TABLES {
        let rows = c
            .query(&format!("SELECT rid::text, t::text FROM {t} AS t"), &[])
            .expect("snapshot");
        snap.insert(
            format!("public.{t}"),
            rows.iter().map(|r| (r.get(0), r.get(1))).collect(),
        );
    }
    snap
}

fn pg_error(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{}: {}", d.code().code(), d.message()),
        None => e.to_string(),
    }
}

impl Oracle for PgOracle {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    fn run(&mut self, sql: &str, _kind: Kind) -> Result<Run, String> {
        let mut tx = self.client.transaction().expect("BEGIN");
        let affected = tx.execute(sql, &[]).map_err(|e| pg_error(&e))?;
        tx.batch_execute("SET CONSTRAINTS ALL IMMEDIATE")
            .map_err(|e| format!("at commit: {}", pg_error(&e)))?;
        let after = pg_snapshot(&mut tx);
        tx.rollback().expect("ROLLBACK");
        Ok(Run {
            affected,
            totals: diff(&self.before, &after),
        })
    }

    fn snapshot(&mut self) -> Snapshot {
        pg_snapshot(&mut self.client)
    }

    fn before(&self) -> &Snapshot {
        &self.before
    }
}

struct LiteOracle {
    conn: rusqlite::Connection,
    before: Snapshot,
}

impl LiteOracle {
    fn new(db: &SqliteDb) -> LiteOracle {
        let conn = db.conn();
        let mut o = LiteOracle {
            conn,
            before: Snapshot::new(),
        };
        o.before = o.snapshot();
        o
    }

    /// Runs one statement to completion (RETURNING rows are read and
    /// dropped, unbound parameters are NULL, as in the sqlite3 shell) and
    /// returns the change count.
    fn exec(&self, sql: &str) -> rusqlite::Result<u64> {
        let mut st = self.conn.prepare(sql)?;
        let mut rows = st.raw_query();
        while rows.next()?.is_some() {}
        drop(rows);
        Ok(self.conn.changes())
    }

    fn fk_violations(&self) -> usize {
        let mut st = self
            .conn
            .prepare("PRAGMA foreign_key_check")
            .expect("foreign_key_check");
        let mut rows = st.query([]).expect("foreign_key_check");
        let mut n = 0;
        while rows.next().expect("foreign_key_check row").is_some() {
            n += 1;
        }
        n
    }
}

impl Oracle for LiteOracle {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }

    fn run(&mut self, sql: &str, kind: Kind) -> Result<Run, String> {
        self.conn
            .execute_batch("PRAGMA foreign_keys = ON; BEGIN")
            .expect("BEGIN");
        let res = self.exec(sql).map_err(|e| e.to_string());
        let res = res.and_then(|n| {
            if self.fk_violations() > 0 {
                Err("at commit: FOREIGN KEY constraint failed".to_owned())
            } else {
                Ok(n)
            }
        });
        let after = res.is_ok().then(|| self.snapshot());
        self.conn.execute_batch("ROLLBACK").expect("ROLLBACK");
        let mut affected = res?;
        if kind == Kind::Delete {
            // SQLite's change count leaves out target rows a cascade of the
            // same statement removed first: count the matched rows with
            // foreign keys off.
            self.conn
                .execute_batch("PRAGMA foreign_keys = OFF; BEGIN")
                .expect("BEGIN");
            let off = self.exec(sql);
            self.conn.execute_batch("ROLLBACK").expect("ROLLBACK");
            affected = off.map_err(|e| format!("with foreign keys off: {e}"))?;
        }
        Ok(Run {
            affected,
            totals: diff(&self.before, &after.unwrap_or_default()),
        })
    }

    fn snapshot(&mut self) -> Snapshot {
        let mut snap = Snapshot::new();
        for t in TABLES {
            let cols: Vec<String> = {
                let mut st = self
                    .conn
                    .prepare(&format!("PRAGMA table_info({t})"))
                    .expect("table_info");
                st.query_map([], |r| r.get::<_, String>(1))
                    .expect("table_info")
                    .map(|c| format!("quote({})", c.expect("column")))
                    .collect()
            };
            let mut st = self
                .conn
                .prepare(&format!("SELECT rowid, {} FROM {t}", cols.join("||','||")))
                .expect("snapshot");
            let rows = st
                .query_map([], |r| {
                    Ok((r.get::<_, i64>(0)?.to_string(), r.get::<_, String>(1)?))
                })
                .expect("snapshot")
                .map(|r| r.expect("snapshot row"))
                .collect();
            snap.insert((*t).to_owned(), rows);
        }
        snap
    }

    fn before(&self) -> &Snapshot {
        &self.before
    }
}

// ---------------------------------------------------------------- the property

#[derive(Default)]
struct Stats {
    cases: u64,
    kinds: BTreeMap<&'static str, u64>,
    /// Preview produced and the engine agreed (it succeeded).
    agreed: u64,
    /// Preview produced, said it will fail, and the engine failed.
    predicted_failure: u64,
    /// Preview refused or failed; the engine accepted the statement.
    refused_engine_ok: u64,
    /// Preview refused or failed; the engine rejected it too.
    refused_engine_err: u64,
    mismatches: Vec<String>,
    seen: BTreeSet<String>,
}

impl Stats {
    fn report(&self, engine: Engine) -> String {
        let engine_ok = self.agreed + self.refused_engine_ok;
        let mut s = format!(
            "{}: {} cases; kinds {:?}\n  preview produced and engine succeeded: {}\n  preview predicted the engine's failure: {}\n  preview refused, engine accepted: {}\n  preview refused, engine rejected: {}\n  previewed / accepted by the engine: {}/{} = {:.0}%\n  mismatches: {}",
            engine.name(),
            self.cases,
            self.kinds,
            self.agreed,
            self.predicted_failure,
            self.refused_engine_ok,
            self.refused_engine_err,
            self.agreed,
            engine_ok,
            100.0 * self.agreed as f64 / engine_ok.max(1) as f64,
            self.mismatches.len()
        );
        let shown = if std::env::var_os("IMPACT_PROPS_ALL").is_some() {
            usize::MAX
        } else {
            40
        };
        for m in self.mismatches.iter().take(shown) {
            let _ = write!(s, "\n  - {m}");
        }
        s
    }
}

/// Whether a preview and what the engine did agree; `Err` says how not.
fn judge(kind: Kind, imp: &Impact, run: &Result<Run, String>) -> Result<(), String> {
    let run = match run {
        Err(e) if imp.will_fail => {
            let _ = e;
            return Ok(());
        }
        Err(e) => {
            return Err(format!(
                "the engine rejects it ({e}) but the preview says it succeeds (target rows {:?}, totals {:?})",
                imp.target.rows,
                totals(imp)
            ));
        }
        Ok(run) => run,
    };
    if imp.will_fail {
        return Err(format!(
            "the preview says it will fail ({}) but the engine succeeds (affected {}, totals {:?})",
            imp.failures.join("; "),
            run.affected,
            run.totals
        ));
    }
    let mut errs = Vec::new();
    let preview = totals(imp);
    if preview != run.totals {
        errs.push(format!(
            "totals: preview {preview:?}, engine {:?}",
            run.totals
        ));
    }
    let expected = match kind {
        Kind::Delete | Kind::Update => Some(run.affected),
        // ON CONFLICT / OR IGNORE: judged by the totals alone.
        Kind::Insert if imp.target.conflicts.is_none() => Some(run.affected),
        Kind::Truncate => Some(
            run.totals
                .get(&imp.target.table.to_string())
                .map_or(0, |c| c[0]),
        ),
        _ => None,
    };
    if let Some(n) = expected {
        if imp.target.rows != Some(n) {
            errs.push(format!(
                "target rows: preview {:?}, engine {n}",
                imp.target.rows
            ));
        }
    }
    if !imp.bounded {
        errs.push("the preview was not bounded".into());
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs.join("; "))
    }
}

fn totals(imp: &Impact) -> BTreeMap<String, Counts> {
    imp.totals
        .iter()
        .map(|(k, t)| (k.to_string(), [t.delete, t.update, t.insert]))
        .filter(|(_, c)| *c != [0; 3])
        .collect()
}

fn other(engine: Engine) -> Engine {
    match engine {
        Engine::Postgres => Engine::Sqlite,
        Engine::Sqlite => Engine::Postgres,
    }
}

struct Harness<O> {
    conn: Connection,
    schema: Schema,
    policy: Policy,
    oracle: O,
    stats: Stats,
}

impl<O: Oracle> Harness<O> {
    fn new(target: &str, oracle: O) -> Self {
        let mut conn = Connection::open(Some(target), &OpenOptions::default()).expect("open");
        let schema = conn.introspect().expect("introspect");
        Harness {
            conn,
            schema,
            policy: Policy::default(),
            oracle,
            stats: Stats::default(),
        }
    }

    /// Classifies and previews one text and holds the preview against the
    /// engine. Mismatches are collected; panics propagate.
    fn check(&mut self, text: &str) {
        let engine = self.oracle.engine();
        self.stats.cases += 1;
        // The other engine's classifier must not panic either.
        let _ = classify(other(engine), text);
        let stmt = classify(engine, text);
        *self.stats.kinds.entry(stmt.kind.name()).or_default() += 1;
        if !(stmt.kind.is_data_write() || stmt.kind == Kind::Unknown) {
            return;
        }
        let preview = if stmt.kind == Kind::Unknown {
            None
        } else {
            impact::preview(
                &mut self.conn,
                &self.schema,
                &self.policy,
                &stmt,
                &PreviewOptions::default(),
            )
            .ok()
        };
        let run = self.oracle.run(text, stmt.kind);
        let Some(imp) = preview else {
            if run.is_ok() {
                self.stats.refused_engine_ok += 1;
            } else {
                self.stats.refused_engine_err += 1;
            }
            return;
        };
        match judge(stmt.kind, &imp, &run) {
            Ok(()) if run.is_ok() => self.stats.agreed += 1,
            Ok(()) => self.stats.predicted_failure += 1,
            Err(why) => {
                if self.stats.seen.insert(text.to_owned()) {
                    self.stats
                        .mismatches
                        .push(format!("{} {text:?}: {why}", stmt.kind.name()));
                }
            }
        }
    }
}

fn cases(default: u32) -> u32 {
    std::env::var("IMPACT_PROPS_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn runner(cases: u32) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    if std::env::var_os("IMPACT_PROPS_RANDOM").is_some() {
        TestRunner::new(config)
    } else {
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
    }
}

fn property<O: Oracle>(h: Harness<O>, cases: u32) {
    let h = RefCell::new(h);
    // The corpus itself first: every statement must be judged right.
    for sql in CORPUS {
        h.borrow_mut().check(sql);
    }
    let unmutated = h.borrow().stats.mismatches.clone();
    let result = runner(cases).run(&input(), |inp| {
        h.borrow_mut().check(&inp.text());
        Ok(())
    });
    let mut h = h.into_inner();
    let engine = h.oracle.engine();
    if let Err(e) = result {
        panic!(
            "{}: a preview or classification panicked: {e}",
            engine.name()
        );
    }
    let report = h.stats.report(engine);
    println!("{report}");
    assert!(
        h.oracle.snapshot() == *h.oracle.before(),
        "the fixture changed during the run: a statement escaped its rollback"
    );
    assert!(
        unmutated.is_empty(),
        "the unmutated corpus does not agree with the engine:\n{}",
        unmutated.join("\n")
    );
    let s = &h.stats;
    let engine_ok = s.agreed + s.refused_engine_ok;
    assert!(
        engine_ok > 0 && s.agreed * 10 >= engine_ok * 3,
        "fewer than 30% of the statements the engine accepts got a preview\n{report}"
    );
    assert!(
        s.mismatches.is_empty(),
        "previews that disagree with the engine\n{report}"
    );
}

/// The fixture on Postgres, with a hidden identity column per table so the
/// oracle can follow a row whose key changes.
fn pg_fixture() -> PgDb {
    let mut extra = String::new();
    for t in TABLES {
        let _ = writeln!(
            extra,
            "ALTER TABLE {t} ADD COLUMN rid bigint GENERATED ALWAYS AS IDENTITY;"
        );
    }
    PgDb::with(&fixture_with(&extra))
}

#[test]
fn impact_props_sqlite() {
    let db = SqliteDb::with(&fixture());
    let oracle = LiteOracle::new(&db);
    property(Harness::new(&db.target(), oracle), cases(3000));
}

#[test]
fn impact_props_pg() {
    let db = pg_fixture();
    let oracle = PgOracle::new(&db);
    property(Harness::new(&db.url, oracle), cases(1000));
}

// ---------------------------------------------------------------- regressions
//
// Minimal statements the property found where a preview was produced for
// a statement the engine reads differently (or rejects, or runs to a
// different effect). Each runs on both engines.

/// Previews each statement on a fresh fixture of each engine and holds it
/// against the engine; panics with every disagreement.
fn assert_agrees(sqls: &[&str]) {
    let mut errs = Vec::new();
    let lite = SqliteDb::with(&fixture());
    let mut h = Harness::new(&lite.target(), LiteOracle::new(&lite));
    for sql in sqls {
        h.check(sql);
    }
    errs.extend(h.stats.mismatches.iter().map(|m| format!("SQLite: {m}")));
    let pg = pg_fixture();
    let mut h = Harness::new(&pg.url, PgOracle::new(&pg));
    for sql in sqls {
        h.check(sql);
    }
    errs.extend(
        h.stats
            .mismatches
            .iter()
            .map(|m| format!("PostgreSQL: {m}")),
    );
    assert!(errs.is_empty(), "{}", errs.join("\n"));
}

/// `==` is SQLite's spelling; the parser reads it as `=` on Postgres too,
/// and the preview counts rows for a statement Postgres rejects.
#[test]
fn impact_props_double_equals() {
    assert_agrees(&["DELETE FROM products WHERE id == 10"]);
}

/// `INSERT` without `INTO` (MySQL's spelling) parses; both engines reject it.
#[test]
fn impact_props_insert_without_into() {
    assert_agrees(&["INSERT products (id, sku, price) VALUES (11, 'p11', 5)"]);
}

/// `RETURNING * NOT` parses as `RETURNING * AS NOT`; Postgres rejects it.
#[test]
fn impact_props_returning_keyword_alias() {
    assert_agrees(&["INSERT INTO products (id, sku, price) VALUES (11, 'p11', 5) RETURNING * NOT"]);
}

/// SQLite accepts an alias in DELETE/UPDATE only with `AS`; the parser
/// also takes keywords and strings as implicit aliases.
#[test]
fn impact_props_alias_without_as() {
    assert_agrees(&[
        "DELETE FROM items i WHERE i.id = 1",
        "UPDATE regions r SET parent_id = 1 WHERE r.id = 9",
        "DELETE FROM items ONLY WHERE qty < 3",
        "UPDATE customers 'x' SET score = 1 WHERE id = 1",
    ]);
}

/// SQLite has no `DELETE ... USING`.
#[test]
fn impact_props_delete_using() {
    assert_agrees(&[
        "DELETE FROM orders USING customers WHERE orders.customer_id = customers.id AND customers.region_id = 4",
    ]);
}

/// `SET col = NULL` on a NOT NULL column fails in both engines; the
/// UPDATE preview does not check NOT NULL.
#[test]
fn impact_props_update_not_null() {
    assert_agrees(&["UPDATE customers SET email = NULL WHERE id = 2"]);
}

/// Postgres assigns with an assignment cast (boolean → integer has none);
/// the preview's explicit CAST accepts it.
#[test]
fn impact_props_update_assignment_cast() {
    assert_agrees(&["UPDATE items SET product_id = TRUE WHERE id = 1"]);
}

/// The UPDATE foreign-key check appends `AND ...` to the WHERE clause
/// without parentheses, so `a OR b` becomes `a OR (b AND ...)`.
#[test]
fn impact_props_update_or_predicate() {
    assert_agrees(&["UPDATE items SET product_id = 10 WHERE id = 1 OR id = 2"]);
}

/// Both engines check a unique key row by row, so shifting keys into each
/// other fails even though the final set of keys is unique.
#[test]
fn impact_props_update_unique_row_by_row() {
    assert_agrees(&["UPDATE customers SET id = id + 1 WHERE id > 7"]);
}

/// A number run into a word (`4AND`, `10x`): the tokenizer splits it, the
/// engines reject it (Postgres: trailing junk; SQLite: unrecognized token).
#[test]
fn impact_props_number_run_into_word() {
    assert_agrees(&[
        "DELETE FROM reviews WHERE stars = 4AND id = 4",
        "DELETE FROM reviews WHERE id IN (SELECT 10x)",
    ]);
}

/// A vertical tab is whitespace to the tokenizer, not to SQLite.
#[test]
fn impact_props_vertical_tab() {
    assert_agrees(&["DELETE FROM reviews\u{b}WHERE id = 1"]);
}

/// A keyword or string where INSERT takes an alias only after `AS`.
#[test]
fn impact_props_insert_alias_without_as() {
    assert_agrees(&[
        "INSERT INTO products NOT (id, sku, price) VALUES (11, 'p11', 5)",
        "INSERT INTO products 'x' (id, sku, price) VALUES (11, 'p11', 5)",
    ]);
}

/// Postgres rejects assigning text to an integer column when it plans the
/// statement, whether or not a row matches; the preview (0 rows) does not
/// evaluate the new value and says it succeeds.
#[test]
fn impact_props_update_assignment_cast_text() {
    assert_agrees(&["UPDATE orders SET total = status WHERE id = -1"]);
}

/// The UPDATE foreign-key check evaluates the new value inside
/// `NOT EXISTS (SELECT 1 FROM products AS p WHERE p.id = <new value>)`, so
/// an unqualified `id` in the new value means `p.id` there: item 50 gets
/// product 50, which does not exist, and the preview misses it.
#[test]
fn impact_props_update_fk_name_capture() {
    assert_agrees(&["UPDATE items SET product_id = id WHERE id = 50"]);
}

/// SQLite lets a non-INTEGER primary key become NULL; the referencing
/// items rows (ON UPDATE NO ACTION) then make the statement fail.
#[test]
fn impact_props_update_key_to_null() {
    assert_agrees(&["UPDATE products SET id = NULL WHERE id = 1"]);
}

/// SQLite reads `stars NOTNULL > 3` as `(stars NOTNULL) > 3`, which is
/// false for every row; the preview counts every row as deleted.
#[test]
fn impact_props_postfix_notnull_precedence() {
    assert_agrees(&["DELETE FROM reviews WHERE stars NOTNULL > 3"]);
}

/// The RETURNING list is not checked: both engines reject an unknown
/// column in it.
#[test]
fn impact_props_returning_unknown_column() {
    assert_agrees(&["DELETE FROM reviews WHERE id = 1 RETURNING nosuch"]);
}

/// SQLite's upsert handles the rows one by one, so a key repeated within
/// the inserted rows updates the same row twice instead of failing (that
/// failure is Postgres's rule).
#[test]
fn impact_props_sqlite_upsert_same_row_twice() {
    assert_agrees(&[
        "INSERT INTO products (id, sku, price) VALUES (1, 'a', 1), (1, 'b', 2) ON CONFLICT (id) DO UPDATE SET price = excluded.price",
        "INSERT INTO products (id, sku, price) VALUES (20, 'a', 1), (20, 'b', 2) ON CONFLICT (id) DO UPDATE SET price = excluded.price",
    ]);
}

/// A type error in a `WITH` query the write does not use: Postgres
/// rejects the statement.
#[test]
fn impact_props_unused_cte_type_error() {
    assert_agrees(&[
        "WITH RECURSIVE x (id) AS (SELECT 1 UNION SELECT id + 1 ISNULL FROM x WHERE id != 5) INSERT INTO customers (id, email, region_id) VALUES (31, 'c31@example.com', 2)",
    ]);
}
