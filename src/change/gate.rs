//! The gate between a preview and an apply: policy's verdict, and the
//! confirmation or approvals it asks for.
//!
//! One function, [`decide`], serves every plan and every interface: deny
//! stops the change (exit 2); confirm asks the operator (never by default:
//! nobody to ask and no `--yes` refuses); approve needs signed tokens from
//! other people — given with `--token`, or pasted after the request line
//! was shown — each checked against this exact change (exit 3 when
//! missing or invalid). Every request and approval is in the audit trail
//! before the change goes on.

use super::{Answers, Context, Interface, Preview};
use crate::db::Connection;
use crate::error::{Error, Result};
use crate::policy::approval::{self, AllowedSigners, Approval, Expected, Request};
use crate::policy::verdict::{Decision, Verdict};

/// The gate's answer.
#[derive(Debug, Default)]
pub(super) struct Passed {
    pub approvals: Vec<Approval>,
    /// The operator declined at the confirmation prompt.
    pub cancelled: bool,
}

/// One line saying what policy decided, for the preview's last lines.
pub(crate) fn verdict_line(v: &Verdict) -> String {
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
            plural(v.approvals_needed),
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

/// The verdict as JSON: `{decision, rules, approvals_needed, from, message}`.
pub(crate) fn verdict_json(v: &Verdict) -> serde_json::Value {
    serde_json::json!({
        "decision": v.decision.name(),
        "rules": v.rules,
        "approvals_needed": v.approvals_needed,
        "from": v.from,
        "message": v.message,
    })
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Runs the gate. `Ok` means apply (with these approvals); `cancelled`
/// means the operator said no.
pub(super) fn decide(
    cx: &mut Context<'_>,
    preview: &Preview,
    verdict: &Verdict,
    ui: &mut dyn Interface,
) -> Result<Passed> {
    match verdict.decision {
        Decision::Deny => Err(denied(cx, preview, verdict)),
        Decision::Allow => Ok(Passed::default()),
        Decision::Confirm => confirm(cx, preview, ui),
        Decision::Approve => approve(cx, preview, verdict, ui),
    }
}

fn denied(cx: &Context<'_>, preview: &Preview, v: &Verdict) -> Error {
    Error::denied(format!(
        "{} denied by policy{}{}\nThe policy in {} does not allow it; change the policy or ask its owners.",
        preview.kind().name().to_uppercase(),
        if v.rules.is_empty() {
            String::new()
        } else {
            format!(" (rule {})", v.rules.join(", "))
        },
        v.message
            .as_deref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default(),
        cx.policy
            .files
            .first()
            .and_then(|f| f.parent())
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "the built-in default".into())
    ))
}

fn confirm(cx: &Context<'_>, preview: &Preview, ui: &mut dyn Interface) -> Result<Passed> {
    if cx.options.yes {
        return Ok(Passed::default());
    }
    if ui.answers() != Answers::Terminal {
        return Err(Error::refused(
            "not applied: confirming a change needs a terminal\nRun it in the shell on a terminal, or with dbguard exec --yes.",
        ));
    }
    Ok(Passed {
        cancelled: !ui.confirm(preview)?,
        ..Passed::default()
    })
}

/// What a change must be approved for, and by whom.
struct Approvals<'a> {
    signers: AllowedSigners,
    expected: Expected<'a>,
    groups: &'a std::collections::BTreeMap<String, Vec<String>>,
}

impl Approvals<'_> {
    /// Checks `tokens` against this change: enough of them, each valid.
    /// A token whose use the journal cannot rule out counts as used.
    fn verify(
        &self,
        tokens: &[String],
        conn: &mut Connection,
        needed: u32,
    ) -> Result<Vec<Approval>> {
        let mut used = |n: &str| {
            conn.preview(std::time::Duration::from_secs(10), |tx| {
                crate::journal::read::nonce_used(tx, n)
            })
            .unwrap_or(true)
        };
        let expected = Expected {
            approvals_needed: needed,
            ..self.expected.clone()
        };
        approval::verify(tokens, &expected, &self.signers, self.groups, &mut used)
    }
}

