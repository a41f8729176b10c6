//! Live calls against the tenant's plan and standing: a Realtime call over the concurrent-call limit or past
//! the month's minutes is refused with its code (no call record); a Twilio stream continuing a placed call of a
//! tenant suspended meanwhile is refused with the refusal on that call's timeline.

use serde_json::json;
use voxedge::billing::plans::{self, PlanChange};
use voxedge::billing::usage;
use voxedge::model::Metric;
use voxedge::repo::usage::Adjustment;

use crate::support::voice::{
    Closed, RealtimeAuth, create_agent, realtime, session_token, twilio, voice_config,
};
use crate::support::{TestServer, spawn_with};

async fn limit(server: &TestServer, tenant: voxedge::db::TenantId, overrides: serde_json::Value) {
    plans::change(
        &server.state.billing,
        tenant,
        PlanChange {
            plan: "pro".into(),
            overrides: Some(serde_json::from_value(overrides).unwrap()),
            changed_by: "cli".into(),
            operator: true,
            effective_from: None,
        },
    )
    .await
    .unwrap();
}

async fn calls(server: &TestServer, key: &str) -> usize {
    let (_, body) = server
        .gql(
            Some(key),
            "{ calls(first: 50) { nodes { id } } }",
            json!({}),
        )
        .await;
    body["data"]["calls"]["nodes"].as_array().unwrap().len()
}

#[tokio::test]
async fn realtime_calls_over_the_plan_limits_are_refused_with_their_codes() {
    let server = spawn_with(|c| c.voice = voice_config()).await;
    let tenant = server.tenant("Limited").await;
    let agent = create_agent(&server, &tenant.key).await;
    limit(&server, tenant.id, json!({ "concurrent_calls": 1 })).await;
    let query = format!("agent={agent}");
    let connect = || realtime(&server, &query, RealtimeAuth::Header(&tenant.key), false);

    let mut first = connect().await;
    first.until("session.created").await;
    let mut second = connect().await;
    let (closed, seen) = second.until_closed().await;
    assert_eq!(seen[0]["type"], "error", "{seen:?}");
    assert_eq!(seen[0]["error"]["code"], "concurrent_call_limit");
    assert!(
        matches!(closed, Closed::Frame { code: 1013, .. }),
        "{closed:?}"
    );
    assert_eq!(
        calls(&server, &tenant.key).await,
        1,
        "the refused call left no record"
    );

    // The call in progress goes on; once it ends, the next one is admitted.
    first.socket.close(None).await.unwrap();
    let _ = first.until_closed().await;
    let mut admitted = None;
    for _ in 0..50 {
        let mut third = connect().await;
        match third.next().await {
            Ok(event) if event["type"] == "session.created" => {
                admitted = Some(third);
                break;
            }
            _ => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    let mut third = admitted.expect("a call is admitted once the first has ended");

    // This month's minutes used up: refused with its own code, 1008.
    third.socket.close(None).await.unwrap();
    let _ = third.until_closed().await;
    limit(&server, tenant.id, json!({ "monthly_minutes": 1 })).await;
    let handle = server.state.tenant(tenant.id).await.unwrap();
    let used = Adjustment {
        idempotency_key: "minute".into(),
        call_id: None,
        agent_id: None,
        metric: Metric::CallMs,
        quantity: 60_000,
        reason: "test".into(),
    };
    usage::adjust(&handle, used, server.state.billing.now())
        .await
        .unwrap();
    let mut refused = connect().await;
    let (closed, seen) = refused.until_closed().await;
    assert_eq!(
        seen[0]["error"]["code"], "monthly_minutes_exhausted",
        "{seen:?}"
    );
    assert!(
        matches!(closed, Closed::Frame { code: 1008, .. }),
        "{closed:?}"
    );
}

#[tokio::test]
async fn a_placed_call_of_a_tenant_suspended_meanwhile_is_refused_on_its_timeline() {
    let server = spawn_with(|c| c.voice = voice_config()).await;
    let tenant = server.tenant("Suspended").await;
    let agent = create_agent(&server, &tenant.key).await;
    let call = server
        .create_call(
            &tenant.key,
            &agent,
            json!({ "direction": "OUTBOUND", "transport": "PHONE", "to": "+14155550123" }),
        )
        .await;
    let token = session_token(&server, &tenant.key, &agent).await;
    let id = tenant.id;
    server
        .state
        .catalog
        .write(move |tx| voxedge::repo::billing::set_status(tx, id, "active", "suspended"))
        .await
        .unwrap();
    server.state.billing.forget(tenant.id).await;

    let mut stream = twilio(&server, json!({ "token": token, "callId": call })).await;
    let (closed, _) = stream.until_closed().await;
    assert!(
        matches!(&closed, Closed::Frame { code: 1008, reason } if reason.starts_with("tenant_suspended")),
        "{closed:?}"
    );
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "query($id: ID!) { call(id: $id) { status endedReason events { nodes { type data } } } }",
            json!({ "id": call }),
        )
        .await;
    let call = &body["data"]["call"];
    assert_eq!(call["status"], "FAILED", "{body}");
    assert_eq!(call["endedReason"], "suspended");
    let refused = call["events"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "admission_refused")
        .expect("the refusal is on the timeline");
    assert_eq!(refused["data"]["code"], "TENANT_SUSPENDED");
}
