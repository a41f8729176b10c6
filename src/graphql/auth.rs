//! Sign-up, sign-in, refresh, sign-out and tenant switching for portal users.
//!
//! Every identity mutation counts against the client IP's identity budget (sign-ups also against the
//! hourly sign-up budget), one by one; [`super::guard`] refuses requests that bundle several. Portal
//! clients keep the refresh token in a cookie ([`super::session_cookie`]).

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::audit::note;
use super::context::{ContextExt, RequestMeta, SessionId};
use super::session_cookie::{self, CookieSession};
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
pub struct AuthPayload {
    signed_in: SignedIn,
    /// The refresh token went into the session cookie instead of the body.
    in_cookie: bool,
}

impl AuthPayload {
    /// The payload of a started session; a cookie-mode client gets its refresh token as the cookie.
    pub fn deliver(ctx: &Context<'_>, signed_in: SignedIn) -> Self {
        let in_cookie = session_cookie::deliver(ctx, &signed_in, ctx.app().clock.now_ms());
        Self {
            signed_in,
            in_cookie,
        }
    }
}

#[Object]
impl AuthPayload {
    /// Send as `Authorization: Bearer <accessToken>`; valid for minutes, for one tenant.
    async fn access_token(&self) -> &str {
        self.signed_in.access_token.expose()
    }

    async fn access_token_expires_at(&self) -> DateTime<Utc> {
        datetime(self.signed_in.access_expires_at.saturating_mul(1000))
    }

    /// Exchange with `refreshSession` for new tokens. Single use: reusing one revokes the session.
    /// Null for clients that sent `X-Voxedge-CSRF`: theirs is in the HttpOnly session cookie.
    async fn refresh_token(&self) -> Option<&str> {
        (!self.in_cookie).then(|| self.signed_in.refresh_token.expose().as_str())
    }

    async fn refresh_token_expires_at(&self) -> DateTime<Utc> {
        datetime(self.signed_in.refresh_expires_at)
    }

    async fn user(&self) -> User {
        User(self.signed_in.user.clone())
    }

    /// The tenant the tokens are scoped to.
    async fn tenant(&self, ctx: &Context<'_>) -> ApiResult<Tenant> {
        Ok(Tenant(
            tenants::find(&ctx.app().catalog, self.signed_in.tenant_id).await?,
        ))
    }

    async fn role(&self) -> Role {
        self.signed_in.role
    }

