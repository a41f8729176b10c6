//! `call_recordings`: which calls have a finished recording, and the tenant's retention setting (`tenant_meta`).

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
             size_bytes = excluded.size_bytes, created_at = excluded.created_at",
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
            "select {COLUMNS} from call_recordings where call_id = :call_id"
        ))?
        .query_row(named_params! { ":call_id": call_id }, from_row)
        .optional()?)
}

/// Recordings made before `before`, oldest first.
pub fn older_than(conn: &Connection, before: i64, limit: usize) -> Result<Vec<RecordingRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "select {COLUMNS} from call_recordings where created_at < :before order by created_at limit :limit"
        ))?
        .query_map(
            named_params! { ":before": before, ":limit": limit as i64 },
            from_row,
        )?
        .collect::<rusqlite::Result<_>>()?)
}

pub fn delete(conn: &Connection, call_id: &str) -> Result<bool> {
    Ok(conn.execute(
        "delete from call_recordings where call_id = :call_id",
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
