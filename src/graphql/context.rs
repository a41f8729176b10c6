//! What resolvers get from the request context.

use async_graphql::Context;
use async_graphql::dataloader::DataLoader;

use crate::app::AppState;
use crate::auth::{Actor, Permission, Principal};
use crate::db::Database;
use crate::error::{ApiError, ErrorCode};
use crate::graphql::loaders::TenantLoader;

/// Request-scoped facts about the caller, attached by the HTTP and WebSocket layers.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub request_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The origin the client reached us at (`Host` and `X-Forwarded-Proto`), for URLs shown to it when
    /// `--public-url` is unset.
    pub public_origin: Option<String>,
}

pub trait ContextExt {
    /// The shared application state.
    fn app(&self) -> &AppState;
    /// The authenticated principal, or `UNAUTHENTICATED`.
    fn principal(&self) -> Result<&Principal, ApiError>;
    /// The request's batching loader for the principal's tenant.
    fn loader(&self) -> Result<&DataLoader<TenantLoader>, ApiError>;
    /// The principal, after checking it holds `permission`.
    fn authorize(&self, permission: Permission) -> Result<&Principal, ApiError> {
        let principal = self.principal()?;
        principal.require(permission)?;
        Ok(principal)
    }
}

impl ContextExt for Context<'_> {
    fn app(&self) -> &AppState {
        // Invariant: `graphql::build` always attaches the state; only the SDL-only schema lacks it, and
        // that one never executes.
        self.data_unchecked::<AppState>()
    }

    fn principal(&self) -> Result<&Principal, ApiError> {
        // Live-call session tokens never reach here (the HTTP edge refuses them); refuse them again.
        self.data_opt::<Principal>()
            .filter(|p| !matches!(p.actor, Actor::Session { .. }))
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated, "authentication required"))
    }

    fn loader(&self) -> Result<&DataLoader<TenantLoader>, ApiError> {
        // Attached with the principal, so only an anonymous request lacks it.
        self.data_opt::<DataLoader<TenantLoader>>()
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated, "authentication required"))
    }
}

/// The principal's tenant database.
pub async fn tenant_db(ctx: &Context<'_>, principal: &Principal) -> Result<Database, ApiError> {
    ctx.app().tenant_db(principal.tenant_id).await
}
