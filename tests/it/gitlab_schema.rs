//! A schema of GitLab's shape and size (issue 16), generated: about 1,000
//! tables, partitioned tables with default partitions, about 4,000 column
//! defaults, about 2,000 foreign keys, and `*_id` columns of type text
//! beside the bigint ones. Hubs (`organizations`, `users`, `namespaces`,
//! `projects`) are referenced from everywhere, as in GitLab; foreign keys
//! into partitioned tables carry the partition key `ON UPDATE CASCADE`,
//! as GitLab's CI tables do. Deterministic: the same text every time.
//!
//! Shared by the tests (`gitlab_shape.rs`) and the startup benchmark
//! (`benches/suite/startup.rs`), so it uses nothing but `std`.

use std::fmt::Write as _;

/// Leaf tables (the hubs, partitioned tables and `plans` come on top).
pub const LEAVES: usize = 860;
/// Partitioned tables, each with partitions `_100`, `_101` and `_default`.
pub const PARTITIONED: usize = 30;
/// Rows in each leaf table and each partitioned table.
pub const ROWS: u64 = 3;

/// The words GitLab's table names are made of, for names people read.
const WORDS: [&str; 16] = [
    "issue",
    "merge_request",
    "note",
    "label",
    "milestone",
    "pipeline",
    "deployment",
    "package",
    "snippet",
    "board",
    "epic",
    "vulnerability",
    "release",
    "wiki",
    "event",
    "approval",
];

/// Deterministic choice in `0..n` from two numbers.
fn pick(a: usize, b: usize, n: usize) -> usize {
    (a.wrapping_mul(2_654_435_761)
        .wrapping_add(b.wrapping_mul(40_503))
        >> 7)
        % n
}

pub fn leaf_name(i: usize) -> String {
    format!("{}_{i:03}", WORDS[i % WORDS.len()])
}

pub fn partitioned_name(i: usize) -> String {
    format!("p_ci_{}_{i:02}", WORDS[(i * 7) % WORDS.len()])
}

/// Columns every table carries, with their defaults: four per table.
const COMMON: &str = "created_at timestamptz NOT NULL DEFAULT now(), \
    updated_at timestamptz DEFAULT now(), state smallint NOT NULL DEFAULT 0, \
    title text NOT NULL DEFAULT ''::text";

fn hubs(s: &mut String) {
    let _ = writeln!(
        s,
        "CREATE TABLE plans (id bigint PRIMARY KEY, name text NOT NULL DEFAULT 'free', {COMMON});
CREATE TABLE organizations (id bigint PRIMARY KEY, path text NOT NULL DEFAULT '', visibility_level smallint NOT NULL DEFAULT 0, {COMMON});
CREATE TABLE users (id bigint PRIMARY KEY, organization_id bigint REFERENCES organizations ON DELETE CASCADE,
  username text NOT NULL DEFAULT '', email text NOT NULL DEFAULT '', admin boolean NOT NULL DEFAULT false, {COMMON});
CREATE TABLE namespaces (id bigint PRIMARY KEY, organization_id bigint REFERENCES organizations ON DELETE CASCADE,
  owner_id bigint, parent_id bigint REFERENCES namespaces ON DELETE CASCADE, plan_id bigint REFERENCES plans,
  path text NOT NULL DEFAULT '', type text NOT NULL DEFAULT 'Group', {COMMON});
CREATE TABLE projects (id bigint PRIMARY KEY, namespace_id bigint NOT NULL REFERENCES namespaces ON DELETE CASCADE,
  creator_id bigint REFERENCES users ON DELETE SET NULL, organization_id bigint REFERENCES organizations ON DELETE CASCADE,
  path text NOT NULL DEFAULT '', {COMMON});
INSERT INTO plans (id) VALUES (1), (2);
INSERT INTO organizations (id, path) VALUES (1, 'one'), (2, 'two'), (3, 'three');
INSERT INTO users (id, organization_id, username) SELECT g, 1 + g % 3, 'user' || g FROM generate_series(1, 6) g;
INSERT INTO namespaces (id, organization_id, owner_id, parent_id, plan_id, path)
  SELECT g, 1 + g % 3, g, CASE WHEN g > 3 THEN g - 3 END, 1 + g % 2, 'ns' || g FROM generate_series(1, 6) g;
INSERT INTO projects (id, namespace_id, creator_id, organization_id, path)
  SELECT g, 1 + g % 6, 1 + g % 6, 1 + g % 3, 'p' || g FROM generate_series(1, 9) g;"
    );
}

/// A hub a table points at, its column, and the action.
fn hub_ref(i: usize, k: usize) -> (&'static str, &'static str, &'static str) {
    let hubs = [
        ("projects", "project_id"),
        ("users", "user_id"),
        ("namespaces", "namespace_id"),
        ("projects", "project_id"),
        ("organizations", "organization_id"),
        ("users", "author_id"),
    ];
    let (t, c) = hubs[pick(i, k, hubs.len())];
    // Authors are nullified, as GitLab keeps what a deleted user wrote.
    let action = if c == "author_id" || pick(i, k + 9, 4) == 0 {
        "SET NULL"
    } else {
        "CASCADE"
    };
    (t, c, action)
}

