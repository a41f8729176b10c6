//! `auditLog`: the tenant's audit entries, newest first. Owners and admins.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use super::context::ContextExt;
use super::pagination::{KeysetCursor, PageRequest, connection_complexity};
use super::scalars::datetime;
use crate::audit;
use crate::auth::Permission;
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
    ) -> Result<Connection<KeysetCursor, AuditEntry>> {
        let principal = ctx.authorize(Permission::ReadAuditLog)?;
        let page = PageRequest::new(first, after)?;
        let rows = audit::list(
            ctx.app(),
            principal.tenant_id,
            page.after_pair(),
            page.fetch_limit(),
        )
        .await?;
        Ok(page.connection(
            rows,
            |row| KeysetCursor {
                at: row.at,
                id: row.id.clone(),
            },
            AuditEntry,
        ))
    }
}
