//! Where the journal lives inside a target, and the SQL about it that is
//! the engine's: its tables, the snapshot tables that hold a change's rows,
//! and how two row images are compared.
//!
//! On Postgres the journal is the schema `dbguard`; on SQLite it is the
//! tables whose names start with `dbguard_`, in the target file itself. A
//! change's rows are never read out and written back: they are copied on
//! the server, in the change's own transaction, into snapshot tables of
//! the journal (`c{change}_{slot}_{part}`, `slot` numbering the change's tables), column for column. On Postgres
//! a snapshot column has the type of the column it copies; on SQLite it
//! has no declared type, so every value keeps its storage class. Data
//! columns are named by position (`c1`, `c2`, ...) so they can never clash
//! with the few columns the journal adds (`row`, `l1`, ...).

use super::dialect::Dialect;
use super::{Engine, PreviewTx, Value};
use crate::error::{Error, Result};
use crate::schema::{Locator, QualName, Table, quote_ident};

/// The SQLite table prefix of the journal, and its Postgres schema unless
/// the operator names another ([`set_journal_schema`]).
pub const JOURNAL_SCHEMA: &str = "dbguard";

/// The Postgres schema of the journal, when not [`JOURNAL_SCHEMA`]: set
/// once, at start, from `--journal-schema`, so every reader and writer of
/// the process names the same one.
static SCHEMA: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Names the Postgres schema of the journal for the rest of the process.
/// A schema of the system's or `public` would hide the tables dbguard
/// guards, so they are refused.
pub fn set_journal_schema(name: &str) -> crate::error::Result<()> {
    let lower = name.to_ascii_lowercase();
    if name.is_empty()
        || lower == "public"
        || lower == "information_schema"
        || lower.starts_with("pg_")
    {
        return Err(crate::error::Error::input(format!(
            "--journal-schema {name:?}: the journal needs a schema of its own, not {}",
            if name.is_empty() {
                "an empty name"
            } else {
                "one that holds other tables"
            }
        )));
    }
    if SCHEMA.get_or_init(|| name.to_owned()) != name {
        return Err(crate::error::Error::input(
            "the journal's schema was already named otherwise in this process",
        ));
    }
    Ok(())
}

/// The Postgres schema of the journal.
pub fn journal_schema() -> &'static str {
    SCHEMA.get().map_or(JOURNAL_SCHEMA, String::as_str)
}

/// One part of a table's rows in a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    /// Rows the change deleted, as they were.
    Deleted,
    /// Rows the change updated, as they were; paired with [`Part::After`]
    /// by `row`.
    Before,
    /// Rows the change updated, as they became.
    After,
    /// Rows the change inserted, as they were inserted.
    Inserted,
}

impl Part {
    pub const ALL: [Part; 4] = [Part::Deleted, Part::Before, Part::After, Part::Inserted];

    fn suffix(self) -> &'static str {
        match self {
            Part::Deleted => "d",
            Part::Before => "b",
            Part::After => "a",
            Part::Inserted => "i",
        }
    }
}

/// The names of the journal's tables in one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalNames {
    engine: Engine,
}

