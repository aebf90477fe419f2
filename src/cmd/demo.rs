//! `dbguard demo`: creates the demo SQLite database (`crate::db::sqlite::demo`) and
//! opens the shell on it.

use crate::cli::{DemoArgs, GlobalArgs};
use crate::db::Connection;
use crate::db::sqlite::SqliteConnection;
use crate::error::Result;

use super::{options, out};

/// `dbguard demo`: create the database, then open the shell on it.
pub(super) fn run(global: &GlobalArgs, args: &DemoArgs) -> Result<()> {
    crate::db::sqlite::demo::create(&args.path)?;
    // The demo is there to try changes and undo them: it has its journal.
    let mut conn = Connection::Sqlite(SqliteConnection::open(&args.path, false)?);
    crate::journal::init(&mut conn, &options::operator(global))?;
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stdin());
    let banner = format!(
        "Created the demo database {}\n{}",
        args.path.display(),
        crate::db::sqlite::demo::TRY
    );
    if args.no_shell || interactive {
        out(&banner)?;
    } else {
        super::err(banner.trim_end_matches('\n'));
    }
    if args.no_shell {
        return Ok(());
    }
    let opts = options::shell(global, &args.display, &args.preview, &args.apply)?;
    crate::shell::run_on(conn, &opts)
}
