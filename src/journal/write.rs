//! Recording a change, inside the change's own transaction: its entry, the
//! snapshots of the rows it touches, the approvals it consumes, and its
//! audit record. Nothing here reads a row into the process: every row is
//! copied by the server (`INSERT ... SELECT`, `CREATE TABLE ... AS`).

use std::collections::BTreeMap;

use super::schema::{int, require_in, rows};
use super::{ApprovalUse, ChangeMeta, TableEntry};
use crate::db::dialect::Dialect;
use crate::db::journal::{
    JournalNames, KEPT_COLUMN, Part, counts_copies, data_column, kept_uncounted, locator_column,
};
use crate::db::{ApplyTx, InsertCapture, Value};
use crate::error::{Error, ErrorKind, Result};
use crate::schema::TableInfo;

use crate::schema::Locator;

/// The rows of one table a change reaches, as a query the server copies:
/// `{with}SELECT ... FROM {from} WHERE {cond}`, the table aliased `alias`.
#[derive(Debug, Clone, Copy)]
pub struct Capture<'a> {
    pub with: &'a str,
    pub from: &'a str,
    pub alias: &'a str,
    pub cond: &'a str,
    /// For updated rows: what will find each row once updated, over
    /// `alias` (its new key where the statement moves it).
    pub locator_after: Option<&'a [String]>,
}

/// A change being recorded in its transaction.
pub struct Recording {
    id: i64,
    names: JournalNames,
    dialect: Dialect,
    /// The tables described, by display name.
    tables: BTreeMap<String, TableEntry>,
    partial: Option<String>,
    /// What the engine stamps the change's rows with, for its seal
    /// (`crate::db::seal`).
    stamp: Option<String>,
    /// The rows copied into each snapshot, by bare name.
    copied: BTreeMap<String, u64>,
}

impl Recording {
    /// Starts the entry of a change in `tx`, which must hold a current
    /// journal.
    pub fn begin(tx: &mut dyn ApplyTx, meta: &ChangeMeta) -> Result<Recording> {
        require_in(tx, &meta.target)?;
        let names = JournalNames::new(tx.engine());
        let dialect = Dialect(tx.engine());
        let text = |s: &str| dialect.literal(&Value::Text(s.to_owned()), "");
        let opt = |s: Option<&str>| s.map_or_else(|| "NULL".to_owned(), text);
        let int_opt = |i: Option<i64>| i.map_or_else(|| "NULL".to_owned(), |i| i.to_string());
        let sql = format!(
            "INSERT INTO {} (created_at, operator, target, database, system_identifier, statement, kind, digest, impact, undo_of, replay_of) \
             VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}) RETURNING id, {}",
            names.table("changes"),
            text(&super::now()),
            text(&meta.operator),
            text(&meta.target),
            text(&meta.database),
            opt(meta.system_identifier.as_deref()),
            text(&meta.statement),
            text(meta.kind.name()),
            text(&meta.digest),
            text(&meta.impact),
            int_opt(meta.undo_of),
            opt(meta.replay_of.as_deref()),
            crate::db::seal::stamp_expr(tx.engine()),
        );
        let (id, stamp) = match tx_rows(tx, &sql) {
            Ok(r) => {
                let row = r.first();
                let stamp = row.and_then(|r| r.get(1)).and_then(Value::text);
                (int(row.and_then(|r| r.first()))?, stamp)
            }
            Err(e) if meta.undo_of.is_some() && crate::db::is_unique_violation(&e) => {
                return Err(already_undone(meta.undo_of.unwrap_or_default(), e));
            }
            Err(e) => return Err(e),
        };
        Ok(Recording {
            id,
            names,
            dialect,
            tables: BTreeMap::new(),
            partial: None,
            stamp,
            copied: BTreeMap::new(),
        })
    }

    pub fn id(&self) -> i64 {
        self.id
    }

    /// The engine of the target the change is recorded in.
    pub fn engine(&self) -> crate::model::Engine {
        self.names.engine()
    }

