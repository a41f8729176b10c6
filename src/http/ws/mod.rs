//! GraphQL over WebSocket (`graphql-transport-ws`, and the legacy `graphql-ws`).
//!
//! Credentials come from the upgrade request's `Authorization` header or, for browsers (which cannot set
//! headers on a WebSocket), from the `connection_init` payload: `{"Authorization": "Bearer <key>"}`.
//! A connection without valid credentials is closed with `4403 Forbidden`, as the protocol specifies.
//! Messages are at most `--graphql-ws-max-message-bytes` from the first one on, before any credential is
//! seen (larger ones close the socket with `1009`).
//!
//! Once open, the socket keeps checking who is on the other end ([`connection`]): every `subscribe`
//! re-authenticates the credential (through the authenticator's cache) and counts against the tenant's
//! request budget; a revoked key, a signed-out or revoked session, a removed member (`4401`) or one
//! demoted below what a running subscription needs (`4403`) closes it within moments of the change,
//! and an expiring credential closes it when it expires (`4403`). Operations running at once are
//! capped per socket and per tenant. Sessions are tracked by the shutdown logic; when the grace period ends they
//! close with `1001`.
//!
//! With several regions, clients name their tenant in the URL (`/graphql?tenant=<id>`) so routing can send the
//! upgrade to the tenant's home; a socket that reached another region is closed with `4421`.

mod connection;
mod protocol;

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt as _, StreamExt as _};

use super::HttpState;
use super::middleware::RequestId;
use crate::auth::{AuthError, Authenticator, Verified};
use crate::db::TenantId;
use crate::error::Reportable as _;
use crate::error::{ApiError, ErrorCode};
use crate::graphql::context::RequestMeta;
use crate::ratelimit::{LimitError, Limited};
use connection::Connection;
use protocol::Protocol;

/// Read buffer per socket. tungstenite's default (128 KiB) would dominate the memory of thousands of
/// mostly idle subscription sockets; GraphQL messages are small.
const READ_BUFFER_BYTES: usize = 8 * 1024;

pub async fn upgrade(
    state: HttpState,
    peer: SocketAddr,
    request_id: Option<RequestId>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let upgrade = upgrade.protocols(Protocol::NAMES);
    let protocol = upgrade
        .selected_protocol()
        .and_then(|v| v.to_str().ok())
        .and_then(Protocol::from_name);
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
    let header_credential = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(value) => {
            let verified = match super::authenticate(&state.app, &headers).await {
                Ok(verified) => verified,
                Err(err) => return err.into_response(),
            };
            // `authenticate` accepted it, so it is ASCII.
            let value = value.to_str().unwrap_or_default().to_owned();
            verified.map(|verified| (value, verified))
        }
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
    let max_message = state.app.config.graphql.ws_max_message_bytes;
    upgrade
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .on_upgrade(move |socket| {
            let shutdown = state.app.shutdown.clone();
            shutdown.spawn_session(serve(socket, state, protocol, header_credential, meta));
            std::future::ready(())
        })
}

/// A socket whose credentials (sent after the upgrade) name a tenant homed in another region: routing could
/// not see them, so the client is told to reconnect with `?tenant=<id>`, which routing reads.
async fn wrong_region(state: &HttpState, tenant: TenantId) -> Result<(), Refusal> {
    let edge = &state.app.edge;
    if !edge.settings().multi_region() {
        return Ok(());
    }
    match edge.locate(tenant).await {
        Ok(crate::edge::Home::Elsewhere(region)) => Err(Refusal::WrongRegion { region, tenant }),
        _ => Ok(()),
    }
}

