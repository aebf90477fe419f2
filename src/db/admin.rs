//! The session an administrative change acts on, from PostgreSQL's
//! `pg_stat_activity`, and the signal itself (`crate::change::Admin`).
//!
//! A pid alone does not name a session: once a session ends, the server
//! may give its pid to the next one. The session is therefore the pid and
//! its `backend_start`; the preview binds both, and the apply signals only
//! while both still match.

use serde::Serialize;

use super::{ApplyTx, PreviewTx, Value};
use crate::error::{Error, Result};
use crate::model::Engine;
use crate::model::admin::AdminCall;

/// One server session, as `pg_stat_activity` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    pub pid: i32,
    pub user: Option<String>,
    pub database: Option<String>,
    pub application: String,
    /// The client's address, `None` over a Unix socket.
    pub client: Option<String>,
    /// `client backend`, `autovacuum worker`, ...
    pub backend_type: String,
    /// `active`, `idle`, `idle in transaction`, ...
    pub state: Option<String>,
    /// When the session started (UTC, microseconds): with the pid, what
    /// tells this session from a later one given the same pid.
    pub started: String,
    /// How long its transaction has been open, where one is.
    pub transaction_age: Option<String>,
    /// How long its current (or last) query has been running.
    pub query_age: Option<String>,
    /// Its current or last query, as the server shows it to this role.
    pub query: Option<String>,
    /// Whether it is the session asking.
    pub own: bool,
}

/// The session with process id `pid`, if the server has one.
pub fn session(tx: &mut dyn PreviewTx, pid: i32) -> Result<Option<Session>> {
    if tx.engine() != Engine::Postgres {
        return Err(Error::input(
            "SQLite has no server sessions to terminate or cancel",
        ));
    }
    let sql = format!(
        "SELECT pid::text, usename::text, datname::text, coalesce(application_name, ''), \
                pg_catalog.host(client_addr), coalesce(backend_type, ''), state, \
                to_char(backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), \
                date_trunc('second', now() - xact_start)::text, \
                date_trunc('second', now() - query_start)::text, query, \
                (pid = pg_catalog.pg_backend_pid())::text \
         FROM pg_catalog.pg_stat_activity WHERE pid = {pid}"
    );
    let rows = tx.query(&sql)?.ok_or_else(|| {
        Error::database("reading pg_stat_activity did not finish within the statement timeout")
    })?;
    let Some(row) = rows.rows.first() else {
        return Ok(None);
    };
    let text = |i: usize| row.get(i).and_then(Value::text);
    Ok(Some(Session {
        pid,
        user: text(1),
        database: text(2),
        application: text(3).unwrap_or_default(),
        client: text(4),
        backend_type: text(5).unwrap_or_default(),
        state: text(6),
        started: text(7).unwrap_or_default(),
        transaction_age: text(8),
        query_age: text(9),
        query: text(10),
        own: text(11).as_deref() == Some("true"),
    }))
}

/// Sends `call`'s signal; whether the server found the session to signal
/// (`pg_terminate_backend` with a timeout: whether it ended in time).
pub fn signal(tx: &mut dyn ApplyTx, call: &AdminCall) -> Result<bool> {
    let timeout = call
        .timeout_ms
        .map(|t| format!(", {t}"))
        .unwrap_or_default();
    let sql = format!(
        "SELECT pg_catalog.{}({}{timeout})::text",
        call.function.sql_name(),
        call.pid
    );
    let rows = tx.query(&sql)?.ok_or_else(|| {
        Error::database(format!(
            "{}({}) did not finish within the statement timeout",
            call.function.sql_name(),
            call.pid
        ))
    })?;
    Ok(rows
        .rows
        .first()
        .and_then(|r| r.first())
        .and_then(Value::text)
        .as_deref()
        == Some("true"))
}
