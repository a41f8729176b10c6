//! API key format, issuing and hashing.
//!
//! A key reads `vxk_<tenant id>_<key id>_<secret>`. It carries its tenant, so verifying it needs no global
//! table: parse, open that tenant's database, find the row by key id, and check the secret against its
//! argon2id hash. The secret is 256 random bits; only its hash is stored, and the key is shown once.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng as _;

use super::AuthError;
use super::Role;
use crate::clock::now_ms;
use crate::db::TenantId;
use crate::repo::api_keys::ApiKeyRow;

const PREFIX: &str = "vxk_";
const KEY_ID_LEN: usize = 12;
const SECRET_BYTES: usize = 32;
const KEY_ID_ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A presented key, parsed but not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyToken {
    pub tenant_id: TenantId,
    pub key_id: String,
    secret: String,
}

impl ApiKeyToken {
    /// Parses a key string. Anything that is not exactly our format is `MALFORMED_CREDENTIALS`.
    pub fn parse(raw: &str) -> Result<Self, AuthError> {
        let malformed = || AuthError::Malformed("malformed API key");
        let rest = raw.strip_prefix(PREFIX).ok_or_else(malformed)?;
        let mut parts = rest.splitn(3, '_');
        let (tenant, key_id, secret) = match (parts.next(), parts.next(), parts.next()) {
            (Some(t), Some(k), Some(s)) => (t, k, s),
            _ => return Err(malformed()),
        };
        let tenant_id = tenant.parse().map_err(|_| malformed())?;
        let key_id_ok =
            key_id.len() == KEY_ID_LEN && key_id.bytes().all(|b| KEY_ID_ALPHABET.contains(&b));
        let secret_ok = URL_SAFE_NO_PAD
            .decode(secret)
            .is_ok_and(|bytes| bytes.len() == SECRET_BYTES);
        if !key_id_ok || !secret_ok {
            return Err(malformed());
        }
        Ok(Self {
            tenant_id,
            key_id: key_id.to_owned(),
            secret: secret.to_owned(),
        })
    }

    /// Checks the secret against a stored hash (slow by design: run it on the blocking pool).
    pub fn secret_matches(&self, secret_hash: &str) -> bool {
        PasswordHash::new(secret_hash).ok().is_some_and(|hash| {
            Argon2::default()
                .verify_password(self.secret.as_bytes(), &hash)
                .is_ok()
        })
    }

    /// Burns the time of a real verification, for a key whose tenant or id does not exist (blocking).
    pub fn verify_against_nothing(&self) {
        static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let hash = DUMMY
            .get_or_init(|| hash_secret("not a real key secret, only timing").unwrap_or_default());
        let _ = self.secret_matches(hash);
    }
}

/// A freshly issued key: the row to store and the full key to show once.
pub struct IssuedApiKey {
    pub row: ApiKeyRow,
    /// The complete key string. Never logged, never stored.
    pub key: String,
}

impl std::fmt::Debug for IssuedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedApiKey")
            .field("row", &self.row)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// Generates a new key for `tenant_id` (blocking: hashes the secret).
pub fn issue_api_key(
    tenant_id: TenantId,
    name: String,
    role: Role,
    created_by: String,
    expires_at: Option<i64>,
) -> Result<IssuedApiKey, AuthError> {
    let mut rng = rand::rng();
    let key_id: String = (0..KEY_ID_LEN)
        .map(|_| KEY_ID_ALPHABET[rng.random_range(0..KEY_ID_ALPHABET.len())] as char)
        .collect();
    let mut secret = [0u8; SECRET_BYTES];
    rng.fill(&mut secret);
    let secret = URL_SAFE_NO_PAD.encode(secret);
    let key = format!("{PREFIX}{tenant_id}_{key_id}_{secret}");
    let row = ApiKeyRow {
        id: key_id,
        name,
        role,
        secret_hash: hash_secret(&secret)?,
        created_by,
        created_at: now_ms(),
        expires_at,
        last_used_at: None,
        revoked_at: None,
    };
    Ok(IssuedApiKey { row, key })
}

/// Hashes a key secret with argon2id.
///
/// The parameters are lighter than for passwords (4 MiB, 1 pass): a key secret has 256 bits of entropy,
/// so no amount of hashing speed makes guessing it feasible, and every cold verification pays this cost.
/// The hash still keeps a leaked database from yielding usable keys.
pub fn hash_secret(secret: &str) -> Result<String, AuthError> {
    let params = Params::new(4096, 1, 1, None)?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    Ok(argon2.hash_password(secret.as_bytes())?.to_string())
}

/// The public part of a key, safe to display: `vxk_<tenant>_<key id>`.
pub fn display_prefix(tenant_id: TenantId, key_id: &str) -> String {
    format!("{PREFIX}{tenant_id}_{key_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_keys_parse_and_verify() {
        let tenant = TenantId::generate();
        let issued = issue_api_key(tenant, "ci".into(), Role::Owner, "cli".into(), None).unwrap();
        let token = ApiKeyToken::parse(&issued.key).unwrap();
        assert_eq!(token.tenant_id, tenant);
        assert_eq!(token.key_id, issued.row.id);
        assert!(token.secret_matches(&issued.row.secret_hash));
        assert!(issued.row.secret_hash.starts_with("$argon2id$"));
        assert!(!format!("{issued:?}").contains(&issued.key));
    }

    #[test]
    fn a_changed_secret_does_not_verify() {
        let issued = issue_api_key(
            TenantId::generate(),
            "k".into(),
            Role::Viewer,
            "cli".into(),
            None,
        )
        .unwrap();
        // Change the secret's first character: every value is valid there (the last one carries padding bits,
        // so changing it can make the key malformed instead of wrong).
        let secret = ApiKeyToken::parse(&issued.key).unwrap().secret;
        let at = issued.key.len() - secret.len();
        let first = &issued.key[at..=at];
        let mut forged = issued.key.clone();
        forged.replace_range(at..=at, if first == "A" { "B" } else { "A" });
        let token = ApiKeyToken::parse(&forged).unwrap();
        assert!(!token.secret_matches(&issued.row.secret_hash));
    }

    #[test]
    fn malformed_keys_are_refused() {
        let tenant = TenantId::generate();
        let good = issue_api_key(tenant, "k".into(), Role::Viewer, "cli".into(), None)
            .unwrap()
            .key;
        let cases = [
            String::new(),
            "vxk_".into(),
            good.replace("vxk_", "sk_"),
            good[..good.len() - 1].to_string(),
            format!("{good}A"),
            good.replacen(&tenant.to_string(), "../../etc/passwd_xx", 1),
            format!("vxk_{tenant}_short_secret"),
        ];
        for case in cases {
            let err = ApiKeyToken::parse(&case).unwrap_err();
            assert!(matches!(err, AuthError::Malformed(_)), "{case:?}");
        }
    }
}
