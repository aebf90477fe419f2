//! Impact previews: what a write will really do, computed before it runs.
//!
//! For a DELETE, UPDATE, INSERT or TRUNCATE this module builds the effects
//! tree — target rows, rows removed by `ON DELETE CASCADE` at any depth,
//! rows changed by `SET NULL`/`SET DEFAULT`, references that will make the
//! statement fail, rows left dangling through associations the schema does
//! not declare, and triggers that will fire — from the live database,
//! without writing anything.
//!
//! Counting is set-based and happens in the database: each table's set of
//! affected rows is a CTE defined from its parents' sets (a chain in
//! topological order over the foreign-key graph; a recursive closure only
//! for cycles), so a preview costs about what hand-written `count(*)`
//! queries for the same edges cost, and no key is pulled to the client.
//! All queries of one preview run in one read-only snapshot under one time
//! budget; an edge that could not be counted in time is reported as such.

pub(crate) mod associations;
mod cascade;
mod chain;
mod checks;
mod delete;
mod diff;
mod inherit;
mod insert;
mod match_full;
mod overview;
mod own_row;
pub mod render;
mod triggers;
mod truncate;

use triggers::add_trigger_effects;
pub(crate) use truncate::uncovered;
mod update;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::dialect::Dialect;
use crate::db::{Connection, PreviewTx, Rows, TargetIdentity, Value};
use crate::error::{Error, Result};
use crate::model::ChangeKind;
use crate::policy::Policy;
use crate::schema::{QualName, Schema, Table, TriggerEvent, quote_ident};
use crate::sql::{Kind, Statement};
use associations::Association;

/// What an effect does to the rows it reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Cascade,
    SetNull,
    SetDefault,
    Restrict,
    NoAction,
    Dangling,
    Trigger,
    /// The rows of a table that inherits from the target (PostgreSQL
    /// `INHERITS`), which the statement writes too.
    Inherited,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Cascade => "cascade",
            Action::SetNull => "set_null",
            Action::SetDefault => "set_default",
            Action::Restrict => "restrict",
            Action::NoAction => "no_action",
            Action::Dangling => "dangling",
            Action::Trigger => "trigger",
            Action::Inherited => "inherited",
        }
    }

    fn from_fk(a: crate::schema::FkAction) -> Action {
        use crate::schema::FkAction as F;
        match a {
            F::Cascade => Action::Cascade,
            F::SetNull => Action::SetNull,
            F::SetDefault => Action::SetDefault,
            F::Restrict => Action::Restrict,
            F::NoAction => Action::NoAction,
        }
    }
}

/// One edge of the effects tree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Effect {
    /// The table whose rows this effect reaches.
    #[serde(serialize_with = "ser_name")]
    pub table: QualName,
    pub action: Action,
    /// The constraint, association or trigger that causes it.
    pub via: String,
    /// `fk`, `declared`, `inferred`, `trigger` or `inheritance`.
    pub source: &'static str,
    /// 1 for effects on the target's direct references, and so on.
    pub depth: usize,
    /// Rows reached through this edge; `None` when not counted in time.
    pub rows: Option<u64>,
    /// The columns involved: the referencing columns, or those set.
    pub columns: Vec<String>,
    /// The table this effect hangs under in the tree.
    #[serde(serialize_with = "ser_name")]
    pub parent: QualName,
    /// False when the statement fails before this effect would happen.
    pub reached: bool,
    /// This effect makes the statement fail.
    pub blocking: bool,
    /// A remark for the operator (deferred check, trigger caveat, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Set off by a change of key (`ON UPDATE`), whatever the statement:
    /// in a DELETE, a step of a chain a SET NULL starts.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub on_update: bool,
    /// A few of the rows reached.
    #[serde(skip)]
    pub sample: Rows,
}

fn ser_name<S: serde::Serializer>(q: &QualName, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&q.to_string())
}

