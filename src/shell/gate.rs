//! The gate between a preview and an apply: policy's verdict, and the
//! approvals it may ask for.
//!
//! One function, [`decide`], serves writes typed at the prompt, `exec` and
//! undos alike: deny stops the change (exit 2); confirm asks the operator
//! (never by default: a non-terminal without `--yes` refuses); approve
//! needs signed tokens from other people — given with `--token`, or pasted
//! at the prompt after the shell printed a request line — each checked
//! against this exact change (exit 3 when missing or invalid).

use crate::model::ChangeKind;
use std::io::BufRead;

use crate::approval::{self, AllowedSigners, Approval, Expected, Request};
use crate::db::TargetIdentity;
use crate::error::{Error, Result};
use crate::impact::{Action, Impact};
use crate::journal::Journal;
use crate::policy::Policy;
use crate::policy::verdict::{Decision, Verdict, VerdictInput};
use crate::schema::QualName;

/// What the gate needs to know about the session.
pub struct Session<'a> {
    pub policy: &'a Policy,
    pub journal: &'a Journal,
    pub identity: &'a TargetIdentity,
    pub operator: &'a str,
    /// Tokens given on the command line (`--token`).
    pub tokens: &'a [String],
    /// `--yes`: confirmation given in advance.
    pub yes: bool,
    /// Whether the operator can be asked (stdin is a terminal).
    pub interactive: bool,
    /// A piped shell: no questions, but approval tokens may follow the
    /// printed request on the input (a program driving the shell).
    pub script: bool,
}

/// What is being gated.
pub struct Change<'a> {
    pub kind: ChangeKind,
    pub statement: &'a str,
    pub digest: &'a str,
    pub verdict: &'a Verdict,
    /// Summary shown to approvers.
    pub summary: serde_json::Value,
}

/// The gate's answer.
#[derive(Debug, Default)]
pub struct Passed {
    pub approvals: Vec<Approval>,
    /// The request line printed, when approvals were asked for.
    pub request: Option<String>,
    /// The operator declined at the confirmation prompt.
    pub cancelled: bool,
}

impl Passed {
    /// Records the approvals that let change `change_id` through. All
    /// approvals of one request share its nonce, which is used once, so one
    /// record names every approver.
    pub fn record(&self, journal: &Journal, change_id: i64) -> Result<()> {
        let Some(first) = self.approvals.first() else {
            return Ok(());
        };
        let joined =
            |f: fn(&Approval) -> &str| self.approvals.iter().map(f).collect::<Vec<_>>().join(", ");
        let record = (
            joined(|a| a.principal.as_str()),
            joined(|a| a.fingerprint.as_str()),
            first.nonce.clone(),
            first.signed_at,
        );
        journal.record_approvals(change_id, &[record])
    }
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// 128 random bits as hex, from the operating system.
pub fn nonce() -> Result<String> {
    use std::io::Read;
    let mut buf = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| {
            Error::io(format!(
                "cannot read random bytes for the request nonce: {e}"
            ))
        })?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// The verdict input of a previewed write.
pub fn input_for<'a>(impact: &'a Impact, has_where: bool) -> VerdictInput<'a> {
    let total_rows = impact
        .totals
        .values()
        .map(|t| t.delete + t.update + t.insert)
        .sum();
    VerdictInput {
        kind: impact.kind,
        table: &impact.target.table,
        has_where,
        target_rows: impact.target.rows.unwrap_or(u64::MAX),
        total_rows: if impact.bounded { total_rows } else { u64::MAX },
        has_cascades: impact
            .effects
            .iter()
            .any(|e| e.action == Action::Cascade && e.rows.unwrap_or(1) > 0),
        has_dangling: impact
            .effects
            .iter()
            .any(|e| e.action == Action::Dangling && e.rows.unwrap_or(1) > 0),
        has_warnings: !impact.warnings.is_empty(),
        tables: impact
            .totals
            .iter()
            .filter(|(_, t)| t.delete + t.update + t.insert > 0)
            .map(|(n, _)| n.clone())
            .collect::<Vec<QualName>>(),
    }
}

