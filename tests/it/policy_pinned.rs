//! The policy pinned in the database (issue 15, finding 6): `dbguard
//! policy push DIR DB` stores a directory's policy in the journal, as a
//! guarded change; from then on it governs that database, and a policy on
//! the operator's machine (`--policy DIR`, `./policies`) can only make a
//! verdict stricter. Pushing another needs what the pinned one asks of
//! `policy` changes; the first push, on a database that pins none, is
//! recorded and not asked.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dbguard::db::Engine;

use crate::apply::{Db, assert_exit};
use crate::helpers::*;

const ROWS: &str = "CREATE TABLE t (id integer PRIMARY KEY, v text);
     INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c');";

/// Keys for alice (a dba, who approves) and carol (who operates), and
/// policy directories written beside them.
struct Team {
    dir: tempfile::TempDir,
}

impl Team {
    fn new() -> Team {
        let dir = tempfile::tempdir().unwrap();
        for who in ["alice", "carol"] {
            let ok = Command::new("ssh-keygen")
                .args(["-t", "ed25519", "-N", "", "-q", "-C", who, "-f"])
                .arg(dir.path().join(who))
                .status()
                .unwrap();
            assert!(ok.success());
        }
        Team { dir }
    }

    fn key(&self, who: &str) -> String {
        self.dir.path().join(who).display().to_string()
    }

