//! The checks that need every file read: groups a rule names must exist
//! somewhere, the approvers file is read and checked line by line, every
//! group member should have a key in it, and rules that need approval
//! should have someone able to give it. Only the unknown group and a bad
//! approvers line are errors; the rest are warnings, because a policy
//! being set up step by step is still usable.

use std::path::{Path, PathBuf};

use super::Policy;
use super::problem::{Problem, Severity};
use super::verdict::Decision;

impl Policy {
    /// Cross-file checks and the approvers file.
    pub(super) fn finish(&mut self, approvers: Option<&str>, problems: &mut Vec<Problem>) {
        self.check_groups_exist(problems);
        let approvers_path = self.dir.as_ref().map_or_else(
            || PathBuf::from("policies/approvers"),
            |d| d.join("approvers"),
        );
        if let Some(text) = approvers {
            self.read_approvers(text, &approvers_path, problems);
            self.check_members_have_keys(problems, &approvers_path);
        }
        self.check_someone_can_approve(problems, approvers_path);
    }

    fn check_groups_exist(&self, problems: &mut Vec<Problem>) {
        for rule in &self.rules {
            for g in &rule.from {
                if !self.groups.contains_key(g) {
                    let known: Vec<&str> = self.groups.keys().map(String::as_str).collect();
                    problems.push(Problem {
                        file: rule.file.clone(),
                        line: Some(rule.line),
                        severity: Severity::Error,
                        message: format!(
                            "rule {}: from names unknown group {g:?} ({}); define it under [groups]",
                            rule.name,
                            if known.is_empty() {
                                "no groups are defined".to_owned()
                            } else {
                                format!("known: {}", known.join(", "))
                            }
                        ),
                    });
                }
            }
        }
    }

    /// Reads the approvers file's text with the one allowed_signers
    /// parser the gate uses too.
    fn read_approvers(&mut self, text: &str, path: &Path, problems: &mut Vec<Problem>) {
        let (approvers, line_problems) =
            crate::policy::approval::AllowedSigners::parse_checked(text);
        problems.extend(line_problems.into_iter().map(|p| Problem {
            file: path.to_path_buf(),
            line: Some(p.line),
            severity: if p.error {
                Severity::Error
            } else {
                Severity::Warning
            },
            message: p.message,
        }));
        self.approvers = approvers.entries;
    }

    fn check_members_have_keys(&self, problems: &mut Vec<Problem>, approvers_path: &Path) {
        for (group, members) in &self.groups {
            let (file, line) = self
                .group_sites
                .get(group)
                .cloned()
                .unwrap_or_else(|| (PathBuf::new(), 0));
            for m in members {
                if !self.approvers.iter().any(|a| a.principals.contains(m)) {
                    problems.push(Problem {
                        file: file.clone(),
                        line: Some(line),
                        severity: Severity::Warning,
                        message: format!(
                            "group {group}: {m} has no key in {}, so they cannot approve yet",
                            approvers_path.display()
                        ),
                    });
                }
            }
        }
    }

    fn check_someone_can_approve(&self, problems: &mut Vec<Problem>, approvers_path: PathBuf) {
        let needing: Vec<&str> = self
            .rules
            .iter()
            .filter(|r| r.verdict == Decision::Approve)
            .map(|r| r.name.as_str())
            .collect();
        if !needing.is_empty() && !self.approvers_configured() {
            problems.push(Problem {
                file: approvers_path,
                line: None,
                severity: Severity::Warning,
                message: format!(
                    "no approver can sign yet, so changes matching {} will be refused; add one line per approver: `alice@example.org namespaces=\"dbguard\" ssh-ed25519 AAAA...` (their key from `ssh-keygen -t ed25519`)",
                    needing.join(", ")
                ),
            });
        }
    }
}
