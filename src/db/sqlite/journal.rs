//! The journal's tables on SQLite: `dbguard_`-prefixed tables in the target
//! file itself, so one transaction covers a change and its entry (see
//! `crate::db::journal`).

/// The current journal version, created in one transaction with the caller's: tables
/// named by `t` (the journal's names, passed in so this file needs nothing
/// from the engine-neutral side).
pub(crate) fn ddl(t: &dyn Fn(&str) -> String) -> Vec<String> {
    vec![
        format!(
            "CREATE TABLE {} (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            t("meta")
        ),
        // AUTOINCREMENT: an id is never given twice, even after the newest
        // change is pruned.
        format!(
            "CREATE TABLE {} (
                id                INTEGER PRIMARY KEY AUTOINCREMENT,
                created_at        TEXT NOT NULL,
                operator          TEXT NOT NULL,
                target            TEXT NOT NULL,
                database          TEXT NOT NULL,
                system_identifier TEXT,
                statement         TEXT NOT NULL,
                kind              TEXT NOT NULL,
                digest            TEXT NOT NULL,
                impact            TEXT NOT NULL,
                undo_of           INTEGER UNIQUE REFERENCES {}(id),
                replay_of         TEXT,
                partial           TEXT,
                row_count         INTEGER NOT NULL DEFAULT 0,
                bytes             INTEGER NOT NULL DEFAULT 0,
                pruned_at         TEXT,
                pruned_by         TEXT
            )",
            t("changes"),
            t("changes")
        ),
        format!(
            "CREATE TABLE {} (
                change_id   INTEGER NOT NULL REFERENCES {}(id),
                slot        INTEGER NOT NULL,
                position    INTEGER NOT NULL,
                name        TEXT NOT NULL,
                schema_name TEXT,
                table_name  TEXT NOT NULL,
                columns     TEXT NOT NULL,
                key_columns TEXT NOT NULL,
                locator     TEXT NOT NULL,
                deleted     INTEGER NOT NULL DEFAULT 0,
                updated     INTEGER NOT NULL DEFAULT 0,
                inserted    INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (change_id, slot)
            )",
            t("change_tables"),
            t("changes")
        ),
        format!(
            "CREATE TABLE {} (
                nonce       TEXT NOT NULL,
                change_id   INTEGER NOT NULL REFERENCES {}(id),
                principal   TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                signed_at   INTEGER,
                used_at     TEXT NOT NULL,
                PRIMARY KEY (nonce, principal)
            )",
            t("approvals"),
            t("changes")
        ),
        format!(
            "CREATE TABLE {} (
                id        INTEGER PRIMARY KEY,
                at        TEXT NOT NULL,
                event     TEXT NOT NULL,
                operator  TEXT NOT NULL,
                target    TEXT,
                change_id INTEGER,
                detail    TEXT NOT NULL,
                prev_hash TEXT NOT NULL,
                hash      TEXT NOT NULL
            )",
            t("audit")
        ),
        format!("CREATE INDEX {} ON {} (at)", t("audit_at"), t("audit")),
        format!(
            "CREATE TABLE {} (
                seq       INTEGER PRIMARY KEY AUTOINCREMENT,
                at        TEXT NOT NULL,
                event     TEXT NOT NULL,
                operator  TEXT NOT NULL,
                target    TEXT,
                change_id INTEGER,
                detail    TEXT NOT NULL
            )",
            t("audit_pending")
        ),
        format!(
            "CREATE TABLE {} (one INTEGER PRIMARY KEY CHECK (one = 1), last_id INTEGER NOT NULL, last_hash TEXT NOT NULL)",
            t("audit_head")
        ),
        format!(
            "INSERT INTO {} VALUES (1, 0, '{}')",
            t("audit_head"),
            "0".repeat(64)
        ),
        format!(
            "CREATE TRIGGER {} BEFORE UPDATE ON {} BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
            t("audit_no_update"),
            t("audit")
        ),
        format!(
            "CREATE TRIGGER {} BEFORE DELETE ON {} BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
            t("audit_no_delete"),
            t("audit")
        ),
    ]
    .into_iter()
    .chain(policies_ddl(t))
    .collect()
}

/// The pinned policies (journal version 2): every version pushed, the
/// newest governing.
pub(crate) fn policies_ddl(t: &dyn Fn(&str) -> String) -> Vec<String> {
    vec![format!(
        "CREATE TABLE {} (
            id        INTEGER PRIMARY KEY AUTOINCREMENT,
            pushed_at TEXT NOT NULL,
            pushed_by TEXT NOT NULL,
            digest    TEXT NOT NULL,
            files     TEXT NOT NULL
        )",
        t("policies")
    )]
}
