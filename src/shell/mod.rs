//! The shell: the REPL loop, script mode, meta commands, and the guard that
//! decides what each statement may do.
//!
//! One code path runs every statement, whether typed at the prompt, piped
//! in like `psql -f`, or given to `dbguard exec`: [`Shell::run_text`] splits
//! the input, classifies each statement and either runs it as a read (in a
//! read-only transaction), runs an allowed session setting, or refuses it
//! with what it recognised. Nothing the classifier could not place is run.

pub mod complete;
pub mod describe;
pub mod gate;
pub mod progress;
pub mod render;
pub mod undo;

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Instant;

use crate::apply::ApplyOptions;
use crate::db::{Canceller, Connection, Engine};
use crate::error::{Error, ErrorKind, Result};
use crate::impact::{self, PreviewOptions};
use crate::journal::Journal;
use crate::policy::Policy;
use crate::schema::Schema;
use crate::sql::{self, Kind};
use render::{DisplaySettings, Expanded};

/// What the shell knows about its session, besides the connection.
pub struct Shell {
    conn: Connection,
    schema: Arc<RwLock<Schema>>,
    pub display: DisplaySettings,
    pub format: Format,
    pub timing: bool,
    pub env_label: Option<String>,
    pub operator: String,
    pub policy: Policy,
    pub preview: PreviewOptions,
    /// Show sample rows in previews (`\samples`).
    pub samples: bool,
    /// `exec --dry-run`: a preview is the whole answer for a write.
    pub dry_run: bool,
    /// `exec --yes`: apply confirmed writes without asking.
    pub yes: bool,
    /// Approval tokens given with `--token`.
    pub tokens: Vec<String>,
    /// The piped input being run as a script, and a line read ahead.
    script: Option<Box<dyn BufRead>>,
    pushback: Option<String>,
    /// Confirmation can be asked (stdin is a terminal).
    pub interactive: bool,
    pub apply: ApplyOptions,
    journal_path: Option<PathBuf>,
    journal: Option<Journal>,
    /// The current statement's JSON object was already printed.
    json_printed: bool,
    /// Statements whose preview said they would fail.
    pub would_fail: usize,
    /// Statements refused because the database drifted since the preview.
    pub drifted: usize,
    /// The kind of every failure, in order (exec's exit status).
    pub failure_kinds: Vec<ErrorKind>,
    /// Output can no longer be written (its reader went away): the
    /// session ends with this error, quietly.
    closed: Option<Error>,
    out: Box<dyn Write>,
    err: Box<dyn Write>,
}

/// The statement running now, so Ctrl-C can cancel it.
fn running() -> &'static Mutex<Option<Canceller>> {
    static RUNNING: OnceLock<Mutex<Option<Canceller>>> = OnceLock::new();
    RUNNING.get_or_init(|| Mutex::new(None))
}

/// Installs the Ctrl-C handler once: it cancels the running statement, or
/// ends the process when nothing runs (rustyline handles Ctrl-C itself
/// while it reads a line, since the terminal is in raw mode then).
fn install_interrupt_handler() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let _ = ctrlc::set_handler(|| {
            let current = running().lock().ok().and_then(|g| g.clone());
            match current {
                Some(c) => c.cancel(),
                None => std::process::exit(130),
            }
        });
    });
}

/// Marks a statement as running for the duration of a closure.
fn while_running<T>(canceller: Canceller, f: impl FnOnce() -> T) -> T {
    if let Ok(mut g) = running().lock() {
        *g = Some(canceller);
    }
    let r = f();
    if let Ok(mut g) = running().lock() {
        *g = None;
    }
    r
}

/// Output format of a session's results and previews.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// psql-like tables and trees.
    #[default]
    Text,
    /// One JSON object per statement.
    Json,
}

/// How confirmed changes are applied, as the operator asked: `None` leaves
/// a timeout to the policy, then to the default.
#[derive(Debug, Clone, Default)]
pub struct ApplyFlags {
    pub lock_timeout: Option<std::time::Duration>,
    pub statement_timeout: Option<std::time::Duration>,
    /// Apply even when triggers change rows the journal cannot capture.
    pub allow_uncovered: bool,
}