fn approve(
    cx: &mut Context<'_>,
    preview: &Preview,
    v: &Verdict,
    ui: &mut dyn Interface,
) -> Result<Passed> {
    if !cx.policy.approvers_configured() {
        return Err(Error::approval(format!(
            "this change needs {} approval{}, but no approver is configured\nAn approver creates a key (ssh-keygen -t ed25519) and adds a line `their@principal namespaces=\"dbguard\" ssh-ed25519 AAAA...` to policies/approvers.",
            v.approvals_needed,
            plural(v.approvals_needed)
        )));
    }
    let identity = cx.conn.identity().clone();
    let signers = cx.policy.signers();
    let me = approval::prove(cx.options.key.as_deref(), &signers, approval::now())?;
    // From here on the journal and the trail name whom the key proved,
    // not the name the session goes by.
    cx.operator = me.principal.clone();
    let check = Approvals {
        signers,
        expected: Expected {
            digest: &preview.digest,
            statement: &preview.statement,
            database: &identity.database,
            system_identifier: identity.system_identifier.as_deref(),
            operator: &me.principal,
            operator_principals: &me.principals,
            operator_key: &me.fingerprint,
            now: approval::now(),
            approvals_needed: v.approvals_needed,
            from: &v.from,
            kind: preview.facts.kind,
            summary: &preview.summary,
            rules: &v.rules,
            requested: v.approvals_needed,
            ttl_secs: i64::try_from(cx.policy.request_ttl().as_secs()).unwrap_or(i64::MAX),
        },
        groups: cx.policy.groups(),
    };
    if !cx.options.tokens.is_empty() {
        let approvals = check.verify(&cx.options.tokens, cx.conn, v.approvals_needed)?;
        audit_approvals(cx, preview, &approvals)?;
        return Ok(Passed {
            approvals,
            ..Passed::default()
        });
    }
    let line = request(cx, preview, v, &identity, &me.principal)?;
    if ui.answers() == Answers::Nobody {
        return Err(Error::approval(format!(
            "this change needs {} approval{} ({}): not applied\nAsk an approver to run `dbguard approve REQUEST`, then rerun with --token TOKEN. The request:\n{line}",
            v.approvals_needed,
            plural(v.approvals_needed),
            v.rules.join(", ")
        ))
        .with_request(line));
    }
    ui.request(v.approvals_needed, &line)?;
    let approvals = collect_tokens(cx, &check, v, ui, &line)?;
    if let Some(approvals) = &approvals {
        audit_approvals(cx, preview, approvals)?;
    }
    Ok(Passed {
        cancelled: approvals.is_none(),
        approvals: approvals.unwrap_or_default(),
    })
}

/// Builds the request for this change, records it in the audit trail, and
/// returns its line.
fn request(
    cx: &mut Context<'_>,
    preview: &Preview,
    v: &Verdict,
    identity: &crate::db::TargetIdentity,
    operator: &str,
) -> Result<String> {
    let created = approval::now();
    let request = Request {
        version: 1,
        statement: preview.statement.clone(),
        kind: preview.kind(),
        target: identity.display.clone(),
        database: identity.database.clone(),
        system_identifier: identity.system_identifier.clone(),
        operator: operator.to_owned(),
        digest: preview.digest.clone(),
        summary: preview.summary.clone(),
        rules: v.rules.clone(),
        approvals_needed: v.approvals_needed,
        from: v.from.clone(),
        nonce: approval::new_nonce()?,
        created_at: created,
        expires_at: created + cx.policy.request_ttl().as_secs() as i64,
    };
    cx.audit(
        "request",
        None,
        serde_json::json!({"digest": preview.digest, "nonce": request.nonce, "expires_at": request.expires_at, "rules": v.rules}),
    )?;
    Ok(request.encode())
}

