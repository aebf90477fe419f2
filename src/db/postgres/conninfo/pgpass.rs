//! The password file (`.pgpass`, `PGPASSFILE`, `passfile`), matched the way
//! libpq does: `*` wildcards, backslash escapes, socket directories as
//! `localhost`, and a file others can read ignored with a warning.
//!
//! The matching is a pure function over the file's contents, so it is
//! tested without files; reading happens only when a connection needs a
//! password the target did not give.

use std::path::Path;

use super::is_socket_host;

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
pub(crate) fn pgpass_lookup(
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
pub(super) fn read_passfile(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() {
        warn(&format!(
            "WARNING: password file \"{}\" is not a plain file",
            path.display()
        ));
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            warn(&format!(
                "WARNING: password file \"{}\" has group or world access; permissions should be u=rw (0600) or less",
                path.display()
            ));
            return None;
        }
    }
    std::fs::read_to_string(path).ok()
}

/// Says a warning on stderr; a closed stderr is no reason to stop.
fn warn(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

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

    proptest::proptest! {
        #[test]
        fn pgpass_never_panics(file in "\\PC*", host in "\\PC{0,8}", db in "\\PC{0,8}") {
            let _ = pgpass_lookup(&file, &host, 5432, &db, "u");
        }
    }
}
