//! Tests of the journal's storage: its indexes, migrations, and reading
//! back what was recorded.

use super::read::{
    CHUNK_FORMATS, CHUNKS_IN_SEQ, PREPARED, ROWS_IN_SEQ, TABLE_CHUNKS_IN_SEQ, TABLE_ROWS_IN_SEQ,
    UNDONE_BY,
};
use super::schema::*;
use super::*;
use crate::db::BulkFormat;
use crate::db::bulk::StoredChunk;
use crate::schema::{ColumnInfo, TableInfo};

/// The questions asked of every change (is it prepared, was it
/// undone, which formats are its chunks in) go through an index, not
/// by reading every change, or every chunk's rows, the journal holds.
#[test]
fn per_change_questions_use_their_indexes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = Journal::open(Some(&dir.path().join("j.sqlite"))).expect("journal");
    for (sql, index) in [
        (PREPARED, "changes_prepared"),
        (UNDONE_BY, "changes_undo_of"),
        (CHUNK_FORMATS, "COVERING INDEX change_chunks_format"),
    ] {
        let plan: Vec<String> = journal
            .conn
            .prepare(&format!(
                "EXPLAIN QUERY PLAN {}",
                sql.replace("?1", "1")
                    .replace("?2", "'t'")
                    .replace("?3", "'delete'")
            ))
            .and_then(|mut s| {
                s.query_map([], |r| r.get::<_, String>(3))?
                    .collect::<rusqlite::Result<Vec<String>>>()
            })
            .expect("query plan");
        assert!(
            plan.iter().any(|step| step.contains(index)),
            "{sql}: {plan:?}"
        );
    }
    assert!(journal.prepared().expect("prepared").is_empty());
    assert_eq!(journal.undone_by(1).expect("undone_by"), None);
}

/// A restore of a 1M-row change once took 122 MiB: the chunk query
/// sorted every chunk's text in an in-memory temp b-tree. The streaming
/// reads must come straight off an index.
#[test]
fn restore_reads_need_no_sort() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open(Some(&dir.path().join("j.sqlite"))).unwrap();
    for sql in [
        ROWS_IN_SEQ,
        CHUNKS_IN_SEQ,
        TABLE_ROWS_IN_SEQ,
        TABLE_CHUNKS_IN_SEQ,
    ] {
        let args: [&dyn rusqlite::ToSql; 3] = [&1, &"t", &"delete"];
        let args = rusqlite::params_from_iter(args.into_iter().take(sql.matches('?').count()));
        let mut stmt = j
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        let plan: Vec<String> = stmt
            .query_map(args, |r| r.get(3))
            .unwrap()
            .collect::<std::result::Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter().all(|d| !d.contains("TEMP B-TREE")),
            "{sql}: {plan:?}"
        );
        assert!(
            plan.iter().any(|d| d.contains("USING INDEX")),
            "{sql}: {plan:?}"
        );
    }
}

/// A change's metadata, as a test records it.
fn meta(statement: &str, kind: &str) -> ChangeMeta {
    ChangeMeta {
        operator: "alice".into(),
        engine: crate::model::Engine::Sqlite,
        target: "/x.sqlite".into(),
        target_database: "/x.sqlite".into(),
        system_identifier: None,
        statement: statement.into(),
        kind: kind.parse().unwrap(),
        digest: "d".into(),
        impact: "{}".into(),
        undo_of: None,
    }
}

/// A table of one integer key column `a`.
fn int_table(name: &str) -> TableInfo {
    TableInfo {
        name: name.into(),
        schema: None,
        table: name.into(),
        position: 1,
        columns: vec![ColumnInfo {
            name: "a".into(),
            type_name: "INTEGER".into(),
            generated: false,
            identity_always: false,
        }],
        key_columns: vec!["a".into()],
    }
}

