//! Approvals with real SSH keys: requests, `dbguard approve`, tokens, and
//! every way `verify` refuses one (issue 5, acceptance item 3, at the library
//! level), plus the documented plain `ssh-keygen -Y sign` flow.
//!
//! This file holds the shared keys, requests and runners, and the tests of
//! `dbguard approve` itself; `verify`'s refusals are in
//! `approval_verify.rs`, signing with the SSH tools in `approval_ssh.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::LazyLock;

use dbguard::ErrorKind;
use dbguard::policy::approval::{
    AllowedSigners, Approval, Expected, Rejection, Request, Token, new_nonce, now, verify,
};

use crate::helpers::{dbguard, stderr, stdout};

pub const STATEMENT: &str = "DELETE FROM orders WHERE id = 7";
pub const DIGEST: &str = "5f1e0c9a8d7b6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa998877";
const OPERATOR: &str = "bob@example.org";

/// A temp dir with ed25519 keys made by `ssh-keygen`.
pub struct Keys {
    pub dir: tempfile::TempDir,
}

impl Keys {
    fn new() -> Keys {
        Keys {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// Makes key `name` (with `passphrase`, '' for none); returns the
    /// private key's path.
    pub fn make_with(&self, name: &str, passphrase: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        let status = Command::new("ssh-keygen")
            .args(["-t", "ed25519", "-N", passphrase, "-q", "-C", name, "-f"])
            .arg(&path)
            .stdin(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("cannot run ssh-keygen ({e}): install openssh-client"));
        assert!(status.success(), "ssh-keygen failed for {name}");
        path
    }

    pub fn make(&self, name: &str) -> PathBuf {
        self.make_with(name, "")
    }
}

/// `ssh-ed25519 AAAA...` of a private key's .pub file.
pub fn pub_line(key: &Path) -> String {
    let text = std::fs::read_to_string(key.with_extension("pub")).expect("read .pub");
    let mut parts = text.split_whitespace();
    format!("{} {}", parts.next().unwrap(), parts.next().unwrap())
}

/// `SHA256:...` as `ssh-keygen -l` prints it.
pub fn ssh_fingerprint(key: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(key.with_extension("pub"))
        .output()
        .expect("ssh-keygen -l");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .expect("fingerprint")
        .to_owned()
}

pub fn request(statement: &str, digest: &str, ttl: i64) -> Request {
    let t = now();
    Request {
        version: 1,
        statement: statement.to_owned(),
        kind: dbguard::model::ChangeKind::Delete,
        target: "postgres://app@db.example.org:5432/shop".to_owned(),
        database: "shop".to_owned(),
        system_identifier: Some("7301234567890123456".to_owned()),
        operator: OPERATOR.to_owned(),
        digest: digest.to_owned(),
        summary: SUMMARY.clone(),
        rules: RULES.clone(),
        approvals_needed: 1,
        from: vec![],
        nonce: new_nonce().expect("nonce"),
        created_at: t,
        expires_at: t + ttl,
    }
}

/// The impact summary [`request`] shows, and [`expected`] holds it to.
static SUMMARY: LazyLock<serde_json::Value> = LazyLock::new(|| {
    serde_json::json!({
        "target": {"table": "public.orders", "rows": 1},
        "totals": {"public.orders": {"delete": 1, "update": 0, "insert": 0},
                   "public.order_items": {"delete": 3, "update": 0, "insert": 0}},
        "effects": [{"table": "public.order_items", "action": "cascade", "rows": 3}],
        "will_fail": false,
        "warnings": ["public.invoices.order_id: 2 rows would dangle"],
    })
});

/// The rules that asked for the approval.
static RULES: LazyLock<Vec<String>> = LazyLock::new(|| vec!["delete-needs-approval".to_owned()]);

/// The change a [`request`] describes, as the apply's own preview and
/// verdict would describe it; requests live a day under its policy.
pub fn expected<'a>(statement: &'a str, digest: &'a str, from: &'a [String]) -> Expected<'a> {
    Expected {
        digest,
        statement,
        database: "shop",
        system_identifier: Some("7301234567890123456"),
        operator: OPERATOR,
        operator_principals: &[],
        // Bob's key, which the approvers file does not list.
        operator_key: "SHA256:bobs-key-is-not-listed",
        now: now(),
        approvals_needed: 1,
        from,
        kind: dbguard::model::ChangeKind::Delete,
        summary: &SUMMARY,
        rules: &RULES,
        requested: 1,
        ttl_secs: 86_400,
    }
}

/// The approvers file: alice and dave in dbguard's namespace, carol listed
/// for git only.
pub struct Setup {
    pub keys: Keys,
    pub alice: PathBuf,
    pub dave: PathBuf,
    pub carol: PathBuf,
    pub signers: AllowedSigners,
    pub approvers_text: String,
    pub groups: BTreeMap<String, Vec<String>>,
}

