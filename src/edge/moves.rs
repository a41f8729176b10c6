//! `voxedge tenant move`: a tenant's home moves to another region through its Litestream replica.
//!
//! The source (the tenant's home, where the request is routed) drives it:
//!
//! 1. new live calls are refused and running ones get up to [`CALLS_GRACE`] to end;
//! 2. the tenant is frozen: the write in progress finishes, a marker (the move's id) is written as the very
//!    last change, and later writes fail with `TENANT_READ_ONLY` (`Retry-After`; clients retry them, and the
//!    retries reach the new home). Reads go on;
//! 3. the target restores the tenant from the source's replica until the copy shows the marker — so it holds
//!    every change — and keeps it staged;
//! 4. the target activates the copy (it serves the tenant from then on), the source remembers the move in
//!    `region.db` (so it replays the tenant's requests to the target at once) and sets its file aside in
//!    `DATA_DIR/moved/`;
//! 5. the primary records the new home in the catalog, which every region then reads within seconds.
//!
//! If the target cannot take the tenant, the source thaws it and nothing changed.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Edge, EdgeError};
use crate::db::backup::verify_tenant_file;
use crate::db::{AtPath as _, StorageError, TenantId};
use crate::repo;

/// How long running calls get to end before a move gives up.
pub const CALLS_GRACE: Duration = Duration::from_secs(30);
/// How long the target keeps restoring until the replica shows the marker.
const REPLICA_CATCH_UP: Duration = Duration::from_secs(120);

/// What a move did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MoveReport {
    pub tenant_id: String,
    pub from: String,
    pub to: String,
    pub move_id: String,
    /// How long writes were refused.
    pub read_only_ms: u64,
    /// Size of the moved file.
    pub bytes: u64,
    /// Whether the primary recorded the new home (if not, the source still replays to the target; re-run the
    /// move command to retry).
    pub catalog_updated: bool,
}

/// Asks the target to take the tenant from the source's replica.
#[derive(Debug, Serialize, Deserialize)]
pub struct Pull {
    pub from: String,
    pub move_id: String,
}

/// Names the move a step belongs to.
#[derive(Debug, Serialize, Deserialize)]
pub struct MoveStep {
    pub move_id: String,
}

/// The primary's step: the tenant's new home.
#[derive(Debug, Serialize, Deserialize)]
pub struct SetHome {
    pub region: String,
    pub move_id: String,
}

/// The source's side: moves `tenant`, which lives here, to region `to`.
pub async fn move_tenant(edge: &Edge, tenant: TenantId, to: &str) -> Result<MoveReport, EdgeError> {
    let settings = edge.settings();
    let here = settings.region().to_string();
    if to == here {
        return Err(EdgeError::Conflict(format!(
            "tenant {tenant} already lives in {to}"
        )));
    }
    if !settings.multi_region() || !settings.knows(to) {
        return Err(crate::error::InvalidInput::field(
            "to",
            crate::error::ErrorCode::UnknownRegion,
            "is not a region this deployment runs in",
        )
        .into());
    }
    edge.replica()?;
    if !edge.tenants().is_here(tenant) {
        return Err(EdgeError::NotFound);
    }
    let db = edge.tenants().get(tenant).await?;
    let calls = edge.live_calls();
    calls.close(tenant);
    if !calls.wait_idle(tenant, CALLS_GRACE).await {
        calls.reopen(tenant);
        return Err(EdgeError::Conflict(format!(
            "tenant {tenant} still has {} live call(s) after {} s; retry when they have ended",
            calls.live(tenant),
            CALLS_GRACE.as_secs()
        )));
    }
    let move_id = crate::db::new_id();
    let marker = move_id.clone();
    let frozen_at = Instant::now();
    let frozen = db
        .freeze(&format!("moving to {to}"), move |conn| {
            let tx = conn.transaction()?;
            repo::meta::set_move_marker(&tx, &marker)?;
            tx.commit()?;
            Ok(())
        })
        .await;
    if let Err(err) = frozen {
        calls.reopen(tenant);
        return Err(err.into());
    }
    tracing::info!(tenant_id = %tenant, to, move_id = %move_id, "moving tenant: frozen, marker written");
    let handed_over = hand_over(edge, tenant, &here, to, &move_id).await;
    let bytes = match handed_over {
        Ok(bytes) => bytes,
        Err(err) => {
            db.thaw();
            calls.reopen(tenant);
            tracing::warn!(tenant_id = %tenant, to, error = %err, "move failed; the tenant stays here");
            return Err(err);
        }
    };
    // The target serves the tenant now: replay to it, and set the file aside.
    edge.record_move(tenant, Some(to), &move_id).await?;
    let read_only_ms = frozen_at.elapsed().as_millis() as u64;
    edge.tenants().close(tenant).await;
    calls.reopen(tenant);
    set_aside(edge, tenant, &move_id).await?;
    // Pending webhook deliveries went with the file; the target's dispatcher sends them.
    edge.region_db()
        .write(move |tx| repo::webhooks::unqueue_tenant(tx, tenant))
        .await?;
    let catalog_updated = set_home(edge, tenant, to, &move_id).await;
    tracing::info!(tenant_id = %tenant, to, read_only_ms, bytes, catalog_updated, "tenant moved");
    Ok(MoveReport {
        tenant_id: tenant.to_string(),
        from: here,
        to: to.to_string(),
        move_id,
        read_only_ms,
        bytes,
        catalog_updated,
    })
}

