//! The open tenant databases.
//!
//! A machine holds tens of thousands of tenants but only a working set is open at once: open databases
//! live in a bounded `moka` cache (capacity + time-to-idle). Evicting an entry drops the cache's handle;
//! the files close as soon as the last in-flight request holding a clone finishes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::future::Cache;
use scheduled_thread_pool::ScheduledThreadPool;

use rusqlite::Connection;

use super::migrations::TENANT;
use super::{
    AtPath as _, ConnectionInit, Database, OpenMode, SqliteSettings, StorageError, TenantId,
    open_writer_with,
};
use crate::repo;
use crate::secrets::Secrets;

/// Bounds of the open-tenant cache.
#[derive(Debug, Clone)]
pub struct TenantCacheSettings {
    /// Maximum number of tenant databases open at once.
    pub capacity: u64,
    /// A tenant not used for this long is closed.
    pub time_to_idle: Duration,
}

impl Default for TenantCacheSettings {
    fn default() -> Self {
        Self {
            capacity: 1024,
            time_to_idle: Duration::from_secs(600),
        }
    }
}

/// Opens, creates and caches tenant databases under `DATA_DIR/tenants/`.
#[derive(Clone)]
pub struct TenantStore {
    inner: Arc<StoreInner>,
}

struct StoreInner {
    dir: PathBuf,
    sqlite: SqliteSettings,
    threads: Arc<ScheduledThreadPool>,
    open: Cache<TenantId, Database>,
    /// Seals and opens personal data in every tenant file ([`crate::pii`]).
    secrets: Secrets,
}

impl TenantStore {
    /// `threads` runs the read pools' housekeeping (shared, instead of threads per tenant); `secrets` seal
    /// personal data in tenant files.
    pub fn new(
        dir: PathBuf,
        sqlite: SqliteSettings,
        cache: &TenantCacheSettings,
        threads: Arc<ScheduledThreadPool>,
        secrets: Secrets,
    ) -> Self {
        let open = Cache::builder()
            .max_capacity(cache.capacity)
            .time_to_idle(cache.time_to_idle)
            .eviction_listener(|id: Arc<TenantId>, db: Database, cause| {
                tracing::debug!(tenant_id = %id, ?cause, "closing tenant database");
                metrics::counter!("voxedge_tenant_evictions_total").increment(1);
                // Closing the last connection checkpoints the WAL and syncs the file: tens of milliseconds that
                // would otherwise land on whichever request's cache lookup ran the eviction.
                match tokio::runtime::Handle::try_current() {
                    Ok(runtime) => drop(runtime.spawn_blocking(move || drop(db))),
                    Err(_) => drop(db),
                }
            })
            .build();
        Self {
            inner: Arc::new(StoreInner {
                dir,
                sqlite,
                threads,
                open,
                secrets,
            }),
        }
    }

    /// Where tenant `id`'s database lives.
    pub fn path_of(&self, id: TenantId) -> PathBuf {
        self.inner.dir.join(id.file_name())
    }

    /// The directory holding every tenant file.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The tenant's open database, opening (and migrating) it on first use. Concurrent first uses of the
    /// same tenant share one open. Failures are not cached: a repaired file works on the next request.
    pub async fn get(&self, id: TenantId) -> Result<Database, StorageError> {
        if let Some(db) = self.inner.open.get(&id).await {
            metrics::counter!("voxedge_cache_hits_total", "cache" => "tenant_db").increment(1);
            return Ok(db);
        }
        metrics::counter!("voxedge_cache_misses_total", "cache" => "tenant_db").increment(1);
        let store = self.clone();
        Ok(self
            .inner
            .open
            .try_get_with(id, async move {
                tokio::task::spawn_blocking(move || store.open_blocking(id)).await?
            })
            .await?)
    }

