//! PostgreSQL: the connection, reads in read-only transactions, cancelling.
//!
//! Connecting (URLs, conninfo, environment, `.pgpass`, TLS) is in
//! `conninfo`; the catalog queries are in `catalog`. Reads use the
//! simple query protocol so every value arrives in the server's text form,
//! and run through a cursor fetched in batches, so a `SELECT` over millions
//! of rows streams with constant memory.

use postgres::error::SqlState;
use postgres::types::Type;
use postgres::{Client, SimpleQueryMessage, Transaction};

use super::{
    ApplyTx, Canceller, ColumnMeta, Engine, Executed, GuardOptions, InsertCapture, OwnReturning,
    PreviewTx, ReadSummary, RowScope, RowSink, Rows, TableCounts, TargetIdentity, Value,
};
use crate::error::{Error, ErrorKind, Result};
use crate::schema::Schema;
use conninfo::PgParams;
use errors::sent_as;
pub(crate) use errors::{describe_error, sqlstate};

pub mod catalog;
pub mod conninfo;
pub mod copy;
mod counters;
mod errors;
pub(crate) mod journal;
pub(crate) mod listing;
mod reach;
mod returning;
pub(crate) mod side_effects;

/// Rows fetched per round trip when streaming a read.
const FETCH_BATCH: usize = 1000;

pub struct PgConnection {
    client: Client,
    params: PgParams,
    identity: TargetIdentity,
    /// The ids of this connection's own short write transactions (audit
    /// appends), newest last, so a snapshot they moved can be told from
    /// one another session moved ([`PgConnection::refresh_version`]).
    own_txids: Vec<u64>,
}

impl PgConnection {
    /// Connects to a URL or conninfo string (empty: the environment).
    pub fn connect(spec: &str) -> Result<PgConnection> {
        let params = conninfo::resolve(spec)?;
        let (mut client, host_index) = conninfo::connect_with_host(&params)?;
        let identity = read_identity(&mut client, &params, host_index)?;
        Ok(PgConnection {
            client,
            params,
            identity,
            own_txids: Vec::new(),
        })
    }

    pub fn identity(&self) -> &TargetIdentity {
        &self.identity
    }

    pub fn params(&self) -> &PgParams {
        &self.params
    }