fn partitioned(s: &mut String) {
    for i in 0..PARTITIONED {
        let name = partitioned_name(i);
        let (hub, col, action) = hub_ref(i + 1000, 0);
        let _ = writeln!(
            s,
            "CREATE TABLE {name} (id bigint NOT NULL, partition_id bigint NOT NULL DEFAULT 100,
  {col} bigint REFERENCES {hub} ON DELETE {action}, status text NOT NULL DEFAULT 'created', {COMMON},
  PRIMARY KEY (id, partition_id)) PARTITION BY LIST (partition_id);
CREATE TABLE {name}_100 PARTITION OF {name} FOR VALUES IN (100);
CREATE TABLE {name}_101 PARTITION OF {name} FOR VALUES IN (101);
CREATE TABLE {name}_default PARTITION OF {name} DEFAULT;
INSERT INTO {name} (id, partition_id, {col}) VALUES (1, 100, 1), (2, 101, 2), (3, 999, 3);"
        );
    }
}

/// One leaf table: a hub reference, most often a second one or a parent
/// among the tables before it (depth), sometimes a partitioned table
/// (both key columns), a text `*_id` and a bigint `*_id` without a key.
fn leaf(s: &mut String, i: usize) -> usize {
    let name = leaf_name(i);
    let mut cols = vec!["id bigint PRIMARY KEY".to_owned()];
    let mut values = vec!["g".to_owned()];
    let mut keys: Vec<String> = Vec::new();
    let mut fks = 0;
    let (hub, col, action) = hub_ref(i, 0);
    cols.push(format!("{col} bigint REFERENCES {hub} ON DELETE {action}"));
    values.push("1 + g % 3".to_owned());
    fks += 1;
    if i >= 10 && pick(i, 1, 3) != 0 {
        let parent = pick(i, 2, i);
        let action = if pick(i, 3, 5) == 0 {
            "SET NULL"
        } else {
            "CASCADE"
        };
        cols.push(format!(
            "parent_id bigint REFERENCES {} ON DELETE {action}",
            leaf_name(parent)
        ));
        values.push("g".to_owned());
        fks += 1;
    } else {
        let (hub2, col2, action2) = hub_ref(i, 5);
        if col2 != col {
            cols.push(format!(
                "{col2} bigint REFERENCES {hub2} ON DELETE {action2}"
            ));
            values.push("1 + (g + 1) % 3".to_owned());
            fks += 1;
        }
    }
    if i % 4 == 1 {
        let p = partitioned_name(pick(i, 4, PARTITIONED));
        cols.push("build_id bigint".to_owned());
        cols.push("build_partition_id bigint".to_owned());
        keys.push(format!(
            "FOREIGN KEY (build_id, build_partition_id) REFERENCES {p} ON DELETE CASCADE ON UPDATE CASCADE"
        ));
        values.push("g".to_owned());
        values.push("CASE g WHEN 1 THEN 100 WHEN 2 THEN 101 ELSE 999 END".to_owned());
        fks += 1;
    }
    if i % 9 == 2 {
        cols.push("plan_id bigint NOT NULL DEFAULT 1 REFERENCES plans".to_owned());
        values.push("1 + g % 2".to_owned());
        fks += 1;
    }
    // A `*_id` of type text naming a hub (GitLab's external ids), and a
    // bigint one with no key (an association dbguard infers).
    let free = |cols: &[String], c: &str| !column_names(cols).iter().any(|n| n == c);
    if i.is_multiple_of(13)
        && let Some(c) = ["user_id", "project_id"]
            .into_iter()
            .find(|c| free(&cols, c))
    {
        cols.push(format!("{c} text"));
        values.push("'ext-' || g".to_owned());
    }
    if i % 19 == 7
        && let Some(c) = ["namespace_id", "user_id"]
            .into_iter()
            .find(|c| free(&cols, c))
    {
        cols.push(format!("{c} bigint"));
        values.push("1 + g % 6".to_owned());
    }
    let names = column_names(&cols);
    cols.push(COMMON.to_owned());
    cols.extend(keys);
    let _ = writeln!(
        s,
        "CREATE TABLE {name} ({});
INSERT INTO {name} ({}) SELECT {} FROM generate_series(1, {ROWS}) g;",
        cols.join(", "),
        names.join(", "),
        values.join(", ")
    );
    fks
}

/// The names of the columns `cols` declares.
fn column_names(cols: &[String]) -> Vec<String> {
    cols.iter()
        .filter_map(|c| c.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// The whole schema with its rows, in batches of about 100 tables (one
/// transaction creating them all would need more lock slots than a
/// default server has), and the number of foreign keys.
pub fn gitlab_schema() -> (Vec<String>, usize) {
    let mut batches = vec![String::new()];
    hubs(&mut batches[0]);
    partitioned(&mut batches[0]);
    // Hubs: 7 keys; partitioned tables: one each.
    let mut fks = 7 + PARTITIONED;
    for i in 0..LEAVES {
        if i % 100 == 0 {
            batches.push(String::new());
        }
        if let Some(s) = batches.last_mut() {
            fks += leaf(s, i);
        }
    }
    batches.push("ANALYZE;\n".to_owned());
    (batches, fks)
}