/// Net rows per table: what the database looks like afterwards. A row
/// deleted through one path and set to NULL through another counts once,
/// as deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub delete: u64,
    pub update: u64,
    pub insert: u64,
}

/// One column change of an UPDATE (or ON CONFLICT DO UPDATE) sample row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub column: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// A sample row of the target with its key and changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangedRow {
    pub key: Vec<(String, Option<String>)>,
    pub changes: Vec<Change>,
}

/// The statement's own rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    #[serde(serialize_with = "ser_name")]
    pub table: QualName,
    /// Rows the statement matches (deletes, updates or inserts).
    pub rows: Option<u64>,
    /// UPDATE: matched rows whose new values equal the old ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unchanged: Option<u64>,
    /// INSERT ... ON CONFLICT: rows it skips or turns into updates, those
    /// that hit an existing key and later rows repeating an earlier one's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflicts: Option<u64>,
    #[serde(skip)]
    pub sample: Rows,
    /// UPDATE and ON CONFLICT DO UPDATE: before → after of the first rows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<ChangedRow>,
    /// Which rows matched (an order-free hash of their keys), so that the
    /// same count of different rows at apply time is drift.
    #[serde(skip)]
    pub fingerprint: Option<String>,
}

/// The effects tree of one statement and its verdict-relevant summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Impact {
    pub statement: String,
    pub kind: ChangeKind,
    pub target: Target,
    pub effects: Vec<Effect>,
    #[serde(serialize_with = "ser_totals")]
    pub totals: BTreeMap<QualName, Totals>,
    pub will_fail: bool,
    /// Why it will fail, one line each.
    pub failures: Vec<String>,
    pub warnings: Vec<String>,
    /// False when some edge could not be counted in time: treat the change
    /// as unbounded.
    pub bounded: bool,
    pub digest: String,
    /// The rows each table loses or changes, as SQL the guarded apply runs
    /// in its own transaction to lock and capture them.
    #[serde(skip)]
    pub row_sets: Vec<RowSet>,
    /// The engine's data version token ([`PreviewTx::data_version`]) when
    /// every query of this impact saw the same committed data: read before
    /// and after them, and equal.
    #[serde(skip)]
    pub data_version: Option<String>,
    /// An UPDATE or DELETE whose WHERE selects every row of its table
    /// (`WHERE 2 > 1`, `id = id`): policy then judges it as having none.
    #[serde(skip)]
    pub covers_every_row: bool,
    /// Rows per table that the engine may count both as updated and as
    /// deleted (set to NULL by one key, deleted by another cascade, in
    /// whichever order the engine fires them).
    #[serde(skip)]
    pub counted_twice: BTreeMap<QualName, u64>,
    /// Updates per table the engine counts beyond one per row: each SET
    /// NULL or SET DEFAULT key that reaches a row updates it, so a row two
    /// keys (on separate columns) reach is counted twice, whatever the
    /// order.
    #[serde(skip)]
    pub updated_again: BTreeMap<QualName, u64>,
    /// Where an approval may bind the change ([`PreviewOptions::bind_rows`]):
    /// per row set (`table op`), a cryptographic digest of which rows it
    /// holds, part of [`digest`].
    #[serde(skip)]
    pub row_digests: Vec<String>,
    /// What the triggers it sets off would do beyond the rows an undo
    /// entry can hold ([`PreviewTx::beyond_the_rows`]), one line per trigger: the
    /// apply refuses before the statement runs, since such an act cannot
    /// be taken back by a rollback.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub beyond_the_rows: Vec<String>,
}

