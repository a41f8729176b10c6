//! Billing: the tenant's plan and limits, the month so far and its forecast, invoices, usage series, plan
//! changes and the payment portal. Reading needs `ReadBilling` (owner, admin, billing); changing the plan and
//! opening the payment portal `ManageBilling` (owner, billing).

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::billing_types::{Invoice, InvoiceLine, Money, Plan, UsagePoint};
use super::context::{ContextExt, tenant};
use super::pagination::{KeysetCursor, PageRequest, connection_complexity};
use crate::auth::{Actor, Permission, Principal};
use crate::billing::invoices;
use crate::billing::plans::{self, PlanChange};
use crate::billing::pricing::Computed;
use crate::billing::{BillingError, usage};
use crate::clock::datetime;
use crate::error::{ApiError, ApiResult, ErrorCode, InvalidInput};
use crate::model::{Metric, TenantStatus};
use crate::repo;
use crate::repo::usage::DAY_MS;

/// The tenant's billing now.
pub struct BillingOverview {
    status: TenantStatus,
    plan: Option<Plan>,
    month_start: i64,
    month_end: i64,
    to_date: Computed,
    forecast: rust_decimal::Decimal,
    minutes_used: rust_decimal::Decimal,
    calls_in_progress: i64,
    past_due_since: Option<i64>,
    stripe: bool,
}

#[Object]
impl BillingOverview {
    /// `ACTIVE`, `PAST_DUE` (a payment failed; calls still work), `SUSPENDED` (no new calls).
    async fn status(&self) -> TenantStatus {
        self.status
    }

    /// The plan in effect now, with this tenant's terms.
    async fn plan(&self) -> Option<&Plan> {
        self.plan.as_ref()
    }

    /// The month being billed (UTC).
    async fn period_start(&self) -> DateTime<Utc> {
        datetime(self.month_start)
    }

    async fn period_end(&self) -> DateTime<Utc> {
        datetime(self.month_end)
    }

    /// What this month has cost so far: the base fee for the days so far and usage beyond what is included.
    async fn cost_to_date(&self) -> Money {
        Money::of(self.to_date.total, self.to_date.currency.as_str())
    }

    /// The lines of the month so far, as its invoice would show them today.
    async fn lines_to_date(&self) -> Vec<InvoiceLine> {
        let currency = self.to_date.currency.as_str();
        self.to_date
            .lines
            .iter()
            .enumerate()
            .map(|(i, line)| {
                let row = repo::invoices::LineRow {
                    position: i64::try_from(i).unwrap_or(0),
                    kind: match line.kind {
                        crate::billing::pricing::LineKind::BaseFee => "base_fee".into(),
                        crate::billing::pricing::LineKind::Usage(_) => "usage".into(),
                    },
                    metric: match line.kind {
                        crate::billing::pricing::LineKind::Usage(m) => Some(m.as_str().into()),
                        crate::billing::pricing::LineKind::BaseFee => None,
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
                };
                InvoiceLine::from_row(&row, currency)
            })
            .collect()
    }

    /// The whole month's expected total: today's plan for the days left, usage at the pace so far.
    async fn forecast(&self) -> Money {
        Money::of(self.forecast, self.to_date.currency.as_str())
    }

    /// Call minutes used this month (what the monthly limit counts).
    async fn minutes_used(&self) -> String {
        self.minutes_used.to_string()
    }

    /// Calls voxedge carries now (what the concurrent-call limit counts).
    async fn calls_in_progress(&self) -> i64 {
        self.calls_in_progress
    }

    /// When a payment first failed, while past due or suspended.
    async fn past_due_since(&self) -> Option<DateTime<Utc>> {
        self.past_due_since.map(datetime)
    }

    /// Whether payments go through Stripe on this server (`createBillingPortalSession` works).
    async fn payments_enabled(&self) -> bool {
        self.stripe
    }
}

/// A link to Stripe's customer portal.
#[derive(SimpleObject)]
pub struct BillingPortalSession {
    pub url: String,
}

#[derive(Default)]
pub struct BillingQuery;

#[Object]
impl BillingQuery {
    /// The tenant's plan, limits, standing, cost to date and forecast for the month.
    async fn billing(&self, ctx: &Context<'_>) -> ApiResult<BillingOverview> {
        let principal = ctx.authorize(Permission::ReadBilling)?;
        let app = ctx.app();
        let tenant = tenant(ctx, principal).await?;
        let billing = &app.billing;
        let now = billing.now();
        let standing = billing.standing(tenant.id).await?;
        let month = invoices::month_to_date(billing, &tenant).await?;
        let resolved = standing.terms_at(now);
        let versions = plans::current(billing.catalog()).await?;
        let plan = resolved.map(|r| {
            let version = versions
                .iter()
                .find(|v| v.plan == r.plan)
                .cloned()
                .map_or_else(
                    || repo::billing::PlanVersion {
                        plan: r.plan.clone(),
                        version: r.version,
                        name: r.name.clone(),
                        terms: r.terms.clone(),
                        self_serve: false,
                        effective_from: 0,
                        created_at: 0,
                        created_by: String::new(),
                    },
                    |mut v| {
                        v.version = r.version;
                        v
                    },
                );
            Plan {
                version,
                terms: r.terms,
            }
        });
        let (first, end) = (month.month.first_day(), month.month.end_day());
        let (used_ms, open) = tenant
            .db
            .read(move |conn| {
                Ok::<_, BillingError>((
                    repo::usage::metric_total(conn, Metric::CallMs, first, end)?,
                    repo::calls::count_carried_open(conn)?,
                ))
            })
            .await?;
        let id = tenant.id;
        let account = billing
            .catalog()
            .read(move |conn| repo::billing::account(conn, id))
            .await?;
        Ok(BillingOverview {
            status: standing.status,
            plan,
            month_start: month.month.start_ms,
            month_end: month.month.end_ms,
            to_date: month.to_date,
            forecast: month.forecast,
            minutes_used: crate::billing::pricing::shown(crate::model::plan::in_billing_units(
                Metric::CallMs,
                used_ms,
            )),
            calls_in_progress: open,
            past_due_since: account.past_due_since,
            stripe: billing.stripe().is_some(),
        })
    }

