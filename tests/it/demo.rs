//! `dbguard demo` on a real terminal (issue 17, item 12): a newcomer who
//! types only what the opening screen says gets the headline delete
//! previewed, applied and undone, and then a change approved with the key
//! the demo made. The steps are read from the screen, not restated here,
//! so a screen that drifts from what the shell does fails these tests.

use std::path::Path;

use crate::helpers::{JournalDir, sqlite_dump_tables};
use crate::terminal::Terminal;

/// Types `line` and Enter, as raw mode reads them.
fn enter(term: &mut Terminal, line: &str) {
    term.key(&format!("{line}\r"));
}

/// `dbguard demo --path DB` on a terminal, with no policy or key from the
/// environment: what a newcomer runs.
fn demo_shell(j: &JournalDir, db: &Path) -> Terminal {
    let path = db.to_str().expect("a UTF-8 temporary path");
    let mut cmd = j.command(&["demo", "--path", path]);
    cmd.env_remove("DBGUARD_POLICY").env_remove("DBGUARD_KEY");
    Terminal::open_command(cmd, true)
}

/// What the opening screen says to type, step by step.
struct Steps {
    /// Step 1: the statement.
    delete: String,
    /// Step 2: the answer at "Apply this change?".
    answer: String,
    /// Step 3: the undo, `N` standing for the change's number.
    undo: String,
    /// Step 3: the answer to the undo's question.
    undo_answer: String,
    /// Step 4: the statement that needs approval.
    approved_delete: String,
    /// Step 5: the approver's command, `REQUEST` standing for the request.
    approve: String,
}

/// Reads the opening screen up to the prompt.
fn read_steps(term: &mut Terminal) -> Steps {
    term.wait_for(&["1. Type:  "]);
    let delete = term.rest_of_line();
    term.wait_for(&["2. At \"Apply this change?\" type:  "]);
    let answer = term.rest_of_line();
    term.wait_for(&["3. Type:  "]);
    let step3 = term.rest_of_line();
    let (undo, rest) = step3
        .split_once("   (")
        .unwrap_or_else(|| panic!("step 3 names no command: {step3:?}"));
    let (_, undo_answer) = rest
        .rsplit_once(":  ")
        .unwrap_or_else(|| panic!("step 3 names no answer: {step3:?}"));
    term.wait_for(&["4. Type:  "]);
    let approved_delete = term.rest_of_line();
    term.wait_for(&["5. In another terminal"]);
    term.rest_of_line();
    let approve = term.rest_of_line().trim().to_owned();
    term.wait_for(&["=> "]);
    Steps {
        delete,
        answer,
        undo: undo.to_owned(),
        undo_answer: undo_answer.to_owned(),
        approved_delete,
        approve,
    }
}

/// The change number after "Applied as change " or "Undone as change ".
fn change_number(term: &mut Terminal, said: &str) -> i64 {
    term.wait_for(&[said]);
    let number: String = term
        .rest_of_line()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    number
        .parse()
        .unwrap_or_else(|_| term.fail(&format!("no change number after {said:?}")))
}

/// The rows of `table` in the demo database.
fn rows(db: &Path, table: &str) -> Vec<String> {
    sqlite_dump_tables(db).remove(table).unwrap_or_default()
}

/// Steps 2 and 3 after a change was applied: undo it as the screen says,
/// answering its question, and wait for the prompt.
fn undo_as_told(term: &mut Terminal, steps: &Steps, change: i64) {
    enter(term, &steps.undo.replace('N', &change.to_string()));
    term.wait_for(&["anything else cancels: "]);
    enter(term, &steps.undo_answer);
    change_number(term, "Undone as change ");
    term.wait_for(&["=> "]);
}

#[test]
fn demo_headline_delete_applies_and_undoes_as_the_screen_says() {
    let j = JournalDir::on("");
    let db = j.dir.path().join("demo.sqlite");
    let mut term = demo_shell(&j, &db);
    let steps = read_steps(&mut term);
    let before = sqlite_dump_tables(&db);
    enter(&mut term, &steps.delete);
    // The preview first: the deleted row, its cascade, the dangling rows.
    term.wait_for(&["target architectures: 1 row to delete"]);
    term.wait_for(&["cascade delete distribution_architectures"]);
    term.wait_for(&["dangling repository_architectures"]);
    term.wait_for(&["anything else cancels: "]);
    enter(&mut term, &steps.answer);
    let change = change_number(&mut term, "Applied as change ");
    term.wait_for(&[&format!("Undo with: \\undo {change}")]);
    term.wait_for(&["=> "]);
    assert!(
        !rows(&db, "architectures")
            .iter()
            .any(|r| r.contains("'i586'")),
        "applied, yet i586 is still there"
    );
    assert_ne!(
        sqlite_dump_tables(&db),
        before,
        "applied, yet nothing changed"
    );
    undo_as_told(&mut term, &steps, change);
    term.quit_raw();
    assert_eq!(
        sqlite_dump_tables(&db),
        before,
        "the undo did not put the demo database back as it was"
    );
}

#[test]
fn demo_approval_step_works_with_the_demo_approver_key() {
    let j = JournalDir::on("");
    let db = j.dir.path().join("demo.sqlite");
    let mut term = demo_shell(&j, &db);
    let steps = read_steps(&mut term);
    let before = sqlite_dump_tables(&db);
    enter(&mut term, &steps.approved_delete);
    term.wait_for(&["needs 1 approval"]);
    term.wait_for(&["dbguard-request:v1:"]);
    let request = format!("dbguard-request:v1:{}", term.rest_of_line().trim());
    term.wait_for(&["approval token> "]);

    // The approver, in "another terminal", runs the command the screen gave.
    let words: Vec<String> = steps
        .approve
        .split_whitespace()
        .map(|w| {
            if w == "REQUEST" {
                request.clone()
            } else {
                w.to_owned()
            }
        })
        .collect();
    assert!(
        words.len() > 2 && words[1] == "approve" && words.contains(&request),
        "step 5 is not a `dbguard approve ... REQUEST` command: {:?}",
        steps.approve
    );
    let mut cmd = std::process::Command::new(&words[0]);
    cmd.args(&words[1..])
        .env("XDG_STATE_HOME", j.dir.path())
        .env("NO_COLOR", "1")
        .env_remove("DBGUARD_KEY");
    let mut approver = Terminal::open_command(cmd, false);
    approver.wait_for(&["approve? [y/N] "]);
    approver.send("y");
    approver.wait_for(&["dbguard-approval:v1:"]);
    let token = format!("dbguard-approval:v1:{}", approver.rest_of_line().trim());
    approver.quit_after_eof();

    enter(&mut term, &token);
    let change = change_number(&mut term, "Applied as change ");
    term.wait_for(&["=> "]);
    assert!(
        !rows(&db, "distributions")
            .iter()
            .any(|r| r.contains("'Fedora'|'39'")),
        "approved and applied, yet Fedora 39 is still there"
    );
    // "\undo takes it back as in step 3".
    undo_as_told(&mut term, &steps, change);
    term.quit_raw();
    assert_eq!(sqlite_dump_tables(&db), before);
}
