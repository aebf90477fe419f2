//! The plan of a policy push (`dbguard policy push DIR`): pinning a
//! directory's policy in the database, as a change like any other.
//!
//! Its preview is what changes between the pinned policy and the new one
//! (a unified diff of each file), which a request shows its approver; its
//! verdict is the pinned policy's for `operations = ["policy"]` (the first
//! push, on a database that pins none, is the caller's to allow); its
//! apply adds the new version to the journal's `policies` table in the
//! guarded transaction, after checking that the pinned version is still
//! the one the preview diffed against. The journal entry holds no rows:
//! a push is undone by pushing the earlier policy.

use sha2::{Digest, Sha256};

use super::{ApplyContext, Body, Context, Detail, Plan, Preview};
use crate::db::ApplyTx;
use crate::error::{Error, Result};
use crate::journal::policy::pinned_in;
use crate::journal::{ChangeMeta, Recording};
use crate::model::ChangeKind;
use crate::policy::approval::Approval;
use crate::policy::source::PolicySource;
use crate::policy::verdict::VerdictInput;
use crate::schema::QualName;

/// A policy to pin, from the directory it was read from.
pub struct PolicyPush {
    source: PolicySource,
    /// How the statement names it: `POLICY PUSH <dir>`.
    statement: String,
}

impl PolicyPush {
    pub fn new(source: PolicySource, dir: &std::path::Path) -> PolicyPush {
        PolicyPush {
            statement: format!(
                "POLICY PUSH {} ({})",
                dir.display(),
                crate::journal::policy::short_digest(&source.digest())
            ),
            source,
        }
    }
}

/// What a push replaces and what it pins, for interfaces to render.
#[derive(Debug, Clone)]
pub struct PolicyChange {
    pub digest: String,
    /// The digest of the policy it replaces; `None` for the first push.
    pub replaces: Option<String>,
    /// A unified diff per file, from the pinned policy to this one.
    pub diff: String,
}

impl Plan for PolicyPush {
    fn preview(&mut self, cx: &mut Context<'_>) -> Result<Preview> {
        let pinned = cx
            .conn
            .preview(std::time::Duration::from_secs(30), pinned_in)?;
        let old = match &pinned {
            Some(row) => PolicySource::from_json(&row.files)?,
            None => PolicySource::default(),
        };
        let new_digest = self.source.digest();
        let replaces = pinned.map(|p| p.digest);
        if replaces.as_deref() == Some(new_digest.as_str()) {
            return Err(Error::input(format!(
                "{} already pins this policy ({}); nothing was pushed",
                cx.conn.identity().display,
                crate::journal::policy::short_digest(&new_digest)
            )));
        }
        let diff = diff(&old, &self.source);
        let identity = cx.conn.identity();
        let canonical = serde_json::json!({
            "policy_push": new_digest,
            "replaces": replaces,
            "database": identity.database,
            "system_identifier": identity.system_identifier,
        });
        let digest = base16ct::lower::encode_string(&Sha256::digest(canonical.to_string()));
        let table = QualName::new(None, "policy");
        let summary = serde_json::json!({
            "policy": {"digest": new_digest, "replaces": replaces, "diff": diff},
        });
        Ok(Preview {
            statement: self.statement.clone(),
            facts: VerdictInput::one_object(ChangeKind::Policy, table, 1),
            audit: serde_json::json!({"statement": self.statement, "digest": digest, "policy": new_digest, "replaces": replaces}),
            summary,
            failure: None,
            label: Some("POLICY PUSH".to_owned()),
            digest,
            body: Body::Policy(PolicyChange {
                digest: new_digest,
                replaces,
                diff,
            }),
        })
    }

    fn meta(&self, cx: &Context<'_>, preview: &Preview) -> Result<ChangeMeta> {
        Ok(super::summary_meta(cx, &self.statement, preview))
    }

    /// The policy pinned now must be the one the preview diffed against:
    /// another push in between is drift, and this one is asked again.
    fn prepare(
        &mut self,
        _: &ApplyContext<'_>,
        tx: &mut dyn ApplyTx,
        preview: &Preview,
    ) -> Result<()> {
        let Body::Policy(change) = &preview.body else {
            return Err(Error::io("a policy push was given another plan's preview"));
        };
        let now = pinned_in(tx)?.map(|p| p.digest);
        if now != change.replaces {
            return Err(Error::drift(format!(
                "the policy pinned in this database changed since the preview (now {}); nothing was pushed\nPush again to see what it replaces.",
                now.as_deref()
                    .map_or("none", crate::journal::policy::short_digest)
            )));
        }
        Ok(())
    }

    fn apply(
        &mut self,
        cx: &ApplyContext<'_>,
        tx: &mut dyn ApplyTx,
        _: &mut Recording,
        preview: &Preview,
        _: &mut dyn FnMut(u64, u64),
    ) -> Result<(Detail, Option<String>)> {
        let Body::Policy(change) = &preview.body else {
            return Err(Error::io("a policy push was given another plan's preview"));
        };
        crate::journal::policy::pin_in(tx, &self.source.to_json(), &change.digest, cx.operator)?;
        Ok((Detail::Policy, None))
    }

    fn applied_audit(
        &self,
        preview: &Preview,
        _: &Detail,
        _: Option<&str>,
        approvals: &[Approval],
    ) -> (&'static str, serde_json::Value) {
        let (digest, replaces) = match &preview.body {
            Body::Policy(c) => (Some(c.digest.clone()), c.replaces.clone()),
            _ => (None, None),
        };
        (
            "policy_push",
            serde_json::json!({"digest": digest, "replaces": replaces, "approvals": approvals}),
        )
    }
}

/// Each file's unified diff from `old` to `new`, files in name order;
/// files only one side has are diffed against nothing.
fn diff(old: &PolicySource, new: &PolicySource) -> String {
    let mut names: Vec<&String> = old.files.keys().chain(new.files.keys()).collect();
    names.sort();
    names.dedup();
    let mut out = String::new();
    for name in names {
        let a = old.files.get(name).map_or("", String::as_str);
        let b = new.files.get(name).map_or("", String::as_str);
        if a == b {
            continue;
        }
        let text = similar::TextDiff::from_lines(a, b)
            .unified_diff()
            .header(&format!("pinned/{name}"), &format!("pushed/{name}"))
            .to_string();
        out.push_str(&text);
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}
