//! What resolvers get from the request context.

use std::sync::{Arc, Mutex};

use async_graphql::Context;

use crate::auth::{Actor, AuthError, Permission, Principal};
use crate::error::ApiResult;
use crate::graphql::loaders::TenantLoaders;
use crate::state::AppState;
use crate::tenants::Tenant;

/// Request-scoped facts about the caller, attached by the HTTP and WebSocket layers.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub request_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The origin the client reached us at (`Host` and `X-Forwarded-Proto`), for URLs shown to it when
    /// `--public-url` is unset.
    pub public_origin: Option<String>,
    /// The region that first received the request, when another region replayed it here (`fly-replay-src`).
    pub serving_region: Option<String>,
}

/// The sign-in session an access token belongs to (request data, set by the edges for access tokens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionId(pub String);

/// The permissions an operation's resolvers asked for. A GraphQL WebSocket attaches one to each
/// operation it runs, so when a member's role changes it can tell whether a live subscription is still
/// allowed.
#[derive(Debug, Default)]
pub struct RequiredPermissions(Mutex<Vec<Permission>>);

impl RequiredPermissions {
    fn record(&self, permission: Permission) {
        let mut needed = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if !needed.contains(&permission) {
            needed.push(permission);
        }
    }

    /// What was asked for so far.
    pub fn all(&self) -> Vec<Permission> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

pub trait ContextExt {
    /// The shared application state.
    fn app(&self) -> &AppState;
    /// The authenticated principal, or `UNAUTHENTICATED`.
    fn principal(&self) -> ApiResult<&Principal>;
    /// The request's batching loaders for the principal's tenant.
    fn loaders(&self) -> ApiResult<&TenantLoaders>;
    /// The principal, after checking it holds `permission` and, for a user, that their email address is
    /// verified or still within its grace period.
    fn authorize(&self, permission: Permission) -> ApiResult<&Principal>;
    /// Where links the server hands out point: `--public-url`, else the origin the request came in on, else
    /// the listen address.
    fn public_origin(&self) -> String;
    /// A phone number (or a call's client label) as the principal may see it: in full with
    /// `ReadPhoneNumbers`, else masked ([`crate::pii::mask`]).
    fn phone_number(&self, value: &str) -> String;
}

/// The principal's tenant.
pub async fn tenant(ctx: &Context<'_>, principal: &Principal) -> ApiResult<Tenant> {
    Ok(ctx.app().tenant(principal.tenant_id).await?)
}

impl ContextExt for Context<'_> {
    fn app(&self) -> &AppState {
        // Invariant: `graphql::build` always attaches the state; only the SDL-only schema lacks it, and
        // that one never executes.
        self.data_unchecked::<AppState>()
    }

    fn principal(&self) -> ApiResult<&Principal> {
        // Live-call session tokens never reach here (the HTTP edge refuses them); refuse them again.
        Ok(self
            .data_opt::<Principal>()
            .filter(|p| !matches!(p.actor, Actor::Session { .. }))
            .ok_or(AuthError::Unauthenticated)?)
    }

    fn authorize(&self, permission: Permission) -> ApiResult<&Principal> {
        let principal = self.principal()?;
        principal.require(permission)?;
        if let Some(since) = principal.unverified_since {
            let grace = self.app().config.identity.verification_grace;
            let due = since.saturating_add(i64::try_from(grace.as_millis()).unwrap_or(i64::MAX));
            if self.app().clock.now_ms() >= due {
                return Err(AuthError::EmailNotVerified.into());
            }
        }
        if let Some(needed) = self.data_opt::<Arc<RequiredPermissions>>() {
            needed.record(permission);
        }
        Ok(principal)
    }

    fn public_origin(&self) -> String {
        let app = self.app();
        app.config
            .public_url
            .clone()
            .or_else(|| {
                self.data_opt::<RequestMeta>()
                    .and_then(|m| m.public_origin.clone())
            })
            .unwrap_or_else(|| format!("http://{}", app.config.listen))
    }

    fn phone_number(&self, value: &str) -> String {
        let full = self
            .principal()
            .is_ok_and(|p| p.require(Permission::ReadPhoneNumbers).is_ok());
        if full {
            value.to_string()
        } else {
            crate::pii::mask(value)
        }
    }

    fn loaders(&self) -> ApiResult<&TenantLoaders> {
        // Attached with the principal, so only an anonymous request lacks it.
        Ok(self
            .data_opt::<TenantLoaders>()
            .ok_or(AuthError::Unauthenticated)?)
    }
}
