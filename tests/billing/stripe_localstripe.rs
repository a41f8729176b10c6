//! Stripe through async-stripe against localstripe, a stateful Stripe-compatible server from PyPI: customers
//! and subscriptions made, moved and cancelled as plans change, and localstripe's own signed webhooks accepted
//! by `/v1/stripe/webhook`.

use std::time::Duration;

use serde_json::json;

use crate::stripe_tools::Localstripe;
use crate::support::{self, TestServer};
use crate::*;

const SECRET: &str = "whsec_localstripe";

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
            self_serve: true,
            effective_from: 0,
            created_by: "test".into(),
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn customers_and_subscriptions_follow_plan_changes_in_localstripe() {
    let stripe = Localstripe::start();
    let url = stripe.url.clone();
    let server = support::spawn_with(move |c| {
        quiet_job(c);
        c.billing.stripe = Some(voxedge::billing::config::StripeSettings {
            secret_key: voxedge::redact::Secret::new("sk_test_localstripe".into()),
            api_url: url,
            webhook_secrets: vec![voxedge::redact::Secret::new(SECRET.into())],
            webhook_tolerance: Duration::from_secs(300),
        });
    })
    .await;
    // The plans' zero-amount monthly prices, as an operator makes them in Stripe.
    for (id, name) in [("price_pro", "Pro"), ("price_enterprise", "Enterprise")] {
        stripe
            .post(
                "/v1/plans",
                &[
                    ("id", id),
                    ("amount", "0"),
                    ("currency", "usd"),
                    ("interval", "month"),
                    ("product[name]", name),
                ],
            )
            .await;
    }
    price_plan(&server, "pro", "price_pro").await;
    price_plan(&server, "enterprise", "price_enterprise").await;
    // localstripe sends its events to voxedge, signed with the endpoint's secret.
    stripe
        .post(
            "/_config/webhooks/voxedge",
            &[
                ("url", &server.url("/v1/stripe/webhook")),
                ("secret", SECRET),
            ],
        )
        .await;

    let tenant = server.tenant("Subscribed").await;
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "mutation { changePlan(plan: \"pro\") { id } }",
            json!({}),
        )
        .await;
    data(&body, "changePlan");
    let id = tenant.id;
    let account = server
        .state
        .catalog
        .read(move |conn| voxedge::repo::billing::account(conn, id))
        .await
        .unwrap();
    let customer = account.stripe_customer_id.expect("a customer");
    let subscription = account.stripe_subscription_id.expect("a subscription");
    let stored = stripe.get(&format!("/v1/customers/{customer}")).await;
    assert_eq!(stored["metadata"]["vx_tenant_id"], tenant.id.to_string());
    assert_eq!(stored["name"], "Subscribed");
    let stored = stripe
        .get(&format!("/v1/subscriptions/{subscription}"))
        .await;
    assert_eq!(stored["customer"], customer.as_str());
    assert_eq!(stored["plan"]["id"], "price_pro");
    assert_eq!(stored["metadata"]["vx_tenant_id"], tenant.id.to_string());

    // An operator moves the tenant to Enterprise: the same subscription moves to its price.
    assign(&server, tenant.id, "enterprise", json!({})).await;
    let stored = stripe
        .get(&format!("/v1/subscriptions/{subscription}"))
        .await;
    assert_eq!(stored["plan"]["id"], "price_enterprise");
    let again = stripe.get("/v1/customers?limit=10").await;
    assert_eq!(
        again["data"].as_array().unwrap().len(),
        1,
        "one customer per tenant"
    );

    // Back to Free: cancelled in localstripe, which then tells voxedge (signed) — an event about a
    // subscription the tenant no longer has, acknowledged and ignored.
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "mutation { changePlan(plan: \"free\") { id } }",
            json!({}),
        )
        .await;
    data(&body, "changePlan");
    let stored = stripe
        .get(&format!("/v1/subscriptions/{subscription}"))
        .await;
    assert_eq!(stored["status"], "canceled");
    let mut outcome = None;
    for _ in 0..100 {
        let found = server
            .state
            .catalog
            .read(|conn| {
                use rusqlite::OptionalExtension as _;
                conn.query_row(
                    "select outcome from stripe_events where type = 'customer.subscription.deleted'",
                    [],
                    |r| r.get::<_, String>(0),
                )
                .optional()
                .map_err(voxedge::db::StorageError::from)
            })
            .await
            .unwrap();
        if found.is_some() {
            outcome = found;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        outcome.as_deref(),
        Some("ignored: not the tenant's current subscription"),
        "localstripe's signed event reached voxedge and was verified"
    );
    assert_eq!(status(&server, &tenant.key).await, "ACTIVE");
}
