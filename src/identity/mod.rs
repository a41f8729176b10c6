//! Portal identity: users, sign-in sessions, memberships and invitations.
//!
//! - [`credentials`]: email and password rules, password hashing (argon2id, OWASP parameters).
//! - [`sessions`]: sign up, sign in, refresh (rotating refresh tokens, reuse revokes the family),
//!   sign out (everywhere), switch tenant. Access tokens are scoped to one tenant at a time; a session
//!   switched from another ends with it, and every session ends by an absolute time.
//! - [`members`]: invite, accept, change role, remove, transfer ownership — a tenant always keeps
//!   exactly one owner.
//! - [`lockout`]: brute-force protection for sign-in (and for passwords given to accept an invitation).
//! - [`email_links`]: what identity mails — email verification, password reset, invitations, billing notices
//!   — and following those single-use links.
//!
//! Users, memberships, sessions and invites live in the catalog (a user may belong to several tenants);
//! what they do is recorded in each tenant's audit log.

pub mod credentials;
pub mod email_links;
mod error;
pub mod lockout;
pub mod members;
pub mod sessions;

pub use error::IdentityError;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

use crate::auth::Authenticator;
use crate::clock::Clock;
use crate::db::Database;
use crate::edge::Edge;
use crate::email::Mailer;
use crate::ratelimit::RateLimits;
use crate::redact::Secret;

/// Lifetimes of what identity issues.
#[derive(Debug, Clone, Copy)]
pub struct IdentitySettings {
    /// Access tokens (JWT): minutes.
    pub access_ttl: Duration,
    /// Refresh tokens: each is used once; the session lives while it keeps being refreshed.
    pub refresh_ttl: Duration,
    /// Invitations.
    pub invite_ttl: Duration,
    /// Email verification links.
    pub verify_ttl: Duration,
    /// Password reset links.
    pub reset_ttl: Duration,
    /// How long a new account may be used before its email address must be verified.
    pub verification_grace: Duration,
    /// The absolute lifetime of a sign-in session, however often it is refreshed (sessions made by
    /// switching tenant end with the one they were made from).
    pub session_lifetime: Duration,
}

/// Portal identity: what signing up, signing in and managing members work with. Cheap to clone.
#[derive(Clone)]
pub struct Identity {
    /// Users, memberships, sessions and invitations.
    catalog: Database,
    /// New tenants are created in their home region at sign-up.
    edge: Edge,
    /// Issues tokens; forgets revoked sessions and changed members at once.
    auth: Authenticator,
    clock: Clock,
    /// Sign-in lock-outs.
    limits: Arc<RateLimits>,
    settings: IdentitySettings,
    /// Sends verification, reset and invitation emails.
    mailer: Mailer,
}

impl Identity {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        catalog: Database,
        edge: Edge,
        auth: Authenticator,
        clock: Clock,
        limits: Arc<RateLimits>,
        settings: IdentitySettings,
        mailer: Mailer,
    ) -> Self {
        Self {
            catalog,
            edge,
            auth,
            clock,
            limits,
            settings,
            mailer,
        }
    }

    /// The lifetimes and grace periods in force.
    pub fn settings(&self) -> &IdentitySettings {
        &self.settings
    }

    /// Whether emails really leave the server (else flows show links to whoever may see them).
    pub fn emails_delivered(&self) -> bool {
        self.mailer.delivers()
    }
}

/// An opaque bearer token `<prefix><id>_<secret>` whose secret is stored as a SHA-256 hash. Used for
/// refresh tokens (`vxr_`), invitations (`vxi_`), email verification (`vxv_`) and password reset (`vxp_`) links.
#[derive(Debug)]
pub struct OpaqueToken {
    pub id: String,
    secret: Secret<String>,
}

impl OpaqueToken {
    /// A new token with a ULID id and 256 random bits of secret. Returns it and its full string form.
    pub fn generate(prefix: &str) -> (Self, Secret<String>) {
        let mut bytes = [0u8; 32];
        rand::rng().fill(&mut bytes);
        let token = Self {
            id: crate::db::new_id(),
            secret: Secret::new(URL_SAFE_NO_PAD.encode(bytes)),
        };
        let full = Secret::new(format!("{prefix}{}_{}", token.id, token.secret.expose()));
        (token, full)
    }

    /// Parses `<prefix><ulid>_<secret>`; `None` if it is not of that shape.
    pub fn parse(raw: &str, prefix: &str) -> Option<Self> {
        let (id, secret) = raw.trim().strip_prefix(prefix)?.split_once('_')?;
        let valid_id = id.len() == ulid::ULID_LEN && ulid::Ulid::from_string(id).is_ok();
        let valid_secret = URL_SAFE_NO_PAD
            .decode(secret)
            .is_ok_and(|bytes| bytes.len() == 32);
        (valid_id && valid_secret).then(|| Self {
            id: id.to_uppercase(),
            secret: Secret::new(secret.to_string()),
        })
    }

    /// Hex SHA-256 of the secret, as stored.
    pub fn secret_hash(&self) -> String {
        Sha256::digest(self.secret.expose().as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Constant-time comparison with a stored hash.
    pub fn matches(&self, stored_hash: &str) -> bool {
        self.secret_hash()
            .as_bytes()
            .ct_eq(stored_hash.as_bytes())
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_tokens_round_trip_and_check_their_secret() {
        let (token, full) = OpaqueToken::generate("vxr_");
        let parsed = OpaqueToken::parse(full.expose(), "vxr_").unwrap();
        assert_eq!(parsed.id, token.id);
        assert!(parsed.matches(&token.secret_hash()));
        let (other, _) = OpaqueToken::generate("vxr_");
        assert!(!parsed.matches(&other.secret_hash()));
        for bad in [
            "",
            "vxr_",
            "vxi_x_y",
            &full.expose().replace("vxr_", "vxi_"),
        ] {
            assert!(OpaqueToken::parse(bad, "vxr_").is_none(), "{bad:?}");
        }
    }
}
