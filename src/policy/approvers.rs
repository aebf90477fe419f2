//! `policies/approvers`: who may approve, in OpenSSH `allowed_signers`
//! format (the format git uses for SSH commit signing, see
//! `ssh-keygen(1)`, section ALLOWED SIGNERS):
//!
//! ```text
//! # principal[,principal...] [options] keytype base64-key [comment]
//! alice@example.org namespaces="dbguard" ssh-ed25519 AAAAC3Nza... alice laptop
//! bob@example.org,robert@example.org ssh-ed25519 AAAAC3Nza...
//! ```
//!
//! Options: `namespaces="a,b"` (the key may only sign in these namespaces;
//! dbguard signs in `dbguard`), `valid-after="YYYYMMDD[HHMM[SS]][Z]"`,
//! `valid-before="..."` (times without `Z` are read as UTC too), and
//! `cert-authority` (not supported by dbguard: such lines are ignored with a
//! warning).

use ssh_key::{HashAlg, PublicKey};

/// The signature namespace dbguard approvals use.
pub const NAMESPACE: &str = "dbguard";

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

/// One line of the approvers file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approver {
    /// The principals (e-mail-like names) this key speaks for.
    pub principals: Vec<String>,
    /// `namespaces="..."`, when given: the only namespaces the key may sign.
    pub namespaces: Option<Vec<String>>,
    /// `valid-after`, as Unix seconds (UTC).
    pub valid_after: Option<i64>,
    /// `valid-before`, as Unix seconds (UTC).
    pub valid_before: Option<i64>,
    pub key: PublicKey,
    /// 1-based line in the approvers file.
    pub line: usize,
}

impl Approver {
    /// `SHA256:...`, as `ssh-keygen -l` prints it.
    pub fn fingerprint(&self) -> String {
        self.key.fingerprint(HashAlg::Sha256).to_string()
    }

    /// Whether this key may sign dbguard approvals (namespace option).
    pub fn allows_dbguard(&self) -> bool {
        self.namespaces
            .as_ref()
            .is_none_or(|ns| ns.iter().any(|n| n == NAMESPACE))
    }

    /// Whether `valid-after`/`valid-before` allow a signature at `unix`
    /// seconds.
    pub fn valid_at(&self, unix: i64) -> bool {
        self.valid_after.is_none_or(|a| unix >= a) && self.valid_before.is_none_or(|b| unix < b)
    }
}

/// A problem on one line (errors make the line unusable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineProblem {
    pub line: usize,
    pub error: bool,
    pub message: String,
}

/// Parses the whole file: the usable approvers and the problems found.
pub fn parse(text: &str) -> (Vec<Approver>, Vec<LineProblem>) {
    let mut approvers = Vec::new();
    let mut problems = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match parse_line(trimmed, line) {
            Ok((approver, warnings)) => {
                problems.extend(warnings.into_iter().map(|message| LineProblem {
                    line,
                    error: false,
                    message,
                }));
                if let Some(a) = approver {
                    approvers.push(a);
                }
            }
            Err(message) => problems.push(LineProblem {
                line,
                error: true,
                message,
            }),
        }
    }
    (approvers, problems)
}

const LINE_HELP: &str = "expected `principal[,principal...] [options] keytype base64-key [comment]`, \
     like `alice@example.org namespaces=\"dbguard\" ssh-ed25519 AAAA...`";

type Parsed = (Option<Approver>, Vec<String>);

