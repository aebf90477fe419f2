//! Regressions of the impact property (`impact_props.rs`): minimal
//! statements the property found where a preview was produced for a
//! statement the engine reads differently (or rejects, or runs to a
//! different effect). Each runs on both engines.

use crate::impact_props::assert_agrees;

/// `==` is SQLite's spelling; the parser reads it as `=` on Postgres too,
/// and the preview counts rows for a statement Postgres rejects.
#[test]
fn impact_props_double_equals() {
    assert_agrees(&["DELETE FROM products WHERE id == 10"]);
}

/// `INSERT` without `INTO` (MySQL's spelling) parses; both engines reject it.
#[test]
fn impact_props_insert_without_into() {
    assert_agrees(&["INSERT products (id, sku, price) VALUES (11, 'p11', 5)"]);
}

/// `RETURNING * NOT` parses as `RETURNING * AS NOT`; Postgres rejects it.
#[test]
fn impact_props_returning_keyword_alias() {
    assert_agrees(&["INSERT INTO products (id, sku, price) VALUES (11, 'p11', 5) RETURNING * NOT"]);
}

/// SQLite accepts an alias in DELETE/UPDATE only with `AS`; the parser
/// also takes keywords and strings as implicit aliases.
#[test]
fn impact_props_alias_without_as() {
    assert_agrees(&[
        "DELETE FROM items i WHERE i.id = 1",
        "UPDATE regions r SET parent_id = 1 WHERE r.id = 9",
        "DELETE FROM items ONLY WHERE qty < 3",
        "UPDATE customers 'x' SET score = 1 WHERE id = 1",
    ]);
}

/// SQLite has no `DELETE ... USING`.
#[test]
fn impact_props_delete_using() {
    assert_agrees(&[
        "DELETE FROM orders USING customers WHERE orders.customer_id = customers.id AND customers.region_id = 4",
    ]);
}

/// `SET col = NULL` on a NOT NULL column fails in both engines; the
/// UPDATE preview does not check NOT NULL.
#[test]
fn impact_props_update_not_null() {
    assert_agrees(&["UPDATE customers SET email = NULL WHERE id = 2"]);
}

/// Postgres assigns with an assignment cast (boolean → integer has none);
/// the preview's explicit CAST accepts it.
#[test]
fn impact_props_update_assignment_cast() {
    assert_agrees(&["UPDATE items SET product_id = TRUE WHERE id = 1"]);
}

/// The UPDATE foreign-key check appends `AND ...` to the WHERE clause
/// without parentheses, so `a OR b` becomes `a OR (b AND ...)`.
#[test]
fn impact_props_update_or_predicate() {
    assert_agrees(&["UPDATE items SET product_id = 10 WHERE id = 1 OR id = 2"]);
}

/// Both engines check a unique key row by row, so shifting keys into each
/// other fails even though the final set of keys is unique.
#[test]
fn impact_props_update_unique_row_by_row() {
    assert_agrees(&["UPDATE customers SET id = id + 1 WHERE id > 7"]);
}

/// A number run into a word (`4AND`, `10x`): the tokenizer splits it, the
/// engines reject it (Postgres: trailing junk; SQLite: unrecognized token).
#[test]
fn impact_props_number_run_into_word() {
    assert_agrees(&[
        "DELETE FROM reviews WHERE stars = 4AND id = 4",
        "DELETE FROM reviews WHERE id IN (SELECT 10x)",
    ]);
}

/// A vertical tab is whitespace to the tokenizer, not to SQLite.
#[test]
fn impact_props_vertical_tab() {
    assert_agrees(&["DELETE FROM reviews\u{b}WHERE id = 1"]);
}

/// A keyword or string where INSERT takes an alias only after `AS`.
#[test]
fn impact_props_insert_alias_without_as() {
    assert_agrees(&[
        "INSERT INTO products NOT (id, sku, price) VALUES (11, 'p11', 5)",
        "INSERT INTO products 'x' (id, sku, price) VALUES (11, 'p11', 5)",
    ]);
}

/// Postgres rejects assigning text to an integer column when it plans the
/// statement, whether or not a row matches; the preview (0 rows) does not
/// evaluate the new value and says it succeeds.
#[test]
fn impact_props_update_assignment_cast_text() {
    assert_agrees(&["UPDATE orders SET total = status WHERE id = -1"]);
}

/// The UPDATE foreign-key check evaluates the new value inside
/// `NOT EXISTS (SELECT 1 FROM products AS p WHERE p.id = <new value>)`, so
/// an unqualified `id` in the new value means `p.id` there: item 50 gets
/// product 50, which does not exist, and the preview misses it.
#[test]
fn impact_props_update_fk_name_capture() {
    assert_agrees(&["UPDATE items SET product_id = id WHERE id = 50"]);
}

/// SQLite lets a non-INTEGER primary key become NULL; the referencing
/// items rows (ON UPDATE NO ACTION) then make the statement fail.
#[test]
fn impact_props_update_key_to_null() {
    assert_agrees(&["UPDATE products SET id = NULL WHERE id = 1"]);
}

/// SQLite reads `stars NOTNULL > 3` as `(stars NOTNULL) > 3`, which is
/// false for every row; the preview counts every row as deleted.
#[test]
fn impact_props_postfix_notnull_precedence() {
    assert_agrees(&["DELETE FROM reviews WHERE stars NOTNULL > 3"]);
}

/// The RETURNING list is not checked: both engines reject an unknown
/// column in it.
#[test]
fn impact_props_returning_unknown_column() {
    assert_agrees(&["DELETE FROM reviews WHERE id = 1 RETURNING nosuch"]);
}

/// SQLite's upsert handles the rows one by one, so a key repeated within
/// the inserted rows updates the same row twice instead of failing (that
/// failure is Postgres's rule).
#[test]
fn impact_props_sqlite_upsert_same_row_twice() {
    assert_agrees(&[
        "INSERT INTO products (id, sku, price) VALUES (1, 'a', 1), (1, 'b', 2) ON CONFLICT (id) DO UPDATE SET price = excluded.price",
        "INSERT INTO products (id, sku, price) VALUES (20, 'a', 1), (20, 'b', 2) ON CONFLICT (id) DO UPDATE SET price = excluded.price",
    ]);
}

/// A type error in a `WITH` query the write does not use: Postgres
/// rejects the statement.
#[test]
fn impact_props_unused_cte_type_error() {
    assert_agrees(&[
        "WITH RECURSIVE x (id) AS (SELECT 1 UNION SELECT id + 1 ISNULL FROM x WHERE id != 5) INSERT INTO customers (id, email, region_id) VALUES (31, 'c31@example.com', 2)",
    ]);
}
