//! Command-line definitions (clap) and the dispatch to the library.
//!
//! Only argument shapes live here; each subcommand calls one function of the
//! library. `main.rs` turns the returned error into an exit code.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::error::Result;

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
    /// Policy directory (policies/*.toml and policies/approvers). Accepted
    /// now; policies take effect with the approval workflow.
    #[arg(long, global = true, value_name = "DIR")]
    pub policy: Option<PathBuf>,

    /// Undo journal and audit file. Accepted now; the journal is written
    /// once guarded apply exists.
    #[arg(long, global = true, value_name = "PATH")]
    pub journal: Option<PathBuf>,

    /// Operator name recorded with every change (default: $USER).
    #[arg(long = "as", global = true, value_name = "NAME")]
    pub operator: Option<String>,
}

impl GlobalArgs {
    /// The operator's name: `--as`, else `$USER`, else `unknown`.
    pub fn operator(&self) -> String {
        self.operator
            .clone()
            .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| "unknown".into())
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the interactive shell (the default).
    Shell(ShellArgs),
    /// Create the demo SQLite database and open the shell on it.
    Demo(DemoArgs),
    /// Run statements non-interactively through the same guard as the shell.
    Exec(ExecArgs),
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
}

impl Default for PreviewArgs {
    fn default() -> Self {
        PreviewArgs {
            preview_timeout: 10.0,
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

    #[command(flatten)]
    pub display: DisplayArgs,

    #[command(flatten)]
    pub preview: PreviewArgs,
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let global = cli.global;
    match cli.command {
        None => crate::shell::run_shell(&global, &cli.shell),
        Some(Command::Shell(args)) => crate::shell::run_shell(&global, &args),
        Some(Command::Demo(args)) => crate::demo::run(&global, &args),
        Some(Command::Exec(args)) => crate::shell::exec::run(&global, &args),
    }
}
