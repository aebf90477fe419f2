//! The catalog meta commands (`\l`, `\dn`, `\df`, `\dv`, `\di`, `\du`,
//! `\dt+`, `\d+`, `\d VIEW`, `\h`) and what `\d` and `\refs` add from the
//! catalog (every index, trigger WHEN clauses, associations), on both
//! engines, through the binary in piped mode.
//!
//! Names that change per run (the test database, a role) are replaced
//! before the snapshot, and so are sizes, which depend on the server's
//! page layout; the grids are then squeezed (runs of spaces and dashes to
//! one) so a size's width cannot move the columns.

use crate::helpers::*;

const PG_FIXTURE: &str = r#"
CREATE SCHEMA other;
CREATE TABLE architectures (id int PRIMARY KEY, name text UNIQUE);
CREATE TABLE builds (id int PRIMARY KEY, architecture_id int, title text, n int);
COMMENT ON TABLE builds IS 'every build';
COMMENT ON COLUMN builds.title IS 'what was built';
CREATE INDEX builds_title ON builds (title);
CREATE UNIQUE INDEX builds_lower ON builds (lower(title)) WHERE n > 0;
CREATE INDEX builds_n_hash ON builds USING hash (n);
CREATE TABLE other."Mixed" (id int PRIMARY KEY);
CREATE VIEW v_builds AS SELECT id, title FROM builds WHERE n > 0;
CREATE MATERIALIZED VIEW other.m_counts AS SELECT count(*) AS c FROM builds;
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE FUNCTION other.add(a int, b int) RETURNS int LANGUAGE sql AS 'SELECT a + b';
CREATE PROCEDURE p_noop() LANGUAGE sql AS 'SELECT 1';
CREATE AGGREGATE other.mysum(int) (SFUNC = int4pl, STYPE = int);
CREATE TRIGGER builds_touch BEFORE UPDATE ON builds FOR EACH ROW
    WHEN (OLD.n IS DISTINCT FROM NEW.n) EXECUTE FUNCTION touch();
INSERT INTO builds SELECT g, NULL, 't' || g, g FROM generate_series(1, 100) g;
ANALYZE;
"#;

const SQLITE_FIXTURE: &str = r#"
CREATE TABLE architectures (id INTEGER PRIMARY KEY, name TEXT UNIQUE);
CREATE TABLE builds (id INTEGER PRIMARY KEY, architecture_id INT, title TEXT, n INT);
CREATE INDEX builds_title ON builds (title);
CREATE INDEX builds_expr ON builds (lower(title)) WHERE n > 0;
CREATE VIEW v_builds AS SELECT id, title FROM builds;
CREATE TRIGGER builds_log AFTER UPDATE ON builds FOR EACH ROW WHEN new.n > 1
BEGIN SELECT 1; END;
INSERT INTO builds (title, n) VALUES ('a', 1), ('b', 2), ('c', 3);
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

/// `text` with every `N bytes`/`N kB`/`N MB` as `<size>`, runs of spaces
/// and of dashes squeezed to one, and line ends trimmed.
fn sizes_redacted(text: &str) -> String {
    let lines: Vec<String> = text.lines().map(line_sizes_redacted).collect();
    squeezed(&lines.join("\n"))
}

fn line_sizes_redacted(line: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    for w in line.split(' ') {
        let unit = ["bytes", "kB", "MB", "bytes,", "kB,", "MB,"].contains(&w);
        let after_number = words
            .last()
            .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
        if unit && after_number {
            words.pop();
            words.push(format!("<size>{}", if w.ends_with(',') { "," } else { "" }));
        } else {
            words.push(w.to_owned());
        }
    }
    words.join(" ")
}

fn squeezed(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if (c == ' ' || c == '-') && out.ends_with(c) {
            continue;
        }
        out.push(c);
    }
    out.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn postgres_catalog_listings() {
    let db = PgDb::with(PG_FIXTURE);
    let url = db.url.as_str();
    insta::assert_snapshot!("pg_dn", meta(url, "\\dn"));
    insta::assert_snapshot!("pg_df", meta(url, "\\df"));
    insta::assert_snapshot!("pg_df_pattern", meta(url, "\\df OTHER.*"));
    insta::assert_snapshot!("pg_dv", meta(url, "\\dv"));
    insta::assert_snapshot!("pg_dv_schema", meta(url, "\\dv other.*"));
    insta::assert_snapshot!("pg_di", meta(url, "\\di"));
    insta::assert_snapshot!("pg_di_pattern", meta(url, "\\di BUILDS_*E*"));
    insta::assert_snapshot!("pg_dt_fold", meta(url, "\\dt BUILD?"));
    insta::assert_snapshot!("pg_dt_quoted", meta(url, "\\dt other.\"Mixed\""));
    insta::assert_snapshot!("pg_dt_quoted_miss", meta(url, "\\dt other.Mixed"));
    // pg_catalog's functions only when the pattern names that schema.
    let now = meta(url, "\\df pg_catalog.now");
    assert!(now.contains("pg_catalog | now"), "{now}");
    assert!(!meta(url, "\\df now").contains("pg_catalog"));
}

