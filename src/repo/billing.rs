//! `catalog.db` → the price book (`plan_versions`), tenants' plan history (`tenant_plans`), payment accounts
//! (`billing_accounts`), processed Stripe events (`stripe_events`) and the tenant status column dunning moves.

use super::Result;
use rusqlite::{Connection, OptionalExtension, Row, named_params};

use crate::db::TenantId;
use crate::model::{PlanTerms, TermsOverride};

/// One version of a plan in the price book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanVersion {
    pub plan: String,
    pub version: i64,
    pub name: String,
    pub terms: PlanTerms,
    pub self_serve: bool,
    pub effective_from: i64,
    pub created_at: i64,
    pub created_by: String,
}

fn plan_from_row(row: &Row<'_>) -> rusqlite::Result<PlanVersion> {
    Ok(PlanVersion {
        plan: row.get(0)?,
        version: row.get(1)?,
        name: row.get(2)?,
        terms: super::json_column(row, 3)?,
        self_serve: row.get(4)?,
        effective_from: row.get(5)?,
        created_at: row.get(6)?,
        created_by: row.get(7)?,
    })
}

const PLAN_COLUMNS: &str =
    "plan, version, name, terms, self_serve, effective_from, created_at, created_by";

/// Every version of every plan, by plan then version.
pub fn plan_versions(conn: &Connection) -> Result<Vec<PlanVersion>> {
    let mut stmt = conn.prepare_cached(&format!(
        "select {PLAN_COLUMNS} from plan_versions order by plan, version"
    ))?;
    Ok(stmt
        .query_map([], plan_from_row)?
        .collect::<rusqlite::Result<_>>()?)
}

/// Adds a version of `plan` (numbered after its latest) and returns its number.
pub fn insert_plan_version(conn: &Connection, version: &PlanVersion) -> Result<i64> {
    let next: i64 = conn.query_row(
        "select coalesce(max(version), 0) + 1 from plan_versions where plan = :plan",
        named_params! { ":plan": version.plan },
        |row| row.get(0),
    )?;
    let terms = super::json_text(&version.terms)?;
    conn.execute(
        &format!(
            "insert into plan_versions ({PLAN_COLUMNS})
             values (:plan, :version, :name, :terms, :self_serve, :from, :created, :by)"
        ),
        named_params! {
            ":plan": version.plan,
            ":version": next,
            ":name": version.name,
            ":terms": terms,
            ":self_serve": version.self_serve,
            ":from": version.effective_from,
            ":created": version.created_at,
            ":by": version.created_by,
        },
    )?;
    Ok(next)
}

/// One row of a tenant's plan history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantPlan {
    pub effective_from: i64,
    pub plan: String,
    pub overrides: TermsOverride,
    pub changed_by: String,
}

