//! `dbguard journal import FILE [DB]`: the entries of a journal file an
//! older release kept beside the target (`super::file`), brought into the
//! target's journal, so changes made before the journal moved into the
//! database can still be listed, shown and undone, by anyone.
//!
//! Only what happened in this database comes in: changes the old protocol
//! marked committed, made on the same engine, in the same database (name,
//! or file path) and, where both are known, on the same Postgres cluster.
//! Everything else is listed as skipped, with why. Schema changes are
//! skipped too: their entries held no rows an undo could restore.
//!
//! Each change becomes a new entry with the old one's operator, time,
//! statement, kind, digest, impact and partial note; `undo_of` points to
//! the new id of the change it undid. The entry's `replay_of` says where
//! it came from: `import:{FILE_ID}#{ID}`, where `FILE_ID` identifies the
//! file whatever its name (the start of its first audit record's hash) and
//! `ID` is the change's id in it. That is how a second import of the same
//! file recognises what it already brought in and leaves it alone.
//!
//! Rows go into snapshot tables like a change's own: on Postgres typed as
//! the target table's columns (the text the old file holds is read in
//! those types, with the output settings pinned as when it was written,
//! the session's search path aside, which an older release did not pin);
//! on SQLite without declared types, each value in its storage class. A
//! row is found again by its primary key; rows of a table without one
//! cannot be located (their updates show as conflicts when undone). The
//! nonces of the approvals a change used come along, so its tokens stay
//! used. One transaction imports the whole file, with one `import` audit
//! record that also carries the seal of each change it brought
//! (`crate::db::seal`); the file itself is only read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::file::{Change as OldChange, OldApproval, OldJournal, Status};
use super::schema::{int, rows};
use super::trail::Trail;
use crate::db::dialect::Dialect;
use crate::db::journal::{JournalNames, Part, snapshot_name};
use crate::db::{ApplyTx, Connection, GuardOptions, TargetIdentity, Value};
use crate::error::{Error, Result};
use crate::journal::Op;
use crate::model::ChangeKind;
use crate::schema::{Locator, TableInfo};

/// Rows per `INSERT` into a snapshot.
const BATCH: usize = 500;

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct Imported {
    pub file: PathBuf,
    /// Old id and new id of each change imported now.
    pub changes: Vec<(i64, i64)>,
    /// Old id and new id of each change an earlier import brought in.
    pub already: Vec<(i64, i64)>,
    /// Old id of each change left out, and why.
    pub skipped: Vec<(i64, String)>,
}

impl Imported {
    /// For the operator.
    pub fn text(&self) -> String {
        let mut s = format!(
            "imported {} change(s) from {}\n",
            self.changes.len(),
            self.file.display()
        );
        for (old, new) in &self.changes {
            s.push_str(&format!("  change {old} of the file is now change {new}\n"));
        }
        if !self.already.is_empty() {
            s.push_str(&format!(
                "{} change(s) were imported before and were left as they are:\n",
                self.already.len()
            ));
            for (old, new) in &self.already {
                s.push_str(&format!("  change {old} of the file is change {new}\n"));
            }
        }
        if !self.skipped.is_empty() {
            s.push_str(&format!("skipped {} change(s):\n", self.skipped.len()));
            for (old, why) in &self.skipped {
                s.push_str(&format!("  change {old}: {why}\n"));
            }
        }
        s
    }

    fn audit_detail(&self, file_id: &str, schema: i64) -> serde_json::Value {
        let skipped: Vec<serde_json::Value> = self
            .skipped
            .iter()
            .map(|(id, why)| serde_json::json!({"id": id, "reason": why}))
            .collect();
        serde_json::json!({
            "file": self.file.display().to_string(),
            "file_id": file_id,
            "schema": schema,
            "imported": self.changes,
            "already": self.already,
            "skipped": skipped,
        })
    }
}

