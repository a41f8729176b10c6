//! One acknowledged GraphQL WebSocket: runs its operations, and keeps checking who is on the other end.
//!
//! The credential is checked again (through the authenticator's cache, so a cheap lookup):
//! - on every `subscribe`, which then runs as whoever the credential is *now*;
//! - when the authenticator announces a [`Revocation`] that concerns it (a revoked key, an ended
//!   session, a member removed or given another role) — pushed, so the socket reacts within moments;
//! - when the credential expires (an access token's or key's expiry, on the server clock).
//!
//! A revoked credential (`API_KEY_REVOKED`, `TOKEN_REVOKED`: a key revoked, a session signed out or
//! revoked, a membership ended) closes the socket with `4401`, which `graphql-ws` clients treat as final;
//! an expired one (`TOKEN_EXPIRED`, `API_KEY_EXPIRED`) and a role that no longer allows what a running
//! subscription asked for (`FORBIDDEN`) close it with `4403`, after which clients reconnect — with a
//! fresh token, from their `connectionParams`. The close reason starts with the error code.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::{Request, Response, Variables};
use axum::extract::ws::{Message, close_code};
use futures::stream::BoxStream;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio_stream::StreamMap;

use super::protocol::{ClientMessage, InvalidMessage, Payload, Protocol};
use super::{HttpState, Input, Sink};
use crate::auth::{Actor, Principal, Revocation, Verified};
use crate::error::{ApiError, ErrorCode};
use crate::graphql::AppSchema;
use crate::graphql::codes::code_of;
use crate::graphql::context::{RequestMeta, RequiredPermissions, SessionId};
use crate::ratelimit::{Limited, Slot};
use crate::state::AppState;

/// How long a client may take to accept one message before it is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Close code for a credential that will not work again (graphql-transport-ws: Unauthorized).
const UNAUTHORIZED: u16 = 4401;
/// Close code for a credential that expired, or a role that no longer allows a running operation
/// (graphql-transport-ws: Forbidden; clients may retry with other credentials).
const FORBIDDEN: u16 = 4403;

/// How the connection ends.
enum Ending {
    /// Send this close frame.
    Close(u16, String),
    /// The client is gone (closed, or stopped reading).
    Gone,
}

impl From<InvalidMessage> for Ending {
    fn from(invalid: InvalidMessage) -> Self {
        Self::Close(4400, invalid.to_string())
    }
}

/// One running operation.
struct Operation {
    /// The permissions its resolvers asked for, re-checked when the role may have changed.
    needs: Arc<RequiredPermissions>,
    /// Whether a first result was sent (a first result that is a refusal becomes an `error` message).
    started: bool,
    /// Its place under the tenant's cap.
    _slot: Slot,
}

pub(super) struct Connection {
    app: AppState,
    schema: AppSchema,
    protocol: Protocol,
    /// The `Authorization` value it authenticated with, to check again.
    credential: String,
    verified: Verified,
    meta: RequestMeta,
    operations: HashMap<String, Operation>,
    /// Each operation's results, then `None` when it is over.
    results: StreamMap<String, BoxStream<'static, Option<Response>>>,
}

impl Connection {
    pub(super) fn new(
        state: &HttpState,
        protocol: Protocol,
        credential: String,
        verified: Verified,
        meta: RequestMeta,
    ) -> Self {
        Self {
            app: state.app.clone(),
            schema: state.schema.clone(),
            protocol,
            credential,
            verified,
            meta,
            operations: HashMap::new(),
            results: StreamMap::new(),
        }
    }

    /// Acknowledges the connection and serves it until it ends.
    pub(super) async fn run(mut self, mut sink: Sink, mut input: Input) {
        let ack = self.protocol.ack();
        let ending = match send(&mut sink, ack).await {
            Ok(()) => self.serve(&mut sink, &mut input).await,
            Err(gone) => gone,
        };
        self.operations.clear();
        if let Ending::Close(code, reason) = ending {
            metrics::counter!("voxedge_graphql_ws_closes_total", "code" => code.to_string())
                .increment(1);
            super::close(&mut sink, code, &reason).await;
        }
    }