impl JournalNames {
    pub fn new(engine: Engine) -> JournalNames {
        JournalNames { engine }
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// A journal table as SQL: `"dbguard"."changes"` or `"dbguard_changes"`.
    pub fn table(&self, name: &str) -> String {
        match self.engine {
            Engine::Postgres => format!("{}.{}", quote_ident(journal_schema()), quote_ident(name)),
            Engine::Sqlite => quote_ident(&format!("{JOURNAL_SCHEMA}_{name}")),
        }
    }

    /// The bare name of a journal table, as the catalog lists it.
    pub fn bare(&self, name: &str) -> String {
        match self.engine {
            Engine::Postgres => name.to_owned(),
            Engine::Sqlite => format!("{JOURNAL_SCHEMA}_{name}"),
        }
    }

    /// The snapshot of `part` of table `slot` of change `id`.
    pub fn snapshot(&self, id: i64, slot: i64, part: Part) -> String {
        self.table(&snapshot_name(id, slot, part))
    }

    /// A snapshot named from `prefix` instead of a change id: a change's
    /// own (`c{id}`), or rows staged for a replay ([`STAGING_PREFIX`]),
    /// which live in the session's temporary schema: they go with the
    /// connection, so a replay killed halfway leaves none behind.
    pub fn staged(&self, prefix: &str, slot: i64, part: Part) -> String {
        let name = format!("{prefix}_{slot}_{}", part.suffix());
        if !prefix.starts_with(STAGING_PREFIX) {
            return self.table(&name);
        }
        let temp = match self.engine {
            Engine::Postgres => "pg_temp",
            Engine::Sqlite => "temp",
        };
        format!(
            "{temp}.{}",
            quote_ident(&format!("{JOURNAL_SCHEMA}_{name}"))
        )
    }

    /// Whether a table (as a statement names it) is the journal's.
    pub fn owns(&self, table: &QualName) -> bool {
        match self.engine {
            Engine::Postgres => table.schema.as_deref() == Some(journal_schema()),
            Engine::Sqlite => {
                let prefix = format!("{JOURNAL_SCHEMA}_");
                table
                    .name
                    .get(..prefix.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(&prefix))
            }
        }
    }
}

/// Runs a query the journal needs; a query stopped by the time budget is
/// an error here, as nothing can be answered without it.
pub(crate) fn rows(tx: &mut dyn PreviewTx, sql: &str) -> Result<Vec<Vec<Value>>> {
    tx.query(sql)?.map(|r| r.rows).ok_or_else(|| {
        Error::database("a query of the journal did not finish within the statement timeout")
    })
}

/// The integer in `v`, which a journal query returned.
pub(crate) fn int(v: Option<&Value>) -> Result<i64> {
    match v {
        Some(Value::Integer(i)) => Ok(*i),
        Some(v) => v.text().and_then(|t| t.trim().parse().ok()).ok_or_else(|| {
            Error::database(format!("the journal holds {v:?} where a number belongs"))
        }),
        None => Err(Error::database(
            "the journal answered no value where a number belongs",
        )),
    }
}

/// `c{id}_{slot}_{part}`.
pub fn snapshot_name(id: i64, slot: i64, part: Part) -> String {
    format!("{}_{slot}_{}", change_prefix(id), part.suffix())
}

/// The prefix of change `id`'s snapshots: `c{id}`.
pub fn change_prefix(id: i64) -> String {
    format!("c{id}")
}

/// How the names of a replay's staging tables begin (a change's own
/// snapshots begin with `c`).
pub const STAGING_PREFIX: &str = "r";

/// The name of data column `i` (0-based) of a snapshot.
pub fn data_column(i: usize) -> String {
    format!("c{}", i + 1)
}

/// The column of a deleted-rows snapshot of a table without a key: how
/// many rows equal to the deleted one the table still held when the change
/// committed. Such a table may hold copies of a row; an undo puts a row
/// back only while the table holds no more copies than that, so a copy
/// that came back since is a conflict and a copy that was always there is
/// not.
pub const KEPT_COLUMN: &str = "kept";

/// [`KEPT_COLUMN`] before the change's end counts it: a select item.
pub fn kept_uncounted() -> String {
    format!("CAST(0 AS bigint) AS {KEPT_COLUMN}")
}

/// Whether the snapshot of `part` of a table described by `info` carries
/// [`KEPT_COLUMN`].
pub fn counts_copies(info: &crate::schema::TableInfo, part: Part) -> bool {
    part == Part::Deleted && !info.has_primary_key()
}

/// The name of locator column `i` (0-based) of a snapshot: the values that
/// find the row in its table (its key, or SQLite's rowid).
pub fn locator_column(i: usize) -> String {
    format!("l{}", i + 1)
}

impl Dialect {
    /// A query answering one row whose first value is the journal's
    /// version, or no row when the target has no journal.
    pub(crate) fn journal_version_query(&self, names: &JournalNames) -> String {
        match self.0 {
            Engine::Postgres => format!(
                "SELECT m.value FROM pg_catalog.pg_namespace n \
                 CROSS JOIN LATERAL (SELECT value FROM {} WHERE key = 'version') m \
                 WHERE n.nspname = {}",
                names.table("meta"),
                self.literal(&super::Value::Text(journal_schema().to_owned()), "")
            ),
            Engine::Sqlite => format!(
                "SELECT value FROM {} WHERE key = 'version'",
                names.table("meta")
            ),
        }
    }

