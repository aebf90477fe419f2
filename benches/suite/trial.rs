//! The preview against the trial run a DBA would otherwise use to see what
//! a delete does (issue 16): `BEGIN; DELETE ...; ROLLBACK`, the delete run
//! for real and thrown away. Two pairs, on the benchmark cascade and on a
//! 300-table one:
//!
//! - in a session: `dbguard::impact::preview` (the schema already read, as
//!   in the shell) against `BEGIN`, the `DELETE` and `ROLLBACK` on an open
//!   connection; connecting is not timed on either side;
//! - from the command line: the binary's `exec --dry-run` against
//!   `psql -X -c BEGIN -c DELETE -c ROLLBACK`, whole processes.
//!
//! The trial run's dead rows are vacuumed away before every timed step.

use std::fmt::Write as _;
use std::time::Duration;

use super::{Env, Opts, progress};
use crate::common::*;
use dbguard::db::{Connection, OpenOptions};
use dbguard::impact::{self, PreviewOptions};
use dbguard::policy::Policy;
use dbguard::sql;

/// What one pair of measures runs on.
pub(super) struct Trial<'a> {
    pub url: &'a str,
    pub delete: String,
    /// Rows the delete deletes or sets to NULL: what the preview must count.
    pub affected: u64,
    /// `VACUUM (ANALYZE)` of the tables the delete touches.
    pub vacuum: String,
    pub size: Option<u64>,
    pub label: &'static str,
    /// Ratio targets (session, command line).
    pub target: Option<f64>,
}

pub(super) fn compare(opts: &Opts, env: &Env, t: &Trial<'_>, report: &mut Report) -> Res<()> {
    let runs = t.size.map_or(opts.runs, |s| opts.runs_for(s));
    let schema = Connection::open(Some(t.url), &OpenOptions::default())?.introspect()?;
    let policy = Policy::default();
    let stmt = sql::classify(dbguard::db::Engine::Postgres, &t.delete);
    let popts = PreviewOptions {
        timeout: Duration::from_secs(3600),
        ..PreviewOptions::default()
    };
    let mut admin = postgres::Client::connect(t.url, postgres::NoTls)?;
    let dry = [
        "exec",
        t.url,
        "-c",
        &t.delete,
        "--dry-run",
        "--preview-timeout",
        "3600",
    ];
    let (mut lib, mut session, mut bin, mut psql_trial) = (vec![], vec![], vec![], vec![]);
    let mut counted = 0;
    for i in 0..opts.warmup + runs {
        let mut conn = Connection::open(Some(t.url), &OpenOptions::default())?;
        let mut base = postgres::Client::connect(t.url, postgres::NoTls)?;
        admin.batch_execute(&t.vacuum)?;
        let (p, imp) = timed(|| Ok(impact::preview(&mut conn, &schema, &policy, &stmt, &popts)?))?;
        counted = imp.totals.values().map(|x| x.delete + x.update).sum();
        admin.batch_execute(&t.vacuum)?;
        let (s, ()) = timed(|| {
            let mut tx = base.transaction()?;
            tx.execute(t.delete.as_str(), &[])?;
            tx.rollback()?;
            Ok(())
        })?;
        admin.batch_execute(&t.vacuum)?;
        let b = env.bin.run(&dry)?.ms;
        admin.batch_execute(&t.vacuum)?;
        let q = psql_script(t.url, &["BEGIN", &t.delete, "ROLLBACK"])?;
        if i >= opts.warmup {
            lib.push(p);
            session.push(s);
            bin.push(b);
            psql_trial.push(q);
        }
    }
    if counted != t.affected {
        report.notes.push(format!(
            "{} preview: dbguard counted {counted} rows, expected {}",
            t.label, t.affected
        ));
    }
    let mut push = |measure: String, dg: &[f64], baseline: &str, base: &[f64]| {
        let e = Entry {
            measure,
            engine: "postgres",
            size: t.size,
            rows: Some(counted),
            runs,
            dbguard_ms: median(dg),
            baseline: baseline.to_owned(),
            baseline_ms: median(base),
            target: t.target,
            limit_ms: None,
            unit: Unit::Ms,
        };
        progress(&e);
        report.entries.push(e);
    };
    push(
        format!("{} preview", t.label),
        &lib,
        "BEGIN; DELETE; ROLLBACK",
        &session,
    );
    push(
        format!("{} dry run", t.label),
        &bin,
        "psql trial run",
        &psql_trial,
    );
    Ok(())
}

/// The 300-table cascade: `users` with `WIDE_TABLES` tables under it, each
/// with `per_table` rows spread over the users (an index on every foreign
/// key, as a DBA keeps them), every fifth `ON DELETE SET NULL`, every
/// tenth with a table of its own under it. Returns the load statements,
/// the delete and the rows it deletes or sets to NULL.
pub(super) const WIDE_TABLES: usize = 300;

pub(super) fn wide_schema(users: u64, per_table: u64, k: u64) -> (String, String, u64) {
    let mut s = format!(
        "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL);
         INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, {users}) g;\n"
    );
    // Rows of each table on the first k users: per_table / users each.
    let mut affected = k;
    for i in 0..WIDE_TABLES {
        let action = if i % 5 == 0 { "SET NULL" } else { "CASCADE" };
        let _ = writeln!(
            s,
            "CREATE TABLE t{i:03} (id bigint PRIMARY KEY, owner bigint REFERENCES users ON DELETE {action}, note text);
             INSERT INTO t{i:03} SELECT g, 1 + g % {users}, 'row ' || g FROM generate_series(1, {per_table}) g;
             CREATE INDEX ON t{i:03} (owner);"
        );
        let reached = reached_rows(per_table, users, k);
        affected += reached;
        if i % 10 == 3 {
            let _ = writeln!(
                s,
                "CREATE TABLE t{i:03}_items (id bigint PRIMARY KEY, parent bigint REFERENCES t{i:03} ON DELETE CASCADE);
                 INSERT INTO t{i:03}_items SELECT g, g FROM generate_series(1, {per_table}) g;
                 CREATE INDEX ON t{i:03}_items (parent);"
            );
            affected += reached;
        }
    }
    let _ = writeln!(s, "ANALYZE;");
    (s, format!("DELETE FROM users WHERE id <= {k}"), affected)
}

/// Rows `g` in 1..=per_table with `1 + g % users <= k`.
fn reached_rows(per_table: u64, users: u64, k: u64) -> u64 {
    (1..=per_table).filter(|g| g % users < k).count() as u64
}

/// The 300-table group: its own database, loaded once.
pub(super) fn wide(opts: &Opts, env: &Env, report: &mut Report) -> Res<()> {
    let db = TempPg::create("wide")?;
    let mut client = postgres::Client::connect(&db.url, postgres::NoTls)?;
    let (users, per_table, k) = (10_000, 2_000, 500);
    let (ddl, delete, affected) = wide_schema(users, per_table, k);
    let (load, ()) = timed(|| Ok(client.batch_execute(&ddl)?))?;
    eprintln!(
        "postgres, {WIDE_TABLES}-table cascade: loaded in {:.1} s; the delete reaches {affected} rows",
        load / 1000.0
    );
    let trial = Trial {
        url: &db.url,
        delete,
        affected,
        vacuum: "VACUUM (ANALYZE)".to_owned(),
        size: Some(affected),
        label: "300-table",
        target: Some(1.0),
    };
    compare(opts, env, &trial, report)
}
