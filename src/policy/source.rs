//! A policy as text: its files by name (`*.toml` and `approvers`), read
//! from a directory or from the database that pins it.
//!
//! The same text builds the same [`super::Policy`] wherever it comes from,
//! so a policy pushed into a database (`dbguard policy push`) governs
//! exactly as its directory did. Its digest (SHA-256 of the canonical JSON
//! of the files, sorted by name) names one version of a policy in
//! requests, the audit trail and messages.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::problem::{Problem, Severity};
use crate::error::{Error, Result};

/// The name of the approvers file in a policy.
pub const APPROVERS: &str = "approvers";

/// A policy's files, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySource {
    pub files: BTreeMap<String, String>,
}

impl PolicySource {
    /// Reads the `*.toml` files and the approvers file of `dir`; a file
    /// that cannot be read is a problem (an error), not a failure, so
    /// `policy check` lists it with the rest. Fails only when the
    /// directory cannot be read.
    pub fn read_dir(dir: &Path) -> Result<(PolicySource, Vec<Problem>)> {
        let entries = std::fs::read_dir(dir).map_err(|e| {
            Error::input(format!(
                "cannot read policy directory {}: {e}\nGive an existing directory with --policy DIR.",
                dir.display()
            ))
        })?;
        let mut source = PolicySource::default();
        let mut problems = Vec::new();
        for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let wanted = (path.extension().is_some_and(|x| x == "toml") || name == APPROVERS)
                && path.is_file();
            if !wanted {
                continue;
            }
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    source.files.insert(name.to_owned(), text);
                }
                Err(e) => problems.push(Problem {
                    file: path.clone(),
                    line: None,
                    severity: Severity::Error,
                    message: format!("cannot read: {e}"),
                }),
            }
        }
        Ok((source, problems))
    }

    /// The `*.toml` files, in name order.
    pub fn toml_files(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files
            .iter()
            .filter(|(n, _)| n.ends_with(".toml"))
            .map(|(n, t)| (n.as_str(), t.as_str()))
    }

    pub fn approvers(&self) -> Option<&str> {
        self.files.get(APPROVERS).map(String::as_str)
    }

    /// The files as canonical JSON (names sorted): what the database
    /// stores and the digest covers.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.files).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Result<PolicySource> {
        let files: BTreeMap<String, String> = serde_json::from_str(text).map_err(|e| {
            Error::database(format!(
                "the policy pinned in this database does not read as a policy ({e}); it was edited outside dbguard\nPush a policy again: dbguard policy push DIR"
            ))
        })?;
        Ok(PolicySource { files })
    }

    /// Hex SHA-256 of [`Self::to_json`], as the journal checks it.
    pub fn digest(&self) -> String {
        crate::journal::policy::files_digest(&self.to_json())
    }
}
