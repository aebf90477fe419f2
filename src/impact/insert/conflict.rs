//! Unique keys of an INSERT: rows that collide with existing rows or with
//! each other, and what `ON CONFLICT` turns them into: skipped rows (taken in
//! the statement's order where they repeat a key), updates of existing
//! rows (with before → after and the foreign keys of what they write).

use sqlparser::ast::{
    self, AssignmentTarget, ConflictTarget, OnConflictAction, OnInsert, SqliteOnConflict,
};

use super::super::{Context, Impact, changed_rows, qcol, resolve_column};
use super::{Conflict, Insert};
use crate::db::PreviewTx;
use crate::error::{Error, Result};
use crate::schema::{Key, Locator, Table, quote_ident};

/// One ON CONFLICT DO UPDATE, taken apart once for its checks: the
/// assignments (column, new value cast to its type), the name of the
/// existing row, the `FROM` of the proposed rows joined with the rows they
/// hit, and the word that adds a condition to it.
struct DoUpdate {
    assigned: Vec<(String, String)>,
    qual: String,
    from: String,
    glue: &'static str,
}

/// The most rows [`Insert::taken_in_order`] reads to count an ON CONFLICT
/// DO NOTHING whose rows repeat values of two keys.
const TAKEN_IN_ORDER: usize = 100_000;

