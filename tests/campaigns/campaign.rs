//! A campaign of 20 contacts, 3 calls at a time: every contact called, busy and unanswered calls retried by the
//! rules only once their delay has passed (the server clock is moved, not waited for), a failed one not retried,
//! progress followed live, and the `campaign.completed` webhook sent.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::twilio::{Callee, FakeTwilio};
use crate::support::ws::GqlWs;
use crate::*;

/// A webhook receiver recording every body.
async fn receiver() -> (Arc<Mutex<Vec<String>>>, String) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let state = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let state = state.clone();
            async move {
                state.lock().unwrap().push(body);
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (received, url)
}

#[tokio::test]
async fn twenty_contacts_three_at_a_time_retried_by_the_rules() {
    let twilio = FakeTwilio::start(Callee::answer(Duration::from_millis(1200))).await;
    // Contact 3 is busy, then answers; 7 does not answer, then does; 11 is busy twice (out of attempts);
    // 15 fails (not retried: the rules retry busy and no-answer only).
    twilio.script(&number(3), [Callee::Busy]);
    twilio.script(&number(7), [Callee::NoAnswer]);
    twilio.script(&number(11), [Callee::Busy, Callee::Busy]);
    twilio.script(&number(15), [Callee::Fail]);
    let server = server(&twilio).await;
    let (tenant, agent) = tenant_with_agent(&server, quiet_agent()).await;
    let (hooks, hook_url) = receiver().await;
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "mutation($i: WebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret } }",
            json!({ "i": { "url": hook_url, "events": ["CAMPAIGN_COMPLETED"] } }),
        )
        .await;
    data(&body, "createWebhookEndpoint");

    let id = create_campaign(
        &server,
        &tenant.key,
        &agent,
        json!({ "maxConcurrentCalls": 3, "retry": { "onBusy": true, "onNoAnswer": true, "delayMinutes": 30, "maxAttempts": 2 } }),
    )
    .await;
    // Two bad lines among the twenty: reported by line, the rest kept.
    let mut csv = contacts_csv(20);
    csv.push_str("555-0100,Nobody\n+14155559998,\n");
    let import = upload(&server, &tenant.key, &id, &csv).await;
    assert_eq!(import["added"], 20, "{import}");
    let rejected: Vec<(i64, &str)> = import["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_i64().unwrap(), r["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        rejected,
        [(22, "INVALID_PHONE_NUMBER"), (23, "MISSING_VARIABLES")]
    );
    // Contacts' numbers are sealed in the tenant's file; the dialer still dials each one (below).
    let path = server.state.tenants.path_of(tenant.id);
    let mut stored = std::fs::read(&path).unwrap();
    stored.extend(std::fs::read(path.with_extension("db-wal")).unwrap_or_default());
    for i in 0..20 {
        let digits = number(i)[1..].to_string();
        assert!(
            !stored.windows(digits.len()).any(|w| w == digits.as_bytes()),
            "contact {i}'s number is stored in clear"
        );
    }

    // Progress, live.
    let mut ws = GqlWs::connect(
        &server.ws_url("/graphql"),
        json!({ "Authorization": format!("Bearer {}", tenant.key) }),
    )
    .await
    .unwrap();
    ws.subscribe(
        "p",
        "subscription($c: ID!) { campaignProgress(campaignId: $c) { total pending inProgress completed failed attempts } }",
        json!({ "c": id }),
    )
    .await;
    let updates = Arc::new(Mutex::new(Vec::<Value>::new()));
    let seen = updates.clone();
    let reader = tokio::spawn(async move {
        while let Some(Ok(message)) = ws.next_within(Duration::from_secs(120)).await {
            match message["type"].as_str() {
                Some("next") => seen
                    .lock()
                    .unwrap()
                    .push(message["payload"]["data"]["campaignProgress"].clone()),
                Some("complete") => return true,
                _ => return false,
            }
        }
        false
    });

    let started = act(&server, &tenant.key, &id, "start").await;
    assert_eq!(
        data(&started, "startCampaign")["status"],
        "RUNNING",
        "{started}"
    );

    // The first pass: everyone once, never more than three at a time; three contacts wait for a retry.
    let first_pass = wait_for_campaign(
        &server,
        &tenant.key,
        &id,
        Duration::from_secs(120),
        "the first pass",
        |c| c["progress"]["pending"] == 3 && c["progress"]["inProgress"] == 0,
    )
    .await;
    assert_eq!(twilio.calls().len(), 20);
    for i in 0..20 {
        assert_eq!(twilio.placed_to(&number(i)), 1, "contact {i}");
    }
    assert_eq!(twilio.max_active(), 3, "three at a time, and no more");
    assert_eq!(first_pass["progress"]["attempts"], 20);
    // Retries wait for their delay.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(twilio.calls().len(), 20, "no retry before its delay");

    server.state.clock.advance(Duration::from_secs(31 * 60));
    let done = wait_for_campaign(
        &server,
        &tenant.key,
        &id,
        Duration::from_secs(60),
        "completion",
        |c| c["status"] == "COMPLETED",
    )
    .await;
    for i in 0..20 {
        let expected = if [3, 7, 11].contains(&i) { 2 } else { 1 };
        assert_eq!(twilio.placed_to(&number(i)), expected, "contact {i}");
    }
    assert!(twilio.max_active() <= 3);
    let progress = &done["progress"];
    assert_eq!(
        (
            progress["total"].as_i64(),
            progress["completed"].as_i64(),
            progress["failed"].as_i64()
        ),
        (Some(20), Some(18), Some(2)),
        "{done}"
    );
    assert_eq!(
        (outcome(&done, "BUSY"), outcome(&done, "FAILED")),
        (1, 1),
        "{done}"
    );
    assert_eq!(progress["attempts"], 23);

    // Each contact's calls are there, in order, with their outcomes.
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "query($c: ID!) { campaign(id: $c) { contacts(first: 100) { nodes { line phoneNumber status attempts outcome calls { status endedReason direction } } } } }",
            json!({ "c": id }),
        )
        .await;
    let contacts = data(&body, "campaign")["contacts"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(contacts.len(), 20);
    let eleven = &contacts[11];
    assert_eq!(
        (&eleven["status"], &eleven["outcome"], &eleven["attempts"]),
        (&json!("DONE"), &json!("BUSY"), &json!(2))
    );
    let calls: Vec<&str> = eleven["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(calls, ["BUSY", "BUSY"]);
    assert_eq!(contacts[7]["calls"][0]["status"], "NO_ANSWER");
    assert_eq!(contacts[7]["calls"][1]["status"], "COMPLETED");
    assert_eq!(contacts[15]["calls"][0]["endedReason"], "twilio_failed");

    // The webhook, once, with the final counts.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while hooks.lock().unwrap().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no campaign.completed webhook"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let hooks = hooks.lock().unwrap().clone();
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    let hook: Value = serde_json::from_str(&hooks[0]).unwrap();
    assert_eq!(hook["type"], "campaign.completed");
    assert_eq!(hook["data"]["campaign"]["id"], id.as_str());
    assert_eq!(
        hook["data"]["campaign"]["progress"]["outcomes"]["answered"],
        18
    );

    // The subscription followed along and completed with the campaign.
    assert!(
        tokio::time::timeout(Duration::from_secs(10), reader)
            .await
            .unwrap()
            .unwrap(),
        "the subscription completes"
    );
    let updates = updates.lock().unwrap().clone();
    assert!(updates.len() >= 3, "{updates:?}");
    assert_eq!(updates.first().unwrap()["pending"], 20);
    let last = updates.last().unwrap();
    assert_eq!(
        (last["completed"].as_i64(), last["failed"].as_i64()),
        (Some(18), Some(2))
    );
}

#[tokio::test]
async fn a_campaign_can_be_paused_resumed_and_canceled() {
    let twilio = FakeTwilio::start(Callee::answer(Duration::from_millis(600))).await;
    let server = server(&twilio).await;
    let (tenant, agent) = tenant_with_agent(&server, quiet_agent()).await;
    let id = create_campaign(
        &server,
        &tenant.key,
        &agent,
        json!({ "maxConcurrentCalls": 1 }),
    )
    .await;
    let body = act(&server, &tenant.key, &id, "start").await;
    assert_eq!(
        support::error_code(&body),
        "INVALID_CAMPAIGN_STATE",
        "{body}"
    );
    upload(&server, &tenant.key, &id, &contacts_csv(6)).await;
    let body = act(&server, &tenant.key, &id, "resume").await;
    assert_eq!(
        support::error_code(&body),
        "INVALID_CAMPAIGN_STATE",
        "a draft is started, not resumed"
    );

    act(&server, &tenant.key, &id, "start").await;
    twilio
        .wait_until(Duration::from_secs(30), "a first call", |t| {
            !t.calls().is_empty()
        })
        .await;
    let paused = act(&server, &tenant.key, &id, "pause").await;
    assert_eq!(data(&paused, "pauseCampaign")["status"], "PAUSED");
    // The call on the phone finishes; no other starts.
    wait_for_campaign(
        &server,
        &tenant.key,
        &id,
        Duration::from_secs(30),
        "the call to end",
        |c| c["progress"]["inProgress"] == 0,
    )
    .await;
    let placed = twilio.calls().len();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(twilio.calls().len(), placed, "paused: nothing dialled");

    act(&server, &tenant.key, &id, "resume").await;
    twilio
        .wait_until(Duration::from_secs(30), "dialling again", |t| {
            t.calls().len() > placed
        })
        .await;
    let canceled = act(&server, &tenant.key, &id, "cancel").await;
    assert_eq!(data(&canceled, "cancelCampaign")["status"], "CANCELED");
    let over = wait_for_campaign(
        &server,
        &tenant.key,
        &id,
        Duration::from_secs(30),
        "the last call",
        |c| c["progress"]["inProgress"] == 0,
    )
    .await;
    let called = twilio.calls().len() as i64;
    assert_eq!(
        over["progress"]["canceled"].as_i64(),
        Some(6 - called),
        "{over}"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        twilio.calls().len() as i64,
        called,
        "canceled: nothing more dialled"
    );
    let body = act(&server, &tenant.key, &id, "resume").await;
    assert_eq!(support::error_code(&body), "INVALID_CAMPAIGN_STATE");
    assert_eq!(over["status"], "CANCELED");
}

#[tokio::test]
async fn campaign_input_is_checked_field_by_field() {
    let twilio = FakeTwilio::start(Callee::NoAnswer).await;
    let server = server(&twilio).await;
    let (tenant, agent) = tenant_with_agent(&server, quiet_agent()).await;
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "mutation($i: CreateCampaignInput!) { createCampaign(input: $i) { id } }",
            json!({ "i": {
                "name": "", "agentId": agent, "fromNumber": "12", "timezone": "Mars/Base",
                "windows": [{ "days": [], "start": "9am", "end": "17:00" }],
                "maxConcurrentCalls": 11, "retry": { "maxAttempts": 11, "delayMinutes": 0 }
            } }),
        )
        .await;
    assert_eq!(support::error_code(&body), "INVALID_INPUT", "{body}");
    let fields: Vec<&str> = body["errors"][0]["extensions"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "input.name",
            "input.fromNumber",
            "input.timezone",
            "input.windows[0].start",
            "input.windows[0].days",
            "input.maxConcurrentCalls",
            "input.retry.delayMinutes",
            "input.retry.maxAttempts",
        ]
    );
    let message = body["errors"][0]["extensions"]["fields"][5]["message"]
        .as_str()
        .unwrap();
    assert!(
        message.contains("1 to 10"),
        "the Pro plan's limit: {message}"
    );
    // A header without a phone column refuses the whole upload.
    let id = create_campaign(&server, &tenant.key, &agent, json!({})).await;
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "mutation($c: ID!, $csv: String!) { addCampaignContacts(campaignId: $c, csv: $csv) { added } }",
            json!({ "c": id, "csv": "name,first_name\nAda,Ada\n" }),
        )
        .await;
    assert_eq!(support::error_code(&body), "INVALID_INPUT", "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["fields"][0]["code"],
        "INVALID_CSV"
    );
    // Viewers read campaigns but cannot run them.
    let viewer = server.key(tenant.id, voxedge::model::Role::Viewer).await;
    let body = act(&server, &viewer, &id, "start").await;
    assert_eq!(support::error_code(&body), "FORBIDDEN");
    assert_eq!(campaign(&server, &viewer, &id).await["status"], "DRAFT");
}
