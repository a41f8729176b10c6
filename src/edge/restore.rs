//! Restores from the Litestream replica.
//!
//! - [`tenant_to`]: one tenant, to a point in time, while the server runs. Litestream restores the replica as
//!   it was then into a staging file; the copy is checked, then written into the live file through SQLite's
//!   backup API on the tenant's own writer connection. Writes wait meanwhile (the tenant is frozen for that
//!   moment), reads go on, other tenants are untouched. The restore is itself a transaction Litestream
//!   replicates, so the replica keeps the history before it and a restore can be undone the same way.
//! - [`data_dir`]: a whole data directory on a fresh machine: the catalog (kept on the primary, read elsewhere),
//!   then every tenant the catalog homes in this region, then `region.db`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, SecondsFormat, Utc};
use futures::StreamExt as _;
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};

use super::litestream::Litestream;
use super::moves::remove_db_files;
use super::{Edge, EdgeError, EdgeSettings};
use crate::config::DataDir;
use crate::db::backup::{run_backup, verify_tenant_file};
use crate::db::{AtPath as _, StorageError, TenantId};
use crate::error::{ErrorCode, InvalidInput};
use crate::repo;

/// Restore one tenant to `at`.
#[derive(Debug, Serialize, Deserialize)]
pub struct RestoreAt {
    /// RFC 3339.
    pub at: String,
}

/// What [`tenant_to`] did.
#[derive(Debug, Serialize, Deserialize)]
pub struct TenantRestored {
    pub tenant_id: String,
    /// The point in time, as given to Litestream.
    pub at: String,
    pub bytes: u64,
    /// From the request to the end.
    pub took_ms: u64,
    /// How long writes to the tenant waited (the copy into the live file).
    pub unavailable_ms: u64,
}

/// Parses an RFC 3339 time (`2026-01-02T03:04:05Z`), for Litestream's `-timestamp`.
pub fn parse_time(value: &str, field: &str) -> Result<String, InvalidInput> {
    DateTime::parse_from_rfc3339(value.trim())
        .map(|t| {
            t.with_timezone(&Utc)
                .to_rfc3339_opts(SecondsFormat::Millis, true)
        })
        .map_err(|_| {
            InvalidInput::field(
                field,
                ErrorCode::InvalidDatetime,
                "must be an RFC 3339 time, e.g. 2026-01-02T03:04:05Z",
            )
        })
}

/// Restores `tenant`, which lives here, to how its replica was at `at`.
pub async fn tenant_to(
    edge: &Edge,
    tenant: TenantId,
    at: &str,
) -> Result<TenantRestored, EdgeError> {
    let started = Instant::now();
    let at = parse_time(at, "at")?;
    if !edge.tenants().is_here(tenant) {
        return Err(EdgeError::NotFound);
    }
    let url = edge.replica()?.tenant(edge.settings().region(), tenant);
    let dir = edge.data_dir().staging();
    std::fs::create_dir_all(&dir).at(&dir)?;
    let staged = dir.join(format!("{tenant}.restore-{}.db", crate::db::new_ulid()));
    let result = restore_staged(edge, tenant, &url, &staged, &at).await;
    remove_db_files(&staged);
    let (bytes, unavailable_ms) = result?;
    tracing::info!(tenant_id = %tenant, at = %at, bytes, unavailable_ms, "tenant restored to a point in time");
    Ok(TenantRestored {
        tenant_id: tenant.to_string(),
        at,
        bytes,
        took_ms: started.elapsed().as_millis() as u64,
        unavailable_ms,
    })
}