/// The target pulls the tenant, then activates it. Returns the file's size.
async fn hand_over(
    edge: &Edge,
    tenant: TenantId,
    here: &str,
    to: &str,
    move_id: &str,
) -> Result<u64, EdgeError> {
    let internal = edge.internal();
    let pulled: Pulled = internal
        .post(
            Some(to),
            &format!("/internal/regions/{to}/tenants/{tenant}/pull"),
            &Pull {
                from: here.to_string(),
                move_id: move_id.to_string(),
            },
            REPLICA_CATCH_UP + Duration::from_secs(60),
        )
        .await?;
    let _: serde_json::Value = internal
        .post(
            Some(to),
            &format!("/internal/regions/{to}/tenants/{tenant}/activate"),
            &MoveStep {
                move_id: move_id.to_string(),
            },
            Duration::from_secs(60),
        )
        .await?;
    Ok(pulled.bytes)
}

/// The target's answer to [`Pull`].
#[derive(Debug, Serialize, Deserialize)]
pub struct Pulled {
    pub bytes: u64,
}

/// Records the new home in the catalog (here on the primary, else through the primary), retrying a little.
async fn set_home(edge: &Edge, tenant: TenantId, to: &str, move_id: &str) -> bool {
    for attempt in 1..=3u64 {
        let result = if edge.settings().is_primary() {
            record_home(edge, tenant, to).await
        } else {
            let primary = edge.settings().primary().to_string();
            edge.internal()
                .post::<serde_json::Value>(
                    Some(&primary),
                    &format!("/internal/primary/tenants/{tenant}/home"),
                    &SetHome {
                        region: to.to_string(),
                        move_id: move_id.to_string(),
                    },
                    Duration::from_secs(30),
                )
                .await
                .map(|_| ())
        };
        match result {
            Ok(()) => return true,
            Err(err) => {
                tracing::warn!(tenant_id = %tenant, attempt, error = %err, "cannot record the new home yet");
                tokio::time::sleep(Duration::from_secs(attempt)).await;
            }
        }
    }
    false
}

/// The primary's step: the catalog names `to` as the tenant's home.
pub async fn record_home(edge: &Edge, tenant: TenantId, to: &str) -> Result<(), EdgeError> {
    let region = to.to_string();
    let updated = edge
        .catalog()
        .write(move |tx| repo::tenants::set_home(tx, tenant, &region))
        .await?;
    if updated {
        Ok(())
    } else {
        Err(EdgeError::NotFound)
    }
}

