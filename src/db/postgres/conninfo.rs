//! Postgres connection parameters: URLs, key=value conninfo, the libpq
//! environment, `.pgpass`, and TLS modes, resolved the way psql does.
//!
//! (Initial version: URL and key=value parsing without environment, pgpass
//! or TLS; being completed.)

use std::path::PathBuf;
use std::str::FromStr;

use postgres::{Client, NoTls};

use crate::db::Canceller;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// Everything needed to connect, after defaults were applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgParams {
    pub hosts: Vec<String>,
    pub ports: Vec<u16>,
    pub user: String,
    pub password: Option<String>,
    pub dbname: String,
    pub sslmode: SslMode,
    pub sslrootcert: Option<PathBuf>,
    pub application_name: String,
    pub connect_timeout: Option<u64>,
}

impl PgParams {
    /// A URL for display: never contains the password.
    pub fn display_url(&self) -> String {
        format!(
            "postgres://{}@{}:{}/{}",
            self.user,
            self.hosts.first().map(String::as_str).unwrap_or("localhost"),
            self.ports.first().copied().unwrap_or(5432),
            self.dbname
        )
    }
}

/// Whether a target string is a libpq `key=value` conninfo.
pub fn looks_like_keyword_value(s: &str) -> bool {
    let Some(eq) = s.find('=') else { return false };
    let key = s[..eq].trim();
    !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub fn resolve(spec: &str) -> Result<PgParams> {
    let cfg = postgres::Config::from_str(spec).map_err(|e| Error::input(format!("bad Postgres target: {e}")))?;
    let hosts = cfg
        .get_hosts()
        .iter()
        .map(|h| match h {
            postgres::config::Host::Tcp(s) => s.clone(),
            postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .collect();
    Ok(PgParams {
        hosts,
        ports: cfg.get_ports().to_vec(),
        user: cfg.get_user().unwrap_or("postgres").to_owned(),
        password: cfg.get_password().map(|p| String::from_utf8_lossy(p).into_owned()),
        dbname: cfg.get_dbname().unwrap_or("postgres").to_owned(),
        sslmode: SslMode::Disable,
        sslrootcert: None,
        application_name: "dbguard".into(),
        connect_timeout: None,
    })
}

pub fn connect(params: &PgParams) -> Result<Client> {
    let mut cfg = postgres::Config::new();
    for h in &params.hosts {
        cfg.host(h);
    }
    for p in &params.ports {
        cfg.port(*p);
    }
    cfg.user(&params.user).dbname(&params.dbname).application_name(&params.application_name);
    if let Some(p) = &params.password {
        cfg.password(p);
    }
    cfg.connect(NoTls).map_err(|e| Error::connect(super::describe_error(&e)))
}

pub fn canceller(client: &Client, _params: &PgParams) -> Canceller {
    let token = client.cancel_token();
    Canceller::new(move || {
        let _ = token.cancel_query(NoTls);
    })
}