/// What an approver is shown of a preview.
pub fn summary_of(impact: &Impact) -> serde_json::Value {
    let effects: Vec<serde_json::Value> = impact
        .effects
        .iter()
        .map(|e| {
            serde_json::json!({
                "table": e.table.to_string(),
                "action": e.action.name(),
                "via": e.via,
                "rows": e.rows,
            })
        })
        .collect();
    let totals: serde_json::Map<String, serde_json::Value> = impact
        .totals
        .iter()
        .map(|(t, v)| {
            (
                t.to_string(),
                serde_json::json!({"delete": v.delete, "update": v.update, "insert": v.insert}),
            )
        })
        .collect();
    serde_json::json!({
        "target": {"table": impact.target.table.to_string(), "rows": impact.target.rows},
        "totals": totals,
        "effects": effects,
        "will_fail": impact.will_fail,
        "warnings": impact.warnings,
    })
}

/// One line saying what policy decided, for the preview's last lines.
pub fn verdict_line(v: &Verdict) -> String {
    let rules = if v.rules.is_empty() {
        String::new()
    } else {
        format!(
            " (rule{} {})",
            if v.rules.len() == 1 { "" } else { "s" },
            v.rules.join(", ")
        )
    };
    match v.decision {
        Decision::Allow => format!("policy: allowed{rules}"),
        Decision::Confirm => format!("policy: needs your confirmation{rules}"),
        Decision::Approve => format!(
            "policy: needs {} approval{} from {}{rules}",
            v.approvals_needed,
            if v.approvals_needed == 1 { "" } else { "s" },
            if v.from.is_empty() {
                "any approver".to_owned()
            } else {
                v.from.join(" or ")
            }
        ),
        Decision::Deny => format!(
            "policy: DENIED{rules}{}",
            v.message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        ),
    }
}

/// The verdict as JSON: `{decision, rules, approvals_needed}`.
pub fn verdict_json(v: &Verdict) -> serde_json::Value {
    serde_json::json!({
        "decision": v.decision.name(),
        "rules": v.rules,
        "approvals_needed": v.approvals_needed,
        "from": v.from,
        "message": v.message,
    })
}

/// Runs the gate. `Ok` means apply (with these approvals); `cancelled`
/// means the operator said no.
pub fn decide(
    s: &Session<'_>,
    c: &Change<'_>,
    out: &mut dyn FnMut(&str) -> Result<()>,
    input: &mut dyn FnMut() -> Result<Option<String>>,
) -> Result<Passed> {
    match c.verdict.decision {
        Decision::Deny => Err(Error::denied(format!(
            "{} denied by policy{}{}\nThe policy in {} does not allow it; change the policy or ask its owners.",
            c.kind.name().to_uppercase(),
            if c.verdict.rules.is_empty() {
                String::new()
            } else {
                format!(" (rule {})", c.verdict.rules.join(", "))
            },
            c.verdict
                .message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default(),
            s.policy
                .files
                .first()
                .and_then(|f| f.parent())
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "the built-in default".into())
        ))),
        Decision::Allow => Ok(Passed::default()),
        Decision::Confirm => {
            if s.yes {
                return Ok(Passed::default());
            }
            if !s.interactive {
                return Err(Error::refused(
                    "not applied: confirming a change needs a terminal\nRun it in the shell on a terminal, or with dbguard exec --yes.",
                ));
            }
            out("Apply this change? Type apply (or yes) to run it; anything else cancels: ")?;
            let answer = input()?.unwrap_or_default();
            let a = answer.trim().to_ascii_lowercase();
            Ok(Passed {
                cancelled: a != "apply" && a != "yes",
                ..Passed::default()
            })
        }
        Decision::Approve => approve(s, c, out, input),
    }
}

fn copy<'a>(e: &Expected<'a>) -> Expected<'a> {
    Expected {
        digest: e.digest,
        statement: e.statement,
        database: e.database,
        system_identifier: e.system_identifier,
        operator: e.operator,
        now: e.now,
        approvals_needed: e.approvals_needed,
        from: e.from,
    }
}

/// Reads one answer line from the terminal.
pub fn terminal_line() -> Result<Option<String>> {
    let mut answer = String::new();
    let n = std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Error::io(format!("cannot read the answer: {e}")))?;
    Ok((n > 0).then_some(answer))
}

/// One audit record per verified approval, whichever way it arrived.
fn audit_approvals(s: &Session<'_>, c: &Change<'_>, approvals: &[Approval]) {
    for a in approvals {
        let _ = s.journal.audit(
            "approval",
            s.operator,
            Some(&s.identity.display),
            None,
            serde_json::json!({"principal": a.principal, "fingerprint": a.fingerprint, "digest": c.digest}),
        );
    }
}

