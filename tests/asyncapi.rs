//! `docs/asyncapi.yaml` against the code: every event the session can send, rendered through the Realtime protocol
//! (GA and beta) and Twilio Media Streams, is documented under its operation and matches its payload schema; every
//! documented server message is really sent; every client event the parsers accept is documented (and the
//! documented examples are accepted); error codes and close codes are the ones the code uses.
//!
//! `scripts/test-ops-docs` validates the same document with the official AsyncAPI parser.

use std::collections::BTreeSet;
use std::path::Path;

use axum::extract::ws::close_code;
use serde_json::{Value, json};
use voxedge::error::ErrorCode;
use voxedge::live::protocol::{ClientError, Event, OutputItem, Protocol, ResponseStatus};
use voxedge::live::realtime::{Realtime, SessionConfig};
use voxedge::live::twilio::TwilioStream;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn doc() -> Value {
    let text = std::fs::read_to_string(Path::new(ROOT).join("docs/asyncapi.yaml"))
        .expect("docs/asyncapi.yaml is readable");
    serde_yaml::from_str(&text).expect("docs/asyncapi.yaml is YAML")
}

fn source(path: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every `.rs` file under `dir`, with its path relative to the crate.
fn sources_under(dir: &str) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut pending = vec![Path::new(ROOT).join(dir)];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("source directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let name = path
                    .strip_prefix(ROOT)
                    .expect("under the crate")
                    .display()
                    .to_string();
                files.push((name, std::fs::read_to_string(&path).expect("source file")));
            }
        }
    }
    files
}

// ---------------------------------------------------------------------------------------------- the document

/// Follows a local `$ref` (`#/a/b`).
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("only local $refs: {reference}"));
            let target = doc
                .pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref {reference}"));
            resolve(doc, target)
        }
        None => value,
    }
}

/// A documented message: its name (the event `type` / Twilio `event`), payload schema and examples.
struct Message<'a> {
    name: String,
    payload: &'a Value,
    examples: Vec<&'a Value>,
}

fn operation_messages<'a>(doc: &'a Value, operation: &str) -> Vec<Message<'a>> {
    let messages = doc["operations"][operation]["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("operation {operation} lists messages"));
    messages
        .iter()
        .map(|reference| {
            let message = resolve(doc, reference);
            let name = message["name"]
                .as_str()
                .unwrap_or_else(|| panic!("a message of {operation} has no name"))
                .to_string();
            let examples = message["examples"]
                .as_array()
                .map(|examples| examples.iter().map(|e| &e["payload"]).collect())
                .unwrap_or_default();
            Message {
                name,
                payload: &message["payload"],
                examples,
            }
        })
        .collect()
}

fn strings(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("expected a list, got {value}"))
        .iter()
        .map(|v| v.as_str().expect("a string").to_string())
        .collect()
}

fn enum_of(doc: &Value, schema: &str) -> BTreeSet<String> {
    strings(&doc["components"]["schemas"][schema]["enum"])
}

fn close_codes(doc: &Value, channel: &str) -> BTreeSet<u16> {
    doc["channels"][channel]["x-close-codes"]
        .as_array()
        .unwrap_or_else(|| panic!("{channel} documents x-close-codes"))
        .iter()
        .map(|c| c["code"].as_u64().expect("a close code") as u16)
        .collect()
}

// ------------------------------------------------------------------ a JSON Schema check for what the doc uses

