//! `POST /v1/twilio/{tenant_id}/status?callId=...`: Twilio's status callbacks (`StatusCallback`) and asynchronous
//! answering-machine verdicts (`AsyncAmdStatusCallback`) for calls placed through a tenant's account. Signed like
//! the voice webhook (`X-Twilio-Signature` over the exact URL, query included) and refused the same way; the
//! report is applied by [`crate::telephony::status`]. Answers `204`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::HttpState;
use super::twilio_voice::{Verified, verify};
use crate::error::{ApiError, ErrorCode};
use crate::telephony::status::{TwilioReport, apply};

pub async fn status(
    State(state): State<HttpState>,
    Path(tenant_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match handle(&state, &tenant_id, &uri, &headers, body).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(err) => err.into_response(),
    }
}

async fn handle(
    state: &HttpState,
    tenant_id: &str,
    uri: &Uri,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(), ApiError> {
    let Verified { tenant, params, .. } = verify(state, tenant_id, uri, headers, body).await?;
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(uri.query().unwrap_or_default()).unwrap_or_default();
    let call_id = query
        .into_iter()
        .find(|(k, _)| k == "callId")
        .map(|(_, v)| v)
        .ok_or_else(|| ApiError::new(ErrorCode::BadRequest, "the callback URL names no callId"))?;
    let app = &state.app;
    let tenant = app.tenant(tenant).await?;
    let report = TwilioReport::from_params(&params);
    apply(
        &tenant,
        &app.live_calls,
        &call_id,
        report,
        app.clock.now_ms(),
    )
    .await?;
    // A call of a campaign may have ended: its next contact can be dialled.
    app.scheduler.wake();
    Ok(())
}
