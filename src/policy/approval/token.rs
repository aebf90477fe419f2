//! Tokens and rejections: an approver's answer to a request, signed.
//!
//! Both carry the request's exact bytes and an SSHSIG, so they can be
//! checked later, in another process, with nothing but the approvers file.
//! They are signed in different namespaces ([`NAMESPACE`],
//! `REJECTION_NAMESPACE`) and a rejection's signature also covers its
//! reason, so neither can be turned into the other.

use serde::{Deserialize, Serialize};
use ssh_key::{LineEnding, PublicKey, SshSig};

use super::codec::{decode_b64, encode_b64, encode_line, parse_sig, strip_prefix};
use super::request::{REQUEST_PREFIX, Request};
use super::signers::{AllowedSigners, fingerprint};
use crate::error::{Error, Result};

/// The SSHSIG namespace approvals are signed in.
pub(crate) const NAMESPACE: &str = "dbguard";
/// The SSHSIG namespace rejections are signed in (never accepted as an
/// approval).
pub(crate) const REJECTION_NAMESPACE: &str = "dbguard-rejection";

/// Prefix of an approval token line.
pub(crate) const TOKEN_PREFIX: &str = "dbguard-approval:v1:";
/// Prefix of a rejection line.
pub(crate) const REJECTION_PREFIX: &str = "dbguard-rejection:v1:";

/// An approval: a request and an approver's SSH signature over its bytes.
#[derive(Debug, Clone)]
pub struct Token {
    pub request: Request,
    pub request_bytes: Vec<u8>,
    pub signature: SshSig,
}

#[derive(Serialize, Deserialize)]
struct TokenJson {
    request: String,
    signature: String,
}

impl Token {
    /// `dbguard-approval:v1:` + base64url of `{"request": <base64url of the
    /// request bytes>, "signature": <armored SSHSIG>}`.
    pub fn encode(&self) -> String {
        let json = TokenJson {
            request: encode_b64(&self.request_bytes),
            signature: armor(&self.signature),
        };
        encode_line(
            TOKEN_PREFIX,
            &serde_json::to_vec(&json).expect("serializes"),
        )
    }

    /// Decodes a token line (errors of kind Approval).
    pub fn decode(line: &str) -> Result<Token> {
        let body = strip_prefix(line, TOKEN_PREFIX).ok_or_else(|| {
            Error::approval(if line.trim_start().starts_with(REQUEST_PREFIX) {
                "this is the request, not a token: send it to an approver, who runs \
                 `dbguard approve REQUEST` and sends back the `dbguard-approval:v1:` line"
                    .to_owned()
            } else {
                format!(
                    "it is not a dbguard approval token (it should start with `{TOKEN_PREFIX}`)"
                )
            })
        })?;
        let outer = decode_b64(&body).map_err(|e| {
            Error::approval(format!(
                "it does not decode ({e}); was it copied completely?"
            ))
        })?;
        let json: TokenJson = serde_json::from_slice(&outer).map_err(|e| {
            Error::approval(format!("it does not decode (not a token's JSON: {e})"))
        })?;
        let request_bytes = decode_b64(&json.request)
            .map_err(|e| Error::approval(format!("its request does not decode ({e})")))?;
        let request = Request::from_bytes(&request_bytes).map_err(Error::approval)?;
        let signature = parse_sig(&json.signature).map_err(Error::approval)?;
        Ok(Token {
            request,
            request_bytes,
            signature,
        })
    }
}

/// An approver's signed refusal of a request.
#[derive(Debug, Clone)]
pub struct Rejection {
    pub request: Request,
    pub request_bytes: Vec<u8>,
    pub reason: String,
    /// Signature, in `REJECTION_NAMESPACE`, over `Rejection::signed_bytes`.
    pub signature: SshSig,
}

#[derive(Serialize, Deserialize)]
struct RejectionJson {
    request: String,
    reason: String,
    signature: String,
}

/// What a rejection signature covers.
#[derive(Serialize)]
struct RejectionSigned<'a> {
    rejects: &'a str,
    reason: &'a str,
}

/// Who rejected, for the journal and audit trail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RejectedBy {
    /// The principal from allowed_signers (`unknown` when the key is not
    /// listed: the rejection is still worth recording).
    pub principal: String,
    pub fingerprint: String,
    pub nonce: String,
    pub reason: String,
}

impl Rejection {
    /// The bytes the rejection signature covers: canonical JSON
    /// `{"rejects": <base64url of the request bytes>, "reason": ...}`.
    pub(crate) fn signed_bytes(request_bytes: &[u8], reason: &str) -> Vec<u8> {
        let rejects = encode_b64(request_bytes);
        serde_json::to_vec(&RejectionSigned {
            rejects: &rejects,
            reason,
        })
        .expect("serializes")
    }

    /// `dbguard-rejection:v1:` + base64url of `{"request", "reason", "signature"}`.
    pub fn encode(&self) -> String {
        let json = RejectionJson {
            request: encode_b64(&self.request_bytes),
            reason: self.reason.clone(),
            signature: armor(&self.signature),
        };
        encode_line(
            REJECTION_PREFIX,
            &serde_json::to_vec(&json).expect("serializes"),
        )
    }

    pub fn decode(line: &str) -> Result<Rejection> {
        let body = strip_prefix(line, REJECTION_PREFIX).ok_or_else(|| {
            Error::input(format!(
                "this is not a dbguard rejection (it should start with `{REJECTION_PREFIX}`)"
            ))
        })?;
        let outer = decode_b64(&body)
            .map_err(|e| Error::input(format!("the rejection does not decode ({e})")))?;
        let json: RejectionJson = serde_json::from_slice(&outer)
            .map_err(|e| Error::input(format!("the rejection does not decode ({e})")))?;
        let request_bytes = decode_b64(&json.request)
            .map_err(|e| Error::input(format!("the rejection's request does not decode ({e})")))?;
        let request = Request::from_bytes(&request_bytes).map_err(Error::input)?;
        let signature = parse_sig(&json.signature).map_err(Error::input)?;
        Ok(Rejection {
            request,
            request_bytes,
            reason: json.reason,
            signature,
        })
    }

    /// Checks the signature (and names the signer when listed). Errors of
    /// kind Input when the signature does not verify.
    pub fn check(&self, signers: &AllowedSigners) -> Result<RejectedBy> {
        let key = PublicKey::from(self.signature.public_key().clone());
        key.verify(
            REJECTION_NAMESPACE,
            &Rejection::signed_bytes(&self.request_bytes, &self.reason),
            &self.signature,
        )
        .map_err(|e| Error::input(format!("the rejection's signature does not verify ({e})")))?;
        let principal = signers
            // Approvers are listed for namespace `dbguard`; a rejection is
            // theirs too.
            .principals_for(&key, NAMESPACE)
            .into_iter()
            .next()
            .unwrap_or_else(|| "unknown".to_owned());
        Ok(RejectedBy {
            principal,
            fingerprint: fingerprint(&key),
            nonce: self.request.nonce.clone(),
            reason: self.reason.clone(),
        })
    }
}

/// The armored form a token carries, as `ssh-keygen` writes it.
fn armor(signature: &SshSig) -> String {
    signature
        .to_pem(LineEnding::LF)
        .expect("a parsed signature always encodes")
}
