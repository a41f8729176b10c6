//! Opening a Realtime connection: credentials, agent, protocol version → a call.

use axum::extract::ws::{WebSocket, close_code};
use axum::http::{HeaderMap, header};
use serde_json::json;

use super::{Realtime, SessionConfig};
use crate::app::AppState;
use crate::auth::{Actor, Permission};
use crate::calls::{Direction, NewCall, Transport};
use crate::db::TenantId;
use crate::error::ApiError;
use crate::live::protocol::ClientError;
use crate::live::session::{self, CallSetup, agent_turn_config};
use crate::ratelimit::Limited;

/// Subprotocol carrying a credential, for browsers.
const KEY_SUBPROTOCOL: &str = "openai-insecure-api-key.";
/// Subprotocol asking for the beta protocol.
const BETA_SUBPROTOCOL: &str = "openai-beta.realtime-v1";

/// What the upgrade request said.
#[derive(Debug, Clone)]
pub struct Connect {
    pub credential: Option<String>,
    pub agent_id: Option<String>,
    pub beta: bool,
    /// Client label stored as the call's `from` (the user agent).
    pub client: Option<String>,
}

impl Connect {
    /// Reads credentials, agent and protocol version from the upgrade request.
    pub fn from_request(headers: &HeaderMap, agent: Option<String>, model: Option<String>) -> Self {
        let subprotocols: Vec<String> = headers
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|p| p.trim().to_string())
            .collect();
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|v| v.trim().to_string());
        let credential = bearer.or_else(|| {
            subprotocols
                .iter()
                .find_map(|p| p.strip_prefix(KEY_SUBPROTOCOL).map(str::to_string))
        });
        let beta = headers
            .get("openai-beta")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("realtime=v1"))
            || subprotocols.iter().any(|p| p == BETA_SUBPROTOCOL);
        let client = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().filter(|c| !c.is_control()).take(200).collect())
            .filter(|ua: &String| !ua.is_empty());
        Self {
            credential,
            agent_id: agent.or(model).filter(|a| !a.is_empty()),
            beta,
            client,
        }
    }
}

/// Serves one Realtime connection until its call ends.
pub async fn serve(app: AppState, connect: Connect, socket: WebSocket) {
    match accept(&app, &connect).await {
        Ok((setup, protocol)) => session::run(app, setup, socket, protocol).await,
        Err(error) => {
            let protocol = Realtime::new(connect.beta, SessionConfig::default());
            session::refuse(&app, socket, protocol, error).await;
        }
    }
}

async fn accept(app: &AppState, connect: &Connect) -> Result<(CallSetup, Realtime), ClientError> {
    let refused = |e: ApiError| {
        ClientError::new(e.code.as_str().to_ascii_lowercase(), e.message)
            .closing(close_code::POLICY)
    };
    let credential = connect.credential.as_deref().ok_or_else(|| {
        ClientError::new(
            "unauthenticated",
            "send `Authorization: Bearer <key>` or the subprotocol openai-insecure-api-key.<token>",
        )
        .closing(close_code::POLICY)
    })?;
    let (tenant, agent_id) = authorize(app, credential, connect.agent_id.as_deref())
        .await
        .map_err(refused)?;
    app.limits
        .check_tenant(tenant, Limited::WsConnect)
        .await
        .map_err(|e| refused(e).closing(close_code::AGAIN))?;
    let db = app.tenant_db(tenant).await.map_err(refused)?;
    let agent = app
        .agents
        .active(&db, tenant, &agent_id)
        .await
        .map_err(refused)?;
    let turns = agent_turn_config(&agent);
    let config = &agent.version.config;
    let session = SessionConfig {
        id: String::new(),
        model: agent_id.clone(),
        instructions: config.system_prompt.clone(),
        voice: config.voice.voice_id.clone(),
        input_format: crate::audio::AudioFormat::Pcm16,
        output_format: crate::audio::AudioFormat::Pcm16,
        turn_detection: Some(turns),
        create_response: true,
        temperature: Some(config.llm.temperature),
        tools: json!([]),
    };
    let setup = CallSetup {
        tenant,
        call: NewCall {
            agent_id,
            direction: Direction::Inbound,
            transport: Transport::Web,
            from: connect.client.clone(),
            to: None,
            metadata: json!({ "protocol": if connect.beta { "realtime-beta" } else { "realtime" } }),
        },
        existing_call: None,
        agent,
        input_format: session.input_format,
        create_response: session.create_response,
        turn_detection: session.turn_detection,
    };
    Ok((setup, Realtime::new(connect.beta, session)))
}

/// The tenant and agent a credential may call: a session token names both; an API key or user token needs the
/// `ManageCalls` permission and an agent in the query.
async fn authorize(
    app: &AppState,
    credential: &str,
    agent_id: Option<&str>,
) -> Result<(TenantId, String), ApiError> {
    let missing_agent = || {
        ApiError::invalid_input(vec![crate::error::FieldError {
            field: "agent".into(),
            code: "REQUIRED",
            message: "name the agent: /v1/realtime?agent=<agent id>".into(),
        }])
    };
    if credential.starts_with(crate::auth::tokens::SESSION_TOKEN_PREFIX) {
        let grant = app.auth.verify_session_token(credential).await?;
        if agent_id.is_some_and(|requested| requested != grant.agent_id) {
            return Err(ApiError::forbidden(
                "this session token is for a different agent",
            ));
        }
        return Ok((grant.tenant_id, grant.agent_id));
    }
    let principal = app.auth.authenticate(credential).await?;
    principal.require(Permission::ManageCalls)?;
    debug_assert!(!matches!(principal.actor, Actor::Session { .. }));
    let agent_id = agent_id.ok_or_else(missing_agent)?;
    Ok((principal.tenant_id, agent_id.to_string()))
}
