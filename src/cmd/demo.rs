//! `dbguard demo`: creates the demo SQLite database (`crate::db::sqlite::demo`)
//! and its policy directory (`demo_policy`), and opens the shell on it with
//! an opening screen that says what to type, step by step.

use std::path::Path;

use crate::cli::{DemoArgs, GlobalArgs};
use crate::db::Connection;
use crate::db::sqlite::SqliteConnection;
use crate::error::Result;

use super::demo_policy::{self, DemoPolicy};
use super::{options, out};

/// `dbguard demo`: create the database and its policy, then open the
/// shell on them.
pub(super) fn run(global: &GlobalArgs, args: &DemoArgs) -> Result<()> {
    crate::db::sqlite::demo::create(&args.path)?;
    let policy = demo_policy::write(&args.path)?;
    // The demo is there to try changes and undo them: it has its journal.
    let mut conn = Connection::Sqlite(SqliteConnection::open(&args.path, false)?);
    crate::journal::init(&mut conn, &options::operator(global))?;
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stdin());
    let banner = opening_screen(&args.path, &policy, global.policy.as_deref());
    if args.no_shell || interactive {
        out(&banner)?;
    } else {
        super::err(banner.trim_end_matches('\n'));
    }
    if args.no_shell {
        return Ok(());
    }
    let mut opts = options::shell(global, &args.display, &args.preview, &args.apply)?;
    // A policy or key named on purpose wins; otherwise the demo's own, so
    // `./policies` or the built-in default never decide what the steps
    // on the screen do.
    opts.policy.get_or_insert_with(|| policy.dir.clone());
    opts.key.get_or_insert_with(|| policy.operator_key.clone());
    crate::shell::run_on(conn, &opts)
}

/// What the demo shows before its prompt: what it made, and exactly what
/// to type, in order, for a change applied and undone, then an approval.
fn opening_screen(db: &Path, policy: &DemoPolicy, given: Option<&Path>) -> String {
    let approve = format!(
        "{} approve --key {} REQUEST",
        program(),
        quoted(&policy.approver_key)
    );
    let mut s = format!(
        "Created the demo database {}\n\
         and its policy in {}: a delete asks you to confirm it,\n\
         except a delete from distributions, which needs an approver's signature.\n",
        db.display(),
        policy.dir.display()
    );
    if let Some(dir) = given {
        s.push_str(&format!(
            "This session uses the policy in {} (--policy or DBGUARD_POLICY) instead,\n\
             so what it asks may differ from the steps below.\n",
            dir.display()
        ));
    }
    s.push_str(&format!(
        "\n\
         Delete an architecture, apply it, and undo it:\n\
         \x20 1. Type:  DELETE FROM architectures WHERE name = 'i586';\n\
         \x20    The preview: the row, what goes with it, what it leaves dangling.\n\
         \x20 2. At \"Apply this change?\" type:  apply\n\
         \x20    The shell answers \"Applied as change N\" and \"Undo with: \\undo N\".\n\
         \x20 3. Type:  \\undo N   (that N), and at \"Apply this change?\" again:  apply\n\
         \x20    Every row the delete changed is back.\n\
         \n\
         Then a change that needs a second person's signature:\n\
         \x20 4. Type:  DELETE FROM distributions WHERE name = 'Fedora' AND version = '39';\n\
         \x20    The shell prints a request line, dbguard-request:v1:...,\n\
         \x20    and waits at \"approval token>\".\n\
         \x20 5. In another terminal, sign it as the demo's approver (REQUEST: that line):\n\
         \x20      {approve}\n\
         \x20    Answer y, and paste the token it prints (dbguard-approval:v1:...)\n\
         \x20    at \"approval token>\": the change is applied; \\undo takes it back.\n\
         \n\
         Also try \\refs architectures (what a delete there touches),\n\
         \\d repository_architectures (an architecture_id without a foreign key);\n\
         \\q leaves.\n"
    ));
    s
}

/// How to run this dbguard again from another terminal: the name it was
/// run by when that came from `$PATH`, else its full path (`cargo run`
/// runs it as `target/...`, relative to a directory the other terminal
/// may not be in).
fn program() -> String {
    let argv0 = std::env::args_os().next();
    match argv0 {
        Some(name) if !name.to_string_lossy().contains('/') => name.to_string_lossy().into_owned(),
        _ => std::env::current_exe()
            .map(|p| quoted(&p))
            .unwrap_or_else(|_| "dbguard".to_owned()),
    }
}

/// `path` as a shell word: quoted when it holds anything a shell reads.
fn quoted(path: &Path) -> String {
    let s = path.display().to_string();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+,:=@%".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
