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
//! process environment: [`resolve_with`] is pure apart from an injected
//! variable lookup and socket probe; [`connect`] does the I/O (password
//! file, TLS roots, sockets) and turns every failure into one line naming
//! the host, user or database involved, plus one line saying what to do.

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use postgres::config::{ChannelBinding, SslMode as WireSslMode, TargetSessionAttrs};
use postgres::error::SqlState;
use postgres::tls::{MakeTlsConnect, TlsConnect};
use postgres::{Client, NoTls};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, DistinguishedName, RootCertStore,
    SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::db::Canceller;
use crate::error::{Error, Result};

/// Port used when neither the target nor `PGPORT` names one.
const DEFAULT_PORT: u16 = 5432;

/// What to check for in the server's certificate, per libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    /// Parses libpq's spelling; anything else is an input error naming the
    /// value, because a typo here could silently weaken verification.
    pub fn parse(s: &str) -> Result<SslMode> {
        match s {
            "disable" => Ok(SslMode::Disable),
            "allow" => Ok(SslMode::Allow),
            "prefer" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            "verify-ca" => Ok(SslMode::VerifyCa),
            "verify-full" => Ok(SslMode::VerifyFull),
            other => Err(Error::input(format!(
                "invalid sslmode value \"{other}\"\nUse one of disable, allow, prefer, require, verify-ca, verify-full."
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    fn verifies(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
pub fn is_socket_host(host: &str) -> bool {
    host.starts_with('/')
}

impl PgParams {
    /// A URL for display: never contains the password. Socket directories
    /// go in the `host` query parameter (as libpq accepts them), so the
    /// result is itself a valid target that reaches the same server.
    pub fn display_url(&self) -> String {
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

/// Whether a target string is a libpq `key=value` conninfo.
pub fn looks_like_keyword_value(s: &str) -> bool {
    let Some(eq) = s.find('=') else { return false };
    let key = s[..eq].trim();
    !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Keywords dbguard understands, in URLs' query strings and conninfo.
const SUPPORTED: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "passfile",
    "sslmode",
    "sslrootcert",
    "application_name",
    "fallback_application_name",
    "connect_timeout",
    "options",
    "target_session_attrs",
    "channel_binding",
];

/// libpq keywords dbguard does not implement. Refused rather than ignored:
/// silently dropping `sslcert` or `require_auth` would connect with weaker
/// guarantees than the operator asked for.
const UNSUPPORTED_LIBPQ: &[&str] = &[
    "service",
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "sslcompression",
    "sslnegotiation",
    "sslcertmode",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "requiressl",
    "requirepeer",
    "require_auth",
    "gssencmode",
    "gsslib",
    "gssdelegation",
    "krbsrvname",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "replication",
    "load_balance_hosts",
    "client_encoding",
];

/// Environment variables libpq reads, by keyword.
const ENV_VARS: &[(&str, &str)] = &[
    ("host", "PGHOST"),
    ("hostaddr", "PGHOSTADDR"),
    ("port", "PGPORT"),
    ("dbname", "PGDATABASE"),
    ("user", "PGUSER"),
    ("password", "PGPASSWORD"),
    ("passfile", "PGPASSFILE"),
    ("sslmode", "PGSSLMODE"),
    ("sslrootcert", "PGSSLROOTCERT"),
    ("application_name", "PGAPPNAME"),
    ("connect_timeout", "PGCONNECT_TIMEOUT"),
    ("options", "PGOPTIONS"),
    ("target_session_attrs", "PGTARGETSESSIONATTRS"),
    ("channel_binding", "PGCHANNELBINDING"),
];

/// Keyword/value pairs as written by the user, before defaults. Later
/// settings of the same keyword win, as in libpq.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawOptions {
    pairs: Vec<(String, String)>,
}

impl RawOptions {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A value that counts as given: libpq treats empty values like unset
    /// ones for every keyword dbguard supports.
    fn given(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }

    fn set(&mut self, key: &str, value: String) -> Result<()> {
        check_keyword(key)?;
        self.pairs.push((key.to_owned(), value));
        Ok(())
    }
}

fn check_keyword(key: &str) -> Result<()> {
    if SUPPORTED.contains(&key) {
        return Ok(());
    }
    if UNSUPPORTED_LIBPQ.contains(&key) {
        return Err(Error::input(format!(
            "connection option \"{key}\" is not supported by dbguard\nRemove it from the target; supported options: {}.",
            SUPPORTED.join(", ")
        )));
    }
    Err(Error::input(format!(
        "unknown connection option \"{key}\"\nCheck the spelling; supported options: {}.",
        SUPPORTED.join(", ")
    )))
}

/// Parses a target string into raw options: a `postgres://` or
/// `postgresql://` URL, a key=value conninfo, or nothing (empty string).
pub fn parse_spec(spec: &str) -> Result<RawOptions> {
    let spec = spec.trim();
    if spec.is_empty() {
        return Ok(RawOptions::default());
    }
    let lower: String = spec
        .chars()
        .take(16)
        .collect::<String>()
        .to_ascii_lowercase();
    for scheme in ["postgresql://", "postgres://"] {
        if lower.starts_with(scheme) {
            return parse_url(&spec[scheme.len()..]);
        }
    }
    parse_keyword_value(spec)
}

/// Parses the part of a libpq URI after the scheme:
/// `[user[:password]@][host[:port][,...]][/dbname][?key=value&...]`.
fn parse_url(rest: &str) -> Result<RawOptions> {
    let mut opts = RawOptions::default();
    let (before_query, query) = match rest.find('?') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let (authority, path) = match before_query.find('/') {
        Some(i) => (&before_query[..i], Some(&before_query[i + 1..])),
        None => (before_query, None),
    };
    // The last `@` separates credentials, so a password with a raw `@`
    // (common in copy-pasted URLs) still parses.
    let (userinfo, hostspec) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    if let Some(userinfo) = userinfo {
        let (user, password) = match userinfo.find(':') {
            Some(i) => (&userinfo[..i], Some(&userinfo[i + 1..])),
            None => (userinfo, None),
        };
        if !user.is_empty() {
            opts.set("user", pct_decode(user, "user name")?)?;
        }
        if let Some(pw) = password {
            opts.set("password", pct_decode(pw, "password")?)?;
        }
    }
    if !hostspec.is_empty() {
        let mut hosts = Vec::new();
        let mut ports = Vec::new();
        for part in hostspec.split(',') {
            let (host, port) = split_host_port(part)?;
            hosts.push(pct_decode(host, "host")?);
            ports.push(pct_decode(port, "port")?);
        }
        if hosts.iter().any(|h| !h.is_empty()) {
            opts.set("host", hosts.join(","))?;
        }
        if ports.iter().any(|p| !p.is_empty()) {
            opts.set("port", ports.join(","))?;
        }
    }
    if let Some(path) = path
        && !path.is_empty()
    {
        opts.set("dbname", pct_decode(path, "database name")?)?;
    }
    if let Some(query) = query {
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let Some(eq) = pair.find('=') else {
                return Err(Error::input(format!(
                    "missing \"=\" after \"{pair}\" in the URL's query string\nWrite parameters as key=value, e.g. ?sslmode=require."
                )));
            };
            let key = pct_decode(&pair[..eq], "parameter name")?;
            let value = pct_decode(&pair[eq + 1..], "parameter value")?;
            // JDBC's spelling, which libpq accepts in URLs for compatibility.
            if key == "ssl" {
                if value == "true" {
                    opts.set("sslmode", "require".to_owned())?;
                    continue;
                }
                return Err(Error::input(format!(
                    "invalid value \"{value}\" for URL parameter ssl\nUse ssl=true or sslmode=..."
                )));
            }
            opts.set(&key, value)?;
        }
    }
    Ok(opts)
}

/// Splits one element of a URL's host list into host and port, handling
/// bracketed IPv6 addresses (`[::1]:5432`).
fn split_host_port(part: &str) -> Result<(&str, &str)> {
    if let Some(inner) = part.strip_prefix('[') {
        let Some(close) = inner.find(']') else {
            return Err(Error::input(format!(
                "missing \"]\" in IPv6 host address \"{part}\"\nWrite IPv6 hosts as [addr]:port."
            )));
        };
        let host = &inner[..close];
        let after = &inner[close + 1..];
        if after.is_empty() {
            return Ok((host, ""));
        }
        return match after.strip_prefix(':') {
            Some(port) => Ok((host, port)),
            None => Err(Error::input(format!(
                "unexpected \"{after}\" after IPv6 host address \"[{host}]\"\nWrite IPv6 hosts as [addr]:port."
            ))),
        };
    }
    Ok(match part.rfind(':') {
        Some(i) => (&part[..i], &part[i + 1..]),
        None => (part, ""),
    })
}

/// Decodes `%XX` escapes. Malformed escapes and `%00` are errors, as in
/// libpq: a NUL would truncate the value on the server side.
fn pct_decode(s: &str, what: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            let Some(byte) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) else {
                return Err(Error::input(format!(
                    "invalid percent-encoding in the URL's {what}: \"{s}\"\nEncode special characters as %XX (two hex digits), e.g. %40 for @."
                )));
            };
            if byte == 0 {
                return Err(Error::input(format!(
                    "forbidden %00 in the URL's {what}\nRemove it; values cannot contain NUL bytes."
                )));
            }
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| {
        Error::input(format!(
            "the URL's {what} is not valid UTF-8 after percent-decoding\nCheck the %XX escapes in \"{s}\"."
        ))
    })
}

/// Parses libpq's `key=value key='quoted value'` syntax: whitespace around
/// `=` is allowed, single quotes group, and a backslash escapes the next
/// character inside or outside quotes.
fn parse_keyword_value(s: &str) -> Result<RawOptions> {
    let mut opts = RawOptions::default();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next_if_eq(&'=').is_none() {
            return Err(Error::input(format!(
                "missing \"=\" after \"{key}\" in the connection string\nWrite options as key=value, e.g. host=db1 dbname=app."
            )));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(next) = chars.next() {
                            value.push(next);
                        }
                    }
                    '\'' => {
                        closed = true;
                        break;
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return Err(Error::input(format!(
                    "unterminated quoted value for \"{key}\" in the connection string\nClose the value with ' (write \\' for a quote inside it)."
                )));
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    if let Some(next) = chars.next() {
                        value.push(next);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        opts.set(&key, value)?;
    }
    Ok(opts)
}

/// Where the process environment and file system come in, injectable so
/// tests neither mutate global state nor depend on the machine.
pub struct Ambient<'a> {
    /// Environment variable lookup.
    pub var: &'a dyn Fn(&str) -> Option<String>,
    /// Whether a path exists (for the default socket directory).
    pub exists: &'a dyn Fn(&Path) -> bool,
}

/// Resolves a target string using the real environment.
pub fn resolve(spec: &str) -> Result<PgParams> {
    let var = |k: &str| std::env::var(k).ok();
    let exists = |p: &Path| p.exists();
    resolve_with(
        spec,
        &Ambient {
            var: &var,
            exists: &exists,
        },
    )
}

/// libpq's default host on Debian-style builds: the socket directory when
/// a server could be there, else TCP to localhost.
fn default_host(env: &Ambient<'_>) -> String {
    if (env.exists)(Path::new("/var/run/postgresql")) {
        "/var/run/postgresql".to_owned()
    } else if (env.exists)(Path::new("/tmp/.s.PGSQL.5432")) {
        "/tmp".to_owned()
    } else {
        "localhost".to_owned()
    }
}

/// Resolves a target string: the target's own settings, then the `PG*`
/// environment, then libpq's built-in defaults.
pub fn resolve_with(spec: &str, env: &Ambient<'_>) -> Result<PgParams> {
    let mut opts = parse_spec(spec)?;
    for (key, var) in ENV_VARS {
        if opts.given(key).is_none()
            && let Some(v) = (env.var)(var).filter(|v| !v.is_empty())
        {
            opts.pairs.push(((*key).to_owned(), v));
        }
    }

    let hostaddr_list: Vec<&str> = opts
        .given("hostaddr")
        .map(|s| s.split(',').collect())
        .unwrap_or_default();
    let mut hosts: Vec<String> = match opts.given("host") {
        Some(h) => h.split(',').map(str::to_owned).collect(),
        // libpq connects to hostaddr alone when no host name is given.
        None if !hostaddr_list.is_empty() => {
            hostaddr_list.iter().map(|s| (*s).to_owned()).collect()
        }
        None => vec![String::new()],
    };
    for h in &mut hosts {
        if h.is_empty() {
            *h = default_host(env);
        }
    }
    let hostaddrs: Vec<Option<IpAddr>> = if hostaddr_list.is_empty() {
        vec![None; hosts.len()]
    } else {
        if hostaddr_list.len() != hosts.len() {
            return Err(Error::input(format!(
                "{} hostaddr values for {} hosts\nGive one hostaddr per host, in the same order.",
                hostaddr_list.len(),
                hosts.len()
            )));
        }
        hostaddr_list
            .iter()
            .map(|a| {
                if a.is_empty() {
                    return Ok(None);
                }
                a.parse::<IpAddr>().map(Some).map_err(|_| {
                    Error::input(format!(
                        "invalid hostaddr \"{a}\"\nhostaddr takes a numeric IPv4 or IPv6 address; put names in host."
                    ))
                })
            })
            .collect::<Result<_>>()?
    };

    let port_list: Vec<u16> = match opts.given("port") {
        Some(p) => p.split(',').map(parse_port).collect::<Result<_>>()?,
        None => vec![DEFAULT_PORT],
    };
    let ports = if port_list.len() == 1 {
        vec![port_list[0]; hosts.len()]
    } else if port_list.len() == hosts.len() {
        port_list
    } else {
        return Err(Error::input(format!(
            "{} port numbers for {} hosts\nGive one port for all hosts or one per host, in the same order.",
            port_list.len(),
            hosts.len()
        )));
    };

    let user = match opts.given("user") {
        Some(u) => u.to_owned(),
        None => (env.var)("USER")
            .or_else(|| (env.var)("LOGNAME"))
            .filter(|u| !u.is_empty())
            .ok_or_else(|| {
                Error::input(
                    "no user name given and $USER is not set\nGive user=NAME in the target or set PGUSER.",
                )
            })?,
    };
    let dbname = opts
        .given("dbname")
        .map(str::to_owned)
        .unwrap_or_else(|| user.clone());

    let sslmode = match opts.given("sslmode") {
        Some(m) => SslMode::parse(m)?,
        None => SslMode::Prefer,
    };
    let sslrootcert = opts.given("sslrootcert").map(PathBuf::from);
    if sslrootcert.as_deref() == Some(Path::new("system")) && sslmode != SslMode::VerifyFull {
        // libpq's rule: trusting every public CA only makes sense when the
        // host name is checked too.
        return Err(Error::input(format!(
            "sslmode={sslmode} may not be used with sslrootcert=system\nUse sslmode=verify-full with the system's trusted roots."
        )));
    }
    let home = (env.var)("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from);
    let default_sslrootcert = home
        .as_ref()
        .map(|h| h.join(".postgresql").join("root.crt"));
    let passfile = opts
        .given("passfile")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".pgpass")));

    let application_name = opts
        .given("application_name")
        .or_else(|| opts.given("fallback_application_name"))
        .unwrap_or("dbguard")
        .to_owned();

    let connect_timeout = match opts.given("connect_timeout") {
        None => None,
        Some(t) => {
            let secs: i64 = t.trim().parse().map_err(|_| {
                Error::input(format!(
                    "invalid connect_timeout \"{t}\"\nGive a whole number of seconds (0 waits forever)."
                ))
            })?;
            // libpq: zero or negative waits forever, and one second is
            // raised to two because a timeout that short fires spuriously.
            match secs {
                s if s <= 0 => None,
                1 => Some(2),
                s => Some(s as u64),
            }
        }
    };

    let target_session_attrs = match opts.given("target_session_attrs") {
        None | Some("any") => TargetSessionAttrs::Any,
        Some("read-write") => TargetSessionAttrs::ReadWrite,
        Some("read-only") => TargetSessionAttrs::ReadOnly,
        Some(other) => {
            return Err(Error::input(format!(
                "unsupported target_session_attrs \"{other}\"\nUse any, read-write or read-only."
            )));
        }
    };
    let channel_binding = match opts.given("channel_binding") {
        None | Some("prefer") => ChannelBinding::Prefer,
        Some("disable") => ChannelBinding::Disable,
        Some("require") => ChannelBinding::Require,
        Some(other) => {
            return Err(Error::input(format!(
                "invalid channel_binding \"{other}\"\nUse disable, prefer or require."
            )));
        }
    };

    Ok(PgParams {
        hosts,
        hostaddrs,
        ports,
        user,
        password: opts.given("password").map(str::to_owned),
        dbname,
        sslmode,
        sslrootcert,
        default_sslrootcert,
        passfile,
        application_name,
        connect_timeout,
        options: opts.given("options").map(str::to_owned),
        target_session_attrs,
        channel_binding,
    })
}

/// An empty element (as in `h1:,h2:5433`) means the default port.
fn parse_port(p: &str) -> Result<u16> {
    if p.is_empty() {
        return Ok(DEFAULT_PORT);
    }
    match p.trim().parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(Error::input(format!(
            "invalid port number \"{p}\"\nGive a port between 1 and 65535."
        ))),
    }
}

/// The host name libpq matches in `.pgpass`: socket directories (and no
/// host at all) count as `localhost`.
fn pgpass_host(host: &str) -> &str {
    if host.is_empty() || is_socket_host(host) {
        "localhost"
    } else {
        host
    }
}

/// Matches one `.pgpass` field against a value: `*` alone matches
/// anything; `\` escapes the next character. Returns the rest of the line
/// after the field's terminating `:`, or `None` when it does not match.
fn pgpass_field<'a>(line: &'a str, value: &str) -> Option<&'a str> {
    if let Some(rest) = line.strip_prefix("*:") {
        return Some(rest);
    }
    let mut want = value.chars();
    let mut it = line.char_indices();
    while let Some((i, c)) = it.next() {
        let (c, escaped) = if c == '\\' {
            match it.next() {
                Some((_, n)) => (n, true),
                None => return None,
            }
        } else {
            (c, false)
        };
        if c == ':' && !escaped {
            return if want.next().is_none() {
                Some(&line[i + 1..])
            } else {
                None
            };
        }
        if want.next() != Some(c) {
            return None;
        }
    }
    None
}

