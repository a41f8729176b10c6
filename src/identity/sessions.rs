//! Sign-in sessions: sign up, sign in, refresh, sign out, switch tenant.
//!
//! A session is a *token family*: the refresh tokens issued from one sign-in, scoped to one tenant.
//! Refresh tokens rotate: each is used once and replaced. Presenting a spent one means it was copied,
//! so the whole family is revoked — the thief's and the user's tokens alike, access tokens included.
//!
//! `switchTenant` makes a child session of the one it is called with: revoking a session revokes every
//! session switched from it, so a stolen access token cannot be turned into a session that outlives the
//! victim's sign-out. Signing out ends the whole sign-in (the first session and all switched from it).
//! Every session ends at an absolute time (`--session-max-lifetime-secs` after sign-in, inherited by
//! switched sessions), however often it is refreshed; refresh tokens and access tokens never outlive it.

use super::credentials::{self, Email};
use super::{Identity, IdentityError, OpaqueToken};
use crate::db::{StorageError, TenantId};
use crate::model::Role;
use crate::redact::{self, Secret};
use crate::repo;
use crate::repo::sessions::{FamilyRow, RefreshTokenRow};
use crate::repo::users::UserRow;
use crate::tenants;

const REFRESH_PREFIX: &str = "vxr_";

/// A started session: the tokens to hand to the client, once.
#[derive(Debug)]
pub struct SignedIn {
    pub user: UserRow,
    pub tenant_id: TenantId,
    pub role: Role,
    pub family_id: String,
    pub access_token: Secret<String>,
    /// Unix seconds.
    pub access_expires_at: i64,
    pub refresh_token: Secret<String>,
    /// Unix milliseconds.
    pub refresh_expires_at: i64,
    /// At sign-up on a server that sends no email: the verification link, for the portal to show.
    pub verification_link: Option<Secret<String>>,
}

/// What sign-up needs.
#[derive(Debug)]
pub struct SignUp {
    pub email: String,
    pub password: Secret<String>,
    pub name: Option<String>,
    pub tenant_name: String,
    /// The tenant's home region (default: this region).
    pub region: Option<String>,
    /// The portal's origin, for the verification link.
    pub origin: String,
}

/// A failed sign-in, with the tenants whose audit logs should record it (the account's tenants, when
/// the email belongs to an account).
#[derive(Debug)]
pub struct SignInFailure {
    pub error: IdentityError,
    pub user_id: Option<String>,
    pub tenants: Vec<TenantId>,
}

/// A failure before the account is known belongs to no tenant's audit log.
impl<E: Into<IdentityError>> From<E> for SignInFailure {
    fn from(error: E) -> Self {
        Self {
            error: error.into(),
            user_id: None,
            tenants: Vec::new(),
        }
    }
}

impl Identity {
    /// Creates a user, a tenant they own, and a session in it.
    pub async fn sign_up(&self, input: SignUp) -> Result<SignedIn, IdentityError> {
        let email = Email::parse(&input.email, "input.email")?;
        credentials::check_password(input.password.expose(), &email, "input.password")?;
        let name = input
            .name
            .as_deref()
            .filter(|n| !n.trim().is_empty())
            .map(|n| tenants::validate_name(n, "input.name"))
            .transpose()?;
        let tenant_name = tenants::validate_name(&input.tenant_name, "input.tenantName")?;
        let key = email.key.clone();
        let taken = self
            .catalog
            .read(move |conn| repo::users::find_by_email_key(conn, &key))
            .await?
            .is_some();
        if taken {
            return Err(IdentityError::EmailTaken);
        }
        let password = input.password;
        let password_hash =
            tokio::task::spawn_blocking(move || credentials::hash_password(&password)).await??;
        let tenant = crate::edge::provision::provision(
            &self.edge,
            &tenant_name,
            input.region.as_deref(),
            "input.region",
            false,
        )
        .await?
        .record;
        let user = UserRow {
            id: crate::db::new_id(),
            email: email.display,
            email_key: email.key,
            name,
            password_hash,
            created_at: self.clock.now_ms(),
            email_verified_at: None,
        };
        let row = user.clone();
        let tenant_id = tenant.id;
        let (verification, email) = self.verification_for(&user, &input.origin);
        let mailer = self.mailer.clone();
        let token = verification.row;
        // A concurrent sign-up with the same email loses here and leaves an empty tenant behind: harmless,
        // and rarer than worth a distributed undo.
        self.catalog
            .write(move |tx| {
                repo::users::insert(tx, &row)?;
                repo::memberships::insert(tx, tenant_id, &row.id, Role::Owner, row.created_at)?;
                repo::email::insert_token(tx, &token)?;
                mailer.queue_in(tx, &email).map(drop)
            })
            .await
            .map_err(|err| match err {
                err if err.is_unique_violation() => IdentityError::EmailTaken,
                other => other.into(),
            })?;
        self.mailer.wake();
        tracing::info!(user_id = %user.id, tenant_id = %tenant_id, email = %redact::email(&user.email), "signed up");
        let mut signed_in = self
            .start_session(user, tenant_id, Role::Owner, None)
            .await?;
        if !self.mailer.delivers() {
            signed_in.verification_link = Some(verification.link);
        }
        Ok(signed_in)
    }

