//! The rows a write's own `RETURNING` list gave back, as the engine
//! returned them in the guarded transaction that committed the change:
//! the operator sees them after the apply, as psql shows them after the
//! command. Only the first rows, up to a limit (the shell's display
//! limit), are kept; the rest are counted, so a `DELETE ... RETURNING *`
//! of a million rows holds one page, as a read does.

use super::{ColumnMeta, RowSink, Value};
use crate::error::Result;

/// The returned rows kept, and how many there were.
#[derive(Debug, Clone)]
pub struct Returned {
    pub columns: Vec<ColumnMeta>,
    /// The first rows, in the order the engine returned them.
    pub rows: Vec<Vec<Value>>,
    /// Every row returned, kept or not.
    pub total: u64,
    keep: usize,
}

impl Returned {
    /// Keeps up to `keep` rows.
    pub fn new(keep: usize) -> Returned {
        Returned {
            columns: Vec::new(),
            rows: Vec::new(),
            total: 0,
            keep,
        }
    }
}

impl RowSink for Returned {
    fn columns(&mut self, columns: &[ColumnMeta]) -> Result<()> {
        self.columns = columns.to_vec();
        Ok(())
    }
    fn row(&mut self, row: Vec<Value>) -> Result<()> {
        self.total += 1;
        if self.rows.len() < self.keep {
            self.rows.push(row);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_beyond_the_limit_are_counted_not_kept() {
        let mut r = Returned::new(2);
        r.columns(&[ColumnMeta {
            name: "id".into(),
            numeric: true,
        }])
        .unwrap();
        for i in 0..5 {
            r.row(vec![Value::Integer(i)]).unwrap();
        }
        assert_eq!(r.total, 5);
        assert_eq!(r.rows.len(), 2);
        assert!(matches!(r.rows[1].first(), Some(Value::Integer(1))));
    }
}