/// Finds the password for a connection in `.pgpass` contents (libpq
/// format `hostname:port:database:username:password`); the first matching
/// line wins.
pub fn pgpass_lookup(
    contents: &str,
    host: &str,
    port: u16,
    dbname: &str,
    user: &str,
) -> Option<String> {
    let host = pgpass_host(host);
    let port = port.to_string();
    for line in contents.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some(rest) = pgpass_field(line, host)
            .and_then(|r| pgpass_field(r, &port))
            .and_then(|r| pgpass_field(r, dbname))
            .and_then(|r| pgpass_field(r, user))
        else {
            continue;
        };
        // The password ends at the next unescaped colon, as in libpq.
        let mut password = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(n) => password.push(n),
                    None => password.push('\\'),
                },
                ':' => break,
                c => password.push(c),
            }
        }
        return Some(password);
    }
    None
}

/// Reads the password file, or `None` with a warning where libpq would
/// ignore it: not a plain file, or readable by group or others (a
/// password file others can read has leaked already; using it would hide
/// that).
fn read_passfile(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() {
        eprintln!(
            "WARNING: password file \"{}\" is not a plain file",
            path.display()
        );
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            eprintln!(
                "WARNING: password file \"{}\" has group or world access; permissions should be u=rw (0600) or less",
                path.display()
            );
            return None;
        }
    }
    std::fs::read_to_string(path).ok()
}

