//! Policies: TOML files in a `policies/` directory, merged in name order,
//! plus `policies/approvers` (OpenSSH `allowed_signers`).
//!
//! A policy says which databases it applies to (`[target]`), limits
//! (`[limits]`), who may approve (`[groups]` and the approvers file), which
//! changes need what (`[[rule]]`s, each a set of conditions and a verdict),
//! and references the schema does not declare (`[[association]]`). The
//! format is documented in `policies/README.md` and, with comments, in the
//! shipped `policies/default.toml`, which is also the built-in default.
//!
//! Unknown keys are errors, so a typo never silently turns a check off.
//! Everything wrong with a directory is collected as [`Problem`]s (file and
//! line); [`Policy::load`] refuses a directory with any error, and
//! `dbguard policy check` prints them all.

pub mod check;
pub mod duration;
pub mod glob;
pub mod operations;
pub mod presence;
pub mod problem;
pub mod rows;
pub mod rule;
pub mod tables;
pub mod verdict;
pub mod where_clause;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

/// One line of the approvers file, as the gate reads it too.
pub use crate::approval::Signer as Approver;
use crate::error::{Error, Result};
use glob::Glob;
use problem::line_of;
pub use problem::{Problem, Severity};
pub use rule::{Condition, Rule};
use verdict::{Decision, Verdict, VerdictInput};

/// The built-in default policy: exactly the shipped `policies/default.toml`.
pub const BUILTIN_TEXT: &str = include_str!("../../policies/default.toml");

/// How the built-in default is named in messages.
pub const BUILTIN_NAME: &str = "<built-in default policy>";

/// The newest policy format this version understands.
pub const VERSION: u32 = 1;

/// How long an approval request stays valid unless `limits.request_ttl`
/// says otherwise.
pub const DEFAULT_REQUEST_TTL: Duration = Duration::from_secs(15 * 60);

/// One `[[association]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssociationDecl {
    /// `table.column` or `schema.table.column`: the referencing column.
    pub from: String,
    /// `table.column` or `schema.table.column`: the referenced key. Needed
    /// unless `ignore` is set.
    #[serde(default)]
    pub to: Option<String>,
    /// Silences the association inferred for `from`.
    #[serde(default)]
    pub ignore: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AssociationsSection {
    /// Infer associations from `<table>_id` column names (default true).
    #[serde(default)]
    infer: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    #[serde(default)]
    urls: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    hosts: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    databases: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    env: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    #[serde(default)]
    lock_timeout: Option<Spanned<String>>,
    #[serde(default)]
    statement_timeout: Option<Spanned<String>>,
    #[serde(default)]
    max_rows: Option<Spanned<u64>>,
    #[serde(default)]
    request_ttl: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Spanned<String>,
    #[serde(default)]
    operations: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    tables: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    without_where: Option<bool>,
    #[serde(default)]
    min_rows: Option<u64>,
    #[serde(default)]
    min_total_rows: Option<u64>,
    #[serde(default)]
    cascades: Option<bool>,
    #[serde(default)]
    dangling: Option<bool>,
    #[serde(default)]
    warnings: Option<bool>,
    verdict: Spanned<String>,
    #[serde(default)]
    approvals: Option<Spanned<i64>>,
    #[serde(default)]
    from: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    #[allow(dead_code)]
    version: Option<toml::Value>,
    #[serde(default)]
    default: Option<Spanned<String>>,
    #[serde(default)]
    target: Option<RawTarget>,
    #[serde(default)]
    limits: Option<RawLimits>,
    #[serde(default)]
    groups: Option<BTreeMap<String, Spanned<Vec<Spanned<String>>>>>,
    #[serde(default)]
    rule: Vec<RawRule>,
    #[serde(default)]
    association: Vec<Spanned<AssociationDecl>>,
    #[serde(default)]
    associations: Option<AssociationsSection>,
}

/// Reads only `version`, whatever else the file holds.
#[derive(Debug, Deserialize)]
struct VersionProbe {
    #[serde(default)]
    version: Option<Spanned<toml::Value>>,
}

/// `[target]`: which databases the policy is meant for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Target {
    /// Globs on the target's display URL (or SQLite path).
    pub urls: Vec<Glob>,
    /// Globs on the host name (ASCII case ignored).
    pub hosts: Vec<Glob>,
    /// Globs on the database name (Postgres) or the file path or file
    /// name (SQLite).
    pub databases: Vec<Glob>,
    /// Label shown in the prompt, like `production`.
    pub env: Option<String>,
}