/// The rows of one table a change deletes, updates or inserts, as SQL:
/// `{with}SELECT ... FROM {table} AS {alias} WHERE {cond}`.
#[derive(Debug, Clone, PartialEq)]
pub struct RowSet {
    pub table: QualName,
    pub op: crate::journal::Op,
    /// The `WITH` clause `cond` needs (empty when none).
    pub with: String,
    pub alias: String,
    /// A join the condition and `new_key` use (empty when none).
    pub join: String,
    /// Selects the rows; empty for inserts, which exist only afterwards.
    pub cond: String,
    /// Rows the preview counted in this set.
    pub rows: Option<u64>,
    /// Restore order: parents before children.
    pub position: i64,
    /// For updates: the new values of the table's key columns, computed
    /// before the change (same order as the primary key), so after-images
    /// can be found even when the change moves the key.
    pub new_key: Option<Vec<String>>,
    /// The same rows from a cheaper source, for their digest
    /// ([`Impact::row_digests`]): `with` and `FROM ... AS alias` of a CTE
    /// that carries the table's key under the columns' own names, where
    /// `cond` would join the table back to it.
    pub digest_from: Option<(String, String)>,
}

fn ser_totals<S: serde::Serializer>(
    t: &BTreeMap<QualName, Totals>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(t.len()))?;
    for (k, v) in t {
        m.serialize_entry(&k.to_string(), v)?;
    }
    m.end()
}

/// Preview settings.
#[derive(Debug, Clone)]
pub struct PreviewOptions {
    /// Time budget for all queries of one preview.
    pub timeout: Duration,
    /// Sample rows fetched per effect.
    pub sample_rows: usize,
    /// A DELETE's target rows and their fingerprint only: what the guarded
    /// apply recounts when nothing else can have changed since the preview.
    /// It runs only at the data version the preview read, so the catalog
    /// is the one whose code the preview already read: the code checks
    /// are not run again.
    pub target_only: bool,
    /// Whether to find out if an UPDATE's or DELETE's WHERE selects every
    /// row ([`Impact::covers_every_row`]): for a verdict that can depend on
    /// it, not for the apply's recount.
    pub judge_where: bool,
    /// Digest which rows every row set holds, cryptographically
    /// ([`Impact::row_digests`]): for a change an approval may bind, so the
    /// same counts of other rows (children re-parented, other rows marked)
    /// are not the change it signed.
    pub bind_rows: bool,
}

impl Default for PreviewOptions {
    fn default() -> Self {
        PreviewOptions {
            timeout: Duration::from_secs(10),
            sample_rows: 3,
            target_only: false,
            judge_where: true,
            bind_rows: true,
        }
    }
}

/// Everything a preview reads besides the database.
pub struct Context<'a> {
    pub schema: &'a Schema,
    pub associations: &'a [Association],
    pub options: &'a PreviewOptions,
    pub dialect: Dialect,
    /// How many steps of a chain of key actions deep this preview is
    /// ([`chain`]): 0 for the statement itself.
    pub chain_depth: usize,
    /// In a step of such a chain: the key whose action the step is, and
    /// the CTEs its statement reads ([`chain::StepContext`]).
    pub step: Option<chain::StepContext>,
}

/// Computes the impact of a classified write on a connection.
pub fn preview(
    conn: &mut Connection,
    schema: &Schema,
    policy: &Policy,
    stmt: &Statement,
    options: &PreviewOptions,
) -> Result<Impact> {
    let (assocs, assoc_warnings) = associations::associations(schema, policy);
    let identity = conn.identity().clone();
    let engine = conn.engine();
    let options = &PreviewOptions {
        judge_where: options.judge_where && policy.judges_where(),
        bind_rows: options.bind_rows && policy.may_ask_approval(change_kind(stmt)),
        ..options.clone()
    };
    let ctx = Context {
        schema,
        associations: &assocs,
        options,
        dialect: Dialect(engine),
        chain_depth: 0,
        step: None,
    };
    let mut impact = conn.preview(options.timeout, |tx| analyze(tx, &ctx, stmt))?;
    impact.warnings.extend(assoc_warnings);
    impact.digest = digest(&identity, &impact);
    Ok(impact)
}

