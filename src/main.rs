//! The `dbguard` binary: parse the command line, run it, exit with its
//! status. Everything else is the library's command layer (`dbguard::cmd`).

use std::process::ExitCode;

fn main() -> ExitCode {
    let status = match dbguard::cli::Cli::parse_placed() {
        Ok(cli) => dbguard::cmd::run(cli),
        Err(e) => dbguard::cmd::usage(&e),
    };
    ExitCode::from(status)
}
