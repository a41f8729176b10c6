//! Turns presented credentials into a [`Principal`].
//!
//! The credential's shape says what it is: `vxk_…` an API key, `vxs_…` a live-call session token
//! (refused here: only the live-call WebSocket takes it, through [`Authenticator::verify_session_token`]),
//! and `header.payload.signature` a portal user's access token (JWT).
//!
//! Verifying an API key costs an argon2id hash, and an access token needs its membership and session
//! looked up, so verdicts are cached for a short time-to-live (API keys keyed by the SHA-256 of the
//! presented key, never the key itself; access tokens by their session). Revoking a key, signing out,
//! or changing a membership removes the affected entries at once on this instance, and is announced as a
//! [`Revocation`] to whatever holds a credential open (GraphQL WebSockets); other instances notice within
//! the TTL.
//!
//! An unknown key id (or tenant) costs the same argon2id verification as a wrong secret, so response
//! times do not tell which keys exist.
//!
//! Outside the primary region the catalog is a replica a second or two behind: a session made moments ago may
//! not be in it yet, so a token newer than the replica waits (briefly) for it instead of being refused. An API
//! key of a tenant homed in another region (a catalog mutation replayed to the primary) is checked by that
//! region, over a signed internal request.

mod api_keys;

pub use api_keys::{KeyToVerify, KeyVerdict};

use std::time::Duration;

use moka::future::Cache;
use tokio::sync::broadcast;

use api_keys::VerifiedKey;

use super::tokens::{SESSION_TOKEN_PREFIX, SessionGrant, TokenSigner};
use super::{Actor, AuthError, Principal};
use crate::clock::Clock;
use crate::db::{Database, StorageError, TenantId, TenantStore};
use crate::edge::Freshness;
use crate::edge::internal::Internal;
use crate::repo;

/// How long a credential newer than the catalog replica waits for it.
const REPLICA_WAIT: Duration = Duration::from_secs(5);

/// A credential that checked out: who it is, and what ends it by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub principal: Principal,
    /// When the credential stops working on its own (unix ms): an access token's or a key's expiry.
    pub expires_at_ms: Option<i64>,
    /// The sign-in session (token family) of an access token.
    pub session_id: Option<String>,
}

/// A change that may end credentials already in use. Holders of a long-lived connection listen for these
/// ([`Authenticator::revocations`]) and check their credential again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// An API key was revoked.
    ApiKey { tenant_id: TenantId, key_id: String },
    /// A sign-in session ended (sign-out, reuse of a refresh token, a parent session ended).
    Session { family_id: String },
    /// A member's role changed or their membership ended.
    Member {
        tenant_id: TenantId,
        user_id: String,
    },
}

/// Revocations buffered for a slow listener before it is told it lagged (and must re-check anyway).
const REVOCATION_BUFFER: usize = 1024;

/// Resolves credentials against the catalog and tenant databases, through caches.
#[derive(Clone)]
pub struct Authenticator {
    tenants: TenantStore,
    catalog: Database,
    signer: TokenSigner,
    clock: Clock,
    verified: Cache<[u8; 32], VerifiedKey>,
    /// Sign-in session (token family id) → the member it signs in, while the session is live.
    sessions: Cache<String, Principal>,
    /// How fresh the catalog replica is (always fresh on the primary).
    freshness: Freshness,
    /// Asks a tenant's home region about its API keys; `None` on a single-region server.
    remote: Option<Internal>,
    revocations: broadcast::Sender<Revocation>,
}

