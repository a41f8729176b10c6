//! GraphQL objects of billing: money (decimal strings), plans, invoices and their lines, usage points.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::context::{ContextExt, tenant};
use crate::billing::invoices::InvoiceStatus;
use crate::billing::pricing::shown;
use crate::billing::usage::{CostLine, SeriesPoint};
use crate::clock::datetime;
use crate::error::ApiResult;
use crate::model::plan::billing_unit;
use crate::model::{Currency, Metric, round_cents};
use crate::repo;
use crate::repo::billing::PlanVersion;
use crate::repo::invoices::{CreditNoteRow, InvoiceRow, LineRow};

/// An exact amount of money: a decimal string (never a float) and an ISO 4217 currency code.
#[derive(SimpleObject, Clone, Debug)]
pub struct Money {
    /// Decimal string, e.g. `"49.00"`, `"0.000125"` for unit prices.
    pub amount: String,
    /// Lowercase ISO 4217 code, e.g. `usd`.
    pub currency: String,
}

impl Money {
    pub fn of(amount: Decimal, currency: &str) -> Self {
        Self {
            amount: amount.to_string(),
            currency: currency.to_string(),
        }
    }

    /// Rounded half-even to the cent.
    pub fn cents(amount: Decimal, currency: &Currency) -> Self {
        Self::of(round_cents(amount), currency.as_str())
    }
}

/// A quantity of one metric in its billing unit.
#[derive(SimpleObject)]
pub struct MetricAmount {
    pub metric: Metric,
    /// `minute`, `1k tokens`, `1k characters`.
    pub unit: String,
    /// Decimal string in `unit`.
    pub quantity: String,
}

/// The price of one metric's billing unit.
#[derive(SimpleObject)]
pub struct MetricPrice {
    pub metric: Metric,
    pub unit: String,
    pub price: Money,
}

/// A plan of the price book (its version in effect, or the one shown).
pub struct Plan {
    pub version: PlanVersion,
    /// The terms after this tenant's overrides, when shown as the tenant's plan.
    pub terms: crate::model::PlanTerms,
}

impl Plan {
    pub fn new(version: PlanVersion) -> Self {
        let terms = version.terms.clone();
        Self { version, terms }
    }
}

#[Object]
impl Plan {
    /// `free`, `pro`, `enterprise`, or an operator's own.
    async fn id(&self) -> ID {
        ID(self.version.plan.clone())
    }

    async fn name(&self) -> &str {
        &self.version.name
    }

    /// The price-book version these terms come from.
    async fn version(&self) -> i64 {
        self.version.version
    }

    /// Tenants may choose it themselves (`changePlan`); others are assigned by an operator.
    async fn self_serve(&self) -> bool {
        self.version.self_serve
    }

    /// Per month, prorated by the day.
    async fn base_fee(&self) -> Money {
        Money::of(self.terms.base_fee, self.terms.currency.as_str())
    }

    /// Included per month (prorated by the day), per metric.
    async fn included(&self) -> Vec<MetricAmount> {
        Metric::ALL
            .into_iter()
            .map(|metric| MetricAmount {
                metric,
                unit: billing_unit(metric).1.into(),
                quantity: self.terms.included.get(metric).to_string(),
            })
            .collect()
    }

    /// Price per unit beyond what is included.
    async fn unit_prices(&self) -> Vec<MetricPrice> {
        Metric::ALL
            .into_iter()
            .map(|metric| MetricPrice {
                metric,
                unit: billing_unit(metric).1.into(),
                price: Money::of(
                    *self.terms.unit_prices.get(metric),
                    self.terms.currency.as_str(),
                ),
            })
            .collect()
    }

    /// Calls at once (queued, ringing or in progress); null: unlimited.
    async fn concurrent_call_limit(&self) -> Option<u32> {
        self.terms.concurrent_calls
    }

    /// Call minutes per calendar month (UTC); null: unlimited.
    async fn monthly_minute_limit(&self) -> Option<u64> {
        self.terms.monthly_minutes
    }
}

/// One line of an invoice (or of the month so far).
#[derive(SimpleObject)]
pub struct InvoiceLine {
    /// `BASE_FEE` lines bill the plan's fee for the days they cover; `USAGE` lines a metric beyond what
    /// the plan includes.
    pub kind: String,
    pub metric: Option<Metric>,
    pub description: String,
    pub plan: String,
    pub plan_version: i64,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    /// Billable quantity in `unit`, after what was included (shown to 6 decimals; the amount is exact).
    pub quantity: String,
    /// Used, in `unit`.
    pub used: String,
    /// Included, in `unit`, prorated.
    pub included: String,
    pub unit: String,
    pub unit_price: Money,
    /// Rounded half-even to the cent.
    pub amount: Money,
}

impl InvoiceLine {
    pub fn from_row(line: &LineRow, currency: &str) -> Self {
        Self {
            kind: line.kind.to_ascii_uppercase(),
            metric: line.metric.as_deref().and_then(Metric::parse),
            description: line.description.clone(),
            plan: line.plan.clone(),
            plan_version: line.plan_version,
            period_start: datetime(line.period_start),
            period_end: datetime(line.period_end),
            quantity: shown(line.quantity).to_string(),
            used: shown(line.used).to_string(),
            included: shown(line.included).to_string(),
            unit: line.unit.clone(),
            unit_price: Money::of(line.unit_price, currency),
            amount: Money::of(line.amount, currency),
        }
    }
}

