//! Rule condition `tables = [...]`: globs on the tables a change touches
//! (the statement's table and every table reached through cascades,
//! `SET NULL`/`SET DEFAULT` and associations).
//!
//! A glob with a `.` is matched against `schema.table`; a glob without one
//! against the bare table name, so on Postgres `users` matches
//! `public.users` and `audit.users`. SQLite tables live in schema `main`, so
//! `main.users` and `*.users` match there too. Matching ignores ASCII case.

use super::glob::Glob;
use super::verdict::VerdictInput;
use crate::schema::QualName;

/// Matches when any touched table matches any glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables(pub Vec<Glob>);

impl Tables {
    pub fn matches(&self, input: &VerdictInput) -> bool {
        std::iter::once(&input.table)
            .chain(input.tables.iter())
            .any(|t| self.matches_table(t))
    }

    /// Whether one table matches any of the globs.
    pub(crate) fn matches_table(&self, table: &QualName) -> bool {
        self.0.iter().any(|g| glob_matches_table(g, table))
    }

    pub(crate) fn describe(&self) -> String {
        self.0
            .iter()
            .map(Glob::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One glob against one table name (see the module doc).
pub(crate) fn glob_matches_table(glob: &Glob, table: &QualName) -> bool {
    if glob.is_qualified() {
        let schema = table.schema.as_deref().unwrap_or("main");
        glob.matches_ignore_case(&format!("{schema}.{}", table.name))
    } else {
        glob.matches_ignore_case(&table.name)
    }
}