pub fn setup() -> Setup {
    let keys = Keys::new();
    let alice = keys.make("alice");
    let dave = keys.make("dave");
    let carol = keys.make("carol");
    let approvers_text = format!(
        "# approvers\nalice@example.org namespaces=\"dbguard\" {}\n\
         dave@example.org namespaces=\"dbguard\" {}\n\
         carol@example.org namespaces=\"git\" {}\n",
        pub_line(&alice),
        pub_line(&dave),
        pub_line(&carol)
    );
    let file = keys.dir.path().join("approvers");
    std::fs::write(&file, &approvers_text).unwrap();
    let signers = AllowedSigners::load(&file).expect("load approvers");
    let mut groups = BTreeMap::new();
    groups.insert("dba".to_owned(), vec!["alice@example.org".to_owned()]);
    groups.insert("oncall".to_owned(), vec!["dave@example.org".to_owned()]);
    Setup {
        keys,
        alice,
        dave,
        carol,
        signers,
        approvers_text,
        groups,
    }
}

pub fn never_used(_: &str) -> bool {
    false
}

/// `verify` must refuse with kind Approval (exit 3) and a message holding
/// every part of `wanted`.
pub fn refused(result: dbguard::Result<Vec<Approval>>, wanted: &[&str]) -> String {
    let err = result.expect_err("the tokens must be refused");
    assert_eq!(err.kind, ErrorKind::Approval, "{}", err.message);
    assert_eq!(err.exit_code(), 3);
    for w in wanted {
        assert!(
            err.message.contains(w),
            "message lacks {w:?}:\n{}",
            err.message
        );
    }
    err.message
}

