//! `viewer` (who am I, which tenant) and tenant settings.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::auth::User;
use chrono::{DateTime, Utc};

use super::context::ContextExt;
use super::onboarding::Onboarding;
use crate::auth::{Actor, Permission, Principal};
use crate::clock::datetime;
use crate::error::{ApiError, ApiResult};
use crate::model::{Role, TenantStatus};
use crate::repo;
use crate::repo::tenants::TenantRecord;
use crate::tenants;

#[derive(Default)]
pub struct ViewerQuery;

#[Object]
impl ViewerQuery {
    /// The authenticated caller and their tenant.
    async fn viewer(&self, ctx: &Context<'_>) -> ApiResult<Viewer> {
        Ok(Viewer(ctx.principal()?.clone()))
    }
}

/// The authenticated caller.
pub struct Viewer(Principal);

#[Object]
impl Viewer {
    /// The tenant every operation of this caller is scoped to.
    async fn tenant(&self, ctx: &Context<'_>) -> ApiResult<Tenant> {
        Ok(Tenant(
            tenants::find(&ctx.app().catalog, self.0.tenant_id).await?,
        ))
    }

    /// The caller's role in the tenant.
    async fn role(&self) -> Role {
        self.0.role
    }

    /// The API key the caller authenticated with, if any.
    async fn api_key_id(&self) -> Option<ID> {
        match &self.0.actor {
            Actor::ApiKey { key_id } => Some(ID(key_id.clone())),
            _ => None,
        }
    }

    /// The signed-in user, if the caller is one (not an API key).
    async fn user(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        let Actor::User { user_id } = &self.0.actor else {
            return Ok(None);
        };
        let id = user_id.clone();
        let user = ctx
            .app()
            .catalog
            .read(move |conn| repo::users::get(conn, &id))
            .await?;
        Ok(user.map(User))
    }

    /// The tenants the signed-in user belongs to (to switch between with `switchTenant`); empty for keys.
    async fn memberships(&self, ctx: &Context<'_>) -> ApiResult<Vec<Membership>> {
        let Actor::User { user_id } = &self.0.actor else {
            return Ok(Vec::new());
        };
        let id = user_id.clone();
        let rows = ctx
            .app()
            .catalog
            .read(move |conn| repo::memberships::list_for_user(conn, &id))
            .await?;
        Ok(rows
            .into_iter()
            .map(|m| Membership {
                tenant_id: ID(m.tenant_id.to_string()),
                role: m.role,
            })
            .collect())
    }
}

/// One of the signed-in user's tenants.
#[derive(SimpleObject)]
pub struct Membership {
    pub tenant_id: ID,
    pub role: Role,
}

/// A company using voxedge. All its data lives in its own database.
pub struct Tenant(pub TenantRecord);

#[Object]
impl Tenant {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// URL-safe unique name.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The region the tenant's data lives in (null: any region).
    async fn region(&self) -> Option<&str> {
        self.0.home_region.as_deref()
    }

    /// The plan in effect now (`free`, `pro`, `enterprise`, ...); `billing { plan }` has its terms.
    async fn plan(&self) -> &str {
        &self.0.plan
    }

    /// `ACTIVE`; `PAST_DUE` after a failed payment (calls still work); `SUSPENDED` when unpaid past the grace
    /// period (no new calls; everything stays readable).
    async fn status(&self) -> TenantStatus {
        TenantStatus::parse(&self.0.status)
    }

    async fn created_at(&self) -> DateTime<Utc> {
        datetime(self.0.created_at)
    }

    /// Getting started: when the tenant first made an agent, had a call, routed a phone number, paid an
    /// invoice. The caller's own tenant only.
    async fn onboarding(&self, ctx: &Context<'_>) -> ApiResult<Onboarding> {
        Onboarding::load(ctx, self.0.id).await
    }
}

#[derive(InputObject)]
pub struct UpdateTenantInput {
    /// New display name (1–100 characters).
    pub name: String,
}

#[derive(Default)]
pub struct TenantMutation;

#[Object]
impl TenantMutation {
    /// Renames the tenant. Owners and admins only.
    async fn update_tenant(
        &self,
        ctx: &Context<'_>,
        input: UpdateTenantInput,
    ) -> ApiResult<Tenant> {
        let principal = ctx.authorize(Permission::ManageTenant)?;
        let name = tenants::validate_name(&input.name, "input.name")?;
        let id = principal.tenant_id;
        let catalog = &ctx.app().catalog;
        let renamed = catalog
            .write(move |tx| repo::tenants::rename(tx, id, &name))
            .await?;
        if !renamed {
            return Err(ApiError::not_found("tenant"));
        }
        Ok(Tenant(tenants::find(catalog, id).await?))
    }
}
