//! The approvers: `policies/approvers`, in OpenSSH `allowed_signers`
//! format (the format git uses for SSH commit signing, see
//! `ssh-keygen(1)`, section ALLOWED SIGNERS):
//!
//! ```text
//! # principal[,principal...] [options] keytype base64-key [comment]
//! alice@example.org namespaces="dbguard" ssh-ed25519 AAAAC3Nza... alice laptop
//! bob@example.org,robert@example.org ssh-ed25519 AAAAC3Nza...
//! "carol@example.org,caroline@example.org" ssh-ed25519 AAAAC3Nza...
//! ```
//!
//! The principal list may be quoted, as OpenSSH allows. Options:
//! `namespaces="a,b"` (the key may only sign in these namespaces; dbguard
//! signs in `dbguard`), `valid-after="YYYYMMDD[HHMM[SS]][Z]"`,
//! `valid-before="..."` (times without `Z` are read as UTC too), and
//! `cert-authority` (not supported by dbguard: such lines are ignored with a
//! warning, since a CA key must never count as an approver's own key).
//!
//! There is one parser, so the gate that verifies tokens and `dbguard
//! policy check` can never disagree about what a line says. It reports
//! every line's problems ([`AllowedSigners::parse_checked`], for policy
//! check); the gate takes the entries and refuses a file with any error
//! ([`AllowedSigners::parse`]).

use std::path::Path;

use jiff::ToSpan;
use jiff::civil::Date;
use jiff::tz::Offset;
use ssh_key::{HashAlg, PublicKey};

use super::token::NAMESPACE;
use crate::error::{Error, Result};

/// Key types accepted in the key field.
const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ssh-dss",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

const LINE_HELP: &str = "expected `principal[,principal...] [options] keytype base64-key [comment]`, \
     like `alice@example.org namespaces=\"dbguard\" ssh-ed25519 AAAA...`";

const KNOWN_OPTIONS: &str =
    "known: namespaces=\"dbguard\", valid-after=\"...\", valid-before=\"...\", cert-authority";

/// The gate's words for a line without a key.
const NO_KEY: &str = "no key after the principals (expected e.g. `ssh-ed25519 AAAA...`)";

/// One usable line of the approvers file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// The principals (e-mail-like names) this key speaks for.
    pub principals: Vec<String>,
    /// The `namespaces="..."` option; `None` means every namespace.
    pub namespaces: Option<Vec<String>>,
    pub key: PublicKey,
    /// `valid-after="YYYYMMDD[HHMM[SS]][Z]"`, as Unix seconds (read as UTC).
    pub valid_after: Option<i64>,
    /// `valid-before="..."`, as Unix seconds (read as UTC).
    pub valid_before: Option<i64>,
    /// 1-based line in the approvers file.
    pub line: usize,
}

impl Signer {
    /// Whether this key may sign in `namespace` (the namespaces option).
    pub fn allows(&self, namespace: &str) -> bool {
        self.namespaces
            .as_ref()
            .is_none_or(|list| list.iter().any(|n| n == namespace))
    }

    /// Whether this key may sign dbguard approvals.
    pub(crate) fn allows_dbguard(&self) -> bool {
        self.allows(NAMESPACE)
    }

    /// Whether `valid-after`/`valid-before` allow a signature at `unix`.
    pub(crate) fn valid_at(&self, unix: i64) -> bool {
        self.valid_after.is_none_or(|a| unix >= a) && self.valid_before.is_none_or(|b| unix < b)
    }

    /// `SHA256:...`, as `ssh-keygen -l` prints it.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.key)
    }
}