/// A tenant's plan history, oldest first.
pub fn tenant_plans(conn: &Connection, tenant: TenantId) -> Result<Vec<TenantPlan>> {
    let mut stmt = conn.prepare_cached(
        "select effective_from, plan, overrides, changed_by from tenant_plans
         where tenant_id = :tenant order by effective_from",
    )?;
    Ok(stmt
        .query_map(named_params! { ":tenant": tenant.to_string() }, |row| {
            Ok(TenantPlan {
                effective_from: row.get(0)?,
                plan: row.get(1)?,
                overrides: super::json_column(row, 2)?,
                changed_by: row.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
}

/// Puts the tenant on `row.plan` from `row.effective_from` on: changes dated later (a backdated assignment
/// supersedes them) or at the same millisecond are replaced. Makes it the tenant's current plan.
pub fn set_tenant_plan(conn: &Connection, tenant: TenantId, row: &TenantPlan) -> Result<()> {
    conn.execute(
        "delete from tenant_plans where tenant_id = :tenant and effective_from > :from",
        named_params! { ":tenant": tenant.to_string(), ":from": row.effective_from },
    )?;
    let overrides = super::json_text(&row.overrides)?;
    conn.execute(
        "insert into tenant_plans (tenant_id, effective_from, plan, overrides, changed_by)
         values (:tenant, :from, :plan, :overrides, :by)
         on conflict (tenant_id, effective_from) do update
         set plan = excluded.plan, overrides = excluded.overrides, changed_by = excluded.changed_by",
        named_params! {
            ":tenant": tenant.to_string(),
            ":from": row.effective_from,
            ":plan": row.plan,
            ":overrides": overrides,
            ":by": row.changed_by,
        },
    )?;
    conn.execute(
        "update tenants set plan = :plan where id = :tenant",
        named_params! { ":tenant": tenant.to_string(), ":plan": row.plan },
    )?;
    Ok(())
}

/// A tenant's payment-provider account and dunning state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BillingAccount {
    pub stripe_customer_id: Option<String>,
    pub stripe_subscription_id: Option<String>,
    pub past_due_since: Option<i64>,
}

pub fn account(conn: &Connection, tenant: TenantId) -> Result<BillingAccount> {
    Ok(conn
        .query_row(
            "select stripe_customer_id, stripe_subscription_id, past_due_since
             from billing_accounts where tenant_id = :tenant",
            named_params! { ":tenant": tenant.to_string() },
            |row| {
                Ok(BillingAccount {
                    stripe_customer_id: row.get(0)?,
                    stripe_subscription_id: row.get(1)?,
                    past_due_since: row.get(2)?,
                })
            },
        )
        .optional()?
        .unwrap_or_default())
}

pub fn save_account(
    conn: &Connection,
    tenant: TenantId,
    account: &BillingAccount,
    at: i64,
) -> Result<()> {
    conn.execute(
        "insert into billing_accounts
            (tenant_id, stripe_customer_id, stripe_subscription_id, past_due_since, updated_at)
         values (:tenant, :customer, :subscription, :past_due, :at)
         on conflict (tenant_id) do update set stripe_customer_id = excluded.stripe_customer_id,
            stripe_subscription_id = excluded.stripe_subscription_id,
            past_due_since = excluded.past_due_since, updated_at = excluded.updated_at",
        named_params! {
            ":tenant": tenant.to_string(),
            ":customer": account.stripe_customer_id,
            ":subscription": account.stripe_subscription_id,
            ":past_due": account.past_due_since,
            ":at": at,
        },
    )?;
    Ok(())
}

/// The tenant whose Stripe customer this is.
pub fn tenant_of_customer(conn: &Connection, customer: &str) -> Result<Option<TenantId>> {
    Ok(conn
        .query_row(
            "select tenant_id from billing_accounts where stripe_customer_id = :customer",
            named_params! { ":customer": customer },
            |row| row.get(0),
        )
        .optional()?)
}

/// Tenants with a Stripe customer: `(tenant, customer id)`.
pub fn stripe_customers(conn: &Connection) -> Result<Vec<(TenantId, String)>> {
    let mut stmt = conn.prepare_cached(
        "select tenant_id, stripe_customer_id from billing_accounts
         where stripe_customer_id is not null order by tenant_id",
    )?;
    Ok(stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?)
}

/// Moves a tenant from `from` to `to` (compare-and-set). Returns whether it moved.
pub fn set_status(conn: &Connection, tenant: TenantId, from: &str, to: &str) -> Result<bool> {
    let changed = conn.execute(
        "update tenants set status = :to where id = :tenant and status = :from",
        named_params! { ":tenant": tenant.to_string(), ":from": from, ":to": to },
    )?;
    Ok(changed == 1)
}

/// Records a Stripe event as processed. Returns false if it was recorded before (nothing to do again).
pub fn record_stripe_event(
    conn: &Connection,
    id: &str,
    kind: &str,
    created: i64,
    received_at: i64,
    outcome: &str,
) -> Result<bool> {
    let inserted = conn.execute(
        "insert into stripe_events (id, type, created, received_at, outcome)
         values (:id, :type, :created, :received, :outcome) on conflict (id) do nothing",
        named_params! {
            ":id": id, ":type": kind, ":created": created, ":received": received_at, ":outcome": outcome,
        },
    )?;
    Ok(inserted == 1)
}

pub fn stripe_event_seen(conn: &Connection, id: &str) -> Result<bool> {
    Ok(conn.query_row(
        "select exists (select 1 from stripe_events where id = :id)",
        named_params! { ":id": id },
        |row| row.get(0),
    )?)
}
