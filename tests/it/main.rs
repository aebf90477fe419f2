//! Integration tests: one binary, real engines only.
//!
//! Postgres tests each get a fresh database on the server named by
//! `DBGUARD_TEST_PG` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! dropped afterwards. SQLite tests use temporary files. Nothing here reads
//! `../shared`: fixtures are written by the tests.

// A test fails by panicking: unwrapping is how these say "this must hold".
#![allow(clippy::unwrap_used)]

mod helpers;

mod apply;
mod apply_conflicts;
mod apply_crash;
mod apply_drift;
mod apply_export;
mod apply_replay;
mod apply_returning;
mod apply_triggers;
mod apply_types;
mod apply_types_encoding;
mod apply_types_sqlite;
mod approval;
mod approval_flow;
mod approval_rows;
mod approval_ssh;
mod approval_verify;
mod audit;
mod audit_prune;
mod audit_refused;
mod audit_story;
mod audit_witness;
mod classify_lexical;
mod classify_props;
mod cli;
mod cluster;
mod complete;
mod connect;
mod connect_defaults;
mod demo;
mod gitlab_schema;
mod gitlab_shape;
mod guard_admin;
mod guard_classifier;
mod guard_effects;
mod guard_forms;
mod guard_smuggling;
mod guard_trigger_reach;
mod impact;
mod impact_associations;
mod impact_chains;
mod impact_checks;
mod impact_delete;
mod impact_diff_snap;
mod impact_found;
mod impact_generated;
mod impact_generated_schema;
mod impact_generated_statements;
mod impact_guard;
mod impact_inherit;
mod impact_large;
mod impact_order;
mod impact_own_keys;
mod impact_pg;
mod impact_props;
mod impact_props_mutations;
mod impact_props_oracle;
mod impact_props_regressions;
mod impact_queue;
mod impact_snap;
mod impact_sqlite;
mod impact_writes;
mod introspect;
mod journal_import;
mod journal_init;
mod journal_props;
mod layout;
mod meta_catalog;
mod policy;
mod policy_pinned;
mod reads;
mod reads_errors;
mod render;
mod shell_meta;
mod shell_terminal;
mod terminal;
mod undo_keyless;
mod undo_output;
