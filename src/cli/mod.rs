//! Command-line definitions (clap): the shapes of the arguments, nothing
//! else. `crate::cmd` turns them into the library's options; nothing below
//! the command layer sees these types.

mod leading;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "dbguard",
    version,
    about = "A guarded psql-like shell for PostgreSQL and SQLite",
    long_about = "A guarded psql-like shell for PostgreSQL and SQLite.\n\n\
        Reads run in read-only transactions. Writes go through one lifecycle: \
        analyze, preview impact, policy verdict, approval, guarded apply, undo entry. \
        Without a subcommand, dbguard opens the shell.",
    subcommand_precedence_over_arg = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Option<Command>,

    /// Shell options when no subcommand is given.
    #[command(flatten)]
    pub shell: ShellArgs,
}

/// Options every subcommand accepts, before or after the subcommand name.
#[derive(Debug, Clone, Args, Default)]
pub struct GlobalArgs {
    /// Policy directory (policies/*.toml and policies/approvers); default
    /// ./policies when it exists, else the built-in default.
    #[arg(long, global = true, value_name = "DIR", env = "DBGUARD_POLICY")]
    pub policy: Option<PathBuf>,

    /// The audit witness: a local append-only copy of every audit record
    /// this machine writes (default: $XDG_STATE_HOME/dbguard/audit.jsonl).
    #[arg(long, global = true, value_name = "FILE", env = "DBGUARD_AUDIT_LOG")]
    pub audit_log: Option<PathBuf>,

    /// Operator name recorded with every change (default: $USER).
    #[arg(long = "as", global = true, value_name = "NAME")]
    pub operator: Option<String>,

    /// Your SSH key (default: the first of ~/.ssh/id_ed25519, id_ecdsa,
    /// id_rsa; a `.pub` file signs through ssh-agent). It signs your
    /// approvals, and proves who you are when a change of yours needs one.
    #[arg(long, global = true, value_name = "PATH", env = "DBGUARD_KEY")]
    pub key: Option<PathBuf>,

    /// The PostgreSQL schema that holds the journal (default: dbguard);
    /// everyone working on a database must name the same one.
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        env = "DBGUARD_JOURNAL_SCHEMA"
    )]
    pub journal_schema: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the interactive shell (the default).
    Shell(ShellArgs),
    /// Create the demo SQLite database and open the shell on it.
    Demo(DemoArgs),
    /// Run statements non-interactively through the same guard as the shell.
    Exec(ExecArgs),
    /// Create (or migrate) the journal in a database: where every change,
    /// its undo and the audit trail are kept.
    Init(InitArgs),
    /// The undo journal: list, show, undo, export, replay and prune changes.
    Undo(UndoArgs),
    /// Journal files of older releases: import their entries.
    Journal(JournalArgs),
    /// Sign (or reject) a change another operator requested, with your SSH key.
    Approve(ApproveArgs),
    /// The tamper-evident audit trail: show it, verify its hash chain.
    Audit(AuditArgs),
    /// Policies: validate a policy directory and print the effective rules.
    Policy(PolicyArgs),
}

#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    /// Target, as for the shell.
    #[arg(value_name = "DB")]
    pub target: Option<String>,
}

#[derive(Debug, Args)]
pub struct JournalArgs {
    #[command(subcommand)]
    pub command: JournalCommand,
}

#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// Import the entries of a journal file an older release kept beside
    /// the target into the target's journal (those made in that database).
    Import {
        /// The journal file (`journal.sqlite`).
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Target, as for the shell.
        #[arg(value_name = "DB")]
        target: Option<String>,
    },
}

#[derive(Debug, Clone, Args)]
pub struct ApproveArgs {
    /// The request line the operator's shell printed (`dbguard-request:v1:...`).
    #[arg(value_name = "REQUEST")]
    pub request: String,

    /// Sign without asking (for scripted approvers); the token is the last
    /// line of the output.
    #[arg(long, conflicts_with = "reject")]
    pub yes: bool,

    /// Record a refusal instead of signing.
    #[arg(long)]
    pub reject: bool,

