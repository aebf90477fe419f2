//! Postgres connection parameters: URLs, key=value conninfo, the libpq
//! environment, `.pgpass`, and TLS modes, resolved the way psql does.
//!
//! Operators paste whatever their other tools use (a `DATABASE_URL`, a
//! libpq conninfo from a runbook, `PG*` variables in their shell), so the
//! rules here follow libpq's documented behaviour rather than the narrower
//! parser of the `postgres` crate: multi-host lists, Unix-socket directories
//! as hosts, percent-encoded socket paths in URLs, `.pgpass` lookup with
//! libpq's escapes and permission check, and the six `sslmode` values.
//!
//! Resolution is split in two so it can be tested without a server or the
//! process environment: `resolve_with` is pure apart from an injected
//! variable lookup and socket probe; [`connect`] does the I/O (password
//! file, TLS roots, sockets) and turns every failure into one line naming
//! the host, user or database involved, plus one line saying what to do.
//!
//! The pieces follow that flow, one step per file, like sqlx's connect
//! options: `parse` turns a target string into raw keyword/value pairs;
//! `env` fills what is missing from `PG*` variables and libpq's defaults
//! into the [`PgParams`] defined here; `pgpass` and `tls` are the files
//! read only when connecting (the password file, the root certificates and
//! the certificate checks); `connect` walks the hosts and the sslmode
//! fallbacks; `classify` turns a failed attempt into the message and says
//! whether the next host may still be tried.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use postgres::config::{ChannelBinding, TargetSessionAttrs};

mod classify;
mod connect;
mod env;
mod parse;
mod pgpass;
#[cfg(test)]
mod testing;
mod tls;

pub(crate) use connect::connect_with_host;
pub use connect::{canceller, connect};
pub(crate) use env::os_user_name;
pub use env::{Ambient, resolve};
pub use parse::RawOptions;
pub(crate) use parse::looks_like_keyword_value;
pub use tls::{Handshake, HandshakeError, SslMode, TlsConnector};

/// Port used when neither the target nor `PGPORT` names one.
const DEFAULT_PORT: u16 = 5432;

/// Everything needed to connect, after the environment and defaults were
/// applied. `hosts`, `hostaddrs` and `ports` have the same length.
#[derive(Clone, PartialEq, Eq)]
pub struct PgParams {
    /// Host names, IP addresses, or Unix-socket directories (start with `/`).
    pub hosts: Vec<String>,
    /// Numeric addresses to connect to instead of resolving the host name
    /// (libpq's `hostaddr`); the host name is still used for TLS checks.
    pub hostaddrs: Vec<Option<IpAddr>>,
    pub ports: Vec<u16>,
    pub user: String,
    /// A password given in the target or `PGPASSWORD`; `.pgpass` is only
    /// read at connect time, when this is `None`.
    pub password: Option<String>,
    pub dbname: String,
    pub sslmode: SslMode,
    /// Root certificate file given by the user (`system`: the OS store).
    pub sslrootcert: Option<PathBuf>,
    /// libpq's implicit root certificate, `~/.postgresql/root.crt`, used
    /// only when it exists and `sslrootcert` is not given.
    pub default_sslrootcert: Option<PathBuf>,
    /// The password file to consult (`passfile`, `PGPASSFILE`, `~/.pgpass`).
    pub passfile: Option<PathBuf>,
    pub application_name: String,
    /// Seconds per connection attempt; `None` waits as long as TCP does.
    pub connect_timeout: Option<u64>,
    /// Server options, as `-c name=value` (`options`, `PGOPTIONS`).
    pub options: Option<String>,
    pub target_session_attrs: TargetSessionAttrs,
    pub channel_binding: ChannelBinding,
}

/// Hand-written so the password cannot leak through `{:?}` in logs.
impl fmt::Debug for PgParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgParams")
            .field("hosts", &self.hosts)
            .field("hostaddrs", &self.hostaddrs)
            .field("ports", &self.ports)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("dbname", &self.dbname)
            .field("sslmode", &self.sslmode)
            .field("sslrootcert", &self.sslrootcert)
            .field("passfile", &self.passfile)
            .field("application_name", &self.application_name)
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

/// Whether a host is a Unix-socket directory rather than a TCP host.
pub(crate) fn is_socket_host(host: &str) -> bool {
    host.starts_with('/')
}

