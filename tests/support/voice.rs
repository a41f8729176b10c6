//! Live-call test clients: the real voice models, jfk.wav encoded as each protocol expects, and WebSocket clients
//! speaking the Realtime and Twilio Media Streams protocols.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Message, http::HeaderValue};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use voxedge::audio::{AudioFormat, FormatEncoder, wav};
use voxedge::voice::VoiceConfig;

use super::TestServer;

/// The phrase jfk.wav must be heard saying.
pub const JFK_PHRASE: &str = "ask not what your country can do for you";

fn from_env_or(var: &str, default: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    match std::env::var_os(var).filter(|v| !v.is_empty()) {
        Some(v) => root.join(PathBuf::from(v)),
        None => root.join(default),
    }
}

/// The real models (`VOXEDGE_TEST_MODELS_DIR`, default `../shared/models`) and ONNX Runtime
/// (`VOXEDGE_ORT_DYLIB`, default `.cache/onnxruntime/libonnxruntime.so`). Panics when missing: voice tests never
/// pass without having run the models.
pub fn voice_config() -> VoiceConfig {
    let models = from_env_or("VOXEDGE_TEST_MODELS_DIR", "../shared/models");
    let ort = from_env_or("VOXEDGE_ORT_DYLIB", ".cache/onnxruntime/libonnxruntime.so");
    assert!(
        models.join("jfk.wav").is_file(),
        "models not found in {}",
        models.display()
    );
    assert!(
        ort.is_file(),
        "ONNX Runtime not found at {} (scripts/fetch-voice-runtime)",
        ort.display()
    );
    VoiceConfig {
        ort_dylib: Some(ort),
        ..VoiceConfig::in_dir(models)
    }
}

/// jfk.wav (16 kHz) encoded in `format`, followed by `silence_ms` of silence.
pub fn jfk_encoded(format: AudioFormat, silence_ms: u32) -> Vec<u8> {
    let frame = wav::read_wav(voice_config().models_dir.join("jfk.wav")).expect("jfk.wav");
    let mut samples = frame.samples;
    samples.extend(std::iter::repeat_n(
        0.0,
        (frame.sample_rate * silence_ms / 1000) as usize,
    ));
    let mut encoder = FormatEncoder::new(format, frame.sample_rate).expect("encoder");
    let mut bytes = encoder.encode(&samples);
    bytes.extend(encoder.flush());
    bytes
}

/// Lower-case words only, for comparing transcripts.
pub fn normalise(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                ' '
            }
        })
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How a socket ended, as the client saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum Closed {
    Frame { code: u16, reason: String },
    WithoutFrame,
}

/// A WebSocket client for JSON text protocols.
pub struct JsonSocket {
    pub socket: Socket,
}

impl JsonSocket {
    pub async fn send(&mut self, value: Value) {
        self.socket
            .send(Message::Text(value.to_string().into()))
            .await
            .expect("message sent");
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.socket.send(message).await.expect("message sent");
    }

    /// The next JSON message (within 60 s), or how the socket closed.
    pub async fn next(&mut self) -> Result<Value, Closed> {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(60), self.socket.next())
                .await
                .expect("a message within 60 s");
            match message {
                Some(Ok(Message::Text(text))) => {
                    return Ok(serde_json::from_str(text.as_str()).expect("server sends JSON"));
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(frame.map_or(Closed::WithoutFrame, |f: CloseFrame| {
                        Closed::Frame {
                            code: f.code.into(),
                            reason: f.reason.to_string(),
                        }
                    }));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Err(Closed::WithoutFrame),
            }
        }
    }

    /// Reads until an event of type `kind` (Realtime `type`), returning it; panics if the socket closes first.
    pub async fn until(&mut self, kind: &str) -> Value {
        loop {
            let event = self
                .next()
                .await
                .unwrap_or_else(|closed| panic!("closed ({closed:?}) before {kind}"));
            if event["type"] == kind {
                return event;
            }
        }
    }

    /// Reads until the socket closes; returns the close and every event seen.
    pub async fn until_closed(&mut self) -> (Closed, Vec<Value>) {
        let mut seen = Vec::new();
        loop {
            match self.next().await {
                Ok(event) => seen.push(event),
                Err(closed) => return (closed, seen),
            }
        }
    }
}