/// Imports the entries of `file` made in the database `conn` talks to.
pub fn import(
    conn: &mut Connection,
    trail: &mut Trail,
    operator: &str,
    file: &Path,
) -> Result<Imported> {
    let old = OldJournal::open(file)?;
    if let Some((head, records)) = old.audit_trail()?
        && let Some((id, why)) = super::audit::verify_rows(head, &records)?
    {
        return Err(Error::refused(format!(
            "nothing was imported from {}: its audit trail is broken at record {id} ({why}), so the file was changed after dbguard wrote it and its entries cannot be trusted",
            file.display()
        )));
    }
    let changes = old.list()?;
    let identity = conn.identity().clone();
    let mut report = Imported {
        file: std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf()),
        ..Imported::default()
    };
    let Some(file_id) = old.identity()? else {
        return Ok(report);
    };
    let reasons: Vec<Option<String>> = changes.iter().map(|c| skip_reason(c, &identity)).collect();
    if reasons.iter().all(Option::is_some) {
        return Err(nothing_here(file, &identity, &changes, &reasons));
    }
    // An import of many rows is one transaction: each statement may take
    // its time.
    let guard = GuardOptions {
        lock_timeout: std::time::Duration::from_secs(10),
        statement_timeout: std::time::Duration::from_secs(3600),
    };
    let record = conn.guarded(&guard, |tx| {
        super::schema::require_in(tx, &identity.display)?;
        for pin in Dialect(tx.engine()).pin_value_settings(false) {
            tx.execute(&pin)?;
        }
        let mut ids = BTreeMap::new();
        let mut seals = serde_json::Map::new();
        let stamp = import_stamp(tx)?;
        for (c, why) in changes.iter().zip(&reasons) {
            if let Some(why) = why {
                report.skipped.push((c.id, why.clone()));
                continue;
            }
            let tag = format!("import:{file_id}#{}", c.id);
            if let Some(new) = imported_as(tx, &tag)? {
                ids.insert(c.id, new);
                report.already.push((c.id, new));
                continue;
            }
            let (new, copied, tables) = Entry {
                tx: &mut *tx,
                old: &old,
                identity: &identity,
            }
            .import(c, &tag, &ids)?;
            // Sealed as a change of this transaction: its rows are the
            // import's.
            let seal = crate::db::seal::seal(tx, new, stamp.as_deref(), &copied, tables)?;
            seals.insert(new.to_string(), seal);
            ids.insert(c.id, new);
            report.changes.push((c.id, new));
        }
        let mut detail = report.audit_detail(&file_id, old.version());
        detail["seals"] = serde_json::Value::Object(seals);
        super::audit::stage_in(
            tx,
            operator,
            Some(&identity.display),
            &[("import", None, detail)],
        )
    });
    record.map_err(|e| {
        e.context(format!(
            "nothing was imported from {} (the file was not changed)",
            file.display()
        ))
    })?;
    trail.flush(conn)?;
    Ok(report)
}

/// What the engine stamps the import's rows with (`crate::db::seal`).
fn import_stamp(tx: &mut dyn ApplyTx) -> Result<Option<String>> {
    let expr = crate::db::seal::stamp_expr(tx.engine());
    Ok(rows(tx, &format!("SELECT {expr}"))?
        .first()
        .and_then(|r| r.first())
        .and_then(Value::text))
}

/// The error for a file none of whose changes can come into this
/// database: each one's reason.
fn nothing_here(
    file: &Path,
    identity: &TargetIdentity,
    changes: &[OldChange],
    reasons: &[Option<String>],
) -> Error {
    let mut why = String::new();
    for (c, r) in changes.iter().zip(reasons).take(20) {
        why.push_str(&format!(
            "\n  change {}: {}",
            c.id,
            r.as_deref().unwrap_or("")
        ));
    }
    if changes.len() > 20 {
        why.push_str(&format!("\n  ... and {} more", changes.len() - 20));
    }
    Error::input(format!(
        "nothing was imported from {}: none of its {} change(s) can come into {} ({}){why}\nImport a journal file into the database its changes were made in.",
        file.display(),
        changes.len(),
        identity.display,
        identity.database
    ))
}

/// Why change `c` of the file is not imported into the database
/// `identity` names, if it is not.
fn skip_reason(c: &OldChange, identity: &TargetIdentity) -> Option<String> {
    match c.status {
        Status::Committed => {}
        Status::Aborted => return Some("it never committed (aborted)".to_owned()),
        Status::Prepared => {
            return Some(
                "the old release never confirmed that it committed (prepared); check the rows by hand"
                    .to_owned(),
            );
        }
    }
    if c.engine != identity.engine {
        return Some(format!(
            "made in a {} database, and this one is {}",
            c.engine.name(),
            identity.engine.name()
        ));
    }
    if !same_database(&c.target_database, identity) {
        let via = if c.target == c.target_database {
            String::new()
        } else {
            format!(" ({})", c.target)
        };
        return Some(format!(
            "made in {}{via}, not in this database ({})",
            c.target_database, identity.database
        ));
    }
    if let (Some(a), Some(b)) = (&c.system_identifier, &identity.system_identifier)
        && a != b
    {
        return Some(format!(
            "made on the cluster with system identifier {a}; this database is on cluster {b} (a database of the same name elsewhere)"
        ));
    }
    if c.kind == ChangeKind::Ddl {
        return Some("a schema change: its entry holds no rows an undo could restore".to_owned());
    }
    None
}