fn parse_line(text: &str, line: usize) -> Result<Parsed, String> {
    let toks = tokens(text)?;
    let mut warnings = Vec::new();
    let principals_tok = toks[0];
    let (options_tok, key_at) = match toks.get(1) {
        None => return Err(format!("only a principal, no key: {LINE_HELP}")),
        Some(t) if is_key_type(t) => (None, 1),
        Some(t)
            if !t.contains('=')
                && !t.eq_ignore_ascii_case("cert-authority")
                && !toks.get(2).is_some_and(|k| is_key_type(k)) =>
        {
            return Err(unknown_key_type(t));
        }
        Some(t) => (Some(*t), 2),
    };
    let Some(keytype) = toks.get(key_at) else {
        return Err(format!("no key after the options: {LINE_HELP}"));
    };
    if !is_key_type(keytype) {
        return Err(unknown_key_type(keytype));
    }
    let Some(base64) = toks.get(key_at + 1) else {
        return Err(format!(
            "the {keytype} key is missing its base64 part: {LINE_HELP}"
        ));
    };
    let key = PublicKey::from_openssh(&format!("{keytype} {base64}"))
        .map_err(|e| format!("the {keytype} key does not parse ({e}); copy the whole line of the approver's .pub file"))?;

    let mut principals = Vec::new();
    for p in principals_tok.split(',') {
        if p.is_empty() {
            return Err(format!(
                "empty principal in {principals_tok:?} (separate principals with commas, no spaces)"
            ));
        }
        principals.push(p.to_owned());
    }

    let mut approver = Approver {
        principals,
        namespaces: None,
        valid_after: None,
        valid_before: None,
        key,
        line,
    };
    let mut cert_authority = false;
    if let Some(opts) = options_tok {
        for opt in split_options(opts) {
            let (name, value) = match opt.split_once('=') {
                Some((n, v)) => (n, Some(unquote(v)?)),
                None => (opt, None),
            };
            match (name.to_ascii_lowercase().as_str(), value) {
                ("cert-authority", None) => cert_authority = true,
                ("namespaces", Some(v)) => {
                    approver.namespaces = Some(v.split(',').map(str::to_owned).collect())
                }
                ("valid-after", Some(v)) => approver.valid_after = Some(parse_time(&v)?),
                ("valid-before", Some(v)) => approver.valid_before = Some(parse_time(&v)?),
                ("namespaces" | "valid-after" | "valid-before", None) => {
                    return Err(format!("option {name} needs a value, like {name}=\"...\""));
                }
                _ => {
                    return Err(format!(
                        "unknown option {opt:?} (known: namespaces=\"dbguard\", valid-after=\"...\", valid-before=\"...\", cert-authority)"
                    ));
                }
            }
        }
    }
    if cert_authority {
        warnings.push(
            "cert-authority keys are not supported by dbguard; this line is ignored (list each approver's own key)"
                .to_owned(),
        );
        return Ok((None, warnings));
    }
    if !approver.allows_dbguard() {
        warnings.push(format!(
            "namespaces=\"{}\" does not include \"{NAMESPACE}\", so this key cannot approve dbguard changes (add {NAMESPACE} to the list)",
            approver.namespaces.as_deref().unwrap_or_default().join(",")
        ));
    }
    Ok((Some(approver), warnings))
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
fn tokens(text: &str) -> Result<Vec<&str>, String> {
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
        return Err("unbalanced double quote".to_owned());
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

fn unquote(v: &str) -> Result<String, String> {
    match v.strip_prefix('"') {
        Some(inner) => inner
            .strip_suffix('"')
            .map(str::to_owned)
            .ok_or_else(|| format!("unbalanced quote in {v:?}")),
        None => Ok(v.to_owned()),
    }
}

/// `YYYYMMDD[HHMM[SS]][Z]` as Unix seconds, UTC.
fn parse_time(v: &str) -> Result<i64, String> {
    let bad = || format!("time {v:?} is not YYYYMMDD[HHMM[SS]][Z]");
    let digits = v.strip_suffix(['Z', 'z']).unwrap_or(v);
    if !digits.chars().all(|c| c.is_ascii_digit()) || ![8, 12, 14].contains(&digits.len()) {
        return Err(bad());
    }
    let num =
        |r: std::ops::Range<usize>| digits.get(r).map_or(0, |s| s.parse::<i64>().unwrap_or(0));
    let (y, mo, d) = (num(0..4), num(4..6), num(6..8));
    let (h, mi, s) = (num(8..10), num(10..12), num(12..14));
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 59 {
        return Err(bad());
    }
    Ok(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s)
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILk827vTCuPGOHHj533GYvQg0z4iu0h7gFQYuTIfsonl";

    #[test]
    fn parses_lines_with_and_without_options() {
        let text = format!(
            "# approvers\n\nalice@example.org {KEY} alice laptop\n\
             bob@example.org,robert@example.org namespaces=\"git,dbguard\",valid-before=\"20991231Z\" {KEY}\n"
        );
        let (approvers, problems) = parse(&text);
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
        let (approvers, problems) = parse(&text);
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
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }
}
