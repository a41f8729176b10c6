//! Turns presented credentials into a [`Principal`].
//!
//! Verifying an API key costs an argon2id hash, so successful verifications are cached (keyed by the
//! SHA-256 of the presented key, never the key itself) for a short time-to-live. Revoking a key removes
//! its cache entries at once on this instance; other instances notice within the TTL.

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;
use sha2::{Digest, Sha256};

use super::{Actor, ApiKeyToken, Principal};
use crate::db::{StorageError, TenantId, TenantStore, now_ms};
use crate::error::{ApiError, ErrorCode};
use crate::repo;

/// A key that verified, and until when that verdict may be reused.
#[derive(Debug, Clone)]
struct VerifiedKey {
    principal: Principal,
    expires_at: Option<i64>,
}

/// Resolves credentials against the tenant databases, through a cache.
#[derive(Clone)]
pub struct Authenticator {
    tenants: TenantStore,
    verified: Cache<[u8; 32], VerifiedKey>,
}

impl Authenticator {
    pub fn new(tenants: TenantStore, cache_ttl: Duration, cache_capacity: u64) -> Self {
        let verified = Cache::builder()
            .max_capacity(cache_capacity)
            .time_to_live(cache_ttl)
            .support_invalidation_closures()
            .build();
        Self { tenants, verified }
    }

    /// Resolves an HTTP `Authorization` header value (`Bearer <credential>`).
    pub async fn authenticate_header(&self, value: &str) -> Result<Principal, ApiError> {
        let credential = bearer_credential(value)?;
        self.authenticate(credential).await
    }

    /// Resolves a bare credential (an API key).
    pub async fn authenticate(&self, credential: &str) -> Result<Principal, ApiError> {
        let fingerprint: [u8; 32] = Sha256::digest(credential.as_bytes()).into();
        if let Some(hit) = self.verified.get(&fingerprint).await {
            metrics::counter!("voxedge_cache_hits_total", "cache" => "api_key").increment(1);
            check_expiry(hit.expires_at)?;
            return Ok(hit.principal);
        }
        metrics::counter!("voxedge_cache_misses_total", "cache" => "api_key").increment(1);
        let token = ApiKeyToken::parse(credential)?;
        let verified = self.verify_api_key(token).await?;
        let principal = verified.principal.clone();
        self.verified.insert(fingerprint, verified).await;
        Ok(principal)
    }

    async fn verify_api_key(&self, token: ApiKeyToken) -> Result<VerifiedKey, ApiError> {
        let invalid = || ApiError::new(ErrorCode::InvalidApiKey, "invalid API key");
        let db = self
            .tenants
            .get(token.tenant_id)
            .await
            .map_err(|err| match err.as_ref() {
                StorageError::TenantNotFound(_) => invalid(),
                _ => ApiError::from(err),
            })?;
        let key_id = token.key_id.clone();
        let row = db
            .read(move |conn| repo::api_keys::get(conn, &key_id).map_err(StorageError::from))
            .await?
            .ok_or_else(invalid)?;
        let hash = row.secret_hash.clone();
        let token = Arc::new(token);
        let check = token.clone();
        let matches = tokio::task::spawn_blocking(move || check.secret_matches(&hash))
            .await
            .map_err(ApiError::internal)?;
        // Only a holder of the right secret learns that a key was revoked or expired.
        if !matches {
            return Err(invalid());
        }
        if row.revoked_at.is_some() {
            return Err(ApiError::new(
                ErrorCode::ApiKeyRevoked,
                "this API key was revoked",
            ));
        }
        check_expiry(row.expires_at)?;
        let key_id = row.id.clone();
        tokio::spawn(async move {
            let touched = db
                .write(move |tx| {
                    repo::api_keys::touch_last_used(tx, &key_id, now_ms())
                        .map_err(StorageError::from)
                })
                .await;
            if let Err(err) = touched {
                tracing::warn!(error = %err, "could not record API key use");
            }
        });
        Ok(VerifiedKey {
            principal: Principal {
                tenant_id: token.tenant_id,
                role: row.role,
                actor: Actor::ApiKey { key_id: row.id },
            },
            expires_at: row.expires_at,
        })
    }

    /// Makes a revoked key stop working on this instance immediately.
    pub fn forget_api_key(&self, tenant_id: TenantId, key_id: &str) {
        let key_id = key_id.to_owned();
        let result = self.verified.invalidate_entries_if(move |_, verified| {
            verified.principal.tenant_id == tenant_id
                && matches!(&verified.principal.actor, Actor::ApiKey { key_id: id } if *id == key_id)
        });
        if let Err(err) = result {
            // Unreachable while the cache is built with invalidation closures; fail safe by clearing all.
            tracing::error!(error = %err, "invalidation closure refused; clearing the key cache");
            self.verified.invalidate_all();
        }
    }
}

/// Extracts the credential from `Bearer <credential>` (the scheme is case-insensitive, per RFC 9110).
fn bearer_credential(value: &str) -> Result<&str, ApiError> {
    let malformed = || {
        ApiError::new(
            ErrorCode::MalformedCredentials,
            "expected `Authorization: Bearer <key>`",
        )
    };
    let (scheme, credential) = value.trim().split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") || credential.trim().is_empty() {
        return Err(malformed());
    }
    Ok(credential.trim())
}

fn check_expiry(expires_at: Option<i64>) -> Result<(), ApiError> {
    match expires_at {
        Some(at) if at <= now_ms() => Err(ApiError::new(
            ErrorCode::ApiKeyExpired,
            "this API key has expired",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_required_and_case_insensitive() {
        assert_eq!(bearer_credential("Bearer abc").unwrap(), "abc");
        assert_eq!(bearer_credential("bearer   abc ").unwrap(), "abc");
        for bad in ["abc", "Basic abc", "Bearer", "Bearer  ", ""] {
            assert_eq!(
                bearer_credential(bad).unwrap_err().code,
                ErrorCode::MalformedCredentials,
                "{bad:?}"
            );
        }
    }
}
