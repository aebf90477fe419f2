//! The shell: one session on one target, and the guard that decides what
//! each statement may do.
//!
//! One code path runs every statement, whether typed at the prompt, piped
//! in like `psql -f`, or given to `dbguard exec`: `Shell::run_text`
//! splits the input, classifies each statement and either runs it as a
//! read (in a read-only transaction), runs an allowed session setting,
//! hands a write to the change pipeline (`crate::change`, with the shell
//! as its interface, `ui`), or refuses it with what it recognised.
//! Nothing the classifier could not place is run.
//!
//! The parts: `repl` (the interactive loop and script mode), `meta` (the
//! backslash commands), `ui` (the pipeline's interface: previews, answers,
//! outcomes), `undo` (`\\undo` and how undos are shown), `render`
//! (results), `describe` (`\\d` and friends), `catalog` (`\\l`, `\\df`,
//! `\\di`, ... read from the catalog when asked), `sql_help` (`\\h`),
//! `input` (the query buffer, psql's way), `ask` (questions Ctrl-C
//! cancels), `editor` (`\\e`), `complete`, `progress`.

mod ask;
mod catalog;
pub(crate) mod command;
pub mod complete;
mod copy;
pub(crate) mod describe;
mod editor;
mod formats;
mod input;
pub(crate) mod interrupt;
mod meta;
mod pager;
pub mod progress;
mod reconnect;
pub mod render;
mod repl;
mod script;
mod settings;
mod sql_help;
pub mod ui;
pub mod undo;
mod watch;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use crate::change::{self, ApplyOptions, Plan};
use crate::db::{Connection, Engine};
use crate::error::{Error, ErrorKind, Result};
use crate::impact::PreviewOptions;
use crate::journal::trail::{Trail, Witness};
use crate::policy::Policy;
use crate::schema::Schema;
use crate::sql::{self, Kind};
use interrupt::while_running;
use render::{DisplaySettings, Expanded};
use ui::{Input, Ui};

/// What the shell knows about its session, besides the connection.
pub(crate) struct Shell {
    conn: Connection,
    schema: Arc<RwLock<Schema>>,
    pub display: DisplaySettings,
    pub format: Format,
    pub timing: bool,
    pub env_label: Option<String>,
    pub operator: String,
    pub policy: Policy,
    pub preview: PreviewOptions,
    /// Show sample rows in previews (`\\samples`).
    pub samples: bool,
    /// Show a large preview whole rather than summarized (`\\preview`).
    pub detail: bool,
    /// `exec --dry-run`: a preview is the whole answer for a write.
    pub dry_run: bool,
    /// `exec --yes`: apply confirmed writes without asking.
    pub yes: bool,
    /// Approval tokens given with `--token`.
    pub tokens: Vec<String>,
    /// The operator's SSH key (`--key`).
    pub key: Option<PathBuf>,
    /// The piped input being run as a script.
    script: Option<script::Script>,
    /// The statement being typed, and the last one run.
    buffer: input::QueryBuffer,
    /// Statements and meta commands that failed or were refused.
    failed: usize,
    /// psql variables (`\\set`).
    vars: std::collections::BTreeMap<String, String>,
    /// `\\pset pager`.
    pager: pager::PagerMode,
    /// Where read results go after `\\o FILE`; the terminal otherwise.
    results: Option<Box<dyn Write>>,
    /// What the session was opened with (`\\c` opens the next with it).
    options: Options,
    /// How deep `\\i` files include each other.
    include_depth: u8,
    /// Confirmation can be asked (stdin is a terminal).
    pub interactive: bool,
    pub apply: ApplyOptions,
    /// Where audit records go: the target's trail and the witness.
    trail: Trail,
    /// The current statement's JSON object was already printed.
    json_printed: bool,
    /// The kind of every failure, in order (exec's exit status).
    pub failure_kinds: Vec<ErrorKind>,
    /// Output can no longer be written (its reader went away): the
    /// session ends with this error, quietly.
    closed: Option<Error>,
    out: Box<dyn Write>,
    err: Box<dyn Write>,
}

