//! INSERT previews: how many rows, which would break a foreign key, a
//! `NOT NULL` column or a unique key, and what `ON CONFLICT` turns into
//! updates (with before → after of the first ones).
//!
//! The inserted rows are materialised as a CTE `v` — the statement's own
//! `VALUES` list or query, with each column cast to its type — and every
//! check is a query over `v`, so the database evaluates the values exactly
//! as the INSERT would. [`Insert`] holds `v`; each phase of the preview is
//! one of its methods, run in the order the checks have always run.

use sqlparser::ast::{self, SqliteOnConflict};

use super::{
    Context, Impact, add_trigger_effects, empty_impact, qcol, resolve_column, target_table,
    user_ctes, with_clause, write_ast,
};
use crate::db::PreviewTx;
use crate::error::{Error, Result};
use crate::schema::{Key, QualName, Table, quote_ident};
use crate::sql::Statement;

mod conflict;
mod defaults;
use conflict::{all_keys, conflict};
use defaults::{omitted_values, unchecked_defaults};

/// What happens to rows whose key already exists.
enum Conflict<'a> {
    /// No ON CONFLICT: the statement fails.
    Fail,
    /// DO NOTHING (on `key`, or on any key).
    Nothing(Option<Key>),
    /// DO UPDATE on `key`.
    Update(Key, &'a [ast::Assignment], Option<&'a ast::Expr>),
}

pub(super) fn analyze(
    tx: &mut dyn PreviewTx,
    ctx: &Context<'_>,
    stmt: &Statement,
) -> Result<Impact> {
    let ast::Statement::Insert(ins) = write_ast(stmt)? else {
        return Err(Error::refused("not an INSERT statement"));
    };
    let table = target_table(ctx, stmt)?;
    let v = Insert::parse(ctx, table, stmt, ins)?;
    let mut impact = empty_impact(stmt, table);
    let rows = v.count_rows(tx, &mut impact)?;
    v.check_not_null(tx, &mut impact)?;
    // Both engines check a row before they look for its conflict: a row
    // ON CONFLICT skips is checked too.
    let written = super::checks::Written {
        table,
        with: &v.with_v,
        from: "v",
        values: v
            .columns
            .iter()
            .map(|c| (c.clone(), quote_ident(c)))
            .collect(),
    };
    super::checks::violations(tx, &written, "insert into", &mut impact)?;
    ignored_rows(ins, table, &impact)?;
    let conflict = conflict(ctx, table, ins)?;
    v.check_foreign_keys(tx, &conflict, &mut impact)?;
    unchecked_defaults(ctx, table, &v.columns, &mut impact);
    super::checks::unmodelled_unique(table, &mut impact);
    let alias = ins.table_alias.as_ref().map(|a| a.alias.to_string());
    let (inserted, updated) = v.unique_keys(tx, &conflict, rows, alias, &mut impact)?;
    let inserted = rows.map(|_| inserted);
    let mut totals = std::collections::BTreeMap::new();
    totals.insert(
        table.name.clone(),
        super::Totals {
            delete: 0,
            update: updated,
            insert: inserted.unwrap_or(0),
        },
    );
    v.push_row_sets(&conflict, inserted, &mut impact);
    impact.totals = totals;
    impact.will_fail = !impact.failures.is_empty();
    add_trigger_effects(&mut impact, ctx, &|_: &QualName| 0, false);
    Ok(impact)
}

/// One INSERT's rows as the CTE `v`, which every phase queries.
struct Insert<'a> {
    ctx: &'a Context<'a>,
    table: &'a Table,
    /// The columns the rows provide, in order.
    columns: Vec<String>,
    /// `WITH` the user's CTEs, then `v0` (the rows as written) and `v`
    /// (each column cast to its type).
    with_v: String,
}

