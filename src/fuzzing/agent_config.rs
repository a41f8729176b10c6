//! Harness for agent configuration input: GraphQL input coercion, defaults and validation, storage.

use async_graphql::InputType;
use serde_json::{Map, Value, json};

use super::Input;
use crate::agents::input::{
    AgentConfigInput, AnalysisSettingsInput, EndCallRulesInput, InterruptionSettingsInput,
    LlmSettingsInput, LlmTargetInput, ToolHeaderInput, ToolInput, TransferDestinationInput,
    TurnDetectionInput, VoiceSettingsInput, VoicemailSettingsInput,
};
use crate::error::InvalidInput;
use crate::model::AgentConfig;
use crate::model::agent::LlmTarget;

/// Header values "sealed" as they are, so a stored configuration can be fed back as input.
fn seal(_name: &str, value: &str) -> String {
    value.to_owned()
}

/// An agent configuration as a client sends it (GraphQL variables JSON): arbitrary JSON, or an object built
/// from the input whose fields are mostly plausible, often at or just past their limits.
///
/// Invariants: input that GraphQL coerces into [`AgentConfigInput`] is accepted or refused with field errors
/// (each under `config.`, with a 4xx code and a message); an accepted configuration survives storage (JSON out
/// and back) unchanged, and fed back as input is accepted again as the same configuration.
pub fn agent_config(data: &[u8]) {
    agent_config_outcome(data);
}

/// How far an input got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Not JSON, or not coercible into the GraphQL input type.
    NotInput,
    Refused,
    Accepted,
}

/// [`agent_config`], saying how far the input got (tests check the generator reaches every outcome).
pub fn agent_config_outcome(data: &[u8]) -> Outcome {
    let mut input = Input::new(data);
    let json = if input.u8() < 32 {
        match serde_json::from_slice(input.rest()) {
            Ok(json) => json,
            Err(_) => return Outcome::NotInput,
        }
    } else {
        config_json(&mut input)
    };
    let Ok(value) = async_graphql::Value::from_json(json) else {
        return Outcome::NotInput;
    };
    // A coercion error is async-graphql's to report (a request error before any resolver runs).
    let Ok(config) = AgentConfigInput::parse(Some(value)) else {
        return Outcome::NotInput;
    };
    let keep_headers = input.bool();
    check(config, keep_headers)
}

fn check(config: AgentConfigInput, keep_headers: bool) -> Outcome {
    let config = match config.into_draft("config", &seal) {
        Ok(draft) => draft.complete(None),
        Err(InvalidInput(errors)) => {
            assert!(!errors.is_empty(), "refused without a reason");
            for error in errors {
                assert!(error.field.starts_with("config."), "{error:?}");
                assert!(error.code.status().is_client_error(), "{error:?}");
                assert!(!error.message.is_empty(), "{error:?}");
            }
            return Outcome::Refused;
        }
    };
    let stored = serde_json::to_string(&config).expect("invariant: an agent config serialises");
    let loaded: AgentConfig = match serde_json::from_str(&stored) {
        Ok(loaded) => loaded,
        Err(e) => panic!("a stored config does not load: {e}\n{stored}"),
    };
    assert_eq!(loaded, config, "storage changed the config:\n{stored}");
    let again = match input_of(&config, keep_headers).into_draft("config", &seal) {
        Ok(draft) => draft.complete(Some(&config)),
        Err(e) => panic!("an accepted config is refused when sent again: {e:?}\n{stored}"),
    };
    assert_eq!(again, config, "sending a config again changed it");
    Outcome::Accepted
}

