//! Live-call WebSockets: `/v1/realtime` (OpenAI-Realtime-compatible) and `/v1/twilio/stream` (Twilio Media
//! Streams). Both hand the socket to [`crate::live`] as a tracked session, so shutdown waits for calls to end.

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::HttpState;
use crate::db::TenantId;
use crate::error::{ApiError, ErrorCode};
use crate::live::{admit, realtime};

#[derive(Debug, serde::Deserialize)]
pub struct RealtimeQuery {
    agent: Option<String>,
    /// What OpenAI SDKs send; names the agent too.
    model: Option<String>,
}

pub async fn realtime(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Query(query): Query<RealtimeQuery>,
    upgrade: WebSocketUpgrade,
) -> Response {
    if let Some(refused) = draining(&state) {
        return refused;
    }
    let connect = realtime::Connect::from_request(&headers, query.agent, query.model);
    let app = state.app;
    let max = app.config.live.max_message_bytes;
    upgrade
        .protocols(["realtime"])
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| {
            let shutdown = app.shutdown.clone();
            shutdown.spawn_session(admit::realtime(app, connect, socket));
            std::future::ready(())
        })
}

pub async fn twilio_stream(State(state): State<HttpState>, upgrade: WebSocketUpgrade) -> Response {
    twilio(state, None, upgrade)
}

/// The stream URL TwiML names: the tenant in the path lets routing send the upgrade to its home region.
pub async fn twilio_tenant_stream(
    State(state): State<HttpState>,
    Path(tenant_id): Path<String>,
    upgrade: WebSocketUpgrade,
) -> Response {
    match tenant_id.parse::<TenantId>() {
        Ok(tenant) => twilio(state, Some(tenant), upgrade),
        Err(_) => ApiError::new(ErrorCode::NotFound, "no such tenant").into_response(),
    }
}

fn twilio(state: HttpState, tenant: Option<TenantId>, upgrade: WebSocketUpgrade) -> Response {
    if let Some(refused) = draining(&state) {
        return refused;
    }
    let app = state.app;
    let max = app.config.live.max_message_bytes;
    upgrade
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| {
            let shutdown = app.shutdown.clone();
            shutdown.spawn_session(admit::twilio(app, tenant, socket));
            std::future::ready(())
        })
}

/// New calls are refused while the server drains.
fn draining(state: &HttpState) -> Option<Response> {
    state.app.shutdown.is_draining().then(|| {
        ApiError::new(ErrorCode::ServiceUnavailable, "server is shutting down")
            .with_retry_after(1)
            .into_response()
    })
}
