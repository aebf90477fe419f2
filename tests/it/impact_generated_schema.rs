//! The schemas, rows and statements `impact_generated.rs` holds against
//! the engines: a random model of tables and foreign keys, rendered as DDL
//! for either engine, and random writes over it.
//!
//! Every table has the same spine, `id int PRIMARY KEY`, `k int UNIQUE`,
//! `v int`, `s text` and `UNIQUE (id, k)`, so any table can be the parent
//! of a single-column key (on `id` or `k`) or a composite one (on
//! `(id, k)`). Foreign keys add their own columns (`f0`, or `f0a`/`f0b`),
//! which are never themselves referenced: a parent key never moves because
//! of another key, except through `ON UPDATE` actions, which is what the
//! preview must follow. `int` (not `INTEGER`) keeps SQLite's rowid apart
//! from `id`, so the oracle can follow a row whose key an UPDATE changes.
//!
//! Rows are generated in memory first and satisfy every constraint, so the
//! foreign keys of PostgreSQL are added after the rows (cycles need no
//! ordering) and SQLite loads them with foreign keys off.

use std::fmt::Write as _;

use proptest::prelude::Rng as _;
use proptest::test_runner::{RngAlgorithm, TestRng};

/// A seeded source of small random choices.
pub struct Rng(TestRng);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        Rng(TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0.next_u64() % n.max(1)
    }

    /// True about once in `n` draws.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

/// What the generator may produce. Everything the preview is known to get
/// wrong is off until it is fixed, each named with its issue-16 item; the
/// test turns all of it on with `GENERATED_ALL=1`, to see the next bug.
#[derive(Clone, Copy, Debug)]
pub struct Features {
    /// CHECK constraints on `v`, which writes set (item 7).
    pub checks: bool,
    /// CHECK constraints on referencing columns, which key actions set
    /// too: the preview does not evaluate checks on rows a key action
    /// changes yet (item 7).
    pub fk_checks: bool,
    /// Foreign keys from a table to itself (a quarter of the keys). A
    /// DELETE through one is "may fail" where the order of rows decides
    /// (item 2); a row pointed at a key the statement changes away is
    /// checked where each engine checks it, and SQLite's counting of such
    /// keys is followed where it is certain and "may fail" where the order
    /// it rewrites rows in decides (`impact_own_keys.rs`).
    pub self_refs: bool,
    /// `INSERT ... ON CONFLICT DO NOTHING`.
    pub on_conflict: bool,
    /// INSERTs that leave referencing columns to their defaults.
    pub omitted_defaults: bool,
    /// `ON UPDATE SET NULL / SET DEFAULT / CASCADE` into a NOT NULL
    /// column, which a NULL parent key or no default makes fail (items 5
    /// and 7).
    pub not_null_update_actions: bool,
    /// `SET DEFAULT` actions: on update the default is not checked against
    /// the parent, on delete not for a composite key (item 5).
    pub set_default: bool,
    /// `ON DELETE SET NULL (col)` on a MATCH FULL key, which leaves a
    /// partly NULL key the engine rejects.
    pub set_only_match_full: bool,
    /// SQLite referencing columns declared `text`, `numeric`, `real`,
    /// `blob` or with no type, beside `int` (item 13).
    pub sqlite_types: bool,
    /// A RESTRICT or NO ACTION key on a table that a cascade also deletes
    /// from: whether its rows are gone in time depends on the order each
    /// engine runs its actions in (PostgreSQL's queue breadth first,
    /// SQLite's actions depth first), which the preview models (item 2,
    /// `src/impact/delete/queue.rs`).
    pub restrict_beside_cascade: bool,
    /// SQLite `WITHOUT ROWID` tables: rows are found by their primary key,
    /// which statements move. The oracle follows their rows by a `rid`
    /// column with a random default.
    pub without_rowid: bool,
    /// SQLite keys on a `text UNIQUE COLLATE NOCASE` column `n` (`'K3'`),
    /// referenced by values in another case (`'k3'`): the parent column's
    /// collation decides the match (item 11).
    pub collations: bool,
    /// PostgreSQL tables partitioned by range of `id`, with a default
    /// partition; `k` is not unique there (a unique key of a partitioned
    /// table must hold the partition key), so keys reference `id`.
    pub partitions: bool,
    /// PostgreSQL plain inheritance: a table may have a child `tN_c`
    /// (`INHERITS`) with rows of its own, its own keys (which other
    /// tables may reference) and the parent's columns, CHECKs and NOT
    /// NULLs; a write through the parent writes its rows too (item 10).
    pub inheritance: bool,
    /// A column `u UNIQUE` that references another table's `id` (ON
    /// DELETE and ON UPDATE actions of its own) and that other keys
    /// reference in turn: an action that changes it sets off theirs, a
    /// chain the preview follows to its end (item 6).
    pub chains: bool,
}

