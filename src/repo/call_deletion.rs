//! Erasing a call: what it said and who took part goes; a tombstone of the `calls` row stays for the usage
//! ledger, which is append-only and names its calls (see `tenant-template/0018_call_deletion.sql`).

use rusqlite::{Connection, named_params};

use super::Result;

/// Erases call `call_id`'s content and marks it deleted at `at`; its recording is only marked deleted
/// (`repo::recordings::mark_deleted`), as its files are removed after the commit. False when there is no such
/// call (or it was already deleted).
pub fn erase(conn: &Connection, call_id: &str, at: i64) -> Result<bool> {
    let erased = conn
        .prepare_cached(
            "update calls set deleted_at = :at, updated_at = :at, from_sealed = null, from_index = null,
                to_sealed = null, to_index = null, metadata = '{}', ended_reason = null
             where id = :id and deleted_at is null",
        )?
        .execute(named_params! { ":id": call_id, ":at": at })?;
    if erased == 0 {
        return Ok(false);
    }
    for table in [
        "call_events",
        "transcript_segments",
        "call_analyses",
        "call_variables",
    ] {
        conn.prepare_cached(&format!("delete from {table} where call_id = :id"))?
            .execute(named_params! { ":id": call_id })?;
    }
    Ok(true)
}
