//! Which rows a SQLite preview counted, as a value: `dbguard_fingerprint`,
//! an aggregate dbguard registers on each of its connections.
//!
//! The digest an approval signs must change when the same number of other
//! rows would change. SQLite has no cryptographic hash in SQL, and a sum
//! of mixed rowids collides (rowids {1, 6} summed like {3, 4}). This is an
//! additive multiset hash: each row's key values, encoded unambiguously,
//! are hashed with SHA-256, and the digests are added modulo 2^256, so the
//! result does not depend on the rows' order and finding two sets of keys
//! with the same sum is as hard as it is for SHA-256 itself.

use rusqlite::functions::{Aggregate, Context, FunctionFlags};
use rusqlite::types::ValueRef;
use sha2::{Digest, Sha256};

/// The aggregate's name in SQL.
pub(crate) const NAME: &str = "dbguard_fingerprint";

/// Registers the aggregate on `conn`, for any number of arguments.
pub(super) fn register(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    conn.create_aggregate_function(
        NAME,
        -1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        Fingerprint,
    )
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
