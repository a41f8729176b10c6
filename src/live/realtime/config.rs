//! Realtime session configuration: `session.update` in both the beta and the GA shape, and the session object
//! sent back in `session.created` / `session.updated` in the shape the client speaks.
//!
//! | setting | beta | GA |
//! |---|---|---|
//! | input format | `input_audio_format: "pcm16" \| "g711_ulaw" \| "g711_alaw"` | `audio.input.format: {type: "audio/pcm", rate: 24000} \| {type: "audio/pcmu"} \| {type: "audio/pcma"}` |
//! | output format | `output_audio_format` | `audio.output.format` |
//! | turn detection | `turn_detection` | `audio.input.turn_detection` |
//! | voice | `voice` | `audio.output.voice` |
//!
//! Either shape is accepted whichever protocol version the connection uses.

use serde_json::{Value, json};

use crate::audio::AudioFormat;
use crate::error::ErrorCode;
use crate::live::protocol::ClientError;
use crate::voice::TurnConfig;

/// The session as the client configured it.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionConfig {
    pub id: String,
    /// The agent id (the Realtime API's `model`).
    pub model: String,
    pub instructions: String,
    pub voice: String,
    pub input_format: AudioFormat,
    pub output_format: AudioFormat,
    /// `None`: the client commits turns.
    pub turn_detection: Option<TurnConfig>,
    /// Answer automatically when a turn ends.
    pub create_response: bool,
    pub temperature: Option<f64>,
    pub tools: Value,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            id: format!("sess_{}", crate::db::new_ulid()),
            model: String::new(),
            instructions: String::new(),
            voice: String::new(),
            input_format: AudioFormat::Pcm16,
            output_format: AudioFormat::Pcm16,
            turn_detection: Some(TurnConfig::default()),
            create_response: true,
            temperature: None,
            tools: Value::Array(Vec::new()),
        }
    }
}

/// What a `session.update` changed that the pipeline cares about.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Changes {
    pub input_format: Option<AudioFormat>,
    pub output_format: Option<AudioFormat>,
    pub create_response: Option<bool>,
    pub turn_detection: Option<Option<TurnConfig>>,
}

impl SessionConfig {
    /// Applies a `session.update` payload. Nothing changes when any part is invalid.
    pub fn update(&mut self, session: &Value) -> Result<Changes, ClientError> {
        if !session.is_object() {
            return Err(invalid("session must be an object", "session"));
        }
        let mut next = self.clone();
        let mut changes = Changes::default();
        if let Some((value, param)) = first_of(
            session,
            &[
                ("/input_audio_format", "session.input_audio_format"),
                ("/audio/input/format", "session.audio.input.format"),
            ],
        ) {
            let format = parse_format(value, param)?;
            next.input_format = format;
            changes.input_format = Some(format);
        }
        if let Some((value, param)) = first_of(
            session,
            &[
                ("/output_audio_format", "session.output_audio_format"),
                ("/audio/output/format", "session.audio.output.format"),
            ],
        ) {
            next.output_format = parse_format(value, param)?;
            changes.output_format = Some(next.output_format);
        }
        if let Some((value, param)) = first_of(
            session,
            &[
                ("/turn_detection", "session.turn_detection"),
                (
                    "/audio/input/turn_detection",
                    "session.audio.input.turn_detection",
                ),
            ],
        ) {
            let base = self.turn_detection.unwrap_or_default();
            let (turns, create_response) = parse_turn_detection(value, base, param)?;
            next.turn_detection = turns;
            next.create_response = create_response;
            changes.create_response = Some(create_response);
            changes.turn_detection = Some(turns);
        }
        if let Some(value) = session.get("instructions") {
            next.instructions = value
                .as_str()
                .ok_or_else(|| invalid("must be a string", "session.instructions"))?
                .to_string();
        }
        if let Some((value, param)) = first_of(
            session,
            &[
                ("/voice", "session.voice"),
                ("/audio/output/voice", "session.audio.output.voice"),
            ],
        ) {
            next.voice = value
                .as_str()
                .ok_or_else(|| invalid("must be a string", param))?
                .to_string();
        }
        if let Some(value) = session.get("temperature") {
            // `null` leaves it to the agent: the beta session object shows an unset temperature so, and clients
            // send that object back.
            next.temperature = match value {
                Value::Null => None,
                value => Some(
                    value
                        .as_f64()
                        .filter(|t| (0.0..=2.0).contains(t))
                        .ok_or_else(|| {
                            invalid("must be a number from 0 to 2", "session.temperature")
                        })?,
                ),
            };
        }
        if let Some(value) = session.get("tools") {
            if !value.is_array() {
                return Err(invalid("must be an array", "session.tools"));
            }
            next.tools = value.clone();
        }
        *self = next;
        Ok(changes)
    }