/// Which certificates to trust, after libpq's defaults were applied.
enum Roots {
    /// No root file: no verification (or an error, for verify-*).
    None,
    /// The roots to verify against: the operating system's store
    /// (`sslrootcert=system`), or only the certificates of the root file.
    Trusted(RootCertStore),
}

fn load_roots(params: &PgParams) -> Result<Roots> {
    let path = match (&params.sslrootcert, &params.default_sslrootcert) {
        (Some(p), _) if p == Path::new("system") => return system_roots(),
        (Some(p), _) => p.clone(),
        (None, Some(p)) if p.is_file() => p.clone(),
        (None, default) => {
            if params.sslmode.verifies() {
                return Err(missing_root(params.sslmode, default.as_deref()));
            }
            return Ok(Roots::None);
        }
    };
    let pem = std::fs::read(&path).map_err(|e| {
        Error::connect(format!(
            "cannot read root certificate file \"{}\": {e}\nCheck the sslrootcert path and its permissions.",
            path.display()
        ))
    })?;
    let certs = parse_pem_certificates(&pem).map_err(|e| {
        Error::connect(format!(
            "root certificate file \"{}\" is not valid PEM: {e}\nGive sslrootcert a file of PEM certificates (-----BEGIN CERTIFICATE-----).",
            path.display()
        ))
    })?;
    if certs.is_empty() {
        return Err(Error::connect(format!(
            "root certificate file \"{}\" contains no certificate\nGive sslrootcert a file of PEM certificates (-----BEGIN CERTIFICATE-----).",
            path.display()
        )));
    }
    // libpq trusts only the given file, not the system store as well.
    let mut store = RootCertStore::empty();
    for cert in certs {
        store.add(cert).map_err(|e| {
            Error::connect(format!(
                "root certificate file \"{}\" holds a certificate that cannot be used as a root: {e}\nGive sslrootcert the CA certificate that signed the server's certificate.",
                path.display()
            ))
        })?;
    }
    Ok(Roots::Trusted(store))
}