fn approve(
    s: &Session<'_>,
    c: &Change<'_>,
    out: &mut dyn FnMut(&str) -> Result<()>,
    input: &mut dyn FnMut() -> Result<Option<String>>,
) -> Result<Passed> {
    let v = c.verdict;
    let Some(file) = s
        .policy
        .approvers_file()
        .filter(|_| s.policy.approvers_configured())
    else {
        return Err(Error::approval(format!(
            "this change needs {} approval{}, but no approver is configured\nAn approver creates a key (ssh-keygen -t ed25519) and adds a line `their@principal namespaces=\"dbguard\" ssh-ed25519 AAAA...` to policies/approvers.",
            v.approvals_needed,
            if v.approvals_needed == 1 { "" } else { "s" }
        )));
    };
    let signers = AllowedSigners::load(&file)?;
    let expected = Expected {
        digest: c.digest,
        statement: c.statement,
        database: &s.identity.database,
        system_identifier: s.identity.system_identifier.as_deref(),
        operator: s.operator,
        now: now(),
        approvals_needed: v.approvals_needed,
        from: &v.from,
    };
    let used = |n: &str| s.journal.nonce_used(n).unwrap_or(true);
    if !s.tokens.is_empty() {
        let approvals = approval::verify(s.tokens, &expected, &signers, s.policy.groups(), &used)?;
        audit_approvals(s, c, &approvals);
        return Ok(Passed {
            approvals,
            ..Passed::default()
        });
    }
    let created = now();
    let request = Request {
        version: 1,
        statement: c.statement.to_owned(),
        kind: c.kind,
        target: s.identity.display.clone(),
        database: s.identity.database.clone(),
        system_identifier: s.identity.system_identifier.clone(),
        operator: s.operator.to_owned(),
        digest: c.digest.to_owned(),
        summary: c.summary.clone(),
        rules: v.rules.clone(),
        approvals_needed: v.approvals_needed,
        from: v.from.clone(),
        nonce: nonce()?,
        created_at: created,
        expires_at: created + s.policy.request_ttl().as_secs() as i64,
    };
    let line = request.encode();
    let _ = s.journal.audit(
        "request",
        s.operator,
        Some(&s.identity.display),
        None,
        serde_json::json!({"digest": c.digest, "nonce": request.nonce, "expires_at": request.expires_at, "rules": v.rules}),
    );
    if !s.interactive && !s.script {
        return Err(Error::approval(format!(
            "this change needs {} approval{} ({}): not applied\nAsk an approver to run `dbguard approve REQUEST`, then rerun with --token TOKEN. The request:\n{line}",
            v.approvals_needed,
            if v.approvals_needed == 1 { "" } else { "s" },
            v.rules.join(", ")
        ))
        .with_request(line));
    }
    out(&format!(
        "This change needs {} approval{}. Send this request to an approver, who runs: dbguard approve REQUEST\n{line}\nPaste approval tokens, one per line (an empty line cancels):\n",
        v.approvals_needed,
        if v.approvals_needed == 1 { "" } else { "s" }
    ))?;
    let mut tokens: Vec<String> = Vec::new();
    loop {
        let line_in = input()?.unwrap_or_default();
        let t = line_in.trim();
        if t.is_empty() {
            if s.script {
                return Err(Error::approval(format!(
                    "this change needs {} approval{}: no valid token followed the request; not applied",
                    v.approvals_needed,
                    if v.approvals_needed == 1 { "" } else { "s" }
                ))
                .with_request(line));
            }
            return Ok(Passed {
                request: Some(line),
                cancelled: true,
                ..Passed::default()
            });
        }
        // Each token on its own first, so a bad one is named and dropped.
        let one = Expected {
            approvals_needed: 1,
            ..copy(&expected)
        };
        if let Err(e) = approval::verify(&[t.to_owned()], &one, &signers, s.policy.groups(), &used)
        {
            out(&format!("{}\n", e.message))?;
            continue;
        }
        tokens.push(t.to_owned());
        match approval::verify(&tokens, &expected, &signers, s.policy.groups(), &used) {
            Ok(approvals) => {
                audit_approvals(s, c, &approvals);
                return Ok(Passed {
                    approvals,
                    request: Some(line),
                    cancelled: false,
                });
            }
            Err(e) => {
                // Valid so far, but not enough (or the same principal
                // twice): say so and wait for more.
                out(&format!("{}\n", e.message))?;
            }
        }
    }
}
