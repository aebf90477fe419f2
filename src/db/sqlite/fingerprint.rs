//! Which rows a SQLite preview counted, as a value: `dbguard_fingerprint`,
//! an aggregate dbguard registers on each of its connections.
//!
//! The digest an approval signs must change when the same number of other
//! rows would change. SQLite has no cryptographic hash in SQL, and a sum
//! of mixed rowids collides (rowids {1, 6} summed like {3, 4}). This is an
//! additive multiset hash: each row's key values, encoded unambiguously,
//! are hashed with SHA-256, and the digests are added modulo 2^256, so the
//! result does not depend on the rows' order. It tells sets apart that
//! differ by accident or by a few rows; it is not collision resistant
//! against someone free to choose very many rows (a sum modulo 2^256 yields
//! to a generalized birthday search), so what must bind contents uses
//! `dbguard_digest` instead, one SHA-256 over the rows in a given order.

use rusqlite::functions::{Aggregate, Context, FunctionFlags};
use rusqlite::types::ValueRef;
use sha2::{Digest, Sha256};

/// The aggregate's name in SQL.
pub(crate) const NAME: &str = "dbguard_fingerprint";

/// The ordered digest's name in SQL ([`Ordered`]).
pub(crate) const DIGEST: &str = "dbguard_digest";

/// Registers both aggregates on `conn`, for any number of arguments.
pub(super) fn register(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_aggregate_function(NAME, -1, flags, Fingerprint)?;
    conn.create_aggregate_function(DIGEST, -1, flags, Ordered)
}

/// `dbguard_digest(v1, ..., vN ORDER BY ...)`: one SHA-256 over every row
/// in the order the call gives (SQLite 3.44's ordered aggregates), each
/// row its value count and then its values encoded as [`encode`] does.
/// An additive hash over many rows can be steered by choosing rows (a
/// generalized birthday search); a single running hash cannot, so this is
/// what binds contents: an approval's rows and a change's undo data.
struct Ordered;

impl Aggregate<Sha256, String> for Ordered {
    fn init(&self, _: &mut Context<'_>) -> rusqlite::Result<Sha256> {
        Ok(Sha256::new())
    }

    fn step(&self, ctx: &mut Context<'_>, h: &mut Sha256) -> rusqlite::Result<()> {
        h.update((ctx.len() as u64).to_le_bytes());
        for i in 0..ctx.len() {
            encode(h, ctx.get_raw(i));
        }
        Ok(())
    }

    fn finalize(&self, _: &mut Context<'_>, h: Option<Sha256>) -> rusqlite::Result<String> {
        let digest = h.unwrap_or_default().finalize();
        Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
    }
}

struct Fingerprint;

/// The running sum: 256 bits, little-endian limbs.
type Sum = [u64; 4];

impl Aggregate<Sum, String> for Fingerprint {
    fn init(&self, _: &mut Context<'_>) -> rusqlite::Result<Sum> {
        Ok([0; 4])
    }

    fn step(&self, ctx: &mut Context<'_>, sum: &mut Sum) -> rusqlite::Result<()> {
        let mut h = Sha256::new();
        for i in 0..ctx.len() {
            encode(&mut h, ctx.get_raw(i));
        }
        add(sum, &h.finalize());
        Ok(())
    }

    fn finalize(&self, _: &mut Context<'_>, sum: Option<Sum>) -> rusqlite::Result<String> {
        let sum = sum.unwrap_or([0; 4]);
        Ok(sum.iter().rev().map(|l| format!("{l:016x}")).collect())
    }
}

/// One value, tagged with its storage class and, for text and blobs,
/// prefixed with its length, so no two rows of keys encode alike.
fn encode(h: &mut Sha256, v: ValueRef<'_>) {
    match v {
        ValueRef::Null => h.update(b"n"),
        ValueRef::Integer(i) => {
            h.update(b"i");
            h.update(i.to_le_bytes());
        }
        ValueRef::Real(f) => {
            h.update(b"r");
            h.update(f.to_bits().to_le_bytes());
        }
        ValueRef::Text(t) => {
            h.update(b"t");
            h.update((t.len() as u64).to_le_bytes());
            h.update(t);
        }
        ValueRef::Blob(b) => {
            h.update(b"b");
            h.update((b.len() as u64).to_le_bytes());
            h.update(b);
        }
    }
}

