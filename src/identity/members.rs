//! Members of a tenant: invite, accept, change role, remove, transfer ownership.
//!
//! Rules: a tenant has exactly one owner (a unique index enforces it); ownership moves only by transfer,
//! from the signed-in owner to another member. Nobody grants a role above their own, nor manages a
//! member whose role they could not grant. Any member but the owner may leave.
//! Membership changes revoke nothing of the tenant's data, but removing a member ends their sessions in
//! that tenant at once.

use crate::app::AppState;
use crate::auth::{Actor, Principal, Role};
use crate::db::{StorageError, TenantId};
use crate::error::{ApiError, ErrorCode};
use crate::redact::Secret;
use crate::repo;
use crate::repo::invites::InviteRow;
use crate::repo::memberships::MemberRow;
use crate::repo::users::UserRow;

use super::OpaqueToken;
use super::credentials::{self, Email};
use super::sessions::{SignedIn, start_session};

const INVITE_PREFIX: &str = "vxi_";

/// A new invitation and its token (shown once; whoever holds it can accept).
#[derive(Debug)]
pub struct IssuedInvite {
    pub invite: InviteRow,
    pub token: Secret<String>,
}

/// Who is accepting an invitation.
#[derive(Debug)]
pub enum Accepting {
    /// A signed-in user whose email is the invited one.
    User { user_id: String },
    /// Someone not signed in: the invited email's password (existing account), or a new password and
    /// name (a new account is created).
    Anonymous {
        password: Secret<String>,
        name: Option<String>,
    },
}

/// Invites `email` to the principal's tenant with `role` (never owner, never above the inviter's).
pub async fn invite(
    app: &AppState,
    principal: &Principal,
    email: &str,
    role: Role,
) -> Result<IssuedInvite, ApiError> {
    let email = Email::parse(email, "input.email")?;
    if role == Role::Owner {
        return Err(ApiError::forbidden(
            "ownership is not invited: invite as admin, then transfer ownership",
        ));
    }
    grantable(principal, role)?;
    let tenant_id = principal.tenant_id;
    let now = app.clock.now_ms();
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
        expires_at: now + i64::try_from(app.config.identity.invite_ttl.as_millis()).unwrap_or(0),
        accepted_at: None,
        accepted_by: None,
        revoked_at: None,
    };
    let row = invite.clone();
    let already_member = app
        .catalog
        .write(move |tx| {
            if let Some(user) = repo::users::find_by_email_key(tx, &row.email_key)?
                && repo::memberships::get(tx, tenant_id, &user.id)?.is_some()
            {
                return Ok::<_, StorageError>(true);
            }
            repo::invites::revoke_pending_for_email(tx, tenant_id, &row.email_key, now)?;
            repo::invites::insert(tx, &row)?;
            Ok(false)
        })
        .await?;
    if already_member {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "already a member of this tenant",
        ));
    }
    Ok(IssuedInvite {
        invite,
        token: full,
    })
}

/// Accepts an invitation: joins its tenant and starts a session there.
pub async fn accept(app: &AppState, raw: &str, who: Accepting) -> Result<SignedIn, ApiError> {
    let invalid = || ApiError::new(ErrorCode::InvalidToken, "invalid or expired invitation");
    let token = OpaqueToken::parse(raw, INVITE_PREFIX).ok_or_else(invalid)?;
    let now = app.clock.now_ms();
    let id = token.id.clone();
    let invite = app
        .catalog
        .read(move |conn| repo::invites::get(conn, &id).map_err(StorageError::from))
        .await?
        .filter(|i| token.matches(&i.secret_hash))
        .filter(|i| i.accepted_at.is_none() && i.revoked_at.is_none() && i.expires_at > now)
        .ok_or_else(invalid)?;
    let key = invite.email_key.clone();
    let existing = app
        .catalog
        .read(move |conn| repo::users::find_by_email_key(conn, &key).map_err(StorageError::from))
        .await?;
    let (user, new_user) = match (who, existing) {
        (Accepting::User { user_id }, Some(user)) if user.id == user_id => (user, false),
        (Accepting::User { .. }, _) => {
            return Err(ApiError::forbidden(
                "this invitation is for another email address",
            ));
        }
        (Accepting::Anonymous { password, .. }, Some(user)) => {
            let hash = user.password_hash.clone();
            let ok =
                tokio::task::spawn_blocking(move || credentials::verify_password(&password, &hash))
                    .await
                    .map_err(ApiError::internal)?;
            if !ok {
                return Err(ApiError::new(
                    ErrorCode::InvalidCredentials,
                    "wrong email or password",
                ));
            }
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
                    .await
                    .map_err(ApiError::internal)??;
            let user = UserRow {
                id: crate::db::new_id(),
                email: email.display,
                email_key: email.key,
                name,
                password_hash,
                created_at: now,
            };
            (user, true)
        }
    };
    let row = user.clone();
    let (invite_id, tenant_id, role) = (invite.id.clone(), invite.tenant_id, invite.role);
    let joined = app
        .catalog
        .write(move |tx| {
            if new_user {
                repo::users::insert(tx, &row)?;
            }
            if repo::memberships::get(tx, tenant_id, &row.id)?.is_some() {
                return Ok::<_, StorageError>(Err(ApiError::new(
                    ErrorCode::Conflict,
                    "already a member of this tenant",
                )));
            }
            if !repo::invites::mark_accepted(tx, &invite_id, &row.id, now)? {
                return Ok(Err(invalid()));
            }
            repo::memberships::insert(tx, tenant_id, &row.id, role, now)?;
            Ok(Ok(()))
        })
        .await
        .map_err(|err| match err {
            StorageError::Sqlite(e) if repo::is_unique_violation(&e) => ApiError::new(
                ErrorCode::Conflict,
                "an account with this email already exists",
            ),
            other => ApiError::from(other),
        })?;
    joined?;
    start_session(app, user, tenant_id, role).await
}

