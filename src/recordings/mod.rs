//! Call recordings: both sides of a live call in one stereo FLAC file (caller left, agent right, 16 kHz),
//! stored beside the tenant's database as `DATA_DIR/recordings/<tenant>/<call>.flac`, listed in the tenant's
//! `call_recordings`, served through short-lived signed URLs, and deleted after the tenant's retention period.
//!
//! Why FLAC: it is lossless and costs next to no CPU to encode (a fraction of Opus's), which matters on small
//! machines running calls in real time; a 16 kHz call compresses to roughly half its PCM size. The encoder
//! (`flac-codec`, pure Rust) runs on the blocking pool, streaming as the call goes ([`writer`]).
//!
//! Storage is this module alone (paths, files, the replica copy, deletion, signed URLs), so the call pipeline
//! never touches files. Litestream replicates SQLite only; recordings are copied to the same replica root by
//! [`Recordings::replicate`] ([`replica`]), and a recording whose file is not here (a restored or moved tenant)
//! is fetched back from there when it is downloaded.
//!
//! Deleting is two steps, so no copy outlives its call: the row is marked deleted (never served again) in the
//! caller's transaction, then the local file and the replica's copy are removed and the row goes. A replica that
//! cannot be reached leaves the row marked; the replication job retries it.

pub mod replica;
mod timeline;
mod writer;

pub use replica::{Replica, ReplicaError};
pub use writer::CallRecording;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::audio::AudioFormat;
use crate::clock::Clock;
use crate::config::RecordingSettings;
use crate::db::{StorageError, TenantId};
use crate::error::{ErrorCode, Reportable};
use crate::repo;
use crate::repo::recordings::RecordingRow;
use crate::repo::recordings::Unsettled;
use crate::tenants::{Tenant, Tenants};

/// How often the replication job retries what failed (and checks every tenant after a restart).
const RETRY_EVERY: Duration = Duration::from_secs(60);

