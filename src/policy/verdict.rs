//! Verdicts: what policy says about one change, and how the matching
//! rules and `limits.max_rows` decide it.

use serde::Serialize;

use super::{Policy, Rule};
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
    /// The decision a policy file names (`verdict = "..."`, `default`).
    pub(super) fn parse(s: &str) -> Option<Decision> {
        match s {
            "allow" => Some(Decision::Allow),
            "confirm" => Some(Decision::Confirm),
            "approve" => Some(Decision::Approve),
            "deny" => Some(Decision::Deny),
            _ => None,
        }
    }

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
pub struct VerdictInput {
    pub kind: ChangeKind,
    /// The table the statement names.
    pub table: QualName,
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

impl VerdictInput {
    /// What policy judges of a change that acts on one object, not on
    /// rows (a policy push, an administrative call): `table` names it for
    /// table globs, `rows` is 1 when it exists and 0 when it does not.
    pub fn one_object(kind: ChangeKind, table: QualName, rows: u64) -> VerdictInput {
        VerdictInput {
            kind,
            table: table.clone(),
            has_where: true,
            target_rows: rows,
            total_rows: rows,
            has_cascades: false,
            has_dangling: false,
            has_warnings: false,
            tables: vec![table],
        }
    }
}

impl Policy {
    /// Policy's verdict on one change: the strictest matching rule wins
    /// (deny > approve > confirm > allow) and every matching rule at that
    /// strictness is listed. `limits.max_rows` acts as a deny rule named
    /// `limits.max_rows`. Without any match, the policy's `default`
    /// (confirm unless set), with the rule name `default`.
    ///
    /// For `approve`: `approvals_needed` is the largest `approvals` of the
    /// deciding rules and `from` the union of their groups; rules without
    /// `from` (any approver) add no restriction, so `from` is empty only
    /// when none of them names a group. `message` joins the deciding rules'
    /// messages with `; `.
    ///
    /// Rules a local directory lays over a pinned policy (`stricter`) are
    /// judged on their own and can only make the verdict stricter.
    pub fn verdict(&self, input: &VerdictInput) -> Verdict {
        let own = self
            .decide(&self.rules, true, input)
            .unwrap_or_else(|| Verdict {
                decision: self.default_decision,
                rules: vec!["default".to_owned()],
                approvals_needed: 0,
                from: Vec::new(),
                message: None,
            });
        match self.decide(&self.stricter, false, input) {
            Some(local) => stricter_of(own, local),
            None => own,
        }
    }

    /// The verdict of `rules` (and of `limits.max_rows` when `limits`),
    /// or `None` when nothing matches.
    fn decide(&self, rules: &[Rule], limits: bool, input: &VerdictInput) -> Option<Verdict> {
        struct Hit<'r> {
            decision: Decision,
            name: &'r str,
            approvals: u32,
            from: &'r [String],
            message: Option<String>,
        }
        let mut hits: Vec<Hit<'_>> = Vec::new();
        if let Some(max) = self.limits.max_rows.filter(|_| limits) {
            let rows = input.total_rows.max(input.target_rows);
            if rows > max {
                hits.push(Hit {
                    decision: Decision::Deny,
                    name: "limits.max_rows",
                    approvals: 0,
                    from: &[],
                    message: Some(format!(
                        "this change touches {rows} rows, more than the policy allows (limits.max_rows = {max}); split it into smaller changes"
                    )),
                });
            }
        }
        for rule in rules {
            if rule.matches(input) {
                hits.push(Hit {
                    decision: rule.verdict,
                    name: &rule.name,
                    approvals: rule.approvals,
                    from: &rule.from,
                    message: rule.message.clone(),
                });
            }
        }
        let decision = hits.iter().map(|h| h.decision).max()?;
        let winners: Vec<&Hit<'_>> = hits.iter().filter(|h| h.decision == decision).collect();
        let mut from: Vec<String> = Vec::new();
        let mut approvals_needed = 0;
        if decision == Decision::Approve {
            for h in &winners {
                approvals_needed = approvals_needed.max(h.approvals);
                for g in h.from {
                    if !from.contains(g) {
                        from.push(g.clone());
                    }
                }
            }
        }
        let messages: Vec<&str> = winners
            .iter()
            .filter_map(|h| h.message.as_deref())
            .collect();
        Some(Verdict {
            decision,
            rules: winners.iter().map(|h| h.name.to_owned()).collect(),
            approvals_needed,
            from,
            message: (!messages.is_empty()).then(|| messages.join("; ")),
        })
    }
}

/// The pinned policy's verdict `own` made stricter by a local rule's
/// `local`, never looser: a stricter decision wins outright; at the same
/// `approve`, the larger count, and the pinned policy's groups (a local
/// rule can narrow "any approver" to its groups, never widen a group list).
fn stricter_of(own: Verdict, local: Verdict) -> Verdict {
    if local.decision > own.decision {
        return local;
    }
    if local.decision < own.decision {
        return own;
    }
    let mut rules = own.rules;
    rules.extend(local.rules);
    let messages: Vec<String> = own.message.into_iter().chain(local.message).collect();
    Verdict {
        decision: own.decision,
        rules,
        approvals_needed: own.approvals_needed.max(local.approvals_needed),
        from: if own.from.is_empty() {
            local.from
        } else {
            own.from
        },
        message: (!messages.is_empty()).then(|| messages.join("; ")),
    }
}
