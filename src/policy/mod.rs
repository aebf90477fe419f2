//! Policies: TOML files in a `policies/` directory, merged in name order,
//! plus `policies/approvers` (OpenSSH `allowed_signers`).
//!
//! A policy says which databases it applies to (`[target]`), limits
//! (`[limits]`), who may approve (`[groups]` and the approvers file), which
//! changes need what (`[[rule]]`s, each a set of conditions and a verdict),
//! and references the schema does not declare (`[[association]]`). The
//! format is documented in `policies/README.md` and, with comments, in the
//! shipped `policies/default.toml`, which is also the built-in default.
//!
//! Unknown keys are errors, so a typo never silently turns a check off.
//! Everything wrong with a directory is collected as [`Problem`]s (file and
//! line); [`Policy::load`] refuses a directory with any error, and
//! `dbguard policy check` prints them all.
//!
//! The effective [`Policy`] is built in the order the files are read:
//! `load.rs` finds them, `raw.rs` is their TOML shape, `merge.rs` merges one
//! file section by section (`rule_build.rs` turns each `[[rule]]` into a
//! [`Rule`]), and `finish.rs` runs the checks that need every file. A
//! loaded policy answers with a verdict (`verdict.rs`) for a change on a
//! target it applies to (`target.rs`); each kind of rule condition has its
//! own file.

pub mod approval;
pub mod check;
pub mod duration;
mod finish;
pub mod glob;
mod load;
mod merge;
pub mod operations;
pub mod pinned;
pub(crate) mod presence;
pub mod problem;
mod raw;
pub mod rows;
pub mod rule;
mod rule_build;
pub mod source;
pub mod tables;
mod target;
pub mod verdict;
pub(crate) mod where_clause;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// One line of the approvers file, as the gate reads it too.
pub use crate::policy::approval::Signer as Approver;
pub use problem::{Problem, Severity};
pub use rule::{Condition, Rule};
pub use target::Target;
use verdict::Decision;

/// The built-in default policy: exactly the shipped `policies/default.toml`.
pub const BUILTIN_TEXT: &str = include_str!("../../policies/default.toml");

/// How the built-in default is named in messages.
pub(crate) const BUILTIN_NAME: &str = "<built-in default policy>";

/// The newest policy format this version understands.
pub(crate) const VERSION: u32 = 1;

/// How long an approval request stays valid unless `limits.request_ttl`
/// says otherwise.
pub(crate) const DEFAULT_REQUEST_TTL: Duration = Duration::from_secs(15 * 60);

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

/// `[limits]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Limits {
    pub lock_timeout: Option<Duration>,
    pub statement_timeout: Option<Duration>,
    /// Changes touching more rows than this are denied.
    pub max_rows: Option<u64>,
    pub request_ttl: Option<Duration>,
}

/// The effective policy, all files merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub associations: Vec<AssociationDecl>,
    pub infer_associations: bool,
    /// The files it was read from, in order (empty for the built-in
    /// default).
    pub files: Vec<PathBuf>,
    /// The policy directory, when read from one (its `approvers` file is
    /// the list of approvers).
    pub dir: Option<PathBuf>,
    /// The verdict when no rule matches (`default = "..."`, else confirm).
    pub default_decision: Decision,
    pub target: Target,
    pub limits: Limits,
    /// Group → principals.
    pub groups: BTreeMap<String, Vec<String>>,
    /// Rules in file order.
    pub rules: Vec<Rule>,
    /// Usable lines of the approvers file.
    pub approvers: Vec<Approver>,
    /// Where the approvers file was read from (for messages), when the
    /// policy has one.
    pub approvers_path: Option<PathBuf>,
    /// Rules of a local policy directory laid over a database's pinned
    /// policy: judged on their own, they can only make a verdict stricter
    /// (`verdict.rs`).
    pub stricter: Vec<Rule>,
    /// The digest of the policy pinned in the database, when that is the
    /// one that governs ([`source::PolicySource::digest`]).
    pub pinned: Option<String>,
    /// Warnings found while loading (errors make loading fail).
    pub warnings: Vec<Problem>,
    /// Where each group was (last) defined, for messages.
    group_sites: BTreeMap<String, (PathBuf, usize)>,
}

