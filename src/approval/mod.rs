//! Approvals: request codes, tokens signed with SSH keys, and their checks.
//!
//! When policy says a change needs a second person, the operator's side
//! builds a [`Request`] — the statement, the target's identity, the
//! operator, the impact summary and its digest, a nonce and an expiry — and
//! prints it as one pasteable line, `dbguard-request:v1:` followed by the
//! base64url (no padding) of the request's canonical JSON bytes.
//!
//! The approver runs `dbguard approve REQUEST`, which shows the change and,
//! once they say yes, signs **those exact bytes** with their SSH key
//! (`ssh-keygen -Y sign -n dbguard`, an SSHSIG signature in namespace
//! `dbguard`). The result is a [`Token`], `dbguard-approval:v1:` followed by
//! the base64url (no padding) of the JSON object
//! `{"request": "<base64url of the request bytes>", "signature": "<armored SSHSIG>"}`.
//! A token carries everything needed to check it later, in another process:
//! [`verify`] checks the signature in process (the `ssh-key` crate), looks
//! the key up in `policies/approvers` (OpenSSH `allowed_signers` format, the
//! format git uses for SSH commit signing), and binds the token to the
//! change about to be applied ([`Expected`]): same statement, database,
//! cluster, operator and impact digest, not expired, nonce never used, the
//! principal in an accepted group and not the operator.
//!
//! `dbguard approve --reject --reason TEXT` prints a [`Rejection`] instead,
//! `dbguard-rejection:v1:...`, signed in its own namespace
//! ([`REJECTION_NAMESPACE`]) over the request and the reason, so it can never
//! be turned into an approval.
//!
//! # Approving without dbguard
//!
//! An approver who does not have dbguard needs only `ssh-keygen` and
//! `python3` (or coreutils' `basenc`):
//!
//! ```sh
//! REQ='dbguard-request:v1:eyJ2ZXJzaW9uIjox...'   # the line the operator sent
//!
//! # 1. Decode the request into a file and read it (statement, target,
//! #    operator, summary of the impact, expires_at).
//! python3 -c 'import sys,base64; s=sys.argv[1].split(":",2)[2]; sys.stdout.buffer.write(base64.urlsafe_b64decode(s+"="*(-len(s)%4)))' "$REQ" > request.json
//! python3 -m json.tool request.json
//!
//! # 2. Sign exactly those bytes, in namespace dbguard (writes request.json.sig).
//! ssh-keygen -Y sign -n dbguard -f ~/.ssh/id_ed25519 request.json
//!
//! # 3. Build the token line and send it back to the operator.
//! python3 -c 'import sys,base64,json; b=lambda x: base64.urlsafe_b64encode(x).decode().rstrip("="); r=open(sys.argv[1],"rb").read(); s=open(sys.argv[1]+".sig").read(); print("dbguard-approval:v1:"+b(json.dumps({"request":b(r),"signature":s}).encode()))' request.json
//! ```
//!
//! The same with coreutils only:
//!
//! ```sh
//! s=${REQ#dbguard-request:v1:}; while [ $(( ${#s} % 4 )) -ne 0 ]; do s="$s="; done
//! printf %s "$s" | basenc --base64url -d > request.json
//! ssh-keygen -Y sign -n dbguard -f ~/.ssh/id_ed25519 request.json
//! printf '{"request":"%s","signature":"%s"}' "${REQ#dbguard-request:v1:}" "$(awk '{printf "%s\\n", $0}' request.json.sig)" \
//!   | basenc --base64url -w0 | tr -d = | sed 's/^/dbguard-approval:v1:/'; echo
//! ```
//!
//! Decoders accept padded or unpadded, url-safe or standard base64 and
//! ignore whitespace, so a line wrapped by a terminal or a mail client still
//! works.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};
use ssh_key::{HashAlg, LineEnding, PublicKey, SshSig};

use crate::error::{Error, Result};

/// The SSHSIG namespace approvals are signed in.
pub const NAMESPACE: &str = "dbguard";
/// The SSHSIG namespace rejections are signed in (never accepted as an
/// approval).
pub const REJECTION_NAMESPACE: &str = "dbguard-rejection";
/// How long a request stays valid by default, in seconds (15 minutes).
pub const DEFAULT_TTL: i64 = 15 * 60;

