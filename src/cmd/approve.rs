//! `dbguard approve REQUEST [--key PATH] [--yes] [--reject --reason TEXT]`:
//! the approver's side. Shows the requested change, asks, signs, and prints
//! the token (or a signed rejection) as the last line of its output.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use serde_json::Value;

use super::out;
use crate::cli::{ApproveArgs, GlobalArgs};
use crate::error::{Error, Result};
use crate::policy::approval::{
    Request, default_key, fingerprint, format_duration, format_time, now, sign, sign_rejection,
};

pub(super) fn run(global: &GlobalArgs, args: &ApproveArgs) -> Result<()> {
    let (request, _) = Request::decode(&args.request)?;
    let w = |s: &str| out(&format!("{s}\n"));
    w(&render_request(&request, now()))?;

    let key: PathBuf = match &global.key {
        Some(k) => k.clone(),
        None => default_key()?,
    };

    if args.reject {
        let reason = args.reason.clone().unwrap_or_default();
        let rejection = sign_rejection(&args.request, &reason, &key)?;
        let fp = fingerprint(&ssh_key::PublicKey::from(
            rejection.signature.public_key().clone(),
        ));
        w(&format!("Rejected, signed with {fp}."))?;
        w("Send this line back to the operator, who can record it:")?;
        w(&rejection.encode())?;
        return Ok(());
    }

    let t = now();
    if t > request.expires_at {
        return Err(Error::approval(format!(
            "this request expired at {} ({} ago): nothing was signed\n\
             Ask the operator for a new request.",
            format_time(request.expires_at),
            format_duration(t - request.expires_at)
        )));
    }

    if !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(Error::input(
                "stdin is not a terminal, so dbguard cannot ask `approve? [y/N]`: nothing was signed\n\
                 Run it in a terminal, or pass --yes to sign without asking.",
            ));
        }
        out("approve? [y/N] ")?;
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .map_err(|e| Error::io(format!("stdin: {e}")))?;
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            return Err(Error::refused(
                "not approved: nothing was signed\n\
                 To tell the operator why, run again with --reject --reason TEXT.",
            ));
        }
    }

    let token = sign(&args.request, &key)?;
    let fp = fingerprint(&ssh_key::PublicKey::from(
        token.signature.public_key().clone(),
    ));
    w(&format!(
        "Approved, signed with {fp}. Send this token back to the operator \
             (good once, until {}):",
        format_time(request.expires_at)
    ))?;
    w(&token.encode())?;
    Ok(())
}

/// Text an attacker controls, made safe for a terminal: control characters
/// (escape sequences, carriage returns) are shown escaped, and continuation
/// lines are indented so they cannot pass for dbguard's own lines.
/// A policy push as its approver reads it: what it replaces, and every
/// line of the diff.
fn policy_change(p: &Value, indent: &str) -> String {
    let replaces = match p["replaces"].as_str() {
        Some(old) => format!("replaces the pinned policy {}", clean(old, indent)),
        None => "the first policy pinned in this database".to_owned(),
    };
    let mut s = format!(
        "    policy {}: {replaces}\n",
        clean(&value_text(&p["digest"]), indent)
    );
    for line in p["diff"].as_str().unwrap_or_default().lines() {
        s.push_str(&format!("      {}\n", clean(line, indent)));
    }
    s
}

fn clean(s: &str, indent: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '\n' => {
                out.push('\n');
                out.push_str(indent);
            }
            '\t' => out.push_str("    "),
            c if c.is_control() || is_bidi(c) => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    out
}

/// Bidirectional overrides could reorder what the approver reads.
fn is_bidi(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "?".into(),
        other => other.to_string(),
    }
}

