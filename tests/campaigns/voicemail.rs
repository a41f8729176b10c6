//! Answering machines on outbound calls: the server's own check (a long greeting, then a beep) leaves the agent's
//! voicemail message — its audio transcribed back by Whisper holds the message with its variables filled in;
//! Twilio's own verdict hangs up when the agent leaves no message; a person saying "Hello?" is greeted.

use std::f32::consts::TAU;
use std::time::Duration;

use serde_json::{Value, json};
use voxedge::audio::{AudioFormat, FormatDecoder, FormatEncoder};

use crate::support::twilio::{Callee, FakeTwilio};
use crate::support::voice::normalise;
use crate::*;

const PLACE: &str = "mutation($a: ID!, $to: String!, $from: String!, $v: JSON) { placeCall(agentId: $a, to: $to, from: $from, variables: $v) { id status } }";

/// `text` spoken by the server's own Piper voice, as µ-law 8 kHz.
async fn speech(server: &support::TestServer, text: &str) -> Vec<u8> {
    let tts = server.state.voice.tts().expect("the TTS model is loaded");
    let spoken = tts.synthesize(text, 1.0).await.expect("synthesis");
    let mut encoder = FormatEncoder::new(AudioFormat::G711Ulaw, spoken.sample_rate).unwrap();
    let mut bytes = encoder.encode(&spoken.samples);
    bytes.extend(encoder.flush());
    bytes
}

/// `ms` of a `hz` tone (a machine's beep) or silence (`hz` 0), as µ-law 8 kHz.
fn tone(hz: f32, ms: u32) -> Vec<u8> {
    let samples: Vec<f32> = (0..ms * 8)
        .map(|i| 0.4 * (TAU * hz * i as f32 / 8000.0).sin())
        .collect();
    let mut encoder = FormatEncoder::new(AudioFormat::G711Ulaw, 8000).unwrap();
    let mut bytes = encoder.encode(&samples);
    bytes.extend(encoder.flush());
    bytes
}

/// What Whisper hears in µ-law audio.
async fn transcribe(server: &support::TestServer, mulaw: &[u8]) -> String {
    let mut decoder = FormatDecoder::new(AudioFormat::G711Ulaw).unwrap();
    let mut samples = decoder.decode(mulaw).samples;
    samples.extend(decoder.flush().samples);
    let stt = server.state.voice.stt().expect("the STT model is loaded");
    normalise(&stt.transcribe(samples).await.expect("transcription").text)
}

async fn ended_call(server: &support::TestServer, key: &str, id: &str) -> Value {
    crate::support::voice::ended_call(server, key, id).await
}

fn agent_config(action: &str) -> Value {
    json!({
        "systemPrompt": "You remind {{first_name}} of an appointment.",
        "firstMessage": "Hi {{first_name}}, this is Acme Dental.",
        "llm": { "primary": { "provider": "custom", "model": "m", "baseUrl": "http://127.0.0.1:9/v1" } },
        "voicemail": { "detection": true, "action": action },
        "voicemailMessage": "Hello {{first_name}}, this is Acme Dental about your appointment on {{day}}. Please call us back."
    })
}

