//! `undo replay`: the undo of a change made in one database, run in
//! another (a staging copy, a restored backup).
//!
//! An undo reads a change's rows from its snapshots in the journal of the
//! database it runs in. For a replay those rows are in another database's
//! journal, maybe on another server, so they are first *staged*: copied,
//! in one transaction of the target, into staging tables of the target's
//! journal (`r{random}_{slot}_{part}`, shaped as snapshots are). The undo
//! then runs as any undo does — previewed with its conflicts, confirmed,
//! applied in the guarded path and journaled in the target, its entry
//! naming where the rows came from (`replay_of`) — and the staging tables
//! are dropped after it, whether it succeeded or not ([`Staged`]).
//!
//! Rows move as values. Postgres values are read as text with every output
//! setting pinned (`Connection::exact_read`) and written in a transaction
//! pinning the same settings into staging tables typed from the target
//! table's own columns, so each text reads back as the same value whatever
//! either session's settings are. SQLite values keep their storage class.
//!
//! A SQLite rowid means nothing in another file: where the table has a
//! primary key, staged rows are located by their key instead.

use super::{Loaded, Undo, UndoOptions};
use crate::db::dialect::Dialect;
use crate::db::journal::{
    JournalNames, KEPT_COLUMN, Part, STAGING_PREFIX, counts_copies, data_column, locator_column,
};
use crate::db::{ApplyTx, Connection, GuardOptions, PreviewTx, Value};
use crate::error::{Error, Result};
use crate::journal::{JournalState, TableEntry};
use crate::schema::Locator;

/// Rows per `INSERT` into a staging table.
const BATCH: usize = 500;

/// The staging tables of one replay, in the temporary schema of the
/// target's session, to drop once its undo has run (the session's end
/// drops them otherwise).
#[derive(Debug)]
#[must_use = "staging tables stay until drop_staging or the session's end"]
pub struct Staged {
    tables: Vec<String>,
}

impl Staged {
    /// Drops the staging tables, in a transaction of their own.
    pub fn drop_staging(self, conn: &mut Connection) -> Result<()> {
        if self.tables.is_empty() {
            return Ok(());
        }
        let guard = GuardOptions {
            lock_timeout: std::time::Duration::from_secs(10),
            statement_timeout: std::time::Duration::from_secs(60),
        };
        conn.guarded(&guard, |tx| {
            for t in &self.tables {
                tx.execute(&format!("DROP TABLE IF EXISTS {t}"))?;
            }
            Ok(())
        })
        .map_err(|e| {
            e.context(format!(
                "the replay's staging tables ({}) could not be dropped; drop them by hand",
                self.tables.join(", ")
            ))
        })
    }
}

/// Stages change `id` of `source`'s journal in `target`'s, and returns its
/// undo there with the staging tables to drop after it ran.
pub fn stage(
    source: &mut Connection,
    target: &mut Connection,
    id: i64,
    opts: UndoOptions,
) -> Result<(Undo, Staged)> {
    check_pair(source, target)?;
    let loaded = load_source(source, id)?;
    if loaded.change.meta.kind == crate::model::ChangeKind::Admin {
        return Err(Error::input(format!(
            "change {id} signalled a session, which holds no rows to replay; nothing was done"
        )));
    }
    if loaded.change.meta.kind == crate::model::ChangeKind::Policy {
        return Err(Error::input(format!(
            "change {id} pinned a policy, which holds no rows to replay; nothing was done\nTo pin that policy in {}, push it there: dbguard policy push DIR",
            target.identity().display
        )));
    }
    let prefix = fresh_prefix()?;
    let tables: Vec<TableEntry> = loaded.tables.iter().map(located_by_key).collect();
    let display = target.identity().display.clone();
    let allow_uncovered = opts.allow_uncovered;
    let staged = target.guarded(&opts.guard, |ttx| {
        crate::journal::require_in(ttx, &display)?;
        // The staging tables are DDL, which event triggers see before any
        // later check could: what they would do is judged first.
        let beyond = ttx.beyond_the_rows(&[], &[], &[])?;
        if !beyond.is_empty() && !allow_uncovered {
            return Err(Error::refused(format!(
                "creating the replay's staging tables in {display} would set off code that acts beyond the rows an undo entry can hold: {}\nNothing was run. Disable it for the replay, or rerun with --allow-uncovered.",
                beyond.join("; ")
            )));
        }
        for pin in Dialect(ttx.engine()).pin_value_settings(true) {
            ttx.execute(&pin)?;
        }
        source.exact_read(|stx| {
            let mut copy = Copy {
                source: stx,
                target: ttx,
                from: &loaded.prefix,
                to: &prefix,
                made: Vec::new(),
            };
            for (from, to) in loaded.tables.iter().zip(&tables) {
                for part in Part::ALL {
                    copy.part(from, to, part)?;
                }
            }
            Ok(copy.made)
        })
    })?;
    let origin = format!("{}#{id}", source.identity().display);
    let loaded = Loaded {
        change: loaded.change,
        tables,
        prefix,
    };
    Ok((
        Undo::replay(loaded, opts, origin),
        Staged { tables: staged },
    ))
}

