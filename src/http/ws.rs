//! GraphQL subscriptions over WebSocket (`graphql-transport-ws`, and the legacy `graphql-ws`).
//!
//! Credentials come from the upgrade request's `Authorization` header or, for browsers (which cannot set
//! headers on a WebSocket), from the `connection_init` payload: `{"Authorization": "Bearer <key>"}`.
//! A connection without valid credentials is closed with `4403 Forbidden`, as the protocol specifies
//! (async-graphql itself would close with 1002, so the handshake is done here).
//! Sessions are tracked by the shutdown logic; when the grace period ends they close with `1001`.
//! With several regions, clients name their tenant in the URL (`/graphql?tenant=<id>`) so routing can send the
//! upgrade to the tenant's home; a socket that reached another region is closed with `4421`.

use std::net::SocketAddr;
use std::time::Duration;

use async_graphql::Data;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt as _, StreamExt as _};

use super::HttpState;
use super::middleware::RequestId;
use crate::auth::{AuthError, Authenticator, Principal};
use crate::error::Reportable as _;
use crate::error::{ApiError, ErrorCode};
use crate::graphql::context::RequestMeta;
use crate::ratelimit::Limited;

pub async fn upgrade(
    state: HttpState,
    peer: SocketAddr,
    request_id: Option<RequestId>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
    protocol: Option<GraphQLProtocol>,
) -> Response {
    let Some(protocol) = protocol else {
        return ApiError::new(
            ErrorCode::BadRequest,
            "WebSocket subprotocol must be graphql-transport-ws (or graphql-ws)",
        )
        .into_response();
    };
    if state.app.shutdown.is_draining() {
        return ApiError::new(ErrorCode::ServiceUnavailable, "server is shutting down")
            .with_retry_after(1)
            .into_response();
    }
    let header_principal = match super::authenticate(&state.app, &headers).await {
        Ok(principal) => principal,
        Err(err) => return err.into_response(),
    };
    let meta = RequestMeta {
        request_id: request_id.map(|id| id.0),
        ip: Some(super::client_ip(&state.app, &headers, peer)),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(256).collect()),
        public_origin: super::request_origin(&headers),
        serving_region: super::routing::replayed_from(&headers),
    };
    upgrade
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            let shutdown = state.app.shutdown.clone();
            shutdown.spawn_session(serve(socket, state, protocol, header_principal, meta));
            std::future::ready(())
        })
}

/// A socket whose credentials (sent after the upgrade) name a tenant homed in another region: routing could
/// not see them, so the client is told to reconnect with `?tenant=<id>`, which routing reads.
async fn wrong_region(state: &HttpState, tenant: crate::db::TenantId) -> Option<(u16, String)> {
    let edge = &state.app.edge;
    if !edge.settings().multi_region() {
        return None;
    }
    match edge.locate(tenant).await {
        Ok(crate::edge::Home::Elsewhere(region)) => Some((
            4421,
            format!(
                "WRONG_REGION: this tenant is served in {region}; connect to /graphql?tenant={tenant}"
            ),
        )),
        _ => None,
    }
}

/// How long a client has to send `connection_init` (the protocol closes with 4408 after that).
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

async fn serve(
    socket: WebSocket,
    state: HttpState,
    protocol: GraphQLProtocol,
    header_principal: Option<Principal>,
    meta: RequestMeta,
) {
    metrics::gauge!("voxedge_graphql_ws_connections").increment(1.0);
    let (mut sink, mut stream) = socket.split();
    let handshake = match handshake(&mut stream, &state.app.auth, header_principal).await {
        Ok((init, principal)) => state
            .app
            .limits
            .check_tenant(principal.tenant_id, Limited::WsConnect)
            .await
            .map(|()| (init, principal))
            .map_err(|err| {
                let wait = err.retry_after_secs().unwrap_or(1);
                // graphql-transport-ws reserves 4429 for "too many requests".
                (4429, format!("RATE_LIMITED: retry after {wait} s"))
            }),
        Err(refused) => Err(refused),
    };
    let handshake = match handshake {
        Ok((init, principal)) => match wrong_region(&state, principal.tenant_id).await {
            Some(refused) => Err(refused),
            None => Ok((init, principal)),
        },
        Err(refused) => Err(refused),
    };
    match handshake {
        Ok((init, principal)) => {
            let closing = state.app.shutdown.closing();
            // The init message is replayed so async-graphql acknowledges it; ending the input stream at
            // shutdown ends the protocol loop, after which we can still say goodbye properly.
            let input = futures::stream::once(std::future::ready(Ok(init)))
                .chain(stream)
                .take_until(closing);
            let mut data = Data::default();
            data.insert(meta);
            data.insert(crate::graphql::loaders::for_tenant(
                &state.app.tenants,
                principal.tenant_id,
            ));
            data.insert(principal);
            GraphQLWebSocket::new_with_pair(&mut sink, input, state.schema.clone(), protocol)
                .with_data(data)
                .serve()
                .await;
            if state.app.shutdown.is_draining() {
                close(&mut sink, close_code::AWAY, "server shutting down").await;
            }
        }
        Err((code, reason)) => close(&mut sink, code, &reason).await,
    }
    metrics::gauge!("voxedge_graphql_ws_connections").decrement(1.0);
}

/// Waits for `connection_init` and authenticates it. Credentials in its payload win over the upgrade
/// request's `Authorization` header. Failures map to the protocol's close codes.
async fn handshake(
    stream: &mut futures::stream::SplitStream<WebSocket>,
    auth: &Authenticator,
    header_principal: Option<Principal>,
) -> Result<(Message, Principal), (u16, String)> {
    let text = loop {
        match tokio::time::timeout(INIT_TIMEOUT, stream.next()).await {
            Err(_) => return Err((4408, "Connection initialisation timeout".into())),
            Ok(None | Some(Err(_))) => return Err((close_code::NORMAL, String::new())),
            Ok(Some(Ok(Message::Text(text)))) => break text,
            Ok(Some(Ok(Message::Close(_)))) => return Err((close_code::NORMAL, String::new())),
            Ok(Some(Ok(_))) => continue,
        }
    };
    let message: serde_json::Value =
        serde_json::from_str(&text).map_err(|_| (4400, "Invalid message received".to_string()))?;
    if message["type"] != "connection_init" {
        return Err((4401, "Unauthorized: send connection_init first".into()));
    }
    let payload = &message["payload"];
    let credential = ["Authorization", "authorization"]
        .iter()
        .find_map(|key| payload.get(key).and_then(|v| v.as_str()));
    let principal = match (credential, header_principal) {
        (Some(value), _) => auth.authenticate_header(value).await,
        (None, Some(principal)) => Ok(principal),
        (None, None) => Err(AuthError::Missing(
            "send {\"Authorization\": \"Bearer <key>\"} in connection_init",
        )),
    };
    match principal {
        Ok(principal) => Ok((Message::Text(text), principal)),
        Err(err) => Err((4403, format!("Forbidden: {}: {}", err.code().as_str(), err))),
    }
}

async fn close(sink: &mut futures::stream::SplitSink<WebSocket, Message>, code: u16, reason: &str) {
    let _ = sink
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: crate::live::socket::truncate_reason(reason).into(),
        })))
        .await;
}