#[test]
fn postgres_sizes_descriptions_and_views() {
    let db = PgDb::with(PG_FIXTURE);
    let url = db.url.as_str();
    insta::assert_snapshot!("pg_dt_plus", sizes_redacted(&meta(url, "\\dt+")));
    insta::assert_snapshot!(
        "pg_d_plus_builds",
        sizes_redacted(&meta(url, "\\d+ builds"))
    );
    insta::assert_snapshot!("pg_d_builds", meta(url, "\\d builds"));
    insta::assert_snapshot!("pg_d_view", meta(url, "\\d v_builds"));
    insta::assert_snapshot!("pg_d_matview", meta(url, "\\d other.m_counts"));
    insta::assert_snapshot!("pg_refs_associations", meta(url, "\\refs architectures"));
    // The estimate is the planner's after ANALYZE: exactly the 100 rows.
    let plus = meta(url, "\\dt+ builds");
    assert!(plus.contains("| 100 "), "{plus}");
}

#[test]
fn postgres_databases_and_roles() {
    let db = PgDb::with("");
    let url = db.url.as_str();
    let l = meta(url, &format!("\\l {}", db.name));
    insta::assert_snapshot!("pg_l", sizes_redacted(&l.replace(&db.name, "<db>")));
    let role = format!("{}_role", db.name);
    let mut admin = pg_admin();
    admin
        .batch_execute(&format!(
            "CREATE ROLE \"{role}_group\" NOLOGIN; \
             CREATE ROLE \"{role}\" LOGIN CREATEDB CONNECTION LIMIT 3 IN ROLE \"{role}_group\""
        ))
        .expect("create roles");
    let du = meta(url, &format!("\\du {role}*"));
    admin
        .batch_execute(&format!("DROP ROLE \"{role}\"; DROP ROLE \"{role}_group\""))
        .expect("drop roles");
    insta::assert_snapshot!("pg_du", squeezed(&du.replace(&role, "<role>")));
}

#[test]
fn sqlite_catalog_listings() {
    let db = SqliteDb::with(SQLITE_FIXTURE);
    let t = db.target();
    let path = t.as_str();
    insta::assert_snapshot!(
        "sqlite_l",
        squeezed(&meta(path, "\\l").replace(path, "<file>"))
    );
    insta::assert_snapshot!(
        "sqlite_dn",
        squeezed(&meta(path, "\\dn").replace(path, "<file>"))
    );
    insta::assert_snapshot!("sqlite_df", meta(path, "\\df"));
    insta::assert_snapshot!("sqlite_du", meta(path, "\\du"));
    insta::assert_snapshot!("sqlite_dv", meta(path, "\\dv"));
    insta::assert_snapshot!("sqlite_di", meta(path, "\\di"));
    insta::assert_snapshot!("sqlite_dt_plus", sizes_redacted(&meta(path, "\\dt+")));
    insta::assert_snapshot!(
        "sqlite_d_plus_builds",
        sizes_redacted(&meta(path, "\\d+ builds"))
    );
    insta::assert_snapshot!("sqlite_d_view", meta(path, "\\d v_builds"));
    insta::assert_snapshot!(
        "sqlite_refs_associations",
        meta(path, "\\refs architectures")
    );
    // dbstat counts the rows of the leaf pages: exactly the three.
    let plus = meta(path, "\\dt+ builds");
    assert!(plus.contains("| 3 "), "{plus}");
}

#[test]
fn sql_help_lists_and_explains_statements() {
    let db = SqliteDb::with("");
    let t = db.target();
    insta::assert_snapshot!("help_index", meta(&t, "\\h"));
    insta::assert_snapshot!("help_delete", meta(&t, "\\h delete"));
    insta::assert_snapshot!("help_unknown", meta(&t, "\\h copy"));
    // `\help` alone is still the meta command list.
    assert!(meta(&t, "\\help").starts_with("Meta commands\n"));
    assert!(meta(&t, "\\help set").starts_with("Command:     SET\n"));
}

/// What `\h` says the guard does, checked against what it does: TABLE
/// reads, EXPLAIN ANALYZE of a write does not run it, RESET is refused,
/// VALUES reads.
#[test]
fn sql_help_claims_hold_on_postgres() {
    let db = PgDb::with("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2);");
    let url = db.url.as_str();
    assert!(meta(url, "\\h table").contains("read (PostgreSQL)"));
    assert!(meta(url, "TABLE t;").contains("(2 rows)"));
    let out = run_with_stdin(&[url], "EXPLAIN ANALYZE DELETE FROM t;\nRESET work_mem;\n");
    let err = stderr(&out);
    assert!(err.contains("EXPLAIN ANALYZE runs the statement"), "{err}");
    assert!(err.contains("session setting not executed"), "{err}");
    let mut c = db.client();
    let n: i64 = c.query_one("SELECT count(*) FROM t", &[]).unwrap().get(0);
    assert_eq!(n, 2, "EXPLAIN ANALYZE DELETE must not delete");
    assert!(meta(url, "VALUES (7);").contains("       7"));
}