/// Computes the impact inside an existing preview runner (the apply path
/// recomputes it in its own transaction), with the data version it was
/// read at ([`Impact::data_version`]).
pub(crate) fn analyze(
    tx: &mut dyn PreviewTx,
    ctx: &Context<'_>,
    stmt: &Statement,
) -> Result<Impact> {
    let (mut impact, version) = crate::db::at_one_version(tx, |tx| analyze_queries(tx, ctx, stmt))?;
    impact.data_version = version;
    Ok(impact)
}

/// [`analyze`] without the data version.
fn analyze_queries(tx: &mut dyn PreviewTx, ctx: &Context<'_>, stmt: &Statement) -> Result<Impact> {
    // The preview runs the statement's predicate, and every function it
    // calls: one of the database's own whose code acts elsewhere would act
    // now, read-only transaction or not.
    let beyond = if ctx.options.target_only {
        Vec::new()
    } else {
        // The types key actions write are cast into too (a domain's
        // CHECK runs on a cast).
        let typed = match (stmt.kind.is_data_write(), target_table(ctx, stmt)) {
            (true, Ok(t)) => chain::written_types(ctx.schema, &t.name).join(" "),
            _ => String::new(),
        };
        tx.called_beyond(&format!("{} {typed}", stmt.text))?
    };
    if !beyond.is_empty() {
        return Err(Error::refused(format!(
            "cannot preview the statement: code it runs acts where no transaction can stop it: {}; nothing was run\nWrite the change without that call.",
            beyond.join("; ")
        )));
    }
    // The engine reads the statement first: what it rejects fails, and no
    // preview is built from a parse the engine would not share.
    if stmt.kind.is_data_write()
        && let Some(err) = tx.check(&stmt.text)?
    {
        return Ok(rejected(ctx, stmt, &err));
    }
    let mut impact = match stmt.kind {
        Kind::Delete => delete::analyze(tx, ctx, stmt)?,
        Kind::Update => update::analyze(tx, ctx, stmt)?,
        Kind::Insert => insert::analyze(tx, ctx, stmt)?,
        Kind::Truncate => truncate::analyze(tx, ctx, stmt)?,
        Kind::Merge => {
            return Err(Error::refused(
                "MERGE is not previewable yet: its effects cannot be computed before it runs\nWrite it as separate INSERT, UPDATE and DELETE statements.",
            ));
        }
        Kind::Ddl => {
            return Err(Error::refused(
                "DDL is not previewable yet — requires the DDL guard; not executed",
            ));
        }
        other => {
            return Err(Error::refused(format!(
                "a {} statement has no impact to preview",
                other.name()
            )));
        }
    };
    if let Some(sql) = ctx.dialect.replication_role_query()
        && let Some(role) = first_text(tx, sql)?
        && role != "origin"
    {
        impact.warnings.push(format!(
                    "session_replication_role is {role}: foreign key actions and triggers do not fire, so the counts above will not happen"
                ));
    }
    let rls: Vec<String> = impact
        .totals
        .keys()
        .filter_map(|t| ctx.schema.get(t))
        .filter(|t| t.rls_enabled)
        .map(|t| t.name.to_string())
        .collect();
    if !rls.is_empty() {
        impact.warnings.push(format!(
            "row-level security is enabled on {}: counts are what this role can see and may be off",
            rls.join(", ")
        ));
    }
    if !impact.bounded {
        impact.warnings.push(
            "some effects could not be counted within the preview time limit: treat the change as unbounded".into(),
        );
    }
    if impact.will_fail {
        for e in &mut impact.effects {
            if !e.blocking {
                e.reached = false;
            }
        }
    }
    refuse_rules(ctx, &impact)?;
    if !ctx.options.target_only {
        impact.beyond_the_rows = beyond_the_rows(tx, ctx, &impact)?;
    }
    if ctx.options.bind_rows && !ctx.options.target_only {
        impact.row_digests = row_digests(tx, ctx, &impact)?;
    }
    Ok(impact)
}

