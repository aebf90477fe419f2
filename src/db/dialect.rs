//! The SQL differences between the engines that previews need.
//!
//! The impact analysis (`crate::impact`) writes its counting queries once,
//! engine-neutrally; the few places where Postgres and SQLite spell things
//! differently — how to name a row, casts, `IS NOT DISTINCT FROM`, the shape
//! of a recursive closure over a cycle of tables — are answered here, and so
//! are the rules where the engines behave differently and a preview must
//! follow the one it runs on: when a foreign key is checked, how an
//! unquoted name finds a column, which column is the rowid. A preview asks
//! the rule by name, so it has no engine branches of its own.
//!
//! The same goes for the layers that show names and match targets: how a
//! typed name finds a table ([`Dialect::name_rules`], which the catalog
//! code hands to the schema model, itself engine-neutral), how a trigger's
//! action is spelled, whether a database is a file.

use super::Engine;
use crate::model::Value;
use crate::schema::{Column, ForeignKey, NameCase, NameRules, QualName, Table, quote_ident};

/// One step of a closure over a cycle of tables: rows of `child` that
/// reference rows of `parent` already in the closure.
#[derive(Debug, Clone)]
pub(crate) struct ClosureStep {
    pub parent_tag: usize,
    pub parent_sql: String,
    pub child_tag: usize,
    pub child_sql: String,
    /// `(child_col, parent_col)` pairs of the foreign key.
    pub pairs: Vec<(String, String)>,
    /// Row identity of the parent as `p`, of the child as `c`
    /// ([`Dialect::row_ident`] with those qualifiers).
    pub parent_ident: Vec<String>,
    pub child_ident: Vec<String>,
}

/// When an engine checks that a `RESTRICT` or `NO ACTION` foreign key
/// still finds its referenced row, relative to the other changes of the
/// same statement. A preview needs it to tell which referencing rows the
/// statement itself removes (or points elsewhere) in time to clear the
/// check, and which it removes too late.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefCheck {
    /// As the referenced row is deleted or its key changed, among its own
    /// actions (SQLite runs a row's actions depth first as the row goes):
    /// a cascade from the same parent row that fires first counts, and so
    /// does an earlier branch of the statement's one row; the order of
    /// the statement's other rows is not the statement's to control.
    AtTheRow,
    /// In the statement's queue of key actions, after the statement's own
    /// rows: PostgreSQL appends the actions of each row a cascade deletes
    /// to the queue, so they run breadth first. A referencing row deleted
    /// at a depth no greater than its parent row's is gone when that
    /// row's check runs, one deleted two levels deeper is not, and one
    /// deleted at the next level depends on the order rows were queued
    /// in, except that a cascade from the same parent row runs in key
    /// order.
    InQueue,
    /// At the end of the statement or of the transaction: every change the
    /// statement makes counts.
    AtTheEnd,
}

/// SQL spelling for one engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect(pub Engine);

impl Dialect {
    /// When a `RESTRICT` (`restrict`) or `NO ACTION` key, `deferred`
    /// (`DEFERRABLE INITIALLY DEFERRED`) or not, is checked.
    ///
    /// SQLite checks `RESTRICT` as the parent row changes, even on a
    /// deferred key, and `NO ACTION` at the end of the statement (of the
    /// transaction when deferred). Postgres enforces both through `AFTER
    /// ROW` triggers, fired per parent row in creation order after the
    /// statement's own rows, unless a `NO ACTION` key is deferred to the
    /// commit: it makes a `RESTRICT` key's trigger not deferrable whatever
    /// the key says ("Restrict should not be deferrable", tablecmds.c).
    pub(crate) fn reference_check(&self, restrict: bool, deferred: bool) -> RefCheck {
        match self.0 {
            Engine::Sqlite if restrict => RefCheck::AtTheRow,
            Engine::Sqlite => RefCheck::AtTheEnd,
            Engine::Postgres if deferred && !restrict => RefCheck::AtTheEnd,
            Engine::Postgres => RefCheck::InQueue,
        }
    }

    /// Whether the engine runs the key actions of a statement breadth
    /// first: PostgreSQL queues them and appends the actions of the rows a
    /// cascade deletes; SQLite runs a row's actions as the row goes, each
    /// cascade to its end before the next action (depth first).
    pub(crate) fn key_actions_breadth_first(&self) -> bool {
        self.0 == Engine::Postgres
    }

    /// Whether every target row of a DELETE is gone before any key action
    /// runs: PostgreSQL queues the actions after the statement's rows;
    /// SQLite runs a row's actions as the row goes, before the next.
    pub(crate) fn deletes_targets_before_actions(&self) -> bool {
        self.0 == Engine::Postgres
    }