impl Features {
    pub fn all() -> Features {
        Features {
            checks: true,
            fk_checks: true,
            sqlite_types: true,
            self_refs: true,
            on_conflict: true,
            omitted_defaults: true,
            not_null_update_actions: true,
            set_default: true,
            set_only_match_full: true,
            restrict_beside_cascade: true,
            without_rowid: true,
            collations: true,
            partitions: true,
            inheritance: true,
            chains: true,
        }
    }

    /// What the preview agrees on today.
    pub fn agreed() -> Features {
        Features {
            checks: true,
            fk_checks: true,
            sqlite_types: true,
            self_refs: true,
            on_conflict: true,
            omitted_defaults: true,
            not_null_update_actions: true,
            set_default: true,
            set_only_match_full: true,
            restrict_beside_cascade: true,
            without_rowid: true,
            collations: true,
            partitions: true,
            inheritance: true,
            chains: true,
        }
    }
}

/// Which engine the schema is rendered for: some features exist on one.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Target {
    Pg,
    Lite,
}

/// The parent columns a foreign key references.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Key {
    Id,
    K,
    IdK,
    /// SQLite's NOCASE text key `n`.
    N,
    /// The `u` column, itself a reference ([`Table::u`]).
    U,
}

impl Key {
    pub fn cols(self) -> &'static [&'static str] {
        match self {
            Key::Id => &["id"],
            Key::K => &["k"],
            Key::IdK => &["id", "k"],
            Key::N => &["n"],
            Key::U => &["u"],
        }
    }
}

pub const ACTIONS: &[&str] = &[
    "CASCADE",
    "SET NULL",
    "SET DEFAULT",
    "RESTRICT",
    "NO ACTION",
];

#[derive(Clone, Debug)]
pub struct Fk {
    pub to: usize,
    pub key: Key,
    /// The referencing columns, one per column of `key`.
    pub cols: Vec<String>,
    pub on_delete: &'static str,
    pub on_update: &'static str,
    /// PostgreSQL 15's `ON DELETE SET NULL (col)`: only this column.
    pub set_only: Option<usize>,
    pub match_full: bool,
    /// `None`: not deferrable; `Some(true)`: initially deferred.
    pub deferrable: Option<bool>,
    pub not_null: bool,
    /// The column defaults, one per column; `None`: no default (NULL).
    pub default: Option<Vec<i64>>,
    /// `CHECK (col <> n)` on the first referencing column.
    pub check_ne: Option<i64>,
    /// The referencing columns' declared type: on SQLite, their affinity
    /// decides what a key value is stored as (`'3'` in a TEXT column) and
    /// how it is compared with its `int` parent.
    pub decl: &'static str,
}

#[derive(Clone, Debug)]
pub struct Row {
    pub id: i64,
    pub k: Option<i64>,
    pub v: i64,
    /// The `u` column ([`Table::u`]).
    pub u: Option<i64>,
    /// Per foreign key of the table, its column values.
    pub f: Vec<Vec<Option<i64>>>,
}

impl Row {
    /// The row's values of `key`.
    pub fn key(&self, key: Key) -> Vec<Option<i64>> {
        match key {
            Key::Id => vec![Some(self.id)],
            Key::K => vec![self.k],
            Key::IdK => vec![Some(self.id), self.k],
            Key::N => vec![self.k],
            Key::U => vec![self.u],
        }
    }
}