/// `SHA256:...` fingerprint of a key, as `ssh-keygen -l` prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// A problem on one line of the approvers file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LineProblem {
    /// 1-based.
    pub line: usize,
    /// Errors make the line unusable; warnings do not.
    pub error: bool,
    /// What `policy check` prints: the problem and how to fix it.
    pub message: String,
    /// The gate's one-line wording of an error, kept from before the two
    /// parsers became one so its refusals read as they did.
    short: String,
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

    /// Parses allowed_signers text, refusing it at the first line with an
    /// error (`line N: ...`). Warnings (`cert-authority` lines, which are
    /// skipped; keys outside namespace `dbguard`) do not refuse it.
    pub fn parse(text: &str) -> Result<AllowedSigners> {
        let (signers, problems) = Self::parse_checked(text);
        match problems.into_iter().find(|p| p.error) {
            Some(p) => Err(Error::input(format!("line {}: {}", p.line, p.short))),
            None => Ok(signers),
        }
    }

    /// Parses allowed_signers text: the usable entries, and every line's
    /// problems in line order.
    pub(crate) fn parse_checked(text: &str) -> (AllowedSigners, Vec<LineProblem>) {
        let mut entries = Vec::new();
        let mut problems = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            match parse_line(trimmed, line) {
                Ok((signer, warnings)) => {
                    problems.extend(warnings.into_iter().map(|message| LineProblem {
                        line,
                        error: false,
                        short: message.clone(),
                        message,
                    }));
                    entries.extend(signer);
                }
                Err(e) => problems.push(LineProblem {
                    line,
                    error: true,
                    message: e.message,
                    short: e.short,
                }),
            }
        }
        (AllowedSigners { entries }, problems)
    }

    /// The principals listed for `key` whose entry allows `namespace`.
    pub(crate) fn principals_for(&self, key: &PublicKey, namespace: &str) -> Vec<String> {
        self.principals_where(key, |e| e.allows(namespace))
    }

    /// Like [`Self::principals_for`], only entries valid at `unix`.
    pub(crate) fn principals_valid_at(
        &self,
        key: &PublicKey,
        namespace: &str,
        unix: i64,
    ) -> Vec<String> {
        self.principals_where(key, |e| e.allows(namespace) && e.valid_at(unix))
    }

    /// Whether the key is listed at all (whatever the namespaces).
    pub(super) fn lists(&self, key: &PublicKey) -> bool {
        self.entries
            .iter()
            .any(|e| e.key.key_data() == key.key_data())
    }

    fn principals_where(&self, key: &PublicKey, keep: impl Fn(&Signer) -> bool) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for e in &self.entries {
            if e.key.key_data() == key.key_data() && keep(e) {
                for p in &e.principals {
                    if !out.contains(p) {
                        out.push(p.clone());
                    }
                }
            }
        }
        out
    }
}

/// What makes a line unusable, in both users' words.
#[derive(Debug)]
struct LineError {
    message: String,
    short: String,
}

impl LineError {
    fn new(message: String, short: impl Into<String>) -> LineError {
        LineError {
            message,
            short: short.into(),
        }
    }
}

/// Problems the gate did not report before it shared this parser read the
/// same for both.
impl From<String> for LineError {
    fn from(message: String) -> LineError {
        LineError {
            short: message.clone(),
            message,
        }
    }
}

/// A usable line's entry (`None` for a skipped `cert-authority` line) and
/// its warnings.
type Parsed = (Option<Signer>, Vec<String>);

fn parse_line(text: &str, line: usize) -> std::result::Result<Parsed, LineError> {
    let toks = tokens(text)?;
    let (principals_tok, options_tok, key) = key_fields(&toks)?;
    let mut signer = Signer {
        principals: principals(principals_tok)?,
        namespaces: None,
        valid_after: None,
        valid_before: None,
        key,
        line,
    };
    let cert_authority = match options_tok {
        Some(opts) => apply_options(&mut signer, opts)?,
        None => false,
    };
    if cert_authority {
        let warning = "cert-authority keys are not supported by dbguard; this line is ignored (list each approver's own key)";
        return Ok((None, vec![warning.to_owned()]));
    }
    let mut warnings = Vec::new();
    // An operator's key that only proves who asks is listed in the
    // operator namespace alone, on purpose.
    if !signer.allows_dbguard() && !signer.allows(super::OPERATOR_NAMESPACE) {
        warnings.push(format!(
            "namespaces=\"{}\" does not include \"{NAMESPACE}\", so this key cannot approve dbguard changes (add {NAMESPACE} to the list, or {} for an operator who does not approve)",
            signer.namespaces.as_deref().unwrap_or_default().join(","),
            super::OPERATOR_NAMESPACE
        ));
    }
    Ok((Some(signer), warnings))
}

