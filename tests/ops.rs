//! Operational endpoints: health, readiness, and Prometheus metrics that promtool accepts.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn healthz_and_readyz() {
    let server = support::spawn().await;
    let health = server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let ready = server
        .client
        .get(server.url("/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["catalog"]["ok"], true);
    assert_eq!(body["checks"]["data_dir"]["ok"], true);

    // The data directory disappears (a lost volume): the process is alive but not ready.
    std::fs::rename(&server.data_dir, server.data_dir.with_extension("gone")).unwrap();
    let health = server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let ready = server
        .client
        .get(server.url("/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["checks"]["data_dir"]["ok"], false);
    std::fs::rename(server.data_dir.with_extension("gone"), &server.data_dir).unwrap();
}

#[tokio::test]
async fn metrics_pass_promtool_and_cover_requests_operations_tenants_and_caches() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    for _ in 0..3 {
        server
            .gql(Some(&acme.key), "{ viewer { tenant { id } } }", json!({}))
            .await;
    }
    server.gql(Some(&acme.key), "{ nope }", json!({})).await;
    let response = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();

    for expected in [
        "voxedge_http_requests_total{route=\"/graphql\",method=\"POST\",status=\"200\"}",
        "voxedge_http_request_duration_seconds_bucket{route=\"/graphql\",method=\"POST\",le=",
        "voxedge_graphql_operations_total{type=\"query\",outcome=\"ok\"}",
        "voxedge_graphql_operations_total{type=\"query\",outcome=\"rejected\"}",
        "voxedge_graphql_operation_duration_seconds_bucket",
        "voxedge_tenants_open ",
        "voxedge_cache_hits_total{cache=\"api_key\"}",
        "voxedge_cache_misses_total{cache=\"tenant_db\"}",
        "# HELP voxedge_http_requests_total",
    ] {
        assert!(text.contains(expected), "missing {expected} in:\n{text}");
    }

    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (scripts/setup-system installs the prometheus package)");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = promtool.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
