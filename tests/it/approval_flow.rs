//! The two-person rule end to end, on both engines: a change that needs an
//! approval prints a request and applies nothing (exit 3); `dbguard
//! approve` signs it with a real ed25519 key; the token applies exactly
//! that change, once — through `exec --token` in a later process, or pasted
//! into a piped shell after its request.
//!
//! "Once" is kept by the target database, not by a machine (issue 14): the
//! nonces of the tokens a change consumed are written in the change's own
//! transaction, keyed, so a token is refused on every machine of the team
//! (two `JournalDir`s: separate local state, one database), eight parallel
//! applies with one token commit one change, and a change approved by two
//! people burns both tokens.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use dbguard::db::Engine;

use crate::apply::{Db, assert_exit};
use crate::helpers::*;

pub(crate) const SCHEMA: &str = "CREATE TABLE p (id integer PRIMARY KEY, name text);
     CREATE TABLE c (id integer PRIMARY KEY, pid integer REFERENCES p ON DELETE CASCADE);
     INSERT INTO p VALUES (1, 'one'), (2, 'two'), (3, 'three');
     INSERT INTO c VALUES (10, 1), (11, 1), (12, 2);";

/// A policy directory: deletes need one approval from group `dba`
/// (alice, bob); carol is in no group. Keys are made by ssh-keygen.
pub(crate) struct Approvers {
    dir: tempfile::TempDir,
}

/// Deletes need one approval from a dba.
const DELETES_NEED_A_DBA: &str = "[[rule]]\nname = \"deletes-need-a-dba\"\noperations = [\"delete\"]\nverdict = \"approve\"\napprovals = 1\nfrom = [\"dba\"]\n";

impl Approvers {
    pub(crate) fn new(extra: &str) -> Approvers {
        Approvers::with_rules(&format!("{DELETES_NEED_A_DBA}{extra}"))
    }

    /// Keys for alice, bob and carol, and `rules` (TOML `[[rule]]`s) under
    /// the group `dba` = alice, bob.
    fn with_rules(rules: &str) -> Approvers {
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
                "version = 1\ndefault = \"confirm\"\n[groups]\ndba = [\"alice@example.org\", \"bob@example.org\"]\n{rules}"
            ),
        )
        .unwrap();
        Approvers { dir }
    }

    pub(crate) fn policy(&self) -> PathBuf {
        self.dir.path().join("policy")
    }

    pub(crate) fn key(&self, who: &str) -> PathBuf {
        self.dir.path().join(who)
    }

    /// `dbguard approve REQUEST --key WHO --yes`; the token is the last line.
    pub(crate) fn approve(&self, who: &str, request: &str) -> String {
        self.answer(who, request, &["--yes"])
    }

    /// `dbguard approve REQUEST --key WHO ANSWER...`: its last line.
    fn answer(&self, who: &str, request: &str, answer: &[&str]) -> String {
        let key = self.key(who);
        let mut args = vec!["approve", request, "--key", key.to_str().unwrap()];
        args.extend_from_slice(answer);
        let out = run(&args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stdout(&out)
            .lines()
            .last()
            .unwrap_or_default()
            .trim()
            .to_owned()
    }
}

impl Approvers {
    /// `dbguard approve REQUEST --key WHO --reject --reason REASON`; the
    /// signed rejection is the last line.
    pub(crate) fn reject(&self, who: &str, request: &str, reason: &str) -> String {
        self.answer(who, request, &["--reject", "--reason", reason])
    }
}

/// The key of `who@example.org`, beside the policy [`Approvers`] made:
/// the operator proves who they are with it.
fn operator_key(policy: &Path, operator: &str) -> String {
    let who = operator.split('@').next().unwrap_or(operator);
    policy.parent().unwrap().join(who).display().to_string()
}

/// `--policy POLICY --as OPERATOR --key KEY exec TARGET -c SQL --yes
/// --format json --token T...`, with the operator's own key.
fn exec_args(
    policy: &Path,
    operator: &str,
    target: &str,
    sql: &str,
    tokens: &[&str],
) -> Vec<String> {
    let mut args: Vec<String> = [
        "--policy",
        policy.to_str().unwrap(),
        "--as",
        operator,
        "--key",
        &operator_key(policy, operator),
        "exec",
        target,
        "-c",
        sql,
        "--yes",
        "--format",
        "json",
    ]
    .map(str::to_owned)
    .to_vec();
    for t in tokens {
        args.push("--token".into());
        args.push((*t).to_owned());
    }
    args
}

