//! The rustyline helper: multi-line validation, completion, highlighting.
//!
//! (Initial version; being completed.)

use std::sync::{Arc, RwLock};

use rustyline::completion::Completer;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::Helper;

use crate::db::Engine;
use crate::schema::Schema;

pub struct ShellHelper {
    engine: Engine,
    #[allow(dead_code)]
    schema: Arc<RwLock<Schema>>,
}

impl ShellHelper {
    pub fn new(engine: Engine, schema: Arc<RwLock<Schema>>) -> Self {
        ShellHelper { engine, schema }
    }
}

impl Helper for ShellHelper {}
impl Completer for ShellHelper {
    type Candidate = String;
}
impl Hinter for ShellHelper {
    type Hint = String;
}
impl Highlighter for ShellHelper {}

impl Validator for ShellHelper {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        let input = ctx.input();
        let t = input.trim();
        if t.is_empty() || t.starts_with('\\') || crate::sql::is_complete(self.engine, input) {
            Ok(ValidationResult::Valid(None))
        } else {
            Ok(ValidationResult::Incomplete)
        }
    }
}