/// What the triggers `impact` sets off would do beyond its rows
/// ([`PreviewTx::beyond_the_rows`]).
fn beyond_the_rows(
    tx: &mut dyn PreviewTx,
    ctx: &Context<'_>,
    impact: &Impact,
) -> Result<Vec<String>> {
    let mut firing: Vec<(QualName, String)> = impact
        .effects
        .iter()
        .filter(|e| e.action == Action::Trigger)
        .map(|e| (e.table.clone(), e.via.clone()))
        .collect();
    if impact.kind == ChangeKind::Truncate {
        for name in impact.totals.keys() {
            for t in ctx.schema.get(name).into_iter().flat_map(|t| &t.triggers) {
                if t.enabled && t.events.contains(&TriggerEvent::Truncate) {
                    firing.push((name.clone(), t.name.clone()));
                }
            }
        }
    }
    // Rows inserted or updated run their table's defaults, constraints
    // and index expressions.
    let written: Vec<QualName> = impact
        .totals
        .iter()
        .filter(|(_, t)| t.insert + t.update > 0)
        .map(|(name, _)| name.clone())
        .collect();
    let touched: Vec<crate::db::Touched<'_>> = impact
        .totals
        .iter()
        .filter(|(_, t)| t.delete + t.insert + t.update > 0)
        .map(|(name, _)| name)
        .chain(std::iter::once(&impact.target.table))
        .map(|name| crate::db::Touched::in_schema(ctx.schema, name))
        .collect();
    tx.beyond_the_rows(&firing, &written, &touched)
}

/// A write that reaches a table with rewrite rules is refused: a rule runs
/// statements of its own (`DO ALSO`, `DO INSTEAD`) that the preview does
/// not show and the coverage check cannot count.
fn refuse_rules(ctx: &Context<'_>, impact: &Impact) -> Result<()> {
    let reached = impact
        .row_sets
        .iter()
        .map(|s| &s.table)
        .chain(std::iter::once(&impact.target.table));
    for name in reached {
        if let Some(t) = ctx.schema.get(name).filter(|t| !t.rules.is_empty()) {
            return Err(Error::refused(format!(
                "cannot preview a change to {name}: it has rewrite rule{} {}, which run statements of their own that dbguard cannot preview or undo; nothing was changed\nMake the change with the rule dropped for it, or by hand.",
                if t.rules.len() == 1 { "" } else { "s" },
                t.rules.join(", ")
            )));
        }
    }
    Ok(())
}

/// A digest of which rows each row set of `impact` holds: its table, its
/// operation and the engine's cryptographic aggregate over the rows'
/// identities. Inserted rows exist only afterwards and are counted.
fn row_digests(tx: &mut dyn PreviewTx, ctx: &Context<'_>, impact: &Impact) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for set in impact
        .row_sets
        .iter()
        .filter(|s| s.op != crate::journal::Op::Insert)
    {
        let Some(table) = ctx.schema.get(&set.table) else {
            continue;
        };
        if set.rows == Some(0) {
            out.push(format!("{} {} none", set.table, set.op.name()));
            continue;
        }
        let digest = ctx.dialect.row_digest(table, &set.alias);
        let sql = match &set.digest_from {
            Some((with, from)) => format!("{with}SELECT {digest} FROM {from}"),
            None => format!(
                "{}SELECT {digest} FROM {} AS {} {} WHERE {}",
                set.with,
                table.own_rows(),
                set.alias,
                set.join,
                set.cond
            ),
        };
        let digest = first_text(tx, &sql)?.ok_or_else(|| {
            Error::database(format!(
                "the rows of {} to {} could not be digested within the preview's time",
                set.table,
                set.op.name()
            ))
        })?;
        out.push(format!("{} {} {digest}", set.table, set.op.name()));
    }
    Ok(out)
}