/// `sum += digest` modulo 2^256 (the digest read as a little-endian
/// number).
fn add(sum: &mut Sum, digest: &[u8]) {
    let mut carry = 0u128;
    for (i, limb) in sum.iter_mut().enumerate() {
        let mut bytes = [0u8; 8];
        if let Some(chunk) = digest.get(i * 8..i * 8 + 8) {
            bytes.copy_from_slice(chunk);
        }
        let s = u128::from(*limb) + u128::from(u64::from_le_bytes(bytes)) + carry;
        *limb = s as u64;
        carry = s >> 64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(conn: &rusqlite::Connection, ids: &str) -> String {
        conn.query_row(
            &format!("SELECT {NAME}(value) FROM json_each('[{ids}]')"),
            [],
            |r| r.get(0),
        )
        .expect("fingerprint")
    }

    fn digest(conn: &rusqlite::Connection, values: &str) -> String {
        conn.query_row(
            &format!("SELECT {DIGEST}(value ORDER BY key) FROM json_each('[{values}]')"),
            [],
            |r| r.get(0),
        )
        .expect("digest")
    }

    /// Rows are told apart by order, count, storage class and where one
    /// row ends; no rows digest as SHA-256 of nothing.
    #[test]
    fn the_ordered_digest_binds_every_row_in_order() {
        let conn = rusqlite::Connection::open_in_memory().expect("memory");
        register(&conn).expect("register");
        assert_ne!(digest(&conn, "1,6"), digest(&conn, "3,4"));
        assert_ne!(digest(&conn, "1,6"), digest(&conn, "6,1"));
        assert_ne!(digest(&conn, "1"), digest(&conn, "1,1"));
        assert_ne!(digest(&conn, "1"), digest(&conn, "\"1\""));
        assert_eq!(digest(&conn, "1,6"), digest(&conn, "1,6"));
        let two: String = conn
            .query_row(&format!("SELECT {DIGEST}(1, 2)"), [], |r| r.get(0))
            .expect("two values");
        let pair: String = conn
            .query_row(
                &format!("SELECT {DIGEST}(v ORDER BY v) FROM (SELECT 1 AS v UNION ALL SELECT 2)"),
                [],
                |r| r.get(0),
            )
            .expect("two rows");
        assert_ne!(two, pair, "one row of two values digests like two rows");
        let empty: String = conn
            .query_row(&format!("SELECT {DIGEST}(1) WHERE 0"), [], |r| r.get(0))
            .expect("empty");
        assert_eq!(
            empty,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    /// The seal reads a snapshot through a subquery ordered by rowid, and
    /// checks a mismatch again with the aggregate's own ORDER BY: the two
    /// agree on a table whose rows were written out of rowid order.
    #[test]
    fn an_ordered_subquery_digests_like_the_ordered_aggregate() {
        let conn = rusqlite::Connection::open_in_memory().expect("memory");
        register(&conn).expect("register");
        conn.execute_batch(
            "CREATE TABLE s (a, b); \
             INSERT INTO s (rowid, a, b) VALUES (5, 'e', x'05'), (2, 'b', 2.5), (9, NULL, 9), (1, 'a', 1);",
        )
        .expect("table");
        let one = |sql: &str| -> String { conn.query_row(sql, [], |r| r.get(0)).expect(sql) };
        let sorted = one(&format!(
            "SELECT {DIGEST}(rowid, a, b ORDER BY rowid) FROM s"
        ));
        let streamed = one(&format!(
            "SELECT {DIGEST}(r, a, b) FROM (SELECT rowid AS r, a, b FROM s ORDER BY rowid)"
        ));
        assert_eq!(sorted, streamed);
    }

    /// Both aggregates hash exactly the documented encoding, whatever
    /// pieces it is fed in: the values here were computed apart from this
    /// code (Python's hashlib over the encoding), and seals already
    /// written into journals hold such digests.
    #[test]
    fn digests_are_the_documented_encoding() {
        let conn = rusqlite::Connection::open_in_memory().expect("memory");
        register(&conn).expect("register");
        let rows = "SELECT 1 AS k, 'a' AS t, x'05' AS b, 2.5 AS r, NULL AS n \
                    UNION ALL SELECT 2, 'café', x'', -1.0, NULL";
        let one = |sql: &str| -> String { conn.query_row(sql, [], |r| r.get(0)).expect(sql) };
        assert_eq!(
            one(&format!(
                "SELECT {DIGEST}(k, t, b, r, n ORDER BY k) FROM ({rows})"
            )),
            "69e91446f5a3d1dfb7d0e9e91b46425ca5d9af19bfdd4360dbc5d4df72e0bef8"
        );
        assert_eq!(
            one(&format!("SELECT {NAME}(k, t, b, r, n) FROM ({rows})")),
            "c9761bffeb024b84fd61b1b6849c963cb37acd8bb5fec64cb751eb2411e52a6a"
        );
    }

    /// The collision the finding names, order, and the empty set.
    #[test]
    fn sets_of_keys_fingerprint_apart_and_orders_alike() {
        let conn = rusqlite::Connection::open_in_memory().expect("memory");
        register(&conn).expect("register");
        assert_ne!(fp(&conn, "1,6"), fp(&conn, "3,4"));
        assert_eq!(fp(&conn, "1,6"), fp(&conn, "6,1"));
        assert_ne!(fp(&conn, "1"), fp(&conn, "1,1"));
        assert_ne!(fp(&conn, "1"), fp(&conn, "\"1\""));
        let empty: String = conn
            .query_row(&format!("SELECT {NAME}(1) WHERE 0"), [], |r| r.get(0))
            .expect("empty");
        assert_eq!(empty, "0".repeat(64));
    }
}
