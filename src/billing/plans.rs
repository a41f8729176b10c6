//! The price book and tenants' plans.
//!
//! Plans are versioned: `voxedge plan set` never edits a version, it adds one effective from a point in time
//! (default: now). Invoices store the amounts, prices and plan versions they were computed from, so a price
//! change never alters an invoice already issued; the month in progress is billed by the day under whichever
//! version was in effect (see [`super::pricing`]).

use crate::db::{Database, TenantId};
use crate::error::{ErrorCode, InvalidInput};
use crate::model::{PlanTerms, TermsOverride};
use crate::repo;
use crate::repo::billing::{PlanVersion, TenantPlan};

use super::{Billing, BillingError, defaults};

/// Puts the default plans into an empty price book.
pub async fn seed_defaults(catalog: &Database, now: i64) -> Result<(), BillingError> {
    catalog
        .write(move |tx| {
            if !repo::billing::plan_versions(tx)?.is_empty() {
                return Ok(());
            }
            for plan in defaults::plans() {
                repo::billing::insert_plan_version(
                    tx,
                    &PlanVersion {
                        plan: plan.id.into(),
                        version: 1,
                        name: plan.name.into(),
                        terms: plan.terms,
                        self_serve: plan.self_serve,
                        // In effect from the beginning: the seed prices every day before it too.
                        effective_from: 0,
                        created_at: now,
                        created_by: "seed".into(),
                    },
                )?;
            }
            Ok::<_, BillingError>(())
        })
        .await
}

/// The latest version of every plan (what is offered now; a version scheduled for later counts too).
pub async fn current(catalog: &Database) -> Result<Vec<PlanVersion>, BillingError> {
    let versions = catalog.read(repo::billing::plan_versions).await?;
    Ok(latest_of_each(versions))
}

fn latest_of_each(versions: Vec<PlanVersion>) -> Vec<PlanVersion> {
    let mut latest: Vec<PlanVersion> = Vec::new();
    for version in versions {
        match latest.iter_mut().find(|v| v.plan == version.plan) {
            Some(existing) if existing.version < version.version => *existing = version,
            Some(_) => {}
            None => latest.push(version),
        }
    }
    latest
}

/// A new version of a plan (a new plan if `plan` has none yet).
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub plan: String,
    pub name: String,
    pub terms: PlanTerms,
    pub self_serve: bool,
    pub effective_from: i64,
    pub created_by: String,
}

/// Adds a version of a plan to the price book; returns its number.
pub async fn add_version(billing: &Billing, new: NewVersion) -> Result<i64, BillingError> {
    let mut errors = Vec::new();
    if new.plan.is_empty()
        || new.plan.len() > 40
        || !new
            .plan
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        errors.push(crate::error::FieldError::new(
            "plan",
            ErrorCode::InvalidName,
            "1–40 lowercase letters, digits, - or _",
        ));
    }
    for problem in new.terms.problems() {
        errors.push(crate::error::FieldError::new(
            "terms",
            ErrorCode::OutOfRange,
            problem,
        ));
    }
    InvalidInput::check(errors)?;
    let now = billing.now();
    let version = billing
        .catalog()
        .write(move |tx| {
            Ok::<_, BillingError>(repo::billing::insert_plan_version(
                tx,
                &PlanVersion {
                    plan: new.plan,
                    version: 0,
                    name: new.name,
                    terms: new.terms,
                    self_serve: new.self_serve,
                    effective_from: new.effective_from,
                    created_at: now,
                    created_by: new.created_by,
                },
            )?)
        })
        .await?;
    billing.forget_all();
    Ok(version)
}

/// A change of a tenant's plan.
#[derive(Debug, Clone)]
pub struct PlanChange {
    pub plan: String,
    /// Enterprise terms for this tenant only; `None` keeps the overrides it has.
    pub overrides: Option<TermsOverride>,
    /// `user:<id>`, `api_key:<id>`, `cli`, `stripe`.
    pub changed_by: String,
    /// Tenants may only pick self-serve plans; operators (CLI) and Stripe any.
    pub operator: bool,
    /// When the change takes effect (unix ms); `None`: now. An operator may date it back (a customer moved
    /// over from another system), never into a month already invoiced (the caller checks).
    pub effective_from: Option<i64>,
}

impl PlanChange {
    /// An operator (the CLI) moving a tenant to `plan` from now on, keeping its overrides.
    pub fn by_operator(plan: impl Into<String>) -> Self {
        Self {
            plan: plan.into(),
            overrides: None,
            changed_by: "cli".into(),
            operator: true,
            effective_from: None,
        }
    }
}

/// Moves a tenant to another plan from now on. With Stripe configured, its subscription follows first (a
/// refusal there changes nothing here).
pub async fn change(
    billing: &Billing,
    tenant: TenantId,
    change: PlanChange,
) -> Result<(), BillingError> {
    let now = billing.now();
    let versions = current(billing.catalog()).await?;
    let Some(plan) = versions.iter().find(|v| v.plan == change.plan) else {
        return Err(BillingError::PlanNotFound(change.plan));
    };
    if !plan.self_serve && !change.operator {
        return Err(BillingError::PlanNotAvailable(plan.name.clone()));
    }
    let standing = billing.standing(tenant).await?;
    let overrides = change.overrides.clone().unwrap_or_else(|| {
        standing
            .schedule
            .history
            .last()
            .map(|h| h.overrides.clone())
            .unwrap_or_default()
    });
    let terms = plan.terms.with(&overrides);
    if let Some(stripe) = billing.stripe()
        && change.changed_by != "stripe"
    {
        stripe
            .follow_plan(billing.catalog(), tenant, terms.stripe_price_id.as_deref())
            .await?;
    }
    let effective_from = change.effective_from.map_or(now, |at| at.min(now));
    let row = TenantPlan {
        effective_from,
        plan: change.plan,
        overrides,
        changed_by: change.changed_by,
    };
    billing
        .catalog()
        .write(move |tx| repo::billing::set_tenant_plan(tx, tenant, &row))
        .await?;
    billing.forget(tenant).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_version_of_each_plan_is_current() {
        let version = |plan: &str, version: i64| PlanVersion {
            plan: plan.into(),
            version,
            name: plan.into(),
            terms: defaults::plans().remove(0).terms,
            self_serve: true,
            effective_from: 0,
            created_at: 0,
            created_by: "test".into(),
        };
        let current = latest_of_each(vec![
            version("free", 1),
            version("free", 2),
            version("pro", 1),
        ]);
        let got: Vec<_> = current
            .iter()
            .map(|v| (v.plan.as_str(), v.version))
            .collect();
        assert_eq!(got, [("free", 2), ("pro", 1)]);
    }
}