    async fn serve(&mut self, sink: &mut Sink, input: &mut Input) -> Ending {
        let mut revocations = self.app.auth.revocations();
        let closing = self.app.shutdown.closing();
        tokio::pin!(closing);
        let mut expiry = self.expiry();
        let mut expiry_at = self.verified.expires_at_ms;
        let max_message = self.app.config.graphql.ws_max_message_bytes;
        loop {
            let step = tokio::select! {
                () = &mut closing => Err(Ending::Close(close_code::AWAY, "server shutting down".into())),
                () = &mut expiry => Err(self.expired().await),
                message = input.next() => match message {
                    None | Some(Ok(Message::Close(_))) => Err(Ending::Gone),
                    Some(Err(err)) => {
                        let (code, reason) = super::read_failure(&err, max_message);
                        Err(Ending::Close(code, reason))
                    }
                    Some(Ok(Message::Text(text))) => self.on_message(sink, &text).await,
                    Some(Ok(Message::Binary(_))) => Err(Ending::Close(
                        4400,
                        "Invalid message received: binary messages are not part of the protocol".into(),
                    )),
                    Some(Ok(_)) => Ok(()),
                },
                Some((id, result)) = self.results.next(), if !self.results.is_empty() => {
                    self.on_result(sink, id, result).await
                }
                revocation = revocations.recv() => match revocation {
                    Ok(revocation) if !self.concerns(&revocation) => Ok(()),
                    // Concerned, or too many to tell (lagged): check again.
                    Ok(_) | Err(RecvError::Lagged(_)) => self.recheck().await,
                    // The authenticator lives as long as the server.
                    Err(RecvError::Closed) => Err(Ending::Close(close_code::AWAY, "server shutting down".into())),
                },
            };
            if let Err(ending) = step {
                return ending;
            }
            // A check may have found the credential with a new expiry.
            if self.verified.expires_at_ms != expiry_at {
                expiry_at = self.verified.expires_at_ms;
                expiry = self.expiry();
            }
        }
    }

    async fn on_message(&mut self, sink: &mut Sink, text: &str) -> Result<(), Ending> {
        let message = ClientMessage::parse(text)?;
        match message {
            ClientMessage::Init => Err(Ending::Close(
                4429,
                "Too many initialisation requests".into(),
            )),
            ClientMessage::Subscribe { id, payload } => self.subscribe(sink, id, payload).await,
            ClientMessage::Complete { id } => {
                let stopped = self.stop(&id);
                // The legacy protocol confirms a stop; graphql-transport-ws does not.
                if stopped && self.protocol == Protocol::Legacy {
                    send(sink, self.protocol.complete(&id)).await?;
                }
                Ok(())
            }
            ClientMessage::Ping { payload } => send(sink, self.protocol.pong(payload)).await,
            ClientMessage::Pong => Ok(()),
            ClientMessage::Terminate => Err(Ending::Close(close_code::NORMAL, String::new())),
        }
    }

    /// Starts operation `id` as whoever the credential is now, within the limits.
    async fn subscribe(
        &mut self,
        sink: &mut Sink,
        id: String,
        payload: Payload,
    ) -> Result<(), Ending> {
        if self.operations.contains_key(&id) {
            return Err(Ending::Close(
                4409,
                format!("Subscriber for {id} already exists"),
            ));
        }
        self.recheck().await?;
        let principal = self.verified.principal.clone();
        let refused = |err: ApiError| {
            crate::error::count_sent(err.code.as_str());
            self.protocol.error(&id, json!([err.to_graphql_json()]))
        };
        if let Err(err) = self
            .app
            .limits
            .check_tenant(principal.tenant_id, Limited::Graphql)
            .await
        {
            return send(sink, refused(err.into())).await;
        }
        let max = self.app.config.graphql.ws_max_operations;
        let slot = if max > 0 && self.operations.len() >= max {
            None
        } else {
            self.app.limits.subscriptions.acquire(principal.tenant_id)
        };
        let Some(slot) = slot else {
            let err = ApiError::new(
                ErrorCode::TooManySubscriptions,
                format!(
                    "too many operations at once (at most {max} per connection, {} per tenant); complete some first",
                    self.app.config.rate_limits.subscriptions_per_tenant
                ),
            );
            return send(sink, refused(err)).await;
        };
        let request = match request(payload) {
            Ok(request) => request,
            Err(err) => return send(sink, refused(err)).await,
        };
        let needs = Arc::new(RequiredPermissions::default());
        let request = self.with_context(request, principal, needs.clone());
        let results = self
            .schema
            .execute_stream(request)
            .map(Some)
            .chain(futures::stream::once(async { None }))
            .boxed();
        self.results.insert(id.clone(), results);
        self.operations.insert(
            id,
            Operation {
                needs,
                started: false,
                _slot: slot,
            },
        );
        Ok(())
    }

    /// What every operation of this socket runs with.
    fn with_context(
        &self,
        request: Request,
        principal: Principal,
        needs: Arc<RequiredPermissions>,
    ) -> Request {
        let mut request = request
            .data(self.meta.clone())
            .data(crate::graphql::loaders::for_tenant(
                &self.app.tenants,
                &self.app.agents,
                principal.tenant_id,
            ))
            .data(needs);
        if let Some(session) = &self.verified.session_id {
            request = request.data(SessionId(session.clone()));
        }
        request.data(principal)
    }

