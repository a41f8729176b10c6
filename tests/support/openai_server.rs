//! A scriptable OpenAI-compatible Chat Completions server on 127.0.0.1:0, for tests and benches.
//!
//! Include it with `#[path = "support/openai_server.rs"] mod openai_server;`. It depends only on
//! axum, tokio, serde_json and futures (for the streamed body), never on voxedge itself, so it
//! fakes the provider at the HTTP level: what it answers is exactly what a real provider would send
//! over the wire (`data: {...}` chunks, tool-call argument fragments, a usage chunk, `[DONE]`).
//!
//! Each request takes the next [`Scripted`] reply from a queue (a request with no script left gets
//! HTTP 500). Every request body is recorded, and the server notices a client that goes away before
//! the stream ends, so tests can prove that cancellation really closes the connection.
#![allow(dead_code)] // Every test binary uses a different part of it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// Length of the argument fragments tool calls are streamed in, as OpenAI splits them.
const ARGUMENT_FRAGMENT: usize = 7;

/// How a scripted reply fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this HTTP status and an OpenAI-style error body.
    Status(u16),
    /// Send the headers and the role chunk, then nothing, forever.
    Hang,
    /// Stream this many text tokens, then break the connection.
    DropAfter(usize),
    /// Stream the text tokens, then the same text again and again, as fast as the client reads, forever.
    Forever,
}

/// What the server answers to one request.
#[derive(Debug, Clone)]
pub struct Scripted {
    /// Text tokens, streamed one per chunk.
    pub tokens: Vec<String>,
    /// Tool calls (name, raw argument text), streamed after the text in fragments.
    pub tool_calls: Vec<(String, String)>,
    /// Delay before the first text or tool-call chunk.
    pub first_token_delay: Duration,
    /// Delay before every later chunk.
    pub token_delay: Duration,
    /// (prompt, completion) tokens for the usage chunk, sent when the request asks for it.
    pub usage: Option<(u32, u32)>,
    /// A failure to act out instead of (or in the middle of) the reply.
    pub fault: Option<Fault>,
    /// End lines with `\r\n` instead of `\n`.
    pub crlf: bool,
}

impl Scripted {
    /// A text reply split into word tokens ("Hello there." → "Hello ", "there.").
    pub fn text(text: &str) -> Self {
        Self::tokens(text.split_inclusive(' '))
    }

    /// A text reply made of exactly these tokens.
    pub fn tokens<S: Into<String>>(tokens: impl IntoIterator<Item = S>) -> Self {
        let tokens: Vec<String> = tokens.into_iter().map(Into::into).collect();
        let completion = u32::try_from(tokens.len()).unwrap_or(u32::MAX);
        Self {
            tokens,
            tool_calls: Vec::new(),
            first_token_delay: Duration::ZERO,
            token_delay: Duration::ZERO,
            usage: Some((42, completion)),
            fault: None,
            crlf: false,
        }
    }

    /// A reply that only calls one tool with these arguments.
    pub fn tool_call(name: &str, arguments: Value) -> Self {
        Self::tokens(Vec::<String>::new()).and_tool_call(name, arguments)
    }

    /// Adds a tool call after the text.
    pub fn and_tool_call(self, name: &str, arguments: Value) -> Self {
        self.and_raw_tool_call(name, &arguments.to_string())
    }

    /// Adds a tool call whose argument text is sent verbatim (e.g. broken JSON).
    pub fn and_raw_tool_call(mut self, name: &str, arguments: &str) -> Self {
        self.tool_calls
            .push((name.to_owned(), arguments.to_owned()));
        self
    }

    /// Fails with an HTTP status.
    pub fn status(code: u16) -> Self {
        Self::tokens(Vec::<String>::new()).fault(Fault::Status(code))
    }

    /// Never sends a first token.
    pub fn hang() -> Self {
        Self::tokens(Vec::<String>::new()).fault(Fault::Hang)
    }

    /// Sets the fault.
    pub fn fault(mut self, fault: Fault) -> Self {
        self.fault = Some(fault);
        self
    }

    /// Never stops streaming its text.
    pub fn forever(self) -> Self {
        self.fault(Fault::Forever)
    }

