//! The tenant audit log: who did what, from where, and whether it worked.
//!
//! Every GraphQL mutation is recorded automatically by [`crate::graphql::audit`]; sign-in, sign-out
//! and failed sign-ins are recorded by the identity resolvers through the same [`record`]. Failed
//! sign-ins for an email that has no account belong to no tenant: they are logged (email redacted,
//! with the client IP) and counted in `voxedge_sign_in_failures_total`, never stored.

use crate::db::{Database, StorageError};
use crate::repo;
use crate::repo::audit::AuditRow;

/// What happened, before it is stamped with an id and a time.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Event {
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    /// `None` on success, else the error's stable code.
    pub error_code: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Appends `event`, which happened `at` (unix ms), to the tenant's audit log.
pub async fn record(db: &Database, at: i64, event: Event) -> Result<(), StorageError> {
    let row = AuditRow {
        id: crate::db::new_id(),
        at,
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
    db.write(move |tx| repo::audit::insert(tx, &row)).await
}
