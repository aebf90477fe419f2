//! Postgres catalog queries for the shell's listings (`db::listing`).
//!
//! Read from `pg_catalog`, with psql's own choices where psql has one
//! (which kinds count as functions, how role attributes are spelled), so a
//! DBA reads the output without thinking. Sizes come back as bytes; the
//! shell spells them out the same way for both engines.

use crate::db::listing::Listing;
use crate::db::postgres::text_literal;
use crate::schema::QualName;

/// Schemas that are PostgreSQL's own, or dbguard's journal, as a `WHERE`
/// fragment over `n` (`pg_namespace`).
fn user_schemas() -> String {
    format!(
        "n.nspname <> 'pg_catalog' AND n.nspname <> 'information_schema' \
         AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' \
         AND n.nspname <> {}",
        text_literal(crate::db::journal::journal_schema())
    )
}

fn scope(system: bool) -> String {
    if system {
        "true".to_owned()
    } else {
        user_schemas()
    }
}

/// The OID of one relation, found by its exact names.
fn oid_of(q: &QualName) -> String {
    format!(
        "(SELECT c.oid FROM pg_catalog.pg_class c \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = {} AND c.relname = {})",
        text_literal(q.schema.as_deref().unwrap_or("public")),
        text_literal(&q.name)
    )
}