/// A replay needs two databases of one engine, and two different ones: in
/// the database a change was made in, it is an undo.
fn check_pair(source: &Connection, target: &Connection) -> Result<()> {
    let (s, t) = (source.identity(), target.identity());
    if s.engine != t.engine {
        return Err(Error::input(format!(
            "cannot replay from {} ({}) into {} ({}): both databases must be of one engine",
            s.display,
            s.engine.name(),
            t.display,
            t.engine.name()
        )));
    }
    let same_cluster = s.system_identifier == t.system_identifier;
    let same_server = s.host == t.host && s.port == t.port;
    if s.database == t.database && same_cluster && (s.system_identifier.is_some() || same_server) {
        return Err(Error::input(format!(
            "{} and {} are the same database: a replay puts a change into another one\nTo undo a change where it was made, use: dbguard undo apply ID {}",
            s.display, t.display, t.display
        )));
    }
    Ok(())
}

/// Change `id` of the source's journal, with its tables.
fn load_source(source: &mut Connection, id: i64) -> Result<Loaded> {
    match crate::journal::state(source)? {
        JournalState::Current => {}
        JournalState::Missing => {
            return Err(Error::input(format!(
                "{} has no dbguard journal, so it has no change {id} to replay\nName the database the change was made in with --from.",
                source.identity().display
            )));
        }
        JournalState::Older(v) | JournalState::Newer(v) => {
            return Err(Error::refused(format!(
                "the journal in {} is version {v}; this dbguard reads version {}\nRun dbguard init {} with the dbguard that matches it, then replay again.",
                source.identity().display,
                crate::journal::JOURNAL_VERSION,
                source.identity().display
            )));
        }
    }
    let loaded = super::load_any(source, id)?;
    if loaded.change.pruned_at.is_some() {
        return Err(crate::journal::read::pruned(&loaded.change));
    }
    Ok(loaded)
}

/// [`STAGING_PREFIX`] and 12 random hex digits: staging tables no other
/// replay picks.
fn fresh_prefix() -> Result<String> {
    let mut buf = [0u8; 6];
    getrandom::fill(&mut buf).map_err(|e| {
        Error::io(format!(
            "no randomness for the replay's staging tables: {e}"
        ))
    })?;
    Ok(format!(
        "{STAGING_PREFIX}{}",
        base16ct::lower::encode_string(&buf)
    ))
}

/// The entry staged rows are read with: a table located by rowid in its
/// own file is located by its primary key, where it has one.
fn located_by_key(t: &TableEntry) -> TableEntry {
    let mut staged = t.clone();
    if t.locator == Locator::Rowid && t.info.has_primary_key() {
        staged.locator = Locator::Key(t.info.key_columns.clone());
    }
    staged
}

