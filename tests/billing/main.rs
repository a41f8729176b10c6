//! Billing through the real server: invoices from a generated month checked against an independent
//! computation, admission limits under concurrent starts, Stripe against localstripe and a local server
//! speaking Stripe's wire format, and Stripe's signed webhooks driving dunning.

#[path = "../support/mod.rs"]
mod support;

mod invoices;
mod quotas;
mod stripe_localstripe;
mod stripe_stand_in;
mod stripe_tools;
mod webhooks;

use std::time::Duration;

use serde_json::{Value, json};
use support::TestServer;
use voxedge::billing::job::{self, JobState};
use voxedge::billing::plans::{self, PlanChange};
use voxedge::config::Config;
use voxedge::db::TenantId;

/// `data.<field>` of a successful response.
pub(crate) fn data<'a>(body: &'a Value, field: &str) -> &'a Value {
    assert!(body.get("errors").is_none(), "{body}");
    &body["data"][field]
}

/// Billing settings for tests: the job only runs when a test runs it; drafts finalize at once.
pub(crate) fn quiet_job(config: &mut Config) {
    config.billing.job_interval = Duration::from_secs(3600);
    config.billing.finalize_delay = Duration::ZERO;
}

/// Puts a tenant on `plan` (as an operator would), with `overrides` as JSON.
pub(crate) async fn assign(server: &TestServer, tenant: TenantId, plan: &str, overrides: Value) {
    plans::change(
        &server.state.billing,
        tenant,
        PlanChange {
            plan: plan.into(),
            overrides: Some(serde_json::from_value(overrides).expect("overrides")),
            changed_by: "cli".into(),
            operator: true,
            effective_from: None,
        },
    )
    .await
    .expect("plan assigned");
}

/// Runs the billing job once, as its timer would.
pub(crate) async fn run_job(server: &TestServer) {
    let mut state = JobState::default();
    job::run_once(
        &server.state.billing,
        &server.state.tenant_opener(),
        &mut state,
    )
    .await
    .expect("billing job runs");
}

pub(crate) async fn agent(server: &TestServer, key: &str, name: &str) -> String {
    server
        .create_agent(key, name, json!({ "systemPrompt": "You help." }))
        .await
}

/// The tenant's status as GraphQL shows it.
pub(crate) async fn status(server: &TestServer, key: &str) -> String {
    let (_, body) = server
        .gql(Some(key), "{ viewer { tenant { status } } }", json!({}))
        .await;
    data(&body, "viewer")["tenant"]["status"]
        .as_str()
        .expect("status")
        .to_string()
}
