//! A kill -9 of the real server binary in the middle of a campaign — with calls on the phone and one request to
//! Twilio whose answer never came back — and a restart over the same data directory: the campaign completes with
//! every contact called exactly once per attempt. A request Twilio never took is made again, once.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::process::{ServerProcess, run_ok, stdout_json};
use crate::support::twilio::{ACCOUNT_SID, AUTH_TOKEN, Callee, FakeTwilio};
use crate::*;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(dir: &Path, port: u16, twilio: &FakeTwilio) -> ServerProcess {
    let voice = support::voice::voice_config();
    let listen = format!("127.0.0.1:{port}");
    let public = format!("http://127.0.0.1:{port}");
    let models = voice.models_dir.to_string_lossy().into_owned();
    let ort = voice.ort_dylib.unwrap().to_string_lossy().into_owned();
    ServerProcess::start_on(
        dir,
        &listen,
        &[
            "--public-url",
            &public,
            "--twilio-api-url",
            &twilio.base,
            "--models-dir",
            &models,
            "--ort-dylib",
            &ort,
            "--outbound-tick-ms",
            "100",
            "--allow-outbound",
            "127.0.0.1/32",
        ],
    )
}

async fn gql(server: &ServerProcess, key: &str, query: &str, variables: Value) -> Value {
    reqwest::Client::new()
        .post(server.url("/graphql"))
        .bearer_auth(key)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("request sent")
        .json()
        .await
        .expect("JSON body")
}

#[tokio::test]
async fn a_kill_mid_campaign_and_a_restart_call_every_contact_once_per_attempt() {
    let twilio = FakeTwilio::start(Callee::answer(Duration::from_millis(1500))).await;
    // Twilio never takes the first request for contact 4: that attempt is made again.
    twilio.drop_next(&number(4));
    // Twilio places contact 7's call, but its answer is still on the way when the server dies.
    twilio.slow_next(&number(7), Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = start(dir.path(), port, &twilio);
    let created = stdout_json(&run_ok(dir.path(), &["tenant", "create", "--name", "Acme"]));
    let key = created["api_key"].as_str().unwrap().to_string();
    // Pro: room for a few calls at once (the free plan allows 2).
    let tenant_id = created["tenant_id"].as_str().unwrap().to_string();
    run_ok(
        dir.path(),
        &["plan", "assign", "--tenant", &tenant_id, "--plan", "pro"],
    );

    let body = gql(
        &server,
        &key,
        "mutation($i: SetTwilioAccountInput!) { setTwilioAccount(input: $i) { accountSid } }",
        json!({ "i": { "accountSid": ACCOUNT_SID, "authToken": AUTH_TOKEN } }),
    )
    .await;
    data(&body, "setTwilioAccount");
    let body = gql(
        &server,
        &key,
        "mutation($c: AgentConfigInput!) { createAgent(input: {name: \"Caller\", config: $c}) { id } }",
        json!({ "c": quiet_agent() }),
    )
    .await;
    let agent = data(&body, "createAgent")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let body = gql(
        &server,
        &key,
        "mutation($i: CreateCampaignInput!) { createCampaign(input: $i) { id } }",
        json!({ "i": { "name": "Reminders", "agentId": agent, "fromNumber": FROM, "maxConcurrentCalls": 3 } }),
    )
    .await;
    let id = data(&body, "createCampaign")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let body = gql(
        &server,
        &key,
        "mutation($c: ID!, $csv: String!) { addCampaignContacts(campaignId: $c, csv: $csv) { added } }",
        json!({ "c": id, "csv": contacts_csv(12) }),
    )
    .await;
    assert_eq!(data(&body, "addCampaignContacts")["added"], 12);
    let body = gql(
        &server,
        &key,
        "mutation($c: ID!) { startCampaign(id: $c) { status } }",
        json!({ "c": id }),
    )
    .await;
    assert_eq!(data(&body, "startCampaign")["status"], "RUNNING");

    // Contact 7's request reached Twilio; kill -9 while its answer is on the way and other calls are on.
    twilio
        .wait_until(Duration::from_secs(90), "contact 7's call", |t| {
            t.placed_to(&number(7)) == 1
        })
        .await;
    server.child.kill().expect("kill -9");
    server.child.wait().unwrap();
    let before = twilio.calls().len();
    assert!(before < 12, "killed mid-campaign ({before} calls placed)");

    let server = start(dir.path(), port, &twilio);
    let query = format!("query($c: ID!) {{ campaign(id: $c) {{ {CAMPAIGN_FIELDS} }} }}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let done = loop {
        let body = gql(&server, &key, &query, json!({ "c": id })).await;
        let campaign = data(&body, "campaign").clone();
        if campaign["status"] == "COMPLETED" {
            break campaign;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the campaign did not complete: {campaign}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    for i in 0..12 {
        assert_eq!(
            twilio.placed_to(&number(i)),
            1,
            "contact {i} was called exactly once"
        );
    }
    assert_eq!(done["progress"]["completed"], 12, "{done}");
    assert_eq!(done["progress"]["attempts"], 12, "{done}");
    assert!(twilio.max_active() <= 3);

    // Contact 4's first call record says why it was made again.
    let body = gql(
        &server,
        &key,
        "query($c: ID!) { campaign(id: $c) { contacts(first: 20) { nodes { phoneNumber attempts calls { status endedReason } } } } }",
        json!({ "c": id }),
    )
    .await;
    let contacts = data(&body, "campaign")["contacts"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    let four = contacts
        .iter()
        .find(|c| c["phoneNumber"] == number(4))
        .unwrap();
    assert_eq!(four["attempts"], 1);
    let reasons: Vec<&str> = four["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["endedReason"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(reasons.first(), Some(&"not_placed"), "{four}");
}