/// Moves the source's file (and its WAL) to `DATA_DIR/moved/`, out of Litestream's sight, kept for the operator.
async fn set_aside(edge: &Edge, tenant: TenantId, move_id: &str) -> Result<(), EdgeError> {
    let from = edge.tenants().path_of(tenant);
    let dir = edge.data_dir().moved();
    let to = dir.join(format!("{tenant}.{move_id}.db"));
    tokio::task::spawn_blocking(move || -> Result<(), StorageError> {
        std::fs::create_dir_all(&dir).at(&dir)?;
        for suffix in ["", "-wal", "-shm"] {
            let source = PathBuf::from(format!("{}{suffix}", from.display()));
            if source.exists() {
                let target = PathBuf::from(format!("{}{suffix}", to.display()));
                std::fs::rename(&source, &target).at(&source)?;
            }
        }
        Ok(())
    })
    .await??;
    Ok(())
}

/// Where the target stages a pulled tenant until it activates it.
fn staged(edge: &Edge, tenant: TenantId, move_id: &str) -> PathBuf {
    edge.data_dir()
        .staging()
        .join(format!("{tenant}.{move_id}.db"))
}

/// The target's side of [`Pull`]: restores the tenant from the source's replica until it shows the marker.
pub async fn pull(edge: &Edge, tenant: TenantId, ask: Pull) -> Result<Pulled, EdgeError> {
    if edge.tenants().is_here(tenant) {
        return Err(EdgeError::Conflict(format!(
            "tenant {tenant} already lives here"
        )));
    }
    let url = edge.replica()?.tenant(&ask.from, tenant);
    let out = staged(edge, tenant, &ask.move_id);
    let dir = edge.data_dir().staging();
    std::fs::create_dir_all(&dir).at(&dir)?;
    let deadline = Instant::now() + REPLICA_CATCH_UP;
    loop {
        remove_db_files(&out);
        let restored = edge.litestream().restore(&url, &out, None).await;
        if restored.is_ok() && marker_of(&out).await?.as_deref() == Some(ask.move_id.as_str()) {
            break;
        }
        if Instant::now() >= deadline {
            remove_db_files(&out);
            return Err(match restored {
                Err(err) => err,
                Ok(()) => EdgeError::Replica(format!(
                    "the replica of {tenant} never showed the move's last change"
                )),
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let check = out.clone();
    tokio::task::spawn_blocking(move || verify_tenant_file(&check, tenant)).await??;
    let bytes = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    Ok(Pulled { bytes })
}

/// The target's activation: the staged copy becomes the tenant's file here.
pub async fn activate(edge: &Edge, tenant: TenantId, step: MoveStep) -> Result<(), EdgeError> {
    let staged = staged(edge, tenant, &step.move_id);
    if !staged.exists() {
        return Err(EdgeError::Conflict(format!(
            "no staged copy of {tenant} for move {}",
            step.move_id
        )));
    }
    let path = edge.tenants().path_of(tenant);
    let store = edge.tenants().clone();
    tokio::task::spawn_blocking(move || -> Result<(), StorageError> {
        // Opening the writer switches the restored file to WAL and migrates it if it is older.
        store.migrate_file(&staged, tenant)?;
        std::fs::rename(&staged, &path).at(&staged)
    })
    .await??;
    // It may have lived here before and moved away: it is back.
    if edge.moved_to(tenant).is_some() {
        edge.record_move(tenant, None, &step.move_id).await?;
    }
    tracing::info!(tenant_id = %tenant, move_id = %step.move_id, "tenant moved here");
    Ok(())
}

async fn marker_of(path: &std::path::Path) -> Result<Option<String>, EdgeError> {
    let path = path.to_path_buf();
    Ok(
        tokio::task::spawn_blocking(move || -> Result<Option<String>, StorageError> {
            let conn = rusqlite::Connection::open_with_flags(
                &path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )?;
            repo::meta::move_marker(&conn)
        })
        .await??,
    )
}

/// Removes a database file and its sidecars, if present.
pub(crate) fn remove_db_files(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