    /// Breaks the connection after `tokens` text tokens.
    pub fn drop_after(self, tokens: usize) -> Self {
        self.fault(Fault::DropAfter(tokens))
    }

    /// Sets the delay before the first token.
    pub fn first_token_delay(mut self, delay: Duration) -> Self {
        self.first_token_delay = delay;
        self
    }

    /// Sets the delay between tokens.
    pub fn token_delay(mut self, delay: Duration) -> Self {
        self.token_delay = delay;
        self
    }

    /// Sends no usage chunk even when asked.
    pub fn without_usage(mut self) -> Self {
        self.usage = None;
        self
    }

    /// Uses `\r\n` line ends.
    pub fn crlf(mut self) -> Self {
        self.crlf = true;
        self
    }
}

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The JSON body.
    pub body: Value,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
}

impl Recorded {
    /// The request's messages.
    pub fn messages(&self) -> &[Value] {
        self.body["messages"].as_array().map_or(&[], Vec::as_slice)
    }
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Scripted>>,
    requests: Mutex<Vec<Recorded>>,
    completed: AtomicUsize,
    dropped: AtomicUsize,
    changed: Notify,
}

/// A running fake provider; it stops with the test's runtime.
#[derive(Clone)]
pub struct OpenAiServer {
    shared: Arc<Shared>,
    base_url: String,
}

