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
    enter(&mut term, "\\q");
    term.quit_after_eof();
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
    enter(&mut term, "\\q");
    term.quit_after_eof();
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
    enter(&mut term, "\\q");
    term.quit_after_eof();
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
    enter(&mut term, "\\q");
    term.quit_after_eof();
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
    enter(&mut term, "\\q");
    term.quit_after_eof();
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
    enter(&mut term, "\\q");
    term.quit_after_eof();
}
