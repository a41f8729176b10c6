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

use base64::Engine as _;
use serde_json::{Value, json};

pub use config::SessionConfig;
pub use connect::{Connect, serve};

use super::protocol::{ClientError, Command, Event, Protocol};

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
            turn_detection: changes.turn_detection,
        }])
    }

    fn item_create(&mut self, event: &Value) -> Result<Vec<Command>, ClientError> {
        let item = &event["item"];
        let unsupported = || {
            ClientError::new(
                "unsupported_item",
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

    fn event(&self, kind: &str, mut body: Value) -> String {
        body["type"] = json!(kind);
        body["event_id"] = json!(format!("event_{}", ulid::Ulid::new()));
        body.to_string()
    }

    fn user_item(&self, item_id: &str, text: Option<&str>) -> Value {
        let content = match text {
            Some(text) => json!([{ "type": "input_text", "text": text }]),
            None => json!([{ "type": "input_audio", "transcript": null }]),
        };
        json!({
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": content,
        })
    }
}

/// Events we know but do not serve: a clear error rather than "unknown".
const UNSUPPORTED_EVENTS: &[&str] = &[
    "conversation.item.truncate",
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
                "invalid_json",
                format!("the message is not valid JSON: {e}"),
            )
        })?;
        let event_id = event["event_id"].as_str();
        self.handling = event_id.map(str::to_string);
        let kind = event["type"].as_str().ok_or_else(|| {
            ClientError::new("invalid_event", "an event needs a string `type`")
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
                        ClientError::new("invalid_audio", format!("audio is not base64: {e}"))
                            .param("audio")
                    }),
                None => Err(ClientError::new(
                    "invalid_event",
                    "input_audio_buffer.append needs `audio` (base64)",
                )
                .param("audio")),
            },
            "input_audio_buffer.commit" => Ok(vec![Command::Commit]),
            "input_audio_buffer.clear" => Ok(vec![Command::ClearInput]),
            "conversation.item.create" => self.item_create(&event),
            "response.create" => Ok(vec![Command::CreateResponse]),
            "response.cancel" => Ok(vec![Command::CancelResponse]),
            other if UNSUPPORTED_EVENTS.contains(&other) => Err(ClientError::new(
                "unsupported_event",
                format!("{other} is not supported by this server"),
            )
            .param("type")),
            other => Err(ClientError::new(
                "unknown_event",
                format!("unknown event type {other:?}"),
            )
            .param("type")),
        };
        commands.map_err(|e| e.event_id(event_id))
    }

    fn binary(&mut self, _bytes: &[u8]) -> Result<Vec<Command>, ClientError> {
        self.handling = None;
        Err(ClientError::new(
            "invalid_event",
            "binary messages are not part of the protocol: send JSON events (audio as base64)",
        ))
    }

    fn render(&mut self, event: &Event) -> Vec<String> {
        let beta = self.beta;
        let message = match event {
            Event::SessionCreated { call_id } => {
                // The session id is the call's id, so clients can find the call in the API.
                self.session.id = call_id.clone();
                self.event(
                    "session.created",
                    json!({ "session": self.session.to_json(beta) }),
                )
            }
            Event::SessionUpdated => self.event(
                "session.updated",
                json!({ "session": self.session.to_json(beta) }),
            ),
            Event::SpeechStarted {
                item_id,
                audio_start_ms,
            } => self.event(
                "input_audio_buffer.speech_started",
                json!({ "audio_start_ms": audio_start_ms, "item_id": item_id }),
            ),
            Event::SpeechStopped {
                item_id,
                audio_end_ms,
            } => self.event(
                "input_audio_buffer.speech_stopped",
                json!({ "audio_end_ms": audio_end_ms, "item_id": item_id }),
            ),
            Event::Committed {
                item_id,
                previous_item_id,
            } => self.event(
                "input_audio_buffer.committed",
                json!({ "previous_item_id": previous_item_id, "item_id": item_id }),
            ),
            Event::InputCleared => self.event("input_audio_buffer.cleared", json!({})),
            Event::UserItemAdded {
                item_id,
                previous_item_id,
                text,
            } => {
                let body = json!({
                    "previous_item_id": previous_item_id,
                    "item": self.user_item(item_id, text.as_deref()),
                });
                if beta {
                    self.event("conversation.item.created", body)
                } else {
                    return vec![
                        self.event("conversation.item.added", body.clone()),
                        self.event("conversation.item.done", body),
                    ];
                }
            }
            Event::Transcribed { item_id, text } => self.event(
                "conversation.item.input_audio_transcription.completed",
                json!({ "item_id": item_id, "content_index": 0, "transcript": text }),
            ),
            Event::TranscriptionFailed { item_id, error } => self.event(
                "conversation.item.input_audio_transcription.failed",
                json!({ "item_id": item_id, "content_index": 0, "error": error_json(error) }),
            ),
            Event::Error(error) => {
                let mut body = error_json(error);
                if body["event_id"].is_null() {
                    body["event_id"] = json!(self.handling);
                }
                self.event("error", json!({ "error": body }))
            }
        };
        vec![message]
    }
}

fn error_json(error: &ClientError) -> Value {
    let kind = if error.code.starts_with("voice_") || error.code == "internal" {
        "server_error"
    } else {
        "invalid_request_error"
    };
    json!({
        "type": kind,
        "code": error.code,
        "message": error.message,
        "param": error.param,
        "event_id": error.event_id,
    })
}
