//! The account's email links: verifying the address, and resetting a forgotten password.

use async_graphql::{Context, InputObject, Object, SimpleObject};

use super::audit::note;
use super::auth::User;
use super::context::ContextExt;
use crate::auth::Actor;
use crate::error::{ApiError, ApiResult};
use crate::redact::Secret;
use crate::repo;

/// Result of `resendVerificationEmail`.
#[derive(SimpleObject)]
pub struct ResendVerificationPayload {
    /// Whether the link was emailed (false: this server sends no email).
    pub emailed: bool,
    /// Only when not emailed: the verification link, to follow yourself.
    pub link: Option<String>,
}

/// Result of `requestPasswordReset`.
#[derive(SimpleObject)]
pub struct RequestPasswordResetPayload {
    /// Whether this server emails reset links. When it does, a link is on its way if the address has an
    /// account (the answer is the same either way). When it does not, ask an operator for a link
    /// (`voxedge user reset-link`).
    pub emailed: bool,
}

#[derive(InputObject)]
pub struct ResetPasswordInput {
    /// The `token` of the emailed link.
    pub token: String,
    /// The new password (at least 10 characters; not a common one; not your email).
    pub password: String,
}

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Follows an email verification link (works once, signed in or not).
    async fn verify_email(&self, ctx: &Context<'_>, token: String) -> ApiResult<User> {
        let user = ctx.app().identity.verify_email(&token).await?;
        note_user_tenants(ctx, &user.id, "verifyEmail").await;
        Ok(User(user))
    }

    /// Mails the signed-in user a new verification link (earlier ones stop working).
    async fn resend_verification_email(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<ResendVerificationPayload> {
        let principal = ctx.principal()?;
        let Actor::User { user_id } = &principal.actor else {
            return Err(ApiError::forbidden(
                "only signed-in users verify an email address",
            ));
        };
        let link = ctx
            .app()
            .identity
            .resend_verification(user_id, &ctx.public_origin())
            .await?;
        Ok(ResendVerificationPayload {
            emailed: link.is_none(),
            link: link.map(Secret::into_inner),
        })
    }

    /// Emails a single-use link to choose a new password, if the address has an account. The answer never
    /// says whether it has one.
    async fn request_password_reset(
        &self,
        ctx: &Context<'_>,
        email: String,
    ) -> ApiResult<RequestPasswordResetPayload> {
        let identity = &ctx.app().identity;
        identity
            .request_password_reset(&email, &ctx.public_origin())
            .await?;
        Ok(RequestPasswordResetPayload {
            emailed: identity.emails_delivered(),
        })
    }

    /// Follows a password reset link: sets the new password and signs the account out everywhere. Sign in
    /// again with the new password.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        input: ResetPasswordInput,
    ) -> ApiResult<User> {
        let user = ctx
            .app()
            .identity
            .reset_password(&input.token, Secret::new(input.password))
            .await?;
        note_user_tenants(ctx, &user.id, "resetPassword").await;
        Ok(User(user))
    }
}

/// Records an account-wide action in the audit log of each of the user's tenants.
async fn note_user_tenants(ctx: &Context<'_>, user_id: &str, action: &str) {
    let id = user_id.to_string();
    let tenants = ctx
        .app()
        .catalog
        .read(move |conn| repo::memberships::list_for_user(conn, &id))
        .await
        .unwrap_or_default();
    note(ctx, |n| {
        n.tenants = tenants.into_iter().map(|m| m.tenant_id).collect();
        n.actor = Some(format!("user:{user_id}"));
        n.action = Some(action.to_string());
        n.target = Some(user_id.to_string());
    });
}