fn missing_root(sslmode: SslMode, default: Option<&Path>) -> Error {
    let file = default
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "~/.postgresql/root.crt".to_owned());
    Error::connect(format!(
        "sslmode={sslmode} needs a root certificate, and \"{file}\" does not exist\nGive sslrootcert=FILE (the CA that signed the server's certificate), or sslrootcert=system to trust the system's CAs."
    ))
}

/// The operating system's trusted roots, read the way OpenSSL finds them
/// (`SSL_CERT_FILE`, `SSL_CERT_DIR`, then the distribution's bundle), so
/// `sslrootcert=system` trusts what libpq would.
fn system_roots() -> Result<Roots> {
    let found = rustls_native_certs::load_native_certs();
    let mut store = RootCertStore::empty();
    // Unparsable entries are skipped, as OpenSSL skips them: one odd
    // certificate in a bundle of hundreds must not disable verification.
    let (added, _skipped) = store.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found
            .errors
            .first()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        return Err(Error::connect(format!(
            "sslrootcert=system found no trusted root certificates on this system{why}\nInstall the CA bundle (ca-certificates), point SSL_CERT_FILE at one, or give sslrootcert=FILE."
        )));
    }
    Ok(Roots::Trusted(store))
}

/// Every certificate of a PEM bundle (CA files often hold a chain); other
/// sections such as keys are skipped, and text around them is ignored.
fn parse_pem_certificates(
    pem: &[u8],
) -> std::result::Result<Vec<CertificateDer<'static>>, rustls::pki_types::pem::Error> {
    CertificateDer::pem_slice_iter(pem).collect()
}

/// The connector handed to the driver: rustls, through
/// tokio-postgres-rustls, with handshake failures wrapped in
/// [`HandshakeError`] so they can be told apart from other I/O errors
/// (which rustls reports as `std::io::Error` too).
#[derive(Clone)]
pub struct TlsConnector(MakeRustlsConnect);

impl<S> MakeTlsConnect<S> for TlsConnector
where
    MakeRustlsConnect: MakeTlsConnect<S>,
    <<MakeRustlsConnect as MakeTlsConnect<S>>::TlsConnect as TlsConnect<S>>::Future: Send + 'static,
{
    type Stream = <MakeRustlsConnect as MakeTlsConnect<S>>::Stream;
    type TlsConnect = Handshake<<MakeRustlsConnect as MakeTlsConnect<S>>::TlsConnect>;
    type Error = <MakeRustlsConnect as MakeTlsConnect<S>>::Error;

    fn make_tls_connect(
        &mut self,
        domain: &str,
    ) -> std::result::Result<Self::TlsConnect, Self::Error> {
        self.0.make_tls_connect(domain).map(Handshake)
    }
}

/// One TLS handshake; see [`TlsConnector`].
pub struct Handshake<T>(T);

impl<S, T> TlsConnect<S> for Handshake<T>
where
    T: TlsConnect<S>,
    T::Future: Send + 'static,
{
    type Stream = T::Stream;
    type Error = HandshakeError;
    type Future =
        Pin<Box<dyn Future<Output = std::result::Result<T::Stream, HandshakeError>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        let handshake = self.0.connect(stream);
        Box::pin(async move { handshake.await.map_err(|e| HandshakeError(e.into())) })
    }
}

/// A failed TLS handshake: a certificate that did not verify, no common
/// protocol version, or the server closing the connection mid-handshake.
#[derive(Debug)]
pub struct HandshakeError(Box<dyn std::error::Error + Send + Sync>);

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for HandshakeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// sslmode=require (or prefer/allow) without a root certificate: libpq
/// encrypts but accepts whatever certificate the server shows. The
/// handshake signatures are still verified, so the peer must hold the key
/// of the certificate it sent and the session keys are not forgeable by a
/// passive observer.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// sslmode=verify-ca (and require/prefer with a root certificate): the
/// chain must lead to a trusted root, but the certificate need not name
/// the host. webpki checks the name last, after the chain, validity dates
/// and key usage, so a name mismatch means everything else passed; every
/// other error is passed on.
#[derive(Debug)]
struct AnyHostName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyHostName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }

    fn root_hint_subjects(&self) -> Option<&[DistinguishedName]> {
        self.0.root_hint_subjects()
    }
}

fn tls_setup_error(e: impl fmt::Display) -> Error {
    Error::connect(format!(
        "cannot set up TLS: {e}\nCheck the sslrootcert file, or use sslmode=disable for a server without TLS."
    ))
}

/// The TLS connector for these parameters, or `None` when TLS will never
/// be used (sslmode=disable, or only Unix sockets, where libpq does not do
/// SSL either).
pub fn tls_connector(params: &PgParams) -> Result<Option<TlsConnector>> {
    if params.sslmode == SslMode::Disable || params.hosts.iter().all(|h| is_socket_host(h)) {
        return Ok(None);
    }
    let roots = load_roots(params)?;
    // The provider is given explicitly rather than taken from rustls'
    // process-wide default, which panics when no default (or more than one
    // candidate) is installed.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(tls_setup_error)?;
    let webpki = |store: RootCertStore| {
        WebPkiServerVerifier::builder_with_provider(Arc::new(store), Arc::clone(&provider))
            .build()
            .map_err(tls_setup_error)
    };
    let config = match (roots, params.sslmode) {
        (Roots::Trusted(store), SslMode::VerifyFull) => builder
            .with_webpki_verifier(webpki(store)?)
            .with_no_client_auth(),
        // A root file turns require (and prefer) into verify-ca, as libpq
        // does, so adding a CA never silently means "trust anything".
        (Roots::Trusted(store), _) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyHostName(webpki(store)?)))
            .with_no_client_auth(),
        // load_roots refuses this already; checked again so a verifying
        // mode can never fall through to accepting any certificate.
        (Roots::None, mode) if mode.verifies() => {
            return Err(missing_root(mode, params.default_sslrootcert.as_deref()));
        }
        (Roots::None, _) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(Arc::clone(&provider))))
            .with_no_client_auth(),
    };
    Ok(Some(TlsConnector(MakeRustlsConnect::new(config))))
}

