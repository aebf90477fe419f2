//! `dbguard policy check [DIR]`: validates a policy directory and prints
//! the effective policy.
//!
//! Every problem is one line, `FILE:LINE: error: ...` or
//! `FILE: warning: ...`. With any error the command exits 1 after listing
//! them; otherwise it prints the effective policy (target, limits, groups,
//! rules in evaluation order, associations, approvers) and exits 0.

use std::fmt::Write as _;

use super::glob::Glob;
use super::{BUILTIN_NAME, Policy, Problem, Target, duration};

/// The text `policy check` prints and the number of errors: the problems,
/// then (without errors) the effective policy.
pub fn report(policy: &Policy, problems: &[Problem]) -> (String, usize) {
    let mut out = String::new();
    for p in problems {
        let _ = writeln!(out, "{p}");
    }
    let errors = problems.iter().filter(|p| p.is_error()).count();
    if errors == 0 {
        if !problems.is_empty() {
            out.push('\n');
        }
        out.push_str(&effective(policy));
    }
    (out, errors)
}

/// The effective policy, for people.
pub(crate) fn effective(policy: &Policy) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "policy: {}", source(policy));
    write_target(&mut out, &policy.target);
    write_limits(&mut out, policy);
    write_groups(&mut out, policy);
    write_rules(&mut out, policy);
    write_associations(&mut out, policy);
    write_approvers(&mut out, policy);
    out
}

/// Where the policy was read from.
fn source(policy: &Policy) -> String {
    match &policy.dir {
        None => BUILTIN_NAME.to_owned(),
        Some(d) if policy.files.is_empty() => {
            format!("{} (no *.toml: the built-in default rules)", d.display())
        }
        Some(d) => {
            let names: Vec<String> = policy
                .files
                .iter()
                .map(|f| {
                    f.file_name()
                        .map_or_else(|| f.display().to_string(), |n| n.to_string_lossy().into())
                })
                .collect();
            format!("{} ({})", d.display(), names.join(", "))
        }
    }
}

fn write_target(out: &mut String, t: &Target) {
    let list = |g: &[Glob]| g.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(", ");
    if t.urls.is_empty() && t.hosts.is_empty() && t.databases.is_empty() {
        let _ = writeln!(out, "target: every database");
    } else {
        let _ = writeln!(out, "target:");
        for (key, globs) in [
            ("urls", &t.urls),
            ("hosts", &t.hosts),
            ("databases", &t.databases),
        ] {
            if !globs.is_empty() {
                let _ = writeln!(out, "  {key}: {}", list(globs));
            }
        }
    }
    let _ = writeln!(out, "env: {}", t.env.as_deref().unwrap_or("(none)"));
}

fn write_limits(out: &mut String, policy: &Policy) {
    let l = &policy.limits;
    let d = |v: Option<std::time::Duration>| v.map_or_else(|| "none".to_owned(), duration::format);
    let _ = writeln!(out, "limits:");
    let _ = writeln!(out, "  lock_timeout: {}", d(l.lock_timeout));
    let _ = writeln!(out, "  statement_timeout: {}", d(l.statement_timeout));
    let _ = writeln!(
        out,
        "  max_rows: {}",
        l.max_rows
            .map_or_else(|| "none".to_owned(), |n| n.to_string())
    );
    let _ = writeln!(
        out,
        "  request_ttl: {}{}",
        duration::format(policy.request_ttl()),
        if l.request_ttl.is_none() {
            " (default)"
        } else {
            ""
        }
    );
}

fn write_groups(out: &mut String, policy: &Policy) {
    if policy.groups.is_empty() {
        let _ = writeln!(out, "groups: none");
    } else {
        let _ = writeln!(out, "groups:");
        for (name, members) in &policy.groups {
            let _ = writeln!(out, "  {name}: {}", members.join(", "));
        }
    }
}

/// Rules strictest first, `limits.max_rows` as the deny rule it acts as.
fn write_rules(out: &mut String, policy: &Policy) {
    let _ = writeln!(
        out,
        "rules (strictest matching verdict wins; no match: {}):",
        policy.default_decision.name()
    );
    if let Some(max) = policy.limits.max_rows {
        let _ = writeln!(
            out,
            "  deny     limits.max_rows: changes touching more than {max} rows"
        );
    }
    if policy.rules.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for r in policy.rules_by_strictness() {
        let _ = writeln!(
            out,
            "  {:<8} {}: {}{}",
            r.verdict.name(),
            r.name,
            r.describe_conditions(),
            match r.describe_approvals() {
                a if a.is_empty() => a,
                a => format!("; needs {a}"),
            }
        );
        if let Some(m) = &r.message {
            let _ = writeln!(out, "           message: {m}");
        }
    }
}

fn write_associations(out: &mut String, policy: &Policy) {
    let infer = if policy.infer_associations {
        "yes"
    } else {
        "no"
    };
    if policy.associations.is_empty() {
        let _ = writeln!(
            out,
            "associations: none declared (inferred from <table>_id columns: {infer})"
        );
        return;
    }
    let _ = writeln!(
        out,
        "associations (inferred from <table>_id columns: {infer}):"
    );
    for a in &policy.associations {
        match (&a.to, a.ignore) {
            (_, true) => {
                let _ = writeln!(out, "  {} (inferred one ignored)", a.from);
            }
            (Some(to), false) => {
                let _ = writeln!(out, "  {} → {to}", a.from);
            }
            (None, false) => {}
        }
    }
}

fn write_approvers(out: &mut String, policy: &Policy) {
    match policy.approvers_file() {
        None => {
            let _ = writeln!(out, "approvers: none (no approvers file)");
        }
        Some(path) if policy.approvers.is_empty() => {
            let _ = writeln!(out, "approvers: none listed in {}", path.display());
        }
        Some(path) => {
            let _ = writeln!(out, "approvers ({}):", path.display());
            for a in &policy.approvers {
                let _ = writeln!(
                    out,
                    "  {} {} {}{}",
                    a.principals.join(","),
                    a.key.algorithm().as_str(),
                    a.fingerprint(),
                    if a.allows_dbguard() {
                        ""
                    } else {
                        " (namespaces exclude dbguard)"
                    }
                );
            }
        }
    }
}
