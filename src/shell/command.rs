//! One change run from a command rather than typed in the shell (`undo
//! apply`, `undo replay`, `policy push`): through the same pipeline and the
//! same interface, shown on stdout, asked on the terminal when there is one
//! (nobody is asked otherwise, so what is not given in advance is refused).

use std::io::IsTerminal;

use super::Format;
use super::ui::{Input, Ui};
use crate::change::{self, Plan};
use crate::db::Connection;
use crate::error::Result;
use crate::journal::trail::Trail;
use crate::policy::Policy;

/// What a command's change runs against: the target, where its audit
/// records go, the policy that judges it, who asks for it.
pub(crate) struct CommandTarget<'a> {
    pub conn: &'a mut Connection,
    pub trail: &'a mut Trail,
    pub policy: &'a Policy,
    pub operator: &'a str,
}

/// Runs `plan` on `at` through the change pipeline.
pub(crate) fn run_plan(
    at: CommandTarget<'_>,
    plan: &mut dyn Plan,
    format: Format,
    options: &change::Options,
) -> Result<()> {
    let schema = at.conn.introspect()?;
    let input = if std::io::stdin().is_terminal() {
        Input::Terminal
    } else {
        Input::Nobody
    };
    let mut stdout = std::io::stdout();
    let style = crate::impact::render::Style {
        color: false,
        samples: false,
        detail: false,
    };
    let mut ui = Ui::new(&mut stdout, format, style, input).dry_run(options.dry_run);
    let mut cx = change::Context {
        conn: at.conn,
        trail: at.trail,
        policy: at.policy,
        schema: &schema,
        operator: at.operator.to_owned(),
        options,
    };
    cx.run(plan, &mut ui).map(|_| ())
}