impl ApplyFlags {
    /// The apply options: each timeout as given, else the policy's (when
    /// one is given), else 2 s to wait for locks and 30 s to run.
    pub fn resolve(&self, policy: Option<&Policy>) -> ApplyOptions {
        let mut opts = ApplyOptions {
            allow_uncovered: self.allow_uncovered,
            ..ApplyOptions::default()
        };
        if let Some(t) = self
            .lock_timeout
            .or_else(|| policy.and_then(Policy::lock_timeout))
        {
            opts.guard.lock_timeout = t;
        }
        if let Some(t) = self
            .statement_timeout
            .or_else(|| policy.and_then(Policy::statement_timeout))
        {
            opts.guard.statement_timeout = t;
        }
        opts
    }
}

/// What a shell session starts with.
#[derive(Debug, Clone)]
pub struct Options {
    /// The name recorded with every change and audit event.
    pub operator: String,
    /// Policy directory; `./policies` when it exists, else the built-in.
    pub policy: Option<PathBuf>,
    /// Journal file; the default location otherwise.
    pub journal: Option<PathBuf>,
    /// Environment label of the prompt; the policy's otherwise.
    pub env_label: Option<String>,
    /// Rows shown per result.
    pub display_limit: usize,
    /// Time limit for computing one preview.
    pub preview_timeout: std::time::Duration,
    pub apply: ApplyFlags,
}

