//! Stripe through async-stripe against a local server speaking Stripe's documented wire format — for what
//! localstripe does not implement: meter events (`/v1/billing/meter_events`), customer-portal sessions,
//! invoices built item by item and finalized (`/v1/invoices/{id}/finalize`).

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;
use voxedge::billing::pricing::Month;
use voxedge::billing::usage;
use voxedge::model::{Metric, NewUsage, Role};

use crate::stripe_tools::StripeStandIn;
use crate::support::{self, TestServer, error_code};
use crate::*;

async fn server() -> (TestServer, StripeStandIn) {
    let stand_in = StripeStandIn::start().await;
    let url = stand_in.url.clone();
    let server = support::spawn_with(move |c| {
        quiet_job(c);
        c.billing.stripe = Some(voxedge::billing::config::StripeSettings {
            secret_key: voxedge::redact::Secret::new("sk_test_voxedge".into()),
            api_url: url,
            webhook_secrets: vec![],
            webhook_tolerance: Duration::from_secs(300),
        });
    })
    .await;
    (server, stand_in)
}

async fn price_plan(server: &TestServer, plan: &str, price: &str) {
    let billing = &server.state.billing;
    let current = voxedge::billing::plans::current(billing.catalog())
        .await
        .unwrap()
        .into_iter()
        .find(|v| v.plan == plan)
        .unwrap();
    let mut terms = current.terms;
    terms.stripe_price_id = Some(price.into());
    voxedge::billing::plans::add_version(
        billing,
        voxedge::billing::plans::NewVersion {
            plan: plan.into(),
            name: current.name,
            terms,
            self_serve: current.self_serve,
            effective_from: 0,
            created_by: "test".into(),
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn subscriptions_usage_invoices_and_the_portal_go_to_stripe_idempotently() {
    let (server, stand_in) = server().await;
    let tenant = server.tenant("Metered").await;
    price_plan(&server, "pro", "price_pro_zero").await;

    // Choosing Pro makes a customer and a subscription to its price.
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "mutation { changePlan(plan: \"pro\") { id name } }",
            json!({}),
        )
        .await;
    assert_eq!(data(&body, "changePlan")["id"], "pro");
    let customers = stand_in.seen_at("POST", "/customers");
    assert_eq!(customers.len(), 1);
    assert_eq!(
        customers[0].form["metadata[vx_tenant_id]"],
        tenant.id.to_string()
    );
    assert!(customers[0].idempotency_key.is_some());
    let subscriptions = stand_in.seen_at("POST", "/subscriptions");
    assert_eq!(subscriptions[0].form["customer"], "cus_1");
    assert_eq!(subscriptions[0].form["items[0][plan]"], "price_pro_zero");

    // Usage is reported to the meters in batches whose identifiers make retries count once.
    let handle = server.state.tenant(tenant.id).await.unwrap();
    let now = server.state.billing.now();
    let batch = |from: usize, n: usize| {
        (from..from + n)
            .map(|i| {
                let metric = Metric::ALL[i % 5];
                (
                    NewUsage {
                        idempotency_key: format!("usage:{i}"),
                        call_id: None,
                        metric,
                        quantity: (i as i64 % 7) * 1_000 + 1,
                    },
                    now,
                )
            })
            .collect::<Vec<_>>()
    };
    usage::ingest(&handle, batch(0, 500)).await.unwrap();
    run_job(&server).await;
    usage::ingest(&handle, batch(500, 300)).await.unwrap();
    // Stripe counts the next event, but its answer is lost — twice: voxedge sends it again, with the same
    // identifier, until it gets an answer.
    stand_in.lose_meter_event_answers(2);
    run_job(&server).await;
    run_job(&server).await;
    run_job(&server).await;
    run_job(&server).await; // nothing new: nothing sent
    let events = stand_in.meter_events();
    let mut reported: HashMap<String, i64> = HashMap::new();
    for (identifier, (name, value)) in &events {
        assert!(
            identifier.starts_with(&format!("vx_{}_", tenant.id)),
            "{identifier}"
        );
        *reported.entry(name.clone()).or_default() += value;
    }
    let totals = handle
        .db
        .read(|conn| voxedge::repo::usage::totals(conn, 0, i64::MAX))
        .await
        .unwrap();
    for (metric, total) in totals {
        assert_eq!(
            reported[&format!("vx_{}", metric.as_str())],
            total,
            "{metric:?}"
        );
    }
    let attempts = stand_in.seen_at("POST", "/billing/meter_events").len();
    assert_eq!(
        attempts,
        events.len() + 2,
        "two retries, each of an event Stripe already had"
    );

    // The closed month is sent to Stripe line by line, exactly, and finalized for collection.
    let billing = &server.state.billing;
    let month = Month::containing(billing.now());
    server.state.clock.advance(Duration::from_millis(
        (month.end_ms + 60_000 - billing.now()) as u64,
    ));
    run_job(&server).await;
    let (_, body) = server
        .gql(Some(&tenant.key), "{ invoices { nodes { id total { amount } lines { amount { amount } description } } } }", json!({}))
        .await;
    let invoice = data(&body, "invoices")["nodes"][0].clone();
    let created = stand_in.seen_at("POST", "/invoices");
    let pushed = created.iter().find(|s| s.path == "/invoices").unwrap();
    assert_eq!(
        pushed.form["metadata[vx_invoice_id]"],
        invoice["id"].as_str().unwrap()
    );
    assert_eq!(pushed.form["auto_advance"], "true");
    let items = stand_in.seen_at("POST", "/invoiceitems");
    let nonzero: Vec<i64> = invoice["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (l["amount"]["amount"]
                .as_str()
                .unwrap()
                .parse::<f64>()
                .unwrap()
                * 100.0)
                .round() as i64
        })
        .filter(|c| *c != 0)
        .collect();
    let sent: Vec<i64> = items
        .iter()
        .map(|i| i.form["amount"].parse().unwrap())
        .collect();
    assert_eq!(sent, nonzero);
    assert!(
        stand_in
            .seen_at("POST", "/invoices/in_")
            .iter()
            .any(|s| s.path.ends_with("/finalize"))
    );

    // The payment portal: for owners and billing members, not viewers.
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "mutation { createBillingPortalSession(returnUrl: \"https://app.example/billing\") { url } }",
            json!({}),
        )
        .await;
    assert!(
        data(&body, "createBillingPortalSession")["url"]
            .as_str()
            .unwrap()
            .starts_with("https://billing.stripe.test/")
    );
    let portal = stand_in.seen_at("POST", "/billing_portal/sessions");
    assert_eq!(portal[0].form["return_url"], "https://app.example/billing");
    let viewer = server.key(tenant.id, Role::Viewer).await;
    let (_, body) = server
        .gql(
            Some(&viewer),
            "mutation { createBillingPortalSession(returnUrl: \"https://app.example/\") { url } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN");

    // Back to Free (no Stripe price): the subscription is cancelled.
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "mutation { changePlan(plan: \"free\") { id } }",
            json!({}),
        )
        .await;
    data(&body, "changePlan");
    assert_eq!(stand_in.seen_at("DELETE", "/subscriptions/sub_2").len(), 1);
    // Enterprise is not self-serve.
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "mutation { changePlan(plan: \"enterprise\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "PLAN_NOT_AVAILABLE");
}

#[tokio::test]
async fn without_stripe_the_portal_is_not_configured_and_everything_else_works() {
    let server = support::spawn_with(quiet_job).await;
    let tenant = server.tenant("Local").await;
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "mutation { createBillingPortalSession(returnUrl: \"https://x.example/\") { url } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "BILLING_NOT_CONFIGURED");
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "mutation { changePlan(plan: \"pro\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(data(&body, "changePlan")["id"], "pro");
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "{ billing { paymentsEnabled plan { id baseFee { amount } } forecast { amount } } }",
            json!({}),
        )
        .await;
    let billing = data(&body, "billing");
    assert_eq!(billing["paymentsEnabled"], false);
    assert_eq!(billing["plan"]["baseFee"]["amount"], "49.00");
    assert_eq!(
        billing["plan"]["concurrentCallLimit"], 10,
        "the plan's own limits apply"
    );
    assert_eq!(billing["plan"]["monthlyMinuteLimit"], 20_000);
}