    /// Signs in with email and password, into `tenant` or the user's first tenant.
    pub async fn sign_in(
        &self,
        email: &str,
        password: Secret<String>,
        tenant: Option<TenantId>,
        ip: Option<&str>,
    ) -> Result<SignedIn, SignInFailure> {
        let invalid = || IdentityError::InvalidCredentials;
        let Ok(email) = Email::parse(email, "email") else {
            return Err(invalid().into());
        };
        let limits = &self.limits;
        let now = self.clock.instant();
        let ip_key = ip.unwrap_or("unknown");
        limits
            .login_ips
            .check(ip_key, now)
            .and(limits.login_accounts.check(&email.key, now))?;
        let key = email.key.clone();
        let found = self
            .catalog
            .read(move |conn| {
                let Some(user) = repo::users::find_by_email_key(conn, &key)? else {
                    return Ok::<_, StorageError>(None);
                };
                let members = repo::memberships::list_for_user(conn, &user.id)?;
                Ok(Some((user, members)))
            })
            .await?;
        let verified = {
            let hash = found.as_ref().map(|(u, _)| u.password_hash.clone());
            tokio::task::spawn_blocking(move || match hash {
                Some(hash) => credentials::verify_password(&password, &hash),
                None => {
                    credentials::verify_against_nothing(&password);
                    false
                }
            })
            .await?
        };
        let (user, members) = match (found, verified) {
            (Some(found), true) => found,
            (found, _) => {
                let _ = limits.login_ips.record_failure(ip_key, now);
                let _ = limits.login_accounts.record_failure(&email.key, now);
                tracing::info!(email = %redact::email(&email.display), ip = ip_key, known = found.is_some(), "sign-in failed");
                return Err(SignInFailure {
                    error: invalid(),
                    user_id: found.as_ref().map(|(u, _)| u.id.clone()),
                    tenants: found
                        .map(|(_, m)| m.into_iter().map(|m| m.tenant_id).collect())
                        .unwrap_or_default(),
                });
            }
        };
        limits.login_accounts.reset(&email.key);
        let member = match tenant {
            Some(id) => members.iter().find(|m| m.tenant_id == id),
            None => members.first(),
        };
        let Some(member) = member.cloned() else {
            let error = if tenant.is_some() {
                IdentityError::NotFound("tenant")
            } else {
                IdentityError::Forbidden(
                    "this account belongs to no tenant; accept an invitation first".into(),
                )
            };
            return Err(SignInFailure {
                error,
                user_id: Some(user.id.clone()),
                tenants: Vec::new(),
            });
        };
        Ok(self
            .start_session(user, member.tenant_id, member.role, None)
            .await?)
    }