/// The impact of a statement the engine rejects: it fails, and nothing
/// else is computed from it.
fn rejected(ctx: &Context<'_>, stmt: &Statement, err: &str) -> Impact {
    let table = target_table(ctx, stmt)
        .map(|t| t.name.clone())
        .unwrap_or_else(|_| QualName::new(None, stmt.table.as_deref().unwrap_or("?")));
    let mut impact = Impact {
        statement: stmt.text.clone(),
        kind: change_kind(stmt),
        target: Target {
            table,
            rows: None,
            unchanged: None,
            conflicts: None,
            sample: Rows::default(),
            changes: Vec::new(),
            fingerprint: None,
        },
        effects: Vec::new(),
        totals: BTreeMap::new(),
        will_fail: true,
        failures: vec![format!(
            "the database rejects the statement: {}",
            err.replace('\n', " ")
        )],
        warnings: Vec::new(),
        bounded: true,
        digest: String::new(),
        row_sets: Vec::new(),
        data_version: None,
        covers_every_row: false,
        counted_twice: BTreeMap::new(),
        updated_again: BTreeMap::new(),
        row_digests: Vec::new(),
        beyond_the_rows: Vec::new(),
    };
    impact
        .totals
        .entry(impact.target.table.clone())
        .or_default();
    impact
}

/// The first value of the first row `sql` returns, as text.
fn first_text(tx: &mut dyn PreviewTx, sql: &str) -> Result<Option<String>> {
    let rows = tx.query(sql)?;
    Ok(rows.and_then(|r| {
        r.rows
            .first()
            .and_then(|row| row.first().and_then(Value::text))
    }))
}

/// The digest an approval binds to: SHA-256 over the target identity, the
/// statement and the effects summary (tables, actions, row counts,
/// totals, failure). Samples are not part of it: they are illustrations.
pub fn digest(identity: &TargetIdentity, impact: &Impact) -> String {
    let effects: Vec<serde_json::Value> = impact
        .effects
        .iter()
        .map(|e| serde_json::json!([e.table.to_string(), e.action.name(), e.via, e.depth, e.rows]))
        .collect();
    let totals: Vec<serde_json::Value> = impact
        .totals
        .iter()
        .map(|(t, v)| serde_json::json!([t.to_string(), v.delete, v.update, v.insert]))
        .collect();
    let canonical = serde_json::json!({
        "engine": identity.engine.name(),
        "target": identity.display,
        "database": identity.database,
        "system_identifier": identity.system_identifier,
        "statement": impact.statement,
        "kind": impact.kind,
        "table": impact.target.table.to_string(),
        "rows": impact.target.rows,
        "fingerprint": impact.target.fingerprint,
        "effects": effects,
        "totals": totals,
        "will_fail": impact.will_fail,
    });
    let mut canonical = canonical;
    if !impact.row_digests.is_empty() {
        canonical["rows"] = serde_json::json!(impact.row_digests);
    }
    let mut h = Sha256::new();
    h.update(canonical.to_string().as_bytes());
    base16ct::lower::encode_string(&h.finalize())
}

// ---- helpers shared by the statement kinds ----

/// The kind of change `stmt` makes. Only writes are previewed; anything
/// else reads as the write the guard took it for, a delete, which fails
/// safe (the strictest rules apply).
fn change_kind(stmt: &Statement) -> ChangeKind {
    stmt.kind.change_kind().unwrap_or(ChangeKind::Delete)
}

/// Resolves the statement's target table.
fn target_table<'s>(ctx: &Context<'s>, stmt: &Statement) -> Result<&'s Table> {
    let parts = stmt
        .table_parts
        .as_ref()
        .ok_or_else(|| Error::refused("the statement has no target table"))?;
    ctx.schema.resolve(parts).ok_or_else(|| {
        Error::input(format!(
            "table {} not found\nList tables with \\dt; quote mixed-case names.",
            stmt.table.as_deref().unwrap_or("?")
        ))
    })
}

