//! Live subscriptions over graphql-transport-ws, through the real server.

use crate::support::TestServer;
use crate::support::ws::GqlWs;
use serde_json::{Value, json};

async fn agent_and_call(server: &TestServer, key: &str) -> String {
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

async fn connect(server: &TestServer, key: &str) -> GqlWs {
    GqlWs::connect(
        &server.ws_url("/graphql"),
        json!({ "Authorization": format!("Bearer {key}") }),
    )
    .await
    .expect("connected")
}

/// Sends `count` segments in batches, labelled with `label` so tenants' texts can be told apart.
async fn stream_segments(
    server: &TestServer,
    key: &str,
    call: &str,
    label: &str,
    count: usize,
    batch: usize,
) {
    for start in (1..=count).step_by(batch) {
        let segments: Vec<Value> = (start..(start + batch).min(count + 1))
            .map(|seq| json!({ "seq": seq, "speaker": "CALLER", "text": format!("{label} segment {seq}"), "startMs": seq * 10, "endMs": seq * 10 + 5 }))
            .collect();
        let (_, body) = server
            .gql(
                Some(key),
                "mutation($c: ID!, $s: [TranscriptSegmentInput!]!) { addTranscriptSegments(callId: $c, segments: $s) { seq } }",
                json!({ "c": call, "s": segments }),
            )
            .await;
        assert!(body.get("errors").is_none(), "{body}");
    }
}

/// Reads `count` segments of subscription `id`, returning their (seq, text).
async fn read_segments(ws: &mut GqlWs, id: &str, count: usize) -> Vec<(i64, String)> {
    let mut received = Vec::with_capacity(count);
    while received.len() < count {
        let message = ws.next_message().await.expect("segment");
        assert_eq!(message["type"], "next", "{message}");
        assert_eq!(message["id"], id);
        let segment = &message["payload"]["data"]["transcriptSegments"];
        received.push((
            segment["seq"].as_i64().unwrap(),
            segment["text"].as_str().unwrap().to_string(),
        ));
    }
    received
}

const SEGMENTS: &str = "subscription($c: ID!, $after: Int) { transcriptSegments(callId: $c, afterSeq: $after) { seq text } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_gets_1000_segments_in_order_while_another_tenant_streams() {
    let server = crate::support::spawn().await;
    let acme = server.tenant("Acme").await;
    let globex = server.tenant("Globex").await;
    let acme_call = agent_and_call(&server, &acme.key).await;
    let globex_call = agent_and_call(&server, &globex.key).await;
    let mut acme_ws = connect(&server, &acme.key).await;
    let mut globex_ws = connect(&server, &globex.key).await;
    acme_ws
        .subscribe("a", SEGMENTS, json!({ "c": acme_call }))
        .await;
    globex_ws
        .subscribe("g", SEGMENTS, json!({ "c": globex_call }))
        .await;
    // Let both subscriptions register before anything is published.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    let (a, g) = tokio::join!(
        stream_segments(&server, &acme.key, &acme_call, "acme", 1000, 50),
        stream_segments(&server, &globex.key, &globex_call, "globex", 1000, 50),
    );
    let _ = (a, g);
    let (acme_got, globex_got) = tokio::join!(
        read_segments(&mut acme_ws, "a", 1000),
        read_segments(&mut globex_ws, "g", 1000)
    );
    let expected_seqs: Vec<i64> = (1..=1000).collect();
    assert_eq!(
        acme_got.iter().map(|s| s.0).collect::<Vec<_>>(),
        expected_seqs,
        "in order, nothing lost or repeated"
    );
    assert!(
        acme_got.iter().all(|(_, text)| text.starts_with("acme ")),
        "no other tenant's text"
    );
    assert_eq!(
        globex_got.iter().map(|s| s.0).collect::<Vec<_>>(),
        expected_seqs
    );
    assert!(
        globex_got
            .iter()
            .all(|(_, text)| text.starts_with("globex "))
    );
}

