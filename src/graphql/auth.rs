//! Sign-up, sign-in, refresh, sign-out and tenant switching for portal users.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::audit::note;
use super::context::{ContextExt, RequestMeta};
use super::viewer::Tenant;
use crate::auth::Actor;
use crate::clock::datetime;
use crate::db::TenantId;
use crate::error::{ApiError, ApiResult, ErrorCode, InvalidInput};
use crate::identity::sessions::{SignUp, SignedIn};
use crate::model::Role;
use crate::redact::Secret;
use crate::repo::users::UserRow;
use crate::tenants;

/// A portal user.
pub struct User(pub UserRow);

#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    async fn email(&self) -> &str {
        &self.0.email
    }

    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        datetime(self.0.created_at)
    }

    /// Whether the email address is verified (a verification link followed, or a mailed invitation or
    /// password reset used).
    async fn email_verified(&self) -> bool {
        self.0.email_verified_at.is_some()
    }

    async fn email_verified_at(&self) -> Option<DateTime<Utc>> {
        self.0.email_verified_at.map(datetime)
    }

    /// Until when the account works without a verified email address (null once verified). After it, tenant
    /// operations fail with `EMAIL_NOT_VERIFIED` until the address is verified.
    async fn verify_email_by(&self, ctx: &Context<'_>) -> Option<DateTime<Utc>> {
        let grace = ctx.app().identity.settings().verification_grace;
        let grace = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
        self.0
            .email_verified_at
            .is_none()
            .then(|| datetime(self.0.created_at.saturating_add(grace)))
    }
}

/// A started session. Keep the refresh token secret: it is shown once and works once.
pub struct AuthPayload(pub SignedIn);

#[Object]
impl AuthPayload {
    /// Send as `Authorization: Bearer <accessToken>`; valid for minutes, for one tenant.
    async fn access_token(&self) -> &str {
        self.0.access_token.expose()
    }

    async fn access_token_expires_at(&self) -> DateTime<Utc> {
        datetime(self.0.access_expires_at.saturating_mul(1000))
    }

    /// Exchange with `refreshSession` for new tokens. Single use: reusing one revokes the session.
    async fn refresh_token(&self) -> &str {
        self.0.refresh_token.expose()
    }

    async fn refresh_token_expires_at(&self) -> DateTime<Utc> {
        datetime(self.0.refresh_expires_at)
    }

    async fn user(&self) -> User {
        User(self.0.user.clone())
    }

    /// The tenant the tokens are scoped to.
    async fn tenant(&self, ctx: &Context<'_>) -> ApiResult<Tenant> {
        Ok(Tenant(
            tenants::find(&ctx.app().catalog, self.0.tenant_id).await?,
        ))
    }

    async fn role(&self) -> Role {
        self.0.role
    }

    /// Only from `signUp` on a server that sends no email (no SMTP configured): the link that verifies the
    /// address, which would otherwise have been emailed. Null everywhere else.
    async fn verification_link(&self) -> Option<&str> {
        self.0
            .verification_link
            .as_ref()
            .map(|l| l.expose().as_str())
    }
}

#[derive(InputObject)]
pub struct SignUpInput {
    pub email: String,
    /// At least 10 characters; not a common password; not your email.
    pub password: String,
    /// Your name (optional).
    pub name: Option<String>,
    /// Your company: a new tenant you will own.
    pub tenant_name: String,
}

#[derive(InputObject)]
pub struct LoginInput {
    pub email: String,
    pub password: String,
    /// The tenant to sign in to (default: your first).
    pub tenant_id: Option<ID>,
}

/// Result of `logout`.
#[derive(SimpleObject)]
pub struct LogoutPayload {
    /// The session that ended.
    pub session_id: ID,
}

#[derive(Default)]
pub struct AuthMutation;

