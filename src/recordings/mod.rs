//! Call recordings: both sides of a live call in one stereo FLAC file (caller left, agent right, 16 kHz),
//! stored beside the tenant's database as `DATA_DIR/recordings/<tenant>/<call>.flac`, listed in the tenant's
//! `call_recordings`, served through short-lived signed URLs, and deleted after the tenant's retention period.
//!
//! Why FLAC: it is lossless and costs next to no CPU to encode (a fraction of Opus's), which matters on small
//! machines running calls in real time; a 16 kHz call compresses to roughly half its PCM size. The encoder
//! (`flac-codec`, pure Rust) runs on the blocking pool, streaming as the call goes ([`writer`]).
//!
//! Storage is this module alone (paths, files, deletion, signed URLs), so recordings can move — to object
//! storage, or a replicated volume — without touching the call pipeline. Litestream replicates SQLite only: the
//! files are not in its backups; see README "Backups and replication".

mod timeline;
mod writer;

pub use writer::CallRecording;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::audio::AudioFormat;
use crate::clock::Clock;
use crate::config::RecordingSettings;
use crate::db::{StorageError, TenantId};
use crate::error::{ErrorCode, Reportable};
use crate::repo;
use crate::repo::recordings::RecordingRow;
use crate::tenants::Tenant;

/// Why a recording cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("no such recording")]
    NotFound,
    #[error("the URL's signature is wrong")]
    BadSignature,
    #[error("the URL has expired; ask for a new one")]
    Expired,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl Reportable for RecordingError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::NotFound => ErrorCode::NotFound,
            Self::BadSignature => ErrorCode::InvalidSignature,
            Self::Expired => ErrorCode::UrlExpired,
            Self::Storage(e) => e.code(),
        }
    }

    fn inner(&self) -> Option<&dyn Reportable> {
        match self {
            Self::Storage(e) => Some(e),
            _ => None,
        }
    }
}

/// Where recordings live and how their URLs are signed. Cheap to clone.
#[derive(Clone)]
pub struct Recordings {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    key: Vec<u8>,
    settings: RecordingSettings,
    public_url: Option<String>,
    clock: Clock,
}

/// A signed download URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedUrl {
    pub url: String,
    /// Unix seconds.
    pub expires: i64,
}

impl Recordings {
    pub fn new(
        root: PathBuf,
        key: &[u8],
        settings: RecordingSettings,
        public_url: Option<String>,
        clock: Clock,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                root,
                key: key.to_vec(),
                settings,
                public_url,
                clock,
            }),
        }
    }

    fn folder(&self, tenant: TenantId) -> PathBuf {
        self.inner.root.join(tenant.to_string())
    }

    /// Starts recording a live call (`None`, logged, when its folder cannot be made: the call goes on).
    pub fn start(
        &self,
        tenant: TenantId,
        call_id: &str,
        input: AudioFormat,
    ) -> Option<CallRecording> {
        let folder = self.folder(tenant);
        if let Err(e) = std::fs::create_dir_all(&folder) {
            tracing::error!(folder = %folder.display(), error = %e, "cannot create the recordings folder");
            return None;
        }
        let name = format!("{call_id}.flac");
        Some(CallRecording::start(
            call_id,
            folder.join(&name),
            name,
            input,
        ))
    }

    /// The stored file of a recording.
    pub fn path(&self, tenant: TenantId, recording: &RecordingRow) -> PathBuf {
        self.folder(tenant).join(&recording.file_name)
    }

    fn signature(&self, tenant: TenantId, call_id: &str, expires: i64) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.inner.key)
            .expect("invariant: HMAC takes keys of any length");
        mac.update(format!("{tenant}/{call_id}/{expires}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// A URL that downloads the recording without credentials until it expires.
    pub fn signed_url(&self, tenant: TenantId, call_id: &str) -> SignedUrl {
        let ttl = i64::try_from(self.inner.settings.url_ttl.as_secs()).unwrap_or(i64::MAX);
        let expires = self.inner.clock.now_secs().saturating_add(ttl);
        let signature = self.signature(tenant, call_id, expires);
        let origin = self.inner.public_url.as_deref().unwrap_or("");
        SignedUrl {
            url: format!(
                "{origin}/v1/recordings/{tenant}/{call_id}.flac?expires={expires}&signature={signature}"
            ),
            expires,
        }
    }

    /// Checks a download URL's signature and expiry.
    pub fn verify(
        &self,
        tenant: TenantId,
        call_id: &str,
        expires: i64,
        signature: &str,
    ) -> Result<(), RecordingError> {
        let expected = self.signature(tenant, call_id, expires);
        let ok: bool =
            subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), signature.as_bytes()).into();
        if !ok {
            return Err(RecordingError::BadSignature);
        }
        if self.inner.clock.now_secs() > expires {
            return Err(RecordingError::Expired);
        }
        Ok(())
    }

    /// Deletes a call's recording, row then file (a file without a row is never served).
    pub async fn delete(&self, tenant: &Tenant, call_id: String) -> Result<bool, StorageError> {
        let row = tenant
            .db
            .write(move |tx| {
                let row = repo::recordings::get(tx, &call_id)?;
                if let Some(row) = &row {
                    repo::recordings::delete(tx, &row.call_id)?;
                }
                Ok::<_, StorageError>(row)
            })
            .await?;
        let Some(row) = row else { return Ok(false) };
        let path = self.path(tenant.id, &row);
        if let Err(e) = tokio::fs::remove_file(&path).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), error = %e, "cannot delete a recording file");
        }
        Ok(true)
    }

    /// Deletes a tenant's recordings older than its retention period; returns how many.
    pub async fn sweep(&self, tenant: &Tenant) -> Result<usize, StorageError> {
        let default_days = i64::from(self.inner.settings.retention_days);
        let days = tenant
            .db
            .read(repo::recordings::retention_days)
            .await?
            .unwrap_or(default_days);
        let before = self.inner.clock.now_ms() - days.saturating_mul(86_400_000);
        let mut deleted = 0;
        loop {
            let old = tenant
                .db
                .read(move |conn| repo::recordings::older_than(conn, before, 100))
                .await?;
            if old.is_empty() {
                return Ok(deleted);
            }
            for row in old {
                if self.delete(tenant, row.call_id).await? {
                    deleted += 1;
                }
            }
        }
    }

    /// Tenants that have a recordings folder (the only ones the retention job needs to open).
    pub fn tenants_with_recordings(&self) -> Vec<TenantId> {
        std::fs::read_dir(&self.inner.root)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter_map(|e| e.file_name().to_str()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// How often the retention job runs.
    pub fn cleanup_every(&self) -> Duration {
        self.inner.settings.cleanup_every
    }
}
