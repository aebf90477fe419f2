//! Generated writes through the whole lifecycle, the engine as the oracle
//! (issue 14): the corpus of `impact_props` and its mutations, over the
//! same schema (a cascade chain, SET NULL, RESTRICT, a deferred key, a
//! self-reference, ON UPDATE CASCADE, unique keys), each run through the
//! change pipeline as `exec --yes` runs it, then undone through it.
//!
//! Before each write the same text runs on a plain connection in a
//! transaction that is rolled back, and the tables are read inside it:
//! what the engine alone would leave. Then:
//! - applied ⇒ the engine accepts the text, and the tables are exactly
//!   what it would leave (every table, every row, as text); then the undo
//!   leaves them exactly as before, the undo of the undo exactly as after,
//!   and its undo as before again;
//! - not applied (refused, drift, a preview that says it fails) ⇒ nothing
//!   changed.
//!
//! One database serves every case, since each round trip must bring it
//! back; a case that does not stops the run. At least 30% of the writes
//! the engine accepts must make the round trip, so refusing everything
//! cannot pass. Deterministic; `JOURNAL_PROPS_CASES=N` changes the number
//! of generated cases, `JOURNAL_PROPS_RANDOM=1` draws a random seed.

use std::collections::BTreeMap;

use dbguard::change::{self, Context, Outcome};
use dbguard::db::{Connection, Engine, OpenOptions};
use dbguard::impact::PreviewOptions;
use dbguard::journal::trail::Trail;
use dbguard::policy::Policy;
use dbguard::schema::Schema;
use dbguard::sql::{Kind, classify};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::apply::Db;
use crate::apply_drift::AfterPreview;
use crate::helpers::*;
use crate::impact_props::fixture;
use crate::impact_props_mutations::{CORPUS, input};

type Dump = BTreeMap<String, Vec<String>>;

/// One database, one session, and what the run saw.
struct Harness {
    db: Db,
    engine: Engine,
    conn: Connection,
    schema: Schema,
    trail: Trail,
    policy: Policy,
    writes: u32,
    engine_ok: u32,
    round_trips: u32,
}

impl Harness {
    fn new(engine: Engine) -> Harness {
        let db = Db::new(engine, &fixture());
        let mut conn = Connection::open(Some(&db.target()), &OpenOptions::default()).expect("open");
        let schema = conn.introspect().expect("introspect");
        let trail = Trail::open(&mut conn, None).expect("audit trail");
        Harness {
            db,
            engine,
            conn,
            schema,
            trail,
            policy: Policy::default(),
            writes: 0,
            engine_ok: 0,
            round_trips: 0,
        }
    }

    /// What the engine alone leaves after `sql`, read before its rollback;
    /// or its error.
    fn engine_result(&self, sql: &str) -> Result<Dump, String> {
        match &self.db {
            Db::Pg(pg) => {
                let mut client = pg.client();
                let mut tx = client.transaction().expect("begin");
                match tx.batch_execute(sql) {
                    Ok(()) => Ok(pg_dump_in(&mut tx)),
                    Err(e) => Err(e.to_string()),
                }
                // Dropped: rolled back.
            }
            Db::Lite(lite) => {
                let c = rusqlite::Connection::open(&lite.path).expect("open sqlite");
                c.execute_batch("PRAGMA foreign_keys = ON; BEGIN")
                    .expect("begin");
                let result = c
                    .execute_batch(sql)
                    .map(|()| sqlite_dump_in(&c))
                    .map_err(|e| e.to_string());
                c.execute_batch("ROLLBACK").expect("rollback");
                result
            }
        }
    }

    /// Runs `plan` through the pipeline, confirmed in advance.
    fn run(&mut self, plan: &mut dyn change::Plan) -> dbguard::Result<Outcome> {
        let options = change::Options {
            yes: true,
            ..Default::default()
        };
        let mut ui = AfterPreview(None::<fn()>);
        Context {
            conn: &mut self.conn,
            trail: &mut self.trail,
            policy: &self.policy,
            schema: &self.schema,
            operator: "tester".to_owned(),
            options: &options,
        }
        .run(plan, &mut ui)
    }

    /// Undoes change `id` through the pipeline.
    fn undo(&mut self, id: i64) -> dbguard::Result<Outcome> {
        let loaded = dbguard::undo::load(&mut self.conn, id)?;
        let undo = dbguard::undo::Undo::new(
            self.conn.identity(),
            loaded,
            dbguard::undo::UndoOptions::default(),
        )?;
        self.run(&mut change::Undo::new(undo))
    }