    /// The session object in the beta or the GA shape.
    pub fn to_json(&self, beta: bool) -> Value {
        let turn_detection = self.turn_detection.map(|t| {
            json!({
                "type": "server_vad",
                "threshold": t.threshold,
                "prefix_padding_ms": t.prefix_padding_ms,
                "silence_duration_ms": t.silence_duration_ms,
                "create_response": self.create_response,
                "interrupt_response": true,
            })
        });
        if beta {
            json!({
                "id": self.id,
                "object": "realtime.session",
                "model": self.model,
                "modalities": ["text", "audio"],
                "instructions": self.instructions,
                "voice": self.voice,
                "input_audio_format": self.input_format.realtime_name(),
                "output_audio_format": self.output_format.realtime_name(),
                "input_audio_transcription": { "model": "whisper" },
                "turn_detection": turn_detection,
                "tools": self.tools,
                "tool_choice": "auto",
                "temperature": self.temperature,
                "max_response_output_tokens": "inf",
            })
        } else {
            json!({
                "type": "realtime",
                "object": "realtime.session",
                "id": self.id,
                "model": self.model,
                "output_modalities": ["audio"],
                "instructions": self.instructions,
                "audio": {
                    "input": {
                        "format": ga_format(self.input_format),
                        "transcription": { "model": "whisper" },
                        "turn_detection": turn_detection,
                    },
                    "output": {
                        "format": ga_format(self.output_format),
                        "voice": self.voice,
                    },
                },
                "tools": self.tools,
                "tool_choice": "auto",
                "max_output_tokens": "inf",
            })
        }
    }
}