/// Reads tokens until they are enough (`Some`), or the operator gives up
/// with an empty line (`None`). A signed rejection of this request stops
/// the change, on record with its reason. On a terminal a refused token
/// ends the wait too, so the next statement typed is never read as a
/// token; a script's bad token is named and dropped, and a script that
/// gives no valid token is refused.
fn collect_tokens(
    cx: &mut Context<'_>,
    check: &Approvals<'_>,
    v: &Verdict,
    ui: &mut dyn Interface,
    line: &str,
) -> Result<Option<Vec<Approval>>> {
    let mut tokens: Vec<String> = Vec::new();
    loop {
        let given = ui.token()?.unwrap_or_default();
        let t = given.trim();
        if t.is_empty() {
            if ui.answers() == Answers::Script {
                return Err(Error::approval(format!(
                    "this change needs {} approval{}: no valid token followed the request; not applied",
                    v.approvals_needed,
                    plural(v.approvals_needed)
                ))
                .with_request(line.to_owned()));
            }
            return Ok(None);
        }
        if t.starts_with(approval::REJECTION_PREFIX) {
            return Err(rejected(cx, check, t, line));
        }
        // Each token on its own first, so a bad one is named and dropped.
        if let Err(e) = check.verify(&[t.to_owned()], cx.conn, 1) {
            if ui.answers() == Answers::Terminal {
                return Err(Error::approval(format!(
                    "approval token refused: {}\nNot applied; back at the prompt. Ask the approver for a token for this request, then run the statement again.",
                    e.message
                ))
                .with_request(line.to_owned()));
            }
            ui.token_refused(&e.message)?;
            continue;
        }
        tokens.push(t.to_owned());
        match check.verify(&tokens, cx.conn, v.approvals_needed) {
            Ok(approvals) => return Ok(Some(approvals)),
            // Valid so far, but not enough (or the same principal twice):
            // say so and wait for more.
            Err(e) => ui.token_refused(&e.message)?,
        }
    }
}

/// A rejection pasted where a token was asked: when it is a signed answer
/// to this very request, the change stops and the rejection is recorded
/// with its reason; anything else is refused as a token would be.
fn rejected(cx: &mut Context<'_>, check: &Approvals<'_>, given: &str, line: &str) -> Error {
    let answered = approval::Rejection::decode(given).and_then(|r| {
        let ours = Request::decode(line).map(|(_, bytes)| bytes)?;
        if r.request_bytes != ours {
            return Err(Error::input(
                "this rejection answers another request, not this one",
            ));
        }
        r.check(&check.signers)
    });
    let by = match answered {
        Ok(by) => by,
        Err(e) => {
            return Error::approval(format!(
                "rejection not accepted: {}\nNot applied; back at the prompt.",
                e.message
            ))
            .with_request(line.to_owned());
        }
    };
    let recorded = cx.audit(
        "rejection",
        None,
        serde_json::json!({
            "principal": by.principal,
            "fingerprint": by.fingerprint,
            "nonce": by.nonce,
            "reason": by.reason,
            "digest": check.expected.digest,
        }),
    );
    let mut e = Error::approval(format!(
        "rejected by {} ({}): {}\nNot applied.",
        by.principal, by.fingerprint, by.reason
    ));
    if let Err(audit) = recorded {
        e.message.push_str(&format!("\n{}", audit.message));
    }
    e
}

/// One audit record per verified approval, whichever way it arrived;
/// queued, so they commit with the change (or with its refusal).
fn audit_approvals(cx: &mut Context<'_>, preview: &Preview, approvals: &[Approval]) -> Result<()> {
    let events: Vec<_> = approvals
        .iter()
        .map(|a| {
            (
                "approval",
                None,
                serde_json::json!({"principal": a.principal, "fingerprint": a.fingerprint, "digest": preview.digest}),
            )
        })
        .collect();
    cx.trail
        .queue(cx.conn, &cx.operator, &events)
        .map_err(|e| e.context("cannot write the audit trail; nothing was applied"))
}