impl Shell {
    /// Opens a shell on a connection, loading its schema.
    pub fn new(mut conn: Connection, options: &Options) -> Result<Shell> {
        let policy = Policy::load(options.policy.as_deref())?;
        let timeout = options.preview_timeout;
        let operator = options.operator.clone();
        // A policy whose [target] names other databases does not govern
        // this one: the built-in default does, and the operator is told.
        let policy = if policy.applies_to(conn.identity()) {
            policy
        } else {
            eprintln!(
                "dbguard: the policy in {} does not apply to {} ([target]); using the built-in default policy",
                policy
                    .files
                    .first()
                    .and_then(|f| f.parent())
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "--policy".into()),
                conn.identity().display
            );
            Policy::builtin()
        };
        let schema = conn.introspect()?;
        // The journal holds the audit trail too, so every session opens it.
        // Entries a crash left prepared for this target are settled first.
        let journal = Journal::open(options.journal.as_deref())?;
        crate::journal::reconcile(&mut conn, &journal)?;
        let journal = Some(journal);
        let env_label = options.env_label.clone().or_else(|| policy.env_label());
        let apply = options.apply.resolve(Some(&policy));
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        let width = if std::io::stdout().is_terminal() {
            terminal_width()
        } else {
            None
        };
        Ok(Shell {
            conn,
            schema: Arc::new(RwLock::new(schema)),
            display: DisplaySettings {
                expanded: Expanded::Auto,
                color,
                width,
                display_limit: options.display_limit,
            },
            format: Format::Text,
            timing: false,
            env_label,
            operator,
            policy,
            preview: PreviewOptions {
                timeout,
                ..PreviewOptions::default()
            },
            samples: true,
            dry_run: false,
            yes: false,
            tokens: Vec::new(),
            script: None,
            pushback: None,
            interactive: std::io::stdin().is_terminal(),
            apply,
            journal_path: options.journal.clone(),
            journal,
            json_printed: false,
            would_fail: 0,
            drifted: 0,
            failure_kinds: Vec::new(),
            closed: None,
            out: Box::new(std::io::stdout()),
            err: Box::new(std::io::stderr()),
        })
    }

    /// Sends output somewhere else (tests, `exec`).
    pub fn set_output(&mut self, out: Box<dyn Write>, err: Box<dyn Write>) {
        self.out = out;
        self.err = err;
    }

    pub fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }

    pub fn engine(&self) -> Engine {
        self.conn.engine()
    }

    /// A snapshot of the schema (cheap to clone the Arc).
    pub fn schema(&self) -> Arc<RwLock<Schema>> {
        Arc::clone(&self.schema)
    }

    fn print(&mut self, s: &str) -> Result<()> {
        self.out
            .write_all(s.as_bytes())
            .and_then(|_| self.out.flush())
            .map_err(Error::output)
    }

    fn print_err(&mut self, s: &str) {
        let _ = writeln!(self.err, "{s}");
        let _ = self.err.flush();
    }

    /// Runs every statement in `input`, in order, through the guard.
    /// Returns how many failed or were refused; each was reported.
    pub fn run_text(&mut self, input: &str) -> usize {
        let mut failed = 0;
        for piece in sql::split(self.engine(), input) {
            if let Err(e) = self.run_statement(&piece) {
                if e.is_broken_pipe() {
                    self.closed = Some(e);
                    break;
                }
                // The preview already said why it would fail.
                self.failure_kinds.push(e.kind);
                if e.kind == ErrorKind::WouldFail {
                    self.would_fail += 1;
                } else {
                    if e.kind == ErrorKind::Drift {
                        self.drifted += 1;
                    }
                    self.report(&e);
                }
                failed += 1;
            }
        }
        failed
    }

    fn report(&mut self, e: &Error) {
        self.print_err(&e.shown());
    }

    /// Classifies one statement and does what the guard allows with it.
    pub fn run_statement(&mut self, text: &str) -> Result<()> {
        let stmt = sql::classify(self.engine(), text);
        self.audit(
            "statement",
            None,
            serde_json::json!({"statement": stmt.text, "kind": stmt.kind.name()}),
        );
        let started = Instant::now();
        self.json_printed = false;
        let result = match stmt.kind {
            Kind::Read => self.run_read(&stmt.text),
            k if k.is_data_write() => self.run_write(&stmt),
            Kind::Session if stmt.session_allowed => {
                let canceller = self.conn.canceller();
                let conn = &mut self.conn;
                while_running(canceller, || conn.run_session(&stmt.text))?;
                // search_path changes which tables bare names resolve to.
                self.reload_schema()?;
                match self.format {
                    Format::Text => self.print("SET\n"),
                    Format::Json => self.print("{\"status\":\"SET\"}\n"),
                }
            }
            _ => Err(refusal(&stmt)),
        };
        if self.timing && self.format == Format::Text {
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            let _ = self.print(&format!("Time: {ms:.3} ms\n"));
        }
        if let (Err(e), Format::Json, false) = (&result, self.format, self.json_printed) {
            {
                let obj = serde_json::json!({
                    "statement": stmt.text,
                    "kind": stmt.kind.name(),
                    "table": stmt.table,
                    "predicate": stmt.predicate,
                    "error": e.message,
                });
                let _ = self.print(&format!("{obj}\n"));
            }
        }
        result
    }

    /// Previews a write, then (confirmed on a terminal, or with `--yes`)
    /// applies it under guard with its undo entry.
    fn run_write(&mut self, stmt: &sql::Statement) -> Result<()> {
        let schema = self
            .schema
            .read()
            .map_err(|_| Error::io("schema lock poisoned"))?
            .clone();
        let canceller = self.conn.canceller();
        let conn = &mut self.conn;
        let policy = &self.policy;
        let options = &self.preview;
        let impact = while_running(canceller, || {
            impact::preview(conn, &schema, policy, stmt, options)
        })?;
        let style = impact::render::Style {
            color: self.display.color,
            samples: self.samples,
        };
        // A WHERE that holds for every row (`WHERE 1 = 1`) filters nothing.
        let has_where = (stmt.predicate.is_some() && !stmt.where_always_true)
            || !matches!(stmt.kind, Kind::Update | Kind::Delete);
        let verdict = self.policy.verdict(&gate::input_for(&impact, has_where));
        self.audit_many(&[
            (
                "preview",
                None,
                serde_json::json!({
                    "statement": stmt.text,
                    "digest": impact.digest,
                    "totals": impact::render::json(&impact)["totals"],
                    "will_fail": impact.will_fail,
                }),
            ),
            ("verdict", None, gate::verdict_json(&verdict)),
        ]);
        if self.format == Format::Text {
            let mut text = impact::render::text(&impact, style);
            text.push_str(&gate::verdict_line(&verdict));
            text.push('\n');
            // A preview nobody could see confirms nothing: the write stops
            // here, as a failure (not the quiet end of a read into `head`).
            self.print(&text).map_err(|e| {
                Error::refused(format!(
                    "{e}: the preview could not be shown; nothing was applied"
                ))
            })?;
        }
        let outcome = self.after_preview(stmt, &schema, &impact, &verdict);
        if let Err(e) = &outcome {
            if e.kind != ErrorKind::WouldFail {
                self.audit(
                    "refusal",
                    None,
                    serde_json::json!({"statement": stmt.text, "reason": e.message}),
                );
            }
        }
        if self.format == Format::Json {
            let mut v = impact::render::json(&impact);
            if let Some(obj) = v.as_object_mut() {
                obj.insert("verdict".into(), gate::verdict_json(&verdict));
                if let Err(e) = &outcome {
                    if let Some(r) = &e.request {
                        obj.insert("request".into(), r.clone().into());
                    }
                }
                match &outcome {
                    Ok(Some(applied)) => {
                        obj.insert("change_id".into(), applied.change_id.into());
                        if let Some(p) = &applied.partial {
                            obj.insert("partial".into(), p.clone().into());
                        }
                    }
                    Ok(None) => {}
                    Err(e) if e.kind == ErrorKind::WouldFail => {}
                    Err(e) => {
                        obj.insert("error".into(), e.message.clone().into());
                    }
                }
            }
            let printed = self.print(&format!("{v}\n"));
            self.json_printed = true;
            // A refusal is the answer: output that cannot be written must
            // not replace its exit status.
            outcome.as_ref().map_err(Clone::clone)?;
            printed?;
        }
        match outcome? {
            Some(applied) if self.format == Format::Text => {
                let text = applied_text(&applied);
                self.print(&text)?;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// What happens after a preview: nothing (dry run), a refusal, or the
    /// gate (policy verdict, confirmation or approvals) and the guarded
    /// apply.
    fn after_preview(
        &mut self,
        stmt: &sql::Statement,
        schema: &Schema,
        impact: &impact::Impact,
        verdict: &crate::policy::verdict::Verdict,
    ) -> Result<Option<crate::apply::Applied>> {
        use crate::policy::verdict::Decision;
        if impact.will_fail {
            return Err(Error::new(
                ErrorKind::WouldFail,
                impact
                    .failures
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "the statement would fail".into()),
            ));
        }
        // A dry run still reports a denial (exit 2), but asks nothing.
        if self.dry_run && verdict.decision != Decision::Deny {
            return Ok(None);
        }
        let identity = self.conn.identity().clone();
        let passed = {
            let Some(journal) = self.journal.as_ref() else {
                return Err(Error::io("journal not open"));
            };
            let session = gate::Session {
                policy: &self.policy,
                journal,
                identity: &identity,
                operator: &self.operator,
                tokens: &self.tokens,
                yes: self.yes,
                interactive: self.interactive,
                script: self.script.is_some(),
            };
            let script = &mut self.script;
            let pushback = &mut self.pushback;
            let interactive = self.interactive;
            // On a terminal answers come from the keyboard; in a piped
            // script only approval tokens are taken from the next lines, and
            // any other line is left for the script.
            let mut input = move || -> Result<Option<String>> {
                if interactive {
                    return gate::terminal_line();
                }
                let Some(reader) = script.as_mut() else {
                    return Ok(None);
                };
                let line = match pushback.take() {
                    Some(l) => l,
                    None => {
                        let mut l = String::new();
                        let n = reader
                            .read_line(&mut l)
                            .map_err(|e| Error::io(format!("cannot read input: {e}")))?;
                        if n == 0 {
                            return Ok(None);
                        }
                        l
                    }
                };
                if line.trim_start().starts_with("dbguard-approval:") {
                    Ok(Some(line))
                } else {
                    *pushback = Some(line);
                    Ok(None)
                }
            };
            let change = gate::Change {
                kind: impact.kind,
                statement: &stmt.text,
                digest: &impact.digest,
                verdict,
                summary: gate::summary_of(impact),
            };
            gate::decide(
                &session,
                &change,
                &mut |t| {
                    // Prompts and requests go straight to stdout, flushed: a
                    // program driving a piped shell waits for them.
                    render::out(t)
                },
                &mut input,
            )
            .map_err(|e| {
                if e.kind == ErrorKind::Refused {
                    Error::refused(format!("{}: {}", recognised(stmt), e.message))
                } else {
                    e
                }
            })?
        };
        if self.dry_run {
            return Ok(None);
        }
        if passed.cancelled {
            self.print("Not applied.\n")?;
            self.audit(
                "refusal",
                None,
                serde_json::json!({"statement": stmt.text, "reason": "cancelled by the operator"}),
            );
            return Ok(None);
        }
        let Some(journal) = self.journal.as_mut() else {
            return Err(Error::io("journal not open"));
        };
        let canceller = self.conn.canceller();
        let conn = &mut self.conn;
        let policy = &self.policy;
        let opts = &self.apply;
        let operator = &self.operator;
        let applied = while_running(canceller, || {
            crate::apply::apply(conn, journal, schema, policy, stmt, impact, opts, operator)
        })?;
        passed.record(journal, applied.change_id)?;
        self.audit(
            "apply",
            Some(applied.change_id),
            serde_json::json!({
                "statement": stmt.text,
                "digest": impact.digest,
                "approvals": passed.approvals,
                "partial": applied.partial,
            }),
        );
        Ok(Some(applied))
    }

    /// Appends an audit event. A journal that cannot record it is said on
    /// stderr; the change itself is journaled separately.
    pub fn audit(&mut self, event: &str, change_id: Option<i64>, detail: serde_json::Value) {
        self.audit_many(&[(event, change_id, detail)]);
    }

    /// Appends audit events written at the same moment, in order, with one
    /// durable commit.
    fn audit_many(&mut self, events: &[(&str, Option<i64>, serde_json::Value)]) {
        let target = self.conn.identity().display.clone();
        if let Some(j) = &self.journal {
            if let Err(e) = j.audit_many(&self.operator, Some(&target), events) {
                let _ = writeln!(self.err, "dbguard: cannot write the audit trail: {e}");
            }
        }
    }

    /// `\undo` lists the recent changes on this target; `\undo ID` plans,
    /// confirms and undoes one.
    fn undo_meta(&mut self, arg: Option<&str>) -> Result<()> {
        if self.journal.is_none() {
            let journal = Journal::open(self.journal_path.as_deref())?;
            crate::journal::reconcile(&mut self.conn, &journal)?;
            self.journal = Some(journal);
        }
        let Some(journal) = self.journal.as_mut() else {
            return Err(Error::io("journal not open"));
        };
        match arg {
            None => {
                let db = self.conn.identity().database.clone();
                let changes: Vec<_> = journal
                    .list()?
                    .into_iter()
                    .filter(|c| c.meta.target_database == db)
                    .take(20)
                    .collect();
                let text = undo::list_text(journal, &changes, Format::Text)?;
                self.print(&text)
            }
            Some(id) => {
                let id: i64 = id.parse().map_err(|_| {
                    Error::input(format!("\\undo needs a change id, not {id:?}: \\undo 42"))
                })?;
                let loaded = crate::undo::load(journal, id, false)?;
                let run = undo::UndoRun::default();
                if !self.interactive {
                    return Err(Error::refused(format!(
                        "undo of change {id} not applied: confirming needs a terminal\nUse dbguard undo apply {id} --yes."
                    )));
                }
                let operator = self.operator.clone();
                undo::undo_one(
                    &mut self.conn,
                    journal,
                    &self.policy,
                    loaded,
                    &run,
                    &operator,
                    false,
                )
            }
        }
    }

    fn run_read(&mut self, text: &str) -> Result<()> {
        // The window may have been resized since the last statement.
        if self.display.width.is_some() {
            self.display.width = terminal_width();
        }
        let canceller = self.conn.canceller();
        match self.format {
            Format::Text => {
                let mut sink = render::TableCollector::new(&self.display);
                let conn = &mut self.conn;
                let summary = while_running(canceller, || conn.run_read(text, &mut sink))?;
                if summary.has_result {
                    let rendered = sink.render(&summary);
                    self.print(&rendered)?;
                } else {
                    self.print("OK\n")?;
                }
                Ok(())
            }
            Format::Json => {
                let mut buf: Vec<u8> = Vec::new();
                {
                    let mut sink = render::JsonWriter::new(&mut buf);
                    let conn = &mut self.conn;
                    while_running(canceller, || conn.run_read(text, &mut sink))?;
                    sink.finish()?;
                }
                self.out.write_all(&buf).map_err(Error::output)
            }
        }
    }

    /// Reloads the schema (after `SET search_path`, or `\d` on a stale one).
    pub fn reload_schema(&mut self) -> Result<()> {
        let schema = self.conn.introspect()?;
        if let Ok(mut g) = self.schema.write() {
            *g = schema;
        }
        Ok(())
    }

    /// Runs a meta command (`\dt`, `\d`, ...). Returns `Ok(false)` for `\q`.
    pub fn run_meta(&mut self, line: &str) -> Result<bool> {
        let line = line.trim();
        let (cmd, arg) = match line.find(char::is_whitespace) {
            Some(i) => (&line[..i], Some(line[i..].trim()).filter(|a| !a.is_empty())),
            None => (line, None),
        };
        let schema = Arc::clone(&self.schema);
        let schema = schema
            .read()
            .map_err(|_| Error::io("schema lock poisoned"))?;
        match cmd {
            "\\q" | "\\quit" => return Ok(false),
            "\\?" | "\\help" => self.print(META_HELP)?,
            "\\dt" => self.print(&describe::list_tables(&schema, arg))?,
            "\\d" => match arg {
                None => self.print(&describe::list_tables(&schema, None))?,
                Some(name) => {
                    let table = find_table(&schema, name)?;
                    self.print(&describe::describe_table(&schema, table))?
                }
            },
            "\\refs" => {
                let name =
                    arg.ok_or_else(|| Error::input("\\refs needs a table name: \\refs TABLE"))?;
                let table = find_table(&schema, name)?;
                self.print(&describe::refs_tree(&schema, table))?
            }
            "\\x" => {
                self.display.expanded = match arg {
                    Some("on") => Expanded::On,
                    Some("off") => Expanded::Off,
                    Some("auto") => Expanded::Auto,
                    None => match self.display.expanded {
                        Expanded::On => Expanded::Off,
                        _ => Expanded::On,
                    },
                    Some(other) => {
                        return Err(Error::input(format!(
                            "\\x: unknown value '{other}'\nUse \\x on, \\x off or \\x auto."
                        )));
                    }
                };
                let word = match self.display.expanded {
                    Expanded::On => "on",
                    Expanded::Off => "off",
                    Expanded::Auto => "auto",
                };
                self.print(&format!("Expanded display is {word}.\n"))?
            }
            "\\timing" => {
                self.timing = match arg {
                    Some("on") => true,
                    Some("off") => false,
                    _ => !self.timing,
                };
                let word = if self.timing { "on" } else { "off" };
                self.print(&format!("Timing is {word}.\n"))?
            }
            "\\limit" => {
                let n = arg
                    .and_then(|a| a.parse::<usize>().ok())
                    .ok_or_else(|| Error::input("\\limit needs a number of rows: \\limit 500"))?;
                self.display.display_limit = n;
                self.print(&format!("Showing at most {n} rows per result.\n"))?
            }
            "\\undo" => {
                drop(schema);
                self.undo_meta(arg)?;
                return Ok(true);
            }
            "\\samples" => {
                self.samples = match arg {
                    Some("on") => true,
                    Some("off") => false,
                    _ => !self.samples,
                };
                let word = if self.samples { "on" } else { "off" };
                self.print(&format!("Sample rows in previews are {word}.\n"))?
            }
            "\\conninfo" => {
                let text = conninfo_text(self.conn.identity());
                self.print(&text)?
            }
            other => {
                return Err(Error::input(format!(
                    "invalid command {other}\nTry \\? for help."
                )));
            }
        }
        Ok(true)
    }

    /// Reads statements from a non-terminal, like `psql -f`: no prompt, no
    /// colors, every statement through the guard, and an error at the end
    /// if any statement failed or was refused.
    pub fn run_script(&mut self, input: Box<dyn BufRead>) -> Result<()> {
        self.script = Some(input);
        let mut failed = 0usize;
        let mut buffer = String::new();
        loop {
            let line = match self.pushback.take() {
                Some(l) => l,
                None => {
                    let mut l = String::new();
                    let n = match self.script.as_mut() {
                        Some(r) => r
                            .read_line(&mut l)
                            .map_err(|e| Error::io(format!("cannot read input: {e}")))?,
                        None => 0,
                    };
                    if n == 0 {
                        break;
                    }
                    l
                }
            };
            if buffer.trim().is_empty() && line.trim_start().starts_with('\\') {
                buffer.clear();
                match self.run_meta(&line) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) if e.is_broken_pipe() => return Err(e),
                    Err(e) => {
                        self.report(&e);
                        failed += 1;
                    }
                }
                continue;
            }
            buffer.push_str(&line);
            if sql::is_complete(self.engine(), &buffer) {
                failed += self.run_text(&buffer);
                buffer.clear();
            }
            if let Some(e) = self.closed.take() {
                return Err(e);
            }
        }
        if !buffer.trim().is_empty() {
            failed += self.run_text(&buffer);
        }
        if let Some(e) = self.closed.take() {
            return Err(e);
        }
        if failed > 0 {
            return Err(Error::new(
                ErrorKind::ScriptFailed,
                format!("{failed} statement(s) failed or were refused"),
            ));
        }
        Ok(())
    }

    /// The prompt: `production:obs (alice)=> `, and `-> ` while a statement
    /// continues over several lines. Returns (plain, colored).
    pub fn prompt(&self, continuation: bool) -> (String, String) {
        let env = self.env_label.as_deref().unwrap_or("unknown");
        let db = match self.engine() {
            Engine::Postgres => self.conn.identity().database.clone(),
            Engine::Sqlite => std::path::Path::new(&self.conn.identity().database)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "sqlite".into()),
        };
        let tail = if continuation { "-> " } else { "=> " };
        let plain = format!("{env}:{db} ({}){tail}", self.operator);
        if !self.display.color {
            return (plain.clone(), plain);
        }
        let env_color = match env {
            "production" | "prod" => "\x1b[1;31m",
            "staging" => "\x1b[1;33m",
            _ => "\x1b[1;32m",
        };
        let colored = format!(
            "{env_color}{env}\x1b[0m:\x1b[1m{db}\x1b[0m ({}){tail}",
            self.operator
        );
        (plain, colored)
    }

    /// The interactive loop on a terminal.
    pub fn run_interactive(&mut self) -> Result<()> {
        use rustyline::error::ReadlineError;
        use rustyline::history::FileHistory;
        use rustyline::{Config, Editor};

        let config = Config::builder()
            .auto_add_history(false)
            .completion_type(rustyline::CompletionType::List)
            .max_history_size(10_000)
            .map_err(|e| Error::io(format!("cannot configure line editor: {e}")))?
            .build();
        let mut editor: Editor<complete::ShellHelper, FileHistory> = Editor::with_config(config)
            .map_err(|e| Error::io(format!("cannot start line editor: {e}")))?;
        editor.set_helper(Some(complete::ShellHelper::new(
            self.engine(),
            self.schema(),
        )));
        let history = history_path();
        if let Some(h) = &history {
            let _ = editor.load_history(h);
        }
        let ident = self.conn.identity().clone();
        self.print(&format!(
            "dbguard {} — {} {} ({})\nType \\? for help. Reads run read-only; a write shows its preview and asks before it is applied.\n",
            env!("CARGO_PKG_VERSION"),
            ident.engine.name(),
            ident.server_version,
            ident.display
        ))?;
        loop {
            let prompt = self.prompt(false);
            match editor.readline(&prompt) {
                Ok(input) => {
                    if input.trim().is_empty() {
                        continue;
                    }
                    // Approval tokens are credentials: never in the history.
                    if !input.contains("dbguard-approval:") {
                        let _ = editor.add_history_entry(input.as_str());
                    }
                    if input.trim_start().starts_with('\\') {
                        match self.run_meta(&input) {
                            Ok(true) => {}
                            Ok(false) => break,
                            Err(e) => self.report(&e),
                        }
                    } else {
                        self.run_text(&input);
                    }
                }
                Err(ReadlineError::Interrupted) => continue,
                Err(ReadlineError::Eof) => break,
                Err(e) => return Err(Error::io(format!("cannot read input: {e}"))),
            }
        }
        if let Some(h) = &history {
            if let Some(dir) = h.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let _ = editor.save_history(h);
        }
        Ok(())
    }
}