/// Output format of a session's results and previews.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Format {
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
    /// The target as given (`\\c NAME` replaces its database).
    pub target: Option<String>,
    /// The name recorded with every change and audit event.
    pub operator: String,
    /// The operator's SSH key (`--key`), which proves who they are when a
    /// change needs approval.
    pub key: Option<PathBuf>,
    /// Policy directory; `./policies` when it exists, else the built-in.
    pub policy: Option<PathBuf>,
    /// The audit witness file; the default location otherwise.
    pub audit_log: Option<PathBuf>,
    /// Environment label of the prompt; the policy's otherwise.
    pub env_label: Option<String>,
    /// Rows shown per result.
    pub display_limit: usize,
    /// Time limit for computing one preview.
    pub preview_timeout: std::time::Duration,
    /// Every key of a large preview, not its summary (`--detail`).
    pub preview_detail: bool,
    pub apply: ApplyFlags,
}

impl Shell {
    /// Opens a shell on a connection, loading its schema.
    pub fn new(mut conn: Connection, options: &Options) -> Result<Shell> {
        let timeout = options.preview_timeout;
        let operator = options.operator.clone();
        let (policy, notes) =
            crate::policy::pinned::governing(&mut conn, options.policy.as_deref())?;
        for note in notes {
            let _ = writeln!(std::io::stderr(), "dbguard: {note}");
        }
        let schema = conn.introspect()?;
        // The target's journal holds the audit trail; the witness keeps a
        // copy on this machine.
        let witness = options
            .audit_log
            .clone()
            .or_else(Witness::default_path)
            .map(Witness::new);
        let trail = Trail::open(&mut conn, witness)?;
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
                ..DisplaySettings::default()
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
            detail: options.preview_detail,
            dry_run: false,
            yes: false,
            tokens: Vec::new(),
            key: options.key.clone(),
            script: None,
            buffer: input::QueryBuffer::default(),
            failed: 0,
            vars: std::collections::BTreeMap::new(),
            pager: pager::PagerMode::default(),
            results: None,
            options: options.clone(),
            include_depth: 0,
            interactive: std::io::stdin().is_terminal(),
            apply,
            trail,
            json_printed: false,
            failure_kinds: Vec::new(),
            closed: None,
            out: Box::new(std::io::stdout()),
            err: Box::new(std::io::stderr()),
        })
    }

    pub fn engine(&self) -> Engine {
        self.conn.engine()
    }

    /// A snapshot of the schema (cheap to clone the Arc).
    pub fn schema(&self) -> Arc<RwLock<Schema>> {
        Arc::clone(&self.schema)
    }

    fn print(&mut self, s: &str) -> Result<()> {
        render::write_flushed(&mut *self.out, s)
    }

    /// A read's result: to the `\o` file, through the pager when it does
    /// not fit the terminal, or printed.
    fn show_result(&mut self, text: &str) -> Result<()> {
        if let Some(file) = self.results.as_mut() {
            return render::write_flushed(&mut **file, text);
        }
        if pager::page(text, self.pager)? {
            return Ok(());
        }
        self.print(text)
    }

    fn print_err(&mut self, s: &str) {
        let _ = writeln!(self.err, "{s}");
        let _ = self.err.flush();
    }

    /// Runs every statement in `input`, in order, through the guard.
    /// Returns how many failed or were refused; each was reported.
    pub(crate) fn run_text(&mut self, input: &str) -> usize {
        let mut failed = 0;
        for piece in sql::split(self.engine(), input) {
            if let Err(e) = self.run_statement(&piece) {
                if e.is_broken_pipe() {
                    self.closed = Some(e);
                    break;
                }
                self.failure_kinds.push(e.kind);
                // The preview already said why it would fail.
                if e.kind != ErrorKind::WouldFail {
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
    pub(crate) fn run_statement(&mut self, text: &str) -> Result<()> {
        let stmt = sql::classify(self.engine(), text);
        let detail = serde_json::json!({"statement": stmt.text, "kind": stmt.kind.name()});
        if stmt.kind.is_data_write() || stmt.kind == Kind::Admin {
            // On record with its preview and its change, or its refusal.
            self.trail
                .queue(&self.conn, &self.operator, &[("statement", None, detail)])
                .map_err(|e| e.context("cannot write the audit trail"))?;
        } else {
            // A read is on record before anyone sees its rows.
            self.audit("statement", detail)?;
        }
        let started = Instant::now();
        let waited = ask::waited();
        self.json_printed = false;
        let result = match stmt.kind {
            Kind::Read => self.run_read(&stmt.text),
            k if k.is_data_write() => self.run_write(&stmt),
            Kind::Admin => self.run_admin(&stmt),
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
            // The time at the Apply prompt is the person's, not the
            // statement's.
            let asked = ask::waited().saturating_sub(waited);
            let ms = started.elapsed().saturating_sub(asked).as_secs_f64() * 1000.0;
            let _ = self.print(&format!("Time: {ms:.3} ms\n"));
        }
        if let (Err(e), Format::Json, false) = (&result, self.format, self.json_printed) {
            {
                let mut obj = serde_json::json!({
                    "statement": stmt.text,
                    "kind": stmt.kind.name(),
                    "table": stmt.table,
                    "predicate": stmt.predicate,
                    "error": e.message,
                });
                // The server's code, for scripts to branch on.
                if let Some(code) = crate::db::postgres::sqlstate(e) {
                    obj["sqlstate"] = code.into();
                }
                let _ = self.print(&format!("{obj}\n"));
            }
        }
        result
    }

    /// A write: through the change pipeline, previewed with the session's
    /// options, applied as exec or the operator decides.
    fn run_write(&mut self, stmt: &sql::Statement) -> Result<()> {
        let schema = self
            .schema
            .read()
            .map_err(|_| Error::io("schema lock poisoned"))?
            .clone();
        let mut plan = change::Write::new(stmt.clone(), self.preview.clone())
            .keep_returned(self.display.display_limit);
        let options = self.change_options();
        self.run_change(&mut plan, &schema, &options)
    }

    /// An administrative call: through the change pipeline like a write.
    fn run_admin(&mut self, stmt: &sql::Statement) -> Result<()> {
        let Some(call) = stmt.admin else {
            return Err(refusal(stmt));
        };
        let schema = self
            .schema
            .read()
            .map_err(|_| Error::io("schema lock poisoned"))?
            .clone();
        let mut plan = change::Admin::new(&stmt.text, call);
        let options = self.change_options();
        self.run_change(&mut plan, &schema, &options)
    }

    /// How this session decides and applies a change.
    fn change_options(&self) -> change::Options {
        change::Options {
            dry_run: self.dry_run,
            yes: self.yes,
            tokens: self.tokens.clone(),
            key: self.key.clone(),
            apply: self.apply.clone(),
        }
    }

    /// Runs a change through the pipeline with this shell as its interface.
    fn run_change(
        &mut self,
        plan: &mut dyn Plan,
        schema: &Schema,
        options: &change::Options,
    ) -> Result<()> {
        let style = crate::impact::render::Style {
            color: self.display.color,
            samples: self.samples,
            detail: self.detail,
        };
        // On a terminal answers come from the keyboard; in a piped script
        // only approval tokens are taken from the next lines.
        let input = match self.script.as_mut() {
            _ if self.interactive => Input::Terminal,
            Some(script) => Input::Script(script),
            None => Input::Nobody,
        };
        let mut ui = Ui::new(&mut *self.out, self.format, style, input)
            .dry_run(options.dry_run)
            .display(&self.display);
        let mut cx = change::Context {
            conn: &mut self.conn,
            trail: &mut self.trail,
            policy: &self.policy,
            schema,
            operator: self.operator.clone(),
            options,
        };
        let result = cx.run(plan, &mut ui);
        self.json_printed = ui.printed_json;
        result.map(|_| ())
    }

    /// Appends an audit event about the session; a trail that cannot
    /// record it stops what it records.
    fn audit(&mut self, event: &str, detail: serde_json::Value) -> Result<()> {
        self.trail
            .append(&mut self.conn, &self.operator, &[(event, None, detail)])
            .map(|_| ())
            .map_err(|e| e.context("cannot write the audit trail"))
    }

    /// Appends the session's end, with whatever waited for it.
    fn end_session(&mut self, detail: serde_json::Value) -> Result<()> {
        self.audit("session_end", detail)
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
                let rendered = if summary.has_result {
                    sink.render(&summary)
                } else {
                    "OK\n".to_owned()
                };
                if let Some(note) = sink.cut_note(&summary) {
                    self.print_err(&note);
                }
                self.show_result(&rendered)
            }
            Format::Json => {
                let mut sink = render::JsonWriter::new(&mut *self.out);
                let conn = &mut self.conn;
                match while_running(canceller, || conn.run_read(text, &mut sink)) {
                    Ok(_) => sink.finish(),
                    Err(e) => {
                        // A result already streaming is closed with the
                        // error: it is that statement's JSON object.
                        self.json_printed = sink.fail(&e.message)?;
                        Err(e)
                    }
                }
            }
        }
    }

    /// Reloads the schema (after `SET search_path`, or `\d` on a stale one).
    pub(crate) fn reload_schema(&mut self) -> Result<()> {
        let schema = self.conn.introspect()?;
        if let Ok(mut g) = self.schema.write() {
            *g = schema;
        }
        Ok(())
    }

    pub fn exec(&mut self, statements: &str) -> Result<()> {
        // One session end follows, whatever happens: it writes what waits.
        self.trail.link_later();
        self.trail
            .queue(
                &self.conn,
                &self.operator,
                &[("session_start", None, serde_json::json!({"exec": true}))],
            )
            .map_err(|e| e.context("cannot write the audit trail"))?;
        let failed = self.run_text(statements);
        let ended = self.end_session(serde_json::json!({"failed": failed}));
        if let Some(e) = self.closed.take() {
            return Err(e);
        }
        if failed == 0 {
            return ended;
        }
        // The statements' failures are the answer; the trail's is said too.
        if let Err(e) = ended {
            self.report(&e);
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

/// Why a statement was not run, with what the classifier recognised.
fn refusal(stmt: &sql::Statement) -> Error {
    let what = stmt.recognised();
    let msg = match stmt.kind {
        Kind::Insert | Kind::Update | Kind::Delete | Kind::Truncate | Kind::Merge => format!(
            "{what}: not executed\nWrites run only through the guarded path: preview, approval, apply with undo."
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
        // A note with a line of its own already says what to do instead.
        Kind::Unknown => match stmt.note.as_deref() {
            Some(note) if note.contains('\n') => format!("statement not executed: {note}"),
            note => format!(
                "statement not executed: {}\nThe guard runs only statements it can classify.",
                note.unwrap_or("not recognised")
            ),
        },
        Kind::Read => "read refused".to_owned(),
        Kind::Admin => format!("{what}: not executed"),
    };
    Error::refused(msg)
}

fn terminal_width() -> Option<u16> {
    comfy_table::Table::new().width()
}

/// Runs the shell on an open connection: a REPL on a terminal, script mode
/// otherwise.
pub(crate) fn run_on(conn: Connection, options: &Options) -> Result<()> {
    let mut shell = Shell::new(conn, options)?;
    shell.audit(
        "session_start",
        serde_json::json!({"interactive": shell.interactive}),
    )?;
    let result = if std::io::stdin().is_terminal() {
        shell.run_interactive()
    } else {
        shell.run_script(Box::new(std::io::stdin().lock()))
    };
    let ended = shell.end_session(serde_json::json!({"ok": result.is_ok()}));
    match (result, ended) {
        // The session's own failure is its answer; the trail's is said too.
        (Err(e), Err(audit)) => {
            shell.report(&audit);
            Err(e)
        }
        (result, ended) => result.and(ended),
    }
}
