//! Connecting: each host of the target in turn (and each address of a host
//! name), with libpq's fallbacks between sslmodes, until one server
//! accepts or answers with an error.
//!
//! Host names are resolved here rather than by the driver, and the driver
//! gets one address per attempt, so a DNS failure, a refused connection
//! and a server's refusal are reported separately, per host. `prefer` and
//! `allow` retry in plain text only when the TLS handshake itself failed,
//! as libpq does; a server that answered is never retried.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use postgres::config::SslMode as WireSslMode;
use postgres::{Client, NoTls};

use super::classify::{Attempt, Failure, TlsUse, all_failed, classify, dns_failure, tls_error};
use super::pgpass::{pgpass_lookup, read_passfile};
use super::tls::{TlsConnector, tls_connector};
use super::{DEFAULT_PORT, PgParams, SslMode, is_socket_host};
use crate::db::Canceller;
use crate::error::{Error, Result};

/// Connects to the first host that accepts, like libpq: each host (and
/// each address of a host name) in order; a server that answers with an
/// error (bad password, missing database) ends the search.
pub fn connect(params: &PgParams) -> Result<Client> {
    connect_with_host(params).map(|(client, _)| client)
}

/// How long connecting may take in all when the target sets no
/// `connect_timeout`.
const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);

/// Like [`connect`], also saying which entry of `params.hosts` answered,
/// so the identity of a multi-host target names the server really used.
///
/// The driver's `connect_timeout` only bounds opening the socket: a peer
/// that accepts and then says nothing (a Redis, an HTTP server, a stuck
/// proxy) would hold the session forever. So the whole attempt runs on a
/// thread and is given up at a deadline: `connect_timeout` for each host,
/// or a minute.
pub(crate) fn connect_with_host(params: &PgParams) -> Result<(Client, usize)> {
    let deadline = params.connect_timeout.map_or(DEFAULT_DEADLINE, |t| {
        let hosts = u32::try_from(params.hosts.len().max(1)).unwrap_or(u32::MAX);
        Duration::from_secs(t.max(1)).saturating_mul(hosts)
    });
    let (tx, rx) = std::sync::mpsc::channel();
    let owned = params.clone();
    std::thread::spawn(move || {
        let _ = tx.send(connect_now(&owned));
    });
    match rx.recv_timeout(deadline) {
        Ok(result) => result,
        Err(_) => Err(Error::connect(format!(
            "no answer from {} within {} s while starting the PostgreSQL protocol\nCheck that a PostgreSQL server listens there (not another service, or a proxy that holds the connection); give connect_timeout=SECS in the target to wait longer.",
            params.hosts.join(","),
            deadline.as_secs()
        ))),
    }
}

fn connect_now(params: &PgParams) -> Result<(Client, usize)> {
    let tls = tls_connector(params)?;
    let mut passfile: Option<Option<String>> = None;
    let mut failures = Vec::new();
    for host in 0..params.hosts.len() {
        let password = password_for(params, host, &mut passfile);
        let addrs = match addresses(params, host) {
            Ok(addrs) => addrs,
            Err(f) => {
                failures.push(f);
                continue;
            }
        };
        for addr in addrs {
            let to = Endpoint {
                params,
                host,
                addr,
                password: password.as_deref(),
            };
            match attempt(&to, tls.as_ref()) {
                Ok(client) => return Ok((client, host)),
                Err(Attempt::Fatal(e)) => return Err(e),
                Err(Attempt::Next(f)) => failures.push(f),
            }
        }
    }
    Err(all_failed(failures))
}

/// One address of one host, and the password to give there: what an
/// attempt needs, and what its error message names.
pub(super) struct Endpoint<'a> {
    pub(super) params: &'a PgParams,
    /// Index into `params.hosts`.
    pub(super) host: usize,
    /// Where to connect; `None` for a socket directory.
    pub(super) addr: Option<IpAddr>,
    pub(super) password: Option<&'a str>,
}

impl Endpoint<'_> {
    pub(super) fn host_name(&self) -> &str {
        self.params.hosts[self.host].as_str()
    }

    fn port(&self) -> u16 {
        port_of(self.params, self.host)
    }

    /// The driver configuration for this address, with the given wire
    /// sslmode.
    fn config(&self, wire: WireSslMode) -> postgres::Config {
        let params = self.params;
        let host = self.host_name();
        let mut cfg = postgres::Config::new();
        if is_socket_host(host) {
            cfg.host_path(host);
        } else {
            // The name stays the host so TLS checks the certificate against
            // it; the address only says where to connect.
            cfg.host(host);
            if let Some(addr) = self.addr {
                cfg.hostaddr(addr);
            }
        }
        cfg.port(self.port())
            .user(&params.user)
            .dbname(&params.dbname)
            .application_name(&params.application_name)
            .ssl_mode(wire)
            .target_session_attrs(params.target_session_attrs)
            .channel_binding(params.channel_binding);
        if let Some(p) = self.password {
            cfg.password(p);
        }
        if let Some(o) = &params.options {
            cfg.options(o);
        }
        if let Some(t) = params.connect_timeout {
            cfg.connect_timeout(Duration::from_secs(t));
        }
        cfg
    }
}

