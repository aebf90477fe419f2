//! Merging one policy file into the effective [`Policy`]: its version
//! first (a newer format is refused rather than half read), then each
//! section in turn. Later files override earlier ones key by key; groups
//! gain members and rules and associations accumulate. Every problem is
//! collected with its line instead of stopping at the first, so `policy
//! check` can list them all; checks that need every file (groups named by
//! rules, the approvers file) wait for `finish.rs`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::glob::Glob;
use super::problem::{Problem, Severity, Sink};
use super::raw::{AssociationsSection, PolicyFile, RawLimits, RawTarget, VersionProbe};
use super::verdict::Decision;
use super::{AssociationDecl, Policy, VERSION, duration};

impl Policy {
    /// Merges one file's text into the policy, collecting its problems.
    pub(super) fn merge_file(&mut self, file: &Path, text: &str, problems: &mut Vec<Problem>) {
        let mut sink = Sink {
            file,
            text,
            problems,
        };
        if !version_is_readable(&mut sink) {
            return;
        }
        let parsed: PolicyFile = match toml::from_str(text) {
            Ok(p) => p,
            Err(e) => return toml_problem(&mut sink, &e),
        };
        if let Some(d) = parsed.default {
            self.merge_default(&mut sink, &d);
        }
        if let Some(t) = parsed.target {
            self.merge_target(&mut sink, t);
        }
        if let Some(l) = parsed.limits {
            self.merge_limits(&mut sink, l);
        }
        self.merge_groups(&mut sink, parsed.groups.unwrap_or_default());
        for raw in parsed.rule {
            if let Some(rule) = self.build_rule(&mut sink, raw) {
                self.rules.push(rule);
            }
        }
        self.merge_associations(&mut sink, parsed.association, parsed.associations);
    }

    /// `default = "..."`: the verdict when no rule matches.
    fn merge_default(&mut self, sink: &mut Sink<'_>, d: &Spanned<String>) {
        match Decision::parse(d.get_ref()) {
            Some(Decision::Approve) => sink.error(
                d.span().start,
                "default = \"approve\" is not supported (it needs a count and groups); add a last rule without conditions: verdict = \"approve\", approvals = 1",
            ),
            Some(dec) => self.default_decision = dec,
            None => sink.error(
                d.span().start,
                format!("default = {:?} is not a verdict; use \"allow\", \"confirm\" or \"deny\"", d.get_ref()),
            ),
        }
    }

    fn merge_target(&mut self, sink: &mut Sink<'_>, t: RawTarget) {
        for (key, list, slot) in [
            ("target.urls", &t.urls, &mut self.target.urls),
            ("target.hosts", &t.hosts, &mut self.target.hosts),
            ("target.databases", &t.databases, &mut self.target.databases),
        ] {
            if let Some(list) = list
                && let Some(g) = globs(sink, key, list)
            {
                *slot = g;
            }
        }
        if let Some(env) = t.env {
            if env.get_ref().trim().is_empty() {
                sink.error(
                    env.span().start,
                    "target.env is empty; give a label like \"production\" or remove the key",
                );
            } else {
                self.target.env = Some(env.into_inner());
            }
        }
    }

    fn merge_limits(&mut self, sink: &mut Sink<'_>, l: RawLimits) {
        for (key, value, slot) in [
            (
                "lock_timeout",
                &l.lock_timeout,
                &mut self.limits.lock_timeout,
            ),
            (
                "statement_timeout",
                &l.statement_timeout,
                &mut self.limits.statement_timeout,
            ),
            ("request_ttl", &l.request_ttl, &mut self.limits.request_ttl),
        ] {
            if let Some(v) = value
                && let Some(d) = duration_of(sink, key, v)
            {
                *slot = Some(d);
            }
        }
        if let Some(v) = l.max_rows {
            if *v.get_ref() == 0 {
                sink.error(v.span().start, "limits.max_rows = 0 would deny every change; give a positive number or remove the key");
            } else {
                self.limits.max_rows = Some(v.into_inner());
            }
        }
    }

