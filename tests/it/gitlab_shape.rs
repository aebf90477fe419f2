//! Issue 16's acceptance on a schema of GitLab's shape and size
//! (`gitlab_schema.rs`: about 1,000 tables, 90 partitions with default
//! ones, 4,000 defaults, 2,000 foreign keys, text `*_id` columns):
//! previews of hub deletes succeed and agree with the engine, table by
//! table (partitions rolled up to their partitioned table); the text
//! preview of one stays within 200 lines of at most 400 characters; writes
//! through partitioned tables apply and undo exactly.

use std::collections::BTreeMap;

use crate::apply::{Db, exec_yes, undo_yes};
use crate::gitlab_schema::{PARTITIONED, gitlab_schema, partitioned_name};
use crate::helpers::{PgDb, init_journal};
use crate::impact::{preview_json, preview_text};

/// Every table: its name, the table it is a partition of at the top
/// (itself otherwise), and, where it holds rows, what identifies a row
/// across the partitions of its top table: `id`, unique there in the
/// generated data (a primary key with the partition key in it would
/// take a row moved to another partition for another row).
const TABLES: &str = "
SELECT format('%I.%I', n.nspname, c.relname), rn.nspname || '.' || r.relname,
       CASE WHEN c.relkind = 'r' THEN 'id' END,
       n.nspname || '.' || c.relname
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_class r ON r.oid = coalesce(pg_partition_root(c.oid), c.oid)
  JOIN pg_namespace rn ON rn.oid = r.relnamespace
 WHERE c.relkind IN ('r', 'p') AND n.nspname = 'public'
 ORDER BY 1";

/// What each table (partitions under their partitioned table) loses,
/// gains and changes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    delete: u64,
    update: u64,
    insert: u64,
}

/// Rows of every leaf table by (table, key), under its top table.
type Snapshot = BTreeMap<String, BTreeMap<String, String>>;

struct Catalog {
    /// (SQL name, top table, key) of the tables that hold rows.
    leaves: Vec<(String, String, String)>,
    /// Every table's display name → its top table.
    root: BTreeMap<String, String>,
}

fn catalog(client: &mut postgres::Client) -> Catalog {
    let mut cat = Catalog {
        leaves: Vec::new(),
        root: BTreeMap::new(),
    };
    for r in client.query(TABLES, &[]).expect("list tables") {
        let (sql, root, key, name): (String, String, Option<String>, String) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        cat.root.insert(name, root.clone());
        if let Some(key) = key {
            cat.leaves.push((sql, root, key));
        }
    }
    cat
}

fn snapshot(tx: &mut postgres::Transaction<'_>, cat: &Catalog) -> Snapshot {
    let mut snap = Snapshot::new();
    for (sql, root, key) in &cat.leaves {
        let rows = tx
            .query(
                &format!("SELECT row({key})::text, t::text FROM ONLY {sql} AS t"),
                &[],
            )
            .expect("snapshot");
        let m = snap.entry(root.clone()).or_default();
        for r in rows {
            m.insert(r.get(0), r.get(1));
        }
    }
    snap
}

/// The engine's answer: whether `sql` fails (at the end of the
/// statement or at commit) and, if not, what it changed per top table.
/// A failure is the constraint the engine names, and its whole error.
fn oracle(
    db: &PgDb,
    cat: &Catalog,
    sql: &str,
) -> Result<BTreeMap<String, Counts>, (String, String)> {
    let failed = |e: postgres::Error| {
        let constraint = e.as_db_error().and_then(|d| d.constraint()).unwrap_or("");
        (constraint.to_owned(), format!("{e:?}"))
    };
    let mut client = db.client();
    let mut tx = client.transaction().expect("BEGIN");
    let before = snapshot(&mut tx, cat);
    tx.batch_execute(sql).map_err(failed)?;
    tx.batch_execute("SET CONSTRAINTS ALL IMMEDIATE")
        .map_err(failed)?;
    let after = snapshot(&mut tx, cat);
    tx.rollback().expect("ROLLBACK");
    let mut out = BTreeMap::new();
    for (root, rows) in &before {
        let now = &after[root];
        let c = Counts {
            delete: rows.keys().filter(|k| !now.contains_key(*k)).count() as u64,
            update: rows
                .iter()
                .filter(|(k, v)| now.get(*k).is_some_and(|n| n != *v))
                .count() as u64,
            insert: now.keys().filter(|k| !rows.contains_key(*k)).count() as u64,
        };
        if c != Counts::default() {
            out.insert(root.clone(), c);
        }
    }
    Ok(out)
}

/// The preview's totals, partitions under their top table.
fn previewed(cat: &Catalog, v: &serde_json::Value) -> BTreeMap<String, Counts> {
    let mut out: BTreeMap<String, Counts> = BTreeMap::new();
    for (name, t) in v["totals"].as_object().into_iter().flatten() {
        let root = cat.root.get(name).unwrap_or(name).clone();
        let c = out.entry(root).or_default();
        c.delete += t["delete"].as_u64().unwrap_or(0);
        c.update += t["update"].as_u64().unwrap_or(0);
        c.insert += t["insert"].as_u64().unwrap_or(0);
    }
    out.retain(|_, c| *c != Counts::default());
    out
}

fn gitlab_db() -> PgDb {
    let (batches, fks) = gitlab_schema();
    assert!((1_800..=2_400).contains(&fks), "{fks} foreign keys");
    let db = PgDb::new();
    let mut client = db.client();
    for b in &batches {
        client.batch_execute(b).expect("the generated schema");
    }
    db
}

