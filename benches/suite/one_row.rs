//! The one-row measures: the one-row fix on the cascade (both engines)
//! and the one-row `UPDATE` and `INSERT` on a 3M-row table (Postgres).

use super::{Env, Opts, exec_args, progress, undo_args};
use crate::common::*;

/// Issue 14: the Postgres one-row fix, median, in ms.
pub(super) const ONE_ROW_LIMIT_MS: f64 = 25.0;

/// Issue 14: one-row UPDATE and INSERT on 3M rows within this factor of
/// psql.
const ONE_ROW_3M_TARGET: f64 = 3.0;

/// The one-row fix: `exec --yes` of a 1-row delete of a childless parent
/// (its FK edges and association checked, journaled in the target), then
/// its `undo apply`; against the bare autocommit `DELETE` of the same
/// parent and the autocommit `INSERT` that puts it back. Each run takes the
/// next childless parent; every pair leaves the table as it was.
#[allow(clippy::too_many_arguments)]
pub(super) fn one_row_fix(
    opts: &Opts,
    env: &Env,
    report: &mut Report,
    engine: &'static str,
    size: u64,
    target: &str,
    limit_ms: Option<f64>,
    bare: &mut dyn FnMut(&str) -> Res<u64>,
) -> Res<()> {
    let runs = opts.one_row_runs();
    let (mut dg, mut dg_undo) = (Vec::new(), Vec::new());
    let (mut base, mut base_undo) = (Vec::new(), Vec::new());
    for i in 0..opts.warmup + runs {
        let id = LONELY_BASE + 1 + (i as u64 % LONELY);
        let delete = format!("DELETE FROM parent WHERE id = {id}");
        let a = env.bin.run(&exec_args(target, &delete))?;
        let change = change_id(&a.stdout)?.to_string();
        let u = env.bin.run(&undo_args(&change, target))?;
        let (b, n) = timed(|| bare(&delete))?;
        if n != 1 {
            return Err(format!("one-row baseline deleted {n} rows").into());
        }
        let insert = format!(
            "INSERT INTO parent (id, name, created, meta, amount) \
             VALUES ({id}, 'lonely {id}', CURRENT_TIMESTAMP, NULL, NULL)"
        );
        let (bu, n) = timed(|| bare(&insert))?;
        if n != 1 {
            return Err(format!("one-row baseline restore inserted {n} rows").into());
        }
        if i >= opts.warmup {
            dg.push(a.ms);
            dg_undo.push(u.ms);
            base.push(b);
            base_undo.push(bu);
        }
    }
    env.bin.prune(target)?;
    let entry = |measure: &str, dg: &[f64], baseline: &str, base: &[f64], limit_ms| Entry {
        measure: measure.to_owned(),
        engine,
        size: Some(size),
        rows: Some(1),
        runs,
        dbguard_ms: median(dg),
        baseline: baseline.to_owned(),
        baseline_ms: median(base),
        target: None,
        limit_ms,
        unit: Unit::Ms,
    };
    for e in [
        entry("one-row fix", &dg, "DELETE (autocommit)", &base, limit_ms),
        entry(
            "one-row undo",
            &dg_undo,
            "INSERT (autocommit)",
            &base_undo,
            None,
        ),
    ] {
        progress(&e);
        report.entries.push(e);
    }
    Ok(())
}

