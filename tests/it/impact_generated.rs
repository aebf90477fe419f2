//! Previews over generated schemas against the engine (issue 16: the test
//! that finds the next disagreement before a user does).
//!
//! Each case is a random schema from `impact_generated_schema.rs`: foreign
//! keys with every action on delete and on update, single and composite,
//! self-references and cycles, MATCH FULL, deferrable and deferred keys,
//! `SET NULL (col)`, defaults that do or do not reference a parent, NOT
//! NULL and CHECK constraints; random rows that satisfy them; and random
//! DELETE, UPDATE, INSERT and TRUNCATE statements. Each statement is
//! previewed in process and run for real in a transaction that is rolled
//! back (`impact_props_oracle.rs`), rows followed by an identity a key
//! update does not change, and the two must agree as `impact_props::judge`
//! says: the same failure, or the same rows deleted, updated and inserted
//! per table and the same target count. An engine failure the preview
//! said "may fail" (it depends on the order rows are visited in) agrees.
//! A preview that refuses a statement the engine runs is safe and only
//! counted.
//!
//! The run is deterministic: `GENERATED_SEED=N` picks another seed and
//! `GENERATED_SEED=random` a random one; `GENERATED_SCHEMAS=N` sets the
//! schemas per shard. A disagreement prints its seed and a reproduction
//! shrunk to the fewest foreign keys and rows that still disagree.

use std::fmt::Write as _;

use dbguard::db::Engine;

use crate::helpers::{PgDb, SqliteDb};
use crate::impact_generated_schema::{Features, Key, Model, Rng, Target};
use crate::impact_generated_statements::statement;
use crate::impact_props::{Harness, Stats};
use crate::impact_props_oracle::{LiteOracle, Oracle, PgOracle};

/// Statements per schema; four shards of each engine at the default
/// schema count give 5,120 cases per engine.
const STATEMENTS: u64 = 64;
const SCHEMAS: u64 = 20;

fn base_seed() -> u64 {
    match std::env::var("GENERATED_SEED").ok().as_deref() {
        Some("random") => {
            let mut b = [0u8; 8];
            getrandom::fill(&mut b).expect("getrandom");
            u64::from_le_bytes(b)
        }
        Some(n) => n.parse().expect("GENERATED_SEED is a number or `random`"),
        None => 16,
    }
}

fn engine(t: Target) -> Engine {
    match t {
        Target::Pg => Engine::Postgres,
        Target::Lite => Engine::Sqlite,
    }
}

fn features() -> Features {
    if std::env::var_os("GENERATED_ALL").is_some() {
        Features::all()
    } else {
        Features::agreed()
    }
}

