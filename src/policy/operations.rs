//! Rule condition `operations = [...]`: which kinds of change a rule is
//! about. Omitted, a rule matches every kind.

use super::verdict::VerdictInput;

/// Every operation name a rule may list: the kinds of change, as
/// `VerdictInput::kind` spells them.
pub(crate) fn known() -> Vec<&'static str> {
    crate::model::ChangeKind::ALL
        .iter()
        .map(|k| k.name())
        .collect()
}

/// Whether `name` is a known operation.
pub(crate) fn is_known(name: &str) -> bool {
    known().contains(&name)
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
