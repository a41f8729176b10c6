//! Traces, end to end: the real `voxedge serve` exports over OTLP/HTTP to a local receiver — a GraphQL request's
//! trace (continuing the caller's `traceparent`, in JSON or protobuf) and a live phone call's trace with its
//! per-turn spans in order, carrying the figures of the call's timeline and no phone numbers or words.

#[path = "../support/mod.rs"]
mod support;

#[path = "../support/openai_server.rs"]
mod openai_server;

mod live;
mod receiver;

use std::time::Duration;

use serde_json::{Value, json};
use support::process::{ServerProcess, run_ok, stdout_json};

use receiver::{Receiver, all_attribute_text};

/// A server exporting to `receiver`, in `protocol`, with `extra` flags. Spans go out every 100 ms.
pub fn traced_server(
    data: &std::path::Path,
    receiver: &Receiver,
    protocol: &str,
    extra: &[&str],
) -> ServerProcess {
    let mut args = vec![
        "--otlp-endpoint",
        receiver.url.as_str(),
        "--otlp-protocol",
        protocol,
    ];
    args.extend_from_slice(extra);
    // The exporter's batch delay (the SDK reads it), so the test need not wait 5 s per batch.
    ServerProcess::start_with_env(data, &args, &[("OTEL_BSP_SCHEDULE_DELAY", "100")])
}

pub async fn gql(
    client: &reqwest::Client,
    server: &ServerProcess,
    key: Option<&str>,
    body: Value,
    headers: &[(&str, &str)],
) -> Value {
    let mut request = client.post(server.url("/graphql")).json(&body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn a_graphql_request_is_one_trace_continuing_the_callers() {
    support::install_crypto();
    let receiver = Receiver::start().await;
    let data = tempfile::tempdir().unwrap();
    let created = stdout_json(&run_ok(
        data.path(),
        &["tenant", "create", "--name", "Acme"],
    ));
    let key = created["api_key"].as_str().unwrap().to_string();
    let tenant = created["tenant_id"].as_str().unwrap().to_string();
    let server = traced_server(data.path(), &receiver, "json", &[]);
    let client = reqwest::Client::new();

    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let body = gql(
        &client,
        &server,
        Some(&key),
        json!({ "query": "query Agents { agents(first: 5) { nodes { id } } }", "operationName": "Agents" }),
        &[("traceparent", &format!("00-{trace}-{caller_span}-01"))],
    )
    .await;
    assert!(body["data"]["agents"].is_object(), "{body}");
    // Personal data in a request never becomes an attribute.
    let body = gql(
        &client,
        &server,
        None,
        json!({ "query": "mutation SignUp($i: SignUpInput!) { signUp(input: $i) { user { id } } }", "operationName": "SignUp",
                "variables": { "i": { "email": "grace.hopper@navy.example", "password": "correct horse battery staple", "tenantName": "Compilers" } } }),
        &[],
    )
    .await;
    assert!(body["data"]["signUp"]["user"]["id"].is_string(), "{body}");

    let spans = receiver
        .wait_for("the GraphQL traces", |spans| {
            spans
                .iter()
                .any(|s| s.trace_id == trace && s.name == "POST /graphql")
                && spans.iter().any(|s| s.name == "mutation SignUp")
        })
        .await;
    let ours: Vec<_> = spans.iter().filter(|s| s.trace_id == trace).collect();
    let request = ours.iter().find(|s| s.name == "POST /graphql").unwrap();
    assert_eq!(
        request.parent_span_id, caller_span,
        "continues the caller's trace"
    );
    assert_eq!(request.kind, 2, "a server span");
    assert_eq!(request.attr("http.route"), "/graphql");
    assert_eq!(request.attr("http.response.status_code"), 200);
    assert_eq!(request.service.as_deref(), Some("voxedge"));
    assert!(request.encoding.contains("json"), "{}", request.encoding);
    let operation = ours.iter().find(|s| s.name == "query Agents").unwrap();
    assert_eq!(operation.parent_span_id, request.span_id);
    assert_eq!(operation.attr("graphql.operation.type"), "query");
    assert_eq!(operation.attr("graphql.operation.name"), "Agents");
    assert_eq!(operation.attr("voxedge.tenant_id"), tenant.as_str());
    assert_eq!(operation.attr("voxedge.outcome"), "ok");
    let sqlite: Vec<_> = ours
        .iter()
        .filter(|s| s.name.starts_with("sqlite "))
        .collect();
    assert!(
        sqlite
            .iter()
            .any(|s| s.parent_span_id == operation.span_id
                && s.attr("db.namespace") == tenant.as_str()),
        "the tenant database read is a child of the operation: {sqlite:#?}"
    );
    assert!(
        sqlite
            .iter()
            .all(|s| s.start_ns >= request.start_ns && s.end_ns <= request.end_ns)
    );

    let text = all_attribute_text(&spans);
    for secret in [
        "grace.hopper",
        "navy.example",
        "correct horse",
        &key[key.len() - 16..],
    ] {
        assert!(
            !text.contains(&secret.to_lowercase()),
            "{secret:?} in an attribute"
        );
    }

    // The request's log lines carry the trace id.
    let logs: Vec<String> =
        std::iter::from_fn(|| server.logs.recv_timeout(Duration::from_millis(200)).ok()).collect();
    assert!(
        logs.iter()
            .any(|l| l.contains("request completed") && l.contains(trace)),
        "no log line with the trace id: {:#?}",
        &logs[..logs.len().min(10)]
    );
}