/// `[limits]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Limits {
    pub lock_timeout: Option<Duration>,
    pub statement_timeout: Option<Duration>,
    /// Changes touching more rows than this are denied.
    pub max_rows: Option<u64>,
    pub request_ttl: Option<Duration>,
}

/// The effective policy, all files merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub associations: Vec<AssociationDecl>,
    pub infer_associations: bool,
    /// The files it was read from, in order (empty for the built-in
    /// default).
    pub files: Vec<PathBuf>,
    /// The policy directory, when read from one (its `approvers` file is
    /// the list of approvers).
    pub dir: Option<PathBuf>,
    /// The verdict when no rule matches (`default = "..."`, else confirm).
    pub default_decision: Decision,
    pub target: Target,
    pub limits: Limits,
    /// Group → principals.
    pub groups: BTreeMap<String, Vec<String>>,
    /// Rules in file order.
    pub rules: Vec<Rule>,
    /// Usable lines of the approvers file.
    pub approvers: Vec<Approver>,
    /// Warnings found while loading (errors make loading fail).
    pub warnings: Vec<Problem>,
    /// Where each group was (last) defined, for messages.
    group_sites: BTreeMap<String, (PathBuf, usize)>,
}

impl Default for Policy {
    /// An empty policy: no rules (every change gets `confirm`), no limits,
    /// associations inferred. Not the built-in default: see
    /// [`Policy::builtin`].
    fn default() -> Self {
        Policy {
            associations: Vec::new(),
            infer_associations: true,
            files: Vec::new(),
            dir: None,
            default_decision: Decision::Confirm,
            target: Target::default(),
            limits: Limits::default(),
            groups: BTreeMap::new(),
            rules: Vec::new(),
            approvers: Vec::new(),
            warnings: Vec::new(),
            group_sites: BTreeMap::new(),
        }
    }
}

/// Collects problems for one file.
struct Sink<'a> {
    file: &'a Path,
    text: &'a str,
    problems: &'a mut Vec<Problem>,
}

impl Sink<'_> {
    fn push(&mut self, severity: Severity, at: Option<usize>, message: String) {
        self.problems.push(Problem {
            file: self.file.to_path_buf(),
            line: at.map(|a| line_of(self.text, a)),
            severity,
            message,
        });
    }
    fn error(&mut self, at: usize, message: impl Into<String>) {
        self.push(Severity::Error, Some(at), message.into());
    }
    fn warn(&mut self, at: Option<usize>, message: impl Into<String>) {
        self.push(Severity::Warning, at, message.into());
    }
    fn line(&self, at: usize) -> usize {
        line_of(self.text, at)
    }
}

fn toml_problem(sink: &mut Sink<'_>, e: &toml::de::Error) {
    let message = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => sink.error(span.start, message),
        None => sink.push(Severity::Error, None, message),
    }
}

fn parse_decision(s: &str) -> Option<Decision> {
    match s {
        "allow" => Some(Decision::Allow),
        "confirm" => Some(Decision::Confirm),
        "approve" => Some(Decision::Approve),
        "deny" => Some(Decision::Deny),
        _ => None,
    }
}