    /// The places of the database holding a dbguard journal that can pin a
    /// policy (a `meta` and a `policies` table), one per row, as
    /// [`Dialect::journal_place`] names them: on Postgres every schema,
    /// this journal's among them; on SQLite this journal's, if so.
    pub(crate) fn policy_journals_query(&self, names: &JournalNames) -> String {
        match self.0 {
            Engine::Postgres => "SELECT n.nspname::text FROM pg_catalog.pg_class c \
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relname = 'policies' AND c.relkind IN ('r', 'p') \
                 AND EXISTS (SELECT FROM pg_catalog.pg_class m WHERE m.relnamespace = n.oid AND m.relname = 'meta') \
                 ORDER BY 1"
                .to_owned(),
            Engine::Sqlite => format!(
                "SELECT 'main' FROM sqlite_schema WHERE type = 'table' AND name = '{}'",
                names.bare("policies")
            ),
        }
    }

    /// How [`Dialect::policy_journals_query`] names this journal's place.
    pub(crate) fn journal_place(&self) -> &'static str {
        match self.0 {
            Engine::Postgres => journal_schema(),
            Engine::Sqlite => "main",
        }
    }

    /// Whether the journal's version table exists, as a count.
    pub(crate) fn journal_exists_query(&self, names: &JournalNames) -> String {
        match self.0 {
            Engine::Postgres => format!(
                "SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = {} AND c.relname = 'meta'",
                self.literal(&super::Value::Text(journal_schema().to_owned()), "")
            ),
            Engine::Sqlite => format!(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '{}'",
                names.bare("meta")
            ),
        }
    }

    /// The statements that take a version-1 journal to version 2: the
    /// table of pinned policies.
    pub(crate) fn journal_v2_ddl(&self, names: &JournalNames) -> Vec<String> {
        match self.0 {
            Engine::Postgres => super::postgres::journal::policies_ddl(&|n| names.table(n)),
            Engine::Sqlite => super::sqlite::journal::policies_ddl(&|n| names.table(n)),
        }
    }

    /// The statements that create the current journal in an empty target.
    pub(crate) fn journal_ddl(&self, names: &JournalNames) -> Vec<String> {
        match self.0 {
            Engine::Postgres => {
                super::postgres::journal::ddl(journal_schema(), &|n| names.table(n))
            }
            Engine::Sqlite => super::sqlite::journal::ddl(&|n| names.table(n)),
        }
    }

    /// Serializes writers of the journal's audit chain for the rest of the
    /// transaction (the head row, locked). SQLite's write transaction
    /// already holds the whole file.
    pub(crate) fn lock_audit_head(&self, names: &JournalNames) -> Option<String> {
        match self.0 {
            Engine::Postgres => Some(format!(
                "SELECT last_id FROM {} WHERE one FOR UPDATE",
                names.table("audit_head")
            )),
            Engine::Sqlite => None,
        }
    }

