//! Opening a Realtime connection: credentials, agent, protocol version → a call.

use axum::extract::ws::close_code;
use axum::http::{HeaderMap, header};
use serde_json::json;

use super::{Realtime, SessionConfig};
use crate::audio::AudioFormat;
use crate::calls::NewCall;
use crate::error::ErrorCode;
use crate::live::plan::CallPlan;
use crate::live::protocol::ClientError;
use crate::live::session::CallStart;
use crate::model::{Direction, Transport};

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

impl Connect {
    /// The credential, or why the connection is refused without one.
    pub fn credential(&self) -> Result<&str, ClientError> {
        self.credential.as_deref().ok_or_else(|| {
            ClientError::new(
                ErrorCode::Unauthenticated,
                "send `Authorization: Bearer <key>` or the subprotocol openai-insecure-api-key.<token>",
            )
            .closing(close_code::POLICY)
        })
    }

    /// The protocol state of a connection refused before its call started.
    pub fn refused(&self) -> Realtime {
        Realtime::new(self.beta, SessionConfig::default())
    }

    /// The call's record: a web call, from the client's user agent.
    pub fn call(&self, plan: &CallPlan) -> NewCall {
        NewCall {
            agent_id: plan.agent_id.clone(),
            direction: Direction::Inbound,
            transport: Transport::Web,
            from: self.client.clone(),
            to: None,
            metadata: json!({ "protocol": if self.beta { "realtime-beta" } else { "realtime" } }),
            variables: plan.variables.clone(),
        }
    }

    /// The protocol state and how the call starts: the session the agent's plan describes, pcm16 both ways.
    pub fn session(&self, plan: &CallPlan) -> (Realtime, CallStart) {
        let session = SessionConfig {
            id: String::new(),
            model: plan.agent_id.clone(),
            instructions: plan.system_prompt.clone(),
            voice: plan.voice.voice_id.clone(),
            input_format: AudioFormat::Pcm16,
            output_format: AudioFormat::Pcm16,
            turn_detection: Some(plan.turns),
            create_response: true,
            temperature: Some(plan.temperature),
            tools: json!([]),
        };
        let start = CallStart {
            input_format: session.input_format,
            turn_detection: session.turn_detection,
            create_response: session.create_response,
            call_sid: None,
        };
        (Realtime::new(self.beta, session), start)
    }
}