/// `"col"` quoted, qualified with `qual`.
fn qcol(qual: &str, col: &str) -> String {
    format!("{qual}.{}", quote_ident(col))
}

/// Columns shown for sample rows: the key first, then the columns of
/// interest, then a couple more, at most `max`.
fn display_columns(table: &Table, focus: &[String], max: usize) -> Vec<String> {
    let mut cols: Vec<String> = Vec::new();
    let mut push = |c: &str| {
        if cols.len() < max && !cols.iter().any(|x| x == c) && table.column(c).is_some() {
            cols.push(c.to_owned());
        }
    };
    if let Some(pk) = &table.primary_key {
        for c in &pk.columns {
            push(c);
        }
    }
    for c in focus {
        push(c);
    }
    for c in &table.columns {
        push(&c.name);
    }
    cols
}

/// `ORDER BY` for sample rows, so a preview shows the same rows every time:
/// the primary key, or the displayed columns.
fn sample_order(d: Dialect, table: &Table, qual: &str) -> String {
    // Without a key, the row identity orders (columns may have no ordering
    // operator, like json).
    let cols: Vec<String> = match &table.primary_key {
        Some(pk) => pk.columns.iter().map(|c| qcol(qual, c)).collect(),
        None => d.row_ident(table, qual),
    };
    if cols.is_empty() {
        String::new()
    } else {
        format!(" ORDER BY {}", cols.join(", "))
    }
}

/// Builds `WITH [RECURSIVE] a, b, ...` from CTE definitions.
fn with_clause(ctes: &[String], recursive: bool) -> String {
    if ctes.is_empty() {
        String::new()
    } else {
        format!(
            "WITH {}{}\n",
            if recursive { "RECURSIVE " } else { "" },
            ctes.join(",\n")
        )
    }
}

/// The user's own `WITH` clause (in front of the write): its CTE
/// definitions and whether it was RECURSIVE.
fn user_ctes(stmt: &Statement) -> (Vec<String>, bool) {
    let Some(ast) = &stmt.ast else {
        return (Vec::new(), false);
    };
    match crate::sql::write_under_with(ast) {
        Some((q, _)) => match &q.with {
            Some(w) => (
                w.cte_tables.iter().map(|c| c.to_string()).collect(),
                w.recursive,
            ),
            None => (Vec::new(), false),
        },
        None => (Vec::new(), false),
    }
}

/// [`write_ast`] for the analysis of one table of the target's inheritance
/// tree (`own`), with the column references qualified by the target's
/// schema made to name the table as the analysis reads it
/// ([`inherit::unqualify`]).
fn write_ast_for<'s>(
    ctx: &Context<'_>,
    stmt: &'s Statement,
    own: Option<&Table>,
) -> Result<std::borrow::Cow<'s, sqlparser::ast::Statement>> {
    let ast = write_ast(stmt)?;
    if own.is_none() {
        return Ok(std::borrow::Cow::Borrowed(ast));
    }
    let mut owned = ast.clone();
    inherit::unqualify(ctx, &mut owned, &target_table(ctx, stmt)?.name);
    Ok(std::borrow::Cow::Owned(owned))
}

/// The write statement itself (under a `WITH`, or bare).
fn write_ast(stmt: &Statement) -> Result<&sqlparser::ast::Statement> {
    let ast = stmt
        .ast
        .as_ref()
        .ok_or_else(|| Error::refused("the statement could not be parsed"))?;
    Ok(match crate::sql::write_under_with(ast) {
        Some((_, inner)) => inner,
        None => ast,
    })
}

