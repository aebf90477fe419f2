//! Shell options typed before the subcommand (`dbguard --display-limit 2
//! exec ...`). Without a subcommand they are the shell's own, so clap puts
//! them in `Cli::shell` even when a subcommand follows; left there they
//! would be silently ignored. Here each one given on the command line is
//! moved to the subcommand that takes it, refused when the subcommand
//! also has it (given twice), and refused when the subcommand has no such
//! option: never ignored.

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches};

use super::{ApplyArgs, Cli, Command, DisplayArgs, PreviewArgs};

/// The ids (clap's field names) of the shell options a subcommand may
/// take from before its name.
const LEADING: &[&str] = &[
    "target",
    "env",
    "display_limit",
    "preview_timeout",
    "detail",
    "lock_timeout",
    "statement_timeout",
    "allow_uncovered",
];

/// A subcommand's share of the shell options.
struct Parts<'a> {
    target: Option<&'a mut Option<String>>,
    display: &'a mut DisplayArgs,
    preview: &'a mut PreviewArgs,
    apply: &'a mut ApplyArgs,
}

impl Cli {
    /// Parses the process's arguments, placing leading shell options.
    pub fn parse_placed() -> Result<Cli, clap::Error> {
        Cli::parse_placed_from(std::env::args_os())
    }

    /// Parses `args` (the program name first), placing leading shell
    /// options.
    pub fn parse_placed_from<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = Cli::command().try_get_matches_from(args)?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        place(&matches, &mut cli)?;
        Ok(cli)
    }
}

fn typed(m: &ArgMatches, id: &str) -> bool {
    m.try_get_raw(id).is_ok_and(|v| v.is_some())
        && m.value_source(id) == Some(ValueSource::CommandLine)
}

fn place(matches: &ArgMatches, cli: &mut Cli) -> Result<(), clap::Error> {
    let given: Vec<&str> = LEADING
        .iter()
        .copied()
        .filter(|id| typed(matches, id))
        .collect();
    let Some((name, sub)) = matches.subcommand() else {
        return Ok(());
    };
    if given.is_empty() {
        return Ok(());
    }
    let top = &mut cli.shell;
    let parts = match &mut cli.command {
        Some(Command::Shell(a)) => Some(Parts {
            target: Some(&mut a.target),
            display: &mut a.display,
            preview: &mut a.preview,
            apply: &mut a.apply,
        }),
        Some(Command::Exec(a)) => Some(Parts {
            target: Some(&mut a.target),
            display: &mut a.display,
            preview: &mut a.preview,
            apply: &mut a.apply,
        }),
        Some(Command::Demo(a)) => Some(Parts {
            target: None,
            display: &mut a.display,
            preview: &mut a.preview,
            apply: &mut a.apply,
        }),
        _ => None,
    };
    for id in given {
        let flag = flag_name(id);
        let Some(parts) = parts.as_ref() else {
            return Err(misplaced(&format!(
                "{flag} is an option of the shell, exec and demo, not of `{name}`; nothing was run"
            )));
        };
        if typed(sub, id) {
            return Err(misplaced(&format!(
                "{flag} was given both before and after `{name}`; give it once"
            )));
        }
        if id == "target" && parts.target.is_none() {
            return Err(misplaced(&format!(
                "`{name}` takes no database; nothing was run"
            )));
        }
    }
    if let Some(mut parts) = parts {
        for id in LEADING.iter().copied().filter(|id| typed(matches, id)) {
            copy(id, top, &mut parts);
        }
    }
    Ok(())
}

fn copy(id: &str, top: &mut super::ShellArgs, to: &mut Parts<'_>) {
    match id {
        "target" => {
            if let Some(t) = to.target.as_deref_mut() {
                *t = top.target.take();
            }
        }
        "env" => to.display.env = top.display.env.take(),
        "display_limit" => to.display.display_limit = top.display.display_limit,
        "preview_timeout" => to.preview.preview_timeout = top.preview.preview_timeout,
        "detail" => to.preview.detail = top.preview.detail,
        "lock_timeout" => to.apply.lock_timeout = top.apply.lock_timeout,
        "statement_timeout" => to.apply.statement_timeout = top.apply.statement_timeout,
        "allow_uncovered" => to.apply.allow_uncovered = top.apply.allow_uncovered,
        _ => {}
    }
}

/// How the option is typed, for messages.
fn flag_name(id: &str) -> String {
    match id {
        "target" => "the database (DB)".to_owned(),
        other => format!("--{}", other.replace('_', "-")),
    }
}

fn misplaced(message: &str) -> clap::Error {
    Cli::command().error(clap::error::ErrorKind::ArgumentConflict, message)
}