    /// The underlying client, for code in `db/` that composes transactions.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    pub fn introspect(&mut self) -> Result<Schema> {
        let mut tx = self.client.build_transaction().read_only(true).start()?;
        tx.batch_execute(UTF8)?;
        let schema = catalog::load(&mut tx, &mut catalog::QueryCounter::default())?;
        tx.commit()?;
        Ok(schema)
    }

    /// The operator's read, in the operator's session settings (the one
    /// transaction here not switched to UTF-8: `SHOW client_encoding`
    /// must answer what the session has, as in psql).
    /// Its text is read with standard conforming strings, as dbguard's
    /// parser read it (see [`UTF8`]).
    pub fn run_read(&mut self, sql: &str, sink: &mut dyn RowSink) -> Result<ReadSummary> {
        let mut tx = self.client.build_transaction().read_only(true).start()?;
        tx.batch_execute("SET LOCAL standard_conforming_strings = on")?;
        let beyond = reach::called_beyond(&mut tx, sql)?;
        if !beyond.is_empty() {
            return Err(Error::refused(format!(
                "statement not executed: code it runs acts where a read-only transaction cannot stop it: {}\nNothing was run: a call that acts elsewhere is not a read.",
                beyond.join("; ")
            )));
        }
        let summary = read_in(&mut tx, sql, sink)?;
        tx.commit()?;
        Ok(summary)
    }

    /// A session statement, through the extended protocol: parsed by the
    /// server as exactly one statement, or refused.
    pub(crate) fn run_session(&mut self, sql: &str) -> Result<()> {
        let stmt = self.client.prepare(sql).map_err(|e| sent_as(e, sql, 0))?;
        self.client.execute(&stmt, &[])?;
        Ok(())
    }

    /// One REPEATABLE READ, READ ONLY transaction for all queries of a
    /// preview, so every count sees the same snapshot.
    pub fn preview<T>(
        &mut self,
        budget: std::time::Duration,
        f: impl FnOnce(&mut dyn PreviewTx) -> Result<T>,
    ) -> Result<T> {
        let mut tx = self
            .client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        canonical_output(&mut tx)?;
        let result = {
            let mut runner = PgPreview {
                tx: &mut tx,
                deadline: std::time::Instant::now() + budget,
                restore_ms: None,
            };
            f(&mut runner)
        };
        tx.rollback()?;
        result
    }

    /// One read-only snapshot whose output settings are all pinned, so
    /// every value reads as text that means the same value anywhere:
    /// ISO dates in UTC, `postgres` intervals, exact floats, hex bytea, and
    /// an empty search path, so `reg*` values come schema-qualified. For
    /// the journal's reads (show, export, replay), never the operator's.
    pub fn exact_read<T>(&mut self, f: impl FnOnce(&mut dyn PreviewTx) -> Result<T>) -> Result<T> {
        let mut tx = self
            .client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        tx.batch_execute(EXACT_OUTPUT)?;
        let result = {
            let mut runner = PgPreview {
                tx: &mut tx,
                deadline: std::time::Instant::now() + std::time::Duration::from_secs(24 * 3600),
                restore_ms: None,
            };
            f(&mut runner)
        };
        tx.rollback()?;
        result
    }

    /// One REPEATABLE READ write transaction with lock and statement
    /// timeouts; commits only when `f` returns `Ok`. A concurrent change to
    /// a row the apply touches surfaces as a serialization failure, which
    /// is drift.
    pub fn guarded<T>(
        &mut self,
        opts: &GuardOptions,
        f: impl FnOnce(&mut dyn ApplyTx) -> Result<T>,
    ) -> Result<T> {
        self.write(opts, postgres::IsolationLevel::RepeatableRead, f)
    }

    /// A short READ COMMITTED write transaction: the audit trail's
    /// appends, which lock the chain's head and must then read it as the
    /// last committed append left it (a REPEATABLE READ snapshot taken
    /// before the wait would fail, or see an old head).
    pub fn short_write<T>(
        &mut self,
        opts: &GuardOptions,
        f: impl FnOnce(&mut dyn ApplyTx) -> Result<T>,
    ) -> Result<T> {
        let isolation = postgres::IsolationLevel::ReadCommitted;
        let (txid, value) = self.write(opts, isolation, |tx| {
            let txid = tx
                .query("SELECT txid_current()::text")?
                .and_then(|r| r.rows.first().and_then(|r| r.first()).and_then(Value::text))
                .and_then(|t| t.parse::<u64>().ok());
            Ok((txid, f(tx)?))
        })?;
        if let Some(t) = txid {
            if self.own_txids.len() >= 64 {
                self.own_txids.remove(0);
            }
            self.own_txids.push(t);
        }
        Ok(value)
    }

    /// The snapshot `old` a preview read, moved forward past this
    /// connection's own audit appends: `Some(now)` when every transaction
    /// that ended since `old` was one of them, so the data a preview read
    /// is still the data; `None` when anyone else's may have committed.
    pub(crate) fn refresh_version(&mut self, old: &str) -> Result<Option<String>> {
        let row = self
            .client
            .query_typed_one("SELECT txid_current_snapshot()::text", &[])?;
        let now: String = row.try_get(0)?;
        Ok(only_own_ended(old, &now, &self.own_txids).then_some(now))
    }

    fn write<T>(
        &mut self,
        opts: &GuardOptions,
        isolation: postgres::IsolationLevel,
        f: impl FnOnce(&mut dyn ApplyTx) -> Result<T>,
    ) -> Result<T> {
        let mut tx = self
            .client
            .build_transaction()
            .isolation_level(isolation)
            .start()?;
        let lock_ms = opts.lock_timeout.as_millis().max(1);
        let stmt_ms = opts.statement_timeout.as_millis().max(1);
        // One round trip: a one-row change opens several of these.
        tx.batch_execute(&format!(
            "SET LOCAL lock_timeout = {lock_ms}; SET LOCAL statement_timeout = {stmt_ms}; {CANONICAL_OUTPUT}"
        ))?;
        let result = {
            let mut runner = PgApply {
                preview: PgPreview {
                    tx: &mut tx,
                    deadline: std::time::Instant::now() + opts.statement_timeout,
                    restore_ms: Some(stmt_ms),
                },
                own_catalog_writes: None,
            };
            f(&mut runner)
        };
        match result {
            Ok(v) => {
                tx.commit().map_err(apply_error)?;
                Ok(v)
            }
            Err(e) => {
                let _ = tx.rollback();
                Err(e)
            }
        }
    }

    pub fn canceller(&self) -> Canceller {
        conninfo::canceller(&self.client, &self.params)
    }
}

