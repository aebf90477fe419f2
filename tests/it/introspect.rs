//! Schema introspection on both engines, and the `\dt`, `\d`, `\refs`
//! meta commands that show it.
//!
//! The fixtures pack every case the catalog code must get right (composite
//! and self-referencing FKs, a cycle, PG15 `SET NULL (col)` lists, MATCH
//! FULL, deferrable constraints, the same table name in two schemas, two FKs
//! between one pair of tables, quoted and non-ASCII names, partitions,
//! generated and identity columns, triggers, row security) into one
//! database per engine; the output is snapshot-tested through the binary in
//! piped mode, and the loaded model is checked directly where a snapshot
//! would hide a detail. The query-count tests prove acceptance item 7:
//! introspection costs a fixed handful of queries, not one per table.

use dbguard::db::Connection;
use dbguard::schema::{
    FkAction, ForeignKey, Generated, Identity, MatchType, QualName, Schema, TableKind,
    TriggerEvent, TriggerTiming,
};

use crate::helpers::*;

const PG_FIXTURE: &str = r#"
CREATE SCHEMA other;
CREATE DOMAIN "bıgınt" AS bigint;

CREATE TABLE parent (
    id int PRIMARY KEY,
    code text NOT NULL UNIQUE,
    region int,
    UNIQUE (id, region)
);
-- an expression and a partial unique index: not column keys
CREATE UNIQUE INDEX parent_code_lower ON parent (lower(code));
CREATE UNIQUE INDEX parent_region_partial ON parent (region) WHERE region > 0;
-- a unique index that is no constraint: a key all the same
CREATE UNIQUE INDEX parent_region_id ON parent (region, id) INCLUDE (code);

CREATE TABLE child (
    id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id int REFERENCES parent (id) ON DELETE CASCADE ON UPDATE CASCADE,
    backup_parent_id int REFERENCES parent (id) ON DELETE SET NULL,
    region int,
    qty int NOT NULL DEFAULT 1,
    price numeric(10,2),
    total numeric GENERATED ALWAYS AS (qty * price) STORED,
    big "bıgınt",
    CONSTRAINT child_composite_fkey FOREIGN KEY (parent_id, region)
        REFERENCES parent (id, region) MATCH FULL ON DELETE SET NULL (region)
);

-- the same name in a second schema, referencing a public table
CREATE TABLE other.child (
    id serial PRIMARY KEY,
    parent_id int NOT NULL REFERENCES public.parent (id) ON DELETE RESTRICT
);

CREATE TABLE grandchild (
    id int PRIMARY KEY,
    child_id int DEFAULT 0 REFERENCES child (id) ON DELETE SET DEFAULT,
    other_child_id int REFERENCES other.child (id) ON DELETE CASCADE
);

CREATE TABLE "Weird ""Name"" ü" (
    "ID" int PRIMARY KEY,
    "Grand Child" int REFERENCES grandchild (id) ON DELETE CASCADE
);

-- a self-reference
CREATE TABLE category (
    id int PRIMARY KEY,
    parent_id int REFERENCES category (id) ON DELETE CASCADE,
    name text
);

-- a two-table cycle, closed after both exist
CREATE TABLE author (id int PRIMARY KEY, favorite_book_id int);
CREATE TABLE book (
    id int PRIMARY KEY,
    author_id int NOT NULL REFERENCES author (id) ON DELETE CASCADE
);
ALTER TABLE author ADD CONSTRAINT author_favorite_book_fkey
    FOREIGN KEY (favorite_book_id) REFERENCES book (id)
    ON DELETE NO ACTION DEFERRABLE INITIALLY DEFERRED;

