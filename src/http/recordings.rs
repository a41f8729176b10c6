//! `GET /v1/recordings/{tenant_id}/{call_id}.flac?expires=..&signature=..`: a call's recording, for whoever holds
//! the signed URL from `Call.recording.url` until it expires — no bearer token, so players and browsers can fetch
//! it directly. Streamed from disk (ranges supported).

use axum::extract::{Path, Query, Request, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tower::ServiceExt as _;
use tower_http::services::ServeFile;

use super::HttpState;
use crate::db::TenantId;
use crate::error::ApiError;
use crate::recordings::RecordingError;
use crate::repo;

#[derive(Deserialize)]
pub struct Signed {
    expires: i64,
    signature: String,
}

pub async fn download(
    State(state): State<HttpState>,
    Path((tenant_id, file)): Path<(String, String)>,
    Query(signed): Query<Signed>,
    request: Request,
) -> Response {
    match serve(&state, &tenant_id, &file, &signed, request).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn serve(
    state: &HttpState,
    tenant_id: &str,
    file: &str,
    signed: &Signed,
    request: Request,
) -> Result<Response, ApiError> {
    let recordings = &state.app.recordings;
    let tenant: TenantId = tenant_id.parse().map_err(|_| RecordingError::NotFound)?;
    let call_id = file
        .strip_suffix(".flac")
        .ok_or(RecordingError::NotFound)?
        .to_string();
    recordings.verify(tenant, &call_id, signed.expires, &signed.signature)?;
    let tenant = state.app.tenant(tenant).await?;
    let row = tenant
        .db
        .read(move |conn| repo::recordings::get(conn, &call_id))
        .await?
        .ok_or(RecordingError::NotFound)?;
    let path = recordings
        .local_file(tenant.id, &row)
        .await?
        .ok_or(RecordingError::NotFound)?;
    // Serving a file cannot fail as a service: a missing or unreadable file is a 404 or 500 response.
    let Ok(response) = ServeFile::new(path).oneshot(request).await;
    Ok(response.map(axum::body::Body::new).into_response())
}