    /// Only from `signUp` on a server that sends no email (no SMTP configured): the link that verifies the
    /// address, which would otherwise have been emailed. Null everywhere else.
    async fn verification_link(&self) -> Option<&str> {
        self.signed_in
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
    /// The region your tenant's data lives in and its calls are served from (e.g. `fra`). Default: the region
    /// that received the sign-up.
    pub region: Option<String>,
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

/// Result of `logoutEverywhere`.
#[derive(SimpleObject)]
pub struct LogoutEverywherePayload {
    /// How many sessions were still live and are now ended.
    pub sessions_ended: i32,
}

/// Counts one identity mutation against the client IP's budgets (`RATE_LIMITED` when over).
pub(super) fn identity_budget(ctx: &Context<'_>, sign_up: bool) -> ApiResult<()> {
    let ip = ctx.data_opt::<RequestMeta>().and_then(|m| m.ip.as_deref());
    ctx.app().limits.check_identity(ip, sign_up)?;
    Ok(())
}

/// The cookie facts of the request (none over WebSocket).
fn cookies<'c>(ctx: &'c Context<'_>) -> std::borrow::Cow<'c, CookieSession> {
    ctx.data_opt::<CookieSession>()
        .map_or_else(Default::default, std::borrow::Cow::Borrowed)
}

#[derive(Default)]
pub struct AuthMutation;

#[Object]
impl AuthMutation {
    /// Creates an account and a tenant owned by it, and signs in to that tenant. A link to verify the email
    /// address is mailed (or, without SMTP, returned as `verificationLink`). Limited per client IP
    /// (`--signup-limit-per-hour`).
    async fn sign_up(&self, ctx: &Context<'_>, input: SignUpInput) -> ApiResult<AuthPayload> {
        identity_budget(ctx, true)?;
        let signed_in = ctx
            .app()
            .identity
            .sign_up(SignUp {
                email: input.email,
                password: Secret::new(input.password),
                name: input.name,
                tenant_name: input.tenant_name,
                region: input.region.or_else(|| {
                    ctx.data_opt::<RequestMeta>()
                        .and_then(|m| m.serving_region.clone())
                }),
                origin: ctx.public_origin(),
            })
            .await?;
        note_session(ctx, &signed_in, None);
        Ok(AuthPayload::deliver(ctx, signed_in))
    }

    /// Signs in with email and password. Repeated failures lock the account (and the client IP) out
    /// for a while (`RATE_LIMITED`).
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> ApiResult<AuthPayload> {
        identity_budget(ctx, false)?;
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
                Ok(AuthPayload::deliver(ctx, signed_in))
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

    /// Exchanges a refresh token for new tokens (the old refresh token is spent). Without
    /// `refreshToken`, the session cookie's is used (see the README, Authentication).
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        refresh_token: Option<String>,
    ) -> ApiResult<AuthPayload> {
        identity_budget(ctx, false)?;
        let token = cookies(ctx).refresh_token(refresh_token)?;
        match ctx.app().identity.refresh(token.expose()).await {
            Ok(signed_in) => {
                note_session(ctx, &signed_in, None);
                Ok(AuthPayload::deliver(ctx, signed_in))
            }
            Err(err) => {
                let err = ApiError::from(err);
                // A cookie that can never work again is dropped; a client can retry after a limit.
                if !matches!(err.code, ErrorCode::RateLimited | ErrorCode::Internal) {
                    session_cookie::clear(ctx);
                }
                Err(err)
            }
        }
    }

    /// Signs out: ends the sign-in the refresh token belongs to (its session, and the sessions switched
    /// from it), access tokens included. Without `refreshToken`, the session cookie's is used.
    async fn logout(
        &self,
        ctx: &Context<'_>,
        refresh_token: Option<String>,
    ) -> ApiResult<LogoutPayload> {
        let token = cookies(ctx).refresh_token(refresh_token);
        session_cookie::clear(ctx);
        let family = ctx.app().identity.sign_out(token?.expose()).await?;
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

    /// Ends every session of the signed-in user, in every tenant, on every device.
    async fn logout_everywhere(&self, ctx: &Context<'_>) -> ApiResult<LogoutEverywherePayload> {
        let principal = ctx.principal()?;
        let Actor::User { user_id } = &principal.actor else {
            return Err(ApiError::forbidden("only signed-in users have sessions"));
        };
        let ended = ctx.app().identity.sign_out_everywhere(user_id).await?;
        session_cookie::clear(ctx);
        note(ctx, |n| n.target = Some(format!("user:{user_id}")));
        Ok(LogoutEverywherePayload {
            sessions_ended: i32::try_from(ended).unwrap_or(i32::MAX),
        })
    }

    /// New tokens for another tenant the signed-in user belongs to. The new session is made from the
    /// current one and ends with it (signing out, or a revocation, ends both).
    async fn switch_tenant(&self, ctx: &Context<'_>, tenant_id: ID) -> ApiResult<AuthPayload> {
        identity_budget(ctx, false)?;
        let principal = ctx.principal()?;
        let (Actor::User { user_id }, Some(SessionId(session))) =
            (&principal.actor, ctx.data_opt::<SessionId>())
        else {
            return Err(ApiError::forbidden("only signed-in users switch tenants"));
        };
        let tenant = parse_tenant(&tenant_id, "tenantId")?;
        let signed_in = ctx
            .app()
            .identity
            .switch_tenant(user_id, principal.tenant_id, session, tenant)
            .await?;
        note_session(ctx, &signed_in, None);
        Ok(AuthPayload::deliver(ctx, signed_in))
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
