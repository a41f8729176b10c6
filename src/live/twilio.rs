//! Twilio Media Streams, for phone calls, at `/v1/twilio/stream`.
//!
//! Twilio opens the WebSocket after the inbound-call webhook answered with `<Connect><Stream>`; the stream's
//! custom parameters carry a short-lived session token (tenant + agent) and the call's numbers. Twilio sends
//! `connected`, `start`, then `media` (base64 mu-law 8 kHz, 20 ms per message), `dtmf`, `mark` and `stop`; we may
//! send `media`, `mark` and `clear`.
//!
//! Twilio has no error message, so protocol violations close the socket with a close code: `1003` for binary
//! frames or an unsupported media format, `1007` for malformed JSON or audio, `1008` for a missing or bad token,
//! `1009` for oversized messages. Unknown event types are ignored (Twilio adds events over time) and counted.

use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, close_code};
use base64::Engine as _;
use futures::StreamExt as _;
use serde::Deserialize;
use serde_json::{Value, json};

use super::plan::CallPlan;
use super::protocol::{ClientError, Command, Event, Protocol};
use super::session::CallStart;
use crate::agents::is_e164;
use crate::audio::AudioFormat;
use crate::auth::AuthError;
use crate::auth::tokens::SESSION_TOKEN_PREFIX;
use crate::calls::NewCall;
use crate::error::ErrorCode;
use crate::model::{Direction, Transport};

/// How long Twilio has to send `start` after connecting.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The `start` message.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Start {
    stream_sid: String,
    #[serde(default)]
    account_sid: Option<String>,
    #[serde(default)]
    call_sid: Option<String>,
    #[serde(default)]
    custom_parameters: serde_json::Map<String, Value>,
    media_format: MediaFormat,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MediaFormat {
    encoding: String,
    sample_rate: u32,
    #[serde(default = "one")]
    channels: u32,
}

fn one() -> u32 {
    1
}

/// A message Twilio should not have sent. Each closes the stream with the close code the module doc lists.
#[derive(Debug, thiserror::Error)]
enum Violation {
    #[error("not JSON: {0}")]
    NotJson(#[from] serde_json::Error),
    #[error("Media Streams messages are JSON text")]
    Binary,
    #[error("media without payload")]
    NoPayload,
    #[error("payload is not base64: {0}")]
    NotBase64(#[from] base64::DecodeError),
    #[error("bad start message: {0}")]
    BadStart(serde_json::Error),
    #[error(
        "expected audio/x-mulaw 8000 Hz mono, got {encoding} {sample_rate} Hz {channels} channels"
    )]
    UnsupportedFormat {
        encoding: String,
        sample_rate: u32,
        channels: u32,
    },
    #[error("expected connected or start first")]
    NotStarted,
}

impl From<Violation> for ClientError {
    fn from(violation: Violation) -> Self {
        let (code, close) = match &violation {
            Violation::NotJson(_) => (ErrorCode::InvalidJson, close_code::INVALID),
            Violation::Binary => (ErrorCode::BinaryNotSupported, close_code::UNSUPPORTED),
            Violation::NoPayload | Violation::BadStart(_) => {
                (ErrorCode::InvalidEvent, close_code::INVALID)
            }
            Violation::NotBase64(_) => (ErrorCode::InvalidAudio, close_code::INVALID),
            Violation::UnsupportedFormat { .. } => {
                (ErrorCode::UnsupportedAudioFormat, close_code::UNSUPPORTED)
            }
            Violation::NotStarted => (ErrorCode::InvalidEvent, close_code::POLICY),
        };
        ClientError::new(code, violation.to_string()).closing(close)
    }
}

/// A message Twilio sent; anything but JSON closes the stream (`1007`).
fn parse_json(text: &str) -> Result<Value, Violation> {
    Ok(serde_json::from_str(text)?)
}

/// The caller audio a `media` message carries.
fn media_payload(media: &Value) -> Result<Vec<u8>, Violation> {
    let payload = media["payload"].as_str().ok_or(Violation::NoPayload)?;
    Ok(base64::engine::general_purpose::STANDARD.decode(payload)?)
}

/// One stream's protocol state.
pub struct TwilioStream {
    stream_sid: String,
}

impl Protocol for TwilioStream {
    fn text(&mut self, text: &str) -> Result<Vec<Command>, ClientError> {
        let message = parse_json(text)?;
        match message["event"].as_str() {
            Some("media") => {
                let media = &message["media"];
                // Only the caller's side is transcribed (a stream may carry both tracks).
                if media["track"].as_str().is_some_and(|t| t != "inbound") {
                    return Ok(Vec::new());
                }
                Ok(vec![Command::Audio(media_payload(media)?)])
            }
            Some("dtmf") => Ok(message["dtmf"]["digit"]
                .as_str()
                .map(|d| Command::Dtmf(d.chars().take(8).collect()))
                .into_iter()
                .collect()),
            Some("mark") => Ok(message["mark"]["name"]
                .as_str()
                .map(|n| Command::PlaybackMark(n.to_string()))
                .into_iter()
                .collect()),
            Some("stop") => Ok(vec![Command::Hangup]),
            Some("connected" | "start") => Ok(Vec::new()),
            other => {
                let kind = other
                    .unwrap_or("(none)")
                    .chars()
                    .take(40)
                    .collect::<String>();
                metrics::counter!("voxedge_twilio_unknown_events_total").increment(1);
                tracing::info!(event = %kind, "ignoring unknown Twilio event");
                Ok(Vec::new())
            }
        }
    }

    fn binary(&mut self, _bytes: &[u8]) -> Result<Vec<Command>, ClientError> {
        Err(Violation::Binary.into())
    }

