//! Managing a tenant's API keys: issue, list, revoke.

use super::{Authenticator, IssuedApiKey, Role, issue_api_key};
use crate::db::{Database, StorageError, TenantId, now_ms};
use crate::error::{ApiError, FieldError};
use crate::repo;
use crate::repo::api_keys::ApiKeyRow;
use crate::tenants::validate_name;

/// What a new key should be.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub name: String,
    pub role: Role,
    /// Unix milliseconds; `None` never expires.
    pub expires_at: Option<i64>,
}

/// Issues a key on behalf of someone holding `granter_role`, recorded as `created_by`.
/// Returns the stored row and the full key, which exists nowhere else after this call.
pub async fn create(
    db: &Database,
    tenant_id: TenantId,
    granter_role: Role,
    created_by: String,
    new: NewApiKey,
) -> Result<IssuedApiKey, ApiError> {
    create_at(db, tenant_id, granter_role, created_by, new, now_ms()).await
}

/// [`create`], with "now" (unix ms) given: the server passes its clock's.
pub async fn create_at(
    db: &Database,
    tenant_id: TenantId,
    granter_role: Role,
    created_by: String,
    new: NewApiKey,
    now: i64,
) -> Result<IssuedApiKey, ApiError> {
    let name = validate_name(&new.name, "name")?;
    if !granter_role.can_grant(new.role) {
        return Err(ApiError::forbidden(format!(
            "a {granter_role} may not create a key with the {} role",
            new.role
        )));
    }
    if new.expires_at.is_some_and(|at| at <= now) {
        return Err(ApiError::invalid_input(vec![FieldError {
            field: "expiresAt".into(),
            code: "IN_THE_PAST",
            message: "must be in the future".into(),
        }]));
    }
    let issued = tokio::task::spawn_blocking(move || {
        issue_api_key(tenant_id, name, new.role, created_by, new.expires_at)
    })
    .await
    .map_err(ApiError::internal)??;
    let row = issued.row.clone();
    db.write(move |tx| repo::api_keys::insert(tx, &row).map_err(StorageError::from))
        .await?;
    Ok(issued)
}

/// A page of keys, newest first.
pub async fn list(
    db: &Database,
    after: Option<(i64, String)>,
    limit: usize,
) -> Result<Vec<ApiKeyRow>, ApiError> {
    Ok(db
        .read(move |conn| {
            let after = after.as_ref().map(|(at, id)| (*at, id.as_str()));
            repo::api_keys::list(conn, after, limit).map_err(StorageError::from)
        })
        .await?)
}

/// Revokes a key; it stops working on this instance at once.
pub async fn revoke(
    db: &Database,
    auth: &Authenticator,
    tenant_id: TenantId,
    key_id: String,
) -> Result<ApiKeyRow, ApiError> {
    let id = key_id.clone();
    let revoked = db
        .write(move |tx| repo::api_keys::revoke(tx, &id, now_ms()).map_err(StorageError::from))
        .await?
        .ok_or_else(|| ApiError::not_found("API key"))?;
    auth.forget_api_key(tenant_id, &key_id);
    Ok(revoked)
}