/// Copies snapshots from the source's journal into staging tables.
struct Copy<'a> {
    source: &'a mut dyn PreviewTx,
    target: &'a mut dyn ApplyTx,
    from: &'a str,
    to: &'a str,
    /// The staging tables made so far.
    made: Vec<String>,
}

impl Copy<'_> {
    /// Copies `part` of one table: its snapshot in the source (described
    /// by `from`) into a staging table (described by `to`).
    fn part(&mut self, from: &TableEntry, to: &TableEntry, part: Part) -> Result<()> {
        let want = match part {
            Part::Deleted => from.deleted,
            Part::Before | Part::After => from.updated,
            Part::Inserted => from.inserted,
        };
        if want == 0 {
            return Ok(());
        }
        let names = JournalNames::new(self.target.engine());
        let dest = names.staged(self.to, to.slot, part);
        let dialect = Dialect(self.target.engine());
        let (create, columns) = dialect.create_staging(&dest, &to.info, &to.locator, part);
        for sql in create {
            self.target.execute(&sql)?;
        }
        self.made.push(dest.clone());
        let read = source_select(&names, from, to, part, self.from);
        let target = &mut *self.target;
        let mut batch: Vec<Vec<Value>> = Vec::with_capacity(BATCH);
        let mut copied = 0u64;
        let mut flush = |batch: &mut Vec<Vec<Value>>| -> Result<()> {
            if !batch.is_empty() {
                copied += target.execute(&dialect.insert_values(&dest, &columns, batch))?;
                batch.clear();
            }
            Ok(())
        };
        self.source.stream(&read, &mut |row| {
            batch.push(row);
            if batch.len() >= BATCH {
                flush(&mut batch)?;
            }
            Ok(())
        })?;
        flush(&mut batch)?;
        if copied != want {
            return Err(Error::database(format!(
                "{}: the source's journal holds {copied} {} row(s) where its entry counts {want}; nothing was replayed",
                from.info.name,
                part_name(part)
            )));
        }
        Ok(())
    }
}

fn part_name(part: Part) -> &'static str {
    match part {
        Part::Deleted => "deleted",
        Part::Before => "before-image",
        Part::After => "after-image",
        Part::Inserted => "inserted",
    }
}

/// Reads `part` of the source's snapshot (entry `from`, snapshots named
/// from `prefix`, both databases of one engine) as the staging table of
/// `to` holds it: where `to` finds rows by key instead of rowid, the
/// locator is the key of the row's after-image.
fn source_select(
    names: &JournalNames,
    from: &TableEntry,
    to: &TableEntry,
    part: Part,
    prefix: &str,
) -> String {
    let snap = |p| names.staged(prefix, from.slot, p);
    let rekeyed = from.locator != to.locator;
    let key_of = |alias: &str| -> Vec<String> {
        let info = &from.info;
        info.key_columns
            .iter()
            .filter_map(|k| info.columns.iter().position(|c| &c.name == k))
            .map(|i| format!("{alias}.{}", data_column(i)))
            .collect()
    };
    let mut select = Vec::new();
    let mut join = String::new();
    if matches!(part, Part::Before | Part::After) {
        select.push("s.row".to_owned());
    }
    match part {
        Part::Deleted => {}
        _ if !rekeyed => {
            select.extend(
                (0..from.locator.exprs("s").len()).map(|i| format!("s.{}", locator_column(i))),
            );
        }
        Part::Before => {
            join = format!(" LEFT JOIN {} AS a ON a.row = s.row", snap(Part::After));
            select.extend(key_of("a"));
        }
        Part::After | Part::Inserted => select.extend(key_of("s")),
    }
    select.extend((0..from.info.columns.len()).map(|i| format!("s.{}", data_column(i))));
    if counts_copies(&to.info, part) {
        select.push(if counts_copies(&from.info, part) {
            format!("s.{KEPT_COLUMN}")
        } else {
            "0".to_owned()
        });
    }
    format!(
        "SELECT {} FROM {} AS s{join}",
        select.join(", "),
        snap(part)
    )
}