/// The input that describes `config` exactly. Webhook tools leave their headers out when `keep_headers`
/// (they then keep the current ones).
fn input_of(config: &AgentConfig, keep_headers: bool) -> AgentConfigInput {
    let target = |t: &LlmTarget| LlmTargetInput {
        provider: t.provider.clone(),
        model: t.model.clone(),
        base_url: Some(t.base_url.clone()),
    };
    AgentConfigInput {
        system_prompt: config.system_prompt.clone(),
        first_message: config.first_message.clone(),
        language: Some(config.language.clone()),
        voice: Some(VoiceSettingsInput {
            voice_id: Some(config.voice.voice_id.clone()),
            speed: Some(config.voice.speed),
        }),
        llm: Some(LlmSettingsInput {
            primary: Some(target(&config.llm.primary)),
            fallbacks: config.llm.fallbacks.iter().map(target).collect(),
            temperature: Some(config.llm.temperature),
            max_tokens: Some(config.llm.max_tokens),
            apology_message: Some(config.llm.apology_message.clone()),
        }),
        tools: config
            .tools
            .iter()
            .map(|t| ToolInput {
                kind: t.kind,
                name: t.name.clone(),
                description: t.description.clone(),
                parameters: t.parameters.clone(),
                url: t.url.clone(),
                method: t.method,
                timeout_ms: t.timeout_ms,
                destinations: t
                    .destinations
                    .iter()
                    .map(|d| TransferDestinationInput {
                        name: d.name.clone(),
                        phone_number: d.phone_number.clone(),
                    })
                    .collect(),
                headers: (!keep_headers || t.headers.is_empty()).then(|| {
                    t.headers
                        .iter()
                        .map(|h| ToolHeaderInput {
                            name: h.name.clone(),
                            value: h.sealed.clone(),
                        })
                        .collect()
                }),
            })
            .collect(),
        end_call: Some(EndCallRulesInput {
            max_duration_secs: Some(config.end_call.max_duration_secs),
            silence_timeout_secs: Some(config.end_call.silence_timeout_secs),
            end_phrases: config.end_call.end_phrases.clone(),
            silence_reprompt: Some(config.end_call.silence_reprompt.clone()),
        }),
        interruption: Some(InterruptionSettingsInput {
            enabled: Some(config.interruption.enabled),
            min_words: Some(config.interruption.min_words),
            min_duration_ms: Some(config.interruption.min_duration_ms),
        }),
        turn_detection: Some(TurnDetectionInput {
            threshold: Some(config.turn_detection.threshold),
            prefix_padding_ms: Some(config.turn_detection.prefix_padding_ms),
            silence_duration_ms: Some(config.turn_detection.silence_duration_ms),
        }),
        voicemail: Some(VoicemailSettingsInput {
            detection: Some(config.voicemail.detection),
            action: Some(config.voicemail.action),
            max_greeting_secs: Some(config.voicemail.max_greeting_secs),
        }),
        voicemail_message: config.voicemail_message.clone(),
        analysis: Some(AnalysisSettingsInput {
            enabled: Some(config.analysis.enabled),
            success_criteria: config.analysis.success_criteria.clone(),
            extraction_schema: config.analysis.extraction_schema.clone(),
        }),
        record_calls: Some(config.record_calls),
    }
}

/// An `AgentConfigInput` as JSON: each field present or not, mostly plausible, sometimes out of range or of
/// the wrong type.
fn config_json(input: &mut Input<'_>) -> Value {
    let mut config = Map::new();
    config.insert("systemPrompt".into(), template(input, 20_000));
    let mut maybe = |input: &mut Input<'_>, key: &str, value: fn(&mut Input<'_>) -> Value| {
        if input.below(3) == 0 {
            config.insert(key.into(), value(input));
        }
    };
    maybe(input, "firstMessage", |i| template(i, 2_000));
    maybe(input, "language", |i| {
        json!(i.pick(&[
            "en",
            "en-US",
            "pt-BR",
            "zh-Hant-TW",
            "",
            "en_US",
            "a-",
            "abcdefghi"
        ]))
    });
    maybe(
        input,
        "voice",
        |i| json!({ "voiceId": text(i, 100), "speed": float(i, 0.5, 2.0) }),
    );
    maybe(input, "llm", |i| {
        let fallbacks: Vec<Value> = (0..i.below(5)).map(|_| llm_target(i)).collect();
        json!({
            "primary": llm_target(i),
            "fallbacks": fallbacks,
            "temperature": float(i, 0.0, 2.0),
            "maxTokens": int(i, 1, 4096),
            "apologyMessage": text(i, 500),
        })
    });
    maybe(input, "tools", |i| {
        Value::Array((0..i.below(4)).map(|_| tool(i)).collect())
    });
    maybe(input, "endCall", |i| {
        let phrases: Vec<Value> = (0..i.below(4)).map(|_| text(i, 100)).collect();
        json!({
            "maxDurationSecs": int(i, 1, 14_400),
            "silenceTimeoutSecs": int(i, 5, 600),
            "endPhrases": phrases,
            "silenceReprompt": text(i, 500),
        })
    });
    maybe(
        input,
        "interruption",
        |i| json!({ "enabled": i.bool(), "minWords": int(i, 0, 10), "minDurationMs": int(i, 0, 5000) }),
    );
    maybe(input, "turnDetection", |i| {
        json!({
            "threshold": float(i, 0.1, 0.99),
            "prefixPaddingMs": int(i, 0, 2000),
            "silenceDurationMs": int(i, 100, 5000),
        })
    });
    maybe(input, "voicemail", |i| {
        json!({
            "detection": i.bool(),
            "action": i.pick(&["HANG_UP", "LEAVE_MESSAGE"]),
            "maxGreetingSecs": int(i, 5, 120),
        })
    });
    maybe(input, "voicemailMessage", |i| template(i, 2_000));
    maybe(input, "analysis", |i| {
        json!({
            "enabled": i.bool(),
            "successCriteria": text(i, 2_000),
            "extractionSchema": schema(i),
        })
    });
    maybe(input, "recordCalls", |i| json!(i.bool()));
    // Now and then drop one of the nested fields that were set, or give one a value of the wrong type.
    if input.below(4) == 0 && !config.is_empty() {
        let key = config
            .keys()
            .nth(input.below(config.len()))
            .cloned()
            .expect("invariant: the index is below the length");
        if let Some(Value::Object(inner)) = config.get_mut(&key)
            && !inner.is_empty()
        {
            let inner_key = inner
                .keys()
                .nth(input.below(inner.len()))
                .cloned()
                .expect("invariant: the index is below the length");
            if input.bool() {
                inner.remove(&inner_key);
            } else {
                inner.insert(inner_key, json!(input.text(4)));
            }
        }
    }
    Value::Object(config)
}

