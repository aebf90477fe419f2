//! The change pipeline: the lifecycle every change goes through, written
//! once.
//!
//! ```text
//! plan ─► preview ─► verdict ─► audit ─► gate ─► guarded apply + journal entry
//!                                          │        (+ approvals used, audit record: one transaction)
//!                          confirmation or approvals, asked through the Interface
//! ```
//!
//! A [`Plan`] knows one kind of change: how to preview it from the live
//! database, how to describe its journal entry, and how to apply exactly
//! what it previewed inside a guarded transaction (a write typed at the
//! prompt, `plan::Write`; an undo or a replay of a journaled change,
//! `plan::Undo`). An [`Interface`] is whoever drives the change: it shows
//! the preview and the outcome, and answers the gate's questions (the
//! shell and `exec` on a terminal or a pipe, `undo apply`, tests). The
//! pipeline owns everything in between, the same for every plan and every
//! interface: the policy verdict, the audit trail (a record that cannot be
//! written stops the change: it is a step, not a message), the gate, and
//! the guarded transaction, which writes the change, its journal entry, the
//! approvals that let it through and its audit record, and commits them
//! together or not at all.
//!
//! The next plans (schema changes, changesets) and interfaces (a live
//! approver) plug in here without touching the steps.

mod admin;
mod apply;
mod gate;
mod policy;
mod undo;
mod write;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub use admin::{Admin, AdminAction};
pub use apply::ApplyOptions;
pub(crate) use gate::{verdict_json, verdict_line};
pub use policy::{PolicyChange, PolicyPush};
pub use undo::Undo;
pub use write::Write;

use crate::db::{ApplyTx, Connection, TableCounts};
use crate::error::{Error, ErrorKind, Result};
use crate::impact::Impact;
use crate::journal::trail::Trail;
use crate::journal::{ApprovalUse, ChangeMeta, Recording};
use crate::model::ChangeKind;
use crate::policy::Policy;
use crate::policy::approval::Approval;
use crate::policy::verdict::{Decision, Verdict, VerdictInput};
use crate::schema::Schema;
use crate::undo::{UndoPlan, UndoReport};

/// How a change is decided and applied, as the operator asked.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Preview only: the verdict is shown (a denial still refuses), nothing
    /// is asked or applied.
    pub dry_run: bool,
    /// Confirmation given in advance (`--yes`).
    pub yes: bool,
    /// Approval tokens given in advance (`--token`).
    pub tokens: Vec<String>,
    /// The operator's SSH key (`--key`, else the default key): a change
    /// that needs approval needs the operator proven by it.
    pub key: Option<std::path::PathBuf>,
    pub apply: ApplyOptions,
}

/// How an interface can answer the gate's questions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answers {
    /// Someone at a terminal answers questions and pastes tokens.
    Terminal,
    /// A piped script: no questions, but approval tokens may follow a
    /// printed request on the input (a program driving the shell).
    Script,
    /// Nobody answers: what is not given in advance is refused.
    Nobody,
}

/// What happens after a preview, so an interface can say what matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// The change would fail: it stops here.
    Fails,
    /// A dry run: it stops here (a denial is still reported).
    DryRun,
    /// The gate decides.
    Gate,
}

/// Whoever drives a change: shows what the pipeline reports, answers what
/// it asks.
pub trait Interface {
    /// How questions are answered.
    fn answers(&self) -> Answers;
    /// The preview and its verdict, before anything is decided.
    fn previewed(&mut self, preview: &Preview, verdict: &Verdict, next: Next) -> Result<()>;
    /// Asks the operator whether to apply the change previewed; `true`
    /// applies it. Only asked of a [`Answers::Terminal`] interface.
    fn confirm(&mut self, preview: &Preview) -> Result<bool>;
    /// The target has no journal, so the change could not be undone:
    /// says what creating it would create, and asks whether to (`true`
    /// creates it). Only asked of a [`Answers::Terminal`] interface.
    fn offer_journal(&mut self, target: &str, creates: &str) -> Result<bool>;
    /// The change needs `needed` approvals: shows the request line to
    /// send to an approver, before tokens are asked for.
    fn request(&mut self, needed: u32, line: &str) -> Result<()>;
    /// The next approval token; `None` (or an empty one) when the operator
    /// gives up, or no token follows.
    fn token(&mut self) -> Result<Option<String>>;
    /// A token given was refused, or the ones given are not enough yet:
    /// why, for the operator.
    fn token_refused(&mut self, why: &str) -> Result<()>;
    /// Rows done of a total, while a change applies.
    fn progress(&mut self, done: u64, total: u64);
    /// Work on the target starts (with what cancels it) or ends (`None`):
    /// an interface may let the operator cancel the running statement.
    fn busy(&mut self, cancel: Option<crate::db::Canceller>);
    /// How the change ended.
    fn finished(
        &mut self,
        preview: &Preview,
        verdict: &Verdict,
        outcome: &Result<Outcome>,
    ) -> Result<()>;
}

