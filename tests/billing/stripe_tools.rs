//! Stripe for the tests: localstripe (a stateful Stripe-compatible server from PyPI) started per test, the
//! official `stripe` Python library to sign webhooks, and a local stand-in speaking Stripe's documented wire
//! format for what localstripe does not implement (meter events, customer-portal sessions, invoices created
//! item by item and finalized, subscriptions named by `price`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The venv's python with localstripe and stripe (made once by the project's script).
pub fn python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let root = env!("CARGO_MANIFEST_DIR");
            let output = Command::new(format!("{root}/scripts/fetch-stripe-test-tools"))
                .output()
                .expect("scripts/fetch-stripe-test-tools runs");
            assert!(
                output.status.success(),
                "scripts/fetch-stripe-test-tools failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            PathBuf::from(String::from_utf8(output.stdout).expect("a path").trim())
        })
        .clone()
}

/// The `Stripe-Signature` header the official library makes for `payload` at `timestamp`.
pub fn stripe_signature(payload: &str, secret: &str, timestamp: i64) -> String {
    let output = Command::new(python())
        .args([
            "-c",
            "import sys, stripe; print(stripe.WebhookSignature.generate_signature_header(sys.argv[1], sys.argv[2], int(sys.argv[3])))",
            payload,
            secret,
            &timestamp.to_string(),
        ])
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim()
        .to_string()
}

/// A localstripe server for one test, stopped when dropped.
pub struct Localstripe {
    child: Child,
    pub url: String,
}

impl Localstripe {
    pub fn start() -> Self {
        let script = format!(
            "{}/tests/billing/localstripe_server.py",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut child = Command::new(python())
            .arg(script)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("localstripe starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("localstripe prints its port");
        let port: u16 = line.trim().parse().expect("a port");
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Calls localstripe's API directly (as the test, not as voxedge).
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.url))
            .basic_auth("sk_test_localstripe", None::<&str>)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).expect("form"))
            .send()
            .await
            .expect("localstripe answers");
        let status = response.status();
        let text = response.text().await.expect("a body");
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    pub async fn get(&self, path: &str) -> Value {
        reqwest::Client::new()
            .get(format!("{}{path}", self.url))
            .basic_auth("sk_test_localstripe", None::<&str>)
            .send()
            .await
            .expect("localstripe answers")
            .json()
            .await
            .expect("JSON")
    }
}

impl Drop for Localstripe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request the stand-in received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub form: HashMap<String, String>,
    pub idempotency_key: Option<String>,
}

#[derive(Default)]
struct StandInState {
    seen: Vec<Seen>,
    next: u64,
    /// Meter events Stripe counted: identifier → (event name, value).
    meter_events: HashMap<String, (String, i64)>,
    /// Answers already given per idempotency key (Stripe replays them).
    replies: HashMap<String, Value>,
    /// Meter event requests to fail with a 500 before answering again.
    fail_meter_events: usize,
}

/// A local server speaking Stripe's documented wire format (form-encoded requests, JSON objects back,
/// `Idempotency-Key` replays, meter events deduplicated by `identifier`).
#[derive(Clone)]
pub struct StripeStandIn {
    state: Arc<Mutex<StandInState>>,
    pub url: String,
}

impl StripeStandIn {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(StandInState::default()));
        let app = Router::new()
            .route("/v1/{*path}", axum::routing::any(handle))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            state,
            url: format!("http://{addr}"),
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    pub fn seen_at(&self, method: &str, path: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.method == method && s.path.starts_with(path))
            .collect()
    }

    /// Meter events counted: identifier → (event name, value).
    pub fn meter_events(&self) -> HashMap<String, (String, i64)> {
        self.state.lock().unwrap().meter_events.clone()
    }

    /// Makes the next `n` meter event requests fail with a 500 (after Stripe counted them: the answer is lost).
    pub fn lose_meter_event_answers(&self, n: usize) {
        self.state.lock().unwrap().fail_meter_events = n;
    }
}

async fn handle(
    State(state): State<Arc<Mutex<StandInState>>>,
    method: Method,
    Path(path): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> =
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
            .unwrap_or_default()
            .into_iter()
            .collect();
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut s = state.lock().unwrap();
    s.seen.push(Seen {
        method: method.to_string(),
        path: format!("/{path}"),
        form: form.clone(),
        idempotency_key: key.clone(),
    });
    let _ = uri;
    if let Some(reply) = key.as_ref().and_then(|k| s.replies.get(k)) {
        return axum::Json(reply.clone()).into_response();
    }
    s.next += 1;
    let n = s.next;
    let segments: Vec<&str> = path.split('/').collect();
    let reply = match (method.as_str(), segments.as_slice()) {
        ("POST", ["customers"]) => json!({ "id": format!("cus_{n}"), "object": "customer" }),
        ("POST", ["subscriptions"]) => {
            json!({ "id": format!("sub_{n}"), "object": "subscription", "items": { "data": [{ "id": format!("si_{n}") }] } })
        }
        ("GET" | "POST", ["subscriptions", id]) => {
            json!({ "id": id, "object": "subscription", "items": { "data": [{ "id": format!("si_of_{id}") }] } })
        }
        ("DELETE", ["subscriptions", id]) => {
            json!({ "id": id, "object": "subscription", "status": "canceled" })
        }
        ("POST", ["billing", "meter_events"]) => {
            let identifier = form.get("identifier").cloned().unwrap_or_default();
            let value: i64 = form
                .get("payload[value]")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let name = form.get("event_name").cloned().unwrap_or_default();
            s.meter_events
                .entry(identifier.clone())
                .or_insert((name.clone(), value));
            if s.fail_meter_events > 0 {
                s.fail_meter_events -= 1;
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    axum::Json(
                        json!({ "error": { "type": "api_error", "message": "answer lost" } }),
                    ),
                )
                    .into_response();
            }
            json!({ "object": "billing.meter_event", "identifier": identifier, "event_name": name })
        }
        ("POST", ["invoices"]) => {
            json!({ "id": format!("in_{n}"), "object": "invoice", "status": "draft" })
        }
        ("POST", ["invoiceitems"]) => json!({ "id": format!("ii_{n}"), "object": "invoiceitem" }),
        ("POST", ["invoices", id, "finalize"]) => {
            json!({ "id": id, "object": "invoice", "status": "open" })
        }
        ("POST", ["billing_portal", "sessions"]) => {
            json!({ "id": format!("bps_{n}"), "object": "billing_portal.session", "url": format!("https://billing.stripe.test/session/{n}") })
        }
        _ => {
            return (StatusCode::NOT_FOUND, axum::Json(json!({ "error": { "type": "invalid_request_error", "message": format!("Unrecognized request URL ({method}: /v1/{path})") } }))).into_response();
        }
    };
    if let Some(key) = key {
        s.replies.insert(key, reply.clone());
    }
    axum::Json(reply).into_response()
}
