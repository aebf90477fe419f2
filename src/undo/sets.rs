//! The set-based SQL of an undo for one table: which rows conflict, and the
//! statements that put the rest back, all joining the table with the
//! change's snapshots on the server.
//!
//! A snapshot's data columns are `c1..cN` (the table's columns in capture
//! order); updated and inserted rows also carry their locators `l1..lk`
//! (the key, or SQLite's rowid, that finds them in the table), and updated
//! rows the `row` that pairs a before-image with its after-image.

use crate::db::dialect::Dialect;
use crate::db::journal::{
    JournalNames, KEPT_COLUMN, Part, counts_copies, data_column, kept_uncounted, locator_column,
};
use crate::journal::TableEntry;
use crate::schema::{ColumnInfo, Locator, quote_ident};

/// One table of a change, with its snapshots.
pub(super) struct TableSets<'a> {
    pub entry: &'a TableEntry,
    pub dialect: Dialect,
    names: JournalNames,
    prefix: &'a str,
}

impl<'a> TableSets<'a> {
    pub fn new(entry: &'a TableEntry, dialect: Dialect, prefix: &'a str) -> TableSets<'a> {
        TableSets {
            entry,
            dialect,
            names: JournalNames::new(dialect.0),
            prefix,
        }
    }

    /// The snapshot of `part`.
    pub fn snap(&self, part: Part) -> String {
        self.names.staged(self.prefix, self.entry.slot, part)
    }

    /// The table where a statement reads, updates or deletes its rows:
    /// its own rows only ([`crate::schema::TableInfo::own_rows`]).
    pub fn table(&self) -> String {
        self.entry.info.own_rows()
    }

    /// The table an `INSERT` names.
    fn insert_into(&self) -> String {
        self.entry.info.sql_name()
    }

    /// Columns compared and restored: every one but the generated ones,
    /// with their positions in the snapshot.
    fn compared(&self) -> Vec<(usize, &ColumnInfo)> {
        self.entry.info.written_columns().collect()
    }

    /// `alias.col` of the table's compared columns.
    fn table_cols(&self, alias: &str) -> Vec<String> {
        self.compared()
            .iter()
            .map(|(_, c)| format!("{alias}.{}", quote_ident(&c.name)))
            .collect()
    }

    /// `alias.cN` of the snapshot's compared columns.
    fn snap_cols(&self, alias: &str) -> Vec<String> {
        self.compared()
            .iter()
            .map(|(i, _)| format!("{alias}.{}", data_column(*i)))
            .collect()
    }

    /// Whether the current row `t` still equals the image in `s`.
    pub fn unchanged(&self, t: &str, s: &str) -> String {
        self.dialect
            .images_equal(&self.table_cols(t), &self.snap_cols(s))
    }

    /// The row of `t` that the locator columns of snapshot alias `s` find.
    pub fn located(&self, t: &str, s: &str) -> Option<String> {
        let exprs = self.entry.locator.exprs(t);
        if exprs.is_empty() {
            return None;
        }
        Some(
            exprs
                .iter()
                .enumerate()
                .map(|(i, e)| format!("{e} = {s}.{}", locator_column(i)))
                .collect::<Vec<_>>()
                .join(" AND "),
        )
    }

    /// The positions of the key columns among the data columns.
    fn key_positions(&self) -> Vec<usize> {
        let info = &self.entry.info;
        info.key_columns
            .iter()
            .filter_map(|k| info.columns.iter().position(|c| &c.name == k))
            .collect()
    }

    /// The key values of the image in `s`, as SQL.
    pub fn key_of(&self, s: &str) -> Vec<String> {
        self.key_positions()
            .iter()
            .map(|i| format!("{s}.{}", data_column(*i)))
            .collect()
    }

    /// Whether the table has a primary key (not every column standing in
    /// for one).
    pub fn has_key(&self) -> bool {
        self.entry.info.has_primary_key()
    }

    /// Whether the key is SQLite's rowid under another name (a rowid
    /// table's `INTEGER PRIMARY KEY`), so moving the key moves the rowid.
    pub fn key_is_rowid(&self) -> bool {
        let info = &self.entry.info;
        self.entry.locator == Locator::Rowid
            && self.has_key()
            && info.key_columns.len() == 1
            && info
                .column_type(&info.key_columns[0])
                .eq_ignore_ascii_case("integer")
    }

    /// The row of `t` whose key is the image's in `s`. A table without a
    /// primary key stands its every column in for one: a row equal to the
    /// image, NULLs and types without an equality operator included.
    fn same_key(&self, t: &str, s: &str) -> String {
        let cols: Vec<String> = self
            .entry
            .info
            .key_columns
            .iter()
            .map(|k| format!("{t}.{}", quote_ident(k)))
            .collect();
        if !self.has_key() {
            return self.dialect.images_equal(&cols, &self.key_of(s));
        }
        cols.iter()
            .zip(self.key_of(s))
            .map(|(c, v)| format!("{c} = {v}"))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// For a table whose key is one column: a query of the deleted rows'
    /// keys, as `k`, and the key column, quoted.
    pub fn deleted_keys(&self) -> Option<(String, String)> {
        match (
            self.key_of("d").as_slice(),
            self.entry.info.key_columns.as_slice(),
        ) {
            ([key], [column]) => Some((
                format!("SELECT {key} AS k FROM {} AS d", self.snap(Part::Deleted)),
                quote_ident(column),
            )),
            _ => None,
        }
    }

    /// Deleted rows whose key is taken again (for a table without a key,
    /// more copies of the row are there than the change left): their keys.
    pub fn taken(&self) -> Option<String> {
        if self.entry.deleted == 0 {
            return None;
        }
        Some(format!(
            "SELECT {} FROM {} AS d WHERE {}",
            self.key_of("d").join(", "),
            self.snap(Part::Deleted),
            self.back_again()
        ))
    }

    /// A deleted row `d` of the table is back: its key is taken, or, for
    /// a table without a key, it has more copies than the change left.
    fn back_again(&self) -> String {
        if counts_copies(&self.entry.info, Part::Deleted) {
            return format!(
                "(SELECT count(*) FROM {} AS t WHERE {}) > d.{KEPT_COLUMN}",
                self.table(),
                self.same_key("t", "d")
            );
        }
        format!(
            "EXISTS (SELECT 1 FROM {} AS t WHERE {})",
            self.table(),
            self.same_key("t", "d")
        )
    }

    /// Rows of `part` (after-images of updated rows, or inserted rows)
    /// that are gone or changed: their keys, whether the row is there, and
    /// per compared column whether it differs.
    pub fn changed(&self, part: Part) -> Option<String> {
        let located = self.located("t", "s")?;
        let flags: Vec<String> = self
            .table_cols("t")
            .iter()
            .zip(self.snap_cols("s"))
            .map(|(t, s)| {
                format!(
                    "CASE WHEN {} THEN 0 ELSE 1 END",
                    self.dialect.images_equal(std::slice::from_ref(t), &[s])
                )
            })
            .collect();
        let mut select = self.key_of("s");
        select.push(format!(
            "CASE WHEN {} IS NULL THEN 0 ELSE 1 END",
            self.entry.locator.exprs("t").join(" IS NULL AND ")
        ));
        select.extend(flags);
        Some(format!(
            "SELECT {} FROM {} AS s LEFT JOIN {} AS t ON {located} WHERE {} IS NULL OR NOT {}",
            select.join(", "),
            self.snap(part),
            self.table(),
            self.entry.locator.exprs("t").join(" IS NULL AND "),
            self.unchanged("t", "s")
        ))
    }

    /// The names of the compared columns, in the order [`Self::changed`]
    /// flags them.
    pub fn compared_names(&self) -> Vec<String> {
        self.compared()
            .iter()
            .map(|(_, c)| c.name.clone())
            .collect()
    }

    /// How a current row `t` is the inserted row `i`, still as inserted.
    fn still_inserted(&self) -> String {
        match self.located("t", "i") {
            Some(l) => format!("{l} AND {}", self.unchanged("t", "i")),
            None => self.unchanged("t", "i"),
        }
    }

    /// Deletes the inserted rows that are still as inserted. Where no
    /// locator tells copies of a row apart, as many copies as were
    /// inserted, not every copy there is.
    ///
    /// Located rows are chosen from the snapshot's side, each found by
    /// the table's key (or rowid), and deleted by their locators: a
    /// `WHERE EXISTS` correlated on the table read all of it on both
    /// engines (Postgres cannot turn a semi-join that also compares the
    /// images into index probes; SQLite runs it for every row of the
    /// table), 0.6 s to undo a one-row insert into 3M rows.
    pub fn delete_inserted(&self) -> String {
        let current = "c";
        let Some(located) = self.located(current, "i") else {
            return self.dialect.delete_copies(
                &self.table(),
                &self.snap(Part::Inserted),
                (&self.table_cols("t"), &self.snap_cols("i")),
                &self.still_inserted(),
            );
        };
        format!(
            "DELETE FROM {table} AS t WHERE ({}) IN (SELECT {} FROM {} AS i JOIN {table} AS {current} ON {located} WHERE {})",
            self.entry.locator.exprs("t").join(", "),
            self.entry.locator.exprs(current).join(", "),
            self.snap(Part::Inserted),
            self.unchanged(current, "i"),
            table = self.table(),
        )
    }

    /// The inserted rows [`Self::delete_inserted`] removes, in a
    /// snapshot's data columns: the undo's own deleted rows.
    pub fn inserted_still_there(&self) -> String {
        let mut cols = self.all_snap_cols("i");
        if counts_copies(&self.entry.info, Part::Deleted) {
            cols.push(kept_uncounted());
        }
        format!(
            "SELECT {} FROM {} AS i WHERE EXISTS (SELECT 1 FROM {} AS t WHERE {})",
            cols.join(", "),
            self.snap(Part::Inserted),
            self.table(),
            self.still_inserted()
        )
    }

    /// Every data column of snapshot alias `s`, named as a snapshot's.
    fn all_snap_cols(&self, s: &str) -> Vec<String> {
        (0..self.entry.info.columns.len())
            .map(|i| format!("{s}.{} AS {}", data_column(i), data_column(i)))
            .collect()
    }

    /// Inserts the deleted rows again (those whose key is free).
    ///
    /// `skip_back`: leave out rows that are back already (a forced undo's
    /// conflicts); without conflicts there are none, and the statement
    /// fails on any row that is.
    pub fn reinsert(&self, skip_back: bool) -> String {
        let cols: Vec<String> = self
            .compared()
            .iter()
            .map(|(_, c)| quote_ident(&c.name))
            .collect();
        let free = if skip_back {
            format!(" WHERE NOT ({})", self.back_again())
        } else {
            String::new()
        };
        format!(
            "INSERT{} INTO {} ({}){} SELECT {} FROM {} AS d{free}",
            self.dialect.or_abort(),
            self.insert_into(),
            cols.join(", "),
            self.dialect.overriding(&self.entry.info),
            self.snap_cols("d").join(", "),
            self.snap(Part::Deleted)
        )
    }

    /// The updated rows the undo reverts (those still equal to their
    /// after-images), as the undo's own before-images: `row`, where each
    /// will be once reverted (`l1..`), the row as it is.
    pub fn reverted_before(&self) -> Option<String> {
        let located = self.located("t", "a")?;
        let after_revert: Vec<String> = match &self.entry.locator {
            // An update keeps the rowid, unless the rowid is the key it
            // moves back.
            Locator::Rowid if !self.key_is_rowid() => vec!["a.l1".to_owned()],
            _ => self.key_of("b"),
        };
        let mut select = vec!["a.row AS row".to_owned()];
        select.extend(
            after_revert
                .iter()
                .enumerate()
                .map(|(i, e)| format!("{e} AS {}", locator_column(i))),
        );
        select.extend(self.all_snap_cols("a"));
        Some(format!(
            "SELECT {} FROM {} AS a JOIN {} AS b ON b.row = a.row JOIN {} AS t ON {located} WHERE {}",
            select.join(", "),
            self.snap(Part::After),
            self.snap(Part::Before),
            self.table(),
            self.unchanged("t", "a")
        ))
    }

    /// For updated rows no locator finds again (a PostgreSQL table without
    /// a key): how many after-images the table no longer holds a copy of,
    /// rows matched by their values as multisets. None missing: the undo
    /// swaps every after-image for its before-image
    /// ([`Self::delete_after_copies`], [`Self::insert_before`]).
    pub fn missing_after_copies(&self) -> String {
        self.dialect.copies_beyond(
            (&self.snap(Part::After), &self.snap_cols("x")),
            (&self.table(), &self.table_cols("y")),
        )
    }

    /// The after-images a swap deletes, as the undo's own deleted rows.
    pub fn after_copies(&self) -> String {
        let mut cols = self.all_snap_cols("a");
        cols.push(kept_uncounted());
        format!(
            "SELECT {} FROM {} AS a",
            cols.join(", "),
            self.snap(Part::After)
        )
    }

    /// Deletes one copy of the row for each after-image: identical rows are
    /// interchangeable, so which copies is no matter, but not how many.
    pub fn delete_after_copies(&self) -> String {
        self.dialect.delete_copies(
            &self.table(),
            &self.snap(Part::After),
            (&self.table_cols("t"), &self.snap_cols("i")),
            &self.unchanged("t", "i"),
        )
    }

    /// Inserts the before-images of the updated rows.
    pub fn insert_before(&self) -> String {
        let cols: Vec<String> = self
            .compared()
            .iter()
            .map(|(_, c)| quote_ident(&c.name))
            .collect();
        format!(
            "INSERT INTO {} ({}){} SELECT {} FROM {} AS b",
            self.insert_into(),
            cols.join(", "),
            self.dialect.overriding(&self.entry.info),
            self.snap_cols("b").join(", "),
            self.snap(Part::Before)
        )
    }

    /// How many of the undo's own inserted rows (`ours`) are not, as a
    /// multiset, rows the change took away (its before-images, and its
    /// deleted rows where it deleted some too): rows a trigger bent.
    pub fn inserted_beyond_before(&self, ours: &str) -> String {
        let data: Vec<String> = self
            .compared()
            .iter()
            .map(|(i, _)| data_column(*i))
            .collect();
        let mut parts = vec![format!(
            "SELECT {} FROM {}",
            data.join(", "),
            self.snap(Part::Before)
        )];
        if self.entry.deleted > 0 {
            parts.push(format!(
                "SELECT {} FROM {}",
                data.join(", "),
                self.snap(Part::Deleted)
            ));
        }
        let taken = format!("({})", parts.join(" UNION ALL "));
        self.dialect
            .copies_beyond((ours, &self.snap_cols("x")), (&taken, &self.snap_cols("y")))
    }

    /// Gives the rows of `chosen` (the undo's own before snapshot: the
    /// updated rows it reverts, by `row`) their before-images back, found
    /// where their after-images are. Identity ALWAYS columns cannot be
    /// assigned; an update never changed them.
    pub fn revert(&self, chosen: &str) -> Option<String> {
        let located = self.located("t", "a")?;
        let sets: Vec<String> = self
            .compared()
            .iter()
            .filter(|(_, c)| !c.identity_always)
            .map(|(i, c)| format!("{} = b.{}", quote_ident(&c.name), data_column(*i)))
            .collect();
        if sets.is_empty() {
            return None;
        }
        Some(format!(
            "UPDATE{} {} AS t SET {} FROM {chosen} AS u JOIN {} AS a ON a.row = u.row JOIN {} AS b ON b.row = u.row WHERE {located}",
            self.dialect.or_abort(),
            self.table(),
            sets.join(", "),
            self.snap(Part::After),
            self.snap(Part::Before),
        ))
    }
}