/// What a change will do, as its plan previewed it.
#[derive(Debug, Clone)]
pub struct Preview {
    /// The statement as journaled, audited and shown to approvers.
    pub statement: String,
    /// What approvals bind to: the target, the statement and the impact.
    pub digest: String,
    /// What policy judges.
    pub facts: VerdictInput,
    /// What an approver is shown of it (the request's summary).
    pub summary: serde_json::Value,
    /// The audit record of the preview.
    pub audit: serde_json::Value,
    /// Why it would fail, when it would.
    pub failure: Option<String>,
    /// What a refusal of the gate is prefixed with (`DELETE on t WHERE
    /// ...`), when the plan has a recognised statement.
    pub label: Option<String>,
    pub body: Body,
}

impl Preview {
    /// The kind of change previewed.
    pub fn kind(&self) -> ChangeKind {
        self.facts.kind
    }
}

/// The plan-specific part of a preview, for interfaces to render.
#[derive(Debug, Clone)]
pub enum Body {
    /// A write's effects tree.
    Write(Box<Impact>),
    /// An undo's plan of rows and conflicts.
    Undo {
        undo_of: i64,
        plan: UndoPlan,
        /// The data version the plan was read at; the apply reuses the
        /// plan while it is still the data's (`crate::undo::Undo::restore`).
        data_version: Option<String>,
    },
    /// A policy push: what it replaces, and the diff.
    Policy(PolicyChange),
    /// An administrative call: the session it acts on.
    Admin(AdminAction),
}

/// How a change ended.
#[derive(Debug)]
pub enum Outcome {
    /// A dry run: previewed, and that is all.
    Previewed,
    /// The operator said no.
    Declined,
    /// Applied and journaled.
    Applied(Applied),
}

/// A committed change.
#[derive(Debug)]
pub struct Applied {
    pub change_id: i64,
    pub elapsed: Duration,
    /// Set when the change is only partly covered by its undo entry.
    pub partial: Option<String>,
    /// The approvals that let it through.
    pub approvals: Vec<Approval>,
    pub detail: Detail,
    /// Set when its audit record is committed but not yet chained.
    pub audit_warning: Option<String>,
}

/// What a plan's apply reports.
#[derive(Debug)]
pub enum Detail {
    /// Rows recorded per table and operation, and the rows the
    /// statement's own `RETURNING` list gave back, if it has one.
    Write {
        recorded: BTreeMap<String, TableCounts>,
        returned: Option<crate::db::Returned>,
    },
    Undo(Box<UndoReport>),
    /// A policy pinned.
    Policy,
    /// A session signalled.
    Admin,
}

