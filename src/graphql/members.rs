//! Members and invitations: list, invite, accept, change role, remove, transfer ownership.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::auth::{AuthPayload, note_session, required};
use super::context::ContextExt;
use super::pagination::{KeysetCursor, PageRequest, connection_complexity};
use super::scalars::datetime;
use crate::auth::{Actor, Permission, Role};
use crate::identity::members::{self, Accepting};
use crate::redact::Secret;
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
    ) -> Result<Connection<KeysetCursor, Member>> {
        let principal = ctx.authorize(Permission::ReadMembers)?;
        let page = PageRequest::new(first, after)?;
        let rows = members::list(
            ctx.app(),
            principal.tenant_id,
            page.after_pair(),
            page.fetch_limit(),
        )
        .await?;
        Ok(page.connection(
            rows,
            |row| KeysetCursor {
                at: row.created_at,
                id: row.user_id.clone(),
            },
            Member,
        ))
    }

    /// The tenant's pending invitations, newest first.
    #[graphql(complexity = "connection_complexity(child_complexity, first)")]
    async fn invites(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<KeysetCursor, Invite>> {
        let principal = ctx.authorize(Permission::ReadMembers)?;
        let page = PageRequest::new(first, after)?;
        let rows = members::list_invites(
            ctx.app(),
            principal.tenant_id,
            page.after_pair(),
            page.fetch_limit(),
        )
        .await?;
        Ok(page.connection(
            rows,
            |row| KeysetCursor {
                at: row.created_at,
                id: row.id.clone(),
            },
            Invite,
        ))
    }
}

#[derive(InputObject)]
pub struct InviteMemberInput {
    pub email: String,
    /// Any role but owner, never above the inviter's.
    pub role: Role,
}

/// A new invitation. `token` is shown once: deliver it to the invitee, who passes it to `acceptInvite`.
#[derive(SimpleObject)]
pub struct InviteMemberPayload {
    pub invite: Invite,
    pub token: String,
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
    /// Invites someone by email. Owners and admins.
    async fn invite_member(
        &self,
        ctx: &Context<'_>,
        input: InviteMemberInput,
    ) -> Result<InviteMemberPayload> {
        let principal = ctx.authorize(Permission::ManageMembers)?;
        let issued = members::invite(ctx.app(), principal, &input.email, input.role).await?;
        Ok(InviteMemberPayload {
            invite: Invite(issued.invite),
            token: issued.token.into_inner(),
        })
    }

    /// Withdraws a pending invitation. Owners and admins.
    async fn revoke_invite(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let principal = ctx.authorize(Permission::ManageMembers)?;
        members::revoke_invite(ctx.app(), principal, id.0).await?;
        Ok(true)
    }

    /// Joins the invitation's tenant, signed in (the invited email's account) or not (with a password),
    /// and starts a session there.
    async fn accept_invite(
        &self,
        ctx: &Context<'_>,
        input: AcceptInviteInput,
    ) -> Result<AuthPayload> {
        let who = match ctx.principal().ok().map(|p| &p.actor) {
            Some(Actor::User { user_id }) => Accepting::User {
                user_id: user_id.clone(),
            },
            _ => Accepting::Anonymous {
                password: Secret::new(input.password.ok_or_else(|| required("input.password"))?),
                name: input.name,
            },
        };
        let signed_in = members::accept(ctx.app(), &input.token, who).await?;
        note_session(ctx, &signed_in, None);
        Ok(AuthPayload(signed_in))
    }

    /// Changes a member's role. Owners and admins, never above their own role.
    async fn change_member_role(
        &self,
        ctx: &Context<'_>,
        input: ChangeMemberRoleInput,
    ) -> Result<Member> {
        let principal = ctx.authorize(Permission::ManageMembers)?;
        let member = members::change_role(ctx.app(), principal, &input.user_id, input.role).await?;
        Ok(Member(member))
    }

    /// Removes a member (owners and admins), or leaves the tenant (any member but the owner).
    async fn remove_member(&self, ctx: &Context<'_>, user_id: ID) -> Result<Member> {
        let principal = ctx.principal()?;
        Ok(Member(
            members::remove(ctx.app(), principal, &user_id).await?,
        ))
    }

    /// Makes another member the owner; you become an admin. The signed-in owner only.
    async fn transfer_ownership(&self, ctx: &Context<'_>, user_id: ID) -> Result<Member> {
        let principal = ctx.authorize(Permission::TransferOwnership)?;
        Ok(Member(
            members::transfer_ownership(ctx.app(), principal, &user_id).await?,
        ))
    }
}
