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
//! This version connects (`db`), introspects (`schema`), classifies
//! (`sql`), runs reads, previews writes (`impact`), applies them under
//! guard (`apply`) with an undo journal (`journal`) that `restore` plays
//! back, in the shell (`shell`), with associations from policy files
//! (`policy`) and a demo database (`demo`). Policy verdicts and approvals
//! come next.

pub mod change;
pub mod cli;
pub mod cmd;
pub mod crash;
pub mod db;
pub mod error;
pub mod impact;
pub mod journal;
pub mod model;
pub mod policy;
pub mod schema;
pub mod shell;
pub mod sql;
pub mod undo;

pub use error::{Error, ErrorKind, Result};