    /// Describes a table the change touches, before any of its rows.
    pub fn table(&mut self, info: &TableInfo, locator: Locator) {
        let slot = self.tables.len() as i64 + 1;
        self.tables
            .entry(info.name.clone())
            .or_insert_with(|| TableEntry {
                info: info.clone(),
                locator,
                slot,
                deleted: 0,
                updated: 0,
                inserted: 0,
            });
    }

    /// The entry of a described table.
    pub fn entry(&self, table: &str) -> Result<&TableEntry> {
        self.tables.get(table).ok_or_else(|| {
            Error::database(format!("{table} was not described in the change's entry"))
        })
    }

    /// The snapshot table of `part` of `table`.
    pub fn snapshot(&self, table: &str, part: Part) -> Result<String> {
        let e = self.entry(table)?;
        Ok(self.names.snapshot(self.id, e.slot, part))
    }

    /// Copies the rows `capture` reaches into the snapshot of `part`
    /// ([`Part::Deleted`] or [`Part::Before`]); returns how many.
    pub fn capture(
        &mut self,
        tx: &mut dyn ApplyTx,
        table: &str,
        part: Part,
        capture: &Capture<'_>,
    ) -> Result<u64> {
        let entry = self.entry(table)?;
        let done = match part {
            Part::Deleted => entry.deleted,
            _ => entry.updated,
        };
        let mut columns = Vec::new();
        let mut select = Vec::new();
        if part == Part::Before {
            columns.push("row".to_owned());
            select.push(format!("row_number() OVER () + {done} AS row"));
            for (i, e) in capture.locator_after.unwrap_or(&[]).iter().enumerate() {
                columns.push(locator_column(i));
                select.push(format!("{e} AS {}", locator_column(i)));
            }
        }
        push_data_columns(&entry.info, capture.alias, &mut columns, &mut select);
        if counts_copies(&entry.info, part) {
            // Counted at `finish`, once the table is as the change leaves it.
            columns.push(KEPT_COLUMN.to_owned());
            select.push(kept_uncounted());
        }
        let query = format!(
            "{}SELECT {} FROM {} WHERE {}",
            capture.with,
            select.join(", "),
            capture.from,
            capture.cond
        );
        let slot = entry.slot;
        let n = self.copy_rows(tx, (slot, part), &columns, &query, done == 0)?;
        let entry = self.entry_mut(table)?;
        match part {
            Part::Deleted => entry.deleted += n,
            _ => entry.updated += n,
        }
        Ok(n)
    }

    /// Copies the rows of `query` into the snapshot of `part`: the query
    /// gives a snapshot's columns in order (for [`Part::Before`], `row` and
    /// `nloc` locator columns first). Returns how many rows it copied.
    pub fn capture_query(
        &mut self,
        tx: &mut dyn ApplyTx,
        table: &str,
        part: Part,
        nloc: usize,
        query: &str,
    ) -> Result<u64> {
        let entry = self.entry(table)?;
        let done = match part {
            Part::Deleted => entry.deleted,
            Part::Inserted => entry.inserted,
            _ => entry.updated,
        };
        let mut columns = Vec::new();
        if matches!(part, Part::Before | Part::After) {
            columns.push("row".to_owned());
        }
        if part != Part::Deleted {
            columns.extend((0..nloc).map(locator_column));
        }
        columns.extend((0..entry.info.columns.len()).map(data_column));
        if counts_copies(&entry.info, part) {
            columns.push(KEPT_COLUMN.to_owned());
        }
        let slot = entry.slot;
        let n = self.copy_rows(tx, (slot, part), &columns, query, done == 0)?;
        let entry = self.entry_mut(table)?;
        match part {
            Part::Deleted => entry.deleted += n,
            Part::Inserted => entry.inserted += n,
            Part::Before => entry.updated += n,
            Part::After => {}
        }
        Ok(n)
    }

    /// Runs `query` into snapshot `name`: a new table for the first rows,
    /// more rows into it after.
    fn copy_rows(
        &mut self,
        tx: &mut dyn ApplyTx,
        (slot, part): (i64, Part),
        columns: &[String],
        query: &str,
        first: bool,
    ) -> Result<u64> {
        let name = self.names.snapshot(self.id, slot, part);
        let n = if first {
            let mut n = 0;
            for sql in self.dialect.create_snapshot(&name, columns, query) {
                n = tx.execute(&sql)?;
            }
            n
        } else {
            tx.execute(&format!("INSERT INTO {name} {query}"))?
        };
        self.count_copied(slot, part, n);
        Ok(n)
    }

