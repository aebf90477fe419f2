//! From raw options to [`PgParams`]: the target's own settings, then the
//! `PG*` environment, then libpq's built-in defaults.
//!
//! The environment and the file system come in through [`Ambient`], so
//! resolution is a pure function in tests and the real process state is
//! read in one place ([`resolve`]). Values are checked here, with messages
//! naming the bad value, so a mistake is reported before any connection is
//! tried.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use postgres::config::{ChannelBinding, TargetSessionAttrs};

use super::parse::{RawOptions, parse_spec};
use super::{DEFAULT_PORT, PgParams, SslMode};
use crate::error::{Error, Result};

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

/// Where the process environment and file system come in, injectable so
/// tests neither mutate global state nor depend on the machine.
pub struct Ambient<'a> {
    /// Environment variable lookup.
    pub var: &'a dyn Fn(&str) -> Option<String>,
    /// Whether a path exists (for the default socket directory).
    pub exists: &'a dyn Fn(&Path) -> bool,
    /// The operating system's name for the user running dbguard, asked
    /// only when nothing else names the user.
    pub os_user: &'a dyn Fn() -> Option<String>,
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
            os_user: &os_user_name,
        },
    )
}

/// The name of the user this process runs as, as libpq finds it with
/// `getpwuid(geteuid())` — without the unsafe calls this crate forbids.
/// The effective uid is the owner of `/proc/self` (proc(5)); its name is
/// looked up in `/etc/passwd`, then through NSS with `getent passwd UID`
/// for users from LDAP or the like. `None` when neither knows the uid.
pub(crate) fn os_user_name() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let in_file = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| passwd_name(&text, uid));
    in_file.or_else(|| {
        let out = std::process::Command::new("getent")
            .args(["passwd", &uid.to_string()])
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| passwd_name(&String::from_utf8_lossy(&out.stdout), uid))
            .flatten()
    })
}

/// The name on the first line of passwd(5) text whose uid is `uid`.
fn passwd_name(text: &str, uid: u32) -> Option<String> {
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id = fields.nth(1)?.parse::<u32>().ok()?;
        (id == uid && !name.is_empty() && !name.starts_with(['#', '+', '-']))
            .then(|| name.to_owned())
    })
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
/// environment, then libpq's built-in defaults. Values are checked in the
/// order of [`PgParams`]' fields, so the first mistake is the one named.
pub(crate) fn resolve_with(spec: &str, env: &Ambient<'_>) -> Result<PgParams> {
    let mut opts = parse_spec(spec)?;
    fill_from_env(&mut opts, env);
    let (hosts, hostaddrs) = resolve_hosts(&opts, env)?;
    let ports = resolve_ports(&opts, hosts.len())?;
    let user = resolve_user(&opts, env)?;
    let dbname = opts
        .given("dbname")
        .map(str::to_owned)
        .unwrap_or_else(|| user.clone());
    let (sslmode, sslrootcert) = resolve_sslmode(&opts)?;
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
        connect_timeout: resolve_connect_timeout(&opts)?,
        options: opts.given("options").map(str::to_owned),
        target_session_attrs: resolve_target_session_attrs(&opts)?,
        channel_binding: resolve_channel_binding(&opts)?,
    })
}

/// Adds the `PG*` variables for every keyword the target left unset (or
/// empty, which libpq treats the same).
fn fill_from_env(opts: &mut RawOptions, env: &Ambient<'_>) {
    for (key, var) in ENV_VARS {
        if opts.given(key).is_none()
            && let Some(v) = (env.var)(var).filter(|v| !v.is_empty())
        {
            opts.fill(key, v);
        }
    }
}

/// The host list and, per host, the numeric address to use instead of
/// resolving its name (`hostaddr`).
fn resolve_hosts(
    opts: &RawOptions,
    env: &Ambient<'_>,
) -> Result<(Vec<String>, Vec<Option<IpAddr>>)> {
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
    if hostaddr_list.is_empty() {
        let none = vec![None; hosts.len()];
        return Ok((hosts, none));
    }
    if hostaddr_list.len() != hosts.len() {
        return Err(Error::input(format!(
            "{} hostaddr values for {} hosts\nGive one hostaddr per host, in the same order.",
            hostaddr_list.len(),
            hosts.len()
        )));
    }
    let hostaddrs = hostaddr_list
        .iter()
        .map(|a| parse_hostaddr(a))
        .collect::<Result<_>>()?;
    Ok((hosts, hostaddrs))
}