/// The principals token, the options token (if any) and the parsed key.
fn key_fields<'t>(
    toks: &[&'t str],
) -> std::result::Result<(&'t str, Option<&'t str>, PublicKey), LineError> {
    let Some(&principals_tok) = toks.first() else {
        return Err(LineError::new(
            format!("only a principal, no key: {LINE_HELP}"),
            NO_KEY,
        ));
    };
    let (options_tok, key_at) = match toks.get(1) {
        None => {
            return Err(LineError::new(
                format!("only a principal, no key: {LINE_HELP}"),
                NO_KEY,
            ));
        }
        Some(t) if is_key_type(t) => (None, 1),
        Some(t)
            if !t.contains('=')
                && !t.eq_ignore_ascii_case("cert-authority")
                && !toks.get(2).is_some_and(|k| is_key_type(k)) =>
        {
            return Err(unknown_key_type(t).into());
        }
        Some(t) => (Some(*t), 2),
    };
    let Some(keytype) = toks.get(key_at) else {
        return Err(LineError::new(
            format!("no key after the options: {LINE_HELP}"),
            NO_KEY,
        ));
    };
    if !is_key_type(keytype) {
        return Err(unknown_key_type(keytype).into());
    }
    let Some(base64) = toks.get(key_at + 1) else {
        return Err(LineError::new(
            format!("the {keytype} key is missing its base64 part: {LINE_HELP}"),
            "the key's base64 is missing",
        ));
    };
    let key = PublicKey::from_openssh(&format!("{keytype} {base64}")).map_err(|e| {
        LineError::new(
            format!("the {keytype} key does not parse ({e}); copy the whole line of the approver's .pub file"),
            format!("the key does not parse ({e})"),
        )
    })?;
    Ok((principals_tok, options_tok, key))
}

/// `a,b` or `"a,b"`: comma-separated, spaces around names ignored.
fn principals(tok: &str) -> std::result::Result<Vec<String>, LineError> {
    let list = unquote(tok)?;
    let principals: Vec<String> = list.split(',').map(|p| p.trim().to_owned()).collect();
    if principals.iter().all(String::is_empty) {
        return Err(LineError::new(
            format!("empty principal in {list:?} (separate principals with commas, no spaces)"),
            "no principal before the key",
        ));
    }
    if principals.iter().any(String::is_empty) {
        return Err(format!(
            "empty principal in {list:?} (separate principals with commas, no spaces)"
        )
        .into());
    }
    Ok(principals)
}

/// Applies `namespaces`, `valid-after` and `valid-before` to `signer`;
/// true for `cert-authority`.
fn apply_options(signer: &mut Signer, opts: &str) -> std::result::Result<bool, LineError> {
    let mut cert_authority = false;
    for opt in split_options(opts) {
        let (name, value) = match opt.split_once('=') {
            Some((n, v)) => (n, Some(unquote(v)?)),
            None => (opt, None),
        };
        match (name.to_ascii_lowercase().as_str(), value) {
            ("cert-authority", None) => cert_authority = true,
            ("namespaces", Some(v)) => {
                signer.namespaces = Some(
                    v.split(',')
                        .map(|n| n.trim().to_owned())
                        .filter(|n| !n.is_empty())
                        .collect(),
                )
            }
            ("valid-after", Some(v)) => signer.valid_after = Some(option_time(&v)?),
            ("valid-before", Some(v)) => signer.valid_before = Some(option_time(&v)?),
            ("namespaces", None) => {
                return Err(LineError::new(
                    format!("option {name} needs a value, like {name}=\"...\""),
                    "namespaces needs a value: namespaces=\"dbguard\"",
                ));
            }
            ("valid-after" | "valid-before", None) => {
                return Err(format!("option {name} needs a value, like {name}=\"...\"").into());
            }
            _ => {
                return Err(LineError::new(
                    format!("unknown option {opt:?} ({KNOWN_OPTIONS})"),
                    format!("unknown option `{opt}` ({KNOWN_OPTIONS}), or the key type is missing"),
                ));
            }
        }
    }
    Ok(cert_authority)
}