/// Reads the server's identity. The system identifier needs
/// `pg_control_system()`, which ordinary roles may not call; it is optional.
fn read_identity(
    client: &mut Client,
    params: &PgParams,
    host_index: usize,
) -> Result<TargetIdentity> {
    // Unnamed statements, parsed and run in one round trip each.
    let row = client.query_typed_one(
        "SELECT current_database()::text, current_user::text, current_setting('server_version'), \
                (SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl)",
        &[],
    )?;
    let database: String = row.try_get(0)?;
    let user: String = row.try_get(1)?;
    let server_version: String = row.try_get(2)?;
    let tls: Option<String> = row.try_get(3)?;
    let system_identifier = match client.query_typed_one(
        "SELECT system_identifier::text FROM pg_control_system()",
        &[],
    ) {
        Ok(row) => row.try_get::<_, Option<String>>(0).ok().flatten(),
        Err(_) => None,
    };
    Ok(TargetIdentity {
        engine: super::Engine::Postgres,
        display: params.display_url(),
        database,
        host: params.hosts.get(host_index).cloned(),
        port: params
            .ports
            .get(host_index)
            .or_else(|| params.ports.first())
            .copied(),
        user: Some(user),
        system_identifier,
        server_version,
        tls,
    })
}

/// Whether every transaction that may have ended between two
/// `txid_current_snapshot()` texts (`xmin:xmax:xip,...`) is in `own`: those
/// in progress at `old`, and those started since, unless still in progress
/// at `now`. An aborted one counts as ended: the answer errs on `false`.
fn only_own_ended(old: &str, now: &str, own: &[u64]) -> bool {
    let parse = |s: &str| -> Option<(u64, Vec<u64>)> {
        let mut parts = s.split(':');
        let _xmin = parts.next()?;
        let xmax = parts.next()?.parse().ok()?;
        let xip = parts
            .next()
            .filter(|x| !x.is_empty())
            .map(|x| {
                x.split(',')
                    .map(|t| t.parse().ok())
                    .collect::<Option<Vec<u64>>>()
            })
            .unwrap_or(Some(Vec::new()))?;
        Some((xmax, xip))
    };
    let (Some((xmax1, xip1)), Some((xmax2, xip2))) = (parse(old), parse(now)) else {
        return false;
    };
    if xmax2 < xmax1 || xmax2 - xmax1 > 1000 {
        return false;
    }
    let ended_is_own = |t: &u64| xip2.contains(t) || own.contains(t);
    xip1.iter().all(ended_is_own) && (xmax1..xmax2).all(|t| ended_is_own(&t))
}

/// Runs preview queries inside one read-only transaction; each query runs
/// under a savepoint with `statement_timeout` set to what is left of the
/// budget, so a timeout loses only that query.
pub(crate) struct PgPreview<'a, 't> {
    pub tx: &'a mut Transaction<'t>,
    pub deadline: std::time::Instant,
    /// The `statement_timeout` a write transaction keeps between queries
    /// (its statements' own limit), set back in the same round trip as
    /// each query that lowered it; `None` in a read-only one.
    pub restore_ms: Option<u128>,
}

impl PreviewTx for PgPreview<'_, '_> {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    fn data_version(&mut self) -> Result<Option<String>> {
        let row = self
            .tx
            .query_typed_one("SELECT txid_current_snapshot()::text", &[])?;
        Ok(Some(row.try_get(0)?))
    }

    fn check(&mut self, sql: &str) -> Result<Option<String>> {
        // Parse and analysis only (the extended protocol's Parse/Describe):
        // nothing executes, so a write is fine even in a read-only
        // transaction. A rejection aborts the transaction, hence the
        // savepoint.
        self.tx.batch_execute("SAVEPOINT dbguard_check")?;
        match self.tx.prepare(sql) {
            Ok(_) => {
                self.tx.batch_execute("RELEASE SAVEPOINT dbguard_check")?;
                Ok(None)
            }
            Err(e) if e.as_db_error().is_some() => {
                self.tx.batch_execute(
                    "ROLLBACK TO SAVEPOINT dbguard_check; RELEASE SAVEPOINT dbguard_check",
                )?;
                Ok(Some(describe_error(&e)))
            }
            Err(e) => Err(e.into()),
        }
    }

