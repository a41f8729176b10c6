//! Deleting a call: its transcript, timeline, analysis, variables, numbers and metadata are erased in one
//! transaction, and its recording with them — here and on the replica. What it cost stays: usage rows keep
//! naming the call, whose tombstone no read returns (`repo::call_deletion`).

use crate::clock::now_ms;
use crate::recordings::Recordings;
use crate::repo;
use crate::tenants::{Change, Tenant};

use super::CallError;

/// Deletes call `call_id`, which must have ended (`CallError::InProgress` otherwise: end or cancel it first).
pub async fn delete(
    tenant: &Tenant,
    recordings: &Recordings,
    call_id: String,
) -> Result<(), CallError> {
    let recorded = tenant
        .commit(move |tx| {
            let call = repo::calls::get_call(tx, &call_id)?.ok_or(CallError::NotFound)?;
            if !call.status.is_terminal() {
                return Err(CallError::InProgress);
            }
            let at = now_ms();
            repo::call_deletion::erase(tx, &call_id, at)?;
            let recording = repo::recordings::mark_deleted(tx, &call_id, at)?;
            Ok(Change::quiet(recording.is_some()))
        })
        .await?;
    if recorded {
        // No longer served; its files go now, or when the replication job retries.
        recordings.remove_deleted(tenant).await;
    }
    Ok(())
}