/// A chunk standing for one that is not in the journal is an error
/// that says so, on every read path, never rows that silently vanish.
#[test]
fn a_reference_to_a_missing_chunk_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(Some(&dir.path().join("j.sqlite"))).unwrap();
    let mut rec = j.begin(&meta("UNDO change 9", "undo")).unwrap();
    rec.table(&int_table("t")).unwrap();
    let dangling = StoredChunk {
        format: BulkFormat::Json,
        rows: 2,
        data: b"",
        origin: (9, 1),
    };
    rec.chunk_ref("t", Op::Insert, &dangling).unwrap();
    let id = rec.prepare().unwrap();
    let missing = |e: Error| {
        assert!(e.to_string().contains("no longer in the journal"), "{e}");
    };
    missing(j.for_each_row(id, |_| Ok(())).unwrap_err());
    missing(
        j.for_each_row_of(id, Op::Insert, false, |_| Ok(()))
            .unwrap_err(),
    );
    missing(
        j.for_each_chunk_of(id, "t", Op::Insert, |_| Ok(()))
            .unwrap_err(),
    );

    // A reference to that reference: its text is empty, not rows.
    let mut rec = j.begin(&meta("UNDO change 1", "undo")).unwrap();
    rec.table(&int_table("t")).unwrap();
    rec.chunk_ref(
        "t",
        Op::Insert,
        &StoredChunk {
            origin: (id, 1),
            ..dangling
        },
    )
    .unwrap();
    let second = rec.prepare().unwrap();
    missing(j.for_each_row(second, |_| Ok(())).unwrap_err());
    missing(
        j.for_each_chunk_of(second, "t", Op::Insert, |_| Ok(()))
            .unwrap_err(),
    );
}

#[test]
fn records_and_reads_back_a_change() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.sqlite");
    let mut j = Journal::open(Some(&path)).unwrap();
    let mut rec = j.begin(&meta("DELETE FROM t", "delete")).unwrap();
    rec.table(&int_table("t")).unwrap();
    rec.row(
        "t",
        Op::Delete,
        &[Value::Integer(7)],
        Some(&[Value::Integer(7)]),
        None,
    )
    .unwrap();
    let id = rec.prepare().unwrap();
    assert_eq!(j.get(id).unwrap().status, Status::Prepared);
    j.set_status(id, Status::Committed).unwrap();
    let c = j.get(id).unwrap();
    assert_eq!((c.status, c.row_count), (Status::Committed, 1));
    let mut rows = Vec::new();
    j.for_each_row(id, |r| {
        rows.push(r);
        Ok(())
    })
    .unwrap();
    assert_eq!(rows[0].before, Some(vec![Value::Integer(7)]));
    assert_eq!(j.tables(id).unwrap()[0].key_columns, vec!["a".to_string()]);
    drop(j);
    // A newer schema is refused, and the file is left as it was.
    let conn = RawConnection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = Journal::open(Some(&path)).err().unwrap();
    assert!(err.message.contains("newer dbguard"), "{err}");
}