#[derive(Clone, Debug)]
pub struct Table {
    pub name: String,
    pub fks: Vec<Fk>,
    /// `CHECK (v <> 13)`.
    pub check_v: bool,
    /// SQLite `WITHOUT ROWID`.
    pub without_rowid: bool,
    /// The NOCASE key `n`, `'K' || k` in the generated rows.
    pub n: bool,
    /// PostgreSQL: partitioned by range of `id`.
    pub partitioned: bool,
    /// PostgreSQL: the table this one inherits from. Its `fks` are the
    /// parent's, as columns only: foreign keys are not inherited.
    pub inherits: Option<usize>,
    /// A column `u int UNIQUE` referencing `id` of another table.
    pub u: Option<URef>,
    pub rows: Vec<Row>,
}

/// The reference `u` holds, with its actions.
#[derive(Clone, Debug)]
pub struct URef {
    pub to: usize,
    pub on_delete: &'static str,
    pub on_update: &'static str,
}

#[derive(Clone, Debug)]
pub struct Model {
    pub target: Target,
    pub features: Features,
    pub tables: Vec<Table>,
}

impl Model {
    /// A random schema with rows that satisfy every constraint.
    pub fn generate(rng: &mut Rng, target: Target, f: Features) -> Model {
        let n = 2 + rng.below(4) as usize;
        let mut tables: Vec<Table> = (0..n)
            .map(|i| Table {
                name: format!("t{i}"),
                fks: Vec::new(),
                check_v: f.checks && rng.one_in(3),
                without_rowid: target == Target::Lite && f.without_rowid && rng.one_in(3),
                n: target == Target::Lite && f.collations,
                partitioned: target == Target::Pg && f.partitions && rng.one_in(4),
                inherits: None,
                u: None,
                rows: spine_rows(rng),
            })
            .collect();
        push_inheritance_children(rng, target, f, &mut tables);
        draw_u_columns(rng, f, n, &mut tables);
        let all = tables.len();
        for (i, t) in tables.iter_mut().enumerate().take(n) {
            let count = rng.below(3) as usize;
            t.fks = (0..count)
                .map(|j| random_fk(rng, target, f, i, j, all))
                .collect();
        }
        // Some references to `id` take `u` instead, where there is one.
        let has_u: Vec<bool> = tables.iter().map(|t| t.u.is_some()).collect();
        for t in tables.iter_mut().take(n) {
            for fk in &mut t.fks {
                if has_u[fk.to] && fk.key == Key::Id && !rng.one_in(3) {
                    fk.key = Key::U;
                }
            }
        }
        // A partitioned table's unique keys hold `id`: `k` is no key.
        let partitioned: Vec<bool> = tables.iter().map(|t| t.partitioned).collect();
        for t in &mut tables {
            for fk in &mut t.fks {
                if partitioned[fk.to] && fk.key == Key::K {
                    fk.key = Key::Id;
                }
            }
        }
        if !f.restrict_beside_cascade {
            let cascaded: Vec<bool> = (0..n)
                .map(|i| tables[i].fks.iter().any(|fk| fk.on_delete == "CASCADE"))
                .collect();
            for (i, t) in tables.iter_mut().enumerate() {
                for fk in &mut t.fks {
                    if cascaded[i] && matches!(fk.on_delete, "RESTRICT" | "NO ACTION") {
                        fk.on_delete = "CASCADE";
                    }
                }
            }
        }
        for i in 0..n {
            for j in 0..tables[i].fks.len() {
                let fk = &tables[i].fks[j];
                let parents = &tables[fk.to].rows;
                if fk.not_null && !parents.iter().any(|p| full_key(p, fk).is_some()) {
                    // No parent row can give the column a value.
                    tables[i].fks[j].not_null = false;
                }
            }
        }
        // A child has its parent's columns (and their NOT NULLs and
        // CHECKs), not its keys.
        for c in n..all {
            if let Some(p) = tables[c].inherits {
                tables[c].fks = tables[p].fks.clone();
            }
        }
        for i in 0..all {
            for r in 0..tables[i].rows.len() {
                let vals: Vec<Vec<Option<i64>>> = tables[i]
                    .fks
                    .iter()
                    .map(|fk| fk_values(rng, &tables[fk.to].rows, fk))
                    .collect();
                tables[i].rows[r].f = vals;
            }
        }
        Model {
            target,
            features: f,
            tables,
        }
    }