/// Prefix of a request line.
pub const REQUEST_PREFIX: &str = "dbguard-request:v1:";
/// Prefix of an approval token line.
pub const TOKEN_PREFIX: &str = "dbguard-approval:v1:";
/// Prefix of a rejection line.
pub const REJECTION_PREFIX: &str = "dbguard-rejection:v1:";

/// What the operator asks an approver to sign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// Format version: 1.
    pub version: u32,
    pub statement: String,
    /// delete/update/insert/truncate/undo...
    pub kind: String,
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
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a request always serializes")
    }

    /// `dbguard-request:v1:` + base64url of the canonical JSON bytes.
    pub fn encode(&self) -> String {
        format!(
            "{REQUEST_PREFIX}{}",
            Base64UrlUnpadded::encode_string(&self.to_bytes())
        )
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
    pub fn from_bytes(bytes: &[u8]) -> std::result::Result<Request, String> {
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
            request: Base64UrlUnpadded::encode_string(&self.request_bytes),
            signature: self
                .signature
                .to_pem(LineEnding::LF)
                .expect("a parsed signature always encodes"),
        };
        format!(
            "{TOKEN_PREFIX}{}",
            Base64UrlUnpadded::encode_string(&serde_json::to_vec(&json).expect("serializes"))
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
    /// Signature, in [`REJECTION_NAMESPACE`], over [`Rejection::signed_bytes`].
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
    pub fn signed_bytes(request_bytes: &[u8], reason: &str) -> Vec<u8> {
        let rejects = Base64UrlUnpadded::encode_string(request_bytes);
        serde_json::to_vec(&RejectionSigned {
            rejects: &rejects,
            reason,
        })
        .expect("serializes")
    }

    /// `dbguard-rejection:v1:` + base64url of `{"request", "reason", "signature"}`.
    pub fn encode(&self) -> String {
        let json = RejectionJson {
            request: Base64UrlUnpadded::encode_string(&self.request_bytes),
            reason: self.reason.clone(),
            signature: self
                .signature
                .to_pem(LineEnding::LF)
                .expect("a parsed signature always encodes"),
        };
        format!(
            "{REJECTION_PREFIX}{}",
            Base64UrlUnpadded::encode_string(&serde_json::to_vec(&json).expect("serializes"))
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

/// One `allowed_signers` entry.
#[derive(Debug, Clone)]
pub struct Signer {
    pub principals: Vec<String>,
    /// The `namespaces="..."` option; `None` means every namespace.
    pub namespaces: Option<Vec<String>>,
    pub key: PublicKey,
    /// `valid-after="YYYYMMDD[HHMM[SS]][Z]"`, as unix seconds (read as UTC).
    pub valid_after: Option<i64>,
    /// `valid-before="..."`, as unix seconds (read as UTC).
    pub valid_before: Option<i64>,
}

impl Signer {
    fn allows(&self, namespace: &str) -> bool {
        match &self.namespaces {
            None => true,
            Some(list) => list.iter().any(|n| n == namespace),
        }
    }

    /// Whether `valid-after`/`valid-before` allow a signature at `unix`.
    pub fn valid_at(&self, unix: i64) -> bool {
        self.valid_after.is_none_or(|a| unix >= a) && self.valid_before.is_none_or(|b| unix < b)
    }
}

/// The approvers: an OpenSSH `allowed_signers` file (`policies/approvers`).
#[derive(Debug, Clone, Default)]
pub struct AllowedSigners {
    pub entries: Vec<Signer>,
}

impl AllowedSigners {
    /// Reads and parses an allowed_signers file.
    pub fn load(path: &Path) -> Result<AllowedSigners> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::approval(format!(
                    "{}: no approvers file, so nobody can approve\n\
                     Add one line per approver: `alice@example.org namespaces=\"dbguard\" ssh-ed25519 AAAA...` \
                     (the contents of their ~/.ssh/id_ed25519.pub; `ssh-keygen -t ed25519` makes one).",
                    path.display()
                ))
            } else {
                Error::io(format!("{}: cannot read ({e})", path.display()))
            }
        })?;
        Self::parse(&text).map_err(|e| e.context(path.display()))
    }

    /// Parses allowed_signers text: `principals [options] keytype base64
    /// [comment]` per line, `#` comments. Options: `namespaces`,
    /// `valid-after`, `valid-before` (times read as UTC). `cert-authority`
    /// lines are skipped: dbguard checks approvers' own keys, not
    /// certificates, and a CA key must never count as an approver's key.
    pub fn parse(text: &str) -> Result<AllowedSigners> {
        let mut entries = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let entry = parse_signer_line(line)
                .map_err(|e| Error::input(format!("line {}: {e}", n + 1)))?;
            entries.extend(entry);
        }
        Ok(AllowedSigners { entries })
    }

    /// The principals listed for `key` whose entry allows `namespace`.
    pub fn principals_for(&self, key: &PublicKey, namespace: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for e in &self.entries {
            if e.key.key_data() == key.key_data() && e.allows(namespace) {
                for p in &e.principals {
                    if !out.contains(p) {
                        out.push(p.clone());
                    }
                }
            }
        }
        out
    }

    /// Like [`Self::principals_for`], only entries valid at `unix`.
    pub fn principals_valid_at(&self, key: &PublicKey, namespace: &str, unix: i64) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for e in &self.entries {
            if e.key.key_data() == key.key_data() && e.allows(namespace) && e.valid_at(unix) {
                for p in &e.principals {
                    if !out.contains(p) {
                        out.push(p.clone());
                    }
                }
            }
        }
        out
    }

    /// Whether the key is listed at all (whatever the namespaces).
    fn lists(&self, key: &PublicKey) -> bool {
        self.entries
            .iter()
            .any(|e| e.key.key_data() == key.key_data())
    }
}