    fn query(&mut self, sql: &str) -> Result<Option<Rows>> {
        let remaining = self
            .deadline
            .saturating_duration_since(std::time::Instant::now());
        if remaining.is_zero() {
            return Ok(None);
        }
        let ms = remaining.as_millis().max(1);
        let started = std::time::Instant::now();
        // One round trip: the savepoint, the time limit, the query and the
        // release travel together; a failure anywhere skips the rest.
        let restore = self
            .restore_ms
            .map(|r| format!("; SET LOCAL statement_timeout = {r}"))
            .unwrap_or_default();
        let batch = format!(
            "SAVEPOINT dbguard_q; SET LOCAL statement_timeout = {ms}; {sql}; RELEASE SAVEPOINT dbguard_q{restore}"
        );
        let result = self.tx.simple_query(&batch);
        super::trace_sql(sql, started);
        match result {
            Ok(msgs) => {
                let mut rows = Rows::default();
                for msg in msgs {
                    match msg {
                        SimpleQueryMessage::RowDescription(cols) => {
                            rows.columns = cols.iter().map(|c| c.name().to_owned()).collect();
                        }
                        SimpleQueryMessage::Row(row) => rows.rows.push(text_row(&row)),
                        _ => {}
                    }
                }
                Ok(Some(rows))
            }
            Err(e) => {
                let cancelled = e.code() == Some(&SqlState::QUERY_CANCELED);
                self.tx.batch_execute(
                    "ROLLBACK TO SAVEPOINT dbguard_q; RELEASE SAVEPOINT dbguard_q",
                )?;
                // A cancel before the deadline came from the operator (Ctrl-C).
                if cancelled
                    && std::time::Instant::now() + std::time::Duration::from_millis(50)
                        >= self.deadline
                {
                    Ok(None)
                } else {
                    Err(e.into())
                }
            }
        }
    }

    fn stream(&mut self, sql: &str, f: &mut dyn FnMut(Vec<Value>) -> Result<()>) -> Result<u64> {
        stream_in(self.tx, sql, f)
    }