/// Why a recording cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("no such recording")]
    NotFound,
    #[error("the URL's signature is wrong")]
    BadSignature,
    #[error("the URL has expired; ask for a new one")]
    Expired,
    /// The file is not here and the replica could not be read.
    #[error(transparent)]
    Replica(#[from] ReplicaError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl Reportable for RecordingError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::NotFound => ErrorCode::NotFound,
            Self::BadSignature => ErrorCode::InvalidSignature,
            Self::Expired => ErrorCode::UrlExpired,
            Self::Replica(_) => ErrorCode::ReplicaUnavailable,
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

/// Why a recording could not be removed or copied.
#[derive(Debug, thiserror::Error)]
enum SettleError {
    #[error(transparent)]
    Replica(#[from] ReplicaError),
    #[error(transparent)]
    Storage(#[from] StorageError),
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
    replica: Option<Replica>,
    /// Tenants with recordings to copy to the replica or to remove ([`Recordings::replicate`]).
    unsettled: Mutex<HashSet<TenantId>>,
    wake: Notify,
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
        replica: Option<Replica>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                root,
                key: key.to_vec(),
                settings,
                public_url,
                clock,
                replica,
                unsettled: Mutex::new(HashSet::new()),
                wake: Notify::new(),
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

    /// The recording's key under the replica root.
    fn replica_key(tenant: TenantId, recording: &RecordingRow) -> String {
        format!("recordings/{tenant}/{}", recording.file_name)
    }

    /// The recording's file, fetched from the replica first when it is not here (a tenant restored from the
    /// replica, or moved from another region). `None` when neither has it.
    pub async fn local_file(
        &self,
        tenant: TenantId,
        recording: &RecordingRow,
    ) -> Result<Option<PathBuf>, RecordingError> {
        let path = self.path(tenant, recording);
        if tokio::fs::metadata(&path).await.is_ok() {
            return Ok(Some(path));
        }
        let Some(replica) = &self.inner.replica else {
            return Ok(None);
        };
        let fetched = replica
            .fetch(&Self::replica_key(tenant, recording), &path)
            .await?;
        Ok(fetched.then_some(path))
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

    /// Deletes a call's recording: no longer served from now on, and its files removed here and on the replica
    /// (retried by [`replicate`](Self::replicate) if the replica cannot be reached). False when it had none.
    pub async fn delete(&self, tenant: &Tenant, call_id: String) -> Result<bool, StorageError> {
        let at = self.inner.clock.now_ms();
        let marked = tenant
            .db
            .write(move |tx| repo::recordings::mark_deleted(tx, &call_id, at))
            .await?;
        if marked.is_some() {
            self.remove_deleted(tenant).await;
        }
        Ok(marked.is_some())
    }

    /// Removes the files of `tenant`'s recordings marked deleted, here and on the replica, now (not the copies
    /// still to make: a deletion never waits for uploads). What cannot be removed is left to the replication job.
    pub async fn remove_deleted(&self, tenant: &Tenant) {
        if let Err(e) = self.settle(tenant, false).await {
            tracing::warn!(tenant_id = %tenant.id, error = %e, "deleted recordings' files are left for later");
            self.retry_later(tenant.id);
        }
    }

    /// Asks the replication job to copy `tenant`'s new recordings to the replica (one was just listed).
    pub fn unsettled(&self, tenant: TenantId) {
        self.retry_later(tenant);
        self.inner.wake.notify_one();
    }

    /// Removes `tenant`'s deleted recordings everywhere and, with `copy`, copies new ones to the replica. A
    /// recording that fails is logged and left for the job's next round; the others are still tried.
    async fn settle(&self, tenant: &Tenant, copy: bool) -> Result<(), StorageError> {
        let uncopied = copy && self.inner.replica.is_some();
        let mut failed = false;
        let mut skip = HashSet::new();
        loop {
            let batch = tenant
                .db
                .read(move |conn| repo::recordings::unsettled(conn, uncopied, 100))
                .await?;
            let batch: Vec<Unsettled> = batch
                .into_iter()
                .filter(|u| !skip.contains(&u.row.call_id))
                .collect();
            if batch.is_empty() {
                break;
            }
            for unsettled in batch {
                if let Err(e) = self.settle_one(tenant, &unsettled).await {
                    tracing::warn!(tenant_id = %tenant.id, call_id = unsettled.row.call_id, error = %e,
                        "cannot settle a recording; retrying later");
                    failed = true;
                    skip.insert(unsettled.row.call_id);
                }
            }
        }
        if failed {
            self.retry_later(tenant.id);
        }
        Ok(())
    }

    /// Keeps `tenant` for the job's next round, at most [`RETRY_EVERY`] away, without waking it (a failure
    /// would otherwise be retried at once, in a loop).
    fn retry_later(&self, tenant: TenantId) {
        self.inner
            .unsettled
            .lock()
            .expect("invariant: never poisoned")
            .insert(tenant);
    }

    async fn settle_one(&self, tenant: &Tenant, unsettled: &Unsettled) -> Result<(), SettleError> {
        let row = &unsettled.row;
        let key = Self::replica_key(tenant.id, row);
        let call_id = row.call_id.clone();
        if unsettled.deleted {
            let path = self.path(tenant.id, row);
            match tokio::fs::remove_file(&path).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(ReplicaError::from(e).into());
                }
                _ => {}
            }
            if let Some(replica) = &self.inner.replica {
                replica.delete(&key).await?;
            }
            tenant
                .db
                .write(move |tx| repo::recordings::remove(tx, &call_id))
                .await?;
        } else if let Some(replica) = &self.inner.replica {
            replica.put(&key, &self.path(tenant.id, row)).await?;
            let at = self.inner.clock.now_ms();
            tenant
                .db
                .write(move |tx| repo::recordings::mark_replicated(tx, &call_id, at))
                .await?;
            metrics::counter!("voxedge_recordings_replicated_total").increment(1);
        }
        Ok(())
    }

    /// The replication job: settles tenants as they are named ([`unsettled`](Self::unsettled)), every tenant
    /// with recordings after a start (work a restart interrupted), and retries failures every minute.
    pub async fn replicate(
        self,
        tenants: Tenants,
        draining: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(draining);
        for id in self.tenants_with_recordings() {
            self.retry_later(id);
        }
        loop {
            let due: Vec<TenantId> = self
                .inner
                .unsettled
                .lock()
                .expect("invariant: never poisoned")
                .drain()
                .collect();
            for id in due {
                let tenant = match tenants.open(id).await {
                    Ok(tenant) => tenant,
                    Err(e) => {
                        // Not retried until the next start: a tenant that moved away lands here every time.
                        tracing::warn!(tenant_id = %id, error = %e, "cannot open a tenant to settle its recordings");
                        continue;
                    }
                };
                if let Err(e) = self.settle(&tenant, true).await {
                    tracing::warn!(tenant_id = %id, error = %e, "cannot settle recordings; retrying later");
                    self.retry_later(id);
                }
            }
            tokio::select! {
                () = self.inner.wake.notified() => {}
                () = tokio::time::sleep(RETRY_EVERY) => {}
                () = &mut draining => return,
            }
        }
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
        let at = self.inner.clock.now_ms();
        let mut deleted = 0;
        loop {
            // A batch at a time, each marked in one transaction (marked rows are not older_than's any more).
            let marked = tenant
                .db
                .write(move |tx| {
                    let old = repo::recordings::older_than(tx, before, 100)?;
                    for row in &old {
                        repo::recordings::mark_deleted(tx, &row.call_id, at)?;
                    }
                    Ok::<_, StorageError>(old.len())
                })
                .await?;
            if marked == 0 {
                break;
            }
            deleted += marked;
        }
        if deleted > 0 {
            self.remove_deleted(tenant).await;
        }
        Ok(deleted)
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