    /// Notes `n` more rows in a snapshot, for the seal.
    fn count_copied(&mut self, slot: i64, part: Part, n: u64) {
        let bare = self
            .names
            .bare(&crate::db::journal::snapshot_name(self.id, slot, part));
        *self.copied.entry(bare).or_default() += n;
    }

    fn entry_mut(&mut self, table: &str) -> Result<&mut TableEntry> {
        self.tables.get_mut(table).ok_or_else(|| {
            Error::database(format!("{table} was not described in the change's entry"))
        })
    }

    /// After the statement ran: copies the updated rows of `table` as they
    /// are now, found by their locators, into the after snapshot. Returns
    /// how many were found.
    pub fn after_images(&mut self, tx: &mut dyn ApplyTx, table: &str) -> Result<u64> {
        let entry = self.entry(table)?;
        if entry.updated == 0 {
            return Ok(0);
        }
        let locator = entry.locator.exprs("t");
        if locator.is_empty() {
            return self.after_images_unlocated(tx, table);
        }
        let before = self.names.snapshot(self.id, entry.slot, Part::Before);
        let mut columns = vec!["row".to_owned()];
        let mut select = vec!["b.row AS row".to_owned()];
        let mut on = Vec::new();
        for (i, e) in locator.iter().enumerate() {
            columns.push(locator_column(i));
            select.push(format!("{e} AS {}", locator_column(i)));
            on.push(format!("{e} = b.{}", locator_column(i)));
        }
        push_data_columns(&entry.info, "t", &mut columns, &mut select);
        let query = format!(
            "SELECT {} FROM {before} AS b JOIN {} AS t ON {}",
            select.join(", "),
            entry.info.own_rows(),
            on.join(" AND ")
        );
        let slot = entry.slot;
        self.copy_rows(tx, (slot, Part::After), &columns, &query, true)
    }

    /// After-images of a table nothing locates (a Postgres table without
    /// a key): every row this transaction wrote, unpaired.
    fn after_images_unlocated(&mut self, tx: &mut dyn ApplyTx, table: &str) -> Result<u64> {
        let entry = self.entry(table)?;
        let Some(written) = self.dialect.written_by_this_transaction("t") else {
            return Ok(0);
        };
        let mut columns = vec!["row".to_owned()];
        let mut select = vec!["NULL::bigint AS row".to_owned()];
        push_data_columns(&entry.info, "t", &mut columns, &mut select);
        let query = format!(
            "SELECT {} FROM {} AS t WHERE {written}",
            select.join(", "),
            entry.info.own_rows()
        );
        let slot = entry.slot;
        self.copy_rows(tx, (slot, Part::After), &columns, &query, true)
    }

    /// Runs the operator's INSERT into `table` (`returning_all`: the same
    /// statement returning every column, for engines that capture through
    /// `RETURNING`), copying every row it inserts into the inserted
    /// snapshot; the rows of its own `RETURNING` list go to `own`, when
    /// given. Returns the rows the statement reported and those it
    /// inserted.
    pub fn execute_insert(
        &mut self,
        tx: &mut dyn ApplyTx,
        table: &str,
        statement: &str,
        returning_all: Option<&str>,
        inserted_keys: Option<crate::db::InsertedKeys<'_>>,
        own: Option<crate::db::OwnReturning<'_>>,
    ) -> Result<(crate::db::Executed, u64)> {
        let entry = self.entry(table)?;
        let position = entry.slot;
        let columns: Vec<String> = entry
            .info
            .columns
            .iter()
            .map(|c| crate::schema::quote_ident(&c.name))
            .collect();
        let updated =
            (entry.updated > 0).then(|| self.names.snapshot(self.id, position, Part::Before));
        let capture = InsertCapture {
            table: &entry.info.sql_name(),
            into: &self.names.snapshot(self.id, position, Part::Inserted),
            columns: &columns,
            locator: &entry.locator,
            updated: updated.as_deref(),
            inserted_keys,
        };
        let (executed, inserted) = tx.execute_insert(statement, returning_all, &capture, own)?;
        self.entry_mut(table)?.inserted += inserted;
        self.count_copied(position, Part::Inserted, inserted);
        Ok((executed, inserted))
    }

