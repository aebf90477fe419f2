//! `dbguard demo`: a realistic SQLite database to try the shell on.
//!
//! (Initial version; being completed.)

use crate::cli::{DemoArgs, GlobalArgs};
use crate::error::Result;

pub fn run(_global: &GlobalArgs, _args: &DemoArgs) -> Result<()> {
    Ok(())
}
