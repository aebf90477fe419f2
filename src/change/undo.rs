//! The plan of an undo of a journaled change, on its own target or, as a
//! replay, on another database: previewed and applied by `crate::undo`.

use sha2::{Digest, Sha256};

use super::{ApplyContext, Body, Context, Detail, Plan, Preview};
use crate::db::ApplyTx;
use crate::error::Result;
use crate::journal::{ChangeMeta, Recording};
use crate::model::ChangeKind;
use crate::policy::approval::Approval;
use crate::policy::verdict::VerdictInput;
use crate::schema::QualName;
/// An undo of one loaded change, as a change of its own.
pub struct Undo {
    undo: crate::undo::Undo,
    /// Whether the apply's transaction found the data at the version the
    /// preview read it (moved past this session's own writes since): the
    /// previewed plan is then the plan, and is not read again.
    unchanged: bool,
}

impl Undo {
    pub fn new(undo: crate::undo::Undo) -> Undo {
        Undo {
            undo,
            unchanged: false,
        }
    }
}

impl Plan for Undo {
    fn preview(&mut self, cx: &mut Context<'_>) -> Result<Preview> {
        self.undo.check_columns(cx.schema)?;
        let (plan, data_version) = self.undo.preview(cx.conn)?;
        let loaded = self.undo.loaded();
        let change = &loaded.change;
        let id = change.id;
        let statement = format!("UNDO change {id}: {}", change.meta.statement);
        let canonical =
            serde_json::json!({"undo_of": id, "digest": change.meta.digest, "plan": plan.tables});
        let digest = base16ct::lower::encode_string(&Sha256::digest(canonical.to_string()));
        let tables: Vec<QualName> = loaded.tables.iter().map(|t| t.info.qual_name()).collect();
        let rows = change.row_count.max(0) as u64;
        let conflicts = plan.conflicts.len();
        Ok(Preview {
            facts: VerdictInput {
                kind: ChangeKind::Undo,
                table: tables
                    .first()
                    .cloned()
                    .unwrap_or_else(|| QualName::new(None, "?")),
                has_where: true,
                target_rows: rows,
                total_rows: rows,
                has_cascades: false,
                has_dangling: false,
                has_warnings: plan.partial.is_some(),
                tables,
            },
            summary: serde_json::json!({"undo_of": id, "plan": plan.tables, "conflicts": conflicts}),
            audit: serde_json::json!({"statement": statement, "digest": digest, "undo_of": id, "conflicts": conflicts}),
            failure: (conflicts > 0 && !self.undo.force())
                .then(|| format!("change {id} cannot be undone: {conflicts} conflicting row(s)")),
            label: None,
            statement,
            digest,
            body: Body::Undo {
                undo_of: id,
                plan,
                data_version,
            },
        })
    }

    /// Before the entry is begun, while the transaction has written
    /// nothing: whether anyone committed since the preview.
    fn prepare(
        &mut self,
        _: &ApplyContext<'_>,
        tx: &mut dyn ApplyTx,
        preview: &Preview,
    ) -> Result<()> {
        self.unchanged = match &preview.body {
            Body::Undo { data_version, .. } => {
                crate::undo::plan_holds(tx, data_version.as_deref())?
            }
            _ => false,
        };
        Ok(())
    }

    fn meta(&self, cx: &Context<'_>, _: &Preview) -> Result<ChangeMeta> {
        Ok(self.undo.meta(cx.conn.identity(), &cx.operator))
    }

    fn apply(
        &mut self,
        cx: &ApplyContext<'_>,
        tx: &mut dyn ApplyTx,
        rec: &mut Recording,
        preview: &Preview,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<(Detail, Option<String>)> {
        self.undo.allow_uncovered(cx.options.apply.allow_uncovered);
        let unchanged = match &preview.body {
            Body::Undo { plan, .. } if self.unchanged => Some(plan),
            _ => None,
        };
        let report = self.undo.restore(tx, rec, cx.schema, unchanged, progress)?;
        Ok((Detail::Undo(Box::new(report)), None))
    }

    fn applied_audit(
        &self,
        _: &Preview,
        detail: &Detail,
        _: Option<&str>,
        approvals: &[Approval],
    ) -> (&'static str, serde_json::Value) {
        let (mode, skipped) = match detail {
            Detail::Undo(report) => (Some(report.mode), report.skipped),
            Detail::Write { .. } | Detail::Policy | Detail::Admin => (None, 0),
        };
        (
            "undo",
            serde_json::json!({
                "undo_of": self.undo.loaded().change.id,
                "mode": mode,
                "approvals": approvals,
                "skipped": skipped,
            }),
        )
    }
}