fn option_time(v: &str) -> std::result::Result<i64, LineError> {
    let v = v.trim();
    parse_time(v).ok_or_else(|| {
        LineError::new(
            format!("time {v:?} is not YYYYMMDD[HHMM[SS]][Z]"),
            format!("time `{v}` is not YYYYMMDD[HHMM[SS]][Z]"),
        )
    })
}

fn unknown_key_type(t: &str) -> String {
    if t.ends_with("-cert-v01@openssh.com") {
        return format!(
            "{t:?} is a certificate type; list the approver's plain public key (the .pub file) instead"
        );
    }
    format!(
        "unknown key type {t:?} (expected one of {})",
        KEY_TYPES.join(", ")
    )
}

fn is_key_type(t: &str) -> bool {
    KEY_TYPES.contains(&t)
}

/// Whitespace-separated tokens; double quotes protect spaces.
fn tokens(text: &str) -> std::result::Result<Vec<&str>, LineError> {
    let mut out = Vec::new();
    let mut start = None;
    let mut quoted = false;
    for (i, c) in text.char_indices() {
        match (c, start) {
            ('"', _) => {
                quoted = !quoted;
                start.get_or_insert(i);
            }
            (c, Some(s)) if c.is_whitespace() && !quoted => {
                out.push(&text[s..i]);
                start = None;
            }
            (c, None) if c.is_whitespace() => {}
            (_, None) => start = Some(i),
            _ => {}
        }
    }
    if quoted {
        return Err(LineError::new(
            "unbalanced double quote".to_owned(),
            "unterminated quote",
        ));
    }
    if let Some(s) = start {
        out.push(&text[s..]);
    }
    Ok(out)
}

