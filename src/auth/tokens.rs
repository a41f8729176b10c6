//! Signed tokens: portal access tokens (JWT) and ephemeral live-call session tokens (`vxs_` + JWT).
//!
//! Both are HS256 JWTs, but signed with different keys derived from the server secret and carrying
//! different audiences, so neither can ever pass for the other. Expiry is checked against the server's
//! [`Clock`] (not the library's), so tests can move time instead of waiting.
//!
//! - Access token: `sub` user id, `tid` tenant id, `sid` sign-in session (token family), minutes long.
//!   The tenant id is bound into the signed claims; every request checks the membership it names.
//! - Session token: `tid` tenant id, `agent` agent id, `sub` who minted it; at most 10 minutes long; `vars`
//!   the call's variables, encrypted with the server key (the token travels through browsers, and variables may
//!   be personal). Only the live-call WebSocket accepts it, via [`super::Authenticator::verify_session_token`].

use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::AuthError;
use crate::clock::Clock;
use crate::db::TenantId;
use crate::model::Variables;
use crate::secrets::Secrets;

const ISSUER: &str = "voxedge";
const ACCESS_AUDIENCE: &str = "voxedge-api";
const SESSION_AUDIENCE: &str = "voxedge-live-call";
/// Prefix of session tokens, so credential shape tells them apart from access tokens and keys.
pub const SESSION_TOKEN_PREFIX: &str = "vxs_";
/// The longest a session token may live.
pub const MAX_SESSION_TOKEN_TTL: Duration = Duration::from_secs(600);

#[derive(Debug, Serialize, Deserialize)]
struct AccessClaims {
    iss: String,
    aud: String,
    sub: String,
    tid: String,
    sid: String,
    iat: i64,
    exp: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct SessionClaims {
    iss: String,
    aud: String,
    sub: String,
    tid: String,
    agent: String,
    jti: String,
    iat: i64,
    exp: i64,
    /// The call's variables, sealed (absent when there are none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    vars: Option<String>,
}

/// A verified access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessGrant {
    pub user_id: String,
    pub tenant_id: TenantId,
    /// The sign-in session (token family) the token belongs to.
    pub family_id: String,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
}

/// A verified live-call session token: what the voice endpoint learns from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionGrant {
    pub tenant_id: TenantId,
    /// The one agent this token may talk to. Not checked to exist here: the voice endpoint does.
    pub agent_id: String,
    /// Who minted it (`user:<id>`, `api_key:<id>`).
    pub issued_by: String,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// Variables the call's agent texts are filled with.
    pub variables: Variables,
}

/// Issues and verifies signed tokens. Cheap to clone.
#[derive(Clone)]
pub struct TokenSigner {
    secrets: Secrets,
    clock: Clock,
    access_ttl: Duration,
}

impl TokenSigner {
    pub fn new(secrets: Secrets, clock: Clock, access_ttl: Duration) -> Self {
        Self {
            secrets,
            clock,
            access_ttl,
        }
    }

    /// How long access tokens live.
    pub fn access_ttl(&self) -> Duration {
        self.access_ttl
    }

    /// A new access token and its expiry (unix seconds).
    pub fn issue_access(
        &self,
        user_id: &str,
        tenant_id: TenantId,
        family_id: &str,
    ) -> Result<(String, i64), AuthError> {
        self.issue_access_until(user_id, tenant_id, family_id, i64::MAX)
    }

    /// A new access token that expires no later than its session's absolute end (`session_end_ms`, unix
    /// ms), and its expiry (unix seconds).
    pub fn issue_access_until(
        &self,
        user_id: &str,
        tenant_id: TenantId,
        family_id: &str,
        session_end_ms: i64,
    ) -> Result<(String, i64), AuthError> {
        let now = self.clock.now_secs();
        let exp = (now + secs(self.access_ttl)).min(session_end_ms.div_euclid(1000));
        let claims = AccessClaims {
            iss: ISSUER.into(),
            aud: ACCESS_AUDIENCE.into(),
            sub: user_id.into(),
            tid: tenant_id.to_string(),
            sid: family_id.into(),
            iat: now,
            exp,
        };
        let token = encode(&claims, self.secrets.access_token_key())?;
        Ok((token, exp))
    }

