//! Stripe, through async-stripe, when `--stripe-secret-key` is set.
//!
//! voxedge computes every invoice (exact decimal, its proration and rounding); Stripe collects exactly that:
//!
//! - **Customer** per tenant, made when first needed (`metadata.vx_tenant_id`), its id in the catalog.
//! - **Subscription** to the plan's Stripe price (`stripe_price_id` in the plan's terms) while the tenant is
//!   on a plan that has one: it is the plan in Stripe's customer portal (where a tenant cancels or manages
//!   payment methods); plan changes move its item to the new price. The item names the price as `plan`,
//!   which Stripe accepts for any recurring price (prices are backward-compatible with plans) — and which is
//!   also what localstripe understands.
//! - **Usage** goes to Stripe's meters (`vx_<metric>` meter events, value in base units) in batches.
//!   Each batch is written to `stripe_usage_reports` before it is sent and sent with the same `identifier`
//!   until Stripe has it, so a retry — even after a crash — is counted once. Adjustments net out inside a
//!   batch; Stripe meter values cannot be negative, so a batch that nets to zero or less sends nothing.
//! - **Invoices**: a finalized voxedge invoice is created in Stripe with one invoice item per line (amounts
//!   in cents, exactly voxedge's), `auto_advance` so Stripe finalizes and charges it and retries failures;
//!   `metadata.vx_invoice_id` links it back. The plan's Stripe price is therefore a zero-amount
//!   recurring price (see the README): Stripe must not bill the base fee a second time, and its own
//!   proration of a plan change has nothing to prorate.
//! - **Customer portal** sessions, so a tenant manages its payment methods.
//!
//! Every creating request carries an idempotency key derived from what it creates, so retries are safe.
//! Answers are read into small types of our own with only the fields voxedge uses.

pub mod webhook;

use std::collections::HashMap;

use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeRequest};
use stripe_billing::billing_meter_event::CreateBillingMeterEvent;
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_billing::invoice::{
    CreateInvoice, CreateInvoicePendingInvoiceItemsBehavior, FinalizeInvoiceInvoice,
};
use stripe_billing::invoice_item::CreateInvoiceItem;
use stripe_billing::subscription::{
    CancelSubscription, CreateSubscription, CreateSubscriptionItems, RetrieveSubscription,
    UpdateSubscription, UpdateSubscriptionItems,
};
use stripe_core::customer::CreateCustomer;

use super::BillingError;
use super::config::StripeSettings;
use crate::db::{Database, TenantId};
use crate::model::{Metric, Money};
use crate::repo;
use crate::repo::invoices::{InvoiceRow, LineRow};
use crate::tenants::{Change, Tenant};

/// Ledger rows read per usage batch.
const USAGE_BATCH: i64 = 10_000;

#[derive(miniserde::Deserialize)]
struct Created {
    id: String,
}

#[derive(miniserde::Deserialize)]
struct Subscription {
    id: String,
    items: SubscriptionItems,
}

#[derive(miniserde::Deserialize)]
struct SubscriptionItems {
    data: Vec<Created>,
}

#[derive(miniserde::Deserialize)]
struct PortalSession {
    url: String,
}

#[derive(miniserde::Deserialize)]
struct MeterEvent {
    identifier: String,
}

/// voxedge's Stripe client. Cheap to clone.
#[derive(Clone)]
pub struct StripeBilling {
    client: Client,
    settings: StripeSettings,
}

/// Every failed Stripe request becomes a provider error here, so `?` on a request is all a caller writes.
impl From<stripe::StripeError> for BillingError {
    fn from(err: stripe::StripeError) -> Self {
        let message = match &err {
            stripe::StripeError::Stripe(api, status) => format!(
                "Stripe refused the request ({status}): {}",
                api.message.as_deref().unwrap_or("no reason given")
            ),
            other => other.to_string(),
        };
        tracing::warn!(error = %message, "Stripe request failed");
        BillingError::Provider(message)
    }
}

fn idempotent(key: &str) -> Result<RequestStrategy, BillingError> {
    IdempotencyKey::new(key)
        .map(RequestStrategy::Idempotent)
        .map_err(|e| BillingError::Provider(format!("idempotency key: {e:?}")))
}

fn currency(code: &str) -> Result<stripe_types::Currency, BillingError> {
    code.parse()
        .map_err(|_| BillingError::Provider(format!("Stripe does not know the currency {code}")))
}

