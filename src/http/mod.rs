//! The HTTP edge: routes, credentials, request telemetry.
//!
//! | route | what |
//! |---|---|
//! | `POST /graphql`, `GET /graphql` | GraphQL over HTTP; WebSocket upgrade for subscriptions; GraphiQL |
//! | `GET /export/calls.csv` | calls matching a filter, streamed as CSV |
//! | `GET /healthz` | alive |
//! | `GET /readyz` | catalog open, data directory writable, not draining |
//! | `GET /metrics` | Prometheus text format |
//! | anything else | the portal (`--ui-dir`) with a single-page-app fallback, else JSON `NOT_FOUND` |

mod export;
mod graphql;
pub mod middleware;
mod ops;
mod portal;
mod ws;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;

use crate::app::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ErrorCode};
use crate::graphql::AppSchema;
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
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql::post))
        .route("/export/calls.csv", get(export::calls_csv))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .fallback(portal::fallback)
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn(middleware::observe))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("handler panicked");
            ApiError::new(ErrorCode::Internal, "internal error").into_response()
        }))
        .with_state(HttpState { app, schema })
}

/// `GET /graphql` serves three things: the subscription WebSocket, GraphiQL, and GET queries.
async fn graphql_get(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request_id: Option<axum::Extension<RequestId>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    protocol: Result<async_graphql_axum::GraphQLProtocol, axum::http::StatusCode>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let request_id = request_id.map(|axum::Extension(id)| id);
    let wants_upgrade = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    match upgrade {
        Ok(upgrade) => ws::upgrade(state, peer, request_id, headers, upgrade, protocol.ok()).await,
        Err(rejection) if wants_upgrade => rejection.into_response(),
        Err(_) => graphql::get(state, peer, request_id, headers, query).await,
    }
}

/// Resolves the `Authorization` header: none is anonymous, a bad one is an error (never silently
/// anonymous, which would hide a client's mistake).
pub async fn authenticate(
    app: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Principal>, ApiError> {
    match headers.get(header::AUTHORIZATION) {
        None => Ok(None),
        Some(value) => {
            let value = value.to_str().map_err(|_| {
                ApiError::new(
                    ErrorCode::MalformedCredentials,
                    "Authorization header is not ASCII",
                )
            })?;
            app.auth.authenticate_header(value).await.map(Some)
        }
    }
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