/// The one-row measures on a 3M-row table (Postgres): a one-row `UPDATE`
/// and a one-row `INSERT` through `dbguard exec --yes`, each then undone
/// with `undo apply`, against the same statements and their reverse
/// through `psql -X -c`; all whole processes, connect included. Each run
/// updates another row (the same one on both sides) and inserts another
/// new id. Returns the server's version.
pub(super) fn one_row_3m(opts: &Opts, env: &Env, report: &mut Report) -> Res<String> {
    let db = TempPg::create("big")?;
    let mut client = postgres::Client::connect(&db.url, postgres::NoTls)?;
    let version: String = client.query_one("SHOW server_version", &[])?.try_get(0)?;
    let (load, ()) = timed(|| pg_load_big(&mut client))?;
    eprintln!(
        "postgres, one-row-3m: loaded {} rows in {:.1} s",
        BIG_ROWS,
        load / 1000.0
    );
    env.bin.init(&db.url)?;
    let url = db.url.as_str();
    let runs = opts.one_row_runs();
    #[derive(Default)]
    struct Samples {
        dg: Vec<f64>,
        dg_undo: Vec<f64>,
        psql: Vec<f64>,
        psql_undo: Vec<f64>,
    }
    let (mut upd, mut ins) = (Samples::default(), Samples::default());
    let cycle = |stmt: &str, reverse: &str, s: &mut Samples, keep: bool| -> Res<()> {
        let a = env.bin.run(&exec_args(url, stmt))?;
        let change = change_id(&a.stdout)?.to_string();
        let u = env.bin.run(&undo_args(&change, url))?;
        let b = psql(url, stmt)?;
        let bu = psql(url, reverse)?;
        if keep {
            s.dg.push(a.ms);
            s.dg_undo.push(u.ms);
            s.psql.push(b);
            s.psql_undo.push(bu);
        }
        Ok(())
    };
    for i in 0..opts.warmup + runs {
        let keep = i >= opts.warmup;
        // Rows spread over the table, never the same twice.
        let id = (i as u64 * 104_729) % BIG_ROWS + 1;
        cycle(
            &format!("UPDATE big SET status = 'held', amount = amount + 1 WHERE id = {id}"),
            &format!("UPDATE big SET status = 'open', amount = amount - 1 WHERE id = {id}"),
            &mut upd,
            keep,
        )?;
        let new = BIG_ROWS + 1 + i as u64;
        cycle(
            &format!(
                "INSERT INTO big (id, account_id, status, amount, note) \
                 VALUES ({new}, 7, 'new', 10.00, 'one-row insert')"
            ),
            &format!("DELETE FROM big WHERE id = {new}"),
            &mut ins,
            keep,
        )?;
    }
    env.bin.prune(url)?;
    let state = client.query_one(
        "SELECT count(*), count(*) FILTER (WHERE status <> 'open') FROM big",
        &[],
    )?;
    let (rows, changed): (i64, i64) = (state.try_get(0)?, state.try_get(1)?);
    if rows as u64 != BIG_ROWS || changed != 0 {
        return Err(format!(
            "one-row-3m: big holds {rows} rows, {changed} not 'open'; the undos did not restore it"
        )
        .into());
    }
    let entry = |measure: &str, dg: &[f64], baseline: &str, base: &[f64], target| Entry {
        measure: measure.to_owned(),
        engine: "postgres",
        size: Some(BIG_ROWS),
        rows: Some(1),
        runs,
        dbguard_ms: median(dg),
        baseline: baseline.to_owned(),
        baseline_ms: median(base),
        target,
        limit_ms: None,
        unit: Unit::Ms,
    };
    for e in [
        entry(
            "one-row UPDATE",
            &upd.dg,
            "psql -X -c UPDATE",
            &upd.psql,
            Some(ONE_ROW_3M_TARGET),
        ),
        entry(
            "one-row INSERT",
            &ins.dg,
            "psql -X -c INSERT",
            &ins.psql,
            Some(ONE_ROW_3M_TARGET),
        ),
        entry(
            "undo UPDATE",
            &upd.dg_undo,
            "psql -X -c reverse UPDATE",
            &upd.psql_undo,
            None,
        ),
        entry(
            "undo INSERT",
            &ins.dg_undo,
            "psql -X -c DELETE",
            &ins.psql_undo,
            None,
        ),
    ] {
        progress(&e);
        report.entries.push(e);
    }
    Ok(version)
}
