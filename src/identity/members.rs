//! Members of a tenant: invite, accept, change role, remove, transfer ownership.
//!
//! Rules: a tenant has exactly one owner (a unique index enforces it); ownership moves only by transfer,
//! from the signed-in owner to another member. Nobody grants a role above their own, nor manages a
//! member whose role they could not grant. Any member but the owner may leave.
//! Membership changes revoke nothing of the tenant's data, but removing a member ends their sessions in
//! that tenant at once (and the sessions switched from them), and revokes the API keys they created —
//! and the keys those keys created. Keys are revoked rather than listed for an admin to decide: a key
//! carries up to its creator's role, and a departed member who kept a copy would otherwise keep that
//! access indefinitely, unseen, until someone noticed. An admin who needs an integration to go on
//! creates a new key for it.
//!
//! Accepting an invitation with an existing account's password is a sign-in: wrong passwords count
//! toward the account and client-IP lock-outs, and after [`INVITE_MAX_FAILURES`] wrong passwords the
//! invitation itself is locked for good (the inviter sends a new one).

use super::credentials::{self, Email};
use super::sessions::SignedIn;
use super::{Identity, IdentityError, OpaqueToken};
use crate::auth::{Actor, Principal};
use crate::db::{StorageError, TenantId};
use crate::email::templates;
use crate::model::Role;
use crate::redact::Secret;
use crate::repo;
use crate::repo::invites::InviteRow;
use crate::repo::memberships::MemberRow;
use crate::repo::users::UserRow;

const INVITE_PREFIX: &str = "vxi_";

/// Wrong passwords after which an invitation is locked.
pub const INVITE_MAX_FAILURES: i64 = 5;

/// A new invitation and its token (shown once; whoever holds it can accept).
#[derive(Debug)]
pub struct IssuedInvite {
    pub invite: InviteRow,
    pub token: Secret<String>,
    /// The portal link that accepts it (`/accept-invite?token=...`), as mailed.
    pub link: Secret<String>,
    /// Whether it was emailed to the invitee (else the inviter passes the link on).
    pub emailed: bool,
}

/// Who is accepting an invitation.
#[derive(Debug)]
pub enum Accepting {
    /// A signed-in user whose email is the invited one, in the session `session_id`: the new session
    /// hangs under it (as a switched one does) and ends with it.
    User {
        user_id: String,
        session_id: Option<String>,
    },
    /// Someone not signed in: the invited email's password (existing account), or a new password and
    /// name (a new account is created).
    Anonymous {
        password: Secret<String>,
        name: Option<String>,
    },
}

impl Identity {
    /// Invites `email` to the principal's tenant with `role` (never owner, never above the inviter's), and
    /// mails the invitation, with its link into the portal at `origin`.
    pub async fn invite(
        &self,
        principal: &Principal,
        email: &str,
        role: Role,
        origin: &str,
    ) -> Result<IssuedInvite, IdentityError> {
        let email = Email::parse(email, "input.email")?;
        if role == Role::Owner {
            return Err(IdentityError::Forbidden(
                "ownership is not invited: invite as admin, then transfer ownership".into(),
            ));
        }
        grantable(principal, role)?;
        let tenant_id = principal.tenant_id;
        let now = self.clock.now_ms();
        let (token, full) = OpaqueToken::generate(INVITE_PREFIX);
        let invite = InviteRow {
            id: token.id.clone(),
            tenant_id,
            email: email.display,
            email_key: email.key,
            role,
            secret_hash: token.secret_hash(),
            invited_by: principal.actor.label(),
            created_at: now,
            expires_at: now + i64::try_from(self.settings.invite_ttl.as_millis()).unwrap_or(0),
            accepted_at: None,
            accepted_by: None,
            revoked_at: None,
            failed_attempts: 0,
        };
        let row = invite.clone();
        let link = super::email_links::link(origin, "/accept-invite", &full);
        let (mailer, mailed_link, ttl) =
            (self.mailer.clone(), link.clone(), self.settings.invite_ttl);
        let inviter = match &principal.actor {
            Actor::User { user_id } => Some(user_id.clone()),
            _ => None,
        };
        let already_member = self
            .catalog
            .write(move |tx| {
                if let Some(user) = repo::users::find_by_email_key(tx, &row.email_key)?
                    && repo::memberships::get(tx, tenant_id, &user.id)?.is_some()
                {
                    return Ok::<_, StorageError>(true);
                }
                repo::invites::revoke_pending_for_email(tx, tenant_id, &row.email_key, now)?;
                repo::invites::insert(tx, &row)?;
                let workspace = repo::tenants::get(tx, tenant_id)?
                    .map(|t| t.name)
                    .unwrap_or_default();
                let inviter = match inviter {
                    Some(id) => repo::users::get(tx, &id)?.map(|u| u.name.unwrap_or(u.email)),
                    None => None,
                };
                let email = templates::invite(
                    &row.email,
                    &workspace,
                    inviter.as_deref(),
                    role.as_str(),
                    mailed_link.expose(),
                    ttl,
                );
                mailer.queue_in(tx, &email)?;
                Ok(false)
            })
            .await?;
        if already_member {
            return Err(IdentityError::Conflict("already a member of this tenant"));
        }
        self.mailer.wake();
        Ok(IssuedInvite {
            invite,
            token: full,
            link,
            emailed: self.mailer.delivers(),
        })
    }

