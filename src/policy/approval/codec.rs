//! The line format shared by requests, tokens and rejections: a versioned
//! prefix, then base64url without padding.
//!
//! Lines travel through chat, mail and terminals, which wrap them, add
//! padding back or switch to the standard alphabet; so decoding is lenient
//! (whitespace ignored, either alphabet, padded or not) while encoding is
//! always the one canonical form.

use base64ct::{Base64UrlUnpadded, Encoding};
use ssh_key::SshSig;

/// `PREFIX` + base64url (no padding) of `bytes`.
pub(super) fn encode_line(prefix: &str, bytes: &[u8]) -> String {
    format!("{prefix}{}", encode_b64(bytes))
}

/// Base64url without padding: the canonical form inside every line.
pub(super) fn encode_b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// The line without its prefix and without any whitespace, if it has the
/// prefix.
pub(super) fn strip_prefix(line: &str, prefix: &str) -> Option<String> {
    let compact: String = line.chars().filter(|c| !c.is_whitespace()).collect();
    compact.strip_prefix(prefix).map(str::to_owned)
}

/// Lenient base64: url-safe or standard alphabet, padded or not, whitespace
/// ignored.
pub(super) fn decode_b64(s: &str) -> Result<Vec<u8>, String> {
    let cleaned: String = s
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    let cleaned = cleaned.trim_end_matches('=');
    if cleaned.is_empty() {
        return Err("it is empty".into());
    }
    Base64UrlUnpadded::decode_vec(cleaned).map_err(|_| "invalid base64".to_owned())
}

/// An armored SSHSIG, as `ssh-keygen -Y sign` writes it.
pub(super) fn parse_sig(pem: &str) -> Result<SshSig, String> {
    SshSig::from_pem(pem.trim().as_bytes())
        .map_err(|e| format!("its signature does not decode as an SSH signature ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_base64() {
        assert_eq!(decode_b64("aGk").unwrap(), b"hi");
        assert_eq!(decode_b64("aGk=").unwrap(), b"hi");
        assert_eq!(decode_b64(" a G\nk ").unwrap(), b"hi");
        assert_eq!(decode_b64("-_8").unwrap(), decode_b64("+/8=").unwrap());
        assert!(decode_b64("").is_err());
        assert!(decode_b64("a").is_err());
    }
}