/// Checks `value` against `schema`, supporting exactly the keywords the document uses; an unknown keyword fails
/// loudly rather than being skipped.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    let Some(keywords) = schema.as_object() else {
        return errors.push(format!("{at}: schema is not an object"));
    };
    for (keyword, rule) in keywords {
        match keyword.as_str() {
            "description" | "title" | "contentEncoding" | "examples" | "properties" => {}
            "type" => {
                let allowed: Vec<&str> = match rule {
                    Value::String(one) => vec![one.as_str()],
                    Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                    _ => panic!("{at}: bad type {rule}"),
                };
                let ok = allowed.iter().any(|kind| match *kind {
                    "object" => value.is_object(),
                    "array" => value.is_array(),
                    "string" => value.is_string(),
                    "integer" => value.is_i64() || value.is_u64(),
                    "number" => value.is_number(),
                    "boolean" => value.is_boolean(),
                    "null" => value.is_null(),
                    other => panic!("{at}: unknown type {other}"),
                });
                if !ok {
                    fail(errors, at, value, format!("not of type {rule}"));
                }
            }
            "const" => {
                if !same(value, rule) {
                    fail(errors, at, value, format!("is not {rule}"));
                }
            }
            "enum" => {
                let options = rule.as_array().expect("enum is a list");
                if !options.iter().any(|option| same(value, option)) {
                    fail(errors, at, value, format!("is not one of {rule}"));
                }
            }
            "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" => {
                if let (Some(v), Some(bound)) = (value.as_f64(), rule.as_f64()) {
                    let ok = match keyword.as_str() {
                        "minimum" => v >= bound,
                        "maximum" => v <= bound,
                        "exclusiveMinimum" => v > bound,
                        _ => v < bound,
                    };
                    if !ok {
                        fail(errors, at, value, format!("violates {keyword} {bound}"));
                    }
                }
            }
            "minLength" => {
                if let Some(s) = value.as_str()
                    && (s.chars().count() as u64) < rule.as_u64().expect("a length")
                {
                    fail(errors, at, value, format!("shorter than {rule}"));
                }
            }
            "minItems" | "maxItems" => {
                if let Some(items) = value.as_array() {
                    let bound = rule.as_u64().expect("a count") as usize;
                    let ok = if keyword == "minItems" {
                        items.len() >= bound
                    } else {
                        items.len() <= bound
                    };
                    if !ok {
                        fail(errors, at, value, format!("violates {keyword} {bound}"));
                    }
                }
            }
            "required" => {
                if let Some(object) = value.as_object() {
                    for field in rule.as_array().expect("required is a list") {
                        let field = field.as_str().expect("a field name");
                        if !object.contains_key(field) {
                            fail(errors, at, value, format!("misses required `{field}`"));
                        }
                    }
                }
            }
            "additionalProperties" => {
                assert_eq!(
                    rule,
                    &json!(false),
                    "{at}: only `additionalProperties: false`"
                );
                if let Some(object) = value.as_object() {
                    for field in object.keys() {
                        if schema["properties"].get(field).is_none() {
                            fail(
                                errors,
                                at,
                                value,
                                format!("has undocumented field `{field}`"),
                            );
                        }
                    }
                }
            }
            "items" => {
                if let Some(items) = value.as_array() {
                    for (i, item) in items.iter().enumerate() {
                        check(doc, rule, item, &format!("{at}[{i}]"), errors);
                    }
                }
            }
            "oneOf" | "anyOf" => {
                let options = rule.as_array().expect("a list of schemas");
                let passing = options
                    .iter()
                    .filter(|option| {
                        let mut scratch = Vec::new();
                        check(doc, option, value, at, &mut scratch);
                        scratch.is_empty()
                    })
                    .count();
                let ok = if keyword == "oneOf" {
                    passing == 1
                } else {
                    passing >= 1
                };
                if !ok {
                    errors.push(format!(
                        "{at}: {passing} of the {keyword} schemas match (value {value})"
                    ));
                }
            }
            other => panic!("{at}: the test's schema check does not know `{other}`; teach it"),
        }
    }
    if let (Some(properties), Some(object)) = (schema["properties"].as_object(), value.as_object())
    {
        for (field, property) in properties {
            if let Some(v) = object.get(field) {
                check(doc, property, v, &format!("{at}.{field}"), errors);
            }
        }
    }
}

fn fail(errors: &mut Vec<String>, at: &str, value: &Value, message: String) {
    errors.push(format!("{at}: {message} (value {value})"));
}

/// JSON equality where numbers compare by value (YAML `0` and a rendered `0` may differ in representation).
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

// ----------------------------------------------------------------------------------- what the server sends