    pub fn names(&self) -> Vec<&str> {
        self.tables.iter().map(|t| t.name.as_str()).collect()
    }

    /// What the oracle reads each table's own rows from: `ONLY` where
    /// another inherits from it.
    pub fn own_rows(&self) -> Vec<String> {
        (0..self.tables.len())
            .map(|i| {
                let name = &self.tables[i].name;
                if self.tables.iter().any(|c| c.inherits == Some(i)) {
                    format!("ONLY {name}")
                } else {
                    name.clone()
                }
            })
            .collect()
    }

    /// The DDL and rows for the model's engine. PostgreSQL tables get a
    /// hidden `rid` identity the oracle follows rows by.
    pub fn sql(&self) -> String {
        let mut s = String::new();
        if self.target == Target::Lite {
            // Rows go in before their parents may; they all hold at the end.
            s.push_str("PRAGMA foreign_keys = OFF;\n");
        }
        for t in &self.tables {
            let _ = writeln!(s, "{}", self.create(t));
        }
        for t in &self.tables {
            if t.rows.is_empty() {
                continue;
            }
            let rows: Vec<String> = t.rows.iter().map(|r| row_values(t, r)).collect();
            let mut cols = insert_cols(t);
            if t.n {
                cols.push("n".to_owned());
            }
            let _ = writeln!(
                s,
                "INSERT INTO {} ({}) VALUES {};",
                t.name,
                cols.join(", "),
                rows.join(", ")
            );
        }
        if self.target == Target::Pg {
            for t in self.tables.iter().filter(|t| t.inherits.is_none()) {
                for (j, fk) in t.fks.iter().enumerate() {
                    let _ = writeln!(
                        s,
                        "ALTER TABLE {} ADD CONSTRAINT {}_fk{j} {};",
                        t.name,
                        t.name,
                        self.references(fk)
                    );
                }
                if let Some(u) = &t.u {
                    let _ = writeln!(
                        s,
                        "ALTER TABLE {} ADD CONSTRAINT {}_fku {};",
                        t.name,
                        t.name,
                        self.u_reference(u)
                    );
                }
            }
        }
        s
    }

    fn create(&self, t: &Table) -> String {
        if let Some(p) = t.inherits {
            // Keys of its own (not inherited), and an identity of its own
            // for the oracle (an identity is not inherited either).
            return format!(
                "CREATE TABLE {} (rid bigint GENERATED ALWAYS AS IDENTITY (START WITH 1000), \
                 PRIMARY KEY (id), UNIQUE (k), UNIQUE (id, k)) INHERITS ({});",
                t.name, self.tables[p].name
            );
        }
        let mut cols = vec![
            "id int PRIMARY KEY".to_owned(),
            if t.partitioned {
                "k int"
            } else {
                "k int UNIQUE"
            }
            .to_owned(),
            if t.check_v {
                "v int CHECK (v <> 13)".to_owned()
            } else {
                "v int".to_owned()
            },
            "s text".to_owned(),
        ];
        if t.n {
            cols.push("n text UNIQUE COLLATE NOCASE".to_owned());
        }
        if t.u.is_some() {
            cols.push("u int UNIQUE".to_owned());
        }
        for fk in &t.fks {
            for (c, col) in fk.cols.iter().enumerate() {
                let mut def = format!("{col} {}", fk.decl).trim_end().to_owned();
                if fk.not_null {
                    def.push_str(" NOT NULL");
                }
                if let Some(d) = &fk.default {
                    let _ = write!(def, " DEFAULT {}", key_lit(fk.key, Some(d[c])));
                }
                if c == 0
                    && let Some(n) = fk.check_ne
                {
                    let _ = write!(def, " CHECK ({col} <> {n})");
                }
                cols.push(def);
            }
        }
        if t.without_rowid {
            cols.push("rid int DEFAULT (random())".to_owned());
        }
        cols.push("UNIQUE (id, k)".to_owned());
        match self.target {
            Target::Pg => cols.push("rid bigint GENERATED ALWAYS AS IDENTITY".to_owned()),
            Target::Lite => {
                for fk in &t.fks {
                    cols.push(self.references(fk));
                }
                if let Some(u) = &t.u {
                    cols.push(self.u_reference(u));
                }
            }
        }
        if t.partitioned {
            let n = &t.name;
            return format!(
                "CREATE TABLE {n} ({}) PARTITION BY RANGE (id);\n\
                 CREATE TABLE {n}_p0 PARTITION OF {n} FOR VALUES FROM (MINVALUE) TO (4);\n\
                 CREATE TABLE {n}_p1 PARTITION OF {n} FOR VALUES FROM (4) TO (100);\n\
                 CREATE TABLE {n}_pd PARTITION OF {n} DEFAULT;",
                cols.join(", ")
            );
        }
        let options = if t.without_rowid {
            " WITHOUT ROWID"
        } else {
            ""
        };
        format!("CREATE TABLE {} ({}){options};", t.name, cols.join(", "))
    }

