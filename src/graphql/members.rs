//! Members and invitations: list, invite, accept, change role, remove, transfer ownership.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::auth::{AuthPayload, identity_budget, note_session, required};
use super::context::{ContextExt, RequestMeta, SessionId};
use super::pagination::{KeysetCursor, PageRequest, connection_complexity};
use crate::auth::{Actor, Permission};
use crate::clock::datetime;
use crate::error::ApiResult;
use crate::identity::members::Accepting;
use crate::model::Role;
use crate::redact::Secret;
use crate::repo;
use crate::repo::invites::InviteRow;
use crate::repo::memberships::MemberRow;

/// A user's membership of the tenant.
pub struct Member(pub MemberRow);

#[Object]
impl Member {
    /// The user's id.
    async fn id(&self) -> ID {
        ID(self.0.user_id.clone())
    }

    async fn email(&self) -> &str {
        &self.0.email
    }

    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }

    async fn role(&self) -> Role {
        self.0.role
    }

    async fn joined_at(&self) -> DateTime<Utc> {
        datetime(self.0.created_at)
    }
}

/// A pending invitation.
pub struct Invite(pub InviteRow);

#[Object]
impl Invite {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    async fn email(&self) -> &str {
        &self.0.email
    }

    async fn role(&self) -> Role {
        self.0.role
    }

    /// Who invited: `user:<id>` or `api_key:<id>`.
    async fn invited_by(&self) -> &str {
        &self.0.invited_by
    }

    async fn created_at(&self) -> DateTime<Utc> {
        datetime(self.0.created_at)
    }

    async fn expires_at(&self) -> DateTime<Utc> {
        datetime(self.0.expires_at)
    }
}

#[derive(Default)]
pub struct MemberQuery;

#[Object]
impl MemberQuery {
    /// The tenant's members, oldest first.
    #[graphql(complexity = "connection_complexity(child_complexity, first)")]
    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<KeysetCursor, Member>> {
        let principal = ctx.authorize(Permission::ReadMembers)?;
        let tenant_id = principal.tenant_id;
        PageRequest::new(first, after)?
            .load(
                &ctx.app().catalog,
                move |conn, after, limit| {
                    let after = after.as_ref().map(KeysetCursor::pair);
                    repo::memberships::list_for_tenant(conn, tenant_id, after, limit)
                },
                |row| KeysetCursor {
                    at: row.created_at,
                    id: row.user_id.clone(),
                },
                Member,
            )
            .await
    }

    /// The tenant's pending invitations, newest first.
    #[graphql(complexity = "connection_complexity(child_complexity, first)")]
    async fn invites(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<KeysetCursor, Invite>> {
        let principal = ctx.authorize(Permission::ReadMembers)?;
        let (tenant_id, now) = (principal.tenant_id, ctx.app().clock.now_ms());
        PageRequest::new(first, after)?
            .load(
                &ctx.app().catalog,
                move |conn, after, limit| {
                    let after = after.as_ref().map(KeysetCursor::pair);
                    repo::invites::list_pending(conn, tenant_id, now, after, limit)
                },
                |row| KeysetCursor {
                    at: row.created_at,
                    id: row.id.clone(),
                },
                Invite,
            )
            .await
    }
}

#[derive(InputObject)]
pub struct InviteMemberInput {
    pub email: String,
    /// Any role but owner, never above the inviter's.
    pub role: Role,
}

/// A new invitation, emailed to the invitee when the server sends email. `token` and `link` are shown once:
/// when `emailed` is false, hand the link to the invitee (it opens the portal's accept page, which passes the
/// token to `acceptInvite`).
#[derive(SimpleObject)]
pub struct InviteMemberPayload {
    pub invite: Invite,
    pub token: String,
    /// The portal page that accepts the invitation.
    pub link: String,
    /// Whether the invitation was emailed (false: this server sends no email).
    pub emailed: bool,
}

#[derive(InputObject)]
pub struct AcceptInviteInput {
    pub token: String,
    /// When not signed in: the password of your existing account (the invited email), or a new one
    /// (an account is created).
    pub password: Option<String>,
    /// Your name, for a new account.
    pub name: Option<String>,
}

#[derive(InputObject)]
pub struct ChangeMemberRoleInput {
    pub user_id: ID,
    /// Any role but owner (ownership moves with `transferOwnership`).
    pub role: Role,
}

#[derive(Default)]
pub struct MemberMutation;

#[Object]
impl MemberMutation {
    /// Invites someone by email (the invitation is mailed to them). Owners and admins.
    async fn invite_member(
        &self,
        ctx: &Context<'_>,
        input: InviteMemberInput,
    ) -> ApiResult<InviteMemberPayload> {
        let principal = ctx.authorize(Permission::ManageMembers)?;
        let issued = ctx
            .app()
            .identity
            .invite(principal, &input.email, input.role, &ctx.public_origin())
            .await?;
        Ok(InviteMemberPayload {
            invite: Invite(issued.invite),
            token: issued.token.into_inner(),
            link: issued.link.into_inner(),
            emailed: issued.emailed,
        })
    }