    /// Marks the entry as not covering every change (`--allow-uncovered`).
    pub fn set_partial(&mut self, why: &str) {
        self.partial = Some(why.to_owned());
    }

    /// Marks every approval the change consumed as used, by its request's
    /// nonce and its approver: the key of its table, so a token used
    /// before, or by a change committing at the same moment, fails this
    /// change. Every token is recorded, not just one per request.
    pub fn approvals(&mut self, tx: &mut dyn ApplyTx, approvals: &[ApprovalUse]) -> Result<()> {
        let text = |s: &str| self.dialect.literal(&Value::Text(s.to_owned()), "");
        for a in approvals {
            let used = rows(
                tx,
                &format!(
                    "SELECT change_id, used_at FROM {} WHERE nonce = {} AND principal = {}",
                    self.names.table("approvals"),
                    text(&a.nonce),
                    text(&a.principal)
                ),
            )?;
            if let Some(r) = used.first() {
                return Err(token_used(&a.principal, r));
            }
            let sql = format!(
                "INSERT INTO {} (nonce, change_id, principal, fingerprint, signed_at, used_at) VALUES ({}, {}, {}, {}, {}, {})",
                self.names.table("approvals"),
                text(&a.nonce),
                self.id,
                text(&a.principal),
                text(&a.fingerprint),
                a.signed_at,
                text(&super::now())
            );
            match tx.execute(&sql) {
                Err(e) if crate::db::is_unique_violation(&e) => {
                    return Err(Error::new(
                        ErrorKind::Approval,
                        format!(
                            "the approval by {} was used by another change at the same moment; a token is good for one change only\nNothing was applied. Ask the approver for a new token.",
                            a.principal
                        ),
                    )
                    .caused_by(e));
                }
                other => other?,
            };
        }
        Ok(())
    }

    /// Writes the change's audit record, in its transaction, after the
    /// `earlier` records the session queued about it (staged: the chain
    /// links them right after the commit, `super::audit::stage_in`).
    pub(crate) fn audit(
        &mut self,
        tx: &mut dyn ApplyTx,
        earlier: &[super::audit::Event],
        event: &str,
        operator: &str,
        target: Option<&str>,
        detail: serde_json::Value,
    ) -> Result<()> {
        let mut events = earlier.to_vec();
        events.extend(super::audit::Event::now(
            operator,
            target,
            &[(event, Some(self.id), detail)],
        )?);
        super::audit::stage_events(tx, &events)
    }

    /// For a table without a key whose rows were deleted: how many copies
    /// of each deleted row the table holds as the change leaves it
    /// ([`KEPT_COLUMN`]).
    fn count_copies_kept(&self, tx: &mut dyn ApplyTx, e: &TableEntry) -> Result<()> {
        if e.deleted == 0 || !counts_copies(&e.info, Part::Deleted) {
            return Ok(());
        }
        let (table, snap): (Vec<String>, Vec<String>) = e
            .info
            .written_columns()
            .map(|(i, c)| {
                (
                    format!("t.{}", crate::schema::quote_ident(&c.name)),
                    format!("d.{}", data_column(i)),
                )
            })
            .unzip();
        tx.execute(&format!(
            "UPDATE {} AS d SET {KEPT_COLUMN} = (SELECT count(*) FROM {} AS t WHERE {})",
            self.names.snapshot(self.id, e.slot, Part::Deleted),
            e.info.own_rows(),
            self.dialect.images_equal(&table, &snap)
        ))?;
        Ok(())
    }

