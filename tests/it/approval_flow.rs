//! The two-person rule end to end, on both engines: a change that needs an
//! approval prints a request and applies nothing (exit 3); `dbguard
//! approve` signs it with a real ed25519 key; the token applies exactly
//! that change, once — through `exec --token` in a later process, or pasted
//! into a piped shell after its request.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::helpers::*;

const SCHEMA: &str = "CREATE TABLE p (id integer PRIMARY KEY, name text);
     CREATE TABLE c (id integer PRIMARY KEY, pid integer REFERENCES p ON DELETE CASCADE);
     INSERT INTO p VALUES (1, 'one'), (2, 'two'), (3, 'three');
     INSERT INTO c VALUES (10, 1), (11, 1), (12, 2);";

/// A policy directory: deletes need one approval from group `dba`
/// (alice, bob); carol is in no group. Keys are made by ssh-keygen.
struct Approvers {
    dir: tempfile::TempDir,
}

impl Approvers {
    fn new(extra: &str) -> Approvers {
        let dir = tempfile::tempdir().unwrap();
        let mut lines = String::new();
        for who in ["alice", "bob", "carol"] {
            let key = dir.path().join(who);
            let ok = Command::new("ssh-keygen")
                .args(["-t", "ed25519", "-N", "", "-q", "-C", who, "-f"])
                .arg(&key)
                .status()
                .unwrap_or_else(|e| {
                    panic!("ssh-keygen is needed (apt-get install openssh-client): {e}")
                });
            assert!(ok.success());
            let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
            lines.push_str(&format!(
                "{who}@example.org namespaces=\"dbguard\" {public}"
            ));
        }
        let policy = dir.path().join("policy");
        std::fs::create_dir(&policy).unwrap();
        std::fs::write(policy.join("approvers"), lines).unwrap();
        std::fs::write(
            policy.join("rules.toml"),
            format!(
                "version = 1\ndefault = \"confirm\"\n[groups]\ndba = [\"alice@example.org\", \"bob@example.org\"]\n\
                 [[rule]]\nname = \"deletes-need-a-dba\"\noperations = [\"delete\"]\nverdict = \"approve\"\napprovals = 1\nfrom = [\"dba\"]\n{extra}"
            ),
        )
        .unwrap();
        Approvers { dir }
    }

    fn policy(&self) -> PathBuf {
        self.dir.path().join("policy")
    }

    fn key(&self, who: &str) -> PathBuf {
        self.dir.path().join(who)
    }

