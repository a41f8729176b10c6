//! The billing job: every `--billing-job-interval-ms`, for every tenant,
//!
//! 1. closes each month that has ended and has no invoice yet into a draft — at 00:00 UTC on the 1st, or at
//!    the first run after downtime, for every month missed (idempotent: a month has one invoice);
//! 2. finalizes drafts older than `--invoice-finalize-delay-secs` (with Stripe: sends them there first);
//! 3. re-checks past-due tenants, suspending those past their grace period;
//! 4. with Stripe, reports new usage to its meters.
//!
//! "Now" is the server [`Clock`](crate::clock::Clock), so tests move time instead of waiting a month.

use std::collections::HashMap;
use std::future::Future;

use super::pricing::Month;
use super::{Billing, BillingError, dunning, invoices};
use crate::db::TenantId;
use crate::repo;
use crate::tenants::{Tenant, Tenants};

/// Most months one run closes for a tenant (a server down for years catches up over several runs).
const MAX_CATCH_UP_MONTHS: usize = 36;

/// Runs the job until `stop` resolves. With several regions, `region` is this one (the primary): tenants homed
/// in other regions are not billed here, since their files are not on this machine.
pub async fn run(
    billing: Billing,
    tenants: Tenants,
    region: Option<String>,
    stop: impl Future<Output = ()> + Send,
) {
    let mut tick = tokio::time::interval(billing.settings().job_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut state = JobState {
        region,
        ..JobState::default()
    };
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Err(e) = run_once(&billing, &tenants, &mut state).await {
                    tracing::warn!(error = %e, "billing job failed; retrying at the next run");
                }
            }
            () = &mut stop => break,
        }
    }
}

/// What the job remembers between runs: tenants whose months are all closed and finalized, by month.
#[derive(Debug, Default)]
pub struct JobState {
    settled: HashMap<TenantId, i64>,
    /// This region, when there are several: only tenants homed here are billed.
    region: Option<String>,
}

/// One run over every tenant. A tenant that fails is logged and retried next run; the others go on.
pub async fn run_once(
    billing: &Billing,
    tenants: &Tenants,
    state: &mut JobState,
) -> Result<(), BillingError> {
    let now = billing.now();
    let current = Month::containing(now);
    let (records, customers) = billing
        .catalog()
        .read(|conn| {
            Ok::<_, BillingError>((
                repo::tenants::list(conn)?,
                repo::billing::stripe_customers(conn)?,
            ))
        })
        .await?;
    let homed_here = |home: &Option<String>| match (&state.region, home) {
        (Some(here), Some(home)) => here == home,
        _ => true,
    };
    let billed: Vec<_> = records
        .iter()
        .filter(|r| r.status != "deleted" && homed_here(&r.home_region))
        .collect();
    for record in billed {
        let id = record.id;
        let settled = state.settled.get(&id) == Some(&current.start_ms);
        let past_due = matches!(record.status.as_str(), "past_due" | "suspended");
        let customer = customers.iter().find(|(t, _)| *t == id).map(|(_, c)| c);
        if settled && !past_due && customer.is_none() {
            continue;
        }
        let result = async {
            let tenant = tenants.open(id).await?;
            if !settled && close_and_finalize(billing, &tenant, current, customer).await? {
                state.settled.insert(id, current.start_ms);
            }
            if past_due {
                dunning::reconcile(billing, &tenant, "grace_period_over").await?;
            }
            if let (Some(stripe), Some(customer)) = (billing.stripe(), customer) {
                let sent = stripe.report_usage(&tenant, customer, now).await?;
                metrics::counter!("voxedge_stripe_meter_events_total").increment(sent as u64);
            }
            Ok::<_, BillingError>(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(tenant_id = %id, error = %e, "billing job failed for a tenant");
        }
    }
    Ok(())
}

/// Closes the tenant's ended months and finalizes drafts that are due. Returns true when nothing is left
/// to do until the next month.
pub async fn close_and_finalize(
    billing: &Billing,
    tenant: &Tenant,
    current: Month,
    customer: Option<&String>,
) -> Result<bool, BillingError> {
    let standing = billing.standing(tenant.id).await?;
    let Some(first) = standing.schedule.history.first() else {
        return Ok(true);
    };
    let last = tenant.db.read(repo::invoices::last_period).await?;
    let mut month = match last {
        Some(start) => Month::containing(start).next(),
        None => Month::containing(first.effective_from),
    };
    for _ in 0..MAX_CATCH_UP_MONTHS {
        if month.start_ms >= current.start_ms {
            break;
        }
        if invoices::close_month(billing, tenant, month)
            .await?
            .is_some()
        {
            tracing::info!(tenant_id = %tenant.id, month = %month.label(), "month closed into a draft invoice");
            metrics::counter!("voxedge_invoices_closed_total").increment(1);
        }
        month = month.next();
    }
    let now = billing.now();
    let delay = i64::try_from(billing.settings().finalize_delay.as_millis()).unwrap_or(i64::MAX);
    let drafts = tenant
        .db
        .read(|conn| repo::invoices::with_status(conn, "draft"))
        .await?;
    let mut settled = month.start_ms >= current.start_ms;
    for draft in drafts {
        if draft.created_at.saturating_add(delay) > now {
            settled = false;
            continue;
        }
        let stripe_id = match (billing.stripe(), customer) {
            (Some(stripe), Some(customer)) if draft.total > rust_decimal::Decimal::ZERO => {
                let id = draft.id.clone();
                let lines = tenant
                    .db
                    .read(move |conn| repo::invoices::lines(conn, &id))
                    .await?;
                Some(
                    stripe
                        .push_invoice(customer, tenant.id, &draft, &lines)
                        .await?,
                )
            }
            _ => None,
        };
        invoices::finalize(billing, tenant, draft.id, stripe_id).await?;
    }
    Ok(settled)
}
