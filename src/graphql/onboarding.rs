//! A tenant's onboarding milestones, for the portal's getting-started checklist.

use async_graphql::{Context, Object};
use chrono::{DateTime, Utc};

use super::context::ContextExt;
use crate::auth::Permission;
use crate::clock::datetime;
use crate::db::TenantId;
use crate::error::{ApiError, ApiResult};
use crate::repo;
use crate::repo::milestones::{Milestone, Milestones};

/// When the tenant first did what getting started asks for (null: not yet). Recorded once, never moved.
pub struct Onboarding(pub Milestones);

impl Onboarding {
    /// The milestones of `tenant`, which must be the caller's own.
    pub async fn load(ctx: &Context<'_>, tenant: TenantId) -> ApiResult<Self> {
        let principal = ctx.authorize(Permission::ReadTenant)?;
        if principal.tenant_id != tenant {
            return Err(ApiError::forbidden("another tenant's onboarding"));
        }
        let db = ctx.app().tenant(tenant).await?.db;
        Ok(Self(db.read(repo::milestones::get).await?))
    }
}

#[Object]
impl Onboarding {
    /// The first agent was created.
    async fn first_agent_at(&self) -> Option<DateTime<Utc>> {
        self.0.at(Milestone::FirstAgent).map(datetime)
    }

    /// The first call connected (a live call, or one moved to `IN_PROGRESS`).
    async fn first_call_at(&self) -> Option<DateTime<Utc>> {
        self.0.at(Milestone::FirstCall).map(datetime)
    }

    /// The first phone number was routed to an agent.
    async fn first_phone_number_at(&self) -> Option<DateTime<Utc>> {
        self.0.at(Milestone::FirstPhoneNumber).map(datetime)
    }

    /// The first invoice was paid (recorded by billing).
    async fn first_paid_invoice_at(&self) -> Option<DateTime<Utc>> {
        self.0.at(Milestone::FirstPaidInvoice).map(datetime)
    }
}