fn port_of(params: &PgParams, host: usize) -> u16 {
    params.ports.get(host).copied().unwrap_or(DEFAULT_PORT)
}

/// The password for host number `host`: the target's, else the password
/// file's. The file is read once, and only when a host needs it.
fn password_for(
    params: &PgParams,
    host: usize,
    passfile: &mut Option<Option<String>>,
) -> Option<String> {
    if let Some(p) = &params.password {
        return Some(p.clone());
    }
    let contents =
        passfile.get_or_insert_with(|| params.passfile.as_deref().and_then(read_passfile));
    let name = params.hosts[host].as_str();
    contents
        .as_deref()
        .and_then(|c| pgpass_lookup(c, name, port_of(params, host), &params.dbname, &params.user))
}

/// The addresses to try for host number `host`, in order, without
/// duplicates; `None` stands for a socket directory.
fn addresses(params: &PgParams, host: usize) -> std::result::Result<Vec<Option<IpAddr>>, Failure> {
    let name = params.hosts[host].as_str();
    if is_socket_host(name) {
        return Ok(vec![None]);
    }
    if let Some(Some(addr)) = params.hostaddrs.get(host) {
        return Ok(vec![Some(*addr)]);
    }
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Ok(vec![Some(ip)]);
    }
    // Resolved here rather than by the driver so a DNS failure can be told
    // apart from a refused connection without reading error strings.
    let found = (name, port_of(params, host))
        .to_socket_addrs()
        .map_err(|e| dns_failure(name, &e.to_string()))?;
    let mut ips: Vec<Option<IpAddr>> = Vec::new();
    for a in found.map(|a: SocketAddr| Some(a.ip())) {
        if !ips.contains(&a) {
            ips.push(a);
        }
    }
    if ips.is_empty() {
        return Err(dns_failure(name, "no addresses found"));
    }
    Ok(ips)
}

/// The driver's sslmode for host `i`. tokio-postgres knows only disable,
/// prefer and require; certificate checks live in the connector.
fn wire_mode(params: &PgParams, i: usize) -> WireSslMode {
    if params.hosts.get(i).is_some_and(|h| is_socket_host(h)) {
        return WireSslMode::Disable;
    }
    match params.sslmode {
        SslMode::Disable => WireSslMode::Disable,
        SslMode::Allow | SslMode::Prefer => WireSslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => WireSslMode::Require,
    }
}

fn try_connect(
    cfg: &postgres::Config,
    tls: Option<&TlsConnector>,
) -> std::result::Result<Client, postgres::Error> {
    match tls {
        Some(t) => cfg.connect(t.clone()),
        None => cfg.connect(NoTls),
    }
}

/// One connection to one address, with libpq's fallback: prefer and allow
/// go on in plain text when the TLS handshake itself fails.
fn attempt(to: &Endpoint<'_>, tls: Option<&TlsConnector>) -> std::result::Result<Client, Attempt> {
    let wire = wire_mode(to.params, to.host);
    let tls = tls
        .filter(|_| wire != WireSslMode::Disable)
        .map(TlsConnector::for_attempt);
    match try_connect(&to.config(wire), tls.as_ref()) {
        Ok(c) => Ok(c),
        Err(e) if wire == WireSslMode::Prefer && tls_error(&e).is_some() => {
            try_connect(&to.config(WireSslMode::Disable), None)
                .map_err(|e| classify(&e, to, TlsUse::Plain))
        }
        Err(e) => Err(classify(&e, to, tls_use(wire, tls.as_ref()))),
    }
}

/// What a failed attempt did with TLS, from the wire mode and what the
/// driver asked of the connector.
fn tls_use(wire: WireSslMode, tls: Option<&TlsConnector>) -> TlsUse {
    if wire == WireSslMode::Disable {
        TlsUse::Plain
    } else if wire == WireSslMode::Require
        && tls.is_some_and(TlsConnector::stopped_before_handshake)
    {
        TlsUse::Declined
    } else {
        // Under prefer the driver goes on in plain text when the server
        // declines, so a later failure says nothing about TLS.
        TlsUse::Asked
    }
}

