//! Helpers shared by the unit tests of `conninfo`: resolution with a fake
//! environment, so no test depends on the machine or changes the process's
//! variables.

use std::collections::HashMap;
use std::path::Path;

use super::env::resolve_with;
use super::{Ambient, PgParams};
use crate::error::Result;

pub(super) fn env_of(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Resolves with a fake environment; `/var/run/postgresql` exists only
/// when `socket` is true.
pub(super) fn resolve_in(spec: &str, vars: &[(&str, &str)], socket: bool) -> Result<PgParams> {
    let map = env_of(vars);
    let var = move |k: &str| map.get(k).cloned();
    let exists = move |p: &Path| socket && p == Path::new("/var/run/postgresql");
    resolve_with(
        spec,
        &Ambient {
            var: &var,
            exists: &exists,
            os_user: &|| None,
        },
    )
}

pub(super) fn r(spec: &str) -> PgParams {
    match resolve_in(spec, &[("USER", "alice")], false) {
        Ok(p) => p,
        Err(e) => panic!("{spec}: {e}"),
    }
}

pub(super) fn err(spec: &str) -> String {
    match resolve_in(spec, &[("USER", "alice")], false) {
        Ok(p) => panic!("{spec} should fail, got {p:?}"),
        Err(e) => e.message,
    }
}