/// Names every `Event` variant. No wildcard arm: a new variant does not compile until it is named here, then
/// fails `every_event_variant_has_a_sample` until it has a sample below, whose messages must then be documented.
fn variant(event: &Event) -> &'static str {
    match event {
        Event::SessionCreated { .. } => "SessionCreated",
        Event::SessionUpdated => "SessionUpdated",
        Event::SpeechStarted { .. } => "SpeechStarted",
        Event::SpeechStopped { .. } => "SpeechStopped",
        Event::Committed { .. } => "Committed",
        Event::InputCleared => "InputCleared",
        Event::UserItemAdded { .. } => "UserItemAdded",
        Event::Transcribed { .. } => "Transcribed",
        Event::TranscriptionFailed { .. } => "TranscriptionFailed",
        Event::ResponseCreated { .. } => "ResponseCreated",
        Event::ResponseItemAdded { .. } => "ResponseItemAdded",
        Event::ResponseAudio { .. } => "ResponseAudio",
        Event::ResponseText { .. } => "ResponseText",
        Event::ResponseItemDone { .. } => "ResponseItemDone",
        Event::ResponseDone { .. } => "ResponseDone",
        Event::PlaybackMark { .. } => "PlaybackMark",
        Event::ClearPlayback => "ClearPlayback",
        Event::ItemTruncated { .. } => "ItemTruncated",
        Event::Error(_) => "Error",
    }
}

const VARIANTS: &[&str] = &[
    "SessionCreated",
    "SessionUpdated",
    "SpeechStarted",
    "SpeechStopped",
    "Committed",
    "InputCleared",
    "UserItemAdded",
    "Transcribed",
    "TranscriptionFailed",
    "ResponseCreated",
    "ResponseItemAdded",
    "ResponseAudio",
    "ResponseText",
    "ResponseItemDone",
    "ResponseDone",
    "PlaybackMark",
    "ClearPlayback",
    "ItemTruncated",
    "Error",
];

/// Every variant, in each shape that renders differently (audio or text, message or tool call, ...).
fn samples() -> Vec<Event> {
    let item = || "item_01J9ZX0000000000000000000A".to_string();
    let response = || "resp_01J9ZX0000000000000000000B".to_string();
    let spoken = OutputItem::Message {
        item_id: item(),
        text: "Hello! How can I help?".into(),
        audio: true,
    };
    let written = OutputItem::Message {
        item_id: item(),
        text: "Hello! How can I help?".into(),
        audio: false,
    };
    let empty = OutputItem::Message {
        item_id: item(),
        text: String::new(),
        audio: true,
    };
    let tool = OutputItem::FunctionCall {
        item_id: item(),
        call_id: "call_1".into(),
        name: "end_call".into(),
        arguments: r#"{"reason":"goodbye"}"#.into(),
    };
    let mut events = vec![
        Event::SessionCreated {
            call_id: "01J9ZX0000000000000000000C".into(),
        },
        Event::SessionUpdated,
        Event::SpeechStarted {
            item_id: item(),
            audio_start_ms: 1200,
        },
        Event::SpeechStopped {
            item_id: item(),
            audio_end_ms: 2400,
        },
        Event::Committed {
            item_id: item(),
            previous_item_id: None,
        },
        Event::Committed {
            item_id: item(),
            previous_item_id: Some(item()),
        },
        Event::InputCleared,
        Event::UserItemAdded {
            item_id: item(),
            previous_item_id: None,
            text: None,
        },
        Event::UserItemAdded {
            item_id: item(),
            previous_item_id: Some(item()),
            text: Some("What are your opening hours?".into()),
        },
        Event::Transcribed {
            item_id: item(),
            text: "What are your opening hours?".into(),
        },
        Event::TranscriptionFailed {
            item_id: item(),
            error: ClientError::new(ErrorCode::VoiceInferenceFailed, "whisper failed"),
        },
        Event::ResponseCreated {
            response_id: response(),
        },
        Event::ResponseAudio {
            response_id: response(),
            item_id: item(),
            output_index: 0,
            audio: vec![0, 1, 2, 3],
        },
        Event::PlaybackMark { name: "s1".into() },
        Event::ClearPlayback,
        Event::ItemTruncated {
            item_id: item(),
            audio_end_ms: 1500,
        },
        Event::Error(
            ClientError::new(ErrorCode::InvalidValue, "threshold must be between 0 and 1")
                .param("session.turn_detection")
                .event_id(Some("evt_1")),
        ),
        Event::Error(
            ClientError::new(ErrorCode::InvalidToken, "bad token").closing(close_code::POLICY),
        ),
        Event::Error(
            ClientError::new(ErrorCode::VoiceModelMissing, "set --stt-model")
                .closing(close_code::ERROR),
        ),
    ];
    for (index, item) in [&empty, &written, &tool].into_iter().enumerate() {
        events.push(Event::ResponseItemAdded {
            response_id: response(),
            previous_item_id: (index > 0).then(item_id_of_last),
            output_index: index,
            item: item.clone(),
        });
    }
    for audio in [true, false] {
        events.push(Event::ResponseText {
            response_id: response(),
            item_id: item(),
            output_index: 0,
            text: "Hello! ".into(),
            audio,
        });
    }
    for item in [&spoken, &written, &tool] {
        events.push(Event::ResponseItemDone {
            response_id: response(),
            output_index: 0,
            item: item.clone(),
        });
    }
    events.push(Event::ResponseDone {
        response_id: response(),
        status: ResponseStatus::Completed,
        output: vec![tool.clone(), spoken.clone()],
        usage: Some((120, 14)),
    });
    for reason in ["turn_detected", "client_cancelled"] {
        events.push(Event::ResponseDone {
            response_id: response(),
            status: ResponseStatus::Cancelled(reason),
            output: vec![spoken.clone()],
            usage: None,
        });
    }
    events
}

