//! Approving with the SSH tools people already have: the documented plain
//! `ssh-keygen -Y sign` flow (and ssh-keygen's own verification agreeing
//! with dbguard's), keys behind a passphrase, keys held by ssh-agent, and
//! clear messages for a missing or broken approvers file.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use dbguard::ErrorKind;
use dbguard::policy::approval::{AllowedSigners, Request, verify};

use crate::approval::{
    DIGEST, STATEMENT, expected, last_line, never_used, pub_line, request, run_approve, setup,
};
use crate::helpers::{stderr, stdout};

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
            &mut never_used,
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
        &mut never_used,
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
        &mut never_used,
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