    /// Whether the key actions of an UPDATE run once all the statement's
    /// own rows are written: PostgreSQL queues them; SQLite runs a row's
    /// actions as the row goes, before the next row is written.
    pub(crate) fn runs_actions_after_rows(&self) -> bool {
        self.0 == Engine::Postgres
    }

    /// Whether a row updated a second time in one transaction has every
    /// foreign key of it checked, changed or not: PostgreSQL does
    /// (`RI_FKey_fk_upd_check_required`: the old version is the
    /// transaction's own), SQLite checks only the keys an update changes.
    pub(crate) fn rechecks_rows_updated_twice(&self) -> bool {
        self.0 == Engine::Postgres
    }

    /// Whether the engine checks a `NO ACTION` key from a table to itself,
    /// when an UPDATE changes the key, by a count that the order it
    /// rewrites rows in can leave even while a reference dangles: SQLite
    /// counts, per row as it goes, the references to its old key but its
    /// own, and looks up each row's own reference with the keys other rows
    /// hold at that moment, so a row of the statement's own left
    /// referencing an old key may never be counted (a row it leaves alone
    /// is). A deferred key is counted the same way, and the
    /// count decides the commit. Postgres checks rows.
    pub(crate) fn counts_own_references(&self, restrict: bool) -> bool {
        self.0 == Engine::Sqlite && !restrict
    }

    /// Whether a violation of a key so declared fails at commit rather than
    /// in the statement: a deferred `NO ACTION` key. Neither engine defers
    /// `RESTRICT`, whatever the key's deferral.
    pub(crate) fn defers(&self, restrict: bool, deferred: bool) -> bool {
        deferred && !restrict
    }

    /// Whether `INSERT ... ON CONFLICT DO UPDATE` may update one existing
    /// row twice, when two proposed rows hit the same key: SQLite updates
    /// it once per proposed row (the last one wins); Postgres refuses the
    /// statement ("cannot affect row a second time").
    pub(crate) fn upsert_updates_row_twice(&self) -> bool {
        match self.0 {
            Engine::Postgres => false,
            Engine::Sqlite => true,
        }
    }

    /// Whether `col` of `table` is SQLite's rowid under another name (the
    /// `INTEGER PRIMARY KEY` of a rowid table), so that inserting NULL
    /// into it assigns a new key instead of breaking `NOT NULL`. Postgres
    /// has no rowid: a generated key there is an identity or a default.
    pub(crate) fn is_rowid_alias(&self, table: &Table, col: &str) -> bool {
        self.0 == Engine::Sqlite
            && !table.without_rowid
            && table
                .primary_key
                .as_ref()
                .is_some_and(|pk| pk.columns.len() == 1 && pk.columns[0] == col)
            && table
                .column(col)
                .is_some_and(|c| c.type_name.eq_ignore_ascii_case("integer"))
    }

    /// Whether the engine, writing a row of `table`, fails to find that
    /// row itself as the parent of `fk` (a key into `table`) when the
    /// row's reference and key are stored as different types. SQLite
    /// looks a parent up with the key's affinity (`'3'` finds `3`), but the
    /// row it writes is not in the key's index then, and its shortcut for
    /// a row referencing itself compares the stored values as they are.
    /// A rowid key is found by value.
    pub(crate) fn misses_own_row_by_type(&self, table: &Table, fk: &ForeignKey) -> bool {
        self.0 == Engine::Sqlite
            && fk.ref_table == table.name
            && !(fk.ref_columns.len() == 1 && self.is_rowid_alias(table, &fk.ref_columns[0]))
    }

    /// `a` and `b` are the same stored value, type included: SQLite with
    /// neither side's affinity and the BINARY collation.
    pub(crate) fn same_stored_value(&self, a: &str, b: &str) -> String {
        match self.0 {
            Engine::Postgres => format!("({a}) = ({b})"),
            Engine::Sqlite => format!("+({a}) = +({b}) COLLATE BINARY"),
        }
    }

    /// Whether `name` is one of SQLite's names for a rowid table's rowid
    /// (`rowid`, `oid`, `_rowid_`), which a real column of that name hides.
    pub(crate) fn names_rowid(&self, table: &Table, name: &str) -> bool {
        self.0 == Engine::Sqlite
            && !table.without_rowid
            && ["rowid", "oid", "_rowid_"]
                .iter()
                .any(|r| r.eq_ignore_ascii_case(name))
            && table.column(name).is_none()
    }

