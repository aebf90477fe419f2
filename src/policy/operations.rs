//! Rule condition `operations = [...]`: which kinds of change a rule is
//! about. Omitted, a rule matches every kind.

use super::verdict::VerdictInput;

/// Every operation name a rule may list, as `VerdictInput::kind` spells it.
pub(crate) const KNOWN: &[&str] = &[
    "insert", "update", "delete", "truncate", "merge", "ddl", "undo", "policy",
];

/// Whether `name` is a known operation.
pub(crate) fn is_known(name: &str) -> bool {
    KNOWN.contains(&name)
}

/// Matches when the change's kind is one of `0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operations(pub Vec<String>);

impl Operations {
    pub fn matches(&self, input: &VerdictInput) -> bool {
        self.0
            .iter()
            .any(|op| op.eq_ignore_ascii_case(input.kind.name()))
    }

    pub(crate) fn describe(&self) -> String {
        self.0.join(", ")
    }
}
