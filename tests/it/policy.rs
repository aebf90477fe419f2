//! Policies: `dbguard policy check` on the shipped and on broken
//! directories (snapshots), and verdicts for every rule kind, precedence,
//! groups, limits and the default policy (through `Policy` directly, no
//! database needed).

use std::path::Path;
use std::process::Command;

use dbguard::db::{Engine, TargetIdentity};
use dbguard::policy::Policy;
use dbguard::policy::verdict::{Decision, Verdict, VerdictInput};
use dbguard::schema::QualName;

use crate::helpers::{dbguard, stderr, stdout};

// ---- helpers ----

/// A change to judge; tweak fields, then call `verdict`.
#[derive(Clone)]
struct Change {
    kind: &'static str,
    table: QualName,
    has_where: bool,
    target_rows: u64,
    total_rows: u64,
    cascades: bool,
    dangling: bool,
    warnings: bool,
    also: Vec<QualName>,
}

fn change(kind: &'static str, table: &str) -> Change {
    Change {
        kind,
        table: qn(table),
        has_where: true,
        target_rows: 1,
        total_rows: 1,
        cascades: false,
        dangling: false,
        warnings: false,
        also: Vec::new(),
    }
}

/// `schema.table` or `table` (no schema, like SQLite).
fn qn(name: &str) -> QualName {
    match name.split_once('.') {
        Some((s, t)) => QualName::new(Some(s), t),
        None => QualName::new(None, name),
    }
}

impl Change {
    fn no_where(mut self) -> Self {
        self.has_where = false;
        self
    }
    fn rows(mut self, target: u64, total: u64) -> Self {
        self.target_rows = target;
        self.total_rows = total;
        self
    }
    fn touching(mut self, table: &str) -> Self {
        self.also.push(qn(table));
        self
    }
    fn judge(&self, policy: &Policy) -> Verdict {
        let mut tables = vec![self.table.clone()];
        tables.extend(self.also.iter().cloned());
        let input = VerdictInput {
            kind: self.kind.parse().expect("a kind of change"),
            table: self.table.clone(),
            has_where: self.has_where,
            target_rows: self.target_rows,
            total_rows: self.total_rows,
            has_cascades: self.cascades,
            has_dangling: self.dangling,
            has_warnings: self.warnings,
            tables,
        };
        policy.verdict(&input)
    }
}

/// A policy from one TOML text (must be valid).
fn policy(text: &str) -> Policy {
    let mut p = Policy::default();
    p.merge(Path::new("test.toml"), text)
        .unwrap_or_else(|e| panic!("policy does not load: {e}"));
    p
}

/// A policy with one rule (plus `extra` TOML before it) whose verdict is
/// `confirm`: matching shows as `confirm` + the rule name, not matching as
/// the `allow` default.
fn one_rule(conditions: &str) -> Policy {
    policy(&format!(
        "version = 1\ndefault = \"allow\"\n[[rule]]\nname = \"r\"\n{conditions}\nverdict = \"confirm\"\n"
    ))
}

fn hits(p: &Policy, c: &Change) -> bool {
    let v = c.judge(p);
    match v.decision {
        Decision::Confirm => {
            assert_eq!(v.rules, ["r"]);
            true
        }
        Decision::Allow => {
            assert_eq!(v.rules, ["default"]);
            false
        }
        other => panic!("unexpected {other:?}"),
    }
}

fn names(v: &Verdict) -> Vec<&str> {
    v.rules.iter().map(String::as_str).collect()
}

/// Runs `dbguard ARGS` in `cwd` (so paths in its output are relative).
fn run_in(cwd: &Path, args: &[&str]) -> std::process::Output {
    let state = tempfile::tempdir().expect("tempdir");
    let mut cmd: Command = dbguard(state.path());
    cmd.current_dir(cwd)
        .args(args)
        .output()
        .expect("run dbguard")
}