/// Splits on whitespace, keeping double-quoted parts together.
fn split_fields(line: &str) -> std::result::Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    fields.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if quoted {
        return Err("unterminated quote".into());
    }
    if !cur.is_empty() {
        fields.push(cur);
    }
    Ok(fields)
}

/// Splits on commas outside double quotes.
fn split_commas(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}

fn is_key_type(s: &str) -> bool {
    s.starts_with("ssh-") || s.starts_with("ecdsa-sha2-") || s.starts_with("sk-")
}

/// One line; `None` for a `cert-authority` line (skipped).
fn parse_signer_line(line: &str) -> std::result::Result<Option<Signer>, String> {
    let fields = split_fields(line)?;
    let mut it = fields.iter().map(String::as_str).peekable();
    let principals_field = it.next().ok_or("empty line")?;
    let principals: Vec<String> = unquote(principals_field)
        .split(',')
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    if principals.is_empty() {
        return Err("no principal before the key".into());
    }
    let mut namespaces = None;
    let mut valid_after = None;
    let mut valid_before = None;
    let mut cert_authority = false;
    if let Some(next) = it.peek()
        && !is_key_type(next)
    {
        let options = it.next().unwrap_or_default();
        for opt in split_commas(options) {
            let (name, value) = match opt.split_once('=') {
                Some((n, v)) => (n.trim().to_ascii_lowercase(), Some(unquote(v.trim()))),
                None => (opt.trim().to_ascii_lowercase(), None),
            };
            match (name.as_str(), value) {
                ("namespaces", Some(v)) => {
                    namespaces = Some(
                        v.split(',')
                            .map(|n| n.trim().to_owned())
                            .filter(|n| !n.is_empty())
                            .collect(),
                    )
                }
                ("namespaces", None) => {
                    return Err("namespaces needs a value: namespaces=\"dbguard\"".into());
                }
                ("valid-after", Some(v)) => valid_after = Some(parse_time(v)?),
                ("valid-before", Some(v)) => valid_before = Some(parse_time(v)?),
                ("cert-authority", None) => cert_authority = true,
                _ => {
                    return Err(format!(
                        "unknown option `{opt}` (known: namespaces=\"dbguard\", valid-after=\"...\", valid-before=\"...\", cert-authority), or the key type is missing"
                    ));
                }
            }
        }
    }
    let key_type = it
        .next()
        .ok_or("no key after the principals (expected e.g. `ssh-ed25519 AAAA...`)")?;
    let key_b64 = it.next().ok_or("the key's base64 is missing")?;
    let key = PublicKey::from_openssh(&format!("{key_type} {key_b64}"))
        .map_err(|e| format!("the key does not parse ({e})"))?;
    if cert_authority {
        return Ok(None);
    }
    Ok(Some(Signer {
        principals,
        namespaces,
        key,
        valid_after,
        valid_before,
    }))
}