/// The tenant's members, oldest first.
pub async fn list(
    app: &AppState,
    tenant_id: TenantId,
    after: Option<(i64, String)>,
    limit: usize,
) -> Result<Vec<MemberRow>, ApiError> {
    Ok(app
        .catalog
        .read(move |conn| {
            let after = after.as_ref().map(|(at, id)| (*at, id.as_str()));
            repo::memberships::list_for_tenant(conn, tenant_id, after, limit)
                .map_err(StorageError::from)
        })
        .await?)
}

/// The tenant's pending invitations, newest first.
pub async fn list_invites(
    app: &AppState,
    tenant_id: TenantId,
    after: Option<(i64, String)>,
    limit: usize,
) -> Result<Vec<InviteRow>, ApiError> {
    let now = app.clock.now_ms();
    Ok(app
        .catalog
        .read(move |conn| {
            let after = after.as_ref().map(|(at, id)| (*at, id.as_str()));
            repo::invites::list_pending(conn, tenant_id, now, after, limit)
                .map_err(StorageError::from)
        })
        .await?)
}

/// Withdraws a pending invitation of the principal's tenant.
pub async fn revoke_invite(
    app: &AppState,
    principal: &Principal,
    id: String,
) -> Result<(), ApiError> {
    let tenant_id = principal.tenant_id;
    let now = app.clock.now_ms();
    let revoked = app
        .catalog
        .write(move |tx| repo::invites::revoke(tx, tenant_id, &id, now).map_err(StorageError::from))
        .await?;
    if revoked {
        Ok(())
    } else {
        Err(ApiError::not_found("invitation"))
    }
}

/// Changes a member's role (not to or from owner: that is a transfer).
pub async fn change_role(
    app: &AppState,
    principal: &Principal,
    user_id: &str,
    role: Role,
) -> Result<MemberRow, ApiError> {
    let member = find(app, principal.tenant_id, user_id).await?;
    if member.role == Role::Owner || role == Role::Owner {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "ownership changes only by transferOwnership",
        ));
    }
    grantable(principal, member.role)?;
    grantable(principal, role)?;
    let (tenant_id, id) = (principal.tenant_id, member.user_id.clone());
    app.catalog
        .write(move |tx| {
            repo::memberships::set_role(tx, tenant_id, &id, role).map_err(StorageError::from)
        })
        .await?;
    app.auth.forget_member(tenant_id, user_id);
    find(app, tenant_id, user_id).await
}

/// Removes a member (or lets a member leave) and ends their sessions in this tenant.
pub async fn remove(
    app: &AppState,
    principal: &Principal,
    user_id: &str,
) -> Result<MemberRow, ApiError> {
    let leaving = matches!(&principal.actor, Actor::User { user_id: me } if me == user_id);
    if !leaving {
        principal.require(crate::auth::Permission::ManageMembers)?;
    }
    let member = find(app, principal.tenant_id, user_id).await?;
    if member.role == Role::Owner {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "a tenant always keeps its owner: transfer ownership first",
        ));
    }
    if !leaving {
        grantable(principal, member.role)?;
    }
    let (tenant_id, id, now) = (
        principal.tenant_id,
        member.user_id.clone(),
        app.clock.now_ms(),
    );
    let families = app
        .catalog
        .write(move |tx| {
            repo::memberships::delete(tx, tenant_id, &id)?;
            repo::sessions::revoke_member_families(tx, &id, tenant_id, "membership_ended", now)
                .map_err(StorageError::from)
        })
        .await?;
    app.auth.forget_member(tenant_id, user_id);
    for family in families {
        app.auth.forget_session(&family).await;
    }
    Ok(member)
}

/// Makes another member the owner; the signed-in owner becomes an admin. One transaction.
pub async fn transfer_ownership(
    app: &AppState,
    principal: &Principal,
    user_id: &str,
) -> Result<MemberRow, ApiError> {
    let Actor::User { user_id: me } = &principal.actor else {
        return Err(ApiError::forbidden(
            "only the owner, signed in, can transfer ownership",
        ));
    };
    if principal.role != Role::Owner {
        return Err(ApiError::forbidden("only the owner can transfer ownership"));
    }
    let target = find(app, principal.tenant_id, user_id).await?;
    if target.user_id == *me {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "you already own this tenant",
        ));
    }
    let (tenant_id, me_id, target_id) = (principal.tenant_id, me.clone(), target.user_id.clone());
    app.catalog
        .write(move |tx| {
            // Demote first: the unique index allows one owner at a time.
            repo::memberships::set_role(tx, tenant_id, &me_id, Role::Admin)?;
            repo::memberships::set_role(tx, tenant_id, &target_id, Role::Owner)
                .map_err(StorageError::from)
        })
        .await?;
    app.auth.forget_member(tenant_id, me);
    app.auth.forget_member(tenant_id, user_id);
    find(app, tenant_id, user_id).await
}

async fn find(app: &AppState, tenant_id: TenantId, user_id: &str) -> Result<MemberRow, ApiError> {
    let id = user_id.to_string();
    app.catalog
        .read(move |conn| repo::memberships::get(conn, tenant_id, &id).map_err(StorageError::from))
        .await?
        .ok_or_else(|| ApiError::not_found("member"))
}

fn grantable(principal: &Principal, role: Role) -> Result<(), ApiError> {
    if principal.role.can_grant(role) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "a {} may not grant or manage the {role} role",
            principal.role
        )))
    }
}
