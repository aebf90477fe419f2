//! Signing: `dbguard approve` hands the request bytes to `ssh-keygen -Y
//! sign`, which already knows every key format, passphrases and ssh-agent.
//!
//! dbguard never reads a private key itself: it only decides whether
//! ssh-keygen can sign without hanging (a passphrase with no terminal to
//! ask on, a `.pub` key with no agent) and says so instead, and it checks
//! the signature ssh-keygen made before handing it back.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ssh_key::{PublicKey, SshSig};

use super::codec::parse_sig;
use super::request::{Request, new_nonce};
use super::token::{NAMESPACE, REJECTION_NAMESPACE, Rejection, Token};
use crate::error::{Error, Result};

/// The default keys, in order of preference.
pub(crate) fn default_key() -> Result<PathBuf> {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| {
            Error::input("$HOME is not set, so there is no default key\nPass --key PATH.")
        })?;
    for name in ["id_ed25519", "id_ecdsa", "id_rsa"] {
        let p = home.join(".ssh").join(name);
        if p.exists() {
            return Ok(p);
        }
    }
    Err(Error::input(format!(
        "no SSH key found (looked for ~/.ssh/id_ed25519, id_ecdsa, id_rsa under {})\n\
         Pass --key PATH, or make one with `ssh-keygen -t ed25519` and have the operator \
         add its .pub line to policies/approvers.",
        home.display()
    )))
}

/// How a key file will sign.
enum KeySource {
    /// A private key file; `encrypted` when it has a passphrase.
    File { encrypted: bool },
    /// A public key: the private half is in ssh-agent.
    Agent,
}

fn key_source(key: &Path) -> Result<KeySource> {
    let text = std::fs::read_to_string(key).map_err(|e| {
        Error::input(format!(
            "{}: cannot read the key ({e})\nPass --key PATH.",
            key.display()
        ))
    })?;
    if PublicKey::from_openssh(text.trim()).is_ok() {
        return Ok(KeySource::Agent);
    }
    let encrypted = match ssh_key::PrivateKey::from_openssh(text.trim()) {
        Ok(k) => k.is_encrypted(),
        // Older PEM formats: let ssh-keygen read them.
        Err(_) => text.contains("ENCRYPTED"),
    };
    Ok(KeySource::File { encrypted })
}

/// Whether a passphrase can be asked for: a terminal on stdin, or an
/// askpass program ssh-keygen is told to use.
fn can_prompt() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal()
        || (std::env::var_os("SSH_ASKPASS").is_some_and(|v| !v.is_empty())
            && std::env::var("SSH_ASKPASS_REQUIRE").is_ok_and(|v| v == "force" || v == "prefer"))
}

/// Signs `msg` with `ssh-keygen -Y sign -n NAMESPACE -f KEY` and checks the
/// signature it produced.
pub(super) fn ssh_sign(msg: &[u8], namespace: &str, key: &Path) -> Result<SshSig> {
    check_can_sign(key)?;
    let dir = private_temp_dir()?;
    let result = sign_in(&dir, msg, namespace, key);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Refuses, with what to do instead, a key ssh-keygen could only wait on.
fn check_can_sign(key: &Path) -> Result<()> {
    match key_source(key)? {
        KeySource::Agent => {
            if std::env::var_os("SSH_AUTH_SOCK").is_none_or(|s| s.is_empty()) {
                return Err(Error::input(format!(
                    "{} is a public key: signing with it needs ssh-agent, and SSH_AUTH_SOCK is not set\n\
                     Start ssh-agent and `ssh-add` the private key, or pass the private key file with --key.",
                    key.display()
                )));
            }
        }
        KeySource::File { encrypted: true } if !can_prompt() => {
            return Err(Error::input(format!(
                "{} is protected by a passphrase and there is no terminal to ask for it\n\
                 Load it into ssh-agent (`ssh-add {}`) and pass --key {}.pub, or run dbguard approve in a terminal.",
                key.display(),
                key.display(),
                key.display()
            )));
        }
        KeySource::File { .. } => {}
    }
    Ok(())
}

/// Runs ssh-keygen on `msg` written into the private directory `dir`.
fn sign_in(dir: &Path, msg: &[u8], namespace: &str, key: &Path) -> Result<SshSig> {
    use std::io::IsTerminal;
    let file = dir.join("request.json");
    std::fs::write(&file, msg)
        .map_err(|e| Error::io(format!("{}: cannot write ({e})", file.display())))?;
    let stdin = if std::io::stdin().is_terminal() {
        Stdio::inherit()
    } else {
        Stdio::null()
    };
    let out = Command::new("ssh-keygen")
        .args(["-Y", "sign", "-n", namespace, "-f"])
        .arg(key)
        .arg(&file)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::io(
                    "ssh-keygen was not found: install openssh-client (dbguard signs with `ssh-keygen -Y sign`)",
                )
            } else {
                Error::io(format!("cannot run ssh-keygen ({e})"))
            }
        })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let err: Vec<&str> = err
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("Signing file"))
            .collect();
        return Err(Error::input(format!(
            "ssh-keygen could not sign with {}: {}",
            key.display(),
            if err.is_empty() {
                format!("it exited with {}", out.status)
            } else {
                err.join("; ")
            }
        )));
    }
    let sig_file = dir.join("request.json.sig");
    let pem = std::fs::read_to_string(&sig_file).map_err(|e| {
        Error::io(format!(
            "{}: ssh-keygen wrote no signature ({e})",
            sig_file.display()
        ))
    })?;
    let sig = parse_sig(&pem).map_err(Error::io)?;
    PublicKey::from(sig.public_key().clone())
        .verify(namespace, msg, &sig)
        .map_err(|e| {
            Error::io(format!(
                "the signature ssh-keygen made does not verify ({e})"
            ))
        })?;
    Ok(sig)
}

fn private_temp_dir() -> Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let base = std::env::temp_dir();
    for _ in 0..8 {
        let dir = base.join(format!(
            "dbguard-sign-{}-{}",
            std::process::id(),
            new_nonce()?
        ));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(Error::io(format!("{}: cannot create ({e})", dir.display())));
            }
        }
    }
    Err(Error::io("cannot create a private temporary directory"))
}

/// Signs a request with `ssh-keygen -Y sign -n dbguard -f KEY` over the
/// request bytes (handles encrypted keys via its own passphrase prompt, and
/// ssh-agent when KEY is a .pub file and SSH_AUTH_SOCK is set).
pub fn sign(request_line: &str, key: &Path) -> Result<Token> {
    let (request, request_bytes) = Request::decode(request_line)?;
    let signature = ssh_sign(&request_bytes, NAMESPACE, key)?;
    Ok(Token {
        request,
        request_bytes,
        signature,
    })
}

/// Signs a rejection of the request, with the reason, in
/// [`REJECTION_NAMESPACE`].
pub(crate) fn sign_rejection(request_line: &str, reason: &str, key: &Path) -> Result<Rejection> {
    let (request, request_bytes) = Request::decode(request_line)?;
    let signature = ssh_sign(
        &Rejection::signed_bytes(&request_bytes, reason),
        REJECTION_NAMESPACE,
        key,
    )?;
    Ok(Rejection {
        request,
        request_bytes,
        reason: reason.to_owned(),
        signature,
    })
}