/// The report after an apply: change id, rows per table, time, and the
/// command that undoes it.
fn applied_text(a: &crate::apply::Applied) -> String {
    let mut parts = Vec::new();
    for (table, c) in &a.recorded {
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

/// What the classifier recognised: `DELETE on t WHERE id = 1`.
fn recognised(stmt: &sql::Statement) -> String {
    let mut what = stmt.kind.name().to_uppercase();
    if let Some(t) = &stmt.table {
        what.push_str(&format!(" on {t}"));
    }
    if let Some(p) = &stmt.predicate {
        what.push_str(&format!(" WHERE {p}"));
    }
    what
}

/// Why a statement was not run, with what the classifier recognised.
fn refusal(stmt: &sql::Statement) -> Error {
    let what = recognised(stmt);
    let msg = match stmt.kind {
        Kind::Insert | Kind::Update | Kind::Delete | Kind::Truncate | Kind::Merge => format!(
            "{what}: not executed\nWrites run only through the guarded path (preview, approval, apply with undo), which this version does not have yet."
        ),
        Kind::Ddl => format!(
            "DDL not executed{}\nSchema changes require the DDL guard, which does not exist yet.",
            stmt.note.as_deref().map(|n| format!(" ({n})")).unwrap_or_default()
        ),
        Kind::Transaction => "BEGIN/COMMIT/ROLLBACK not executed: each change runs in its own guarded transaction\nType the statements alone; the guard wraps each one.".to_owned(),
        Kind::Session => format!(
            "session setting not executed{}\nOnly display and lookup settings (search_path, timezone, datestyle, statement_timeout, ...) may be changed.",
            stmt.note.as_deref().map(|n| format!(": {n}")).unwrap_or_default()
        ),
        Kind::Unknown => format!(
            "statement not executed: {}\nThe guard runs only statements it can classify.",
            stmt.note.as_deref().unwrap_or("not recognised")
        ),
        Kind::Read => "read refused".to_owned(),
    };
    Error::refused(msg)
}

fn find_table<'s>(schema: &'s Schema, name: &str) -> Result<&'s crate::schema::Table> {
    schema.resolve_str(name).ok_or_else(|| {
        Error::input(format!(
            "table {name} not found\nList tables with \\dt; quote mixed-case names (\"MyTable\")."
        ))
    })
}

