//! Rule conditions on row counts: `min_rows = N` (rows the statement itself
//! matches ≥ N) and `min_total_rows = N` (rows changed in all tables,
//! cascades included, ≥ N).

use super::verdict::VerdictInput;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinRows(pub u64);

impl MinRows {
    pub fn matches(&self, input: &VerdictInput) -> bool {
        input.target_rows >= self.0
    }

    pub(crate) fn describe(&self) -> String {
        format!("target rows >= {}", self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinTotalRows(pub u64);

impl MinTotalRows {
    pub fn matches(&self, input: &VerdictInput) -> bool {
        input.total_rows >= self.0
    }

    pub(crate) fn describe(&self) -> String {
        format!("total rows >= {}", self.0)
    }
}
