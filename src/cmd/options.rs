//! Parsed arguments turned into the library's options, in one place.
//!
//! The clap types say what was typed; the library takes durations, paths
//! and names. Every check of a flag's value happens here, with a message
//! that names the flag, so the library never sees a half-valid option.

use std::time::Duration;

use crate::cli::{ApplyArgs, DisplayArgs, Format, GlobalArgs, PreviewArgs};
use crate::error::{Error, Result};

/// The audit witness: `--audit-log`, or the default under the state
/// directory.
pub(super) fn witness(global: &GlobalArgs) -> Option<crate::journal::trail::Witness> {
    global
        .audit_log
        .clone()
        .or_else(crate::journal::trail::Witness::default_path)
        .map(crate::journal::trail::Witness::new)
}

/// The operator's name: `--as`, else `$USER`, else the operating
/// system's name for this user (as libpq finds it), else `unknown`.
pub(super) fn operator(global: &GlobalArgs) -> String {
    global
        .operator
        .clone()
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .or_else(crate::db::os_user_name)
        .unwrap_or_else(|| "unknown".into())
}

/// A positive number of seconds given to `--name`.
fn seconds(value: f64, name: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            Error::input(format!(
                "--{name} {value} is not a positive number of seconds"
            ))
        })
}

/// How a confirmed change is applied: the flags given, defaults for the
/// rest (the shell lets policy fill what was not given).
pub(super) fn apply(args: &ApplyArgs) -> Result<crate::shell::ApplyFlags> {
    Ok(crate::shell::ApplyFlags {
        lock_timeout: args
            .lock_timeout
            .map(|v| seconds(v, "lock-timeout"))
            .transpose()?,
        statement_timeout: args
            .statement_timeout
            .map(|v| seconds(v, "statement-timeout"))
            .transpose()?,
        allow_uncovered: args.allow_uncovered,
    })
}

/// A shell session's options.
pub(super) fn shell(
    global: &GlobalArgs,
    display: &DisplayArgs,
    preview: &PreviewArgs,
    apply_args: &ApplyArgs,
) -> Result<crate::shell::Options> {
    Ok(crate::shell::Options {
        target: None,
        operator: operator(global),
        key: global.key.clone(),
        policy: global.policy.clone(),
        audit_log: global.audit_log.clone(),
        env_label: display.env.clone(),
        display_limit: display.display_limit,
        preview_timeout: seconds(preview.preview_timeout, "preview-timeout")?,
        preview_detail: preview.detail,
        apply: apply(apply_args)?,
    })
}

/// The library's output format.
pub(super) fn format(format: Format) -> crate::shell::Format {
    match format {
        Format::Text => crate::shell::Format::Text,
        Format::Json => crate::shell::Format::Json,
    }
}