/// What `dbguard approve` shows before asking.
fn render_request(r: &Request, now: i64) -> String {
    const IND: &str = "              ";
    let mut s = String::new();
    let line = |s: &mut String, label: &str, value: &str| {
        s.push_str(&format!("  {label:<11} {}\n", clean(value, IND)));
    };
    s.push_str(&format!(
        "Approval requested by {}\n",
        clean(&r.operator, IND)
    ));
    line(&mut s, "statement:", &r.statement);
    line(&mut s, "kind:", r.kind.name());
    let mut target = r.target.clone();
    if !r.database.is_empty() && !r.target.contains(&r.database) {
        target.push_str(&format!(" (database {})", r.database));
    }
    if let Some(id) = &r.system_identifier {
        target.push_str(&format!(" (system identifier {id})"));
    }
    line(&mut s, "target:", &target);

    let sum = &r.summary;
    s.push_str("  impact:\n");
    if let Some(p) = sum.get("policy").filter(|p| p.is_object()) {
        s.push_str(&policy_change(p, IND));
    }
    if sum.get("allow_uncovered").and_then(Value::as_bool) == Some(true) {
        s.push_str("    and it may commit writes its undo entry cannot hold (--allow-uncovered)\n");
    }
    if let Some(t) = sum.get("target").filter(|t| t.is_object()) {
        s.push_str(&format!(
            "    {}: {} {} row(s) (the statement's target)\n",
            clean(&value_text(&t["table"]), IND),
            clean(r.kind.name(), IND),
            clean(&value_text(&t["rows"]), IND)
        ));
    }
    if let Some(effects) = sum.get("effects").and_then(Value::as_array) {
        for e in effects {
            s.push_str(&format!(
                "    {}: {} {} row(s)\n",
                clean(&value_text(&e["table"]), IND),
                clean(&value_text(&e["action"]), IND),
                clean(&value_text(&e["rows"]), IND)
            ));
        }
    }
    if let Some(totals) = sum.get("totals").and_then(Value::as_object)
        && !totals.is_empty()
    {
        s.push_str("    totals:\n");
        for (table, counts) in totals {
            let parts: Vec<String> = match counts.as_object() {
                Some(m) => m
                    .iter()
                    .filter(|(_, n)| n.as_i64() != Some(0))
                    .map(|(k, n)| format!("{} {}", clean(k, IND), clean(&value_text(n), IND)))
                    .collect(),
                None => vec![clean(&value_text(counts), IND)],
            };
            s.push_str(&format!(
                "      {}: {}\n",
                clean(table, IND),
                if parts.is_empty() {
                    "no rows".to_owned()
                } else {
                    parts.join(", ")
                }
            ));
        }
    }
    if sum.get("will_fail").and_then(Value::as_bool) == Some(true) {
        s.push_str("    WILL FAIL: a restricting reference blocks this statement\n");
    }
    if let Some(warnings) = sum.get("warnings").and_then(Value::as_array) {
        for w in warnings {
            s.push_str(&format!("    warning: {}\n", clean(&value_text(w), IND)));
        }
    }
    if !r.rules.is_empty() {
        line(&mut s, "asked by:", &format!("rule {}", r.rules.join(", ")));
    }
    let from = if r.from.is_empty() {
        String::new()
    } else {
        format!(" from {}", r.from.join(", "))
    };
    line(
        &mut s,
        "needs:",
        &format!("{} approval(s){from}", r.approvals_needed),
    );
    let expiry = if now > r.expires_at {
        format!(
            "{} (EXPIRED {} ago)",
            format_time(r.expires_at),
            format_duration(now - r.expires_at)
        )
    } else {
        format!(
            "{} (in {})",
            format_time(r.expires_at),
            format_duration(r.expires_at - now)
        )
    };
    line(&mut s, "expires:", &expiry);
    line(&mut s, "digest:", &r.digest);
    s.pop();
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_tricks() {
        assert_eq!(clean("a\x1b[2Jb", ""), "a\\u{1b}[2Jb");
        assert_eq!(clean("x\ry", ""), "x\\u{d}y");
        assert_eq!(clean("one\ntwo", "  "), "one\n  two");
        assert_eq!(clean("a\u{202E}b", ""), "a\\u{202e}b");
    }
}