    fn beyond_the_rows(
        &mut self,
        firing: &[(crate::schema::QualName, String)],
        written: &[crate::schema::QualName],
        touched: &[crate::db::Touched<'_>],
    ) -> Result<Vec<String>> {
        reach::beyond_the_rows(self.tx, firing, written, touched)
    }

    fn called_beyond(&mut self, text: &str) -> Result<Vec<String>> {
        reach::called_beyond(self.tx, text)
    }
}

/// `t` as a Postgres text literal. `E''` reads the same whatever
/// `standard_conforming_strings` says.
pub(crate) fn text_literal(t: &str) -> String {
    format!("E'{}'", t.replace('\\', "\\\\").replace('\'', "''"))
}

/// The driver speaks UTF-8 only, and asked for it when it connected; a
/// session may have switched (`set_config('client_encoding', 'LATIN1',
/// false)`), after which names and text would reach the server, and come
/// back, misread. Every transaction of dbguard's own speaks UTF-8 again,
/// for itself only.
///
/// Text is read with standard conforming strings too, whatever the
/// database's default: dbguard's parser reads a backslash in `'...'` as a
/// character, and a session that took it for an escape would read a
/// statement as another one (`'a\' OR x = ' OR true --'`).
const UTF8: &str = "SET LOCAL client_encoding = 'UTF8'; SET LOCAL standard_conforming_strings = on";

/// The settings of [`PgConnection::exact_read`], for its transaction only.
pub(crate) const EXACT_OUTPUT: &str = "SET LOCAL client_encoding = 'UTF8'; SET LOCAL standard_conforming_strings = on; \
     SET LOCAL DateStyle = 'ISO, YMD'; \
     SET LOCAL IntervalStyle = 'postgres'; SET LOCAL TimeZone = 'UTC'; \
     SET LOCAL extra_float_digits = 3; SET LOCAL bytea_output = 'hex'; \
     SET LOCAL search_path = ''";

/// Makes value *output* exact and unambiguous for the rest of the
/// transaction, whatever the database's defaults: ISO dates (numeric time
/// zone offsets, not abbreviations like `IST` that read back as another
/// zone) keeping the session's day/month order for *input*, so predicates
/// mean what they meant; shortest exact floats; hex bytea. Captured
/// before-images then read back as the same values. `pg_catalog` is
/// searched first, as PostgreSQL does unless told otherwise: a session
/// that put it later (`SET search_path = public, pg_catalog`) would let
/// functions and operators of `public` stand in for the built-ins that
/// dbguard's own counting, locking and capturing queries use.
///
/// JIT is off for the transaction: the planner overestimates the rows of
/// the recursive walks a preview runs through cyclic foreign keys by
/// orders of magnitude, past `jit_above_cost`, and compiling each such
/// query took about 250 ms where running it took under one.
fn canonical_output(tx: &mut Transaction<'_>) -> Result<()> {
    tx.batch_execute(CANONICAL_OUTPUT)?;
    Ok(())
}

/// The statements of [`canonical_output`], one round trip, for callers
/// that send other settings with them.
const CANONICAL_OUTPUT: &str = "SET LOCAL client_encoding = 'UTF8'; SET LOCAL standard_conforming_strings = on; \
     SELECT set_config('DateStyle', 'ISO, ' || coalesce(nullif(split_part(current_setting('DateStyle'), ', ', 2), ''), 'MDY'), true), \
            set_config('extra_float_digits', '3', true), \
            set_config('bytea_output', 'hex', true), \
            set_config('jit', 'off', true), \
            set_config('search_path', CASE WHEN current_setting('search_path') = '' THEN 'pg_catalog' \
                       ELSE 'pg_catalog, ' || current_setting('search_path') END, true)";

/// Maps the errors an apply expects to their meaning, by SQLSTATE.
fn apply_error(e: postgres::Error) -> Error {
    let (kind, message) = match e.code() {
        Some(c) if c == &SqlState::T_R_SERIALIZATION_FAILURE => (
            ErrorKind::Drift,
            format!(
                "the rows changed since the preview (a concurrent transaction modified them): {}\nNothing was committed; preview again.",
                describe_error(&e)
            ),
        ),
        Some(c) if c == &SqlState::LOCK_NOT_AVAILABLE => (
            ErrorKind::Database,
            format!(
                "could not lock the rows within lock_timeout: another transaction holds them\nNothing was committed; try again, or raise --lock-timeout. ({})",
                describe_error(&e)
            ),
        ),
        Some(c) if c == &SqlState::QUERY_CANCELED => (
            ErrorKind::Database,
            format!(
                "the change did not finish within statement_timeout (or was cancelled)\nNothing was committed. ({})",
                describe_error(&e)
            ),
        ),
        _ => return e.into(),
    };
    Error::new(kind, message).caused_by(e)
}

/// The apply transaction on Postgres.
pub(crate) struct PgApply<'a, 't> {
    preview: PgPreview<'a, 't>,
    /// Catalog rows dbguard's own DDL wrote (an INSERT's snapshot table),
    /// once [`ApplyTx::catalog_writes`] has been asked: not a trigger's.
    own_catalog_writes: Option<u64>,
}

impl PgApply<'_, '_> {
    /// One statement under the apply's statement timeout (which every
    /// query of the transaction leaves as it found it), in one round trip:
    /// parsed, bound and run in one message, with no statement kept.
    fn execute_timed(&mut self, sql: &str) -> Result<u64> {
        let tx = &mut *self.preview.tx;
        let started = std::time::Instant::now();
        let no_params: [(&(dyn postgres::types::ToSql + Sync), postgres::types::Type); 0] = [];
        let mut rows = tx.query_typed_raw(sql, no_params).map_err(apply_error)?;
        while postgres::fallible_iterator::FallibleIterator::next(&mut rows)
            .map_err(apply_error)?
            .is_some()
        {}
        super::trace_sql(sql, started);
        Ok(rows.rows_affected().unwrap_or(0))
    }
}

impl PreviewTx for PgApply<'_, '_> {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }
    fn data_version(&mut self) -> Result<Option<String>> {
        self.preview.data_version()
    }
    fn check(&mut self, sql: &str) -> Result<Option<String>> {
        self.preview.check(sql)
    }
    fn query(&mut self, sql: &str) -> Result<Option<Rows>> {
        self.preview.query(sql)
    }
    fn stream(&mut self, sql: &str, f: &mut dyn FnMut(Vec<Value>) -> Result<()>) -> Result<u64> {
        self.preview.stream(sql, f)
    }
    fn beyond_the_rows(
        &mut self,
        firing: &[(crate::schema::QualName, String)],
        written: &[crate::schema::QualName],
        touched: &[crate::db::Touched<'_>],
    ) -> Result<Vec<String>> {
        self.preview.beyond_the_rows(firing, written, touched)
    }
    fn called_beyond(&mut self, text: &str) -> Result<Vec<String>> {
        self.preview.called_beyond(text)
    }
}

impl ApplyTx for PgApply<'_, '_> {
    fn lock_rows(&mut self, scope: &RowScope<'_>) -> Result<Option<u64>> {
        let sql = format!(
            "{}SELECT count(*) FROM (SELECT 1 FROM {} AS {a} {} WHERE {} FOR UPDATE OF {a}) AS s",
            scope.with,
            scope.table,
            scope.join,
            scope.cond,
            a = scope.alias
        );
        let started = std::time::Instant::now();
        let msgs = self.preview.tx.simple_query(&sql).map_err(apply_error)?;
        super::trace_sql(&sql, started);
        for m in msgs {
            if let SimpleQueryMessage::Row(r) = m {
                let text = r.try_get(0).ok().flatten().unwrap_or("0");
                return text
                    .parse()
                    .map(Some)
                    .map_err(|_| Error::database(format!("lock query returned {text:?}")));
            }
        }
        Ok(Some(0))
    }

