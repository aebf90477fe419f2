//! The `dbguard` binary: parse arguments, run, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;

/// With `DBGUARD_REPORT_RSS` set, prints the process's peak resident set
/// size at exit (Linux), so benchmarks can measure memory from outside.
fn report_rss() {
    if std::env::var_os("DBGUARD_REPORT_RSS").is_none() {
        return;
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        if let Some(kb) = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .map(|v| v.trim().trim_end_matches("kB").trim().to_owned())
        {
            eprintln!("peak_rss_kb={kb}");
        }
    }
}

fn main() -> ExitCode {
    let cli = match dbguard::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // clap exits 2 on a usage error, and 2 means "denied by policy"
            // here: a script must not read a typo as a denial. Bad input is 1.
            return if e.use_stderr() {
                exit(dbguard::error::exit::ERROR)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = dbguard::cli::run(cli);
    report_rss();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Script failures were each reported where they happened.
            if e.kind != dbguard::ErrorKind::ScriptFailed && !e.reported {
                eprintln!("dbguard: {e}");
            }
            exit(e.exit_code())
        }
    }
}

/// The process status for one of `dbguard::error::exit`'s codes.
fn exit(code: u8) -> ExitCode {
    ExitCode::from(code)
}
