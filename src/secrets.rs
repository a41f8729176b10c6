//! Server secrets: one master key, and purpose-specific keys derived from it.
//!
//! The master key is 32 random bytes shared by every instance (JWTs signed by one must verify on all):
//! `--secret-key` / `VOXEDGE_SECRET_KEY` (base64), or, when unset, `DATA_DIR/secret.key`, generated on
//! first start with mode 0600. Subkeys are derived with HKDF-SHA256, one per purpose, so a key used to
//! sign access tokens can never verify a session token or decrypt a tenant secret.
//!
//! [`Secrets::encrypt`] / [`Secrets::decrypt`] protect tenant secrets at rest (e.g. telephony auth
//! tokens) with XChaCha20-Poly1305. The `context` (say `tenant:<id>:twilio_auth_token`) is bound as
//! associated data: a ciphertext copied to another tenant or field does not decrypt.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use rand::Rng as _;
use sha2::Sha256;

use crate::redact::Secret;

const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;
/// Version tag of the ciphertext format (`v1.` + base64url(nonce ‖ ciphertext ‖ tag)).
const CIPHERTEXT_VERSION: &str = "v1.";

/// Failures of the secrets layer. Start-up failures go through `anyhow`; at run time only decryption
/// can fail, and it never says why (a wrong key and a tampered value look the same).
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("the secret key must be {KEY_BYTES} bytes, base64-encoded")]
    BadMasterKey,
    #[error("{path}: {source}")]
    KeyFile {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot decrypt: wrong key, wrong context, or damaged value")]
    Decrypt,
    /// A value sealed as text that does not decrypt to text.
    #[error("not UTF-8")]
    NotText(#[from] std::string::FromUtf8Error),
}

/// The AEAD's one (opaque) error: the tag does not match, whatever the reason.
impl From<chacha20poly1305::aead::Error> for SecretsError {
    fn from(_: chacha20poly1305::aead::Error) -> Self {
        Self::Decrypt
    }
}

/// Purpose-specific keys. Cheap to clone.
#[derive(Clone)]
pub struct Secrets {
    inner: Arc<Keys>,
}

struct Keys {
    access_tokens: Secret<[u8; KEY_BYTES]>,
    session_tokens: Secret<[u8; KEY_BYTES]>,
    tenant_secrets: Secret<[u8; KEY_BYTES]>,
    recording_urls: Secret<[u8; KEY_BYTES]>,
    internal_requests: Secret<[u8; KEY_BYTES]>,
    blind_indexes: Secret<[u8; KEY_BYTES]>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(<redacted>)")
    }
}

impl Secrets {
    /// Derives every subkey from a master key.
    pub fn from_master(master: &[u8; KEY_BYTES]) -> Self {
        let hkdf = Hkdf::<Sha256>::new(Some(b"voxedge secrets v1"), master);
        let derive = |info: &[u8]| {
            let mut key = [0u8; KEY_BYTES];
            hkdf.expand(info, &mut key)
                .expect("invariant: 32 bytes is a valid HKDF-SHA256 output length");
            Secret::new(key)
        };
        Self {
            inner: Arc::new(Keys {
                access_tokens: derive(b"jwt access tokens"),
                session_tokens: derive(b"jwt session tokens"),
                tenant_secrets: derive(b"aead tenant secrets"),
                recording_urls: derive(b"hmac recording urls"),
                internal_requests: derive(b"hmac internal requests"),
                blind_indexes: derive(b"hmac pii blind indexes"),
            }),
        }
    }

    /// The configured key (base64), or the data directory's key file, created on first start.
    pub fn load(configured: Option<&str>, data_dir: &Path) -> Result<Self, SecretsError> {
        let master = match configured.map(str::trim).filter(|k| !k.is_empty()) {
            Some(encoded) => decode_master(encoded)?,
            None => load_or_create_key_file(&data_dir.join("secret.key"))?,
        };
        Ok(Self::from_master(&master))
    }

    /// Key signing and verifying portal users' access tokens (HS256).
    pub fn access_token_key(&self) -> &[u8] {
        self.inner.access_tokens.expose()
    }

    /// Key signing short-lived recording download URLs (HMAC-SHA256).
    pub fn recording_url_key(&self) -> &[u8] {
        self.inner.recording_urls.expose()
    }

    /// Key signing and verifying ephemeral live-call session tokens (HS256).
    pub fn session_token_key(&self) -> &[u8] {
        self.inner.session_tokens.expose()
    }

    /// Key signing requests one region (or the CLI) sends another (HMAC-SHA256).
    pub fn internal_request_key(&self) -> &[u8] {
        self.inner.internal_requests.expose()
    }

    /// Tenant `tenant`'s own key for blind indexes of personal data (HMAC-SHA256): derived per tenant, so the
    /// same phone number has unrelated index values in two tenants' files.
    pub fn blind_index_key(&self, tenant: &str) -> Secret<[u8; KEY_BYTES]> {
        let hkdf = Hkdf::<Sha256>::from_prk(self.inner.blind_indexes.expose())
            .expect("invariant: a 32-byte key is a valid HKDF-SHA256 PRK");
        let mut key = [0u8; KEY_BYTES];
        hkdf.expand(format!("tenant:{tenant}").as_bytes(), &mut key)
            .expect("invariant: 32 bytes is a valid HKDF-SHA256 output length");
        Secret::new(key)
    }