fn item_id_of_last() -> String {
    "item_01J9ZX0000000000000000000D".into()
}

fn session() -> SessionConfig {
    SessionConfig {
        model: "01J9ZX0000000000000000000E".into(),
        instructions: "You are a friendly receptionist.".into(),
        voice: "joe".into(),
        temperature: Some(0.8),
        ..SessionConfig::default()
    }
}

/// The protocols under test, each with the operation that documents what it sends and what it receives.
fn protocols() -> Vec<(&'static str, &'static str, Box<dyn Protocol>)> {
    vec![
        (
            "realtimeSendGa",
            "realtimeReceive",
            Box::new(Realtime::new(false, session())),
        ),
        (
            "realtimeSendBeta",
            "realtimeReceive",
            Box::new(Realtime::new(true, session())),
        ),
        (
            "twilioSend",
            "twilioReceive",
            Box::new(TwilioStream::new("MZ18ad3ab5a668481ce02b83e7395059f0")),
        ),
    ]
}

/// The name of a rendered message: `type` (Realtime) or `event` (Twilio).
fn message_name(message: &Value) -> Option<&str> {
    message
        .get("type")
        .or_else(|| message.get("event"))
        .and_then(Value::as_str)
}

/// Checks rendered messages against `operation`'s documented messages; returns the names seen.
fn check_sent(
    doc: &Value,
    operation: &str,
    rendered: &[String],
    errors: &mut Vec<String>,
) -> BTreeSet<String> {
    let documented = operation_messages(doc, operation);
    let mut seen = BTreeSet::new();
    for text in rendered {
        let message: Value = serde_json::from_str(text).expect("rendered messages are JSON");
        let Some(name) = message_name(&message) else {
            errors.push(format!("{operation}: a message without a type: {message}"));
            continue;
        };
        seen.insert(name.to_string());
        // Several documented messages may share a name (session.created in the GA and beta shapes are in
        // different operations); within one operation, one of them must accept the payload.
        let candidates: Vec<&Message> = documented.iter().filter(|m| m.name == name).collect();
        if candidates.is_empty() {
            errors.push(format!(
                "{operation} sends `{name}`, which the document does not list there"
            ));
            continue;
        }
        let mut problems = Vec::new();
        let fits = candidates.iter().any(|candidate| {
            let mut found = Vec::new();
            check(doc, candidate.payload, &message, name, &mut found);
            problems.extend(found.iter().cloned());
            found.is_empty()
        });
        if !fits {
            errors.push(format!(
                "{operation}: `{name}` does not match its schema: {problems:?}"
            ));
        }
    }
    seen
}

#[test]
fn every_event_variant_has_a_sample() {
    let sampled: BTreeSet<&str> = samples().iter().map(variant).collect();
    let declared: BTreeSet<&str> = VARIANTS.iter().copied().collect();
    assert_eq!(
        sampled, declared,
        "samples() must render every Event variant, and VARIANTS name each"
    );
}

