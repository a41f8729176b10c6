//! Admission limits: 50 `placeCall`s at once against a concurrent-call limit admit exactly the limit; monthly
//! minutes and suspension refuse new calls with their codes; refused starts create nothing and dial nothing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use futures::future::join_all;
use serde_json::json;
use voxedge::billing::usage;
use voxedge::model::Metric;
use voxedge::repo::usage::Adjustment;

use crate::support::{self, TestServer, error_code};
use crate::*;

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "aaaa1111bbbb2222cccc3333dddd4444";
const PLACE: &str = "mutation($a: ID!) { placeCall(agentId: $a, to: \"+14155550123\", from: \"+14155550100\") { id status } }";

/// Twilio's `Calls.json`, answering every call it is asked to dial.
async fn twilio() -> (String, Arc<Mutex<usize>>) {
    let dialled = Arc::new(Mutex::new(0usize));
    let app = axum::Router::new()
        .route(
            "/2010-04-01/Accounts/{account}/Calls.json",
            post(|State(count): State<Arc<Mutex<usize>>>| async move {
                // Slow enough that the 50 starts overlap while calls are being placed.
                tokio::time::sleep(Duration::from_millis(20)).await;
                *count.lock().unwrap() += 1;
                (
                    StatusCode::CREATED,
                    axum::Json(
                        json!({ "sid": "CAfeedfeedfeedfeedfeedfeedfeedfeed", "status": "queued" }),
                    ),
                )
            }),
        )
        .with_state(dialled.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, dialled)
}

async fn server_with_twilio() -> (TestServer, Arc<Mutex<usize>>) {
    let (base, dialled) = twilio().await;
    let server = support::spawn_with(|c| {
        quiet_job(c);
        c.twilio_api_url = base;
        c.public_url = Some("https://voxedge.example".into());
    })
    .await;
    (server, dialled)
}

async fn ready_tenant(server: &TestServer) -> (crate::support::TestTenant, String) {
    let tenant = server.tenant("Dialler").await;
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "mutation($i: SetTwilioAccountInput!) { setTwilioAccount(input: $i) { accountSid } }",
            json!({ "i": { "accountSid": SID, "authToken": TOKEN } }),
        )
        .await;
    data(&body, "setTwilioAccount");
    let agent = agent(server, &tenant.key, "Outbound").await;
    (tenant, agent)
}

async fn call_count(server: &TestServer, key: &str) -> usize {
    let (_, body) = server
        .gql(
            Some(key),
            "{ calls(first: 100) { nodes { id } } }",
            json!({}),
        )
        .await;
    data(&body, "calls")["nodes"].as_array().unwrap().len()
}

#[tokio::test]
async fn fifty_simultaneous_starts_at_a_limit_admit_exactly_the_limit() {
    let (server, dialled) = server_with_twilio().await;
    let (tenant, agent) = ready_tenant(&server).await;
    const LIMIT: usize = 7;
    assign(
        &server,
        tenant.id,
        "pro",
        json!({ "concurrent_calls": LIMIT }),
    )
    .await;

    let starts = (0..50).map(|_| server.gql(Some(&tenant.key), PLACE, json!({ "a": agent })));
    let results = join_all(starts).await;
    let admitted: Vec<_> = results
        .iter()
        .filter(|(_, body)| body["data"]["placeCall"]["id"].is_string())
        .collect();
    let refused: Vec<_> = results
        .iter()
        .filter(|(_, body)| error_code(body) == "CONCURRENT_CALL_LIMIT")
        .collect();
    assert_eq!(admitted.len(), LIMIT, "{results:?}");
    assert_eq!(refused.len(), 50 - LIMIT);
    assert_eq!(
        call_count(&server, &tenant.key).await,
        LIMIT,
        "refused starts create no call"
    );
    assert_eq!(
        *dialled.lock().unwrap(),
        LIMIT,
        "refused starts dial nothing"
    );
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "{ billing { callsInProgress plan { concurrentCallLimit } } }",
            json!({}),
        )
        .await;
    assert_eq!(data(&body, "billing")["callsInProgress"], LIMIT as i64);

    // A call that ends frees its slot; calls recorded with createCall never take one.
    let first = admitted[0].1["data"]["placeCall"]["id"].as_str().unwrap();
    let body = server
        .set_call_status(&tenant.key, first, "CANCELED", None)
        .await;
    assert_eq!(
        body["data"]["updateCallStatus"]["status"], "CANCELED",
        "{body}"
    );
    server
        .create_call(
            &tenant.key,
            &agent,
            json!({ "direction": "INBOUND", "transport": "WEB" }),
        )
        .await;
    let (_, body) = server
        .gql(Some(&tenant.key), PLACE, json!({ "a": agent }))
        .await;
    assert!(body["data"]["placeCall"]["id"].is_string(), "{body}");
    let (_, body) = server
        .gql(Some(&tenant.key), PLACE, json!({ "a": agent }))
        .await;
    assert_eq!(error_code(&body), "CONCURRENT_CALL_LIMIT");
}

#[tokio::test]
async fn used_up_minutes_and_suspension_refuse_new_calls_but_leave_calls_in_progress_alone() {
    let (server, dialled) = server_with_twilio().await;
    let (tenant, agent) = ready_tenant(&server).await;
    assign(&server, tenant.id, "pro", json!({ "monthly_minutes": 2 })).await;
    let (_, body) = server
        .gql(Some(&tenant.key), PLACE, json!({ "a": agent }))
        .await;
    let in_progress = body["data"]["placeCall"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    server
        .set_call_status(&tenant.key, &in_progress, "IN_PROGRESS", None)
        .await;

    // Two minutes of call time this month (recorded as a correction, to avoid waiting two minutes).
    let handle = server.state.tenant(tenant.id).await.unwrap();
    let used = Adjustment {
        idempotency_key: "imported-minutes".into(),
        call_id: None,
        agent_id: Some(agent.clone()),
        metric: Metric::CallMs,
        quantity: 120_000,
        reason: "calls carried by the old system this month".into(),
    };
    usage::adjust(&handle, used, server.state.billing.now())
        .await
        .unwrap();
    let (_, body) = server
        .gql(Some(&tenant.key), PLACE, json!({ "a": agent }))
        .await;
    assert_eq!(error_code(&body), "MONTHLY_MINUTES_EXHAUSTED", "{body}");

    // Suspended: refused with its own code, whatever the limits.
    assign(&server, tenant.id, "pro", json!({})).await;
    let catalog = server.state.catalog.clone();
    let id = tenant.id;
    catalog
        .write(move |tx| voxedge::repo::billing::set_status(tx, id, "active", "suspended"))
        .await
        .unwrap();
    server.state.billing.forget(tenant.id).await;
    let (_, body) = server
        .gql(Some(&tenant.key), PLACE, json!({ "a": agent }))
        .await;
    assert_eq!(error_code(&body), "TENANT_SUSPENDED");
    assert_eq!(status(&server, &tenant.key).await, "SUSPENDED");

    // Nothing was created or dialled for the refusals; the call in progress goes on.
    assert_eq!(call_count(&server, &tenant.key).await, 1);
    assert_eq!(*dialled.lock().unwrap(), 1);
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "query($id: ID!) { call(id: $id) { status } }",
            json!({ "id": in_progress }),
        )
        .await;
    assert_eq!(data(&body, "call")["status"], "IN_PROGRESS");
    let done = server
        .set_call_status(&tenant.key, &in_progress, "COMPLETED", None)
        .await;
    assert_eq!(
        done["data"]["updateCallStatus"]["status"], "COMPLETED",
        "{done}"
    );
}