fn llm_target(input: &mut Input<'_>) -> Value {
    let provider = input.pick(&[
        "openai", "groq", "together", "ollama", "vllm", "custom", "acme",
    ]);
    let mut target = json!({ "provider": provider, "model": text(input, 200) });
    if input.bool() {
        target["baseUrl"] = url(input);
    }
    target
}

fn tool(input: &mut Input<'_>) -> Value {
    let kind = input.pick(&[
        "WEBHOOK",
        "WEBHOOK",
        "END_CALL",
        "TRANSFER_CALL",
        "SEND_DTMF",
    ]);
    let name = match input.below(4) {
        0 => input.text(70),
        _ => input
            .pick(&["lookup_order", "end-call", "transfer", "x"])
            .to_string(),
    };
    let mut tool = json!({ "kind": kind, "name": name });
    if input.bool() {
        tool["description"] = text(input, 1_000);
    }
    if input.below(4) != 0 {
        tool["parameters"] = schema(input);
    }
    if input.below(4) != 0 {
        tool["url"] = url(input);
    }
    if input.bool() {
        tool["method"] = json!(input.pick(&["GET", "POST"]));
    }
    if input.bool() {
        tool["timeoutMs"] = int(input, 100, 30_000);
    }
    if input.bool() {
        let destinations: Vec<Value> = (0..input.below(3))
            .map(|_| {
                let number = match input.below(4) {
                    0 => format!("+{}", input.text(16)),
                    _ => format!("+1415555{:04}", input.u16() % 10_000),
                };
                json!({ "name": text(input, 64), "phoneNumber": number })
            })
            .collect();
        tool["destinations"] = json!(destinations);
    }
    if input.bool() {
        let headers: Vec<Value> = (0..input.below(4))
            .map(|_| {
                let name = match input.below(6) {
                    0 => input.text(12),
                    _ => input
                        .pick(&[
                            "Authorization",
                            "X-Api-Key",
                            "authorization",
                            "Host",
                            "X-Voxedge-Sig",
                        ])
                        .to_string(),
                };
                json!({ "name": name, "value": text(input, 4096) })
            })
            .collect();
        tool["headers"] = json!(headers);
    }
    tool
}

/// A JSON Schema: an object schema with a few typed properties, or something that is not one.
fn schema(input: &mut Input<'_>) -> Value {
    match input.below(6) {
        0 => json!({ "type": input.pick(&["string", "not-a-type", "array"]) }),
        1 => json!(input.text(8)),
        2 => {
            json!({ "type": "object", "properties": { "n": { "type": "number", "minimum": float(input, -1e9, 1e9) } } })
        }
        _ => {
            let properties: Map<String, Value> = (0..input.below(4))
                .map(|_| {
                    let kind = input.pick(&["string", "integer", "number", "boolean"]);
                    (
                        input.text(8),
                        json!({ "type": kind, "description": input.text(10) }),
                    )
                })
                .collect();
            json!({ "type": "object", "properties": properties })
        }
    }
}

fn url(input: &mut Input<'_>) -> Value {
    json!(input.pick(&[
        "https://example.com/hook",
        "http://10.0.0.1:8080/v1",
        "https://[::1]/",
        "ftp://example.com",
        "not a url",
        "https://",
        "",
    ]))
}

/// Text up to about `max` characters: short, empty, exactly at the limit or one past it.
fn text(input: &mut Input<'_>, max: usize) -> Value {
    match input.below(10) {
        0 => json!(""),
        1 => json!("é".repeat(max)),
        2 => json!("a".repeat(max + 1)),
        3 => json!("  "),
        _ => json!(input.text(24)),
    }
}

/// Like [`text`], sometimes with `{{variables}}`, good or broken.
fn template(input: &mut Input<'_>, max: usize) -> Value {
    match input.below(8) {
        0 => json!(format!("Hello {{{{{}}}}}, how can I help?", input.text(8))),
        1 => json!(input.pick(&[
            "{{ name }}",
            "{{name",
            "}}{{",
            "{{1x}}",
            "{{}}",
            "{{a}}{{b}}"
        ])),
        _ => text(input, max),
    }
}

/// An integer at, inside or just past `min..=max`, or anywhere in `i32`.
fn int(input: &mut Input<'_>, min: i32, max: i32) -> Value {
    json!(match input.below(8) {
        0 => min,
        1 => max,
        2 => min.saturating_sub(1),
        3 => max.saturating_add(1),
        4 => input.u32() as i32,
        _ => min + (input.u32() % (max - min + 1) as u32) as i32,
    })
}

/// A float at, inside or just past `min..=max`; inside ones have all 17 significant digits.
fn float(input: &mut Input<'_>, min: f64, max: f64) -> Value {
    json!(match input.below(8) {
        0 => min,
        1 => max,
        2 => min - 1e-9,
        3 => max * 1.5 + 1.0,
        4 => f64::from_bits(input.u64()),
        _ => min + (max - min) * (f64::from(input.u32()) / f64::from(u32::MAX)),
    })
}