impl<'a> Insert<'a> {
    fn parse(
        ctx: &'a Context<'a>,
        table: &'a Table,
        stmt: &Statement,
        ins: &ast::Insert,
    ) -> Result<Insert<'a>> {
        if ins.replace_into || matches!(ins.or, Some(SqliteOnConflict::Replace)) {
            return Err(Error::refused(
                "INSERT OR REPLACE deletes the conflicting rows (with their cascades) and cannot be previewed yet\nUse INSERT ... ON CONFLICT DO UPDATE.",
            ));
        }
        if matches!(
            ins.or,
            Some(SqliteOnConflict::Rollback | SqliteOnConflict::Abort | SqliteOnConflict::Fail)
        ) {
            return Err(Error::refused(
                "INSERT OR ROLLBACK/ABORT/FAIL cannot be previewed yet",
            ));
        }
        let mut columns = inserted_columns(ctx, table, ins)?;
        let (mut ctes, urec) = user_ctes(stmt);
        let qcols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        let source = match &ins.source {
            Some(q) => q.to_string(),
            None => {
                return Err(Error::refused(
                    "INSERT ... DEFAULT VALUES cannot be previewed yet",
                ));
            }
        };
        ctes.push(format!("v0({}) AS ({source})", qcols.join(", ")));
        let mut casts: Vec<String> = columns
            .iter()
            .map(|c| {
                let t = table
                    .column(c)
                    .map(|x| x.type_name.clone())
                    .unwrap_or_default();
                format!(
                    "{} AS {}",
                    ctx.dialect.cast(&quote_ident(c), &t),
                    quote_ident(c)
                )
            })
            .collect();
        for (name, value) in omitted_values(ctx, table, &columns) {
            casts.push(format!("{value} AS {}", quote_ident(&name)));
            columns.push(name);
        }
        match ctx
            .dialect
            .rowid_alias(table)
            .filter(|c| columns.contains(&c.name))
        {
            Some(alias) => ctes.extend(rowids_assigned(table, &alias.name, &columns, &casts)),
            None => ctes.push(format!("v AS (SELECT {} FROM v0)", casts.join(", "))),
        }
        let with_v = with_clause(&ctes, urec);
        Ok(Insert {
            ctx,
            table,
            columns,
            with_v,
        })
    }

    /// Whether the rows provide all of `cols`.
    fn provided(&self, cols: &[String]) -> bool {
        cols.iter().all(|c| self.columns.contains(c))
    }

    /// Runs `{with_v}{sql}`, a count; 0 (and unbounded) when out of time.
    fn count(&self, tx: &mut dyn PreviewTx, sql: String, impact: &mut Impact) -> Result<u64> {
        let n = tx.count(&format!("{}{sql}", self.with_v))?;
        impact.bounded &= n.is_some();
        Ok(n.unwrap_or(0))
    }

    /// The rows proposed, and the first of them.
    fn count_rows(&self, tx: &mut dyn PreviewTx, impact: &mut Impact) -> Result<Option<u64>> {
        let with_v = &self.with_v;
        let rows = tx.count(&format!("{with_v}SELECT count(*) FROM v"))?;
        impact.bounded &= rows.is_some();
        impact.target.rows = rows;
        if rows.unwrap_or(1) > 0 && self.ctx.options.sample_rows > 0 {
            impact.target.sample = tx
                .query(&format!(
                    "{with_v}SELECT * FROM v LIMIT {}",
                    self.ctx.options.sample_rows
                ))?
                .unwrap_or_default();
        }
        Ok(rows)
    }

    /// NOT NULL columns left without a value, or given NULL.
    fn check_not_null(&self, tx: &mut dyn PreviewTx, impact: &mut Impact) -> Result<()> {
        let (table, d) = (self.table, self.ctx.dialect);
        for c in &table.columns {
            if !c.not_null || c.generated.is_some() {
                continue;
            }
            if !self.columns.contains(&c.name) {
                if c.default.is_none() && c.identity.is_none() && !d.is_rowid_alias(table, &c.name)
                {
                    impact.failures.push(format!(
                        "cannot insert into {}: column {} is NOT NULL and has no default",
                        table.name, c.name
                    ));
                }
                continue;
            }
            if d.is_rowid_alias(table, &c.name) {
                continue; // SQLite assigns a NULL INTEGER PRIMARY KEY a new rowid
            }
            let n = tx.count(&format!(
                "{}SELECT count(*) FROM v WHERE {} IS NULL",
                self.with_v,
                quote_ident(&c.name)
            ))?;
            impact.bounded &= n.is_some();
            if let Some(n) = n.filter(|&n| n > 0) {
                impact.failures.push(format!(
                    "cannot insert into {}: {n} row{} NULL for the NOT NULL column {}",
                    table.name,
                    if n == 1 { " gives" } else { "s give" },
                    c.name
                ));
            }
        }
        Ok(())
    }

    /// Foreign keys: every non-NULL key of a row the statement inserts must
    /// find its parent row. A row ON CONFLICT skips is never inserted, so
    /// never checked: one that hits an existing row, and a later one of
    /// rows repeating a key (the first is inserted). Which of those comes
    /// first is the statement's order, so a row whose key a row with a
    /// valid reference repeats makes it "may fail", not fail.
    fn check_foreign_keys(
        &self,
        tx: &mut dyn PreviewTx,
        conflict: &Conflict<'_>,
        impact: &mut Impact,
    ) -> Result<()> {
        let table = self.table;
        let keys = self.conflict_keys(conflict);
        for fk in &table.foreign_keys {
            if !self.provided(&fk.columns) {
                continue;
            }
            let Some(parent) = self.ctx.schema.get(&fk.ref_table) else {
                continue;
            };
            let not_null = |r: &str| -> Vec<String> {
                fk.columns
                    .iter()
                    .map(|c| format!("{r}.{} IS NOT NULL", quote_ident(c)))
                    .collect()
            };
            if super::match_full::mixed_nulls(fk, &not_null("v")).is_some() {
                let mixed =
                    |r: &str| super::match_full::mixed_nulls(fk, &not_null(r)).unwrap_or_default();
                let (n, unsure) = self.inserted_bad(tx, &keys, &mixed, impact)?;
                if n > 0 {
                    let failure = super::match_full::failure(("insert into", &table.name), fk, n);
                    impact.failures.push(failure);
                }
                let rows = if unsure == 1 { "row" } else { "rows" };
                let what = format!(
                    "{rows} would mix NULL and non-NULL values in the key of FK {} (MATCH FULL)",
                    fk.name
                );
                self.may_fail_repeating(unsure, &what, impact);
            }
            let eq = |p: &str, r: &str| -> String {
                fk.ref_columns
                    .iter()
                    .zip(&fk.columns)
                    .map(|(rc, c)| format!("{} = {r}.{}", qcol(p, rc), quote_ident(c)))
                    .collect::<Vec<_>>()
                    .join(" AND ")
            };
            let missing = |r: &str| -> String {
                let mut cond = format!(
                    "{} AND NOT EXISTS (SELECT 1 FROM {} AS p WHERE {})",
                    not_null(r).join(" AND "),
                    parent.own_rows(),
                    eq("p", r)
                );
                if parent.name == table.name {
                    // A row may reference another row inserted by the same
                    // statement, unless ON CONFLICT skips that row.
                    cond.push_str(&format!(
                        " AND NOT EXISTS (SELECT 1 FROM v AS w2 WHERE {} AND NOT ({}))",
                        eq("w2", r),
                        self.hits_existing(&keys, "w2")
                    ));
                }
                cond
            };
            let (n, unsure) = self.inserted_bad(tx, &keys, &missing, impact)?;
            let refs = |n: u64| {
                if n == 1 {
                    "row references"
                } else {
                    "rows reference"
                }
            };
            if n > 0 {
                let when = if fk.deferrable && fk.initially_deferred {
                    "; the failure comes at commit"
                } else {
                    ""
                };
                impact.failures.push(format!(
                    "cannot insert into {}: {n} {} {} rows that do not exist (FK {}){when}",
                    table.name,
                    refs(n),
                    parent.name,
                    fk.name
                ));
            }
            let what = format!(
                "{} {} rows that do not exist (FK {})",
                refs(unsure),
                parent.name,
                fk.name
            );
            self.may_fail_repeating(unsure, &what, impact);
        }
        Ok(())
    }

    /// Counts the rows of `v` the statement inserts for which `bad` (over
    /// a row alias) holds, as (certain, unsure). A row ON CONFLICT skips is
    /// never checked: one that hits an existing row on a conflict key
    /// (`keys`), and a later one of rows repeating a key (the first is
    /// inserted). Which of those comes first is the statement's order, so a
    /// bad row whose key a row that is not bad repeats is unsure.
    fn inserted_bad(
        &self,
        tx: &mut dyn PreviewTx,
        keys: &[Key],
        bad: &dyn Fn(&str) -> String,
        impact: &mut Impact,
    ) -> Result<(u64, u64)> {
        let live = |r: &str| format!("NOT ({})", self.hits_existing(keys, r));
        let failing = format!("({}) AND {}", bad("v"), live("v"));
        let spared = format!(
            "EXISTS (SELECT 1 FROM v AS w WHERE ({}) AND {} AND NOT ({}))",
            self.repeats(keys, "v", "w"),
            live("w"),
            bad("w")
        );
        let n = self.count(
            tx,
            format!("SELECT count(*) FROM v WHERE {failing} AND NOT {spared}"),
            impact,
        )?;
        let unsure = if keys.is_empty() {
            0
        } else {
            self.count(
                tx,
                format!("SELECT count(*) FROM v WHERE {failing} AND {spared}"),
                impact,
            )?
        };
        Ok((n, unsure))
    }

    /// The warning for `n` rows that break a key (`what`, after the count)
    /// and repeat the key of a row that does not ([`Self::inserted_bad`]).
    fn may_fail_repeating(&self, n: u64, what: &str, impact: &mut Impact) {
        if n > 0 {
            impact.warnings.push(format!(
                "may fail: inserting into {}, {n} {what} and repeat the key of a row that does not: the statement fails if such a row comes first, and ON CONFLICT skips it otherwise",
                self.table.name
            ));
        }
    }

    /// The keys on which ON CONFLICT skips a row (or updates the existing
    /// one instead): none without ON CONFLICT.
    fn conflict_keys(&self, conflict: &Conflict<'_>) -> Vec<Key> {
        match conflict {
            Conflict::Fail => Vec::new(),
            Conflict::Nothing(None) => all_keys(self.table)
                .into_iter()
                .filter(|k| self.provided(&k.columns))
                .collect(),
            Conflict::Nothing(Some(k)) | Conflict::Update(k, _, _) => vec![k.clone()],
        }
    }

    /// Whether row `r` of `v` hits an existing row on one of `keys`.
    fn hits_existing(&self, keys: &[Key], r: &str) -> String {
        let hits: Vec<String> = keys
            .iter()
            .map(|k| {
                let eq: Vec<String> = k
                    .columns
                    .iter()
                    .map(|c| format!("{} = {r}.{}", qcol("t", c), quote_ident(c)))
                    .collect();
                format!(
                    "EXISTS (SELECT 1 FROM {} AS t WHERE {})",
                    self.table.own_rows(),
                    eq.join(" AND ")
                )
            })
            .collect();
        if hits.is_empty() {
            "FALSE".to_owned()
        } else {
            hits.join(" OR ")
        }
    }

    /// The inserted rows, and for ON CONFLICT DO UPDATE the existing rows
    /// it may touch.
    fn push_row_sets(&self, conflict: &Conflict<'_>, inserted: Option<u64>, impact: &mut Impact) {
        let table = self.table;
        impact.row_sets.push(super::RowSet {
            table: table.name.clone(),
            op: crate::journal::Op::Insert,
            with: String::new(),
            alias: "a".into(),
            join: String::new(),
            cond: String::new(),
            rows: inserted,
            position: 0,
            new_key: None,
            digest_from: None,
        });
        if impact.target.conflicts.unwrap_or(0) == 0 {
            return;
        }
        let Conflict::Update(key, _, _) = conflict else {
            return;
        };
        let eq: Vec<String> = key
            .columns
            .iter()
            .map(|c| format!("{} = v.{}", qcol("a", c), quote_ident(c)))
            .collect();
        impact.row_sets.push(super::RowSet {
            table: table.name.clone(),
            op: crate::journal::Op::Update,
            with: self.with_v.clone(),
            alias: "a".into(),
            join: String::new(),
            cond: format!("EXISTS (SELECT 1 FROM v WHERE {})", eq.join(" AND ")),
            // Rows whose update changes nothing are touched all the
            // same; the apply counts what it captures.
            rows: None,
            position: 0,
            new_key: None,
            digest_from: None,
        });
    }
}