    /// The column a rowid table's `INTEGER PRIMARY KEY` makes its rowid.
    pub(crate) fn rowid_alias<'t>(&self, table: &'t Table) -> Option<&'t Column> {
        let pk = table.primary_key.as_ref()?;
        let [col] = pk.columns.as_slice() else {
            return None;
        };
        self.is_rowid_alias(table, col)
            .then(|| table.column(col))
            .flatten()
    }

    /// Whether the engine has `TRUNCATE`; SQLite does not (a `DELETE`
    /// without `WHERE` empties a table there).
    pub(crate) fn has_truncate(&self) -> bool {
        match self.0 {
            Engine::Postgres => true,
            Engine::Sqlite => false,
        }
    }

    /// How names typed in SQL find tables and columns, handed to the schema
    /// model when it is loaded. Postgres folds unquoted names to lower case
    /// (the catalog stored them folded when they were created) and keeps
    /// tables in schemas found along the search path; SQLite keeps names as
    /// declared, compares them ignoring ASCII case, and keeps the main
    /// database's tables in one schema, `main`.
    pub(crate) fn name_rules(&self) -> NameRules {
        match self.0 {
            Engine::Postgres => NameRules {
                case: NameCase::FoldsUnquoted,
                single_schema: None,
            },
            Engine::Sqlite => NameRules {
                case: NameCase::IgnoresAsciiCase,
                single_schema: Some("main"),
            },
        }
    }

    /// The column of `table` that an identifier in a statement names: a
    /// quoted name matches exactly, an unquoted one by the engine's
    /// [`NameRules::case`].
    pub(crate) fn find_column<'t>(
        &self,
        table: &'t Table,
        name: &str,
        quoted: bool,
    ) -> Option<&'t Column> {
        if quoted {
            return table.column(name);
        }
        match self.name_rules().case {
            case @ NameCase::FoldsUnquoted => table.column(&case.fold(name, false)),
            case @ NameCase::IgnoresAsciiCase => table
                .columns
                .iter()
                .find(|c| case.names(&c.name, name, false)),
        }
    }

    /// A trigger's action as `CREATE TRIGGER` spells it, from what the
    /// catalog keeps ([`crate::schema::Trigger::action`]): the function a
    /// Postgres trigger executes, the body of a SQLite one.
    pub(crate) fn trigger_action(&self, action: &str) -> String {
        match self.0 {
            Engine::Postgres => format!("EXECUTE FUNCTION {action}"),
            Engine::Sqlite => format!("BEGIN {action} END"),
        }
    }

    /// The file name of a target's database, where the database is a file
    /// (SQLite: `database` is its path, and a policy may name the file
    /// alone); `None` where it is a name on a server.
    pub(crate) fn database_file_name<'a>(&self, database: &'a str) -> Option<&'a str> {
        match self.0 {
            Engine::Postgres => None,
            Engine::Sqlite => std::path::Path::new(database)
                .file_name()
                .and_then(|n| n.to_str()),
        }
    }

    /// A query returning the session's replication role as text, on the
    /// engine that has one. On Postgres any role but `origin` keeps
    /// foreign-key actions (which are triggers) and ordinary triggers from
    /// firing, so a preview's cascades would not happen. SQLite has no such
    /// switch: dbguard turns its foreign keys on when it connects.
    pub(crate) fn replication_role_query(&self) -> Option<&'static str> {
        match self.0 {
            Engine::Postgres => Some("SELECT current_setting('session_replication_role')"),
            Engine::Sqlite => None,
        }
    }

    /// The rows a statement's `FROM` (`{with}... FROM {from} WHERE
    /// {pred}`) matches, per table they live in, as rows of (schema, name,
    /// count, whether it is `table` itself), `qual` naming the target: a
    /// table others inherit from returns their rows too. Tables are told
    /// apart by OID, and named in two parts, never by a dotted name that
    /// two can spell alike (`"s.t".u` and `s."t.u"`). `None` where the
    /// engine has no inheritance.
    pub(crate) fn rows_per_table(
        &self,
        (with, from, qual): (&str, &str, &str),
        pred: &str,
        table: &QualName,
    ) -> Option<String> {
        match self.0 {
            Engine::Postgres => Some(format!(
                "{with}SELECT n.nspname::text, c.relname::text, x.n, \
                 CASE WHEN x.t = {} THEN 1 ELSE 0 END \
                 FROM (SELECT {qual}.tableoid AS t, count(DISTINCT {qual}.ctid) AS n \
                 FROM {from} WHERE ({pred}) GROUP BY 1) AS x \
                 JOIN pg_catalog.pg_class c ON c.oid = x.t \
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace ORDER BY x.t",
                self.regclass(table)
            )),
            Engine::Sqlite => None,
        }
    }

    /// The condition that a row (as `qual`) of `table` is the table's own,
    /// not one of a table inheriting from it. `None` where the engine has
    /// no inheritance.
    pub(crate) fn own_row(&self, qual: &str, table: &QualName) -> Option<String> {
        match self.0 {
            Engine::Postgres => Some(format!("{qual}.tableoid = {}", self.regclass(table))),
            Engine::Sqlite => None,
        }
    }

    /// The leaf partitions of the partitioned `table` as rows of (oid,
    /// partition constraint): an UPDATE moves a row whose new values fail
    /// its leaf's constraint to another leaf, and PostgreSQL then checks
    /// the row's foreign keys as for an insert. `None` where the engine
    /// has no partitions.
    pub(crate) fn leaf_constraints_query(&self, table: &QualName) -> Option<String> {
        match self.0 {
            Engine::Postgres => Some(format!(
                "SELECT t.relid::oid::text, pg_get_partition_constraintdef(t.relid) \
                 FROM pg_partition_tree({}) AS t WHERE t.isleaf",
                self.regclass(table)
            )),
            Engine::Sqlite => None,
        }
    }

    /// The leaf that holds the row `qual` (with [`Self::leaf_constraints_query`]'s
    /// oids).
    pub(crate) fn leaf_of(&self, qual: &str) -> String {
        match self.0 {
            Engine::Postgres => format!("{qual}.tableoid::oid::text"),
            Engine::Sqlite => "NULL".into(),
        }
    }

    /// Whether SQLite may count a row that references the key an UPDATE
    /// gives it (again) against that key twice: it scans the references
    /// to the new key while the row's old version is still in the table,
    /// after it counted the others to the old key without it, and a count
    /// that does not come back to zero fails the statement. It rewrites
    /// the row before that scan, out of the way, when the key is the
    /// row's own b-tree key: a rowid alias, a WITHOUT ROWID primary key.
    pub(crate) fn recounts_own_reference(&self, table: &Table, key: &[String]) -> bool {
        let btree_key = match key {
            [c] if self.is_rowid_alias(table, c) => true,
            _ => {
                table.without_rowid
                    && table
                        .primary_key
                        .as_ref()
                        .is_some_and(|pk| pk.columns == key)
            }
        };
        self.0 == Engine::Sqlite && !btree_key
    }

    /// `table` as a PostgreSQL `regclass` literal.
    fn regclass(&self, table: &QualName) -> String {
        format!("{}::regclass", self.literal(&Value::Text(table.sql()), ""))
    }

    /// The tables that inherit from `tables`, at every depth (partitions
    /// and plain inheritance children), as rows of (schema, name): what a
    /// statement on them reaches besides. `None` where the engine has no
    /// inheritance.
    pub(crate) fn descendants_query(&self, tables: &[QualName]) -> Option<String> {
        match self.0 {
            Engine::Postgres => {
                let named: Vec<String> = tables
                    .iter()
                    .map(|t| format!("to_regclass({})", self.literal(&Value::Text(t.sql()), "")))
                    .collect();
                Some(format!(
                    "WITH RECURSIVE d(rel) AS ( \
                       SELECT i.inhrelid FROM pg_catalog.pg_inherits i WHERE i.inhparent IN ({list}) \
                     UNION \
                       SELECT i.inhrelid FROM d JOIN pg_catalog.pg_inherits i ON i.inhparent = d.rel) \
                     SELECT n.nspname::text, c.relname::text FROM d \
                     JOIN pg_catalog.pg_class c ON c.oid = d.rel \
                     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace ORDER BY 1, 2",
                    list = named.join(", ")
                ))
            }
            Engine::Sqlite => None,
        }
    }

    /// Whether [`Dialect::fingerprint`] of `table` is taken over a row
    /// source that carries the primary key under the columns' own names (a
    /// preview's CTE), instead of joining that source back to the table.
    /// Postgres hashes the primary key, and the join back by `ctid` was a
    /// second pass costing about 5% of a 100k-row preview. SQLite's
    /// fingerprint mixes rowids, which only the table has; a `WITHOUT
    /// ROWID` table is joined back too, by its key, so both kinds of SQLite
    /// table take one path.
    pub(crate) fn fingerprints_by_key(&self, table: &Table) -> bool {
        self.0 == Engine::Postgres && table.primary_key.is_some()
    }

    /// Expressions naming one row of `table` (referenced as `qual`) for the
    /// duration of a statement: Postgres `tableoid, ctid` (a partitioned
    /// table's partitions share ctids), SQLite `rowid`, or the primary key of
    /// a `WITHOUT ROWID` table.
    pub(crate) fn row_ident(&self, table: &Table, qual: &str) -> Vec<String> {
        match self.0 {
            Engine::Postgres => vec![format!("{qual}.tableoid"), format!("{qual}.ctid")],
            Engine::Sqlite => {
                if table.without_rowid
                    && let Some(pk) = &table.primary_key
                {
                    return pk
                        .columns
                        .iter()
                        .map(|c| format!("{qual}.{}", quote_ident(c)))
                        .collect();
                }
                vec![format!("{qual}.rowid")]
            }
        }
    }

    /// How an operator keeps triggers and key actions off an undo, for a
    /// refusal's help, where the engine has a way (SQLite's undo already
    /// drops the triggers, and its key actions cannot be turned off inside
    /// a transaction).
    pub(crate) fn quiet_restore_hint(&self) -> Option<&'static str> {
        match self.0 {
            Engine::Postgres => Some(
                "undo as a role that may set session_replication_role (triggers and key actions then stay off)",
            ),
            Engine::Sqlite => None,
        }
    }

    /// An aggregate over rows of `table` (as `qual`) that changes when the
    /// set of rows changes, whatever their order: a sum of hashes of the
    /// primary key (Postgres), or on SQLite dbguard's own multiset SHA-256
    /// of the rowid or the `WITHOUT ROWID` key (`sqlite::fingerprint`).
    /// Part of the preview's digest, so the same number of *other* rows is
    /// drift too.
    pub fn fingerprint(&self, table: &Table, qual: &str) -> String {
        match self.0 {
            Engine::Postgres => {
                let key = match &table.primary_key {
                    Some(pk) if pk.columns.len() == 1 => {
                        format!("{qual}.{}::text", quote_ident(&pk.columns[0]))
                    }
                    Some(pk) => format!(
                        "ROW({})::text",
                        pk.columns
                            .iter()
                            .map(|c| format!("{qual}.{}", quote_ident(c)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    None => format!("{qual}.ctid::text"),
                };
                format!("coalesce(sum(hashtextextended({key}, 0)::numeric), 0)::text")
            }
            Engine::Sqlite => {
                let name = crate::db::sqlite::FINGERPRINT;
                let cols: Vec<String> = if table.without_rowid {
                    table
                        .primary_key
                        .iter()
                        .flat_map(|pk| pk.columns.iter())
                        .map(|c| format!("{qual}.{}", quote_ident(c)))
                        .collect()
                } else {
                    vec![format!("{qual}.rowid")]
                };
                if cols.is_empty() {
                    return "0".into();
                }
                format!("{name}({})", cols.join(", "))
            }
        }
    }

    /// A cryptographic aggregate over which rows of `table` (as `qual`)
    /// a query holds, whatever order they come in: on Postgres the SHA-256
    /// of the rows' keys (their text, or the whole row's without a key)
    /// sorted; on SQLite one SHA-256 over the rowid and key (or every
    /// column) of each row, in rowid or key order.
    pub(crate) fn row_digest(&self, table: &Table, qual: &str) -> String {
        let col = |c: &str| format!("{qual}.{}", quote_ident(c));
        match self.0 {
            Engine::Postgres => {
                // Each key as a row's text, whose quoting keeps one key from
                // running into the next (`E'a\nb'`, `'c'` against `'a'`,
                // `E'b\nc'`); ordered by the key's own type, as
                // deterministic as text and cheaper to sort. Without a key,
                // the whole row, spelled so no column can stand for it.
                let (key, order) = match &table.primary_key {
                    Some(pk) => {
                        let cols: Vec<String> = pk.columns.iter().map(|c| col(c)).collect();
                        (format!("ROW({})::text", cols.join(", ")), cols.join(", "))
                    }
                    None => {
                        let row = format!("ROW({qual}.*)::text");
                        (row.clone(), format!("{row} COLLATE \"C\""))
                    }
                };
                format!(
                    "encode(sha256(convert_to(coalesce(string_agg({key}, E'\\n' ORDER BY {order}), ''), 'UTF8')), 'hex')"
                )
            }
            Engine::Sqlite => {
                // The rowid, and what the rows are known by: the key, or
                // every column without one (the same rowid can come to
                // hold another row's values).
                // Ordered by the rowid, or by the key of a `WITHOUT ROWID`
                // table: one running SHA-256, not a sum a chosen set of rows
                // could steer.
                let mut cols = Vec::new();
                let key: Vec<String> = table
                    .primary_key
                    .iter()
                    .flat_map(|pk| pk.columns.iter())
                    .map(|c| col(c))
                    .collect();
                let order = if table.without_rowid {
                    key.join(", ")
                } else {
                    cols.push(format!("{qual}.rowid"));
                    format!("{qual}.rowid")
                };
                match &table.primary_key {
                    Some(_) => cols.extend(key),
                    None => cols.extend(table.columns.iter().map(|c| col(&c.name))),
                }
                format!(
                    "{}({} ORDER BY {order})",
                    crate::db::sqlite::DIGEST,
                    cols.join(", ")
                )
            }
        }
    }

    /// Width of the identity of any row in a closure over a cycle: the
    /// closure table has one fixed shape for all tables in the cycle.
    fn closure_ident(&self, ident: &[String]) -> Vec<String> {
        match self.0 {
            Engine::Postgres => ident.to_vec(),
            Engine::Sqlite => {
                if ident.len() == 1 {
                    ident.to_vec()
                } else {
                    vec![format!("json_array({})", ident.join(", "))]
                }
            }
        }
    }

    /// The number of identity columns a closure row carries.
    pub(crate) fn closure_width(&self) -> usize {
        match self.0 {
            Engine::Postgres => 2,
            Engine::Sqlite => 1,
        }
    }

    /// `expr` as the column of type `type_name` stores it: cast to the
    /// type on Postgres, converted to the column's affinity on SQLite.
    pub fn cast(&self, expr: &str, type_name: &str) -> String {
        match self.0 {
            Engine::Postgres => format!("CAST(({expr}) AS {type_name})"),
            Engine::Sqlite => super::sqlite::affinity::Affinity::of(type_name).apply(expr),
        }
    }

    /// `expr` (a value already as column type `type_name` stores it) as an
    /// expression that compares as the column does, and the condition of
    /// values for which it would not be the same value. SQLite compares a
    /// column with its affinity (a TEXT column with `2` as with `'2'`) but
    /// a computed value with none; a CAST carries an affinity, and leaves
    /// a value as stored except a text in a numeric column or a blob in a
    /// TEXT one.
    pub(crate) fn with_affinity(&self, expr: &str, type_name: &str) -> (String, Option<String>) {
        use super::sqlite::affinity::Affinity;
        let (cast, changed) = match (self.0, Affinity::of(type_name)) {
            (Engine::Postgres, _) | (Engine::Sqlite, Affinity::Blob) => {
                return (expr.to_owned(), None);
            }
            (_, Affinity::Text) => ("TEXT", "'blob'"),
            (_, Affinity::Real) => ("REAL", "'text', 'blob'"),
            (_, Affinity::Integer | Affinity::Numeric) => ("NUMERIC", "'text', 'blob'"),
        };
        (
            format!("CAST({expr} AS {cast})"),
            Some(format!("typeof({expr}) IN ({changed})")),
        )
    }

    /// A referencing column's value (`expr`, of `child`) as the engine
    /// compares it with the key of `parent`: SQLite matches with the
    /// parent column's collation whatever the child's, and an explicit
    /// `COLLATE` wins over a column's own on either side of the `=` or
    /// `IN`. Postgres compares with the key's equality operator.
    pub(crate) fn as_key_of(
        &self,
        expr: &str,
        child: Option<&Column>,
        parent: Option<&Column>,
    ) -> String {
        let coll = |c: Option<&Column>| c.and_then(|c| c.collation.clone());
        match (self.0, coll(parent), coll(child)) {
            (Engine::Postgres, ..) | (Engine::Sqlite, None, None) => expr.to_owned(),
            (Engine::Sqlite, p, _) => format!(
                "{expr} COLLATE {}",
                quote_ident(p.as_deref().unwrap_or("BINARY"))
            ),
        }
    }

    /// Whether a referenced key column moves from `old` to `new` as the
    /// engine's key actions see it. SQLite fires `ON UPDATE` actions only
    /// when the value differs under the parent column's collation (`IS`
    /// with its affinity: 1 and 1.0 are the same key), Postgres when the
    /// stored image differs.
    pub(crate) fn key_moves(&self, old: &str, new: &str, parent: Option<&Column>) -> String {
        match self.0 {
            Engine::Postgres => format!("NOT {}", self.not_distinct(new, old)),
            Engine::Sqlite => format!(
                "NOT (({old}) IS {})",
                self.as_key_of(&format!("({new})"), None, parent)
            ),
        }
    }

    /// `a IS NOT DISTINCT FROM b`.
    ///
    /// "Not distinct" here means the stored value would be the same: on
    /// Postgres the text forms are compared (json, xml and point have no
    /// `=`, and `1.0 = 1.00` or two boxes of the same area are equal but
    /// not the same value); on SQLite the storage class must match too.
    pub(crate) fn not_distinct(&self, a: &str, b: &str) -> String {
        match self.0 {
            Engine::Postgres => format!("(({a})::text IS NOT DISTINCT FROM ({b})::text)"),
            // BINARY: a column's own collation would call 'ABC' and 'abc'
            // the same, which is not the same stored value.
            Engine::Sqlite => {
                format!("(({a}) IS ({b}) COLLATE BINARY AND typeof({a}) = typeof({b}))")
            }
        }
    }

    /// `count(*)` of rows where `cond` holds, as an aggregate.
    pub(crate) fn count_where(&self, cond: &str) -> String {
        match self.0 {
            Engine::Postgres => format!("count(*) FILTER (WHERE {cond})"),
            Engine::Sqlite => format!("coalesce(sum(CASE WHEN {cond} THEN 1 ELSE 0 END), 0)"),
        }
    }

    /// Whether an array column overlaps the values of a subquery (the
    /// `X_ids` association form); Postgres only.
    pub(crate) fn array_overlaps(
        &self,
        col: &str,
        elem_type: &str,
        subquery: &str,
    ) -> Option<String> {
        match self.0 {
            Engine::Postgres => Some(format!(
                "{col} && ARRAY(SELECT CAST(v AS {elem_type}) FROM ({subquery}) AS s(v))"
            )),
            Engine::Sqlite => None,
        }
    }

    /// `WITH RECURSIVE` CTE body computing the closure of a cycle of tables,
    /// as `name(tag, i0[, i1])`: the seed rows, then repeatedly the rows
    /// that reference a row already in it through a cascading key. `UNION`
    /// (not `UNION ALL`) makes it a fixed point on row sets, so cycles end.
    pub(crate) fn closure_cte(
        &self,
        name: &str,
        seeds: &[String],
        steps: &[ClosureStep],
    ) -> String {
        let width = self.closure_width();
        let cols: Vec<String> = (0..width).map(|i| format!("i{i}")).collect();
        let head = format!("{name}(tag, {})", cols.join(", "));
        let seed_sql = seeds.join("\n  UNION\n  ");
        match self.0 {
            Engine::Postgres => {
                // Postgres allows one reference to the recursive CTE, so all
                // steps go in one LATERAL branch, each guarded by the tag.
                let branches: Vec<String> = steps
                    .iter()
                    .map(|s| {
                        let on = join_pairs(&s.pairs, "c", "p");
                        format!(
                            "SELECT {ct} AS tag, c.tableoid AS i0, c.ctid AS i1 FROM {psql} AS p JOIN {csql} AS c ON {on} \
                             WHERE d.tag = {pt} AND p.tableoid = d.i0 AND p.ctid = d.i1",
                            ct = s.child_tag,
                            pt = s.parent_tag,
                            psql = s.parent_sql,
                            csql = s.child_sql,
                        )
                    })
                    .collect();
                format!(
                    "{head} AS (\n  {seed_sql}\n  UNION\n  SELECT x.tag, x.i0, x.i1 FROM {name} AS d CROSS JOIN LATERAL (\n    {}\n  ) AS x\n)",
                    branches.join("\n    UNION ALL\n    ")
                )
            }
            Engine::Sqlite => {
                let branches: Vec<String> = steps
                    .iter()
                    .map(|s| {
                        let on = join_pairs(&s.pairs, "c", "p");
                        let pid = self.closure_ident(&s.parent_ident);
                        let cid = self.closure_ident(&s.child_ident);
                        format!(
                            "SELECT {ct}, {cid} FROM {name} AS d JOIN {psql} AS p ON {pid} = d.i0 JOIN {csql} AS c ON {on} WHERE d.tag = {pt}",
                            ct = s.child_tag,
                            pt = s.parent_tag,
                            cid = cid.join(", "),
                            pid = pid.join(", "),
                            psql = s.parent_sql,
                            csql = s.child_sql,
                        )
                    })
                    .collect();
                format!(
                    "{head} AS (\n  {seed_sql}\n  UNION\n  {}\n)",
                    branches.join("\n  UNION\n  ")
                )
            }
        }
    }

    /// A seed row of a closure: `SELECT tag, identity FROM ...`.
    pub(crate) fn closure_seed(&self, tag: usize, ident: &[String], from_where: &str) -> String {
        format!(
            "SELECT {tag}, {} {from_where}",
            self.closure_ident(ident).join(", ")
        )
    }

    /// The predicate "this row's identity is among the closure rows tagged
    /// `tag`".
    pub(crate) fn in_closure(&self, ident: &[String], closure: &str, tag: usize) -> String {
        let id = self.closure_ident(ident);
        let cols: Vec<String> = (0..id.len()).map(|i| format!("i{i}")).collect();
        format!(
            "{} IN (SELECT {} FROM {closure} WHERE tag = {tag})",
            tuple(&id),
            cols.join(", ")
        )
    }
}

/// `(a, b)` for several expressions, `a` for one.
pub(crate) fn tuple(exprs: &[String]) -> String {
    if exprs.len() == 1 {
        exprs[0].clone()
    } else {
        format!("({})", exprs.join(", "))
    }
}

/// The parent's column on the left: SQLite then compares with its
/// collation, as its foreign keys do.
fn join_pairs(pairs: &[(String, String)], child: &str, parent: &str) -> String {
    pairs
        .iter()
        .map(|(c, p)| format!("{parent}.{} = {child}.{}", quote_ident(p), quote_ident(c)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Key, QualName};

    const PG: Dialect = Dialect(Engine::Postgres);
    const LITE: Dialect = Dialect(Engine::Sqlite);

    fn column(name: &str, type_name: &str) -> Column {
        Column {
            name: name.into(),
            type_name: type_name.into(),
            not_null: true,
            default: None,
            generated: None,
            identity: None,
            collation: None,
        }
    }

    /// `t(id <id_type> PRIMARY KEY, "Name" text)`.
    fn table(id_type: &str) -> Table {
        let mut t = Table::new(QualName::new(None, "t"));
        t.columns = vec![column("id", id_type), column("Name", "text")];
        t.primary_key = Some(Key {
            name: "t_pkey".into(),
            columns: vec!["id".into()],
        });
        t
    }

    #[test]
    fn reference_checks_follow_each_engine() {
        for deferred in [false, true] {
            assert_eq!(LITE.reference_check(true, deferred), RefCheck::AtTheRow);
            assert_eq!(LITE.reference_check(false, deferred), RefCheck::AtTheEnd);
            assert_eq!(PG.reference_check(false, true), RefCheck::AtTheEnd);
            assert_eq!(PG.reference_check(true, deferred), RefCheck::InQueue);
        }
        assert_eq!(PG.reference_check(true, false), RefCheck::InQueue);
        assert_eq!(PG.reference_check(false, false), RefCheck::InQueue);
        assert_eq!(PG.reference_check(false, true), RefCheck::AtTheEnd);
    }

    #[test]
    fn only_an_integer_key_of_a_rowid_table_is_the_rowid() {
        assert!(LITE.is_rowid_alias(&table("INTEGER"), "id"));
        assert!(!LITE.is_rowid_alias(&table("INTEGER"), "Name"));
        assert!(!LITE.is_rowid_alias(&table("bigint"), "id"));
        assert!(!PG.is_rowid_alias(&table("integer"), "id"));
        let mut without = table("integer");
        without.without_rowid = true;
        assert!(!LITE.is_rowid_alias(&without, "id"));
    }

    #[test]
    fn unquoted_names_fold_on_postgres_and_ignore_case_on_sqlite() {
        let t = table("integer");
        let found = |d: Dialect, name: &str, quoted: bool| {
            d.find_column(&t, name, quoted).map(|c| c.name.clone())
        };
        assert_eq!(found(PG, "ID", false).as_deref(), Some("id"));
        assert_eq!(found(PG, "Name", false), None);
        assert_eq!(found(PG, "Name", true).as_deref(), Some("Name"));
        assert_eq!(found(LITE, "NAME", false).as_deref(), Some("Name"));
        assert_eq!(found(LITE, "name", true), None);
        assert_eq!(found(LITE, "Name", true).as_deref(), Some("Name"));
    }

    #[test]
    fn name_rules_follow_each_engine() {
        assert!(PG.name_rules().has_schemas());
        assert_eq!(LITE.name_rules().single_schema, Some("main"));
    }

    #[test]
    fn engine_spellings_outside_previews() {
        assert_eq!(PG.trigger_action("f()"), "EXECUTE FUNCTION f()");
        assert_eq!(LITE.trigger_action("SELECT 1;"), "BEGIN SELECT 1; END");
        assert_eq!(LITE.database_file_name("/srv/app/prod.db"), Some("prod.db"));
        assert_eq!(PG.database_file_name("/srv/app/prod.db"), None);
    }

    #[test]
    fn engine_capabilities() {
        assert!(PG.has_truncate() && !LITE.has_truncate());
        assert!(LITE.upsert_updates_row_twice() && !PG.upsert_updates_row_twice());
        assert!(PG.replication_role_query().is_some());
        assert_eq!(LITE.replication_role_query(), None);
        assert!(PG.fingerprints_by_key(&table("integer")));
        assert!(!LITE.fingerprints_by_key(&table("integer")));
        let mut keyless = table("integer");
        keyless.primary_key = None;
        assert!(!PG.fingerprints_by_key(&keyless));
    }
}
