//! Verdicts: what policy says about one change (being written).

use serde::Serialize;

use crate::model::ChangeKind;
use crate::schema::QualName;

/// How strict a verdict is; the strictest matching rule wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Apply without asking.
    Allow,
    /// Apply after the operator confirms.
    Confirm,
    /// Apply after `approvals` distinct approvers from `from` sign it.
    Approve,
    /// Never apply.
    Deny,
}

impl Decision {
    pub fn name(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Confirm => "confirm",
            Decision::Approve => "approve",
            Decision::Deny => "deny",
        }
    }
}

/// Policy's answer for one change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub decision: Decision,
    /// The names of the rules that decided (all rules of the winning
    /// strictness that matched).
    pub rules: Vec<String>,
    /// Distinct approvals needed (0 unless `decision` is `approve`).
    pub approvals_needed: u32,
    /// Groups whose members may approve (empty: any listed approver).
    pub from: Vec<String>,
    /// Why (deny messages, or a summary).
    pub message: Option<String>,
}

/// What a verdict is decided on.
#[derive(Debug, Clone)]
pub struct VerdictInput<'a> {
    pub kind: ChangeKind,
    pub table: &'a QualName,
    /// Whether an UPDATE/DELETE has a WHERE clause.
    pub has_where: bool,
    /// Rows the statement itself matches.
    pub target_rows: u64,
    /// Rows changed in all tables (net totals).
    pub total_rows: u64,
    pub has_cascades: bool,
    pub has_dangling: bool,
    pub has_warnings: bool,
    /// Every table the change touches (for table globs).
    pub tables: Vec<QualName>,
}