pub(crate) fn exec_json(
    j: &JournalDir,
    policy: &Path,
    operator: &str,
    target: &str,
    sql: &str,
    tokens: &[&str],
) -> (Option<i32>, serde_json::Value) {
    let args = exec_args(policy, operator, target, sql, tokens);
    let out = j.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    (out.status.code(), last_json(&out))
}

fn token_flow(engine: Engine) {
    let a = Approvers::new("");
    let db = Db::new(engine, SCHEMA);
    let target = &db.target();
    let dump = || db.dump();
    let j = db.machine();
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
    token_flow(Engine::Sqlite);
}

#[test]
fn exec_token_flow_pg() {
    token_flow(Engine::Postgres);
}

fn piped_flow(engine: Engine) {
    let a = Approvers::new("");
    let db = Db::new(engine, SCHEMA);
    let target = &db.target();
    let dump = || db.dump();
    let j = db.machine();
    let before = dump();
    let mut child = j
        .command(&["--policy", a.policy().to_str().unwrap()])
        .args(["--as", "carol@example.org", target])
        .arg("--key")
        .arg(a.key("carol"))
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
    piped_flow(Engine::Sqlite);
}

#[test]
fn piped_shell_takes_the_token_after_its_request_pg() {
    piped_flow(Engine::Postgres);
}

