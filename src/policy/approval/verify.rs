//! Checking tokens against the change about to be applied.
//!
//! A token counts only if all of these hold: its signature verifies in
//! namespace `dbguard`; the key is listed in the approvers file for that
//! namespace and valid now; neither the key nor any of its principals is
//! the operator's (proven by the operator's own key, `super::operator`);
//! the principal is in an accepted group; and the request it signs is this change (statement,
//! database, cluster, operator, impact digest), not expired, with a nonce
//! never used. Every refused token is named with the first reason, so the
//! operator knows what to ask for.

use std::collections::BTreeMap;

use serde::Serialize;
use ssh_key::PublicKey;

use super::signers::{AllowedSigners, Signer, fingerprint};
use super::time::{format_duration, format_time};
use super::token::{NAMESPACE, Token};
use crate::error::{Error, Result};

/// What a valid approval says, for the journal and audit trail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Approval {
    pub principal: String,
    /// `SHA256:...`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    pub nonce: String,
    /// When the approval was checked and accepted (unix seconds): SSH
    /// signatures carry no time of their own; the request's `created_at`
    /// and `expires_at` bound the signing time.
    pub signed_at: i64,
}

/// What the tokens must match: the change about to be applied, as its
/// own preview and verdict describe it.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    pub digest: &'a str,
    pub statement: &'a str,
    pub database: &'a str,
    pub system_identifier: Option<&'a str>,
    /// The operator as their key proved them ([`super::Operator`]): its
    /// first principal, every principal, and the key's fingerprint. None
    /// of them may approve.
    pub operator: &'a str,
    pub operator_principals: &'a [String],
    pub operator_key: &'a str,
    pub now: i64,
    /// How many valid tokens these are to make up.
    pub approvals_needed: u32,
    pub from: &'a [String],
    /// What a request for this change shows its approver: its kind, its
    /// impact summary, the rules that asked and how many approvals they
    /// ask. A signed request that shows anything else was edited.
    pub kind: crate::model::ChangeKind,
    pub summary: &'a serde_json::Value,
    pub rules: &'a [String],
    pub requested: u32,
    /// How long a request is valid from its signed creation time (the
    /// policy's `request_ttl`), whatever its `expires_at` says.
    pub ttl_secs: i64,
}

/// Clock difference between the operator's machine and this one that a
/// request's creation time may show.
const CLOCK_SKEW_SECS: i64 = 300;

/// `1st`, `2nd`, `3rd`, `4th`, `11th`...
pub(crate) fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// Checks tokens against the change about to be applied. Ok with one
/// [`Approval`] per distinct principal when all tokens are valid and there
/// are enough of them; otherwise an error of kind Approval (exit 3) naming
/// each refused token and why.
pub fn verify(
    tokens: &[String],
    expected: &Expected<'_>,
    signers: &AllowedSigners,
    groups: &BTreeMap<String, Vec<String>>,
    used: &mut dyn FnMut(&str) -> bool,
) -> Result<Vec<Approval>> {
    let mut approvals: Vec<Approval> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    for (i, line) in tokens.iter().enumerate() {
        match check_one(line, expected, signers, groups, &mut *used) {
            Ok(a) => {
                if !approvals.iter().any(|x| x.principal == a.principal) {
                    approvals.push(a);
                }
            }
            Err(why) => problems.push(format!("the {} token is refused: {why}", ordinal(i + 1))),
        }
    }
    if !problems.is_empty() {
        let mut msg = problems.join("\n");
        msg.push_str("\nNothing was applied.");
        return Err(Error::approval(msg));
    }
    let needed = expected.approvals_needed as usize;
    if approvals.len() < needed {
        return Err(too_few(&approvals, needed, expected.from));
    }
    Ok(approvals)
}