/// The columns the rows provide, in order.
fn inserted_columns(ctx: &Context<'_>, table: &Table, ins: &ast::Insert) -> Result<Vec<String>> {
    if ins.columns.is_empty() {
        return Ok(table
            .columns
            .iter()
            .filter(|c| c.generated.is_none())
            .map(|c| c.name.clone())
            .collect());
    }
    let mut v = Vec::new();
    for name in &ins.columns {
        // `(w.balance)` names a field of the composite column `w`.
        let [part] = name.0.as_slice() else {
            return Err(Error::refused(format!(
                "cannot preview an INSERT into {name}: it names a field of a composite column, which dbguard does not preview yet; nothing was changed\nInsert the whole column: ROW(...)"
            )));
        };
        let ident = part
            .as_ident()
            .ok_or_else(|| Error::refused("unsupported column name"))?;
        v.push(resolve_column(ctx, table, ident)?);
    }
    Ok(v)
}
/// The CTEs up to `v` for an INSERT that names a rowid table's INTEGER
/// PRIMARY KEY: SQLite gives a row that leaves it NULL the next rowid, one
/// more than the largest the table holds by then (the rows it held, and
/// those the statement inserted before), so unique and foreign-key checks
/// see that value, not NULL. With `e` the explicit keys and `n` the running
/// count of NULLs, the `i`-th NULL is `n(i) + max(m0, max(e(j) - n(j)), j
/// before i)`. Not modelled: AUTOINCREMENT's counter, and the random rowid
/// SQLite picks once the largest one is taken.
fn rowids_assigned(
    table: &Table,
    alias: &str,
    columns: &[String],
    casts: &[String],
) -> Vec<String> {
    let a = quote_ident(alias);
    let order = "ORDER BY __i ROWS UNBOUNDED PRECEDING";
    // The largest rowid so far, of the table or of the statement's own
    // keys; SQLite's max() of a NULL is NULL, hence the coalesces.
    let (held, own) = (
        format!("(SELECT max(rowid) FROM {})", table.name.sql()),
        format!("max(CASE WHEN {a} IS NOT NULL THEN {a} - __n END) OVER ({order})"),
    );
    let assigned = format!(
        "CASE WHEN {a} IS NULL THEN __n + coalesce(max(coalesce({held}, {own}), coalesce({own}, {held})), 0) \
         ELSE {a} END AS {a}"
    );
    let outer: Vec<String> = columns
        .iter()
        .map(|c| match c.as_str() == alias {
            true => assigned.clone(),
            false => quote_ident(c),
        })
        .collect();
    vec![
        format!(
            "__v1 AS (SELECT {}, row_number() OVER () AS __i FROM v0)",
            casts.join(", ")
        ),
        format!("__v2 AS (SELECT *, sum({a} IS NULL) OVER ({order}) AS __n FROM __v1)"),
        format!("v AS (SELECT {} FROM __v2 ORDER BY __i)", outer.join(", ")),
    ]
}
/// SQLite's `INSERT OR IGNORE` skips a row that breaks a NOT NULL or CHECK
/// constraint instead of failing: the rows the preview found breaking one
/// would not be inserted, and the counts it has are not the engine's. Such
/// a statement is refused, with what to write instead.
fn ignored_rows(ins: &ast::Insert, table: &Table, impact: &Impact) -> Result<()> {
    if !matches!(ins.or, Some(SqliteOnConflict::Ignore)) || impact.failures.is_empty() {
        return Ok(());
    }
    Err(Error::refused(format!(
        "cannot preview this INSERT OR IGNORE into {} exactly: SQLite would skip rows that break a constraint ({}), and the preview does not count skipped rows; nothing was changed\nLeave those rows out of the statement, or use INSERT ... ON CONFLICT DO NOTHING, which skips only conflicts.",
        table.name,
        impact.failures.join("; ")
    )))
}