/// The query that answers `what`: Postgres has all of these.
pub(crate) fn sql(what: Listing<'_>) -> Result<String, &'static str> {
    Ok(match what {
        Listing::Databases => DATABASES.to_owned(),
        Listing::Schemas => format!(
            "SELECT n.nspname AS \"Name\", pg_catalog.pg_get_userbyid(n.nspowner) AS \"Owner\" \
             FROM pg_catalog.pg_namespace n WHERE {} ORDER BY 1",
            user_schemas()
        ),
        Listing::Functions { system } => {
            format!("{FUNCTIONS} WHERE {} ORDER BY 1, 2, 4", scope(system))
        }
        Listing::Views { system } => format!(
            "SELECT n.nspname AS \"Schema\", c.relname AS \"Name\", \
             CASE c.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END AS \"Type\", \
             pg_catalog.pg_get_userbyid(c.relowner) AS \"Owner\" \
             FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('v', 'm') AND {} ORDER BY 1, 2",
            scope(system)
        ),
        Listing::Indexes { system } => {
            format!("{INDEXES} WHERE {} ORDER BY 1, 3, 2", scope(system))
        }
        Listing::TableIndexes(q) => format!("{INDEXES} WHERE ct.oid = {} ORDER BY 2", oid_of(q)),
        Listing::Roles => ROLES.to_owned(),
        Listing::TableSizes => format!(
            "{SIZES} WHERE c.relkind IN ('r', 'p', 'f') AND {} ORDER BY 1, 2",
            user_schemas()
        ),
        Listing::ColumnDetails(q) => format!(
            "SELECT a.attname AS \"Column\", \
             CASE a.attstorage WHEN 'p' THEN 'plain' WHEN 'm' THEN 'main' \
                  WHEN 'x' THEN 'extended' WHEN 'e' THEN 'external' END AS \"Storage\", \
             coalesce(pg_catalog.col_description(a.attrelid, a.attnum), '') AS \"Description\" \
             FROM pg_catalog.pg_attribute a \
             WHERE a.attrelid = {} AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            oid_of(q)
        ),
        Listing::ViewColumns(q) => format!(
            "SELECT a.attname AS \"Column\", \
             pg_catalog.format_type(a.atttypid, a.atttypmod) AS \"Type\" \
             FROM pg_catalog.pg_attribute a \
             WHERE a.attrelid = {} AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            oid_of(q)
        ),
        Listing::ViewDefinition(q) => format!(
            "SELECT pg_catalog.pg_get_viewdef({}, true) AS \"Definition\"",
            oid_of(q)
        ),
    })
}

/// psql's `\l` columns. The size of a database the role may not connect to
/// cannot be read; psql says "No Access" too.
const DATABASES: &str = "SELECT d.datname AS \"Name\", \
     pg_catalog.pg_get_userbyid(d.datdba) AS \"Owner\", \
     pg_catalog.pg_encoding_to_char(d.encoding) AS \"Encoding\", \
     CASE WHEN pg_catalog.has_database_privilege(d.oid, 'CONNECT') \
          THEN pg_catalog.pg_database_size(d.oid)::text ELSE 'No Access' END AS \"Size\" \
     FROM pg_catalog.pg_database d ORDER BY 1";

/// `\df`: the kinds psql shows (`prokind`; a function returning `trigger`
/// is a trigger function).
const FUNCTIONS: &str = "SELECT n.nspname AS \"Schema\", p.proname AS \"Name\", \
     coalesce(pg_catalog.pg_get_function_result(p.oid), '') AS \"Result data type\", \
     pg_catalog.pg_get_function_arguments(p.oid) AS \"Argument data types\", \
     CASE p.prokind WHEN 'a' THEN 'agg' WHEN 'w' THEN 'window' WHEN 'p' THEN 'proc' \
          ELSE CASE WHEN p.prorettype = 'pg_catalog.trigger'::pg_catalog.regtype \
                    THEN 'trigger' ELSE 'func' END END AS \"Type\" \
     FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace";

/// `\di`: the definition is `pg_get_indexdef` after `USING method`: the
/// columns or expressions, and any INCLUDE or WHERE.
const INDEXES: &str = "SELECT n.nspname AS \"Schema\", ci.relname AS \"Name\", \
     ct.relname AS \"Table\", \
     CASE WHEN i.indisprimary THEN 'primary key' WHEN i.indisunique THEN 'unique' ELSE '' END AS \"Kind\", \
     am.amname AS \"Method\", \
     substring(pg_catalog.pg_get_indexdef(i.indexrelid, 0, true) \
               from position(' USING ' || am.amname || ' ' in pg_catalog.pg_get_indexdef(i.indexrelid, 0, true)) \
                    + length(am.amname) + 8) AS \"Definition\" \
     FROM pg_catalog.pg_index i \
     JOIN pg_catalog.pg_class ci ON ci.oid = i.indexrelid \
     JOIN pg_catalog.pg_class ct ON ct.oid = i.indrelid \
     JOIN pg_catalog.pg_namespace n ON n.oid = ci.relnamespace \
     JOIN pg_catalog.pg_am am ON am.oid = ci.relam";

/// `\du`: psql's attribute words, in psql's order.
const ROLES: &str = "SELECT r.rolname AS \"Role name\", \
     concat_ws(', ', CASE WHEN r.rolsuper THEN 'Superuser' END, \
                     CASE WHEN NOT r.rolinherit THEN 'No inheritance' END, \
                     CASE WHEN r.rolcreaterole THEN 'Create role' END, \
                     CASE WHEN r.rolcreatedb THEN 'Create DB' END, \
                     CASE WHEN NOT r.rolcanlogin THEN 'Cannot login' END, \
                     CASE WHEN r.rolreplication THEN 'Replication' END, \
                     CASE WHEN r.rolbypassrls THEN 'Bypass RLS' END, \
                     CASE WHEN r.rolconnlimit >= 0 THEN r.rolconnlimit || ' connections' END, \
                     CASE WHEN r.rolvaliduntil IS NOT NULL \
                          THEN 'Password valid until ' || r.rolvaliduntil END) AS \"Attributes\", \
     coalesce((SELECT string_agg(b.rolname, ', ' ORDER BY b.rolname) \
               FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles b ON b.oid = m.roleid \
               WHERE m.member = r.oid), '') AS \"Member of\" \
     FROM pg_catalog.pg_roles r WHERE r.rolname !~ '^pg_' ORDER BY 1";

/// `\dt+`: bytes of the table (with TOAST), of the table with its indexes,
/// and the planner's row estimate (-1: never analyzed).
const SIZES: &str = "SELECT n.nspname AS \"Schema\", c.relname AS \"Name\", \
     pg_catalog.pg_table_size(c.oid) AS \"Size\", \
     pg_catalog.pg_total_relation_size(c.oid) AS \"Total size\", \
     CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::bigint END AS \"Rows (estimate)\", \
     coalesce(pg_catalog.obj_description(c.oid, 'pg_class'), '') AS \"Description\" \
     FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace";