fn schemas() -> u64 {
    std::env::var("GENERATED_SCHEMAS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(SCHEMAS)
}

/// A database the shard rebuilds for each model.
trait Fixture {
    fn target(&self) -> Target;
    /// Loads `m` and returns a harness over it.
    fn load(&mut self, m: &Model) -> Harness<Box<dyn Oracle>>;
}

struct PgFixture(PgDb);

impl Fixture for PgFixture {
    fn target(&self) -> Target {
        Target::Pg
    }

    fn load(&mut self, m: &Model) -> Harness<Box<dyn Oracle>> {
        let mut c = self.0.client();
        c.batch_execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            .expect("reset schema");
        c.batch_execute(&m.sql())
            .unwrap_or_else(|e| panic!("generated schema: {e:?}\n{}", m.sql()));
        let own = m.own_rows();
        let own: Vec<&str> = own.iter().map(String::as_str).collect();
        let oracle: Box<dyn Oracle> = Box::new(PgOracle::new(&self.0, &own));
        Harness::new(&self.0.url, oracle)
    }
}

struct LiteFixture(Option<SqliteDb>);

impl Fixture for LiteFixture {
    fn target(&self) -> Target {
        Target::Lite
    }

    fn load(&mut self, m: &Model) -> Harness<Box<dyn Oracle>> {
        let db = SqliteDb::with(&m.sql());
        let oracle: Box<dyn Oracle> = Box::new(LiteOracle::new(&db, &m.names()));
        let h = Harness::new(&db.target(), oracle);
        self.0 = Some(db);
        h
    }
}

/// Runs one shard: `schemas()` models, `STATEMENTS` statements each.
fn shard(fx: &mut dyn Fixture, shard: u64) {
    let base = base_seed();
    let mut totals = Stats::default();
    let mut failures = Vec::new();
    for i in 0..schemas() {
        let seed = model_seed(base, shard, i);
        let mut rng = Rng::new(seed);
        let m = Model::generate(&mut rng, fx.target(), features());
        let statements: Vec<String> = (0..STATEMENTS).map(|_| statement(&mut rng, &m)).collect();
        let mut h = fx.load(&m);
        let mut first = None;
        for s in &statements {
            let before = h.stats.mismatches.len();
            h.check(s);
            if h.stats.mismatches.len() > before && first.is_none() {
                first = Some((s.clone(), h.stats.mismatches[before].clone()));
            }
        }
        h.assert_rolled_back();
        totals.add_counts(&h.stats);
        drop(h);
        // Shrinking reloads the fixture, so only once the schema is done.
        if let Some((s, why)) = first
            && failures.len() < 5
        {
            failures.push(reproduce(fx, &m, &s, seed, &why));
        }
    }
    println!(
        "shard {shard} (seed {base}): {}",
        totals.report(engine(fx.target()))
    );
    assert!(
        failures.is_empty(),
        "previews that disagree with the engine (GENERATED_SEED={base}):\n\n{}",
        failures.join("\n\n")
    );
    let engine_ok = totals.agreed + totals.refused_engine_ok;
    assert!(
        engine_ok > 0 && totals.agreed * 10 >= engine_ok * 7,
        "fewer than 70% of the statements the engine runs got a preview"
    );
}

/// The seed of schema `i` of a shard.
fn model_seed(base: u64, shard: u64, i: u64) -> u64 {
    base.wrapping_mul(1_000_003) ^ (shard << 20) ^ i
}

/// What the PostgreSQL shards draw reaches their statements: partitioned
/// tables, inheritance children, writes through an inheritance parent,
/// and `u` columns other keys reference, where chains of key actions
/// start (counted over the default run's schemas).
#[test]
fn generated_pg_schemas_draw_partitions_inheritance_and_chains() {
    let (mut partitioned, mut children, mut through_parent) = (0, 0, 0);
    let mut chained = 0;
    for shard in 0..4 {
        for i in 0..SCHEMAS {
            let mut rng = Rng::new(model_seed(16, shard, i));
            let m = Model::generate(&mut rng, Target::Pg, Features::agreed());
            partitioned += m.tables.iter().filter(|t| t.partitioned).count();
            chained += m
                .tables
                .iter()
                .flat_map(|t| &t.fks)
                .filter(|fk| fk.key == Key::U)
                .count();
            let parents: Vec<&str> = m
                .tables
                .iter()
                .filter_map(|t| t.inherits.map(|p| m.tables[p].name.as_str()))
                .collect();
            children += parents.len();
            for _ in 0..STATEMENTS {
                let s = statement(&mut rng, &m);
                let target = s.split_whitespace().find(|w| m.names().contains(w));
                through_parent += usize::from(target.is_some_and(|t| parents.contains(&t)));
            }
        }
    }
    println!(
        "{partitioned} partitioned tables, {children} inheritance children, \
         {through_parent} writes through a parent, {chained} keys on a key that references"
    );
    assert!(partitioned > 0, "no partitioned table drawn");
    assert!(children > 0, "no inheritance child drawn");
    assert!(
        through_parent > 100,
        "{through_parent} writes through a parent"
    );
    assert!(chained > 10, "{chained} keys reference a u column");
}

/// The disagreement on the smallest model that still shows it.
fn reproduce(fx: &mut dyn Fixture, m: &Model, sql: &str, seed: u64, why: &str) -> String {
    let mut m = m.clone();
    let mut why = why.to_owned();
    'shrink: loop {
        for smaller in m.smaller() {
            let mut h = fx.load(&smaller);
            h.check(sql);
            if let Some(w) = h.stats.mismatches.first() {
                why = w.clone();
                m = smaller;
                continue 'shrink;
            }
        }
        break;
    }
    let mut out = format!(
        "schema seed {seed}: {why}\n-- reproduction ({:?}):\n",
        m.target
    );
    out.push_str(&m.sql());
    let _ = write!(out, "{sql};");
    out
}

macro_rules! shards {
    ($($pg:ident, $lite:ident, $n:expr;)*) => {$(
        #[test]
        fn $pg() {
            shard(&mut PgFixture(PgDb::new()), $n);
        }

        #[test]
        fn $lite() {
            shard(&mut LiteFixture(None), $n);
        }
    )*};
}

shards! {
    generated_pg_0, generated_sqlite_0, 0;
    generated_pg_1, generated_sqlite_1, 1;
    generated_pg_2, generated_sqlite_2, 2;
    generated_pg_3, generated_sqlite_3, 3;
}