#[Object]
impl AuthMutation {
    /// Creates an account and a tenant owned by it, and signs in to that tenant. A link to verify the email
    /// address is mailed (or, without SMTP, returned as `verificationLink`).
    async fn sign_up(&self, ctx: &Context<'_>, input: SignUpInput) -> ApiResult<AuthPayload> {
        let signed_in = ctx
            .app()
            .identity
            .sign_up(SignUp {
                email: input.email,
                password: Secret::new(input.password),
                name: input.name,
                tenant_name: input.tenant_name,
                origin: ctx.public_origin(),
            })
            .await?;
        note_session(ctx, &signed_in, None);
        Ok(AuthPayload(signed_in))
    }

    /// Signs in with email and password. Repeated failures lock the account (and the client IP) out
    /// for a while (`RATE_LIMITED`).
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> ApiResult<AuthPayload> {
        let tenant = input
            .tenant_id
            .map(|id| parse_tenant(&id, "input.tenantId"))
            .transpose()?;
        let ip = ctx.data_opt::<RequestMeta>().and_then(|m| m.ip.clone());
        match ctx
            .app()
            .identity
            .sign_in(
                &input.email,
                Secret::new(input.password),
                tenant,
                ip.as_deref(),
            )
            .await
        {
            Ok(signed_in) => {
                note_session(ctx, &signed_in, Some("signIn"));
                Ok(AuthPayload(signed_in))
            }
            Err(failure) => {
                metrics::counter!("voxedge_sign_in_failures_total").increment(1);
                note(ctx, |n| {
                    n.tenants = failure.tenants;
                    n.actor = failure.user_id.map(|id| format!("user:{id}"));
                    n.action = Some("signInFailed".into());
                    n.target = None;
                });
                Err(failure.error.into())
            }
        }
    }

    /// Exchanges a refresh token for new tokens (the old refresh token is spent).
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> ApiResult<AuthPayload> {
        let signed_in = ctx.app().identity.refresh(&refresh_token).await?;
        note_session(ctx, &signed_in, None);
        Ok(AuthPayload(signed_in))
    }

    /// Signs out: ends the session the refresh token belongs to, access tokens included.
    async fn logout(&self, ctx: &Context<'_>, refresh_token: String) -> ApiResult<LogoutPayload> {
        let family = ctx.app().identity.sign_out(&refresh_token).await?;
        note(ctx, |n| {
            n.tenants = vec![family.tenant_id];
            n.actor = Some(format!("user:{}", family.user_id));
            n.action = Some("signOut".into());
            n.target = Some(family.id.clone());
        });
        Ok(LogoutPayload {
            session_id: ID(family.id),
        })
    }

    /// New tokens for another tenant the signed-in user belongs to.
    async fn switch_tenant(&self, ctx: &Context<'_>, tenant_id: ID) -> ApiResult<AuthPayload> {
        let principal = ctx.principal()?;
        let Actor::User { user_id } = &principal.actor else {
            return Err(ApiError::forbidden("only signed-in users switch tenants"));
        };
        let tenant = parse_tenant(&tenant_id, "tenantId")?;
        let signed_in = ctx.app().identity.switch_tenant(user_id, tenant).await?;
        note_session(ctx, &signed_in, None);
        Ok(AuthPayload(signed_in))
    }
}

/// Audits a started session in its tenant, as its user.
pub(super) fn note_session(ctx: &Context<'_>, signed_in: &SignedIn, action: Option<&str>) {
    note(ctx, |n| {
        n.tenants = vec![signed_in.tenant_id];
        n.actor = Some(format!("user:{}", signed_in.user.id));
        n.action = action.map(String::from);
        n.target = Some(signed_in.family_id.clone());
    });
}

/// A tenant id argument; anything unparsable is simply not found.
pub(super) fn parse_tenant(id: &ID, field: &str) -> Result<TenantId, InvalidInput> {
    id.parse()
        .map_err(|_| InvalidInput::field(field, ErrorCode::InvalidId, "is not a tenant id"))
}

/// `INVALID_INPUT` for a missing required-in-context field.
pub(super) fn required(field: &str) -> InvalidInput {
    InvalidInput::field(field, ErrorCode::Required, "is required here")
}
