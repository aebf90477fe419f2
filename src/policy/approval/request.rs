//! The request: what the operator asks an approver to sign.
//!
//! Its canonical bytes (the JSON serialization, fields in declaration
//! order) are what every signature covers, so a request is decoded once
//! into both the struct and those exact bytes: re-serializing could change
//! them, and a signature over different bytes would not verify.

use crate::model::ChangeKind;
use serde::{Deserialize, Serialize};

use super::codec::{decode_b64, encode_line, strip_prefix};
use crate::error::{Error, Result};

/// Prefix of a request line.
pub(crate) const REQUEST_PREFIX: &str = "dbguard-request:v1:";

/// What the operator asks an approver to sign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// Format version: 1.
    pub version: u32,
    pub statement: String,
    /// delete/update/insert/truncate/undo...
    pub kind: ChangeKind,
    /// The target as shown (URL without password, or a file path).
    pub target: String,
    pub database: String,
    pub system_identifier: Option<String>,
    pub operator: String,
    /// The impact digest the approval binds to.
    pub digest: String,
    /// The impact summary shown to the approver: `{"target": {table, rows},
    /// "totals": {...}, "effects": [{table, action, rows}...], "will_fail":
    /// bool, "warnings": [...]}`.
    pub summary: serde_json::Value,
    /// Policy rules that asked for approval.
    pub rules: Vec<String>,
    pub approvals_needed: u32,
    /// Groups accepted (empty: any approver).
    pub from: Vec<String>,
    /// 128 random bits, hex.
    pub nonce: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
}

impl Request {
    /// The canonical bytes: the JSON serialization, fields in declaration
    /// order. These are what approvers sign.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a request always serializes")
    }

    /// `dbguard-request:v1:` + base64url of the canonical JSON bytes.
    pub fn encode(&self) -> String {
        encode_line(REQUEST_PREFIX, &self.to_bytes())
    }

    /// Decodes a request line; also returns the exact bytes that are signed.
    pub fn decode(line: &str) -> Result<(Request, Vec<u8>)> {
        let body = strip_prefix(line, REQUEST_PREFIX).ok_or_else(|| {
            Error::input(format!(
                "this is not a dbguard request: it should start with `{REQUEST_PREFIX}`\n\
                 Paste the whole line the operator's dbguard printed."
            ))
        })?;
        let bytes = decode_b64(&body).map_err(|e| {
            Error::input(format!(
                "the request does not decode ({e})\nWas the line copied completely?"
            ))
        })?;
        let request = Request::from_bytes(&bytes).map_err(Error::input)?;
        Ok((request, bytes))
    }

    /// Parses the canonical bytes.
    pub(crate) fn from_bytes(bytes: &[u8]) -> std::result::Result<Request, String> {
        let request: Request = serde_json::from_slice(bytes)
            .map_err(|e| format!("the request is not a valid dbguard request ({e})"))?;
        if request.version != 1 {
            return Err(format!(
                "the request has format version {}, this dbguard reads version 1\n\
                 Use the dbguard version the operator uses.",
                request.version
            ));
        }
        Ok(request)
    }
}

/// 128 random bits from the operating system, as lower-case hex: the
/// nonce that makes every request, and so every approval, single-use.
pub fn new_nonce() -> Result<String> {
    let mut buf = [0u8; 16];
    getrandom::fill(&mut buf).map_err(|e| {
        Error::io(format!(
            "cannot read random bytes from the operating system ({e})"
        ))
    })?;
    Ok(base16ct::lower::encode_string(&buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_128_bits_of_lower_case_hex() {
        let (a, b) = (new_nonce().unwrap(), new_nonce().unwrap());
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')),
            "{a}"
        );
        assert_ne!(a, b);
    }
}
