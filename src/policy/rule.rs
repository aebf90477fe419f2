//! One `[[rule]]`: conditions (all must hold) and the verdict it gives.
//! Each condition kind lives in its own file.

use std::path::PathBuf;

use super::operations::Operations;
use super::presence::Presence;
use super::rows::{MinRows, MinTotalRows};
use super::tables::Tables;
use super::verdict::{Decision, VerdictInput};
use super::where_clause::WithoutWhere;

/// One condition of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Operations(Operations),
    Tables(Tables),
    WithoutWhere(WithoutWhere),
    MinRows(MinRows),
    MinTotalRows(MinTotalRows),
    Presence(Presence),
}

impl Condition {
    pub fn matches(&self, input: &VerdictInput) -> bool {
        match self {
            Condition::Operations(c) => c.matches(input),
            Condition::Tables(c) => c.matches(input),
            Condition::WithoutWhere(c) => c.matches(input),
            Condition::MinRows(c) => c.matches(input),
            Condition::MinTotalRows(c) => c.matches(input),
            Condition::Presence(c) => c.matches(input),
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            Condition::Operations(c) => c.describe(),
            Condition::Tables(c) => format!("on {}", c.describe()),
            Condition::WithoutWhere(c) => c.describe(),
            Condition::MinRows(c) => c.describe(),
            Condition::MinTotalRows(c) => c.describe(),
            Condition::Presence(c) => c.describe(),
        }
    }
}

/// A validated rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub name: String,
    /// Where it was written (file and 1-based line), for messages.
    pub file: PathBuf,
    pub line: usize,
    /// All must match; none means the rule matches every change.
    pub conditions: Vec<Condition>,
    pub verdict: Decision,
    /// Distinct approvals needed (`approve` only, at least 1).
    pub approvals: u32,
    /// Groups whose members may approve (`approve` only; empty: any
    /// listed approver).
    pub from: Vec<String>,
    pub message: Option<String>,
}

impl Rule {
    /// Whether every condition holds for `input`.
    pub fn matches(&self, input: &VerdictInput) -> bool {
        self.conditions.iter().all(|c| c.matches(input))
    }

    /// `update, delete without WHERE on *` (or `every change`).
    pub(crate) fn describe_conditions(&self) -> String {
        if self.conditions.is_empty() {
            return "every change".to_owned();
        }
        let mut parts: Vec<String> = self.conditions.iter().map(Condition::describe).collect();
        if !matches!(self.conditions.first(), Some(Condition::Operations(_))) {
            parts.insert(0, "any change".to_owned());
        }
        parts.join(" ")
    }

    /// For `approve`: `1 approval from any approver`, `2 approvals from
    /// dba, sre`; otherwise empty.
    pub(crate) fn describe_approvals(&self) -> String {
        if self.verdict != Decision::Approve {
            return String::new();
        }
        let from = if self.from.is_empty() {
            "any approver".to_owned()
        } else {
            self.from.join(", ")
        };
        let s = if self.approvals == 1 { "" } else { "s" };
        format!("{} approval{s} from {from}", self.approvals)
    }
}