pub fn run_approve(args: &[&str], env: &[(&str, &str)]) -> Output {
    let state = tempfile::tempdir().unwrap();
    let mut cmd = dbguard(state.path());
    cmd.arg("approve")
        .args(args)
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("SSH_ASKPASS")
        .env_remove("SSH_ASKPASS_REQUIRE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null())
        .output()
        .expect("run dbguard approve")
}

pub fn last_line(o: &Output) -> String {
    stdout(o).lines().last().unwrap_or_default().to_owned()
}

#[test]
fn round_trip_through_dbguard_approve() {
    let s = setup();
    let req = request(STATEMENT, DIGEST, 900);
    let line = req.encode();
    assert!(line.starts_with("dbguard-request:v1:"));
    assert!(!line.contains(char::is_whitespace));
    let (decoded, bytes) = Request::decode(&line).unwrap();
    assert_eq!(decoded, req);
    assert_eq!(bytes, serde_json::to_vec(&req).unwrap());

    let key = s.alice.to_str().unwrap();
    let out = run_approve(&[&line, "--key", key, "--yes"], &[]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    for shown in [
        STATEMENT,
        OPERATOR,
        "postgres://app@db.example.org:5432/shop",
        "public.order_items: cascade 3 row(s)",
        "public.orders: delete 1 row(s)",
        "warning: public.invoices.order_id: 2 rows would dangle",
        "delete-needs-approval",
        "expires:",
    ] {
        assert!(
            text.contains(shown),
            "approve output lacks {shown:?}:\n{text}"
        );
    }
    let token = last_line(&out);
    assert!(token.starts_with("dbguard-approval:v1:"), "{text}");

    let decoded = Token::decode(&token).unwrap();
    assert_eq!(decoded.request, req);
    assert_eq!(decoded.encode(), token);

    let approvals = verify(
        &[token],
        &expected(STATEMENT, DIGEST, &[]),
        &s.signers,
        &s.groups,
        &mut never_used,
    )
    .expect("a valid token");
    assert_eq!(approvals.len(), 1);
    assert_eq!(approvals[0].principal, "alice@example.org");
    assert_eq!(approvals[0].fingerprint, ssh_fingerprint(&s.alice));
    assert_eq!(approvals[0].nonce, req.nonce);
}

#[test]
fn default_key_comes_from_home() {
    let s = setup();
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".ssh")).unwrap();
    for ext in ["", ".pub"] {
        std::fs::copy(
            format!("{}{ext}", s.dave.display()),
            home.path().join(format!(".ssh/id_ed25519{ext}")),
        )
        .unwrap();
    }
    let line = request(STATEMENT, DIGEST, 900).encode();
    let out = run_approve(
        &[&line, "--yes"],
        &[("HOME", home.path().to_str().unwrap())],
    );
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let approvals = verify(
        &[last_line(&out)],
        &expected(STATEMENT, DIGEST, &[]),
        &s.signers,
        &s.groups,
        &mut never_used,
    )
    .unwrap();
    assert_eq!(approvals[0].principal, "dave@example.org");

    let empty = tempfile::tempdir().unwrap();
    let out = run_approve(
        &[&line, "--yes"],
        &[("HOME", empty.path().to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no SSH key found"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn approve_refuses_expired_request_and_bad_lines() {
    let s = setup();
    let key = s.alice.to_str().unwrap();
    let mut req = request(STATEMENT, DIGEST, 900);
    req.expires_at = now() - 600;
    let out = run_approve(&[&req.encode(), "--key", key, "--yes"], &[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("expired"), "{}", stderr(&out));
    assert!(!stdout(&out).contains("dbguard-approval:"));

    let out = run_approve(&["dbguard-request:v1:eyJub3Q", "--key", key, "--yes"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("the request is not a valid dbguard request"),
        "{}",
        stderr(&out)
    );
    let out = run_approve(&["dbguard-request:v1:ey!Jub3Q", "--key", key, "--yes"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("the request does not decode"),
        "{}",
        stderr(&out)
    );
    let out = run_approve(&["hello", "--key", key, "--yes"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("this is not a dbguard request"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn approve_without_terminal_needs_yes() {
    let s = setup();
    let line = request(STATEMENT, DIGEST, 900).encode();
    let out = run_approve(&[&line, "--key", s.alice.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("stdin is not a terminal"),
        "{}",
        stderr(&out)
    );
    assert!(!stdout(&out).contains("dbguard-approval:"));
}

#[test]
fn approve_escapes_terminal_control_sequences() {
    let s = setup();
    let line = request("DELETE FROM orders\x1b[2K\r-- harmless", DIGEST, 900).encode();
    let out = run_approve(&[&line, "--key", s.alice.to_str().unwrap(), "--yes"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains('\x1b') && !text.contains('\r'), "{text:?}");
    assert!(
        text.contains("DELETE FROM orders\\u{1b}[2K\\u{d}-- harmless"),
        "{text}"
    );
}

#[test]
fn rejection_is_signed_and_never_an_approval() {
    let s = setup();
    let req = request(STATEMENT, DIGEST, 900);
    let line = req.encode();
    let out = run_approve(
        &[
            &line,
            "--key",
            s.alice.to_str().unwrap(),
            "--reject",
            "--reason",
            "wrong order: 7 is paid",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let rej_line = last_line(&out);
    assert!(
        rej_line.starts_with("dbguard-rejection:v1:"),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains("dbguard-approval:"));
    let rejection = Rejection::decode(&rej_line).unwrap();
    assert_eq!(rejection.request, req);
    let by = rejection.check(&s.signers).unwrap();
    assert_eq!(by.principal, "alice@example.org");
    assert_eq!(by.reason, "wrong order: 7 is paid");
    assert_eq!(by.nonce, req.nonce);
    assert_eq!(by.fingerprint, ssh_fingerprint(&s.alice));

    // Its signature cannot be passed off as an approval.
    let forged = Token {
        request: rejection.request.clone(),
        request_bytes: rejection.request_bytes.clone(),
        signature: rejection.signature.clone(),
    }
    .encode();
    refused(
        verify(
            &[forged],
            &expected(STATEMENT, DIGEST, &[]),
            &s.signers,
            &s.groups,
            &mut never_used,
        ),
        &["1st token", "namespace `dbguard-rejection`"],
    );
    // Nor can the reason be changed.
    let mut tampered = rejection.clone();
    tampered.reason = "fine by me".to_owned();
    let tampered = Rejection::decode(&tampered.encode()).unwrap();
    assert!(tampered.check(&s.signers).is_err());
}

/// `approve? [y/N]` on a real terminal (a pty from util-linux `script`):
/// `y` signs; `n` and a bare Enter do not.
#[test]
fn asks_on_a_terminal_and_defaults_to_no() {
    let has_script = Command::new("sh")
        .args(["-c", "command -v script"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_script {
        eprintln!("skipping: util-linux `script` is not installed");
        return;
    }
    let s = setup();
    let line = request(STATEMENT, DIGEST, 900).encode();
    let run = |answer: &str| -> String {
        let mut cmd = Command::new("sh");
        cmd.env_remove("SSH_AUTH_SOCK")
            .env("NO_COLOR", "1")
            .env("SHELL", "/bin/sh")
            .env("DBG", env!("CARGO_BIN_EXE_dbguard"))
            .env("REQ", &line)
            .env("KEY", &s.alice)
            .args([
                "-c",
                "script -qec '\"$DBG\" approve \"$REQ\" --key \"$KEY\"; echo \"rc=$?\"' /dev/null",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), answer.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        stdout(&out).replace('\r', "")
    };
    let yes = run("y\n");
    assert!(yes.contains("approve? [y/N]"), "{yes}");
    assert!(yes.contains("rc=0"), "{yes}");
    let token = yes
        .lines()
        .find(|l| l.starts_with("dbguard-approval:v1:"))
        .unwrap_or_else(|| panic!("no token: {yes}"))
        .to_owned();
    verify(
        &[token],
        &expected(STATEMENT, DIGEST, &[]),
        &s.signers,
        &s.groups,
        &mut never_used,
    )
    .unwrap();
    for answer in ["n\n", "\n"] {
        let no = run(answer);
        assert!(no.contains("not approved: nothing was signed"), "{no}");
        assert!(no.contains("rc=1"), "{no}");
        assert!(!no.contains("dbguard-approval:v1:"), "{no}");
    }
}
