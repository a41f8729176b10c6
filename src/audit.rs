//! The tenant audit log: who did what, from where, and whether it worked.
//!
//! Every GraphQL mutation is recorded automatically by [`crate::graphql::audit`]; sign-in, sign-out
//! and failed sign-ins are recorded by the identity resolvers through the same [`record`]. Failed
//! sign-ins for an email that has no account belong to no tenant: they are logged (email redacted,
//! with the client IP) and counted in `voxedge_sign_in_failures_total`, never stored.

use crate::app::AppState;
use crate::db::{StorageError, TenantId};
use crate::error::ApiError;
use crate::repo;
use crate::repo::audit::AuditRow;

/// What happened, before it is stamped with an id and a time.
#[derive(Debug, Clone)]
pub struct Event {
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    /// `None` on success, else the error's stable code.
    pub error_code: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Appends `event` to `tenant_id`'s audit log.
pub async fn record(app: &AppState, tenant_id: TenantId, event: Event) -> Result<(), ApiError> {
    let row = AuditRow {
        id: crate::db::new_id(),
        at: app.clock.now_ms(),
        actor: event.actor,
        action: event.action,
        target: event.target,
        outcome: if event.error_code.is_some() {
            "failure"
        } else {
            "success"
        }
        .to_string(),
        error_code: event.error_code,
        ip: event.ip,
        user_agent: event.user_agent,
    };
    let db = app.tenant_db(tenant_id).await?;
    db.write(move |tx| repo::audit::insert(tx, &row).map_err(StorageError::from))
        .await?;
    Ok(())
}

/// A page of `tenant_id`'s audit log, newest first.
pub async fn list(
    app: &AppState,
    tenant_id: TenantId,
    after: Option<(i64, String)>,
    limit: usize,
) -> Result<Vec<AuditRow>, ApiError> {
    let db = app.tenant_db(tenant_id).await?;
    Ok(db
        .read(move |conn| {
            let after = after.as_ref().map(|(at, id)| (*at, id.as_str()));
            repo::audit::list(conn, after, limit).map_err(StorageError::from)
        })
        .await?)
}