impl Insert<'_> {
    /// Unique keys: failures, or what ON CONFLICT skips and updates.
    /// Returns the rows inserted and the rows updated.
    pub(super) fn unique_keys(
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
        if keys.is_empty() {
            return Ok(None);
        }
        let live = format!("NOT ({})", self.hits_existing(keys, "v"));
        self.inserted_of(tx, keys, &live, impact)
    }

    /// Of the rows of `v` that hit no existing row (`live`), those
    /// inserted: all of them, less those repeating a value of one of
    /// `keys` of a row inserted before them ([`Self::taken_in_order`]).
    fn inserted_of(
        &self,
        tx: &mut dyn PreviewTx,
        keys: &[Key],
        live: &str,
        impact: &mut Impact,
    ) -> Result<Option<u64>> {
        // Values of a key repeated among those rows, grouped as the
        // key's index compares them.
        let d = self.ctx.dialect;
        for k in keys {
            let group: Vec<String> = k
                .columns
                .iter()
                .map(|c| {
                    let col = self.table.column(c);
                    d.as_key_of(&qcol("v", c), col, col)
                })
                .collect();
            let repeated = self.count(
                tx,
                format!(
                    "SELECT count(*) FROM (SELECT 1 FROM v WHERE {live} AND {} GROUP BY {} HAVING count(*) > 1) AS d",
                    not_null(k),
                    group.join(", ")
                ),
                impact,
            )?;
            if repeated > 0 {
                return self.taken_in_order(tx, keys, live, impact);
            }
        }
        Ok(Some(self.count(
            tx,
            format!("SELECT count(*) FROM v WHERE {live}"),
            impact,
        )?))
    }

    /// The rows inserted when each row, in the statement's order, is
    /// skipped if it repeats a value of any of `keys` of a row inserted
    /// before it (`live`: rows that hit no existing row; a row skipped for
    /// repeating one key no longer blocks a later row on another). The
    /// engine finds the pairs of rows that repeat a key, with the keys'
    /// own equality; they are then taken in order, up to
    /// [`TAKEN_IN_ORDER`] pairs (beyond, not counted).
    fn taken_in_order(
        &self,
        tx: &mut dyn PreviewTx,
        keys: &[Key],
        live: &str,
        impact: &mut Impact,
    ) -> Result<Option<u64>> {
        // The statement's order, as `rowids_assigned` reads it too.
        let ordered =
            format!("__o AS (SELECT row_number() OVER () AS __i, v.* FROM v WHERE {live})");
        let q = format!(
            "{}, {ordered} SELECT a.__i, b.__i FROM __o AS a JOIN __o AS b ON a.__i < b.__i AND ({}) \
             UNION ALL SELECT count(*), 0 FROM __o LIMIT {}",
            self.with_v.trim_end(),
            self.repeats(keys, "a", "b"),
            TAKEN_IN_ORDER + 1
        );
        let Some(rows) = tx.query(&q)? else {
            impact.bounded = false;
            return Ok(None);
        };
        if rows.rows.len() > TAKEN_IN_ORDER {
            impact.bounded = false;
            return Ok(None);
        }
        let num = |v: Option<&crate::model::Value>| crate::db::count_of(v);
        let mut total = 0;
        let mut earlier: std::collections::HashMap<u64, Vec<u64>> = Default::default();
        for r in &rows.rows {
            let (a, b) = (num(r.first())?, num(r.get(1))?);
            if b == 0 {
                total = a;
            } else {
                earlier.entry(b).or_default().push(a);
            }
        }
        let mut taken = std::collections::HashSet::new();
        for i in 1..=total {
            let blocked = earlier
                .get(&i)
                .is_some_and(|e| e.iter().any(|j| taken.contains(j)));
            if !blocked {
                taken.insert(i);
            }
        }
        Ok(Some(taken.len() as u64))
    }

    /// Whether rows `r` and `w` of `v` hold the same value of one of
    /// `keys`, compared as the key's unique index does (SQLite: with the
    /// column's collation); NULLs never do.
    pub(super) fn repeats(&self, keys: &[Key], r: &str, w: &str) -> String {
        let d = self.ctx.dialect;
        let any: Vec<String> = keys
            .iter()
            .map(|k| {
                let eq: Vec<String> = k
                    .columns
                    .iter()
                    .map(|c| {
                        let col = self.table.column(c);
                        format!(
                            "{} = {}",
                            d.as_key_of(&qcol(r, c), col, col),
                            d.as_key_of(&qcol(w, c), col, col)
                        )
                    })
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
        let du = self.do_update(key, assignments, *selection, alias)?;
        self.check_updated_keys(tx, &du, impact)?;
        self.referenced_keys_changed(tx, &du)?;
        self.check_updated_rows(tx, &du, impact)?;
        let (n, changes) = self.conflict_updates(tx, key, &du)?;
        impact.bounded &= n.is_some();
        impact.target.changes = changes;
        Ok((inserted, n.unwrap_or(0)))
    }

    /// Rows inserted when a row that hits `key` (`on_key`) is skipped, and
    /// so is a later row repeating an earlier one's key.
    fn fresh_rows(
        &self,
        tx: &mut dyn PreviewTx,
        key: &Key,
        on_key: &str,
        impact: &mut Impact,
    ) -> Result<u64> {
        let live = format!("NOT {on_key}");
        let n = self.inserted_of(tx, std::slice::from_ref(key), &live, impact)?;
        Ok(n.unwrap_or(0))
    }

    /// ON CONFLICT DO UPDATE: how many existing rows change, and before →
    /// after of the first ones. The SET expressions run with the proposed
    /// row named `excluded`, as in the statement.
    fn conflict_updates(
        &self,
        tx: &mut dyn PreviewTx,
        key: &Key,
        du: &DoUpdate,
    ) -> Result<(Option<u64>, Vec<super::super::ChangedRow>)> {
        let (ctx, table, d) = (self.ctx, self.table, self.ctx.dialect);
        let DoUpdate {
            assigned,
            qual,
            from,
            glue,
        } = du;
        let with = &self.with_v;
        // Like an UPDATE, a row whose new values equal the old ones is not a
        // change in the totals (the database is the same afterwards).
        let same: Vec<String> = assigned
            .iter()
            .map(|(c, v)| d.not_distinct(v, &qcol(qual, c)))
            .collect();
        let changed = if same.is_empty() {
            String::new()
        } else {
            format!(" {glue} NOT ({})", same.join(" AND "))
        };
        // Distinct rows: SQLite may update one row twice from two proposed
        // rows.
        let key_sel: Vec<String> = key.columns.iter().map(|c| qcol(qual, c)).collect();
        let n = tx.count(&format!(
            "{with}SELECT count(*) FROM (SELECT DISTINCT {} FROM {from}{changed}) AS u",
            key_sel.join(", ")
        ))?;
        let mut sel = key_sel;
        for (c, v) in assigned {
            sel.push(qcol(qual, c));
            sel.push(v.clone());
        }
        let rows = if ctx.options.sample_rows > 0 && n.unwrap_or(1) > 0 {
            tx.query(&format!(
                "{with}SELECT {} FROM {from}{} LIMIT {}",
                sel.join(", "),
                super::super::sample_order(d, table, qual),
                ctx.options.sample_rows
            ))?
            .unwrap_or_default()
        } else {
            Default::default()
        };
        let names: Vec<String> = assigned.iter().map(|(c, _)| c.clone()).collect();
        Ok((n, changed_rows(&rows, key.columns.len(), &names)))
    }

    /// ON CONFLICT DO UPDATE on `key`, taken apart once for its checks
    /// ([`DoUpdate`]): each proposed row (`excluded`) joined with the
    /// existing row it hits (as the statement's alias, or the table's
    /// name), where the DO UPDATE's WHERE holds.
    fn do_update(
        &self,
        key: &Key,
        assignments: &[ast::Assignment],
        selection: Option<&ast::Expr>,
        alias: Option<String>,
    ) -> Result<DoUpdate> {
        let assigned = conflict_assignments(self.ctx, self.table, assignments)?;
        let qual = alias.unwrap_or_else(|| crate::schema::display_ident(&self.table.name.name));
        let on: Vec<String> = key
            .columns
            .iter()
            .map(|c| format!("{} = excluded.{}", qcol(&qual, c), quote_ident(c)))
            .collect();
        let mut from = format!(
            "v AS excluded JOIN {} AS {qual} ON {}",
            self.table.own_rows(),
            on.join(" AND ")
        );
        if let Some(w) = selection {
            from.push_str(&format!(" WHERE ({w})"));
        }
        Ok(DoUpdate {
            assigned,
            qual,
            from,
            glue: if selection.is_some() { "AND" } else { "WHERE" },
        })
    }

    /// The rows ON CONFLICT DO UPDATE leaves: every assigned NOT NULL
    /// column must hold a value, and every CHECK hold, as for an UPDATE.
    fn check_updated_rows(
        &self,
        tx: &mut dyn PreviewTx,
        du: &DoUpdate,
        impact: &mut Impact,
    ) -> Result<()> {
        let table = self.table;
        let DoUpdate {
            assigned,
            qual,
            from,
            glue,
        } = du;
        for (c, v) in assigned {
            if !table.column(c).is_some_and(|col| col.not_null) {
                continue;
            }
            let n = tx.count(&format!(
                "{}SELECT count(*) FROM {from} {glue} ({v}) IS NULL",
                self.with_v
            ))?;
            impact.bounded &= n.is_some();
            if let Some(n) = n.filter(|&n| n > 0) {
                impact.failures.push(format!(
                    "cannot insert into {}: ON CONFLICT DO UPDATE would set {n} row{} NULL in the NOT NULL column {c}",
                    table.name,
                    if n == 1 { "" } else { "s" }
                ));
            }
        }
        let values = table
            .columns
            .iter()
            .filter(|c| c.generated.is_none())
            .map(|c| {
                let v = assigned
                    .iter()
                    .find(|(a, _)| *a == c.name)
                    .map_or_else(|| qcol(qual, &c.name), |(_, v)| format!("({v})"));
                (c.name.clone(), v)
            })
            .collect();
        let written = super::super::checks::Written {
            table,
            with: &self.with_v,
            from,
            values,
        };
        super::super::checks::violations(tx, &written, "insert into", impact)
    }

    /// ON CONFLICT DO UPDATE that changes a key other tables reference
    /// sets off their ON UPDATE actions, which this preview does not
    /// follow: where rows reference a value it changes, it is refused
    /// ([`super::super::chain::upsert_not_followed`]).
    fn referenced_keys_changed(&self, tx: &mut dyn PreviewTx, du: &DoUpdate) -> Result<()> {
        let (table, d) = (self.table, self.ctx.dialect);
        let DoUpdate {
            assigned,
            qual,
            from,
            glue,
        } = du;
        for fk in self.ctx.schema.referencing_tree(&table.name) {
            let moved: Vec<String> = assigned
                .iter()
                .filter(|(c, _)| fk.ref_columns.contains(c))
                .map(|(c, v)| format!("NOT {}", d.not_distinct(v, &qcol(qual, c))))
                .collect();
            if moved.is_empty() {
                continue;
            }
            let Some(referencing) = self.ctx.schema.get(&fk.table) else {
                continue;
            };
            let refs: Vec<String> = fk.ref_columns.iter().map(|c| qcol(qual, c)).collect();
            let cols = super::super::chain::referencing_key(d, fk, (referencing, "gx"), table);
            let n = tx.count(&format!(
                "{}SELECT count(*) FROM {} AS gx WHERE {} IN (SELECT {} FROM {from} {glue} ({}))",
                self.with_v,
                referencing.own_rows(),
                cols,
                refs.join(", "),
                moved.join(" OR ")
            ))?;
            if let Some(n) = n.filter(|&n| n > 0) {
                let step = format!("ON CONFLICT DO UPDATE of {}", table.name);
                return Err(super::super::chain::upsert_not_followed(
                    &step,
                    &table.name,
                    fk,
                    n,
                ));
            }
        }
        Ok(())
    }

    /// The foreign keys of the values ON CONFLICT DO UPDATE writes into
    /// existing rows: a key it changes must find its parent, as the
    /// engine checks a key an update changes.
    fn check_updated_keys(
        &self,
        tx: &mut dyn PreviewTx,
        du: &DoUpdate,
        impact: &mut Impact,
    ) -> Result<()> {
        let (table, d) = (self.table, self.ctx.dialect);
        let DoUpdate {
            assigned,
            qual,
            from,
            glue,
        } = du;
        for fk in &table.foreign_keys {
            if !fk
                .columns
                .iter()
                .any(|c| assigned.iter().any(|(a, _)| a == c))
            {
                continue;
            }
            let Some(parent) = self.ctx.schema.get(&fk.ref_table) else {
                continue;
            };
            let new = |c: &String| {
                assigned
                    .iter()
                    .find(|(a, _)| a == c)
                    .map_or_else(|| qcol(qual, c), |(_, v)| format!("({v})"))
            };
            let news: Vec<String> = fk.columns.iter().map(new).collect();
            let moved: Vec<String> = fk
                .columns
                .iter()
                .zip(&news)
                .map(|(c, n)| format!("NOT {}", d.not_distinct(n, &qcol(qual, c))))
                .collect();
            let not_null: Vec<String> = news.iter().map(|n| format!("{n} IS NOT NULL")).collect();
            super::super::match_full::check(
                tx,
                impact,
                ("insert into", &table.name),
                fk,
                &not_null,
                |mixed| {
                    format!(
                        "{}SELECT count(*) FROM {from} {glue} ({}) AND {mixed}",
                        self.with_v,
                        moved.join(" OR ")
                    )
                },
            )?;
            let eq: Vec<String> = fk
                .ref_columns
                .iter()
                .zip(&news)
                .map(|(rc, n)| format!("{} = {n}", qcol("p", rc)))
                .collect();
            let mut missing = format!(
                "NOT EXISTS (SELECT 1 FROM {} AS p WHERE {})",
                parent.own_rows(),
                eq.join(" AND ")
            );
            if parent.name == table.name {
                // The statement's own new rows count as parents too.
                missing.push_str(&format!(
                    " AND NOT EXISTS (SELECT 1 FROM v AS p WHERE {})",
                    eq.join(" AND ")
                ));
            }
            let n = tx.count(&format!(
                "{}SELECT count(*) FROM {from} {glue} ({}) AND {} AND {missing}",
                self.with_v,
                moved.join(" OR "),
                not_null.join(" AND ")
            ))?;
            impact.bounded &= n.is_some();
            if let Some(n) = n.filter(|&n| n > 0) {
                impact.failures.push(format!(
                    "cannot insert into {}: ON CONFLICT DO UPDATE would make {n} existing row{} reference {} rows that do not exist (FK {})",
                    table.name,
                    if n == 1 { "" } else { "s" },
                    parent.name,
                    fk.name
                ));
            }
        }
        Ok(())
    }
}

/// What the statement does with rows whose key already exists.
pub(super) fn conflict<'s>(
    ctx: &Context<'_>,
    table: &Table,
    ins: &'s ast::Insert,
) -> Result<Conflict<'s>> {
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
pub(super) fn conflict_target(
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
pub(super) fn conflict_assignments(
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

/// `v.a IS NOT NULL AND ...` over the columns of `k`.
pub(super) fn not_null(k: &Key) -> String {
    k.columns
        .iter()
        .map(|c| format!("v.{} IS NOT NULL", quote_ident(c)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// `v.a, v.b`: the row's values of `k`.
pub(super) fn vkey(k: &Key) -> String {
    k.columns
        .iter()
        .map(|c| format!("v.{}", quote_ident(c)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How proposed rows clash on a key: with existing rows, or among
/// themselves (`dups` repeated values).
pub(super) fn clash(existing: u64, dups: u64) -> String {
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
pub(super) fn all_keys(table: &Table) -> Vec<Key> {
    table
        .primary_key
        .iter()
        .chain(table.unique.iter())
        .cloned()
        .collect()
}

/// The unique key with exactly these columns (in any order).
pub(super) fn key_with_columns(table: &Table, cols: &[String]) -> Option<Key> {
    let mut want: Vec<&String> = cols.iter().collect();
    want.sort();
    all_keys(table).into_iter().find(|k| {
        let mut have: Vec<&String> = k.columns.iter().collect();
        have.sort();
        have == want
    })
}
