//! `\\h [STATEMENT]`: a short synopsis of each statement dbguard handles,
//! and what the guard does with it.
//!
//! psql's `\\h` prints the server's grammar; here the useful answer is
//! also what happens to the statement, which psql cannot say. Each "what
//! dbguard does" line restates what the classifier (`crate::sql`) and the
//! shell actually do, and must change with them.

/// One statement's help.
struct Topic {
    /// The name `\\h` matches, upper case; several words for `SELECT INTO`.
    name: &'static str,
    synopsis: &'static str,
    guard: &'static str,
}

const fn topic(name: &'static str, synopsis: &'static str, guard: &'static str) -> Topic {
    Topic {
        name,
        synopsis,
        guard,
    }
}

const TOPICS: &[Topic] = &[
    topic(
        "SELECT",
        "SELECT [DISTINCT] expressions [FROM from_item [, ...]] [WHERE condition]\n    [GROUP BY ...] [HAVING ...] [ORDER BY ...] [LIMIT n] [OFFSET n]",
        "read: runs in a read-only transaction (SQLite: PRAGMA query_only). A call to a PostgreSQL function that acts outside the transaction (dblink, lo_*, pg_terminate_backend, ...) refuses the read; SELECT pg_terminate_backend(PID) or pg_cancel_backend(PID) alone, on a literal pid, is an admin change (previewed, asked, journaled). SELECT INTO creates a table, and is refused as DDL.",
    ),
    topic(
        "WITH",
        "WITH name AS (query) [, ...] { SELECT | INSERT | UPDATE | DELETE } ...",
        "judged by the statement it leads: a read runs read-only; a write whose WITH queries only read is previewed like the bare write. A data-modifying WITH query (writable CTE) is refused.",
    ),
    topic(
        "TABLE",
        "TABLE name",
        "read (PostgreSQL): TABLE name runs as typed, in a read-only transaction. Other forms (ONLY, ORDER BY, ...) are refused: write the SELECT. SQLite has no TABLE statement: refused, with the SELECT to write.",
    ),
    topic(
        "VALUES",
        "VALUES (expression [, ...]) [, ...]",
        "read: runs in a read-only transaction.",
    ),
    topic(
        "EXPLAIN",
        "EXPLAIN [ANALYZE] [VERBOSE] statement",
        "plain EXPLAIN only plans, and runs as a read. EXPLAIN ANALYZE runs the statement: of a read, it runs read-only; of a write, it is not run (it would execute the write); type the write itself to see its preview.",
    ),
    topic(
        "SHOW",
        "SHOW name | SHOW ALL",
        "read: runs in a read-only transaction.",
    ),
    topic(
        "INSERT",
        "INSERT INTO table [(column [, ...])] { VALUES (...) [, ...] | query | DEFAULT VALUES }\n    [ON CONFLICT ... DO NOTHING | DO UPDATE SET ...] [RETURNING ...]",
        "write: previewed (the rows it adds, and those an ON CONFLICT updates), asked, applied in a guarded transaction, journaled; \\undo ID takes the rows out again.",
    ),
    topic(
        "UPDATE",
        "UPDATE table SET column = expression [, ...] [FROM from_item [, ...]]\n    [WHERE condition] [RETURNING ...]",
        "write: previewed (every row it changes, and what that does through foreign keys), asked, applied in a guarded transaction, journaled; \\undo ID puts the old values back. UPDATE ... FROM works; an UPDATE of several joined tables (UPDATE a JOIN b) is refused.",
    ),
    topic(
        "DELETE",
        "DELETE FROM table [USING from_item [, ...]] [WHERE condition] [RETURNING ...]",
        "write: previewed (every row it deletes, cascades to, sets to NULL or leaves dangling, at every depth), asked, applied in a guarded transaction, journaled; \\undo ID puts the rows back. DELETE ... USING works; a DELETE from several tables at once is refused.",
    ),
    topic(
        "TRUNCATE",
        "TRUNCATE [TABLE] [ONLY] name [, ...] [RESTART IDENTITY] [CASCADE]",
        "write (PostgreSQL; SQLite has no TRUNCATE): previewed (every row, with CASCADE every referencing table's too; without CASCADE any reference makes it fail), asked, applied in a guarded transaction, journaled; \\undo ID puts the rows back.",
    ),
    topic(
        "MERGE",
        "MERGE INTO target USING source ON condition WHEN [NOT] MATCHED THEN ...",
        "refused: its effects cannot be previewed yet. Write it as separate INSERT, UPDATE and DELETE statements.",
    ),
    topic(
        "SET",
        "SET [SESSION] name { TO | = } value | SET TIME ZONE value",
        "session setting: search_path, timezone, datestyle, intervalstyle, extra_float_digits, statement_timeout, lock_timeout, idle_in_transaction_session_timeout, application_name, bytea_output, client_min_messages, work_mem and jit are set; any other setting (session_replication_role, ROLE, ...) is refused. RESET and DISCARD are refused.",
    ),
    topic(
        "PRAGMA",
        "PRAGMA name | PRAGMA name(argument) | PRAGMA name = value",
        "SQLite: a reporting pragma (table_info(t), index_list(t), foreign_key_list(t), integrity_check, database_list, ...) or the bare form of a setting (PRAGMA foreign_keys) reads; an assignment, a setting given an argument, and a pragma that acts (optimize, wal_checkpoint, incremental_vacuum, ...) are refused. PostgreSQL has no PRAGMA: refused.",
    ),
    topic(
        "BEGIN",
        "BEGIN | COMMIT | ROLLBACK | SAVEPOINT name | RELEASE name",
        "refused: every change runs in its own guarded transaction; type the statements alone.",
    ),
    topic(
        "CREATE",
        "CREATE | ALTER | DROP | GRANT | REVOKE ... (DDL)",
        "refused: schema changes need the DDL guard, which does not exist yet.",
    ),
];

/// `\h` alone: every topic; `\h NAME`: that topic (the first word of a
/// statement is enough, in any case: `\h delete from`).
pub(crate) fn help(topic: Option<&str>) -> String {
    let Some(asked) = topic.map(str::trim).filter(|t| !t.is_empty()) else {
        return index();
    };
    let first = asked
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let alias = match first.as_str() {
        "COMMIT" | "ROLLBACK" | "SAVEPOINT" | "RELEASE" | "START" => "BEGIN",
        "ALTER" | "DROP" | "GRANT" | "REVOKE" => "CREATE",
        "RESET" | "DISCARD" => "SET",
        other => other,
    };
    match TOPICS.iter().find(|t| t.name == alias) {
        Some(t) => format!(
            "Command:     {}\nSyntax:\n    {}\n\nIn dbguard:  {}\n",
            t.name, t.synopsis, t.guard
        ),
        None => format!(
            "No help available for \"{asked}\".\nTry \\h with no arguments to see the statements dbguard knows.\n"
        ),
    }
}

fn index() -> String {
    let mut s = String::from("Statements dbguard knows (\\h NAME for one):\n");
    for t in TOPICS {
        s.push_str(&format!("  {}\n", t.name));
    }
    s.push_str(
        "Anything else (COPY, CALL, DO, LISTEN, ...) is refused: the guard runs only statements it can classify.\n",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_topic_by_its_first_word_in_any_case() {
        assert!(help(Some("delete from t")).starts_with("Command:     DELETE\n"));
        assert!(help(Some("rollback")).starts_with("Command:     BEGIN\n"));
        assert!(help(Some("COPY")).starts_with("No help available for \"COPY\"."));
        assert!(help(None).contains("  TRUNCATE\n"));
    }
}
