//! Why an attempt to connect failed, in one line naming the host, user or
//! database, and one line saying what to do; and whether libpq would go on
//! to the next address or host.
//!
//! Server errors are told apart by SQLSTATE, client-side failures by the
//! error types in the driver error's source chain (our own
//! [`HandshakeError`], `std::io::Error` and its kind) and by what dbguard's
//! own TLS connector saw ([`TlsUse`]). Only the driver's "password
//! missing" is still recognised by its text: nothing else tells it apart.
//! libpq tries the next host when a host cannot be reached, but stops once
//! a server has answered: a wrong password would be wrong on the standby
//! too.

use std::net::IpAddr;

use postgres::error::{DbError, SqlState};

use super::connect::Endpoint;
use super::tls::HandshakeError;
use super::{SslMode, is_socket_host};
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

/// The first error of type `T` in a driver error's source chain.
fn source_of<T: std::error::Error + 'static>(e: &postgres::Error) -> Option<&T> {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(t) = s.downcast_ref::<T>() {
            return Some(t);
        }
        source = s.source();
    }
    None
}

/// The failed TLS handshake inside a driver error, if that is what failed.
pub(super) fn tls_error(e: &postgres::Error) -> Option<&HandshakeError> {
    source_of::<HandshakeError>(e)
}

/// What became of TLS in a failed attempt, as dbguard's own connector saw
/// it: the driver's error does not say, other than in its message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TlsUse {
    /// A plain connection: sslmode=disable, a socket directory, or the
    /// retry in plain text after a failed handshake.
    Plain,
    /// TLS was asked for (sslmode=prefer or stronger).
    Asked,
    /// sslmode=require or stronger, and the driver got as far as TLS but
    /// never started the handshake. Between sending SSLRequest and the
    /// handshake, the driver fails only on I/O while reading the answer
    /// (which [`classify`] looks at first) or because the answer was not
    /// 'S': the server does not support TLS.
    Declined,
}

/// Turns a failed attempt into one line naming what failed and one line
/// saying what to do. Server errors are told apart by SQLSTATE only.
pub(super) fn classify(e: &postgres::Error, to: &Endpoint<'_>, tls: TlsUse) -> Attempt {
    let place = place(to);
    if let Some(db) = e.as_db_error() {
        return server_refused(db, to, &place, tls);
    }
    if let Some(t) = tls_error(e) {
        return Attempt::Next(handshake_failed(t, to.params.sslmode, &place));
    }
    if let Some(seen) = not_the_protocol(e) {
        return Attempt::Next(Failure {
            cause: format!(
                "the server at {place} did not speak the PostgreSQL protocol as expected ({seen})"
            ),
            short: format!("{place}: not the PostgreSQL protocol ({seen})"),
            advice: "Check that this host and port are a PostgreSQL server and not another service, that a connection pooler in front of it runs in session mode (not transaction or statement mode), and the sslmode (a TLS-only endpoint answers a plain connection with something else)."
                .to_owned(),
        });
    }
    if let Some(io) = source_of::<std::io::Error>(e) {
        return Attempt::Next(unreachable(io, to, &place));
    }
    client_side(e, to, &place, tls)
}

/// What arrived instead of the PostgreSQL protocol, when the peer answered
/// with something the driver could not read as it: another service on the
/// port (MySQL greets first, HTTP answers anything), or a pooler or proxy
/// in the wrong mode.
///
/// The driver's error kinds are not public. A decoder failure is an I/O
/// error of kind `InvalidInput` or `InvalidData`, which is typed; but a
/// message of a type not expected at that point, and bytes left over when
/// the peer closed, exist only as the fixed text of the driver's own
/// errors (tokio-postgres' `Kind::UnexpectedMessage`, tokio-util's framed
/// reader at end of stream). That text is matched here, and only here.
fn not_the_protocol(e: &postgres::Error) -> Option<&'static str> {
    const UNEXPECTED: &str = "unexpected message from server";
    const LEFT_OVER: &str = "bytes remaining on stream";
    if std::error::Error::source(e).is_none() && e.to_string() == UNEXPECTED {
        return Some(UNEXPECTED);
    }
    let io = source_of::<std::io::Error>(e)?;
    match io.kind() {
        std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData => {
            Some("a message it could not read")
        }
        std::io::ErrorKind::Other if io.to_string() == LEFT_OVER => Some(LEFT_OVER),
        _ => None,
    }
}

/// Where the attempt went, for messages: the host, plus the address when
/// the host is a name.
fn place(to: &Endpoint<'_>) -> String {
    let place = to.params.place(to.host);
    match to.addr {
        Some(a) if to.host_name().parse::<IpAddr>().is_err() => format!("{place} (address {a})"),
        _ => place,
    }
}