    fn open_blocking(&self, id: TenantId) -> Result<Database, StorageError> {
        let started = Instant::now();
        let path = self.path_of(id);
        let init = self.connection_init(id);
        let result = open_tenant_writer(&path, id, &self.inner.sqlite, &init).map(|writer| {
            Database::from_writer(
                &path,
                writer,
                &self.inner.sqlite,
                &self.inner.threads,
                Some(init),
            )
        });
        match &result {
            Ok(_) => {
                metrics::histogram!("voxedge_tenant_open_duration_seconds")
                    .record(started.elapsed().as_secs_f64());
            }
            Err(err) => {
                tracing::error!(tenant_id = %id, error = %err, "tenant database refused");
                // `missing` is anyone's unknown tenant id; `refused` is a damaged or too-new file (TENANT_UNAVAILABLE).
                let reason = if matches!(err, StorageError::TenantNotFound(_)) {
                    "missing"
                } else {
                    "refused"
                };
                metrics::counter!("voxedge_tenant_open_failures_total", "reason" => reason)
                    .increment(1);
            }
        }
        result
    }

    /// Creates tenant `id`'s database from the template, recording its id inside the file (blocking work
    /// runs off the async threads).
    pub async fn create(&self, id: TenantId) -> Result<(), StorageError> {
        let path = self.path_of(id);
        let sqlite = self.inner.sqlite.clone();
        let init = self.connection_init(id);
        tokio::task::spawn_blocking(move || {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).at(dir)?;
            }
            Database::create_new(&path, &TENANT, &sqlite, Some(&init), |tx| {
                repo::meta::set_tenant_id(tx, id)
            })
        })
        .await?
    }

    /// What every connection to tenant `id`'s file runs first: its personal-data SQL functions.
    pub fn connection_init(&self, id: TenantId) -> ConnectionInit {
        crate::pii::connection_init(id, self.inner.secrets.clone())
    }

    /// Opens, checks and migrates the tenant file at `path` (blocking; see [`open_tenant_writer`]) without
    /// caching it: `voxedge migrate`, and a moved tenant's staged copy.
    pub fn migrate_file(&self, path: &Path, id: TenantId) -> Result<(), StorageError> {
        let writer = open_tenant_writer(path, id, &self.inner.sqlite, &self.connection_init(id))?;
        writer.close().map_err(|(_, e)| e.into())
    }

    /// True when tenant `id` lives on this machine: its database is open or its file exists.
    pub fn is_here(&self, id: TenantId) -> bool {
        self.inner.open.contains_key(&id) || self.path_of(id).exists()
    }

    /// Tenant `id`'s database if it is open now (without opening it).
    pub async fn get_if_open(&self, id: TenantId) -> Option<Database> {
        self.inner.open.get(&id).await
    }

    /// Closes tenant `id`'s database if it is open (e.g. after a restore replaced the file).
    pub async fn close(&self, id: TenantId) {
        self.inner.open.invalidate(&id).await;
    }

    /// Number of tenant databases currently open.
    pub fn open_count(&self) -> u64 {
        self.inner.open.entry_count()
    }

    /// Applies pending evictions now. moka evicts lazily during cache traffic, so an idle server calls
    /// this periodically to close tenants that went idle.
    pub async fn run_pending_tasks(&self) {
        self.inner.open.run_pending_tasks().await;
    }
}

/// Opens, checks and migrates tenant `id`'s writer connection (blocking), refusing a file that belongs to
/// another tenant (copied or restored to the wrong path) before migrating it: a migration that seals personal
/// data binds it to the tenant, so it must be the file's own. `init` gives the connection the tenant's SQL
/// functions ([`TenantStore::connection_init`]).
pub fn open_tenant_writer(
    path: &Path,
    id: TenantId,
    sqlite: &SqliteSettings,
    init: &ConnectionInit,
) -> Result<Connection, StorageError> {
    if !path.exists() {
        return Err(StorageError::TenantNotFound(id));
    }
    check_owner(path, id)?;
    open_writer_with(path, &TENANT, sqlite, OpenMode::Existing, Some(init))
}

/// Refuses a file whose recorded tenant id is not `id` (read-only: nothing is written to a file refused).
fn check_owner(path: &Path, id: TenantId) -> Result<(), StorageError> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let version = super::migrations::user_version(&conn)?;
    if version == 0 {
        // Not a tenant file at all: `open_writer` says so with the right error.
        return Ok(());
    }
    let owner = repo::meta::tenant_id(&conn)?;
    if owner.as_deref() != Some(id.to_string().as_str()) {
        return Err(StorageError::Corrupt(format!(
            "{} belongs to tenant {owner:?}, not {id}",
            path.display()
        )));
    }
    Ok(())
}
