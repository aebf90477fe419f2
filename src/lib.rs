//! dbguard: a guarded shell for one-off data changes on PostgreSQL and
//! SQLite.
//!
//! Every statement typed at the prompt goes through one lifecycle:
//! it is *analyzed* (`sql`: split, parsed with the engine's dialect,
//! classified), its impact is *previewed* (the rows it deletes, changes or
//! leaves dangling, at every depth), *policy* gives a verdict, an *approver*
//! signs that exact change where policy asks, it is *applied* under guard
//! (what commits is what was previewed), and an *undo entry* records the
//! inverse of every row it changed. Reads run in read-only transactions.
//!
//! This version builds the foundation: connecting (`db`), the schema model
//! (`schema`), classification (`sql`), the shell (`shell`) and the demo
//! database (`demo`). Writes are recognised and refused until the guarded
//! path exists.

pub mod cli;
pub mod db;
pub mod demo;
pub mod error;
pub mod schema;
pub mod shell;
pub mod sql;

pub use error::{Error, ErrorKind, Result};