    /// `dbguard approve REQUEST --key WHO --yes`; the token is the last line.
    fn approve(&self, who: &str, request: &str) -> String {
        let out = run(&[
            "approve",
            request,
            "--key",
            self.key(who).to_str().unwrap(),
            "--yes",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stdout(&out)
            .lines()
            .last()
            .unwrap_or_default()
            .trim()
            .to_owned()
    }
}

fn exec_json(
    j: &JournalDir,
    policy: &Path,
    operator: &str,
    target: &str,
    sql: &str,
    tokens: &[&str],
) -> (Option<i32>, serde_json::Value) {
    let mut args = vec![
        "--policy",
        policy.to_str().unwrap(),
        "--as",
        operator,
        "exec",
        target,
        "-c",
        sql,
        "--yes",
        "--format",
        "json",
    ];
    for t in tokens {
        args.push("--token");
        args.push(t);
    }
    let out = j.run(&args);
    (out.status.code(), last_json(&out))
}

fn token_flow(target: &str, dump: &dyn Fn() -> std::collections::BTreeMap<String, Vec<String>>) {
    let a = Approvers::new("");
    let j = JournalDir::new();
    let before = dump();
    let sql = "DELETE FROM p WHERE id = 1";
    // No token: the request, exit 3, nothing applied.
    let (code, v) = exec_json(&j, &a.policy(), "carol@example.org", target, sql, &[]);
    assert_eq!(code, Some(3), "{v}");
    assert_eq!(v["verdict"]["decision"], "approve");
    assert_eq!(v["verdict"]["rules"][0], "deletes-need-a-dba");
    let request = v["request"].as_str().unwrap().to_owned();
    assert!(request.starts_with("dbguard-request:v1:"), "{request}");
    assert_eq!(dump(), before);

    // Refused tokens: carol (not a dba), carol approving herself via
    // alice's account is not possible, so: a token for another statement,
    // and the operator's own principal.
    let carol_token = a.approve("carol", &request);
    let (code, v) = exec_json(
        &j,
        &a.policy(),
        "carol@example.org",
        target,
        sql,
        &[&carol_token],
    );
    assert_eq!(code, Some(3), "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("self-approval")
            || v["error"].as_str().unwrap().contains("group"),
        "{v}"
    );
    let (_, other) = exec_json(
        &j,
        &a.policy(),
        "carol@example.org",
        target,
        "DELETE FROM p WHERE id = 2",
        &[],
    );
    let other_token = a.approve("alice", other["request"].as_str().unwrap());
    let (code, v) = exec_json(
        &j,
        &a.policy(),
        "carol@example.org",
        target,
        sql,
        &[&other_token],
    );
    assert_eq!(code, Some(3), "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("different change"),
        "{v}"
    );
    assert_eq!(dump(), before);

    // Alice's token applies it, in this later process.
    let token = a.approve("alice", &request);
    let (code, v) = exec_json(&j, &a.policy(), "carol@example.org", target, sql, &[&token]);
    assert_eq!(code, Some(0), "{v}");
    let change = v["change_id"].as_i64().unwrap();
    assert_ne!(dump(), before);

    // Undo it (policy: confirm, given by --yes), then the same token on the
    // identical change again: single use.
    let out = j.run(&[
        "--policy",
        a.policy().to_str().unwrap(),
        "undo",
        "apply",
        &change.to_string(),
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(dump(), before);
    let (code, v) = exec_json(&j, &a.policy(), "carol@example.org", target, sql, &[&token]);
    assert_eq!(code, Some(3), "{v}");
    assert!(v["error"].as_str().unwrap().contains("already used"), "{v}");
    assert_eq!(dump(), before);

    // The approval is in the audit trail, which verifies.
    let out = j.run(&["audit", "show", "--format", "json"]);
    let trail: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let events: Vec<&str> = trail
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["event"].as_str())
        .collect();
    for e in ["request", "approval", "apply", "undo", "refusal"] {
        assert!(events.contains(&e), "{e} missing from {events:?}");
    }
    assert!(
        !stdout(&out).contains("dbguard-approval:"),
        "tokens must never be stored"
    );
    let out = j.run(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn exec_token_flow_sqlite() {
    let db = SqliteDb::with(SCHEMA);
    let path = db.path.clone();
    token_flow(&db.target(), &|| sqlite_dump_tables(&path));
}

#[test]
fn exec_token_flow_pg() {
    let db = PgDb::with(SCHEMA);
    let url = db.url.clone();
    token_flow(&db.url, &|| pg_dump_tables(&url));
}

fn piped_flow(target: &str, dump: &dyn Fn() -> std::collections::BTreeMap<String, Vec<String>>) {
    let a = Approvers::new("");
    let j = JournalDir::new();
    let before = dump();
    let mut child = dbguard(j.dir.path())
        .args([
            "--journal",
            j.path.to_str().unwrap(),
            "--policy",
            a.policy().to_str().unwrap(),
        ])
        .args(["--as", "carol@example.org", target])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(b"DELETE FROM p WHERE id = 1;\n").unwrap();
    input.flush().unwrap();
    // The shell prints the request and waits for tokens on its input.
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut request = String::new();
    let mut seen = String::new();
    for _ in 0..200 {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        seen.push_str(&line);
        if line.starts_with("dbguard-request:v1:") {
            request = line.trim().to_owned();
            break;
        }
    }
    assert!(!request.is_empty(), "no request printed:\n{seen}");
    assert_eq!(dump(), before, "nothing applies before the approval");
    let token = a.approve("bob", &request);
    input
        .write_all(format!("{token}\nSELECT count(*) AS left_over FROM p;\n").as_bytes())
        .unwrap();
    drop(input);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let status = child.wait().unwrap();
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    assert_eq!(status.code(), Some(0), "{seen}{rest}\n{err}");
    assert!(rest.contains("Applied as change"), "{rest}");
    assert!(
        rest.contains("left_over"),
        "the script goes on after the token: {rest}"
    );
    assert_ne!(dump(), before);
}

#[test]
fn piped_shell_takes_the_token_after_its_request_sqlite() {
    let db = SqliteDb::with(SCHEMA);
    let path = db.path.clone();
    piped_flow(&db.target(), &|| sqlite_dump_tables(&path));
}

#[test]
fn piped_shell_takes_the_token_after_its_request_pg() {
    let db = PgDb::with(SCHEMA);
    let url = db.url.clone();
    piped_flow(&db.url, &|| pg_dump_tables(&url));
}

/// `exec --dry-run --format json` of `sql` under the policy this repository
/// ships (`policies/`).
fn shipped_policy_dry_run(j: &JournalDir, db: &SqliteDb, sql: &str) -> std::process::Output {
    let policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    j.run(&[
        "--policy",
        policies.to_str().unwrap_or("policies"),
        "exec",
        &db.target(),
        "-c",
        sql,
        "--dry-run",
        "--format",
        "json",
    ])
}

/// `WHERE 1 = 1` filters nothing: the shipped rule against a DELETE
/// without WHERE catches it as it catches a bare DELETE, and a real filter
/// is not caught by it.
#[test]
fn a_where_that_is_always_true_counts_as_none() {
    let db = SqliteDb::with(SCHEMA);
    let before = sqlite_dump_tables(&db.path);
    let j = JournalDir::new();
    let decision = |sql: &str| {
        let out = shipped_policy_dry_run(&j, &db, sql);
        (
            out.status.code(),
            last_json(&out)["verdict"]["decision"].clone(),
        )
    };
    for sql in [
        "DELETE FROM c WHERE 1 = 1",
        "DELETE FROM c WHERE true",
        "DELETE FROM c WHERE (1) OR pid = 7",
    ] {
        assert_eq!(decision(sql), (Some(2), "deny".into()), "{sql}");
    }
    let (_, filtered) = decision("DELETE FROM c WHERE id = 10");
    assert_ne!(filtered, "deny");
    assert_eq!(sqlite_dump_tables(&db.path), before);
}

#[test]
fn denied_exits_2_and_missing_approvers_say_how_to_add_one() {
    let db = SqliteDb::with(SCHEMA);
    let before = sqlite_dump_tables(&db.path);
    // The shipped default: DELETE without WHERE is denied, even dry.
    let repo_policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let j = JournalDir::new();
    let out = shipped_policy_dry_run(&j, &db, "DELETE FROM c");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(last_json(&out)["verdict"]["decision"], "deny");
    // A DELETE with WHERE needs an approval, and nobody is listed.
    let out = j.run(&[
        "--policy",
        repo_policies.to_str().unwrap(),
        "exec",
        &db.target(),
        "-c",
        "DELETE FROM c WHERE id = 10",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("ssh-keygen -t ed25519"),
        "{}",
        stderr(&out)
    );
    assert_eq!(sqlite_dump_tables(&db.path), before);
}

#[test]
fn a_policy_for_other_targets_falls_back_to_the_built_in_default() {
    let db = SqliteDb::with(SCHEMA);
    let policy = tempfile::tempdir().unwrap();
    std::fs::write(
        policy.path().join("p.toml"),
        "version = 1\ndefault = \"allow\"\n[target]\ndatabases = [\"some-other-db\"]\n",
    )
    .unwrap();
    let j = JournalDir::new();
    let out = j.run(&[
        "--policy",
        policy.path().to_str().unwrap(),
        "exec",
        &db.target(),
        "-c",
        "DELETE FROM c",
        "--dry-run",
        "--format",
        "json",
    ]);
    // The built-in default denies a DELETE without WHERE; the allow-all
    // policy for another database does not apply here.
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("does not apply"), "{}", stderr(&out));
}
