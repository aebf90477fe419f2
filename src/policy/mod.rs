//! Policies: TOML files in a `policies/` directory, merged in name order.
//!
//! This version reads what the impact preview needs: declared
//! associations (references the schema does not declare, like a Rails
//! `architecture_id` column with no foreign key), silenced inferred ones,
//! and whether to infer associations from column names at all. Unknown keys
//! are errors, so a typo never silently turns a check off.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// One `[[association]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssociationDecl {
    /// `table.column` or `schema.table.column`: the referencing column.
    pub from: String,
    /// `table.column` or `schema.table.column`: the referenced key. Needed
    /// unless `ignore` is set.
    #[serde(default)]
    pub to: Option<String>,
    /// Silences the association inferred for `from`.
    #[serde(default)]
    pub ignore: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AssociationsSection {
    /// Infer associations from `<table>_id` column names (default true).
    #[serde(default)]
    infer: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    version: Option<u32>,
    #[serde(default)]
    association: Vec<AssociationDecl>,
    #[serde(default)]
    associations: Option<AssociationsSection>,
}

/// The effective policy, all files merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub associations: Vec<AssociationDecl>,
    pub infer_associations: bool,
    /// The files it was read from, in order.
    pub files: Vec<PathBuf>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            associations: Vec::new(),
            infer_associations: true,
            files: Vec::new(),
        }
    }
}

/// The newest policy format this version understands.
pub const VERSION: u32 = 1;

impl Policy {
    /// Loads `dir`, or `./policies` when it exists, or the built-in default.
    pub fn load(dir: Option<&Path>) -> Result<Policy> {
        match dir {
            Some(d) => Policy::load_dir(d),
            None => {
                let local = Path::new("policies");
                if local.is_dir() {
                    Policy::load_dir(local)
                } else {
                    Ok(Policy::default())
                }
            }
        }
    }

    /// Reads every `*.toml` file of `dir` in name order.
    pub fn load_dir(dir: &Path) -> Result<Policy> {
        let entries = std::fs::read_dir(dir).map_err(|e| {
            Error::input(format!(
                "cannot read policy directory {}: {e}\nGive an existing directory with --policy DIR.",
                dir.display()
            ))
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
            .collect();
        files.sort();
        let mut policy = Policy::default();
        for file in &files {
            let text = std::fs::read_to_string(file)
                .map_err(|e| Error::input(format!("cannot read policy {}: {e}", file.display())))?;
            policy.merge(file, &text)?;
        }
        policy.files = files;
        Ok(policy)
    }

    /// Merges one file's text into the policy.
    pub fn merge(&mut self, file: &Path, text: &str) -> Result<()> {
        let parsed: PolicyFile = toml::from_str(text).map_err(|e| {
            Error::input(format!(
                "policy {} is not valid: {}",
                file.display(),
                e.to_string().trim()
            ))
        })?;
        if let Some(v) = parsed.version {
            if v > VERSION {
                return Err(Error::input(format!(
                    "policy {} has version {v}, newer than this dbguard understands ({VERSION})\nUpgrade dbguard, or set version = {VERSION} and remove newer keys.",
                    file.display()
                )));
            }
        }
        for a in &parsed.association {
            if a.to.is_none() && !a.ignore {
                return Err(Error::input(format!(
                    "policy {}: association from {} needs `to = \"table.column\"` (or `ignore = true` to silence an inferred one)",
                    file.display(),
                    a.from
                )));
            }
        }
        self.associations.extend(parsed.association);
        if let Some(infer) = parsed.associations.and_then(|s| s.infer) {
            self.infer_associations = infer;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_associations_and_rejects_typos() {
        let mut p = Policy::default();
        p.merge(
            Path::new("a.toml"),
            r#"
version = 1
[[association]]
from = "repository_architectures.architecture_id"
to = "architectures.id"
[[association]]
from = "builds.worker_id"
ignore = true
[associations]
infer = true
"#,
        )
        .unwrap();
        assert_eq!(p.associations.len(), 2);
        assert!(p.associations[1].ignore);
        let err = p
            .merge(
                Path::new("b.toml"),
                "[[association]]\nfrom = \"a.b_id\"\ntoo = \"b.id\"\n",
            )
            .unwrap_err();
        assert!(err.message.contains("unknown field"), "{err}");
        let err = p
            .merge(Path::new("c.toml"), "[[association]]\nfrom = \"a.b_id\"\n")
            .unwrap_err();
        assert!(err.message.contains("needs `to"), "{err}");
        let err = p.merge(Path::new("d.toml"), "version = 9\n").unwrap_err();
        assert!(err.message.contains("newer"), "{err}");
    }
}
