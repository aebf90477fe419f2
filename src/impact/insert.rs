//! INSERT previews: how many rows, which would break a foreign key, a
//! `NOT NULL` column or a unique key, and what `ON CONFLICT` turns into
//! updates (with before → after of the first ones).
//!
//! The inserted rows are materialised as a CTE `v` — the statement's own
//! `VALUES` list or query, with each column cast to its type — and every
//! check is a query over `v`, so the database evaluates the values exactly
//! as the INSERT would. [`Insert`] holds `v`; each phase of the preview is
//! one of its methods, run in the order the checks have always run.

use sqlparser::ast::{
    self, AssignmentTarget, ConflictTarget, OnConflictAction, OnInsert, SqliteOnConflict,
};

use super::{
    Context, Impact, add_trigger_effects, changed_rows, empty_impact, qcol, resolve_column,
    target_table, user_ctes, with_clause, write_ast,
};
use crate::db::PreviewTx;
use crate::error::{Error, Result};
use crate::schema::Locator;
use crate::schema::{Key, QualName, Table, quote_ident};
use crate::sql::Statement;

/// The most rows [`Insert::taken_in_order`] reads to count an ON CONFLICT
/// DO NOTHING whose rows repeat values of two keys.
const TAKEN_IN_ORDER: usize = 100_000;

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
    unchecked_defaults(table, &v.columns, &mut impact);
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
    add_trigger_effects(&mut impact, ctx, &|_: &QualName| 0);
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
        for (name, value) in omitted_key_values(ctx, table, &columns) {
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
        let live = |r: &str| format!("NOT ({})", self.hits_existing(&keys, r));
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
            super::match_full::check(
                tx,
                impact,
                ("insert into", &table.name),
                fk,
                &not_null("v"),
                |mixed| {
                    format!(
                        "{}SELECT count(*) FROM v WHERE {mixed} AND {}",
                        self.with_v,
                        live("v")
                    )
                },
            )?;
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
                    // statement.
                    cond.push_str(&format!(
                        " AND NOT EXISTS (SELECT 1 FROM v AS w2 WHERE {})",
                        eq("w2", r)
                    ));
                }
                cond
            };
            let failing = format!("{} AND {}", missing("v"), live("v"));
            let spared = format!(
                "EXISTS (SELECT 1 FROM v AS w WHERE ({}) AND {} AND NOT ({}))",
                repeats(&keys, "v", "w"),
                live("w"),
                missing("w")
            );
            let count = |tx: &mut dyn PreviewTx, cond: String| {
                tx.count(&format!(
                    "{}SELECT count(*) FROM v WHERE {cond}",
                    self.with_v
                ))
            };
            let n = count(tx, format!("{failing} AND NOT {spared}"))?;
            let unsure = if keys.is_empty() {
                Some(0)
            } else {
                count(tx, format!("{failing} AND {spared}"))?
            };
            impact.bounded &= n.is_some() && unsure.is_some();
            let refs = |n: u64| if n == 1 { " references" } else { "s reference" };
            if let Some(n) = n.filter(|&n| n > 0) {
                let when = if fk.deferrable && fk.initially_deferred {
                    "; the failure comes at commit"
                } else {
                    ""
                };
                impact.failures.push(format!(
                    "cannot insert into {}: {n} row{} {} rows that do not exist (FK {}){when}",
                    table.name,
                    refs(n),
                    parent.name,
                    fk.name
                ));
            }
            if let Some(n) = unsure.filter(|&n| n > 0) {
                impact.warnings.push(format!(
                    "may fail: inserting into {}, {n} row{} {} rows that do not exist (FK {}) and repeat the key of a row that does not: the statement fails if such a row comes first, and ON CONFLICT skips it otherwise",
                    table.name,
                    refs(n),
                    parent.name,
                    fk.name
                ));
            }
        }
        Ok(())
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

    // ---- unique keys ----

    /// Unique keys: failures, or what ON CONFLICT skips and updates.
    /// Returns the rows inserted and the rows updated.
    fn unique_keys(
        &self,
        tx: &mut dyn PreviewTx,
        conflict: &Conflict<'_>,
        rows: Option<u64>,
        alias: Option<String>,
        impact: &mut Impact,
    ) -> Result<(u64, u64)> {
        let keys: Vec<Key> = all_keys(self.table)
            .into_iter()
            .filter(|k| self.provided(&k.columns))
            .collect();
        match conflict {
            Conflict::Fail => {
                for k in &keys {
                    self.key_failures(tx, k, "", impact)?;
                }
                Ok((rows.unwrap_or(0), 0))
            }
            Conflict::Nothing(None) => {
                let inserted = self.skip_any_conflict(tx, &keys, impact)?;
                let inserted = inserted.unwrap_or(rows.unwrap_or(0));
                impact.target.conflicts = rows.map(|r| r.saturating_sub(inserted));
                Ok((inserted, 0))
            }
            Conflict::Nothing(Some(key)) | Conflict::Update(key, _, _) => {
                let (inserted, updated) =
                    self.on_conflict_key(tx, conflict, key, &keys, alias, impact)?;
                impact.target.conflicts = rows.map(|r| r.saturating_sub(inserted));
                Ok((inserted, updated))
            }
        }
    }

    /// `EXISTS` a row of the table with the row `v`'s values of `k`.
    fn exists(&self, k: &Key) -> String {
        self.hits_existing(std::slice::from_ref(k), "v")
    }

    /// Rows that conflict with an existing row on `k`, or repeat a value
    /// of `k`, among rows matching `among`: each makes the statement fail.
    fn key_failures(
        &self,
        tx: &mut dyn PreviewTx,
        k: &Key,
        among: &str,
        impact: &mut Impact,
    ) -> Result<()> {
        let existing = self.count(
            tx,
            format!(
                "SELECT count(*) FROM v WHERE {among}{} AND {}",
                not_null(k),
                self.exists(k)
            ),
            impact,
        )?;
        let dups = self.count(
            tx,
            format!(
                "SELECT count(*) FROM (SELECT 1 FROM v WHERE {among}{} GROUP BY {} HAVING count(*) > 1) AS d",
                not_null(k),
                vkey(k)
            ),
            impact,
        )?;
        if existing > 0 || dups > 0 {
            impact.failures.push(format!(
                "cannot insert into {}: {} on key {} ({})",
                self.table.name,
                clash(existing, dups),
                k.name,
                k.columns.join(", ")
            ));
        }
        Ok(())
    }

    /// ON CONFLICT DO NOTHING without a target: a row conflicting on any
    /// key is skipped, with an existing row or with a row the statement
    /// inserted before it. Returns the rows inserted, when there is a key.
    fn skip_any_conflict(
        &self,
        tx: &mut dyn PreviewTx,
        keys: &[Key],
        impact: &mut Impact,
    ) -> Result<Option<u64>> {
        let Some(first) = keys.first() else {
            return Ok(None);
        };
        let live = format!("NOT ({})", self.hits_existing(keys, "v"));
        // Rows repeating a value of one key only: the first of each is
        // inserted, the rest skipped. Repeats on two keys chain (a row
        // skipped on one no longer blocks a later one on the other), so
        // the rows are then taken in the statement's order.
        let mut repeated = Vec::new();
        for k in keys {
            let n = self.count(
                tx,
                format!(
                    "SELECT count(*) FROM (SELECT 1 FROM v WHERE {live} AND {} GROUP BY {} HAVING count(*) > 1) AS d",
                    not_null(k),
                    vkey(k)
                ),
                impact,
            )?;
            if n > 0 {
                repeated.push(k);
            }
        }
        if repeated.len() > 1 {
            return self.taken_in_order(tx, keys, &live, impact);
        }
        let key = repeated.first().copied().unwrap_or(first);
        let fresh = self.count(
            tx,
            format!(
                "SELECT count(*) FROM (SELECT DISTINCT {} FROM v WHERE {live} AND {}) AS f",
                vkey(key),
                not_null(key)
            ),
            impact,
        )?;
        let nulls = self.count(
            tx,
            format!(
                "SELECT count(*) FROM v WHERE {live} AND NOT ({})",
                not_null(key)
            ),
            impact,
        )?;
        Ok(Some(fresh + nulls))
    }

    /// The rows inserted when each row, in the statement's order, is
    /// skipped if it repeats a value of any of `keys` of a row inserted
    /// before it (`live`: rows that hit no existing row). Read row by row,
    /// up to [`TAKEN_IN_ORDER`] of them; beyond, not counted.
    fn taken_in_order(
        &self,
        tx: &mut dyn PreviewTx,
        keys: &[Key],
        live: &str,
        impact: &mut Impact,
    ) -> Result<Option<u64>> {
        let cols: Vec<String> = keys
            .iter()
            .flat_map(|k| k.columns.iter())
            .map(|c| format!("v.{}", quote_ident(c)))
            .collect();
        let Some(rows) = tx.query(&format!(
            "{}SELECT {} FROM v WHERE {live} LIMIT {}",
            self.with_v,
            cols.join(", "),
            TAKEN_IN_ORDER + 1
        ))?
        else {
            impact.bounded = false;
            return Ok(None);
        };
        if rows.rows.len() > TAKEN_IN_ORDER {
            impact.bounded = false;
            return Ok(None);
        }
        let mut seen: Vec<std::collections::HashSet<String>> = vec![Default::default(); keys.len()];
        let mut inserted = 0;
        for row in &rows.rows {
            let mut values = row.iter();
            let of_keys: Vec<Option<String>> = keys
                .iter()
                .map(|k| {
                    let v: Vec<&crate::model::Value> =
                        values.by_ref().take(k.columns.len()).collect();
                    let null = v.iter().any(|x| matches!(x, crate::model::Value::Null));
                    (!null).then(|| format!("{v:?}"))
                })
                .collect();
            let repeats = of_keys
                .iter()
                .zip(&seen)
                .any(|(v, s)| v.as_ref().is_some_and(|v| s.contains(v)));
            if repeats {
                continue;
            }
            inserted += 1;
            for (v, s) in of_keys.into_iter().zip(seen.iter_mut()) {
                s.extend(v);
            }
        }
        Ok(Some(inserted))
    }

    /// ON CONFLICT on `key` (DO NOTHING or DO UPDATE): rows that hit it
    /// are skipped or update the existing row; the others must not hit
    /// another key. Returns the rows inserted and the rows updated.
    fn on_conflict_key(
        &self,
        tx: &mut dyn PreviewTx,
        conflict: &Conflict<'_>,
        key: &Key,
        keys: &[Key],
        alias: Option<String>,
        impact: &mut Impact,
    ) -> Result<(u64, u64)> {
        let on_key = format!("({} AND {})", not_null(key), self.exists(key));
        // Rows that do not hit the conflict key must not hit another.
        let among = format!("NOT {on_key} AND ");
        for k in keys.iter().filter(|k| k.columns != key.columns) {
            self.key_failures(tx, k, &among, impact)?;
        }
        let dups = self.count(
            tx,
            format!(
                "SELECT count(*) FROM (SELECT 1 FROM v WHERE {} GROUP BY {} HAVING count(*) > 1) AS d",
                not_null(key),
                vkey(key)
            ),
            impact,
        )?;
        let Conflict::Update(_, assignments, selection) = conflict else {
            return Ok((self.fresh_rows(tx, key, &on_key, impact)?, 0));
        };
        let twice = self.ctx.dialect.upsert_updates_row_twice();
        if dups > 0 && !twice {
            impact.failures.push(format!(
                "cannot insert into {}: ON CONFLICT DO UPDATE would affect a row twice ({dups} key value{} repeat within the inserted rows)",
                self.table.name,
                if dups == 1 { "" } else { "s" }
            ));
        }
        let inserted = if twice {
            self.fresh_rows(tx, key, &on_key, impact)?
        } else {
            self.count(
                tx,
                format!("SELECT count(*) FROM v WHERE NOT {on_key}"),
                impact,
            )?
        };
        let (n, changes) = self.conflict_updates(tx, key, assignments, *selection, alias)?;
        impact.bounded &= n.is_some();
        impact.target.changes = changes;
        Ok((inserted, n.unwrap_or(0)))
    }

    /// Rows inserted when a row that hits `key` (`on_key`) is skipped, and
    /// so is a later row repeating an earlier one's key: the distinct new
    /// keys, plus the rows with a NULL in the key, which never conflict.
    fn fresh_rows(
        &self,
        tx: &mut dyn PreviewTx,
        key: &Key,
        on_key: &str,
        impact: &mut Impact,
    ) -> Result<u64> {
        let fresh = self.count(
            tx,
            format!(
                "SELECT count(*) FROM (SELECT DISTINCT {} FROM v WHERE NOT {on_key} AND {}) AS f",
                vkey(key),
                not_null(key)
            ),
            impact,
        )?;
        let nulls = self.count(
            tx,
            format!("SELECT count(*) FROM v WHERE NOT ({})", not_null(key)),
            impact,
        )?;
        Ok(fresh + nulls)
    }

    /// ON CONFLICT DO UPDATE: how many existing rows change, and before →
    /// after of the first ones. The SET expressions run with the proposed
    /// row named `excluded`, as in the statement.
    fn conflict_updates(
        &self,
        tx: &mut dyn PreviewTx,
        key: &Key,
        assignments: &[ast::Assignment],
        selection: Option<&ast::Expr>,
        alias: Option<String>,
    ) -> Result<(Option<u64>, Vec<super::ChangedRow>)> {
        let (ctx, table, d) = (self.ctx, self.table, self.ctx.dialect);
        let qual = alias.unwrap_or_else(|| crate::schema::display_ident(&table.name.name));
        let assigned = conflict_assignments(ctx, table, assignments)?;
        let on: Vec<String> = key
            .columns
            .iter()
            .map(|c| format!("{} = excluded.{}", qcol(&qual, c), quote_ident(c)))
            .collect();
        let mut from = format!(
            "v AS excluded JOIN {} AS {qual} ON {}",
            table.own_rows(),
            on.join(" AND ")
        );
        if let Some(w) = selection {
            from.push_str(&format!(" WHERE ({w})"));
        }
        let with = &self.with_v;
        // Like an UPDATE, a row whose new values equal the old ones is not a
        // change in the totals (the database is the same afterwards).
        let same: Vec<String> = assigned
            .iter()
            .map(|(c, v)| d.not_distinct(v, &qcol(&qual, c)))
            .collect();
        let changed = if same.is_empty() {
            String::new()
        } else {
            format!(
                " {} NOT ({})",
                if selection.is_some() { "AND" } else { "WHERE" },
                same.join(" AND ")
            )
        };
        // Distinct rows: SQLite may update one row twice from two proposed
        // rows.
        let key_sel: Vec<String> = key.columns.iter().map(|c| qcol(&qual, c)).collect();
        let n = tx.count(&format!(
            "{with}SELECT count(*) FROM (SELECT DISTINCT {} FROM {from}{changed}) AS u",
            key_sel.join(", ")
        ))?;
        let mut sel = key_sel;
        for (c, v) in &assigned {
            sel.push(qcol(&qual, c));
            sel.push(v.clone());
        }
        let rows = if ctx.options.sample_rows > 0 && n.unwrap_or(1) > 0 {
            tx.query(&format!(
                "{with}SELECT {} FROM {from}{} LIMIT {}",
                sel.join(", "),
                super::sample_order(d, table, &qual),
                ctx.options.sample_rows
            ))?
            .unwrap_or_default()
        } else {
            Default::default()
        };
        let names: Vec<String> = assigned.iter().map(|(c, _)| c.clone()).collect();
        Ok((n, changed_rows(&rows, key.columns.len(), &names)))
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

/// What the statement does with rows whose key already exists.
fn conflict<'s>(ctx: &Context<'_>, table: &Table, ins: &'s ast::Insert) -> Result<Conflict<'s>> {
    match &ins.on {
        Some(OnInsert::OnConflict(oc)) => {
            let key = conflict_target(ctx, table, oc.conflict_target.as_ref())?;
            match &oc.action {
                OnConflictAction::DoNothing => Ok(Conflict::Nothing(key)),
                OnConflictAction::DoUpdate(_) if ctx.dialect.locator(table) == Locator::None => {
                    Err(Error::refused(format!(
                        "cannot journal INSERT ... ON CONFLICT DO UPDATE into {}: it has no primary key, so once the statement ran nothing tells the rows it updated from the rows it inserted, and its undo could not be exact; nothing was changed\nAdd a primary key to the table, or write the change as a separate UPDATE and INSERT.",
                        table.name
                    )))
                }
                OnConflictAction::DoUpdate(du) => match key {
                    Some(k) => Ok(Conflict::Update(k, &du.assignments, du.selection.as_ref())),
                    None => Err(Error::input(
                        "ON CONFLICT DO UPDATE needs a conflict target: ON CONFLICT (col) DO UPDATE",
                    )),
                },
            }
        }
        Some(_) => Err(Error::refused(
            "ON DUPLICATE KEY UPDATE is not SQL for this engine",
        )),
        None if matches!(ins.or, Some(SqliteOnConflict::Ignore)) => Ok(Conflict::Nothing(None)),
        None => Ok(Conflict::Fail),
    }
}

/// The unique key an ON CONFLICT target names, by its columns or by the
/// constraint's name.
fn conflict_target(
    ctx: &Context<'_>,
    table: &Table,
    target: Option<&ConflictTarget>,
) -> Result<Option<Key>> {
    match target {
        Some(ConflictTarget::Columns(cols)) => {
            let mut names = Vec::new();
            for c in cols {
                names.push(resolve_column(ctx, table, c)?);
            }
            Ok(Some(key_with_columns(table, &names).ok_or_else(|| {
                Error::input(format!(
                    "there is no unique key on {}({}) for ON CONFLICT",
                    table.name,
                    names.join(", ")
                ))
            })?))
        }
        Some(ConflictTarget::OnConstraint(name)) => {
            let n = name.to_string();
            let n = n.trim_matches('"');
            Ok(Some(
                all_keys(table)
                    .into_iter()
                    .find(|k| k.name == n)
                    .ok_or_else(|| {
                        Error::input(format!(
                            "constraint {n} is not a unique key of {}",
                            table.name
                        ))
                    })?,
            ))
        }
        None => Ok(None),
    }
}

/// The DO UPDATE assignments as (column, new value cast to its type).
fn conflict_assignments(
    ctx: &Context<'_>,
    table: &Table,
    assignments: &[ast::Assignment],
) -> Result<Vec<(String, String)>> {
    let mut assigned = Vec::new();
    for a in assignments {
        let AssignmentTarget::ColumnName(name) = &a.target else {
            return Err(Error::refused(
                "SET (a, b) = (...) in ON CONFLICT cannot be previewed yet",
            ));
        };
        let ident = name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .ok_or_else(|| Error::refused("unsupported assignment target"))?;
        let col = resolve_column(ctx, table, ident)?;
        let t = table
            .column(&col)
            .map(|c| c.type_name.clone())
            .unwrap_or_default();
        assigned.push((col, ctx.dialect.cast(&a.value.to_string(), &t)));
    }
    Ok(assigned)
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

/// The referencing columns an INSERT leaves out, with what each takes:
/// its default where that is a literal ([`crate::sql::is_constant`]),
/// NULL where it has none, typed as the column, so the foreign keys are
/// checked on the rows as the engine writes them. A default computed at
/// run time (`nextval`, a function) is never evaluated: its key is left
/// unchecked, and [`unchecked_defaults`] says so.
fn omitted_key_values(
    ctx: &Context<'_>,
    table: &Table,
    columns: &[String],
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let fk_columns = table.foreign_keys.iter().flat_map(|fk| &fk.columns);
    for name in fk_columns {
        let Some(c) = table.column(name) else {
            continue;
        };
        let taken = columns.contains(name) || out.iter().any(|(n, _)| n == name);
        if taken
            || c.generated.is_some()
            || c.identity.is_some()
            || ctx.dialect.is_rowid_alias(table, name)
        {
            continue;
        }
        let value = match c.default.as_deref() {
            None => "NULL",
            Some(d) if crate::sql::is_constant(ctx.dialect.0, d) => d,
            Some(_) => continue,
        };
        out.push((name.clone(), ctx.dialect.cast(value, &c.type_name)));
    }
    out
}

/// Warnings for the foreign keys of `table` whose columns the INSERT
/// leaves to a default computed at run time, which [`omitted_key_values`]
/// does not evaluate.
fn unchecked_defaults(table: &Table, columns: &[String], impact: &mut Impact) {
    for fk in &table.foreign_keys {
        let computed: Vec<String> = fk
            .columns
            .iter()
            .filter(|c| !columns.contains(*c))
            .filter_map(|c| table.column(c))
            .filter_map(|c| {
                c.default
                    .as_deref()
                    .map(|d| format!("{} DEFAULT {d}", c.name))
            })
            .collect();
        if !computed.is_empty() {
            impact.warnings.push(format!(
                "not checked: FK {} of {}, whose {} the preview does not compute",
                fk.name,
                table.name,
                computed.join(", ")
            ));
        }
    }
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

/// `v.a IS NOT NULL AND ...` over the columns of `k`.
fn not_null(k: &Key) -> String {
    k.columns
        .iter()
        .map(|c| format!("v.{} IS NOT NULL", quote_ident(c)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Whether rows `r` and `w` of `v` hold the same value of one of `keys`
/// (NULLs never do).
fn repeats(keys: &[Key], r: &str, w: &str) -> String {
    let any: Vec<String> = keys
        .iter()
        .map(|k| {
            let eq: Vec<String> = k
                .columns
                .iter()
                .map(|c| format!("{r}.{c} = {w}.{c}", c = quote_ident(c)))
                .collect();
            format!("({})", eq.join(" AND "))
        })
        .collect();
    if any.is_empty() {
        "FALSE".to_owned()
    } else {
        any.join(" OR ")
    }
}

/// `v.a, v.b`: the row's values of `k`.
fn vkey(k: &Key) -> String {
    k.columns
        .iter()
        .map(|c| format!("v.{}", quote_ident(c)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How proposed rows clash on a key: with existing rows, or among
/// themselves (`dups` repeated values).
fn clash(existing: u64, dups: u64) -> String {
    match (existing, dups) {
        (e, 0) => format!(
            "{e} row{} conflict with existing rows",
            if e == 1 { "" } else { "s" }
        ),
        (0, d) => format!(
            "{d} key value{} repeat within the inserted rows",
            if d == 1 { "" } else { "s" }
        ),
        (e, d) => format!("{e} rows conflict with existing rows and {d} key values repeat"),
    }
}

/// The primary key and unique keys.
fn all_keys(table: &Table) -> Vec<Key> {
    table
        .primary_key
        .iter()
        .chain(table.unique.iter())
        .cloned()
        .collect()
}

/// The unique key with exactly these columns (in any order).
fn key_with_columns(table: &Table, cols: &[String]) -> Option<Key> {
    let mut want: Vec<&String> = cols.iter().collect();
    want.sort();
    all_keys(table).into_iter().find(|k| {
        let mut have: Vec<&String> = k.columns.iter().collect();
        have.sort();
        have == want
    })
}
