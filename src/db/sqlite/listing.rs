//! SQLite catalog queries for the shell's listings (`db::listing`).
//!
//! SQLite's catalog is `sqlite_schema` and the table-valued pragmas; sizes
//! come from the `dbstat` virtual table (built into the bundled SQLite),
//! which reads every page: exact, and as slow as the file is large. SQLite
//! has no roles and no stored functions (an application registers its own
//! on each connection), so those listings are `None`, and the shell says
//! so.

use crate::db::listing::Listing;

fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// What SQLite's answer to `what` is, where it is not what the command
/// means on a server.
pub(crate) fn note(what: Listing<'_>) -> Option<&'static str> {
    match what {
        Listing::Databases => Some(
            "SQLite keeps one database per file: these are the files this connection has \
             open (main, temp, and any attached).",
        ),
        Listing::Schemas => Some(
            "SQLite has no schemas: the names are main, temp and each attached database, \
             and qualify a table as name.table.",
        ),
        _ => None,
    }
}

/// dbguard's journal tables are its own, not the application's.
const NOT_JOURNAL: &str = "m.tbl_name NOT LIKE 'dbguard\\_%' ESCAPE '\\'";

/// The query that answers `what`, or why SQLite has no such thing.
pub(crate) fn sql(what: Listing<'_>) -> Result<String, &'static str> {
    Ok(match what {
        Listing::Databases | Listing::Schemas => {
            "SELECT name AS \"Name\", file AS \"File\" FROM pragma_database_list ORDER BY seq"
                .to_owned()
        }
        Listing::Functions { .. } => {
            return Err(
                "SQLite has no stored functions: an application registers its own on \
                        its connection, and none are kept in the file.",
            );
        }
        Listing::Roles => {
            return Err(
                "SQLite has no roles: who may read or write is whoever the file's \
                        permissions let open it.",
            );
        }
        Listing::Views { .. } => "SELECT m.name AS \"Name\", 'view' AS \"Type\" \
             FROM sqlite_schema m WHERE m.type = 'view' ORDER BY 1"
            .to_owned(),
        Listing::Indexes { .. } => format!("{INDEXES} AND {NOT_JOURNAL} ORDER BY 2, 1"),
        Listing::TableIndexes(q) => {
            format!("{INDEXES} AND m.tbl_name = {} ORDER BY 1", literal(&q.name))
        }
        Listing::TableSizes => SIZES.to_owned(),
        Listing::ColumnDetails(_) => {
            return Err("SQLite keeps no per-column storage settings or comments.");
        }
        Listing::ViewColumns(q) => format!(
            "SELECT name AS \"Column\", type AS \"Type\" FROM pragma_table_info({}) ORDER BY cid",
            literal(&q.name)
        ),
        Listing::ViewDefinition(q) => format!(
            "SELECT sql AS \"Definition\" FROM sqlite_schema WHERE type = 'view' AND name = {}",
            literal(&q.name)
        ),
    })
}

/// `\di`: every index, the automatic ones behind PRIMARY KEY and UNIQUE
/// included (`origin` `pk`, `u`); SQLite has only b-trees. Key columns in
/// order; an expression shows as `<expression>`, a partial index says so.
const INDEXES: &str = "SELECT m.name AS \"Name\", m.tbl_name AS \"Table\", \
     CASE WHEN l.origin = 'pk' THEN 'primary key' WHEN l.\"unique\" THEN 'unique' ELSE '' END AS \"Kind\", \
     'btree' AS \"Method\", \
     '(' || (SELECT group_concat(coalesce(x.name, '<expression>'), ', ') \
             FROM (SELECT name FROM pragma_index_xinfo(m.name) WHERE key ORDER BY seqno) x) || ')' \
         || CASE WHEN l.partial THEN ' (partial)' ELSE '' END AS \"Definition\" \
     FROM sqlite_schema m JOIN pragma_index_list(m.tbl_name) l ON l.name = m.name \
     WHERE m.type = 'index'";

/// `\dt+`: bytes of each table's b-tree, of it with its indexes, and its
/// rows (the cells of its leaf pages). `dbstat` is read once, in one pass
/// over the file.
const SIZES: &str = "WITH s AS MATERIALIZED (SELECT name, sum(pgsize) AS bytes, \
         sum(CASE WHEN pagetype = 'leaf' THEN ncell ELSE 0 END) AS cells \
         FROM dbstat GROUP BY name) \
     SELECT NULL AS \"Schema\", m.name AS \"Name\", t.bytes AS \"Size\", \
     (SELECT sum(x.bytes) FROM s x JOIN sqlite_schema i ON i.name = x.name \
      WHERE i.tbl_name = m.name) AS \"Total size\", \
     t.cells AS \"Rows (estimate)\", '' AS \"Description\" \
     FROM sqlite_schema m LEFT JOIN s t ON t.name = m.name \
     WHERE m.type = 'table' ORDER BY 2";