    /// Accepts an invitation: joins its tenant and starts a session there. `ip` is the client's, for the
    /// lock-outs.
    pub async fn accept(
        &self,
        raw: &str,
        who: Accepting,
        ip: Option<&str>,
    ) -> Result<SignedIn, IdentityError> {
        let invalid = || IdentityError::InvalidToken("invalid or withdrawn invitation");
        let token = OpaqueToken::parse(raw, INVITE_PREFIX).ok_or_else(invalid)?;
        let now = self.clock.now_ms();
        let id = token.id.clone();
        let invite = self
            .catalog
            .read(move |conn| repo::invites::get(conn, &id))
            .await?
            .filter(|i| token.matches(&i.secret_hash) && i.revoked_at.is_none())
            .ok_or_else(invalid)?;
        if invite.accepted_at.is_some() {
            return Err(IdentityError::LinkUsed(
                "this invitation was already accepted",
            ));
        }
        if invite.expires_at <= now {
            return Err(IdentityError::LinkExpired(
                "this invitation has expired; ask for a new one",
            ));
        }
        if invite.failed_attempts >= INVITE_MAX_FAILURES {
            return Err(IdentityError::InviteLocked);
        }
        // Only a mailed invitation proves the address; one handed over by the inviter does not.
        let emailed = self.mailer.delivers();
        let key = invite.email_key.clone();
        let existing = self
            .catalog
            .read(move |conn| repo::users::find_by_email_key(conn, &key))
            .await?;
        let parent_session = match &who {
            Accepting::User { session_id, .. } => session_id.clone(),
            Accepting::Anonymous { .. } => None,
        };
        let (user, new_user) = match (who, existing) {
            (Accepting::User { user_id, .. }, Some(user)) if user.id == user_id => (user, false),
            (Accepting::User { .. }, _) => {
                return Err(IdentityError::Forbidden(
                    "this invitation is for another email address".into(),
                ));
            }
            (Accepting::Anonymous { password, .. }, Some(user)) => {
                self.check_invite_password(&invite, &user, password, ip)
                    .await?;
                (user, false)
            }
            (Accepting::Anonymous { password, name }, None) => {
                let email = Email::parse(&invite.email, "email")?;
                credentials::check_password(password.expose(), &email, "input.password")?;
                let name = name
                    .as_deref()
                    .filter(|n| !n.trim().is_empty())
                    .map(|n| crate::tenants::validate_name(n, "input.name"))
                    .transpose()?;
                let password_hash =
                    tokio::task::spawn_blocking(move || credentials::hash_password(&password))
                        .await??;
                let user = UserRow {
                    id: crate::db::new_id(),
                    email: email.display,
                    email_key: email.key,
                    name,
                    password_hash,
                    created_at: now,
                    // A mailed invitation proves the address; one handed over by the inviter does not.
                    email_verified_at: emailed.then_some(now),
                };
                (user, true)
            }
        };
        let row = user.clone();
        let (invite_id, tenant_id, role) = (invite.id.clone(), invite.tenant_id, invite.role);
        let joined = self
            .catalog
            .write(move |tx| {
                if new_user {
                    repo::users::insert(tx, &row)?;
                }
                if repo::memberships::get(tx, tenant_id, &row.id)?.is_some() {
                    return Ok::<_, StorageError>(Err(IdentityError::Conflict(
                        "already a member of this tenant",
                    )));
                }
                if !repo::invites::mark_accepted(tx, &invite_id, &row.id, now)? {
                    return Ok(Err(IdentityError::LinkUsed(
                        "this invitation was already accepted",
                    )));
                }
                repo::memberships::insert(tx, tenant_id, &row.id, role, now)?;
                if emailed {
                    repo::users::mark_email_verified(tx, &row.id, now)?;
                }
                Ok(Ok(()))
            })
            .await
            .map_err(|err| match err {
                err if err.is_unique_violation() => IdentityError::EmailTaken,
                other => other.into(),
            })?;
        joined?;
        let parent = match parent_session {
            Some(id) => self
                .catalog
                .read(move |conn| repo::sessions::get_family(conn, &id))
                .await?
                .filter(|p| p.revoked_at.is_none()),
            None => None,
        };
        self.start_session(user, tenant_id, role, parent.as_ref())
            .await
    }

