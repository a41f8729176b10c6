//! Onboarding milestones: a tenant's first agent, first connected call and first phone number are recorded once,
//! when they happen, and shown in GraphQL (the portal's getting-started checklist) and to operators
//! (`voxedge tenant milestones`).

mod support;

use serde_json::{Value, json};

const ONBOARDING: &str = "{ viewer { tenant { onboarding { firstAgentAt firstCallAt firstPhoneNumberAt firstPaidInvoiceAt } } } }";

async fn onboarding(server: &support::TestServer, key: &str) -> Value {
    let (_, body) = server.gql(Some(key), ONBOARDING, json!({})).await;
    body["data"]["viewer"]["tenant"]["onboarding"].clone()
}

#[tokio::test]
async fn first_agent_call_and_number_are_recorded_once() {
    let data = tempfile::tempdir().unwrap();
    let server = support::spawn_in(data.path().to_path_buf(), |_| {}).await;
    let acme = server.tenant("Acme").await;
    let viewer_key = server.key(acme.id, voxedge::model::Role::Viewer).await;
    assert_eq!(
        onboarding(&server, &acme.key).await,
        json!({ "firstAgentAt": null, "firstCallAt": null, "firstPhoneNumberAt": null, "firstPaidInvoiceAt": null })
    );

    let agent = server
        .create_agent(&acme.key, "Desk", json!({ "systemPrompt": "Hi" }))
        .await;
    let first_agent = onboarding(&server, &acme.key).await["firstAgentAt"].clone();
    assert!(first_agent.is_string());
    server
        .create_agent(&acme.key, "Second", json!({ "systemPrompt": "Hi" }))
        .await;
    assert_eq!(
        onboarding(&server, &acme.key).await["firstAgentAt"],
        first_agent,
        "never moves"
    );

    // A call counts once it connects.
    let call = server
        .create_call(
            &acme.key,
            &agent,
            json!({ "direction": "INBOUND", "transport": "WEB" }),
        )
        .await;
    assert!(onboarding(&server, &acme.key).await["firstCallAt"].is_null());
    let body = server
        .set_call_status(&acme.key, &call, "IN_PROGRESS", None)
        .await;
    let answered = body["data"]["updateCallStatus"]["answeredAt"].clone();
    assert!(answered.is_string(), "{body}");
    assert_eq!(
        onboarding(&server, &acme.key).await["firstCallAt"],
        answered
    );

    let (_, body) = server
        .gql(Some(&acme.key), "mutation { setTwilioAccount(input: {accountSid: \"AC0123456789abcdef0123456789abcdef\", authToken: \"0123456789abcdef0123456789abcdef\"}) { accountSid } }", json!({}))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let (_, body) = server
        .gql(Some(&acme.key), "mutation($a: ID!) { addPhoneNumber(input: {number: \"+14155550123\", agentId: $a}) { createdAt } }", json!({ "a": agent }))
        .await;
    let routed = body["data"]["addPhoneNumber"]["createdAt"].clone();
    assert!(routed.is_string(), "{body}");
    let seen = onboarding(&server, &viewer_key).await;
    assert_eq!(
        seen["firstPhoneNumberAt"], routed,
        "every role sees the checklist"
    );
    assert!(seen["firstPaidInvoiceAt"].is_null());

    // Another tenant's onboarding is its own.
    let other = server.tenant("Other").await;
    assert!(onboarding(&server, &other.key).await["firstAgentAt"].is_null());

    // Operators see every tenant's.
    let output = support::process::run_ok(data.path(), &["tenant", "milestones", "--json"]);
    let rows: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let acme_row = rows
        .iter()
        .find(|r| r["tenant_id"] == acme.id.to_string())
        .unwrap();
    assert!(acme_row["first_agent_at"].is_string() && acme_row["first_call_at"].is_string());
    assert!(
        acme_row["first_phone_number_at"].is_string()
            && acme_row["first_paid_invoice_at"].is_null()
    );
    let output = support::process::run_ok(data.path(), &["tenant", "milestones"]);
    let table = String::from_utf8(output.stdout).unwrap();
    assert!(
        table.contains(
            "2 tenants: 1 made an agent, 1 had a call, 1 routed a number, 0 paid an invoice"
        ),
        "{table}"
    );
}

#[tokio::test]
async fn the_first_paid_invoice_is_a_milestone() {
    use voxedge::billing::invoices::{self, InvoiceStatus};
    use voxedge::billing::job::{self, JobState};
    use voxedge::billing::plans::{self, PlanChange};
    use voxedge::billing::pricing::Month;

    let server = support::spawn_with(|config| {
        config.billing.job_interval = std::time::Duration::from_secs(3600);
        config.billing.finalize_delay = std::time::Duration::ZERO;
    })
    .await;
    let acme = server.tenant("Acme").await;
    let billing = &server.state.billing;
    plans::change(billing, acme.id, PlanChange::by_operator("pro"))
        .await
        .expect("plan assigned");
    let month = Month::containing(billing.now());
    server.state.clock.advance(std::time::Duration::from_millis(
        (month.end_ms + 3_600_000 - billing.now()) as u64,
    ));
    job::run_once(
        billing,
        &server.state.tenant_opener(),
        &mut JobState::default(),
    )
    .await
    .expect("billing job runs");
    assert_eq!(
        onboarding(&server, &acme.key).await["firstPaidInvoiceAt"],
        Value::Null,
        "issued, not paid"
    );
    let (_, body) = server
        .gql(
            Some(&acme.key),
            "{ invoices { nodes { id status } } }",
            json!({}),
        )
        .await;
    let invoice = body["data"]["invoices"]["nodes"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("an invoice: {body}"))
        .to_string();
    let tenant = server.state.tenant(acme.id).await.unwrap();
    invoices::transition(billing, &tenant, invoice, InvoiceStatus::Paid)
        .await
        .expect("paid");
    assert!(
        onboarding(&server, &acme.key).await["firstPaidInvoiceAt"].is_string(),
        "recorded when paid"
    );
}