/// `YYYYMMDD[HHMM[SS]][Z]` as unix seconds, read as UTC.
fn parse_time(v: &str) -> std::result::Result<i64, String> {
    let bad = || format!("time `{v}` is not YYYYMMDD[HHMM[SS]][Z]");
    let digits = v.strip_suffix(['Z', 'z']).unwrap_or(v);
    if !digits.chars().all(|c| c.is_ascii_digit()) || ![8, 12, 14].contains(&digits.len()) {
        return Err(bad());
    }
    let num =
        |r: std::ops::Range<usize>| digits.get(r).map_or(0, |s| s.parse::<i64>().unwrap_or(0));
    let (y, m, d) = (num(0..4), num(4..6), num(6..8));
    let (h, mi, sec) = (num(8..10), num(10..12), num(12..14));
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 59 {
        return Err(bad());
    }
    // Days since 1970-01-01 (Howard Hinnant's algorithm).
    let yy = if m <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok(days * 86_400 + h * 3600 + mi * 60 + sec)
}

/// What a valid approval says, for the journal and audit trail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Approval {
    pub principal: String,
    /// `SHA256:...`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    pub nonce: String,
    /// When the approval was checked and accepted (unix seconds): SSH
    /// signatures carry no time of their own; the request's `created_at`
    /// and `expires_at` bound the signing time.
    pub signed_at: i64,
}

/// What the tokens must match: the change about to be applied.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    pub digest: &'a str,
    pub statement: &'a str,
    pub database: &'a str,
    pub system_identifier: Option<&'a str>,
    pub operator: &'a str,
    pub now: i64,
    pub approvals_needed: u32,
    pub from: &'a [String],
}

