//! The shell as the change pipeline's interface: what a change shows on
//! the operator's output (text or JSON), how the gate's questions are
//! answered (a terminal, tokens following a request in a piped script, or
//! nobody), and the progress line of a long apply.
//!
//! The shell, `exec`, `\undo` and `dbguard undo apply|replay` all drive
//! the pipeline through this one interface; what each prints for a write
//! or an undo is decided here, once, from the pipeline's report.

use std::io::Write;

use super::Format;
use super::progress::Progress;
use super::render::{DisplaySettings, Expanded, TableCollector};
use super::undo::{plan_text, report_text};
use crate::change::{
    Answers, Applied, Body, Detail, Interface, Next, Outcome, Preview, verdict_json, verdict_line,
};
use crate::db::{Canceller, ReadSummary, Returned, RowSink};
use crate::error::{Error, ErrorKind, Result};
use crate::impact::{self, Impact};
use crate::policy::verdict::Verdict;

/// Where the answers to the gate's questions come from.
pub(crate) enum Input<'s> {
    /// Lines typed at the terminal.
    Terminal,
    /// A piped script: approval tokens are taken from the lines that
    /// follow a request; any other line is left for the script.
    Script(&'s mut super::script::Script),
    /// Nobody answers.
    Nobody,
}

/// The pipeline's interface for one change.
pub(crate) struct Ui<'s> {
    out: &'s mut dyn Write,
    format: Format,
    style: impact::render::Style,
    input: Input<'s>,
    progress: Progress,
    /// The change is previewed only (`--dry-run`): undo JSON says so.
    dry_run: bool,
    /// How rows a write returned are shown, as the session shows a read's.
    display: DisplaySettings,
    /// The change's JSON object has been printed (nothing else is).
    pub printed_json: bool,
}

impl<'s> Ui<'s> {
    pub fn new(
        out: &'s mut dyn Write,
        format: Format,
        style: impact::render::Style,
        input: Input<'s>,
    ) -> Ui<'s> {
        Ui {
            out,
            format,
            style,
            input,
            progress: Progress::default(),
            dry_run: false,
            display: DisplaySettings {
                expanded: Expanded::Off,
                color: style.color,
                width: None,
                display_limit: usize::MAX,
                ..DisplaySettings::default()
            },
            printed_json: false,
        }
    }

    /// Shows the rows a write returns with the session's display settings.
    pub fn display(mut self, display: &DisplaySettings) -> Self {
        self.display = display.clone();
        self
    }

    /// Tells the interface the change is only previewed.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    fn print(&mut self, text: &str) -> Result<()> {
        super::render::write_flushed(&mut *self.out, text)
    }

    /// Asks the terminal `prompt`; nobody else answers, so anything but a
    /// terminal gets an empty answer.
    fn ask(&mut self, prompt: &str) -> Result<String> {
        match self.input {
            Input::Terminal => {
                self.out
                    .flush()
                    .map_err(|e| Error::io(format!("cannot write the question: {e}")))?;
                Ok(super::ask::ask(prompt)?.text())
            }
            _ => Ok(String::new()),
        }
    }

    fn print_json(&mut self, value: serde_json::Value) -> Result<()> {
        self.printed_json = true;
        self.print(&format!("{value}\n"))
    }
}

