//! Admitting a live call, for both transports: the credential names a tenant and an agent; the tenant is within
//! its WebSocket connect limit; the agent exists; the voice engines a call needs are loaded; the agent's
//! configuration and the tenant's LLM keys become a [`CallPlan`]; the call record is created (or, for an
//! outbound call placed through Twilio, continued) and moved to `in_progress`. Only then does the session start,
//! with a [`CallContext`] — the parts of the server a call uses, never the whole application state.
//!
//! The two entry points, [`realtime`] and [`twilio`], differ only in what their transport module reads off the
//! connection: how the credential arrives (bearer header or subprotocol; a custom parameter of the stream's
//! `start`), what the call record says, and the protocol state.

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, close_code};
use futures::StreamExt as _;

use super::plan::{CallFacts, CallPlan, CallSecrets};
use super::protocol::{ClientError, Event, Protocol};
use super::realtime::Connect;
use super::session::{self, CallContext, CallStart};
use super::socket::Outbox;
use super::twilio::{self, TwilioStream};
use crate::agents::{ActiveAgent, AgentError, llm_keys, tool_headers};
use crate::auth::{AuthError, Permission};
use crate::billing::{Admission, BillingError};
use crate::calls::{self, CallError, NewCall};
use crate::db::TenantId;
use crate::error::{ErrorCode, InvalidInput, Reportable as _};
use crate::model::{CallStatus, Variables};
use crate::ratelimit::Limited;
use crate::repo;
use crate::state::AppState;
use crate::tenants::Tenant;

/// Serves a Realtime connection (`/v1/realtime`) until its call ends.
pub async fn realtime(app: AppState, connect: Connect, socket: WebSocket) {
    let admitted = match connect.credential() {
        Ok(credential) => match authorize(&app, credential, connect.agent_id.as_deref()).await {
            Ok(grant) => admit(&app, grant, Arrival::default()).await,
            Err(error) => Err(error),
        },
        Err(error) => Err(error),
    };
    match admitted {
        Ok(admitted) => {
            let call = connect.call(admitted.plan());
            let (protocol, start) = connect.session(admitted.plan());
            admitted.run(call, None, start, socket, protocol).await;
        }
        Err(error) => refuse(&app.config.live, socket, connect.refused(), error).await,
    }
}

/// Serves a Twilio Media Stream (`/v1/twilio/{tenant}/stream`, or `/v1/twilio/stream` from older TwiML) until
/// its call ends. With a tenant in the path, the token must be that tenant's.
pub async fn twilio(app: AppState, path_tenant: Option<TenantId>, mut socket: WebSocket) {
    let start = match twilio::wait_for_start(&mut socket).await {
        Ok(start) => start,
        Err(error) => {
            // The stream has not said which one it is.
            let unknown = TwilioStream::new("");
            return refuse(&app.config.live, socket, unknown, error).await;
        }
    };
    let admitted = match start.token() {
        Ok(token) => match authorize(&app, &token, None).await {
            Ok(grant) if path_tenant.is_some_and(|t| t != grant.tenant) => {
                Err(ClientError::refusal(AuthError::InvalidToken(
                    "this stream's token is for another tenant",
                )))
            }
            Ok(grant) => admit(&app, grant, start.arrival()).await,
            Err(error) => Err(error),
        },
        Err(error) => Err(error),
    };
    match admitted {
        Ok(admitted) => {
            let call = start.call(admitted.plan());
            let call_start = start.call_start(admitted.plan());
            let existing = start.existing_call();
            admitted
                .run(call, existing, call_start, socket, start.stream())
                .await;
        }
        Err(error) => refuse(&app.config.live, socket, start.stream(), error).await,
    }
}

/// The tenant and agent a connection may call, as its credential says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub tenant: TenantId,
    pub agent_id: String,
    /// Variables the credential carries (a session token minted with them).
    pub variables: Variables,
}

/// What the transport knows of a call before its plan is made.
#[derive(Debug, Clone, Default)]
pub struct Arrival {
    /// The record of a call placed through Twilio, which the stream continues (its variables were stored).
    pub existing: Option<String>,
    /// A phone call: the numbers fill `{{caller_number}}` and `{{called_number}}`.
    pub phone: Option<(Option<String>, Option<String>)>,
}