    /// `[groups]`: members add to a group of the same name from an earlier
    /// file; the last file to name a group is where messages point.
    fn merge_groups(
        &mut self,
        sink: &mut Sink<'_>,
        groups: BTreeMap<String, Spanned<Vec<Spanned<String>>>>,
    ) {
        for (name, members) in groups {
            let at = members.span().start;
            if name.trim().is_empty() {
                sink.error(at, "a group needs a name");
                continue;
            }
            let members = members.into_inner();
            if members.is_empty() {
                sink.warn(
                    Some(at),
                    format!("group {name} has no members, so nobody can approve for it"),
                );
            }
            let mut ok = Vec::new();
            for m in members {
                if m.get_ref().trim().is_empty() || m.get_ref().contains(char::is_whitespace) {
                    sink.error(
                        m.span().start,
                        format!("group {name}: {:?} is not a principal (write it as in the approvers file, like \"alice@example.org\")", m.get_ref()),
                    );
                } else {
                    ok.push(m.into_inner());
                }
            }
            let entry = self.groups.entry(name.clone()).or_default();
            for m in ok {
                if !entry.contains(&m) {
                    entry.push(m);
                }
            }
            self.group_sites
                .insert(name, (sink.file.to_path_buf(), sink.line(at)));
        }
    }

    fn merge_associations(
        &mut self,
        sink: &mut Sink<'_>,
        declared: Vec<Spanned<AssociationDecl>>,
        section: Option<AssociationsSection>,
    ) {
        for a in declared {
            let at = a.span().start;
            let a = a.into_inner();
            if a.to.is_none() && !a.ignore {
                sink.error(
                    at,
                    format!(
                        "association from {} needs `to = \"table.column\"` (or `ignore = true` to silence an inferred one)",
                        a.from
                    ),
                );
                continue;
            }
            self.associations.push(a);
        }
        if let Some(infer) = section.and_then(|s| s.infer) {
            self.infer_associations = infer;
        }
    }
}

/// Checks `version` before anything else is read: a file without one is
/// read with a warning; one newer than this dbguard, or not a version at
/// all, is refused, saying whether changing the number would be enough.
/// False when the rest of the file must not be read.
fn version_is_readable(sink: &mut Sink<'_>) -> bool {
    let text = sink.text;
    let probe: VersionProbe = match toml::from_str(text) {
        Ok(p) => p,
        Err(e) => {
            toml_problem(sink, &e);
            return false;
        }
    };
    let Some(v) = &probe.version else {
        sink.warn(
            None,
            format!("no `version` key; add `version = {VERSION}` at the top so later dbguard versions read this file the same way"),
        );
        return true;
    };
    match v.get_ref().as_integer() {
        Some(n) if (1..=i64::from(VERSION)).contains(&n) => true,
        Some(n) if n > i64::from(VERSION) => {
            let hint = newer_version_hint(sink, text);
            sink.error(
                v.span().start,
                format!("version = {n} is newer than this dbguard understands (newest: {VERSION}); {hint}"),
            );
            false
        }
        _ => {
            sink.error(
                v.span().start,
                format!("version must be a whole number from 1 to {VERSION}; write `version = {VERSION}`"),
            );
            false
        }
    }
}

/// What to do about a file written for a newer format: whether it uses
/// anything this version does not know, and where.
fn newer_version_hint(sink: &Sink<'_>, text: &str) -> String {
    match toml::from_str::<PolicyFile>(text) {
        Ok(_) => format!(
            "this file uses nothing version {VERSION} lacks: change it to `version = {VERSION}` (or upgrade dbguard)"
        ),
        Err(e) => {
            let where_ = e
                .span()
                .map(|s| format!("line {}: ", sink.line(s.start)))
                .unwrap_or_default();
            format!(
                "upgrade dbguard, or change it to `version = {VERSION}` and remove what version {VERSION} does not know ({where_}{})",
                e.message().trim().replace('\n', " ")
            )
        }
    }
}

fn toml_problem(sink: &mut Sink<'_>, e: &toml::de::Error) {
    let message = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => sink.error(span.start, message),
        None => sink.push(Severity::Error, None, message),
    }
}

/// Compiles a list of globs, or reports each bad one.
pub(super) fn globs(sink: &mut Sink<'_>, key: &str, list: &[Spanned<String>]) -> Option<Vec<Glob>> {
    let mut out = Vec::new();
    let mut ok = true;
    for g in list {
        match Glob::new(g.get_ref()) {
            Ok(glob) => out.push(glob),
            Err(e) => {
                sink.error(g.span().start, format!("{key}: bad glob: {e}"));
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

fn duration_of(sink: &mut Sink<'_>, key: &str, value: &Spanned<String>) -> Option<Duration> {
    match duration::parse(value.get_ref()) {
        Ok(d) if d.is_zero() => {
            sink.error(
                value.span().start,
                format!(
                    "limits.{key} = {:?} is zero: give a positive duration or remove the key",
                    value.get_ref()
                ),
            );
            None
        }
        Ok(d) => Some(d),
        Err(e) => {
            sink.error(value.span().start, format!("limits.{key}: {e}"));
            None
        }
    }
}
