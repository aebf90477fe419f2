//! `dbguard exec DB -c SQL`: statements from the command line, through the
//! same guard and the same code path as the shell, with text or JSON
//! output. exec never asks: without `--yes` a write stops at its preview.

use crate::cli::{ExecArgs, GlobalArgs};
use crate::db::{Connection, OpenOptions};
use crate::error::Result;
use crate::shell::{Format, Shell};

use super::options;

pub(super) fn run(global: &GlobalArgs, args: &ExecArgs) -> Result<()> {
    let mut opts = options::shell(global, &args.display, &args.preview, &args.apply)?;
    opts.target = args.target.clone();
    let conn = Connection::open(args.target.as_deref(), &OpenOptions::default())?;
    let mut shell = Shell::new(conn, &opts)?;
    shell.format = options::format(args.format);
    shell.dry_run = args.dry_run;
    shell.yes = args.yes;
    shell.tokens = args.tokens.clone();
    shell.interactive = false;
    if shell.format == Format::Json {
        shell.display.color = false;
    }
    shell.exec(&args.command)
}
