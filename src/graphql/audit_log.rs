//! `auditLog`: the tenant's audit entries, newest first. Owners and admins.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use super::context::{ContextExt, tenant};
use super::pagination::{KeysetCursor, PageRequest, connection_complexity};
use crate::auth::Permission;
use crate::clock::datetime;
use crate::error::ApiResult;
use crate::repo;
use crate::repo::audit::AuditRow;

/// One recorded action.
pub struct AuditEntry(AuditRow);

#[Object]
impl AuditEntry {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    async fn at(&self) -> DateTime<Utc> {
        datetime(self.0.at)
    }

    /// `user:<id>`, `api_key:<id>` or `anonymous`.
    async fn actor(&self) -> &str {
        &self.0.actor
    }

    /// The mutation's name, or `signIn`, `signInFailed`, `signOut`.
    async fn action(&self) -> &str {
        &self.0.action
    }

    /// The id of what was acted on, if any.
    async fn target(&self) -> Option<&str> {
        self.0.target.as_deref()
    }

    /// `success` or `failure`.
    async fn outcome(&self) -> &str {
        &self.0.outcome
    }

    /// The stable error code of a failure.
    async fn error_code(&self) -> Option<&str> {
        self.0.error_code.as_deref()
    }

    async fn ip(&self) -> Option<&str> {
        self.0.ip.as_deref()
    }

    async fn user_agent(&self) -> Option<&str> {
        self.0.user_agent.as_deref()
    }
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// Every mutation, sign-in, sign-out and failed sign-in in this tenant, newest first.
    #[graphql(complexity = "connection_complexity(child_complexity, first)")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<KeysetCursor, AuditEntry>> {
        let principal = ctx.authorize(Permission::ReadAuditLog)?;
        let tenant = tenant(ctx, principal).await?;
        PageRequest::new(first, after)?
            .load(
                &tenant.db,
                |conn, after, limit| {
                    repo::audit::list(conn, after.as_ref().map(KeysetCursor::pair), limit)
                },
                |row| KeysetCursor {
                    at: row.at,
                    id: row.id.clone(),
                },
                AuditEntry,
            )
            .await
    }
}
