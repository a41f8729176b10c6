//! `POST /v1/stripe/webhook` with events signed by the official `stripe` Python library: applied once however
//! often delivered, refused with 400 (and no change) when the signature, timestamp or body is wrong, reorder-
//! safe, and driving dunning: past due → suspended → paid → active, each step audited and sent as a webhook.

use std::time::Duration;

use serde_json::{Value, json};
use voxedge::billing::pricing::Month;

use crate::stripe_tools::{StripeStandIn, stripe_signature};
use crate::support::{self, TestServer, error_code};
use crate::*;

const SECRET_OLD: &str = "whsec_old_rotating_out";
const SECRET_NEW: &str = "whsec_new_rotating_in";

async fn server() -> (TestServer, StripeStandIn) {
    let stand_in = StripeStandIn::start().await;
    let url = stand_in.url.clone();
    let server = support::spawn_with(move |c| {
        quiet_job(c);
        c.billing.grace = Duration::from_secs(14 * 86_400);
        c.billing.stripe = Some(voxedge::billing::config::StripeSettings {
            secret_key: voxedge::redact::Secret::new("sk_test_voxedge".into()),
            api_url: url,
            webhook_secrets: vec![
                voxedge::redact::Secret::new(SECRET_OLD.into()),
                voxedge::redact::Secret::new(SECRET_NEW.into()),
            ],
            webhook_tolerance: Duration::from_secs(300),
        });
    })
    .await;
    (server, stand_in)
}

fn event(id: &str, kind: &str, created: i64, object: Value) -> String {
    json!({ "id": id, "object": "event", "type": kind, "created": created, "data": { "object": object } })
        .to_string()
}

