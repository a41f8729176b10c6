//! Call outcomes from Twilio's signed status callbacks, against the Twilio stand-in: a call nobody answers ends
//! `no_answer` instead of staying queued; a busy line ends `busy`; an answered call is ended by its session (the
//! caller hung up), not by the callback that follows; unsigned or foreign callbacks are refused.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::twilio::{self as fake, Callee, FakeTwilio};
use crate::support::voice::{ended_call, event_types, voice_config};
use crate::*;

const PLACE: &str = "mutation($a: ID!, $to: String!) { placeCall(agentId: $a, to: $to, from: \"+14155550999\") { id status } }";

async fn setup(callee: Callee) -> (FakeTwilio, TestServer, support::TestTenant, String) {
    let twilio = FakeTwilio::start(callee).await;
    let base = twilio.base.clone();
    let server = support::spawn_with(move |c| {
        c.voice = voice_config();
        c.twilio_api_url = base;
    })
    .await;
    let tenant = server.tenant("Acme").await;
    set_account(&server, &tenant.key, fake::ACCOUNT_SID, fake::AUTH_TOKEN).await;
    let agent = server
        .create_agent(
            &tenant.key,
            "Caller",
            json!({ "systemPrompt": "Hi", "voicemail": { "detection": false } }),
        )
        .await;
    (twilio, server, tenant, agent)
}

async fn place(server: &TestServer, key: &str, agent: &str, to: &str) -> String {
    let (_, body) = server
        .gql(Some(key), PLACE, json!({ "a": agent, "to": to }))
        .await;
    data(&body, "placeCall")["id"].as_str().unwrap().to_string()
}

fn statuses(call: &Value) -> Vec<String> {
    call["events"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["type"] == "twilio_status")
        .map(|e| {
            e["node"]["data"]["status"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn a_call_nobody_answers_ends_no_answer() {
    let (_twilio, server, tenant, agent) = setup(Callee::NoAnswer).await;
    let id = place(&server, &tenant.key, &agent, "+14155550101").await;
    let call = ended_call(&server, &tenant.key, &id).await;
    assert_eq!(
        (call["status"].as_str(), call["endedReason"].as_str()),
        (Some("NO_ANSWER"), Some("no_answer")),
        "{call}"
    );
    assert_eq!(statuses(&call), ["initiated", "ringing", "no-answer"]);
    let events = event_types(&call);
    assert!(
        events.contains(&"twilio_call_created".to_string()),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_busy_line_ends_busy_and_an_answered_call_ends_by_its_session() {
    let (twilio, server, tenant, agent) = setup(Callee::Busy).await;
    let id = place(&server, &tenant.key, &agent, "+14155550102").await;
    let call = ended_call(&server, &tenant.key, &id).await;
    assert_eq!(
        (call["status"].as_str(), call["endedReason"].as_str()),
        (Some("BUSY"), Some("busy"))
    );

    twilio.script(
        "+14155550103",
        [Callee::answer(Duration::from_millis(1500))],
    );
    let id = place(&server, &tenant.key, &agent, "+14155550103").await;
    let call = ended_call(&server, &tenant.key, &id).await;
    assert_eq!(
        (call["status"].as_str(), call["endedReason"].as_str()),
        (Some("COMPLETED"), Some("caller_hangup")),
        "the session ended it: {call}"
    );
    // Twilio's `completed` arrives after the session ended the call, and changes nothing.
    for _ in 0..50 {
        let call = ended_call(&server, &tenant.key, &id).await;
        if statuses(&call).contains(&"completed".to_string()) {
            assert_eq!(call["endedReason"], "caller_hangup");
            assert_eq!(
                statuses(&call),
                ["initiated", "ringing", "in-progress", "completed"]
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("Twilio's completed callback never arrived");
}

#[tokio::test]
async fn unsigned_and_foreign_callbacks_are_refused() {
    let (_twilio, server, tenant, agent) = setup(Callee::NoAnswer).await;
    let id = place(&server, &tenant.key, &agent, "+14155550104").await;
    ended_call(&server, &tenant.key, &id).await;
    let path = format!("/v1/twilio/{}/status?callId={id}", tenant.id);
    let params = [
        ("CallSid", "CA00000000000000000000000000000009"),
        ("CallStatus", "completed"),
    ];
    let answer = post_voice(&server, &path, &params, Some("bm90IGl0"), &[]).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.code(), "INVALID_SIGNATURE");

    // Signed by this tenant, naming another tenant's call: not found.
    let other = server.tenant("Globex").await;
    let other_agent = agent_id(&server, &other.key).await;
    let foreign = server
        .create_call(
            &other.key,
            &other_agent,
            json!({ "direction": "OUTBOUND", "transport": "PHONE" }),
        )
        .await;
    let path = format!("/v1/twilio/{}/status?callId={foreign}", tenant.id);
    let url = server.url(&path);
    let answer = signed_post(&server, fake::AUTH_TOKEN, &url, &path, &params).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.body);
}

async fn agent_id(server: &TestServer, key: &str) -> String {
    server
        .create_agent(key, "Other", json!({ "systemPrompt": "Hi" }))
        .await
}
