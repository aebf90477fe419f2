//! The TOML shapes of one policy file, as serde reads them: every value
//! that can be wrong keeps its span, so a problem names its line, and
//! unknown keys are refused (`deny_unknown_fields`), so a typo never
//! silently turns a check off. Turning them into a [`super::Policy`] is
//! `merge.rs`'s job.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::AssociationDecl;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct AssociationsSection {
    /// Infer associations from `<table>_id` column names (default true).
    #[serde(default)]
    pub(super) infer: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTarget {
    #[serde(default)]
    pub(super) urls: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub(super) hosts: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub(super) databases: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub(super) env: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    #[serde(default)]
    pub(super) lock_timeout: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) statement_timeout: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) max_rows: Option<Spanned<u64>>,
    #[serde(default)]
    pub(super) request_ttl: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    pub(super) name: Spanned<String>,
    #[serde(default)]
    pub(super) operations: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub(super) tables: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub(super) without_where: Option<bool>,
    #[serde(default)]
    pub(super) min_rows: Option<u64>,
    #[serde(default)]
    pub(super) min_total_rows: Option<u64>,
    #[serde(default)]
    pub(super) cascades: Option<bool>,
    #[serde(default)]
    pub(super) dangling: Option<bool>,
    #[serde(default)]
    pub(super) warnings: Option<bool>,
    pub(super) verdict: Spanned<String>,
    #[serde(default)]
    pub(super) approvals: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) from: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub(super) message: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PolicyFile {
    #[serde(default)]
    #[allow(dead_code)]
    pub(super) version: Option<toml::Value>,
    #[serde(default)]
    pub(super) default: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) target: Option<RawTarget>,
    #[serde(default)]
    pub(super) limits: Option<RawLimits>,
    #[serde(default)]
    pub(super) groups: Option<BTreeMap<String, Spanned<Vec<Spanned<String>>>>>,
    #[serde(default)]
    pub(super) rule: Vec<RawRule>,
    #[serde(default)]
    pub(super) association: Vec<Spanned<AssociationDecl>>,
    #[serde(default)]
    pub(super) associations: Option<AssociationsSection>,
}

/// Reads only `version`, whatever else the file holds.
#[derive(Debug, Deserialize)]
pub(super) struct VersionProbe {
    #[serde(default)]
    pub(super) version: Option<Spanned<toml::Value>>,
}