/// Whether `database`, as the file names it, is the database `identity`
/// names: the same name on a server, the same file (however the path was
/// written) for a database file.
fn same_database(database: &str, identity: &TargetIdentity) -> bool {
    if !identity.is_file() {
        return database == identity.database;
    }
    let canonical = std::fs::canonicalize(database)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| database.to_owned());
    canonical == identity.database
}

/// The change an earlier import of the same file made of the one `tag`
/// names.
fn imported_as(tx: &mut dyn ApplyTx, tag: &str) -> Result<Option<i64>> {
    let names = JournalNames::new(tx.engine());
    let lit = Dialect(tx.engine()).literal(&Value::Text(tag.to_owned()), "");
    let found = rows(
        tx,
        &format!(
            "SELECT id FROM {} WHERE replay_of = {lit} ORDER BY id LIMIT 1",
            names.table("changes")
        ),
    )?;
    found.first().map(|r| int(r.first())).transpose()
}

/// Writes one change of the file into the target's journal.
struct Entry<'a> {
    tx: &'a mut dyn ApplyTx,
    old: &'a OldJournal,
    identity: &'a TargetIdentity,
}

impl Entry<'_> {
    /// The change `c` as a new entry tagged `tag`; `ids` maps the file's
    /// ids to the target's. Returns its id, the rows each of its snapshots
    /// got (by bare name) and how many tables it describes, for its seal.
    fn import(
        mut self,
        c: &OldChange,
        tag: &str,
        ids: &BTreeMap<i64, i64>,
    ) -> Result<(i64, BTreeMap<String, u64>, usize)> {
        let undo_of = match c.undo_of.and_then(|o| ids.get(&o).copied()) {
            Some(o) if !self.undone(o)? => Some(o),
            _ => None,
        };
        let id = self.entry(c, tag, undo_of)?;
        let mut total = 0;
        let mut snapshots = Vec::new();
        let mut copied = BTreeMap::new();
        let names = JournalNames::new(self.tx.engine());
        let tables = self.old.tables(c.id)?;
        for (slot, info) in tables.iter().enumerate() {
            let slot = slot as i64 + 1;
            let counts = self.table(c.id, id, slot, info)?;
            // An updated row counts once, though it has two images.
            total += counts[0] + counts[1] + counts[3];
            for (part, n) in Part::ALL.into_iter().zip(counts) {
                if n > 0 {
                    snapshots.push(snapshot_name(id, slot, part));
                    copied.insert(names.bare(&snapshot_name(id, slot, part)), n);
                }
            }
        }
        for a in self.old.approvals(c.id)? {
            self.approval(id, c, &a)?;
        }
        self.finish(id, total, &snapshots)?;
        Ok((id, copied, tables.len()))
    }

    fn lit(&self, s: &str) -> String {
        Dialect(self.tx.engine()).literal(&Value::Text(s.to_owned()), "")
    }

    fn opt(&self, s: Option<&str>) -> String {
        s.map_or_else(|| "NULL".to_owned(), |s| self.lit(s))
    }

    /// Whether change `id` of the target already has its undo.
    fn undone(&mut self, id: i64) -> Result<bool> {
        let names = JournalNames::new(self.tx.engine());
        let found = rows(
            self.tx,
            &format!(
                "SELECT count(*) FROM {} WHERE undo_of = {id}",
                names.table("changes")
            ),
        )?;
        Ok(int(found.first().and_then(|r| r.first()))? > 0)
    }

    /// The entry itself.
    fn entry(&mut self, c: &OldChange, tag: &str, undo_of: Option<i64>) -> Result<i64> {
        let names = JournalNames::new(self.tx.engine());
        let system = self
            .identity
            .system_identifier
            .as_deref()
            .or(c.system_identifier.as_deref());
        let sql = format!(
            "INSERT INTO {} (created_at, operator, target, database, system_identifier, statement, kind, digest, impact, undo_of, replay_of, partial) \
             VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}) RETURNING id",
            names.table("changes"),
            self.lit(&c.created_at),
            self.lit(&c.operator),
            self.lit(&c.target),
            self.lit(&self.identity.database),
            self.opt(system),
            self.lit(&c.statement),
            self.lit(c.kind.name()),
            self.lit(&c.digest),
            self.lit(&c.impact),
            undo_of.map_or_else(|| "NULL".to_owned(), |i| i.to_string()),
            self.lit(tag),
            self.opt(c.partial.as_deref()),
        );
        let found = rows(self.tx, &sql)?;
        int(found.first().and_then(|r| r.first()))
    }

    /// One table of change `old_id` as table `slot` of change `id`: its
    /// rows into snapshots, its description into `change_tables`.
    /// Returns the rows of each part, in [`Part::ALL`]'s order.
    fn table(&mut self, old_id: i64, id: i64, slot: i64, info: &TableInfo) -> Result<[u64; 4]> {
        let locator = if info.has_primary_key() {
            Locator::Key(info.key_columns.clone())
        } else {
            Locator::None
        };
        let mut parts = Parts::new(id, slot, info, &locator);
        for op in [Op::Delete, Op::Update, Op::Insert] {
            let mut n = 0u64;
            let tx = &mut *self.tx;
            self.old.for_each_row(old_id, info, op, &mut |row| {
                n += 1;
                parts.add(tx, op, n, row.before, row.after)
            })?;
        }
        let counts = parts.finish(self.tx)?;
        let names = JournalNames::new(self.tx.engine());
        let sql = format!(
            "INSERT INTO {} (change_id, slot, position, name, schema_name, table_name, columns, key_columns, locator, deleted, updated, inserted) \
             VALUES ({id}, {slot}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
            names.table("change_tables"),
            info.position,
            self.lit(&info.name),
            self.opt(info.schema.as_deref()),
            self.lit(&info.table),
            self.lit(&to_json(&info.columns)?),
            self.lit(&to_json(&info.key_columns)?),
            self.lit(&to_json(&locator)?),
            counts[0],
            counts[1],
            counts[3],
        );
        self.tx.execute(&sql)?;
        Ok(counts)
    }

    /// An approval change `c` used, as used by change `id`: its nonce
    /// stays burned. One already recorded in the target is left as it is.
    fn approval(&mut self, id: i64, c: &OldChange, a: &OldApproval) -> Result<()> {
        let names = JournalNames::new(self.tx.engine());
        let (nonce, principal) = (self.lit(&a.nonce), self.lit(&a.principal));
        let found = rows(
            self.tx,
            &format!(
                "SELECT count(*) FROM {} WHERE nonce = {nonce} AND principal = {principal}",
                names.table("approvals")
            ),
        )?;
        if int(found.first().and_then(|r| r.first()))? > 0 {
            return Ok(());
        }
        let sql = format!(
            "INSERT INTO {} (nonce, change_id, principal, fingerprint, signed_at, used_at) VALUES ({nonce}, {id}, {principal}, {}, {}, {})",
            names.table("approvals"),
            self.lit(&a.fingerprint),
            a.signed_at
                .map_or_else(|| "NULL".to_owned(), |t| t.to_string()),
            self.lit(a.used_at.as_deref().unwrap_or(&c.created_at)),
        );
        self.tx.execute(&sql)?;
        Ok(())
    }

    /// Completes the entry: its row count and the size of its snapshots.
    fn finish(&mut self, id: i64, total: u64, snapshots: &[String]) -> Result<()> {
        let names = JournalNames::new(self.tx.engine());
        let bytes = match Dialect(self.tx.engine()).relations_bytes_query(&names, snapshots) {
            Some(q) => int(rows(self.tx, &q)?.first().and_then(|r| r.first()))?,
            None => 0,
        };
        self.tx.execute(&format!(
            "UPDATE {} SET row_count = {total}, bytes = {bytes} WHERE id = {id}",
            names.table("changes")
        ))?;
        Ok(())
    }
}