    /// One text: returns what went wrong, if anything did.
    fn check(&mut self, text: &str) -> Result<(), String> {
        let stmt = classify(self.engine, text);
        if !matches!(
            stmt.kind,
            Kind::Delete | Kind::Update | Kind::Insert | Kind::Truncate
        ) {
            return Ok(());
        }
        self.writes += 1;
        let before = self.db.dump();
        let engine = self.engine_result(text);
        self.engine_ok += u32::from(engine.is_ok());
        let outcome = self.run(&mut change::Write::new(stmt, PreviewOptions::default()));
        let after = self.db.dump();
        let applied = match outcome {
            Ok(Outcome::Applied(a)) => a,
            Ok(_) | Err(_) if after == before => return Ok(()),
            Ok(o) => return Err(format!("not applied ({o:?}), yet the tables changed")),
            Err(e) => return Err(format!("refused ({e}), yet the tables changed")),
        };
        match engine {
            Ok(want) if want == after => {}
            Ok(want) => {
                return Err(format!(
                    "applied as change {}, the tables differ from what the engine leaves:\n{}",
                    applied.change_id,
                    differences(&want, &after)
                ));
            }
            Err(e) => {
                return Err(format!(
                    "applied as change {}, but the engine rejects it: {e}",
                    applied.change_id
                ));
            }
        }
        // The undo, the undo of the undo, and the undo of that: before,
        // after, before again.
        let mut id = applied.change_id;
        for want in [&before, &after, &before] {
            id = self.undone(id, want)?;
        }
        self.round_trips += 1;
        Ok(())
    }

    /// Undoes change `id`, which must leave the tables as `want`; returns
    /// the undo's own change id.
    fn undone(&mut self, id: i64, want: &Dump) -> Result<i64, String> {
        let undo = match self.undo(id) {
            Ok(Outcome::Applied(a)) => a.change_id,
            other => return Err(format!("the undo of change {id} did not apply: {other:?}")),
        };
        let got = self.db.dump();
        if got != *want {
            return Err(format!(
                "the undo of change {id} (change {undo}) left the tables other than they were:\n{}",
                differences(want, &got)
            ));
        }
        Ok(undo)
    }
}

/// The rows each table has in one dump and not the other.
fn differences(want: &Dump, got: &Dump) -> String {
    let mut out = Vec::new();
    for (table, rows) in want {
        let other = got.get(table).cloned().unwrap_or_default();
        let missing: Vec<&String> = rows.iter().filter(|r| !other.contains(r)).collect();
        let extra: Vec<&String> = other.iter().filter(|r| !rows.contains(r)).collect();
        if !missing.is_empty() || !extra.is_empty() {
            out.push(format!("  {table}: want {missing:?}, got {extra:?}"));
        }
    }
    out.join("\n")
}

fn runner() -> TestRunner {
    let cases = std::env::var("JOURNAL_PROPS_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    if std::env::var_os("JOURNAL_PROPS_RANDOM").is_some() {
        TestRunner::new(config)
    } else {
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
    }
}

fn round_trips(engine: Engine) {
    let mut h = Harness::new(engine);
    for sql in CORPUS {
        if let Err(e) = h.check(sql) {
            panic!("{engine:?}: corpus `{sql}`: {e}");
        }
    }
    let h = std::cell::RefCell::new(h);
    let result = runner().run(&input(), |inp| {
        let text = inp.text();
        h.borrow_mut()
            .check(&text)
            .map_err(|e| proptest::test_runner::TestCaseError::fail(format!("`{text}`: {e}")))
    });
    let h = h.into_inner();
    if let Err(e) = result {
        panic!("{engine:?}: {e}");
    }
    println!(
        "{engine:?}: {} writes, {} accepted by the engine, {} applied and undone exactly",
        h.writes, h.engine_ok, h.round_trips
    );
    // Every entry the run left, applies and undos, matches its seal.
    let target = h.db.target();
    let out = crate::helpers::JournalDir::on(&target).run(&["audit", "verify", &target]);
    crate::apply::assert_exit(&out, 0, "audit verify after the round trips");
    assert!(
        h.engine_ok > 0 && h.round_trips * 10 >= h.engine_ok * 3,
        "{engine:?}: fewer than 30% of the writes the engine accepts made the round trip ({} of {})",
        h.round_trips,
        h.engine_ok
    );
}

#[test]
fn sqlite_generated_writes_apply_as_the_engine_and_undo_exactly() {
    round_trips(Engine::Sqlite);
}

#[test]
fn pg_generated_writes_apply_as_the_engine_and_undo_exactly() {
    round_trips(Engine::Postgres);
}
