//! Rule condition `without_where = true|false`: with `true` the rule
//! matches only UPDATE and DELETE statements that lack a WHERE clause (they
//! change every row of the table); with `false`, only UPDATE and DELETE
//! statements that have one. Other kinds never match this condition. A
//! WHERE that holds for every row whatever the row (`WHERE 1 = 1`, see
//! `Statement::where_always_true`) counts as none.

use super::verdict::VerdictInput;
use crate::model::ChangeKind;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithoutWhere(pub bool);

impl WithoutWhere {
    pub fn matches(&self, input: &VerdictInput) -> bool {
        let filtered = matches!(input.kind, ChangeKind::Update | ChangeKind::Delete);
        filtered && input.has_where != self.0
    }

    pub(crate) fn describe(&self) -> String {
        if self.0 {
            "without WHERE".to_owned()
        } else {
            "with WHERE".to_owned()
        }
    }
}