impl Interface for Ui<'_> {
    fn answers(&self) -> Answers {
        match self.input {
            Input::Terminal => Answers::Terminal,
            Input::Script { .. } => Answers::Script,
            Input::Nobody => Answers::Nobody,
        }
    }

    fn previewed(&mut self, preview: &Preview, verdict: &Verdict, next: Next) -> Result<()> {
        if self.format != Format::Text {
            return Ok(());
        }
        match &preview.body {
            Body::Write(impact) => {
                let mut text = impact::render::text(impact, self.style);
                text.push_str(&verdict_line(verdict));
                text.push('\n');
                // A preview nobody could see confirms nothing: the write
                // stops here, as a failure (not the quiet end of a read
                // into `head`).
                self.print(&text).map_err(|e| {
                    Error::refused(format!(
                        "{e}: the preview could not be shown; nothing was applied"
                    ))
                })
            }
            Body::Undo { plan, .. } => {
                let mut text = plan_text(plan);
                if next != Next::Fails {
                    text.push_str(&verdict_line(verdict));
                    text.push('\n');
                }
                match (self.print(&text), next) {
                    // The conflicts are the answer: output that cannot be
                    // written must not replace their exit status.
                    (Err(_), Next::Fails) => Ok(()),
                    // A plan nobody could see confirms nothing.
                    (Err(e), Next::Gate) => Err(Error::refused(format!(
                        "{e}: the undo's plan could not be shown; nothing was undone"
                    ))),
                    (other, _) => other,
                }
            }
            Body::Admin(action) => {
                let mut text = admin_text(action);
                match (&preview.failure, next) {
                    (Some(failure), Next::Fails) => text.push_str(&format!("{failure}\n")),
                    _ => {
                        text.push_str(&verdict_line(verdict));
                        text.push('\n');
                    }
                }
                self.print(&text).map_err(|e| {
                    Error::refused(format!(
                        "{e}: the session could not be shown; nothing was sent"
                    ))
                })
            }
            Body::Policy(change) => {
                let mut text = policy_text(change);
                text.push_str(&verdict_line(verdict));
                text.push('\n');
                self.print(&text).map_err(|e| {
                    Error::refused(format!(
                        "{e}: the policy's diff could not be shown; nothing was pushed"
                    ))
                })
            }
        }
    }

    fn confirm(&mut self, _: &Preview) -> Result<bool> {
        let answer =
            self.ask("Apply this change? Type apply (or yes) to run it; anything else cancels: ")?;
        let a = answer.trim().to_ascii_lowercase();
        Ok(a == "apply" || a == "yes")
    }

    fn offer_journal(&mut self, target: &str, creates: &str) -> Result<bool> {
        self.print(&format!(
            "{target} has no dbguard journal, so this change could not be undone.\nCreating it adds {creates}.\n"
        ))?;
        let answer = self.ask("Create it now? Type yes to create it; anything else cancels: ")?;
        Ok(answer.trim().eq_ignore_ascii_case("yes"))
    }

    fn request(&mut self, needed: u32, line: &str) -> Result<()> {
        self.print(&format!(
            "This change needs {needed} approval{}. Send this request to an approver, who runs: dbguard approve REQUEST\n{line}\nPaste the approval token (or a rejection), one per line; an empty line or Ctrl-C cancels.\n",
            if needed == 1 { "" } else { "s" }
        ))
    }

    fn token(&mut self) -> Result<Option<String>> {
        match &mut self.input {
            Input::Terminal => Ok(Some(self.ask("approval token> ")?)),
            Input::Script(script) => script.token(),
            Input::Nobody => Ok(None),
        }
    }

    fn token_refused(&mut self, why: &str) -> Result<()> {
        self.print(&format!("{why}\n"))
    }

    fn progress(&mut self, done: u64, total: u64) {
        self.progress.update(done, total);
    }

    fn busy(&mut self, cancel: Option<Canceller>) {
        if cancel.is_some() {
            self.progress.start();
        }
        super::interrupt::set_running(cancel);
    }

    fn finished(
        &mut self,
        preview: &Preview,
        verdict: &Verdict,
        outcome: &Result<Outcome>,
    ) -> Result<()> {
        self.progress.finish();
        if let Ok(Outcome::Applied(Applied {
            audit_warning: Some(w),
            ..
        })) = outcome
        {
            // Beside the output, whatever its format: the change stands.
            let _ = writeln!(std::io::stderr().lock(), "dbguard: warning: {w}");
        }
        match (&preview.body, self.format) {
            (Body::Write(impact), Format::Json) => {
                self.print_json(write_json(impact, verdict, outcome))
            }
            (Body::Write(_), Format::Text) => match outcome {
                Ok(Outcome::Applied(applied)) => {
                    let text = applied_text(applied) + &returned_text(applied, &self.display)?;
                    self.print(&text)
                }
                Ok(Outcome::Declined) => self.print("Not applied.\n"),
                _ => Ok(()),
            },
            (Body::Undo { undo_of, plan, .. }, format) => match (outcome, format) {
                (Ok(Outcome::Declined), _) => self.print("Not undone.\n"),
                (Ok(Outcome::Applied(applied)), Format::Text) => match &applied.detail {
                    Detail::Undo(report) => self.print(&report_text(report)),
                    Detail::Write { .. } | Detail::Policy | Detail::Admin => Ok(()),
                },
                (_, Format::Json) => {
                    let json = undo_json(*undo_of, plan, verdict, outcome, self.dry_run);
                    self.print_json(json)
                }
                _ => Ok(()),
            },
            (Body::Admin(action), Format::Json) => {
                self.print_json(admin_json(action, verdict, outcome))
            }
            (Body::Admin(action), Format::Text) => match outcome {
                Ok(Outcome::Applied(applied)) => self.print(&format!(
                    "Sent {}({}) as change {}: {}.\n",
                    action.call.function.sql_name(),
                    action.call.pid,
                    applied.change_id,
                    action.call.function.done()
                )),
                Ok(Outcome::Declined) => self.print("Not sent.\n"),
                _ => Ok(()),
            },
            (Body::Policy(change), Format::Json) => {
                self.print_json(policy_json(change, verdict, outcome))
            }
            (Body::Policy(change), Format::Text) => match outcome {
                Ok(Outcome::Applied(applied)) => self.print(&format!(
                    "Pinned policy {} as change {}: it governs this database from now on.\n",
                    change.digest, applied.change_id
                )),
                Ok(Outcome::Declined) => self.print("Not pushed.\n"),
                _ => Ok(()),
            },
        }
    }
}

