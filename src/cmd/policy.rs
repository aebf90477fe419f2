//! `dbguard policy check [DIR]`: validates a policy directory and prints
//! the effective policy (the library's `policy::check` says what), exit 1
//! with any error.

use crate::cli::{GlobalArgs, PolicyCommand};
use crate::error::{Error, Result};
use crate::policy::check::report;
use crate::policy::{BUILTIN_NAME, Policy};

use super::out;

pub(super) fn run(global: &GlobalArgs, cmd: &PolicyCommand) -> Result<()> {
    let PolicyCommand::Check { dir } = cmd;
    let dir = Policy::directory(dir.as_deref().or(global.policy.as_deref()));
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
