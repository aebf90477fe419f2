//! The demo's own policy directory, written beside the demo database.
//!
//! Without it the demo would run under whatever policy it found: the
//! built-in default (or `./policies`, when run from the repository) asks
//! an approval for every delete and names no approver, so the demo's
//! headline delete could never be applied. The demo writes a policy that
//! asks only a confirmation for that delete and an approval for deleting
//! a distribution, and two throwaway keys the approvers file names: one
//! the demo shell proves the operator with, one `dbguard approve` signs
//! with. So both steps can be tried on one machine, by one person.

use std::path::{Path, PathBuf};

use ssh_key::private::{Ed25519Keypair, PrivateKey};
use ssh_key::{LineEnding, PublicKey};

use crate::error::{Error, Result};

/// The policy file the demo writes: the shipped default's rules, except
/// that deletes are confirmed and only a distribution's needs approval.
const POLICY: &str = r#"# The demo's policy, written by `dbguard demo` beside its database (and
# rewritten each time the demo starts). The format is in policies/README.md.
#
# It is the shipped default (policies/default.toml) with one difference:
# a delete is confirmed by the operator, except a delete from
# `distributions`, which needs a second person's signed approval. The
# demo's approvers are in the `approvers` file next to this one.
version = 1
default = "confirm"

[limits]
lock_timeout = "2s"
statement_timeout = "30s"
request_ttl = "15m"

[[rule]]
name = "no-unbounded-writes"
operations = ["update", "delete"]
without_where = true
verdict = "deny"
message = "UPDATE and DELETE without WHERE change every row of the table; add a WHERE clause that selects the rows you mean"

[[rule]]
name = "no-ddl"
operations = ["ddl"]
verdict = "deny"
message = "schema changes (DDL) are not run from dbguard; ship them as a migration"

# A distribution takes its architecture list with it and leaves its
# repositories without one: a second pair of eyes signs it first.
[[rule]]
name = "deleting-a-distribution-needs-approval"
operations = ["delete"]
tables = ["distributions"]
verdict = "approve"
approvals = 1
message = "a distribution's repositories lose their distribution; an approver signs first"

[[rule]]
name = "writes-need-confirmation"
operations = ["insert", "update", "delete", "truncate", "merge"]
verdict = "confirm"

[[rule]]
name = "undo-needs-confirmation"
operations = ["undo"]
verdict = "confirm"
"#;

/// What the demo wrote, for the shell and for the opening screen.
pub(super) struct DemoPolicy {
    /// The policy directory (`policy.toml`, `approvers`, the keys).
    pub dir: PathBuf,
    /// The key the shell proves the operator with (`--key`).
    pub operator_key: PathBuf,
    /// The key `dbguard approve --key` signs approvals with.
    pub approver_key: PathBuf,
}

/// Writes the policy directory for the demo database at `db`:
/// `NAME-policy/` beside `NAME.sqlite`, with fresh keys each time, so a
/// key from an earlier demo never approves anything in this one.
pub(super) fn write(db: &Path) -> Result<DemoPolicy> {
    let stem = db
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dbguard-demo".to_owned());
    let dir = std::path::absolute(db.with_file_name(format!("{stem}-policy")))
        .map_err(|e| Error::io(format!("cannot name the demo's policy directory: {e}")))?;
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::io(format!("cannot create {}: {e}", dir.display())))?;
    let operator = new_key(&dir.join("operator_key"), "demo-operator")?;
    let approver = new_key(&dir.join("approver_key"), "demo-approver")?;
    let approvers = format!(
        "# The demo's approvers (OpenSSH allowed_signers format), written by `dbguard demo`.\n\
         # demo-operator: the key the demo shell proves who you are with; it may not approve.\n\
         demo-operator namespaces=\"dbguard-operator\" {}\n\
         # demo-approver: the key `dbguard approve --key .../approver_key` signs with.\n\
         demo-approver namespaces=\"dbguard\" {}\n",
        operator.to_openssh().map_err(key_error)?,
        approver.to_openssh().map_err(key_error)?,
    );
    write_file(&dir.join("approvers"), approvers.as_bytes(), false)?;
    write_file(&dir.join("policy.toml"), POLICY.as_bytes(), false)?;
    Ok(DemoPolicy {
        operator_key: dir.join("operator_key"),
        approver_key: dir.join("approver_key"),
        dir,
    })
}

/// Creates an Ed25519 key at `path` (and `path.pub`); returns its public
/// half. The seed comes from the operating system, as ssh-keygen's would.
fn new_key(path: &Path, comment: &str) -> Result<PublicKey> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| {
        Error::io(format!(
            "cannot read random bytes from the operating system ({e})"
        ))
    })?;
    let mut key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
    key.set_comment(comment);
    let private = key.to_openssh(LineEnding::LF).map_err(key_error)?;
    // ssh-keygen refuses to sign with a private key others can read.
    write_file(path, private.as_bytes(), true)?;
    let public = key.public_key().clone();
    let line = format!("{}\n", public.to_openssh().map_err(key_error)?);
    write_file(&path.with_extension("pub"), line.as_bytes(), false)?;
    Ok(public)
}

fn key_error(e: ssh_key::Error) -> Error {
    Error::io(format!("cannot write the demo's SSH key: {e}"))
}

/// Writes `bytes` to `path`, replacing it; `private` files are readable
/// by their owner only, from the moment they exist.
fn write_file(path: &Path, bytes: &[u8], private: bool) -> Result<()> {
    use std::io::Write;
    let fail = |e: std::io::Error| Error::io(format!("cannot write {}: {e}", path.display()));
    // An older file keeps its mode when truncated: start from none.
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail(e)),
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(path).map_err(fail)?;
    file.write_all(bytes).map_err(fail)
}
