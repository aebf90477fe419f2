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
//!
//! This file holds the fixture and the property; the corpus and its
//! mutations are in `impact_props_mutations.rs`, the engine oracle in
//! `impact_props_oracle.rs`, and the statements the property once caught in
//! `impact_props_regressions.rs`.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use dbguard::db::{Connection, Engine, OpenOptions};
use dbguard::impact::{self, Impact, PreviewOptions};
use dbguard::policy::Policy;
use dbguard::schema::Schema;
use dbguard::sql::{Kind, classify};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::helpers::{PgDb, SqliteDb};
use crate::impact_props_mutations::{CORPUS, input};
use crate::impact_props_oracle::{Counts, LiteOracle, Oracle, PgOracle, Run};

// ---------------------------------------------------------------- fixture

pub const TABLES: &[&str] = &[
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
pub(crate) fn fixture() -> String {
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

// ---------------------------------------------------------------- the property

#[derive(Default)]
pub(crate) struct Stats {
    pub cases: u64,
    pub kinds: BTreeMap<&'static str, u64>,
    /// Preview produced and the engine agreed (it succeeded).
    pub agreed: u64,
    /// Preview produced, said it will fail, and the engine failed.
    pub predicted_failure: u64,
    /// Preview produced, said it may fail because the outcome depends on
    /// the order the engine visits rows in, and the engine failed.
    pub order_dependent: u64,
    /// Preview refused or failed; the engine accepted the statement.
    pub refused_engine_ok: u64,
    /// Preview refused or failed; the engine rejected it too.
    pub refused_engine_err: u64,
    pub mismatches: Vec<String>,
    seen: BTreeSet<String>,
}

impl Stats {
    /// Adds another run's counts to these; its mismatches stay with it.
    pub(crate) fn add_counts(&mut self, other: &Stats) {
        self.cases += other.cases;
        for (kind, n) in &other.kinds {
            *self.kinds.entry(kind).or_default() += n;
        }
        self.agreed += other.agreed;
        self.predicted_failure += other.predicted_failure;
        self.order_dependent += other.order_dependent;
        self.refused_engine_ok += other.refused_engine_ok;
        self.refused_engine_err += other.refused_engine_err;
    }

    pub(crate) fn report(&self, engine: Engine) -> String {
        let engine_ok = self.agreed + self.refused_engine_ok;
        let mut s = format!(
            "{}: {} cases; kinds {:?}\n  preview produced and engine succeeded: {}\n  preview predicted the engine's failure: {}\n  preview said it may fail by row order, engine failed: {}\n  preview refused, engine accepted: {}\n  preview refused, engine rejected: {}\n  previewed / accepted by the engine: {}/{} = {:.0}%\n  mismatches: {}",
            engine.name(),
            self.cases,
            self.kinds,
            self.agreed,
            self.predicted_failure,
            self.order_dependent,
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
/// An engine failure the preview said may happen, depending on the order
/// rows are visited in, agrees with it; an engine success is then judged
/// on its counts like any other.
fn judge(
    kind: Kind,
    (imp, schema): (&Impact, &Schema),
    run: &Result<Run, String>,
) -> Result<(), String> {
    let run = match run {
        Err(_) if imp.will_fail || may_fail(imp) => return Ok(()),
        Err(e) => {
            return Err(format!(
                "the engine rejects it ({e}) but the preview says it succeeds (target rows {:?}, totals {:?})",
                imp.target.rows,
                totals(imp, schema)
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
    let preview = totals(imp, schema);
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
    if let Some(n) = expected
        && imp.target.rows != Some(n)
    {
        errs.push(format!(
            "target rows: preview {:?}, engine {n}",
            imp.target.rows
        ));
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

/// Whether the preview warned that the outcome depends on row order.
fn may_fail(imp: &Impact) -> bool {
    imp.warnings.iter().any(|w| w.starts_with("may fail:"))
}

/// The preview's net changes per table, a partition's under the table it
/// is a partition of (as the engine's snapshot of that table holds them:
/// a TRUNCATE counts per partition).
fn totals(imp: &Impact, schema: &Schema) -> BTreeMap<String, Counts> {
    let mut out: BTreeMap<String, Counts> = BTreeMap::new();
    for (k, t) in &imp.totals {
        let root = schema
            .partition_chain(k)
            .last()
            .map_or_else(|| k.to_string(), |r| r.name.to_string());
        let c = out.entry(root).or_default();
        for (sum, n) in c.iter_mut().zip([t.delete, t.update, t.insert]) {
            *sum += n;
        }
    }
    out.retain(|_, c| *c != [0; 3]);
    out
}

fn other(engine: Engine) -> Engine {
    match engine {
        Engine::Postgres => Engine::Sqlite,
        Engine::Sqlite => Engine::Postgres,
    }
}

pub(crate) struct Harness<O> {
    conn: Connection,
    schema: Schema,
    policy: Policy,
    pub oracle: O,
    pub stats: Stats,
}

impl<O: Oracle> Harness<O> {
    pub(crate) fn new(target: &str, oracle: O) -> Self {
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

    /// Every statement ran in a transaction that was rolled back: the
    /// rows are as they were when the oracle was made.
    pub(crate) fn assert_rolled_back(&mut self) {
        let before = self.oracle.before().clone();
        let after = self.oracle.snapshot();
        assert!(
            after == before,
            "the rows changed during the run: a statement escaped its rollback\nbefore {before:?}\nafter {after:?}"
        );
    }

    /// Classifies and previews one text and holds the preview against the
    /// engine. Mismatches are collected; panics propagate.
    pub(crate) fn check(&mut self, text: &str) {
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
        match judge(stmt.kind, (&imp, &self.schema), &run) {
            Ok(()) if run.is_ok() => self.stats.agreed += 1,
            Ok(()) if imp.will_fail => self.stats.predicted_failure += 1,
            Ok(()) => self.stats.order_dependent += 1,
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
    h.assert_rolled_back();
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
    let oracle = LiteOracle::new(&db, TABLES);
    property(Harness::new(&db.target(), oracle), cases(3000));
}

#[test]
fn impact_props_pg() {
    let db = pg_fixture();
    let oracle = PgOracle::new(&db, TABLES);
    property(Harness::new(&db.url, oracle), cases(1000));
}

/// Holds `cases` texts of `strategy` against PostgreSQL on a fresh
/// fixture, as [`impact_props_pg`] does its mutations: every text the
/// classifier takes as one write must be previewed as the engine runs it
/// (a text the server reads as two statements fails there, and a preview
/// that did not say so is a mismatch). Returns the report; panics on a
/// mismatch, or when no text was both previewed and run.
pub(crate) fn agrees_pg(
    strategy: impl proptest::strategy::Strategy<Value = String>,
    cases: u32,
) -> String {
    let db = pg_fixture();
    let h = RefCell::new(Harness::new(&db.url, PgOracle::new(&db, TABLES)));
    let result = runner(cases).run(&strategy, |text| {
        h.borrow_mut().check(&text);
        Ok(())
    });
    let mut h = h.into_inner();
    if let Err(e) = result {
        panic!("a preview or classification panicked: {e}");
    }
    let report = h.stats.report(Engine::Postgres);
    h.assert_rolled_back();
    assert!(
        h.stats.agreed > 0,
        "no text was previewed and run\n{report}"
    );
    assert!(
        h.stats.mismatches.is_empty(),
        "the classifier and the server read texts differently\n{report}"
    );
    report
}

/// Previews each statement on a fresh fixture of each engine and holds it
/// against the engine; panics with every disagreement.
pub fn assert_agrees(sqls: &[&str]) {
    let mut errs = Vec::new();
    let lite = SqliteDb::with(&fixture());
    let mut h = Harness::new(&lite.target(), LiteOracle::new(&lite, TABLES));
    for sql in sqls {
        h.check(sql);
    }
    errs.extend(h.stats.mismatches.iter().map(|m| format!("SQLite: {m}")));
    let pg = pg_fixture();
    let mut h = Harness::new(&pg.url, PgOracle::new(&pg, TABLES));
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
