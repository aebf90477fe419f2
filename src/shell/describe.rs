//! Meta command output that reads the schema: `\dt`, `\d TABLE`, `\refs`.
//!
//! Pure functions from the [`Schema`] model to text, so they are snapshot
//! tested without a terminal.
//!
//! (Initial version; being completed.)

use crate::schema::{Schema, Table};

/// `\dt [pattern]`: the list of tables.
pub fn list_tables(schema: &Schema, pattern: Option<&str>) -> String {
    let mut s = String::new();
    for t in &schema.tables {
        if pattern.is_none_or(|p| t.name.to_string().contains(p)) {
            s.push_str(&t.name.to_string());
            s.push('\n');
        }
    }
    s
}

/// `\d TABLE`.
pub fn describe_table(_schema: &Schema, table: &Table) -> String {
    let mut s = format!("Table {}\n", table.name);
    for c in &table.columns {
        s.push_str(&format!("  {} {}\n", c.name, c.type_name));
    }
    s
}

/// `\refs TABLE`: everything that references the table, recursively.
pub fn refs_tree(schema: &Schema, table: &Table) -> String {
    let mut s = format!("{}\n", table.name);
    for fk in schema.referencing(&table.name) {
        s.push_str(&format!("  <- {} ON DELETE {}\n", fk.table, fk.on_delete_sql()));
    }
    s
}