impl OpenAiServer {
    /// Starts a server with an empty script.
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1").await
    }

    /// Starts a server with an empty script on `ip` (any 127.x.y.z reaches the loopback interface).
    pub async fn start_on(ip: &str) -> Self {
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/v1/chat/completions", post(completions))
            .with_state(shared.clone());
        let listener = TcpListener::bind((ip, 0))
            .await
            .expect("binding a loopback port works in tests");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("the test server runs until the runtime stops");
        });
        Self {
            shared,
            base_url: format!("http://{addr}/v1"),
        }
    }

    /// Starts a server that answers requests with `replies`, in order.
    pub async fn with_script(replies: impl IntoIterator<Item = Scripted>) -> Self {
        let server = Self::start().await;
        for reply in replies {
            server.push(reply);
        }
        server
    }

    /// The base URL to configure as a provider's `base_url` (`http://127.0.0.1:PORT/v1`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Queues the answer to a later request.
    pub fn push(&self, reply: Scripted) {
        lock(&self.shared.script).push_back(reply);
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }

    /// How many requests arrived.
    pub fn request_count(&self) -> usize {
        lock(&self.shared.requests).len()
    }

    /// Streams the client read to the end.
    pub fn completed_streams(&self) -> usize {
        self.shared.completed.load(Ordering::SeqCst)
    }

    /// Streams abandoned by the client (connection closed) before their end.
    pub fn dropped_streams(&self) -> usize {
        self.shared.dropped.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` streams were abandoned by the client.
    pub async fn wait_for_dropped_streams(&self, n: usize) {
        loop {
            let changed = self.shared.changed.notified();
            if self.dropped_streams() >= n {
                return;
            }
            changed.await;
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn completions(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let include_usage = body["stream_options"]["include_usage"] == json!(true);
    let model = body["model"].as_str().unwrap_or("test-model").to_owned();
    lock(&shared.requests).push(Recorded {
        body,
        authorization,
    });
    let Some(script) = lock(&shared.script).pop_front() else {
        return error_response(500, "no scripted reply left");
    };
    if let Some(Fault::Status(code)) = script.fault {
        return error_response(code, "scripted failure");
    }
    let steps = steps(&script, &model, include_usage);
    let guard = StreamGuard {
        shared,
        finished: false,
    };
    let stream = futures::stream::unfold((steps, guard), |(mut steps, mut guard)| async move {
        loop {
            match steps.pop_front() {
                Some(Step::Wait(d)) => tokio::time::sleep(d).await,
                Some(Step::Send(bytes)) => return Some((Ok(bytes), (steps, guard))),
                Some(Step::Repeat(bytes)) => {
                    steps.push_front(Step::Repeat(bytes.clone()));
                    return Some((Ok(bytes), (steps, guard)));
                }
                Some(Step::Hang) => std::future::pending::<()>().await,
                Some(Step::Break) => {
                    // The server breaks the stream on purpose; that is not the client leaving.
                    guard.mark_finished();
                    let error = std::io::Error::other("scripted connection drop");
                    return Some((Err(error), (steps, guard)));
                }
                None => {
                    guard.mark_finished();
                    return None;
                }
            }
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(stream))
        .expect("static headers are valid")
}

fn error_response(code: u16, message: &str) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({"error": {"message": message, "type": "server_error", "code": code}});
    (status, Json(body)).into_response()
}

enum Step {
    Wait(Duration),
    Send(Bytes),
    /// Sends these bytes, then this step again.
    Repeat(Bytes),
    Hang,
    Break,
}

/// Counts how a stream ended when hyper drops it.
struct StreamGuard {
    shared: Arc<Shared>,
    finished: bool,
}

impl StreamGuard {
    fn mark_finished(&mut self) {
        self.finished = true;
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let counter = if self.finished {
            &self.shared.completed
        } else {
            &self.shared.dropped
        };
        counter.fetch_add(1, Ordering::SeqCst);
        self.shared.changed.notify_waiters();
    }
}

/// The wire form of a scripted reply.
fn steps(script: &Scripted, model: &str, include_usage: bool) -> VecDeque<Step> {
    let eol = if script.crlf { "\r\n" } else { "\n" };
    let event = |payload: String| Step::Send(Bytes::from(format!("data: {payload}{eol}{eol}")));
    let chunk = |delta: Value, finish: Value| {
        json!({
            "id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
        })
        .to_string()
    };
    let mut steps = VecDeque::new();
    steps.push_back(Step::Send(Bytes::from(format!(": keep-alive{eol}{eol}"))));
    steps.push_back(event(chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )));
    if script.fault == Some(Fault::Hang) {
        steps.push_back(Step::Hang);
        return steps;
    }
    let mut first = true;
    let mut wait = |steps: &mut VecDeque<Step>| {
        let delay = if first {
            script.first_token_delay
        } else {
            script.token_delay
        };
        first = false;
        if !delay.is_zero() {
            steps.push_back(Step::Wait(delay));
        }
    };
    // hyper discards unflushed output when a body fails; a pause first lets what was "sent" arrive.
    let break_off = |steps: &mut VecDeque<Step>| {
        steps.push_back(Step::Wait(script.token_delay.max(Duration::from_millis(5))));
        steps.push_back(Step::Break);
    };
    for (i, token) in script.tokens.iter().enumerate() {
        if script.fault == Some(Fault::DropAfter(i)) {
            break_off(&mut steps);
            return steps;
        }
        wait(&mut steps);
        steps.push_back(event(chunk(json!({"content": token}), Value::Null)));
    }
    if script.fault == Some(Fault::DropAfter(script.tokens.len())) {
        break_off(&mut steps);
        return steps;
    }
    if script.fault == Some(Fault::Forever) {
        let text: String = script.tokens.concat();
        let again = format!(
            "data: {}{eol}{eol}",
            chunk(json!({ "content": text }), Value::Null)
        );
        steps.push_back(Step::Repeat(Bytes::from(again)));
        return steps;
    }
    for (index, (name, arguments)) in script.tool_calls.iter().enumerate() {
        wait(&mut steps);
        let head = json!({"tool_calls": [{
            "index": index, "id": format!("call_{index}_{name}"), "type": "function",
            "function": {"name": name, "arguments": ""}
        }]});
        steps.push_back(event(chunk(head, Value::Null)));
        let chars: Vec<char> = arguments.chars().collect();
        for fragment in chars.chunks(ARGUMENT_FRAGMENT) {
            let fragment: String = fragment.iter().collect();
            let delta =
                json!({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]});
            steps.push_back(event(chunk(delta, Value::Null)));
        }
    }
    let finish = if script.tool_calls.is_empty() {
        "stop"
    } else {
        "tool_calls"
    };
    steps.push_back(event(chunk(json!({}), json!(finish))));
    if let (true, Some((prompt, completion))) = (include_usage, script.usage) {
        let usage = json!({
            "id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0, "model": model,
            "choices": [],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
        });
        steps.push_back(event(usage.to_string()));
    }
    steps.push_back(Step::Send(Bytes::from(format!("data: [DONE]{eol}{eol}"))));
    steps
}
