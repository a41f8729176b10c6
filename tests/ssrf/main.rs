//! Server-side request forgery, tried from the outside as an attacker would, on a real server: every way a
//! tenant can make voxedge send a request — webhook endpoints, webhook tools, LLM base URLs — aimed at
//! loopback, link-local (the cloud metadata service), private addresses, names that resolve to them and
//! redirects to them. Each is refused when saved and again when a request would be made. Tenant credentials
//! (LLM keys, tool headers) go only where they belong.

#[path = "../support/mod.rs"]
mod support;

#[path = "../support/openai_server.rs"]
mod openai_server;

mod credentials;
mod input;
mod request;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Value, json};
use support::TestServer;
use support::voice::{JsonSocket, RealtimeAuth, realtime, voice_config};

/// Voice models for admission, no TTS voice (replies come as text), tenants' URLs limited by `allow`.
async fn voice_server(allow: &str) -> TestServer {
    let allow = allow.to_string();
    support::spawn_with(move |config| voice_settings(config, &allow)).await
}

fn voice_settings(config: &mut voxedge::config::Config, allow: &str) {
    config.outbound = voxedge::outbound::OutboundPolicy::parse(allow).expect("valid ranges");
    config.voice = voice_config();
    config.voice.tts_model = "no-voice-in-this-test.onnx".into();
}

/// A local HTTP server that records every request (headers and body) and answers per `path`:
/// paths containing `redirect` with a 307 to `to`, anything else with `{"ok": true}`.
#[derive(Clone)]
struct Receiver {
    url: String,
    seen: Arc<Mutex<Vec<(String, HeaderMap, String)>>>,
}

impl Receiver {
    async fn start(ip: &str, redirect_to: Option<String>) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let state = (seen.clone(), redirect_to);
        let app = axum::Router::new().fallback(answer).with_state(state);
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, seen }
    }

    fn seen(&self) -> Vec<(String, HeaderMap, String)> {
        self.seen.lock().unwrap().clone()
    }
}

type ReceiverState = (Arc<Mutex<Vec<(String, HeaderMap, String)>>>, Option<String>);

async fn answer(State((seen, redirect_to)): State<ReceiverState>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let headers = request.headers().clone();
    let body = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    seen.lock().unwrap().push((
        path.clone(),
        headers,
        String::from_utf8_lossy(&body).into_owned(),
    ));
    match (&redirect_to, path.contains("redirect")) {
        (Some(to), true) => Redirect::temporary(to).into_response(),
        _ => (StatusCode::OK, axum::Json(json!({ "ok": true }))).into_response(),
    }
}

/// The `extensions.fields` of the first error, as (field, code) pairs.
fn field_codes(body: &Value) -> Vec<(String, String)> {
    body["errors"][0]["extensions"]["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("field errors expected: {body}"))
        .iter()
        .map(|f| {
            (
                f["field"].as_str().unwrap().to_string(),
                f["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Opens a Realtime call with `agent` as `key`; returns the socket and the call id.
async fn call(server: &TestServer, key: &str, agent: &str) -> (JsonSocket, String) {
    let mut client = realtime(
        server,
        &format!("agent={agent}"),
        RealtimeAuth::Header(key),
        false,
    )
    .await;
    let created = client.until("session.created").await;
    let id = created["session"]["id"].as_str().unwrap().to_string();
    (client, id)
}

/// Types `text`, asks for a response, and returns the response's text.
async fn ask(client: &mut JsonSocket, text: &str) -> String {
    client
        .send(json!({
            "type": "conversation.item.create",
            "item": { "type": "message", "role": "user", "content": [{ "type": "input_text", "text": text }] }
        }))
        .await;
    client.send(json!({ "type": "response.create" })).await;
    client.until("response.created").await;
    let mut said = String::new();
    loop {
        let event = client.next().await.expect("the call goes on");
        match event["type"].as_str().unwrap_or_default() {
            "response.output_text.delta" => said.push_str(event["delta"].as_str().unwrap()),
            "response.done" => return said,
            "error" => panic!("error during a response: {event}"),
            _ => {}
        }
    }
}

/// Hangs up and returns the ended call's timeline as (type, data) pairs.
async fn hang_up(
    server: &TestServer,
    key: &str,
    client: JsonSocket,
    call: &str,
) -> Vec<(String, Value)> {
    drop(client);
    let ended = support::voice::ended_call(server, key, call).await;
    ended["events"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["node"]["type"].as_str().unwrap().to_string(),
                e["node"]["data"].clone(),
            )
        })
        .collect()
}

fn of_type<'a>(events: &'a [(String, Value)], kind: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|(t, _)| t == kind)
        .map(|(_, d)| d)
        .collect()
}

/// Waits until `check` holds (up to 20 s).
async fn eventually<T>(mut check: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..200 {
        if let Some(value) = check().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("condition not met within 20 s");
}
