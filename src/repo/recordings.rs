//! `call_recordings`: which calls have a finished recording, whether it is copied to the replica or being
//! deleted, and the tenant's retention setting (`tenant_meta`).

use rusqlite::{Connection, OptionalExtension, Row, named_params};

use super::Result;

/// A finished recording of a call.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingRow {
    pub call_id: String,
    /// The file's name in the tenant's recordings folder.
    pub file_name: String,
    pub duration_ms: i64,
    pub size_bytes: i64,
    pub created_at: i64,
}

const COLUMNS: &str = "call_id, file_name, duration_ms, size_bytes, created_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<RecordingRow> {
    Ok(RecordingRow {
        call_id: row.get(0)?,
        file_name: row.get(1)?,
        duration_ms: row.get(2)?,
        size_bytes: row.get(3)?,
        created_at: row.get(4)?,
    })
}

pub fn insert(conn: &Connection, row: &RecordingRow) -> Result<()> {
    conn.prepare_cached(
        "insert into call_recordings (call_id, file_name, duration_ms, size_bytes, created_at)
         values (:call_id, :file_name, :duration_ms, :size_bytes, :created_at)
         on conflict (call_id) do update set file_name = excluded.file_name, duration_ms = excluded.duration_ms,
             size_bytes = excluded.size_bytes, created_at = excluded.created_at, replicated_at = null,
             deleted_at = null",
    )?
    .execute(named_params! {
        ":call_id": row.call_id,
        ":file_name": row.file_name,
        ":duration_ms": row.duration_ms,
        ":size_bytes": row.size_bytes,
        ":created_at": row.created_at,
    })?;
    Ok(())
}

pub fn get(conn: &Connection, call_id: &str) -> Result<Option<RecordingRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "select {COLUMNS} from call_recordings where call_id = :call_id and deleted_at is null"
        ))?
        .query_row(named_params! { ":call_id": call_id }, from_row)
        .optional()?)
}

/// Recordings made before `before`, oldest first (not those already being deleted).
pub fn older_than(conn: &Connection, before: i64, limit: usize) -> Result<Vec<RecordingRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "select {COLUMNS} from call_recordings where created_at < :before and deleted_at is null
             order by created_at limit :limit"
        ))?
        .query_map(
            named_params! { ":before": before, ":limit": limit as i64 },
            from_row,
        )?
        .collect::<rusqlite::Result<_>>()?)
}

/// Marks the recording of `call_id` deleted (no longer served) and returns it; `None` when there is none.
pub fn mark_deleted(conn: &Connection, call_id: &str, at: i64) -> Result<Option<RecordingRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "update call_recordings set deleted_at = :at where call_id = :call_id and deleted_at is null
             returning {COLUMNS}"
        ))?
        .query_row(named_params! { ":call_id": call_id, ":at": at }, from_row)
        .optional()?)
}

/// A recording with work left: copying it to the replica, or removing it everywhere.
#[derive(Debug, Clone, PartialEq)]
pub struct Unsettled {
    pub row: RecordingRow,
    pub deleted: bool,
}

/// Recordings deleted but not yet removed, and (with `uncopied`) those not yet on the replica.
pub fn unsettled(conn: &Connection, uncopied: bool, limit: usize) -> Result<Vec<Unsettled>> {
    Ok(conn
        .prepare_cached(&format!(
            "select {COLUMNS}, deleted_at is not null from call_recordings indexed by call_recordings_unsettled
             where (replicated_at is null or deleted_at is not null) and (deleted_at is not null or :uncopied)
             order by call_id limit :limit"
        ))?
        .query_map(
            named_params! { ":uncopied": uncopied, ":limit": limit as i64 },
            |row| {
                Ok(Unsettled {
                    row: from_row(row)?,
                    deleted: row.get(5)?,
                })
            },
        )?
        .collect::<rusqlite::Result<_>>()?)
}

pub fn mark_replicated(conn: &Connection, call_id: &str, at: i64) -> Result<()> {
    conn.execute(
        "update call_recordings set replicated_at = :at where call_id = :call_id",
        named_params! { ":call_id": call_id, ":at": at },
    )?;
    Ok(())
}

/// Removes a deleted recording's row, once its files are gone.
pub fn remove(conn: &Connection, call_id: &str) -> Result<bool> {
    Ok(conn.execute(
        "delete from call_recordings where call_id = :call_id and deleted_at is not null",
        named_params! { ":call_id": call_id },
    )? == 1)
}

/// Days recordings are kept (`None`: the server default).
pub fn retention_days(conn: &Connection) -> Result<Option<i64>> {
    let value: Option<String> = conn
        .query_row(
            "select value from tenant_meta where key = 'recording_retention_days'",
            [],
            |row| row.get(0),
        )
        .optional()?;
    Ok(value.and_then(|v| v.parse().ok()))
}

pub fn set_retention_days(conn: &Connection, days: i64) -> Result<()> {
    conn.execute(
        "insert into tenant_meta (key, value) values ('recording_retention_days', :days)
         on conflict (key) do update set value = excluded.value",
        named_params! { ":days": days.to_string() },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::migrations::TENANT;

    fn recording(call_id: &str) -> RecordingRow {
        RecordingRow {
            call_id: call_id.into(),
            file_name: format!("{call_id}.flac"),
            duration_ms: 1000,
            size_bytes: 100,
            created_at: 1,
        }
    }

    fn unsettled_ids(conn: &Connection, uncopied: bool) -> Vec<(String, bool)> {
        unsettled(conn, uncopied, 10)
            .unwrap()
            .into_iter()
            .map(|u| (u.row.call_id, u.deleted))
            .collect()
    }

    #[test]
    fn a_recording_is_unsettled_until_copied_and_while_deleted_but_not_removed() {
        let mut conn = crate::pii::test_connection();
        TENANT.upgrade(&mut conn).unwrap();
        // Rows only: no calls to refer to.
        conn.pragma_update(None, "foreign_keys", false).unwrap();
        insert(&conn, &recording("c1")).unwrap();
        insert(&conn, &recording("c2")).unwrap();
        assert_eq!(
            unsettled_ids(&conn, true),
            [("c1".into(), false), ("c2".into(), false)]
        );
        assert!(
            unsettled_ids(&conn, false).is_empty(),
            "nothing to do without a replica"
        );

        mark_replicated(&conn, "c1", 5).unwrap();
        assert_eq!(unsettled_ids(&conn, true), [("c2".into(), false)]);
        assert!(
            !remove(&conn, "c1").unwrap(),
            "only a deleted recording's row is removed"
        );

        assert_eq!(mark_deleted(&conn, "c1", 6).unwrap(), Some(recording("c1")));
        assert_eq!(
            mark_deleted(&conn, "c1", 7).unwrap(),
            None,
            "already deleted"
        );
        assert_eq!(
            get(&conn, "c1").unwrap(),
            None,
            "a deleted recording is not served"
        );
        assert!(
            older_than(&conn, 10, 10)
                .unwrap()
                .iter()
                .all(|r| r.call_id != "c1")
        );
        assert_eq!(unsettled_ids(&conn, false), [("c1".into(), true)]);
        assert_eq!(
            unsettled_ids(&conn, true),
            [("c1".into(), true), ("c2".into(), false)]
        );

        assert!(remove(&conn, "c1").unwrap());
        assert_eq!(unsettled_ids(&conn, true), [("c2".into(), false)]);
        // Recorded again (a retried call id): a fresh row to copy.
        insert(&conn, &recording("c2")).unwrap();
        assert_eq!(unsettled_ids(&conn, true), [("c2".into(), false)]);
    }
}
