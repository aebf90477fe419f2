//! What the walk in `super` reads from the catalog, in the caller's
//! snapshot: the database's own functions with their source, the names
//! by which code reaches more functions (relations, types, operators,
//! functions), and what a written table runs on its own.
//!
//! "The database's own" means created after `initdb` (an object id at or
//! above `FirstNormalObjectId`, 16384), whatever its schema: a function a
//! superuser put into `pg_catalog` is read like any other. The engine's
//! built-in functions are judged by name against the reviewed list, with
//! the SQL names their C symbols carry (`setval_oid` is `setval`).

use std::collections::BTreeMap;

use postgres::Transaction;

use crate::db::Touched;
use crate::error::Result;
use crate::schema::QualName;

/// `FirstNormalObjectId`: objects below it come with the server.
pub(super) const FIRST_USER_OID: u32 = 16384;

/// One function of the database's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Routine {
    pub name: String,
    /// `plpgsql`, `sql`, `c`, `internal`, `plpython3u`, ...
    pub language: String,
    /// `pg_language.lanpltrusted`: an untrusted language reaches files,
    /// programs and the network.
    pub trusted: bool,
    /// The body (`prosrc`): code for SQL and procedural languages, the
    /// symbol for `c` and `internal`. A SQL function written with `BEGIN
    /// ATOMIC` keeps no source, only a parse tree: its definition as the
    /// server prints it stands in.
    pub source: String,
}

/// How reaching a name runs a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Part {
    /// The function of that name itself, or one it depends on (an
    /// aggregate's support functions).
    Function,
    /// A view's rule, a row-security policy, a domain's constraint, a cast
    /// or an operator: run by reading.
    Read,
    /// A trigger, default, constraint or index expression of a table (or
    /// of its partitions and children): run by writing it.
    Write,
}

/// A function reached through a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Link {
    pub function: u32,
    /// Its name, by which a built-in one is judged.
    pub function_name: String,
    pub part: Part,
    /// What runs it: `trigger t_audit on public.t`, `view v`, ...
    pub by: String,
}

#[derive(Debug, Default)]
pub(super) struct Catalog {
    pub routines: BTreeMap<u32, Routine>,
    /// A built-in C symbol and the SQL names it is declared under.
    pub symbols: BTreeMap<String, Vec<String>>,
    /// By lower-case name: relations, functions, DDL words; `*` for what
    /// any statement may run.
    pub links: BTreeMap<String, Vec<Link>>,
    /// Foreign-data wrappers' handlers: a foreign table links to its
    /// wrapper's, and rows read or written through it live on a server
    /// that runs code of its own.
    pub foreign_handlers: std::collections::BTreeSet<u32>,
}

impl Catalog {
    pub fn load(tx: &mut Transaction<'_>) -> Result<Catalog> {
        let mut out = Catalog::default();
        for r in tx.query_typed(
            "SELECT p.oid, p.proname::text, l.lanname::text, l.lanpltrusted, \
                    CASE WHEN l.lanname = 'sql' AND coalesce(p.prosrc, '') = '' \
                         THEN pg_catalog.pg_get_functiondef(p.oid) \
                         ELSE coalesce(p.prosrc, '') END \
             FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang \
             WHERE p.oid >= 16384 AND p.prokind <> 'a'",
            &[],
        )? {
            out.routines.insert(
                r.try_get(0)?,
                Routine {
                    name: r.try_get(1)?,
                    language: r.try_get(2)?,
                    trusted: r.try_get(3)?,
                    source: r.try_get(4)?,
                },
            );
        }
        for r in tx.query_typed(
            "SELECT prosrc, array_agg(DISTINCT proname::text) FROM pg_catalog.pg_proc \
             WHERE oid < 16384 AND prolang IN (12, 13) AND prosrc <> proname::text \
             GROUP BY prosrc",
            &[],
        )? {
            out.symbols.insert(r.try_get(0)?, r.try_get(1)?);
        }
        for r in tx.query_typed(
            "SELECT fdwhandler FROM pg_catalog.pg_foreign_data_wrapper WHERE fdwhandler <> 0",
            &[],
        )? {
            out.foreign_handlers.insert(r.try_get(0)?);
        }
        for r in tx.query_typed(LINKS, &[])? {
            let name: String = r.try_get(0)?;
            let part: String = r.try_get(3)?;
            out.links.entry(name).or_default().push(Link {
                function: r.try_get(1)?,
                function_name: r.try_get(2)?,
                part: match part.as_str() {
                    "function" => Part::Function,
                    "read" => Part::Read,
                    _ => Part::Write,
                },
                by: r.try_get(4)?,
            });
        }
        Ok(out)
    }
}