/// A schema-3 journal's chunks (all Postgres COPY text then) read back
/// as such after the migration that gave chunks a format.
#[test]
fn schema_3_chunks_read_as_copy_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.sqlite");
    let conn = RawConnection::open(&path).unwrap();
    conn.execute_batch(SCHEMA).unwrap();
    conn.execute_batch(SCHEMA_V2).unwrap();
    conn.execute_batch(SCHEMA_V3).unwrap();
    conn.execute_batch(
        "INSERT INTO changes (id, created_at, operator, engine, target, target_database,
             statement, kind, digest, impact, status, row_count)
         VALUES (1, '2026-01-01T00:00:00Z', 'a', 'PostgreSQL', 'pg', 'db',
             'DELETE FROM t', 'delete', 'd', '{}', 'committed', 2);
         INSERT INTO change_tables VALUES (1, 'public.t', 'public', 't', 1,
             '[{\"name\":\"a\",\"type_name\":\"text\"},{\"name\":\"b\",\"type_name\":\"text\"}]', '[\"a\"]');
         INSERT INTO change_chunks VALUES (1, 1, 'public.t', 'delete', 2, 'x\t\\N\ny\tz\n');
         PRAGMA user_version = 3;",
    )
    .unwrap();
    drop(conn);
    let j = Journal::open(Some(&path)).unwrap();
    let mut rows = Vec::new();
    j.for_each_row(1, |r| {
        rows.push(r.before);
        Ok(())
    })
    .unwrap();
    assert_eq!(
        rows,
        vec![
            Some(vec![Value::Text("x".into()), Value::Null]),
            Some(vec![Value::Text("y".into()), Value::Text("z".into())]),
        ]
    );
}
/// Schema 7 edits `change_chunks`' definition to allow packed rows: a schema-6
/// journal's JSON chunks, and a chunk referring to one, read back the
/// same after it, and the rebuilt table takes packed chunks.
#[test]
fn schema_6_chunks_survive_the_rebuild_for_packed_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.sqlite");
    let conn = RawConnection::open(&path).unwrap();
    for step in [
        SCHEMA, SCHEMA_V2, SCHEMA_V3, SCHEMA_V4, SCHEMA_V5, SCHEMA_V6,
    ] {
        conn.execute_batch(step).unwrap();
    }
    conn.execute_batch(
        "INSERT INTO changes (id, created_at, operator, engine, target, target_database,
             statement, kind, digest, impact, status, row_count)
         VALUES (1, '2026-01-01T00:00:00Z', 'a', 'SQLite', 't.db', 'main',
             'DELETE FROM t', 'delete', 'd', '{}', 'committed', 2),
                (2, '2026-01-01T00:00:01Z', 'a', 'SQLite', 't.db', 'main',
             'UNDO change 1', 'undo', 'd', '{}', 'committed', 2);
         INSERT INTO change_tables VALUES (1, 't', NULL, 't', 1,
             '[{\"name\":\"a\",\"type_name\":\"INTEGER\"},{\"name\":\"b\",\"type_name\":\"\"}]', '[\"a\"]');
         INSERT INTO change_tables VALUES (2, 't', NULL, 't', 1,
             '[{\"name\":\"a\",\"type_name\":\"INTEGER\"},{\"name\":\"b\",\"type_name\":\"\"}]', '[\"a\"]');
         INSERT INTO change_chunks (change_id, first_seq, tbl, op, rows, data, format)
             VALUES (1, 1, 't', 'delete', 2, '[1,\"x\"]
[2,{\"blob\":\"00ff\"}]
', 'json');
         INSERT INTO change_chunks VALUES (2, 1, 't', 'insert', 2, '', 'json', 1, 1);
         PRAGMA user_version = 6;",
    )
    .unwrap();
    drop(conn);
    let mut j = Journal::open(Some(&path)).unwrap();
    let want = vec![
        vec![Value::Integer(1), Value::Text("x".into())],
        vec![Value::Integer(2), Value::Blob(vec![0, 255])],
    ];
    for (id, op) in [(1, Op::Delete), (2, Op::Insert)] {
        let mut rows = Vec::new();
        j.for_each_row_of(id, op, false, |r| {
            rows.push(r.before.or(r.after).unwrap());
            Ok(())
        })
        .unwrap();
        assert_eq!(rows, want, "change {id}");
    }
    let mut rec = j.begin(&meta("DELETE FROM t", "delete")).unwrap();
    rec.table(&int_table("t")).unwrap();
    let mut packed = Vec::new();
    crate::db::sqlite::packed::write_row(
        &mut packed,
        [crate::db::sqlite::packed::Cell::Integer(3)].into_iter(),
    );
    rec.chunk("t", Op::Delete, BulkFormat::Packed, 1, &packed)
        .unwrap();
    let id = rec.prepare().unwrap();
    let mut rows = Vec::new();
    j.for_each_row(id, |r| {
        rows.push(r.before);
        Ok(())
    })
    .unwrap();
    assert_eq!(rows, vec![Some(vec![Value::Integer(3)])]);
}
