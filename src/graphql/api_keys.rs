//! API keys: list, create (secret shown once), revoke.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::context::{ContextExt, tenant};
use super::pagination::{KeysetCursor, PageRequest, connection_complexity};
use crate::auth::{Permission, display_prefix, keys};
use crate::clock::datetime;
use crate::db::TenantId;
use crate::error::ApiResult;
use crate::model::Role;
use crate::repo;
use crate::repo::api_keys::ApiKeyRow;

#[derive(Default)]
pub struct ApiKeyQuery;

#[Object]
impl ApiKeyQuery {
    /// The tenant's API keys, newest first (revoked ones included, marked by `revokedAt`).
    #[graphql(complexity = "connection_complexity(child_complexity, first)")]
    async fn api_keys(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<KeysetCursor, ApiKey>> {
        let principal = ctx.authorize(Permission::ManageApiKeys)?;
        let tenant = tenant(ctx, principal).await?;
        let tenant_id = tenant.id;
        PageRequest::new(first, after)?
            .load(
                &tenant.db,
                |conn, after, limit| {
                    repo::api_keys::list(conn, after.as_ref().map(KeysetCursor::pair), limit)
                },
                |row| KeysetCursor {
                    at: row.created_at,
                    id: row.id.clone(),
                },
                |row| ApiKey { tenant_id, row },
            )
            .await
    }
}

/// A credential for a tenant's backend. The secret is shown once, at creation.
pub struct ApiKey {
    tenant_id: TenantId,
    row: ApiKeyRow,
}

#[Object]
impl ApiKey {
    async fn id(&self) -> ID {
        ID(self.row.id.clone())
    }

    async fn name(&self) -> &str {
        &self.row.name
    }

    async fn role(&self) -> Role {
        self.row.role
    }

    /// The public start of the key (`vxk_<tenant>_<key id>`), to recognise it by.
    async fn prefix(&self) -> String {
        display_prefix(self.tenant_id, &self.row.id)
    }

    /// Who created it: `cli`, `api_key:<id>` or `user:<id>`.
    async fn created_by(&self) -> &str {
        &self.row.created_by
    }

    async fn created_at(&self) -> DateTime<Utc> {
        datetime(self.row.created_at)
    }

    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.row.expires_at.map(datetime)
    }

    /// Approximate: recorded at most once per key-cache period.
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.row.last_used_at.map(datetime)
    }

    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.row.revoked_at.map(datetime)
    }
}

#[derive(InputObject)]
pub struct CreateApiKeyInput {
    /// What the key is for (1–100 characters).
    pub name: String,
    /// The key's role; never above the creator's.
    pub role: Role,
    /// When the key stops working (optional).
    pub expires_at: Option<DateTime<Utc>>,
}

/// A new key. `secret` is the full key: store it now, it is never shown again.
#[derive(SimpleObject)]
pub struct CreateApiKeyPayload {
    pub api_key: ApiKey,
    pub secret: String,
}

#[derive(Default)]
pub struct ApiKeyMutation;

#[Object]
impl ApiKeyMutation {
    /// Creates an API key. The response holds the only copy of the secret.
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        input: CreateApiKeyInput,
    ) -> ApiResult<CreateApiKeyPayload> {
        let principal = ctx.authorize(Permission::ManageApiKeys)?;
        let db = tenant(ctx, principal).await?.db;
        let issued = keys::create_at(
            &db,
            principal.tenant_id,
            principal.role,
            principal.actor.label(),
            keys::NewApiKey {
                name: input.name,
                role: input.role,
                expires_at: input.expires_at.map(|at| at.timestamp_millis()),
            },
            ctx.app().clock.now_ms(),
        )
        .await?;
        Ok(CreateApiKeyPayload {
            api_key: ApiKey {
                tenant_id: principal.tenant_id,
                row: issued.row,
            },
            secret: issued.key,
        })
    }

    /// Revokes an API key; it stops working immediately (open WebSockets included). Only keys with a role
    /// you could grant.
    async fn revoke_api_key(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ApiKey> {
        let principal = ctx.authorize(Permission::ManageApiKeys)?;
        let db = tenant(ctx, principal).await?.db;
        let row = keys::revoke(
            &db,
            &ctx.app().auth,
            principal.tenant_id,
            principal.role,
            id.0,
        )
        .await?;
        Ok(ApiKey {
            tenant_id: principal.tenant_id,
            row,
        })
    }
}