impl Default for Policy {
    /// An empty policy: no rules (every change gets `confirm`), no limits,
    /// associations inferred. Not the built-in default: see
    /// [`Policy::builtin`].
    fn default() -> Self {
        Policy {
            associations: Vec::new(),
            infer_associations: true,
            files: Vec::new(),
            dir: None,
            default_decision: Decision::Confirm,
            target: Target::default(),
            limits: Limits::default(),
            groups: BTreeMap::new(),
            rules: Vec::new(),
            approvers: Vec::new(),
            approvers_path: None,
            stricter: Vec::new(),
            pinned: None,
            warnings: Vec::new(),
            group_sites: BTreeMap::new(),
        }
    }
}

impl Policy {
    /// The environment label for the prompt (`[target] env`).
    pub fn env_label(&self) -> Option<String> {
        self.target.env.clone()
    }

    pub fn lock_timeout(&self) -> Option<Duration> {
        self.limits.lock_timeout
    }

    pub fn statement_timeout(&self) -> Option<Duration> {
        self.limits.statement_timeout
    }

    /// How long an approval request stays valid (default 15 minutes).
    /// Whether a verdict can depend on a write having a WHERE clause (a
    /// rule with `without_where`): only then does the preview ask the
    /// database whether the WHERE leaves any row out.
    pub fn judges_where(&self) -> bool {
        self.rules.iter().any(|r| {
            r.conditions
                .iter()
                .any(|c| matches!(c, rule::Condition::WithoutWhere(_)))
        })
    }

    /// Whether a rule (a local stricter one included) may ask approval of
    /// a change of `kind`: then the preview binds which rows it touches.
    pub fn may_ask_approval(&self, kind: crate::model::ChangeKind) -> bool {
        self.rules.iter().chain(&self.stricter).any(|r| {
            r.verdict == Decision::Approve
                && r.conditions.iter().all(|c| match c {
                    rule::Condition::Operations(ops) => {
                        ops.0.iter().any(|op| op.eq_ignore_ascii_case(kind.name()))
                    }
                    _ => true,
                })
        })
    }

    pub fn request_ttl(&self) -> Duration {
        self.limits.request_ttl.unwrap_or(DEFAULT_REQUEST_TTL)
    }

    /// `DIR/approvers`, when the policy has an approvers file.
    pub fn approvers_file(&self) -> Option<PathBuf> {
        self.approvers_path.clone()
    }

    /// The approvers file's keys, as the gate checks tokens against them.
    pub fn signers(&self) -> crate::policy::approval::AllowedSigners {
        crate::policy::approval::AllowedSigners {
            entries: self.approvers.clone(),
        }
    }

    /// Group → principals.
    pub fn groups(&self) -> &BTreeMap<String, Vec<String>> {
        &self.groups
    }

    /// Whether at least one approver key may sign dbguard approvals.
    pub fn approvers_configured(&self) -> bool {
        self.approvers.iter().any(Approver::allows_dbguard)
    }

    /// What to tell an operator whose change needs approval when no
    /// approver is configured.
    pub fn missing_approvers_message(&self) -> String {
        let dir = self
            .dir
            .as_ref()
            .map_or_else(|| "policies".to_owned(), |d| d.display().to_string());
        format!(
            "this change needs approval, but no approver is configured.\n\
             Add one: the approver creates a key if they have none (`ssh-keygen -t ed25519`), \
             then add a line to {dir}/approvers with their principal and public key \
             (the contents of ~/.ssh/id_ed25519.pub):\n    \
             alice@example.org namespaces=\"dbguard\" ssh-ed25519 AAAA...\n\
             Check it with `dbguard policy check {dir}`."
        )
    }

    /// Rules in evaluation order for display: strictest verdict first, file
    /// order within a verdict.
    pub(crate) fn rules_by_strictness(&self) -> Vec<&Rule> {
        let mut rules: Vec<&Rule> = self.rules.iter().collect();
        rules.sort_by_key(|r| std::cmp::Reverse(r.verdict));
        rules
    }
}
