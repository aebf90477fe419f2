//! The engine side of the impact property (`impact_props.rs`): each
//! statement runs for real in a transaction that is rolled back, on its own
//! connection, and the rows that really changed are counted per table by
//! an identity an UPDATE does not change (a hidden identity column on
//! Postgres, the rowid on SQLite).

use std::collections::BTreeMap;

use dbguard::db::Engine;
use dbguard::sql::Kind;

use crate::helpers::{PgDb, SqliteDb};

/// Net changed rows of one table: delete, update, insert.
pub type Counts = [u64; 3];
/// Table name (as the preview spells it) → row identity → row text.
pub type Snapshot = BTreeMap<String, BTreeMap<String, String>>;

/// What the engine did with a statement, rolled back afterwards.
#[derive(Debug)]
pub struct Run {
    /// The rows the statement reported.
    pub affected: u64,
    /// Net changes per table, only tables with changes.
    pub totals: BTreeMap<String, Counts>,
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
pub trait Oracle {
    fn engine(&self) -> Engine;
    /// Runs `sql` in a transaction that is rolled back. `Err` when the
    /// engine rejects it, at once or at commit.
    fn run(&mut self, sql: &str, kind: Kind) -> Result<Run, String>;
    /// The current contents of every table.
    fn snapshot(&mut self) -> Snapshot;
    /// The fixture's contents, taken once at the start.
    fn before(&self) -> &Snapshot;
}

pub struct PgOracle {
    client: postgres::Client,
    /// The tables snapshotted (`ONLY t` for a table with inheritance
    /// children), each with a `rid` identity column.
    tables: Vec<String>,
    before: Snapshot,
}

impl PgOracle {
    pub fn new(db: &PgDb, tables: &[&str]) -> PgOracle {
        let mut client = db.client();
        client
            .batch_execute("SET statement_timeout = '10s'")
            .expect("statement_timeout");
        let mut o = PgOracle {
            client,
            tables: tables.iter().map(|t| (*t).to_owned()).collect(),
            before: Snapshot::new(),
        };
        o.before = o.snapshot();
        o
    }
}

fn pg_snapshot(c: &mut impl postgres::GenericClient, tables: &[String]) -> Snapshot {
    let mut snap = Snapshot::new();
    for t in tables {
        let rows = c
            .query(&format!("SELECT rid::text, t::text FROM {t} AS t"), &[])
            .expect("snapshot");
        snap.insert(
            format!("public.{}", t.trim_start_matches("ONLY ")),
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
        let after = pg_snapshot(&mut tx, &self.tables);
        tx.rollback().expect("ROLLBACK");
        Ok(Run {
            affected,
            totals: diff(&self.before, &after),
        })
    }

    fn snapshot(&mut self) -> Snapshot {
        pg_snapshot(&mut self.client, &self.tables)
    }

    fn before(&self) -> &Snapshot {
        &self.before
    }
}

pub struct LiteOracle {
    conn: rusqlite::Connection,
    path: std::path::PathBuf,
    /// Whether a key is checked at commit, which the oracle then tries on
    /// a copy of the database.
    deferred: bool,
    /// The tables snapshotted, each followed by its rowid (or `rid`).
    tables: Vec<String>,
    before: Snapshot,
}

impl LiteOracle {
    pub fn new(db: &SqliteDb, tables: &[&str]) -> LiteOracle {
        let conn = db.conn();
        let mut o = LiteOracle {
            deferred: crate::helpers::sqlite_has_deferred_keys(&conn),
            conn,
            path: db.path.clone(),
            tables: tables.iter().map(|t| (*t).to_owned()).collect(),
            before: Snapshot::new(),
        };
        o.before = o.snapshot();
        o
    }

    fn exec(&self, sql: &str) -> rusqlite::Result<u64> {
        crate::helpers::sqlite_run(&self.conn, sql)
    }
}

impl Oracle for LiteOracle {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }

    fn run(&mut self, sql: &str, kind: Kind) -> Result<Run, String> {
        let at_commit = if self.deferred {
            crate::helpers::sqlite_commit_refused(&self.path, sql)
        } else {
            None
        };
        self.conn
            .execute_batch("PRAGMA foreign_keys = ON; BEGIN")
            .expect("BEGIN");
        let res = self.exec(sql).map_err(|e| e.to_string());
        let res = res.and_then(|n| match at_commit {
            Some(e) => Err(format!("at commit: {e}")),
            None => Ok(n),
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
        for t in &self.tables {
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
            // A WITHOUT ROWID table has no rowid; the generator gives it a
            // `rid` no statement writes.
            let ident = if cols.iter().any(|c| c == "quote(rid)") {
                "rid"
            } else {
                "rowid"
            };
            let mut st = self
                .conn
                .prepare(&format!(
                    "SELECT {ident}, {} FROM {t}",
                    cols.join("||','||")
                ))
                .expect("snapshot");
            let rows = st
                .query_map([], |r| {
                    Ok((r.get::<_, i64>(0)?.to_string(), r.get::<_, String>(1)?))
                })
                .expect("snapshot")
                .map(|r| r.expect("snapshot row"))
                .collect();
            snap.insert(t.clone(), rows);
        }
        snap
    }

    fn before(&self) -> &Snapshot {
        &self.before
    }
}

/// A boxed oracle is an oracle, so one harness type serves both engines.
impl<O: Oracle + ?Sized> Oracle for Box<O> {
    fn engine(&self) -> Engine {
        (**self).engine()
    }

    fn run(&mut self, sql: &str, kind: Kind) -> Result<Run, String> {
        (**self).run(sql, kind)
    }

    fn snapshot(&mut self) -> Snapshot {
        (**self).snapshot()
    }

    fn before(&self) -> &Snapshot {
        (**self).before()
    }
}
