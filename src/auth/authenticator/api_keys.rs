//! API keys: verifying one here (an argon2id check, its verdict cached by the key's SHA-256), or asking the
//! tenant's home region to verify it.

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{Authenticator, Verified};
use crate::auth::{Actor, ApiKeyToken, AuthError, Principal};
use crate::db::{StorageError, TenantId};
use crate::edge::internal::Internal;
use crate::model::Role;
use crate::repo;

/// An API key as its tenant's home region verified it (the body of `/internal/tenants/{id}/verify-key`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct KeyVerdict {
    pub key_id: String,
    pub role: String,
    pub expires_at: Option<i64>,
}

/// What `/internal/tenants/{id}/verify-key` is asked.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct KeyToVerify {
    pub key: String,
}

/// A key that verified, and until when that verdict may be reused.
#[derive(Debug, Clone)]
pub(super) struct VerifiedKey {
    pub(super) principal: Principal,
    expires_at: Option<i64>,
}

impl Authenticator {
    pub(super) async fn authenticate_api_key(
        &self,
        credential: &str,
    ) -> Result<Verified, AuthError> {
        let fingerprint: [u8; 32] = Sha256::digest(credential.as_bytes()).into();
        if let Some(hit) = self.verified.get(&fingerprint).await {
            metrics::counter!("voxedge_cache_hits_total", "cache" => "api_key").increment(1);
            self.check_key_expiry(hit.expires_at)?;
            return Ok(Verified {
                principal: hit.principal,
                expires_at_ms: hit.expires_at,
                session_id: None,
            });
        }
        metrics::counter!("voxedge_cache_misses_total", "cache" => "api_key").increment(1);
        let token = ApiKeyToken::parse(credential)?;
        let verified = self.verify_api_key(token, credential, true).await?;
        let result = Verified {
            principal: verified.principal.clone(),
            expires_at_ms: verified.expires_at,
            session_id: None,
        };
        self.verified.insert(fingerprint, verified).await;
        Ok(result)
    }

    /// Checks an API key of a tenant that lives here (for another region asking); never asks elsewhere.
    pub async fn verify_key_here(&self, credential: &str) -> Result<KeyVerdict, AuthError> {
        let token = ApiKeyToken::parse(credential.trim())?;
        let verified = self.verify_api_key(token, credential, false).await?;
        let Actor::ApiKey { key_id } = verified.principal.actor else {
            return Err(AuthError::internal(
                "an API key verified as another kind of actor",
            ));
        };
        Ok(KeyVerdict {
            key_id,
            role: verified.principal.role.to_string(),
            expires_at: verified.expires_at,
        })
    }

    async fn verify_api_key(
        &self,
        token: ApiKeyToken,
        credential: &str,
        may_ask_home: bool,
    ) -> Result<VerifiedKey, AuthError> {
        let token = Arc::new(token);
        let db = match self.tenants.get(token.tenant_id).await {
            Ok(db) => db,
            Err(StorageError::Shared(err)) if matches!(*err, StorageError::TenantNotFound(_)) => {
                let Some(remote) = self.remote.as_ref().filter(|_| may_ask_home) else {
                    return Err(self.no_such_key(token).await);
                };
                // Only tenants the catalog knows are asked about (not any well-formed key someone makes up).
                let tenant_id = token.tenant_id;
                let known = self
                    .catalog
                    .read(move |conn| repo::tenants::get(conn, tenant_id))
                    .await?
                    .is_some();
                return match known {
                    true => ask_home(remote, tenant_id, credential).await,
                    false => Err(self.no_such_key(token).await),
                };
            }
            Err(err) => return Err(err.into()),
        };
        let key_id = token.key_id.clone();
        let row = db
            .read(move |conn| repo::api_keys::get(conn, &key_id))
            .await?;
        let Some(row) = row else {
            return Err(self.no_such_key(token).await);
        };
        let hash = row.secret_hash.clone();
        let check = token.clone();
        // One SHA-256 is microseconds; only an old argon2id hash is worth a trip to the blocking pool.
        let matches = if ApiKeyToken::needs_rehash(&hash) {
            tokio::task::spawn_blocking(move || check.secret_matches(&hash)).await?
        } else {
            check.secret_matches(&hash)
        };
        // Only a holder of the right secret learns that a key was revoked or expired.
        if !matches {
            return Err(AuthError::InvalidApiKey);
        }
        if row.revoked_at.is_some() {
            return Err(AuthError::ApiKeyRevoked);
        }
        self.check_key_expiry(row.expires_at)?;
        // Recorded once per cache period (a verified key is not looked up again until it expires). A key issued
        // with the old, slow hash gets the current one, so its next cold verification is fast.
        let key_id = row.id.clone();
        let now = self.clock.now_ms();
        let rehash = ApiKeyToken::needs_rehash(&row.secret_hash).then(|| token.hash());
        let touched = db
            .write(move |tx| {
                repo::api_keys::touch_last_used(tx, &key_id, now)?;
                match rehash {
                    Some(hash) => repo::api_keys::set_secret_hash(tx, &key_id, &hash),
                    None => Ok(()),
                }
            })
            .await;
        if let Err(err) = touched {
            tracing::warn!(error = %err, "could not record API key use");
        }
        Ok(VerifiedKey {
            principal: Principal {
                tenant_id: token.tenant_id,
                role: row.role,
                actor: Actor::ApiKey { key_id: row.id },
                unverified_since: None,
            },
            expires_at: row.expires_at,
        })
    }

    /// Refuses a key whose tenant or id does not exist only after the same hashing work a wrong secret
    /// costs, so timing does not reveal which key ids exist.
    async fn no_such_key(&self, token: Arc<ApiKeyToken>) -> AuthError {
        token.verify_against_nothing();
        AuthError::InvalidApiKey
    }

    fn check_key_expiry(&self, expires_at: Option<i64>) -> Result<(), AuthError> {
        match expires_at {
            Some(at) if at <= self.clock.now_ms() => Err(AuthError::ApiKeyExpired),
            _ => Ok(()),
        }
    }
}

/// Asks the tenant's home region to verify one of its API keys.
async fn ask_home(
    remote: &Internal,
    tenant: TenantId,
    credential: &str,
) -> Result<VerifiedKey, AuthError> {
    let path = format!("/internal/tenants/{tenant}/verify-key");
    let ask = KeyToVerify {
        key: credential.to_string(),
    };
    let verdict: KeyVerdict = remote
        .post(None, &path, &ask, Duration::from_secs(10))
        .await?;
    let role: Role = verdict.role.parse().map_err(|_| {
        AuthError::internal(format!(
            "unknown role {:?} from the home region",
            verdict.role
        ))
    })?;
    Ok(VerifiedKey {
        principal: Principal {
            tenant_id: tenant,
            role,
            actor: Actor::ApiKey {
                key_id: verdict.key_id,
            },
            unverified_since: None,
        },
        expires_at: verdict.expires_at,
    })
}
