//! Why an attempt to connect failed, in one line naming the host, user or
//! database, and one line saying what to do; and whether libpq would go on
//! to the next address or host.
//!
//! Server errors are told apart by SQLSTATE, client-side failures by the
//! error types in the driver error's source chain (our own
//! [`HandshakeError`], `std::io::Error` and its kind). libpq tries the next
//! host when a host cannot be reached, but stops once a server has
//! answered: a wrong password would be wrong on the standby too.

use std::net::IpAddr;

use postgres::error::SqlState;

use super::tls::HandshakeError;
use super::{PgParams, SslMode, is_socket_host};
use crate::error::Error;

/// Why one host could not be used.
pub(super) struct Failure {
    /// The whole cause, e.g. `cannot connect to PostgreSQL at 127.0.0.1:1:
    /// connection refused`.
    pub(super) cause: String,
    /// Where and what, for a list of several hosts: `127.0.0.1:1:
    /// connection refused`.
    pub(super) short: String,
    /// What to do about it.
    pub(super) advice: String,
}

/// The outcome of one attempt: stop (the server answered, and libpq does
/// not try further hosts after that), or try the next address/host.
pub(super) enum Attempt {
    Fatal(Error),
    Next(Failure),
}

pub(super) fn dns_failure(host: &str, err: &str) -> Failure {
    Failure {
        cause: format!("cannot resolve host name \"{host}\" ({err})"),
        short: format!("{host}: cannot resolve host name ({err})"),
        advice: "Check the host name, or give its IP address as host or hostaddr.".to_owned(),
    }
}

pub(super) fn all_failed(mut failures: Vec<Failure>) -> Error {
    if failures.len() == 1
        && let Some(f) = failures.pop()
    {
        return Error::connect(format!("{}\n{}", f.cause, f.advice));
    }
    let causes: Vec<&str> = failures.iter().map(|f| f.short.as_str()).collect();
    let mut advice: Vec<&str> = Vec::new();
    for f in &failures {
        if !advice.contains(&f.advice.as_str()) {
            advice.push(&f.advice);
        }
    }
    if causes.is_empty() {
        return Error::connect("no host to connect to\nGive host=... in the target or set PGHOST.");
    }
    Error::connect(format!(
        "cannot connect to any of {} PostgreSQL hosts: {}\n{}",
        causes.len(),
        causes.join("; "),
        advice.join(" ")
    ))
}

/// The failed TLS handshake inside a driver error, if that is what failed.
pub(super) fn tls_error(e: &postgres::Error) -> Option<&HandshakeError> {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(t) = s.downcast_ref::<HandshakeError>() {
            return Some(t);
        }
        source = s.source();
    }
    None
}

fn io_error(e: &postgres::Error) -> Option<&std::io::Error> {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(t) = s.downcast_ref::<std::io::Error>() {
            return Some(t);
        }
        source = s.source();
    }
    None
}