impl PgParams {
    /// A URL for display: never contains the password. Socket directories
    /// go in the `host` query parameter (as libpq accepts them), so the
    /// result is itself a valid target that reaches the same server.
    pub(crate) fn display_url(&self) -> String {
        let user = pct_encode(&self.user);
        let db = pct_encode(&self.dbname);
        if self.hosts.iter().any(|h| is_socket_host(h)) {
            let hosts: Vec<String> = self.hosts.iter().map(|h| pct_encode_query(h)).collect();
            let ports: Vec<String> = self.ports.iter().map(u16::to_string).collect();
            return format!(
                "postgres://{user}@/{db}?host={}&port={}",
                hosts.join(","),
                ports.join(",")
            );
        }
        let hostspec: Vec<String> = self
            .hosts
            .iter()
            .zip(&self.ports)
            .map(|(h, p)| {
                if h.contains(':') {
                    format!("[{}]:{p}", h.replace('%', "%25"))
                } else {
                    format!("{}:{p}", pct_encode(h))
                }
            })
            .collect();
        format!("postgres://{user}@{}/{db}", hostspec.join(","))
    }

    /// Where host number `i` is, for messages: `db.example.com:5432`,
    /// `[::1]:5432`, or the socket file.
    pub fn place(&self, i: usize) -> String {
        let host = self.hosts.get(i).map(String::as_str).unwrap_or("localhost");
        let port = self.ports.get(i).copied().unwrap_or(DEFAULT_PORT);
        if is_socket_host(host) {
            format!("Unix socket {}/.s.PGSQL.{port}", host.trim_end_matches('/'))
        } else if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        }
    }
}

/// Percent-encodes everything outside RFC 3986's unreserved set.
fn pct_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Like [`pct_encode`], but keeps `/` readable, for socket paths in a query.
fn pct_encode_query(s: &str) -> String {
    pct_encode(s).replace("%2F", "/")
}

#[cfg(test)]
mod tests {
    use super::testing::r;
    use super::testing::resolve_in;

    #[test]
    fn display_url_hides_password() {
        let p = r("postgres://bob:hunter2@h1:5432,h2:5433/app");
        let d = p.display_url();
        assert_eq!(d, "postgres://bob@h1:5432,h2:5433/app");
        assert!(!d.contains("hunter2"));
        let p = r("host=/var/run/postgresql user=bob password=hunter2 dbname=app");
        let d = p.display_url();
        assert!(!d.contains("hunter2"));
        assert_eq!(d, "postgres://bob@/app?host=/var/run/postgresql&port=5432");
        assert!(!format!("{p:?}").contains("hunter2"));
        let p = r("host=::1 user=a@b dbname=x/y");
        assert_eq!(p.display_url(), "postgres://a%40b@[::1]:5432/x%2Fy");
        assert_eq!(p.place(0), "[::1]:5432");
    }

    #[test]
    fn display_url_round_trips() {
        for spec in [
            "host=/var/run/postgresql,/tmp port=5432,5433 user='we ird' dbname='d:b?x'",
            "postgres://u%3Ax@h1:1,[::1]:2/d%20b",
        ] {
            let p = r(spec);
            let q = r(&p.display_url());
            assert_eq!(
                (&p.hosts, &p.ports, &p.user, &p.dbname),
                (&q.hosts, &q.ports, &q.user, &q.dbname)
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn display_url_round_trips_any_names(user in "\\PC{1,12}", db in "\\PC{1,12}", host in "[a-z][a-z0-9.-]{0,10}", port in 1u16..) {
            let spec = format!(
                "host={host} port={port} user='{}' dbname='{}'",
                user.replace('\\', "\\\\").replace('\'', "\\'"),
                db.replace('\\', "\\\\").replace('\'', "\\'"),
            );
            let p = resolve_in(&spec, &[], false);
            proptest::prop_assume!(p.is_ok());
            let p = p.unwrap_or_else(|e| panic!("{e}"));
            let q = resolve_in(&p.display_url(), &[], false).unwrap_or_else(|e| panic!("{}: {e}", p.display_url()));
            proptest::prop_assert_eq!((&p.hosts, &p.ports, &p.user, &p.dbname), (&q.hosts, &q.ports, &q.user, &q.dbname));
        }
    }
}