    /// An existing account's password given to accept an invitation: a sign-in in all but name, so it
    /// honours and feeds the same lock-outs, and it locks the invitation after a few wrong ones.
    async fn check_invite_password(
        &self,
        invite: &InviteRow,
        user: &UserRow,
        password: Secret<String>,
        ip: Option<&str>,
    ) -> Result<(), IdentityError> {
        let limits = &self.limits;
        let now = self.clock.instant();
        let ip_key = ip.unwrap_or("unknown");
        limits
            .login_ips
            .check(ip_key, now)
            .and(limits.login_accounts.check(&user.email_key, now))?;
        let hash = user.password_hash.clone();
        let ok =
            tokio::task::spawn_blocking(move || credentials::verify_password(&password, &hash))
                .await?;
        if ok {
            limits.login_accounts.reset(&user.email_key);
            return Ok(());
        }
        let _ = limits.login_ips.record_failure(ip_key, now);
        let _ = limits.login_accounts.record_failure(&user.email_key, now);
        let id = invite.id.clone();
        let failures = self
            .catalog
            .write(move |tx| repo::invites::record_failed_attempt(tx, &id))
            .await?;
        tracing::info!(invite_id = %invite.id, ip = ip_key, failures, "wrong password for an invitation");
        if failures >= INVITE_MAX_FAILURES {
            Err(IdentityError::InviteLocked)
        } else {
            Err(IdentityError::InvalidCredentials)
        }
    }

    /// Withdraws a pending invitation of the principal's tenant.
    pub async fn revoke_invite(
        &self,
        principal: &Principal,
        id: String,
    ) -> Result<(), IdentityError> {
        let tenant_id = principal.tenant_id;
        let now = self.clock.now_ms();
        let revoked = self
            .catalog
            .write(move |tx| repo::invites::revoke(tx, tenant_id, &id, now))
            .await?;
        if revoked {
            Ok(())
        } else {
            Err(IdentityError::NotFound("invitation"))
        }
    }

    /// Changes a member's role (not to or from owner: that is a transfer).
    pub async fn change_role(
        &self,
        principal: &Principal,
        user_id: &str,
        role: Role,
    ) -> Result<MemberRow, IdentityError> {
        let member = self.find(principal.tenant_id, user_id).await?;
        if member.role == Role::Owner || role == Role::Owner {
            return Err(IdentityError::Conflict(
                "ownership changes only by transferOwnership",
            ));
        }
        grantable(principal, member.role)?;
        grantable(principal, role)?;
        let (tenant_id, id) = (principal.tenant_id, member.user_id.clone());
        self.catalog
            .write(move |tx| repo::memberships::set_role(tx, tenant_id, &id, role))
            .await?;
        self.auth.forget_member(tenant_id, user_id);
        self.find(tenant_id, user_id).await
    }