    fn execute(&mut self, sql: &str) -> Result<u64> {
        self.execute_timed(sql)
    }

    fn execute_statement(
        &mut self,
        sql: &str,
        returned: Option<&mut dyn RowSink>,
    ) -> Result<Executed> {
        let reported = match returned {
            Some(sink) => self.execute_returning(sql, sink)?,
            None => self.execute_timed(sql)?,
        };
        Ok(Executed {
            reported,
            changed: None,
        })
    }

    /// The statement runs as the first part of one that copies the rows
    /// it returns: `WITH w AS (INSERT ... RETURNING *) INSERT INTO
    /// snapshot SELECT ... FROM w`, so they never leave the server.
    fn execute_insert(
        &mut self,
        statement: &str,
        returning_all: Option<&str>,
        capture: &InsertCapture<'_>,
        own: Option<OwnReturning<'_>>,
    ) -> Result<(Executed, u64)> {
        let returning = returning_all.ok_or_else(|| {
            Error::database("the INSERT could not be made to return the rows it inserts")
        })?;
        let loc = capture.locator.exprs("t");
        let mut select: Vec<String> = loc
            .iter()
            .enumerate()
            .map(|(i, e)| format!("{e} AS l{}", i + 1))
            .collect();
        select.extend(
            capture
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| format!("t.{c} AS c{}", i + 1)),
        );
        let select = select.join(", ");
        let before = match self.own_catalog_writes {
            Some(_) => Some(counters::catalog_writes(self.preview.tx)?),
            None => None,
        };
        self.execute_timed(&format!(
            "CREATE TABLE {} AS SELECT {select} FROM {} AS t WITH NO DATA",
            capture.into, capture.table
        ))?;
        if let (Some(before), Some(own)) = (before, self.own_catalog_writes.as_mut()) {
            *own += counters::catalog_writes(self.preview.tx)?.saturating_sub(before);
        }
        // An upsert returns the rows it updated too; those are in the
        // before snapshot already, found by the same locator.
        let not_updated = match capture.updated {
            Some(before) if !loc.is_empty() => {
                let on: Vec<String> = loc
                    .iter()
                    .enumerate()
                    .map(|(i, e)| format!("u.l{} = {e}", i + 1))
                    .collect();
                format!(
                    " WHERE NOT EXISTS (SELECT 1 FROM {before} AS u WHERE {})",
                    on.join(" AND ")
                )
            }
            _ => String::new(),
        };
        let copy = format!(
            "dbguard_s AS (INSERT INTO {} SELECT {select} FROM dbguard_w AS t{not_updated} RETURNING 1)",
            capture.into
        );
        if let Some(own) = own {
            return self.insert_returning_own(statement, own, &copy);
        }
        let sql = format!(
            "WITH dbguard_w AS ({returning}), {copy} \
             SELECT (SELECT count(*) FROM dbguard_w), (SELECT count(*) FROM dbguard_s)"
        );
        let tx = &mut *self.preview.tx;
        let started = std::time::Instant::now();
        let row = tx.query_typed_one(sql.as_str(), &[]).map_err(apply_error)?;
        super::trace_sql(&sql, started);
        let reported: i64 = row.try_get(0)?;
        let inserted: i64 = row.try_get(1)?;
        Ok((
            Executed {
                reported: reported.max(0) as u64,
                changed: None,
            },
            inserted.max(0) as u64,
        ))
    }