impl StripeBilling {
    pub fn new(settings: StripeSettings) -> Result<Self, BillingError> {
        crate::brain::install_crypto_provider();
        let client = ClientBuilder::new(settings.secret_key.expose().clone())
            .url(format!("{}/", settings.api_url))
            .timeout(std::time::Duration::from_secs(20))
            .build()?;
        Ok(Self { client, settings })
    }

    pub fn settings(&self) -> &StripeSettings {
        &self.settings
    }

    /// The tenant's Stripe customer, created (and remembered in the catalog) on first use.
    pub async fn ensure_customer(
        &self,
        catalog: &Database,
        tenant: TenantId,
    ) -> Result<String, BillingError> {
        let (account, record) = catalog
            .read(move |conn| {
                Ok::<_, BillingError>((
                    repo::billing::account(conn, tenant)?,
                    repo::tenants::get(conn, tenant)?,
                ))
            })
            .await?;
        if let Some(customer) = account.stripe_customer_id {
            return Ok(customer);
        }
        let name = record.map_or_else(|| tenant.to_string(), |r| r.name);
        let metadata = HashMap::from([("vx_tenant_id".to_string(), tenant.to_string())]);
        let created: Created = CreateCustomer::new()
            .name(name)
            .metadata(metadata)
            .build()
            .customize()
            .request_strategy(idempotent(&format!("voxedge-customer-{tenant}"))?)
            .send(&self.client)
            .await?;
        let customer = created.id.clone();
        let now = crate::clock::now_ms();
        catalog
            .write(move |tx| {
                let mut account = repo::billing::account(tx, tenant)?;
                account.stripe_customer_id = Some(created.id);
                repo::billing::save_account(tx, tenant, &account, now)
            })
            .await?;
        Ok(customer)
    }

    /// Makes the tenant's subscription follow its plan: subscribed to `price` (created, or its item moved to
    /// the new price), or cancelled when the plan has no Stripe price.
    pub async fn follow_plan(
        &self,
        catalog: &Database,
        tenant: TenantId,
        price: Option<&str>,
    ) -> Result<(), BillingError> {
        let account = catalog
            .read(move |conn| repo::billing::account(conn, tenant))
            .await?;
        let subscription = match (price, account.stripe_subscription_id) {
            (None, None) => return Ok(()),
            (None, Some(existing)) => {
                let _: Created = CancelSubscription::new(existing.clone())
                    .build()
                    .customize()
                    .send(&self.client)
                    .await?;
                None
            }
            (Some(price), Some(existing)) => {
                let current: Subscription = RetrieveSubscription::new(existing.clone())
                    .build()
                    .customize()
                    .send(&self.client)
                    .await?;
                let mut item = UpdateSubscriptionItems::new();
                item.id = current.items.data.first().map(|i| i.id.clone());
                item.plan = Some(price.to_string());
                let updated: Created = UpdateSubscription::new(current.id)
                    .items(vec![item])
                    .build()
                    .customize()
                    .send(&self.client)
                    .await?;
                Some(updated.id)
            }
            (Some(price), None) => {
                let customer = self.ensure_customer(catalog, tenant).await?;
                let mut item = CreateSubscriptionItems::new();
                item.plan = Some(price.to_string());
                let metadata = HashMap::from([("vx_tenant_id".to_string(), tenant.to_string())]);
                let created: Created = CreateSubscription::new()
                    .customer(customer)
                    .items(vec![item])
                    .metadata(metadata)
                    .build()
                    .customize()
                    // A retry within the minute (a lost answer) must not make a second subscription.
                    .request_strategy(idempotent(&format!(
                        "voxedge-subscription-{tenant}-{price}-{}",
                        crate::clock::now_ms() / 60_000
                    ))?)
                    .send(&self.client)
                    .await?;
                Some(created.id)
            }
        };
        let now = crate::clock::now_ms();
        catalog
            .write(move |tx| {
                let mut account = repo::billing::account(tx, tenant)?;
                account.stripe_subscription_id = subscription;
                repo::billing::save_account(tx, tenant, &account, now)
            })
            .await?;
        Ok(())
    }