/// A cancel request for the client's running statement. It must speak the
/// same TLS as the connection: a server that requires SSL refuses a plain
/// cancel request.
pub fn canceller(client: &Client, params: &PgParams) -> Canceller {
    let token = client.cancel_token();
    // Building the connector succeeded when connecting; if it somehow fails
    // now, a plain request is still worth trying.
    let tls = tls_connector(params).ok().flatten();
    Canceller::new(move || {
        let _ = match &tls {
            Some(t) => token.cancel_query(t.clone()),
            None => token.cancel_query(NoTls),
        };
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::resolve_in;
    use super::*;

    /// A scripted stand-in for a server, for the paths a real one (with
    /// ssl on) cannot show: each connection reads and writes the given
    /// bytes in order, then closes.
    mod fake {
        use std::io::{Read, Write};
        use std::net::TcpListener;

        pub(crate) enum Step {
            /// Reads exactly this many bytes (the 8-byte SSLRequest).
            Read(usize),
            /// Reads one length-prefixed startup message.
            ReadStartup,
            Write(&'static [u8]),
        }

        /// Serves one connection per script; returns the port.
        pub fn server(scripts: Vec<Vec<Step>>) -> u16 {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
            let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
            std::thread::spawn(move || {
                for script in scripts {
                    let Ok((mut s, _)) = listener.accept() else {
                        return;
                    };
                    for step in script {
                        let ok = match step {
                            Step::Read(n) => s.read_exact(&mut vec![0; n]).is_ok(),
                            Step::ReadStartup => {
                                let mut len = [0u8; 4];
                                s.read_exact(&mut len).is_ok() && {
                                    let n = u32::from_be_bytes(len) as usize;
                                    s.read_exact(&mut vec![0; n.saturating_sub(4)]).is_ok()
                                }
                            }
                            Step::Write(b) => s.write_all(b).is_ok(),
                        };
                        if !ok {
                            break;
                        }
                    }
                }
            });
            port
        }
    }

    /// AuthenticationCleartextPassword: the server asks for a password.
    const ASK_PASSWORD: &[u8] = &[b'R', 0, 0, 0, 8, 0, 0, 0, 3];
    /// ReadyForQuery before authentication: a message out of place.
    const OUT_OF_PLACE: &[u8] = &[b'Z', 0, 0, 0, 5, b'I'];

    fn connect_error(port: u16, sslmode: &str) -> String {
        let spec = format!("host=127.0.0.1 port={port} user=u dbname=d sslmode={sslmode}");
        match resolve_in(&spec, &[], false).and_then(|p| connect(&p)) {
            Ok(_) => panic!("{spec}: connected to a fake server"),
            Err(e) => e.message,
        }
    }

    #[test]
    fn require_against_a_server_without_ssl() {
        use fake::Step::*;
        let port = fake::server(vec![vec![Read(8), Write(b"N"), Read(1)]]);
        assert_eq!(
            connect_error(port, "require"),
            format!(
                "server at 127.0.0.1:{port} does not support SSL, but sslmode=require requires it\n\
                 Enable ssl on the server, or use sslmode=prefer or disable if an unencrypted connection is acceptable."
            )
        );
    }

    #[test]
    fn prefer_goes_on_in_plain_when_the_server_declines() {
        use fake::Step::*;
        let port = fake::server(vec![vec![
            Read(8),
            Write(b"N"),
            ReadStartup,
            Write(OUT_OF_PLACE),
        ]]);
        assert_eq!(
            connect_error(port, "prefer"),
            format!(
                "the server at 127.0.0.1:{port} did not speak the PostgreSQL protocol as expected (unexpected message from server)\n\
                 Check that this host and port are a PostgreSQL server and not another service, that a connection pooler in front of it runs in session mode (not transaction or statement mode), and the sslmode (a TLS-only endpoint answers a plain connection with something else)."
            )
        );
        let port = fake::server(vec![vec![
            Read(8),
            Write(b"N"),
            ReadStartup,
            Write(ASK_PASSWORD),
        ]]);
        assert!(
            connect_error(port, "allow").starts_with(&format!(
                "authentication failed for user \"u\" at 127.0.0.1:{port}: the server asks for a password and none was given\n"
            ))
        );
    }

    #[test]
    fn prefer_falls_back_to_plain_when_the_handshake_fails() {
        use fake::Step::*;
        let port = fake::server(vec![
            vec![
                Read(8),
                Write(b"S"),
                Write(b"HTTP/1.1 400 Bad Request\r\n\r\n"),
            ],
            vec![ReadStartup, Write(ASK_PASSWORD)],
        ]);
        assert!(
            connect_error(port, "prefer").starts_with(&format!(
                "authentication failed for user \"u\" at 127.0.0.1:{port}: the server asks for a password and none was given\n"
            ))
        );
        let port = fake::server(vec![vec![
            Read(8),
            Write(b"S"),
            Write(b"HTTP/1.1 400 Bad Request\r\n\r\n"),
        ]]);
        let e = connect_error(port, "require");
        assert!(
            e.starts_with(&format!("TLS handshake with 127.0.0.1:{port} failed: ")),
            "{e}"
        );
    }
}
