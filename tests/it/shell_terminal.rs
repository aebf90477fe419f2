//! The shell on a real terminal (issue 17, items 1-3), where these bugs
//! lived: the binary runs on a pseudo-terminal in raw mode, as a person's
//! is, and keys are typed into it.
//!
//! - Ctrl-C at "Apply this change?" or at the approval token prompt
//!   cancels that question (nothing applied, said in one line) and the
//!   shell goes on; the session still ends on record. History is written
//!   as it is typed, so a killed shell keeps it.
//! - Unfinished input shows in the prompt (`'>`, `(>`, `->`), and meta
//!   commands typed in the middle of a statement act as in psql.
//! - A refused token returns to the prompt, so the next statement is never
//!   read as a token; a pasted rejection stops the change with its reason,
//!   on record.

use dbguard::db::Engine;

use crate::apply::Db;
use crate::approval_flow::{Approvers, SCHEMA};
use crate::terminal::Terminal;

const CTRL_C: &str = "\x03";

/// Types `line` and Enter, as raw mode reads them.
fn enter(term: &mut Terminal, line: &str) {
    term.key(&format!("{line}\r"));
}

fn ctrl_c_at_apply_cancels(engine: Engine) {
    let db = Db::new(engine, SCHEMA);
    let j = db.machine();
    let before = db.dump();
    let mut term = Terminal::open_raw(&j, &[]);
    term.wait_for(&["=> "]);
    enter(&mut term, "DELETE FROM p WHERE id = 1;");
    term.wait_for(&["anything else cancels: "]);
    term.key(CTRL_C);
    term.wait_for(&["Not applied."]);
    term.wait_for(&["=> "]);
    enter(&mut term, "SELECT count(*) AS still_here FROM p;");
    term.wait_for(&["still_here"]);
    term.wait_for(&["3"]);
    term.wait_for(&["=> "]);
    term.quit_raw();
    assert_eq!(
        db.dump(),
        before,
        "Ctrl-C at the prompt, yet the data changed"
    );
    let audit = std::fs::read_to_string(j.witness()).unwrap_or_default();
    assert!(
        audit.contains("\"session_end\""),
        "the session ended off the record:\n{audit}"
    );
    let history =
        std::fs::read_to_string(j.dir.path().join("dbguard").join("history")).unwrap_or_default();
    assert!(
        history.contains("SELECT count(*) AS still_here FROM p;"),
        "history: {history}"
    );
}

#[test]
fn ctrl_c_at_apply_cancels_and_the_shell_goes_on_sqlite() {
    ctrl_c_at_apply_cancels(Engine::Sqlite);
}

#[test]
fn ctrl_c_at_apply_cancels_and_the_shell_goes_on_pg() {
    ctrl_c_at_apply_cancels(Engine::Postgres);
}

#[test]
fn history_is_saved_as_it_is_typed() {
    let db = Db::new(Engine::Sqlite, SCHEMA);
    let j = db.machine();
    let mut term = Terminal::open_raw(&j, &[]);
    term.wait_for(&["=> "]);
    enter(&mut term, "SELECT name AS kept_in_history FROM p");
    term.wait_for(&["-> "]);
    enter(&mut term, "WHERE id = 2;");
    term.wait_for(&["kept_in_history"]);
    term.wait_for(&["=> "]);
    term.kill();
    let history =
        std::fs::read_to_string(j.dir.path().join("dbguard").join("history")).unwrap_or_default();
    assert!(
        history.contains("kept_in_history") && history.contains("WHERE id = 2;"),
        "a killed shell lost its history: {history:?}"
    );
}

/// A shell whose deletes need an approval from a dba; carol operates.
fn approval_shell(a: &Approvers, j: &crate::helpers::JournalDir) -> Terminal {
    let key = a.key("carol");
    let policy = a.policy();
    Terminal::open_raw(
        j,
        &[
            "--policy",
            policy.to_str().unwrap(),
            "--as",
            "carol@example.org",
            "--key",
            key.to_str().unwrap(),
        ],
    )
}

/// The request line the shell printed, once it waits for a token.
fn request_line(term: &mut Terminal) -> String {
    term.wait_for(&["dbguard-request:v1:"]);
    let rest = term.fresh().to_owned();
    let body: String = rest
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '\x1b')
        .collect();
    term.wait_for(&["approval token> "]);
    format!("dbguard-request:v1:{body}")
}

