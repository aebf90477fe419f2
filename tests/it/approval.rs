//! Approvals with real SSH keys: requests, `dbguard approve`, tokens, and
//! every way `verify` refuses one (issue 5, acceptance item 3, at the library
//! level), plus the documented plain `ssh-keygen -Y sign` flow.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use dbguard::ErrorKind;
use dbguard::approval::{
    AllowedSigners, Approval, Expected, Rejection, Request, Token, new_nonce, now, sign, verify,
};

use crate::helpers::{dbguard, stderr, stdout};

const STATEMENT: &str = "DELETE FROM orders WHERE id = 7";
const DIGEST: &str = "5f1e0c9a8d7b6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa998877";
const OPERATOR: &str = "bob@example.org";

/// A temp dir with ed25519 keys made by `ssh-keygen`.
struct Keys {
    dir: tempfile::TempDir,
}

impl Keys {
    fn new() -> Keys {
        Keys {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// Makes key `name` (with `passphrase`, '' for none); returns the
    /// private key's path.
    fn make_with(&self, name: &str, passphrase: &str) -> PathBuf {
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

    fn make(&self, name: &str) -> PathBuf {
        self.make_with(name, "")
    }
}

/// `ssh-ed25519 AAAA...` of a private key's .pub file.
fn pub_line(key: &Path) -> String {
    let text = std::fs::read_to_string(key.with_extension("pub")).expect("read .pub");
    let mut parts = text.split_whitespace();
    format!("{} {}", parts.next().unwrap(), parts.next().unwrap())
}

/// `SHA256:...` as `ssh-keygen -l` prints it.
fn ssh_fingerprint(key: &Path) -> String {
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

fn request(statement: &str, digest: &str, ttl: i64) -> Request {
    let t = now();
    Request {
        version: 1,
        statement: statement.to_owned(),
        kind: "delete".to_owned(),
        target: "postgres://app@db.example.org:5432/shop".to_owned(),
        database: "shop".to_owned(),
        system_identifier: Some("7301234567890123456".to_owned()),
        operator: OPERATOR.to_owned(),
        digest: digest.to_owned(),
        summary: serde_json::json!({
            "target": {"table": "public.orders", "rows": 1},
            "totals": {"public.orders": {"delete": 1, "update": 0, "insert": 0},
                       "public.order_items": {"delete": 3, "update": 0, "insert": 0}},
            "effects": [{"table": "public.order_items", "action": "cascade", "rows": 3}],
            "will_fail": false,
            "warnings": ["public.invoices.order_id: 2 rows would dangle"],
        }),
        rules: vec!["delete-needs-approval".to_owned()],
        approvals_needed: 1,
        from: vec![],
        nonce: new_nonce().expect("nonce"),
        created_at: t,
        expires_at: t + ttl,
    }
}

fn expected<'a>(statement: &'a str, digest: &'a str, from: &'a [String]) -> Expected<'a> {
    Expected {
        digest,
        statement,
        database: "shop",
        system_identifier: Some("7301234567890123456"),
        operator: OPERATOR,
        now: now(),
        approvals_needed: 1,
        from,
    }
}

/// The approvers file: alice and dave in dbguard's namespace, carol listed
/// for git only.
struct Setup {
    keys: Keys,
    alice: PathBuf,
    dave: PathBuf,
    carol: PathBuf,
    signers: AllowedSigners,
    approvers_text: String,
    groups: BTreeMap<String, Vec<String>>,
}

fn setup() -> Setup {
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

fn never_used(_: &str) -> bool {
    false
}

/// `verify` must refuse with kind Approval (exit 3) and a message holding
/// every part of `wanted`.
fn refused(result: dbguard::Result<Vec<Approval>>, wanted: &[&str]) -> String {
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

fn run_approve(args: &[&str], env: &[(&str, &str)]) -> Output {
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

fn last_line(o: &Output) -> String {
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
        &never_used,
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
        &never_used,
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
fn refuses_unknown_key() {
    let s = setup();
    let mallory = s.keys.make("mallory");
    let line = request(STATEMENT, DIGEST, 900).encode();
    let token = sign(&line, &mallory).unwrap().encode();
    let fp = ssh_fingerprint(&mallory);
    refused(
        verify(
            &[token],
            &expected(STATEMENT, DIGEST, &[]),
            &s.signers,
            &s.groups,
            &never_used,
        ),
        &["1st token", "unknown key", &fp, "not listed"],
    );
}

#[test]
fn refuses_key_listed_for_another_namespace() {
    let s = setup();
    let line = request(STATEMENT, DIGEST, 900).encode();
    let token = sign(&line, &s.carol).unwrap().encode();
    refused(
        verify(
            &[token],
            &expected(STATEMENT, DIGEST, &[]),
            &s.signers,
            &s.groups,
            &never_used,
        ),
        &["1st token", "unknown key", "namespace `dbguard`"],
    );
}

#[test]
fn refuses_listed_key_outside_required_group() {
    let s = setup();
    let line = request(STATEMENT, DIGEST, 900).encode();
    let token = sign(&line, &s.dave).unwrap().encode();
    let from = vec!["dba".to_owned()];
    refused(
        verify(
            std::slice::from_ref(&token),
            &expected(STATEMENT, DIGEST, &from),
            &s.signers,
            &s.groups,
            &never_used,
        ),
        &["1st token", "dave@example.org", "is not in group `dba`"],
    );
    // The same token is fine when dave's group is accepted.
    let from = vec!["dba".to_owned(), "oncall".to_owned()];
    let ok = verify(
        &[token],
        &expected(STATEMENT, DIGEST, &from),
        &s.signers,
        &s.groups,
        &never_used,
    )
    .unwrap();
    assert_eq!(ok[0].principal, "dave@example.org");
}

#[test]
fn refuses_token_for_another_statement() {
    let s = setup();
    let line = request("DELETE FROM orders WHERE id = 8", DIGEST, 900).encode();
    let token = sign(&line, &s.alice).unwrap().encode();
    refused(
        verify(
            &[token],
            &expected(STATEMENT, DIGEST, &[]),
            &s.signers,
            &s.groups,
            &never_used,
        ),
        &[
            "1st token",
            "signed for a different change",
            "DELETE FROM orders WHERE id = 8",
        ],
    );
}

#[test]
fn refuses_token_for_another_database() {
    let s = setup();
    let line = request(STATEMENT, DIGEST, 900).encode();
    let token = sign(&line, &s.alice).unwrap().encode();
    let mut exp = expected(STATEMENT, DIGEST, &[]);
    exp.system_identifier = Some("7309999999999999999");
    refused(
        verify(&[token], &exp, &s.signers, &s.groups, &never_used),
        &[
            "1st token",
            "signed for a different change",
            "database shop",
        ],
    );
}

#[test]
fn refuses_same_statement_after_impact_changed() {
    let s = setup();
    let line = request(STATEMENT, DIGEST, 900).encode();
    let token = sign(&line, &s.alice).unwrap().encode();
    let now_digest = "0000000000000000111111111111111122222222222222223333333333333333";
    refused(
        verify(
            &[token],
            &expected(STATEMENT, now_digest, &[]),
            &s.signers,
            &s.groups,
            &never_used,
        ),
        &[
            "1st token",
            "the impact changed since it was signed",
            "a new request is needed",
        ],
    );
}

#[test]
fn refuses_expired_token() {
    let s = setup();
    let req = request(STATEMENT, DIGEST, 60);
    let token = sign(&req.encode(), &s.alice).unwrap().encode();
    let mut exp = expected(STATEMENT, DIGEST, &[]);
    exp.now = req.expires_at + 125;
    refused(
        verify(&[token], &exp, &s.signers, &s.groups, &never_used),
        &["1st token", "expired at", "2 min ago"],
    );
}

#[test]
fn refuses_token_used_twice() {
    let s = setup();
    let req = request(STATEMENT, DIGEST, 900);
    let token = sign(&req.encode(), &s.alice).unwrap().encode();
    let nonce = req.nonce.clone();
    let used = move |n: &str| n == nonce;
    refused(
        verify(
            &[token],
            &expected(STATEMENT, DIGEST, &[]),
            &s.signers,
            &s.groups,
            &used,
        ),
        &["1st token", "already used"],
    );
}

#[test]
fn refuses_self_approval() {
    let s = setup();
    let mut req = request(STATEMENT, DIGEST, 900);
    req.operator = "alice@example.org".to_owned();
    let token = sign(&req.encode(), &s.alice).unwrap().encode();
    let mut exp = expected(STATEMENT, DIGEST, &[]);
    exp.operator = "alice@example.org";
    refused(
        verify(&[token], &exp, &s.signers, &s.groups, &never_used),
        &["1st token", "self-approval", "alice@example.org"],
    );
}

#[test]
fn two_approvals_need_two_distinct_principals() {
    let s = setup();
    let mut req = request(STATEMENT, DIGEST, 900);
    req.approvals_needed = 2;
    let line = req.encode();
    let by_alice = sign(&line, &s.alice).unwrap().encode();
    let by_dave = sign(&line, &s.dave).unwrap().encode();
    let mut exp = expected(STATEMENT, DIGEST, &[]);
    exp.approvals_needed = 2;

    refused(
        verify(
            std::slice::from_ref(&by_alice),
            &exp,
            &s.signers,
            &s.groups,
            &never_used,
        ),
        &["1 of 2 approvals", "alice@example.org", "1 more"],
    );
    // The same approver twice still counts once.
    refused(
        verify(
            &[by_alice.clone(), by_alice.clone()],
            &exp,
            &s.signers,
            &s.groups,
            &never_used,
        ),
        &["1 of 2 approvals"],
    );
    refused(
        verify(&[], &exp, &s.signers, &s.groups, &never_used),
        &["0 of 2 approvals"],
    );
    let ok = verify(
        &[by_alice, by_dave],
        &exp,
        &s.signers,
        &s.groups,
        &never_used,
    )
    .unwrap();
    let who: Vec<&str> = ok.iter().map(|a| a.principal.as_str()).collect();
    assert_eq!(who, ["alice@example.org", "dave@example.org"]);
}

#[test]
fn refuses_every_flipped_character() {
    let s = setup();
    let line = request(STATEMENT, DIGEST, 900).encode();
    let token = sign(&line, &s.alice).unwrap().encode();
    let exp = expected(STATEMENT, DIGEST, &[]);
    // Sanity: the untouched token passes.
    verify(
        std::slice::from_ref(&token),
        &exp,
        &s.signers,
        &s.groups,
        &never_used,
    )
    .unwrap();
    let prefix = "dbguard-approval:v1:".len();
    let bytes = token.as_bytes();
    for i in prefix..bytes.len() {
        let mut flipped = bytes.to_vec();
        // Another base64url character.
        flipped[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        let err = verify(&[flipped], &exp, &s.signers, &s.groups, &never_used).expect_err(
            &format!("a token with character {i} changed must be refused"),
        );
        assert_eq!(err.kind, ErrorKind::Approval);
        assert!(
            err.message.starts_with("the 1st token is refused: "),
            "{}",
            err.message
        );
    }
    // A typical one says why.
    let mut one = token.clone().into_bytes();
    one[prefix + 40] = if one[prefix + 40] == b'A' { b'B' } else { b'A' };
    let msg = refused(
        verify(
            &[String::from_utf8(one).unwrap()],
            &exp,
            &s.signers,
            &s.groups,
            &never_used,
        ),
        &["1st token"],
    );
    assert!(
        msg.contains("does not decode") || msg.contains("signature does not match"),
        "{msg}"
    );
}

#[test]
fn refuses_request_edited_after_signing() {
    let s = setup();
    let line = request("DELETE FROM orders WHERE id = 7", DIGEST, 900).encode();
    let token = sign(&line, &s.alice).unwrap();
    // The operator edits the signed request to cover a bigger change and
    // keeps the old signature.
    let mut edited = token.request.clone();
    edited.statement = "DELETE FROM orders".to_owned();
    let forged = Token {
        request_bytes: serde_json::to_vec(&edited).unwrap(),
        request: edited,
        signature: token.signature.clone(),
    }
    .encode();
    refused(
        verify(
            &[forged],
            &expected("DELETE FROM orders", DIGEST, &[]),
            &s.signers,
            &s.groups,
            &never_used,
        ),
        &[
            "1st token",
            "signature does not match the request",
            "edited after it was signed",
        ],
    );
}

#[test]
fn names_which_token_failed() {
    let s = setup();
    let mut req = request(STATEMENT, DIGEST, 900);
    req.approvals_needed = 2;
    let line = req.encode();
    let good = sign(&line, &s.alice).unwrap().encode();
    let mallory = s.keys.make("mallory");
    let bad = sign(&line, &mallory).unwrap().encode();
    let mut exp = expected(STATEMENT, DIGEST, &[]);
    exp.approvals_needed = 2;
    let msg = refused(
        verify(
            &[good, bad, line.clone()],
            &exp,
            &s.signers,
            &s.groups,
            &never_used,
        ),
        &[
            "the 2nd token is refused: unknown key",
            "the 3rd token is refused: this is the request, not a token",
        ],
    );
    assert!(!msg.contains("1st"), "{msg}");
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
            &never_used,
        ),
        &["1st token", "namespace `dbguard-rejection`"],
    );
    // Nor can the reason be changed.
    let mut tampered = rejection.clone();
    tampered.reason = "fine by me".to_owned();
    let tampered = Rejection::decode(&tampered.encode()).unwrap();
    assert!(tampered.check(&s.signers).is_err());
}

/// The commands of the "Approving without dbguard" section (module doc of
/// `src/approval/mod.rs` and the README), run as written.
#[test]
fn plain_ssh_keygen_flow_works() {
    let s = setup();
    let req = request(STATEMENT, DIGEST, 900);
    let line = req.encode();
    let work = tempfile::tempdir().unwrap();
    let key = s.alice.to_str().unwrap();

    let python = r#"
python3 -c 'import sys,base64; s=sys.argv[1].split(":",2)[2]; sys.stdout.buffer.write(base64.urlsafe_b64decode(s+"="*(-len(s)%4)))' "$REQ" > request.json
python3 -m json.tool request.json > /dev/null
ssh-keygen -Y sign -n dbguard -f "$KEY" request.json
python3 -c 'import sys,base64,json; b=lambda x: base64.urlsafe_b64encode(x).decode().rstrip("="); r=open(sys.argv[1],"rb").read(); s=open(sys.argv[1]+".sig").read(); print("dbguard-approval:v1:"+b(json.dumps({"request":b(r),"signature":s}).encode()))' request.json
"#;
    let coreutils = r#"
s=${REQ#dbguard-request:v1:}; while [ $(( ${#s} % 4 )) -ne 0 ]; do s="$s="; done
printf %s "$s" | basenc --base64url -d > request.json
ssh-keygen -Y sign -n dbguard -f "$KEY" request.json
printf '{"request":"%s","signature":"%s"}' "${REQ#dbguard-request:v1:}" "$(awk '{printf "%s\\n", $0}' request.json.sig)" \
  | basenc --base64url -w0 | tr -d = | sed 's/^/dbguard-approval:v1:/'; echo
"#;
    let mut ran = 0;
    for (name, needs, script) in [
        ("python3", "python3", python),
        ("coreutils", "basenc", coreutils),
    ] {
        let have = Command::new("sh")
            .args(["-c", &format!("command -v {needs}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !have {
            eprintln!("skipping the {name} variant: {needs} is not installed");
            continue;
        }
        let _ = std::fs::remove_file(work.path().join("request.json.sig"));
        let out = Command::new("sh")
            .args(["-e", "-c", script])
            .current_dir(work.path())
            .env("REQ", &line)
            .env("KEY", key)
            .stdin(Stdio::null())
            .output()
            .expect("run sh");
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let token = last_line(&out);
        assert!(token.starts_with("dbguard-approval:v1:"), "{name}: {token}");
        let ok = verify(
            &[token],
            &expected(STATEMENT, DIGEST, &[]),
            &s.signers,
            &s.groups,
            &never_used,
        )
        .unwrap_or_else(|e| panic!("{name}: {}", e.message));
        assert_eq!(ok[0].principal, "alice@example.org");
        ran += 1;
    }
    assert!(ran > 0, "neither python3 nor basenc is installed");

    // ssh-keygen's own verification agrees with dbguard's, using the same
    // approvers file as allowed_signers.
    std::fs::write(work.path().join("allowed_signers"), &s.approvers_text).unwrap();
    let mut child = Command::new("ssh-keygen")
        .args([
            "-Y",
            "verify",
            "-f",
            "allowed_signers",
            "-I",
            "alice@example.org",
            "-n",
            "dbguard",
            "-s",
            "request.json.sig",
        ])
        .current_dir(work.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        &Request::decode(&line).unwrap().1,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "ssh-keygen -Y verify: {}",
        stderr(&out)
    );
}

#[test]
fn encrypted_key_without_terminal_is_refused_clearly() {
    let s = setup();
    let locked = s.keys.make_with("locked", "correct horse");
    let line = request(STATEMENT, DIGEST, 900).encode();
    let out = run_approve(&[&line, "--key", locked.to_str().unwrap(), "--yes"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("is protected by a passphrase and there is no terminal"),
        "{err}"
    );
    assert!(err.contains("ssh-add"), "{err}");
    assert!(!stdout(&out).contains("dbguard-approval:"));
}

#[test]
fn encrypted_key_through_askpass() {
    let s = setup();
    let locked = s.keys.make_with("locked", "correct horse");
    let askpass = s.keys.dir.path().join("askpass.sh");
    std::fs::write(&askpass, "#!/bin/sh\necho 'correct horse'\n").unwrap();
    std::fs::set_permissions(
        &askpass,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let line = request(STATEMENT, DIGEST, 900).encode();
    let out = run_approve(
        &[&line, "--key", locked.to_str().unwrap(), "--yes"],
        &[
            ("SSH_ASKPASS", askpass.to_str().unwrap()),
            ("SSH_ASKPASS_REQUIRE", "force"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let token = last_line(&out);
    let mut signers = s.signers.clone();
    signers.entries.extend(
        AllowedSigners::parse(&format!("erin@example.org {}", pub_line(&locked)))
            .unwrap()
            .entries,
    );
    let ok = verify(
        &[token],
        &expected(STATEMENT, DIGEST, &[]),
        &signers,
        &s.groups,
        &never_used,
    )
    .unwrap();
    assert_eq!(ok[0].principal, "erin@example.org");
}

/// An ssh-agent this test started, killed (by its own pid) on drop.
struct Agent {
    child: std::process::Child,
    sock: PathBuf,
    _dir: tempfile::TempDir,
}

impl Agent {
    fn start() -> Option<Agent> {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&sock)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        for _ in 0..100 {
            if sock.exists() {
                return Some(Agent {
                    child,
                    sock,
                    _dir: dir,
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn signs_through_ssh_agent_with_a_pub_key() {
    let s = setup();
    let line = request(STATEMENT, DIGEST, 900).encode();
    let pubkey = s.alice.with_extension("pub");
    // Without an agent: a clear message.
    let out = run_approve(&[&line, "--key", pubkey.to_str().unwrap(), "--yes"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is a public key: signing with it needs ssh-agent"),
        "{}",
        stderr(&out)
    );

    let Some(agent) = Agent::start() else {
        eprintln!("skipping the agent part: ssh-agent is not available");
        return;
    };
    let sock = agent.sock.to_str().unwrap();
    let added = Command::new("ssh-add")
        .arg("-q")
        .arg(&s.alice)
        .env("SSH_AUTH_SOCK", sock)
        .stdin(Stdio::null())
        .output()
        .expect("ssh-add");
    assert!(added.status.success(), "ssh-add: {}", stderr(&added));
    // Move the private key away: only the agent can sign now.
    std::fs::rename(&s.alice, s.keys.dir.path().join("alice.moved")).unwrap();
    let out = run_approve(
        &[&line, "--key", pubkey.to_str().unwrap(), "--yes"],
        &[("SSH_AUTH_SOCK", sock)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let ok = verify(
        &[last_line(&out)],
        &expected(STATEMENT, DIGEST, &[]),
        &s.signers,
        &s.groups,
        &never_used,
    )
    .unwrap();
    assert_eq!(ok[0].principal, "alice@example.org");
    drop(agent);
}

#[test]
fn approvers_file_problems_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let missing = AllowedSigners::load(&dir.path().join("approvers")).unwrap_err();
    assert_eq!(missing.kind, ErrorKind::Approval);
    assert!(
        missing.message.contains("no approvers file"),
        "{}",
        missing.message
    );
    assert!(
        missing.message.contains("ssh-keygen -t ed25519"),
        "{}",
        missing.message
    );

    let file = dir.path().join("bad");
    std::fs::write(&file, "# ok\nalice@example.org ssh-ed25519 AAAAnotakey\n").unwrap();
    let e = AllowedSigners::load(&file).unwrap_err();
    assert!(
        e.message.contains("line 2: the key does not parse"),
        "{}",
        e.message
    );
    assert!(e.message.contains("bad"), "{}", e.message);
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
        &never_used,
    )
    .unwrap();
    for answer in ["n\n", "\n"] {
        let no = run(answer);
        assert!(no.contains("not approved: nothing was signed"), "{no}");
        assert!(no.contains("rc=1"), "{no}");
        assert!(!no.contains("dbguard-approval:v1:"), "{no}");
    }
}

#[test]
fn refuses_key_outside_its_validity_window() {
    let s = setup();
    let text = format!(
        "dave@example.org namespaces=\"dbguard\",valid-before=\"20200101\" {}\n",
        pub_line(&s.dave)
    );
    let signers = AllowedSigners::parse(&text).unwrap();
    let line = request(STATEMENT, DIGEST, 900).encode();
    let token = sign(&line, &s.dave).unwrap().encode();
    refused(
        verify(
            &[token],
            &expected(STATEMENT, DIGEST, &[]),
            &signers,
            &s.groups,
            &never_used,
        ),
        &[
            "1st token",
            "unknown key",
            "valid only until 2020-01-01 00:00:00 UTC",
        ],
    );
}