    /// Withdraws a pending invitation. Owners and admins.
    async fn revoke_invite(&self, ctx: &Context<'_>, id: ID) -> ApiResult<bool> {
        let principal = ctx.authorize(Permission::ManageMembers)?;
        ctx.app().identity.revoke_invite(principal, id.0).await?;
        Ok(true)
    }

    /// Joins the invitation's tenant, signed in (the invited email's account) or not (with a password),
    /// and starts a session there. Wrong passwords count toward the sign-in lock-outs and, after a few,
    /// lock the invitation (`INVITE_LOCKED`).
    async fn accept_invite(
        &self,
        ctx: &Context<'_>,
        input: AcceptInviteInput,
    ) -> ApiResult<AuthPayload> {
        identity_budget(ctx, false)?;
        let who = match ctx.principal().ok().map(|p| &p.actor) {
            Some(Actor::User { user_id }) => Accepting::User {
                user_id: user_id.clone(),
                session_id: ctx.data_opt::<SessionId>().map(|s| s.0.clone()),
            },
            _ => Accepting::Anonymous {
                password: Secret::new(input.password.ok_or_else(|| required("input.password"))?),
                name: input.name,
            },
        };
        let ip = ctx.data_opt::<RequestMeta>().and_then(|m| m.ip.as_deref());
        let signed_in = ctx.app().identity.accept(&input.token, who, ip).await?;
        note_session(ctx, &signed_in, None);
        Ok(AuthPayload::deliver(ctx, signed_in))
    }

    /// Changes a member's role. Owners and admins, never above their own role.
    async fn change_member_role(
        &self,
        ctx: &Context<'_>,
        input: ChangeMemberRoleInput,
    ) -> ApiResult<Member> {
        let principal = ctx.authorize(Permission::ManageMembers)?;
        let member = ctx
            .app()
            .identity
            .change_role(principal, &input.user_id, input.role)
            .await?;
        Ok(Member(member))
    }

    /// Removes a member (owners and admins), or leaves the tenant (any member but the owner). Their
    /// sessions in the tenant end, and the API keys they created (and keys those keys created) are
    /// revoked.
    async fn remove_member(&self, ctx: &Context<'_>, user_id: ID) -> ApiResult<Member> {
        let principal = ctx.principal()?;
        Ok(Member(
            ctx.app()
                .identity
                .remove_member(principal, &user_id)
                .await?,
        ))
    }

    /// Makes another member the owner; you become an admin. The signed-in owner only.
    async fn transfer_ownership(&self, ctx: &Context<'_>, user_id: ID) -> ApiResult<Member> {
        let principal = ctx.authorize(Permission::TransferOwnership)?;
        Ok(Member(
            ctx.app()
                .identity
                .transfer_ownership(principal, &user_id)
                .await?,
        ))
    }
}