    async fn on_result(
        &mut self,
        sink: &mut Sink,
        id: String,
        result: Option<Response>,
    ) -> Result<(), Ending> {
        let Some(response) = result else {
            // Over: say so, unless the client stopped it or it was refused.
            if self.operations.remove(&id).is_some() {
                send(sink, self.protocol.complete(&id)).await?;
            }
            return Ok(());
        };
        let Some(operation) = self.operations.get_mut(&id) else {
            return Ok(());
        };
        let first = !std::mem::replace(&mut operation.started, true);
        if first && is_refusal(&response) {
            // It never started (parse, validation, limits): an `error` message, and nothing after it.
            self.stop(&id);
            let errors = serde_json::to_value(&response.errors).unwrap_or(Value::Null);
            return send(sink, self.protocol.error(&id, errors)).await;
        }
        send(sink, self.protocol.next(&id, &response)).await
    }

    /// Drops operation `id`; whether it was running.
    fn stop(&mut self, id: &str) -> bool {
        self.results.remove(id);
        self.operations.remove(id).is_some()
    }

    /// Whether a revocation is about this socket's credential.
    fn concerns(&self, revocation: &Revocation) -> bool {
        let principal = &self.verified.principal;
        match revocation {
            Revocation::ApiKey { tenant_id, key_id } => {
                principal.tenant_id == *tenant_id
                    && matches!(&principal.actor, Actor::ApiKey { key_id: k } if k == key_id)
            }
            Revocation::Session { family_id } => {
                self.verified.session_id.as_deref() == Some(family_id.as_str())
            }
            Revocation::Member { tenant_id, user_id } => {
                principal.tenant_id == *tenant_id
                    && matches!(&principal.actor, Actor::User { user_id: u } if u == user_id)
            }
        }
    }

    /// Authenticates the credential again and checks the running operations are still allowed.
    async fn recheck(&mut self) -> Result<(), Ending> {
        let verified = self
            .app
            .auth
            .authenticate_header(&self.credential)
            .await
            .map_err(|err| {
                let err = ApiError::from(err);
                match err.code {
                    // The server's trouble, not the credential's: the client may reconnect.
                    ErrorCode::Internal
                    | ErrorCode::TenantUnavailable
                    | ErrorCode::ServiceUnavailable => Ending::Close(
                        close_code::ERROR,
                        format!("{}: could not check credentials", err.code),
                    ),
                    ErrorCode::TokenExpired | ErrorCode::ApiKeyExpired => {
                        Ending::Close(FORBIDDEN, format!("{}: {}", err.code, err.message))
                    }
                    code => Ending::Close(UNAUTHORIZED, format!("{code}: {}", err.message)),
                }
            })?;
        for operation in self.operations.values() {
            for permission in operation.needs.all() {
                if let Err(err) = verified.principal.require(permission) {
                    return Err(Ending::Close(
                        FORBIDDEN,
                        format!("FORBIDDEN: a running subscription needs what {err}"),
                    ));
                }
            }
        }
        self.verified = verified;
        Ok(())
    }

    /// The credential's expiry passed: it closes the socket with its own code.
    async fn expired(&mut self) -> Ending {
        match self.recheck().await {
            Err(ending) => ending,
            Ok(()) => Ending::Close(
                FORBIDDEN,
                "TOKEN_EXPIRED: the credential has expired".into(),
            ),
        }
    }

    /// Resolves when the credential expires on the server clock (never, for one that does not).
    fn expiry(&self) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        match self.verified.expires_at_ms {
            Some(at) => {
                let clock = self.app.clock.clone();
                Box::pin(async move { clock.sleep_until_ms(at).await })
            }
            None => Box::pin(std::future::pending()),
        }
    }
}

/// A first result made only of request errors: the operation never ran.
fn is_refusal(response: &Response) -> bool {
    !response.errors.is_empty()
        && response.errors.iter().all(|err| {
            code_of(err)
                .and_then(ErrorCode::from_code)
                .is_some_and(ErrorCode::is_request_error)
        })
}

/// The payload as a GraphQL request.
fn request(payload: Payload) -> Result<Request, ApiError> {
    let variables = match payload.variables {
        None | Some(Value::Null) => Variables::default(),
        Some(value @ Value::Object(_)) => Variables::from_json(value),
        Some(_) => {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                "`variables` must be an object",
            ));
        }
    };
    if payload
        .extensions
        .as_ref()
        .is_some_and(|e| !e.is_object() && !e.is_null())
    {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "`extensions` must be an object",
        ));
    }
    let mut request = Request::new(payload.query).variables(variables);
    if let Some(name) = payload.operation_name {
        request = request.operation_name(name);
    }
    Ok(request)
}

async fn send(sink: &mut Sink, text: String) -> Result<(), Ending> {
    match tokio::time::timeout(WRITE_TIMEOUT, sink.send(Message::Text(text.into()))).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(Ending::Gone),
    }
}