/// An administrative change's preview: what it does to which session.
fn admin_text(action: &crate::change::AdminAction) -> String {
    let call = &action.call;
    let Some(s) = &action.session else {
        return format!(
            "{}({}): no session has pid {}\n",
            call.function.sql_name(),
            call.pid,
            call.pid
        );
    };
    let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    let mut text = format!(
        "{} {}: {} as {} on {}, from {}\n  {}, started {}",
        call.function.verb(),
        s.pid,
        if s.application.is_empty() {
            s.backend_type.clone()
        } else {
            format!("{} ({})", s.application, s.backend_type)
        },
        or_none(&s.user),
        or_none(&s.database),
        s.client
            .clone()
            .unwrap_or_else(|| "a local socket".to_owned()),
        or_none(&s.state),
        s.started
    );
    if let Some(age) = &s.transaction_age {
        text.push_str(&format!(", transaction open for {age}"));
    }
    if let Some(age) = &s.query_age {
        text.push_str(&format!(", query since {age} ago"));
    }
    text.push('\n');
    if let Some(q) = s.query.as_deref().filter(|q| !q.is_empty()) {
        let one_line: String = q.split_whitespace().collect::<Vec<_>>().join(" ");
        let shown: String = one_line.chars().take(200).collect();
        let more = if one_line.chars().count() > 200 {
            " ..."
        } else {
            ""
        };
        text.push_str(&format!("  query: {shown}{more}\n"));
    }
    if let Some(ms) = call.timeout_ms {
        text.push_str(&format!("  waits up to {ms} ms for the session to end\n"));
    }
    text.push_str("This cannot be undone.\n");
    text
}

/// An administrative change's JSON object: the call, the session, the
/// verdict, and how it ended.
fn admin_json(
    action: &crate::change::AdminAction,
    verdict: &Verdict,
    outcome: &Result<Outcome>,
) -> serde_json::Value {
    let v = serde_json::json!({
        "admin": action.call.function.sql_name(),
        "pid": action.call.pid,
        "timeout_ms": action.call.timeout_ms,
        "session": action.session,
        "verdict": verdict_json(verdict),
    });
    with_outcome(v, outcome)
}

/// `v` with how a change without rows ended: its change id, or the
/// request to send and the error.
fn with_outcome(mut v: serde_json::Value, outcome: &Result<Outcome>) -> serde_json::Value {
    if let Some(obj) = v.as_object_mut() {
        match outcome {
            Ok(Outcome::Applied(applied)) => {
                obj.insert("change_id".into(), applied.change_id.into());
            }
            Ok(_) => {}
            Err(e) => {
                if let Some(r) = &e.request {
                    obj.insert("request".into(), r.clone().into());
                }
                obj.insert("error".into(), e.message.clone().into());
            }
        }
    }
    v
}

/// A policy push's preview: what it replaces, and the diff.
fn policy_text(change: &crate::change::PolicyChange) -> String {
    let replaces = match &change.replaces {
        Some(old) => format!("replaces the pinned policy {old}"),
        None => "the first policy pinned in this database".to_owned(),
    };
    format!("policy {}: {replaces}\n{}", change.digest, change.diff)
}

/// A policy push's JSON object: what it pins and replaces, the diff, the
/// verdict, and how it ended.
fn policy_json(
    change: &crate::change::PolicyChange,
    verdict: &Verdict,
    outcome: &Result<Outcome>,
) -> serde_json::Value {
    let v = serde_json::json!({
        "policy": change.digest,
        "replaces": change.replaces,
        "diff": change.diff,
        "verdict": verdict_json(verdict),
    });
    with_outcome(v, outcome)
}

