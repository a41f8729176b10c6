//! The HTTP edge: routes, credentials, request telemetry.
//!
//! | route | what |
//! |---|---|
//! | `POST /graphql`, `GET /graphql` | GraphQL over HTTP; WebSocket upgrade for subscriptions; GraphiQL |
//! | `GET /export/calls.csv` | calls matching a filter, streamed as CSV |
//! | `GET /export/usage.csv` | usage and cost per day, agent and metric, as CSV |
//! | `POST /v1/stripe/webhook` | Stripe's signed events (payments, subscriptions) |
//! | `GET /v1/realtime` | live call over the OpenAI-Realtime-compatible WebSocket protocol |
//! | `GET /v1/twilio/{tenant_id}/stream` | live phone call over Twilio Media Streams (`/v1/twilio/stream`: older TwiML) |
//! | `POST /v1/twilio/{tenant_id}/voice` | Twilio's signed voice webhook for a tenant's numbers; answers TwiML |
//! | `POST /v1/twilio/{tenant_id}/status` | Twilio's signed status and answering-machine callbacks for placed calls |
//! | `GET /healthz` | alive |
//! | `GET /readyz` | catalog open, data directory writable, not draining |
//! | `GET /metrics` | Prometheus text format |
//! | `POST /internal/…` | signed requests between regions and from the CLI (see `internal.rs`) |
//! | anything else | the portal (`--ui-dir`) with a single-page-app fallback, else JSON `NOT_FOUND` |

mod export;
mod export_usage;
mod graphql;
mod internal;
mod live;
pub mod middleware;
mod ops;
mod portal;
mod recordings;
pub mod routing;
mod stripe_webhook;
mod twilio_status;
mod twilio_voice;
mod ws;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;

use crate::auth::Verified;
use crate::error::{ApiError, ErrorCode};
use crate::graphql::AppSchema;
use crate::state::AppState;
use middleware::RequestId;

/// State of the HTTP routes: the application plus the GraphQL schema built over it.
#[derive(Clone)]
pub struct HttpState {
    pub app: AppState,
    pub schema: AppSchema,
}

/// Every route, with telemetry and panic recovery.
pub fn router(app: AppState) -> Router {
    let schema = crate::graphql::build(app.clone(), app.config.graphql);
    let max_body = app.config.max_body_bytes;
    let state = HttpState { app, schema };
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql::post))
        .route("/export/calls.csv", get(export::calls_csv))
        .route("/export/usage.csv", get(export_usage::usage_csv))
        .route("/v1/stripe/webhook", post(stripe_webhook::receive))
        .route("/v1/realtime", get(live::realtime))
        .route("/v1/twilio/stream", get(live::twilio_stream))
        .route(
            "/v1/twilio/{tenant_id}/stream",
            get(live::twilio_tenant_stream),
        )
        .route("/v1/twilio/{tenant_id}/voice", post(twilio_voice::voice))
        .route("/internal/primary/tenants", post(internal::create_tenant))
        .route(
            "/internal/primary/tenants/{id}/home",
            post(internal::set_home),
        )
        .route(
            "/internal/regions/{region}/tenants/{id}",
            post(internal::create_file),
        )
        .route(
            "/internal/regions/{region}/tenants/{id}/pull",
            post(internal::pull),
        )
        .route(
            "/internal/regions/{region}/tenants/{id}/activate",
            post(internal::activate),
        )
        .route("/internal/tenants/{id}/audit", post(internal::audit))
        .route(
            "/internal/tenants/{id}/revoke-keys",
            post(internal::revoke_keys),
        )
        .route(
            "/internal/tenants/{id}/verify-key",
            post(internal::verify_key),
        )
        .route("/internal/tenants/{id}/move", post(internal::move_tenant))
        .route(
            "/internal/tenants/{id}/restore",
            post(internal::restore_tenant),
        )
        .route("/v1/twilio/{tenant_id}/status", post(twilio_status::status))
        .route(
            "/v1/recordings/{tenant_id}/{file}",
            get(recordings::download),
        )
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .fallback(portal::fallback)
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            routing::route,
        ))
        .layer(axum::middleware::map_response(middleware::nosniff))
        .layer(axum::middleware::from_fn(middleware::observe))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("handler panicked");
            ApiError::new(ErrorCode::Internal, "internal error").into_response()
        }))
        .with_state(state)
}