/// A credit note (refund or correction) against an invoice.
#[derive(SimpleObject)]
pub struct CreditNote {
    pub id: ID,
    pub amount: Money,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

impl CreditNote {
    fn from_row(note: CreditNoteRow, currency: &str) -> Self {
        Self {
            id: ID(note.id),
            amount: Money::of(note.amount, currency),
            reason: note.reason,
            created_at: datetime(note.created_at),
        }
    }
}

/// A month's invoice.
pub struct Invoice(pub InvoiceRow);

#[Object]
impl Invoice {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    /// `VX-202611-0001`.
    async fn number(&self) -> &str {
        &self.0.number
    }

    async fn status(&self) -> InvoiceStatus {
        InvoiceStatus::parse(&self.0.status).unwrap_or(InvoiceStatus::Void)
    }

    async fn period_start(&self) -> DateTime<Utc> {
        datetime(self.0.period_start)
    }

    async fn period_end(&self) -> DateTime<Utc> {
        datetime(self.0.period_end)
    }

    async fn subtotal(&self) -> Money {
        Money::of(self.0.subtotal, &self.0.currency)
    }

    /// The sum of the lines, each rounded half-even to the cent.
    async fn total(&self) -> Money {
        Money::of(self.0.total, &self.0.currency)
    }

    /// What credit notes gave back.
    async fn credited(&self, ctx: &Context<'_>) -> ApiResult<Money> {
        let notes = self.notes(ctx).await?;
        let sum: Decimal = notes.iter().map(|n| n.amount).sum();
        Ok(Money::of(round_cents(sum), &self.0.currency))
    }

    async fn credit_notes(&self, ctx: &Context<'_>) -> ApiResult<Vec<CreditNote>> {
        Ok(self
            .notes(ctx)
            .await?
            .into_iter()
            .map(|n| CreditNote::from_row(n, &self.0.currency))
            .collect())
    }

    async fn lines(&self, ctx: &Context<'_>) -> ApiResult<Vec<InvoiceLine>> {
        let principal = ctx.principal()?;
        let id = self.0.id.clone();
        let lines = tenant(ctx, principal)
            .await?
            .db
            .read(move |conn| repo::invoices::lines(conn, &id))
            .await?;
        Ok(lines
            .iter()
            .map(|l| InvoiceLine::from_row(l, &self.0.currency))
            .collect())
    }

    async fn created_at(&self) -> DateTime<Utc> {
        datetime(self.0.created_at)
    }

    async fn finalized_at(&self) -> Option<DateTime<Utc>> {
        self.0.finalized_at.map(datetime)
    }

    async fn paid_at(&self) -> Option<DateTime<Utc>> {
        self.0.paid_at.map(datetime)
    }

    /// The last failed payment attempt while unpaid.
    async fn payment_failed_at(&self) -> Option<DateTime<Utc>> {
        self.0.payment_failed_at.map(datetime)
    }
}

impl Invoice {
    async fn notes(&self, ctx: &Context<'_>) -> ApiResult<Vec<CreditNoteRow>> {
        let principal = ctx.principal()?;
        let id = self.0.id.clone();
        Ok(tenant(ctx, principal)
            .await?
            .db
            .read(move |conn| repo::invoices::credit_notes(conn, &id))
            .await?)
    }
}

/// Usage of one day, agent and metric, with its cost at list price.
#[derive(SimpleObject)]
pub struct UsagePoint {
    /// The day (00:00 UTC).
    pub day: DateTime<Utc>,
    /// Null for usage without an agent.
    pub agent_id: Option<ID>,
    pub metric: Metric,
    /// In the metric's base unit: milliseconds, tokens or characters.
    pub quantity: i64,
    /// In `unit`: minutes, thousands of tokens or characters.
    pub billed_quantity: String,
    pub unit: String,
    /// Quantity × the unit price of that day, rounded half-even to the cent (before what the plan includes).
    pub cost: Money,
}

impl From<SeriesPoint> for UsagePoint {
    fn from(point: SeriesPoint) -> Self {
        Self {
            day: datetime(point.day),
            agent_id: point.agent_id.map(ID),
            metric: point.metric,
            quantity: point.quantity,
            billed_quantity: point.billed_quantity.to_string(),
            unit: point.unit.into(),
            cost: Money::of(point.cost, point.currency.as_str()),
        }
    }
}

/// What one metric of a call cost.
#[derive(SimpleObject)]
pub struct CallCostLine {
    pub metric: Metric,
    /// In the metric's base unit.
    pub quantity: i64,
    pub billed_quantity: String,
    pub unit: String,
    pub unit_price: Money,
    pub amount: Money,
}

impl CallCostLine {
    pub fn new(line: CostLine, currency: &Currency) -> Self {
        Self {
            metric: line.metric,
            quantity: line.quantity,
            billed_quantity: line.billed_quantity.to_string(),
            unit: line.unit.into(),
            unit_price: Money::of(line.unit_price, currency.as_str()),
            amount: Money::of(line.amount, currency.as_str()),
        }
    }
}