/// One kind of change: previewed, described, applied.
pub trait Plan {
    /// What the change will do, computed from the live database without
    /// writing anything.
    fn preview(&mut self, cx: &mut Context<'_>) -> Result<Preview>;
    /// The change's journal entry.
    fn meta(&self, cx: &Context<'_>, preview: &Preview) -> Result<ChangeMeta>;
    /// Checks, inside the guarded transaction and before anything is
    /// written in it, that the database is still as `preview` showed.
    fn prepare(
        &mut self,
        _cx: &ApplyContext<'_>,
        _tx: &mut dyn ApplyTx,
        _preview: &Preview,
    ) -> Result<()> {
        Ok(())
    }
    /// Applies exactly what `preview` showed inside the guarded
    /// transaction `tx`, recording every row it changes in `rec`; drift
    /// from the preview is an error and nothing commits. Returns what it
    /// did and, where the entry cannot cover everything, why.
    fn apply(
        &mut self,
        cx: &ApplyContext<'_>,
        tx: &mut dyn ApplyTx,
        rec: &mut Recording,
        preview: &Preview,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<(Detail, Option<String>)>;
    /// What cannot be rolled back, done last in the guarded transaction,
    /// once the entry, the approvals it consumes and its audit record are
    /// written: anything that fails before it leaves nothing done, and
    /// only the commit comes after it.
    fn irreversible(&mut self, _tx: &mut dyn ApplyTx) -> Result<()> {
        Ok(())
    }
    /// The audit record of the applied change: its event and detail.
    fn applied_audit(
        &self,
        preview: &Preview,
        detail: &Detail,
        partial: Option<&str>,
        approvals: &[Approval],
    ) -> (&'static str, serde_json::Value);
}

/// The journal entry of a change that holds no rows (a policy push, an
/// administrative call): its statement, and the summary an approver saw
/// as its impact.
fn summary_meta(cx: &Context<'_>, statement: &str, preview: &Preview) -> ChangeMeta {
    ChangeMeta::for_target(
        cx.conn.identity(),
        &cx.operator,
        statement,
        preview.kind(),
        &preview.digest,
        preview.summary.to_string(),
    )
}

/// `e`, saying the audit trail could not record `what` (`audit`).
fn unrecorded(mut e: Error, what: &str, audit: &Error) -> Error {
    e.message = format!(
        "{}\n(the audit trail could not record {what}: {})",
        e.message, audit.message
    );
    e
}

/// The policy that judged the change must still be the one the database
/// pins: a push since the session started (or a first one) governs what
/// is applied from then on, and this change was judged by the other.
fn policy_still_governs(tx: &mut dyn ApplyTx, policy: &Policy) -> Result<()> {
    let now = crate::journal::policy::pinned_in(tx)?.map(|p| p.digest);
    if now == policy.pinned {
        return Ok(());
    }
    Err(Error::drift(format!(
        "the policy pinned in this database is {} now, not the one this session judged the change by; nothing was applied\nStart a new session, so the policy that governs now judges it.",
        now.as_deref()
            .map_or("none", crate::journal::policy::short_digest)
    )))
}

/// An approval as the journal records its use.
fn approval_use(a: &Approval) -> ApprovalUse {
    ApprovalUse {
        principal: a.principal.clone(),
        fingerprint: a.fingerprint.clone(),
        nonce: a.nonce.clone(),
        signed_at: a.signed_at,
        used_at: None,
    }
}

/// What a plan's preview and apply run against.
pub struct Context<'a> {
    pub conn: &'a mut Connection,
    /// Where audit records go: the target's trail and the witness.
    pub trail: &'a mut Trail,
    pub policy: &'a Policy,
    pub schema: &'a Schema,
    /// Who makes the change: the name the session goes by, until a key
    /// proves who the operator is (a change that needs approval), from
    /// when on the journal and the trail record that principal.
    pub operator: String,
    pub options: &'a Options,
}

/// What a plan's apply may read while the guarded transaction runs.
pub struct ApplyContext<'a> {
    pub identity: &'a crate::db::TargetIdentity,
    /// Who makes the change ([`Context::operator`]).
    pub operator: &'a str,
    pub policy: &'a Policy,
    pub schema: &'a Schema,
    pub options: &'a Options,
}

impl Context<'_> {
    /// Runs `plan` through the whole lifecycle, driven by `ui`.
    pub fn run(&mut self, plan: &mut dyn Plan, ui: &mut dyn Interface) -> Result<Outcome> {
        ui.busy(Some(self.conn.canceller()));
        let preview = plan.preview(self);
        ui.busy(None);
        let mut preview = preview.map_err(|e| self.stopped(e))?;
        // What an approver signs includes the leave to commit writes the
        // journal cannot undo: a token for the change without it does not
        // cover it.
        if self.options.apply.allow_uncovered
            && let Some(summary) = preview.summary.as_object_mut()
        {
            summary.insert("allow_uncovered".into(), true.into());
        }
        let verdict = self.policy.verdict(&preview.facts);
        // Queued: they go in with the change, or with whatever ends it.
        self.trail
            .queue(
                self.conn,
                &self.operator,
                &[
                    ("preview", None, preview.audit.clone()),
                    ("verdict", None, verdict_json(&verdict)),
                ],
            )
            .map_err(|e| e.context("cannot write the audit trail; nothing was applied"))?;
        let next = if preview.failure.is_some() {
            Next::Fails
        } else if self.options.dry_run {
            Next::DryRun
        } else {
            Next::Gate
        };
        ui.previewed(&preview, &verdict, next)
            .map_err(|e| self.stopped(e))?;
        let outcome = self.decide_and_apply(plan, &preview, &verdict, ui);
        let outcome = match outcome {
            Err(e) if e.kind != ErrorKind::WouldFail => Err(self.refused(&preview, e)),
            other => self.settled(other),
        };
        let shown = ui.finished(&preview, &verdict, &outcome);
        // A refusal is the answer: output that cannot be written must not
        // replace its exit status.
        let outcome = outcome?;
        shown?;
        Ok(outcome)
    }

    /// Everything after the preview: a failure, a dry run, the gate, the
    /// apply.
    fn decide_and_apply(
        &mut self,
        plan: &mut dyn Plan,
        preview: &Preview,
        verdict: &Verdict,
        ui: &mut dyn Interface,
    ) -> Result<Outcome> {
        if let Some(failure) = &preview.failure {
            return Err(Error::new(ErrorKind::WouldFail, failure.clone()));
        }
        // A dry run that could not count says so in its status: a script
        // must not read "fine" from a preview that did not finish.
        if self.options.dry_run
            && let Body::Write(impact) = &preview.body
            && !impact.bounded
        {
            return Err(Error::refused(
                "the preview did not finish counting within its time limit, so the change's size is unknown; nothing was run\nRaise --preview-timeout, or narrow the WHERE.",
            ));
        }
        // A dry run asks nothing; a denial it still reports (exit 2)
        // through the gate, which refuses every denied change.
        if self.options.dry_run && verdict.decision != Decision::Deny {
            return Ok(Outcome::Previewed);
        }
        let passed =
            gate::decide(self, preview, verdict, ui).map_err(|e| match &preview.label {
                Some(label) if e.kind == ErrorKind::Refused => e.context(label),
                _ => e,
            })?;
        if passed.cancelled {
            self.audit(
                "refusal",
                None,
                serde_json::json!({"statement": preview.statement, "reason": "cancelled by the operator"}),
            )?;
            return Ok(Outcome::Declined);
        }
        // After the verdict and the operator's answer: a change that is
        // not applied anyway needs no journal.
        if !self.journal_ready(ui)? {
            self.audit(
                "refusal",
                None,
                serde_json::json!({"statement": preview.statement, "reason": "the operator did not create the journal"}),
            )?;
            return Ok(Outcome::Declined);
        }
        let applied = self.apply(plan, preview, passed.approvals, ui)?;
        Ok(Outcome::Applied(applied))
    }

    /// The preview, with its data version moved past the audit records
    /// this session appended since it was read: they are the only writes
    /// in between when nobody else committed, and the apply may then trust
    /// the preview's counts (`apply::unchanged_since`).
    fn refreshed(&mut self, preview: &Preview) -> Result<Preview> {
        let mut preview = preview.clone();
        let version = match &mut preview.body {
            Body::Write(impact) => &mut impact.data_version,
            Body::Undo { data_version, .. } => data_version,
            Body::Policy(_) | Body::Admin(_) => return Ok(preview),
        };
        if let Some(old) = version {
            *version = self.conn.refresh_version(old)?;
        }
        Ok(preview)
    }

    /// A change is applied only where its undo can be journaled: a target
    /// without a journal gets one when the operator at a terminal says so
    /// (`false` when they decline); anyone else is refused with the
    /// command that creates it.
    fn journal_ready(&mut self, ui: &mut dyn Interface) -> Result<bool> {
        if self.trail.in_target() {
            return Ok(true);
        }
        let identity = self.conn.identity().clone();
        match crate::journal::state(self.conn)? {
            crate::journal::JournalState::Current => {
                self.trail.set_in_target(true);
                return Ok(true);
            }
            crate::journal::JournalState::Missing => {}
            // Older or newer: `init` migrates or refuses, saying which.
            _ => {
                crate::journal::init(self.conn, &self.operator)?;
                self.trail.set_in_target(true);
                return Ok(true);
            }
        }
        let creates = crate::journal::describe_location(identity.engine);
        if ui.answers() == Answers::Terminal {
            if !ui.offer_journal(&identity.display, &creates)? {
                return Ok(false);
            }
            crate::journal::init(self.conn, &self.operator)?;
            self.trail.set_in_target(true);
            return Ok(true);
        }
        Err(crate::journal::schema::missing(&identity.display))
    }

    /// The guarded transaction: the plan's apply, its journal entry, the
    /// approvals it consumes and its audit record, committed together.
    fn apply(
        &mut self,
        plan: &mut dyn Plan,
        preview: &Preview,
        approvals: Vec<Approval>,
        ui: &mut dyn Interface,
    ) -> Result<Applied> {
        let started = Instant::now();
        let preview = &self.refreshed(preview)?;
        let meta = plan.meta(self, preview)?;
        let identity = self.conn.identity().clone();
        let operator = self.operator.clone();
        let cx = ApplyContext {
            identity: &identity,
            operator: &operator,
            policy: self.policy,
            schema: self.schema,
            options: self.options,
        };
        let guard = self.options.apply.guard.clone();
        let uses: Vec<ApprovalUse> = approvals.iter().map(approval_use).collect();
        ui.busy(Some(self.conn.canceller()));
        let mut progress = |done, total| ui.progress(done, total);
        // What the session queued (the statement, its preview, verdict and
        // approvals) commits with the change.
        let queued = self.trail.take_queued();
        let applied = self.conn.guarded(&guard, |tx| {
            policy_still_governs(tx, cx.policy)?;
            plan.prepare(&cx, tx, preview)?;
            let mut rec = Recording::begin(tx, &meta)?;
            crate::crash::point("after_begin");
            let (detail, partial) = plan.apply(&cx, tx, &mut rec, preview, &mut progress)?;
            rec.approvals(tx, &uses)?;
            let seal = rec.finish(tx)?;
            let (event, mut audit) =
                plan.applied_audit(preview, &detail, partial.as_deref(), &approvals);
            audit["seal"] = seal;
            rec.audit(
                tx,
                &queued,
                event,
                &operator,
                Some(&identity.display),
                audit,
            )
            .map_err(|e| e.context("cannot write the audit trail; nothing was applied"))?;
            plan.irreversible(tx)?;
            let id = rec.id();
            crate::crash::point("before_commit");
            Ok((id, detail, partial))
        });
        ui.busy(None);
        let (change_id, detail, partial) = match applied {
            Ok(a) => a,
            Err(e) => {
                self.trail.requeue(queued);
                return Err(e);
            }
        };
        crate::crash::point("after_commit");
        // The change and its audit record are committed; linking the record
        // into the chain can fail only now, and the next append retries it.
        let audit_warning = self.trail.flush(self.conn).err().map(|e| {
            format!(
                "the change is committed, but its audit record could not be linked into the chain yet ({e}); the next audit append links it"
            )
        });
        Ok(Applied {
            change_id,
            elapsed: started.elapsed(),
            partial,
            approvals,
            detail,
            audit_warning,
        })
    }

    /// Writes what the session queued about a change that ends without a
    /// refusal (previewed only, failing, declined): nothing may end
    /// unrecorded. A trail that cannot record it turns the outcome into
    /// that error, except for an applied change, which says so instead.
    fn settled(&mut self, outcome: Result<Outcome>) -> Result<Outcome> {
        let settled = self.trail.settle(self.conn, &self.operator);
        match (outcome, settled) {
            (outcome, Ok(())) => outcome,
            (Ok(Outcome::Applied(mut a)), Err(e)) => {
                a.audit_warning.get_or_insert(format!(
                    "the change is committed, but the audit trail could not record what came before it ({e})"
                ));
                Ok(Outcome::Applied(a))
            }
            (Err(outcome), Err(e)) => Err(unrecorded(outcome, "it", &e)),
            (Ok(_), Err(e)) => Err(e.context("cannot write the audit trail")),
        }
    }

    /// Writes what the session queued about a change that stopped with
    /// `e` before its verdict was acted on; `e` stays the answer.
    fn stopped(&mut self, e: Error) -> Error {
        match self.trail.settle(self.conn, &self.operator) {
            Ok(()) => e,
            Err(audit) => unrecorded(e, "it", &audit),
        }
    }

    /// Records a refusal; the refusal stays the answer, and a trail that
    /// cannot record it says so.
    fn refused(&mut self, preview: &Preview, e: Error) -> Error {
        let detail = serde_json::json!({"statement": preview.statement, "reason": e.message});
        match self.audit("refusal", None, detail) {
            Ok(()) => e,
            Err(audit) => unrecorded(e, "this refusal", &audit),
        }
    }

    /// Appends one audit event; a trail that cannot record it stops the
    /// change.
    pub(crate) fn audit(
        &mut self,
        event: &str,
        change_id: Option<i64>,
        detail: serde_json::Value,
    ) -> Result<()> {
        self.trail
            .append(self.conn, &self.operator, &[(event, change_id, detail)])
            .map(|_| ())
            .map_err(|e| e.context("cannot write the audit trail; nothing was applied"))
    }
}