    /// Why the change is rejected (with --reject).
    #[arg(long, value_name = "TEXT", requires = "reject")]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print a database's audit trail, oldest first.
    Show {
        /// Target, as for the shell.
        #[arg(value_name = "DB")]
        target: Option<String>,
        /// Only records at or after this time (RFC 3339, or YYYY-MM-DD).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Check the hash chain, and that every record of the witness
    /// (--audit-log) is still in it; exit 1 naming the first broken record.
    Verify {
        /// Target, as for the shell.
        #[arg(value_name = "DB")]
        target: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    pub command: PolicyCommand,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate every file (unknown keys, bad globs, unknown groups,
    /// approvers that do not parse) and print the effective rules.
    Check {
        /// The policy directory (default: --policy, ./policies, or the
        /// built-in default).
        #[arg(value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Pin a policy directory in the database: from then on it governs
    /// every change there, whatever --policy says (a local directory can
    /// only add stricter rules). A guarded change: previewed as a diff,
    /// then whatever the pinned policy asks of `policy` changes.
    Push(PolicyPushArgs),
}

#[derive(Debug, Clone, Args)]
pub struct PolicyPushArgs {
    /// The policy directory to pin (its *.toml files and approvers).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,

    /// Target: postgres:// URL, key=value conninfo, SQLite file path or
    /// sqlite: URL (default: the PG* environment, as psql).
    #[arg(value_name = "DB")]
    pub target: Option<String>,

    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Show what would change and the verdict; pin nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Push without asking, when the pinned policy asks confirmation.
    #[arg(long)]
    pub yes: bool,

    /// An approval token, when the pinned policy asks for one; repeat for
    /// several approvers.
    #[arg(long = "token", value_name = "TOKEN")]
    pub tokens: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UndoArgs {
    #[command(subcommand)]
    pub command: UndoCommand,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ExportFormat {
    /// A script for plain psql / sqlite3.
    #[default]
    Sql,
    /// The journal entry and its rows.
    Json,
}

/// How an undo is confirmed and run.
#[derive(Debug, Clone, Args)]
pub struct UndoRunArgs {
    /// Undo without asking (still planned, checked for conflicts, journaled).
    #[arg(long, conflicts_with = "dry_run")]
    pub yes: bool,

    /// Show what the undo would do, and its conflicts, without running it.
    #[arg(long)]
    pub dry_run: bool,

    /// Restore every row that does not conflict and leave conflicting rows
    /// as they are (recorded in the undo's journal entry).
    #[arg(long)]
    pub force: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// An approval token for the undo, when policy asks for one; repeat
    /// for several approvers.
    #[arg(long = "token", value_name = "TOKEN")]
    pub tokens: Vec<String>,

    #[command(flatten)]
    pub apply: ApplyArgs,
}

#[derive(Debug, Subcommand)]
pub enum UndoCommand {
    /// List a database's journaled changes, newest first, every operator's.
    List {
        /// Target, as for the shell.
        #[arg(value_name = "DB")]
        target: Option<String>,
        /// Only the N newest changes (a journal keeps every change ever made).
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Show one change: its statement and every row, before and after.
    Show {
        id: i64,
        /// Target, as for the shell.
        #[arg(value_name = "DB")]
        target: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Undo a change in the database it was made in.
    Apply {
        id: i64,
        /// Target, as for the shell.
        #[arg(value_name = "DB")]
        target: Option<String>,
        #[command(flatten)]
        run: UndoRunArgs,
    },
    /// Print a change's undo as SQL for plain psql/sqlite3, or as JSON.
    Export {
        id: i64,
        /// Target, as for the shell.
        #[arg(value_name = "DB")]
        target: Option<String>,
        #[arg(long, value_enum, default_value_t = ExportFormat::Sql)]
        format: ExportFormat,
    },
    /// Undo changes made in one database in another one (a staging copy,
    /// a restored backup): previewed, conflict-checked and journaled there.
    Replay {
        /// The database the changes were made in (whose journal has them).
        #[arg(long, value_name = "DB")]
        from: String,
        /// The database to restore into.
        #[arg(long, value_name = "DB")]
        to: String,
        /// Changes to undo, in this order (default: every change that is
        /// not itself an undo and was not undone, newest first).
        ids: Vec<i64>,
        #[command(flatten)]
        run: UndoRunArgs,
    },
    /// Drop the rows of old changes from the journal (their entries and
    /// the audit trail stay): they can no longer be undone.
    Prune {
        /// Target, as for the shell.
        #[arg(value_name = "DB")]
        target: Option<String>,
        /// Prune changes made before this time (RFC 3339, or YYYY-MM-DD).
        #[arg(
            long,
            value_name = "TIME",
            required_unless_present = "keep",
            conflicts_with = "keep"
        )]
        before: Option<String>,
        /// Keep the rows of the N newest changes, prune the rest.
        #[arg(long, value_name = "N")]
        keep: Option<u64>,
    },
}

/// How the shell looks and behaves.
#[derive(Debug, Clone, Args, Default)]
pub struct DisplayArgs {
    /// Environment label shown in the prompt (production is shown in red).
    /// Later set by policy.
    #[arg(long = "env", value_name = "NAME")]
    pub env: Option<String>,

    /// Rows printed per result; the rest are counted, not shown.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub display_limit: usize,
}

/// How previews are computed.
#[derive(Debug, Clone, Args)]
pub struct PreviewArgs {
    /// Time limit for computing one preview, in seconds; an effect that
    /// cannot be counted in time is reported and the change treated as
    /// unbounded.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub preview_timeout: f64,

    /// Show every key of a large preview with its sample rows, not the
    /// summary by table (the shell's `\preview full`).
    #[arg(long)]
    pub detail: bool,
}

/// How a confirmed change is applied.
#[derive(Debug, Clone, Args, Default)]
pub struct ApplyArgs {
    /// How long to wait for row locks when applying, in seconds (default:
    /// policy's lock_timeout, else 2).
    #[arg(long, value_name = "SECS")]
    pub lock_timeout: Option<f64>,

    /// How long the change may run when applying, in seconds (default:
    /// policy's statement_timeout, else 30).
    #[arg(long, value_name = "SECS")]
    pub statement_timeout: Option<f64>,

    /// Apply even when triggers change rows the journal cannot capture;
    /// the undo entry is then marked partial and says what it misses.
    #[arg(long)]
    pub allow_uncovered: bool,
}

impl Default for PreviewArgs {
    fn default() -> Self {
        PreviewArgs {
            preview_timeout: 10.0,
            detail: false,
        }
    }
}

#[derive(Debug, Clone, Args, Default)]
pub struct ShellArgs {
    /// Target: postgres:// URL, key=value conninfo, SQLite file path or
    /// sqlite:PATH. Default: $DATABASE_URL, then the PG* environment.
    #[arg(value_name = "DB")]
    pub target: Option<String>,

    #[command(flatten)]
    pub display: DisplayArgs,

    #[command(flatten)]
    pub preview: PreviewArgs,

    #[command(flatten)]
    pub apply: ApplyArgs,
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Where to create the demo database (recreated if it exists).
    #[arg(long, value_name = "PATH", default_value = "dbguard-demo.sqlite")]
    pub path: PathBuf,

    /// Only create the database; do not open the shell.
    #[arg(long)]
    pub no_shell: bool,

    #[command(flatten)]
    pub display: DisplayArgs,

    #[command(flatten)]
    pub preview: PreviewArgs,

    #[command(flatten)]
    pub apply: ApplyArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ExecArgs {
    /// Target, as for the shell.
    #[arg(value_name = "DB")]
    pub target: Option<String>,

    /// The SQL to run (several statements separated by `;` run in order).
    #[arg(short = 'c', long = "command", value_name = "SQL", required = true)]
    pub command: String,

    /// Output format: text tables, or one JSON object per statement.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Preview writes (the effects tree) without running them. Exit
    /// status 5 when a statement would fail.
    #[arg(long)]
    pub dry_run: bool,

    /// Apply writes without asking (they are still previewed, verified
    /// and journaled). Without it, exec never applies a write.
    #[arg(long, conflicts_with = "dry_run")]
    pub yes: bool,

    /// An approval token (`dbguard-approval:v1:...`) from `dbguard
    /// approve`; repeat for several approvers.
    #[arg(long = "token", value_name = "TOKEN")]
    pub tokens: Vec<String>,

    #[command(flatten)]
    pub display: DisplayArgs,

    #[command(flatten)]
    pub preview: PreviewArgs,

    #[command(flatten)]
    pub apply: ApplyArgs,
}