/// Why one host could not be used.
struct Failure {
    /// The whole cause, e.g. `cannot connect to PostgreSQL at 127.0.0.1:1:
    /// connection refused`.
    cause: String,
    /// Where and what, for a list of several hosts: `127.0.0.1:1:
    /// connection refused`.
    short: String,
    /// What to do about it.
    advice: String,
}

/// The outcome of one attempt: stop (the server answered, and libpq does
/// not try further hosts after that), or try the next address/host.
enum Attempt {
    Fatal(Error),
    Next(Failure),
}

/// Connects to the first host that accepts, like libpq: each host (and
/// each address of a host name) in order; a server that answers with an
/// error (bad password, missing database) ends the search.
pub fn connect(params: &PgParams) -> Result<Client> {
    connect_with_host(params).map(|(client, _)| client)
}

/// Like [`connect`], also saying which entry of `params.hosts` answered,
/// so the identity of a multi-host target names the server really used.
pub fn connect_with_host(params: &PgParams) -> Result<(Client, usize)> {
    let tls = tls_connector(params)?;
    let mut passfile: Option<Option<String>> = None;
    let mut failures = Vec::new();
    for i in 0..params.hosts.len() {
        let host = params.hosts[i].as_str();
        let port = params.ports.get(i).copied().unwrap_or(DEFAULT_PORT);
        let password = match &params.password {
            Some(p) => Some(p.clone()),
            None => {
                let contents = passfile
                    .get_or_insert_with(|| params.passfile.as_deref().and_then(read_passfile));
                contents
                    .as_deref()
                    .and_then(|c| pgpass_lookup(c, host, port, &params.dbname, &params.user))
            }
        };
        let addrs: Vec<Option<IpAddr>> = if is_socket_host(host) {
            vec![None]
        } else if let Some(Some(addr)) = params.hostaddrs.get(i) {
            vec![Some(*addr)]
        } else if let Ok(ip) = host.parse::<IpAddr>() {
            vec![Some(ip)]
        } else {
            // Resolved here rather than by the driver so a DNS failure can
            // be told apart from a refused connection without reading
            // error strings.
            match (host, port).to_socket_addrs() {
                Ok(found) => {
                    let mut ips: Vec<Option<IpAddr>> = Vec::new();
                    for a in found.map(|a: SocketAddr| Some(a.ip())) {
                        if !ips.contains(&a) {
                            ips.push(a);
                        }
                    }
                    if ips.is_empty() {
                        failures.push(dns_failure(host, "no addresses found"));
                        continue;
                    }
                    ips
                }
                Err(e) => {
                    failures.push(dns_failure(host, &e.to_string()));
                    continue;
                }
            }
        };
        for addr in addrs {
            match attempt(params, i, addr, password.as_deref(), tls.as_ref()) {
                Ok(client) => return Ok((client, i)),
                Err(Attempt::Fatal(e)) => return Err(e),
                Err(Attempt::Next(f)) => failures.push(f),
            }
        }
    }
    Err(all_failed(failures))
}

fn dns_failure(host: &str, err: &str) -> Failure {
    Failure {
        cause: format!("cannot resolve host name \"{host}\" ({err})"),
        short: format!("{host}: cannot resolve host name ({err})"),
        advice: "Check the host name, or give its IP address as host or hostaddr.".to_owned(),
    }
}

