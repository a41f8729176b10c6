//! What identity mails, and following those links.
//!
//! - **Verification** (`vxv_`, `--email-verification-ttl-secs`): sent at sign-up and on request. Accounts work
//!   unverified for `--email-verification-grace-secs`; after that tenant operations answer
//!   `EMAIL_NOT_VERIFIED` until the address is verified. Accepting an invitation sent to the address, or
//!   resetting the password through a mailed link, verifies it too.
//! - **Password reset** (`vxp_`, `--password-reset-ttl-secs`): asked for by email address — the answer never says
//!   whether an account exists — and mailed only, never shown (that would hand the account to whoever asked).
//!   Choosing the new password revokes every session of the user, in every tenant.
//! - **Invitations** (`vxi_`, see [`super::members`]) are mailed to the invitee.
//! - **Billing notices** go to a tenant's owner and billing members ([`crate::billing::Billing::notify`]).
//!
//! Every link works once, until it expires: a spent one answers `LINK_ALREADY_USED`, an expired one
//! `LINK_EXPIRED`. Without an SMTP server the emails go to the log (redacted), and the verification and
//! invitation links are handed to the person who asked (they could follow them anyway).

use std::time::Duration;

use super::credentials::{self, Email};
use super::{Identity, IdentityError, OpaqueToken};
use crate::db::StorageError;
use crate::email::templates;
use crate::redact::{self, Secret};
use crate::repo;
use crate::repo::email::EmailTokenRow;
use crate::repo::users::UserRow;

pub(super) const VERIFY_PREFIX: &str = "vxv_";
const RESET_PREFIX: &str = "vxp_";
const VERIFY: &str = "verify_email";
const RESET: &str = "reset_password";

/// At most one reset email per account this often: asking again sooner sends nothing (no mail bombing).
const RESET_EMAIL_INTERVAL_MS: i64 = 60_000;

/// A portal link carrying a token: `{origin}{path}?token=...`.
pub fn link(origin: &str, path: &str, token: &Secret<String>) -> Secret<String> {
    Secret::new(format!(
        "{}{path}?token={}",
        origin.trim_end_matches('/'),
        token.expose()
    ))
}

/// A link token ready to store, and the link to mail.
pub(super) struct IssuedLink {
    pub row: EmailTokenRow,
    pub link: Secret<String>,
}

impl Identity {
    /// A new link token of `purpose` for `user_id`, valid for `ttl`.
    pub(super) fn issue_link(
        &self,
        user_id: &str,
        purpose: &str,
        ttl: Duration,
        origin: &str,
    ) -> IssuedLink {
        let (prefix, path) = match purpose {
            VERIFY => (VERIFY_PREFIX, "/verify-email"),
            _ => (RESET_PREFIX, "/reset-password"),
        };
        let (token, full) = OpaqueToken::generate(prefix);
        let now = self.clock.now_ms();
        IssuedLink {
            row: EmailTokenRow {
                id: token.id.clone(),
                user_id: user_id.to_string(),
                purpose: purpose.to_string(),
                secret_hash: token.secret_hash(),
                created_at: now,
                expires_at: now + ms(ttl),
                used_at: None,
            },
            link: link(origin, path, &full),
        }
    }

    /// A verification link for a new user, and its email, to store and queue in the sign-up transaction.
    pub(super) fn verification_for(
        &self,
        user: &UserRow,
        origin: &str,
    ) -> (IssuedLink, crate::email::Email) {
        let ttl = self.settings.verify_ttl;
        let issued = self.issue_link(&user.id, VERIFY, ttl, origin);
        let email =
            templates::verify_email(&user.email, user.name.as_deref(), issued.link.expose(), ttl);
        (issued, email)
    }