-- partitions: the FK declared on the partitioned table is cloned onto every
-- partition, and the FK referencing it gets a clone per partition
CREATE TABLE measurements (
    id int NOT NULL,
    at date NOT NULL,
    parent_id int REFERENCES parent (id) ON DELETE CASCADE,
    PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
CREATE TABLE measurements_2024 PARTITION OF measurements
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE measurements_2025 PARTITION OF measurements
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE notes (
    id int PRIMARY KEY,
    m_id int,
    m_at date,
    FOREIGN KEY (m_id, m_at) REFERENCES measurements (id, at) ON DELETE SET NULL
);

-- triggers: one row-level, one statement-level and disabled, calling a
-- function outside the search path
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE FUNCTION other.audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER child_touch BEFORE INSERT OR UPDATE ON child
    FOR EACH ROW EXECUTE FUNCTION touch();
CREATE TRIGGER child_audit AFTER DELETE OR TRUNCATE ON child
    FOR EACH STATEMENT EXECUTE FUNCTION other.audit();
ALTER TABLE child DISABLE TRIGGER child_audit;

ALTER TABLE child ENABLE ROW LEVEL SECURITY;
ALTER TABLE child FORCE ROW LEVEL SECURITY;
ALTER TABLE book ENABLE ROW LEVEL SECURITY;
"#;

/// Runs one meta command through the binary in piped mode; it must succeed.
fn meta(target: &str, command: &str) -> String {
    let out = run_with_stdin(&[target], &format!("{command}\n"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{command} failed:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

fn introspect(target: &str) -> Schema {
    let mut conn = match Connection::open(Some(target), &Default::default()) {
        Ok(c) => c,
        Err(e) => panic!("open {target}: {e}"),
    };
    match conn.introspect() {
        Ok(s) => s,
        Err(e) => panic!("introspect: {e}"),
    }
}

fn fk<'s>(schema: &'s Schema, table: QualName, name: &str) -> &'s ForeignKey {
    let t = schema
        .get(&table)
        .unwrap_or_else(|| panic!("table {table} not loaded"));
    t.foreign_keys
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no FK {name} on {table}: {:?}", t.foreign_keys))
}

fn pg(name: &str) -> QualName {
    QualName::new(Some("public"), name)
}

#[test]
fn postgres_meta_commands_show_every_fk_with_its_actions() {
    let db = PgDb::with(PG_FIXTURE);
    let url = db.url.as_str();
    insta::assert_snapshot!("pg_dt", meta(url, "\\dt"));
    insta::assert_snapshot!("pg_dt_pattern", meta(url, "\\dt *.child"));
    insta::assert_snapshot!("pg_d_child", meta(url, "\\d public.child"));
    insta::assert_snapshot!("pg_d_parent", meta(url, "\\d parent"));
    insta::assert_snapshot!("pg_d_other_child", meta(url, "\\d other.child"));
    insta::assert_snapshot!("pg_d_weird", meta(url, "\\d \"Weird \"\"Name\"\" ü\""));
    insta::assert_snapshot!("pg_d_author", meta(url, "\\d author"));
    insta::assert_snapshot!("pg_d_measurements", meta(url, "\\d measurements"));
    insta::assert_snapshot!("pg_d_partition", meta(url, "\\d measurements_2024"));
    insta::assert_snapshot!("pg_refs_parent", meta(url, "\\refs parent"));
    insta::assert_snapshot!("pg_refs_author", meta(url, "\\refs author"));
    insta::assert_snapshot!("pg_refs_category", meta(url, "\\refs category"));
    insta::assert_snapshot!("pg_refs_partition", meta(url, "\\refs measurements_2025"));
    insta::assert_snapshot!(
        "pg_refs_weird",
        meta(url, "\\refs \"Weird \"\"Name\"\" ü\"")
    );
}

#[test]
fn postgres_schema_model_is_exact() {
    let db = PgDb::with(PG_FIXTURE);
    let s = introspect(&db.url);
    assert_eq!(s.search_path, vec!["public".to_owned()]);

    // Tables: same name in two schemas, partitions, quoted names.
    let names: Vec<String> = s.tables.iter().map(|t| t.name.to_string()).collect();
    assert_eq!(
        names,
        [
            "other.child",
            "public.\"Weird \"\"Name\"\" ü\"",
            "public.author",
            "public.book",
            "public.category",
            "public.child",
            "public.grandchild",
            "public.measurements",
            "public.measurements_2024",
            "public.measurements_2025",
            "public.notes",
            "public.parent",
        ]
    );
    let m = s.get(&pg("measurements")).expect("measurements");
    assert_eq!(m.kind, TableKind::Partitioned);
    let p = s.get(&pg("measurements_2024")).expect("partition");
    assert_eq!(p.partition_of, Some(pg("measurements")));
    // Cloned FKs are not listed on partitions, nor as references to them.
    assert!(p.foreign_keys.is_empty(), "{:?}", p.foreign_keys);
    assert!(s.referencing(&p.name).is_empty());
    assert_eq!(s.get(&pg("notes")).map(|t| t.foreign_keys.len()), Some(1));
    assert_eq!(m.foreign_keys.len(), 1);

    // Columns: identity, generated, domain type with a non-ASCII name.
    let child = s.get(&pg("child")).expect("child");
    let col = |n: &str| child.column(n).unwrap_or_else(|| panic!("column {n}"));
    assert_eq!(col("id").identity, Some(Identity::Always));
    assert!(col("id").not_null);
    assert_eq!(col("total").generated, Some(Generated::Stored));
    assert_eq!(
        col("total").default.as_deref(),
        Some("qty::numeric * price")
    );
    assert_eq!(col("qty").default.as_deref(), Some("1"));
    assert_eq!(col("big").type_name, "\"bıgınt\"");
    assert_eq!(col("price").type_name, "numeric(10,2)");
    assert!(child.rls_enabled && child.rls_forced);

    // Keys: constraint and non-constraint unique keys, INCLUDE columns left
    // out, expression and partial indexes skipped.
    let parent = s.get(&pg("parent")).expect("parent");
    assert_eq!(
        parent.primary_key.as_ref().map(|k| k.columns.clone()),
        Some(vec!["id".to_owned()])
    );
    let uniques: Vec<(String, Vec<String>)> = parent
        .unique
        .iter()
        .map(|k| (k.name.clone(), k.columns.clone()))
        .collect();
    assert_eq!(
        uniques,
        [
            ("parent_code_key".to_owned(), vec!["code".to_owned()]),
            (
                "parent_id_region_key".to_owned(),
                vec!["id".to_owned(), "region".to_owned()]
            ),
            (
                "parent_region_id".to_owned(),
                vec!["region".to_owned(), "id".to_owned()]
            ),
        ]
    );

    // Foreign keys: actions, PG15 column lists, match type, deferral.
    let f = fk(&s, pg("child"), "child_composite_fkey");
    assert_eq!(f.columns, ["parent_id", "region"]);
    assert_eq!(f.ref_columns, ["id", "region"]);
    assert_eq!(f.on_delete, FkAction::SetNull);
    assert_eq!(f.delete_set_columns, Some(vec!["region".to_owned()]));
    assert_eq!(f.match_type, MatchType::Full);
    let f = fk(&s, pg("child"), "child_parent_id_fkey");
    assert_eq!(
        (f.on_delete, f.on_update),
        (FkAction::Cascade, FkAction::Cascade)
    );
    assert_eq!(f.delete_set_columns, None);
    assert_eq!(f.match_type, MatchType::Simple);
    let f = fk(&s, pg("child"), "child_backup_parent_id_fkey");
    assert_eq!(
        (f.on_delete, f.on_update),
        (FkAction::SetNull, FkAction::NoAction)
    );
    let f = fk(
        &s,
        QualName::new(Some("other"), "child"),
        "child_parent_id_fkey",
    );
    assert_eq!(f.on_delete, FkAction::Restrict);
    assert_eq!(f.ref_table, pg("parent"));
    let f = fk(&s, pg("grandchild"), "grandchild_child_id_fkey");
    assert_eq!(f.on_delete, FkAction::SetDefault);
    let f = fk(&s, pg("author"), "author_favorite_book_fkey");
    assert_eq!(f.on_delete, FkAction::NoAction);
    assert!(f.deferrable && f.initially_deferred);
    let f = fk(
        &s,
        pg("Weird \"Name\" ü"),
        "Weird \"Name\" ü_Grand Child_fkey",
    );
    assert_eq!(f.columns, ["Grand Child"]);
    let f = fk(&s, pg("category"), "category_parent_id_fkey");
    assert_eq!(f.ref_table, pg("category"));

    // Two FKs between the same pair plus the composite one, and the table
    // of the same name in another schema: all four reference parent.
    let into_parent: Vec<(String, String)> = s
        .referencing(&pg("parent"))
        .iter()
        .map(|f| (f.table.to_string(), f.name.clone()))
        .collect();
    assert_eq!(
        into_parent,
        [
            ("other.child".to_owned(), "child_parent_id_fkey".to_owned()),
            (
                "public.child".to_owned(),
                "child_backup_parent_id_fkey".to_owned()
            ),
            ("public.child".to_owned(), "child_composite_fkey".to_owned()),
            ("public.child".to_owned(), "child_parent_id_fkey".to_owned()),
            (
                "public.measurements".to_owned(),
                "measurements_parent_id_fkey".to_owned()
            ),
        ]
    );

    // Triggers: timing, events, level, enabled, function.
    let trig: Vec<_> = child
        .triggers
        .iter()
        .map(|t| {
            (
                t.name.as_str(),
                t.timing,
                t.events.clone(),
                t.for_each_row,
                t.enabled,
                t.action.as_str(),
            )
        })
        .collect();
    assert_eq!(
        trig,
        [
            (
                "child_audit",
                TriggerTiming::After,
                vec![TriggerEvent::Delete, TriggerEvent::Truncate],
                false,
                false,
                "other.audit()"
            ),
            (
                "child_touch",
                TriggerTiming::Before,
                vec![TriggerEvent::Insert, TriggerEvent::Update],
                true,
                true,
                "touch()"
            ),
        ]
    );

    // Name resolution of what the user types.
    assert_eq!(
        s.resolve_str("\"Weird \"\"Name\"\" ü\"")
            .map(|t| t.name.clone()),
        Some(pg("Weird \"Name\" ü"))
    );
    assert_eq!(
        s.resolve_str("CHILD").map(|t| t.name.clone()),
        Some(pg("child"))
    );
}

const SQLITE_FIXTURE: &str = r#"
CREATE TABLE architectures (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE distributions (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE distribution_architectures (
    distribution_id INTEGER NOT NULL REFERENCES distributions (id) ON DELETE CASCADE,
    architecture_id INTEGER NOT NULL REFERENCES Architectures ON DELETE CASCADE,
    PRIMARY KEY (distribution_id, architecture_id)
) WITHOUT ROWID;
CREATE TABLE builds (
    id INTEGER PRIMARY KEY,
    distribution_id INTEGER,
    architecture_id INTEGER,
    parent_build_id INTEGER REFERENCES builds (id) ON DELETE SET NULL,
    started INTEGER,
    finished INTEGER,
    duration INTEGER GENERATED ALWAYS AS (finished - started) VIRTUAL,
    label TEXT AS ('#' || id) STORED,
    CONSTRAINT builds_dist_arch FOREIGN KEY (distribution_id, architecture_id)
        REFERENCES distribution_architectures (distribution_id, architecture_id)
        ON DELETE RESTRICT ON UPDATE CASCADE DEFERRABLE INITIALLY DEFERRED
);
CREATE UNIQUE INDEX builds_started ON builds (started, architecture_id);
CREATE UNIQUE INDEX builds_finished ON builds (finished) WHERE finished IS NOT NULL;
CREATE UNIQUE INDEX builds_expr ON builds (started + 1);
CREATE TABLE "Build Log" (
    build_id INTEGER REFERENCES builds ON DELETE CASCADE,
    line TEXT DEFAULT 'none'
);
CREATE TRIGGER builds_audit AFTER DELETE ON builds
BEGIN
    INSERT INTO "Build Log" (build_id, line) VALUES (old.id, 'deleted');
END;
CREATE TRIGGER "before update" BEFORE UPDATE OF started, finished ON builds
BEGIN SELECT 1; END;
"#;

#[test]
fn sqlite_meta_commands_show_every_fk_with_its_actions() {
    let db = SqliteDb::with(SQLITE_FIXTURE);
    let target = db.target();
    let t = target.as_str();
    insta::assert_snapshot!("sqlite_dt", meta(t, "\\dt"));
    insta::assert_snapshot!("sqlite_d_builds", meta(t, "\\d builds"));
    insta::assert_snapshot!(
        "sqlite_d_distribution_architectures",
        meta(t, "\\d distribution_architectures")
    );
    insta::assert_snapshot!("sqlite_d_architectures", meta(t, "\\d architectures"));
    insta::assert_snapshot!("sqlite_refs_architectures", meta(t, "\\refs architectures"));
    insta::assert_snapshot!("sqlite_refs_builds", meta(t, "\\refs builds"));
    insta::assert_snapshot!("sqlite_refs_build_log", meta(t, "\\refs \"Build Log\""));
}

#[test]
fn sqlite_schema_model_is_exact() {
    let db = SqliteDb::with(SQLITE_FIXTURE);
    let s = introspect(&db.target());
    let q = |n: &str| QualName::new(None, n);

    let da = s.get(&q("distribution_architectures")).expect("da");
    assert!(da.without_rowid);
    assert!(da.columns.iter().all(|c| c.not_null));
    // `REFERENCES Architectures` with no column list: the parent's primary
    // key, under the parent's real spelling.
    let f = fk(
        &s,
        q("distribution_architectures"),
        "distribution_architectures_architecture_id_fkey",
    );
    assert_eq!(f.ref_table, q("architectures"));
    assert_eq!(f.ref_columns, ["id"]);
    assert_eq!(f.on_delete, FkAction::Cascade);

    let builds = s.get(&q("builds")).expect("builds");
    assert!(!builds.without_rowid);
    assert_eq!(builds.column("id").map(|c| c.not_null), Some(true));
    let duration = builds.column("duration").expect("duration");
    assert_eq!(duration.generated, Some(Generated::Virtual));
    assert_eq!(duration.default.as_deref(), Some("finished - started"));
    assert_eq!(duration.type_name, "INTEGER");
    assert_eq!(
        builds.column("label").and_then(|c| c.generated),
        Some(Generated::Stored)
    );
    let uniques: Vec<(&str, Vec<String>)> = builds
        .unique
        .iter()
        .map(|k| (k.name.as_str(), k.columns.clone()))
        .collect();
    assert_eq!(
        uniques,
        [(
            "builds_started",
            vec!["started".to_owned(), "architecture_id".to_owned()]
        )]
    );

    // A named composite FK, with what only the CREATE text says.
    let f = fk(&s, q("builds"), "builds_dist_arch");
    assert_eq!(f.columns, ["distribution_id", "architecture_id"]);
    assert_eq!(f.ref_columns, ["distribution_id", "architecture_id"]);
    assert_eq!(
        (f.on_delete, f.on_update),
        (FkAction::Restrict, FkAction::Cascade)
    );
    assert!(f.deferrable && f.initially_deferred);
    let f = fk(&s, q("builds"), "builds_parent_build_id_fkey");
    assert_eq!(f.ref_table, q("builds"));
    assert_eq!(f.on_delete, FkAction::SetNull);
    assert!(!f.deferrable);

    let arch = s.get(&q("architectures")).expect("architectures");
    assert_eq!(
        arch.unique
            .iter()
            .map(|k| (k.name.as_str(), k.columns.clone()))
            .collect::<Vec<_>>(),
        [("architectures_name_key", vec!["name".to_owned()])]
    );

    let trig: Vec<_> = builds
        .triggers
        .iter()
        .map(|t| (t.name.as_str(), t.timing, t.events.clone()))
        .collect();
    assert_eq!(
        trig,
        [
            (
                "before update",
                TriggerTiming::Before,
                vec![TriggerEvent::Update]
            ),
            (
                "builds_audit",
                TriggerTiming::After,
                vec![TriggerEvent::Delete]
            ),
        ]
    );
    assert_eq!(
        builds.triggers[1].action,
        "INSERT INTO \"Build Log\" (build_id, line) VALUES (old.id, 'deleted');"
    );
}

/// DDL for `n` tables with two FKs each (to the previous table and to the
/// one seven back, wrapping around), added after all tables exist so the
/// graph has long cycles. The startup measure of `benches/suite.rs` uses
/// the same shape.
fn generated_schema_sql(n: usize, pg: bool) -> String {
    let mut sql = String::new();
    for i in 0..n {
        if pg {
            sql.push_str(&format!(
                "CREATE TABLE t{i} (id int PRIMARY KEY, a int, b int, note text);\n"
            ));
        } else {
            let a = (i + n - 1) % n;
            let b = (i + n - 7) % n;
            // SQLite cannot add constraints later, and needs none to exist.
            sql.push_str(&format!(
                "CREATE TABLE t{i} (id INTEGER PRIMARY KEY, a INT REFERENCES t{a} (id) ON DELETE CASCADE, \
                 b INT REFERENCES t{b} (id) ON DELETE SET NULL, note TEXT);\n"
            ));
        }
    }
    if pg {
        for i in 0..n {
            let a = (i + n - 1) % n;
            let b = (i + n - 7) % n;
            sql.push_str(&format!(
                "ALTER TABLE t{i} ADD FOREIGN KEY (a) REFERENCES t{a} (id) ON DELETE CASCADE, \
                 ADD FOREIGN KEY (b) REFERENCES t{b} (id) ON DELETE SET NULL;\n"
            ));
        }
    }
    sql
}

#[test]
fn postgres_introspection_of_1000_tables_takes_a_handful_of_queries() {
    let db = PgDb::with(&format!(
        "BEGIN;\n{}COMMIT;\n",
        generated_schema_sql(1000, true)
    ));
    let mut client = db.client();
    let mut tx = client
        .build_transaction()
        .read_only(true)
        .start()
        .expect("read-only transaction");
    let mut counter = dbguard::db::postgres::catalog::QueryCounter::default();
    let schema = match dbguard::db::postgres::catalog::load(&mut tx, &mut counter) {
        Ok(s) => s,
        Err(e) => panic!("load: {e}"),
    };
    assert!(counter.queries <= 8, "{} catalog queries", counter.queries);
    assert_eq!(schema.tables.len(), 1000);
    let fks: usize = schema.tables.iter().map(|t| t.foreign_keys.len()).sum();
    assert_eq!(fks, 2000);
    assert_eq!(schema.referencing(&pg("t0")).len(), 2);
    assert!(
        schema
            .tables
            .iter()
            .all(|t| t.columns.len() == 4 && t.primary_key.is_some())
    );
}

#[test]
fn sqlite_introspection_of_300_tables_takes_a_handful_of_queries() {
    let db = SqliteDb::with(&format!(
        "BEGIN;\n{}COMMIT;\n",
        generated_schema_sql(300, false)
    ));
    let mut conn = db.conn();
    let tx = conn.transaction().expect("transaction");
    let mut counter = dbguard::db::sqlite::catalog::QueryCounter::default();
    let schema = match dbguard::db::sqlite::catalog::load(&tx, &mut counter) {
        Ok(s) => s,
        Err(e) => panic!("load: {e}"),
    };
    assert!(counter.queries <= 8, "{} catalog queries", counter.queries);
    assert_eq!(schema.tables.len(), 300);
    let fks: usize = schema.tables.iter().map(|t| t.foreign_keys.len()).sum();
    assert_eq!(fks, 600);
    assert_eq!(schema.referencing(&QualName::new(None, "t0")).len(), 2);
}
