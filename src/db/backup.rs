//! Online backup and restore with SQLite's backup API.
//!
//! Each file is copied in one backup step, inside one read transaction, so every copy is a consistent
//! snapshot even while a server keeps writing (WAL readers never block writers). A backup directory has
//! the data directory's layout plus `manifest.json`:
//!
//! ```text
//! OUT/manifest.json  OUT/catalog.db  OUT/tenants/<tenant-id>.db
//! ```
//!
//! Restoring copies pages back through the same API into the live file, so a running server sees the
//! restored content on its next query; no file is swapped under an open connection.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};

use super::migrations::{CATALOG, TENANT, user_version};
use super::{AtPath as _, OpenMode, SqliteSettings, StorageError, TenantId, open_writer};
use crate::config::DataDir;
use crate::repo;

/// What a backup directory holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    /// Unix milliseconds when the backup started.
    pub created_at: i64,
    pub voxedge_version: String,
    pub catalog_version: u32,
    pub tenants: Vec<TenantEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TenantEntry {
    pub id: String,
    pub schema_version: u32,
    pub bytes: u64,
}

/// Backs up the catalog and every tenant (or just `only`) into `out`, which must not exist or be empty.
pub fn backup(
    data_dir: &DataDir,
    out: &Path,
    only: Option<TenantId>,
    settings: &SqliteSettings,
) -> Result<Manifest, StorageError> {
    let created_at = crate::clock::now_ms();
    std::fs::create_dir_all(out.join("tenants")).at(out)?;
    if out.join("manifest.json").exists() {
        return Err(StorageError::io(
            out,
            std::io::Error::new(std::io::ErrorKind::AlreadyExists, "already holds a backup"),
        ));
    }
    let catalog_version = copy_consistent(&data_dir.catalog(), &out.join("catalog.db"), settings)?;
    let catalog =
        Connection::open_with_flags(out.join("catalog.db"), OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let ids: Vec<TenantId> = match only {
        Some(id) => {
            repo::tenants::get(&catalog, id)?.ok_or(StorageError::TenantNotFound(id))?;
            vec![id]
        }
        None => repo::tenants::list(&catalog)?
            .into_iter()
            .map(|t| t.id)
            .collect(),
    };
    let mut tenants = Vec::with_capacity(ids.len());
    for id in ids {
        let source = data_dir.tenants().join(id.file_name());
        let target = out.join("tenants").join(id.file_name());
        let schema_version = copy_consistent(&source, &target, settings)?;
        let bytes = std::fs::metadata(&target).at(&target)?.len();
        tenants.push(TenantEntry {
            id: id.to_string(),
            schema_version,
            bytes,
        });
    }
    let manifest = Manifest {
        created_at,
        voxedge_version: env!("CARGO_PKG_VERSION").to_string(),
        catalog_version,
        tenants,
    };
    let path = out.join("manifest.json");
    let json = serde_json::to_vec_pretty(&manifest).expect("invariant: the manifest serialises");
    std::fs::write(&path, json).at(&path)?;
    Ok(manifest)
}

/// What a restore did.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RestoreReport {
    pub catalog_restored: bool,
    pub tenants_restored: Vec<String>,
}

