//! Helpers of the agent tests: an agent on a local OpenAI-compatible server, a Realtime client reading whole
//! responses, Whisper to hear the agent back.

use crate::openai_server::OpenAiServer;
use crate::support::voice::{
    JsonSocket, RealtimeAuth, jfk_encoded, normalise, realtime, voice_config,
};
use crate::support::{TestServer, TestTenant};
use base64::Engine as _;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use voxedge::audio::{AudioFormat, FormatDecoder, StreamResampler};
use voxedge::voice::{SpeechToText, VoiceModels, VoiceOptions};

/// A server with the real voice models, short LLM timeouts and a circuit that opens after two failures.
pub(crate) async fn agent_server() -> TestServer {
    agent_server_with(|_| {}).await
}
/// [`agent_server`] with more configuration.
pub(crate) async fn agent_server_with(
    configure: impl FnOnce(&mut voxedge::config::Config),
) -> TestServer {
    crate::support::spawn_with(|config| {
        crate::support::allow_loopback(config);
        config.voice = voice_config();
        config.llm.first_token_timeout = Duration::from_millis(1500);
        config.llm.breaker.failure_threshold = 2;
        configure(config);
    })
    .await
}
/// An LLM target on a local server.
pub(crate) fn target(llm: &OpenAiServer) -> Value {
    json!({ "provider": "custom", "model": "test-model", "baseUrl": llm.base_url() })
}
/// Creates an agent with `config` (merged over a prompt and the `llm` primary) and returns its id.
pub(crate) async fn create_agent(
    server: &TestServer,
    key: &str,
    llm: &OpenAiServer,
    config: Value,
) -> String {
    let mut full = json!({
        "systemPrompt": "You are the front desk of the city library. Be brief.",
        "llm": { "primary": target(llm) },
    });
    if let (Some(full), Some(extra)) = (full.as_object_mut(), config.as_object()) {
        for (k, v) in extra {
            full.insert(k.clone(), v.clone());
        }
    }
    server.create_agent(key, "Desk", full).await
}
pub(crate) async fn connect(
    server: &TestServer,
    tenant: &TestTenant,
    agent: &str,
) -> (JsonSocket, String) {
    let mut client = realtime(
        server,
        &format!("agent={agent}"),
        RealtimeAuth::Header(&tenant.key),
        false,
    )
    .await;
    let created = client.until("session.created").await;
    let call = created["session"]["id"].as_str().unwrap().to_string();
    (client, call)
}
/// One agent response as a Realtime client saw it.
#[derive(Debug, Default)]
pub(crate) struct Heard {
    pub(crate) events: Vec<Value>,
    pub(crate) transcript: String,
    pub(crate) text: String,
    pub(crate) audio: Vec<u8>,
    pub(crate) done: Value,
}
impl Heard {
    pub(crate) fn types(&self) -> Vec<&str> {
        self.events
            .iter()
            .map(|e| e["type"].as_str().unwrap_or_default())
            .collect()
    }
}
/// Reads one whole response (from `response.created` to `response.done`).
pub(crate) async fn response(client: &mut JsonSocket) -> Heard {
    client.until("response.created").await;
    let mut heard = Heard::default();
    loop {
        let event = client
            .next()
            .await
            .unwrap_or_else(|c| panic!("closed ({c:?}) during a response"));
        match event["type"].as_str().unwrap_or_default() {
            "response.output_audio.delta" => heard.audio.extend(
                base64::engine::general_purpose::STANDARD
                    .decode(event["delta"].as_str().unwrap())
                    .unwrap(),
            ),
            "response.output_audio_transcript.delta" => {
                heard.transcript.push_str(event["delta"].as_str().unwrap())
            }
            "response.output_text.delta" => heard.text.push_str(event["delta"].as_str().unwrap()),
            "response.done" => {
                heard.done = event.clone();
                heard.events.push(event);
                return heard;
            }
            "error" => panic!("error during a response: {event}"),
            _ => {}
        }
        heard.events.push(event);
    }
}
/// Types `text` as the caller and asks for a response.
pub(crate) async fn ask(client: &mut JsonSocket, text: &str) -> Heard {
    client
        .send(json!({
            "type": "conversation.item.create",
            "item": { "type": "message", "role": "user", "content": [{ "type": "input_text", "text": text }] }
        }))
        .await;
    client.send(json!({ "type": "response.create" })).await;
    response(client).await
}
/// Whisper, loaded in the test to listen to what the agent said.
pub(crate) fn whisper() -> Arc<SpeechToText> {
    let models = VoiceModels::load(&voice_config(), VoiceOptions::default());
    models.stt().expect("whisper loads")
}
/// Transcribes agent audio in `format` with Whisper.
pub(crate) async fn listen(stt: &SpeechToText, format: AudioFormat, audio: &[u8]) -> String {
    let mut decoder = FormatDecoder::new(format).unwrap();
    let mut frame = decoder.decode(audio);
    frame.samples.extend(decoder.flush().samples);
    let samples = StreamResampler::process_all(frame.sample_rate, 16_000, &frame.samples).unwrap();
    stt.transcribe(samples).await.unwrap().text
}
/// Share of `expected`'s words found in `heard`.
pub(crate) fn overlap(expected: &str, heard: &str) -> f64 {
    let heard = normalise(heard);
    let heard: Vec<&str> = heard.split(' ').collect();
    let expected = normalise(expected);
    let words: Vec<&str> = expected.split(' ').collect();
    let found = words.iter().filter(|w| heard.contains(w)).count();
    found as f64 / words.len() as f64
}
pub(crate) fn events_of<'a>(call: &'a Value, kind: &str) -> Vec<&'a Value> {
    call["events"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .filter(|n| n["type"] == kind)
        .map(|n| &n["data"])
        .collect()
}
pub(crate) fn segments(call: &Value, speaker: &str) -> Vec<String> {
    call["transcript"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .filter(|n| n["speaker"] == speaker)
        .map(|n| n["text"].as_str().unwrap().to_string())
        .collect()
}
/// jfk.wav in one caller turn (its pauses do not end it).
pub(crate) static ONE_TURN: std::sync::LazyLock<Value> =
    std::sync::LazyLock::new(|| json!({ "turnDetection": { "silenceDurationMs": 2000 } }));
pub(crate) const ANSWER: &str =
    "The library opens early tomorrow morning. Bring your card to borrow books.";
/// The first sound of speech in jfk.wav, µ-law 8 kHz, `ms` long.
pub(crate) fn jfk_speech_mulaw(ms: usize) -> Vec<u8> {
    let audio = jfk_encoded(AudioFormat::G711Ulaw, 0);
    let start = audio
        .chunks(160)
        .position(|frame| {
            frame
                .iter()
                .map(|b| voxedge::audio::g711::ulaw_to_linear(*b).unsigned_abs())
                .max()
                .unwrap_or(0)
                > 3000
        })
        .expect("speech in jfk.wav")
        * 160;
    audio[start..(start + ms * 8).min(audio.len())].to_vec()
}
