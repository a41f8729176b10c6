//! Turning usage into money, exactly. Pure functions: no I/O, no clock.
//!
//! - Each UTC day is billed under the terms the tenant had when that day ended (for today: its terms now):
//!   the plan in effect then, at the price-book version in effect then, with the tenant's overrides.
//! - Consecutive days under the same terms form a segment. A segment bills its share of the base fee
//!   (`fee × days / days in month`) and, per metric, the usage beyond its share of the included quantity
//!   (`included × days / days in month`) at the unit price.
//! - Every line is rounded to the cent, half to even, from the exact rational value (no intermediate
//!   rounding); the total is the sum of the rounded lines.

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

use crate::model::plan::billing_unit;
use crate::model::{Currency, Metric, PerMetric, PlanTerms, TermsOverride};
use crate::repo::billing::{PlanVersion, TenantPlan};
use crate::repo::usage::{DAY_MS, DailyUsage};

/// `numerator / denominator` rounded to the cent, half to even, computed exactly.
pub fn exact_cents(numerator: Decimal, denominator: i64) -> Decimal {
    // numerator = mantissa / 10^scale, so the value in cents is mantissa × 100 / (denominator × 10^scale).
    let scale = numerator.scale();
    let mut num = numerator.mantissa() * 100;
    let mut den = i128::from(denominator) * 10i128.pow(scale);
    if den < 0 {
        (num, den) = (-num, -den);
    }
    let (quotient, remainder) = (num.div_euclid(den), num.rem_euclid(den));
    let twice = remainder * 2;
    let cents = if twice > den || (twice == den && quotient % 2 != 0) {
        quotient + 1
    } else {
        quotient
    };
    Decimal::from_i128_with_scale(cents, 2)
}

/// A display value: exact where it can be, else rounded to 6 decimal places (amounts never use it).
pub fn shown(value: Decimal) -> Decimal {
    value.round_dp(6).normalize()
}

/// A calendar month (UTC) as unix ms and day numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Month {
    pub start_ms: i64,
    pub end_ms: i64,
}

impl Month {
    /// The month containing `at` (unix ms).
    pub fn containing(at: i64) -> Self {
        let date = crate::clock::datetime(at).date_naive();
        let first = NaiveDate::from_ymd_opt(date.year(), date.month(), 1)
            .expect("invariant: the 1st of an existing month exists");
        let next = first
            .checked_add_months(chrono::Months::new(1))
            .expect("invariant: the month after a representable one is representable");
        Self {
            start_ms: ms_of(first),
            end_ms: ms_of(next),
        }
    }

    /// The month after this one.
    pub fn next(self) -> Self {
        Self::containing(self.end_ms)
    }

    pub fn first_day(self) -> i64 {
        self.start_ms / DAY_MS
    }

    pub fn end_day(self) -> i64 {
        self.end_ms / DAY_MS
    }

    pub fn days(self) -> i64 {
        self.end_day() - self.first_day()
    }

    /// `2026-11`.
    pub fn label(self) -> String {
        crate::clock::datetime(self.start_ms)
            .format("%Y-%m")
            .to_string()
    }
}

fn ms_of(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0)
        .expect("invariant: midnight exists")
        .and_utc()
        .timestamp_millis()
}

/// The terms a day is billed under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub plan: String,
    pub version: i64,
    pub name: String,
    pub terms: PlanTerms,
}

/// A tenant's plan history and the price book: which terms apply when.
#[derive(Debug, Clone, Default)]
pub struct Schedule {
    /// Every version of every plan.
    pub versions: Vec<PlanVersion>,
    /// The tenant's plan history, oldest first.
    pub history: Vec<TenantPlan>,
}

impl Schedule {
    /// The terms in effect just before `at` (unix ms); `None` before the tenant's first plan.
    pub fn before(&self, at: i64) -> Option<Resolved> {
        let assignment = self.history.iter().rfind(|h| h.effective_from < at)?;
        self.resolve(&assignment.plan, &assignment.overrides, at)
    }

    /// The terms in effect at `at` (unix ms).
    pub fn at(&self, at: i64) -> Option<Resolved> {
        self.before(at.saturating_add(1))
    }

    /// `plan`'s version in effect before `at` (its first version if none is yet), with `overrides`.
    pub fn resolve(&self, plan: &str, overrides: &TermsOverride, at: i64) -> Option<Resolved> {
        let mut of_plan = self.versions.iter().filter(|v| v.plan == plan);
        let first = of_plan.clone().next()?;
        let version = of_plan.rfind(|v| v.effective_from < at).unwrap_or(first);
        Some(Resolved {
            plan: version.plan.clone(),
            version: version.version,
            name: version.name.clone(),
            terms: version.terms.with(overrides),
        })
    }

    /// The terms of day number `day`: those in effect when it ends, or now if it has not ended yet.
    pub fn for_day(&self, day: i64, now: i64) -> Option<Resolved> {
        self.before(((day + 1) * DAY_MS).min(now.saturating_add(1)))
    }
}

/// A computed invoice line, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub kind: LineKind,
    pub description: String,
    pub plan: String,
    pub plan_version: i64,
    pub first_day: i64,
    pub end_day: i64,
    /// Billable quantity in `unit` (after what was included), shown to 6 decimals.
    pub quantity: Decimal,
    /// Used in `unit`, before what was included.
    pub used: Decimal,
    /// Included in `unit`, prorated.
    pub included: Decimal,
    pub unit: &'static str,
    pub unit_price: Decimal,
    /// Rounded half-even to the cent.
    pub amount: Decimal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    BaseFee,
    Usage(Metric),
}