async fn place(server: &support::TestServer, key: &str, agent: &str, to: &str) -> String {
    let (_, body) = server
        .gql(
            Some(key),
            PLACE,
            json!({ "a": agent, "to": to, "from": FROM, "v": { "first_name": "Alice", "day": "Friday" } }),
        )
        .await;
    data(&body, "placeCall")["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_machine_gets_the_message_after_its_beep_with_the_variables_filled_in() {
    let twilio = FakeTwilio::start(Callee::NoAnswer).await;
    let server = server(&twilio).await;
    let (tenant, agent) = tenant_with_agent(&server, agent_config("LEAVE_MESSAGE")).await;
    let mut greeting = speech(
        &server,
        "Hi, you have reached Alice. I cannot take your call right now. Please leave a message after the tone.",
    )
    .await;
    greeting.extend(tone(0.0, 600));
    greeting.extend(tone(1000.0, 500));
    // No verdict from Twilio: the server's own ears decide.
    twilio.script(
        &number(1),
        [Callee::Machine {
            greeting,
            amd: None,
            max: Duration::from_secs(60),
        }],
    );
    let id = place(&server, &tenant.key, &agent, &number(1)).await;
    let call = ended_call(&server, &tenant.key, &id).await;
    assert_eq!(
        (call["status"].as_str(), call["endedReason"].as_str()),
        (Some("COMPLETED"), Some("voicemail")),
        "{call}"
    );
    let events = support::voice::event_types(&call);
    for expected in ["voicemail_detected", "beep", "voicemail_message"] {
        assert!(
            events.contains(&expected.to_string()),
            "{expected} in {events:?}"
        );
    }
    let detected = call["events"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["node"]["type"] == "voicemail_detected")
        .unwrap();
    assert_eq!(detected["node"]["data"]["source"], "audio");

    let placed = &twilio.calls()[0];
    let form = |name: &str| {
        placed
            .form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(form("MachineDetection"), Some("DetectMessageEnd"));
    assert_eq!(form("AsyncAmd"), Some("true"));
    assert!(
        form("StatusCallback")
            .unwrap()
            .ends_with(&format!("/status?callId={id}"))
    );

    // What the machine recorded: the message, filled in — and not the greeting meant for a person.
    let heard = transcribe(&server, &placed.heard).await;
    // Whisper tiny hears "Acme Dental" on an 8 kHz line as it likes; the filled-in variables are what count.
    for word in ["hello alice", "appointment", "friday", "call us back"] {
        assert!(heard.contains(word), "{word:?} in {heard:?}");
    }
    assert!(!heard.contains("hi alice"), "{heard:?}");
    let agent_said: Vec<&str> = call["transcript"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["speaker"] == "AGENT")
        .map(|e| e["node"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        agent_said,
        ["Hello Alice, this is Acme Dental about your appointment on Friday. Please call us back."]
    );
}

#[tokio::test]
async fn twilios_verdict_hangs_up_on_a_machine_when_no_message_is_left() {
    let twilio = FakeTwilio::start(Callee::NoAnswer).await;
    let server = server(&twilio).await;
    let (tenant, agent) = tenant_with_agent(&server, agent_config("HANG_UP")).await;
    twilio.script(
        &number(2),
        [Callee::Machine {
            greeting: Vec::new(),
            amd: Some(("machine_start", Duration::from_millis(1500))),
            max: Duration::from_secs(30),
        }],
    );
    let id = place(&server, &tenant.key, &agent, &number(2)).await;
    let call = ended_call(&server, &tenant.key, &id).await;
    assert_eq!(call["endedReason"], "voicemail", "{call}");
    let detected = call["events"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["node"]["type"] == "voicemail_detected")
        .expect("voicemail_detected");
    assert_eq!(detected["node"]["data"]["source"], "twilio");
    assert_eq!(detected["node"]["data"]["action"], "hang_up");
    assert!(
        twilio.calls()[0]
            .heard
            .iter()
            .all(|&b| b == 0xff || b == 0x7f),
        "the agent said nothing"
    );
}

#[tokio::test]
async fn a_person_saying_hello_is_greeted() {
    let twilio = FakeTwilio::start(Callee::NoAnswer).await;
    let server = server(&twilio).await;
    let (tenant, agent) = tenant_with_agent(&server, agent_config("LEAVE_MESSAGE")).await;
    let mut hello = tone(0.0, 300);
    hello.extend(speech(&server, "Hello?").await);
    twilio.script(
        &number(3),
        [Callee::Answer {
            audio: hello,
            hold: Duration::from_secs(7),
        }],
    );
    let id = place(&server, &tenant.key, &agent, &number(3)).await;
    let call = ended_call(&server, &tenant.key, &id).await;
    assert_eq!(call["endedReason"], "caller_hangup", "{call}");
    let events = support::voice::event_types(&call);
    assert!(events.contains(&"answered_by".to_string()), "{events:?}");
    assert!(
        !events.contains(&"voicemail_detected".to_string()),
        "{events:?}"
    );
    let heard = transcribe(&server, &twilio.calls()[0].heard).await;
    assert!(heard.contains("hi alice"), "{heard:?}");
}