/// Checks a credential: a session token names its tenant and agent; an API key or user token needs the
/// `ManageCalls` permission and names the agent separately (`requested`).
pub async fn authorize(
    app: &AppState,
    credential: &str,
    requested: Option<&str>,
) -> Result<Grant, ClientError> {
    if credential.starts_with(crate::auth::tokens::SESSION_TOKEN_PREFIX) {
        let grant = app.auth.verify_session_token(credential).await?;
        if requested.is_some_and(|agent| agent != grant.agent_id) {
            return Err(ClientError::refusal(AuthError::Forbidden(
                "this session token is for a different agent".into(),
            )));
        }
        return Ok(Grant {
            tenant: grant.tenant_id,
            agent_id: grant.agent_id,
            variables: grant.variables,
        });
    }
    let principal = app.auth.authenticate(credential).await?;
    principal.require(Permission::ManageCalls)?;
    let agent_id = requested.ok_or_else(|| {
        ClientError::refusal(InvalidInput::field(
            "agent",
            ErrorCode::Required,
            "name the agent: /v1/realtime?agent=<agent id>",
        ))
    })?;
    Ok(Grant {
        tenant: principal.tenant_id,
        agent_id: agent_id.to_string(),
        variables: Variables::new(),
    })
}

/// A call that passed admission, ready to start once the transport has said what its record holds.
pub struct Admitted {
    context: CallContext,
    /// Counts the call against its tenant while it runs (a move waits for it).
    _live: crate::edge::CallGuard,
    /// The plan limits and standing the call record is created against.
    limits: Admission,
}

/// Admits a call for `grant`: rate limit, agent, voice engines, plan (refused when the agent's texts use
/// variables the call does not have; a placed call is then marked failed, `missing_variables`).
pub async fn admit(
    app: &AppState,
    grant: Grant,
    arrival: Arrival,
) -> Result<Admitted, ClientError> {
    app.limits
        .check_tenant(grant.tenant, Limited::WsConnect)
        .await
        .map_err(|e| ClientError::refusal(e).closing(close_code::AGAIN))?;
    let live = app.edge.live_calls().enter(grant.tenant).ok_or_else(|| {
        ClientError::refusal(crate::db::StorageError::Frozen(
            "moving to another region".into(),
        ))
        .closing(close_code::AGAIN)
    })?;
    let tenant = app.tenant(grant.tenant).await?;
    let limits = app.billing.admission(grant.tenant).await?;
    let agent = app
        .agents
        .active(&tenant.db, grant.tenant, &grant.agent_id)
        .await?;
    let (vad, stt) = match (app.voice.vad(), app.voice.stt()) {
        (Ok(vad), Ok(stt)) => (vad, stt),
        (Err(e), _) | (_, Err(e)) => {
            return Err(ClientError::new(e.code(), e.to_string()).closing(close_code::ERROR));
        }
    };
    let mut variables = grant.variables;
    if let Some(id) = arrival.existing.clone() {
        let stored = tenant
            .db
            .read(move |conn| repo::call_variables::get(conn, &id))
            .await?;
        variables.0.extend(stored.0);
    }
    if let Some((from, to)) = &arrival.phone {
        variables = variables.with_phone_numbers(from.as_deref(), to.as_deref());
    }
    let facts = CallFacts {
        variables,
        outbound_phone: arrival.existing.is_some(),
    };
    let secrets = open_secrets(app, &tenant, &agent).await;
    let plan = CallPlan::new(
        &agent,
        grant.tenant,
        secrets.as_ref().unwrap_or(&Default::default()),
        &app.config.llm,
        facts,
    );
    let mut plan = match plan {
        Ok(plan) => plan,
        Err(e) => {
            if let Some(id) = arrival.existing {
                let failed = calls::transition(
                    &tenant,
                    id,
                    CallStatus::Failed,
                    Some("missing_variables".into()),
                )
                .await;
                if let Err(failed) = failed {
                    tracing::warn!(code = %failed.code(), "cannot fail a call missing variables");
                }
            }
            return Err(ClientError::refusal(e));
        }
    };
    // Secrets that cannot be opened leave the agent without its LLM: the call goes on and the caller hears the
    // apology; the plan says why.
    if let Err(e) = secrets {
        tracing::error!(error = %e, "cannot open the agent's secrets");
        plan.brain = Err(e.to_string());
    }
    Ok(Admitted {
        _live: live,
        limits,
        context: CallContext {
            tenant,
            plan: Arc::new(plan),
            vad,
            stt,
            tts: app.voice.tts().ok(),
            brain: app.brain.clone(),
            telephony: app.telephony.clone(),
            settings: app.config.live.clone(),
            shutdown: app.shutdown.clone(),
            live_calls: app.live_calls.clone(),
            recordings: app.recordings.clone(),
        },
    })
}

/// The tenant's LLM keys and the agent's tool headers, in clear, for this call.
async fn open_secrets(
    app: &AppState,
    tenant: &Tenant,
    agent: &ActiveAgent,
) -> Result<CallSecrets, AgentError> {
    let config = &agent.version.config;
    Ok(CallSecrets {
        llm_keys: llm_keys::open_keys(&tenant.db, &app.secrets, tenant.id).await?,
        tool_headers: tool_headers::open(&app.secrets, tenant.id, &agent.agent.id, config)?,
    })
}