/// With a tiny event buffer, a burst overruns the subscriber's queue; it resynchronises from the
/// database and still delivers everything, in order, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_subscriber_resynchronises_without_losing_segments() {
    let server = crate::support::spawn_with(|c| c.event_buffer = 16).await;
    let acme = server.tenant("Acme").await;
    let call = agent_and_call(&server, &acme.key).await;
    let mut ws = connect(&server, &acme.key).await;
    ws.subscribe("a", SEGMENTS, json!({ "c": call })).await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    stream_segments(&server, &acme.key, &call, "burst", 1500, 500).await;
    let got = read_segments(&mut ws, "a", 1500).await;
    assert_eq!(
        got.iter().map(|s| s.0).collect::<Vec<_>>(),
        (1..=1500).collect::<Vec<i64>>()
    );
    let metrics = voxedge::telemetry::metrics_handle().render();
    assert!(
        metrics.contains("voxedge_subscription_resyncs_total{subscription=\"transcriptSegments\"}"),
        "the burst made the subscriber lag, so the resync path ran"
    );

    // A late subscriber resumes after the last seq it saw.
    let mut late = connect(&server, &acme.key).await;
    late.subscribe("b", SEGMENTS, json!({ "c": call, "after": 1490 }))
        .await;
    let got = read_segments(&mut late, "b", 10).await;
    assert_eq!(got.first().unwrap().0, 1491);
    assert_eq!(got.last().unwrap().0, 1500);
}

#[tokio::test]
async fn call_updated_follows_the_call_to_its_end_and_active_calls_tracks_the_tenant() {
    let server = crate::support::spawn().await;
    let acme = server.tenant("Acme").await;
    let mut ws = connect(&server, &acme.key).await;
    ws.subscribe(
        "active",
        "subscription { activeCalls { id status } }",
        json!({}),
    )
    .await;
    let first = ws.next_message().await.unwrap();
    assert_eq!(first["payload"]["data"]["activeCalls"], json!([]));

    let call = agent_and_call(&server, &acme.key).await;
    let update = ws.next_message().await.unwrap();
    assert_eq!(
        update["payload"]["data"]["activeCalls"],
        json!([{ "id": call, "status": "QUEUED" }])
    );

    ws.subscribe(
        "call",
        "subscription($c: ID!) { callUpdated(callId: $c) { status endedReason } }",
        json!({ "c": call }),
    )
    .await;
    let mut statuses = Vec::new();
    let mut active_lists = Vec::new();
    let mut moved = false;
    loop {
        let message = ws.next_message().await.unwrap();
        match (message["type"].as_str(), message["id"].as_str()) {
            (Some("next"), Some("call")) => {
                statuses.push(
                    message["payload"]["data"]["callUpdated"]["status"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                );
                if !moved {
                    moved = true;
                    for status in ["IN_PROGRESS", "COMPLETED"] {
                        server
                            .gql(Some(&acme.key), "mutation($c: ID!, $s: CallStatus!) { updateCallStatus(id: $c, status: $s) { id } }", json!({ "c": call, "s": status }))
                            .await;
                    }
                }
            }
            (Some("complete"), Some("call")) => break,
            (Some("next"), Some("active")) => {
                active_lists.push(message["payload"]["data"]["activeCalls"].clone())
            }
            other => panic!("unexpected {other:?}: {message}"),
        }
    }
    assert_eq!(
        statuses,
        ["QUEUED", "IN_PROGRESS", "COMPLETED"],
        "the subscription completes after the final state"
    );
    // The active list ends empty once the call is over.
    while active_lists.last() != Some(&json!([])) {
        let message = ws.next_message().await.unwrap();
        active_lists.push(message["payload"]["data"]["activeCalls"].clone());
    }
}

#[tokio::test]
async fn another_tenants_call_cannot_be_subscribed_to() {
    let server = crate::support::spawn().await;
    let acme = server.tenant("Acme").await;
    let globex = server.tenant("Globex").await;
    let acme_call = agent_and_call(&server, &acme.key).await;
    let mut ws = connect(&server, &globex.key).await;
    for (id, query) in [
        (
            "1",
            "subscription($c: ID!) { callUpdated(callId: $c) { status } }",
        ),
        (
            "2",
            "subscription($c: ID!) { transcriptSegments(callId: $c) { text } }",
        ),
    ] {
        ws.subscribe(id, query, json!({ "c": acme_call })).await;
        let message = loop {
            let message = ws.next_message().await.unwrap();
            if message["id"] == id && message["type"] == "next" {
                break message;
            }
        };
        assert_eq!(
            message["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND",
            "{message}"
        );
    }
}
