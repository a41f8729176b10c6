//! The OpenAI-Realtime-compatible protocol, for browsers and SDKs, at `/v1/realtime?agent=<agent id>` (an OpenAI
//! SDK pointed at `<server>/v1` sends `?model=`, which names the agent too).
//!
//! Credentials: `Authorization: Bearer <API key or session token>`, or — for browsers, which cannot set headers —
//! the WebSocket subprotocol `openai-insecure-api-key.<token>` next to `realtime`. Connections that ask for the beta
//! protocol (`OpenAI-Beta: realtime=v1`, or the subprotocol `openai-beta.realtime-v1`) get beta event names and
//! session shapes; all others get the GA ones. Session updates are accepted in either shape.
//!
//! Errors are `error` events with a stable `error.code`; the connection stays open unless the error says
//! otherwise (then it closes with the code given).

mod config;
mod connect;
mod render;

use base64::Engine as _;
use serde_json::Value;

pub use config::SessionConfig;
pub use connect::Connect;

use super::protocol::{ClientError, Command, Event, Protocol};
use crate::audio::AudioFormat;
use crate::error::ErrorCode;

/// One connection's protocol state.
pub struct Realtime {
    /// Beta event names and session shape.
    beta: bool,
    session: SessionConfig,
    /// The `event_id` of the client event being handled, for errors its commands cause.
    handling: Option<String>,
}

impl Realtime {
    pub fn new(beta: bool, session: SessionConfig) -> Self {
        Self {
            beta,
            session,
            handling: None,
        }
    }

    fn session_update(&mut self, event: &Value) -> Result<Vec<Command>, ClientError> {
        let changes = self.session.update(&event["session"])?;
        Ok(vec![Command::Configure {
            input_format: changes.input_format,
            output_format: changes.output_format,
            create_response: changes.create_response,
            turn_detection: changes.turn_detection,
        }])
    }

    fn item_create(&mut self, event: &Value) -> Result<Vec<Command>, ClientError> {
        let item = &event["item"];
        let unsupported = || {
            ClientError::new(
                ErrorCode::UnsupportedItem,
                "only user messages with input_text content can be added",
            )
            .param("item")
        };
        if item["type"] != "message" || item["role"] != "user" {
            return Err(unsupported());
        }
        let parts = item["content"].as_array().ok_or_else(unsupported)?;
        let text: Vec<&str> = parts
            .iter()
            .filter(|part| part["type"] == "input_text")
            .filter_map(|part| part["text"].as_str())
            .collect();
        if text.is_empty() || text.len() != parts.len() {
            return Err(unsupported());
        }
        Ok(vec![Command::UserText {
            item_id: item["id"].as_str().map(str::to_string),
            text: text.join("\n"),
        }])
    }
}

/// Events we know but do not serve: a clear error rather than "unknown".
const UNSUPPORTED_EVENTS: &[&str] = &[
    "conversation.item.delete",
    "conversation.item.retrieve",
    "output_audio_buffer.clear",
    "transcription_session.update",
];

impl Protocol for Realtime {
    fn text(&mut self, text: &str) -> Result<Vec<Command>, ClientError> {
        self.handling = None;
        let event: Value = serde_json::from_str(text).map_err(|e| {
            ClientError::new(
                ErrorCode::InvalidJson,
                format!("the message is not valid JSON: {e}"),
            )
        })?;
        let event_id = event["event_id"].as_str();
        self.handling = event_id.map(str::to_string);
        let kind = event["type"].as_str().ok_or_else(|| {
            ClientError::new(ErrorCode::InvalidEvent, "an event needs a string `type`")
                .param("type")
                .event_id(event_id)
        })?;
        let commands = match kind {
            "session.update" => self.session_update(&event),
            "input_audio_buffer.append" => match event["audio"].as_str() {
                Some(audio) => base64::engine::general_purpose::STANDARD
                    .decode(audio)
                    .map(|bytes| vec![Command::Audio(bytes)])
                    .map_err(|e| {
                        ClientError::new(
                            ErrorCode::InvalidAudio,
                            format!("audio is not base64: {e}"),
                        )
                        .param("audio")
                    }),
                None => Err(ClientError::new(
                    ErrorCode::InvalidEvent,
                    "input_audio_buffer.append needs `audio` (base64)",
                )
                .param("audio")),
            },
            "input_audio_buffer.commit" => Ok(vec![Command::Commit]),
            "input_audio_buffer.clear" => Ok(vec![Command::ClearInput]),
            "conversation.item.create" => self.item_create(&event),
            "response.create" => Ok(vec![Command::CreateResponse]),
            "response.cancel" => Ok(vec![Command::CancelResponse]),
            "conversation.item.truncate" => item_truncate(&event),
            other if UNSUPPORTED_EVENTS.contains(&other) => Err(ClientError::new(
                ErrorCode::UnsupportedEvent,
                format!("{other} is not supported by this server"),
            )
            .param("type")),
            other => Err(ClientError::new(
                ErrorCode::UnknownEvent,
                format!("unknown event type {other:?}"),
            )
            .param("type")),
        };
        commands.map_err(|e| e.event_id(event_id))
    }

    fn binary(&mut self, _bytes: &[u8]) -> Result<Vec<Command>, ClientError> {
        self.handling = None;
        Err(ClientError::new(
            ErrorCode::InvalidEvent,
            "binary messages are not part of the protocol: send JSON events (audio as base64)",
        ))
    }

    fn render(&mut self, event: &Event) -> Vec<String> {
        self.render_event(event)
    }

    fn output_audio(&self) -> (AudioFormat, u64) {
        (self.session.output_format, 100)
    }
}

/// `conversation.item.truncate`: an assistant message's id, content part 0 (its audio) and a playback position.
fn item_truncate(event: &Value) -> Result<Vec<Command>, ClientError> {
    let item_id = event["item_id"]
        .as_str()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            ClientError::new(
                ErrorCode::InvalidEvent,
                "conversation.item.truncate needs `item_id`",
            )
            .param("item_id")
        })?;
    let audio_end_ms = event["audio_end_ms"].as_u64().ok_or_else(|| {
        ClientError::new(
            ErrorCode::InvalidValue,
            "`audio_end_ms` must be a whole number of milliseconds, 0 or more",
        )
        .param("audio_end_ms")
    })?;
    if event
        .get("content_index")
        .is_some_and(|index| index.as_u64() != Some(0))
    {
        return Err(ClientError::new(
            ErrorCode::InvalidValue,
            "an agent message has one content part: `content_index` must be 0",
        )
        .param("content_index"));
    }
    Ok(vec![Command::Truncate {
        item_id: item_id.to_string(),
        audio_end_ms,
    }])
}