    /// Exchanges a refresh token for a new access token and a new refresh token.
    pub async fn refresh(&self, raw: &str) -> Result<SignedIn, IdentityError> {
        let invalid = || IdentityError::InvalidToken("invalid refresh token");
        let token = OpaqueToken::parse(raw, REFRESH_PREFIX).ok_or_else(invalid)?;
        let now = self.clock.now_ms();
        let refresh_ttl = ms(self.settings.refresh_ttl);
        let lifetime = ms(self.settings.session_lifetime);
        let (next, full) = OpaqueToken::generate(REFRESH_PREFIX);
        enum Outcome {
            Rotated(Box<(FamilyRow, crate::repo::memberships::MemberRow, UserRow)>),
            Refused(IdentityError, Vec<String>),
        }
        let outcome = self
            .catalog
            .write(move |tx| {
                let refuse =
                    |e: IdentityError| Ok::<_, StorageError>(Outcome::Refused(e, Vec::new()));
                let Some(row) = repo::sessions::get_refresh_token(tx, &token.id)? else {
                    return refuse(invalid());
                };
                if !token.matches(&row.secret_hash) {
                    return refuse(invalid());
                }
                let Some(family) = repo::sessions::get_family(tx, &row.family_id)? else {
                    return refuse(invalid());
                };
                if family.revoked_at.is_some() {
                    return refuse(IdentityError::SessionEnded);
                }
                if row.used_at.is_some() || !repo::sessions::mark_used(tx, &row.id, now)? {
                    let revoked = repo::sessions::revoke_family(tx, &family.id, "reuse", now)?;
                    return Ok(Outcome::Refused(IdentityError::RefreshTokenReused, revoked));
                }
                if row.expires_at <= now {
                    return refuse(IdentityError::RefreshExpired);
                }
                let end = session_end(&family, lifetime);
                if end <= now {
                    return refuse(IdentityError::SessionExpired);
                }
                let member = repo::memberships::get(tx, family.tenant_id, &family.user_id)?;
                let user = repo::users::get(tx, &family.user_id)?;
                let (Some(member), Some(user)) = (member, user) else {
                    let revoked =
                        repo::sessions::revoke_family(tx, &family.id, "membership_ended", now)?;
                    return Ok(Outcome::Refused(IdentityError::SessionEnded, revoked));
                };
                repo::sessions::insert_refresh_token(
                    tx,
                    &RefreshTokenRow {
                        id: next.id.clone(),
                        family_id: family.id.clone(),
                        secret_hash: next.secret_hash(),
                        created_at: now,
                        expires_at: (now + refresh_ttl).min(end),
                        used_at: None,
                    },
                )?;
                Ok(Outcome::Rotated(Box::new((family, member, user))))
            })
            .await?;
        match outcome {
            Outcome::Rotated(rotated) => {
                let (family, member, user) = *rotated;
                let end = session_end(&family, lifetime);
                let (access, access_exp) = self.auth.signer().issue_access_until(
                    &user.id,
                    family.tenant_id,
                    &family.id,
                    end,
                )?;
                Ok(SignedIn {
                    user,
                    tenant_id: family.tenant_id,
                    role: member.role,
                    family_id: family.id,
                    access_token: Secret::new(access),
                    access_expires_at: access_exp,
                    refresh_token: full,
                    refresh_expires_at: (now + refresh_ttl).min(end),
                    verification_link: None,
                })
            }
            Outcome::Refused(error, revoked) => {
                if matches!(error, IdentityError::RefreshTokenReused) {
                    tracing::warn!(
                        sessions = revoked.len(),
                        "refresh token reuse: session revoked"
                    );
                }
                self.forget_sessions(&revoked).await;
                Err(error)
            }
        }
    }

    /// Makes revoked sessions stop working on this instance at once (open WebSockets included).
    pub(super) async fn forget_sessions(&self, families: &[String]) {
        for family in families {
            self.auth.forget_session(family).await;
        }
    }

    /// Ends the sign-in a refresh token belongs to: its session, the one it was switched from (if any),
    /// and every session switched from those. Returns the token's session (for the audit log).
    pub async fn sign_out(&self, raw: &str) -> Result<FamilyRow, IdentityError> {
        let invalid = || IdentityError::InvalidToken("invalid refresh token");
        let token = OpaqueToken::parse(raw, REFRESH_PREFIX).ok_or_else(invalid)?;
        let now = self.clock.now_ms();
        let signed_out = self
            .catalog
            .write(move |tx| {
                let row = repo::sessions::get_refresh_token(tx, &token.id)?
                    .filter(|row| token.matches(&row.secret_hash));
                let Some(row) = row else {
                    return Ok::<_, StorageError>(None);
                };
                let root = repo::sessions::root_of(tx, &row.family_id)?;
                let revoked = repo::sessions::revoke_family(tx, &root, "sign_out", now)?;
                Ok(repo::sessions::get_family(tx, &row.family_id)?.map(|f| (f, revoked)))
            })
            .await?;
        let (family, revoked) = signed_out.ok_or_else(invalid)?;
        self.forget_sessions(&revoked).await;
        Ok(family)
    }