impl Admitted {
    /// What the call will run with (transports describe their session from it).
    pub fn plan(&self) -> &CallPlan {
        &self.context.plan
    }

    /// Creates the call record (or continues `existing`), moves it to `in_progress`, and runs the call on `socket`
    /// until it ends. Refuses the connection, with nothing half-created, when the call cannot start.
    pub async fn run<P: Protocol>(
        self,
        new: NewCall,
        existing: Option<String>,
        start: CallStart,
        socket: WebSocket,
        protocol: P,
    ) {
        let Self {
            context,
            limits,
            _live,
        } = self;
        if let Err(e) = super::listen::Listener::check_format(start.input_format) {
            let error = ClientError::new(ErrorCode::UnsupportedAudioFormat, e.to_string())
                .closing(close_code::ERROR);
            return refuse(&context.settings, socket, protocol, error).await;
        }
        let call_id = match begin(&context, new, existing, limits).await {
            Ok(id) => id,
            Err(e) => {
                let mut error = ClientError::refusal(crate::error::ApiError::report(&e));
                if let CallError::Refused(refusal) = &e {
                    metrics::counter!("voxedge_call_admissions_refused_total", "reason" => refusal.refusal_reason())
                        .increment(1);
                    if matches!(refusal, BillingError::ConcurrentCallLimit { .. }) {
                        error = error.closing(close_code::AGAIN);
                    }
                }
                return refuse(&context.settings, socket, protocol, error).await;
            }
        };
        session::run(context, call_id, start, socket, protocol).await;
    }
}

/// The call record the session continues: a new one, admitted against the tenant's plan limits in the
/// transaction that creates it, or (an outbound call placed through Twilio) the one made when it was placed —
/// which only the agent it was placed for may continue, once, and which already holds its concurrent-call slot.
/// Twilio's status callback may have marked it answered already. A placed call whose tenant was suspended
/// meanwhile is refused, with the refusal on its timeline.
async fn begin(
    context: &CallContext,
    new: NewCall,
    existing: Option<String>,
    limits: Admission,
) -> Result<String, CallError> {
    let tenant: &Tenant = &context.tenant;
    let id = match existing {
        Some(id) => {
            let lookup = id.clone();
            let call = tenant
                .db
                .read(move |conn| repo::calls::get_call(conn, &lookup))
                .await?;
            match call {
                Some(call)
                    if call.agent_id == new.agent_id
                        && !context.live_calls.is_live(tenant.id, &id) =>
                {
                    if let Err(refusal) = limits.check_status() {
                        refuse_placed_call(tenant, &id, &refusal).await;
                        return Err(CallError::Refused(refusal));
                    }
                    if call.status == CallStatus::InProgress {
                        return Ok(id);
                    }
                    id
                }
                _ => return Err(CallError::NotFound),
            }
        }
        None => calls::create_admitted(tenant, new, limits).await?.id,
    };
    calls::transition(tenant, id.clone(), CallStatus::InProgress, None).await?;
    Ok(id)
}

/// Records why a placed call may not start and ends it `failed`.
async fn refuse_placed_call(tenant: &Tenant, call_id: &str, refusal: &BillingError) {
    let event =
        serde_json::json!({ "code": refusal.code().as_str(), "message": refusal.to_string() });
    if let Err(e) =
        calls::record_event(tenant, call_id.to_string(), "admission_refused", event).await
    {
        tracing::error!(call_id, code = %e.code(), "cannot record an admission refusal");
    }
    let failed = calls::transition(
        tenant,
        call_id.to_string(),
        CallStatus::Failed,
        Some(refusal.refusal_reason().to_string()),
    )
    .await;
    if let Err(e) = failed {
        tracing::error!(call_id, code = %e.code(), "cannot fail a refused call");
    }
}

/// Turns a connection away before a call starts: reports `error` (if the protocol can) and closes with its
/// close code (default `1008 policy violation`).
pub async fn refuse<P: Protocol>(
    settings: &super::LiveSettings,
    socket: WebSocket,
    mut protocol: P,
    error: ClientError,
) {
    tracing::info!(code = %error.code, message = %error.message, "live connection refused");
    let (sink, _stream) = socket.split();
    let out = Outbox::start(sink, settings.write_timeout);
    for text in protocol.render(&Event::Error(error.clone())) {
        let _ = out.send(Message::Text(text.into())).await;
    }
    let code = error.close.unwrap_or(close_code::POLICY);
    out.close(code, &format!("{}: {}", error.code.wire(), error.message))
        .await;
}