#[test]
fn every_message_the_server_sends_is_documented_and_matches_its_schema() {
    let doc = doc();
    let mut errors = Vec::new();
    for (send, receive, mut protocol) in protocols() {
        let mut rendered = Vec::new();
        for event in samples() {
            rendered.extend(protocol.render(&event));
        }
        // The session as clients reconfigure it: each documented session.update example, then session.updated.
        for message in operation_messages(&doc, receive) {
            for example in message
                .examples
                .iter()
                .filter(|_| message.name == "session.update")
            {
                protocol
                    .text(&example.to_string())
                    .unwrap_or_else(|e| panic!("{send}: session.update example refused: {e:?}"));
                rendered.extend(protocol.render(&Event::SessionUpdated));
            }
        }
        let seen = check_sent(&doc, send, &rendered, &mut errors);
        for documented in operation_messages(&doc, send) {
            if !seen.contains(&documented.name) {
                errors.push(format!(
                    "{send} documents `{}`, which no event renders to",
                    documented.name
                ));
            }
        }
    }
    assert!(
        errors.is_empty(),
        "docs/asyncapi.yaml is out of date:\n{}",
        errors.join("\n")
    );
}

// ------------------------------------------------------------------------------ what the server accepts

/// The string literals before `=>` in the match arms between `from` and `to` in `text`.
fn match_arm_literals(text: &str, from: &str, to: &str) -> BTreeSet<String> {
    let start = text
        .find(from)
        .unwrap_or_else(|| panic!("`{from}` not found"));
    let end = start
        + text[start..]
            .find(to)
            .unwrap_or_else(|| panic!("`{to}` not found"));
    let mut literals = BTreeSet::new();
    for line in text[start..end].lines() {
        if let Some((pattern, _)) = line.split_once("=>") {
            literals.extend(pattern.split('"').skip(1).step_by(2).map(str::to_string));
        }
    }
    literals
}

#[test]
fn every_client_event_the_parsers_accept_is_documented_and_its_examples_are_accepted() {
    let doc = doc();
    let mut errors = Vec::new();

    // Realtime: the parser's match arms, read from the source, are exactly the documented client events.
    let realtime_source = source("src/live/realtime/mod.rs");
    let accepted = match_arm_literals(
        &realtime_source,
        "let commands = match kind {",
        "other if UNSUPPORTED_EVENTS",
    );
    let documented: BTreeSet<String> = operation_messages(&doc, "realtimeReceive")
        .iter()
        .map(|m| m.name.clone())
        .collect();
    assert!(
        accepted.len() >= 8,
        "the source scan found too few arms: {accepted:?}"
    );
    assert_eq!(
        accepted, documented,
        "Realtime client events (parser arms vs realtimeReceive)"
    );
    let unsupported_source: BTreeSet<String> = realtime_source[realtime_source
        .find("const UNSUPPORTED_EVENTS")
        .expect("the list")..]
        .split_once("];")
        .expect("the list ends")
        .0
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    assert_eq!(
        unsupported_source,
        strings(&doc["channels"]["realtime"]["x-unsupported-client-events"]),
        "UNSUPPORTED_EVENTS vs x-unsupported-client-events"
    );

    for beta in [false, true] {
        let mut protocol = Realtime::new(beta, session());
        // The scan is right: documented types are known to the parser, and the unsupported ones are refused
        // as such.
        for name in &documented {
            let result = protocol.text(&json!({ "type": name }).to_string());
            if let Err(e) = &result
                && [ErrorCode::UnknownEvent, ErrorCode::UnsupportedEvent].contains(&e.code)
            {
                errors.push(format!("the Realtime parser does not know `{name}`: {e:?}"));
            }
        }
        for name in &unsupported_source {
            let code = protocol
                .text(&json!({ "type": name }).to_string())
                .err()
                .map(|e| e.code);
            assert_eq!(code, Some(ErrorCode::UnsupportedEvent), "{name}");
        }
        for message in operation_messages(&doc, "realtimeReceive") {
            if message.examples.is_empty() {
                errors.push(format!(
                    "realtimeReceive: `{}` has no example",
                    message.name
                ));
            }
            for example in message.examples {
                check(&doc, message.payload, example, &message.name, &mut errors);
                if let Err(e) = protocol.text(&example.to_string()) {
                    errors.push(format!(
                        "the documented `{}` example is refused: {e:?}",
                        message.name
                    ));
                }
            }
        }
    }

    // Twilio: the events `TwilioStream::text` matches on are exactly the documented ones.
    let accepted = match_arm_literals(
        &source("src/live/twilio.rs"),
        "fn text(&mut self, text: &str)",
        "fn binary(",
    );
    let documented: BTreeSet<String> = operation_messages(&doc, "twilioReceive")
        .iter()
        .map(|m| m.name.clone())
        .collect();
    assert_eq!(
        accepted, documented,
        "Twilio events (parser arms vs twilioReceive)"
    );
    let mut twilio = TwilioStream::new("MZ18ad3ab5a668481ce02b83e7395059f0");
    for message in operation_messages(&doc, "twilioReceive") {
        if message.examples.is_empty() {
            errors.push(format!("twilioReceive: `{}` has no example", message.name));
        }
        for example in message.examples {
            check(&doc, message.payload, example, &message.name, &mut errors);
            if let Err(e) = twilio.text(&example.to_string()) {
                errors.push(format!(
                    "the documented Twilio `{}` example is refused: {e:?}",
                    message.name
                ));
            }
        }
    }
    assert!(
        errors.is_empty(),
        "docs/asyncapi.yaml is out of date:\n{}",
        errors.join("\n")
    );
}

