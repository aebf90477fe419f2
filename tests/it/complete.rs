//! Tab completion over real introspected schemas, and one interactive
//! session driven through tmux (a real terminal: raw mode, Tab, multi-line
//! input, Ctrl-C, `\x`).

use std::process::Command;
use std::time::{Duration, Instant};

use dbguard::db::{Connection, OpenOptions};
use dbguard::schema::Schema;
use dbguard::shell::complete::candidates;

use crate::helpers::*;

fn schema_of(target: &str) -> Schema {
    let mut conn = Connection::open(Some(target), &OpenOptions::default()).expect("open target");
    conn.introspect().expect("introspect")
}

fn complete(schema: &Schema, line: &str) -> Vec<String> {
    candidates(schema, line, line.len()).1
}

const PG_SCHEMA: &str = r#"
    create table film(film_id int primary key, title text, rating text);
    create table film_actor(actor_id int, film_id int references film);
    create table "Film Notes"(id int, "Body" text);
    create schema sales;
    create table sales.orders(order_id int, total numeric);
    create table sales.film(sale_id int);
"#;

#[test]
fn postgres_tables_schemas_and_columns() {
    let db = PgDb::with(PG_SCHEMA);
    let s = schema_of(&db.url);
    assert_eq!(
        complete(&s, "SELECT * FROM film"),
        vec!["film", "film_actor"]
    );
    assert_eq!(complete(&s, "SELECT * FROM \"Fi"), vec!["\"Film Notes\""]);
    assert_eq!(complete(&s, "SELECT * FROM ord"), vec!["sales.orders"]);
    assert_eq!(
        complete(&s, "SELECT * FROM sales."),
        vec!["sales.film", "sales.orders"]
    );
    assert_eq!(
        candidates(&s, "SELECT f.ti FROM film f", 11).1,
        vec!["f.title"]
    );
    assert_eq!(
        complete(&s, "SELECT * FROM \"Film Notes\" n WHERE n."),
        vec!["n.id", "n.\"Body\""]
    );
    assert_eq!(
        complete(&s, "select * from sales.orders where to"),
        vec!["total"]
    );
    assert_eq!(complete(&s, "\\d sales.o"), vec!["sales.orders"]);
}

#[test]
fn postgres_search_path_decides_qualification() {
    let db = PgDb::with(PG_SCHEMA);
    db.client()
        .batch_execute(&format!(
            "ALTER DATABASE \"{}\" SET search_path = sales, public",
            db.name
        ))
        .expect("set search_path");
    let s = schema_of(&db.url);
    // sales.film now shadows public.film: the bare name is the sales one.
    assert_eq!(complete(&s, "SELECT * FROM or"), vec!["orders"]);
    assert_eq!(
        complete(&s, "SELECT * FROM film"),
        vec!["film", "film_actor"]
    );
    assert_eq!(
        complete(&s, "SELECT * FROM public.fi"),
        vec!["public.film", "public.film_actor"]
    );
    assert_eq!(
        candidates(&s, "SELECT sa FROM film", 9).1,
        vec!["sale_id", "sales."]
    );
}

#[test]
fn sqlite_tables_and_columns() {
    let db = SqliteDb::with(
        "create table projects(id integer primary key, name text);
         create table packages(id integer primary key, project_id integer references projects, name text);",
    );
    let s = schema_of(&db.target());
    assert_eq!(complete(&s, "select * from pa"), vec!["packages"]);
    assert_eq!(
        complete(
            &s,
            "select * from packages p join projects j on j.id = p.pro"
        ),
        vec!["p.project_id"]
    );
    assert_eq!(complete(&s, "\\refs pro"), vec!["projects"]);
    assert_eq!(complete(&s, "\\li"), vec!["\\limit"]);
}