    /// Statements that create snapshot `name` holding the rows of `select`,
    /// whose columns are `columns` (named as [`data_column`] and friends).
    pub(crate) fn create_snapshot(
        &self,
        name: &str,
        columns: &[String],
        select: &str,
    ) -> Vec<String> {
        match self.0 {
            // The columns take the types of what they copy.
            Engine::Postgres => vec![format!("CREATE TABLE {name} AS {select}")],
            // No declared type: no affinity converts a value on the way in.
            Engine::Sqlite => vec![
                format!("CREATE TABLE {name} ({})", columns.join(", ")),
                format!("INSERT INTO {name} {select}"),
            ],
        }
    }

    /// Statements that create snapshot `name` with the columns of
    /// `select` and no rows, for rows added later.
    pub(crate) fn create_empty_snapshot(
        &self,
        name: &str,
        columns: &[String],
        select: &str,
    ) -> Vec<String> {
        match self.0 {
            Engine::Postgres => vec![format!("CREATE TABLE {name} AS {select} WITH NO DATA")],
            Engine::Sqlite => vec![format!("CREATE TABLE {name} ({})", columns.join(", "))],
        }
    }

    /// A condition true when the two lists of expressions hold the same
    /// values, byte for byte: Postgres compares the binary images (`1.0`
    /// and `1.00` differ, types without an equality operator compare too);
    /// SQLite compares values and their storage classes.
    pub(crate) fn images_equal(&self, a: &[String], b: &[String]) -> String {
        match self.0 {
            Engine::Postgres => format!(
                "pg_catalog.record_image_eq(ROW({}), ROW({}))",
                a.join(", "),
                b.join(", ")
            ),
            Engine::Sqlite => {
                if a.is_empty() {
                    return "1".into();
                }
                let parts: Vec<String> = a
                    .iter()
                    .zip(b)
                    .map(|(x, y)| format!("({x} IS {y} AND typeof({x}) = typeof({y}))"))
                    .collect();
                format!("({})", parts.join(" AND "))
            }
        }
    }

    /// A row's values as one value that only identical rows share: what
    /// copies of a row are grouped and counted by. On Postgres their
    /// binary form, as the undo compares images byte for byte (two NaNs
    /// whose bits differ print alike); on SQLite their quoted text.
    pub(crate) fn image_key(&self, cols: &[String]) -> String {
        match self.0 {
            Engine::Postgres => format!("pg_catalog.record_send(ROW({}))", cols.join(", ")),
            Engine::Sqlite => cols
                .iter()
                .map(|c| format!("quote({c})"))
                .collect::<Vec<_>>()
                .join(" || ',' || "),
        }
    }

    /// How many rows of `a` (as `x`, its columns `a_cols`) have no copy
    /// left for them in `b` (as `y`, `b_cols`) when rows are matched as
    /// multisets: per distinct row, the copies `a` holds beyond `b`'s.
    pub(crate) fn copies_beyond(
        &self,
        (a, a_cols): (&str, &[String]),
        (b, b_cols): (&str, &[String]),
    ) -> String {
        format!(
            "SELECT coalesce(sum(w.n - coalesce(c.n, 0)), 0) \
             FROM (SELECT {} AS img, count(*) AS n FROM {a} AS x GROUP BY 1) AS w \
             LEFT JOIN (SELECT {} AS img, count(*) AS n FROM {b} AS y GROUP BY 1) AS c \
             ON c.img = w.img WHERE coalesce(c.n, 0) < w.n",
            self.image_key(a_cols),
            self.image_key(b_cols)
        )
    }

