//! API key format, issuing and hashing.
//!
//! A key reads `vxk_<tenant id>_<key id>_<secret>`. It carries its tenant, so verifying it needs no global
//! table: parse, open that tenant's database, find the row by key id, and check the secret against its hash.
//! The secret is 256 random bits; only its hash is stored, and the key is shown once.
//!
//! The hash is SHA-256 (`$sha256$<hex>`): with 256 bits of entropy no hashing speed makes guessing a secret
//! feasible, so a slow password hash only slowed every cold verification (argon2id cost ~4 ms of a ~5 ms first
//! request to a tenant). Keys issued before carry an argon2id hash; they still verify, and the authenticator
//! replaces the hash on their first verification ([`ApiKeyToken::needs_rehash`]).

use argon2::Argon2;
use argon2::password_hash::PasswordVerifier;
use argon2::password_hash::phc::PasswordHash;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

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
        if let Some(hex) = secret_hash.strip_prefix(SHA256_PREFIX) {
            let expected = sha256_hex(&self.secret);
            return expected.as_bytes().ct_eq(hex.as_bytes()).into();
        }
        // A key issued before hashes were SHA-256.
        PasswordHash::new(secret_hash).ok().is_some_and(|hash| {
            Argon2::default()
                .verify_password(self.secret.as_bytes(), &hash)
                .is_ok()
        })
    }

    /// True when `secret_hash` (which this key matched) is of the old, slow kind and should be replaced by
    /// [`hash_secret`] of the same secret.
    pub fn needs_rehash(secret_hash: &str) -> bool {
        !secret_hash.starts_with(SHA256_PREFIX)
    }

    /// The hash to store for this key's secret.
    pub fn hash(&self) -> String {
        hash_secret(&self.secret)
    }

    /// Burns the time of a real verification, for a key whose tenant or id does not exist.
    pub fn verify_against_nothing(&self) {
        static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let hash = DUMMY.get_or_init(|| hash_secret("not a real key secret, only timing"));
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
        secret_hash: hash_secret(&secret),
        created_by,
        created_at: now_ms(),
        expires_at,
        last_used_at: None,
        revoked_at: None,
    };
    Ok(IssuedApiKey { row, key })
}

const SHA256_PREFIX: &str = "$sha256$";

/// Hashes a key secret (see the module's documentation for why SHA-256). The hash keeps a leaked database from
/// yielding usable keys.
pub fn hash_secret(secret: &str) -> String {
    format!("{SHA256_PREFIX}{}", sha256_hex(secret))
}

fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
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
        assert!(issued.row.secret_hash.starts_with("$sha256$"));
        assert!(!ApiKeyToken::needs_rehash(&issued.row.secret_hash));
        assert!(!format!("{issued:?}").contains(&issued.key));
    }

    #[test]
    fn keys_hashed_with_argon2id_before_still_verify_and_ask_for_a_new_hash() {
        use argon2::password_hash::PasswordHasher as _;
        use argon2::{Algorithm, Argon2, Params, Version};
        let issued = issue_api_key(
            TenantId::generate(),
            "old".into(),
            Role::Admin,
            "cli".into(),
            None,
        )
        .unwrap();
        let token = ApiKeyToken::parse(&issued.key).unwrap();
        // The hash keys were issued with until SHA-256.
        let params = Params::new(4096, 1, 1, None).unwrap();
        let old_hash = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(token.secret.as_bytes())
            .unwrap()
            .to_string();
        assert!(token.secret_matches(&old_hash));
        assert!(ApiKeyToken::needs_rehash(&old_hash));
        assert_eq!(token.hash(), issued.row.secret_hash);
        let other = issue_api_key(
            TenantId::generate(),
            "x".into(),
            Role::Admin,
            "cli".into(),
            None,
        )
        .unwrap();
        assert!(
            !ApiKeyToken::parse(&other.key)
                .unwrap()
                .secret_matches(&old_hash)
        );
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
