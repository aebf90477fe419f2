//! The classifier never panics, whatever it is fed: random bytes, mutated
//! statements, pathological nesting (issue 2, acceptance 6).

use dbguard::db::Engine;
use dbguard::sql::{classify, is_complete, split};
use proptest::prelude::*;

const CORPUS: &[&str] = &[
    "SELECT * FROM film WHERE film_id = 1",
    "select a, b from t join u on t.id = u.t_id where u.x in (select 1) order by 1 limit 5",
    "WITH x AS (SELECT 1 AS a) SELECT a FROM x",
    "DELETE FROM architectures WHERE name = 'i586'",
    "DELETE FROM t USING u WHERE t.a = u.a AND u.b > 3",
    "UPDATE packages SET version = '1.0', updated_at = now() WHERE id IN (1,2,3)",
    "INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y') ON CONFLICT (a) DO UPDATE SET b = excluded.b",
    "INSERT INTO t SELECT * FROM u WHERE u.c IS NULL",
    "TRUNCATE TABLE a, b CASCADE",
    "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v",
    "CREATE TABLE \"Weird \"\"Name\"\" ü\" (id int primary key)",
    "ALTER TABLE t DROP COLUMN c",
    "SET search_path TO public, other",
    "BEGIN; COMMIT",
    "PRAGMA table_info('t')",
    "EXPLAIN ANALYZE DELETE FROM t",
    "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
    "SELECT $$dollar ; quoted$$, E'esc\\'aped', 'it''s', \"bıgınt\"",
    "select 1 /* comment ; */ -- trailing\n",
    "COPY t TO STDOUT",
];

fn check(input: &str) {
    for engine in [Engine::Postgres, Engine::Sqlite] {
        let _ = is_complete(engine, input);
        for piece in split(engine, input) {
            let s = classify(engine, &piece);
            // A statement the parser did not understand is never a read.
            if s.ast.is_none() {
                assert_eq!(s.kind, dbguard::sql::Kind::Unknown, "{piece:?}");
            }
        }
        let _ = classify(engine, input);
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Insert(usize, String),
    Delete(usize, usize),
    Duplicate(usize, usize),
    Truncate(usize),
}

fn apply(s: &str, muts: &[Mutation]) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    for m in muts {
        let len = chars.len();
        match m {
            Mutation::Insert(at, text) => {
                let at = if len == 0 { 0 } else { at % (len + 1) };
                for (i, c) in text.chars().enumerate() {
                    chars.insert(at + i, c);
                }
            }
            Mutation::Delete(at, n) if len > 0 => {
                let at = at % len;
                let end = (at + n).min(len);
                chars.drain(at..end);
            }
            Mutation::Duplicate(at, n) if len > 0 => {
                let at = at % len;
                let end = (at + n).min(len);
                let copy: Vec<char> = chars[at..end].to_vec();
                for (i, c) in copy.into_iter().enumerate() {
                    chars.insert(end + i, c);
                }
            }
            Mutation::Truncate(at) if len > 0 => chars.truncate(at % len),
            _ => {}
        }
    }
    chars.into_iter().collect()
}

fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("'".to_owned()),
        Just("\"".to_owned()),
        Just("$$".to_owned()),
        Just(";".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just("/*".to_owned()),
        Just("--".to_owned()),
        Just(" WHERE ".to_owned()),
        Just(" DELETE FROM x ".to_owned()),
        Just(" RETURNING * ".to_owned()),
        Just("\\".to_owned()),
        Just("\0".to_owned()),
        Just("ı".to_owned()),
        any::<String>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), fragment()).prop_map(|(a, t)| Mutation::Insert(a, t)),
        (any::<usize>(), 0usize..20).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (any::<usize>(), 0usize..30).prop_map(|(a, n)| Mutation::Duplicate(a, n)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, failure_persistence: None, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        check(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn mutated_statements_never_panic(
        idx in 0..CORPUS.len(),
        muts in proptest::collection::vec(mutation(), 1..6),
    ) {
        check(&apply(CORPUS[idx], &muts));
    }
}

#[test]
fn pathological_nesting_is_refused_not_crashed() {
    let deep_parens = format!("SELECT {}1{}", "(".repeat(100_000), ")".repeat(100_000));
    let deep_not = format!("SELECT * FROM t WHERE {}true", "NOT ".repeat(20_000));
    let deep_minus = format!("SELECT {}1", "- ".repeat(20_000));
    let deep_sub = format!(
        "DELETE FROM t WHERE a IN {}",
        "(SELECT a FROM t WHERE a IN ".repeat(5_000)
    );
    for input in [deep_parens, deep_not, deep_minus, deep_sub] {
        check(&input);
        assert_eq!(
            classify(Engine::Postgres, &input).kind,
            dbguard::sql::Kind::Unknown
        );
    }
}