/// A tmux server of our own (its own socket), killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-L").arg(&self.socket);
        c
    }

    fn run(&self, args: &[&str]) {
        let status = self.cmd().args(args).status().expect("run tmux");
        assert!(status.success(), "tmux {args:?} failed");
    }

    /// Types text literally (tmux would read a `;` as a command separator,
    /// so it is sent as a hex key).
    fn type_text(&self, text: &str) {
        for (i, part) in text.split(';').enumerate() {
            if i > 0 {
                self.run(&["send-keys", "-t", "t", "-H", "3b"]);
            }
            if !part.is_empty() {
                self.run(&["send-keys", "-t", "t", "-l", part]);
            }
        }
    }

    fn key(&self, key: &str) {
        self.run(&["send-keys", "-t", "t", key]);
    }

    fn screen(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "t"])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen shows `needle`.
    fn wait_for(&self, needle: &str) -> String {
        self.wait_for_count(needle, 1)
    }

    /// Waits until `needle` shows `n` times: a second prompt means the
    /// shell is ready for input again. Typing before that loses keys when
    /// the machine is busy.
    fn wait_for_count(&self, needle: &str, n: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if screen.matches(needle).count() >= n {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {needle:?}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

/// The REPL in a real terminal: Tab completes a table name and a column,
/// a statement spans lines until `;`, Ctrl-C drops the line being typed,
/// `\x` switches to records. Needs tmux; without it the test fails and says
/// so, rather than passing without having run.
#[test]
fn interactive_session_in_tmux() {
    let have_tmux = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        have_tmux,
        "this test drives the REPL in a terminal through tmux: install tmux (apt-get install -y tmux)"
    );
    let db = SqliteDb::with(
        "create table packages(id integer primary key, name text, description text);
         create table \"Package Notes\"(id integer primary key, body text);
         insert into packages values (1, 'linux', 'the kernel'), (2, 'gcc', null);",
    );
    let state = tempfile::tempdir().expect("tempdir");
    let tmux = Tmux {
        socket: format!("dbguard-it-{}", std::process::id()),
    };
    let command = format!(
        "env XDG_STATE_HOME='{}' NO_COLOR=1 USER=tester '{}' '{}'",
        state.path().display(),
        env!("CARGO_BIN_EXE_dbguard"),
        db.target()
    );
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "t",
        "-x",
        "100",
        "-y",
        "40",
        &command,
    ]);
    // capture-pane drops trailing blanks, so the prompt ends at `=>`.
    tmux.wait_for("(tester)=>");

    // Tab completes the table, then a column through the alias.
    tmux.type_text("SELECT * FROM pack");
    tmux.key("Tab");
    tmux.wait_for("SELECT * FROM packages");
    tmux.type_text(" p WHERE p.na");
    tmux.key("Tab");
    tmux.wait_for("WHERE p.name");

    // Ctrl-C drops the line; nothing runs.
    tmux.key("C-c");
    tmux.wait_for_count("(tester)=>", 2);
    tmux.type_text("SELECT 'after ctrl-c' AS marker");
    tmux.key("Enter");
    // Continued on the next line until the semicolon.
    tmux.wait_for("AS marker");
    tmux.type_text("FROM packages WHERE id = 1;");
    tmux.key("Enter");
    let screen = tmux.wait_for("(1 row)");
    assert!(screen.contains(" after ctrl-c"), "{screen}");
    assert!(
        !screen.contains("(2 rows)"),
        "the cancelled line ran:\n{screen}"
    );

    tmux.wait_for_count("(tester)=>", 3);
    tmux.type_text("\\x");
    tmux.key("Enter");
    tmux.wait_for("Expanded display is on.");
    tmux.wait_for_count("(tester)=>", 4);
    tmux.type_text("SELECT id, name, description FROM packages ORDER BY id;");
    tmux.key("Enter");
    let screen = tmux.wait_for("(2 rows)");
    assert!(screen.contains("-[ RECORD 2 ]"), "{screen}");
    // NULL is shown empty, as psql shows it (issue 17, item 10).
    assert!(
        screen.lines().any(|l| l.trim_end() == "description |"),
        "{screen}"
    );

    tmux.type_text("\\q");
    tmux.key("Enter");
}