    /// Ends every session of a user, in every tenant. Returns how many were live.
    pub async fn sign_out_everywhere(&self, user_id: &str) -> Result<usize, IdentityError> {
        let (id, now) = (user_id.to_string(), self.clock.now_ms());
        let revoked = self
            .catalog
            .write(move |tx| {
                repo::sessions::revoke_user_families(tx, &id, "sign_out_everywhere", now)
            })
            .await?;
        self.forget_sessions(&revoked).await;
        Ok(revoked.len())
    }

    /// A new session for the same user in another of their tenants, made from (and ending with) the
    /// session `from_session` they are signed in to `from_tenant` with.
    pub async fn switch_tenant(
        &self,
        user_id: &str,
        from_tenant: TenantId,
        from_session: &str,
        tenant_id: TenantId,
    ) -> Result<SignedIn, IdentityError> {
        if tenant_id == from_tenant {
            return Err(IdentityError::Conflict(
                "already signed in to this tenant: switch to another one",
            ));
        }
        let (id, parent_id) = (user_id.to_string(), from_session.to_string());
        let (user, member, parent) = self
            .catalog
            .read(move |conn| {
                let user = repo::users::get(conn, &id)?;
                let member = repo::memberships::get(conn, tenant_id, &id)?;
                let parent = repo::sessions::get_family(conn, &parent_id)?;
                Ok::<_, StorageError>((user, member, parent))
            })
            .await?;
        let parent = parent
            .filter(|p| p.revoked_at.is_none() && p.user_id == user_id)
            .ok_or(IdentityError::SessionEnded)?;
        match (user, member) {
            (Some(user), Some(member)) => {
                self.start_session(user, tenant_id, member.role, Some(&parent))
                    .await
            }
            _ => Err(IdentityError::NotFound("tenant")),
        }
    }

    /// Starts a token family for `user` in `tenant_id` and issues its first tokens. A session switched
    /// from `parent` hangs under it and ends when it does.
    pub(super) async fn start_session(
        &self,
        user: UserRow,
        tenant_id: TenantId,
        role: Role,
        parent: Option<&FamilyRow>,
    ) -> Result<SignedIn, IdentityError> {
        let now = self.clock.now_ms();
        let lifetime = ms(self.settings.session_lifetime);
        let end = parent.map_or(now.saturating_add(lifetime), |p| session_end(p, lifetime));
        if end <= now {
            return Err(IdentityError::SessionExpired);
        }
        let refresh_expires_at = (now + ms(self.settings.refresh_ttl)).min(end);
        let family = FamilyRow {
            id: crate::db::new_id(),
            user_id: user.id.clone(),
            tenant_id,
            created_at: now,
            revoked_at: None,
            parent_id: parent.map(|p| p.id.clone()),
            expires_at: Some(end),
        };
        let (token, full) = OpaqueToken::generate(REFRESH_PREFIX);
        let stored = family.clone();
        self.catalog
            .write(move |tx| {
                repo::sessions::insert_family(tx, &stored)?;
                repo::sessions::insert_refresh_token(
                    tx,
                    &RefreshTokenRow {
                        id: token.id.clone(),
                        family_id: stored.id.clone(),
                        secret_hash: token.secret_hash(),
                        created_at: now,
                        expires_at: refresh_expires_at,
                        used_at: None,
                    },
                )
            })
            .await?;
        let (access, access_expires_at) = self
            .auth
            .signer()
            .issue_access_until(&user.id, tenant_id, &family.id, end)?;
        Ok(SignedIn {
            user,
            tenant_id,
            role,
            family_id: family.id,
            access_token: Secret::new(access),
            access_expires_at,
            refresh_token: full,
            refresh_expires_at,
            verification_link: None,
        })
    }
}

/// When a session ends for good: its stored end, or for sessions from before there was one, its start
/// plus the configured lifetime.
fn session_end(family: &FamilyRow, lifetime: i64) -> i64 {
    family
        .expires_at
        .unwrap_or_else(|| family.created_at.saturating_add(lifetime))
}

fn ms(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 2)
}
