//! `dbguard exec`: statements from the command line, through the same guard
//! and the same code path as the shell, with text or JSON output.

use crate::cli::{ExecArgs, Format, GlobalArgs};
use crate::db::{Connection, OpenOptions};
use crate::error::{Error, ErrorKind, Result};

use super::Shell;

pub fn run(global: &GlobalArgs, args: &ExecArgs) -> Result<()> {
    let conn = Connection::open(args.target.as_deref(), &OpenOptions::default())?;
    let mut shell = Shell::new(conn, &args.display, &args.preview, global)?;
    shell.format = args.format;
    shell.dry_run = args.dry_run;
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
    if failed > 0 {
        return Err(Error::new(
            ErrorKind::ScriptFailed,
            format!("{failed} statement(s) failed or were refused"),
        ));
    }
    Ok(())
}
