//! The reviewed list of PostgreSQL functions whose effects the guard's
//! transactions do not contain: calls on another connection, on other
//! sessions, on the server, on files, on sequences, on large objects.
//!
//! Two checks read it: a read's parse tree (`crate::sql::effects`, where
//! any call on the list is refused) and the source of the functions a
//! write's triggers run (`super::reach`, where only what lies beyond the
//! transaction's row counters counts). Each entry says what it does that
//! the guard cannot see.

/// One reviewed function, or a family of them by prefix.
pub struct SideEffect {
    /// The function's name, in lower case.
    pub name: &'static str,
    /// Whether every function whose name starts with `name` is meant.
    pub prefix: bool,
    /// What it does that a read-only transaction does not stop.
    pub why: &'static str,
}

const fn one(name: &'static str, why: &'static str) -> SideEffect {
    SideEffect {
        name,
        prefix: false,
        why,
    }
}

const CONNECTION: &str = "runs SQL on another connection, which commits on its own";
const LARGE_OBJECT: &str = "writes large objects, which a read-only transaction allows";
const SESSIONS: &str = "acts on other sessions";
const SERVER: &str = "acts on the server itself";
const STATS: &str = "resets the server's statistics";
const SLOTS: &str = "changes replication slots or origins";
const LOCK: &str = "takes or releases a session-level advisory lock that outlives the read";
const NOTIFY: &str = "sends a notification to other sessions";
const FILES: &str = "writes files on the server";
const QUERY_STRING: &str =
    "runs the SQL in a string argument, which dbguard cannot read for the calls it makes";
const STORAGE: &str =
    "changes a table's storage directly, which no transaction and no undo can put back";
const SEQUENCE: &str = "sets a sequence, which no rollback and no undo puts back";

/// The reviewed list (PostgreSQL 15).
pub const SIDE_EFFECTS: &[SideEffect] = &[
    SideEffect {
        name: "dblink",
        prefix: true,
        why: CONNECTION,
    },
    one("lo_creat", LARGE_OBJECT),
    one("lo_create", LARGE_OBJECT),
    one("lo_from_bytea", LARGE_OBJECT),
    one("lo_import", LARGE_OBJECT),
    one("lo_export", FILES),
    one("lo_put", LARGE_OBJECT),
    one("lo_truncate", LARGE_OBJECT),
    one("lo_truncate64", LARGE_OBJECT),
    one("lo_unlink", LARGE_OBJECT),
    one("lowrite", LARGE_OBJECT),
    one("pg_terminate_backend", SESSIONS),
    one("pg_cancel_backend", SESSIONS),
    one("pg_reload_conf", SERVER),
    one("pg_rotate_logfile", SERVER),
    one("pg_switch_wal", SERVER),
    one("pg_create_restore_point", SERVER),
    one("pg_logical_emit_message", SERVER),
    one("pg_promote", SERVER),
    one("pg_backup_start", SERVER),
    one("pg_backup_stop", SERVER),
    one("pg_wal_replay_pause", SERVER),
    one("pg_wal_replay_resume", SERVER),
    one("pg_import_system_collations", SERVER),
    SideEffect {
        name: "pg_stat_reset",
        prefix: true,
        why: STATS,
    },
    one("pg_create_physical_replication_slot", SLOTS),
    one("pg_create_logical_replication_slot", SLOTS),
    one("pg_drop_replication_slot", SLOTS),
    one("pg_copy_physical_replication_slot", SLOTS),
    one("pg_copy_logical_replication_slot", SLOTS),
    one("pg_replication_slot_advance", SLOTS),
    one("pg_logical_slot_get_changes", SLOTS),
    one("pg_logical_slot_get_binary_changes", SLOTS),
    SideEffect {
        name: "pg_replication_origin_",
        prefix: true,
        why: SLOTS,
    },
    one("pg_advisory_lock", LOCK),
    one("pg_advisory_lock_shared", LOCK),
    one("pg_try_advisory_lock", LOCK),
    one("pg_try_advisory_lock_shared", LOCK),
    one("pg_advisory_unlock", LOCK),
    one("pg_advisory_unlock_shared", LOCK),
    one("pg_advisory_unlock_all", LOCK),
    one("pg_notify", NOTIFY),
    SideEffect {
        name: "pg_file_",
        prefix: true,
        why: FILES,
    },
    // Built-ins that execute a query given as text: a call refused here
    // would run from inside the string (`query_to_xml('SELECT lo_unlink(1)',
    // ...)`).
    one("query_to_xml", QUERY_STRING),
    one("query_to_xmlschema", QUERY_STRING),
    one("query_to_xml_and_xmlschema", QUERY_STRING),
    one("cursor_to_xml", QUERY_STRING),
    one("cursor_to_xmlschema", QUERY_STRING),
    one("ts_stat", QUERY_STRING),
    // They run the query of every table and view they are given, or of a
    // whole schema or database: a view's code runs unnamed.
    SideEffect {
        name: "database_to_xml",
        prefix: true,
        why: QUERY_STRING,
    },
    SideEffect {
        name: "schema_to_xml",
        prefix: true,
        why: QUERY_STRING,
    },
    SideEffect {
        name: "table_to_xml",
        prefix: true,
        why: QUERY_STRING,
    },
    one("ts_rewrite", QUERY_STRING),
    // Contrib modules that do the same (tablefunc, xml2).
    SideEffect {
        name: "crosstab",
        prefix: true,
        why: QUERY_STRING,
    },
    SideEffect {
        name: "connectby",
        prefix: true,
        why: QUERY_STRING,
    },
    one("xpath_table", QUERY_STRING),
    // pg_surgery, BRIN and GIN maintenance, the visibility map: they write
    // storage from a read-only transaction.
    one("heap_force_kill", STORAGE),
    one("heap_force_freeze", STORAGE),
    one("brin_desummarize_range", STORAGE),
    one("brin_summarize_new_values", STORAGE),
    one("brin_summarize_range", STORAGE),
    one("gin_clean_pending_list", STORAGE),
    one("pg_truncate_visibility_map", STORAGE),
    one("pg_log_backend_memory_contexts", SERVER),
    one("pg_stat_statements_reset", STATS),
    // Sequences are not transactional: a setval in a write's RETURNING
    // stays even when the change rolls back.
    one("setval", SEQUENCE),
];

/// The entry of [`SIDE_EFFECTS`] for a function named `lower` (in lower
/// case, unqualified), if any.
pub(crate) fn listed(lower: &str) -> Option<&'static SideEffect> {
    SIDE_EFFECTS.iter().find(|e| {
        if e.prefix {
            lower.starts_with(e.name)
        } else {
            lower == e.name
        }
    })
}

impl SideEffect {
    /// Whether what it does lies outside the rows the transaction's own
    /// counters see. Large objects are rows of `pg_largeobject`, which a
    /// write's coverage check counts, and a notification is a message sent
    /// at commit, not data: a trigger may use either.
    pub(crate) fn beyond_the_rows(&self) -> bool {
        self.why != LARGE_OBJECT && self.why != NOTIFY
    }
}
