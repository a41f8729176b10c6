//! Calls businesses run, against local stand-ins speaking the real protocols — Twilio's REST API, its signed
//! status callbacks and Media Streams (`support::twilio`), the OpenAI-compatible LLM (`support::openai_server`):
//! campaigns (concurrency, retries, calling windows, a kill -9 mid-campaign), answering machines, and dynamic
//! variables.

#[path = "../support/openai_server.rs"]
mod openai_server;
#[path = "../support/mod.rs"]
mod support;

mod campaign;
mod restart;
mod variables;
mod voicemail;
mod windows;

use std::time::Duration;

use serde_json::{Value, json};
use support::TestServer;
use support::twilio::{ACCOUNT_SID, AUTH_TOKEN, FakeTwilio};

/// The number campaigns call from.
pub const FROM: &str = "+14155550999";

/// `+1415555` and four digits: the contacts' numbers.
pub fn number(i: usize) -> String {
    format!("+1415555{:04}", 100 + i)
}

/// `data.<field>` of a successful response.
pub fn data<'a>(body: &'a Value, field: &str) -> &'a Value {
    assert!(body.get("errors").is_none(), "{body}");
    &body["data"][field]
}

/// A server with the real voice models, calling through `twilio`, its scheduler looking every 100 ms.
pub async fn server(twilio: &FakeTwilio) -> TestServer {
    let base = twilio.base.clone();
    support::spawn_with(move |config| {
        // The agents' LLM stand-in is a local server.
        support::allow_loopback(config);
        config.voice = support::voice::voice_config();
        config.twilio_api_url = base;
        config.outbound_tick = Duration::from_millis(100);
    })
    .await
}

/// A tenant with the stand-in's Twilio account and an agent configured by `config` (an `AgentConfigInput`);
/// returns the tenant and the agent id.
pub async fn tenant_with_agent(
    server: &TestServer,
    config: Value,
) -> (support::TestTenant, String) {
    let tenant = server.tenant("Acme").await;
    // Pro: room for a few calls at once (the free plan allows 2).
    voxedge::billing::plans::change(
        &server.state.billing,
        tenant.id,
        voxedge::billing::plans::PlanChange::by_operator("pro"),
    )
    .await
    .expect("plan assigned");
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "mutation($i: SetTwilioAccountInput!) { setTwilioAccount(input: $i) { accountSid } }",
            json!({ "i": { "accountSid": ACCOUNT_SID, "authToken": AUTH_TOKEN } }),
        )
        .await;
    data(&body, "setTwilioAccount");
    let agent = server.create_agent(&tenant.key, "Caller", config).await;
    (tenant, agent)
}

/// An agent that never needs its LLM (nobody talks to it), without answering-machine screening.
pub fn quiet_agent() -> Value {
    json!({
        "systemPrompt": "You remind {{first_name}} of an appointment.",
        "llm": { "primary": { "provider": "custom", "model": "m", "baseUrl": "http://127.0.0.1:9/v1" } },
        "voicemail": { "detection": false }
    })
}

pub const CAMPAIGN_FIELDS: &str = "id status startedAt completedAt maxConcurrentCalls
    progress { total pending inProgress completed failed canceled attempts outcomes { outcome count } }";

/// Creates a campaign from `input` (a `CreateCampaignInput` without `agentId` and `fromNumber`).
pub async fn create_campaign(server: &TestServer, key: &str, agent: &str, input: Value) -> String {
    let mut input = input;
    input["agentId"] = json!(agent);
    input["fromNumber"] = json!(FROM);
    if input.get("name").is_none() {
        input["name"] = json!("Reminders");
    }
    let (_, body) = server
        .gql(
            Some(key),
            "mutation($i: CreateCampaignInput!) { createCampaign(input: $i) { id status } }",
            json!({ "i": input }),
        )
        .await;
    let campaign = data(&body, "createCampaign");
    assert_eq!(campaign["status"], "DRAFT");
    campaign["id"].as_str().unwrap().to_string()
}

/// Uploads `csv`; returns `addCampaignContacts`.
pub async fn upload(server: &TestServer, key: &str, campaign: &str, csv: &str) -> Value {
    let (_, body) = server
        .gql(
            Some(key),
            "mutation($c: ID!, $csv: String!) { addCampaignContacts(campaignId: $c, csv: $csv) { added rejected { line column code message } } }",
            json!({ "c": campaign, "csv": csv }),
        )
        .await;
    data(&body, "addCampaignContacts").clone()
}

/// Starts, pauses, resumes or cancels (`action` is `start`, `pause`, `resume`, `cancel`); returns the response.
pub async fn act(server: &TestServer, key: &str, campaign: &str, action: &str) -> Value {
    let query = format!("mutation($c: ID!) {{ {action}Campaign(id: $c) {{ {CAMPAIGN_FIELDS} }} }}");
    server
        .gql(Some(key), &query, json!({ "c": campaign }))
        .await
        .1
}

/// The campaign now.
pub async fn campaign(server: &TestServer, key: &str, id: &str) -> Value {
    let query = format!("query($c: ID!) {{ campaign(id: $c) {{ {CAMPAIGN_FIELDS} }} }}");
    let (_, body) = server.gql(Some(key), &query, json!({ "c": id })).await;
    data(&body, "campaign").clone()
}

/// Waits (up to `within`) until the campaign satisfies `done`; returns it.
pub async fn wait_for_campaign(
    server: &TestServer,
    key: &str,
    id: &str,
    within: Duration,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let current = campaign(server, key, id).await;
        if done(&current) {
            return current;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}: {current}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The count of `outcome` in a campaign's progress.
pub fn outcome(campaign: &Value, outcome: &str) -> i64 {
    campaign["progress"]["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["outcome"] == outcome)
        .map_or(0, |o| o["count"].as_i64().unwrap())
}

/// CSV of `count` contacts (numbers from [`number`]) with a first name each.
pub fn contacts_csv(count: usize) -> String {
    let mut csv = String::from("phone,first_name\n");
    for i in 0..count {
        csv.push_str(&format!("{},Person {i}\n", number(i)));
    }
    csv
}