/// `GET /graphql` serves three things: the subscription WebSocket, GraphiQL, and GET queries.
async fn graphql_get(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request_id: Option<axum::Extension<RequestId>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let request_id = request_id.map(|axum::Extension(id)| id);
    let wants_upgrade = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    match upgrade {
        Ok(upgrade) => ws::upgrade(state, peer, request_id, headers, upgrade).await,
        Err(rejection) if wants_upgrade => rejection.into_response(),
        Err(_) => graphql::get(state, peer, request_id, headers, query).await,
    }
}

/// Resolves the `Authorization` header: none is anonymous, a bad one is an error (never silently
/// anonymous, which would hide a client's mistake).
pub async fn authenticate(
    app: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Verified>, ApiError> {
    match headers.get(header::AUTHORIZATION) {
        None => Ok(None),
        Some(value) => {
            let value = value.to_str().map_err(|_| {
                ApiError::new(
                    ErrorCode::MalformedCredentials,
                    "Authorization header is not ASCII",
                )
            })?;
            Ok(Some(app.auth.authenticate_header(value).await?))
        }
    }
}

/// Reads a whole request body; one longer than `max` bytes (or that cannot be read) is `PAYLOAD_TOO_LARGE`.
pub(crate) async fn read_body(
    body: axum::body::Body,
    max: usize,
) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, max).await.map_err(|_| {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("request body exceeds {max} bytes"),
        )
    })
}

/// The caller's IP: the configured trusted proxy header (e.g. Fly's `Fly-Client-IP`) when present and
/// valid, else the TCP peer. The header is only trusted when configured, since clients can forge it.
pub fn client_ip(app: &AppState, headers: &HeaderMap, peer: SocketAddr) -> String {
    app.config
        .client_ip_header
        .as_deref()
        .and_then(|name| headers.get(name))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<std::net::IpAddr>().ok())
        .unwrap_or(peer.ip())
        .to_string()
}

/// The origin the client used to reach us, from its `Host` header and `X-Forwarded-Proto` (set by the
/// proxy in front, e.g. Fly's; `http` when absent). `None` when `Host` is missing or not a plain
/// `host[:port]`.
pub fn request_origin(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let authority: axum::http::uri::Authority = host.parse().ok()?;
    if authority.as_str().contains('@') {
        return None;
    }
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| v == "https" || v == "http")
        .unwrap_or_else(|| "http".into());
    Some(format!(
        "{scheme}://{}",
        authority.as_str().to_ascii_lowercase()
    ))
}

/// The server's public origin: `--public-url` when set, else the one the request came in on.
pub fn public_origin(app: &AppState, headers: &HeaderMap) -> Option<String> {
    app.config
        .public_url
        .clone()
        .or_else(|| request_origin(headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    axum::http::HeaderName::from_static(k),
                    axum::http::HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    #[test]
    fn origins_come_from_host_and_forwarded_proto() {
        assert_eq!(
            request_origin(&headers(&[("host", "Voxedge.Fly.Dev")])).as_deref(),
            Some("http://voxedge.fly.dev")
        );
        assert_eq!(
            request_origin(&headers(&[
                ("host", "127.0.0.1:8080"),
                ("x-forwarded-proto", "https, http")
            ]))
            .as_deref(),
            Some("https://127.0.0.1:8080")
        );
        assert_eq!(
            request_origin(&headers(&[("host", "h"), ("x-forwarded-proto", "gopher")])).as_deref(),
            Some("http://h")
        );
        assert_eq!(request_origin(&headers(&[("host", "a@b")])), None);
        assert_eq!(request_origin(&headers(&[("host", "a/b")])), None);
        assert_eq!(request_origin(&headers(&[])), None);
    }
}