fn empty_impact(stmt: &Statement, table: &Table) -> Impact {
    Impact {
        statement: stmt.text.clone(),
        kind: change_kind(stmt),
        target: Target {
            table: table.name.clone(),
            rows: Some(0),
            unchanged: None,
            conflicts: None,
            sample: Rows::default(),
            changes: Vec::new(),
            fingerprint: None,
        },
        effects: Vec::new(),
        totals: BTreeMap::new(),
        will_fail: false,
        failures: Vec::new(),
        warnings: Vec::new(),
        bounded: true,
        digest: String::new(),
        row_sets: Vec::new(),
        data_version: None,
        covers_every_row: false,
        counted_twice: BTreeMap::new(),
        updated_again: BTreeMap::new(),
        row_digests: Vec::new(),
        beyond_the_rows: Vec::new(),
    }
}

/// Whether `pred` selects every row of `from` (the target with its
/// alias): no row for which it is false or NULL. The query stops at the
/// first such row, so a selective predicate costs a row or two to prove
/// it filters; one that holds everywhere reads the table, as its write
/// will. Not known in time: `false`, and the WHERE stands.
fn covers_every_row(tx: &mut dyn PreviewTx, with: &str, from: &str, pred: &str) -> Result<bool> {
    let q = format!(
        "{with}SELECT CASE WHEN EXISTS (SELECT 1 FROM {from} WHERE ({pred}) IS NOT TRUE) THEN 0 ELSE 1 END"
    );
    Ok(match tx.query(&q)? {
        Some(r) => crate::db::count_of(r.rows.first().and_then(|r| r.first()))? == 1,
        None => false,
    })
}

/// The SQL of a table reference (with its alias) and the name the
/// statement uses for it: the alias, or the table's last name part.
fn table_ref_qual(relation: &sqlparser::ast::TableFactor) -> Result<(String, String)> {
    match relation {
        sqlparser::ast::TableFactor::Table { name, alias, .. } => {
            let qual = match alias {
                Some(a) => a.name.to_string(),
                None => name
                    .0
                    .last()
                    .map(|p| p.to_string())
                    .ok_or_else(|| Error::refused("empty table name"))?,
            };
            Ok((relation.to_string(), qual))
        }
        _ => Err(Error::refused("the target is not a plain table")),
    }
}

/// Resolves a column named in the statement to the catalog's spelling
/// ([`Dialect::find_column`]).
fn resolve_column(
    ctx: &Context<'_>,
    table: &Table,
    ident: &sqlparser::ast::Ident,
) -> Result<String> {
    let d = ctx.dialect;
    let found = d.find_column(table, &ident.value, ident.quote_style.is_some());
    if found.is_none() && d.names_rowid(table, &ident.value) {
        // The rowid is the INTEGER PRIMARY KEY where there is one: naming
        // either writes the same value.
        return match d.rowid_alias(table) {
            Some(c) => Ok(c.name.clone()),
            None => Err(Error::refused(format!(
                "cannot preview a write to {ident} of {}: the table has no INTEGER PRIMARY KEY, so this sets its hidden rowid, which dbguard finds rows by to undo them; nothing was changed\nLeave {ident} out, or give the table an INTEGER PRIMARY KEY.",
                table.name
            ))),
        };
    }
    found.map(|c| c.name.clone()).ok_or_else(|| {
        Error::input(format!(
            "column {} of {} does not exist\nCheck the name with \\d {}.",
            ident, table.name, table.name
        ))
    })
}

/// A sample row split into its key and (before, after) column pairs:
/// the query returns the key columns, then old and new of each column.
fn changed_rows(rows: &Rows, key_len: usize, columns: &[String]) -> Vec<ChangedRow> {
    rows.rows
        .iter()
        .map(|r| {
            let key = rows
                .columns
                .iter()
                .zip(r)
                .take(key_len)
                .map(|(c, v)| (c.clone(), v.text()))
                .collect();
            let changes = columns
                .iter()
                .enumerate()
                .map(|(i, c)| Change {
                    column: c.clone(),
                    before: r.get(key_len + 2 * i).and_then(Value::text),
                    after: r.get(key_len + 2 * i + 1).and_then(Value::text),
                })
                .collect();
            ChangedRow { key, changes }
        })
        .collect()
}
