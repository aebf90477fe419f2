//! dbguard: a guarded shell for hand-made changes to PostgreSQL and SQLite
//! databases.
//!
//! Every change goes through one lifecycle, written once in `change`: it
//! is parsed and classified with the engine's rules (`sql`), its impact is
//! previewed from the live database (`impact`: the rows it deletes,
//! changes or leaves dangling, at every depth; `undo` for an undo's plan),
//! policy gives a verdict and may ask for a second person's SSH-signed
//! approval (`policy`, `policy::approval`), it is applied under guard
//! (what commits is what was previewed), and the inverse of every row it
//! changed is journaled with it (`journal`). Reads run in read-only
//! transactions. The shell (`shell`) and the command line (`cli`, `cmd`)
//! drive it.
//!
//! Data flows one way, down this list; nothing imports what is above it
//! (a test holds the crate to it):
//!
//! - `cmd`, `cli`: the command line, clap's types and what each subcommand
//!   does with them;
//! - `shell`: the REPL, script mode, meta commands, rendering, and the
//!   shell as the pipeline's interface;
//! - `change`: the pipeline, its plans (a write, an undo) and its gate;
//! - `impact`: previews of writes;
//! - `sql`: splitting and classifying statements;
//! - `policy`: rules, verdicts, approvals;
//! - `undo`: undo plans, restores and exports;
//! - `journal`: the journal of changes and the audit trail;
//! - `db`: everything engine-specific, behind one interface;
//! - `schema`, `model`, `error`: the introspected schema, the shared
//!   vocabulary (engines, kinds of change, values), the error type;
//! - `crash`: the crash tests' hook, in test builds only.

pub mod change;
pub mod cli;
pub mod cmd;
pub(crate) mod crash;
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
