//! Target strings into raw keyword/value pairs: `postgres://` URLs and
//! libpq's `key=value` conninfo.
//!
//! Nothing here applies defaults or reads the environment, so a target
//! means the same wherever it is parsed; `env` does the rest. Every keyword
//! is checked against the ones dbguard implements as soon as it is read:
//! a libpq option dbguard would silently ignore could weaken the connection
//! the operator asked for, so it is refused instead.

use std::iter::Peekable;
use std::str::Chars;

use crate::error::{Error, Result};

/// Whether a target string is a libpq `key=value` conninfo.
pub(crate) fn looks_like_keyword_value(s: &str) -> bool {
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
    pub(super) fn given(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }

    fn set(&mut self, key: &str, value: String) -> Result<()> {
        check_keyword(key)?;
        self.pairs.push((key.to_owned(), value));
        Ok(())
    }

    /// Adds a setting from outside the target (the environment), where
    /// the keyword is one of ours and needs no check.
    pub(super) fn fill(&mut self, key: &str, value: String) {
        self.pairs.push((key.to_owned(), value));
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
pub(crate) fn parse_spec(spec: &str) -> Result<RawOptions> {
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
/// Settings are added in that order, so the query string overrides the
/// authority, as in libpq.
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
        parse_userinfo(userinfo, &mut opts)?;
    }
    if !hostspec.is_empty() {
        parse_hostspec(hostspec, &mut opts)?;
    }
    if let Some(path) = path
        && !path.is_empty()
    {
        opts.set("dbname", pct_decode(path, "database name")?)?;
    }
    if let Some(query) = query {
        parse_query(query, &mut opts)?;
    }
    Ok(opts)
}

/// `user[:password]`, percent-decoded.
fn parse_userinfo(userinfo: &str, opts: &mut RawOptions) -> Result<()> {
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
    Ok(())
}

/// `host[:port][,...]` into the comma-separated `host` and `port` values
/// conninfo would have, keeping empty elements (a default) in place.
fn parse_hostspec(hostspec: &str, opts: &mut RawOptions) -> Result<()> {
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
    Ok(())
}

/// `key=value&...`, each side percent-decoded.
fn parse_query(query: &str, opts: &mut RawOptions) -> Result<()> {
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
    Ok(())
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
        let value = if chars.next_if_eq(&'\'').is_some() {
            read_quoted(&mut chars, &key)?
        } else {
            read_unquoted(&mut chars)
        };
        opts.set(&key, value)?;
    }
    Ok(opts)
}

/// A quoted value, after its opening quote, up to the closing one.
fn read_quoted(chars: &mut Peekable<Chars<'_>>, key: &str) -> Result<String> {
    let mut value = String::new();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    value.push(next);
                }
            }
            '\'' => return Ok(value),
            c => value.push(c),
        }
    }
    Err(Error::input(format!(
        "unterminated quoted value for \"{key}\" in the connection string\nClose the value with ' (write \\' for a quote inside it)."
    )))
}

/// An unquoted value, up to the next whitespace.
fn read_unquoted(chars: &mut Peekable<Chars<'_>>) -> String {
    let mut value = String::new();
    while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
        if c == '\\' {
            if let Some(next) = chars.next() {
                value.push(next);
            }
        } else {
            value.push(c);
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::super::testing::{err, r, resolve_in};
    use super::super::{SslMode, is_socket_host};
    use super::*;
    use std::net::IpAddr;
    use std::path::PathBuf;

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
    fn looks_like_keyword_value_cases() {
        assert!(looks_like_keyword_value("host=x"));
        assert!(looks_like_keyword_value("dbname = x"));
        assert!(!looks_like_keyword_value("/tmp/a=b.sqlite"));
        assert!(!looks_like_keyword_value("file.sqlite"));
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
    }
}