    fn counters(
        &mut self,
    ) -> Result<Option<std::collections::BTreeMap<crate::schema::QualName, TableCounts>>> {
        counters::table_counts(self.preview.tx).map(Some)
    }

    fn restore_mode(
        &mut self,
        _tables: &[crate::schema::QualName],
    ) -> Result<crate::db::restore::RestoreMode> {
        use crate::db::restore::RestoreMode;
        // The savepoint keeps a refusal from aborting the transaction. Only
        // a refusal means triggers mode: any other failure is the undo's.
        let tx = &mut *self.preview.tx;
        tx.batch_execute("SAVEPOINT dbguard_mode")?;
        match tx.batch_execute("SET LOCAL session_replication_role = replica") {
            Ok(()) => {
                tx.batch_execute("RELEASE SAVEPOINT dbguard_mode")?;
                Ok(RestoreMode::Replica)
            }
            Err(e) if e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) => {
                tx.batch_execute(
                    "ROLLBACK TO SAVEPOINT dbguard_mode; RELEASE SAVEPOINT dbguard_mode",
                )?;
                Ok(RestoreMode::Triggers)
            }
            Err(e) => Err(e.into()),
        }
    }

    fn end_restore(&mut self) -> Result<()> {
        // The replication role ends with the transaction.
        Ok(())
    }

    fn defer_foreign_keys(&mut self) -> Result<bool> {
        // Postgres checks restored rows in replica mode instead.
        Ok(false)
    }

    fn held_beyond_counters(&mut self) -> Result<Vec<(crate::schema::QualName, crate::db::Held)>> {
        counters::held_beyond_counters(self.preview.tx)
    }

    fn catalog_writes(&mut self) -> Result<u64> {
        let own = *self.own_catalog_writes.get_or_insert(0);
        Ok(counters::catalog_writes(self.preview.tx)?.saturating_sub(own))
    }

    fn fire_deferred(&mut self) -> Result<()> {
        self.preview
            .tx
            .batch_execute("SET CONSTRAINTS ALL IMMEDIATE")
            .map_err(apply_error)
    }
}

/// Streams the rows of `sql` through a cursor, 5,000 rows a round trip,
/// values in the server's text form.
fn stream_in(
    tx: &mut Transaction<'_>,
    sql: &str,
    f: &mut dyn FnMut(Vec<Value>) -> Result<()>,
) -> Result<u64> {
    let started = std::time::Instant::now();
    tx.batch_execute(&format!("DECLARE dbguard_cap NO SCROLL CURSOR FOR {sql}\n"))
        .map_err(apply_error)?;
    let mut n = 0u64;
    loop {
        let mut got = 0usize;
        for msg in tx
            .simple_query("FETCH FORWARD 5000 FROM dbguard_cap")
            .map_err(apply_error)?
        {
            if let SimpleQueryMessage::Row(row) = msg {
                f(text_row(&row))?;
                got += 1;
            }
        }
        n += got as u64;
        if got < 5000 {
            break;
        }
    }
    tx.batch_execute("CLOSE dbguard_cap").map_err(apply_error)?;
    super::trace_sql(sql, started);
    Ok(n)
}

/// Whether a statement can be wrapped in a cursor: plain queries can,
/// `SHOW` and `EXPLAIN` cannot (they are small anyway).
fn cursorable(sql: &str) -> bool {
    let first = sql
        .trim_start_matches(|c: char| c.is_whitespace() || c == '(')
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    matches!(first.as_str(), "select" | "with" | "values" | "table")
}

