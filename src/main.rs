//! The `dbguard` binary: parse arguments, run, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = dbguard::cli::Cli::parse();
    match dbguard::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if !matches!(
                e.kind,
                dbguard::ErrorKind::ScriptFailed | dbguard::ErrorKind::WouldFail
            ) {
                eprintln!("dbguard: {e}");
            }
            ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1))
        }
    }
}
