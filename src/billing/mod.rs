//! Billing: the price book and plans, what usage costs, admission limits, monthly invoices, dunning and
//! Stripe. Money is exact decimal throughout ([`crate::model::money`]).
//!
//! - [`plans`]: the versioned price book (catalog) and each tenant's plan history; changing plans.
//! - [`pricing`]: usage → money, exactly (per-day terms, proration, half-even cents). Pure.
//! - [`quota`]: whether one more call may start, checked in the transaction that creates it.
//! - [`usage`]: corrections of the ledger, a call's cost, usage series.
//! - [`invoices`]: closing a month into an invoice, its states, credit notes, cost to date and forecast.
//! - [`dunning`]: failed and settled payments move a tenant between active, past due and suspended.
//! - [`job`]: the background job — closes months at 00:00 UTC on the 1st (catching up after downtime),
//!   finalizes drafts, suspends tenants past their grace period, reports usage to Stripe.
//! - [`stripe`]: customers, subscriptions, meter events, invoices and the customer portal through
//!   async-stripe; the signed webhook endpoint's events.
//!
//! [`Billing`] is the service the edges hold in their shared state; domain functions take it or a [`Tenant`].

pub mod config;
pub mod defaults;
pub mod dunning;
mod error;
pub mod invoices;
pub mod job;
pub mod plans;
pub mod pricing;
pub mod quota;
pub mod stripe;
pub mod usage;

pub use config::{BillingArgs, BillingSettings};
pub use error::BillingError;
pub use quota::Admission;

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use crate::clock::Clock;
use crate::db::{Database, StorageError, TenantId};
use crate::email::Mailer;
use crate::email::templates::{self, BillingNotice};
use crate::model::Role;
use crate::model::TenantStatus;
use crate::repo;
use pricing::{Resolved, Schedule};

#[cfg(doc)]
use crate::tenants::Tenant;

/// How long a tenant's standing and plan are trusted before the catalog is read again. Changes made on this
/// instance (plan changes, dunning) take effect at once; other instances follow within this.
const STANDING_TTL: Duration = Duration::from_secs(15);

/// A tenant's standing and plan history, as admission and pricing read them.
#[derive(Debug, Clone)]
pub struct Standing {
    pub status: TenantStatus,
    pub schedule: Schedule,
}

impl Standing {
    /// The terms in effect at `at` (unix ms).
    pub fn terms_at(&self, at: i64) -> Option<Resolved> {
        self.schedule.at(at)
    }
}

/// The billing service. Cheap to clone.
#[derive(Clone)]
pub struct Billing {
    inner: Arc<Inner>,
}

struct Inner {
    catalog: Database,
    /// Billing emails to owners and billing members (invoice issued, payment failed, suspended).
    mailer: Mailer,
    /// The portal's origin, for the billing page the emails link.
    portal_origin: String,
    clock: Clock,
    settings: BillingSettings,
    stripe: Option<stripe::StripeBilling>,
    standings: Cache<TenantId, Arc<Standing>>,
}

impl Billing {
    pub fn new(
        catalog: Database,
        mailer: Mailer,
        portal_origin: String,
        clock: Clock,
        settings: BillingSettings,
    ) -> Result<Self, BillingError> {
        let stripe = settings
            .stripe
            .clone()
            .map(stripe::StripeBilling::new)
            .transpose()?;
        Ok(Self {
            inner: Arc::new(Inner {
                catalog,
                mailer,
                portal_origin,
                clock,
                settings,
                stripe,
                standings: Cache::builder()
                    .max_capacity(100_000)
                    .time_to_live(STANDING_TTL)
                    .build(),
            }),
        })
    }

    pub fn catalog(&self) -> &Database {
        &self.inner.catalog
    }

    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    pub fn now(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    pub fn settings(&self) -> &BillingSettings {
        &self.inner.settings
    }

    /// Stripe, when configured.
    pub fn stripe(&self) -> Option<&stripe::StripeBilling> {
        self.inner.stripe.as_ref()
    }

    /// A tenant's status and plan history (cached for a few seconds).
    pub async fn standing(&self, tenant: TenantId) -> Result<Arc<Standing>, BillingError> {
        let catalog = self.inner.catalog.clone();
        self.inner
            .standings
            .try_get_with(tenant, async move {
                catalog
                    .read(move |conn| {
                        let status = repo::tenants::get(conn, tenant)?
                            .map_or(TenantStatus::Suspended, |t| TenantStatus::parse(&t.status));
                        let schedule = Schedule {
                            versions: repo::billing::plan_versions(conn)?,
                            history: repo::billing::tenant_plans(conn, tenant)?,
                        };
                        Ok::<_, BillingError>(Arc::new(Standing { status, schedule }))
                    })
                    .await
            })
            .await
            .map_err(|e| match Arc::try_unwrap(e) {
                Ok(e) => e,
                Err(shared) => BillingError::Conflict(shared.to_string()),
            })
    }

    /// Forgets a tenant's cached standing after it changed here.
    pub async fn forget(&self, tenant: TenantId) {
        self.inner.standings.invalidate(&tenant).await;
    }

    /// Forgets every cached standing (the price book changed).
    pub fn forget_all(&self) {
        self.inner.standings.invalidate_all();
    }

    /// What a new call of `tenant` is admitted against now.
    pub async fn admission(&self, tenant: TenantId) -> Result<Admission, BillingError> {
        let now = self.now();
        let standing = self.standing(tenant).await?;
        let terms = standing.terms_at(now);
        Ok(Admission::new(
            standing.status,
            terms.as_ref().map(|t| &t.terms),
            now,
        ))
    }

    /// Emails `notice` to the tenant's owner and billing members (through the outbox, so it survives a
    /// restart). Best effort: a notice that cannot be queued is logged and the billing step it follows stands.
    pub async fn notify(&self, tenant_id: TenantId, notice: BillingNotice) {
        let mailer = self.inner.mailer.clone();
        let link = format!(
            "{}/settings/billing",
            self.inner.portal_origin.trim_end_matches('/')
        );
        let queued = self
            .inner
            .catalog
            .write(move |tx| {
                let Some(tenant) = repo::tenants::get(tx, tenant_id)? else {
                    return Ok::<_, StorageError>(0);
                };
                let mut queued = 0;
                for member in repo::memberships::list_for_tenant(tx, tenant_id, None, 1000)? {
                    if matches!(member.role, Role::Owner | Role::Billing) {
                        let email = templates::billing(&member.email, &tenant.name, &notice, &link);
                        mailer.queue_in(tx, &email)?;
                        queued += 1;
                    }
                }
                Ok(queued)
            })
            .await;
        match queued {
            Ok(_) => self.inner.mailer.wake(),
            Err(e) => {
                tracing::warn!(tenant_id = %tenant_id, error = %e, "cannot queue a billing email")
            }
        }
    }

    /// Seeds the default price book into an empty catalog (first start).
    pub async fn seed_defaults(&self) -> Result<(), BillingError> {
        plans::seed_defaults(&self.inner.catalog, self.now()).await
    }
}