    /// Mails the signed-in user a new verification link (older ones stop working). Returns the link when this
    /// server sends no email, for the portal to show to the user it belongs to.
    pub async fn resend_verification(
        &self,
        user_id: &str,
        origin: &str,
    ) -> Result<Option<Secret<String>>, IdentityError> {
        let id = user_id.to_string();
        let user = self
            .catalog
            .read(move |conn| repo::users::get(conn, &id))
            .await?
            .ok_or(IdentityError::NotFound("user"))?;
        if user.email_verified_at.is_some() {
            return Err(IdentityError::Conflict(
                "this email address is already verified",
            ));
        }
        let (issued, email) = self.verification_for(&user, origin);
        let (mailer, now) = (self.mailer.clone(), self.clock.now_ms());
        let row = issued.row;
        self.catalog
            .write(move |tx| {
                repo::email::spend_unused(tx, &row.user_id, VERIFY, now)?;
                repo::email::insert_token(tx, &row)?;
                mailer.queue_in(tx, &email)
            })
            .await?;
        self.mailer.wake();
        Ok((!self.mailer.delivers()).then_some(issued.link))
    }

    /// Follows a verification link: the user's address is verified. Works once.
    pub async fn verify_email(&self, raw: &str) -> Result<UserRow, IdentityError> {
        let row = self.follow(raw, VERIFY_PREFIX, VERIFY).await?;
        let (user_id, now) = (row.user_id.clone(), self.clock.now_ms());
        let user = self
            .catalog
            .write(move |tx| {
                if !repo::email::use_token(tx, &row.id, now)? {
                    return Ok(Err(used(VERIFY)));
                }
                repo::email::spend_unused(tx, &user_id, VERIFY, now)?;
                repo::users::mark_email_verified(tx, &user_id, now)?;
                let user = repo::users::get(tx, &user_id)?;
                let tenants = repo::memberships::list_for_user(tx, &user_id)?;
                Ok::<_, StorageError>(Ok((user, tenants)))
            })
            .await??;
        let (user, tenants) = user;
        let user = user.ok_or(IdentityError::NotFound("user"))?;
        // Cached sessions still carry "unverified": drop them so the grace check sees the change at once.
        for member in tenants {
            self.auth.forget_member(member.tenant_id, &user.id);
        }
        tracing::info!(user_id = %user.id, "email verified");
        Ok(user)
    }

    /// Mails a password reset link to `email`'s account, if there is one. Says nothing about whether there is.
    pub async fn request_password_reset(
        &self,
        email: &str,
        origin: &str,
    ) -> Result<(), IdentityError> {
        let email = Email::parse(email, "email")?;
        let key = email.key.clone();
        let user = self
            .catalog
            .read(move |conn| repo::users::find_by_email_key(conn, &key))
            .await?;
        let Some(user) = user else {
            tracing::info!(email = %redact::email(&email.display), "password reset asked for an unknown email");
            return Ok(());
        };
        let ttl = self.settings.reset_ttl;
        let issued = self.issue_link(&user.id, RESET, ttl, origin);
        let message = templates::reset_password(&user.email, issued.link.expose(), ttl);
        let (mailer, now) = (self.mailer.clone(), self.clock.now_ms());
        let row = issued.row;
        let queued = self
            .catalog
            .write(move |tx| {
                let recent = repo::email::latest_created(tx, &row.user_id, RESET)?
                    .is_some_and(|at| now - at < RESET_EMAIL_INTERVAL_MS);
                if recent {
                    return Ok::<_, StorageError>(false);
                }
                repo::email::spend_unused(tx, &row.user_id, RESET, now)?;
                repo::email::insert_token(tx, &row)?;
                mailer.queue_in(tx, &message)?;
                Ok(true)
            })
            .await?;
        if queued {
            self.mailer.wake();
            tracing::info!(user_id = %user.id, "password reset link queued");
        } else {
            tracing::info!(user_id = %user.id, "password reset asked again within a minute; nothing sent");
        }
        Ok(())
    }