/// Splits `a="x,y",b` at commas outside quotes.
fn split_options(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

fn unquote(v: &str) -> std::result::Result<String, LineError> {
    match v.strip_prefix('"') {
        Some(inner) => inner
            .strip_suffix('"')
            .map(str::to_owned)
            .ok_or_else(|| format!("unbalanced quote in {v:?}").into()),
        None => Ok(v.to_owned()),
    }
}

/// `YYYYMMDD[HHMM[SS]][Z]` as Unix seconds, read as UTC with or without
/// the `Z`. As in OpenSSH (strptime, then timegm), a day past the end of
/// its month runs on into the next one, so both read a file alike.
fn parse_time(v: &str) -> Option<i64> {
    let digits = v.strip_suffix(['Z', 'z']).unwrap_or(v);
    if !digits.bytes().all(|c| c.is_ascii_digit()) || ![8, 12, 14].contains(&digits.len()) {
        return None;
    }
    // Two ASCII digits each (a missing time part is 0), so they fit an i8.
    let two = |at: usize| {
        digits
            .get(at..at + 2)
            .map_or(Some(0), |s| s.parse::<i8>().ok())
    };
    let year: i16 = digits.get(0..4)?.parse().ok()?;
    let (month, day) = (two(4)?, two(6)?);
    let (hour, minute, second) = (two(8)?, two(10)?, two(12)?);
    if !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let date = Date::new(year, month, 1)
        .ok()?
        .checked_add((day - 1).days())
        .ok()?;
    let at = Offset::UTC
        .to_timestamp(date.at(hour, minute, second, 0))
        .ok()?;
    Some(at.as_second())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILk827vTCuPGOHHj533GYvQg0z4iu0h7gFQYuTIfsonl";

    fn parse_all(text: &str) -> (Vec<Signer>, Vec<LineProblem>) {
        let (signers, problems) = AllowedSigners::parse_checked(text);
        (signers.entries, problems)
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
    fn parses_lines_with_and_without_options() {
        let text = format!(
            "# approvers\n\nalice@example.org {KEY} alice laptop\n\
             bob@example.org,robert@example.org namespaces=\"git,dbguard\",valid-before=\"20991231Z\" {KEY}\n"
        );
        let (approvers, problems) = parse_all(&text);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(approvers.len(), 2);
        assert_eq!(approvers[0].principals, ["alice@example.org"]);
        assert_eq!(approvers[0].line, 3);
        assert_eq!(
            approvers[1].principals,
            ["bob@example.org", "robert@example.org"]
        );
        assert!(approvers[1].allows_dbguard());
        assert!(approvers[1].valid_at(0));
        assert!(!approvers[1].valid_at(4_200_000_000));
        assert!(approvers[0].fingerprint().starts_with("SHA256:"));
    }

    #[test]
    fn reports_broken_lines() {
        let text = format!(
            "alice@example.org\n\
             bob@example.org ssh-ed25519 AAAAnotbase64!\n\
             carol@example.org ssh-foo AAAA\n\
             dave@example.org frobnicate=\"1\" {KEY}\n\
             erin@example.org namespaces=\"git\" {KEY}\n\
             frank@example.org valid-after=\"2024\" {KEY}\n"
        );
        let (approvers, problems) = parse_all(&text);
        assert_eq!(approvers.len(), 1, "{problems:?}");
        let msgs: Vec<_> = problems
            .iter()
            .map(|p| (p.line, p.error, p.message.as_str()))
            .collect();
        assert!(msgs[0].2.contains("no key"), "{msgs:?}");
        assert!(msgs[1].2.contains("does not parse"), "{msgs:?}");
        assert!(
            msgs[2].2.contains("unknown key type \"ssh-foo\""),
            "{msgs:?}"
        );
        assert!(msgs[3].2.contains("unknown option"), "{msgs:?}");
        assert!(
            msgs[4].2.contains("cannot approve") && !msgs[4].1,
            "{msgs:?}"
        );
        assert!(msgs[5].2.contains("not YYYYMMDD"), "{msgs:?}");
        assert_eq!(parse_time("20000301"), Some(11_017 * 86_400));
    }

    /// The bug of two parsers: the gate unquoted a quoted principal list,
    /// policy check did not.
    #[test]
    fn quoted_principal_lists_are_unquoted_for_both_users() {
        let text =
            format!("\"alice@example.org, bob@example.org\" namespaces=\"git, dbguard\" {KEY}\n");
        let (approvers, problems) = parse_all(&text);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            approvers[0].principals,
            ["alice@example.org", "bob@example.org"]
        );
        assert!(approvers[0].allows_dbguard());
        let gate = AllowedSigners::parse(&text).unwrap();
        assert_eq!(gate.entries, approvers);
    }

    /// Each problem reads as policy check printed it, and the gate's
    /// refusal as the gate worded it.
    #[test]
    fn both_wordings_of_a_broken_key() {
        let (_, problems) = parse_all("alice@example.org ssh-ed25519 AAAAnotakey\n");
        assert!(
            problems[0]
                .message
                .starts_with("the ssh-ed25519 key does not parse ("),
            "{problems:?}"
        );
        assert!(
            problems[0]
                .message
                .ends_with("; copy the whole line of the approver's .pub file")
        );
        let e =
            AllowedSigners::parse("\n\nalice@example.org ssh-ed25519 AAAAnotakey\n").unwrap_err();
        assert!(
            e.message.starts_with("line 3: the key does not parse ("),
            "{}",
            e.message
        );
        let e = AllowedSigners::parse(&format!("\"\" {KEY}")).unwrap_err();
        assert_eq!(e.message, "line 1: no principal before the key");
        let e = AllowedSigners::parse(&format!("a valid-after=\"2024\" {KEY}")).unwrap_err();
        assert_eq!(
            e.message,
            "line 1: time `2024` is not YYYYMMDD[HHMM[SS]][Z]"
        );
    }

    #[test]
    fn times_read_as_utc_and_roll_over_like_openssh() {
        assert_eq!(parse_time("19700101"), Some(0));
        assert_eq!(parse_time("19700101000001Z"), Some(1));
        assert_eq!(parse_time("197001010001z"), Some(60));
        assert_eq!(parse_time("20240231"), parse_time("20240302"));
        for bad in [
            "2024",
            "2024010",
            "20240101T",
            "20241301",
            "20240100",
            "20240132",
            "202401012400",
            "20240101235960",
            "２０２４0101",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }
}