/// A fresh ed25519 public key line (`ssh-ed25519 AAAA... comment`).
fn keygen(dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    let out = Command::new("ssh-keygen")
        .args(["-t", "ed25519", "-N", "", "-q", "-C", name, "-f"])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run ssh-keygen ({e}); install openssh-client (apt-get install openssh-client)")
        });
    assert!(out.status.success(), "ssh-keygen failed: {out:?}");
    std::fs::read_to_string(path.with_extension("pub"))
        .expect("read .pub")
        .trim()
        .to_owned()
}

/// Replaces `SHA256:...` fingerprints, which differ on every run.
fn redact_fingerprints(text: &str) -> String {
    text.lines()
        .map(|line| {
            line.split(' ')
                .map(|w| {
                    if w.starts_with("SHA256:") {
                        "SHA256:<fingerprint>"
                    } else {
                        w
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .map(|l| l + "\n")
        .collect()
}

// ---- acceptance 1: policy check ----

#[test]
fn check_passes_on_the_shipped_policies() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = run_in(root, &["policy", "check", "policies"]);
    assert!(
        out.status.success(),
        "policy check failed:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    insta::assert_snapshot!("policy_check_shipped", stdout(&out));
}

#[test]
fn builtin_default_is_the_shipped_file() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/default.toml"),
    )
    .expect("read policies/default.toml");
    assert_eq!(text, dbguard::policy::BUILTIN_TEXT);
    let shipped =
        Policy::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")).unwrap();
    let builtin = Policy::builtin();
    assert_eq!(shipped.rules.len(), builtin.rules.len());
    for (a, b) in shipped.rules.iter().zip(&builtin.rules) {
        assert_eq!(
            (&a.name, &a.conditions, a.verdict),
            (&b.name, &b.conditions, b.verdict)
        );
    }
    assert_eq!(shipped.limits, builtin.limits);
}

/// One file per problem kind; one line each.
fn write_broken(dir: &Path) {
    let files: &[(&str, &str)] = &[
        ("01-syntax.toml", "version = 1\n[[rule]\nname = \"x\"\n"),
        (
            "02-unknown-key.toml",
            "version = 1\n\n[limits]\nlock_timeuot = \"2s\"\n",
        ),
        (
            "03-bad-glob.toml",
            "version = 1\n\n[[rule]]\nname = \"users-bad\"\ntables = [\"public.users[\"]\nverdict = \"confirm\"\n",
        ),
        (
            "04-unknown-group.toml",
            "version = 1\n\n[groups]\ndba = [\"alice@example.org\", \"zoe@example.org\"]\n\n[[rule]]\nname = \"needs-dbas\"\nverdict = \"approve\"\napprovals = 1\nfrom = [\"dbas\"]\n",
        ),
        (
            "05-unknown-operation.toml",
            "version = 1\n\n[[rule]]\nname = \"typo-op\"\noperations = [\"delete\", \"updte\"]\nverdict = \"confirm\"\n",
        ),
        (
            "06-unknown-verdict.toml",
            "version = 1\n\n[[rule]]\nname = \"maybe\"\nverdict = \"maybe\"\n",
        ),
        (
            "07-approve-without-approvals.toml",
            "version = 1\n\n[[rule]]\nname = \"approve-nobody\"\nverdict = \"approve\"\n",
        ),
        (
            "08-deny-without-message.toml",
            "version = 1\n\n[[rule]]\nname = \"silent-deny\"\noperations = [\"truncate\"]\nverdict = \"deny\"\n",
        ),
        (
            "09-bad-duration.toml",
            "version = 1\n\n[limits]\nstatement_timeout = \"30 seconds\"\n",
        ),
        (
            "10-newer-version.toml",
            "version = 2\n\n[limits]\nlock_timeout = \"2s\"\nidle_timeout = \"1m\"\n",
        ),
        (
            "11-approvals-zero.toml",
            "version = 1\n\n[[rule]]\nname = \"zero\"\nverdict = \"approve\"\napprovals = 0\n",
        ),
        (
            "12-duplicate-name.toml",
            "version = 1\n\n[[rule]]\nname = \"needs-dbas\"\nverdict = \"allow\"\n",
        ),
    ];
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let key = keygen(dir, "alice");
    std::fs::write(
        dir.join("approvers"),
        format!(
            "# approvers\nalice@example.org namespaces=\"dbguard\" {key}\n\
             bob@example.org ssh-ed25519 AAAAbroken\n\
             carol@example.org frobnicate {key}\n\
             dave@example.org\n"
        ),
    )
    .unwrap();
    for f in ["alice", "alice.pub"] {
        std::fs::remove_file(dir.join(f)).unwrap();
    }
}

#[test]
fn check_lists_one_line_per_problem_in_broken_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("broken");
    std::fs::create_dir(&dir).unwrap();
    write_broken(&dir);
    let out = run_in(tmp.path(), &["policy", "check", "broken"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    for line in text.lines() {
        assert!(line.starts_with("broken/"), "not FILE:LINE: {line}");
    }
    insta::assert_snapshot!("policy_check_broken", text);
    assert!(stderr(&out).contains("has 15 errors"), "{}", stderr(&out));

    // Loading refuses the same directory, naming the problems.
    let err = Policy::load_dir(&dir).unwrap_err();
    assert!(err.message.contains("unknown operation \"updte\""), "{err}");
    assert!(err.message.contains("policy check"), "{err}");
}

#[test]
fn check_prints_groups_and_approvers_with_fingerprints() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pol");
    std::fs::create_dir(&dir).unwrap();
    let alice = keygen(tmp.path(), "alice");
    let bob = keygen(tmp.path(), "bob");
    std::fs::write(
        dir.join("approvers"),
        format!(
            "alice@example.org namespaces=\"dbguard\" {alice}\nbob@example.org,robert@example.org {bob}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("10-base.toml"),
        r#"version = 1
default = "confirm"

[target]
hosts = ["db*.prod.example.org"]
databases = ["app_*"]
env = "production"

[limits]
lock_timeout = "500ms"
max_rows = 1000

[groups]
dba = ["alice@example.org"]

[[rule]]
name = "payments-need-dba"
operations = ["delete", "update"]
tables = ["public.payments", "billing.*"]
verdict = "approve"
approvals = 2
from = ["dba", "sre"]

[[association]]
from = "builds.architecture_id"
to = "architectures.id"
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("20-more.toml"),
        r#"version = 1

[limits]
lock_timeout = "1s"

[groups]
sre = ["bob@example.org"]
dba = ["bob@example.org"]

[[rule]]
name = "small-inserts"
operations = ["insert"]
verdict = "allow"
"#,
    )
    .unwrap();
    let out = run_in(tmp.path(), &["policy", "check", "pol"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let text = redact_fingerprints(&stdout(&out));
    insta::assert_snapshot!("policy_check_full", text);

    let p = Policy::load(Some(&dir)).unwrap();
    assert_eq!(p.lock_timeout(), Some(std::time::Duration::from_secs(1)));
    assert_eq!(p.statement_timeout(), None);
    assert_eq!(p.request_ttl(), std::time::Duration::from_secs(900));
    assert_eq!(p.env_label().as_deref(), Some("production"));
    assert_eq!(p.groups()["dba"], ["alice@example.org", "bob@example.org"]);
    assert!(p.approvers_configured());
    assert_eq!(p.approvers_file(), Some(dir.join("approvers")));
    assert_eq!(p.approvers.len(), 2);
}

/// Issue 13: the gate and `policy check` read the approvers file with one
/// parser. A quoted principal list (`"a,b" ...`, as OpenSSH writes it)
/// used to verify tokens while `policy check` kept the quotes and warned
/// that the group member had no key.
#[test]
fn quoted_principal_list_verifies_and_passes_policy_check() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pol");
    std::fs::create_dir(&dir).unwrap();
    let alice = keygen(tmp.path(), "alice");
    // Carol operates and does not approve: her key proves who asks.
    let carol = keygen(tmp.path(), "carol");
    std::fs::write(
        dir.join("approvers"),
        format!(
            "\"alice@example.org,ally@example.org\" namespaces=\"dbguard\" {alice}\n\
             carol@example.org namespaces=\"dbguard-operator\" {carol}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("rules.toml"),
        "version = 1\ndefault = \"confirm\"\n[groups]\ndba = [\"alice@example.org\"]\n\
         [[rule]]\nname = \"deletes-need-a-dba\"\noperations = [\"delete\"]\n\
         verdict = \"approve\"\napprovals = 1\nfrom = [\"dba\"]\n",
    )
    .unwrap();

    let out = run_in(tmp.path(), &["policy", "check", "pol"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(!text.contains("warning"), "{text}");
    assert!(
        text.contains("  alice@example.org,ally@example.org ssh-ed25519 SHA256:"),
        "{text}"
    );

    let db = crate::helpers::SqliteDb::with(
        "CREATE TABLE t (id integer PRIMARY KEY); INSERT INTO t VALUES (1), (2);",
    );
    crate::helpers::init_journal(&db.target());
    let journal = crate::helpers::JournalDir::on(&db.target());
    let policy = dir.to_str().unwrap();
    let target = db.target();
    let carol_key = tmp.path().join("carol").display().to_string();
    let exec = |tokens: &[&str]| {
        let mut args = vec!["--policy", policy, "--as", "carol@example.org"];
        args.extend(["--key", carol_key.as_str(), "exec"]);
        args.extend([target.as_str(), "-c", "DELETE FROM t WHERE id = 1"]);
        args.extend(["--yes", "--format", "json"]);
        for t in tokens {
            args.extend(["--token", t]);
        }
        journal.run(&args)
    };
    let asked = exec(&[]);
    assert_eq!(asked.status.code(), Some(3), "{}", stderr(&asked));
    let v = crate::helpers::last_json(&asked);
    let request = v["request"].as_str().expect("a request").to_owned();
    let key = tmp.path().join("alice");
    let signed =
        crate::helpers::run(&["approve", &request, "--key", key.to_str().unwrap(), "--yes"]);
    assert!(signed.status.success(), "{}", stderr(&signed));
    let token = stdout(&signed)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let applied = exec(&[&token]);
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
    let left: i64 = db
        .conn()
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 1);
}

#[test]
fn directory_with_only_approvers_uses_the_builtin_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let key = keygen(tmp.path(), "alice");
    let dir = tmp.path().join("pol");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("approvers"), format!("alice@example.org {key}\n")).unwrap();
    let p = Policy::load(Some(&dir)).unwrap();
    assert_eq!(p.rules.len(), Policy::builtin().rules.len());
    assert!(p.approvers_configured());
    assert!(!Policy::builtin().approvers_configured());
    assert!(
        Policy::builtin()
            .missing_approvers_message()
            .contains("ssh-keygen -t ed25519")
    );
}

#[test]
fn versions_old_current_and_newer() {
    // No version: read as version 1, with a warning.
    let p = policy("[[rule]]\nname = \"a\"\nverdict = \"allow\"\n");
    assert!(p.warnings.iter().any(|w| w.message.contains("version = 1")));
    // Newer, but nothing new in it: says to change the number.
    let mut p = Policy::default();
    let err = p
        .merge(Path::new("n.toml"), "version = 3\ndefault = \"deny\"\n")
        .unwrap_err();
    assert!(
        err.message.contains("change it to `version = 1`")
            && err.message.contains("uses nothing version 1 lacks"),
        "{err}"
    );
    // Newer with a key this version lacks: names the key and its line.
    let err = p
        .merge(
            Path::new("n.toml"),
            "version = 2\n[[rule]]\nname = \"a\"\nverdict = \"allow\"\nschedule = \"nightly\"\n",
        )
        .unwrap_err();
    assert!(
        err.message.contains("line 5: unknown field `schedule`"),
        "{err}"
    );
}

// ---- acceptance 5: matching, one rule kind at a time ----

#[test]
fn operations_match_the_change_kind() {
    let p = one_rule("operations = [\"update\", \"truncate\"]");
    assert!(hits(&p, &change("update", "public.users")));
    assert!(hits(&p, &change("truncate", "public.users")));
    assert!(!hits(&p, &change("delete", "public.users")));
    assert!(!hits(&p, &change("insert", "public.users")));
    assert!(!hits(&p, &change("undo", "public.users")));
    // Omitted: every kind.
    let all = one_rule("");
    for kind in [
        "insert", "update", "delete", "truncate", "merge", "ddl", "undo",
    ] {
        assert!(hits(&all, &change(kind, "t")), "{kind}");
    }
}

#[test]
fn tables_globs_with_and_without_schema() {
    // Unqualified: any schema, and SQLite's schemaless names.
    let p = one_rule("tables = [\"users\"]");
    assert!(hits(&p, &change("delete", "public.users")));
    assert!(hits(&p, &change("delete", "audit.users")));
    assert!(hits(&p, &change("delete", "users")));
    assert!(hits(&p, &change("delete", "public.Users")), "case ignored");
    assert!(!hits(&p, &change("delete", "public.users_old")));
    // Qualified: that schema only.
    let p = one_rule("tables = [\"public.users\"]");
    assert!(hits(&p, &change("delete", "public.users")));
    assert!(!hits(&p, &change("delete", "audit.users")));
    assert!(!hits(&p, &change("delete", "users")), "SQLite: schema main");
    let p = one_rule("tables = [\"billing.*\"]");
    assert!(hits(&p, &change("delete", "billing.invoices")));
    assert!(!hits(&p, &change("delete", "public.invoices")));
    // SQLite tables live in `main`.
    let p = one_rule("tables = [\"main.users\", \"*.orders\"]");
    assert!(hits(&p, &change("delete", "users")));
    assert!(hits(&p, &change("delete", "orders")));
    assert!(hits(&p, &change("delete", "shop.orders")));
    // Globs: *, ?, classes.
    let p = one_rule("tables = [\"app_*\", \"log_20[0-9][0-9]\", \"t?\"]");
    assert!(hits(&p, &change("update", "public.app_users")));
    assert!(hits(&p, &change("update", "public.log_2024")));
    assert!(!hits(&p, &change("update", "public.log_20xx")));
    assert!(hits(&p, &change("update", "t1")));
    assert!(!hits(&p, &change("update", "t12")));
    // Tables reached through cascades count too.
    let p = one_rule("tables = [\"public.payments\"]");
    let c = change("delete", "public.customers");
    assert!(!hits(&p, &c));
    assert!(hits(&p, &c.touching("public.payments")));
}

#[test]
fn without_where_matches_only_unfiltered_updates_and_deletes() {
    let p = one_rule("without_where = true");
    assert!(hits(&p, &change("delete", "t").no_where()));
    assert!(hits(&p, &change("update", "t").no_where()));
    assert!(!hits(&p, &change("delete", "t")));
    assert!(!hits(&p, &change("insert", "t").no_where()));
    assert!(!hits(&p, &change("truncate", "t").no_where()));
    let p = one_rule("without_where = false");
    assert!(hits(&p, &change("delete", "t")));
    assert!(!hits(&p, &change("delete", "t").no_where()));
}

#[test]
fn row_thresholds() {
    let p = one_rule("min_rows = 10");
    assert!(!hits(&p, &change("delete", "t").rows(9, 500)));
    assert!(hits(&p, &change("delete", "t").rows(10, 10)));
    let p = one_rule("min_total_rows = 100");
    assert!(!hits(&p, &change("delete", "t").rows(99, 99)));
    assert!(hits(&p, &change("delete", "t").rows(1, 100)));
}

#[test]
fn presence_of_cascades_dangling_and_warnings() {
    for key in ["cascades", "dangling", "warnings"] {
        let with = one_rule(&format!("{key} = true"));
        let without = one_rule(&format!("{key} = false"));
        let plain = change("delete", "t");
        let mut marked = plain.clone();
        match key {
            "cascades" => marked.cascades = true,
            "dangling" => marked.dangling = true,
            _ => marked.warnings = true,
        }
        assert!(!hits(&with, &plain), "{key}");
        assert!(hits(&with, &marked), "{key}");
        assert!(hits(&without, &plain), "{key}");
        assert!(!hits(&without, &marked), "{key}");
    }
}

#[test]
fn all_conditions_of_a_rule_must_hold() {
    let p =
        one_rule("operations = [\"delete\"]\ntables = [\"orders\"]\nmin_rows = 5\ncascades = true");
    let mut c = change("delete", "public.orders").rows(5, 20);
    c.cascades = true;
    assert!(hits(&p, &c));
    let mut fewer = c.clone();
    fewer.target_rows = 4;
    assert!(!hits(&p, &fewer));
    let mut other = c.clone();
    other.kind = "update";
    assert!(!hits(&p, &other));
    let mut flat = c.clone();
    flat.cascades = false;
    assert!(!hits(&p, &flat));
}

// ---- precedence, groups, limits ----

const LAYERED: &str = r#"version = 1
default = "allow"

[groups]
dba = ["alice@example.org"]
sre = ["bob@example.org"]
leads = ["carol@example.org"]

[[rule]]
name = "confirm-writes"
operations = ["insert", "update", "delete"]
verdict = "confirm"

[[rule]]
name = "also-confirm"
tables = ["orders"]
verdict = "confirm"

[[rule]]
name = "deletes-any-approver"
operations = ["delete"]
verdict = "approve"
approvals = 1

[[rule]]
name = "orders-dba"
operations = ["delete"]
tables = ["public.orders"]
verdict = "approve"
approvals = 1
from = ["dba"]

[[rule]]
name = "big-orders"
tables = ["orders"]
min_rows = 100
verdict = "approve"
approvals = 2
from = ["sre", "dba"]

[[rule]]
name = "reads-allowed"
operations = ["merge"]
verdict = "allow"

[[rule]]
name = "no-orders-cascade"
tables = ["orders"]
cascades = true
verdict = "deny"
message = "orders cascade into invoices; delete invoices first"

[[rule]]
name = "no-huge"
min_total_rows = 10000
verdict = "deny"
message = "too big"
"#;

#[test]
fn strictest_verdict_wins_and_lists_its_rules() {
    let p = policy(LAYERED);
    // allow < confirm: both confirm rules are named.
    let v = change("update", "public.orders").judge(&p);
    assert_eq!(v.decision, Decision::Confirm);
    assert_eq!(names(&v), ["confirm-writes", "also-confirm"]);
    assert_eq!((v.approvals_needed, v.from.len()), (0, 0));
    // confirm < approve: only the approve rules are named.
    let v = change("delete", "public.customers").judge(&p);
    assert_eq!(v.decision, Decision::Approve);
    assert_eq!(names(&v), ["deletes-any-approver"]);
    assert_eq!(v.approvals_needed, 1);
    assert!(v.from.is_empty(), "any approver");
    // approve < deny.
    let mut c = change("delete", "public.orders");
    c.cascades = true;
    let v = c.judge(&p);
    assert_eq!(v.decision, Decision::Deny);
    assert_eq!(names(&v), ["no-orders-cascade"]);
    assert_eq!(
        v.message.as_deref(),
        Some("orders cascade into invoices; delete invoices first")
    );
    assert_eq!(v.approvals_needed, 0);
    // Two denies: both named, messages joined.
    let v = c.rows(1, 20_000).judge(&p);
    assert_eq!(names(&v), ["no-orders-cascade", "no-huge"]);
    assert_eq!(
        v.message.as_deref(),
        Some("orders cascade into invoices; delete invoices first; too big")
    );
    // An allow rule never loosens a stricter one, and alone it allows.
    let v = change("merge", "public.orders").judge(&p);
    assert_eq!(v.decision, Decision::Confirm);
    let v = change("merge", "public.customers").judge(&p);
    assert_eq!(
        (v.decision, names(&v)),
        (Decision::Allow, vec!["reads-allowed"])
    );
    // No rule: the default, named "default".
    let v = change("ddl", "public.customers").judge(&p);
    assert_eq!((v.decision, names(&v)), (Decision::Allow, vec!["default"]));
}

#[test]
fn approve_takes_the_largest_count_and_the_union_of_groups() {
    let p = policy(LAYERED);
    // deletes-any-approver (1, any) + orders-dba (1, dba): restricted to dba.
    let v = change("delete", "public.orders").judge(&p);
    assert_eq!(names(&v), ["deletes-any-approver", "orders-dba"]);
    assert_eq!(v.approvals_needed, 1);
    assert_eq!(v.from, ["dba"]);
    // + big-orders (2, sre+dba): two approvals from dba or sre.
    let v = change("delete", "public.orders").rows(100, 100).judge(&p);
    assert_eq!(
        names(&v),
        ["deletes-any-approver", "orders-dba", "big-orders"]
    );
    assert_eq!(v.approvals_needed, 2);
    assert_eq!(v.from, ["dba", "sre"]);
}

#[test]
fn max_rows_limit_denies_larger_changes() {
    let p = policy(
        "version = 1\n[limits]\nmax_rows = 1000\n[[rule]]\nname = \"ok\"\nverdict = \"allow\"\n",
    );
    let v = change("delete", "t").rows(10, 1000).judge(&p);
    assert_eq!(v.decision, Decision::Allow);
    let v = change("delete", "t").rows(10, 1001).judge(&p);
    assert_eq!(v.decision, Decision::Deny);
    assert_eq!(names(&v), ["limits.max_rows"]);
    let msg = v.message.unwrap();
    assert!(
        msg.contains("1001") && msg.contains("max_rows = 1000"),
        "{msg}"
    );
    let v = change("update", "t").rows(5000, 0).judge(&p);
    assert_eq!(v.decision, Decision::Deny, "target rows count too");
}

#[test]
fn later_files_add_rules_and_override_settings() {
    let mut p = Policy::default();
    p.merge(
        Path::new("10.toml"),
        "version = 1\ndefault = \"allow\"\n[limits]\nmax_rows = 10\nlock_timeout = \"2s\"\n[target]\nenv = \"staging\"\nhosts = [\"a*\"]\n[groups]\ndba = [\"a@x\"]\n[[rule]]\nname = \"one\"\noperations = [\"insert\"]\nverdict = \"confirm\"\n",
    )
    .unwrap();
    p.merge(
        Path::new("20.toml"),
        "version = 1\ndefault = \"deny\"\n[limits]\nmax_rows = 20\n[target]\nenv = \"production\"\n[groups]\ndba = [\"b@x\"]\n[[rule]]\nname = \"two\"\noperations = [\"update\"]\nverdict = \"confirm\"\n",
    )
    .unwrap();
    assert_eq!(p.default_decision, Decision::Deny);
    assert_eq!(p.limits.max_rows, Some(20));
    assert_eq!(p.lock_timeout(), Some(std::time::Duration::from_secs(2)));
    assert_eq!(p.env_label().as_deref(), Some("production"));
    assert_eq!(p.target.hosts.len(), 1, "untouched keys stay");
    assert_eq!(p.groups()["dba"], ["a@x", "b@x"]);
    assert_eq!(p.rules.len(), 2);
    let err = p
        .merge(
            Path::new("30.toml"),
            "version = 1\n[[rule]]\nname = \"one\"\nverdict = \"allow\"\n",
        )
        .unwrap_err();
    assert!(err.message.contains("already used at 10.toml:"), "{err}");
}

#[test]
fn target_selects_databases() {
    let id = |engine, display: &str, host: Option<&str>, db: &str| TargetIdentity {
        engine,
        display: display.to_owned(),
        database: db.to_owned(),
        host: host.map(str::to_owned),
        port: Some(5432),
        user: Some("app".to_owned()),
        system_identifier: None,
        server_version: "16".to_owned(),
        tls: None,
    };
    let prod = id(
        Engine::Postgres,
        "postgres://app@db1.prod.example.org:5432/app_main",
        Some("DB1.prod.example.org"),
        "app_main",
    );
    let staging = id(
        Engine::Postgres,
        "postgres://app@db1.staging.example.org:5432/app_main",
        Some("db1.staging.example.org"),
        "app_main",
    );
    let lite = id(
        Engine::Sqlite,
        "/srv/data/obs.sqlite",
        None,
        "/srv/data/obs.sqlite",
    );

    assert!(
        Policy::default().applies_to(&prod),
        "no patterns: everywhere"
    );
    let p = policy(
        "version = 1\n[target]\nhosts = [\"db*.prod.example.org\"]\ndatabases = [\"app_*\"]\n",
    );
    assert!(p.applies_to(&prod));
    assert!(!p.applies_to(&staging));
    assert!(!p.applies_to(&lite));
    let p = policy("version = 1\n[target]\nurls = [\"postgres://*@db*.prod.example.org*\"]\n");
    assert!(p.applies_to(&prod));
    assert!(!p.applies_to(&staging));
    let p = policy("version = 1\n[target]\ndatabases = [\"obs.sqlite\"]\n");
    assert!(p.applies_to(&lite), "SQLite: the file name matches");
    let p = policy("version = 1\n[target]\ndatabases = [\"/srv/*\"]\n");
    assert!(p.applies_to(&lite), "SQLite: the path matches");
    assert!(!p.applies_to(&prod));
}

// ---- the default policy ----

#[test]
fn default_policy_verdicts() {
    let p = Policy::builtin();
    let cases: &[(&str, Change, Decision, u32, &str)] = &[
        (
            "DELETE without WHERE",
            change("delete", "public.users").no_where(),
            Decision::Deny,
            0,
            "no-unbounded-writes",
        ),
        (
            "UPDATE without WHERE",
            change("update", "public.users").no_where(),
            Decision::Deny,
            0,
            "no-unbounded-writes",
        ),
        (
            "DELETE with WHERE",
            change("delete", "public.users"),
            Decision::Approve,
            1,
            "deletes-need-approval",
        ),
        (
            "TRUNCATE",
            change("truncate", "public.users").no_where(),
            Decision::Approve,
            1,
            "deletes-need-approval",
        ),
        (
            "INSERT",
            change("insert", "public.users").no_where(),
            Decision::Confirm,
            0,
            "writes-need-confirmation",
        ),
        (
            "UPDATE with WHERE",
            change("update", "public.users"),
            Decision::Confirm,
            0,
            "writes-need-confirmation",
        ),
        (
            "MERGE",
            change("merge", "public.users"),
            Decision::Confirm,
            0,
            "writes-need-confirmation",
        ),
        (
            "DDL",
            change("ddl", "public.users").no_where(),
            Decision::Deny,
            0,
            "no-ddl",
        ),
        (
            "undo",
            change("undo", "public.users"),
            Decision::Confirm,
            0,
            "undo-needs-confirmation",
        ),
    ];
    for (what, c, decision, approvals, rule) in cases {
        let v = c.judge(&p);
        assert_eq!(v.decision, *decision, "{what}: {v:?}");
        assert_eq!(v.approvals_needed, *approvals, "{what}: {v:?}");
        assert_eq!(names(&v), [*rule], "{what}: {v:?}");
        assert!(v.from.is_empty(), "{what}: any approver");
        if *decision == Decision::Deny {
            assert!(v.message.is_some(), "{what}: deny says why");
        }
    }
    // The same on SQLite names (no schema).
    let v = change("delete", "users").no_where().judge(&p);
    assert_eq!(v.decision, Decision::Deny);
    assert_eq!(p.request_ttl(), std::time::Duration::from_secs(15 * 60));
    assert_eq!(p.lock_timeout(), Some(std::time::Duration::from_secs(2)));
    assert_eq!(
        p.statement_timeout(),
        Some(std::time::Duration::from_secs(30))
    );
    assert!(p.applies_to(&TargetIdentity {
        engine: Engine::Sqlite,
        display: "x.sqlite".into(),
        database: "/x.sqlite".into(),
        host: None,
        port: None,
        user: None,
        system_identifier: None,
        server_version: "3".into(),
        tls: None,
    }));
    assert_eq!(p.approvers_file(), None);
    assert!(!p.approvers_configured());
}

#[test]
fn load_without_dir_falls_back_to_the_builtin_default() {
    // The test's working directory is the crate root, whose ./policies
    // holds only default.toml: the same rules either way.
    let p = Policy::load(None).unwrap();
    let names: Vec<&str> = p.rules.iter().map(|r| r.name.as_str()).collect();
    let builtin = Policy::builtin();
    let expected: Vec<&str> = builtin.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, expected);
}