fn conninfo_text(id: &crate::db::TargetIdentity) -> String {
    let mut s = format!(
        "{} {} at {}\n",
        id.engine.name(),
        id.server_version,
        id.display
    );
    match id.engine {
        Engine::Postgres => {
            s.push_str(&format!(
                "database \"{}\" as user \"{}\"",
                id.database,
                id.user.as_deref().unwrap_or("?")
            ));
            if let Some(h) = &id.host {
                if h.starts_with('/') {
                    s.push_str(&format!(" via socket in \"{h}\""));
                } else {
                    s.push_str(&format!(" on host \"{h}\""));
                }
            }
            if let Some(p) = id.port {
                s.push_str(&format!(" at port \"{p}\""));
            }
            s.push('\n');
            match &id.tls {
                Some(v) => s.push_str(&format!("SSL connection ({v})\n")),
                None => s.push_str("no SSL\n"),
            }
            if let Some(sys) = &id.system_identifier {
                s.push_str(&format!("cluster system identifier {sys}\n"));
            }
        }
        Engine::Sqlite => s.push_str(&format!("file {}\n", id.database)),
    }
    s
}

const META_HELP: &str = "\
Meta commands
  \\?              this help
  \\q              quit (Ctrl-D works too)
  \\dt [PATTERN]   list tables (PATTERN: a substring of schema.table)
  \\d TABLE        columns, keys, foreign keys out and in, triggers
  \\refs TABLE     tree of everything that references TABLE, recursively
  \\x [on|off|auto] expanded display (one column per line)
  \\timing [on|off] show how long each statement took
  \\limit N        show at most N rows per result (default 1000)
  \\samples [on|off] sample rows under each effect of a preview
  \\undo [ID]      list this database's recent changes, or undo change ID
  \\conninfo       where you are connected

