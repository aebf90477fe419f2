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
    shell.tokens = args.tokens.clone();
    // exec never asks: without --yes a write stops at its preview.
    shell.interactive = false;
    if args.format == Format::Json {
        shell.display.color = false;
    }
    super::install_interrupt_handler();
    shell.audit("session_start", None, serde_json::json!({"exec": true}));
    let failed = shell.run_text(&args.command);
    shell.audit("session_end", None, serde_json::json!({"failed": failed}));
    if failed == 0 {
        return Ok(());
    }
    // When every failure has the same meaningful kind, exit with its code
    // (2 denied, 3 approval, 4 drift, 5 would fail); anything mixed is 1.
    let kinds = &shell.failure_kinds;
    let same = kinds.iter().all(|k| Some(k) == kinds.first());
    match kinds.first() {
        Some(
            &k
            @ (ErrorKind::WouldFail | ErrorKind::Drift | ErrorKind::Denied | ErrorKind::Approval),
        ) if same => Err(Error::new(k, format!("{failed} statement(s) not applied")).reported()),
        _ => Err(Error::new(
            ErrorKind::ScriptFailed,
            format!("{failed} statement(s) failed or were refused"),
        )),
    }
}