    fn u_reference(&self, u: &URef) -> String {
        format!(
            "FOREIGN KEY (u) REFERENCES {} (id) ON DELETE {} ON UPDATE {}",
            self.tables[u.to].name, u.on_delete, u.on_update
        )
    }

    fn references(&self, fk: &Fk) -> String {
        let mut s = format!(
            "FOREIGN KEY ({}) REFERENCES {} ({})",
            fk.cols.join(", "),
            self.tables[fk.to].name,
            fk.key.cols().join(", ")
        );
        if fk.match_full {
            s.push_str(" MATCH FULL");
        }
        let _ = write!(s, " ON DELETE {}", fk.on_delete);
        if let Some(c) = fk.set_only {
            let _ = write!(s, " ({})", fk.cols[c]);
        }
        let _ = write!(s, " ON UPDATE {}", fk.on_update);
        match fk.deferrable {
            Some(true) => s.push_str(" DEFERRABLE INITIALLY DEFERRED"),
            Some(false) => s.push_str(" DEFERRABLE"),
            None => {}
        }
        s
    }

    /// Values of `key` that rows of table `t` hold, to aim writes at.
    pub fn key_values(&self, t: usize, key: Key) -> Vec<Vec<Option<i64>>> {
        self.tables[t].rows.iter().map(|r| r.key(key)).collect()
    }
}

// ---------------------------------------------------------------- shrinking

impl Model {
    /// Every smaller model one step away: one foreign key fewer, or one
    /// row fewer (with the rows that reference it, so the rest still hold).
    pub fn smaller(&self) -> Vec<Model> {
        let mut out = Vec::new();
        for (t, table) in self.tables.iter().enumerate() {
            if table.inherits.is_some() {
                continue; // its columns go with its parent's key
            }
            for j in 0..table.fks.len() {
                let mut m = self.clone();
                for c in 0..m.tables.len() {
                    if c == t || m.tables[c].inherits == Some(t) {
                        m.tables[c].fks.remove(j);
                        for r in &mut m.tables[c].rows {
                            r.f.remove(j);
                        }
                    }
                }
                out.push(m);
            }
        }
        for (t, table) in self.tables.iter().enumerate() {
            for r in 0..table.rows.len() {
                let mut m = self.clone();
                m.remove_row(t, r);
                out.push(m);
            }
        }
        out
    }

    fn remove_row(&mut self, t: usize, r: usize) {
        let gone = self.tables[t].rows.remove(r);
        self.remove_dangling(t, gone);
    }

    /// Removes the rows still referencing `gone`, one at a time, until
    /// none is left.
    fn remove_dangling(&mut self, t: usize, gone: Row) {
        loop {
            let mut found = None;
            'find: for c in 0..self.tables.len() {
                if self.tables[c].u.as_ref().is_some_and(|u| u.to == t)
                    && let Some(at) = self.tables[c]
                        .rows
                        .iter()
                        .position(|r| r.u == Some(gone.id))
                {
                    found = Some((c, at));
                    break 'find;
                }
                for (j, fk) in self.tables[c].fks.iter().enumerate() {
                    let Some(key) = (fk.to == t).then(|| full_key(&gone, fk)).flatten() else {
                        continue;
                    };
                    if let Some(at) = self.tables[c].rows.iter().position(|row| row.f[j] == key) {
                        found = Some((c, at));
                        break 'find;
                    }
                }
            }
            match found {
                Some((c, at)) => {
                    let child = self.tables[c].rows.remove(at);
                    self.remove_dangling(c, child);
                }
                None => return,
            }
        }
    }
}