fn all_failed(mut failures: Vec<Failure>) -> Error {
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

/// The driver configuration for one address of host `i`.
fn config_for(
    params: &PgParams,
    i: usize,
    addr: Option<IpAddr>,
    password: Option<&str>,
    wire: WireSslMode,
) -> postgres::Config {
    let host = params.hosts[i].as_str();
    let mut cfg = postgres::Config::new();
    if is_socket_host(host) {
        cfg.host_path(host);
    } else {
        // The name stays the host so TLS checks the certificate against
        // it; the address only says where to connect.
        cfg.host(host);
        if let Some(addr) = addr {
            cfg.hostaddr(addr);
        }
    }
    cfg.port(params.ports.get(i).copied().unwrap_or(DEFAULT_PORT))
        .user(&params.user)
        .dbname(&params.dbname)
        .application_name(&params.application_name)
        .ssl_mode(wire)
        .target_session_attrs(params.target_session_attrs)
        .channel_binding(params.channel_binding);
    if let Some(p) = password {
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

fn attempt(
    params: &PgParams,
    i: usize,
    addr: Option<IpAddr>,
    password: Option<&str>,
    tls: Option<&TlsConnector>,
) -> std::result::Result<Client, Attempt> {
    let wire = wire_mode(params, i);
    let tls = if wire == WireSslMode::Disable {
        None
    } else {
        tls
    };
    let cfg = config_for(params, i, addr, password, wire);
    match try_connect(&cfg, tls) {
        Ok(c) => Ok(c),
        Err(e) => {
            // libpq's prefer/allow fall back to a plain connection when
            // the TLS handshake itself fails.
            if wire == WireSslMode::Prefer && tls_error(&e).is_some() {
                let plain = config_for(params, i, addr, password, WireSslMode::Disable);
                return try_connect(&plain, None)
                    .map_err(|e| classify(&e, params, i, addr, password, false));
            }
            Err(classify(
                &e,
                params,
                i,
                addr,
                password,
                wire != WireSslMode::Disable,
            ))
        }
    }
}

/// The failed TLS handshake inside a driver error, if that is what failed.
fn tls_error(e: &postgres::Error) -> Option<&HandshakeError> {
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
fn classify(
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
    let what = super::describe_error(e).replace('\n', " ");
    Attempt::Next(Failure {
        cause: format!("cannot connect to PostgreSQL at {place}: {what}"),
        short: format!("{place}: {what}"),
        advice: "Check the connection parameters and the server's log.".to_owned(),
    })
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
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// Resolves with a fake environment; `/var/run/postgresql` exists only
    /// when `socket` is true.
    fn resolve_in(spec: &str, vars: &[(&str, &str)], socket: bool) -> Result<PgParams> {
        let map = env_of(vars);
        let var = move |k: &str| map.get(k).cloned();
        let exists = move |p: &Path| socket && p == Path::new("/var/run/postgresql");
        resolve_with(
            spec,
            &Ambient {
                var: &var,
                exists: &exists,
            },
        )
    }

    fn r(spec: &str) -> PgParams {
        match resolve_in(spec, &[("USER", "alice")], false) {
            Ok(p) => p,
            Err(e) => panic!("{spec}: {e}"),
        }
    }

    fn err(spec: &str) -> String {
        match resolve_in(spec, &[("USER", "alice")], false) {
            Ok(p) => panic!("{spec} should fail, got {p:?}"),
            Err(e) => e.message,
        }
    }

    #[test]
    fn url_full_form() {
        let p = r(
            "postgres://bob:s3cret@db.example.com:6543/app?sslmode=require&application_name=x&connect_timeout=5",
        );
        assert_eq!(p.hosts, vec!["db.example.com"]);
        assert_eq!(p.ports, vec![6543]);
        assert_eq!(p.user, "bob");
        assert_eq!(p.password.as_deref(), Some("s3cret"));
        assert_eq!(p.dbname, "app");
        assert_eq!(p.sslmode, SslMode::Require);
        assert_eq!(p.application_name, "x");
        assert_eq!(p.connect_timeout, Some(5));
    }

    #[test]
    fn url_scheme_variants_and_defaults() {
        let p = r("postgresql://h");
        assert_eq!(p.hosts, vec!["h"]);
        assert_eq!(p.ports, vec![5432]);
        assert_eq!(p.user, "alice");
        assert_eq!(p.dbname, "alice");
        assert_eq!(p.sslmode, SslMode::Prefer);
        assert_eq!(p.application_name, "dbguard");
        let p = r("POSTGRES://h/d");
        assert_eq!(p.dbname, "d");
        let p = r("postgres:///only_db");
        assert_eq!(p.hosts, vec!["localhost"]);
        assert_eq!(p.dbname, "only_db");
    }

    #[test]
    fn url_multi_host() {
        let p = r("postgres://u@h1:5432,h2:5433/db");
        assert_eq!(p.hosts, vec!["h1", "h2"]);
        assert_eq!(p.ports, vec![5432, 5433]);
        let p = r("postgres://u@h1,h2:5433/db");
        assert_eq!(p.ports, vec![5432, 5433]);
        let p = r("postgres://u@h1,h2/db?port=7000");
        assert_eq!(p.ports, vec![7000, 7000]);
        let p = r("postgres://u@[::1]:5433,[fe80::1]/db");
        assert_eq!(p.hosts, vec!["::1", "fe80::1"]);
        assert_eq!(p.ports, vec![5433, 5432]);
        assert!(err("postgres://u@h1,h2,h3/db?port=1,2").contains("2 port numbers for 3 hosts"));
    }

    #[test]
    fn url_socket_hosts() {
        let p = r("postgresql://%2Fvar%2Frun%2Fpostgresql/db");
        assert_eq!(p.hosts, vec!["/var/run/postgresql"]);
        assert_eq!(p.dbname, "db");
        let p = r("postgresql:///db?host=/var/run/postgresql&port=5433");
        assert_eq!(p.hosts, vec!["/var/run/postgresql"]);
        assert_eq!(p.ports, vec![5433]);
        // Query parameters override the authority, as in libpq.
        let p = r("postgresql://ignored/db?host=/tmp");
        assert_eq!(p.hosts, vec!["/tmp"]);
    }

    #[test]
    fn url_percent_decoding() {
        let p = r("postgres://us%40er:p%3Aw%2Fd%25@h/my%20db");
        assert_eq!(p.user, "us@er");
        assert_eq!(p.password.as_deref(), Some("p:w/d%"));
        assert_eq!(p.dbname, "my db");
        // A raw @ in the password: the last @ ends the credentials.
        let p = r("postgres://u:p@ss@h/db");
        assert_eq!(p.password.as_deref(), Some("p@ss"));
        assert_eq!(p.hosts, vec!["h"]);
        assert!(err("postgres://u@h/d%zzb").contains("invalid percent-encoding"));
        assert!(err("postgres://u@h/d%2").contains("invalid percent-encoding"));
        assert!(err("postgres://u@h/d%00").contains("%00"));
        assert!(err("postgres://u@h/d%ff").contains("UTF-8"));
    }

    #[test]
    fn url_query_errors() {
        assert!(err("postgres://h/db?sslmode=bogus").contains("invalid sslmode value \"bogus\""));
        assert!(
            err("postgres://h/db?frobnicate=1")
                .contains("unknown connection option \"frobnicate\"")
        );
        assert!(err("postgres://h/db?sslcert=x").contains("not supported"));
        assert!(err("postgres://h/db?sslmode").contains("missing \"=\""));
        assert!(err("postgres://h:abc/db").contains("invalid port number \"abc\""));
        assert!(err("postgres://h:0/db").contains("invalid port number"));
        assert!(err("postgres://[::1/db").contains("missing \"]\""));
        assert_eq!(r("postgres://h/db?ssl=true").sslmode, SslMode::Require);
    }

    #[test]
    fn keyword_value_forms() {
        let p = r(
            "host=db1 port=5433 dbname=app user=bob password=pw sslmode=verify-ca sslrootcert=/ca.pem",
        );
        assert_eq!(p.hosts, vec!["db1"]);
        assert_eq!(p.ports, vec![5433]);
        assert_eq!(p.dbname, "app");
        assert_eq!(p.user, "bob");
        assert_eq!(p.password.as_deref(), Some("pw"));
        assert_eq!(p.sslmode, SslMode::VerifyCa);
        assert_eq!(p.sslrootcert, Some(PathBuf::from("/ca.pem")));
    }

    #[test]
    fn keyword_value_quoting_and_escapes() {
        let p = r(r"host = h   password='it\'s a \\ secret' dbname='my db' user=a\ b");
        assert_eq!(p.password.as_deref(), Some(r"it's a \ secret"));
        assert_eq!(p.dbname, "my db");
        assert_eq!(p.user, "a b");
        assert_eq!(p.hosts, vec!["h"]);
        // Empty quoted value counts as not given.
        let p = r("host=h dbname=''");
        assert_eq!(p.dbname, "alice");
        // Later settings win.
        assert_eq!(r("host=a host=b").hosts, vec!["b"]);
        assert!(err("host='unterminated").contains("unterminated quoted value"));
        assert!(err("host=h dbname").contains("missing \"=\" after \"dbname\""));
        assert!(err("host=h frob=1").contains("unknown connection option \"frob\""));
        assert!(err("host=h sslmode=maybe").contains("\"maybe\""));
    }

    #[test]
    fn keyword_value_socket_and_multi_host() {
        let p = r("host=/var/run/postgresql,db2 port=5432,5433");
        assert_eq!(p.hosts, vec!["/var/run/postgresql", "db2"]);
        assert_eq!(p.ports, vec![5432, 5433]);
        assert!(is_socket_host(&p.hosts[0]));
        let p = r("host=name hostaddr=10.0.0.1");
        assert_eq!(
            p.hostaddrs,
            vec![Some(
                "10.0.0.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
            )]
        );
        assert!(err("host=a,b hostaddr=10.0.0.1").contains("1 hostaddr values for 2 hosts"));
        assert!(err("hostaddr=not-an-ip").contains("invalid hostaddr"));
    }

    #[test]
    fn environment_fills_what_is_missing() {
        let vars = [
            ("USER", "alice"),
            ("PGHOST", "envhost"),
            ("PGPORT", "6000"),
            ("PGUSER", "envuser"),
            ("PGPASSWORD", "envpw"),
            ("PGDATABASE", "envdb"),
            ("PGSSLMODE", "require"),
            ("PGSSLROOTCERT", "/etc/ca.pem"),
            ("PGCONNECT_TIMEOUT", "1"),
            ("PGAPPNAME", "envapp"),
            ("PGPASSFILE", "/x/pgpass"),
        ];
        let p = resolve_in("", &vars, true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.hosts, vec!["envhost"]);
        assert_eq!(p.ports, vec![6000]);
        assert_eq!(p.user, "envuser");
        assert_eq!(p.password.as_deref(), Some("envpw"));
        assert_eq!(p.dbname, "envdb");
        assert_eq!(p.sslmode, SslMode::Require);
        assert_eq!(p.sslrootcert, Some(PathBuf::from("/etc/ca.pem")));
        assert_eq!(p.connect_timeout, Some(2), "libpq raises 1s to 2s");
        assert_eq!(p.application_name, "envapp");
        assert_eq!(p.passfile, Some(PathBuf::from("/x/pgpass")));
        // The target wins over the environment.
        let p = resolve_in("postgres://u@h:1/d?sslmode=disable", &vars, true)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (p.hosts[0].as_str(), p.ports[0], p.user.as_str()),
            ("h", 1, "u")
        );
        assert_eq!(p.dbname, "d");
        assert_eq!(p.sslmode, SslMode::Disable);
        assert_eq!(p.password.as_deref(), Some("envpw"));
        let e = resolve_in("", &[("USER", "a"), ("PGSSLMODE", "nope")], false).err();
        assert!(e.is_some_and(|e| e.message.contains("\"nope\"")));
    }

    #[test]
    fn builtin_defaults() {
        let p = resolve_in("", &[("USER", "alice"), ("HOME", "/home/alice")], true)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.hosts, vec!["/var/run/postgresql"]);
        assert_eq!(p.ports, vec![5432]);
        assert_eq!((p.user.as_str(), p.dbname.as_str()), ("alice", "alice"));
        assert_eq!(p.passfile, Some(PathBuf::from("/home/alice/.pgpass")));
        assert_eq!(
            p.default_sslrootcert,
            Some(PathBuf::from("/home/alice/.postgresql/root.crt"))
        );
        let p = resolve_in("", &[("USER", "alice")], false).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.hosts, vec!["localhost"]);
        assert_eq!(p.passfile, None);
        let map = env_of(&[("USER", "alice")]);
        let var = move |k: &str| map.get(k).cloned();
        let exists = |p: &Path| p == Path::new("/tmp/.s.PGSQL.5432");
        let p = resolve_with(
            "",
            &Ambient {
                var: &var,
                exists: &exists,
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.hosts, vec!["/tmp"]);
        assert!(resolve_in("", &[], false).is_err_and(|e| e.message.contains("no user name")));
        // Empty host elements take the default.
        let p = resolve_in("host=,h2", &[("USER", "a")], true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.hosts, vec!["/var/run/postgresql", "h2"]);
    }

    #[test]
    fn sslrootcert_system_needs_verify_full() {
        assert!(err("host=h sslrootcert=system sslmode=require").contains("verify-full"));
        assert!(
            r("host=h sslrootcert=system sslmode=verify-full")
                .sslrootcert
                .is_some()
        );
    }

    #[test]
    fn timeouts_and_session_attrs() {
        assert_eq!(r("host=h connect_timeout=0").connect_timeout, None);
        assert_eq!(r("host=h connect_timeout=-3").connect_timeout, None);
        assert_eq!(r("host=h connect_timeout=10").connect_timeout, Some(10));
        assert!(err("host=h connect_timeout=soon").contains("invalid connect_timeout"));
        assert_eq!(
            r("host=h target_session_attrs=read-write").target_session_attrs,
            TargetSessionAttrs::ReadWrite
        );
        assert!(err("host=h target_session_attrs=standby").contains("unsupported"));
        assert_eq!(
            r("host=h fallback_application_name=f").application_name,
            "f"
        );
        assert_eq!(
            r("host=h fallback_application_name=f application_name=a").application_name,
            "a"
        );
    }

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

    #[test]
    fn pgpass_matching() {
        let file = "\
# comment line
other:5432:*:alice:wrong
db.example.com:5432:app:alice:first
db.example.com:*:*:alice:second
*:*:*:*:fallback
";
        assert_eq!(
            pgpass_lookup(file, "db.example.com", 5432, "app", "alice").as_deref(),
            Some("first")
        );
        assert_eq!(
            pgpass_lookup(file, "db.example.com", 6000, "other", "alice").as_deref(),
            Some("second")
        );
        assert_eq!(
            pgpass_lookup(file, "x", 1, "y", "z").as_deref(),
            Some("fallback")
        );
        assert_eq!(pgpass_lookup("h:5432:db:u:pw", "h", 5433, "db", "u"), None);
        assert_eq!(pgpass_lookup("h:5432:db:u:pw", "h", 5432, "db", "u2"), None);
        assert_eq!(pgpass_lookup("h:5432:db:u:pw", "hh", 5432, "db", "u"), None);
        assert_eq!(
            pgpass_lookup("h:5432:db", "h", 5432, "db", "u"),
            None,
            "short line"
        );
    }

    #[test]
    fn pgpass_escapes() {
        let file = r"h\:x:5432:d\\b:u:p\:a\\ss:ignored";
        assert_eq!(
            pgpass_lookup(file, "h:x", 5432, r"d\b", "u").as_deref(),
            Some(r"p:a\ss")
        );
        assert_eq!(pgpass_lookup(file, "h", 5432, r"d\b", "u"), None);
        // `*` is a wildcard only as the whole field.
        assert_eq!(pgpass_lookup("a*:5432:d:u:pw", "ab", 5432, "d", "u"), None);
        assert_eq!(
            pgpass_lookup("a*:5432:d:u:pw", "a*", 5432, "d", "u").as_deref(),
            Some("pw")
        );
        assert_eq!(
            pgpass_lookup("h:5432:d:u:\r", "h", 5432, "d", "u").as_deref(),
            Some("")
        );
    }

    #[test]
    fn pgpass_socket_hosts_match_localhost() {
        let file = "localhost:5432:db:u:local-pw\n";
        assert_eq!(
            pgpass_lookup(file, "/var/run/postgresql", 5432, "db", "u").as_deref(),
            Some("local-pw")
        );
        assert_eq!(
            pgpass_lookup(file, "localhost", 5432, "db", "u").as_deref(),
            Some("local-pw")
        );
        assert_eq!(pgpass_lookup(file, "127.0.0.1", 5432, "db", "u"), None);
    }

    /// Two self-signed test roots (generated once with `openssl req -x509`).
    const ROOT_1: &str = "-----BEGIN CERTIFICATE-----\n\
MIIBiTCCAS+gAwIBAgIUIOvEm92ozGuMTj2MmarHGOzU9NwwCgYIKoZIzj0EAwIw\n\
GTEXMBUGA1UEAwwOdW5pdC10ZXN0LXJvb3QwIBcNMjYxMTIxMDkzMDA3WhgPMjEy\n\
NjEwMjgwOTMwMDdaMBkxFzAVBgNVBAMMDnVuaXQtdGVzdC1yb290MFkwEwYHKoZI\n\
zj0CAQYIKoZIzj0DAQcDQgAE4RT6q4TajS3tB3ardgTm8QIK/D49DMi38UcMSR9H\n\
jgt3ye3xfSzSOZFcVsQ9UpjRBlLN3RCT4/sPvWl/Gk11t6NTMFEwHQYDVR0OBBYE\n\
FErYPVeZVeBtTFJoehUf8C90bu7SMB8GA1UdIwQYMBaAFErYPVeZVeBtTFJoehUf\n\
8C90bu7SMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIhAOPk3HyA\n\
1TOu7GdZjW843QkoQvs+GpBlfV3LDLAsJ2E9AiB+o0Qq8DjNM88SqqrAfqIRXKs9\n\
AW2BjaBEP39BCidvug==\n\
-----END CERTIFICATE-----\n\
";
    const ROOT_2: &str = "-----BEGIN CERTIFICATE-----\n\
MIIBjDCCATOgAwIBAgIURe2yA7ZhACwdUWUOOKfCSMxF234wCgYIKoZIzj0EAwIw\n\
GzEZMBcGA1UEAwwQdW5pdC10ZXN0LXJvb3QtMjAgFw0yNjExMjEwOTMwMDdaGA8y\n\
MTI2MTAyODA5MzAwN1owGzEZMBcGA1UEAwwQdW5pdC10ZXN0LXJvb3QtMjBZMBMG\n\
ByqGSM49AgEGCCqGSM49AwEHA0IABCISnX0flJklSNGDjjCldOlBPm0JKKoL/luV\n\
J3N5bHNVn/xIc3QtN2asBCesUPzSbggQcKfWv+g1tgmNTg3QPHSjUzBRMB0GA1Ud\n\
DgQWBBQiUxEFEyTrBivhob15+UwJyhOvZjAfBgNVHSMEGDAWgBQiUxEFEyTrBivh\n\
ob15+UwJyhOvZjAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cAMEQCIFSF\n\
5oeWga10BifcIOIk5adtxkknoBacuBONqf6ASU9KAiBwn7zuMfFikpq+W22FRy9j\n\
p3OduKyxiwOpCNrmEsTZ/g==\n\
-----END CERTIFICATE-----\n\
";

    #[test]
    fn pem_bundles_load_every_certificate() {
        let bundle = format!("junk before\n{ROOT_1}comment between\n{ROOT_2}");
        let certs = parse_pem_certificates(bundle.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(certs.len(), 2);
        let mut store = RootCertStore::empty();
        for cert in certs {
            store.add(cert).unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(store.len(), 2);
        // A cut-off certificate is an error, not silently fewer roots.
        let truncated = format!("{ROOT_1}-----BEGIN CERTIFICATE-----\ntruncated");
        assert!(parse_pem_certificates(truncated.as_bytes()).is_err());
        let no_pem = parse_pem_certificates(b"not pem at all").unwrap_or_else(|e| panic!("{e}"));
        assert!(no_pem.is_empty());
    }

    #[test]
    fn tls_connector_per_mode() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root = dir.path().join("root.pem");
        std::fs::write(&root, ROOT_1).unwrap_or_else(|e| panic!("{e}"));
        let with = |extra: &str| r(&format!("host=h {extra}"));
        assert!(tls_connector(&with("sslmode=disable")).is_ok_and(|c| c.is_none()));
        assert!(tls_connector(&r("host=/tmp sslmode=require")).is_ok_and(|c| c.is_none()));
        assert!(tls_connector(&with("sslmode=require")).is_ok_and(|c| c.is_some()));
        for mode in ["prefer", "require", "verify-ca", "verify-full"] {
            let p = with(&format!("sslmode={mode} sslrootcert={}", root.display()));
            assert!(tls_connector(&p).is_ok_and(|c| c.is_some()), "{mode}");
        }
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "no certificates here").unwrap_or_else(|e| panic!("{e}"));
        let e = tls_connector(&with(&format!(
            "sslmode=verify-ca sslrootcert={}",
            junk.display()
        )));
        assert!(e.is_err_and(|e| e.message.contains("contains no certificate")));
        let e = tls_connector(&with("sslmode=verify-ca sslrootcert=/nonexistent/root.pem"));
        assert!(e.is_err_and(|e| e.message.contains("cannot read root certificate file")));
    }

    #[test]
    fn looks_like_keyword_value_cases() {
        assert!(looks_like_keyword_value("host=x"));
        assert!(looks_like_keyword_value("dbname = x"));
        assert!(!looks_like_keyword_value("/tmp/a=b.sqlite"));
        assert!(!looks_like_keyword_value("file.sqlite"));
    }

    /// A scripted stand-in for a server, for the paths a real one (with
    /// ssl on) cannot show: each connection reads and writes the given
    /// bytes in order, then closes.
    mod fake {
        use std::io::{Read, Write};
        use std::net::TcpListener;

        pub enum Step {
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
                "cannot connect to PostgreSQL at 127.0.0.1:{port}: unexpected message from server\n\
                 Check the connection parameters and the server's log."
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

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(s in "\\PC*") {
            let _ = resolve_in(&s, &[("USER", "u")], false);
        }

        #[test]
        fn url_like_input_never_panics(s in "(postgres|postgresql)://[a-z@:%0-9A-F/,\\[\\]?=&.#\\\\' -]{0,40}") {
            let _ = resolve_in(&s, &[("USER", "u")], false);
        }

        #[test]
        fn conninfo_like_input_never_panics(s in "([a-z_]{1,8} ?= ?('[^']{0,6}'?|[^ ]{0,6}) ?){0,4}") {
            let _ = resolve_in(&s, &[("USER", "u")], false);
        }

        #[test]
        fn pgpass_never_panics(file in "\\PC*", host in "\\PC{0,8}", db in "\\PC{0,8}") {
            let _ = pgpass_lookup(&file, &host, 5432, &db, "u");
        }

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