    /// Follows a reset link: sets the new password, verifies the address (the link came to it), and ends every
    /// session of the user. Works once.
    pub async fn reset_password(
        &self,
        raw: &str,
        password: Secret<String>,
    ) -> Result<UserRow, IdentityError> {
        let row = self.follow(raw, RESET_PREFIX, RESET).await?;
        let id = row.user_id.clone();
        let user = self
            .catalog
            .read(move |conn| repo::users::get(conn, &id))
            .await?
            .ok_or(IdentityError::NotFound("user"))?;
        let email = Email::parse(&user.email, "email")?;
        credentials::check_password(password.expose(), &email, "input.password")?;
        let hash =
            tokio::task::spawn_blocking(move || credentials::hash_password(&password)).await??;
        let (user_id, now) = (user.id.clone(), self.clock.now_ms());
        let families = self
            .catalog
            .write(move |tx| {
                if !repo::email::use_token(tx, &row.id, now)? {
                    return Ok(Err(used(RESET)));
                }
                repo::email::spend_unused(tx, &user_id, RESET, now)?;
                repo::users::set_password_hash(tx, &user_id, &hash)?;
                repo::users::mark_email_verified(tx, &user_id, now)?;
                let families =
                    repo::sessions::revoke_user_families(tx, &user_id, "password_reset", now)?;
                Ok::<_, StorageError>(Ok(families))
            })
            .await??;
        for family in &families {
            self.auth.forget_session(family).await;
        }
        self.limits.login_accounts.reset(&email.key);
        tracing::info!(user_id = %user.id, sessions_revoked = families.len(), "password reset");
        Ok(user)
    }

    /// The stored token a mailed link names, checked: ours, of this purpose, not used, not expired.
    async fn follow(
        &self,
        raw: &str,
        prefix: &'static str,
        purpose: &'static str,
    ) -> Result<EmailTokenRow, IdentityError> {
        let invalid = || {
            IdentityError::InvalidToken(match purpose {
                VERIFY => "this is not a valid email verification link",
                _ => "this is not a valid password reset link",
            })
        };
        let token = OpaqueToken::parse(raw, prefix).ok_or_else(invalid)?;
        let id = token.id.clone();
        let row = self
            .catalog
            .read(move |conn| repo::email::get_token(conn, &id))
            .await?
            .filter(|row| row.purpose == purpose && token.matches(&row.secret_hash))
            .ok_or_else(invalid)?;
        if row.used_at.is_some() {
            return Err(used(purpose));
        }
        if row.expires_at <= self.clock.now_ms() {
            return Err(IdentityError::LinkExpired(match purpose {
                VERIFY => "this verification link has expired; sign in and ask for a new one",
                _ => "this password reset link has expired; ask for a new one",
            }));
        }
        Ok(row)
    }
}

fn used(purpose: &str) -> IdentityError {
    IdentityError::LinkUsed(match purpose {
        VERIFY => "this verification link was already used",
        _ => "this password reset link was already used; ask for a new one if you need to",
    })
}

pub(super) fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 2)
}

impl Identity {
    /// A password reset link for `email`'s account, for an operator to hand over (nothing is mailed). Earlier
    /// reset links stop working. Returns the link and when it expires (unix ms).
    pub async fn operator_reset_link(
        &self,
        email: &str,
        origin: &str,
        ttl: Duration,
    ) -> Result<(Secret<String>, i64), IdentityError> {
        let email = Email::parse(email, "email")?;
        let key = email.key.clone();
        let user = self
            .catalog
            .read(move |conn| repo::users::find_by_email_key(conn, &key))
            .await?
            .ok_or(IdentityError::NotFound("account with this email"))?;
        let issued = self.issue_link(&user.id, RESET, ttl, origin);
        let (row, now) = (issued.row, self.clock.now_ms());
        let expires_at = row.expires_at;
        self.catalog
            .write(move |tx| {
                repo::email::spend_unused(tx, &row.user_id, RESET, now)?;
                repo::email::insert_token(tx, &row)
            })
            .await?;
        tracing::info!(user_id = %user.id, "password reset link issued by an operator");
        Ok((issued.link, expires_at))
    }
}