/// One element of `hostaddr`; empty means "resolve the host name".
fn parse_hostaddr(a: &str) -> Result<Option<IpAddr>> {
    if a.is_empty() {
        return Ok(None);
    }
    a.parse::<IpAddr>().map(Some).map_err(|_| {
        Error::input(format!(
            "invalid hostaddr \"{a}\"\nhostaddr takes a numeric IPv4 or IPv6 address; put names in host."
        ))
    })
}

/// One port per host: a single port applies to every host.
fn resolve_ports(opts: &RawOptions, host_count: usize) -> Result<Vec<u16>> {
    let port_list: Vec<u16> = match opts.given("port") {
        Some(p) => p.split(',').map(parse_port).collect::<Result<_>>()?,
        None => vec![DEFAULT_PORT],
    };
    if port_list.len() == 1 {
        Ok(vec![port_list[0]; host_count])
    } else if port_list.len() == host_count {
        Ok(port_list)
    } else {
        Err(Error::input(format!(
            "{} port numbers for {} hosts\nGive one port for all hosts or one per host, in the same order.",
            port_list.len(),
            host_count
        )))
    }
}

/// The user name: the target's (or PGUSER's), else `$USER` or
/// `$LOGNAME`, else the operating system's name for the user dbguard runs
/// as, which is where libpq gets it.
fn resolve_user(opts: &RawOptions, env: &Ambient<'_>) -> Result<String> {
    if let Some(u) = opts.given("user") {
        return Ok(u.to_owned());
    }
    (env.var)("USER")
        .filter(|u| !u.is_empty())
        .or_else(|| (env.var)("LOGNAME").filter(|u| !u.is_empty()))
        .or_else(|| (env.os_user)())
        .ok_or_else(|| {
            Error::input(
                "no user name given: $USER is not set and the operating system has no name for this process's user\nGive user=NAME in the target or set PGUSER.",
            )
        })
}

/// The sslmode (libpq's default is prefer) and the root certificate the
/// target names.
fn resolve_sslmode(opts: &RawOptions) -> Result<(SslMode, Option<PathBuf>)> {
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
    Ok((sslmode, sslrootcert))
}

/// Seconds per connection attempt, `None` for no limit.
fn resolve_connect_timeout(opts: &RawOptions) -> Result<Option<u64>> {
    let Some(t) = opts.given("connect_timeout") else {
        return Ok(None);
    };
    let secs: i64 = t.trim().parse().map_err(|_| {
        Error::input(format!(
            "invalid connect_timeout \"{t}\"\nGive a whole number of seconds (0 waits forever)."
        ))
    })?;
    // libpq: zero or negative waits forever, and one second is raised to
    // two because a timeout that short fires spuriously.
    Ok(match secs {
        s if s <= 0 => None,
        1 => Some(2),
        s => Some(s as u64),
    })
}

fn resolve_target_session_attrs(opts: &RawOptions) -> Result<TargetSessionAttrs> {
    match opts.given("target_session_attrs") {
        None | Some("any") => Ok(TargetSessionAttrs::Any),
        Some("read-write") => Ok(TargetSessionAttrs::ReadWrite),
        Some("read-only") => Ok(TargetSessionAttrs::ReadOnly),
        Some(other) => Err(Error::input(format!(
            "unsupported target_session_attrs \"{other}\"\nUse any, read-write or read-only."
        ))),
    }
}

fn resolve_channel_binding(opts: &RawOptions) -> Result<ChannelBinding> {
    match opts.given("channel_binding") {
        None | Some("prefer") => Ok(ChannelBinding::Prefer),
        Some("disable") => Ok(ChannelBinding::Disable),
        Some("require") => Ok(ChannelBinding::Require),
        Some(other) => Err(Error::input(format!(
            "invalid channel_binding \"{other}\"\nUse disable, prefer or require."
        ))),
    }
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

#[cfg(test)]
mod tests {
    use super::super::testing::{env_of, err, r, resolve_in};
    use super::*;

    #[test]
    fn the_os_user_is_found_by_uid_in_passwd_text() {
        let text = "root:x:0:0:root:/root:/bin/bash\n# comment:x:5:5\nbob:x:1000:1000::/home/bob:/bin/sh\n+:::::\n";
        assert_eq!(passwd_name(text, 1000).as_deref(), Some("bob"));
        assert_eq!(passwd_name(text, 0).as_deref(), Some("root"));
        assert_eq!(passwd_name(text, 5), None);
        assert_eq!(passwd_name(text, 42), None);
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
                os_user: &|| None,
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
}
