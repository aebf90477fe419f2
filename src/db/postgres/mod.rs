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
    ApplyTx, BulkFormat, Canceller, ChunkSink, ColumnMeta, Engine, GuardOptions, PreviewTx,
    ReadSummary, RowScope, RowSink, Rows, TableCounts, TargetIdentity, Value, Written, columns_of,
};
use crate::error::{Error, ErrorKind, Result};
use crate::schema::Schema;
use conninfo::PgParams;

pub mod catalog;
pub mod conninfo;
pub mod copy;
pub mod restore;

/// Rows fetched per round trip when streaming a read.
const FETCH_BATCH: usize = 1000;

pub struct PgConnection {
    client: Client,
    params: PgParams,
    identity: TargetIdentity,
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
        let schema = catalog::load(&mut tx, &mut catalog::QueryCounter::default())?;
        tx.commit()?;
        Ok(schema)
    }

    pub fn run_read(&mut self, sql: &str, sink: &mut dyn RowSink) -> Result<ReadSummary> {
        let mut tx = self.client.build_transaction().read_only(true).start()?;
        let summary = read_in(&mut tx, sql, sink)?;
        tx.commit()?;
        Ok(summary)
    }

    pub(crate) fn run_session(&mut self, sql: &str) -> Result<()> {
        self.client.batch_execute(sql)?;
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
        let mut tx = self
            .client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .start()?;
        let lock_ms = opts.lock_timeout.as_millis().max(1);
        let stmt_ms = opts.statement_timeout.as_millis().max(1);
        tx.batch_execute(&format!(
            "SET LOCAL lock_timeout = {lock_ms}; SET LOCAL statement_timeout = {stmt_ms}"
        ))?;
        canonical_output(&mut tx)?;
        let result = {
            let mut runner = PgApply {
                preview: PgPreview {
                    tx: &mut tx,
                    deadline: std::time::Instant::now() + opts.statement_timeout,
                },
                statement_timeout_ms: stmt_ms,
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

    /// `txid_status()` of a transaction id: committed, aborted, in progress,
    /// or `None` when the server no longer knows (too old).
    pub(crate) fn txid_status(&mut self, txid: &str) -> Result<Option<String>> {
        let id: i64 = txid
            .parse()
            .map_err(|_| Error::database(format!("journal holds a bad transaction id {txid:?}")))?;
        let row = self.client.query_one("SELECT txid_status($1)", &[&id])?;
        Ok(row.try_get::<_, Option<String>>(0)?)
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
    let row = client.query_one(
        "SELECT current_database(), current_user, current_setting('server_version')",
        &[],
    )?;
    let database: String = row.try_get(0)?;
    let user: String = row.try_get(1)?;
    let server_version: String = row.try_get(2)?;
    let system_identifier = match client.query_one(
        "SELECT system_identifier::text FROM pg_control_system()",
        &[],
    ) {
        Ok(row) => row.try_get::<_, Option<String>>(0).ok().flatten(),
        Err(_) => None,
    };
    let tls = client
        .query_opt(
            "SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl",
            &[],
        )
        .ok()
        .flatten()
        .and_then(|r| r.try_get::<_, Option<String>>(0).ok().flatten());
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

/// Runs preview queries inside one read-only transaction; each query runs
/// under a savepoint with `statement_timeout` set to what is left of the
/// budget, so a timeout loses only that query.
pub(crate) struct PgPreview<'a, 't> {
    pub tx: &'a mut Transaction<'t>,
    pub deadline: std::time::Instant,
}

impl PreviewTx for PgPreview<'_, '_> {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    fn data_version(&mut self) -> Result<Option<String>> {
        let row = self
            .tx
            .query_one("SELECT txid_current_snapshot()::text", &[])?;
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
        let batch = format!(
            "SAVEPOINT dbguard_q; SET LOCAL statement_timeout = {ms}; {sql}; RELEASE SAVEPOINT dbguard_q"
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

    fn query_with_text(&mut self, before: &str, text: &str, after: &str) -> Result<Option<Rows>> {
        // The preview's queries travel as simple-protocol batches (one
        // round trip with their savepoint), so the value goes as a literal.
        self.query(&format!("{before}{}{after}", text_literal(text)))
    }
}

/// `t` as a Postgres text literal. `E''` reads the same whatever
/// `standard_conforming_strings` says.
pub(crate) fn text_literal(t: &str) -> String {
    format!("E'{}'", t.replace('\\', "\\\\").replace('\'', "''"))
}

/// Makes value *output* exact and unambiguous for the rest of the
/// transaction, whatever the database's defaults: ISO dates (numeric time
/// zone offsets, not abbreviations like `IST` that read back as another
/// zone) keeping the session's day/month order for *input*, so predicates
/// mean what they meant; shortest exact floats; hex bytea. Captured
/// before-images then read back as the same values.
fn canonical_output(tx: &mut Transaction<'_>) -> Result<()> {
    tx.batch_execute(
        "SELECT set_config('DateStyle', 'ISO, ' || coalesce(nullif(split_part(current_setting('DateStyle'), ', ', 2), ''), 'MDY'), true), \
                set_config('extra_float_digits', '3', true), \
                set_config('bytea_output', 'hex', true)",
    )?;
    Ok(())
}

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
    statement_timeout_ms: u128,
}

impl PgApply<'_, '_> {
    /// One statement under the apply's statement timeout.
    fn execute_timed(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<u64> {
        let tx = &mut *self.preview.tx;
        tx.batch_execute(&format!(
            "SET LOCAL statement_timeout = {}",
            self.statement_timeout_ms
        ))?;
        let started = std::time::Instant::now();
        let n = tx.execute(sql, params).map_err(apply_error)?;
        super::trace_sql(sql, started);
        Ok(n)
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
    fn query_with_text(&mut self, before: &str, text: &str, after: &str) -> Result<Option<Rows>> {
        self.preview.query_with_text(before, text, after)
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

    fn stream(&mut self, sql: &str, f: &mut dyn FnMut(Vec<Value>) -> Result<()>) -> Result<u64> {
        let started = std::time::Instant::now();
        let tx = &mut *self.preview.tx;
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

    fn copy_out(&mut self, sql: &str, f: &mut ChunkSink<'_>) -> Result<Option<u64>> {
        use std::io::Read;
        let started = std::time::Instant::now();
        let tx = &mut *self.preview.tx;
        let mut reader = tx
            .copy_out(format!("COPY ({sql}) TO STDOUT").as_str())
            .map_err(apply_error)?;
        let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
        let mut chunk = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            let n = reader
                .read(&mut chunk)
                .map_err(|e| Error::database(format!("reading the captured rows failed: {e}")))?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            // Hand over complete lines once a good amount has gathered.
            if buf.len() >= 1 << 20
                && let Some(end) = buf.iter().rposition(|&b| b == b'\n')
            {
                let rest = buf.split_off(end + 1);
                let lines = buf.iter().filter(|&&b| b == b'\n').count() as u64;
                f(BulkFormat::Copy, &buf, lines)?;
                buf = rest;
                total += lines;
            }
        }
        if !buf.is_empty() {
            let lines = buf.iter().filter(|&&b| b == b'\n').count() as u64;
            f(BulkFormat::Copy, &buf, lines)?;
            total += lines;
        }
        drop(reader);
        super::trace_sql(sql, started);
        Ok(Some(total))
    }

    fn copy_in(
        &mut self,
        sql: &str,
        f: &mut dyn FnMut(&mut dyn std::io::Write) -> Result<()>,
    ) -> Result<Option<u64>> {
        let started = std::time::Instant::now();
        let mut writer = self.preview.tx.copy_in(sql).map_err(apply_error)?;
        f(&mut writer)?;
        let n = writer.finish().map_err(apply_error)?;
        super::trace_sql(sql, started);
        Ok(Some(n))
    }

    fn execute(&mut self, sql: &str) -> Result<u64> {
        self.execute_timed(sql, &[])
    }

    fn execute_with_text(&mut self, before: &str, text: &str, after: &str) -> Result<u64> {
        self.execute_timed(&format!("{before}$1::text{after}"), &[&text])
    }

    fn insert_packed(
        &mut self,
        _insert: &str,
        _columns: &[usize],
        _packed: &[u8],
    ) -> Result<Option<u64>> {
        // Postgres restores through COPY into staging tables instead.
        Ok(None)
    }

    fn counters(
        &mut self,
    ) -> Result<Option<std::collections::BTreeMap<crate::schema::QualName, TableCounts>>> {
        let rows = self.preview.tx.query(
            "SELECT schemaname::text, relname::text, n_tup_del, n_tup_upd, n_tup_ins \
             FROM pg_stat_xact_user_tables WHERE n_tup_del + n_tup_upd + n_tup_ins > 0",
            &[],
        )?;
        let mut out = std::collections::BTreeMap::new();
        for r in rows {
            let schema: String = r.try_get(0)?;
            let name: String = r.try_get(1)?;
            let del: i64 = r.try_get(2)?;
            let upd: i64 = r.try_get(3)?;
            let ins: i64 = r.try_get(4)?;
            out.insert(
                crate::schema::QualName::new(Some(&schema), &name),
                TableCounts {
                    deleted: del.max(0) as u64,
                    updated: upd.max(0) as u64,
                    inserted: ins.max(0) as u64,
                },
            );
        }
        Ok(Some(out))
    }

    fn total_changes(&mut self) -> Result<Option<u64>> {
        Ok(None)
    }

    fn txid(&mut self) -> Result<Option<String>> {
        let row = self
            .preview
            .tx
            .query_one("SELECT txid_current()::text", &[])?;
        Ok(row.try_get::<_, Option<String>>(0)?)
    }

    fn restore_mode(&mut self) -> Result<crate::db::restore::RestoreMode> {
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

    fn defer_foreign_keys(&mut self) -> Result<bool> {
        // Postgres checks restored rows in replica mode instead.
        Ok(false)
    }

    fn remember_rows(&mut self, _: &crate::schema::Table) -> Result<()> {
        // Rows this transaction writes carry its id in xmin.
        Ok(())
    }

    fn written_rows(
        &mut self,
        info: &crate::schema::TableInfo,
        sink: &mut dyn crate::db::WrittenSink,
    ) -> Result<()> {
        // xmin is the 32-bit transaction id; txid_current() adds the epoch.
        let sql = format!(
            "SELECT {} FROM {} AS a WHERE a.xmin::text = (txid_current() % 4294967296)::text",
            columns_of(info, "a"),
            info.sql_name()
        );
        self.stream(&sql, &mut |row| sink.row(Written::Either, row))?;
        Ok(())
    }
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
    if !cursorable(body) {
        let mut started = false;
        for msg in tx.simple_query(body)? {
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

    // Describe first: it gives types (for alignment) even for an empty result.
    let stmt = tx.prepare(body)?;
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
    tx.batch_execute(&format!(
        "DECLARE dbguard_read NO SCROLL CURSOR FOR {body}\n"
    ))?;
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

/// Turns a driver error into one readable message: the server's error with
/// its detail and hint, or what went wrong on the wire.
pub(crate) fn describe_error(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = format!("{}: {}", db.severity(), db.message());
        if db.code() == &SqlState::QUERY_CANCELED {
            s = "query cancelled".to_owned();
        }
        if let Some(detail) = db.detail() {
            s.push_str("\nDETAIL: ");
            s.push_str(detail);
        }
        if let Some(hint) = db.hint() {
            s.push_str("\nHINT: ");
            s.push_str(hint);
        }
        return s;
    }
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        let text = inner.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = inner.source();
    }
    s
}

/// A driver error as dbguard shows it, keeping the driver error (and its
/// SQLSTATE) as the cause. The server's own errors begin with their
/// severity, as psql shows them.
impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Self {
        let labelled = e
            .as_db_error()
            .is_some_and(|db| db.code() != &SqlState::QUERY_CANCELED);
        let error = Error::database(describe_error(&e)).caused_by(e);
        if labelled { error.labelled() } else { error }
    }
}
