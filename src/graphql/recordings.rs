//! Call recordings: `Call.recording` (a signed, short-lived download URL), deleting one, and the tenant's
//! retention period.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::context::{ContextExt, tenant};
use crate::auth::Permission;
use crate::error::{ApiError, ApiResult, ErrorCode, InvalidInput};
use crate::repo;
use crate::repo::recordings::RecordingRow;

/// A call's recording: caller left, agent right, FLAC.
#[derive(SimpleObject)]
pub struct CallRecording {
    /// Downloads the file without credentials until `expiresAt` (`GET`, `audio/flac`). Relative to the server
    /// unless `--public-url` is set.
    pub url: String,
    pub expires_at: DateTime<Utc>,
    pub duration_ms: i64,
    pub size_bytes: i64,
}

/// The recording of call `call_id`, with a fresh signed URL.
pub async fn load(ctx: &Context<'_>, call_id: &str) -> ApiResult<Option<CallRecording>> {
    let principal = ctx.authorize(Permission::ReadCalls)?;
    let db = tenant(ctx, principal).await?.db;
    let id = call_id.to_string();
    let row: Option<RecordingRow> = db
        .read(move |conn| repo::recordings::get(conn, &id))
        .await?;
    Ok(row.map(|row| {
        let signed = ctx
            .app()
            .recordings
            .signed_url(principal.tenant_id, &row.call_id);
        CallRecording {
            url: signed.url,
            expires_at: DateTime::from_timestamp(signed.expires, 0).unwrap_or_default(),
            duration_ms: row.duration_ms,
            size_bytes: row.size_bytes,
        }
    }))
}

#[derive(Default)]
pub struct RecordingMutation;

#[Object]
impl RecordingMutation {
    /// Deletes a call's recording (the file and its listing). False when it had none.
    async fn delete_call_recording(&self, ctx: &Context<'_>, call_id: ID) -> ApiResult<bool> {
        let principal = ctx.authorize(Permission::ManageCalls)?;
        let tenant = tenant(ctx, principal).await?;
        Ok(ctx.app().recordings.delete(&tenant, call_id.0).await?)
    }

    /// How many days this tenant's recordings are kept (1–3650); older ones are deleted within the hour.
    async fn set_recording_retention(&self, ctx: &Context<'_>, days: i32) -> ApiResult<i32> {
        let principal = ctx.authorize(Permission::ManageTenant)?;
        if !(1..=3650).contains(&days) {
            return Err(ApiError::from(InvalidInput::field(
                "days",
                ErrorCode::OutOfRange,
                "1–3650 days",
            )));
        }
        let tenant = tenant(ctx, principal).await?;
        tenant
            .db
            .write(move |tx| repo::recordings::set_retention_days(tx, i64::from(days)))
            .await?;
        // Applied now rather than at the next hourly sweep, so a shorter period takes effect at once.
        ctx.app().recordings.sweep(&tenant).await?;
        Ok(days)
    }
}