    /// Completes the entry: its tables, their counts, its size. Returns
    /// its seal (`crate::db::seal`), for the change's audit record.
    pub fn finish(&mut self, tx: &mut dyn ApplyTx) -> Result<serde_json::Value> {
        let text = |s: &str| self.dialect.literal(&Value::Text(s.to_owned()), "");
        let mut snapshots = Vec::new();
        let mut row_count = 0u64;
        let mut values = Vec::with_capacity(self.tables.len());
        for e in self.tables.values() {
            self.count_copies_kept(tx, e)?;
            values.push(format!(
                "({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
                self.id,
                e.slot,
                e.info.position,
                text(&e.info.name),
                e.info
                    .schema
                    .as_deref()
                    .map_or_else(|| "NULL".to_owned(), text),
                text(&e.info.table),
                json_literal(&self.dialect, &e.info.columns)?,
                json_literal(&self.dialect, &e.info.key_columns)?,
                json_literal(&self.dialect, &e.locator)?,
                e.deleted,
                e.updated,
                e.inserted
            ));
            row_count += e.deleted + e.updated + e.inserted;
            for (part, n) in [
                (Part::Deleted, e.deleted),
                (Part::Before, e.updated),
                (Part::After, e.updated),
                (Part::Inserted, e.inserted),
            ] {
                if n > 0 {
                    snapshots.push(crate::db::journal::snapshot_name(self.id, e.slot, part));
                }
            }
        }
        // One statement each: a one-row change pays a round trip per
        // statement of its own, not per table it reached.
        if !values.is_empty() {
            tx.execute(&format!(
                "INSERT INTO {} (change_id, slot, position, name, schema_name, table_name, columns, key_columns, locator, deleted, updated, inserted) \
                 VALUES {}",
                self.names.table("change_tables"),
                values.join(", ")
            ))?;
        }
        let bytes = match self.dialect.relations_bytes_query(&self.names, &snapshots) {
            Some(q) => format!("({q})"),
            None => "0".to_owned(),
        };
        let partial = self
            .partial
            .as_deref()
            .map_or_else(|| "NULL".to_owned(), text);
        tx.execute(&format!(
            "UPDATE {} SET row_count = {row_count}, bytes = {bytes}, partial = {partial} WHERE id = {}",
            self.names.table("changes"),
            self.id
        ))?;
        crate::db::seal::seal(
            tx,
            self.id,
            self.stamp.as_deref(),
            &self.copied,
            self.tables.len(),
        )
    }
}

/// Adds the snapshot's data columns (`c1..cN`) to `columns`, and to
/// `select` the columns of `info`'s table (as `alias`) that fill them.
fn push_data_columns(
    info: &TableInfo,
    alias: &str,
    columns: &mut Vec<String>,
    select: &mut Vec<String>,
) {
    for (i, c) in info.columns.iter().enumerate() {
        columns.push(data_column(i));
        select.push(format!(
            "{alias}.{} AS {}",
            crate::schema::quote_ident(&c.name),
            data_column(i)
        ));
    }
}

/// Queries within a change's transaction.
fn tx_rows(tx: &mut dyn ApplyTx, sql: &str) -> Result<Vec<Vec<Value>>> {
    rows(tx, sql)
}

fn token_used(principal: &str, row: &[Value]) -> Error {
    let by = row
        .first()
        .and_then(Value::text)
        .map_or_else(String::new, |c| format!(" by change {c}"));
    let when = row
        .get(1)
        .and_then(Value::text)
        .map_or_else(String::new, |w| format!(" at {w}"));
    Error::new(
        ErrorKind::Approval,
        format!(
            "the approval by {principal} was already used{by}{when}; a token is good for one change only\nAsk the approver for a new token."
        ),
    )
}

fn already_undone(id: i64, e: Error) -> Error {
    Error::new(
        ErrorKind::Input,
        format!("change {id} was undone by another change at the same moment; nothing was changed"),
    )
    .caused_by(e)
}

/// A part of an entry stored as JSON text, as a literal.
fn json_literal<T: serde::Serialize>(dialect: &Dialect, v: &T) -> Result<String> {
    let json = serde_json::to_string(v)
        .map_err(|e| Error::database(format!("cannot encode the change's entry: {e}")))?;
    Ok(dialect.literal(&Value::Text(json), ""))
}
