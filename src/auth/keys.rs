//! Managing a tenant's API keys: issue, list, revoke.

use super::{AuthError, Authenticator, IssuedApiKey, issue_api_key};
use crate::clock::now_ms;
use crate::db::{Database, TenantId};
use crate::error::{ErrorCode, InvalidInput};
use crate::model::Role;
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
) -> Result<IssuedApiKey, AuthError> {
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
) -> Result<IssuedApiKey, AuthError> {
    let name = validate_name(&new.name, "name")?;
    if !granter_role.can_grant(new.role) {
        return Err(AuthError::Forbidden(format!(
            "a {granter_role} may not create a key with the {} role",
            new.role
        )));
    }
    if new.expires_at.is_some_and(|at| at <= now) {
        return Err(InvalidInput::field(
            "expiresAt",
            ErrorCode::InThePast,
            "must be in the future",
        )
        .into());
    }
    let issued = tokio::task::spawn_blocking(move || {
        issue_api_key(tenant_id, name, new.role, created_by, new.expires_at)
    })
    .await??;
    let row = issued.row.clone();
    db.write(move |tx| repo::api_keys::insert(tx, &row)).await?;
    Ok(issued)
}

/// Revokes a key on behalf of someone holding `granter_role`, who may only revoke keys with a role they
/// could grant (a developer cannot cut off the owner's integration). It stops working on this instance
/// at once, open WebSockets included.
pub async fn revoke(
    db: &Database,
    auth: &Authenticator,
    tenant_id: TenantId,
    granter_role: Role,
    key_id: String,
) -> Result<ApiKeyRow, AuthError> {
    let id = key_id.clone();
    let revoked = db
        .write(move |tx| {
            let key = repo::api_keys::get(tx, &id)?.ok_or(AuthError::KeyNotFound)?;
            if !granter_role.can_grant(key.role) {
                return Err(AuthError::Forbidden(format!(
                    "a {granter_role} may not revoke a key with the {} role",
                    key.role
                )));
            }
            repo::api_keys::revoke(tx, &id, now_ms())?.ok_or(AuthError::KeyNotFound)
        })
        .await?;
    auth.forget_api_key(tenant_id, &key_id);
    Ok(revoked)
}

/// Revokes the keys `creator` (an actor label, `user:<id>`) created and the keys those created, at any
/// depth; they stop working on this instance at once. Returns their ids.
pub async fn revoke_created_by(
    db: &Database,
    auth: &Authenticator,
    tenant_id: TenantId,
    creator: String,
    now: i64,
) -> Result<Vec<String>, AuthError> {
    let revoked = db
        .write(move |tx| repo::api_keys::revoke_created_by(tx, &creator, now))
        .await?;
    for key_id in &revoked {
        auth.forget_api_key(tenant_id, key_id);
    }
    Ok(revoked)
}