/// Functions the engine may call from any statement without its text
/// naming them: those of the database's own operators (`IN`, `LIKE`,
/// `BETWEEN` resolve operators unwritten), operator classes' support
/// functions (sorts, joins, index scans), range types' functions and casts
/// (implicit ones, and casts named by their SQL spelling):
/// `(function, by)`.
macro_rules! always {
    () => {
        "SELECT o.oprcode, 'operator ' || o.oprname::text FROM pg_catalog.pg_operator o \
           WHERE o.oid >= 16384 AND o.oprcode <> 0 \
         UNION SELECT a.amproc, 'operator class support' FROM pg_catalog.pg_amproc a \
           WHERE a.oid >= 16384 \
         UNION SELECT r.rngsubdiff, 'range type ' || r.rngtypid::regtype::text FROM pg_catalog.pg_range r \
           WHERE r.rngtypid >= 16384 AND r.rngsubdiff <> 0 \
         UNION SELECT r.rngcanonical, 'range type ' || r.rngtypid::regtype::text FROM pg_catalog.pg_range r \
           WHERE r.rngtypid >= 16384 AND r.rngcanonical <> 0 \
         UNION SELECT c.castfunc, 'cast from ' || c.castsource::regtype::text || ' to ' || c.casttarget::regtype::text \
           FROM pg_catalog.pg_cast c WHERE c.oid >= 16384 AND c.castfunc <> 0"
    };
}

/// Whether any function of [`always!`] is code dbguard reads (not C): a
/// statement that names nothing of the database's own still runs it. An
/// SQL condition, part of the queries that decide whether to read the
/// catalog's code at all, so that deciding costs one round trip.
macro_rules! always_read {
    () => {
        concat!(
            "EXISTS (SELECT 1 FROM (",
            always!(),
            ") AS a(f, by) JOIN pg_catalog.pg_proc p ON p.oid = a.f \
             JOIN pg_catalog.pg_language l ON l.oid = p.prolang \
             WHERE l.lanname NOT IN ('c', 'internal'))"
        )
    };
}

/// Whether a read's text names code of the database's own, or any
/// statement may run some unnamed ([`always_read!`]); `$1`: the names.
pub(super) const READ_RUNS_CODE: &str = concat!(
    "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_proc \
                    WHERE oid >= 16384 AND proname = ANY($1::text[]::name[])) \
         OR EXISTS (SELECT 1 FROM pg_catalog.pg_class \
                    WHERE oid >= 16384 AND relname = ANY($1::text[]::name[]) \
                      AND (relkind IN ('v', 'f') OR relrowsecurity)) \
         OR EXISTS (SELECT 1 FROM pg_catalog.pg_type t \
                    JOIN pg_catalog.pg_constraint k ON k.contypid = t.oid \
                    WHERE t.oid >= 16384 AND t.typname = ANY($1::text[]::name[])) \
         OR EXISTS (SELECT 1 FROM pg_catalog.pg_class c \
                    JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid \
                    JOIN pg_catalog.pg_constraint k ON k.contypid = a.atttypid \
                    WHERE c.oid >= 16384 AND c.relname = ANY($1::text[]::name[])) \
         OR ",
    always_read!()
);