/// Gives some tables a column `u UNIQUE` referencing another table's `id`,
/// holding distinct ids of that table's rows (or NULL). Not on a
/// partitioned table (its unique keys must hold `id`), nor on one with
/// inheritance children (they would inherit the column, not its keys).
fn draw_u_columns(rng: &mut Rng, f: Features, n: usize, tables: &mut [Table]) {
    if !f.chains {
        return;
    }
    const ACTIONS: [&str; 4] = ["CASCADE", "SET NULL", "RESTRICT", "NO ACTION"];
    for i in 0..n {
        let inherited = tables.iter().any(|c| c.inherits == Some(i));
        if tables[i].partitioned || inherited || !rng.one_in(3) {
            continue;
        }
        let to = (i + 1 + rng.below(n as u64 - 1) as usize) % n;
        let mut ids: Vec<i64> = tables[to].rows.iter().map(|r| r.id).collect();
        for r in &mut tables[i].rows {
            r.u = if ids.is_empty() || rng.one_in(4) {
                None
            } else {
                Some(ids.swap_remove(rng.below(ids.len() as u64) as usize))
            };
        }
        tables[i].u = Some(URef {
            to,
            on_delete: rng.pick(&ACTIONS),
            on_update: rng.pick(&ACTIONS),
        });
    }
}

/// PostgreSQL: a child `tN_c` inheriting from some plain tables, with rows
/// of its own (ids overlapping the parent's: its keys are its own).
fn push_inheritance_children(rng: &mut Rng, target: Target, f: Features, tables: &mut Vec<Table>) {
    if target != Target::Pg || !f.inheritance {
        return;
    }
    for p in 0..tables.len() {
        if tables[p].partitioned || !rng.one_in(3) {
            continue;
        }
        let child = Table {
            name: format!("{}_c", tables[p].name),
            fks: Vec::new(),
            check_v: tables[p].check_v,
            without_rowid: false,
            n: false,
            partitioned: false,
            inherits: Some(p),
            u: None,
            rows: spine_rows(rng),
        };
        tables.push(child);
    }
}

fn spine_rows(rng: &mut Rng) -> Vec<Row> {
    let n = rng.below(9) as i64;
    let mut ks: Vec<i64> = (1..=3 * n.max(1)).collect();
    (1..=n)
        .map(|id| {
            let at = rng.below(ks.len() as u64) as usize;
            let k = ks.swap_remove(at);
            Row {
                id,
                k: (!rng.one_in(6)).then_some(k),
                v: rng.below(13) as i64,
                u: None,
                f: Vec::new(),
            }
        })
        .collect()
}

fn random_fk(rng: &mut Rng, target: Target, f: Features, from: usize, j: usize, n: usize) -> Fk {
    let to = if f.self_refs && rng.one_in(4) {
        from
    } else {
        // Any other table: cycles between tables stay in.
        (from + 1 + rng.below(n as u64 - 1) as usize) % n
    };
    let key = rng.pick(&[Key::Id, Key::Id, Key::K, Key::IdK]);
    let cols: Vec<String> = match key {
        Key::IdK => vec![format!("f{j}a"), format!("f{j}b")],
        _ => vec![format!("f{j}")],
    };
    let pg = target == Target::Pg;
    let actions = if f.set_default {
        ACTIONS
    } else {
        &["CASCADE", "SET NULL", "RESTRICT", "NO ACTION"]
    };
    let on_delete = rng.pick(actions);
    let mut on_update = rng.pick(actions);
    let not_null = rng.one_in(5);
    if not_null
        && !f.not_null_update_actions
        && matches!(on_update, "SET NULL" | "SET DEFAULT" | "CASCADE")
    {
        on_update = "NO ACTION";
    }
    let composite = cols.len() > 1;
    let deferrable = match rng.below(4) {
        0 => Some(true),
        1 => Some(false),
        _ => None,
    };
    let match_full = pg && composite && rng.one_in(2);
    let mut fk = Fk {
        to,
        key,
        set_only: (pg
            && composite
            && on_delete == "SET NULL"
            && (f.set_only_match_full || !match_full)
            && rng.one_in(2))
        .then(|| rng.below(2) as usize),
        match_full,
        deferrable,
        not_null,
        default: rng
            .one_in(2)
            .then(|| cols.iter().map(|_| 1 + rng.below(10) as i64).collect()),
        check_ne: (f.fk_checks && rng.one_in(5)).then(|| 1 + rng.below(8) as i64),
        decl: match target {
            // Drawn last, so the draws before it stay as they were.
            Target::Lite if f.sqlite_types => {
                rng.pick(&["int", "text", "numeric", "real", "", "blob"])
            }
            _ => "int",
        },
        cols,
        on_delete,
        on_update,
    };
    // Later still: a K key on SQLite may be the NOCASE key instead.
    if target == Target::Lite && f.collations && fk.key == Key::K && rng.one_in(2) {
        fk.key = Key::N;
        fk.check_ne = None;
    }
    fk
}