    /// Removes a member (or lets a member leave), ends their sessions in this tenant and revokes the API
    /// keys they created (see the module documentation for why).
    pub async fn remove_member(
        &self,
        principal: &Principal,
        user_id: &str,
    ) -> Result<MemberRow, IdentityError> {
        let leaving = matches!(&principal.actor, Actor::User { user_id: me } if me == user_id);
        if !leaving {
            principal.require(crate::auth::Permission::ManageMembers)?;
        }
        let member = self.find(principal.tenant_id, user_id).await?;
        if member.role == Role::Owner {
            return Err(IdentityError::Conflict(
                "a tenant always keeps its owner: transfer ownership first",
            ));
        }
        if !leaving {
            grantable(principal, member.role)?;
        }
        let (tenant_id, id, now) = (
            principal.tenant_id,
            member.user_id.clone(),
            self.clock.now_ms(),
        );
        // Keys first: should removing the membership then fail, the member stays with fewer keys, never
        // the other way round.
        let keys = self
            .edge
            .revoke_keys_created_by(
                &self.auth,
                tenant_id,
                format!("user:{}", member.user_id),
                now,
            )
            .await?;
        if !keys.is_empty() {
            tracing::info!(tenant_id = %tenant_id, user_id = %member.user_id, keys = keys.len(), "revoked the removed member's API keys");
        }
        let families = self
            .catalog
            .write(move |tx| {
                repo::memberships::delete(tx, tenant_id, &id)?;
                repo::sessions::revoke_member_families(tx, &id, tenant_id, "membership_ended", now)
            })
            .await?;
        self.auth.forget_member(tenant_id, user_id);
        self.forget_sessions(&families).await;
        Ok(member)
    }

    /// Makes another member the owner; the signed-in owner becomes an admin. One transaction.
    pub async fn transfer_ownership(
        &self,
        principal: &Principal,
        user_id: &str,
    ) -> Result<MemberRow, IdentityError> {
        let Actor::User { user_id: me } = &principal.actor else {
            return Err(IdentityError::Forbidden(
                "only the owner, signed in, can transfer ownership".into(),
            ));
        };
        if principal.role != Role::Owner {
            return Err(IdentityError::Forbidden(
                "only the owner can transfer ownership".into(),
            ));
        }
        let target = self.find(principal.tenant_id, user_id).await?;
        if target.user_id == *me {
            return Err(IdentityError::Conflict("you already own this tenant"));
        }
        let (tenant_id, me_id, target_id) =
            (principal.tenant_id, me.clone(), target.user_id.clone());
        self.catalog
            .write(move |tx| {
                // Demote first: the unique index allows one owner at a time.
                repo::memberships::set_role(tx, tenant_id, &me_id, Role::Admin)?;
                repo::memberships::set_role(tx, tenant_id, &target_id, Role::Owner)
            })
            .await?;
        self.auth.forget_member(tenant_id, me);
        self.auth.forget_member(tenant_id, user_id);
        self.find(tenant_id, user_id).await
    }

    async fn find(&self, tenant_id: TenantId, user_id: &str) -> Result<MemberRow, IdentityError> {
        let id = user_id.to_string();
        self.catalog
            .read(move |conn| repo::memberships::get(conn, tenant_id, &id))
            .await?
            .ok_or(IdentityError::NotFound("member"))
    }
}

fn grantable(principal: &Principal, role: Role) -> Result<(), IdentityError> {
    if principal.role.can_grant(role) {
        Ok(())
    } else {
        Err(IdentityError::Forbidden(format!(
            "a {} may not grant or manage the {role} role",
            principal.role
        )))
    }
}