fn ctrl_c_at_token_cancels(engine: Engine) {
    let a = Approvers::new("");
    let db = Db::new(engine, SCHEMA);
    let j = db.machine();
    let before = db.dump();
    let mut term = approval_shell(&a, &j);
    term.wait_for(&["=> "]);
    enter(&mut term, "DELETE FROM p WHERE id = 1;");
    request_line(&mut term);
    term.key(CTRL_C);
    term.wait_for(&["Not applied."]);
    term.wait_for(&["=> "]);
    enter(&mut term, "SELECT 40 + 2 AS answer;");
    term.wait_for(&["42"]);
    term.wait_for(&["=> "]);
    term.quit_raw();
    assert_eq!(db.dump(), before);
}

#[test]
fn ctrl_c_at_the_token_prompt_cancels_sqlite() {
    ctrl_c_at_token_cancels(Engine::Sqlite);
}

#[test]
fn ctrl_c_at_the_token_prompt_cancels_pg() {
    ctrl_c_at_token_cancels(Engine::Postgres);
}

/// A token that does not verify ends the wait: the next line typed is a
/// statement again, not another token.
#[test]
fn a_refused_token_returns_to_the_prompt() {
    let a = Approvers::new("");
    let db = Db::new(Engine::Sqlite, SCHEMA);
    let j = db.machine();
    let before = db.dump();
    let mut term = approval_shell(&a, &j);
    term.wait_for(&["=> "]);
    enter(&mut term, "DELETE FROM p WHERE id = 1;");
    let request = request_line(&mut term);
    // carol is in no group the rule names: her own token is refused.
    let token = a.approve("carol", &request);
    enter(&mut term, &token);
    term.wait_for(&["approval token refused"]);
    term.wait_for(&["back at the prompt"]);
    term.wait_for(&["=> "]);
    enter(&mut term, "SELECT 6 * 7 AS answer;");
    term.wait_for(&["answer"]);
    term.wait_for(&["42"]);
    term.wait_for(&["=> "]);
    term.quit_raw();
    assert_eq!(db.dump(), before);
}

fn a_pasted_rejection_is_recorded(engine: Engine) {
    let a = Approvers::new("");
    let db = Db::new(engine, SCHEMA);
    let j = db.machine();
    let before = db.dump();
    let mut term = approval_shell(&a, &j);
    term.wait_for(&["=> "]);
    enter(&mut term, "DELETE FROM p WHERE id = 1;");
    let request = request_line(&mut term);
    let rejection = a.reject("bob", &request, "wrong table: use c");
    enter(&mut term, &rejection);
    term.wait_for(&["rejected by bob@example.org"]);
    term.wait_for(&["wrong table: use c"]);
    term.wait_for(&["=> "]);
    term.quit_raw();
    assert_eq!(db.dump(), before);
    let audit = std::fs::read_to_string(j.witness()).unwrap_or_default();
    let rejection = audit
        .lines()
        .find(|l| l.contains("\"rejection\""))
        .unwrap_or_else(|| panic!("no rejection on record:\n{audit}"));
    assert!(
        rejection.contains("bob@example.org") && rejection.contains("wrong table: use c"),
        "{rejection}"
    );
}

#[test]
fn a_pasted_rejection_stops_the_change_on_record_sqlite() {
    a_pasted_rejection_is_recorded(Engine::Sqlite);
}

#[test]
fn a_pasted_rejection_stops_the_change_on_record_pg() {
    a_pasted_rejection_is_recorded(Engine::Postgres);
}

/// The prompt says what is unfinished, and meta commands typed in the
/// middle of a statement act as in psql instead of being swallowed.
#[test]
fn continuation_prompts_and_meta_commands_mid_statement() {
    let db = Db::new(Engine::Postgres, SCHEMA);
    let j = db.machine();
    let mut term = Terminal::open_raw(&j, &[]);
    term.wait_for(&["=> "]);
    enter(&mut term, "SELECT 'one");
    term.wait_for(&["'> "]);
    enter(&mut term, "two' AS joined, (1");
    term.wait_for(&["(> "]);
    enter(&mut term, ") AS n, $$ a");
    term.wait_for(&["$> "]);
    enter(&mut term, "$$ AS body /* open");
    term.wait_for(&["*> "]);
    enter(&mut term, "*/ \\gx");
    term.wait_for(&["-[ RECORD 1 ]"]);
    term.wait_for(&["joined"]);
    term.wait_for(&["=> "]);
    // \x in the middle of a statement switches the display and keeps
    // the statement pending.
    enter(&mut term, "SELECT 7 AS seven");
    term.wait_for(&["-> "]);
    enter(&mut term, "\\x on");
    term.wait_for(&["Expanded display is on."]);
    term.wait_for(&["-> "]);
    enter(&mut term, ";");
    term.wait_for(&["-[ RECORD 1 ]"]);
    term.wait_for(&["seven"]);
    term.wait_for(&["=> "]);
    // \r drops a pending statement; \p shows the last one.
    enter(&mut term, "DELETE FROM p");
    term.wait_for(&["-> "]);
    enter(&mut term, "\\r");
    term.wait_for(&["Query buffer reset (cleared)."]);
    term.wait_for(&["=> "]);
    enter(&mut term, "\\p");
    term.wait_for(&["SELECT 7 AS seven"]);
    term.wait_for(&["=> "]);
    // Ctrl-C drops the statement being typed, not the shell.
    enter(&mut term, "DELETE FROM p");
    term.wait_for(&["-> "]);
    term.key(CTRL_C);
    term.wait_for(&["=> "]);
    term.quit_raw();
}