/// Turns a failed attempt into one line naming what failed and one line
/// saying what to do. Server errors are told apart by SQLSTATE only.
pub(super) fn classify(
    e: &postgres::Error,
    params: &PgParams,
    i: usize,
    addr: Option<IpAddr>,
    password: Option<&str>,
    tls_tried: bool,
) -> Attempt {
    let mut place = params.place(i);
    if let Some(a) = addr
        && params
            .hosts
            .get(i)
            .is_some_and(|h| h.parse::<IpAddr>().is_err())
    {
        place = format!("{place} (address {a})");
    }
    let user = &params.user;
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        if code == &SqlState::INVALID_PASSWORD {
            let how = if password.is_some() {
                "the server rejected the password"
            } else {
                "no password was given"
            };
            return Attempt::Fatal(Error::connect(format!(
                "authentication failed for user \"{user}\" at {place}: {how}\nCheck the user name and the password (in the target, PGPASSWORD or the .pgpass file)."
            )));
        }
        if code == &SqlState::INVALID_AUTHORIZATION_SPECIFICATION {
            let ssl_hint = if tls_tried {
                ""
            } else if is_socket_host(&params.hosts[i]) {
                "; over TCP with sslmode=require if it only accepts SSL"
            } else {
                "; if it only accepts SSL connections, use sslmode=require"
            };
            return Attempt::Fatal(Error::connect(format!(
                "authentication failed for user \"{user}\" at {place}: {}\nCheck the user name and the server's pg_hba.conf{ssl_hint}.",
                db.message()
            )));
        }
        if code == &SqlState::INVALID_CATALOG_NAME {
            return Attempt::Fatal(Error::connect(format!(
                "database \"{}\" does not exist on server {place}\nCheck the database name (psql's \\l lists them) or create it first.",
                params.dbname
            )));
        }
        if code == &SqlState::CANNOT_CONNECT_NOW {
            // libpq tries the next host here: a server that is starting
            // or stopping may have a standby that is not.
            return Attempt::Next(Failure {
                cause: format!(
                    "server at {place} is not accepting connections: {}",
                    db.message()
                ),
                short: format!("{place}: {}", db.message()),
                advice: "Wait for the server to finish starting, or connect to another one."
                    .to_owned(),
            });
        }
        if code == &SqlState::TOO_MANY_CONNECTIONS {
            return Attempt::Fatal(Error::connect(format!(
                "server at {place} refused the connection: {}\nClose idle sessions or retry later.",
                db.message()
            )));
        }
        let advice = db
            .hint()
            .map(str::to_owned)
            .unwrap_or_else(|| "Check the connection parameters.".to_owned());
        return Attempt::Fatal(Error::connect(format!(
            "server at {place} refused the connection for user \"{user}\": {}\n{advice}",
            db.message()
        )));
    }
    if let Some(t) = tls_error(e) {
        let advice = match params.sslmode {
            SslMode::VerifyFull => {
                "Check that the host name matches the server's certificate and that sslrootcert holds the CA that signed it (or use sslmode=verify-ca)."
            }
            _ => {
                "Check that sslrootcert holds the CA that signed the server's certificate, or use sslmode=require without it."
            }
        };
        return Attempt::Next(Failure {
            cause: format!("TLS handshake with {place} failed: {t}"),
            short: format!("{place}: TLS handshake failed: {t}"),
            advice: advice.to_owned(),
        });
    }
    if let Some(io) = io_error(e) {
        use std::io::ErrorKind as K;
        let socket = params.hosts.get(i).is_some_and(|h| is_socket_host(h));
        let (cause, advice) = match io.kind() {
            K::ConnectionRefused => (
                "connection refused".to_owned(),
                "Check that the server is running and accepts TCP connections on that host and port.",
            ),
            K::TimedOut => (
                "connection timed out".to_owned(),
                "Check the host and port, and that no firewall drops the connection.",
            ),
            K::NotFound if socket => (
                "no such socket".to_owned(),
                "Check that the server is running on this machine with that socket directory and port.",
            ),
            K::PermissionDenied if socket => (
                "permission denied".to_owned(),
                "Check that this user may open the server's socket.",
            ),
            // target_session_attrs rejected this server: try the next one.
            K::PermissionDenied => (
                io.to_string(),
                "Check target_session_attrs, or connect to a server of the wanted kind.",
            ),
            _ => (
                io.to_string(),
                "Check the host and port, and that a PostgreSQL server listens there.",
            ),
        };
        return Attempt::Next(Failure {
            cause: format!("cannot connect to PostgreSQL at {place}: {cause}"),
            short: format!("{place}: {cause}"),
            advice: advice.to_owned(),
        });
    }
    // The driver reports "password missing" and "server does not support
    // TLS" as bare messages with no typed source or public kind. These are
    // the client library's own errors, not the server's, so the innermost
    // message is all there is to go on.
    let innermost = {
        let mut last = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            last = s.to_string();
            source = s.source();
        }
        last
    };
    if password.is_none() && innermost == "password missing" {
        return Attempt::Fatal(Error::connect(format!(
            "authentication failed for user \"{user}\" at {place}: the server asks for a password and none was given\nGive one in the target, PGPASSWORD or the password file ({}).",
            params
                .passfile
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "PGPASSFILE or ~/.pgpass".to_owned())
        )));
    }
    if tls_tried && innermost.contains("does not support TLS") {
        return Attempt::Next(Failure {
            cause: format!(
                "server at {place} does not support SSL, but sslmode={} requires it",
                params.sslmode
            ),
            short: format!("{place}: server does not support SSL"),
            advice: "Enable ssl on the server, or use sslmode=prefer or disable if an unencrypted connection is acceptable."
                .to_owned(),
        });
    }
    let what = crate::db::postgres::describe_error(e).replace('\n', " ");
    Attempt::Next(Failure {
        cause: format!("cannot connect to PostgreSQL at {place}: {what}"),
        short: format!("{place}: {what}"),
        advice: "Check the connection parameters and the server's log.".to_owned(),
    })
}
