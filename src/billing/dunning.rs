//! Dunning: a tenant's standing follows its invoices.
//!
//! - An unpaid invoice whose payment failed makes the tenant **past due** (calls still work).
//! - Still unpaid when the grace period (`--dunning-grace-days`) has passed since it became past due: the
//!   tenant is **suspended** — no new calls (live, placed or answered); the portal and API stay readable and
//!   nothing is deleted.
//! - Once no such invoice is left (paid, voided), the tenant is **active** again at once.
//!
//! The standing is derived from the invoices rather than from the order events arrive in, so a retried,
//! late or reordered payment event cannot leave a paid tenant past due. Every change is written to the
//! tenant's audit log and sent to its webhook endpoints as `billing.status_changed`.

use serde_json::json;

use super::invoices::{has_failed_payment, wanted_status};
use super::{Billing, BillingError};
use crate::email::templates::BillingNotice;
use crate::model::TenantStatus;
use crate::repo;
use crate::repo::audit::AuditRow;
use crate::tenants::{Change, Tenant};
use crate::webhooks::{self, WebhookEvent};

/// Brings the tenant's standing in line with its invoices and the grace period; `why` is recorded with a
/// change (`invoice.payment_failed`, `grace_period_over`, ...). Returns the standing now.
pub async fn reconcile(
    billing: &Billing,
    tenant: &Tenant,
    why: &str,
) -> Result<TenantStatus, BillingError> {
    let failed = tenant.db.read(has_failed_payment).await?;
    let now = billing.now();
    let grace_ms = i64::try_from(billing.settings().grace.as_millis()).unwrap_or(i64::MAX);
    let id = tenant.id;
    let (from, to) = billing
        .catalog()
        .write(move |tx| {
            let Some(record) = repo::tenants::get(tx, id)? else {
                return Ok((TenantStatus::Suspended, TenantStatus::Suspended));
            };
            let current = TenantStatus::parse(&record.status);
            if record.status == "deleted" {
                return Ok((current, current));
            }
            let mut account = repo::billing::account(tx, id)?;
            let since = if failed {
                account.past_due_since.or(Some(now))
            } else {
                None
            };
            let wanted = wanted_status(failed, since, grace_ms, now);
            if account.past_due_since != since {
                account.past_due_since = since;
                repo::billing::save_account(tx, id, &account, now)?;
            }
            if wanted != current {
                repo::billing::set_status(tx, id, &record.status, wanted.as_str())?;
            }
            Ok::<_, BillingError>((current, wanted))
        })
        .await?;
    if from == to {
        return Ok(to);
    }
    billing.forget(tenant.id).await;
    tracing::info!(tenant_id = %tenant.id, from = from.as_str(), to = to.as_str(), why, "tenant billing status changed");
    metrics::counter!("voxedge_billing_status_changes_total", "to" => to.as_str()).increment(1);
    let why = why.to_string();
    let tenant_id = tenant.id;
    tenant
        .commit(move |tx| {
            repo::audit::insert(
                tx,
                &AuditRow {
                    id: crate::db::new_id(),
                    at: now,
                    actor: "system:billing".into(),
                    action: "billingStatusChanged".into(),
                    target: Some(format!("{} → {} ({why})", from.as_str(), to.as_str())),
                    outcome: "success".into(),
                    error_code: None,
                    ip: None,
                    user_agent: None,
                },
            )?;
            let deliveries = webhooks::enqueue(
                tx,
                tenant_id,
                WebhookEvent::BillingStatusChanged,
                json!({ "from": from.as_str(), "to": to.as_str(), "reason": why }),
            )?;
            Ok::<_, BillingError>(Change {
                value: (),
                events: Vec::new(),
                deliveries,
            })
        })
        .await?;
    if to == TenantStatus::Suspended {
        billing.notify(tenant_id, BillingNotice::Suspended).await;
    }
    Ok(to)
}
