//! Column affinity (SQLite's "Type Affinity", §3 of its datatype page),
//! applied in SQL to a value before it is stored.
//!
//! A preview compares the values an INSERT or UPDATE will store with what
//! is there and with the keys that reference them. SQLite converts a value
//! to its column's affinity on the way in (`'1'` into an INTEGER column is
//! the integer 1, `3.0` is 3, `5` into a TEXT column is `'5'`), so a
//! comparison of the value as written says "changed" where nothing changes
//! and misses rows a key matches. SQLite has no function that applies an
//! affinity; the expressions here do it with the engine's own conversions:
//! a text is well-formed for NUMERIC affinity exactly when it equals its
//! `CAST(... AS NUMERIC)`, because that comparison applies numeric affinity
//! to the text (a CAST expression has the affinity of its type).

/// The five affinities, chosen from a declared type by SQLite's rules in
/// their order: `INT`, then `CHAR`/`CLOB`/`TEXT`, then `BLOB` or no type,
/// then `REAL`/`FLOA`/`DOUB`, else NUMERIC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Affinity {
    Integer,
    Text,
    Blob,
    Real,
    Numeric,
}

impl Affinity {
    pub(crate) fn of(declared: &str) -> Affinity {
        let d = declared.to_ascii_uppercase();
        let has = |k: &[&str]| k.iter().any(|k| d.contains(k));
        if has(&["INT"]) {
            Affinity::Integer
        } else if has(&["CHAR", "CLOB", "TEXT"]) {
            Affinity::Text
        } else if d.trim().is_empty() || has(&["BLOB"]) {
            Affinity::Blob
        } else if has(&["REAL", "FLOA", "DOUB"]) {
            Affinity::Real
        } else {
            Affinity::Numeric
        }
    }

    /// `expr` as the column stores it. The expression is repeated, not
    /// bound once: it is what the statement itself computes, and a scalar
    /// subquery per row would cost more than the repetition.
    pub(crate) fn apply(self, expr: &str) -> String {
        let e = format!("({expr})");
        // Text that reads as a number in full (spaces around allowed).
        let numeric_text = format!("typeof({e}) = 'text' AND CAST({e} AS NUMERIC) = {e}");
        match self {
            Affinity::Blob => e,
            Affinity::Text => format!(
                "(CASE WHEN typeof({e}) IN ('integer', 'real') THEN CAST({e} AS TEXT) ELSE {e} END)"
            ),
            // A real that is an integer in range is stored as that integer.
            Affinity::Integer | Affinity::Numeric => format!(
                "(CASE WHEN {numeric_text} THEN CAST({e} AS NUMERIC) \
                 WHEN typeof({e}) = 'real' AND {e} = CAST({e} AS INTEGER) \
                 AND {e} > -9223372036854775808.0 AND {e} < 9223372036854775807.0 \
                 THEN CAST({e} AS INTEGER) ELSE {e} END)"
            ),
            Affinity::Real => format!(
                "(CASE WHEN typeof({e}) = 'integer' OR ({numeric_text}) THEN CAST({e} AS REAL) ELSE {e} END)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Affinity;

    #[test]
    fn declared_types_pick_sqlites_affinity() {
        for (decl, aff) in [
            ("INTEGER", Affinity::Integer),
            ("bigint", Affinity::Integer),
            ("FLOATING POINT", Affinity::Integer), // "INT" comes first
            ("varchar(20)", Affinity::Text),
            ("CHARINT", Affinity::Integer),
            ("blob", Affinity::Blob),
            ("", Affinity::Blob),
            ("double precision", Affinity::Real),
            ("DECIMAL(10,5)", Affinity::Numeric),
            ("boolean", Affinity::Numeric),
            ("date", Affinity::Numeric),
        ] {
            assert_eq!(Affinity::of(decl), aff, "{decl}");
        }
    }

    /// The engine is the oracle: each value stored in a column of each
    /// affinity, against the expression applied to the same value.
    #[test]
    fn applied_affinity_stores_what_sqlite_stores() {
        let values = [
            "1",
            "1.0",
            "3.5",
            "'1'",
            "' 7 '",
            "'3.0'",
            "'3.0e+5'",
            "'1e400'",
            "'12abc'",
            "'0x10'",
            "x'01'",
            "NULL",
            "-0.0",
            "9223372036854775807.0",
            "'9223372036854775807'",
            "'9223372036854775808'",
            "''",
            "'  '",
            "1e20",
            "'-5'",
            "'+5'",
            "'.5'",
            "'5.'",
            "'1e5'",
            "9.2e18",
            "'abc'",
            "-9223372036854775808",
            "'-9223372036854775808'",
            "'1e-400'",
            "'  12  '",
            "'\t3'",
            "0.1",
        ];
        let db = rusqlite::Connection::open_in_memory().expect("open");
        let types = ["INTEGER", "TEXT", "BLOB", "REAL", "NUMERIC"];
        let cols: Vec<String> = types.iter().map(|t| format!("c_{t} {t}")).collect();
        db.execute_batch(&format!(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, {})",
            cols.join(", ")
        ))
        .expect("create");
        for (i, v) in values.iter().enumerate() {
            let vs = vec![*v; types.len()].join(", ");
            db.execute_batch(&format!("INSERT INTO t VALUES ({i}, {vs})"))
                .expect("insert");
            for t in types {
                let emulated = Affinity::of(t).apply(v);
                let (stored, applied): (String, String) = db
                    .query_row(
                        &format!("SELECT quote(c_{t}), quote({emulated}) FROM t WHERE id = {i}"),
                        [],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .expect("compare");
                assert_eq!(stored, applied, "{v} into {t}");
            }
        }
    }
}