fn first_of<'a>(
    session: &'a Value,
    paths: &[(&str, &'static str)],
) -> Option<(&'a Value, &'static str)> {
    paths
        .iter()
        .find_map(|(path, param)| session.pointer(path).map(|v| (v, *param)))
}

fn invalid(message: &str, param: &str) -> ClientError {
    ClientError::new(ErrorCode::InvalidValue, message).param(param)
}

fn ga_format(format: AudioFormat) -> Value {
    match format {
        AudioFormat::Pcm16 => json!({ "type": "audio/pcm", "rate": 24000 }),
        AudioFormat::G711Ulaw => json!({ "type": "audio/pcmu" }),
        AudioFormat::G711Alaw => json!({ "type": "audio/pcma" }),
    }
}

/// A format in either shape: a beta name, or a GA `{type, rate}` object.
fn parse_format(value: &Value, param: &str) -> Result<AudioFormat, ClientError> {
    let unsupported = || {
        ClientError::new(
            ErrorCode::UnsupportedAudioFormat,
            format!(
                "supported formats: pcm16 (24 kHz), g711_ulaw, g711_alaw \
                 (GA: audio/pcm at rate 24000, audio/pcmu, audio/pcma); got {value}"
            ),
        )
        .param(param)
    };
    match value {
        Value::String(name) => AudioFormat::from_realtime_name(name).ok_or_else(unsupported),
        Value::Object(object) => {
            let rate = object.get("rate").map(Value::as_u64);
            match (object.get("type").and_then(Value::as_str), rate) {
                (Some("audio/pcm"), None | Some(Some(24_000))) => Ok(AudioFormat::Pcm16),
                (Some("audio/pcmu"), None | Some(Some(8_000))) => Ok(AudioFormat::G711Ulaw),
                (Some("audio/pcma"), None | Some(Some(8_000))) => Ok(AudioFormat::G711Alaw),
                _ => Err(unsupported()),
            }
        }
        _ => Err(unsupported()),
    }
}

/// `null` turns server turn detection off; `server_vad` (and `semantic_vad`, served by the same detector)
/// takes optional `threshold`, `prefix_padding_ms`, `silence_duration_ms` over `base`.
fn parse_turn_detection(
    value: &Value,
    base: TurnConfig,
    param: &str,
) -> Result<(Option<TurnConfig>, bool), ClientError> {
    if value.is_null() {
        return Ok((None, false));
    }
    let object = value
        .as_object()
        .ok_or_else(|| invalid("must be an object or null", param))?;
    match object.get("type").and_then(Value::as_str) {
        None | Some("server_vad" | "semantic_vad") => {}
        Some(other) => {
            return Err(invalid(
                &format!("unknown turn detection type {other:?}: use server_vad"),
                param,
            ));
        }
    }
    let mut config = base;
    if let Some(v) = object.get("threshold") {
        // Checked as stored (f32): 0.9999999999 rounds to 1.0 and 1e-300 to 0.0, which would be shown back and
        // then refused.
        config.threshold = v
            .as_f64()
            .map(|t| t as f32)
            .filter(|t| *t > 0.0 && *t < 1.0)
            .ok_or_else(|| invalid("threshold must be between 0 and 1", param))?;
    }
    for (key, slot) in [
        ("prefix_padding_ms", &mut config.prefix_padding_ms),
        ("silence_duration_ms", &mut config.silence_duration_ms),
    ] {
        if let Some(v) = object.get(key) {
            *slot = v
                .as_u64()
                .filter(|ms| *ms <= 10_000)
                .ok_or_else(|| invalid(&format!("{key} must be 0–10000"), param))?
                as u32;
        }
    }
    let create_response = object
        .get("create_response")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    Ok((Some(config), create_response))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SessionConfig {
        SessionConfig {
            id: "sess_1".into(),
            model: "agent".into(),
            instructions: String::new(),
            voice: "joe".into(),
            input_format: AudioFormat::Pcm16,
            output_format: AudioFormat::Pcm16,
            turn_detection: Some(TurnConfig::default()),
            create_response: true,
            temperature: None,
            tools: json!([]),
        }
    }

    #[test]
    fn beta_and_ga_shapes_configure_the_same_thing() {
        let mut beta = config();
        let mut ga = config();
        let b = beta
            .update(&json!({
                "input_audio_format": "g711_ulaw",
                "turn_detection": { "type": "server_vad", "silence_duration_ms": 700 }
            }))
            .unwrap();
        let g = ga
            .update(&json!({
                "type": "realtime",
                "audio": { "input": {
                    "format": { "type": "audio/pcmu" },
                    "turn_detection": { "type": "server_vad", "silence_duration_ms": 700 }
                } }
            }))
            .unwrap();
        assert_eq!(b, g);
        assert_eq!(b.input_format, Some(AudioFormat::G711Ulaw));
        assert_eq!(beta, ga);
        assert_eq!(beta.turn_detection.unwrap().silence_duration_ms, 700);
    }

    #[test]
    fn null_turn_detection_means_manual_commits() {
        let mut session = config();
        let changes = session.update(&json!({ "turn_detection": null })).unwrap();
        assert_eq!(changes.turn_detection, Some(None));
        assert_eq!(session.to_json(true)["turn_detection"], Value::Null);
    }

    #[test]
    fn an_invalid_part_changes_nothing() {
        let mut session = config();
        let err = session
            .update(&json!({ "instructions": "hi", "input_audio_format": "mp3" }))
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::UnsupportedAudioFormat);
        assert_eq!(err.param.as_deref(), Some("session.input_audio_format"));
        assert_eq!(session, config());
        let err = session
            .update(&json!({ "audio": { "input": { "format": { "type": "audio/pcm", "rate": 16000 } } } }))
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::UnsupportedAudioFormat);
    }

    #[test]
    fn the_session_shown_is_taken_back_unchanged() {
        for beta in [true, false] {
            let mut session = config();
            let shown = session.to_json(beta);
            assert_eq!(shown["temperature"], Value::Null, "unset in the beta shape");
            session
                .update(&shown)
                .expect("what the server shows is valid");
            assert_eq!(session, config());
        }
        let mut session = config();
        for threshold in [0.999_999_999_9, 1e-300] {
            let turns = json!({ "turn_detection": { "threshold": threshold } });
            assert!(
                session.update(&turns).is_err(),
                "{threshold} is 1 or 0 as f32"
            );
        }
        session.update(&json!({ "temperature": 0.5 })).unwrap();
        session.update(&json!({ "temperature": null })).unwrap();
        assert_eq!(session.temperature, None);
    }

    #[test]
    fn the_session_is_rendered_in_the_clients_shape() {
        let session = config();
        let beta = session.to_json(true);
        assert_eq!(beta["input_audio_format"], "pcm16");
        let ga = session.to_json(false);
        assert_eq!(ga["type"], "realtime");
        assert_eq!(ga["audio"]["input"]["format"]["rate"], 24000);
    }
}
