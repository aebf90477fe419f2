//! Building a [`Rule`] from one `[[rule]]` table: the name, each condition
//! key, then the verdict and what it needs (`approvals`, `from`,
//! `message`). A rule with any error is left out, but every error in it is
//! reported first, so one `policy check` run lists them all.

use toml::Spanned;

use super::merge::globs;
use super::problem::Sink;
use super::raw::RawRule;
use super::rule::{Condition, Rule};
use super::verdict::Decision;
use super::{Policy, operations, presence, rows, tables, where_clause};

impl Policy {
    /// The rule `raw` describes, or `None` (with its errors in `sink`).
    pub(super) fn build_rule(&self, sink: &mut Sink<'_>, raw: RawRule) -> Option<Rule> {
        let errors_before = sink.errors();
        let name_at = raw.name.span().start;
        let name = raw.name.get_ref().clone();
        self.check_rule_name(sink, &name, name_at);
        let label = format!("rule {name}");
        let conditions = conditions(sink, &label, &raw);
        let verdict = verdict(sink, &label, &raw.verdict);
        let is_approve = verdict == Some(Decision::Approve);
        let verdict_at = raw.verdict.span().start;
        let approvals = approvals(sink, &label, raw.approvals.as_ref(), is_approve, verdict_at);
        let from = approver_groups(sink, &label, raw.from, is_approve);
        let message = raw.message.filter(|m| !m.trim().is_empty());
        if verdict == Some(Decision::Deny) && message.is_none() {
            sink.error(
                verdict_at,
                format!("{label}: verdict = \"deny\" needs `message = \"...\"` telling the operator why and what to do instead"),
            );
        }
        if sink.errors() > errors_before {
            return None;
        }
        Some(Rule {
            name,
            file: sink.file.to_path_buf(),
            line: sink.line(name_at),
            conditions,
            verdict: verdict?,
            approvals,
            from,
            message,
        })
    }

    /// A rule's name is not empty and unique across every file.
    fn check_rule_name(&self, sink: &mut Sink<'_>, name: &str, at: usize) {
        if name.trim().is_empty() {
            sink.error(at, "a rule needs a non-empty name");
        }
        if let Some(other) = self.rules.iter().find(|r| r.name == name) {
            sink.error(
                at,
                format!(
                    "rule name {name:?} is already used at {}:{}; rule names must be unique",
                    other.file.display(),
                    other.line
                ),
            );
        }
    }
}

/// The rule's conditions, in the order policy check describes them.
fn conditions(sink: &mut Sink<'_>, label: &str, raw: &RawRule) -> Vec<Condition> {
    let mut conditions = Vec::new();
    if let Some(ops) = &raw.operations {
        conditions.push(Condition::Operations(operations_of(sink, label, ops)));
    }
    if let Some(tables) = &raw.tables {
        let at = tables.span().start;
        let tables = tables.get_ref();
        if tables.is_empty() {
            sink.error(at, format!("{label}: tables = [] matches nothing; list globs (\"*\" for all) or remove the key"));
        }
        if let Some(g) = globs(sink, &format!("{label}: tables"), tables) {
            conditions.push(Condition::Tables(tables::Tables(g)));
        }
    }
    if let Some(w) = raw.without_where {
        conditions.push(Condition::WithoutWhere(where_clause::WithoutWhere(w)));
    }
    if let Some(n) = raw.min_rows {
        conditions.push(Condition::MinRows(rows::MinRows(n)));
    }
    if let Some(n) = raw.min_total_rows {
        conditions.push(Condition::MinTotalRows(rows::MinTotalRows(n)));
    }
    for (feature, value) in [
        (presence::Feature::Cascades, raw.cascades),
        (presence::Feature::Dangling, raw.dangling),
        (presence::Feature::Warnings, raw.warnings),
    ] {
        if let Some(present) = value {
            conditions.push(Condition::Presence(presence::Presence { feature, present }));
        }
    }
    conditions
}

/// `operations = [...]`, lower-cased; unknown names are errors.
fn operations_of(
    sink: &mut Sink<'_>,
    label: &str,
    ops: &Spanned<Vec<Spanned<String>>>,
) -> operations::Operations {
    if ops.get_ref().is_empty() {
        sink.error(ops.span().start, format!("{label}: operations = [] matches nothing; list operations or remove the key to match every kind"));
    }
    let mut names = Vec::new();
    for op in ops.get_ref() {
        let lower = op.get_ref().to_ascii_lowercase();
        if operations::is_known(&lower) {
            names.push(lower);
        } else {
            sink.error(
                op.span().start,
                format!(
                    "{label}: unknown operation {:?} (known: {})",
                    op.get_ref(),
                    operations::known().join(", ")
                ),
            );
        }
    }
    operations::Operations(names)
}

fn verdict(sink: &mut Sink<'_>, label: &str, verdict: &Spanned<String>) -> Option<Decision> {
    let decision = Decision::parse(verdict.get_ref());
    if decision.is_none() {
        sink.error(
            verdict.span().start,
            format!(
                "{label}: unknown verdict {:?}; use \"allow\", \"confirm\", \"approve\" or \"deny\"",
                verdict.get_ref()
            ),
        );
    }
    decision
}

/// `approvals = N`: required with `approve` (at least 1), refused without.
fn approvals(
    sink: &mut Sink<'_>,
    label: &str,
    approvals: Option<&Spanned<i64>>,
    is_approve: bool,
    verdict_at: usize,
) -> u32 {
    match (approvals, is_approve) {
        (None, true) => sink.error(
            verdict_at,
            format!("{label}: verdict = \"approve\" needs `approvals = N` (distinct approvers, at least 1)"),
        ),
        (Some(n), true) => match u32::try_from(*n.get_ref()) {
            Ok(v) if v >= 1 => return v,
            _ => sink.error(
                n.span().start,
                format!("{label}: approvals = {} must be at least 1", n.get_ref()),
            ),
        },
        (Some(n), false) => sink.error(
            n.span().start,
            format!("{label}: `approvals` only applies to verdict = \"approve\"; remove it or change the verdict"),
        ),
        (None, false) => {}
    }
    0
}

/// `from = [...]`: the groups that may approve (`approve` only), each once.
fn approver_groups(
    sink: &mut Sink<'_>,
    label: &str,
    from: Option<Spanned<Vec<Spanned<String>>>>,
    is_approve: bool,
) -> Vec<String> {
    let mut groups = Vec::new();
    let Some(f) = from else {
        return groups;
    };
    let at = f.span().start;
    if !is_approve {
        sink.error(at, format!("{label}: `from` only applies to verdict = \"approve\"; remove it or change the verdict"));
    } else if f.get_ref().is_empty() {
        sink.error(
            at,
            format!("{label}: from = [] names no group; remove `from` to accept any approver"),
        );
    }
    for g in f.into_inner() {
        let g = g.into_inner();
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    groups
}