fn is_numeric_type(t: &Type) -> bool {
    matches!(
        *t,
        Type::INT2
            | Type::INT4
            | Type::INT8
            | Type::NUMERIC
            | Type::FLOAT4
            | Type::FLOAT8
            | Type::OID
            | Type::MONEY
    )
}

/// Runs one read statement inside `tx`, streaming rows in text form.
pub(crate) fn read_in(
    tx: &mut Transaction<'_>,
    sql: &str,
    sink: &mut dyn RowSink,
) -> Result<ReadSummary> {
    let body = crate::db::text::strip_trailing_semicolons(sql);
    let mut summary = ReadSummary::default();
    // The server parses the text before anything runs: the extended
    // protocol refuses more than one statement, whatever dbguard's own
    // parser made of it (a string continued across a line, a backslash
    // quote with standard_conforming_strings off). What runs next is
    // that one statement, read by the same server in the same session.
    let stmt = tx.prepare(body).map_err(|e| sent_as(e, body, 0))?;
    if !cursorable(body) {
        let mut started = false;
        for msg in tx.simple_query(body).map_err(|e| sent_as(e, body, 0))? {
            match msg {
                SimpleQueryMessage::RowDescription(cols) => {
                    let metas: Vec<ColumnMeta> = cols
                        .iter()
                        .map(|c| ColumnMeta {
                            name: c.name().to_owned(),
                            numeric: false,
                        })
                        .collect();
                    sink.columns(&metas)?;
                    started = true;
                    summary.has_result = true;
                }
                SimpleQueryMessage::Row(row) => {
                    sink.row(text_row(&row))?;
                    summary.rows += 1;
                }
                SimpleQueryMessage::CommandComplete(_) => {}
                _ => {}
            }
        }
        let _ = started;
        return Ok(summary);
    }

    // The description gives types (for alignment) even for an empty
    // result.
    let metas: Vec<ColumnMeta> = stmt
        .columns()
        .iter()
        .map(|c| ColumnMeta {
            name: c.name().to_owned(),
            numeric: is_numeric_type(c.type_()),
        })
        .collect();
    sink.columns(&metas)?;
    summary.has_result = true;
    // Positions in the server's errors count from the start of this
    // text: the user's statement begins after the DECLARE.
    let declare = "DECLARE dbguard_read NO SCROLL CURSOR FOR ";
    tx.batch_execute(&format!("{declare}{body}\n"))
        .map_err(|e| sent_as(e, body, declare.chars().count()))?;
    let fetch = format!("FETCH FORWARD {FETCH_BATCH} FROM dbguard_read");
    loop {
        let mut got = 0usize;
        for msg in tx.simple_query(&fetch)? {
            if let SimpleQueryMessage::Row(row) = msg {
                sink.row(text_row(&row))?;
                got += 1;
            }
        }
        summary.rows += got as u64;
        if got < FETCH_BATCH {
            break;
        }
    }
    tx.batch_execute("CLOSE dbguard_read")?;
    Ok(summary)
}

fn text_row(row: &postgres::SimpleQueryRow) -> Vec<Value> {
    (0..row.len())
        .map(|i| match row.try_get(i) {
            Ok(Some(s)) => Value::Text(s.to_owned()),
            _ => Value::Null,
        })
        .collect()
}

#[cfg(test)]
mod snapshot_tests {
    use super::only_own_ended;

    #[test]
    fn a_snapshot_moved_only_by_own_transactions_is_the_same_data() {
        assert!(only_own_ended("10:12:10", "10:14:10", &[12, 13]));
        assert!(only_own_ended("10:12:", "12:13:", &[10, 11, 12]));
        // Another transaction (13) ended.
        assert!(!only_own_ended("10:12:", "12:14:", &[10, 11, 12]));
        // One in progress at the preview (10) ended, and it was not ours.
        assert!(!only_own_ended("10:12:10", "12:13:", &[11, 12]));
        // Started since, still running: it committed nothing yet.
        assert!(only_own_ended("10:12:", "10:14:13", &[12]));
        assert!(!only_own_ended("garbage", "10:14:13", &[12]));
    }
}