/// A computed invoice: lines, their currency and total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Computed {
    pub currency: Currency,
    pub lines: Vec<Line>,
    pub total: Decimal,
}

/// The invoice of `month` for days `[first_day, end_day)` of it (the whole month for a closed month, up to
/// today for the cost so far), from daily usage rows (agents are summed).
pub fn compute(
    month: Month,
    first_day: i64,
    end_day: i64,
    schedule: &Schedule,
    usage: &[DailyUsage],
    now: i64,
) -> Computed {
    let days_in_month = month.days();
    let mut lines = Vec::new();
    let mut currency = None;
    for (seg_first, seg_end, resolved) in segments(first_day, end_day, schedule, now) {
        let days = seg_end - seg_first;
        let terms = &resolved.terms;
        currency.get_or_insert_with(|| terms.currency.clone());
        let period = describe_days(seg_first, seg_end, days_in_month);
        lines.push(Line {
            kind: LineKind::BaseFee,
            description: format!("{} plan, {period}", resolved.name),
            plan: resolved.plan.clone(),
            plan_version: resolved.version,
            first_day: seg_first,
            end_day: seg_end,
            quantity: shown(Decimal::from(days) / Decimal::from(days_in_month)),
            used: Decimal::ZERO,
            included: Decimal::ZERO,
            unit: "month",
            unit_price: terms.base_fee,
            amount: exact_cents(terms.base_fee * Decimal::from(days), days_in_month),
        });
        let mut used: PerMetric<i64> = PerMetric::default();
        for row in usage
            .iter()
            .filter(|r| r.day >= seg_first && r.day < seg_end)
        {
            *used.get_mut(row.metric) += row.quantity;
        }
        for metric in Metric::ALL {
            let used_base = *used.get(metric);
            if used_base == 0 {
                continue;
            }
            lines.push(usage_line(
                metric,
                used_base,
                days,
                days_in_month,
                &resolved,
                (seg_first, seg_end),
            ));
        }
    }
    let total = lines.iter().map(|l| l.amount).sum::<Decimal>();
    Computed {
        currency: currency.unwrap_or_else(Currency::usd),
        lines,
        total: crate::model::round_cents(total),
    }
}

fn usage_line(
    metric: Metric,
    used_base: i64,
    days: i64,
    days_in_month: i64,
    resolved: &Resolved,
    (first_day, end_day): (i64, i64),
) -> Line {
    let (per_unit, unit) = billing_unit(metric);
    let terms = &resolved.terms;
    let included = *terms.included.get(metric);
    let price = *terms.unit_prices.get(metric);
    // overage = used/U − included×days/D = (used×D − included×days×U) / (U×D), never below zero.
    let over_numerator = Decimal::from(used_base) * Decimal::from(days_in_month)
        - included * Decimal::from(days) * Decimal::from(per_unit);
    let over_numerator = over_numerator.max(Decimal::ZERO);
    let denominator = per_unit * days_in_month;
    Line {
        kind: LineKind::Usage(metric),
        description: format!("{} ({})", metric_label(metric), resolved.name),
        plan: resolved.plan.clone(),
        plan_version: resolved.version,
        first_day,
        end_day,
        quantity: shown(over_numerator / Decimal::from(denominator)),
        used: shown(Decimal::from(used_base) / Decimal::from(per_unit)),
        included: shown(included * Decimal::from(days) / Decimal::from(days_in_month)),
        unit,
        unit_price: price,
        amount: exact_cents(price * over_numerator, denominator),
    }
}

/// What a quantity of `metric` (base units) costs at `terms`' unit price, before anything included —
/// the list price a call's cost and the usage series show. Rounded half-even to the cent.
pub fn list_cost(terms: &PlanTerms, metric: Metric, base_units: i64) -> Decimal {
    let (per_unit, _) = billing_unit(metric);
    exact_cents(
        *terms.unit_prices.get(metric) * Decimal::from(base_units),
        per_unit,
    )
}

/// Runs of consecutive days in `[first_day, end_day)` billed under the same terms.
fn segments(
    first_day: i64,
    end_day: i64,
    schedule: &Schedule,
    now: i64,
) -> Vec<(i64, i64, Resolved)> {
    let mut runs: Vec<(i64, i64, Resolved)> = Vec::new();
    for day in first_day..end_day {
        let Some(resolved) = schedule.for_day(day, now) else {
            continue;
        };
        match runs.last_mut() {
            Some((_, end, last)) if *end == day && *last == resolved => *end = day + 1,
            _ => runs.push((day, day + 1, resolved)),
        }
    }
    runs
}

/// "Nov 1–30 (30 of 30 days)".
fn describe_days(first_day: i64, end_day: i64, days_in_month: i64) -> String {
    let first = crate::clock::datetime(first_day * DAY_MS);
    let last = crate::clock::datetime((end_day - 1) * DAY_MS);
    format!(
        "{} {}–{} ({} of {days_in_month} days)",
        first.format("%b"),
        first.day(),
        last.day(),
        end_day - first_day
    )
}

/// How a metric reads on an invoice.
pub fn metric_label(metric: Metric) -> &'static str {
    match metric {
        Metric::CallMs => "Call minutes",
        Metric::SttAudioMs => "Speech-to-text minutes",
        Metric::LlmInputTokens => "LLM input tokens",
        Metric::LlmOutputTokens => "LLM output tokens",
        Metric::TtsCharacters => "Text-to-speech characters",
    }
}

#[cfg(test)]
#[path = "pricing_tests.rs"]
mod tests;
