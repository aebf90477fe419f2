//! `[target]`: which databases a policy is meant for, matched against the
//! identity of the connected target. Where a target's database is a file
//! (SQLite), its file name alone names it too; the dialect says which
//! engines those are.

use super::Policy;
use super::glob::Glob;
use crate::db::TargetIdentity;
use crate::db::dialect::Dialect;

/// `[target]`: which databases the policy is meant for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Target {
    /// Globs on the target's display URL (or SQLite path).
    pub urls: Vec<Glob>,
    /// Globs on the host name (ASCII case ignored).
    pub hosts: Vec<Glob>,
    /// Globs on the database name (Postgres) or the file path or file
    /// name (SQLite).
    pub databases: Vec<Glob>,
    /// Label shown in the prompt, like `production`.
    pub env: Option<String>,
}

impl Policy {
    /// Whether `[target]` selects this database. Each non-empty list
    /// (`urls`, `hosts`, `databases`) must have a matching glob; with no
    /// lists the policy applies everywhere.
    pub fn applies_to(&self, identity: &TargetIdentity) -> bool {
        let t = &self.target;
        let urls = t.urls.is_empty() || t.urls.iter().any(|g| g.matches(&identity.display));
        let hosts = t.hosts.is_empty()
            || identity
                .host
                .as_deref()
                .is_some_and(|h| t.hosts.iter().any(|g| g.matches_ignore_case(h)));
        let file_name = Dialect(identity.engine).database_file_name(&identity.database);
        let databases = t.databases.is_empty()
            || t.databases
                .iter()
                .any(|g| g.matches(&identity.database) || file_name.is_some_and(|n| g.matches(n)));
        urls && hosts && databases
    }
}