/// `exec --dry-run --format json` of `sql` under the policy this repository
/// ships (`policies/`).
fn shipped_policy_dry_run(j: &JournalDir, db: &Db, sql: &str) -> std::process::Output {
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

/// A WHERE that filters nothing counts as none: the shipped rule against
/// writes without WHERE catches literal tautologies (`1 = 1`, `true`) as
/// it catches a bare DELETE, and (issue 15, finding 7) a WHERE is judged by
/// the rows it selects, not by its text: tautologies the text check
/// misses (`2 > 1`, `id = id`, a subquery that is true) and a real filter
/// that happens to select every row of the table are caught too, on both
/// engines; a filter that leaves a row out is not.
#[test]
fn a_where_that_selects_every_row_counts_as_none() {
    for engine in [Engine::Sqlite, Engine::Postgres] {
        let db = Db::new(engine, SCHEMA);
        let before = db.dump();
        let j = db.machine();
        let decision = |sql: &str| {
            let out = shipped_policy_dry_run(&j, &db, sql);
            (
                out.status.code(),
                last_json(&out)["verdict"]["decision"].clone(),
            )
        };
        // SQLite reads an integer as a truth value; Postgres refuses it.
        let sqlite_only: &[&str] = match engine {
            Engine::Sqlite => &["(1) OR pid = 7"],
            Engine::Postgres => &[],
        };
        for pred in sqlite_only.iter().copied().chain([
            "1 = 1",
            "true",
            "2 > 1",
            "id = id",
            "id IS NOT NULL",
            "true IS true",
            "1 IN (1)",
            "(SELECT true)",
            "'a' LIKE 'a'",
            "id >= 10",
            "pid IN (SELECT id FROM p)",
        ]) {
            for sql in [
                format!("DELETE FROM c WHERE {pred}"),
                format!("UPDATE c SET pid = pid WHERE {pred}"),
            ] {
                assert_eq!(
                    decision(&sql),
                    (Some(2), "deny".into()),
                    "{engine:?}: {sql}"
                );
            }
        }
        for sql in [
            "DELETE FROM c WHERE id = 10",
            "DELETE FROM c WHERE id >= 11",
            "UPDATE c SET pid = 2 WHERE pid = 1",
            "DELETE FROM c WHERE pid IS DISTINCT FROM 2",
        ] {
            let (_, filtered) = decision(sql);
            assert_ne!(filtered, "deny", "{engine:?}: {sql}");
        }
        assert_eq!(db.dump(), before);
    }
}

#[test]
fn denied_exits_2_and_missing_approvers_say_how_to_add_one() {
    let db = Db::new(Engine::Sqlite, SCHEMA);
    let before = db.dump();
    // The shipped default: DELETE without WHERE is denied, even dry.
    let repo_policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let j = db.machine();
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
    assert_eq!(db.dump(), before);
}

#[test]
fn a_policy_for_other_targets_falls_back_to_the_built_in_default() {
    let db = Db::new(Engine::Sqlite, SCHEMA);
    let policy = tempfile::tempdir().unwrap();
    std::fs::write(
        policy.path().join("p.toml"),
        "version = 1\ndefault = \"allow\"\n[target]\ndatabases = [\"some-other-db\"]\n",
    )
    .unwrap();
    let j = db.machine();
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

// ---- single use is kept by the target, for the whole team (issue 14) ----

/// Updates and inserts need one approval from a dba.
const WRITES_NEED_A_DBA: &str = "[[rule]]\nname = \"writes-need-a-dba\"\noperations = [\"update\", \"insert\"]\nverdict = \"approve\"\napprovals = 1\nfrom = [\"dba\"]\n";

/// Deletes need two approvals from dbas: alice and bob.
const DELETES_NEED_TWO_DBAS: &str = "[[rule]]\nname = \"deletes-need-two-dbas\"\noperations = [\"delete\"]\nverdict = \"approve\"\napprovals = 2\nfrom = [\"dba\"]\n";

/// An account and a ledger whose key the database generates, so the same
/// statement can be applied again and again: what a reused token would do.
fn ledger(engine: Engine) -> Db {
    let key = match engine {
        Engine::Postgres => "integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        Engine::Sqlite => "INTEGER PRIMARY KEY",
    };
    Db::new(
        engine,
        &format!(
            "CREATE TABLE acct (id integer PRIMARY KEY, balance integer NOT NULL);
             INSERT INTO acct VALUES (1, 1000);
             CREATE TABLE ledger (id {key}, note text NOT NULL);"
        ),
    )
}

fn balance(db: &Db) -> i64 {
    target_i64(&db.target(), "SELECT balance FROM acct WHERE id = 1")
}

/// The request `sql` prints when run without a token on `j` (exit 3).
pub(crate) fn request_of(j: &JournalDir, a: &Approvers, target: &str, sql: &str) -> String {
    let (code, v) = exec_json(j, &a.policy(), "carol@example.org", target, sql, &[]);
    assert_eq!(code, Some(3), "{sql}: {v}");
    v["request"]
        .as_str()
        .unwrap_or_else(|| panic!("no request: {v}"))
        .to_owned()
}

/// The attack: a token used on one machine applied again from
/// another one (balance 1000 → 900 → 800). The second machine is refused,
/// also once the data is back as it was approved (so the change is the
/// very one the token signed, and only its single use can stop it).
fn token_reused_from_another_machine(engine: Engine) {
    let a = Approvers::with_rules(WRITES_NEED_A_DBA);
    let db = ledger(engine);
    let target = db.target();
    let (first, second) = (db.machine(), db.machine());
    let sql = "UPDATE acct SET balance = balance - 100 WHERE id = 1";
    let token = a.approve("alice", &request_of(&first, &a, &target, sql));
    let (code, v) = exec_json(
        &first,
        &a.policy(),
        "carol@example.org",
        &target,
        sql,
        &[&token],
    );
    assert_eq!(code, Some(0), "{v}");
    let change = v["change_id"].as_i64().unwrap();
    assert_eq!(balance(&db), 900);

    let (code, v) = exec_json(
        &second,
        &a.policy(),
        "carol@example.org",
        &target,
        sql,
        &[&token],
    );
    assert_eq!(code, Some(3), "another machine reused the token: {v}");
    assert_eq!(balance(&db), 900, "{v}");

    // The second machine undoes the change (the journal is the team's):
    // the data is as approved again, and the token is still spent.
    undo_apply(&second, change);
    assert_eq!(balance(&db), 1000);
    for (machine, j) in [("second", &second), ("first", &first)] {
        let (code, v) = exec_json(j, &a.policy(), "carol@example.org", &target, sql, &[&token]);
        assert_eq!(code, Some(3), "{machine} machine: {v}");
        let error = v["error"].as_str().unwrap_or_default();
        assert!(error.contains("already used"), "{machine} machine: {v}");
        assert_eq!(balance(&db), 1000, "{machine} machine: {v}");
    }
    assert_eq!(journal_count(&target, "approvals"), 1);
    assert_eq!(
        journal_count(&target, "changes"),
        2,
        "the change and its undo"
    );
}

#[test]
fn a_token_reused_from_another_machine_is_refused_sqlite() {
    token_reused_from_another_machine(Engine::Sqlite);
}

#[test]
fn a_token_reused_from_another_machine_is_refused_pg() {
    token_reused_from_another_machine(Engine::Postgres);
}

/// Eight `exec --yes --token T` started at the same moment, on two
/// machines, with one token for an INSERT that could be applied any number
/// of times: exactly one commits; the others are refused as approvals
/// (exit 3) and leave nothing behind.
fn parallel_applies_with_one_token(engine: Engine) {
    const RUNS: usize = 8;
    let a = Approvers::with_rules(WRITES_NEED_A_DBA);
    let db = ledger(engine);
    let target = db.target();
    let machines = [db.machine(), db.machine()];
    let sql = "INSERT INTO ledger (note) VALUES ('refund')";
    let token = a.approve("alice", &request_of(&machines[0], &a, &target, sql));
    let policy = a.policy();
    let args = exec_args(&policy, "carol@example.org", &target, sql, &[&token]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let start = std::sync::Barrier::new(RUNS);
    let outputs: Vec<std::process::Output> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..RUNS)
            .map(|i| {
                let mut cmd = machines[i % machines.len()].command(&args);
                let start = &start;
                s.spawn(move || {
                    cmd.stdin(Stdio::null());
                    start.wait();
                    cmd.output().expect("run dbguard")
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let applied: Vec<&std::process::Output> = outputs
        .iter()
        .filter(|o| o.status.code() == Some(0))
        .collect();
    let report = || {
        outputs
            .iter()
            .map(|o| format!("exit {:?}: {}", o.status.code(), stderr(o).trim()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(applied.len(), 1, "exactly one apply commits:\n{}", report());
    for o in outputs.iter().filter(|o| o.status.code() != Some(0)) {
        assert_exit(o, 3, "a parallel apply with a spent token");
    }
    assert_eq!(target_i64(&target, "SELECT count(*) FROM ledger"), 1);
    assert_eq!(journal_count(&target, "changes"), 1, "{}", report());
    assert_eq!(journal_count(&target, "approvals"), 1);
}

#[test]
fn eight_parallel_applies_with_one_token_commit_one_change_sqlite() {
    parallel_applies_with_one_token(Engine::Sqlite);
}

#[test]
fn eight_parallel_applies_with_one_token_commit_one_change_pg() {
    parallel_applies_with_one_token(Engine::Postgres);
}

/// A change approved by alice and bob burns both tokens: after it (and
/// its undo, so the change is again exactly what was approved), neither
/// old token works again, alone with the other or beside a fresh token of
/// the other approver for a new request of the same change. The refusals
/// burn nothing: the fresh pair still applies it.
fn two_approvals_burn_both_tokens(engine: Engine) {
    let a = Approvers::with_rules(DELETES_NEED_TWO_DBAS);
    let db = Db::new(engine, SCHEMA);
    let target = db.target();
    let (first, second) = (db.machine(), db.machine());
    let sql = "DELETE FROM p WHERE id = 1";
    let before = db.dump();
    let request = request_of(&first, &a, &target, sql);
    let (alice_1, bob_1) = (a.approve("alice", &request), a.approve("bob", &request));
    let exec = |j: &JournalDir, tokens: &[&str]| {
        exec_json(j, &a.policy(), "carol@example.org", &target, sql, tokens)
    };
    // One approval is not enough.
    let (code, v) = exec(&first, &[&alice_1]);
    assert_eq!(code, Some(3), "{v}");
    assert_eq!(db.dump(), before);
    let (code, v) = exec(&first, &[&alice_1, &bob_1]);
    assert_eq!(code, Some(0), "{v}");
    let change = v["change_id"].as_i64().unwrap();
    let after = db.dump();
    assert_ne!(after, before);
    assert_eq!(
        target_i64(
            &target,
            &format!(
                "SELECT count(*) FROM {} WHERE change_id = {change}",
                journal_table(&target, "approvals")
            )
        ),
        2,
        "both approvals are recorded as used"
    );
    undo_apply(&first, change);
    assert_eq!(db.dump(), before);

    let request = request_of(&second, &a, &target, sql);
    let (alice_2, bob_2) = (a.approve("alice", &request), a.approve("bob", &request));
    for (what, tokens) in [
        ("alice's old token with bob's new one", [&alice_1, &bob_2]),
        ("bob's old token with alice's new one", [&alice_2, &bob_1]),
        ("both old tokens", [&alice_1, &bob_1]),
    ] {
        for (machine, j) in [("first", &first), ("second", &second)] {
            let (code, v) = exec(j, &[tokens[0], tokens[1]]);
            assert_eq!(code, Some(3), "{what} on the {machine} machine: {v}");
            let error = v["error"].as_str().unwrap_or_default();
            assert!(error.contains("already used"), "{what}: {v}");
            assert_eq!(db.dump(), before, "{what} on the {machine} machine");
        }
    }
    let (code, v) = exec(&second, &[&alice_2, &bob_2]);
    assert_eq!(code, Some(0), "the fresh pair: {v}");
    assert_eq!(db.dump(), after);
    assert_eq!(journal_count(&target, "approvals"), 4);
}

#[test]
fn two_approvals_burn_both_tokens_sqlite() {
    two_approvals_burn_both_tokens(Engine::Sqlite);
}

#[test]
fn two_approvals_burn_both_tokens_pg() {
    two_approvals_burn_both_tokens(Engine::Postgres);
}

// ---- issue 15, finding 3: a forged request ----

/// The request `DELETE FROM p WHERE id = 1` prints (1 parent and its 2
/// children), decoded for editing.
fn forgeable(j: &JournalDir, a: &Approvers, db: &Db) -> dbguard::policy::approval::Request {
    let line = request_of(j, a, &db.target(), FORGED_SQL);
    dbguard::policy::approval::Request::decode(&line)
        .expect("the request decodes")
        .0
}

const FORGED_SQL: &str = "DELETE FROM p WHERE id = 1";

/// Carol's `exec --yes --token TOKEN` of [`FORGED_SQL`].
fn apply_forged(
    j: &JournalDir,
    a: &Approvers,
    db: &Db,
    token: &str,
) -> (Option<i32>, serde_json::Value) {
    exec_json(
        j,
        &a.policy(),
        "carol@example.org",
        &db.target(),
        FORGED_SQL,
        &[token],
    )
}

/// The forger's edit: the approver is shown one row deleted, nothing
/// cascading, no warning; the request's expiry moves ten years out.
fn forge(r: &mut dbguard::policy::approval::Request) {
    let table = r.summary["target"]["table"].clone();
    r.summary = serde_json::json!({
        "target": {"table": table, "rows": 1},
        "totals": {table.as_str().unwrap_or("p"): {"delete": 1, "update": 0, "insert": 0}},
        "effects": [],
        "will_fail": false,
        "warnings": [],
    });
    r.expires_at += 10 * 365 * 24 * 3600;
}

/// The approver signs what they are shown; the apply holds the signed
/// request to the change's own preview and applies nothing.
fn a_forged_summary_applies_nothing(engine: Engine) {
    let a = Approvers::new("");
    let db = Db::new(engine, SCHEMA);
    let j = db.machine();
    let before = db.dump();
    let mut r = forgeable(&j, &a, &db);
    forge(&mut r);
    let token = a.approve("alice", &r.encode());
    let (code, v) = apply_forged(&j, &a, &db, &token);
    assert_eq!(code, Some(3), "{v}");
    let err = v["error"].as_str().unwrap_or_default();
    assert!(err.contains("its impact other than this change's"), "{v}");
    assert_eq!(db.dump(), before);
    // The honest request, signed, applies.
    let honest = forgeable(&j, &a, &db).encode();
    let token = a.approve("alice", &honest);
    let (code, v) = apply_forged(&j, &a, &db, &token);
    assert_eq!(code, Some(0), "{v}");
}

#[test]
fn a_forged_summary_applies_nothing_sqlite() {
    a_forged_summary_applies_nothing(Engine::Sqlite);
}

#[test]
fn a_forged_summary_applies_nothing_pg() {
    a_forged_summary_applies_nothing(Engine::Postgres);
}

/// Only the expiry pushed out, the impact intact: the request is valid for
/// the policy's TTL from its signed creation time, whatever its
/// `expires_at` says.
#[test]
fn a_pushed_expiry_does_not_outlive_the_policys_ttl() {
    let a = Approvers::new("[limits]\nrequest_ttl = \"1s\"\n");
    let db = Db::new(Engine::Sqlite, SCHEMA);
    let j = db.machine();
    let before = db.dump();
    let mut r = forgeable(&j, &a, &db);
    r.expires_at += 10 * 365 * 24 * 3600;
    let token = a.approve("alice", &r.encode());
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let (code, v) = apply_forged(&j, &a, &db, &token);
    assert_eq!(code, Some(3), "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("expired at"),
        "{v}"
    );
    assert_eq!(db.dump(), before);
}

/// Issue 15, finding 4 (SQLite): the digest an approval signs binds which
/// rows the change deletes, not only how many. The old fingerprint, a sum
/// of mixed rowids, summed {1, 6} like {3, 4}: approved for rows 3 and 4,
/// the token deleted 1 and 6 once they were the stale ones.
#[test]
fn a_token_for_some_rows_deletes_no_others_sqlite() {
    let a = Approvers::new("");
    let db = Db::new(
        Engine::Sqlite,
        "CREATE TABLE t (id integer PRIMARY KEY, status text NOT NULL);
         INSERT INTO t VALUES (1, 'ok'), (2, 'ok'), (3, 'stale'), (4, 'stale'), (5, 'ok'), (6, 'ok');",
    );
    let j = db.machine();
    let target = db.target();
    let sql = "DELETE FROM t WHERE status = 'stale'";
    let line = request_of(&j, &a, &target, sql);
    let token = a.approve("alice", &line);
    db.plain(
        "UPDATE t SET status = 'ok' WHERE id IN (3, 4);
         UPDATE t SET status = 'stale' WHERE id IN (1, 6);",
    );
    let before = db.dump();
    let (code, v) = exec_json(
        &j,
        &a.policy(),
        "carol@example.org",
        &target,
        sql,
        &[&token],
    );
    assert_eq!(code, Some(3), "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("impact changed"),
        "{v}"
    );
    assert_eq!(
        db.dump(),
        before,
        "the token deleted rows it was not signed for"
    );
}

/// Issue 15, finding 5: an operator who is also a listed approver calls
/// themselves someone else with `--as` and approves their own request with
/// their own key. Who the operator is comes from the key they sign with,
/// not from `--as`: the request names alice, and alice's token is refused.
fn self_approval_under_another_name(engine: Engine) {
    let a = Approvers::new("");
    let db = Db::new(engine, SCHEMA);
    let j = db.machine();
    let target = db.target();
    let before = db.dump();
    let sql = "DELETE FROM p WHERE id = 1";
    let policy = a.policy();
    let alice = a.key("alice");
    let run = |key: &Path, tokens: &[&str]| {
        let mut args = vec![
            "--policy",
            policy.to_str().unwrap(),
            "--as",
            "nobody-in-particular",
            "--key",
            key.to_str().unwrap(),
            "exec",
            &target,
            "-c",
            sql,
            "--yes",
            "--format",
            "json",
        ];
        for t in tokens {
            args.extend(["--token", t]);
        }
        let out = j.run(&args);
        (out.status.code(), last_json(&out))
    };
    let (code, v) = run(&alice, &[]);
    assert_eq!(code, Some(3), "{v}");
    let line = v["request"].as_str().unwrap().to_owned();
    let request = dbguard::policy::approval::Request::decode(&line).unwrap().0;
    assert_eq!(request.operator, "alice@example.org");

    let own = a.approve("alice", &line);
    let (code, v) = run(&alice, &[&own]);
    assert_eq!(code, Some(3), "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("self-approval"),
        "{v}"
    );
    assert_eq!(db.dump(), before);

    // A key the approvers file does not list proves nobody: refused before
    // any token is looked at.
    let stranger = a.dir.path().join("stranger");
    let made = Command::new("ssh-keygen")
        .args(["-t", "ed25519", "-N", "", "-q", "-f"])
        .arg(&stranger)
        .status()
        .unwrap();
    assert!(made.success());
    let (code, v) = run(&stranger, &[&own]);
    assert_eq!(code, Some(3), "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("not in the approvers file"),
        "{v}"
    );
    assert_eq!(db.dump(), before);

    // Bob, another person, approves the same request: it applies.
    let bobs = a.approve("bob", &line);
    let (code, v) = run(&alice, &[&bobs]);
    assert_eq!(code, Some(0), "{v}");
}

#[test]
fn self_approval_under_another_name_is_refused_sqlite() {
    self_approval_under_another_name(Engine::Sqlite);
}

#[test]
fn self_approval_under_another_name_is_refused_pg() {
    self_approval_under_another_name(Engine::Postgres);
}