    fn render(&mut self, event: &Event) -> Vec<String> {
        // Twilio only takes media, mark and clear; transcription and response events have no place on this socket.
        match event {
            Event::ResponseAudio { audio, .. } => vec![self.message(
                "media",
                json!({ "media": { "payload": base64::engine::general_purpose::STANDARD.encode(audio) } }),
            )],
            Event::PlaybackMark { name } => {
                vec![self.message("mark", json!({ "mark": { "name": name } }))]
            }
            Event::ClearPlayback => vec![self.message("clear", json!({}))],
            _ => Vec::new(),
        }
    }

    fn output_audio(&self) -> (AudioFormat, u64) {
        (AudioFormat::G711Ulaw, 20)
    }
}

impl TwilioStream {
    /// The protocol of the stream `stream_sid` (from its `start` message).
    pub fn new(stream_sid: impl Into<String>) -> Self {
        Self {
            stream_sid: stream_sid.into(),
        }
    }

    /// The stream this socket carries (for outgoing `media`, `mark` and `clear`).
    pub fn stream_sid(&self) -> &str {
        &self.stream_sid
    }

    /// A message for Twilio, addressed to this stream.
    pub fn message(&self, event: &str, body: Value) -> String {
        let mut message = body;
        message["event"] = json!(event);
        message["streamSid"] = json!(self.stream_sid);
        message.to_string()
    }
}

impl Start {
    /// The protocol state for this stream.
    pub fn stream(&self) -> TwilioStream {
        TwilioStream::new(self.stream_sid.clone())
    }

    fn parameter(&self, name: &str) -> Option<String> {
        self.custom_parameters
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    /// The stream's session token (the voice webhook minted it; it names the tenant and agent), or why the
    /// stream is refused.
    pub fn token(&self) -> Result<String, ClientError> {
        let token = self.parameter("token").ok_or_else(|| {
            ClientError::new(
                ErrorCode::Unauthenticated,
                "the stream needs a `token` parameter",
            )
            .closing(close_code::POLICY)
        })?;
        // Only session tokens open a stream: never an API key passed along.
        if token.starts_with(SESSION_TOKEN_PREFIX) {
            Ok(token)
        } else {
            Err(ClientError::refusal(AuthError::InvalidToken(
                "invalid token",
            )))
        }
    }

    /// Twilio's id of the phone call.
    fn call_sid(&self) -> Option<String> {
        self.call_sid.clone().or_else(|| self.parameter("callSid"))
    }

    /// The call's record: a phone call between the numbers the stream names.
    pub fn call(&self, plan: &CallPlan) -> NewCall {
        let number = |name: &str| self.parameter(name).filter(|n| is_e164(n));
        let direction = match self.parameter("direction").as_deref() {
            Some("outbound") => Direction::Outbound,
            _ => Direction::Inbound,
        };
        NewCall {
            agent_id: plan.agent_id.clone(),
            direction,
            transport: Transport::Phone,
            from: number("from"),
            to: number("to"),
            metadata: json!({
                "twilio": {
                    "streamSid": self.stream_sid,
                    "callSid": self.call_sid(),
                    "accountSid": self.account_sid,
                }
            }),
            variables: plan.variables.clone(),
        }
    }

    /// The record an outbound call placed with `placeCall` already has.
    pub fn existing_call(&self) -> Option<String> {
        self.parameter("callId")
    }

    /// What admission needs before the plan: the placed call's record, the numbers.
    pub fn arrival(&self) -> crate::live::admit::Arrival {
        let number = |name: &str| self.parameter(name).filter(|n| is_e164(n));
        crate::live::admit::Arrival {
            existing: self.existing_call(),
            phone: Some((number("from"), number("to"))),
        }
    }

    /// How the call starts: µ-law 8 kHz, the agent's turn detection.
    pub fn call_start(&self, plan: &CallPlan) -> CallStart {
        CallStart {
            input_format: AudioFormat::G711Ulaw,
            turn_detection: Some(plan.turns),
            create_response: true,
            call_sid: self.call_sid(),
        }
    }
}

/// Reads `connected` and `start`.
pub async fn wait_for_start(socket: &mut WebSocket) -> Result<Start, ClientError> {
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    loop {
        let message = match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) => {
                return Err(
                    ClientError::new(ErrorCode::StartTimeout, "no start message")
                        .closing(close_code::POLICY),
                );
            }
            Ok(Some(Ok(message))) => message,
            Ok(Some(Err(_)) | None) => {
                return Err(ClientError::new(
                    ErrorCode::ConnectionLost,
                    "closed before start",
                ));
            }
        };
        let text = match message {
            Message::Text(text) => text,
            Message::Binary(_) => return Err(Violation::Binary.into()),
            Message::Close(_) => {
                return Err(ClientError::new(
                    ErrorCode::ConnectionLost,
                    "closed before start",
                ));
            }
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        if let Some(start) = parse_opening(text.as_str())? {
            return Ok(start);
        }
    }
}

/// A message Twilio sends before the media: `None` for `connected` (keep waiting), the `start` when its media
/// format is µ-law 8 kHz mono, or why the stream is refused.
pub fn parse_opening(text: &str) -> Result<Option<Start>, ClientError> {
    let mut message = parse_json(text)?;
    match message["event"].as_str() {
        Some("connected") => Ok(None),
        Some("start") => {
            let start: Start =
                serde_json::from_value(message["start"].take()).map_err(Violation::BadStart)?;
            let format = &start.media_format;
            if format.encoding != "audio/x-mulaw"
                || format.sample_rate != 8000
                || format.channels != 1
            {
                return Err(Violation::UnsupportedFormat {
                    encoding: format.encoding.clone(),
                    sample_rate: format.sample_rate,
                    channels: format.channels,
                }
                .into());
            }
            Ok(Some(start))
        }
        _ => Err(Violation::NotStarted.into()),
    }
}