impl Authenticator {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        tenants: TenantStore,
        catalog: Database,
        signer: TokenSigner,
        clock: Clock,
        cache_ttl: Duration,
        cache_capacity: u64,
        freshness: Freshness,
        remote: Option<Internal>,
    ) -> Self {
        Self {
            tenants,
            catalog,
            signer,
            clock,
            freshness,
            remote,
            verified: Cache::builder()
                .max_capacity(cache_capacity)
                .time_to_live(cache_ttl)
                .support_invalidation_closures()
                .build(),
            sessions: Cache::builder()
                .max_capacity(cache_capacity)
                .time_to_live(cache_ttl)
                .support_invalidation_closures()
                .build(),
            revocations: broadcast::Sender::new(REVOCATION_BUFFER),
        }
    }

    /// Revocations from now on: a connection holding a credential open checks it again on each.
    pub fn revocations(&self) -> broadcast::Receiver<Revocation> {
        self.revocations.subscribe()
    }

    fn announce(&self, revocation: Revocation) {
        // No listener is fine: nothing is holding a credential open.
        let _ = self.revocations.send(revocation);
    }

    /// The token signer (sign-in and session-token minting use it).
    pub fn signer(&self) -> &TokenSigner {
        &self.signer
    }

    /// Resolves an HTTP `Authorization` header value (`Bearer <credential>`).
    pub async fn authenticate_header(&self, value: &str) -> Result<Verified, AuthError> {
        let credential = bearer_credential(value)?;
        self.verify(credential).await
    }

    /// Resolves a bare credential: an API key or an access token.
    pub async fn authenticate(&self, credential: &str) -> Result<Principal, AuthError> {
        Ok(self.verify(credential).await?.principal)
    }

    /// Resolves a bare credential, with what ends it.
    pub async fn verify(&self, credential: &str) -> Result<Verified, AuthError> {
        if credential.starts_with(SESSION_TOKEN_PREFIX) {
            return Err(AuthError::InvalidToken(
                "session tokens only authenticate live-call WebSockets",
            ));
        }
        if credential.starts_with("vxk_") {
            return self.authenticate_api_key(credential).await;
        }
        if credential.split('.').count() == 3 {
            return self.authenticate_access_token(credential).await;
        }
        Err(AuthError::Malformed(
            "expected an API key (vxk_…) or an access token",
        ))
    }

    /// Verifies a live-call session token: for the voice WebSocket only. Returns the tenant and the one
    /// agent it may connect to; the caller must check that agent exists in that tenant.
    pub async fn verify_session_token(&self, token: &str) -> Result<SessionGrant, AuthError> {
        let grant = self.signer.verify_session(token.trim())?;
        let tenant_id = grant.tenant_id;
        let read = || {
            self.catalog
                .read(move |conn| repo::tenants::get(conn, tenant_id))
        };
        let mut tenant = read().await?;
        if tenant.is_none() && self.wait_for_replica(grant.issued_at).await {
            tenant = read().await?;
        }
        // A past-due tenant still takes calls and a suspended one is refused by admission with its own code
        // (`TENANT_SUSPENDED`); only a tenant that is gone invalidates its tokens.
        match tenant {
            Some(t) if t.status != "deleted" => Ok(grant),
            _ => Err(AuthError::InvalidToken("invalid token")),
        }
    }

    async fn authenticate_access_token(&self, token: &str) -> Result<Verified, AuthError> {
        let grant = self.signer.verify_access(token)?;
        let verified = |principal: Principal| Verified {
            principal,
            expires_at_ms: Some(grant.expires_at.saturating_mul(1000)),
            session_id: Some(grant.family_id.clone()),
        };
        if let Some(principal) = self.sessions.get(&grant.family_id).await {
            return Ok(verified(principal));
        }
        let revoked = || AuthError::TokenRevoked;
        let read = || {
            let (family_id, user_id) = (grant.family_id.clone(), grant.user_id.clone());
            let tenant_id = grant.tenant_id;
            self.catalog.read(move |conn| {
                let family = repo::sessions::get_family(conn, &family_id)?;
                let member = repo::memberships::get(conn, tenant_id, &user_id)?;
                Ok::<_, StorageError>((family, member))
            })
        };
        let (mut family, mut member) = read().await?;
        // A session made moments ago in the primary may not have reached this region's replica yet.
        if (family.is_none() || member.is_none()) && self.wait_for_replica(grant.issued_at).await {
            (family, member) = read().await?;
        }
        // The signed claims and the stored session must agree on who and which tenant.
        let family = family.ok_or_else(revoked)?;
        if family.revoked_at.is_some()
            || family.tenant_id != grant.tenant_id
            || family.user_id != grant.user_id
        {
            return Err(revoked());
        }
        let member = member.ok_or_else(revoked)?;
        let principal = Principal {
            tenant_id: member.tenant_id,
            role: member.role,
            actor: Actor::User {
                user_id: member.user_id,
            },
            unverified_since: member
                .email_verified_at
                .is_none()
                .then_some(member.user_created_at),
        };
        self.sessions
            .insert(grant.family_id.clone(), principal.clone())
            .await;
        Ok(verified(principal))
    }

    /// Makes a revoked key stop working on this instance immediately.
    pub fn forget_api_key(&self, tenant_id: TenantId, key_id: &str) {
        let announced = Revocation::ApiKey {
            tenant_id,
            key_id: key_id.to_owned(),
        };
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
        self.announce(announced);
    }

    /// Forgets every verified API key of `tenant` (its file was restored to an earlier state).
    pub fn forget_tenant_keys(&self, tenant_id: TenantId) {
        let result = self
            .verified
            .invalidate_entries_if(move |_, verified| verified.principal.tenant_id == tenant_id);
        if result.is_err() {
            self.verified.invalidate_all();
        }
    }

    /// Makes a signed-out or revoked session's access tokens stop working on this instance at once.
    pub async fn forget_session(&self, family_id: &str) {
        self.sessions.invalidate(family_id).await;
        self.announce(Revocation::Session {
            family_id: family_id.to_owned(),
        });
    }

    /// Makes a member's changed role (or removal) take effect on this instance at once.
    pub fn forget_member(&self, tenant_id: TenantId, user_id: &str) {
        let user_id = user_id.to_owned();
        let announced = user_id.clone();
        let result = self.sessions.invalidate_entries_if(move |_, principal| {
            principal.tenant_id == tenant_id
                && matches!(&principal.actor, Actor::User { user_id: id } if *id == user_id)
        });
        if let Err(err) = result {
            tracing::error!(error = %err, "invalidation closure refused; clearing the session cache");
            self.sessions.invalidate_all();
        }
        self.announce(Revocation::Member {
            tenant_id,
            user_id: announced,
        });
    }

    /// Waits for the catalog replica to hold what the primary wrote up to a token issued at `issued_at` (unix
    /// seconds). True if it waited and the replica caught up (so a second look is worth it).
    async fn wait_for_replica(&self, issued_at: i64) -> bool {
        if self.freshness.is_primary() {
            return false;
        }
        // `iat` is rounded down to the second: the session may be up to a second newer.
        let after_ms = issued_at.saturating_add(1).saturating_mul(1000);
        if self.freshness.heartbeat().is_some_and(|h| h > after_ms) {
            return false;
        }
        self.freshness.wait_past(after_ms, REPLICA_WAIT).await
    }
}

/// Extracts the credential from `Bearer <credential>` (the scheme is case-insensitive, per RFC 9110).
fn bearer_credential(value: &str) -> Result<&str, AuthError> {
    let malformed = || AuthError::Malformed("expected `Authorization: Bearer <key or token>`");
    let (scheme, credential) = value.trim().split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") || credential.trim().is_empty() {
        return Err(malformed());
    }
    Ok(credential.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_required_and_case_insensitive() {
        assert_eq!(bearer_credential("Bearer abc").unwrap(), "abc");
        assert_eq!(bearer_credential("bearer   abc ").unwrap(), "abc");
        for bad in ["abc", "Basic abc", "Bearer", "Bearer  ", ""] {
            assert!(
                matches!(bearer_credential(bad), Err(AuthError::Malformed(_))),
                "{bad:?}"
            );
        }
    }
}
