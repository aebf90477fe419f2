//! `dbguard [shell] [DB]`: the interactive shell on a terminal, or a
//! script read from a pipe like `psql -f`.

use crate::cli::{GlobalArgs, ShellArgs};
use crate::db::{Connection, OpenOptions};
use crate::error::Result;

use super::options;

pub(super) fn run(global: &GlobalArgs, args: &ShellArgs) -> Result<()> {
    let mut opts = options::shell(global, &args.display, &args.preview, &args.apply)?;
    opts.target = args.target.clone();
    let conn = Connection::open(args.target.as_deref(), &OpenOptions::default())?;
    crate::shell::run_on(conn, &opts)
}
