//! `\c DB`: the session moves to another database, as psql's `\connect`
//! does. A bare name is another database on the same PostgreSQL server
//! (the target the shell was opened with, its dbname replaced); a URL,
//! a conninfo string or a SQLite path is a target of its own. Everything
//! the target decides comes from the new one: its pinned policy, its
//! journal and audit trail, its schema. The old session ends on record
//! and the new one starts on record; display settings, variables and
//! history stay.

use super::Shell;
use super::settings::words;
use crate::db::{Connection, Engine, OpenOptions};
use crate::error::{Error, Result};

impl Shell {
    /// `\c [DB]`; without an argument, says where the session is.
    pub(crate) fn reconnect(&mut self, arg: Option<&str>) -> Result<()> {
        let Some(name) = arg.map(words).and_then(|w| w.into_iter().next()) else {
            let text = super::meta::conninfo_text(self.conn.identity());
            return self.print(&text);
        };
        let target = target_for(self.engine(), self.options.target.as_deref(), &name);
        let conn = Connection::open(Some(&target), &OpenOptions::default())?;
        let mut options = self.options.clone();
        options.target = Some(target);
        let next = Shell::new(conn, &options)?;
        self.end_session(serde_json::json!({"ok": true, "connect": next.conn.identity().display}))?;
        self.conn = next.conn;
        self.trail = next.trail;
        self.policy = next.policy;
        self.env_label = next.env_label;
        self.apply = next.apply;
        self.options = options;
        let schema = next
            .schema
            .read()
            .map_err(|_| Error::io("schema lock poisoned"))?
            .clone();
        // The line editor's completion holds this lock's Arc: the new
        // schema goes into it rather than replacing it.
        if let Ok(mut g) = self.schema.write() {
            *g = schema;
        }
        self.audit(
            "session_start",
            serde_json::json!({"interactive": self.interactive, "connect": true}),
        )?;
        let id = self.conn.identity();
        let text = if id.is_file() {
            format!("You are now connected to {}.\n", id.database)
        } else {
            format!(
                "You are now connected to database \"{}\" as user \"{}\".\n",
                id.database,
                id.user.as_deref().unwrap_or("?")
            )
        };
        self.print(&text)
    }
}

/// The target `\c NAME` means from the session's own target.
fn target_for(engine: Engine, current: Option<&str>, name: &str) -> String {
    let whole = name.contains("://") || name.contains('=') || name.starts_with("sqlite:");
    if whole || engine == Engine::Sqlite {
        return name.to_owned();
    }
    let quoted = format!("'{}'", name.replace('\\', "\\\\").replace('\'', "\\'"));
    match current {
        Some(t) if t.contains("://") => with_url_dbname(t, name),
        Some(t) => format!("{t} dbname={quoted}"),
        None => format!("dbname={quoted}"),
    }
}

/// `url` with its database (the path) replaced by `name`, percent-encoded.
fn with_url_dbname(url: &str, name: &str) -> String {
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect();
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let query = url[scheme_end..].find('?').map(|i| i + scheme_end);
    let authority_end = url[scheme_end..query.unwrap_or(url.len())]
        .find('/')
        .map_or(query.unwrap_or(url.len()), |i| i + scheme_end);
    let rest = query.map_or("", |q| &url[q..]);
    format!("{}/{encoded}{rest}", &url[..authority_end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_name_replaces_the_database_of_the_target() {
        let pg = Engine::Postgres;
        assert_eq!(
            target_for(pg, Some("postgres://u@h:5432/a?sslmode=disable"), "b c"),
            "postgres://u@h:5432/b%20c?sslmode=disable"
        );
        assert_eq!(
            target_for(pg, Some("postgres://u@h"), "b"),
            "postgres://u@h/b"
        );
        assert_eq!(
            target_for(pg, Some("host=h dbname=a"), "b"),
            "host=h dbname=a dbname='b'"
        );
        assert_eq!(target_for(pg, None, "it's"), "dbname='it\\'s'");
        assert_eq!(target_for(pg, None, "postgres://x/y"), "postgres://x/y");
        assert_eq!(target_for(Engine::Sqlite, Some("a.db"), "b.db"), "b.db");
    }
}
