//! The approvers: an OpenSSH `allowed_signers` file (`policies/approvers`),
//! the format git uses for SSH commit signing (see `ssh-keygen(1)`, section
//! ALLOWED SIGNERS), read by the gate to learn whose key signed a token.

use std::path::Path;

use ssh_key::{HashAlg, PublicKey};

use crate::error::{Error, Result};

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
    pub(super) fn allows(&self, namespace: &str) -> bool {
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
    pub(super) fn lists(&self, key: &PublicKey) -> bool {
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

/// `SHA256:...` fingerprint of a key.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
