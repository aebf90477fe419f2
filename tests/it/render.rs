//! Result rendering: psql-style tables, NULLs, alignment, expanded display,
//! truncation and auto-expansion at a terminal width, unicode widths, and
//! the streaming page over a result larger than the display limit.
//!
//! Piped runs go through the real binary (no terminal: nothing truncated,
//! `\x auto` means off). Terminal widths cannot be faked through a pipe, so
//! those cases read from a real database through the library with a width
//! set, exactly as the shell does on a terminal.

use dbguard::db::{Connection, OpenOptions};
use dbguard::shell::render::{DisplaySettings, Expanded, TableCollector};

use crate::helpers::*;

/// Runs `sql` on `target` through the collector with these settings.
fn render_at(target: &str, sql: &str, expanded: Expanded, width: Option<u16>) -> String {
    let mut conn = Connection::open(Some(target), &OpenOptions::default()).expect("open target");
    let settings = DisplaySettings {
        expanded,
        width,
        null: "<null>".into(),
        ..DisplaySettings::default()
    };
    let mut sink = TableCollector::new(&settings);
    let summary = conn.run_read(sql, &mut sink).expect("read");
    sink.render(&summary)
}

/// Runs a piped session and returns stdout, failing on a non-zero exit.
fn piped(target: &str, stdin: &str) -> String {
    let out = run_with_stdin(&[target], stdin);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    stdout(&out)
}

const PRODUCTS: &str = "
    create table products(id integer primary key, name text, price numeric(8,2), note text);
    insert into products values
      (1, 'apple', 1.50, 'crisp'),
      (2, 'banana', 0.25, null),
      (3, 'cherry', 12.00, ''),
      (10, null, null, 'no name, no price');
";

#[test]
fn plain_table_sqlite() {
    let db = SqliteDb::with(PRODUCTS);
    let out = piped(
        &db.target(),
        "SELECT id, name, note FROM products ORDER BY id;\n",
    );
    insta::assert_snapshot!("render_plain_table", out);
}

#[test]
fn nulls_and_right_aligned_numbers_postgres() {
    let db = PgDb::with(PRODUCTS);
    let out = piped(
        &db.url,
        "SELECT id, name, price, note, id * 1000 AS big FROM products ORDER BY id;\n",
    );
    insta::assert_snapshot!("render_nulls_numbers", out);
}

#[test]
fn empty_result_shows_header_and_zero_rows() {
    let db = PgDb::with(PRODUCTS);
    let out = piped(&db.url, "SELECT id, name FROM products WHERE false;\n");
    assert_eq!(out, " id | name\n----+------\n(0 rows)\n");
}

#[test]
fn expanded_display_postgres() {
    let db = PgDb::with(PRODUCTS);
    let out = piped(
        &db.url,
        "\\x on\nSELECT id, name, price, note AS \"long column name\" FROM products WHERE id IN (1, 10) ORDER BY id;\n",
    );
    insta::assert_snapshot!("render_expanded", out);
}

#[test]
fn multi_line_values_stay_readable() {
    let db = SqliteDb::with(
        "create table notes(id integer primary key, body text, tag text);
         insert into notes values (1, 'first line' || char(10) || 'second line' || char(10) || 'third', 'a'),
                                  (2, 'one line', 'tab' || char(9) || 'bed');",
    );
    let out = piped(
        &db.target(),
        "SELECT id, body, tag FROM notes ORDER BY id;\n\\x on\nSELECT id, body FROM notes WHERE id = 1;\n",
    );
    insta::assert_snapshot!("render_multiline", out);
}

#[test]
fn auto_expanded_at_a_narrow_width() {
    let db = PgDb::with(PRODUCTS);
    let sql = "SELECT id, name, note, 'a fairly long description of the product' AS description FROM products WHERE id <= 2 ORDER BY id";
    let wide = render_at(&db.url, sql, Expanded::Auto, Some(120));
    assert!(!wide.contains("RECORD"), "{wide}");
    let narrow = render_at(&db.url, sql, Expanded::Auto, Some(40));
    for line in narrow.lines() {
        assert!(line.chars().count() <= 40, "too wide: {line:?}");
    }
    insta::assert_snapshot!("render_auto_expanded_width_40", narrow);
}

#[test]
fn truncation_at_a_narrow_width() {
    let db = PgDb::with(PRODUCTS);
    let sql = "SELECT id, repeat('abcdefghij', 10) AS long_text, name FROM products WHERE id <= 2 ORDER BY id";
    let out = render_at(&db.url, sql, Expanded::Off, Some(50));
    for line in out.lines() {
        assert!(line.chars().count() <= 50, "too wide: {line:?}");
    }
    insta::assert_snapshot!("render_truncated_width_50", out);
    // The same result piped is never cut.
    let piped_out = render_at(&db.url, sql, Expanded::Off, None);
    assert!(piped_out.contains(&"abcdefghij".repeat(10)), "{piped_out}");
}

#[test]
fn unicode_values_are_aligned_by_display_width() {
    let db = PgDb::with(
        "create table words(id int, word text);
         insert into words values (1, '日本語テキスト'), (2, 'naïve café'), (3, 'plain'), (4, 'emoji 🐘 here');",
    );
    let out = piped(&db.url, "SELECT word, id FROM words ORDER BY id;\n");
    insta::assert_snapshot!("render_unicode", out);
    // Cut at a narrow width, wide characters are never split across the edge.
    let narrow = render_at(
        &db.url,
        "SELECT id, repeat(word, 4) AS word FROM words ORDER BY id",
        Expanded::Off,
        Some(24),
    );
    insta::assert_snapshot!("render_unicode_width_24", narrow);
}

#[test]
fn result_over_the_display_limit() {
    let db = PgDb::with("");
    let out = piped(
        &db.url,
        "\\limit 3\nSELECT n, n * n AS square FROM generate_series(1, 10) AS n;\n",
    );
    insta::assert_snapshot!("render_over_display_limit", out);
}

/// Two million rows through the real binary, piped: one page printed, the
/// rest counted. The process's peak memory is sampled from /proc while it
/// runs; holding every row would take hundreds of megabytes.
#[test]
fn streams_two_million_rows_in_one_page() {
    use std::io::Write;
    use std::process::Stdio;

    let db = PgDb::with("");
    let state = tempfile::tempdir().expect("tempdir");
    let mut child = dbguard(state.path())
        .arg(&db.url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn dbguard");
    let pid = child.id();
    if let Some(mut input) = child.stdin.take() {
        input
            .write_all(b"SELECT n, 'row ' || n AS label FROM generate_series(1, 2000000) AS n;\n")
            .expect("write stdin");
    }
    let sampler = std::thread::spawn(move || {
        let mut peak_kb = 0u64;
        let path = format!("/proc/{pid}/status");
        while let Ok(status) = std::fs::read_to_string(&path) {
            let hwm = status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok());
            match hwm {
                Some(kb) => peak_kb = peak_kb.max(kb),
                None => break, // a zombie has no memory lines
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        peak_kb
    });
    let out = child.wait_with_output().expect("wait dbguard");
    let peak_kb = sampler.join().expect("sampler");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.ends_with(
            "(2000000 rows)\n(showing the first 1000 of 2000000 rows; \\limit N shows more)\n"
        ),
        "footer: {}",
        &text[text.len().saturating_sub(200)..]
    );
    assert_eq!(text.lines().filter(|l| l.contains("| row ")).count(), 1000);
    assert!(peak_kb > 0, "could not sample /proc/{pid}/status");
    assert!(
        peak_kb < 100 * 1024,
        "peak RSS {peak_kb} kB: rows are being kept"
    );
}