    fn public(&self, who: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("{who}.pub"))).unwrap()
    }

    /// A policy directory `name` holding `rules` (after `version = 1`),
    /// with the group dba = alice and the team's approvers file: alice
    /// approves, carol only operates.
    fn policy(&self, name: &str, rules: &str) -> PathBuf {
        let dir = self.dir.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("rules.toml"),
            format!("version = 1\n{rules}\n[groups]\ndba = [\"alice@example.org\"]\n"),
        )
        .unwrap();
        std::fs::write(
            dir.join("approvers"),
            format!(
                "alice@example.org namespaces=\"dbguard\" {}carol@example.org namespaces=\"dbguard-operator\" {}",
                self.public("alice"),
                self.public("carol")
            ),
        )
        .unwrap();
        dir
    }

    /// `dbguard approve REQUEST --key alice --yes`: the token.
    fn alice_approves(&self, request: &str) -> String {
        let out = run(&["approve", request, "--key", &self.key("alice"), "--yes"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stdout(&out)
            .lines()
            .last()
            .unwrap_or_default()
            .trim()
            .to_owned()
    }
}

/// Deletes need alice; so does replacing the policy.
const GUARDED: &str = "default = \"confirm\"
[[rule]]
name = \"deletes-need-a-dba\"
operations = [\"delete\"]
verdict = \"approve\"
approvals = 1
from = [\"dba\"]
[[rule]]
name = \"policy-needs-a-dba\"
operations = [\"policy\"]
verdict = \"approve\"
approvals = 1
from = [\"dba\"]
";

/// What an operator who wants no guard would write.
const LAX: &str = "default = \"allow\"
[[rule]]
name = \"anything-goes\"
verdict = \"allow\"
";

/// `dbguard --key carol ARGS` on `j`, with `--format json` for exec.
fn as_carol(j: &JournalDir, team: &Team, args: &[&str]) -> Output {
    let key = team.key("carol");
    let mut all = vec!["--as", "carol@example.org", "--key", key.as_str()];
    all.extend_from_slice(args);
    j.run(&all)
}

fn push(j: &JournalDir, team: &Team, dir: &Path, db: &Db, extra: &[&str]) -> Output {
    let dir = dir.display().to_string();
    let target = db.target();
    let mut args = vec![
        "policy",
        "push",
        dir.as_str(),
        target.as_str(),
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    as_carol(j, team, &args)
}

fn delete_one(j: &JournalDir, team: &Team, db: &Db, policy: Option<&Path>) -> Output {
    let target = db.target();
    let policy = policy.map(|p| p.display().to_string());
    let mut args: Vec<&str> = Vec::new();
    if let Some(p) = &policy {
        args.extend(["--policy", p.as_str()]);
    }
    args.extend(["exec", target.as_str(), "-c", "DELETE FROM t WHERE id = 1"]);
    args.extend(["--yes", "--format", "json"]);
    as_carol(j, team, &args)
}

/// With a policy pinned, an operator's own policy directory — given with
/// --policy, or found as ./policies — cannot let a delete through that
/// the pinned policy sends to a dba; a stricter local rule still counts.
fn a_local_policy_cannot_loosen_the_pinned_one(engine: Engine) {
    let team = Team::new();
    let db = Db::new(engine, ROWS);
    let j = db.machine();
    let guarded = team.policy("guarded", GUARDED);
    let o = push(&j, &team, &guarded, &db, &[]);
    assert_exit(&o, 0, "the first push");
    let before = db.dump();

    let lax = team.policy("lax", LAX);
    let o = delete_one(&j, &team, &db, Some(&lax));
    assert_exit(&o, 3, "a delete under --policy LAX");
    let v = last_json(&o);
    assert_eq!(v["verdict"]["rules"][0], "deletes-need-a-dba", "{v}");
    assert!(stderr(&o).contains("pins its policy"), "{}", stderr(&o));
    assert_eq!(db.dump(), before);

    // ./policies in the working directory, no --policy.
    let cwd = tempfile::tempdir().unwrap();
    let local = cwd.path().join("policies");
    std::fs::create_dir(&local).unwrap();
    for f in ["rules.toml", "approvers"] {
        std::fs::copy(lax.join(f), local.join(f)).unwrap();
    }
    let target = db.target();
    let key = team.key("carol");
    let o = j
        .command(&[
            "--key",
            &key,
            "exec",
            &target,
            "-c",
            "DELETE FROM t WHERE id = 1",
        ])
        .args(["--yes", "--format", "json"])
        .env_remove("DBGUARD_POLICY")
        .current_dir(cwd.path())
        .output()
        .unwrap();
    assert_exit(&o, 3, "a delete with a lax ./policies");
    assert_eq!(db.dump(), before);

    // A stricter local rule: deletes denied here.
    let strict = team.policy(
        "strict",
        "[[rule]]\nname = \"no-deletes-here\"\noperations = [\"delete\"]\nverdict = \"deny\"\nmessage = \"not from this machine\"\n",
    );
    let o = delete_one(&j, &team, &db, Some(&strict));
    assert_exit(&o, 2, "a delete a local rule denies");
    assert_eq!(db.dump(), before);
}

#[test]
fn sqlite_a_local_policy_cannot_loosen_the_pinned_one() {
    a_local_policy_cannot_loosen_the_pinned_one(Engine::Sqlite);
}

#[test]
fn pg_a_local_policy_cannot_loosen_the_pinned_one() {
    a_local_policy_cannot_loosen_the_pinned_one(Engine::Postgres);
}

/// Replacing the pinned policy is itself guarded: it needs what the pinned
/// policy asks of `policy` changes (here a dba), shows the approver the
/// diff, and once applied governs; pushing the same policy again is
/// nothing to do; a push is not undone but replaced.
fn replacing_the_pinned_policy_needs_its_approval(engine: Engine) {
    let team = Team::new();
    let db = Db::new(engine, ROWS);
    let j = db.machine();
    let guarded = team.policy("guarded", GUARDED);
    assert_exit(&push(&j, &team, &guarded, &db, &[]), 0, "the first push");

    let relaxed = team.policy(
        "relaxed",
        "default = \"confirm\"\n[[rule]]\nname = \"policy-needs-a-dba\"\noperations = [\"policy\"]\nverdict = \"approve\"\napprovals = 1\nfrom = [\"dba\"]\n",
    );
    let o = push(&j, &team, &relaxed, &db, &[]);
    assert_exit(&o, 3, "a second push without approval");
    let v = last_json(&o);
    assert!(
        v["diff"]
            .as_str()
            .unwrap_or_default()
            .contains("-name = \"deletes-need-a-dba\""),
        "{v}"
    );
    let request = v["request"].as_str().unwrap().to_owned();
    let shown = run(&["approve", &request, "--key", &team.key("alice"), "--yes"]);
    assert!(
        stdout(&shown).contains("deletes-need-a-dba"),
        "the approver is shown the diff:\n{}",
        stdout(&shown)
    );
    // Still the old policy: deletes need a dba.
    assert_exit(
        &delete_one(&j, &team, &db, None),
        3,
        "a delete before the push",
    );

    let token = team.alice_approves(&request);
    let o = push(&j, &team, &relaxed, &db, &["--token", &token]);
    assert_exit(&o, 0, "the approved push");
    let change = last_json(&o)["change_id"].as_i64().unwrap();
    assert_exit(
        &delete_one(&j, &team, &db, None),
        0,
        "a delete under the new policy",
    );

    let o = push(&j, &team, &relaxed, &db, &[]);
    assert_exit(&o, 1, "the same policy again");
    assert!(stderr(&o).contains("already pins"), "{}", stderr(&o));

    let o = j.run(&["undo", "apply", &change.to_string(), "--yes"]);
    assert_exit(&o, 1, "an undo of a policy push");
    assert!(stderr(&o).contains("policy push DIR"), "{}", stderr(&o));

    let trail = stdout(&j.run(&["audit", "show", "--format", "json"]));
    assert_eq!(trail.matches("\"policy_push\"").count(), 2, "{trail}");
    assert_exit(&j.run(&["audit", "verify"]), 0, "audit verify");
}

#[test]
fn sqlite_replacing_the_pinned_policy_needs_its_approval() {
    replacing_the_pinned_policy_needs_its_approval(Engine::Sqlite);
}

#[test]
fn pg_replacing_the_pinned_policy_needs_its_approval() {
    replacing_the_pinned_policy_needs_its_approval(Engine::Postgres);
}

/// A pinned policy edited outside dbguard no longer matches its digest:
/// nothing runs under it.
#[test]
fn an_edited_pinned_policy_is_refused() {
    let team = Team::new();
    let db = Db::new(Engine::Sqlite, ROWS);
    let j = db.machine();
    let guarded = team.policy("guarded", GUARDED);
    assert_exit(&push(&j, &team, &guarded, &db, &[]), 0, "the first push");
    db.plain("UPDATE dbguard_policies SET files = replace(files, 'approve', 'allow')");
    let o = delete_one(&j, &team, &db, None);
    assert_exit(&o, 1, "a delete under an edited pinned policy");
    assert!(
        stderr(&o).contains("edited outside dbguard"),
        "{}",
        stderr(&o)
    );
}

/// A pinned policy rewritten outside dbguard with a digest to match: it
/// loads, but `audit verify` finds no push that pinned it.
#[test]
fn a_policy_pinned_outside_dbguard_fails_audit_verify() {
    let team = Team::new();
    let db = Db::new(Engine::Postgres, ROWS);
    let j = db.machine();
    let guarded = team.policy("guarded", GUARDED);
    assert_exit(&push(&j, &team, &guarded, &db, &[]), 0, "the first push");
    assert_exit(&j.run(&["audit", "verify"]), 0, "audit verify");
    db.plain(
        "UPDATE dbguard.policies SET files = replace(files, 'approve', 'allow');
         UPDATE dbguard.policies SET digest = encode(sha256(convert_to(files, 'UTF8')), 'hex');",
    );
    let o = j.run(&["audit", "verify"]);
    assert_exit(&o, 1, "audit verify of a policy pinned outside dbguard");
    assert!(
        stderr(&o).contains("pinned policy 1") && stderr(&o).contains("written outside dbguard"),
        "{}",
        stderr(&o)
    );
}

/// On PostgreSQL the journal's schema is an option (--journal-schema): a
/// journal made in another schema pins nothing, and was a way around the
/// pinned policy. A database whose other journal schema could pin a
/// policy is refused until the operator names that schema.
#[test]
fn another_journal_schema_does_not_escape_the_pinned_policy() {
    let team = Team::new();
    let db = Db::new(Engine::Postgres, ROWS);
    let j = db.machine();
    let guarded = team.policy("guarded", GUARDED);
    assert_exit(&push(&j, &team, &guarded, &db, &[]), 0, "the first push");
    let target = db.target();
    let lax = team.policy("lax", LAX).display().to_string();
    let o = as_carol(
        &j,
        &team,
        &["--journal-schema", "elsewhere", "init", &target],
    );
    let created = o.status.code() == Some(0);
    let before = db.dump();
    let o = as_carol(
        &j,
        &team,
        &[
            "--journal-schema",
            "elsewhere",
            "--policy",
            &lax,
            "exec",
            &target,
            "-c",
            "DELETE FROM t WHERE id = 1",
            "--yes",
        ],
    );
    assert_exit(&o, 1, "a delete through another journal schema");
    assert!(
        stderr(&o).contains("--journal-schema dbguard"),
        "{}",
        stderr(&o)
    );
    assert_eq!(db.dump(), before);
    assert!(
        created,
        "init in another schema is allowed; only writes are refused"
    );
}

/// A session judges its changes by the policy it started with; a push
/// while it is open (here the first one) governs what is applied from
/// then on: the open session's delete, judged by the old policy, is not
/// applied (found by an attack review).
#[test]
fn a_push_during_a_session_governs_its_next_change() {
    use std::io::{BufRead, BufReader, Write};
    let team = Team::new();
    let db = Db::new(Engine::Sqlite, ROWS);
    let j = db.machine();
    let lax = team.policy("lax", LAX).display().to_string();
    let target = db.target();
    let mut child = j
        .command(&["--policy", &lax, &target])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input
        .write_all(b"SELECT 'session is open' AS state;\n")
        .unwrap();
    input.flush().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("session is open") {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        seen.push_str(&line);
    }
    assert!(seen.contains("session is open"), "{seen}");
    let guarded = team.policy("guarded", GUARDED);
    assert_exit(&push(&j, &team, &guarded, &db, &[]), 0, "a push meanwhile");
    let before = db.dump();
    input.write_all(b"DELETE FROM t WHERE id = 1;\n").unwrap();
    drop(input);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    let status = child.wait().unwrap();
    assert_ne!(status.code(), Some(0), "{rest}{err}");
    assert!(
        err.contains("not the one this session judged"),
        "{rest}{err}"
    );
    assert_eq!(db.dump(), before);
}

/// The newest pinned policy deleted with another client rolls the database
/// back to an older one; the trail still records the newer push, so
/// `audit verify` reports it (found by an attack review).
#[test]
fn a_policy_rolled_back_outside_dbguard_fails_audit_verify() {
    let team = Team::new();
    let db = Db::new(Engine::Postgres, ROWS);
    let j = db.machine();
    let lax = team.policy("lax", LAX);
    assert_exit(&push(&j, &team, &lax, &db, &[]), 0, "the first push");
    let guarded = team.policy("guarded", GUARDED);
    assert_exit(&push(&j, &team, &guarded, &db, &[]), 0, "the second push");
    assert_exit(&j.run(&["audit", "verify"]), 0, "audit verify");
    db.plain("DELETE FROM dbguard.policies WHERE id = (SELECT max(id) FROM dbguard.policies)");
    let o = j.run(&["audit", "verify"]);
    assert_exit(&o, 1, "audit verify after a rollback");
    assert!(stderr(&o).contains("no longer pins"), "{}", stderr(&o));
}

/// A policy written with another client, its digest right, and a pending
/// audit record to vouch for it: the record names no policy change the
/// journal holds (found by an attack review).
#[test]
fn a_policy_forged_with_a_pending_record_fails_audit_verify() {
    let team = Team::new();
    let db = Db::new(Engine::Postgres, ROWS);
    let j = db.machine();
    let guarded = team.policy("guarded", GUARDED);
    assert_exit(&push(&j, &team, &guarded, &db, &[]), 0, "the first push");
    db.plain(
        "INSERT INTO dbguard.policies (pushed_at, pushed_by, digest, files)
           SELECT now()::text, 'alice', encode(sha256(convert_to(f, 'UTF8')), 'hex'), f
           FROM (SELECT '{\"rules.toml\":\"version = 1\\ndefault = \\\"allow\\\"\\n\"}'::text AS f) AS x;
         INSERT INTO dbguard.audit_pending (at, event, operator, target, change_id, detail)
           SELECT now()::text, 'policy_push', 'alice', NULL, 999,
                  '{\"digest\":\"' || digest || '\"}' FROM dbguard.policies ORDER BY id DESC LIMIT 1;",
    );
    let o = j.run(&["audit", "verify"]);
    assert_exit(&o, 1, "audit verify of a forged policy");
    assert!(
        stderr(&o).contains("does not hold as one"),
        "{}",
        stderr(&o)
    );
}

/// `undo replay` of a push restored nothing while it said every row was
/// restored (found by an attack review): refused, saying how to pin the
/// policy there.
#[test]
fn a_push_is_not_replayed() {
    let team = Team::new();
    let a = Db::new(Engine::Sqlite, ROWS);
    let b = Db::new(Engine::Sqlite, ROWS);
    let j = a.machine();
    let guarded = team.policy("guarded", GUARDED);
    let o = push(&j, &team, &guarded, &a, &[]);
    assert_exit(&o, 0, "the first push");
    let id = last_json(&o)["change_id"].as_i64().unwrap().to_string();
    let before = b.dump();
    let o = j.run(&[
        "undo",
        "replay",
        "--from",
        &a.target(),
        "--to",
        &b.target(),
        &id,
        "--yes",
    ]);
    assert_exit(&o, 1, "a replay of a push");
    assert!(stderr(&o).contains("policy push DIR"), "{}", stderr(&o));
    assert_eq!(b.dump(), before);
}
