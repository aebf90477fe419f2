//! `dbguard init [DB]`: create (or migrate) the journal in a database, and
//! `dbguard journal import FILE [DB]`: bring the entries of an older
//! release's journal file into it.

use crate::cli::{GlobalArgs, InitArgs, JournalCommand};
use crate::db::{Connection, OpenOptions};
use crate::error::Result;
use crate::journal::Init;
use crate::journal::trail::Trail;

use super::{options, out};

pub(super) fn run(global: &GlobalArgs, args: &InitArgs) -> Result<()> {
    let mut conn = Connection::open(args.target.as_deref(), &OpenOptions::default())?;
    let operator = options::operator(global);
    let done = crate::journal::init(&mut conn, &operator)?;
    let id = conn.identity().clone();
    let text = match done {
        Init::Created => {
            let mut trail = Trail::open(&mut conn, options::witness(global))?;
            trail.append(
                &mut conn,
                &operator,
                &[(
                    "init",
                    None,
                    serde_json::json!({"version": crate::journal::JOURNAL_VERSION}),
                )],
            )?;
            format!(
                "created the dbguard journal (version {}) in {}: {}\n",
                crate::journal::JOURNAL_VERSION,
                id.display,
                crate::journal::describe_location(id.engine)
            )
        }
        Init::Migrated(from) => format!(
            "migrated the dbguard journal in {} from version {from} to {}\n",
            id.display,
            crate::journal::JOURNAL_VERSION
        ),
        Init::AlreadyThere => format!(
            "{} already has the dbguard journal (version {})\n",
            id.display,
            crate::journal::JOURNAL_VERSION
        ),
    };
    out(&text)
}

pub(super) fn journal(global: &GlobalArgs, cmd: &JournalCommand) -> Result<()> {
    match cmd {
        JournalCommand::Import { file, target } => {
            let mut conn = Connection::open(target.as_deref(), &OpenOptions::default())?;
            let operator = options::operator(global);
            let mut trail = Trail::open(&mut conn, options::witness(global))?;
            let report = crate::journal::import::import(&mut conn, &mut trail, &operator, file)?;
            out(&report.text())
        }
    }
}
