//! `POST /v1/stripe/webhook`: Stripe's events, verified and applied once each.
//!
//! `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]`, where `v1` is HMAC-SHA256 of `"<t>.<raw body>"`
//! keyed with the endpoint's signing secret. Every configured secret is tried (two during a rotation), the
//! comparison is constant-time, and `t` must be within the tolerance of the server clock. A bad signature, a
//! stale timestamp or a malformed body is refused with `400` before anything changes.
//!
//! Each event id is applied once: ids already in `stripe_events` are acknowledged without effect. What an
//! event does is idempotent and order-independent (an invoice that is paid stays paid when a late
//! `invoice.payment_failed` arrives; the tenant's standing is derived from its invoices), so retries and
//! reordering cannot leave a wrong state.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::billing::invoices::{self, InvoiceStatus};
use crate::billing::plans::{self, PlanChange};
use crate::billing::{Billing, BillingError, dunning};
use crate::db::TenantId;
use crate::redact::Secret;
use crate::repo;
use crate::tenants::{Tenant, Tenants};

/// Checks a `Stripe-Signature` header against `body` with any of `secrets`, at `now` (unix seconds).
pub fn verify(
    secrets: &[Secret<String>],
    tolerance_secs: i64,
    header: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), BillingError> {
    let header = header.ok_or(BillingError::BadSignature(
        "missing Stripe-Signature header",
    ))?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", sig)) => signatures.extend(hex::decode(sig).ok()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(BillingError::BadSignature(
        "the Stripe-Signature header has no timestamp",
    ))?;
    if signatures.is_empty() {
        return Err(BillingError::BadSignature(
            "the Stripe-Signature header has no v1 signature",
        ));
    }
    let matches = secrets.iter().any(|secret| {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
            .expect("invariant: HMAC takes keys of any length");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        let expected = mac.finalize().into_bytes();
        signatures
            .iter()
            .any(|sig| bool::from(sig.as_slice().ct_eq(expected.as_slice())))
    });
    if !matches {
        return Err(BillingError::BadSignature(
            "no signature matches a configured webhook secret",
        ));
    }
    if (now - timestamp).abs() > tolerance_secs {
        return Err(BillingError::BadSignature(
            "the signed timestamp is outside the tolerance",
        ));
    }
    Ok(())
}

/// The parts of a Stripe event voxedge reads.
#[derive(Debug, Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    created: i64,
    data: EventData,
}

#[derive(Debug, Deserialize)]
struct EventData {
    object: Value,
}

/// Verifies and applies one delivery. Returns what was done (`applied`, `duplicate`, `ignored: …`).
pub async fn handle(
    billing: &Billing,
    tenants: &Tenants,
    header: Option<&str>,
    body: &[u8],
) -> Result<String, BillingError> {
    let stripe = billing.stripe().ok_or(BillingError::NotConfigured)?;
    let settings = stripe.settings();
    if settings.webhook_secrets.is_empty() {
        return Err(BillingError::NotConfigured);
    }
    let tolerance = i64::try_from(settings.webhook_tolerance.as_secs()).unwrap_or(i64::MAX);
    verify(
        &settings.webhook_secrets,
        tolerance,
        header,
        body,
        billing.clock().now_secs(),
    )?;
    let event: Event = serde_json::from_slice(body)
        .map_err(|e| BillingError::BadRequest(format!("not a Stripe event: {e}")))?;
    let id = event.id.clone();
    if billing
        .catalog()
        .read(move |conn| repo::billing::stripe_event_seen(conn, &id))
        .await?
    {
        return Ok("duplicate".into());
    }
    let outcome = apply(billing, tenants, &event).await?;
    let now = billing.now();
    let (id, kind, created, recorded) = (event.id, event.kind, event.created, outcome.clone());
    billing
        .catalog()
        .write(move |tx| {
            repo::billing::record_stripe_event(tx, &id, &kind, created, now, &recorded)
        })
        .await?;
    Ok(outcome)
}

fn text<'a>(object: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(object, |value, key| value.get(key))
        .and_then(Value::as_str)
}

async fn tenant_of(
    billing: &Billing,
    tenants: &Tenants,
    object: &Value,
) -> Result<Option<Tenant>, BillingError> {
    let by_metadata =
        text(object, &["metadata", "vx_tenant_id"]).and_then(|id| id.parse::<TenantId>().ok());
    let id = match (by_metadata, text(object, &["customer"])) {
        (Some(id), _) => Some(id),
        (None, Some(customer)) => {
            let customer = customer.to_string();
            billing
                .catalog()
                .read(move |conn| repo::billing::tenant_of_customer(conn, &customer))
                .await?
        }
        (None, None) => None,
    };
    match id {
        Some(id) => Ok(Some(tenants.open(id).await?)),
        None => Ok(None),
    }
}