/// Restores from a backup directory into `data_dir`: everything, or one tenant (its file and its catalog
/// row). Tenants that exist only in `data_dir` are left as they are.
pub fn restore(
    data_dir: &DataDir,
    from: &Path,
    only: Option<TenantId>,
    settings: &SqliteSettings,
) -> Result<RestoreReport, StorageError> {
    let manifest_path = from.join("manifest.json");
    let manifest: Manifest =
        std::fs::read(&manifest_path)
            .at(&manifest_path)
            .and_then(|bytes| {
                serde_json::from_slice(&bytes)
                    .map_err(|e| StorageError::Corrupt(format!("{}: {e}", manifest_path.display())))
            })?;
    data_dir.ensure().at(data_dir.root())?;
    let backup_catalog = from.join("catalog.db");
    let mut ids = Vec::new();
    for entry in &manifest.tenants {
        let id: TenantId = entry.id.parse().map_err(|_| {
            StorageError::Corrupt(format!(
                "manifest names an invalid tenant id {:?}",
                entry.id
            ))
        })?;
        if only.is_none_or(|o| o == id) {
            ids.push(id);
        }
    }
    if let Some(id) = only.filter(|_| ids.is_empty()) {
        return Err(StorageError::TenantNotFound(id));
    }
    // Check every file before changing anything, so a damaged backup cannot half-restore.
    for id in &ids {
        verify_tenant_file(&from.join("tenants").join(id.file_name()), *id)?;
    }
    let catalog_restored = only.is_none();
    if catalog_restored {
        copy_into(&backup_catalog, &data_dir.catalog(), CATALOG.kind, settings)?;
    } else if let Some(id) = only {
        let backup =
            Connection::open_with_flags(&backup_catalog, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let record = repo::tenants::get(&backup, id)?.ok_or(StorageError::TenantNotFound(id))?;
        let catalog = open_writer(
            &data_dir.catalog(),
            &CATALOG,
            settings,
            OpenMode::CreateIfMissing,
        )?;
        repo::tenants::upsert(&catalog, &record)?;
    }
    let mut tenants_restored = Vec::new();
    for id in ids {
        copy_into(
            &from.join("tenants").join(id.file_name()),
            &data_dir.tenants().join(id.file_name()),
            TENANT.kind,
            settings,
        )?;
        tenants_restored.push(id.to_string());
    }
    Ok(RestoreReport {
        catalog_restored,
        tenants_restored,
    })
}

/// Copies a live database to `target` as one consistent snapshot. Returns its schema version.
fn copy_consistent(
    source: &Path,
    target: &Path,
    settings: &SqliteSettings,
) -> Result<u32, StorageError> {
    let src = Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    src.busy_timeout(settings.busy_timeout)?;
    let version = user_version(&src)?;
    let tmp = target.with_extension("db.partial");
    let _ = std::fs::remove_file(&tmp);
    let mut dst = Connection::open(&tmp)?;
    run_backup(&src, &mut dst)?;
    // The copy keeps WAL mode; fold everything into the main file so the backup is one self-contained file.
    dst.pragma_update(None, "journal_mode", "delete")?;
    drop(dst);
    std::fs::rename(&tmp, target).at(target)?;
    Ok(version)
}

/// Copies a backup file into `target`, through the backup API when `target` exists (it may be open in a
/// running server), or as a new file when it does not.
fn copy_into(
    backup: &Path,
    target: &Path,
    kind: &str,
    settings: &SqliteSettings,
) -> Result<(), StorageError> {
    let src = Connection::open_with_flags(backup, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    if target.exists() {
        let mut dst = Connection::open_with_flags(target, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        dst.busy_timeout(settings.busy_timeout)?;
        run_backup(&src, &mut dst)?;
    } else {
        let tmp: PathBuf = target.with_extension("db.restoring");
        let _ = std::fs::remove_file(&tmp);
        let mut dst = Connection::open(&tmp)?;
        run_backup(&src, &mut dst)?;
        drop(dst);
        std::fs::rename(&tmp, target).at(target)?;
    }
    tracing::info!(kind, target = %target.display(), "restored");
    Ok(())
}

/// One backup step copying every page, retried while the destination is busy.
pub(crate) fn run_backup(src: &Connection, dst: &mut Connection) -> Result<(), StorageError> {
    let backup = Backup::new(src, dst)?;
    for attempt in 0..50 {
        match backup.step(-1)? {
            StepResult::Done => return Ok(()),
            _ => std::thread::sleep(Duration::from_millis(20 * (attempt + 1).min(10))),
        }
    }
    Err(StorageError::Busy)
}

pub(crate) fn verify_tenant_file(path: &Path, id: TenantId) -> Result<(), StorageError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let version = user_version(&conn)?;
    TENANT.refuse_if_newer(version)?;
    let check: String = conn.query_row("pragma quick_check", [], |row| row.get(0))?;
    if check != "ok" {
        return Err(StorageError::Corrupt(format!(
            "{}: {check}",
            path.display()
        )));
    }
    match repo::meta::tenant_id(&conn)? {
        Some(owner) if owner == id.to_string() => Ok(()),
        owner => Err(StorageError::Corrupt(format!(
            "{} belongs to tenant {owner:?}, not {id}",
            path.display()
        ))),
    }
}