// ------------------------------------------------------------------------------------ errors and closes

#[test]
fn error_codes_are_the_servers_one_table() {
    let doc = doc();
    let table: BTreeSet<String> = ErrorCode::ALL.iter().map(|c| c.wire()).collect();
    assert_eq!(
        table,
        enum_of(&doc, "ErrorCode"),
        "ErrorCode vs ErrorCode::ALL"
    );
    for code in strings(&doc["channels"]["twilioStream"]["x-close-reason-codes"]) {
        assert!(
            table.contains(&code),
            "x-close-reason-codes lists `{code}`, which is not an error code"
        );
    }
}

fn close_code_value(name: &str) -> u16 {
    match name {
        "NORMAL" => close_code::NORMAL,
        "AWAY" => close_code::AWAY,
        "UNSUPPORTED" => close_code::UNSUPPORTED,
        "INVALID" => close_code::INVALID,
        "POLICY" => close_code::POLICY,
        "SIZE" => close_code::SIZE,
        "ERROR" => close_code::ERROR,
        "AGAIN" => close_code::AGAIN,
        other => {
            panic!("close_code::{other} is new to this test: add it here and to docs/asyncapi.yaml")
        }
    }
}

#[test]
fn close_codes_are_the_ones_the_code_uses() {
    let doc = doc();
    let realtime = close_codes(&doc, "realtime");
    let twilio = close_codes(&doc, "twilioStream");
    let (mut used_realtime, mut used_twilio) = (BTreeSet::new(), BTreeSet::new());
    for (path, text) in sources_under("src/live") {
        let codes: BTreeSet<u16> = text
            .split("close_code::")
            .skip(1)
            .map(|rest| {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                    .collect();
                close_code_value(&name)
            })
            .collect();
        // The session's codes apply to both protocols; each protocol's own file to itself.
        let (for_realtime, for_twilio) = if path.contains("realtime") {
            (true, false)
        } else if path.ends_with("twilio.rs") {
            (false, true)
        } else {
            (true, true)
        };
        for code in codes {
            if for_realtime {
                assert!(
                    realtime.contains(&code),
                    "{path} closes with {code}: not in realtime x-close-codes"
                );
                used_realtime.insert(code);
            }
            if for_twilio {
                assert!(
                    twilio.contains(&code),
                    "{path} closes with {code}: not in twilioStream x-close-codes"
                );
                used_twilio.insert(code);
            }
        }
    }
    assert_eq!(
        realtime, used_realtime,
        "realtime x-close-codes lists codes never used"
    );
    assert_eq!(
        twilio, used_twilio,
        "twilioStream x-close-codes lists codes never used"
    );
}