fn globs(sink: &mut Sink<'_>, key: &str, list: &[Spanned<String>]) -> Option<Vec<Glob>> {
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

impl Policy {
    /// Loads `dir`, or `./policies` when it exists, or the built-in default.
    pub fn load(dir: Option<&Path>) -> Result<Policy> {
        match dir {
            Some(d) => Policy::load_dir(d),
            None => {
                let local = Path::new("policies");
                if local.is_dir() {
                    Policy::load_dir(local)
                } else {
                    Ok(Policy::builtin())
                }
            }
        }
    }

    /// The built-in default policy (the text of `policies/default.toml`).
    pub fn builtin() -> Policy {
        let mut policy = Policy::default();
        let mut problems = Vec::new();
        policy.merge_file(Path::new(BUILTIN_NAME), BUILTIN_TEXT, &mut problems);
        policy.finish(&mut problems);
        debug_assert!(
            !problems.iter().any(Problem::is_error),
            "the built-in policy is broken: {problems:?}"
        );
        policy.warnings = problems;
        policy
    }

    /// Reads every `*.toml` file of `dir` in name order, and `dir/approvers`.
    /// Fails when anything is wrong (every error is listed).
    pub fn load_dir(dir: &Path) -> Result<Policy> {
        let (policy, problems) = Policy::load_checked(dir)?;
        let errors: Vec<String> = problems
            .iter()
            .filter(|p| p.is_error())
            .map(ToString::to_string)
            .collect();
        if !errors.is_empty() {
            return Err(Error::input(format!(
                "policy {} is not valid ({} problem{}):\n{}\nFix it; `dbguard policy check {}` lists every problem.",
                dir.display(),
                errors.len(),
                if errors.len() == 1 { "" } else { "s" },
                errors.join("\n"),
                dir.display()
            )));
        }
        Ok(policy)
    }

    /// Reads `dir` like [`Policy::load_dir`] but returns every problem
    /// (errors and warnings) instead of failing on them. Fails only when
    /// the directory cannot be read.
    ///
    /// A directory without any `*.toml` file uses the built-in rules (with
    /// the directory's approvers), so `policies/approvers` alone is enough
    /// to add approvers to the default policy.
    pub fn load_checked(dir: &Path) -> Result<(Policy, Vec<Problem>)> {
        let entries = std::fs::read_dir(dir).map_err(|e| {
            Error::input(format!(
                "cannot read policy directory {}: {e}\nGive an existing directory with --policy DIR.",
                dir.display()
            ))
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
            .collect();
        files.sort();
        let mut policy = Policy::default();
        let mut problems = Vec::new();
        if files.is_empty() {
            policy.merge_file(Path::new(BUILTIN_NAME), BUILTIN_TEXT, &mut problems);
        }
        for file in &files {
            match std::fs::read_to_string(file) {
                Ok(text) => policy.merge_file(file, &text, &mut problems),
                Err(e) => problems.push(Problem {
                    file: file.clone(),
                    line: None,
                    severity: Severity::Error,
                    message: format!("cannot read: {e}"),
                }),
            }
        }
        policy.files = files;
        policy.dir = Some(dir.to_path_buf());
        policy.finish(&mut problems);
        // By file, then line; problems without a line first in their file.
        problems.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        policy.warnings = problems.iter().filter(|p| !p.is_error()).cloned().collect();
        Ok((policy, problems))
    }

    /// Merges one file's text into the policy; fails on its errors.
    /// Cross-file checks (groups named in `from`, approvers) happen when a
    /// directory is loaded.
    pub fn merge(&mut self, file: &Path, text: &str) -> Result<()> {
        let mut problems = Vec::new();
        self.merge_file(file, text, &mut problems);
        let (errors, warnings): (Vec<Problem>, Vec<Problem>) =
            problems.into_iter().partition(Problem::is_error);
        self.warnings.extend(warnings);
        if errors.is_empty() {
            return Ok(());
        }
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        Err(Error::input(format!(
            "policy {} is not valid:\n{}",
            file.display(),
            lines.join("\n")
        )))
    }

    fn merge_file(&mut self, file: &Path, text: &str, problems: &mut Vec<Problem>) {
        let mut sink = Sink {
            file,
            text,
            problems,
        };
        let probe: VersionProbe = match toml::from_str(text) {
            Ok(p) => p,
            Err(e) => return toml_problem(&mut sink, &e),
        };
        match &probe.version {
            None => sink.warn(
                None,
                format!("no `version` key; add `version = {VERSION}` at the top so later dbguard versions read this file the same way"),
            ),
            Some(v) => match v.get_ref().as_integer() {
                Some(n) if (1..=i64::from(VERSION)).contains(&n) => {}
                Some(n) if n > i64::from(VERSION) => {
                    let at = v.span().start;
                    let hint = match toml::from_str::<PolicyFile>(text) {
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
                    };
                    return sink.error(
                        at,
                        format!("version = {n} is newer than this dbguard understands (newest: {VERSION}); {hint}"),
                    );
                }
                _ => {
                    return sink.error(
                        v.span().start,
                        format!("version must be a whole number from 1 to {VERSION}; write `version = {VERSION}`"),
                    );
                }
            },
        }
        let parsed: PolicyFile = match toml::from_str(text) {
            Ok(p) => p,
            Err(e) => return toml_problem(&mut sink, &e),
        };

        if let Some(d) = parsed.default {
            match parse_decision(d.get_ref()) {
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

        if let Some(t) = parsed.target {
            for (key, list, slot) in [
                ("target.urls", &t.urls, &mut self.target.urls),
                ("target.hosts", &t.hosts, &mut self.target.hosts),
                ("target.databases", &t.databases, &mut self.target.databases),
            ] {
                if let Some(list) = list {
                    if let Some(g) = globs(&mut sink, key, list) {
                        *slot = g;
                    }
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

        if let Some(l) = parsed.limits {
            if let Some(v) = &l.lock_timeout {
                if let Some(d) = duration_of(&mut sink, "lock_timeout", v) {
                    self.limits.lock_timeout = Some(d);
                }
            }
            if let Some(v) = &l.statement_timeout {
                if let Some(d) = duration_of(&mut sink, "statement_timeout", v) {
                    self.limits.statement_timeout = Some(d);
                }
            }
            if let Some(v) = &l.request_ttl {
                if let Some(d) = duration_of(&mut sink, "request_ttl", v) {
                    self.limits.request_ttl = Some(d);
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

        for (name, members) in parsed.groups.unwrap_or_default() {
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
                .insert(name, (file.to_path_buf(), sink.line(at)));
        }

        for raw in parsed.rule {
            if let Some(rule) = self.build_rule(&mut sink, raw) {
                self.rules.push(rule);
            }
        }

        for a in parsed.association {
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
        if let Some(infer) = parsed.associations.and_then(|s| s.infer) {
            self.infer_associations = infer;
        }
    }

    fn build_rule(&self, sink: &mut Sink<'_>, raw: RawRule) -> Option<Rule> {
        let errors_before = sink.problems.iter().filter(|p| p.is_error()).count();
        let name_at = raw.name.span().start;
        let name = raw.name.into_inner();
        if name.trim().is_empty() {
            sink.error(name_at, "a rule needs a non-empty name");
        }
        if let Some(other) = self.rules.iter().find(|r| r.name == name) {
            sink.error(
                name_at,
                format!(
                    "rule name {name:?} is already used at {}:{}; rule names must be unique",
                    other.file.display(),
                    other.line
                ),
            );
        }
        let label = format!("rule {name}");
        let mut conditions = Vec::new();

        if let Some(ops) = raw.operations {
            let at = ops.span().start;
            let ops = ops.into_inner();
            if ops.is_empty() {
                sink.error(at, format!("{label}: operations = [] matches nothing; list operations or remove the key to match every kind"));
            }
            let mut names = Vec::new();
            for op in ops {
                let lower = op.get_ref().to_ascii_lowercase();
                if operations::is_known(&lower) {
                    names.push(lower);
                } else {
                    sink.error(
                        op.span().start,
                        format!(
                            "{label}: unknown operation {:?} (known: {})",
                            op.get_ref(),
                            operations::KNOWN.join(", ")
                        ),
                    );
                }
            }
            conditions.push(Condition::Operations(operations::Operations(names)));
        }
        if let Some(tables) = raw.tables {
            let at = tables.span().start;
            let tables = tables.into_inner();
            if tables.is_empty() {
                sink.error(at, format!("{label}: tables = [] matches nothing; list globs (\"*\" for all) or remove the key"));
            }
            if let Some(g) = globs(sink, &format!("{label}: tables"), &tables) {
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

        let verdict_at = raw.verdict.span().start;
        let verdict = parse_decision(raw.verdict.get_ref());
        if verdict.is_none() {
            sink.error(
                verdict_at,
                format!(
                    "{label}: unknown verdict {:?}; use \"allow\", \"confirm\", \"approve\" or \"deny\"",
                    raw.verdict.get_ref()
                ),
            );
        }
        let is_approve = verdict == Some(Decision::Approve);
        let mut approvals = 0u32;
        match (&raw.approvals, is_approve) {
            (None, true) => sink.error(
                verdict_at,
                format!("{label}: verdict = \"approve\" needs `approvals = N` (distinct approvers, at least 1)"),
            ),
            (Some(n), true) => match u32::try_from(*n.get_ref()) {
                Ok(v) if v >= 1 => approvals = v,
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
        let mut from = Vec::new();
        if let Some(f) = raw.from {
            let at = f.span().start;
            if !is_approve {
                sink.error(at, format!("{label}: `from` only applies to verdict = \"approve\"; remove it or change the verdict"));
            } else if f.get_ref().is_empty() {
                sink.error(
                    at,
                    format!(
                        "{label}: from = [] names no group; remove `from` to accept any approver"
                    ),
                );
            }
            for g in f.into_inner() {
                let g = g.into_inner();
                if !from.contains(&g) {
                    from.push(g);
                }
            }
        }
        let message = raw.message.filter(|m| !m.trim().is_empty());
        if verdict == Some(Decision::Deny) && message.is_none() {
            sink.error(
                verdict_at,
                format!("{label}: verdict = \"deny\" needs `message = \"...\"` telling the operator why and what to do instead"),
            );
        }
        let errors_after = sink.problems.iter().filter(|p| p.is_error()).count();
        if errors_after > errors_before {
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

    /// Cross-file checks and the approvers file.
    fn finish(&mut self, problems: &mut Vec<Problem>) {
        for rule in &self.rules {
            for g in &rule.from {
                if !self.groups.contains_key(g) {
                    let known: Vec<&str> = self.groups.keys().map(String::as_str).collect();
                    problems.push(Problem {
                        file: rule.file.clone(),
                        line: Some(rule.line),
                        severity: Severity::Error,
                        message: format!(
                            "rule {}: from names unknown group {g:?} ({}); define it under [groups]",
                            rule.name,
                            if known.is_empty() {
                                "no groups are defined".to_owned()
                            } else {
                                format!("known: {}", known.join(", "))
                            }
                        ),
                    });
                }
            }
        }
        let approvers_path = self.dir.as_ref().map_or_else(
            || PathBuf::from("policies/approvers"),
            |d| d.join("approvers"),
        );
        let mut have_file = false;
        if let Some(path) = self.approvers_file() {
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    have_file = true;
                    let (approvers, line_problems) =
                        crate::approval::AllowedSigners::parse_checked(&text);
                    problems.extend(line_problems.into_iter().map(|p| Problem {
                        file: path.clone(),
                        line: Some(p.line),
                        severity: if p.error {
                            Severity::Error
                        } else {
                            Severity::Warning
                        },
                        message: p.message,
                    }));
                    self.approvers = approvers.entries;
                }
                Err(e) => problems.push(Problem {
                    file: path.clone(),
                    line: None,
                    severity: Severity::Error,
                    message: format!("cannot read: {e}"),
                }),
            }
        }
        if have_file {
            for (group, members) in &self.groups {
                let (file, line) = self
                    .group_sites
                    .get(group)
                    .cloned()
                    .unwrap_or_else(|| (PathBuf::new(), 0));
                for m in members {
                    if !self.approvers.iter().any(|a| a.principals.contains(m)) {
                        problems.push(Problem {
                            file: file.clone(),
                            line: Some(line),
                            severity: Severity::Warning,
                            message: format!(
                                "group {group}: {m} has no key in {}, so they cannot approve yet",
                                approvers_path.display()
                            ),
                        });
                    }
                }
            }
        }
        let needing: Vec<&str> = self
            .rules
            .iter()
            .filter(|r| r.verdict == Decision::Approve)
            .map(|r| r.name.as_str())
            .collect();
        if !needing.is_empty() && !self.approvers_configured() {
            problems.push(Problem {
                file: approvers_path,
                line: None,
                severity: Severity::Warning,
                message: format!(
                    "no approver can sign yet, so changes matching {} will be refused; add one line per approver: `alice@example.org namespaces=\"dbguard\" ssh-ed25519 AAAA...` (their key from `ssh-keygen -t ed25519`)",
                    needing.join(", ")
                ),
            });
        }
    }

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
    pub fn verdict(&self, input: &VerdictInput<'_>) -> Verdict {
        struct Hit<'r> {
            decision: Decision,
            name: &'r str,
            approvals: u32,
            from: &'r [String],
            message: Option<String>,
        }
        let mut hits: Vec<Hit<'_>> = Vec::new();
        if let Some(max) = self.limits.max_rows {
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
        for rule in &self.rules {
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
        let Some(decision) = hits.iter().map(|h| h.decision).max() else {
            return Verdict {
                decision: self.default_decision,
                rules: vec!["default".to_owned()],
                approvals_needed: 0,
                from: Vec::new(),
                message: None,
            };
        };
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
        Verdict {
            decision,
            rules: winners.iter().map(|h| h.name.to_owned()).collect(),
            approvals_needed,
            from,
            message: (!messages.is_empty()).then(|| messages.join("; ")),
        }
    }

    /// Whether `[target]` selects this database. Each non-empty list
    /// (`urls`, `hosts`, `databases`) must have a matching glob; with no
    /// lists the policy applies everywhere.
    pub fn applies_to(&self, identity: &crate::db::TargetIdentity) -> bool {
        let t = &self.target;
        let urls = t.urls.is_empty() || t.urls.iter().any(|g| g.matches(&identity.display));
        let hosts = t.hosts.is_empty()
            || identity
                .host
                .as_deref()
                .is_some_and(|h| t.hosts.iter().any(|g| g.matches_ignore_case(h)));
        let file_name =
            crate::db::dialect::Dialect(identity.engine).database_file_name(&identity.database);
        let databases = t.databases.is_empty()
            || t.databases
                .iter()
                .any(|g| g.matches(&identity.database) || file_name.is_some_and(|n| g.matches(n)));
        urls && hosts && databases
    }

    /// The environment label for the prompt (`[target] env`).
    pub fn env_label(&self) -> Option<String> {
        self.target.env.clone()
    }

    pub fn lock_timeout(&self) -> Option<Duration> {
        self.limits.lock_timeout
    }

    pub fn statement_timeout(&self) -> Option<Duration> {
        self.limits.statement_timeout
    }

    /// How long an approval request stays valid (default 15 minutes).
    pub fn request_ttl(&self) -> Duration {
        self.limits.request_ttl.unwrap_or(DEFAULT_REQUEST_TTL)
    }

    /// `DIR/approvers`, when the policy was read from a directory that has
    /// one.
    pub fn approvers_file(&self) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|d| d.join("approvers"))
            .filter(|p| p.is_file())
    }

    /// Group → principals.
    pub fn groups(&self) -> &BTreeMap<String, Vec<String>> {
        &self.groups
    }

    /// Whether at least one approver key may sign dbguard approvals.
    pub fn approvers_configured(&self) -> bool {
        self.approvers.iter().any(Approver::allows_dbguard)
    }

    /// What to tell an operator whose change needs approval when no
    /// approver is configured.
    pub fn missing_approvers_message(&self) -> String {
        let dir = self
            .dir
            .as_ref()
            .map_or_else(|| "policies".to_owned(), |d| d.display().to_string());
        format!(
            "this change needs approval, but no approver is configured.\n\
             Add one: the approver creates a key if they have none (`ssh-keygen -t ed25519`), \
             then add a line to {dir}/approvers with their principal and public key \
             (the contents of ~/.ssh/id_ed25519.pub):\n    \
             alice@example.org namespaces=\"dbguard\" ssh-ed25519 AAAA...\n\
             Check it with `dbguard policy check {dir}`."
        )
    }

    /// Rules in evaluation order for display: strictest verdict first, file
    /// order within a verdict.
    pub fn rules_by_strictness(&self) -> Vec<&Rule> {
        let mut rules: Vec<&Rule> = self.rules.iter().collect();
        rules.sort_by_key(|r| std::cmp::Reverse(r.verdict));
        rules
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_associations_and_rejects_typos() {
        let mut p = Policy::default();
        p.merge(
            Path::new("a.toml"),
            r#"
version = 1
[[association]]
from = "repository_architectures.architecture_id"
to = "architectures.id"
[[association]]
from = "builds.worker_id"
ignore = true
[associations]
infer = true
"#,
        )
        .unwrap();
        assert_eq!(p.associations.len(), 2);
        assert!(p.associations[1].ignore);
        let err = p
            .merge(
                Path::new("b.toml"),
                "[[association]]\nfrom = \"a.b_id\"\ntoo = \"b.id\"\n",
            )
            .unwrap_err();
        assert!(err.message.contains("unknown field"), "{err}");
        let err = p
            .merge(Path::new("c.toml"), "[[association]]\nfrom = \"a.b_id\"\n")
            .unwrap_err();
        assert!(err.message.contains("needs `to"), "{err}");
        let err = p.merge(Path::new("d.toml"), "version = 9\n").unwrap_err();
        assert!(err.message.contains("newer"), "{err}");
    }

    #[test]
    fn builtin_is_the_shipped_file_and_clean() {
        let p = Policy::builtin();
        assert!(p.warnings.iter().all(|w| !w.is_error()), "{:?}", p.warnings);
        assert!(p.rules.len() >= 4);
        assert_eq!(p.default_decision, Decision::Confirm);
    }
}