/// Why a socket is closed before it serves anything: the close frame's reason, and its code
/// ([`Refusal::close_code`]).
#[derive(Debug, thiserror::Error)]
enum Refusal {
    /// No `connection_init` within [`INIT_TIMEOUT`].
    #[error("Connection initialisation timeout")]
    InitTimeout,
    /// The client closed the socket first.
    #[error("")]
    ClientClosed,
    /// A message could not be read (see [`read_failure`]).
    #[error("{reason}")]
    Unreadable { code: u16, reason: String },
    /// The detail of a malformed `connection_init` is not sent back.
    #[error("Invalid message received")]
    NotJson(#[from] serde_json::Error),
    #[error("Unauthorized: send connection_init first")]
    NotInit,
    #[error("Forbidden: {code}: {0}", code = .0.code().as_str())]
    Forbidden(#[from] AuthError),
    /// Over the tenant's budget of new sockets, or the budget could not be checked.
    #[error("RATE_LIMITED: retry after {0} s")]
    RateLimited(u64),
    #[error("WRONG_REGION: this tenant is served in {region}; connect to /graphql?tenant={tenant}")]
    WrongRegion { region: String, tenant: TenantId },
}

impl Refusal {
    fn close_code(&self) -> u16 {
        match self {
            Self::InitTimeout => 4408,
            Self::ClientClosed => close_code::NORMAL,
            Self::Unreadable { code, .. } => *code,
            Self::NotJson(_) => 4400,
            Self::NotInit => 4401,
            Self::Forbidden(_) => 4403,
            // graphql-transport-ws reserves 4429 for "too many requests".
            Self::RateLimited(_) => 4429,
            Self::WrongRegion { .. } => 4421,
        }
    }
}

impl From<LimitError> for Refusal {
    fn from(err: LimitError) -> Self {
        Self::RateLimited(err.retry_after_secs().unwrap_or(1))
    }
}

/// How long a client has to send `connection_init` (the protocol closes with 4408 after that).
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

type Sink = SplitSink<WebSocket, Message>;
type Input = SplitStream<WebSocket>;

async fn serve(
    socket: WebSocket,
    state: HttpState,
    protocol: Protocol,
    header_credential: Option<(String, Verified)>,
    meta: RequestMeta,
) {
    metrics::gauge!("voxedge_graphql_ws_connections").increment(1.0);
    let max_message = state.app.config.graphql.ws_max_message_bytes;
    let (mut sink, mut stream) = socket.split();
    match open(&mut stream, &state, header_credential, max_message).await {
        Ok((credential, verified)) => {
            let connection = Connection::new(&state, protocol, credential, verified, meta);
            connection.run(sink, stream).await;
        }
        Err(refusal) => close(&mut sink, refusal.close_code(), &refusal.to_string()).await,
    }
    metrics::gauge!("voxedge_graphql_ws_connections").decrement(1.0);
}

/// The handshake, then what a new socket must pass before it serves: the tenant's budget of sockets, and
/// being in the tenant's region.
async fn open(
    stream: &mut Input,
    state: &HttpState,
    header_credential: Option<(String, Verified)>,
    max_message: usize,
) -> Result<(String, Verified), Refusal> {
    let (credential, verified) =
        handshake(stream, &state.app.auth, header_credential, max_message).await?;
    let tenant = verified.principal.tenant_id;
    state
        .app
        .limits
        .check_tenant(tenant, Limited::WsConnect)
        .await?;
    wrong_region(state, tenant).await?;
    Ok((credential, verified))
}

/// Waits for `connection_init` and authenticates it. Credentials in its payload win over the upgrade
/// request's `Authorization` header. Returns the credential (as an `Authorization` value, to check
/// again later) and what it verified as.
async fn handshake(
    stream: &mut Input,
    auth: &Authenticator,
    header_credential: Option<(String, Verified)>,
    max_message: usize,
) -> Result<(String, Verified), Refusal> {
    let text = loop {
        match tokio::time::timeout(INIT_TIMEOUT, stream.next()).await {
            Err(_) => return Err(Refusal::InitTimeout),
            Ok(Some(Err(err))) => {
                let (code, reason) = read_failure(&err, max_message);
                return Err(Refusal::Unreadable { code, reason });
            }
            Ok(None) | Ok(Some(Ok(Message::Close(_)))) => return Err(Refusal::ClientClosed),
            Ok(Some(Ok(Message::Text(text)))) => break text,
            Ok(Some(Ok(_))) => continue,
        }
    };
    let message: serde_json::Value = serde_json::from_str(&text)?;
    if message["type"] != "connection_init" {
        return Err(Refusal::NotInit);
    }
    let payload = &message["payload"];
    let credential = ["Authorization", "authorization"]
        .iter()
        .find_map(|key| payload.get(key).and_then(|v| v.as_str()));
    match (credential, header_credential) {
        (Some(value), _) => Ok((value.to_owned(), auth.authenticate_header(value).await?)),
        (None, Some(from_header)) => Ok(from_header),
        (None, None) => Err(AuthError::Missing(
            "send {\"Authorization\": \"Bearer <key>\"} in connection_init",
        )
        .into()),
    }
}

/// The close for a failed read: an oversized message is `1009`, anything else a protocol error.
fn read_failure(err: &axum::Error, max_message: usize) -> (u16, String) {
    // tungstenite reports size limits as "Space limit exceeded: Message too long: ..." (or frame).
    let text = err.to_string();
    if text.contains("too long") || text.contains("Space limit") {
        (
            close_code::SIZE,
            format!("message too large: at most {max_message} bytes"),
        )
    } else {
        (close_code::PROTOCOL, "unreadable message".into())
    }
}

async fn close(sink: &mut Sink, code: u16, reason: &str) {
    let _ = sink
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: crate::live::socket::truncate_reason(reason).into(),
        })))
        .await;
}