    /// Verifies an access token's signature, audience and expiry.
    pub fn verify_access(&self, token: &str) -> Result<AccessGrant, AuthError> {
        let key = DecodingKey::from_secret(self.secrets.access_token_key());
        let claims: AccessClaims = decode(token, &key, ACCESS_AUDIENCE)?;
        self.check_expiry(claims.exp)?;
        Ok(AccessGrant {
            tenant_id: tenant_claim(&claims.tid)?,
            user_id: claims.sub,
            family_id: claims.sid,
            issued_at: claims.iat,
            expires_at: claims.exp,
        })
    }

    /// A new session token for one agent, valid for `ttl` (at most [`MAX_SESSION_TOKEN_TTL`]).
    pub fn issue_session(
        &self,
        tenant_id: TenantId,
        agent_id: &str,
        issued_by: &str,
        ttl: Duration,
    ) -> Result<(String, i64), AuthError> {
        self.issue_session_with(tenant_id, agent_id, issued_by, ttl, &Variables::new())
    }

    /// [`TokenSigner::issue_session`] for a call with `variables`.
    pub fn issue_session_with(
        &self,
        tenant_id: TenantId,
        agent_id: &str,
        issued_by: &str,
        ttl: Duration,
        variables: &Variables,
    ) -> Result<(String, i64), AuthError> {
        let now = self.clock.now_secs();
        let exp = now + secs(ttl.min(MAX_SESSION_TOKEN_TTL));
        let jti = crate::db::new_id();
        let vars = (!variables.is_empty()).then(|| {
            let json = serde_json::to_vec(variables).expect("invariant: variables serialise");
            self.secrets.encrypt(&json, &variables_context(&jti))
        });
        let claims = SessionClaims {
            iss: ISSUER.into(),
            aud: SESSION_AUDIENCE.into(),
            sub: issued_by.into(),
            tid: tenant_id.to_string(),
            agent: agent_id.into(),
            jti,
            iat: now,
            exp,
            vars,
        };
        let token = encode(&claims, self.secrets.session_token_key())?;
        Ok((format!("{SESSION_TOKEN_PREFIX}{token}"), exp))
    }

    /// Verifies a session token (with its `vxs_` prefix).
    pub fn verify_session(&self, token: &str) -> Result<SessionGrant, AuthError> {
        let jwt = token
            .strip_prefix(SESSION_TOKEN_PREFIX)
            .ok_or_else(invalid_token)?;
        let key = DecodingKey::from_secret(self.secrets.session_token_key());
        let claims: SessionClaims = decode(jwt, &key, SESSION_AUDIENCE)?;
        self.check_expiry(claims.exp)?;
        // A token claiming a longer life than we ever issue was not made by us.
        if claims.exp - claims.iat > secs(MAX_SESSION_TOKEN_TTL) {
            return Err(invalid_token());
        }
        let variables = match &claims.vars {
            None => Variables::new(),
            // Variables that do not unseal or parse were not sealed by us.
            Some(sealed) => self
                .secrets
                .decrypt(sealed, &variables_context(&claims.jti))
                .ok()
                .and_then(|json| serde_json::from_slice(json.expose()).ok())
                .ok_or_else(invalid_token)?,
        };
        Ok(SessionGrant {
            tenant_id: tenant_claim(&claims.tid)?,
            agent_id: claims.agent,
            issued_by: claims.sub,
            issued_at: claims.iat,
            expires_at: claims.exp,
            variables,
        })
    }

    fn check_expiry(&self, exp: i64) -> Result<(), AuthError> {
        if exp <= self.clock.now_secs() {
            Err(AuthError::TokenExpired)
        } else {
            Ok(())
        }
    }
}

/// What a token's sealed variables are bound to: that token alone.
fn variables_context(jti: &str) -> String {
    format!("session-variables:{jti}")
}

fn secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX / 2)
}

fn invalid_token() -> AuthError {
    AuthError::InvalidToken("invalid token")
}

/// A token's `tid` claim; one that is not a tenant id was not issued by us.
fn tenant_claim(tid: &str) -> Result<TenantId, AuthError> {
    tid.parse().map_err(|_| invalid_token())
}

