//! The command layer: one file per subcommand, each turning its parsed
//! arguments (`crate::cli`) into library options, running the library, and
//! printing what it returns.
//!
//! This is the only layer that knows the clap types (the way ripgrep turns
//! its low-level arguments into high-level options in one place), owns the
//! process's stdout and stderr, and maps errors to exit codes: [`run`]
//! gives the status of every subcommand, so the codes documented in the
//! README are decided here and nowhere else. A reader that goes away
//! (`dbguard ... | head`) ends the process quietly with status 0, and
//! nothing here panics on a closed stdout or stderr.

mod approve;
mod audit;
mod demo;
mod demo_policy;
mod exec;
mod init;
mod options;
mod policy;
mod shell;
mod undo;

use std::io::Write;

use crate::cli::{Cli, Command};
use crate::error::{ErrorKind, Result, exit};

/// Runs the parsed command line; returns the process exit status.
pub fn run(cli: Cli) -> u8 {
    install_interrupt_handler();
    let global = cli.global;
    if let Some(schema) = &global.journal_schema
        && let Err(e) = crate::db::journal::set_journal_schema(schema)
    {
        return status(Err(e));
    }
    let result = match cli.command {
        None => shell::run(&global, &cli.shell),
        Some(Command::Shell(args)) => shell::run(&global, &args),
        Some(Command::Demo(args)) => demo::run(&global, &args),
        Some(Command::Exec(args)) => exec::run(&global, &args),
        Some(Command::Init(args)) => init::run(&global, &args),
        Some(Command::Undo(args)) => undo::run(&global, &args.command),
        Some(Command::Journal(args)) => init::journal(&global, &args.command),
        Some(Command::Approve(args)) => approve::run(&global, &args),
        Some(Command::Audit(args)) => audit::run(&global, &args.command),
        Some(Command::Policy(args)) => policy::run(&global, &args.command),
    };
    report_rss();
    status(result)
}

/// Ctrl-C cancels the statement running now, wherever it runs (a read in
/// the shell, a preview, an apply, an undo), and the command goes on to
/// report it; when nothing runs it ends the process, with the status a
/// shell gives a process ended by SIGINT. The main thread may be blocked
/// reading input then, so the handler is what ends it. While rustyline
/// reads a line the terminal is raw and Ctrl-C never becomes a signal.
fn install_interrupt_handler() {
    let _ = ctrlc::set_handler(|| {
        if !crate::shell::interrupt::cancel_running() {
            std::process::exit(i32::from(exit::INTERRUPTED));
        }
    });
}

/// The status for a command line clap could not parse, or `--help` and
/// `--version`, which clap reports the same way.
pub fn usage(e: &clap::Error) -> u8 {
    // A help text cut short by `| head` is no failure of ours.
    let _ = e.print();
    // clap exits 2 on a usage error, and 2 means "denied by policy" here:
    // a script must not read a typo as a denial. Bad input is 1.
    if e.use_stderr() {
        exit::ERROR
    } else {
        exit::OK
    }
}

/// The one mapping from a command's result to the exit status.
fn status(result: Result<()>) -> u8 {
    match result {
        Ok(()) => exit::OK,
        Err(e) if e.is_broken_pipe() => exit::OK,
        Err(e) => {
            // Script failures were each reported where they happened.
            if e.kind != ErrorKind::ScriptFailed && !e.reported {
                err(&format!("dbguard: {e}"));
            }
            e.exit_code()
        }
    }
}

pub(crate) use crate::shell::render::out;

/// Writes one line to stderr. A closed stderr is ignored: there is nowhere
/// left to say anything, and the exit status still tells.
pub(crate) fn err(line: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{line}");
}

/// With `DBGUARD_REPORT_RSS` set, prints the process's peak resident set
/// size at exit (Linux), so benchmarks can measure memory from outside.
fn report_rss() {
    if std::env::var_os("DBGUARD_REPORT_RSS").is_none() {
        return;
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(kb) = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .map(|v| v.trim().trim_end_matches("kB").trim().to_owned())
    {
        err(&format!("peak_rss_kb={kb}"));
    }
}
