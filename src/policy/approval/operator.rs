//! Who the operator is, for approval purposes: proven by a key they hold,
//! not claimed by `--as`.
//!
//! A change that needs a second person is worth nothing if the first
//! person can call themselves someone else and approve it with their own
//! key. So before any token is looked at, the operator signs a fresh
//! challenge with their key (`--key`, ssh-agent through a `.pub` file, or
//! the default key) in a namespace of its own, [`OPERATOR_NAMESPACE`], and
//! the approvers file names whose key that is. Its principals are the
//! operator: the request carries the first, and no token signed by that
//! key or by any of those principals counts as an approval. A key the
//! file does not list proves nobody, so it cannot ask for approval (an
//! operator who must not approve is listed with
//! `namespaces="dbguard-operator"` only).
//!
//! The signature never leaves the process: it shows the key is at hand
//! now, in the process about to apply, and that is all it is for.

use std::path::{Path, PathBuf};

use ssh_key::PublicKey;

use super::request::new_nonce;
use super::signers::{AllowedSigners, fingerprint};
use super::token::NAMESPACE;
use crate::error::{Error, Result};

/// The namespace of an operator's proof of identity, distinct from an
/// approval's, so one can never be taken for the other.
pub const OPERATOR_NAMESPACE: &str = "dbguard-operator";

/// An operator whose key signed just now.
#[derive(Debug, Clone)]
pub struct Operator {
    /// The first principal the approvers file lists for the key: what a
    /// request names as its operator.
    pub principal: String,
    /// Every principal listed for the key; none of them may approve.
    pub principals: Vec<String>,
    /// `SHA256:...` of the key; a token signed by it is never an approval.
    pub fingerprint: String,
}

/// Has the operator's key sign a fresh challenge and names its owner from
/// `signers` (valid at `now`), or says why it cannot.
pub fn prove(key: Option<&Path>, signers: &AllowedSigners, now: i64) -> Result<Operator> {
    let path: PathBuf = match key {
        Some(k) => k.to_owned(),
        None => super::sign::default_key().map_err(|e| e.context(NEEDS_KEY))?,
    };
    let challenge = format!("dbguard operator challenge {}", new_nonce()?);
    let sig = super::sign::ssh_sign(challenge.as_bytes(), OPERATOR_NAMESPACE, &path)
        .map_err(|e| e.context(NEEDS_KEY))?;
    let public = PublicKey::from(sig.public_key().clone());
    let fp = fingerprint(&public);
    let mut principals = signers.principals_valid_at(&public, NAMESPACE, now);
    for p in signers.principals_valid_at(&public, OPERATOR_NAMESPACE, now) {
        if !principals.contains(&p) {
            principals.push(p);
        }
    }
    let Some(principal) = principals.first().cloned() else {
        return Err(Error::approval(format!(
            "this change needs approval, and approvals count only for an operator whose key the approvers file names: key {fp} ({}) is not in the approvers file, or not valid now; nothing was applied\n\
             Pass --key with your listed key, or have its .pub line added to the approvers file (namespaces=\"{OPERATOR_NAMESPACE}\" for an operator who does not approve).",
            path.display()
        )));
    };
    Ok(Operator {
        principal,
        principals,
        fingerprint: fp,
    })
}

const NEEDS_KEY: &str =
    "this change needs approval, and the operator proves who they are with an SSH key (--key PATH)";
