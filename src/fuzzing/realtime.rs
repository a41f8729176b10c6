//! Harness for the Realtime protocol's client events.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::Input;
use crate::error::ErrorCode;
use crate::live::protocol::{ClientError, Command, Event, Protocol};
use crate::live::realtime::{Realtime, SessionConfig};

/// Realtime client events on one connection (beta or GA), as raw text or built from the input.
///
/// Invariants: each message gives commands or a [`ClientError`] with a code from the protocol's set, a
/// message, the event's `event_id`, and no close; a refused `session.update` changes nothing; the session the
/// server shows, sent back as a `session.update`, is accepted and changes nothing.
pub fn realtime(data: &[u8]) {
    let mut input = Input::new(data);
    let mut protocol = Realtime::new(input.bool(), SessionConfig::default());
    if input.u8() < 32 {
        let text = String::from_utf8_lossy(input.rest()).into_owned();
        realtime_message(&mut protocol, &text);
        return;
    }
    while !input.is_empty() {
        let event = realtime_event(&mut input);
        let mut text = event.to_string();
        if input.u8() == 0xFF {
            // A cut message: broken JSON at an arbitrary point.
            let cut = input.below(text.len() + 1);
            text = String::from_utf8_lossy(&text.as_bytes()[..cut]).into_owned();
        }
        realtime_message(&mut protocol, &text);
    }
}

fn realtime_message(protocol: &mut Realtime, text: &str) {
    let before = session(protocol);
    let result = protocol.text(text);
    let parsed: Option<Value> = serde_json::from_str(text).ok();
    let is_update = parsed
        .as_ref()
        .is_some_and(|event| event["type"] == "session.update");
    match result {
        Ok(commands) => {
            for command in &commands {
                if let Command::Audio(bytes) = command {
                    assert!(bytes.len() <= text.len(), "audio larger than its message");
                }
            }
            if is_update {
                // What the server shows is what it takes back.
                let shown = session(protocol);
                let again = json!({ "type": "session.update", "session": shown }).to_string();
                if let Err(e) = protocol.text(&again) {
                    panic!("the session the server showed was refused: {e:?}\nsession: {shown}");
                }
                assert_eq!(
                    session(protocol),
                    shown,
                    "re-sending the session changed it"
                );
            }
        }
        Err(error) => {
            assert_client_error(
                &error,
                &[
                    ErrorCode::InvalidJson,
                    ErrorCode::InvalidEvent,
                    ErrorCode::InvalidAudio,
                    ErrorCode::InvalidValue,
                    ErrorCode::UnsupportedAudioFormat,
                    ErrorCode::UnsupportedItem,
                    ErrorCode::UnsupportedEvent,
                    ErrorCode::UnknownEvent,
                ],
            );
            assert_eq!(error.close, None, "Realtime errors keep the connection");
            if let Some(event) = &parsed {
                assert_eq!(
                    error.event_id.as_deref(),
                    event["event_id"].as_str(),
                    "the error names the event"
                );
            }
            assert_eq!(
                session(protocol),
                before,
                "a refused event changed the session"
            );
        }
    }
}

/// The session object the server would show now.
fn session(protocol: &mut Realtime) -> Value {
    let messages = protocol.render(&Event::SessionUpdated);
    let message: Value = serde_json::from_str(&messages[0]).expect("invariant: rendered JSON");
    message["session"].clone()
}

/// A client event, mostly of a known type with plausible fields, some of them wrong.
fn realtime_event(input: &mut Input<'_>) -> Value {
    const TYPES: &[&str] = &[
        "session.update",
        "session.update",
        "session.update",
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
        "input_audio_buffer.clear",
        "conversation.item.create",
        "conversation.item.truncate",
        "response.create",
        "response.cancel",
        "conversation.item.delete",
        "no.such.event",
    ];
    let mut event = Map::new();
    match input.below(16) {
        0 => {}
        1 => {
            event.insert("type".into(), any_value(input, 1));
        }
        _ => {
            event.insert("type".into(), json!(input.pick(TYPES)));
        }
    }
    if input.bool() {
        let id = if input.u8() < 240 {
            json!(input.text(12))
        } else {
            any_value(input, 1)
        };
        event.insert("event_id".into(), id);
    }
    let kind = event.get("type").and_then(Value::as_str).map(str::to_owned);
    match kind.as_deref() {
        Some("session.update") => {
            let session = if input.u8() < 240 {
                session_update(input)
            } else {
                any_value(input, 2)
            };
            event.insert("session".into(), session);
        }
        Some("input_audio_buffer.append") => {
            let audio = match input.below(8) {
                0 => any_value(input, 1),
                1 => json!(input.text(16)),
                _ => json!(STANDARD.encode(input.bytes(64))),
            };
            event.insert("audio".into(), audio);
        }
        Some("conversation.item.create") => {
            let parts: Vec<Value> = (0..input.below(4))
                .map(|_| match input.below(6) {
                    0 => any_value(input, 2),
                    1 => json!({ "type": "input_audio", "audio": "" }),
                    _ => json!({ "type": "input_text", "text": input.text(20) }),
                })
                .collect();
            let mut item = json!({
                "type": if input.u8() < 230 { "message" } else { "function_call" },
                "role": input.pick(&["user", "user", "user", "assistant", "system"]),
                "content": parts,
            });
            if input.bool() {
                item["id"] = any_value(input, 0);
            }
            event.insert("item".into(), item);
        }
        Some("conversation.item.truncate") => {
            for (key, plausible) in [
                ("item_id", json!(input.text(10))),
                ("audio_end_ms", json!(input.u32())),
                ("content_index", json!(0)),
            ] {
                match input.below(8) {
                    0 => {}
                    1 => {
                        event.insert(key.into(), any_value(input, 1));
                    }
                    _ => {
                        event.insert(key.into(), plausible);
                    }
                }
            }
        }
        _ => {}
    }
    Value::Object(event)
}