#[test]
fn the_generated_schema_has_gitlabs_shape() {
    let db = gitlab_db();
    let mut c = db.client();
    let one = |c: &mut postgres::Client, q: &str| -> i64 { c.query_one(q, &[]).expect(q).get(0) };
    let public = "JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'";
    let tables = one(
        &mut c,
        &format!("SELECT count(*) FROM pg_class c {public} WHERE c.relkind IN ('r', 'p')"),
    );
    let partitions = one(
        &mut c,
        &format!(
            "SELECT count(*) FROM pg_class c {public} WHERE c.relispartition AND c.relkind = 'r'"
        ),
    );
    let defaults = one(&mut c, "SELECT count(*) FROM pg_attrdef");
    let fks = one(
        &mut c,
        "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conparentid = 0",
    );
    let text_ids = one(
        &mut c,
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' \
         AND column_name LIKE '%\\_id' AND data_type = 'text'",
    );
    eprintln!(
        "{tables} tables, {partitions} partitions, {defaults} defaults, {fks} foreign keys, {text_ids} text *_id columns"
    );
    assert!((950..=1_100).contains(&tables), "{tables} tables");
    assert_eq!(partitions, 3 * PARTITIONED as i64);
    assert!(defaults >= 3_900, "{defaults} defaults");
    // As declared (partitions' copies of their parent's keys left out).
    assert!((1_800..=2_400).contains(&fks), "{fks} foreign keys");
    assert!(text_ids >= 50, "{text_ids} text *_id columns");
}

#[test]
fn previews_of_hub_deletes_agree_with_the_engine() {
    let db = gitlab_db();
    let cat = catalog(&mut db.client());
    let mut errors = Vec::new();
    for sql in [
        "DELETE FROM users WHERE id = 1",
        "DELETE FROM projects WHERE id IN (1, 2)",
        "DELETE FROM namespaces WHERE id = 1",
        "DELETE FROM organizations WHERE id = 2",
        "DELETE FROM organizations WHERE id = 3",
        "DELETE FROM plans WHERE id = 2",
        &format!("DELETE FROM {} WHERE id = 3", partitioned_name(1)),
        &format!(
            "UPDATE {} SET partition_id = 101 WHERE id = 1",
            partitioned_name(4)
        ),
    ] {
        let v = match preview_json(&db.url, sql, None) {
            Ok((v, _)) => v,
            Err(e) => {
                errors.push(format!("{sql}: the preview failed: {e}"));
                continue;
            }
        };
        let engine = oracle(&db, &cat, sql);
        let will_fail = v["will_fail"].as_bool();
        // What depends on the order the engine fires its actions in: a
        // "may fail" that names the key the engine fails on.
        let may_fail = |key: &str| {
            v["warnings"].as_array().into_iter().flatten().any(|w| {
                let w = w.as_str().unwrap_or("");
                w.starts_with("may fail:") && !key.is_empty() && w.contains(key)
            })
        };
        match (&engine, will_fail) {
            (Err((_, e)), Some(true)) => eprintln!("{sql}: fails alike ({e})"),
            (Err((key, _)), Some(false)) if may_fail(key) => {
                eprintln!("{sql}: \"may fail\" on {key}, and the engine fails on it");
            }
            (Ok(counts), Some(false)) => {
                let seen = previewed(&cat, &v);
                if &seen != counts {
                    errors.push(format!(
                        "{sql}: the preview counts\n  {seen:?}\nthe engine\n  {counts:?}"
                    ));
                }
                let reached: u64 = counts.values().map(|c| c.delete + c.update).sum();
                eprintln!("{sql}: {} tables, {reached} rows, agreed", counts.len());
            }
            _ => errors.push(format!(
                "{sql}: will_fail {will_fail:?}, the engine {engine:?}; preview {v}"
            )),
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn the_text_preview_of_a_hub_delete_is_readable() {
    let db = gitlab_db();
    for sql in [
        "DELETE FROM organizations WHERE id = 2",
        "DELETE FROM users WHERE id = 1",
    ] {
        let text = preview_text(&db.url, sql, None);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() <= 200, "{sql}: {} lines\n{text}", lines.len());
        let longest = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        assert!(
            longest <= 400,
            "{sql}: a line of {longest} characters\n{text}"
        );
        assert!(text.contains("reaches "), "{sql}: not a summary\n{text}");
    }
}

#[test]
fn writes_through_partitioned_tables_apply_and_undo_exactly() {
    let db = Db::Pg(gitlab_db());
    init_journal(&db.target());
    let j = db.machine();
    let (p0, p1, p2) = (
        partitioned_name(0),
        partitioned_name(1),
        partitioned_name(2),
    );
    for sql in [
        format!("UPDATE {p0} SET partition_id = 101 WHERE id = 1"),
        format!("INSERT INTO {p0} (id, partition_id) VALUES (10, 100), (11, 555)"),
        format!("UPDATE {p1} SET status = 'success' WHERE partition_id <> 100"),
        format!("DELETE FROM {p2} WHERE id = 3"),
        "DELETE FROM projects WHERE id = 1".to_owned(),
        "DELETE FROM users WHERE id = 2".to_owned(),
    ] {
        let before = db.dump();
        let id = exec_yes(&j, &db, &sql, &["--preview-timeout", "60"]);
        assert_ne!(db.dump(), before, "{sql} changed nothing");
        undo_yes(&j, id, &[]);
        assert_eq!(db.dump(), before, "the undo of {sql}");
    }
}