async fn deliver(server: &TestServer, body: &str, signature: Option<String>) -> (u16, Value) {
    let mut request = server
        .client
        .post(server.url("/v1/stripe/webhook"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(signature) = signature {
        request = request.header("stripe-signature", signature);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn signed(server: &TestServer, body: &str, secret: &str) -> (u16, Value) {
    let now = server.state.clock.now_secs();
    deliver(server, body, Some(stripe_signature(body, secret, now))).await
}

async fn invoice_status(server: &TestServer, key: &str, id: &str) -> String {
    let (_, body) = server
        .gql(
            Some(key),
            "query($id: ID!) { invoice(id: $id) { status } }",
            json!({ "id": id }),
        )
        .await;
    data(&body, "invoice")["status"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn processed_events(server: &TestServer) -> i64 {
    server
        .state
        .catalog
        .read(|conn| {
            conn.query_row("select count(*) from stripe_events", [], |r| r.get(0))
                .map_err(voxedge::db::StorageError::from)
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn signed_events_drive_dunning_once_each_and_bad_deliveries_change_nothing() {
    let (server, _stand_in) = server().await;
    let tenant = server.tenant("Dunning").await;
    let billing = &server.state.billing;
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "mutation { createWebhookEndpoint(input: {url: \"http://127.0.0.1:9/hook\", events: [BILLING_STATUS_CHANGED, BILLING_PAYMENT_FAILED, BILLING_INVOICE_PAID]}) { endpoint { id } } }",
            json!({}),
        )
        .await;
    let endpoint = data(&body, "createWebhookEndpoint")["endpoint"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assign(&server, tenant.id, "pro", json!({})).await;
    let month = Month::containing(billing.now());
    server.state.clock.advance(Duration::from_millis(
        (month.end_ms + 60_000 - billing.now()) as u64,
    ));
    run_job(&server).await;
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "{ invoices { nodes { id status } } }",
            json!({}),
        )
        .await;
    let invoice = data(&body, "invoices")["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let object = json!({
        "id": "in_stripe_1", "object": "invoice", "customer": "cus_unknown",
        "metadata": { "vx_invoice_id": invoice, "vx_tenant_id": tenant.id.to_string() },
    });
    let now = server.state.clock.now_secs();

    // The payment fails: past due, calls still allowed. Delivered three times, applied once.
    let failed = event(
        "evt_failed_1",
        "invoice.payment_failed",
        now - 10,
        object.clone(),
    );
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        let (code, body) = signed(&server, &failed, SECRET_NEW).await;
        assert_eq!(code, 200, "{body}");
        outcomes.push(body["outcome"].as_str().unwrap().to_string());
    }
    assert_eq!(outcomes, ["applied", "duplicate", "duplicate"]);
    assert_eq!(status(&server, &tenant.key).await, "PAST_DUE");
    assert!(
        server
            .state
            .billing
            .admission(tenant.id)
            .await
            .unwrap()
            .check_status()
            .is_ok()
    );
    let seen = processed_events(&server).await;

    // Refused with 400, nothing changed: a wrong secret, a stale timestamp, no signature, a malformed body.
    let paid = event("evt_paid_1", "invoice.paid", now, object.clone());
    let (code, body) = signed(&server, &paid, "whsec_someone_else").await;
    assert_eq!(
        (code, error_code(&body)),
        (400, "WEBHOOK_SIGNATURE_INVALID")
    );
    let stale = stripe_signature(&paid, SECRET_NEW, now - 301);
    let (code, body) = deliver(&server, &paid, Some(stale)).await;
    assert_eq!(
        (code, error_code(&body)),
        (400, "WEBHOOK_SIGNATURE_INVALID")
    );
    let (code, body) = deliver(&server, &paid, None).await;
    assert_eq!(
        (code, error_code(&body)),
        (400, "WEBHOOK_SIGNATURE_INVALID")
    );
    let (code, body) = signed(&server, "{\"id\": \"evt_x\", \"type\":", SECRET_NEW).await;
    assert_eq!((code, error_code(&body)), (400, "BAD_REQUEST"));
    assert_eq!(processed_events(&server).await, seen);
    assert_eq!(status(&server, &tenant.key).await, "PAST_DUE");
    assert_eq!(invoice_status(&server, &tenant.key, &invoice).await, "OPEN");

    // The grace period passes unpaid: suspended, no new calls, everything still readable.
    server.state.clock.advance(Duration::from_secs(15 * 86_400));
    run_job(&server).await;
    assert_eq!(status(&server, &tenant.key).await, "SUSPENDED");
    let refusal = server
        .state
        .billing
        .admission(tenant.id)
        .await
        .unwrap()
        .check_status();
    assert!(refusal.is_err());
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "{ billing { status pastDueSince } invoices { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(data(&body, "billing")["status"], "SUSPENDED");
    assert!(data(&body, "billing")["pastDueSince"].is_string());

    // Paid (signed with the secret being rotated out): active again at once.
    let now = server.state.clock.now_secs();
    let paid = event("evt_paid_1", "invoice.paid", now, object.clone());
    let (code, body) = signed(&server, &paid, SECRET_OLD).await;
    assert_eq!((code, body["outcome"].as_str()), (200, Some("applied")));
    assert_eq!(status(&server, &tenant.key).await, "ACTIVE");
    assert_eq!(invoice_status(&server, &tenant.key, &invoice).await, "PAID");

    // A payment failure for the same invoice arriving after it was paid changes nothing.
    let late = event("evt_failed_late", "invoice.payment_failed", now - 5, object);
    let (code, body) = signed(&server, &late, SECRET_NEW).await;
    assert_eq!(code, 200);
    assert_eq!(body["outcome"], "ignored: the invoice is already settled");
    assert_eq!(status(&server, &tenant.key).await, "ACTIVE");
    assert_eq!(invoice_status(&server, &tenant.key, &invoice).await, "PAID");

    // Every transition is in the audit log and went out as a signed webhook.
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "{ auditLog(first: 50) { nodes { actor action target } } }",
            json!({}),
        )
        .await;
    let audited: Vec<String> = data(&body, "auditLog")["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "billingStatusChanged")
        .map(|e| e["target"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(audited.len(), 3, "{audited:?}");
    assert!(audited[2].starts_with("active → past_due"), "{audited:?}");
    assert!(
        audited[1].starts_with("past_due → suspended"),
        "{audited:?}"
    );
    assert!(audited[0].starts_with("suspended → active"), "{audited:?}");
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "query($id: ID!) { webhookEndpoint(id: $id) { deliveries(first: 20) { nodes { eventType } } } }",
            json!({ "id": endpoint }),
        )
        .await;
    let mut types: Vec<String> = data(&body, "webhookEndpoint")["deliveries"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["eventType"].as_str().unwrap().to_string())
        .collect();
    types.sort();
    assert_eq!(
        types,
        [
            "billing.invoice_paid",
            "billing.payment_failed",
            "billing.status_changed",
            "billing.status_changed",
            "billing.status_changed",
        ]
    );
}