    /// Deletes from `table` (as `t`), for each distinct row of `snapshot`
    /// (as `i`), as many rows equal to it (`equal`, over `t` and `i`) as
    /// the snapshot holds copies of it: the undo of an insert into a table
    /// whose rows only their values tell apart, where one copy of a row is
    /// as good as another but the count must be exact. Copies are grouped
    /// by [`Dialect::image_key`] and taken in their physical order; `equal` still
    /// decides which rows qualify.
    pub(crate) fn delete_copies(
        &self,
        table: &str,
        snapshot: &str,
        (t_cols, i_cols): (&[String], &[String]),
        equal: &str,
    ) -> String {
        // A partitioned table's partitions share ctids: a row is its
        // partition and its ctid.
        let (place, of_t, picked) = match self.0 {
            Engine::Postgres => ("(tableoid, ctid)", "t.tableoid, t.ctid", "c.p0, c.p1"),
            Engine::Sqlite => ("rowid", "t.rowid", "c.p0"),
        };
        let named: Vec<String> = of_t
            .split(", ")
            .enumerate()
            .map(|(i, col)| format!("{col} AS p{i}"))
            .collect();
        let (t_text, i_text) = (self.image_key(t_cols), self.image_key(i_cols));
        format!(
            "DELETE FROM {table} WHERE {place} IN (\
             SELECT {picked} FROM (\
             SELECT {named}, {t_text} AS img, \
             row_number() OVER (PARTITION BY {t_text} ORDER BY {of_t}) AS rn \
             FROM {table} AS t WHERE EXISTS (SELECT 1 FROM {snapshot} AS i WHERE {equal})) AS c \
             JOIN (SELECT {i_text} AS img, count(*) AS n FROM {snapshot} AS i GROUP BY {i_text}) AS w \
             ON w.img = c.img AND c.rn <= w.n)",
            named = named.join(", ")
        )
    }

    /// What finds a row of `table` again: SQLite's rowid where the table
    /// has one (an update keeps it, and a table without a key has it too),
    /// else the primary key.
    pub(crate) fn locator(&self, table: &Table) -> Locator {
        if self.0 == Engine::Sqlite && !table.without_rowid {
            return Locator::Rowid;
        }
        match &table.primary_key {
            Some(pk) => Locator::Key(pk.columns.clone()),
            None => Locator::None,
        }
    }

    /// What finds a row of `table`, aliased `alias`, once the statement
    /// updated it, where `new_key` (over `alias`) is the key it moves to:
    /// the new key, unless the locator is a rowid the key does not move.
    pub(crate) fn locator_after(
        &self,
        table: &Table,
        alias: &str,
        new_key: Option<&[String]>,
    ) -> Vec<String> {
        let locator = self.locator(table);
        match (&locator, new_key) {
            (Locator::Key(_), Some(k)) => k.to_vec(),
            (Locator::Rowid, Some(k)) if self.rowid_alias(table).is_some() => k.to_vec(),
            _ => locator.exprs(alias),
        }
    }

    /// A condition picking the rows of `alias` this transaction wrote,
    /// where the engine marks them (Postgres `xmin`); it reads the whole
    /// table, so it serves only tables nothing else locates.
    pub(crate) fn written_by_this_transaction(&self, alias: &str) -> Option<String> {
        match self.0 {
            Engine::Postgres => Some(format!(
                "{alias}.xmin::text = (pg_catalog.txid_current() % 4294967296)::text"
            )),
            Engine::Sqlite => None,
        }
    }

    /// A query answering the bytes the journal tables `bare` (as the
    /// catalog names them) take, or `None` when there are none.
    pub(crate) fn relations_bytes_query(
        &self,
        names: &JournalNames,
        bare: &[String],
    ) -> Option<String> {
        if bare.is_empty() {
            return None;
        }
        let list: Vec<String> = bare
            .iter()
            .map(|b| format!("'{}'", names.bare(b).replace('\'', "''")))
            .collect();
        Some(match self.0 {
            Engine::Postgres => format!(
                "SELECT coalesce(sum(pg_catalog.pg_total_relation_size(c.oid)), 0)::bigint \
                 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = {} AND c.relname IN ({})",
                self.literal(&super::Value::Text(journal_schema().to_owned()), ""),
                list.join(", ")
            ),
            Engine::Sqlite => format!(
                "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN ({})",
                list.join(", ")
            ),
        })
    }
}