Statements end with ';' and may span lines. Ctrl-C cancels the input line
or the running query. Reads run in a read-only transaction. A write shows
its preview (every row it deletes, changes or leaves dangling, at every
depth) and asks; `apply` runs it under guard and journals every changed
row, so \\undo ID puts it back. DDL and anything unrecognised never run.
";

fn history_path() -> Option<PathBuf> {
    crate::journal::state_dir().map(|d| d.join("history"))
}

fn terminal_width() -> Option<u16> {
    comfy_table::Table::new().width()
}

/// Runs `dbguard exec`'s statements in order. When every failure has the
/// same meaningful kind, the error has it (denied, approval, drift, would
/// fail: scripts branch on its exit status); anything mixed is a script
/// failure. Each failure was reported where it happened.
impl Shell {
    pub fn exec(&mut self, statements: &str) -> Result<()> {
        install_interrupt_handler();
        self.audit("session_start", None, serde_json::json!({"exec": true}));
        let failed = self.run_text(statements);
        self.audit("session_end", None, serde_json::json!({"failed": failed}));
        if let Some(e) = self.closed.take() {
            return Err(e);
        }
        if failed == 0 {
            return Ok(());
        }
        let kinds = &self.failure_kinds;
        let same = kinds.iter().all(|k| Some(k) == kinds.first());
        match kinds.first() {
            Some(
                &k @ (ErrorKind::WouldFail
                | ErrorKind::Drift
                | ErrorKind::Denied
                | ErrorKind::Approval),
            ) if same => {
                Err(Error::new(k, format!("{failed} statement(s) not applied")).reported())
            }
            _ => Err(Error::new(
                ErrorKind::ScriptFailed,
                format!("{failed} statement(s) failed or were refused"),
            )),
        }
    }
}

/// Runs the shell on an open connection: a REPL on a terminal, script mode
/// otherwise.
pub fn run_on(conn: Connection, options: &Options) -> Result<()> {
    let mut shell = Shell::new(conn, options)?;
    install_interrupt_handler();
    shell.audit(
        "session_start",
        None,
        serde_json::json!({"interactive": shell.interactive}),
    );
    let result = if std::io::stdin().is_terminal() {
        shell.run_interactive()
    } else {
        shell.run_script(Box::new(std::io::stdin().lock()))
    };
    shell.audit(
        "session_end",
        None,
        serde_json::json!({"ok": result.is_ok()}),
    );
    result
}