fn too_few(approvals: &[Approval], needed: usize, from: &[String]) -> Error {
    let who = if approvals.is_empty() {
        String::new()
    } else {
        format!(
            " (approved by {})",
            approvals
                .iter()
                .map(|a| a.principal.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let from = if from.is_empty() {
        String::new()
    } else {
        format!(" from {}", group_list(from))
    };
    let more = needed - approvals.len();
    Error::approval(format!(
        "{} of {} approvals{who}: {more} more from a different approver{from} {} needed\n\
         Send the same request to another approver; each approver counts once. Nothing was applied.",
        approvals.len(),
        needed,
        if more == 1 { "is" } else { "are" },
    ))
}

fn group_list(from: &[String]) -> String {
    let names: Vec<String> = from.iter().map(|g| format!("`{g}`")).collect();
    if names.len() == 1 {
        format!("group {}", names[0])
    } else {
        format!("groups {}", names.join(", "))
    }
}

/// One token: who signed it (the key's principal), then whether it
/// approves this change.
fn check_one(
    line: &str,
    expected: &Expected<'_>,
    signers: &AllowedSigners,
    groups: &BTreeMap<String, Vec<String>>,
    used: &mut dyn FnMut(&str) -> bool,
) -> std::result::Result<Approval, String> {
    let token = Token::decode(line).map_err(|e| e.message)?;
    let key = PublicKey::from(token.signature.public_key().clone());
    let fp = fingerprint(&key);
    let principal = signer(&token, &key, &fp, expected, signers, groups)?;
    check_binding(&token, expected, &mut *used)?;
    Ok(Approval {
        principal,
        fingerprint: fp,
        nonce: token.request.nonce.clone(),
        signed_at: expected.now,
    })
}

/// The principal whose valid key signed the token, if it may approve.
fn signer(
    token: &Token,
    key: &PublicKey,
    fp: &str,
    expected: &Expected<'_>,
    signers: &AllowedSigners,
    groups: &BTreeMap<String, Vec<String>>,
) -> std::result::Result<String, String> {
    if token.signature.namespace() != NAMESPACE {
        return Err(format!(
            "it is signed in namespace `{}`, not `{NAMESPACE}` (sign with `ssh-keygen -Y sign -n {NAMESPACE}`)",
            token.signature.namespace()
        ));
    }
    key.verify(NAMESPACE, &token.request_bytes, &token.signature)
        .map_err(|_| {
            "its signature does not match the request it carries (the request was edited \
             after it was signed, or the token was damaged)"
                .to_owned()
        })?;
    if fp == expected.operator_key {
        return Err(format!(
            "self-approval: it is signed with the operator's own key ({fp}); \
             a different person must approve"
        ));
    }
    let principals = signers.principals_valid_at(key, NAMESPACE, expected.now);
    if principals.is_empty() {
        return Err(unknown_key(key, fp, signers));
    }
    if let Some(p) = principals
        .iter()
        .find(|p| *p == expected.operator || expected.operator_principals.contains(p))
    {
        return Err(format!(
            "self-approval: it is signed by {p}, the operator of this change; \
             a different person must approve"
        ));
    }
    if expected.from.is_empty() {
        return Ok(principals[0].clone());
    }
    principals
        .iter()
        .find(|p| {
            expected.from.iter().any(|g| {
                groups
                    .get(g)
                    .is_some_and(|members| members.iter().any(|m| m == *p))
            })
        })
        .cloned()
        .ok_or_else(|| {
            format!(
                "{} (key {fp}) is not in {}, which this change needs an approval from",
                principals.join(", "),
                group_list(expected.from)
            )
        })
}

/// Why a key with no valid `dbguard` entry cannot approve.
fn unknown_key(key: &PublicKey, fp: &str, signers: &AllowedSigners) -> String {
    let listed: Vec<&Signer> = signers
        .entries
        .iter()
        .filter(|e| e.key.key_data() == key.key_data() && e.allows(NAMESPACE))
        .collect();
    if let Some(e) = listed.first() {
        let window = match (e.valid_after, e.valid_before) {
            (Some(a), Some(b)) => format!("from {} until {}", format_time(a), format_time(b)),
            (Some(a), None) => format!("from {}", format_time(a)),
            (None, Some(b)) => format!("until {}", format_time(b)),
            (None, None) => String::new(),
        };
        return format!(
            "unknown key {fp} at this time: its approvers entry ({}) is valid only {window}",
            e.principals.join(", ")
        );
    }
    if signers.lists(key) {
        format!(
            "unknown key {fp}: its approvers entry does not allow namespace `{NAMESPACE}` \
             (add `namespaces=\"{NAMESPACE}\"` to it)"
        )
    } else {
        format!("unknown key {fp}: it is not listed in the approvers file (allowed_signers)")
    }
}

/// Whether the signed request is this change, still valid and unused.
fn check_binding(
    token: &Token,
    expected: &Expected<'_>,
    used: &mut dyn FnMut(&str) -> bool,
) -> std::result::Result<(), String> {
    let r = &token.request;
    let same_change = r.statement == expected.statement
        && r.database == expected.database
        && r.system_identifier.as_deref() == expected.system_identifier
        && r.operator == expected.operator;
    if !same_change {
        let mut diffs = Vec::new();
        if r.statement != expected.statement {
            diffs.push(format!("the statement `{}`", one_line(&r.statement)));
        }
        if r.database != expected.database
            || r.system_identifier.as_deref() != expected.system_identifier
        {
            diffs.push(format!(
                "database {}{}",
                r.database,
                r.system_identifier
                    .as_deref()
                    .map(|s| format!(" (system identifier {s})"))
                    .unwrap_or_default()
            ));
        }
        if r.operator != expected.operator {
            diffs.push(format!("operator {}", r.operator));
        }
        return Err(format!(
            "signed for a different change: it approves {}",
            diffs.join(", ")
        ));
    }
    if r.digest != expected.digest {
        return Err(format!(
            "signed for a different change: the impact changed since it was signed \
             (digest {} then, {} now); a new request is needed",
            short(&r.digest),
            short(expected.digest)
        ));
    }
    check_shown(r, expected)?;
    check_time(r, expected)?;
    if used(&r.nonce) {
        return Err(format!(
            "already used: request {} was applied with an approval before; \
             an approval is good for one apply",
            short(&r.nonce)
        ));
    }
    Ok(())
}

/// Whether the request shows what this change's own preview and verdict
/// show: the approver signed what they saw, so what they saw must be it.
fn check_shown(r: &super::Request, expected: &Expected<'_>) -> std::result::Result<(), String> {
    let mut edited = Vec::new();
    if r.kind != expected.kind {
        edited.push("its kind");
    }
    if &r.summary != expected.summary {
        edited.push("its impact");
    }
    if r.rules != expected.rules || r.approvals_needed != expected.requested {
        edited.push("the rules asking for it");
    }
    if r.from != expected.from {
        edited.push("the groups it needs");
    }
    if edited.is_empty() {
        return Ok(());
    }
    Err(format!(
        "signed for a request that shows {} other than this change's (it was edited before it was signed); a new request is needed",
        edited.join(", ")
    ))
}

/// Whether the request is still valid: from its signed creation time for
/// the policy's request TTL; its own `expires_at` can only shorten that.
fn check_time(r: &super::Request, expected: &Expected<'_>) -> std::result::Result<(), String> {
    if r.created_at > expected.now.saturating_add(CLOCK_SKEW_SECS) {
        return Err(format!(
            "it was created at {}, in the future; ask for a new approval",
            format_time(r.created_at)
        ));
    }
    let until = r
        .created_at
        .saturating_add(expected.ttl_secs)
        .min(r.expires_at);
    if expected.now > until {
        return Err(format!(
            "expired at {} ({} ago); ask for a new approval",
            format_time(until),
            format_duration(expected.now - until)
        ));
    }
    Ok(())
}

fn one_line(s: &str) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let flat: String = flat.chars().filter(|c| !c.is_control()).collect();
    if flat.chars().count() > 80 {
        format!("{}...", flat.chars().take(77).collect::<String>())
    } else {
        flat
    }
}

fn short(s: &str) -> String {
    s.chars().take(16).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals() {
        let got: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111]
            .iter()
            .map(|n| ordinal(*n))
            .collect();
        assert_eq!(
            got,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st",
                "111th"
            ]
        );
    }
}
