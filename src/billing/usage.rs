//! Usage as money: what a call cost, usage and cost per day, agent and metric, and corrections of the ledger.
//!
//! A call's cost and the usage series are at list price: the quantity times the unit price in effect that day,
//! rounded half-even to the cent per figure, before the plan's included quantities (which only a month's
//! invoice can apply).

use rust_decimal::Decimal;

use super::pricing::{Month, list_cost};
use super::{Billing, BillingError};
use crate::error::{ErrorCode, InvalidInput};
use crate::model::plan::{billing_unit, in_billing_units};
use crate::model::{Currency, Metric, NewUsage};
use crate::repo;
use crate::repo::calls::CallRow;
use crate::repo::usage::{Adjustment, DAY_MS};
use crate::tenants::{Change, Tenant};

/// The cost of one metric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostLine {
    pub metric: Metric,
    /// In base units (ms, tokens, characters).
    pub quantity: i64,
    /// In billing units (minutes, thousands).
    pub billed_quantity: Decimal,
    pub unit: &'static str,
    pub unit_price: Decimal,
    pub amount: Decimal,
}

/// A cost and how it breaks down by metric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cost {
    pub currency: Currency,
    pub total: Decimal,
    pub lines: Vec<CostLine>,
}

/// What `call` cost at the tenant's prices on the day it was made.
pub async fn call_cost(
    billing: &Billing,
    tenant: &Tenant,
    call: &CallRow,
) -> Result<Cost, BillingError> {
    let call_id = call.id.clone();
    let totals = tenant
        .db
        .read(move |conn| repo::usage::call_totals(conn, &call_id))
        .await?;
    let standing = billing.standing(tenant.id).await?;
    let terms = standing.terms_at(call.created_at).map(|r| r.terms);
    let mut lines = Vec::new();
    for (metric, quantity) in totals {
        if quantity == 0 {
            continue;
        }
        let (_, unit) = billing_unit(metric);
        let (unit_price, amount) = match &terms {
            Some(terms) => (
                *terms.unit_prices.get(metric),
                list_cost(terms, metric, quantity),
            ),
            None => (Decimal::ZERO, crate::model::round_cents(Decimal::ZERO)),
        };
        lines.push(CostLine {
            metric,
            quantity,
            billed_quantity: super::pricing::shown(in_billing_units(metric, quantity)),
            unit,
            unit_price,
            amount,
        });
    }
    Ok(Cost {
        currency: terms.map_or_else(Currency::usd, |t| t.currency),
        total: crate::model::round_cents(lines.iter().map(|l| l.amount).sum()),
        lines,
    })
}

/// Usage of one day, agent and metric, and its cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesPoint {
    /// The day's start (unix ms, 00:00 UTC).
    pub day: i64,
    /// `None`: usage without an agent.
    pub agent_id: Option<String>,
    pub metric: Metric,
    pub quantity: i64,
    pub billed_quantity: Decimal,
    pub unit: &'static str,
    pub currency: Currency,
    pub cost: Decimal,
}

/// Usage and cost per day, agent and metric for the days that `[since, until)` (unix ms) touches.
pub async fn series(
    billing: &Billing,
    tenant: &Tenant,
    since: i64,
    until: i64,
) -> Result<Vec<SeriesPoint>, BillingError> {
    let first_day = since.div_euclid(DAY_MS);
    let end_day = until.saturating_add(DAY_MS - 1).div_euclid(DAY_MS);
    let rows = tenant
        .db
        .read(move |conn| repo::usage::daily(conn, first_day, end_day))
        .await?;
    let standing = billing.standing(tenant.id).await?;
    let now = billing.now();
    Ok(rows
        .into_iter()
        .map(|row| {
            let terms = standing.schedule.for_day(row.day, now).map(|r| r.terms);
            let (_, unit) = billing_unit(row.metric);
            SeriesPoint {
                day: row.day * DAY_MS,
                agent_id: (!row.agent_id.is_empty()).then_some(row.agent_id),
                metric: row.metric,
                quantity: row.quantity,
                billed_quantity: super::pricing::shown(in_billing_units(row.metric, row.quantity)),
                unit,
                cost: terms.as_ref().map_or_else(
                    || crate::model::round_cents(Decimal::ZERO),
                    |t| list_cost(t, row.metric, row.quantity),
                ),
                currency: terms.map_or_else(Currency::usd, |t| t.currency),
            }
        })
        .collect())
}

/// Records usage events measured elsewhere, each at its own time (unix ms), in one transaction with their
/// rollups. Events whose idempotency key was recorded before are skipped. Returns how many were new.
pub async fn ingest(tenant: &Tenant, events: Vec<(NewUsage, i64)>) -> Result<usize, BillingError> {
    tenant
        .commit(move |tx| {
            let mut new = 0;
            for (usage, at) in &events {
                new += usize::from(repo::usage::record(tx, usage, *at)?);
            }
            Ok(Change::quiet(new))
        })
        .await
}

/// Records a correction of the ledger at `occurred_at` (a new row; nothing is changed). Refused for a month
/// that is already invoiced: correct that with a credit note. Returns whether it was new (a retry with the
/// same key records nothing).
pub async fn adjust(
    tenant: &Tenant,
    adjustment: Adjustment,
    occurred_at: i64,
) -> Result<bool, BillingError> {
    let mut errors = Vec::new();
    if adjustment.reason.trim().is_empty() || adjustment.reason.chars().count() > 500 {
        errors.push(crate::error::FieldError::new(
            "reason",
            ErrorCode::Required,
            "say why, in 1–500 characters",
        ));
    }
    if adjustment.idempotency_key.is_empty() || adjustment.idempotency_key.len() > 200 {
        errors.push(crate::error::FieldError::new(
            "key",
            ErrorCode::OutOfRange,
            "1–200 characters",
        ));
    }
    if adjustment.quantity == 0 {
        errors.push(crate::error::FieldError::new(
            "quantity",
            ErrorCode::OutOfRange,
            "must not be zero",
        ));
    }
    InvalidInput::check(errors)?;
    let month = Month::containing(occurred_at);
    tenant
        .commit(move |tx| {
            if repo::invoices::by_period(tx, month.start_ms)?.is_some() {
                return Err(BillingError::Conflict(format!(
                    "{} is already invoiced; correct it with a credit note",
                    month.label()
                )));
            }
            let new = repo::usage::record_adjustment(tx, &adjustment, occurred_at)?;
            Ok(Change::quiet(new))
        })
        .await
}