async fn restore_staged(
    edge: &Edge,
    tenant: TenantId,
    url: &str,
    staged: &Path,
    at: &str,
) -> Result<(u64, u64), EdgeError> {
    edge.litestream().restore(url, staged, Some(at)).await?;
    let check = staged.to_path_buf();
    tokio::task::spawn_blocking(move || verify_tenant_file(&check, tenant)).await??;
    let bytes = std::fs::metadata(staged).map(|m| m.len()).unwrap_or(0);
    let db = edge.tenants().get(tenant).await?;
    let source = staged.to_path_buf();
    let copying = Instant::now();
    let copied = db
        .freeze("restoring", move |writer| {
            let source = Connection::open_with_flags(&source, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
            run_backup(&source, writer)
        })
        .await;
    db.thaw();
    copied?;
    let unavailable_ms = copying.elapsed().as_millis() as u64;
    // Reopened on next use: migrated if the restored state is older, and with fresh statement caches.
    edge.tenants().close(tenant).await;
    Ok((bytes, unavailable_ms))
}

/// What [`data_dir`] did.
#[derive(Debug, Serialize)]
pub struct DataDirRestored {
    /// The region whose tenants were restored.
    pub region: String,
    /// Whether the catalog was restored into the data directory (the primary's, or a single server's).
    pub catalog: bool,
    pub region_db: bool,
    pub tenants: Vec<String>,
    /// Tenants the catalog homes here that the replica does not hold (made moments before the loss).
    pub missing: Vec<String>,
    pub took_ms: u64,
}

/// Restores a whole data directory from the replica (as of `at`, or now). The directory must hold no catalog
/// and no tenant yet. With `if_replica_exists`, an empty replica is no error (`None`: a first start).
pub async fn data_dir(
    settings: &EdgeSettings,
    data_dir: &DataDir,
    at: Option<&str>,
    if_replica_exists: bool,
) -> Result<Option<DataDirRestored>, EdgeError> {
    let started = Instant::now();
    let at = at.map(|t| parse_time(t, "at")).transpose()?;
    let root = settings.replica.as_ref().ok_or_else(|| {
        EdgeError::NotConfigured(
            "restoring from the replica needs --replica-url (VOXEDGE_REPLICA_URL)".into(),
        )
    })?;
    refuse_unless_fresh(data_dir)?;
    data_dir.ensure().at(data_dir.root())?;
    let staging = data_dir.staging();
    std::fs::create_dir_all(&staging).at(&staging)?;
    let litestream = Litestream::new(settings.litestream.clone());
    let catalog = staging.join("catalog.restore.db");
    remove_db_files(&catalog);
    if !litestream
        .restore_if_exists(&root.catalog(), &catalog, at.as_deref())
        .await?
    {
        return if if_replica_exists {
            Ok(None)
        } else {
            Err(EdgeError::Replica("the replica holds no catalog".into()))
        };
    }
    let region = settings.region().to_string();
    let primary = settings.is_primary();
    let (home, or_unset) = (region.clone(), primary);
    let listed = catalog.clone();
    let homed = tokio::task::spawn_blocking(move || -> Result<Vec<TenantId>, StorageError> {
        let conn = Connection::open_with_flags(&listed, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        Ok(repo::tenants::list_homed(&conn, &home, or_unset)?
            .into_iter()
            .map(|t| t.id)
            .collect())
    })
    .await??;
    let jobs: Vec<_> = homed
        .into_iter()
        .map(|id| {
            (
                id,
                root.tenant(&region, id),
                data_dir.tenants().join(id.file_name()),
            )
        })
        .collect();
    let restores = jobs.into_iter().map(|(id, url, out)| {
        let litestream = litestream.clone();
        let at = at.clone();
        async move {
            let restored = litestream
                .restore_if_exists(&url, &out, at.as_deref())
                .await;
            (id, restored)
        }
    });
    let mut tenants = Vec::new();
    let mut missing = Vec::new();
    let mut results = futures::stream::iter(restores).buffer_unordered(4);
    while let Some((id, restored)) = results.next().await {
        match restored? {
            true => tenants.push(id.to_string()),
            false => missing.push(id.to_string()),
        }
    }
    let region_db = litestream
        .restore_if_exists(
            &root.region_db(&region),
            &data_dir.region_db(),
            at.as_deref(),
        )
        .await?;
    if primary {
        std::fs::rename(&catalog, data_dir.catalog()).at(&catalog)?;
    } else {
        remove_db_files(&catalog);
    }
    tenants.sort();
    Ok(Some(DataDirRestored {
        region,
        catalog: primary,
        region_db,
        tenants,
        missing,
        took_ms: started.elapsed().as_millis() as u64,
    }))
}

fn refuse_unless_fresh(data_dir: &DataDir) -> Result<(), EdgeError> {
    let has_tenants = std::fs::read_dir(data_dir.tenants())
        .map(|entries| {
            entries
                .flatten()
                .any(|e| e.path().extension().is_some_and(|x| x == "db"))
        })
        .unwrap_or(false);
    let taken: Vec<PathBuf> = [data_dir.catalog(), data_dir.region_db()]
        .into_iter()
        .filter(|p| p.exists())
        .collect();
    if has_tenants || !taken.is_empty() {
        return Err(EdgeError::Conflict(format!(
            "{} already holds data; restore into an empty data directory",
            data_dir.root().display()
        )));
    }
    Ok(())
}