    /// The plans offered now (their latest price-book versions).
    async fn plans(&self, ctx: &Context<'_>) -> ApiResult<Vec<Plan>> {
        ctx.authorize(Permission::ReadBilling)?;
        let versions = plans::current(ctx.app().billing.catalog()).await?;
        Ok(versions.into_iter().map(Plan::new).collect())
    }

    /// Invoices, newest month first.
    #[graphql(complexity = "connection_complexity(child_complexity, first)")]
    async fn invoices(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<KeysetCursor, Invoice>> {
        let principal = ctx.authorize(Permission::ReadBilling)?;
        let tenant = tenant(ctx, principal).await?;
        PageRequest::new(first, after)?
            .load(
                &tenant.db,
                |conn, after, limit| {
                    repo::invoices::list(
                        conn,
                        after.map(|c| c.at),
                        i64::try_from(limit).unwrap_or(i64::MAX),
                    )
                },
                |row| KeysetCursor {
                    at: row.period_start,
                    id: row.id.clone(),
                },
                Invoice,
            )
            .await
    }

    async fn invoice(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Invoice>> {
        let principal = ctx.authorize(Permission::ReadBilling)?;
        let tenant = tenant(ctx, principal).await?;
        let row = tenant
            .db
            .read(move |conn| repo::invoices::get(conn, &id.0))
            .await?;
        Ok(row.map(Invoice))
    }

    /// Usage and cost per day, agent and metric for the days `[since, until)` touches (default: this month so
    /// far). At most 400 days.
    async fn usage_series(
        &self,
        ctx: &Context<'_>,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    ) -> ApiResult<Vec<UsagePoint>> {
        let principal = ctx.authorize(Permission::ReadBilling)?;
        let app = ctx.app();
        let now = app.billing.now();
        let since = since.map_or_else(
            || crate::billing::pricing::Month::containing(now).start_ms,
            |t| t.timestamp_millis(),
        );
        let until = until.map_or(now, |t| t.timestamp_millis());
        if until < since || until - since > 400 * DAY_MS {
            return Err(InvalidInput::field(
                "until",
                ErrorCode::OutOfRange,
                "since ≤ until, at most 400 days apart",
            )
            .into());
        }
        let tenant = tenant(ctx, principal).await?;
        let points = usage::series(&app.billing, &tenant, since, until).await?;
        Ok(points.into_iter().map(UsagePoint::from).collect())
    }
}

fn actor(principal: &Principal) -> String {
    match &principal.actor {
        Actor::User { user_id } => format!("user:{user_id}"),
        Actor::ApiKey { key_id } => format!("api_key:{key_id}"),
        Actor::Session { .. } => "session".into(),
    }
}

#[derive(Default)]
pub struct BillingMutation;

#[Object]
impl BillingMutation {
    /// Moves the tenant to another self-serve plan from now on (the month is prorated by the day). With
    /// Stripe, the subscription follows first. Owners and billing members.
    async fn change_plan(&self, ctx: &Context<'_>, plan: ID) -> ApiResult<Plan> {
        let principal = ctx.authorize(Permission::ManageBilling)?;
        let billing = &ctx.app().billing;
        plans::change(
            billing,
            principal.tenant_id,
            PlanChange {
                plan: plan.0.clone(),
                overrides: None,
                changed_by: actor(principal),
                operator: false,
                effective_from: None,
            },
        )
        .await?;
        let versions = plans::current(billing.catalog()).await?;
        let version = versions
            .into_iter()
            .find(|v| v.plan == plan.0)
            .ok_or_else(|| ApiError::not_found("plan"))?;
        Ok(Plan::new(version))
    }

    /// A Stripe customer-portal link where the tenant manages payment methods, invoices and its subscription;
    /// it returns to `returnUrl`. `BILLING_NOT_CONFIGURED` without Stripe. Owners and billing members.
    async fn create_billing_portal_session(
        &self,
        ctx: &Context<'_>,
        return_url: String,
    ) -> ApiResult<BillingPortalSession> {
        let principal = ctx.authorize(Permission::ManageBilling)?;
        let billing = &ctx.app().billing;
        let stripe = billing.stripe().ok_or(BillingError::NotConfigured)?;
        let url = reqwest::Url::parse(&return_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
        if url.is_none() {
            return Err(InvalidInput::field(
                "returnUrl",
                ErrorCode::InvalidUrl,
                "an absolute http(s) URL",
            )
            .into());
        }
        let customer = stripe
            .ensure_customer(billing.catalog(), principal.tenant_id)
            .await?;
        let url = stripe.portal_session(&customer, &return_url).await?;
        Ok(BillingPortalSession { url })
    }
}