    /// Sends the tenant's usage not yet reported to Stripe's meters. Returns how many meter events were sent.
    pub async fn report_usage(
        &self,
        tenant: &Tenant,
        customer: &str,
        now: i64,
    ) -> Result<usize, BillingError> {
        let tenant_id = tenant.id;
        tenant
            .commit(move |tx| {
                let after = repo::invoices::reported_up_to(tx)?;
                let events = repo::usage::events_after(tx, after, USAGE_BATCH)?;
                let Some(&(last, _, _)) = events.last() else {
                    return Ok(Change::quiet(()));
                };
                let mut reports: Vec<(Metric, i64)> = Metric::ALL
                    .into_iter()
                    .map(|metric| {
                        let total = events
                            .iter()
                            .filter(|(_, m, _)| *m == metric)
                            .map(|(_, _, q)| q)
                            .sum::<i64>();
                        (metric, total)
                    })
                    .filter(|(_, total)| *total > 0)
                    .collect();
                if reports.is_empty() {
                    // Nothing to send; one empty report still records how far the ledger was read.
                    reports.push((Metric::CallMs, 0));
                }
                for (metric, quantity) in reports {
                    let identifier = format!("vx_{tenant_id}_{}_{last}", metric.as_str());
                    repo::invoices::insert_usage_report(
                        tx,
                        metric.as_str(),
                        last,
                        quantity,
                        &identifier,
                        now,
                    )?;
                }
                Ok::<_, BillingError>(Change::quiet(()))
            })
            .await?;
        let unsent = tenant.db.read(repo::invoices::unsent_usage_reports).await?;
        let mut sent = 0;
        for report in unsent {
            if report.quantity > 0 {
                let payload = HashMap::from([
                    ("stripe_customer_id".to_string(), customer.to_string()),
                    ("value".to_string(), report.quantity.to_string()),
                ]);
                let event: MeterEvent =
                    CreateBillingMeterEvent::new(format!("vx_{}", report.metric), payload)
                        .identifier(report.identifier.clone())
                        .timestamp(now / 1000)
                        .build()
                        .customize()
                        .request_strategy(idempotent(&report.identifier)?)
                        .send(&self.client)
                        .await?;
                debug_assert_eq!(event.identifier, report.identifier);
                sent += 1;
            }
            let id = report.id;
            tenant
                .db
                .write(move |tx| repo::invoices::mark_usage_report_sent(tx, id, now))
                .await?;
        }
        Ok(sent)
    }

    /// Creates `invoice` in Stripe for `customer`, one invoice item per line with its exact amount, and
    /// finalizes it for automatic collection. Returns Stripe's invoice id.
    pub async fn push_invoice(
        &self,
        customer: &str,
        tenant: TenantId,
        invoice: &InvoiceRow,
        lines: &[LineRow],
    ) -> Result<String, BillingError> {
        let metadata = HashMap::from([
            ("vx_invoice_id".to_string(), invoice.id.clone()),
            ("vx_tenant_id".to_string(), tenant.to_string()),
        ]);
        let created: Created = CreateInvoice::new()
            .customer(customer)
            .currency(currency(&invoice.currency)?)
            .auto_advance(true)
            .pending_invoice_items_behavior(CreateInvoicePendingInvoiceItemsBehavior::Exclude)
            .description(format!("voxedge invoice {}", invoice.number))
            .metadata(metadata.clone())
            .build()
            .customize()
            .request_strategy(idempotent(&format!("voxedge-invoice-{}", invoice.id))?)
            .send(&self.client)
            .await?;
        for line in lines.iter().filter(|l| !l.amount.is_zero()) {
            let amount = Money::new(line.amount, invoice.currency.parse()?)
                .minor_units()
                .ok_or_else(|| {
                    BillingError::Provider(format!("{} is not whole cents", line.amount))
                })?;
            let _: Created = CreateInvoiceItem::new()
                .customer(customer)
                .invoice(created.id.clone())
                .amount(amount)
                .currency(currency(&invoice.currency)?)
                .description(line.description.clone())
                .metadata(metadata.clone())
                .build()
                .customize()
                .request_strategy(idempotent(&format!(
                    "voxedge-invoice-{}-line-{}",
                    invoice.id, line.position
                ))?)
                .send(&self.client)
                .await?;
        }
        let _: Created = FinalizeInvoiceInvoice::new(created.id.clone())
            .auto_advance(true)
            .build()
            .customize()
            .request_strategy(idempotent(&format!(
                "voxedge-invoice-{}-finalize",
                invoice.id
            ))?)
            .send(&self.client)
            .await?;
        Ok(created.id)
    }

    /// A customer-portal link where the tenant manages its payment methods and subscription.
    pub async fn portal_session(
        &self,
        customer: &str,
        return_url: &str,
    ) -> Result<String, BillingError> {
        let session: PortalSession = CreateBillingPortalSession::new()
            .customer(customer)
            .return_url(return_url)
            .build()
            .customize()
            .send(&self.client)
            .await?;
        Ok(session.url)
    }
}