/// Every way a name reaches a function: `(lower-case name, function,
/// function name, part, by)`. A relation reaches what its parts run (and
/// its partitions' and children's): rules and policies when read;
/// triggers, defaults, constraints and indexes when written, also of the
/// tables whose foreign keys cascade from it. Disabled triggers run
/// nothing. A domain's checks are reached by its name and by the names of
/// the relations with a column of it (a row coerced to their type). `*`
/// names what every statement may run ([`always!`]); DDL words (`create`,
/// `drop`, ...) reach the event triggers.
const LINKS: &str = concat!(
    "WITH RECURSIVE always(f, by) AS (",
    always!(),
    "), tree(root, rel, fk) AS (\
    SELECT oid, oid, false FROM pg_catalog.pg_class \
    WHERE oid >= 16384 AND relkind IN ('r', 'p', 'v', 'm', 'f') \
  UNION \
    SELECT t.root, x.rel, x.fk FROM tree t CROSS JOIN LATERAL ( \
      SELECT i.inhrelid AS rel, t.fk AS fk FROM pg_catalog.pg_inherits i WHERE i.inhparent = t.rel \
      UNION ALL \
      SELECT c.conrelid, true FROM pg_catalog.pg_constraint c \
      WHERE c.contype = 'f' AND c.confrelid = t.rel) AS x), \
parts AS ( \
  SELECT lower(c.relname::text) AS name, d.refobjid AS f, \
         CASE WHEN p.classid IN ('pg_catalog.pg_rewrite'::regclass, 'pg_catalog.pg_policy'::regclass) \
              THEN 'read' ELSE 'write' END AS part, \
         CASE p.classid \
           WHEN 'pg_catalog.pg_trigger'::regclass THEN 'trigger ' || \
             (SELECT tgname::text FROM pg_catalog.pg_trigger WHERE oid = p.objid) || ' on ' || r.oid::regclass::text \
           WHEN 'pg_catalog.pg_rewrite'::regclass THEN 'view or rule of ' || r.oid::regclass::text \
           WHEN 'pg_catalog.pg_policy'::regclass THEN 'policy on ' || r.oid::regclass::text \
           WHEN 'pg_catalog.pg_attrdef'::regclass THEN 'default of ' || r.oid::regclass::text \
           WHEN 'pg_catalog.pg_constraint'::regclass THEN 'constraint on ' || r.oid::regclass::text \
           ELSE 'index on ' || r.oid::regclass::text END AS by \
  FROM tree JOIN pg_catalog.pg_class c ON c.oid = tree.root \
  JOIN pg_catalog.pg_class r ON r.oid = tree.rel \
  JOIN pg_catalog.pg_depend p ON p.refclassid = 'pg_catalog.pg_class'::regclass \
       AND p.refobjid = tree.rel AND p.deptype IN ('a', 'i') \
  JOIN pg_catalog.pg_depend d ON d.classid = p.classid AND d.objid = p.objid \
       AND d.refclassid = 'pg_catalog.pg_proc'::regclass \
  WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g \
                    WHERE p.classid = 'pg_catalog.pg_trigger'::regclass AND g.oid = p.objid \
                      AND (g.tgenabled = 'D' OR g.tgisinternal)) \
    AND NOT (tree.fk AND p.classid IN ('pg_catalog.pg_rewrite'::regclass, 'pg_catalog.pg_policy'::regclass)) \
  UNION \
  SELECT '*', f, 'read', by FROM always \
  UNION \
  SELECT lower(k.name), d.refobjid, 'read', 'domain ' || t.oid::regtype::text \
  FROM pg_catalog.pg_type t \
  JOIN pg_catalog.pg_constraint c ON c.contypid = t.oid \
  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_constraint'::regclass \
       AND d.objid = c.oid AND d.refclassid = 'pg_catalog.pg_proc'::regclass \
  CROSS JOIN LATERAL ( \
    SELECT t.typname::text AS name \
    UNION SELECT r.relname::text FROM pg_catalog.pg_attribute a \
    JOIN pg_catalog.pg_class r ON r.oid = a.attrelid \
    WHERE a.atttypid = t.oid AND a.attnum > 0 AND NOT a.attisdropped) AS k \
  WHERE t.oid >= 16384 \
  UNION \
  SELECT lower(c.relname::text), w.fdwhandler, 'read', 'foreign table ' || c.oid::regclass::text \
  FROM pg_catalog.pg_foreign_table ft JOIN pg_catalog.pg_class c ON c.oid = ft.ftrelid \
  JOIN pg_catalog.pg_foreign_server s ON s.oid = ft.ftserver \
  JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw \
  WHERE w.fdwhandler <> 0 \
  UNION \
  SELECT k.word, e.evtfoid, 'read', 'event trigger ' || e.evtname::text \
  FROM pg_catalog.pg_event_trigger e, \
       unnest(coalesce( \
         ARRAY(SELECT lower(split_part(tag, ' ', 1)) FROM unnest(e.evttags) AS tag), \
         ARRAY['create', 'alter', 'drop', 'grant', 'revoke', 'comment', 'security', 'refresh', \
               'reindex', 'cluster', 'import'])) AS k(word) \
  WHERE e.evtenabled <> 'D' \
  UNION \
  SELECT lower(p.proname::text), p.oid, 'function', p.proname::text \
  FROM pg_catalog.pg_proc p WHERE p.oid >= 16384 \
  UNION \
  SELECT lower(p.proname::text), d.refobjid, 'function', p.proname::text \
  FROM pg_catalog.pg_proc p \
  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid \
       AND d.refclassid = 'pg_catalog.pg_proc'::regclass \
  WHERE p.oid >= 16384) \
SELECT parts.name, parts.f, pr.proname::text, parts.part, parts.by \
FROM parts JOIN pg_catalog.pg_proc pr ON pr.oid = parts.f"
);