async fn apply(
    billing: &Billing,
    tenants: &Tenants,
    event: &Event,
) -> Result<String, BillingError> {
    let object = &event.data.object;
    let Some(tenant) = tenant_of(billing, tenants, object).await? else {
        return Ok("ignored: no tenant has this customer".into());
    };
    match event.kind.as_str() {
        "invoice.paid" | "invoice.payment_succeeded" => {
            let Some(invoice) = local_invoice(&tenant, object).await? else {
                return Ok("ignored: not a voxedge invoice".into());
            };
            let outcome =
                match invoices::transition(billing, &tenant, invoice, InvoiceStatus::Paid).await {
                    Ok(_) => "applied".to_string(),
                    Err(BillingError::InvalidTransition { from, .. }) => {
                        format!("ignored: the invoice is {from}")
                    }
                    Err(e) => return Err(e),
                };
            dunning::reconcile(billing, &tenant, "invoice.paid").await?;
            Ok(outcome)
        }
        "invoice.payment_failed" => {
            let Some(invoice) = local_invoice(&tenant, object).await? else {
                return Ok("ignored: not a voxedge invoice".into());
            };
            let unpaid =
                invoices::payment_failed(billing, &tenant, invoice, event.created * 1000).await?;
            dunning::reconcile(billing, &tenant, "invoice.payment_failed").await?;
            Ok(if unpaid {
                "applied".into()
            } else {
                "ignored: the invoice is already settled".into()
            })
        }
        "customer.subscription.updated" => subscription_updated(billing, &tenant, event).await,
        "customer.subscription.deleted" => {
            let id = text(object, &["id"]).unwrap_or_default().to_string();
            let tenant_id = tenant.id;
            let ours = billing
                .catalog()
                .read(move |conn| repo::billing::account(conn, tenant_id))
                .await?
                .stripe_subscription_id;
            if ours.as_deref() != Some(id.as_str()) {
                return Ok("ignored: not the tenant's current subscription".into());
            }
            let now = billing.now();
            billing
                .catalog()
                .write(move |tx| {
                    let mut account = repo::billing::account(tx, tenant_id)?;
                    account.stripe_subscription_id = None;
                    repo::billing::save_account(tx, tenant_id, &account, now)
                })
                .await?;
            plans::change(billing, tenant.id, stripe_change("free")).await?;
            Ok("applied: moved to the free plan".into())
        }
        other => Ok(format!("ignored: {other}")),
    }
}

fn stripe_change(plan: &str) -> PlanChange {
    PlanChange {
        plan: plan.into(),
        overrides: None,
        changed_by: "stripe".into(),
        operator: true,
        effective_from: None,
    }
}

/// A subscription moved to another price (in Stripe's portal): the tenant moves to the plan with that price,
/// unless voxedge changed the plan after the event was made (a late event).
async fn subscription_updated(
    billing: &Billing,
    tenant: &Tenant,
    event: &Event,
) -> Result<String, BillingError> {
    let object = &event.data.object;
    let item = object
        .get("items")
        .and_then(|items| items.get("data"))
        .and_then(|data| data.get(0));
    let price = item
        .and_then(|item| text(item, &["price", "id"]).or_else(|| text(item, &["plan", "id"])))
        .or_else(|| text(object, &["plan", "id"]))
        .map(str::to_string);
    let Some(price) = price else {
        return Ok("ignored: no price".into());
    };
    let standing = billing.standing(tenant.id).await?;
    let last_change = standing
        .schedule
        .history
        .last()
        .map_or(0, |h| h.effective_from);
    if event.created * 1000 < last_change {
        return Ok("ignored: older than the tenant's last plan change".into());
    }
    let now = billing.now();
    let current = standing.terms_at(now);
    if current
        .as_ref()
        .and_then(|c| c.terms.stripe_price_id.as_deref())
        == Some(price.as_str())
    {
        return Ok("ignored: already on that plan".into());
    }
    let offered = plans::current(billing.catalog()).await?;
    let Some(plan) = offered
        .iter()
        .find(|p| p.terms.stripe_price_id.as_deref() == Some(price.as_str()))
    else {
        return Ok(format!("ignored: no plan has the price {price}"));
    };
    plans::change(billing, tenant.id, stripe_change(&plan.plan)).await?;
    Ok(format!("applied: moved to {}", plan.plan))
}

/// The voxedge invoice a Stripe invoice object stands for: by its metadata, else by Stripe's id.
async fn local_invoice(tenant: &Tenant, object: &Value) -> Result<Option<String>, BillingError> {
    let by_metadata = text(object, &["metadata", "vx_invoice_id"]).map(str::to_string);
    let stripe_id = text(object, &["id"]).map(str::to_string);
    tenant
        .db
        .read(move |conn| {
            if let Some(id) = by_metadata
                && let Some(invoice) = repo::invoices::get(conn, &id)?
            {
                return Ok::<_, BillingError>(Some(invoice.id));
            }
            match stripe_id {
                Some(id) => Ok(repo::invoices::by_stripe_id(conn, &id)?.map(|i| i.id)),
                None => Ok(None),
            }
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, t: i64, body: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.{body}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn signatures_are_checked_with_every_secret_and_the_tolerance() {
        let secrets = [
            Secret::new("whsec_old".to_string()),
            Secret::new("whsec_new".to_string()),
        ];
        let body = r#"{"id":"evt_1"}"#;
        let good = format!("t=1000,v1={}", sign("whsec_new", 1000, body));
        assert!(verify(&secrets, 300, Some(&good), body.as_bytes(), 1100).is_ok());
        let both = format!(
            "t=1000,v1={},v1={}",
            "00".repeat(32),
            sign("whsec_old", 1000, body)
        );
        assert!(verify(&secrets, 300, Some(&both), body.as_bytes(), 1000).is_ok());
        for (header, now) in [
            (good.clone(), 1301), // stale
            (good.clone(), 699),  // from the future
            (
                format!("t=1000,v1={}", sign("whsec_other", 1000, body)),
                1000,
            ), // wrong secret
            ("v1=abcd".to_string(), 1000), // no timestamp
            ("t=1000".to_string(), 1000), // no signature
        ] {
            assert!(
                verify(&secrets, 300, Some(&header), body.as_bytes(), now).is_err(),
                "{header} at {now}"
            );
        }
        assert!(verify(&secrets, 300, None, body.as_bytes(), 1000).is_err());
        assert!(verify(&secrets, 300, Some(&good), b"{\"id\":\"evt_2\"}", 1000).is_err());
    }
}