/// A valid value of `fk` for one row: a parent's key, or NULL where the
/// column allows it (under MATCH SIMPLE, one NULL column is enough).
fn fk_values(rng: &mut Rng, parents: &[Row], fk: &Fk) -> Vec<Option<i64>> {
    let width = fk.cols.len();
    let null_ok = !fk.not_null;
    if null_ok && (parents.is_empty() || rng.one_in(4)) {
        return vec![None; width];
    }
    if null_ok && width == 2 && !fk.match_full && rng.one_in(5) {
        // No parent needed, but the column's CHECK still holds.
        let x = 1 + rng.below(30) as i64;
        return vec![Some(if fk.check_ne == Some(x) { x + 1 } else { x }), None];
    }
    let candidates: Vec<Vec<Option<i64>>> = parents
        .iter()
        .map(|p| p.key(fk.key))
        .filter(|v| v.iter().all(Option::is_some) || null_ok && !fk.match_full)
        .filter(|v| check_ok(fk, v))
        .collect();
    if candidates.is_empty() {
        // No parent fits: NULL, which `Model::generate` made sure the
        // columns allow.
        return vec![None; width];
    }
    candidates[rng.below(candidates.len() as u64) as usize].clone()
}

/// The parent row's key for `fk` when it has every column and passes the
/// child's CHECK.
fn full_key(p: &Row, fk: &Fk) -> Option<Vec<Option<i64>>> {
    let v = p.key(fk.key);
    (v.iter().all(Option::is_some) && check_ok(fk, &v)).then_some(v)
}

fn check_ok(fk: &Fk, v: &[Option<i64>]) -> bool {
    match (fk.check_ne, v.first().copied().flatten()) {
        (Some(n), Some(x)) => x != n,
        _ => true,
    }
}

pub fn insert_cols(t: &Table) -> Vec<String> {
    let mut cols: Vec<String> = ["id", "k", "v", "s"].map(str::to_owned).to_vec();
    for fk in &t.fks {
        cols.extend(fk.cols.iter().cloned());
    }
    if t.u.is_some() {
        cols.push("u".to_owned());
    }
    cols
}

pub fn lit(v: Option<i64>) -> String {
    v.map_or("NULL".to_owned(), |v| v.to_string())
}

/// A value of a key's column: `'k3'` for the NOCASE key, whose parents
/// hold `'K3'`.
pub fn key_lit(key: Key, v: Option<i64>) -> String {
    match (key, v) {
        (Key::N, Some(x)) => format!("'k{x}'"),
        _ => lit(v),
    }
}

/// A generated row's values, in `insert_cols` order and then `n`.
pub fn row_values(t: &Table, r: &Row) -> String {
    let mut vals = vec![
        r.id.to_string(),
        lit(r.k),
        r.v.to_string(),
        format!("'s{}'", r.id),
    ];
    for (fk, f) in t.fks.iter().zip(&r.f) {
        vals.extend(f.iter().map(|v| key_lit(fk.key, *v)));
    }
    if t.u.is_some() {
        vals.push(lit(r.u));
    }
    if t.n {
        vals.push(r.k.map_or("NULL".to_owned(), |k| format!("'K{k}'")));
    }
    format!("({})", vals.join(", "))
}