/// How a Realtime client authenticates.
pub enum RealtimeAuth<'a> {
    Header(&'a str),
    Subprotocol(&'a str),
    None,
}

/// Connects to `/v1/realtime` with `query` (e.g. `agent=<id>`).
pub async fn realtime(
    server: &TestServer,
    query: &str,
    auth: RealtimeAuth<'_>,
    beta: bool,
) -> JsonSocket {
    realtime_at(&server.ws_url(&format!("/v1/realtime?{query}")), auth, beta).await
}

/// Connects to a Realtime URL (`ws://…/v1/realtime?…`), e.g. through a proxy.
pub async fn realtime_at(url: &str, auth: RealtimeAuth<'_>, beta: bool) -> JsonSocket {
    let mut request = url.into_client_request().expect("request");
    let headers = request.headers_mut();
    let mut protocols = vec!["realtime".to_string()];
    match auth {
        RealtimeAuth::Header(key) => {
            headers.insert(
                "authorization",
                HeaderValue::from_str(&format!("Bearer {key}")).unwrap(),
            );
        }
        RealtimeAuth::Subprotocol(token) => {
            protocols.push(format!("openai-insecure-api-key.{token}"))
        }
        RealtimeAuth::None => {}
    }
    if beta {
        headers.insert("openai-beta", HeaderValue::from_static("realtime=v1"));
    }
    headers.insert(
        "sec-websocket-protocol",
        HeaderValue::from_str(&protocols.join(", ")).unwrap(),
    );
    let (socket, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("realtime connects");
    assert_eq!(
        response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok()),
        Some("realtime"),
        "the server picks the `realtime` subprotocol (browsers require one)"
    );
    JsonSocket { socket }
}

/// A new tenant with an agent, and a Realtime call to it (GA, owner key): the tenant, the client, the call id.
pub async fn realtime_call(server: &TestServer) -> (super::TestTenant, JsonSocket, String) {
    let tenant = server.tenant("Acme").await;
    let agent = create_agent(server, &tenant.key).await;
    let mut client = realtime(
        server,
        &format!("agent={agent}"),
        RealtimeAuth::Header(&tenant.key),
        false,
    )
    .await;
    let created = client.until("session.created").await;
    let call_id = created["session"]["id"]
        .as_str()
        .expect("session id")
        .to_string();
    (tenant, client, call_id)
}

/// Sends `audio` as `input_audio_buffer.append` events of `chunk` bytes, as fast as the socket takes them.
pub async fn append_audio(client: &mut JsonSocket, audio: &[u8], chunk: usize) {
    for piece in audio.chunks(chunk) {
        let audio = base64::engine::general_purpose::STANDARD.encode(piece);
        client
            .send(json!({ "type": "input_audio_buffer.append", "audio": audio }))
            .await;
    }
}

/// Connects to `/v1/twilio/stream` and sends `connected` and `start` with `parameters`.
pub async fn twilio(server: &TestServer, parameters: Value) -> JsonSocket {
    twilio_at(&server.ws_url("/v1/twilio/stream"), parameters).await
}

/// Connects to a Media Streams URL (as TwiML names it) and sends `connected` and `start` with `parameters`.
pub async fn twilio_at(url: &str, parameters: Value) -> JsonSocket {
    let (socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("twilio stream connects");
    let mut client = JsonSocket { socket };
    client
        .send(json!({ "event": "connected", "protocol": "Call", "version": "1.0.0" }))
        .await;
    client
        .send(twilio_start(parameters, "audio/x-mulaw", 8000))
        .await;
    client
}

/// A Media Streams `start` message.
pub fn twilio_start(parameters: Value, encoding: &str, rate: u32) -> Value {
    json!({
        "event": "start",
        "sequenceNumber": "1",
        "streamSid": "MZ00000000000000000000000000000001",
        "start": {
            "accountSid": "AC00000000000000000000000000000001",
            "streamSid": "MZ00000000000000000000000000000001",
            "callSid": "CA00000000000000000000000000000001",
            "tracks": ["inbound"],
            "customParameters": parameters,
            "mediaFormat": { "encoding": encoding, "sampleRate": rate, "channels": 1 }
        }
    })
}

/// Sends mu-law audio as 20 ms `media` messages (160 bytes), as Twilio does, without real-time pacing.
pub async fn twilio_media(client: &mut JsonSocket, audio: &[u8]) {
    for (i, piece) in audio.chunks(160).enumerate() {
        let payload = base64::engine::general_purpose::STANDARD.encode(piece);
        client
            .send(json!({
                "event": "media",
                "sequenceNumber": (i + 2).to_string(),
                "streamSid": "MZ00000000000000000000000000000001",
                "media": { "track": "inbound", "chunk": (i + 1).to_string(), "timestamp": (i * 20).to_string(), "payload": payload }
            }))
            .await;
    }
}

/// Creates an agent that listens, and returns its id.
pub async fn create_agent(server: &TestServer, key: &str) -> String {
    server
        .create_agent(key, "Listener", json!({ "systemPrompt": "You listen." }))
        .await
}

/// Mints a live-call session token for `agent`.
pub async fn session_token(server: &TestServer, key: &str, agent: &str) -> String {
    let (_, body) = server
        .gql(
            Some(key),
            "mutation($agent: ID!) { createSessionToken(agentId: $agent) { token } }",
            json!({ "agent": agent }),
        )
        .await;
    body["data"]["createSessionToken"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("session token minted: {body}"))
        .to_string()
}

/// Waits (up to 30 s) until the call reaches a terminal state, and returns it with events and segments.
pub async fn ended_call(server: &TestServer, key: &str, call: &str) -> Value {
    let query = "query($id: ID!) { call(id: $id) { id status endedReason from to transport direction durationMs
        events(first: 100) { edges { node { type data } } }
        transcript(first: 100) { edges { node { seq speaker text startMs endMs confidence isFinal } } } } }";
    for _ in 0..300 {
        let (_, body) = server.gql(Some(key), query, json!({ "id": call })).await;
        let call = &body["data"]["call"];
        let status = call["status"]
            .as_str()
            .unwrap_or_else(|| panic!("call readable: {body}"));
        if !["QUEUED", "RINGING", "IN_PROGRESS"].contains(&status) {
            return call.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("call {call} did not end");
}

/// What the caller said in the call, in order (the agent's words left out).
pub fn transcript_text(call: &Value) -> String {
    call["transcript"]["edges"]
        .as_array()
        .expect("transcript")
        .iter()
        .filter(|e| e["node"]["speaker"] != "AGENT")
        .map(|e| e["node"]["text"].as_str().unwrap_or_default())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The call's event types, in order.
pub fn event_types(call: &Value) -> Vec<String> {
    call["events"]["edges"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["node"]["type"].as_str().unwrap_or_default().to_string())
        .collect()
}
