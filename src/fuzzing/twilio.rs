//! Harness for Twilio Media Streams messages.

use axum::extract::ws::close_code;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::Input;
use super::realtime::{any_value, assert_client_error};
use crate::error::ErrorCode;
use crate::live::protocol::{Command, Protocol};
use crate::live::twilio::{TwilioStream, parse_opening};

/// Twilio Media Streams: the opening messages (`connected`, `start`) and then the stream's, as raw text or
/// built from the input.
///
/// Invariants: the opening gives a start, "keep waiting", or a [`ClientError`](crate::live::protocol::ClientError) that closes the socket with
/// `1003`/`1007`/`1008`; a start's token is a session token or refused with `1008`, and the phone numbers it
/// takes are E.164; stream messages give commands (audio no larger than the message, DTMF digits at most 8) or
/// a [`ClientError`](crate::live::protocol::ClientError) that closes with `1007`.
pub fn twilio(data: &[u8]) {
    let mut input = Input::new(data);
    let mut stream = TwilioStream::new("MZ00");
    if input.u8() < 32 {
        let text = String::from_utf8_lossy(input.rest()).into_owned();
        twilio_opening(&text);
        twilio_message(&mut stream, &text);
        return;
    }
    while !input.is_empty() {
        let mut text = twilio_event(&mut input).to_string();
        if input.u8() == 0xFF {
            let cut = input.below(text.len() + 1);
            text = String::from_utf8_lossy(&text.as_bytes()[..cut]).into_owned();
        }
        twilio_opening(&text);
        twilio_message(&mut stream, &text);
    }
}

fn twilio_opening(text: &str) {
    match parse_opening(text) {
        Ok(None) => {}
        Ok(Some(start)) => {
            match start.token() {
                Ok(token) => assert!(token.starts_with(crate::auth::tokens::SESSION_TOKEN_PREFIX)),
                Err(error) => {
                    assert!(!error.message.is_empty());
                    assert_eq!(error.close, Some(close_code::POLICY));
                }
            }
            let arrival = start.arrival();
            let (from, to) = arrival.phone.expect("invariant: a Twilio call has numbers");
            for number in [from, to].into_iter().flatten() {
                assert!(crate::agents::is_e164(&number), "{number} is not E.164");
            }
        }
        Err(error) => {
            assert_client_error(
                &error,
                &[
                    ErrorCode::InvalidJson,
                    ErrorCode::InvalidEvent,
                    ErrorCode::UnsupportedAudioFormat,
                ],
            );
            let closes = [
                close_code::UNSUPPORTED,
                close_code::INVALID,
                close_code::POLICY,
            ];
            assert!(
                error.close.is_some_and(|c| closes.contains(&c)),
                "{error:?} must close the stream"
            );
        }
    }
}

fn twilio_message(stream: &mut TwilioStream, text: &str) {
    match stream.text(text) {
        Ok(commands) => {
            for command in commands {
                match command {
                    Command::Audio(bytes) => assert!(bytes.len() <= text.len()),
                    Command::Dtmf(digits) => assert!(digits.chars().count() <= 8),
                    Command::PlaybackMark(_) | Command::Hangup => {}
                    other => panic!("Twilio gave {other:?}"),
                }
            }
        }
        Err(error) => {
            assert_client_error(
                &error,
                &[
                    ErrorCode::InvalidJson,
                    ErrorCode::InvalidEvent,
                    ErrorCode::InvalidAudio,
                ],
            );
            assert_eq!(error.close, Some(close_code::INVALID), "{error:?}");
        }
    }
}

/// A Media Streams message, mostly of a known event with plausible fields.
fn twilio_event(input: &mut Input<'_>) -> Value {
    const EVENTS: &[&str] = &[
        "media",
        "media",
        "media",
        "start",
        "start",
        "connected",
        "dtmf",
        "mark",
        "stop",
        "closed",
    ];
    let mut message = Map::new();
    match input.below(16) {
        0 => {}
        1 => {
            message.insert("event".into(), any_value(input, 1));
        }
        _ => {
            message.insert("event".into(), json!(input.pick(EVENTS)));
        }
    }
    if input.bool() {
        message.insert("streamSid".into(), json!(input.text(8)));
    }
    let plausible = input.u8() < 220;
    let event = message
        .get("event")
        .and_then(Value::as_str)
        .map(str::to_owned);
    match event.as_deref() {
        Some("media") if plausible => {
            let payload = match input.below(8) {
                0 => json!(input.text(12)),
                _ => json!(STANDARD.encode(input.bytes(160))),
            };
            let mut media = json!({ "payload": payload, "chunk": "1", "timestamp": "20" });
            if input.bool() {
                media["track"] = json!(input.pick(&["inbound", "outbound", "both"]));
            }
            message.insert("media".into(), media);
        }
        Some("start") if plausible => {
            let mut parameters = Map::new();
            for name in ["token", "from", "to", "direction", "callId", "callSid"] {
                if input.below(4) == 0 {
                    continue;
                }
                let value = match (name, input.below(4)) {
                    (_, 0) => any_value(input, 0),
                    ("token", _) => json!(format!("vxs_{}", input.text(12))),
                    ("from" | "to", 1) => json!(format!("+{}", input.text(14))),
                    ("from" | "to", _) => json!(format!("+1415555{:04}", input.u16() % 10_000)),
                    ("direction", _) => json!(input.pick(&["inbound", "outbound"])),
                    _ => json!(input.text(10)),
                };
                parameters.insert(name.into(), value);
            }
            let mut format = json!({
                "encoding": input.pick(&["audio/x-mulaw", "audio/x-mulaw", "audio/x-alaw", ""]),
                "sampleRate": input.pick(&[8000, 8000, 16_000, 0]),
            });
            if input.bool() {
                format["channels"] = json!(input.pick(&[1, 1, 2, 0]));
            }
            let mut start = json!({
                "streamSid": input.text(8),
                "callSid": input.text(8),
                "customParameters": parameters,
                "mediaFormat": format,
            });
            if input.below(8) == 0 {
                let key = input.pick(&["streamSid", "mediaFormat", "customParameters", "callSid"]);
                start[key] = any_value(input, 1);
            }
            message.insert("start".into(), start);
        }
        Some("dtmf") if plausible => {
            message.insert("dtmf".into(), json!({ "digit": input.text(10) }));
        }
        Some("mark") if plausible => {
            message.insert("mark".into(), json!({ "name": input.text(10) }));
        }
        Some(key) => {
            message.insert(key.into(), any_value(input, 2));
        }
        None => {}
    }
    Value::Object(message)
}
