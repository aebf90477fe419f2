//! The plan of a write typed by the operator (INSERT, UPDATE, DELETE,
//! TRUNCATE): previewed by `crate::impact`, applied by `super::apply`.

use super::{ApplyContext, Body, Context, Detail, Plan, Preview};
use crate::db::ApplyTx;
use crate::error::{Error, Result};
use crate::impact::{self, Action, Impact, PreviewOptions};
use crate::journal::{ChangeMeta, Recording};
use crate::policy::approval::Approval;
use crate::policy::verdict::VerdictInput;
use crate::schema::QualName;
use crate::sql::{Kind, Statement};

/// A write, as the classifier recognised it.
pub struct Write {
    statement: Statement,
    options: PreviewOptions,
    /// The impact recomputed in the apply's transaction, before its entry
    /// is written (`Plan::prepare`).
    fresh: Option<Impact>,
    /// How many of the rows its own `RETURNING` list gives back are kept
    /// to be shown.
    keep_returned: usize,
}

impl Write {
    /// A write of `statement`, previewed with `options`, keeping every
    /// row its own `RETURNING` list gives back.
    pub fn new(statement: Statement, options: PreviewOptions) -> Write {
        Write {
            statement,
            options,
            fresh: None,
            keep_returned: usize::MAX,
        }
    }

    /// Keeps only the first `rows` the statement's own `RETURNING` list
    /// gives back (the rest are counted), as a read shows one page.
    pub fn keep_returned(mut self, rows: usize) -> Write {
        self.keep_returned = rows;
        self
    }

    /// Whether policy sees a WHERE: one that holds for every row whatever
    /// the row (`WHERE 1 = 1`) filters nothing, nor does one the preview
    /// finds selecting every row of the table (`Impact::covers_every_row`);
    /// statements without the clause have none to miss.
    fn has_where(&self) -> bool {
        let s = &self.statement;
        (s.predicate.is_some() && !s.where_always_true)
            || !matches!(s.kind, Kind::Update | Kind::Delete)
    }
}

impl Plan for Write {
    fn preview(&mut self, cx: &mut Context<'_>) -> Result<Preview> {
        let impact = impact::preview(
            cx.conn,
            cx.schema,
            cx.policy,
            &self.statement,
            &self.options,
        )?;
        let failure = impact.will_fail.then(|| {
            impact
                .failures
                .first()
                .cloned()
                .unwrap_or_else(|| "the statement would fail".into())
        });
        Ok(Preview {
            statement: self.statement.text.clone(),
            digest: impact.digest.clone(),
            facts: facts(&impact, self.has_where() && !impact.covers_every_row),
            summary: summary(&impact),
            audit: serde_json::json!({
                "statement": self.statement.text,
                "digest": impact.digest,
                "totals": impact::render::json(&impact)["totals"],
                "will_fail": impact.will_fail,
            }),
            failure,
            label: Some(self.statement.recognised()),
            body: Body::Write(Box::new(impact)),
        })
    }

    fn meta(&self, cx: &Context<'_>, preview: &Preview) -> Result<ChangeMeta> {
        let impact_json = match &preview.body {
            Body::Write(impact) => impact::render::json(impact).to_string(),
            Body::Undo { .. } | Body::Policy(_) | Body::Admin(_) => String::new(),
        };
        Ok(ChangeMeta::for_target(
            cx.conn.identity(),
            &cx.operator,
            &self.statement.text,
            preview.kind(),
            &preview.digest,
            impact_json,
        ))
    }

    fn prepare(
        &mut self,
        cx: &ApplyContext<'_>,
        tx: &mut dyn ApplyTx,
        preview: &Preview,
    ) -> Result<()> {
        let Body::Write(confirmed) = &preview.body else {
            return Err(Error::io("a write was given another plan's preview"));
        };
        self.fresh = Some(super::apply::recompute(cx, tx, &self.statement, confirmed)?);
        Ok(())
    }

    fn apply(
        &mut self,
        cx: &ApplyContext<'_>,
        tx: &mut dyn ApplyTx,
        rec: &mut Recording,
        _: &Preview,
        _: &mut dyn FnMut(u64, u64),
    ) -> Result<(Detail, Option<String>)> {
        let fresh = self
            .fresh
            .take()
            .ok_or_else(|| Error::io("a write was applied without being prepared"))?;
        let done = super::apply::write(cx, tx, rec, &self.statement, &fresh, self.keep_returned)?;
        Ok((
            Detail::Write {
                recorded: done.recorded,
                returned: done.returned,
            },
            done.partial,
        ))
    }

    fn applied_audit(
        &self,
        preview: &Preview,
        _: &Detail,
        partial: Option<&str>,
        approvals: &[Approval],
    ) -> (&'static str, serde_json::Value) {
        (
            "apply",
            serde_json::json!({
                "statement": self.statement.text,
                "digest": preview.digest,
                "approvals": approvals,
                "partial": partial,
            }),
        )
    }
}

/// What policy judges about a previewed write.
fn facts(impact: &Impact, has_where: bool) -> VerdictInput {
    let total_rows = impact
        .totals
        .values()
        .map(|t| t.delete + t.update + t.insert)
        .sum();
    let reaches = |action: Action| {
        impact
            .effects
            .iter()
            .any(|e| e.action == action && e.rows.unwrap_or(1) > 0)
    };
    VerdictInput {
        kind: impact.kind,
        table: impact.target.table.clone(),
        has_where,
        target_rows: impact.target.rows.unwrap_or(u64::MAX),
        total_rows: if impact.bounded { total_rows } else { u64::MAX },
        has_cascades: reaches(Action::Cascade),
        has_dangling: reaches(Action::Dangling),
        has_warnings: !impact.warnings.is_empty(),
        tables: impact
            .totals
            .iter()
            .filter(|(_, t)| t.delete + t.update + t.insert > 0)
            .map(|(n, _)| n.clone())
            .collect::<Vec<QualName>>(),
    }
}

/// What an approver is shown of a previewed write.
fn summary(impact: &Impact) -> serde_json::Value {
    let effects: Vec<serde_json::Value> = impact
        .effects
        .iter()
        .map(|e| {
            serde_json::json!({
                "table": e.table.to_string(),
                "action": e.action.name(),
                "via": e.via,
                "rows": e.rows,
            })
        })
        .collect();
    let totals: serde_json::Map<String, serde_json::Value> = impact
        .totals
        .iter()
        .map(|(t, v)| {
            (
                t.to_string(),
                serde_json::json!({"delete": v.delete, "update": v.update, "insert": v.insert}),
            )
        })
        .collect();
    serde_json::json!({
        "target": {"table": impact.target.table.to_string(), "rows": impact.target.rows},
        "totals": totals,
        "effects": effects,
        "will_fail": impact.will_fail,
        "warnings": impact.warnings,
    })
}
