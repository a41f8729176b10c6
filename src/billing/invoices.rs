//! Monthly invoices: closing a month into a draft from the rollups, finalizing it, its states
//! (`draft → open → paid | void | uncollectible`; `draft → void`; `uncollectible → paid | void`), credit notes,
//! and the month in progress (cost to date, forecast).
//!
//! Closing is idempotent (one invoice per month: `period_start` is unique) and the stored invoice keeps the
//! lines, prices and plan versions it was computed from: later price changes never touch it.

use rust_decimal::Decimal;
use serde_json::json;

use super::pricing::{self, Computed, LineKind, Month};
use super::{Billing, BillingError};
use crate::email::templates::BillingNotice;
use crate::error::{ErrorCode, InvalidInput};
use crate::model::{TenantStatus, round_cents};
use crate::repo;
use crate::repo::invoices::{CreditNoteRow, InvoiceRow, LineRow};
use crate::repo::usage::{DAY_MS, DailyUsage};
use crate::tenants::{Change, Tenant};
use crate::webhooks::{self, WebhookEvent};

/// An invoice's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, async_graphql::Enum)]
pub enum InvoiceStatus {
    Draft,
    Open,
    Paid,
    Void,
    Uncollectible,
}

impl InvoiceStatus {
    pub fn parse(stored: &str) -> Option<Self> {
        Some(match stored {
            "draft" => Self::Draft,
            "open" => Self::Open,
            "paid" => Self::Paid,
            "void" => Self::Void,
            "uncollectible" => Self::Uncollectible,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Open => "open",
            Self::Paid => "paid",
            Self::Void => "void",
            Self::Uncollectible => "uncollectible",
        }
    }

    /// The state machine.
    pub fn can_become(self, to: Self) -> bool {
        use InvoiceStatus::*;
        matches!(
            (self, to),
            (Draft, Open | Void)
                | (Open, Paid | Void | Uncollectible)
                | (Uncollectible, Paid | Void)
        )
    }
}

/// The usage rows of `month` (every agent), from the rollups.
async fn month_usage(tenant: &Tenant, month: Month) -> Result<Vec<DailyUsage>, BillingError> {
    Ok(tenant
        .db
        .read(move |conn| repo::usage::daily(conn, month.first_day(), month.end_day()))
        .await?)
}

/// Computes `month`'s invoice for days `[first_day, end_day)` without storing anything.
pub async fn compute(
    billing: &Billing,
    tenant: &Tenant,
    month: Month,
    end_day: i64,
) -> Result<Computed, BillingError> {
    let usage = month_usage(tenant, month).await?;
    let standing = billing.standing(tenant.id).await?;
    Ok(pricing::compute(
        month,
        month.first_day(),
        end_day,
        &standing.schedule,
        &usage,
        billing.now(),
    ))
}

fn to_rows(computed: &Computed) -> Vec<LineRow> {
    computed
        .lines
        .iter()
        .enumerate()
        .map(|(i, line)| LineRow {
            position: i64::try_from(i).unwrap_or(i64::MAX) + 1,
            kind: match line.kind {
                LineKind::BaseFee => "base_fee".into(),
                LineKind::Usage(_) => "usage".into(),
            },
            metric: match line.kind {
                LineKind::BaseFee => None,
                LineKind::Usage(metric) => Some(metric.as_str().into()),
            },
            description: line.description.clone(),
            plan: line.plan.clone(),
            plan_version: line.plan_version,
            period_start: line.first_day * DAY_MS,
            period_end: line.end_day * DAY_MS,
            quantity: line.quantity,
            used: line.used,
            included: line.included,
            unit: line.unit.into(),
            unit_price: line.unit_price,
            amount: line.amount,
        })
        .collect()
}

/// Closes `month` into a draft invoice unless it has one. Returns the new draft, or `None` if the month was
/// invoiced already (by this or another instance) or nothing was billed in it.
pub async fn close_month(
    billing: &Billing,
    tenant: &Tenant,
    month: Month,
) -> Result<Option<InvoiceRow>, BillingError> {
    let computed = compute(billing, tenant, month, month.end_day()).await?;
    if computed.lines.is_empty() {
        return Ok(None);
    }
    let now = billing.now();
    tenant
        .commit(move |tx| {
            if repo::invoices::by_period(tx, month.start_ms)?.is_some() {
                return Ok(Change::quiet(None));
            }
            let sequence = repo::invoices::count(tx)? + 1;
            let invoice = InvoiceRow {
                id: crate::db::new_id(),
                number: format!("VX-{}-{sequence:04}", month.label().replace('-', "")),
                period_start: month.start_ms,
                period_end: month.end_ms,
                status: InvoiceStatus::Draft.as_str().into(),
                currency: computed.currency.as_str().into(),
                subtotal: computed.total,
                total: computed.total,
                created_at: now,
                finalized_at: None,
                paid_at: None,
                voided_at: None,
                uncollectible_at: None,
                payment_failed_at: None,
                stripe_invoice_id: None,
            };
            let lines = to_rows(&computed);
            repo::invoices::insert(tx, &invoice, &lines)?;
            Ok(Change::quiet(Some(invoice)))
        })
        .await
}

/// Finalizes a draft: it becomes `open` (or `paid` at once when it totals zero) and is announced with the
/// `billing.invoice_issued` webhook. With Stripe, the caller sends it to Stripe first.
pub async fn finalize(
    billing: &Billing,
    tenant: &Tenant,
    invoice_id: String,
    stripe_invoice_id: Option<String>,
) -> Result<InvoiceRow, BillingError> {
    let now = billing.now();
    let tenant_id = tenant.id;
    let invoice = tenant
        .commit(move |tx| {
            let mut invoice =
                repo::invoices::get(tx, &invoice_id)?.ok_or(BillingError::InvoiceNotFound)?;
            if invoice.status != "draft" {
                return Err(BillingError::InvalidTransition {
                    from: invoice.status,
                    to: "open".into(),
                });
            }
            invoice.finalized_at = Some(now);
            invoice.stripe_invoice_id = stripe_invoice_id.or(invoice.stripe_invoice_id);
            if invoice.total <= Decimal::ZERO {
                invoice.status = "paid".into();
                invoice.paid_at = Some(now);
            } else {
                invoice.status = "open".into();
            }
            repo::invoices::update_state(tx, &invoice)?;
            let deliveries = webhooks::enqueue(
                tx,
                tenant_id,
                WebhookEvent::BillingInvoiceIssued,
                json!({ "invoice": invoice_json(&invoice) }),
            )?;
            Ok(Change {
                value: invoice,
                events: Vec::new(),
                deliveries,
            })
        })
        .await?;
    if invoice.status == "open" {
        billing
            .notify(
                tenant_id,
                BillingNotice::InvoiceIssued {
                    number: invoice.number.clone(),
                    total: amount(&invoice),
                },
            )
            .await;
    }
    Ok(invoice)
}

/// Moves an invoice to `to` as the state machine allows (operators, Stripe's webhooks). A payment settles
/// the tenant's dunning state (see [`super::dunning`]); the caller reconciles it afterwards.
pub async fn transition(
    billing: &Billing,
    tenant: &Tenant,
    invoice_id: String,
    to: InvoiceStatus,
) -> Result<InvoiceRow, BillingError> {
    let now = billing.now();
    let tenant_id = tenant.id;
    tenant
        .commit(move |tx| {
            let mut invoice =
                repo::invoices::get(tx, &invoice_id)?.ok_or(BillingError::InvoiceNotFound)?;
            let from = InvoiceStatus::parse(&invoice.status).unwrap_or(InvoiceStatus::Void);
            if from == to {
                return Ok(Change::quiet(invoice));
            }
            if !from.can_become(to) {
                return Err(BillingError::InvalidTransition {
                    from: from.as_str().into(),
                    to: to.as_str().into(),
                });
            }
            invoice.status = to.as_str().into();
            match to {
                InvoiceStatus::Open => invoice.finalized_at = Some(now),
                InvoiceStatus::Paid => invoice.paid_at = Some(now),
                InvoiceStatus::Void => invoice.voided_at = Some(now),
                InvoiceStatus::Uncollectible => invoice.uncollectible_at = Some(now),
                InvoiceStatus::Draft => {}
            }
            repo::invoices::update_state(tx, &invoice)?;
            if to == InvoiceStatus::Paid && invoice.total > Decimal::ZERO {
                // Onboarding: the tenant's first paid invoice.
                repo::milestones::reach(tx, repo::milestones::Milestone::FirstPaidInvoice, now)?;
            }
            let deliveries = if to == InvoiceStatus::Paid {
                webhooks::enqueue(
                    tx,
                    tenant_id,
                    WebhookEvent::BillingInvoicePaid,
                    json!({ "invoice": invoice_json(&invoice) }),
                )?
            } else {
                0
            };
            Ok(Change {
                value: invoice,
                events: Vec::new(),
                deliveries,
            })
        })
        .await
}

/// Records a failed payment attempt of an unpaid invoice (a failure reported after it was paid or voided
/// changes nothing). Returns whether the invoice is now awaiting payment after a failure.
pub async fn payment_failed(
    billing: &Billing,
    tenant: &Tenant,
    invoice_id: String,
    at: i64,
) -> Result<bool, BillingError> {
    let tenant_id = tenant.id;
    let (unpaid, first) = tenant
        .commit(move |tx| {
            let mut invoice =
                repo::invoices::get(tx, &invoice_id)?.ok_or(BillingError::InvoiceNotFound)?;
            if !matches!(invoice.status.as_str(), "open" | "uncollectible") {
                return Ok::<_, BillingError>(Change::quiet((false, None)));
            }
            let first = invoice.payment_failed_at.is_none();
            invoice.payment_failed_at = Some(at);
            repo::invoices::update_state(tx, &invoice)?;
            let deliveries = if first {
                webhooks::enqueue(
                    tx,
                    tenant_id,
                    WebhookEvent::BillingPaymentFailed,
                    json!({ "invoice": invoice_json(&invoice) }),
                )?
            } else {
                0
            };
            Ok(Change {
                value: (true, first.then_some(invoice)),
                events: Vec::new(),
                deliveries,
            })
        })
        .await?;
    if let Some(invoice) = first {
        billing
            .notify(
                tenant_id,
                BillingNotice::PaymentFailed {
                    number: invoice.number.clone(),
                    total: amount(&invoice),
                },
            )
            .await;
    }
    Ok(unpaid)
}

/// An invoice's total as its emails say it, e.g. `12.34 USD`.
fn amount(invoice: &InvoiceRow) -> String {
    format!("{:.2} {}", invoice.total, invoice.currency.to_uppercase())
}

/// Issues a credit note (a refund or correction) against an issued invoice. Credits never exceed its total.
pub async fn credit(
    tenant: &Tenant,
    invoice_id: String,
    amount: Decimal,
    reason: String,
    created_by: String,
    now: i64,
) -> Result<CreditNoteRow, BillingError> {
    let amount = round_cents(amount);
    let mut errors = Vec::new();
    if amount <= Decimal::ZERO {
        errors.push(crate::error::FieldError::new(
            "amount",
            ErrorCode::OutOfRange,
            "must be more than 0.00",
        ));
    }
    if reason.trim().is_empty() || reason.chars().count() > 500 {
        errors.push(crate::error::FieldError::new(
            "reason",
            ErrorCode::Required,
            "say why, in 1–500 characters",
        ));
    }
    InvalidInput::check(errors)?;
    tenant
        .commit(move |tx| {
            let invoice =
                repo::invoices::get(tx, &invoice_id)?.ok_or(BillingError::InvoiceNotFound)?;
            if !matches!(invoice.status.as_str(), "open" | "paid" | "uncollectible") {
                return Err(BillingError::Conflict(format!(
                    "a {} invoice cannot be credited",
                    invoice.status
                )));
            }
            let credited: Decimal = repo::invoices::credit_notes(tx, &invoice.id)?
                .iter()
                .map(|n| n.amount)
                .sum();
            if credited + amount > invoice.total {
                return Err(InvalidInput::field(
                    "amount",
                    ErrorCode::OutOfRange,
                    format!(
                        "at most {} is left to credit on this invoice",
                        invoice.total - credited
                    ),
                )
                .into());
            }
            let note = CreditNoteRow {
                id: crate::db::new_id(),
                invoice_id: invoice.id,
                amount,
                reason,
                created_at: now,
                created_by,
            };
            repo::invoices::insert_credit_note(tx, &note)?;
            Ok(Change::quiet(note))
        })
        .await
}

/// The month in progress: what it has cost so far (base fee for the days so far, usage so far) and a
/// forecast for the whole month (today's terms for the days left, usage going on at the pace so far).
#[derive(Debug, Clone)]
pub struct MonthToDate {
    pub month: Month,
    pub to_date: Computed,
    pub forecast: Decimal,
}

pub async fn month_to_date(
    billing: &Billing,
    tenant: &Tenant,
) -> Result<MonthToDate, BillingError> {
    let now = billing.now();
    let month = Month::containing(now);
    let today = now.div_euclid(DAY_MS);
    let mut usage = month_usage(tenant, month).await?;
    let standing = billing.standing(tenant.id).await?;
    let schedule = &standing.schedule;
    let to_date = pricing::compute(month, month.first_day(), today + 1, schedule, &usage, now);
    // The pace so far, carried to the month's end: elapsed time, not elapsed days, so the first hours of a
    // month do not forecast a whole day's usage for every day.
    let elapsed = (now - month.start_ms).max(1);
    let remaining = (month.end_ms - now).max(0);
    let mut projected = Vec::new();
    for metric in crate::model::Metric::ALL {
        let used: i64 = usage
            .iter()
            .filter(|r| r.metric == metric)
            .map(|r| r.quantity)
            .sum();
        let more = i128::from(used.max(0)) * i128::from(remaining) / i128::from(elapsed);
        if more > 0 {
            projected.push(DailyUsage {
                day: today,
                agent_id: String::new(),
                metric,
                quantity: i64::try_from(more).unwrap_or(i64::MAX),
                events: 0,
            });
        }
    }
    usage.extend(projected);
    // Days after today are billed under today's terms: price them as of now.
    let forecast = pricing::compute(
        month,
        month.first_day(),
        month.end_day(),
        schedule,
        &usage,
        now,
    );
    Ok(MonthToDate {
        month,
        to_date,
        forecast: forecast.total,
    })
}

/// An invoice as webhooks carry it.
pub fn invoice_json(invoice: &InvoiceRow) -> serde_json::Value {
    json!({
        "id": invoice.id,
        "number": invoice.number,
        "status": invoice.status,
        "currency": invoice.currency,
        "total": invoice.total.to_string(),
        "periodStart": crate::clock::datetime(invoice.period_start),
        "periodEnd": crate::clock::datetime(invoice.period_end),
    })
}

/// Whether the tenant has an unpaid invoice whose payment failed (what keeps it past due).
pub fn has_failed_payment(conn: &rusqlite::Connection) -> Result<bool, BillingError> {
    let open = repo::invoices::with_status(conn, "open")?;
    let uncollectible = repo::invoices::with_status(conn, "uncollectible")?;
    Ok(open
        .iter()
        .chain(uncollectible.iter())
        .any(|i| i.payment_failed_at.is_some()))
}

/// What a tenant's standing should be given its invoices: settled → active; a failed payment → past due,
/// suspended once `since + grace` has passed.
pub fn wanted_status(
    failed: bool,
    past_due_since: Option<i64>,
    grace_ms: i64,
    now: i64,
) -> TenantStatus {
    match (failed, past_due_since) {
        (false, _) => TenantStatus::Active,
        (true, Some(since)) if now - since >= grace_ms => TenantStatus::Suspended,
        (true, _) => TenantStatus::PastDue,
    }
}