/// What a write runs besides its own rows: the `firing` triggers (table,
/// name) the preview found; for `written` (rows inserted or
/// updated) their defaults, constraints and index expressions; for
/// `touched` (any row changed) the triggers of their partitions and
/// children, which the preview, counting through the parent, does not
/// list, and of the tables whose foreign keys act on them (a key action
/// runs its statement, and fires statement-level triggers, whether or not
/// it changes a row; and the catalog, not the session's schema, says
/// which there are), and their own enabled triggers the schema does not
/// list as they stand (created, enabled or altered since it was read);
/// and the enabled event triggers that dbguard's own DDL in the
/// apply transaction (journal and temporary tables) fires: functions with
/// what runs them, and whether some function that runs unnamed
/// ([`always_read!`]) is code to read. One query, so that a write on plain
/// tables costs little.
pub(super) fn run_by_writing(
    tx: &mut Transaction<'_>,
    firing: &[(QualName, String)],
    written: &[QualName],
    touched: &[Touched<'_>],
) -> Result<(Vec<Link>, bool)> {
    let written: Vec<String> = written.iter().map(QualName::sql).collect();
    let (known_tables, known): (Vec<String>, Vec<String>) = touched
        .iter()
        .flat_map(|t| {
            t.triggers
                .iter()
                .filter(|tr| tr.enabled)
                .map(|tr| (t.table.sql(), crate::db::postgres::catalog::signature(tr)))
        })
        .unzip();
    let touched: Vec<String> = touched.iter().map(|t| t.table.sql()).collect();
    let firing_tables: Vec<String> = firing.iter().map(|(t, _)| t.sql()).collect();
    let firing_names: Vec<&str> = firing.iter().map(|(_, n)| n.as_str()).collect();
    let rows = tx.query_typed(
        concat!(
        "WITH RECURSIVE w AS (SELECT to_regclass(x) AS oid FROM unnest($1::text[]) AS x), \
              tree(rel) AS ( \
                SELECT to_regclass(x) FROM unnest($2::text[]) AS x \
              UNION \
                SELECT e.child FROM tree JOIN ( \
                  SELECT i.inhparent AS parent, i.inhrelid AS child FROM pg_catalog.pg_inherits i \
                  UNION ALL \
                  SELECT k.confrelid, k.conrelid FROM pg_catalog.pg_constraint k \
                  WHERE k.contype = 'f' \
                    AND (k.confdeltype IN ('c', 'n', 'd') OR k.confupdtype IN ('c', 'n', 'd')) \
                ) AS e ON e.parent = tree.rel), \
              used AS ( \
           SELECT d.refobjid AS f, 'default of ' || a.adrelid::regclass::text AS by \
           FROM pg_catalog.pg_attrdef a \
           JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_attrdef'::regclass AND d.objid = a.oid \
                AND d.refclassid = 'pg_catalog.pg_proc'::regclass \
           WHERE a.adrelid IN (SELECT oid FROM w) \
           UNION \
           SELECT d.refobjid, 'constraint ' || c.conname::text || ' on ' || c.conrelid::regclass::text \
           FROM pg_catalog.pg_constraint c \
           JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_constraint'::regclass AND d.objid = c.oid \
                AND d.refclassid = 'pg_catalog.pg_proc'::regclass \
           WHERE c.conrelid IN (SELECT oid FROM w) \
           UNION \
           SELECT d.refobjid, 'index ' || i.indexrelid::regclass::text \
           FROM pg_catalog.pg_index i \
           JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = i.indexrelid \
                AND d.refclassid = 'pg_catalog.pg_proc'::regclass \
           WHERE i.indrelid IN (SELECT oid FROM w) \
           UNION \
           SELECT d.refobjid, 'domain constraint ' || c.conname::text || ' on ' || a.attrelid::regclass::text \
           FROM pg_catalog.pg_attribute a \
           JOIN pg_catalog.pg_constraint c ON c.contypid = a.atttypid \
           JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_constraint'::regclass AND d.objid = c.oid \
                AND d.refclassid = 'pg_catalog.pg_proc'::regclass \
           WHERE a.attrelid IN (SELECT oid FROM w) AND a.attnum > 0 AND NOT a.attisdropped \
           UNION \
           SELECT g.tgfoid, 'trigger ' || g.tgname::text || ' on ' || g.tgrelid::regclass::text \
           FROM pg_catalog.pg_trigger g \
           WHERE g.tgrelid IN (SELECT rel FROM tree) \
             AND NOT g.tgisinternal AND g.tgenabled <> 'D' \
             AND NOT EXISTS (SELECT FROM unnest($5::text[], $6::text[]) AS k(tbl, sig) \
                  WHERE to_regclass(k.tbl) = g.tgrelid \
                    AND k.sig = g.tgname::text || '/' || g.tgtype::int4 || '/' || (g.tgenabled IN ('A', 'R'))::text) \
           UNION \
           SELECT g.tgfoid, 'trigger ' || g.tgname::text || ' on ' || g.tgrelid::regclass::text \
           FROM pg_catalog.pg_trigger g \
           JOIN unnest($3::text[], $4::text[]) AS f(tbl, trg) \
             ON g.tgrelid = to_regclass(f.tbl) AND g.tgname = f.trg \
           UNION \
           SELECT e.evtfoid, 'event trigger ' || e.evtname::text \
           FROM pg_catalog.pg_event_trigger e WHERE e.evtenabled <> 'D' \
             AND (e.evttags IS NULL \
                  OR e.evttags && ARRAY['CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'DROP TABLE'])) \
         SELECT used.f, p.proname::text, used.by \
         FROM used JOIN pg_catalog.pg_proc p ON p.oid = used.f \
         UNION ALL SELECT 0, '', '' WHERE ",
        always_read!(),
        " ORDER BY 3, 2"),
        &[
            (&written, postgres::types::Type::TEXT_ARRAY),
            (&touched, postgres::types::Type::TEXT_ARRAY),
            (&firing_tables, postgres::types::Type::TEXT_ARRAY),
            (&firing_names, postgres::types::Type::TEXT_ARRAY),
            (&known_tables, postgres::types::Type::TEXT_ARRAY),
            (&known, postgres::types::Type::TEXT_ARRAY),
        ],
    )?;
    let mut out = Vec::with_capacity(rows.len());
    let mut always = false;
    for r in rows {
        // The marker row: some function that runs unnamed is code to read.
        if r.try_get::<_, u32>(0)? == 0 {
            always = true;
            continue;
        }
        out.push(Link {
            function: r.try_get(0)?,
            function_name: r.try_get(1)?,
            part: Part::Write,
            by: r.try_get(2)?,
        });
    }
    Ok((out, always))
}
