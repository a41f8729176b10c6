//! Post-call analysis against the OpenAI-compatible stand-in: an answered call's transcript goes to the agent's
//! LLM after the call ends; a schema-matching answer is stored on the call (filterable), metered as LLM usage
//! and sent as a signed `call.analyzed` webhook; an answer that fails validation twice is stored as failed.

#[path = "support/openai_server.rs"]
mod openai_server;
mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use openai_server::{OpenAiServer, Scripted};
use serde_json::{Value, json};
use support::TestServer;

const ANALYSIS: &str = "query($id: ID!) { call(id: $id) { analysis { status summary success successReason \
     sentiment extraction errorCode error attempts completedAt } } }";

fn agent_config(llm: &OpenAiServer) -> Value {
    json!({
        "systemPrompt": "You book dental appointments.",
        "llm": { "primary": { "provider": "custom", "model": "m", "baseUrl": llm.base_url() } },
        "analysis": {
            "successCriteria": "An appointment time was agreed.",
            "extractionSchema": {
                "type": "object",
                "required": ["name", "appointment_time"],
                "properties": {
                    "name": { "type": "string" },
                    "appointment_time": { "type": "string", "pattern": "^\\d{2}:\\d{2}$" },
                },
            },
        },
    })
}

/// An answered call with a two-line transcript, then ended.
async fn finished_call(server: &TestServer, key: &str, agent: &str) -> String {
    let call = server
        .create_call(
            key,
            agent,
            json!({ "direction": "INBOUND", "transport": "WEB" }),
        )
        .await;
    server
        .set_call_status(key, &call, "IN_PROGRESS", None)
        .await;
    let (_, body) = server
        .gql(
            Some(key),
            "mutation($call: ID!, $segments: [TranscriptSegmentInput!]!) { addTranscriptSegments(callId: $call, segments: $segments) { seq } }",
            json!({ "call": call, "segments": [
                { "seq": 1, "speaker": "CALLER", "text": "Hi, this is Ann, can I come in at half past two?", "startMs": 0, "endMs": 3000, "isFinal": true },
                { "seq": 2, "speaker": "AGENT", "text": "Booked for 14:30 tomorrow, Ann.", "startMs": 3500, "endMs": 5000, "isFinal": true },
            ]}),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let body = server.set_call_status(key, &call, "COMPLETED", None).await;
    assert_eq!(
        body["data"]["updateCallStatus"]["status"], "COMPLETED",
        "{body}"
    );
    call
}

/// Polls the call's analysis until it leaves PENDING.
async fn settled_analysis(server: &TestServer, key: &str, call: &str) -> Value {
    for _ in 0..400 {
        let (_, body) = server.gql(Some(key), ANALYSIS, json!({ "id": call })).await;
        let analysis = &body["data"]["call"]["analysis"];
        assert!(analysis.is_object(), "the call has an analysis: {body}");
        if analysis["status"] != "PENDING" {
            return analysis.clone();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the analysis never finished");
}

/// A webhook receiver that records every request.
async fn receiver() -> (Arc<Mutex<Vec<String>>>, String) {
    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let state = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let state = state.clone();
            async move {
                state.lock().unwrap().push(body);
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (received, url)
}

#[tokio::test]
async fn an_answer_matching_the_schema_is_stored_filterable_metered_and_sent() {
    let answer = json!({
        "summary": "Ann booked a cleaning for 14:30 tomorrow.",
        "sentiment": "positive",
        "success": true,
        "successReason": "A time was agreed.",
        "extraction": { "name": "Ann", "appointment_time": "14:30" },
    });
    // Models like code fences; the object inside counts.
    let llm = OpenAiServer::with_script([Scripted::text(&format!("```json\n{answer}\n```"))]).await;
    let server = support::spawn_with(support::allow_loopback).await;
    let tenant = server.tenant("acme").await;
    let (received, url) = receiver().await;
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "mutation($input: WebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret } }",
            json!({ "input": { "url": url, "events": ["CALL_ANALYZED"] } }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let agent = server
        .create_agent(&tenant.key, "Dentist", agent_config(&llm))
        .await;
    let call = finished_call(&server, &tenant.key, &agent).await;

    let analysis = settled_analysis(&server, &tenant.key, &call).await;
    assert_eq!(analysis["status"], "DONE", "{analysis}");
    assert_eq!(analysis["summary"], answer["summary"]);
    assert_eq!(analysis["success"], true);
    assert_eq!(analysis["sentiment"], "POSITIVE");
    assert_eq!(analysis["extraction"], answer["extraction"]);
    assert_eq!(analysis["attempts"], 1);
    assert!(analysis["completedAt"].is_string());

    // The model was given the criteria, the schema and the transcript.
    let requests = llm.requests();
    assert_eq!(requests.len(), 1);
    let messages = requests[0].messages();
    let system = messages[0]["content"].as_str().unwrap();
    assert!(
        system.contains("An appointment time was agreed.") && system.contains("appointment_time")
    );
    let user = messages[1]["content"].as_str().unwrap();
    assert!(
        user.contains("Caller: Hi, this is Ann") && user.contains("Agent: Booked for 14:30"),
        "{user}"
    );

    // Filterable by success, sentiment and the summary's words.
    let list = "query($f: CallFilterInput) { calls(filter: $f) { nodes { id } } }";
    for (filter, expected) in [
        (json!({ "success": true }), vec![call.clone()]),
        (json!({ "success": false }), vec![]),
        (json!({ "sentiment": "POSITIVE" }), vec![call.clone()]),
        (json!({ "sentiment": "NEGATIVE" }), vec![]),
        (json!({ "summary": "cleaning ANN" }), vec![call.clone()]),
        (json!({ "summary": "refund" }), vec![]),
    ] {
        let (_, body) = server
            .gql(Some(&tenant.key), list, json!({ "f": filter }))
            .await;
        let ids: Vec<&str> = body["data"]["calls"]["nodes"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"))
            .iter()
            .map(|n| n["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, expected, "filter {filter}");
    }

    // Metered like any LLM call: the stand-in's token counts, once each.
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "{ usageSummary { metric quantity } }",
            json!({}),
        )
        .await;
    let usage = body["data"]["usageSummary"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"));
    let quantity = |metric: &str| {
        usage
            .iter()
            .find(|u| u["metric"] == metric)
            .map_or(0, |u| u["quantity"].as_i64().unwrap())
    };
    assert!(
        quantity("LLM_INPUT_TOKENS") > 0 && quantity("LLM_OUTPUT_TOKENS") > 0,
        "{body}"
    );

    // And sent as a webhook.
    let mut delivered = None;
    for _ in 0..400 {
        if let Some(body) = received.lock().unwrap().first().cloned() {
            delivered = Some(body);
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let payload: Value =
        serde_json::from_str(&delivered.expect("call.analyzed delivered")).unwrap();
    assert_eq!(payload["type"], "call.analyzed");
    assert_eq!(payload["data"]["call"]["id"], call);
    assert_eq!(payload["data"]["analysis"]["status"], "done");
    assert_eq!(
        payload["data"]["analysis"]["extraction"],
        answer["extraction"]
    );
}

#[tokio::test]
async fn an_answer_failing_validation_twice_is_stored_as_failed() {
    let bad = json!({
        "summary": "Ann booked.",
        "sentiment": "positive",
        "success": true,
        "successReason": "A time was agreed.",
        "extraction": { "name": "Ann", "appointment_time": "half past two" },
    });
    let llm = OpenAiServer::with_script([
        Scripted::text("Sure! Ann booked for half past two."),
        Scripted::text(&bad.to_string()),
    ])
    .await;
    let server = support::spawn_with(support::allow_loopback).await;
    let tenant = server.tenant("acme").await;
    let agent = server
        .create_agent(&tenant.key, "Dentist", agent_config(&llm))
        .await;
    let call = finished_call(&server, &tenant.key, &agent).await;

    let analysis = settled_analysis(&server, &tenant.key, &call).await;
    assert_eq!(analysis["status"], "FAILED", "{analysis}");
    assert_eq!(analysis["errorCode"], "ANALYSIS_INVALID_OUTPUT");
    let error = analysis["error"].as_str().unwrap();
    assert!(error.contains("/extraction/appointment_time"), "{error}");
    assert!(analysis["summary"].is_null() && analysis["extraction"].is_null());

    // One retry, told what was wrong with the first answer; then no more requests.
    let requests = llm.requests();
    assert_eq!(requests.len(), 2);
    let retry = requests[1].messages();
    let told = retry.last().unwrap()["content"].as_str().unwrap();
    assert!(told.contains("no JSON object"), "{told}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(llm.request_count(), 2);

    // A failed analysis is not a failed call: `success: false` finds only analyses that judged so.
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "{ calls(filter: {success: false}) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["calls"]["nodes"], json!([]), "{body}");
}

#[tokio::test]
async fn calls_nobody_answered_and_agents_without_analysis_are_not_analysed() {
    let llm = OpenAiServer::start().await;
    let server = support::spawn_with(support::allow_loopback).await;
    let tenant = server.tenant("acme").await;
    let with = server
        .create_agent(&tenant.key, "Dentist", agent_config(&llm))
        .await;
    let mut plain = agent_config(&llm);
    plain.as_object_mut().unwrap().remove("analysis");
    let without = server.create_agent(&tenant.key, "Plain", plain).await;

    let unanswered = server
        .create_call(
            &tenant.key,
            &with,
            json!({ "direction": "INBOUND", "transport": "WEB" }),
        )
        .await;
    server
        .set_call_status(&tenant.key, &unanswered, "CANCELED", None)
        .await;
    let other = finished_call(&server, &tenant.key, &without).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for call in [unanswered, other] {
        let (_, body) = server
            .gql(Some(&tenant.key), ANALYSIS, json!({ "id": call }))
            .await;
        assert_eq!(body["data"]["call"]["analysis"], Value::Null, "{body}");
    }
    assert_eq!(llm.request_count(), 0);

    // A schema that is not one is refused when the agent is saved.
    let mut broken = agent_config(&llm);
    broken["analysis"]["extractionSchema"] =
        json!({ "type": "object", "properties": { "x": { "type": 5 } } });
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "mutation($config: AgentConfigInput!) { createAgent(input: {name: \"Broken\", config: $config}) { id } }",
            json!({ "config": broken }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["fields"][0]["field"],
        "input.config.analysis.extractionSchema",
        "{body}"
    );
}

#[tokio::test]
async fn a_model_that_does_not_answer_is_retried_with_backoff_after_a_restart() {
    let llm = OpenAiServer::with_script([Scripted::status(500)]).await;
    let dir = tempfile::tempdir().unwrap();
    let server = support::spawn_in(dir.path().to_path_buf(), support::allow_loopback).await;
    let tenant = server.tenant("acme").await;
    let agent = server
        .create_agent(&tenant.key, "Dentist", agent_config(&llm))
        .await;
    let call = finished_call(&server, &tenant.key, &agent).await;
    let mut first = Value::Null;
    for _ in 0..400 {
        let (_, body) = server
            .gql(Some(&tenant.key), ANALYSIS, json!({ "id": call }))
            .await;
        first = body["data"]["call"]["analysis"].clone();
        if first["attempts"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(first["status"], "PENDING", "{first}");
    assert_eq!(first["attempts"], 1, "{first}");
    assert_eq!(first["errorCode"], "ANALYSIS_LLM_FAILED");
    server.stop().await;

    // The job is in the tenant file: a new server picks it up once its backoff has passed, not before.
    llm.push(Scripted::text(
        r#"{"summary": "Booked.", "sentiment": "neutral", "success": true, "successReason": "Agreed.",
            "extraction": {"name": "Ann", "appointment_time": "14:30"}}"#,
    ));
    let server = support::spawn_in(dir.path().to_path_buf(), support::allow_loopback).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(llm.request_count(), 1, "retried before its backoff");
    server.state.clock.advance(Duration::from_secs(31));
    let analysis = settled_analysis(&server, &tenant.key, &call).await;
    assert_eq!(analysis["status"], "DONE", "{analysis}");
    assert_eq!(analysis["attempts"], 2);
    assert_eq!(analysis["errorCode"], Value::Null);
    assert_eq!(llm.request_count(), 2);
}