/// Signs `claims` (HS256) with `key`.
fn encode<C: serde::Serialize>(claims: &C, key: &[u8]) -> Result<String, AuthError> {
    let key = EncodingKey::from_secret(key);
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key).map_err(AuthError::internal)
}

fn decode<C: serde::de::DeserializeOwned>(
    token: &str,
    key: &DecodingKey,
    audience: &str,
) -> Result<C, AuthError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    // Expiry is checked against the server clock by the caller.
    validation.validate_exp = false;
    jsonwebtoken::decode::<C>(token, key, &validation)
        .map(|data| data.claims)
        .map_err(|err| match err.kind() {
            ErrorKind::ExpiredSignature => AuthError::TokenExpired,
            _ => invalid_token(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ErrorCode, Reportable as _};

    fn make_signer(seed: u8) -> (TokenSigner, Clock) {
        let clock = Clock::new();
        let secrets = Secrets::from_master(&[seed; 32]);
        (
            TokenSigner::new(secrets, clock.clone(), Duration::from_secs(900)),
            clock,
        )
    }

    #[test]
    fn access_tokens_verify_expire_and_resist_tampering() {
        let (signer, clock) = make_signer(1);
        let tenant = TenantId::generate();
        let (token, _) = signer.issue_access("u1", tenant, "f1").unwrap();
        let grant = signer.verify_access(&token).unwrap();
        assert_eq!((grant.user_id.as_str(), grant.tenant_id), ("u1", tenant));

        let (other, _) = make_signer(2);
        assert_eq!(
            other.verify_access(&token).unwrap_err().code(),
            ErrorCode::InvalidToken
        );
        let mut parts: Vec<String> = token.split('.').map(String::from).collect();
        parts[1] = parts[1].replacen('e', "f", 1);
        assert_eq!(
            signer.verify_access(&parts.join(".")).unwrap_err().code(),
            ErrorCode::InvalidToken
        );
        clock.advance(Duration::from_secs(901));
        assert_eq!(
            signer.verify_access(&token).unwrap_err().code(),
            ErrorCode::TokenExpired
        );
    }

    #[test]
    fn session_and_access_tokens_are_not_interchangeable() {
        let (signer, _) = make_signer(1);
        let tenant = TenantId::generate();
        let (session, _) = signer
            .issue_session(tenant, "agent_1", "user:u1", Duration::from_secs(60))
            .unwrap();
        assert!(session.starts_with(SESSION_TOKEN_PREFIX));
        assert_eq!(signer.verify_session(&session).unwrap().agent_id, "agent_1");
        assert!(signer.verify_access(&session[4..]).is_err());
        let (access, _) = signer.issue_access("u1", tenant, "f1").unwrap();
        assert!(signer.verify_session(&format!("vxs_{access}")).is_err());
    }

    #[test]
    fn session_tokens_never_outlive_ten_minutes() {
        let (signer, clock) = make_signer(1);
        let (token, exp) = signer
            .issue_session(TenantId::generate(), "a", "cli", Duration::from_secs(3600))
            .unwrap();
        assert!(exp <= clock.now_secs() + 600);
        clock.advance(Duration::from_secs(601));
        assert_eq!(
            signer.verify_session(&token).unwrap_err().code(),
            ErrorCode::TokenExpired
        );
    }

    #[test]
    fn session_variables_travel_sealed() {
        let (signer, _) = make_signer(1);
        let variables = Variables(
            [("first_name".to_string(), "Ada Lovelace".to_string())]
                .into_iter()
                .collect(),
        );
        let (token, _) = signer
            .issue_session_with(
                TenantId::generate(),
                "a",
                "cli",
                Duration::from_secs(60),
                &variables,
            )
            .unwrap();
        assert_eq!(signer.verify_session(&token).unwrap().variables, variables);
        let payload = token.split('.').nth(1).unwrap();
        let claims =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
                .unwrap();
        assert!(
            !String::from_utf8_lossy(&claims).contains("Lovelace"),
            "values are not readable from the token"
        );
        let (other, _) = make_signer(2);
        assert!(other.verify_session(&token).is_err());
    }
}
