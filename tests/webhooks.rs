//! Outgoing webhooks delivered to a real local HTTP receiver.

mod support;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use support::{TestServer, error_code};

/// A webhook receiver: answers with scripted statuses (then 200) and records every request.
#[derive(Clone, Default)]
struct Receiver {
    script: Arc<Mutex<VecDeque<u16>>>,
    received: Arc<Mutex<Vec<(HeaderMap, String)>>>,
}

impl Receiver {
    async fn start(script: &[u16]) -> (Self, String) {
        let receiver = Receiver {
            script: Arc::new(Mutex::new(script.iter().copied().collect())),
            ..Default::default()
        };
        let state = receiver.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let state = state.clone();
                async move {
                    state.received.lock().unwrap().push((headers, body));
                    let status = state.script.lock().unwrap().pop_front().unwrap_or(200);
                    StatusCode::from_u16(status).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (receiver, url)
    }

    fn received(&self) -> Vec<(HeaderMap, String)> {
        self.received.lock().unwrap().clone()
    }

    async fn wait_for(&self, count: usize) -> Vec<(HeaderMap, String)> {
        for _ in 0..500 {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "expected {count} webhook requests, got {}",
            self.received().len()
        );
    }
}

/// Verifies `X-Voxedge-Signature` independently of the server's code, as a tenant would.
fn signature_valid(secret: &str, header: &str, body: &str) -> bool {
    let parts: std::collections::HashMap<&str, &str> = header
        .split(',')
        .filter_map(|p| p.split_once('='))
        .collect();
    let (Some(t), Some(v1)) = (parts.get("t"), parts.get("v1")) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let age = chrono::Utc::now().timestamp() - t.parse::<i64>().unwrap();
    age.abs() < 300 && hex::encode(mac.finalize().into_bytes()) == *v1
}

async fn fast_retry_server() -> TestServer {
    support::spawn_with(|c| {
        support::allow_loopback(c);
        c.webhooks.retry_base = Duration::from_millis(50);
        c.webhooks.max_attempts = 3;
        c.webhooks.timeout = Duration::from_secs(2);
    })
    .await
}

async fn endpoint(server: &TestServer, key: &str, url: &str, events: &[&str]) -> (String, String) {
    let (_, body) = server
        .gql(
            Some(key),
            "mutation($input: WebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret endpoint { id events } } }",
            json!({ "input": { "url": url, "events": events } }),
        )
        .await;
    let payload = &body["data"]["createWebhookEndpoint"];
    assert!(
        payload["secret"].as_str().unwrap().starts_with("whsec_"),
        "{body}"
    );
    (
        payload["endpoint"]["id"].as_str().unwrap().to_string(),
        payload["secret"].as_str().unwrap().to_string(),
    )
}

async fn new_call(server: &TestServer, key: &str) -> String {
    let agent = server
        .create_agent(key, "A", json!({ "systemPrompt": "Hi" }))
        .await;
    server
        .create_call(
            key,
            &agent,
            json!({ "direction": "INBOUND", "transport": "WEB" }),
        )
        .await
}

async fn set_status(server: &TestServer, key: &str, call: &str, status: &str) -> Value {
    server.set_call_status(key, call, status, None).await
}

async fn deliveries(server: &TestServer, key: &str, endpoint: &str) -> Vec<Value> {
    let (_, body) = server
        .gql(
            Some(key),
            "query($id: ID!) { webhookEndpoint(id: $id) { deliveries { nodes { id eventType status attempts lastStatusCode lastError } } } }",
            json!({ "id": endpoint }),
        )
        .await;
    body["data"]["webhookEndpoint"]["deliveries"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn deliveries_are_signed_and_carry_the_call_and_its_transcript() {
    let server = fast_retry_server().await;
    let acme = server.tenant("Acme").await;
    let (receiver, url) = Receiver::start(&[]).await;
    let (endpoint_id, secret) = endpoint(
        &server,
        &acme.key,
        &url,
        &["CALL_STARTED", "CALL_ENDED", "TRANSCRIPT_READY"],
    )
    .await;
    let call = new_call(&server, &acme.key).await;
    set_status(&server, &acme.key, &call, "IN_PROGRESS").await;
    server
        .gql(
            Some(&acme.key),
            "mutation($c: ID!) { addTranscriptSegments(callId: $c, segments: [{seq: 1, speaker: CALLER, text: \"hello there\", startMs: 0, endMs: 900}]) { seq } }",
            json!({ "c": call }),
        )
        .await;
    set_status(&server, &acme.key, &call, "COMPLETED").await;

    let received = receiver.wait_for(3).await;
    let events: Vec<&str> = received
        .iter()
        .map(|(h, _)| h["x-voxedge-event"].to_str().unwrap())
        .collect();
    assert_eq!(
        events,
        ["call.started", "call.ended", "transcript.ready"],
        "in order"
    );
    for (headers, body) in &received {
        let signature = headers["x-voxedge-signature"].to_str().unwrap();
        assert!(
            signature_valid(&secret, signature, body),
            "signature {signature} does not verify"
        );
        assert!(!signature_valid("whsec_wrong", signature, body));
        let payload: Value = serde_json::from_str(body).unwrap();
        assert_eq!(payload["tenantId"], acme.id.to_string());
        assert_eq!(payload["data"]["call"]["id"], call);
        assert_eq!(
            payload["id"],
            headers["x-voxedge-delivery"].to_str().unwrap()
        );
    }
    let ended: Value = serde_json::from_str(&received[1].1).unwrap();
    assert_eq!(ended["data"]["call"]["status"], "completed");
    let transcript: Value = serde_json::from_str(&received[2].1).unwrap();
    assert_eq!(transcript["data"]["transcript"][0]["text"], "hello there");

    tokio::time::sleep(Duration::from_millis(100)).await;
    let log = deliveries(&server, &acme.key, &endpoint_id).await;
    assert_eq!(log.len(), 3);
    assert!(
        log.iter().all(|d| d["status"] == "DELIVERED"
            && d["attempts"] == 1
            && d["lastStatusCode"] == 200),
        "{log:?}"
    );
}

#[tokio::test]
async fn a_failing_receiver_is_retried_then_succeeds() {
    let server = fast_retry_server().await;
    let acme = server.tenant("Acme").await;
    let (receiver, url) = Receiver::start(&[500, 500]).await;
    let (endpoint_id, _) = endpoint(&server, &acme.key, &url, &["CALL_CREATED"]).await;
    new_call(&server, &acme.key).await;
    let received = receiver.wait_for(3).await;
    let ids: Vec<&str> = received
        .iter()
        .map(|(h, _)| h["x-voxedge-delivery"].to_str().unwrap())
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "retries keep the delivery id"
    );
    assert_eq!(received[0].1, received[2].1, "retries send the same body");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let log = deliveries(&server, &acme.key, &endpoint_id).await;
    assert_eq!(log[0]["status"], "DELIVERED", "{log:?}");
    assert_eq!(log[0]["attempts"], 3);
}

#[tokio::test]
async fn a_receiver_that_keeps_failing_is_given_up_and_can_be_retried_by_hand() {
    let server = fast_retry_server().await;
    let acme = server.tenant("Acme").await;
    let (receiver, url) = Receiver::start(&[500, 503, 500, 500]).await;
    let (endpoint_id, _) = endpoint(&server, &acme.key, &url, &["CALL_CREATED"]).await;
    new_call(&server, &acme.key).await;
    receiver.wait_for(3).await;
    // The budget is 3 attempts: nothing more arrives.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(receiver.received().len(), 3);
    let log = deliveries(&server, &acme.key, &endpoint_id).await;
    assert_eq!(log[0]["status"], "FAILED", "{log:?}");
    assert_eq!(log[0]["attempts"], 3);
    assert_eq!(log[0]["lastStatusCode"], 500);

    let (_, body) = server
        .gql(
            Some(&acme.key),
            "mutation($id: ID!) { retryWebhookDelivery(id: $id) { status } }",
            json!({ "id": log[0]["id"] }),
        )
        .await;
    assert_eq!(
        body["data"]["retryWebhookDelivery"]["status"], "PENDING",
        "{body}"
    );
    receiver.wait_for(4).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let log = deliveries(&server, &acme.key, &endpoint_id).await;
    assert_eq!(
        log[0]["status"], "FAILED",
        "the scripted 4th answer is 500 again"
    );
    assert_eq!(log[0]["attempts"], 4);
    let (_, body) = server
        .gql(
            Some(&acme.key),
            "mutation($id: ID!) { retryWebhookDelivery(id: $id) { status } }",
            json!({ "id": "nope" }),
        )
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND");
}

#[tokio::test]
async fn a_refused_change_writes_no_delivery_and_endpoints_are_validated_and_isolated() {
    let server = fast_retry_server().await;
    let acme = server.tenant("Acme").await;
    let globex = server.tenant("Globex").await;
    let (receiver, url) = Receiver::start(&[]).await;
    let (endpoint_id, _) = endpoint(&server, &acme.key, &url, &["CALL_ENDED"]).await;
    let call = new_call(&server, &acme.key).await;
    // queued -> completed is illegal: the transaction rolls back, outbox row included.
    let body = set_status(&server, &acme.key, &call, "COMPLETED").await;
    assert_eq!(error_code(&body), "INVALID_STATE_TRANSITION");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.received().is_empty());
    assert!(
        deliveries(&server, &acme.key, &endpoint_id)
            .await
            .is_empty()
    );

    let (_, body) = server
        .gql(Some(&acme.key), "mutation { createWebhookEndpoint(input: {url: \"file:///etc/passwd\", events: []}) { secret } }", json!({}))
        .await;
    let fields: Vec<&str> = body["errors"][0]["extensions"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["input.url", "input.events"]);

    let (_, body) = server
        .gql(
            Some(&globex.key),
            "query($id: ID!) { webhookEndpoint(id: $id) { url } }",
            json!({ "id": endpoint_id }),
        )
        .await;
    assert_eq!(
        body["data"]["webhookEndpoint"],
        Value::Null,
        "another tenant sees nothing"
    );
    let (_, body) = server
        .gql(
            Some(&globex.key),
            "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }",
            json!({ "id": endpoint_id }),
        )
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND");
    let (_, body) = server
        .gql(
            Some(&acme.key),
            "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }",
            json!({ "id": endpoint_id }),
        )
        .await;
    assert!(
        body["data"]["rotateWebhookSecret"]["secret"]
            .as_str()
            .unwrap()
            .starts_with("whsec_")
    );
}

#[tokio::test]
async fn a_hanging_endpoint_of_one_tenant_does_not_hold_up_another_tenants_deliveries() {
    // Default dispatcher settings: each attempt at a hanging endpoint takes the whole 10 s timeout.
    let server = support::spawn_with(support::allow_loopback).await;
    let hung = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hung.clone();
    let app = axum::Router::new().route(
        "/hang",
        axum::routing::post(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::future::pending::<()>()
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hang_url = format!("http://{}/hang", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    // One tenant with thirty deliveries queued for an endpoint that never answers.
    let slow = server.tenant("Slow").await;
    endpoint(&server, &slow.key, &hang_url, &["CALL_CREATED"]).await;
    let agent = server
        .create_agent(&slow.key, "A", json!({ "systemPrompt": "Hi" }))
        .await;
    for _ in 0..30 {
        server
            .create_call(
                &slow.key,
                &agent,
                json!({ "direction": "INBOUND", "transport": "WEB" }),
            )
            .await;
    }
    for _ in 0..100 {
        if hung.load(std::sync::atomic::Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Meanwhile another tenant's delivery goes out at once.
    let fast = server.tenant("Fast").await;
    let (receiver, url) = Receiver::start(&[]).await;
    endpoint(&server, &fast.key, &url, &["CALL_CREATED"]).await;
    let started = std::time::Instant::now();
    new_call(&server, &fast.key).await;
    receiver.wait_for(1).await;
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(3), "waited {waited:?}");
    // And the hanging endpoint is asked once at a time, not once per queued delivery.
    assert_eq!(hung.load(std::sync::atomic::Ordering::SeqCst), 1);
}