/// A part of an entry stored as JSON text.
fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v)
        .map_err(|e| Error::database(format!("cannot encode the imported entry: {e}")))
}

/// The snapshots of one table of an imported change, each made when its
/// first row comes and filled in batches.
struct Parts<'a> {
    id: i64,
    slot: i64,
    info: &'a TableInfo,
    locator: &'a Locator,
    /// In [`Part::ALL`]'s order.
    writers: [Writer; 4],
}

/// One snapshot being written.
#[derive(Default)]
struct Writer {
    /// Its name and columns, once made.
    made: Option<(String, Vec<String>)>,
    batch: Vec<Vec<Value>>,
    rows: u64,
}

impl<'a> Parts<'a> {
    fn new(id: i64, slot: i64, info: &'a TableInfo, locator: &'a Locator) -> Parts<'a> {
        Parts {
            id,
            slot,
            info,
            locator,
            writers: Default::default(),
        }
    }

    /// Adds the `n`th row of `op`: a deleted row's before-image, an
    /// updated row's two images (paired by `n`, found by the key of its
    /// after-image), an inserted row.
    fn add(
        &mut self,
        tx: &mut dyn ApplyTx,
        op: Op,
        n: u64,
        before: Option<Vec<Value>>,
        after: Option<Vec<Value>>,
    ) -> Result<()> {
        let image = |v: Option<Vec<Value>>, what: &str| -> Result<Vec<Value>> {
            match v {
                Some(v) if v.len() == self.info.columns.len() => Ok(v),
                Some(v) => Err(Error::database(format!(
                    "{} row of {} has {} values for {} columns; the journal file is damaged",
                    op.name(),
                    self.info.name,
                    v.len(),
                    self.info.columns.len()
                ))),
                None => Err(Error::database(format!(
                    "{} row of {} has no {what}; the journal file is damaged",
                    op.name(),
                    self.info.name
                ))),
            }
        };
        match op {
            Op::Delete => {
                let mut row = image(before, "before-image")?;
                if crate::db::journal::counts_copies(self.info, Part::Deleted) {
                    // The old journal never counted the copies a change
                    // left: any copy there now stops the undo, as it did.
                    row.push(Value::Integer(0));
                }
                self.push(tx, Part::Deleted, row)
            }
            Op::Update => {
                let (before, after) =
                    (image(before, "before-image")?, image(after, "after-image")?);
                let head = self.head(Some(n), &after);
                self.push(tx, Part::Before, [head.clone(), before].concat())?;
                self.push(tx, Part::After, [head, after].concat())
            }
            Op::Insert => {
                let after = image(after, "after-image")?;
                let head = self.head(None, &after);
                self.push(tx, Part::Inserted, [head, after].concat())
            }
        }
    }

    /// What precedes a row's data in its snapshot: the pairing number of
    /// an updated row, then the values that find it (its key).
    fn head(&self, row: Option<u64>, image: &[Value]) -> Vec<Value> {
        let mut head: Vec<Value> = row.map(|n| Value::Integer(n as i64)).into_iter().collect();
        if let Locator::Key(_) = self.locator {
            head.extend(self.info.key_of(image));
        }
        head
    }

    fn push(&mut self, tx: &mut dyn ApplyTx, part: Part, row: Vec<Value>) -> Result<()> {
        let i = part_index(part);
        if self.writers[i].made.is_none() {
            let names = JournalNames::new(tx.engine());
            let name = names.snapshot(self.id, self.slot, part);
            let (create, columns) =
                Dialect(tx.engine()).create_staging(&name, self.info, self.locator, part);
            for sql in create {
                tx.execute(&sql)?;
            }
            self.writers[i].made = Some((name, columns));
        }
        let w = &mut self.writers[i];
        w.batch.push(row);
        if w.batch.len() >= BATCH {
            w.flush(tx)?;
        }
        Ok(())
    }

    /// Writes what is left; the rows of each part, in [`Part::ALL`]'s order.
    fn finish(mut self, tx: &mut dyn ApplyTx) -> Result<[u64; 4]> {
        let mut counts = [0; 4];
        for (w, n) in self.writers.iter_mut().zip(counts.iter_mut()) {
            w.flush(tx)?;
            *n = w.rows;
        }
        Ok(counts)
    }
}

impl Writer {
    fn flush(&mut self, tx: &mut dyn ApplyTx) -> Result<()> {
        let Some((name, columns)) = &self.made else {
            return Ok(());
        };
        if self.batch.is_empty() {
            return Ok(());
        }
        let dialect = Dialect(tx.engine());
        self.rows += tx.execute(&dialect.insert_values(name, columns, &self.batch))?;
        self.batch.clear();
        Ok(())
    }
}

fn part_index(part: Part) -> usize {
    Part::ALL.iter().position(|p| *p == part).unwrap_or(0)
}
