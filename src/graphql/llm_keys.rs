//! The tenant's LLM provider keys. Keys are write-only: once set, only their last four characters are shown.

use async_graphql::{Context, InputObject, Object};
use chrono::{DateTime, Utc};

use super::agents::shown_url;
use super::audit;
use super::context::{ContextExt, tenant};
use crate::agents::llm_keys;
use crate::auth::Permission;
use crate::clock::datetime;
use crate::error::{ApiError, ApiResult};
use crate::redact::Secret;
use crate::repo::llm_keys::LlmKeyRow;

/// A key for one LLM provider; agents naming that provider use it.
pub struct LlmKey(LlmKeyRow);

#[Object]
impl LlmKey {
    /// `openai`, `groq`, `together`, `ollama`, `vllm` or `custom`.
    async fn provider(&self) -> &str {
        &self.0.provider
    }

    /// The key's last four characters, to tell keys apart.
    async fn api_key_last4(&self) -> &str {
        &self.0.api_key_last4
    }

    /// Where the key may be sent besides the provider's public endpoint (set by an owner or admin). Without
    /// EditAgents, shown without query string and user info.
    async fn base_url(&self, ctx: &Context<'_>) -> Option<String> {
        self.0.base_url.as_deref().map(|url| shown_url(ctx, url))
    }

    async fn created_at(&self) -> DateTime<Utc> {
        datetime(self.0.created_at)
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        datetime(self.0.updated_at)
    }
}

#[derive(InputObject)]
pub struct SetLlmKeyInput {
    /// `openai`, `groq`, `together`, `ollama`, `vllm` or `custom`.
    pub provider: String,
    /// Sent as `Authorization: Bearer <apiKey>` to the provider. Stored encrypted, never shown again.
    pub api_key: String,
    /// Besides the provider's public endpoint, the one base URL the key may be sent to (an agent whose
    /// `baseUrl` is exactly this gets the key); required for keys of `vllm` and `custom` to be used at all.
    /// Owners and admins only. Left out: the public endpoint only.
    pub base_url: Option<String>,
}

/// Keys are secrets; keep them out of logs.
impl std::fmt::Debug for SetLlmKeyInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetLlmKeyInput")
            .field("provider", &self.provider)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
pub struct LlmKeyQuery;

#[Object]
impl LlmKeyQuery {
    /// The tenant's LLM provider keys (last four characters only).
    async fn llm_keys(&self, ctx: &Context<'_>) -> ApiResult<Vec<LlmKey>> {
        let principal = ctx.authorize(Permission::ReadAgents)?;
        let db = tenant(ctx, principal).await?.db;
        Ok(llm_keys::list_keys(&db)
            .await?
            .into_iter()
            .map(LlmKey)
            .collect())
    }
}

#[derive(Default)]
pub struct LlmKeyMutation;

#[Object]
impl LlmKeyMutation {
    /// Sets (or replaces) the key for a provider. Calls starting from now use it. Naming a `baseUrl` decides
    /// where the tenant's key may go, so it needs ManageTenant (owners, admins) on top of EditAgents.
    async fn set_llm_key(&self, ctx: &Context<'_>, input: SetLlmKeyInput) -> ApiResult<LlmKey> {
        let principal = ctx.authorize(Permission::EditAgents)?;
        if input.base_url.is_some() {
            principal.require(Permission::ManageTenant).map_err(|_| {
                ApiError::forbidden("only owners and admins may bind a key to a base URL")
            })?;
        }
        let db = tenant(ctx, principal).await?.db;
        let app = ctx.app();
        let row = llm_keys::set_key(
            &db,
            &app.secrets,
            &app.config.outbound,
            principal.tenant_id,
            input.provider,
            Secret::new(input.api_key),
            input.base_url,
        )
        .await?;
        audit::note(ctx, |n| n.target = Some(row.provider.clone()));
        Ok(LlmKey(row))
    }

    /// Removes a provider's key. Returns whether there was one.
    async fn delete_llm_key(&self, ctx: &Context<'_>, provider: String) -> ApiResult<bool> {
        let principal = ctx.authorize(Permission::EditAgents)?;
        let db = tenant(ctx, principal).await?.db;
        let deleted = llm_keys::delete_key(&db, provider.clone()).await?;
        if deleted {
            audit::note(ctx, |n| n.target = Some(provider));
        }
        Ok(deleted)
    }
}