    /// Encrypts `plaintext` for storage, bound to `context`.
    pub fn encrypt(&self, plaintext: &[u8], context: &str) -> String {
        let cipher = XChaCha20Poly1305::new(Key::from_slice(self.inner.tenant_secrets.expose()));
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rng().fill(&mut nonce);
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .expect("invariant: XChaCha20-Poly1305 encryption of an in-memory buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{CIPHERTEXT_VERSION}{}", URL_SAFE_NO_PAD.encode(out))
    }

    /// Decrypts a value made by [`Secrets::encrypt`] with the same `context`.
    pub fn decrypt(&self, stored: &str, context: &str) -> Result<Secret<Vec<u8>>, SecretsError> {
        let bytes = stored
            .strip_prefix(CIPHERTEXT_VERSION)
            .and_then(|b64| URL_SAFE_NO_PAD.decode(b64).ok())
            .filter(|b| b.len() > NONCE_BYTES)
            .ok_or(SecretsError::Decrypt)?;
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let cipher = XChaCha20Poly1305::new(Key::from_slice(self.inner.tenant_secrets.expose()));
        let clear = cipher.decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: context.as_bytes(),
            },
        )?;
        Ok(Secret::new(clear))
    }

    /// [`Secrets::decrypt`] of a value that was sealed as text (API keys, header values).
    pub fn decrypt_text(
        &self,
        stored: &str,
        context: &str,
    ) -> Result<Secret<String>, SecretsError> {
        let clear = self.decrypt(stored, context)?;
        Ok(Secret::new(String::from_utf8(clear.expose().clone())?))
    }
}

/// A new random master key, base64-encoded (what `--secret-key` expects).
pub fn generate_master_key() -> String {
    let mut key = [0u8; KEY_BYTES];
    rand::rng().fill(&mut key);
    STANDARD.encode(key)
}

fn decode_master(encoded: &str) -> Result<[u8; KEY_BYTES], SecretsError> {
    STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| <[u8; KEY_BYTES]>::try_from(bytes).ok())
        .ok_or(SecretsError::BadMasterKey)
}

/// Reads the key file, or creates it (exclusively, mode 0600) if there is none. Two processes starting
/// at once both end up with the file's key: the loser of the create race reads the winner's.
fn load_or_create_key_file(path: &Path) -> Result<[u8; KEY_BYTES], SecretsError> {
    let encoded = read_or_create_key_file(path).map_err(|source| SecretsError::KeyFile {
        path: path.display().to_string(),
        source,
    })?;
    decode_master(&encoded)
}

fn read_or_create_key_file(path: &Path) -> std::io::Result<String> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            let encoded = generate_master_key();
            file.write_all(format!("{encoded}\n").as_bytes())?;
            file.sync_all()?;
            tracing::info!(path = %path.display(), "generated a new server secret key");
            Ok(encoded)
        }
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::read_to_string(path)
        }
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_is_created_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = Secrets::load(None, dir.path()).unwrap();
        let b = Secrets::load(None, dir.path()).unwrap();
        assert_eq!(a.access_token_key(), b.access_token_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join("secret.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let configured = Secrets::load(Some(&generate_master_key()), dir.path()).unwrap();
        assert_ne!(configured.access_token_key(), a.access_token_key());
        assert!(matches!(
            Secrets::load(Some("c2hvcnQ="), dir.path()),
            Err(SecretsError::BadMasterKey)
        ));
    }

    #[test]
    fn subkeys_differ_per_purpose() {
        let secrets = Secrets::from_master(&[7; KEY_BYTES]);
        assert_ne!(secrets.access_token_key(), secrets.session_token_key());
        assert_ne!(secrets.access_token_key(), &[7; KEY_BYTES]);
        let (a, b) = (secrets.blind_index_key("a"), secrets.blind_index_key("b"));
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose(), secrets.blind_index_key("a").expose());
        assert_ne!(a.expose().as_slice(), secrets.recording_url_key());
    }

    #[test]
    fn encryption_round_trips_and_binds_its_context() {
        let secrets = Secrets::from_master(&[1; KEY_BYTES]);
        let sealed = secrets.encrypt(b"twilio-token", "tenant:a:twilio");
        assert!(!sealed.contains("twilio-token"));
        assert_ne!(sealed, secrets.encrypt(b"twilio-token", "tenant:a:twilio"));
        let opened = secrets.decrypt(&sealed, "tenant:a:twilio").unwrap();
        assert_eq!(opened.expose(), b"twilio-token");
        assert!(secrets.decrypt(&sealed, "tenant:b:twilio").is_err());
        let other = Secrets::from_master(&[2; KEY_BYTES]);
        assert!(other.decrypt(&sealed, "tenant:a:twilio").is_err());
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(secrets.decrypt(&tampered, "tenant:a:twilio").is_err());
        assert!(secrets.decrypt("garbage", "tenant:a:twilio").is_err());
    }
}