/// `1st`, `2nd`, `3rd`, `4th`, `11th`...
pub fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// Checks tokens against the change about to be applied. Ok with one
/// [`Approval`] per distinct principal when all tokens are valid and there
/// are enough of them; otherwise an error of kind Approval (exit 3) naming
/// each refused token and why.
pub fn verify(
    tokens: &[String],
    expected: &Expected<'_>,
    signers: &AllowedSigners,
    groups: &BTreeMap<String, Vec<String>>,
    used: &dyn Fn(&str) -> bool,
) -> Result<Vec<Approval>> {
    let mut approvals: Vec<Approval> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    for (i, line) in tokens.iter().enumerate() {
        match check_one(line, expected, signers, groups, used) {
            Ok(a) => {
                if !approvals.iter().any(|x| x.principal == a.principal) {
                    approvals.push(a);
                }
            }
            Err(why) => problems.push(format!("the {} token is refused: {why}", ordinal(i + 1))),
        }
    }
    if !problems.is_empty() {
        let mut msg = problems.join("\n");
        msg.push_str("\nNothing was applied.");
        return Err(Error::approval(msg));
    }
    let needed = expected.approvals_needed as usize;
    if approvals.len() < needed {
        let who = if approvals.is_empty() {
            String::new()
        } else {
            format!(
                " (approved by {})",
                approvals
                    .iter()
                    .map(|a| a.principal.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let from = if expected.from.is_empty() {
            String::new()
        } else {
            format!(" from {}", group_list(expected.from))
        };
        let more = needed - approvals.len();
        return Err(Error::approval(format!(
            "{} of {} approvals{who}: {more} more from a different approver{from} {} needed\n\
             Send the same request to another approver; each approver counts once. Nothing was applied.",
            approvals.len(),
            needed,
            if more == 1 { "is" } else { "are" },
        )));
    }
    Ok(approvals)
}

fn group_list(from: &[String]) -> String {
    let names: Vec<String> = from.iter().map(|g| format!("`{g}`")).collect();
    if names.len() == 1 {
        format!("group {}", names[0])
    } else {
        format!("groups {}", names.join(", "))
    }
}

fn check_one(
    line: &str,
    expected: &Expected<'_>,
    signers: &AllowedSigners,
    groups: &BTreeMap<String, Vec<String>>,
    used: &dyn Fn(&str) -> bool,
) -> std::result::Result<Approval, String> {
    let token = Token::decode(line).map_err(|e| e.message)?;
    let key = PublicKey::from(token.signature.public_key().clone());
    let fp = fingerprint(&key);
    if token.signature.namespace() != NAMESPACE {
        return Err(format!(
            "it is signed in namespace `{}`, not `{NAMESPACE}` (sign with `ssh-keygen -Y sign -n {NAMESPACE}`)",
            token.signature.namespace()
        ));
    }
    key.verify(NAMESPACE, &token.request_bytes, &token.signature)
        .map_err(|_| {
            "its signature does not match the request it carries (the request was edited \
             after it was signed, or the token was damaged)"
                .to_owned()
        })?;
    let principals = signers.principals_valid_at(&key, NAMESPACE, expected.now);
    if principals.is_empty() {
        let listed: Vec<&Signer> = signers
            .entries
            .iter()
            .filter(|e| e.key.key_data() == key.key_data() && e.allows(NAMESPACE))
            .collect();
        if let Some(e) = listed.first() {
            let window = match (e.valid_after, e.valid_before) {
                (Some(a), Some(b)) => format!("from {} until {}", format_time(a), format_time(b)),
                (Some(a), None) => format!("from {}", format_time(a)),
                (None, Some(b)) => format!("until {}", format_time(b)),
                (None, None) => String::new(),
            };
            return Err(format!(
                "unknown key {fp} at this time: its approvers entry ({}) is valid only {window}",
                e.principals.join(", ")
            ));
        }
        return Err(if signers.lists(&key) {
            format!(
                "unknown key {fp}: its approvers entry does not allow namespace `{NAMESPACE}` \
                 (add `namespaces=\"{NAMESPACE}\"` to it)"
            )
        } else {
            format!("unknown key {fp}: it is not listed in the approvers file (allowed_signers)")
        });
    }
    if principals.iter().any(|p| p == expected.operator) {
        return Err(format!(
            "self-approval: it is signed by {}, the operator of this change; \
             a different person must approve",
            expected.operator
        ));
    }
    let principal = if expected.from.is_empty() {
        principals[0].clone()
    } else {
        principals
            .iter()
            .find(|p| {
                expected.from.iter().any(|g| {
                    groups
                        .get(g)
                        .is_some_and(|members| members.iter().any(|m| m == *p))
                })
            })
            .cloned()
            .ok_or_else(|| {
                format!(
                    "{} (key {fp}) is not in {}, which this change needs an approval from",
                    principals.join(", "),
                    group_list(expected.from)
                )
            })?
    };
    let r = &token.request;
    let same_change = r.statement == expected.statement
        && r.database == expected.database
        && r.system_identifier.as_deref() == expected.system_identifier
        && r.operator == expected.operator;
    if !same_change {
        let mut diffs = Vec::new();
        if r.statement != expected.statement {
            diffs.push(format!("the statement `{}`", one_line(&r.statement)));
        }
        if r.database != expected.database
            || r.system_identifier.as_deref() != expected.system_identifier
        {
            diffs.push(format!(
                "database {}{}",
                r.database,
                r.system_identifier
                    .as_deref()
                    .map(|s| format!(" (system identifier {s})"))
                    .unwrap_or_default()
            ));
        }
        if r.operator != expected.operator {
            diffs.push(format!("operator {}", r.operator));
        }
        return Err(format!(
            "signed for a different change: it approves {}",
            diffs.join(", ")
        ));
    }
    if r.digest != expected.digest {
        return Err(format!(
            "signed for a different change: the impact changed since it was signed \
             (digest {} then, {} now); a new request is needed",
            short(&r.digest),
            short(expected.digest)
        ));
    }
    if expected.now > r.expires_at {
        return Err(format!(
            "expired at {} ({} ago); ask for a new approval",
            format_time(r.expires_at),
            format_duration(expected.now - r.expires_at)
        ));
    }
    if used(&r.nonce) {
        return Err(format!(
            "already used: request {} was applied with an approval before; \
             an approval is good for one apply",
            short(&r.nonce)
        ));
    }
    Ok(Approval {
        principal,
        fingerprint: fp,
        nonce: r.nonce.clone(),
        signed_at: expected.now,
    })
}

fn one_line(s: &str) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let flat: String = flat.chars().filter(|c| !c.is_control()).collect();
    if flat.chars().count() > 80 {
        format!("{}...", flat.chars().take(77).collect::<String>())
    } else {
        flat
    }
}

fn short(s: &str) -> String {
    s.chars().take(16).collect()
}

/// `SHA256:...` fingerprint of a key.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// 128 random bits from /dev/urandom, hex.
pub fn new_nonce() -> Result<String> {
    let mut buf = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| Error::io(format!("/dev/urandom: cannot read random bytes ({e})")))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// The current time in unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `2026-05-01 12:00:00 UTC`.
pub fn format_time(secs: i64) -> String {
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = crate::journal::civil_from_days(secs.div_euclid(86_400));
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// `42s`, `14 min`, `2 h 5 min`.
pub fn format_duration(secs: i64) -> String {
    let secs = secs.max(0);
    if secs < 60 {
        format!("{secs}s")
    } else if secs < 3600 {
        format!("{} min", secs / 60)
    } else if secs < 86_400 {
        format!("{} h {} min", secs / 3600, (secs % 3600) / 60)
    } else {
        format!("{} days", secs / 86_400)
    }
}

fn strip_prefix(line: &str, prefix: &str) -> Option<String> {
    let compact: String = line.chars().filter(|c| !c.is_whitespace()).collect();
    compact.strip_prefix(prefix).map(str::to_owned)
}

/// Lenient base64: url-safe or standard alphabet, padded or not, whitespace
/// ignored.
fn decode_b64(s: &str) -> std::result::Result<Vec<u8>, String> {
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

fn parse_sig(pem: &str) -> std::result::Result<SshSig, String> {
    SshSig::from_pem(pem.trim().as_bytes())
        .map_err(|e| format!("its signature does not decode as an SSH signature ({e})"))
}

/// The default keys, in order of preference.
pub fn default_key() -> Result<PathBuf> {
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
fn ssh_sign(msg: &[u8], namespace: &str, key: &Path) -> Result<SshSig> {
    use std::io::IsTerminal;
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
    let dir = private_temp_dir()?;
    let result = (|| {
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
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
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
pub fn sign_rejection(request_line: &str, reason: &str, key: &Path) -> Result<Rejection> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals() {
        let got: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111]
            .iter()
            .map(|n| ordinal(*n))
            .collect();
        assert_eq!(
            got,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st",
                "111th"
            ]
        );
    }

    #[test]
    fn times() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_time(951_782_400 + 3661), "2000-02-29 01:01:01 UTC");
    }

    #[test]
    fn allowed_signers_lines() {
        let key =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPv+kc3h33OzICcVH60XmiPxljAV5fpSKRp22vR8sjM3";
        let s = AllowedSigners::parse(&format!(
            "# approvers\n\nalice@example.org namespaces=\"dbguard\" {key} alice\n\
             bob@example.org,carol@example.org {key}\n\
             \"dave@example.org\" namespaces=\"git,dbguard\" {key}\n"
        ))
        .unwrap();
        assert_eq!(s.entries.len(), 3);
        assert_eq!(s.entries[0].principals, ["alice@example.org"]);
        assert_eq!(s.entries[0].namespaces, Some(vec!["dbguard".to_owned()]));
        assert_eq!(
            s.entries[1].principals,
            ["bob@example.org", "carol@example.org"]
        );
        assert_eq!(s.entries[1].namespaces, None);
        assert_eq!(
            s.entries[2].namespaces,
            Some(vec!["git".to_owned(), "dbguard".to_owned()])
        );
        let s = AllowedSigners::parse(&format!(
            "ca@example.org cert-authority {key}\n\
             erin@example.org valid-after=\"20240101\",valid-before=\"20240102120000Z\" {key}\n"
        ))
        .unwrap();
        assert_eq!(s.entries.len(), 1, "the cert-authority line is skipped");
        assert_eq!(s.entries[0].valid_after, Some(1_704_067_200));
        assert_eq!(
            s.entries[0].valid_before,
            Some(1_704_067_200 + 86_400 + 43_200)
        );
        assert!(!s.entries[0].valid_at(1_704_067_199));
        assert!(s.entries[0].valid_at(1_704_067_200));
        assert!(!s.entries[0].valid_at(1_704_067_200 + 86_400 + 43_200));
        for bad in [
            format!("alice valid-after=\"2024-01-01\" {key}"),
            format!("alice frobnicate {key}"),
            "alice".to_owned(),
            "alice ssh-ed25519 AAAA".to_owned(),
            format!("alice namespaces=\"dbguard {key}"),
        ] {
            let e = AllowedSigners::parse(&bad).unwrap_err();
            assert!(e.message.starts_with("line 1: "), "{bad}: {}", e.message);
        }
    }

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
