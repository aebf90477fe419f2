//! `dbguard exec`: statements from the command line, through the same guard
//! and the same code path as the shell, with text or JSON output.

use crate::cli::{ExecArgs, Format, GlobalArgs};
use crate::db::{Connection, OpenOptions};
use crate::error::{Error, ErrorKind, Result};

use super::Shell;

pub fn run(global: &GlobalArgs, args: &ExecArgs) -> Result<()> {
    let conn = Connection::open(args.target.as_deref(), &OpenOptions::default())?;
    let mut shell = Shell::new(conn, &args.display, &args.preview, &args.apply, global)?;
    shell.format = args.format;
    shell.dry_run = args.dry_run;
    shell.yes = args.yes;
    // exec never asks: without --yes a write stops at its preview.
    shell.interactive = false;
    if args.format == Format::Json {
        shell.display.color = false;
    }
    super::install_interrupt_handler();
    let failed = shell.run_text(&args.command);
    // Every failure was a preview saying the statement would fail: exit 5.
    if failed > 0 && failed == shell.would_fail {
        return Err(Error::new(
            ErrorKind::WouldFail,
            format!("{failed} statement(s) would fail"),
        ));
    }
    // Every failure was drift: exit 4, so scripts can preview again.
    if failed > 0 && failed == shell.drifted {
        return Err(Error::new(
            ErrorKind::Drift,
            format!("{failed} statement(s) found the database changed since the preview"),
        ));
    }
    if failed > 0 {
        return Err(Error::new(
            ErrorKind::ScriptFailed,
            format!("{failed} statement(s) failed or were refused"),
        ));
    }
    Ok(())
}