/// The server answered with an error: only a server that is starting or
/// stopping lets libpq try the next host.
fn server_refused(db: &DbError, to: &Endpoint<'_>, place: &str, tls: TlsUse) -> Attempt {
    let user = &to.params.user;
    let code = db.code();
    let fatal = |message: String| Attempt::Fatal(Error::connect(message));
    if code == &SqlState::INVALID_PASSWORD {
        let how = if to.password.is_some() {
            "the server rejected the password"
        } else {
            "no password was given"
        };
        return fatal(format!(
            "authentication failed for user \"{user}\" at {place}: {how}\nCheck the user name and the password (in the target, PGPASSWORD or the .pgpass file)."
        ));
    }
    if code == &SqlState::INVALID_AUTHORIZATION_SPECIFICATION {
        let ssl_hint = if tls != TlsUse::Plain {
            ""
        } else if is_socket_host(to.host_name()) {
            "; over TCP with sslmode=require if it only accepts SSL"
        } else {
            "; if it only accepts SSL connections, use sslmode=require"
        };
        return fatal(format!(
            "authentication failed for user \"{user}\" at {place}: {}\nCheck the user name and the server's pg_hba.conf{ssl_hint}.",
            db.message()
        ));
    }
    if code == &SqlState::INVALID_CATALOG_NAME {
        return fatal(format!(
            "database \"{}\" does not exist on server {place}\nCheck the database name (psql's \\l lists them) or create it first.",
            to.params.dbname
        ));
    }
    if code == &SqlState::CANNOT_CONNECT_NOW {
        // libpq tries the next host here: a server that is starting or
        // stopping may have a standby that is not.
        return Attempt::Next(Failure {
            cause: format!(
                "server at {place} is not accepting connections: {}",
                db.message()
            ),
            short: format!("{place}: {}", db.message()),
            advice: "Wait for the server to finish starting, or connect to another one.".to_owned(),
        });
    }
    if code == &SqlState::TOO_MANY_CONNECTIONS {
        return fatal(format!(
            "server at {place} refused the connection: {}\nClose idle sessions or retry later.",
            db.message()
        ));
    }
    let advice = db
        .hint()
        .map(str::to_owned)
        .unwrap_or_else(|| "Check the connection parameters.".to_owned());
    fatal(format!(
        "server at {place} refused the connection for user \"{user}\": {}\n{advice}",
        db.message()
    ))
}

fn handshake_failed(t: &HandshakeError, sslmode: SslMode, place: &str) -> Failure {
    let advice = match sslmode {
        SslMode::VerifyFull => {
            "Check that the host name matches the server's certificate and that sslrootcert holds the CA that signed it (or use sslmode=verify-ca)."
        }
        _ => {
            "Check that sslrootcert holds the CA that signed the server's certificate, or use sslmode=require without it."
        }
    };
    Failure {
        cause: format!("TLS handshake with {place} failed: {t}"),
        short: format!("{place}: TLS handshake failed: {t}"),
        advice: advice.to_owned(),
    }
}

/// No server could be reached at this address (or it was not of the kind
/// `target_session_attrs` asks for).
fn unreachable(io: &std::io::Error, to: &Endpoint<'_>, place: &str) -> Failure {
    use std::io::ErrorKind as K;
    let socket = is_socket_host(to.host_name());
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
    Failure {
        cause: format!("cannot connect to PostgreSQL at {place}: {cause}"),
        short: format!("{place}: {cause}"),
        advice: advice.to_owned(),
    }
}

/// Failures the driver itself raised, with neither a server error nor a
/// typed source to go by.
fn client_side(e: &postgres::Error, to: &Endpoint<'_>, place: &str, tls: TlsUse) -> Attempt {
    let params = to.params;
    let user = &params.user;
    // The driver reports "password missing" as a bare message, with no
    // typed source or public error kind, and the server's request for a
    // password happens inside the driver where dbguard cannot see it. It
    // is the client library's own error, not the server's, so the
    // innermost message is all there is to go on.
    let innermost = {
        let mut last = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            last = s.to_string();
            source = s.source();
        }
        last
    };
    if to.password.is_none() && innermost == "password missing" {
        return Attempt::Fatal(Error::connect(format!(
            "authentication failed for user \"{user}\" at {place}: the server asks for a password and none was given\nGive one in the target, PGPASSWORD or the password file ({}).",
            params
                .passfile
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "PGPASSFILE or ~/.pgpass".to_owned())
        )));
    }
    if tls == TlsUse::Declined {
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