/// A write's one JSON object: the preview, the verdict, and how it ended.
fn write_json(impact: &Impact, verdict: &Verdict, outcome: &Result<Outcome>) -> serde_json::Value {
    let mut v = impact::render::json(impact);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("verdict".into(), verdict_json(verdict));
        match outcome {
            Ok(Outcome::Applied(applied)) => {
                obj.insert("change_id".into(), applied.change_id.into());
                if let Some(p) = &applied.partial {
                    obj.insert("partial".into(), p.clone().into());
                }
                if let Detail::Write {
                    returned: Some(r), ..
                } = &applied.detail
                {
                    obj.insert("returning".into(), returned_json(r));
                }
            }
            Ok(_) => {}
            Err(e) => {
                if let Some(r) = &e.request {
                    obj.insert("request".into(), r.clone().into());
                }
                if e.kind != ErrorKind::WouldFail {
                    obj.insert("error".into(), e.message.clone().into());
                }
            }
        }
    }
    v
}

/// An undo's JSON object: its plan, and how it ended.
fn undo_json(
    undo_of: i64,
    plan: &crate::undo::UndoPlan,
    verdict: &Verdict,
    outcome: &Result<Outcome>,
    dry_run: bool,
) -> serde_json::Value {
    match outcome {
        Ok(Outcome::Applied(Applied {
            detail: Detail::Undo(r),
            ..
        })) => serde_json::json!({
            "undo_of": undo_of,
            "change_id": r.change_id,
            "mode": r.mode,
            "plan": r.plan,
            "differences": r.differences,
            "skipped": r.skipped,
        }),
        Ok(_) => serde_json::json!({"undo_of": undo_of, "plan": plan, "dry_run": true}),
        Err(e) if e.kind == ErrorKind::WouldFail => {
            serde_json::json!({"undo_of": undo_of, "plan": plan, "dry_run": dry_run})
        }
        Err(e) => serde_json::json!({
            "undo_of": undo_of,
            "plan": plan,
            "verdict": verdict_json(verdict),
            "request": e.request,
            "error": e.message,
        }),
    }
}

/// The report after an apply: change id, rows per table, time, and the
/// command that undoes it.
fn applied_text(a: &Applied) -> String {
    let mut parts = Vec::new();
    if let Detail::Write { recorded, .. } = &a.detail {
        for (table, c) in recorded {
            let mut v = Vec::new();
            if c.deleted > 0 {
                v.push(format!("{} deleted", c.deleted));
            }
            if c.updated > 0 {
                v.push(format!("{} updated", c.updated));
            }
            if c.inserted > 0 {
                v.push(format!("{} inserted", c.inserted));
            }
            if !v.is_empty() {
                parts.push(format!("  {table}: {}", v.join(", ")));
            }
        }
    }
    let mut s = format!(
        "Applied as change {} in {:.0} ms; every changed row is in the journal.\n{}\n",
        a.change_id,
        a.elapsed.as_secs_f64() * 1000.0,
        parts.join("\n")
    );
    if let Some(p) = &a.partial {
        s.push_str(&format!("PARTIAL undo entry: {p}\n"));
    }
    s.push_str(&format!(
        "Undo with: \\undo {}   (or: dbguard undo apply {})\n",
        a.change_id, a.change_id
    ));
    s
}

/// The rows a write's own `RETURNING` list gave back, after its report, as
/// the table a read prints (with its row count, and how many were not
/// kept); nothing for a write without the list.
fn returned_text(a: &Applied, display: &DisplaySettings) -> Result<String> {
    let Detail::Write {
        returned: Some(r), ..
    } = &a.detail
    else {
        return Ok(String::new());
    };
    let mut table = TableCollector::new(display);
    table.columns(&r.columns)?;
    for row in &r.rows {
        table.row(row.clone())?;
    }
    Ok(table.render(&ReadSummary {
        rows: r.total,
        has_result: true,
    }))
}

/// The `returning` field of a write's JSON object: a read's object, the
/// rows kept and `row_count` every row returned.
fn returned_json(r: &Returned) -> serde_json::Value {
    let rows: Vec<Vec<Option<String>>> = r
        .rows
        .iter()
        .map(|row| row.iter().map(crate::db::Value::text).collect())
        .collect();
    serde_json::json!({
        "columns": r.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        "rows": rows,
        "row_count": r.total,
    })
}