/// A `session.update` payload in the beta or GA shape (or a mix), each setting plausible or not.
fn session_update(input: &mut Input<'_>) -> Value {
    let mut session = Map::new();
    let mut audio = json!({ "input": {}, "output": {} });
    for _ in 0..input.below(6) {
        match input.below(9) {
            0 => {
                session.insert("input_audio_format".into(), format_value(input, true));
            }
            1 => {
                session.insert("output_audio_format".into(), format_value(input, true));
            }
            2 => audio["input"]["format"] = format_value(input, false),
            3 => audio["output"]["format"] = format_value(input, false),
            4 => {
                let turns = turn_detection(input);
                if input.bool() {
                    session.insert("turn_detection".into(), turns);
                } else {
                    audio["input"]["turn_detection"] = turns;
                }
            }
            5 => {
                session.insert("instructions".into(), json!(input.text(40)));
            }
            6 => {
                let voice = json!(input.text(10));
                if input.bool() {
                    session.insert("voice".into(), voice);
                } else {
                    audio["output"]["voice"] = voice;
                }
            }
            7 => {
                let t = match input.below(4) {
                    0 => any_value(input, 0),
                    _ => json!(f64::from(input.u8()) / 100.0),
                };
                session.insert("temperature".into(), t);
            }
            _ => {
                let tools = if input.bool() {
                    json!([{ "type": "function", "name": input.text(8) }])
                } else {
                    any_value(input, 1)
                };
                session.insert("tools".into(), tools);
            }
        }
    }
    if audio != json!({ "input": {}, "output": {} }) {
        session.insert("audio".into(), audio);
    }
    Value::Object(session)
}

fn format_value(input: &mut Input<'_>, beta: bool) -> Value {
    match input.below(8) {
        0 => any_value(input, 1),
        1 => json!(input.text(10)),
        n if beta => json!(["pcm16", "g711_ulaw", "g711_alaw"][n % 3]),
        n => {
            let kind = ["audio/pcm", "audio/pcmu", "audio/pcma"][n % 3];
            match input.below(4) {
                0 => json!({ "type": kind }),
                1 => json!({ "type": kind, "rate": input.pick(&[8_000, 16_000, 24_000, 0]) }),
                2 => json!({ "type": kind, "rate": any_value(input, 0) }),
                _ => {
                    json!({ "type": kind, "rate": if kind == "audio/pcm" { 24_000 } else { 8_000 } })
                }
            }
        }
    }
}

fn turn_detection(input: &mut Input<'_>) -> Value {
    if input.below(6) == 0 {
        return if input.bool() {
            Value::Null
        } else {
            any_value(input, 1)
        };
    }
    let mut turns = Map::new();
    if input.bool() {
        let kind = input.pick(&["server_vad", "semantic_vad", "none", ""]);
        turns.insert("type".into(), json!(kind));
    }
    if input.bool() {
        let threshold = match input.below(4) {
            0 => any_value(input, 0),
            _ => json!(f64::from(input.u8()) / 255.0),
        };
        turns.insert("threshold".into(), threshold);
    }
    for key in ["prefix_padding_ms", "silence_duration_ms"] {
        if input.bool() {
            let ms = match input.below(4) {
                0 => any_value(input, 0),
                _ => json!(input.u16() % 12_000),
            };
            turns.insert(key.into(), ms);
        }
    }
    if input.bool() {
        turns.insert("create_response".into(), any_value(input, 0));
    }
    Value::Object(turns)
}

/// Any JSON value, nested up to `depth`: the wrong types and edge-case numbers a client might send.
pub(super) fn any_value(input: &mut Input<'_>, depth: u32) -> Value {
    match input.below(if depth == 0 { 8 } else { 10 }) {
        0 => Value::Null,
        1 => json!(input.bool()),
        2 => json!(input.u64()),
        3 => json!(-(i64::from(input.u32()))),
        4 => json!(input.pick(&[
            0.0,
            -0.0,
            0.5,
            1.0,
            1e-300,
            -1e-300,
            0.999_999_999_9,
            1e300,
            2.000_000_1,
            24_000.5,
        ])),
        5 => json!(f64::from_bits(input.u64())),
        6 | 7 => json!(input.text(16)),
        8 => Value::Array(
            (0..input.below(3))
                .map(|_| any_value(input, depth - 1))
                .collect(),
        ),
        _ => Value::Object(
            (0..input.below(3))
                .map(|_| (input.text(6), any_value(input, depth - 1)))
                .collect(),
        ),
    }
}

/// Checks a refusal: a code from `allowed`, and a message.
pub(super) fn assert_client_error(error: &ClientError, allowed: &[ErrorCode]) {
    assert!(
        allowed.contains(&error.code),
        "unexpected code {:?}: {error:?}",
        error.code
    );
    assert!(!error.message.is_empty(), "{error:?} has no message");
}