/// `--env` before `shell` names the prompt's environment (issue 17, item
/// 4: it was ignored, and the prompt said `unknown:`).
#[test]
fn the_env_given_before_shell_is_in_the_prompt() {
    let db = Db::new(Engine::Sqlite, SCHEMA);
    let j = db.machine();
    let mut term = Terminal::open_raw(&j, &["--env", "production", "shell"]);
    term.wait_for(&["production:"]);
    term.wait_for(&["=> "]);
    term.quit_raw();
}

/// On a terminal the line editor cannot drive (`TERM=dumb`), Ctrl-C at a
/// question arrives as SIGINT: it cancelled nothing and ended the process,
/// losing the change's queued audit records and the session's end. It
/// now cancels the question once Enter ends the read.
#[test]
fn ctrl_c_at_a_question_on_a_dumb_terminal_cancels_it() {
    let db = Db::new(Engine::Sqlite, SCHEMA);
    let j = db.machine();
    let before = db.dump();
    let mut term = Terminal::open(&j);
    term.wait_for(&["=> "]);
    term.send("DELETE FROM p WHERE id = 1;");
    term.wait_for(&["anything else cancels: "]);
    term.key(CTRL_C);
    term.wait_for(&["press Enter"]);
    term.send("");
    term.wait_for(&["Not applied."]);
    term.wait_for(&["=> "]);
    term.send("SELECT 'still here' AS alive;");
    term.wait_for(&["still here"]);
    term.wait_for(&["=> "]);
    term.quit();
    assert_eq!(db.dump(), before);
    let audit = std::fs::read_to_string(j.witness()).unwrap_or_default();
    assert!(audit.contains("\"session_end\""), "{audit}");
    assert!(
        audit.contains("\"verdict\""),
        "the change's records were lost:\n{audit}"
    );
}

/// Ctrl-C stops `\watch` even when its results went through the pager,
/// whose own hold on Ctrl-C ended first.
#[test]
fn ctrl_c_stops_watch_through_the_pager() {
    let db = Db::new(Engine::Sqlite, SCHEMA);
    let j = db.machine();
    let mut term = Terminal::open_raw_env(&j, &[], &[("PAGER", "cat > /dev/null")]);
    term.wait_for(&["=> "]);
    enter(&mut term, "\\pset pager always");
    term.wait_for(&["Pager usage is always."]);
    enter(&mut term, "SELECT 1 AS one \\watch 0.2");
    term.wait_for(&["(every 0.2s)"]);
    term.wait_for(&["(every 0.2s)"]);
    term.key(CTRL_C);
    term.wait_for(&["=> "]);
    term.quit_raw();
}

/// Ctrl-C during `\i` abandons the rest of the file, as in psql.
#[test]
fn ctrl_c_stops_an_included_file() {
    let db = Db::new(Engine::Postgres, SCHEMA);
    let j = db.machine();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("slow.sql");
    std::fs::write(
        &file,
        "SELECT pg_sleep(5);\nSELECT 'never reached' AS marker;\n",
    )
    .unwrap();
    let mut term = Terminal::open_raw(&j, &[]);
    term.wait_for(&["=> "]);
    enter(&mut term, &format!("\\i {}", file.display()));
    // Ctrl-C once the file's first statement runs, not while the line is
    // still being read.
    let Db::Pg(pg) = &db else { unreachable!() };
    let mut c = pg.client();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while c
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = current_database()",
            &[],
        )
        .unwrap()
        .get::<_, i64>(0)
        == 0
    {
        assert!(std::time::Instant::now() < deadline, "the file never ran");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    term.key(CTRL_C);
    term.wait_past_errors(&["stopped at line 1 by Ctrl-C"]);
    term.wait_for(&["=> "]);
    enter(&mut term, "SELECT 'done' AS finished;");
    term.wait_for(&["finished"]);
    assert!(
        !term.seen.contains("never reached"),
        "the rest of the file ran:\n{}",
        term.seen
    );
    term.wait_for(&["=> "]);
    term.quit_raw();
}
