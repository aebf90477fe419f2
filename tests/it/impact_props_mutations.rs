//! The inputs of the impact property (`impact_props.rs`): a corpus of
//! valid writes over its fixture, mutated token by token and character by
//! character, and mixed with token soup and random bytes.
//!
//! The mutations aim where previews are easy to get wrong: literals,
//! comparison operators, AND/OR, NOT, names, parentheses, dropped and
//! repeated tokens, `RETURNING *`, a `WITH` in front.

use proptest::prelude::*;

/// Valid writes over the fixture: some succeed, some fail (restricted,
/// deferred, unique and foreign-key violations), on both engines.
pub const CORPUS: &[&str] = &[
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
pub enum Mutation {
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
pub enum Input {
    Mutated(usize, Vec<Mutation>),
    Soup(Vec<&'static str>),
    Bytes(Vec<u8>),
}

impl Input {
    pub fn text(&self) -> String {
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

pub fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        20 => (0..CORPUS.len(), proptest::collection::vec(mutation(), 0..5))
            .prop_map(|(i, m)| Input::Mutated(i, m)),
        1 => proptest::collection::vec(soup_token(), 1..16).prop_map(Input::Soup),
        1 => proptest::collection::vec(any::<u8>(), 0..80).prop_map(Input::Bytes),
    ]
}
