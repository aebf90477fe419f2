//! `dbguard policy check [DIR]`: validates a policy directory and prints
//! the effective policy (the library's `policy::check` says what), exit 1
//! with any error. `dbguard policy push DIR [DB]`: pins a directory's
//! policy in the database, as a guarded change (`change::PolicyPush`).

use crate::cli::{GlobalArgs, PolicyCommand, PolicyPushArgs};
use crate::db::{Connection, OpenOptions};
use crate::error::{Error, Result};
use crate::journal::trail::Trail;
use crate::policy::check::report;
use crate::policy::verdict::Decision;
use crate::policy::{BUILTIN_NAME, Policy};
use crate::shell::command::{CommandTarget, run_plan};

use super::{options, out};

pub(super) fn run(global: &GlobalArgs, cmd: &PolicyCommand) -> Result<()> {
    match cmd {
        PolicyCommand::Check { dir } => check(global, dir.as_deref()),
        PolicyCommand::Push(args) => push(global, args),
    }
}

/// Pins `args.dir` in the target. The pinned policy judges its own
/// replacement (`operations = ["policy"]`, else its default); a database
/// that pins none takes its first policy without asking anyone, and the
/// audit trail records who pushed it.
fn push(global: &GlobalArgs, args: &PolicyPushArgs) -> Result<()> {
    // Whatever is pushed must load as it will govern.
    let (_, source) = Policy::load_dir_source(&args.dir)?;
    let mut conn = Connection::open(args.target.as_deref(), &OpenOptions::default())?;
    let policy = match crate::policy::pinned::pinned(&mut conn)? {
        Some(p) => crate::policy::pinned::laid_over(&conn, &p, global.policy.as_deref())?.0,
        None => {
            let mut first = Policy::default();
            first.default_decision = Decision::Allow;
            first
        }
    };
    let operator = options::operator(global);
    let mut trail = Trail::open(&mut conn, options::witness(global))?;
    let mut plan = crate::change::PolicyPush::new(source, &args.dir);
    let run = crate::change::Options {
        dry_run: args.dry_run,
        yes: args.yes,
        tokens: args.tokens.clone(),
        key: global.key.clone(),
        apply: Default::default(),
    };
    let at = CommandTarget {
        conn: &mut conn,
        trail: &mut trail,
        policy: &policy,
        operator: &operator,
    };
    run_plan(at, &mut plan, options::format(args.format), &run)
}

fn check(global: &GlobalArgs, dir: Option<&std::path::Path>) -> Result<()> {
    let dir = Policy::directory(dir.or(global.policy.as_deref()));
    let (policy, problems) = match &dir {
        Some(d) => Policy::load_checked(d)?,
        None => {
            let p = Policy::builtin();
            let w = p.warnings.clone();
            (p, w)
        }
    };
    let (text, errors) = report(&policy, &problems);
    out(&text)?;
    if errors > 0 {
        let shown = dir
            .as_ref()
            .map_or_else(|| BUILTIN_NAME.to_owned(), |d| d.display().to_string());
        return Err(Error::input(format!(
            "policy {shown} has {errors} error{}",
            if errors == 1 { "" } else { "s" }
        )));
    }
    Ok(())
}
