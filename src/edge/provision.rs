//! Creating a tenant in its home region: the file there first (directly, or by asking that region), then the
//! catalog row, written where the catalog is (the primary). A crash in between leaves an orphan file that
//! nothing references, as on a single server.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Edge, EdgeError};
use crate::auth::keys;
use crate::db::{TenantId, TenantStore};
use crate::error::{ErrorCode, InvalidInput};
use crate::model::Role;
use crate::repo::tenants::TenantRecord;
use crate::tenants;

/// A new tenant and, when asked for, its first owner key (shown once).
#[derive(Debug)]
pub struct Provisioned {
    pub record: TenantRecord,
    pub owner_key: Option<String>,
}

/// What a home region is asked to do for a new tenant.
#[derive(Debug, Serialize, Deserialize)]
pub struct CreateFile {
    /// Also issue an owner API key (the CLI's `tenant create`).
    pub owner_key: bool,
}

/// What it answers.
#[derive(Debug, Serialize, Deserialize)]
pub struct FileCreated {
    pub api_key: Option<String>,
}

/// Creates tenant `name` homed in `home` (`None`: this region), reporting a bad region on `field`. Runs where
/// the catalog is written.
pub async fn provision(
    edge: &Edge,
    name: &str,
    home: Option<&str>,
    field: &str,
    owner_key: bool,
) -> Result<Provisioned, EdgeError> {
    let settings = edge.settings();
    let requested = home;
    let home = home.unwrap_or_else(|| settings.region());
    if settings.multi_region() && home != settings.region() && !settings.knows(home) {
        let known = if settings.regions.is_empty() {
            "a region code such as fra".to_string()
        } else {
            settings.regions.join(", ")
        };
        return Err(InvalidInput::field(
            field,
            ErrorCode::UnknownRegion,
            format!("must be one of: {known}"),
        )
        .into());
    }
    // A single server keeps every tenant, recording the region it was asked for (or its own, if it has one).
    let stored_home = match settings.multi_region() {
        true => Some(home.to_string()),
        false => requested
            .map(String::from)
            .or_else(|| settings.region.clone()),
    };
    let name = tenants::validate_name(name, "name")?;
    if !settings.multi_region() || home == settings.region() {
        let record = tenants::provision(edge.catalog(), edge.tenants(), &name, stored_home).await?;
        let owner_key = match owner_key {
            true => Some(issue_owner_key(edge.tenants(), record.id).await?),
            false => None,
        };
        return Ok(Provisioned { record, owner_key });
    }
    let id = TenantId::generate();
    let created: FileCreated = edge
        .internal()
        .post(
            Some(home),
            &format!("/internal/regions/{home}/tenants/{id}"),
            &CreateFile { owner_key },
            Duration::from_secs(30),
        )
        .await?;
    let record = tenants::register(edge.catalog(), id, name, stored_home).await?;
    tracing::info!(tenant_id = %id, region = home, "tenant created in its home region");
    Ok(Provisioned {
        record,
        owner_key: created.api_key,
    })
}

/// The home region's half: the tenant's file (and an owner key when asked).
pub async fn create_file(
    store: &TenantStore,
    id: TenantId,
    ask: CreateFile,
) -> Result<FileCreated, EdgeError> {
    if store.is_here(id) {
        return Err(EdgeError::Conflict(format!(
            "tenant {id} already has a file here"
        )));
    }
    store.create(id).await?;
    let api_key = match ask.owner_key {
        true => Some(issue_owner_key(store, id).await?),
        false => None,
    };
    Ok(FileCreated { api_key })
}

async fn issue_owner_key(store: &TenantStore, id: TenantId) -> Result<String, EdgeError> {
    let db = store.get(id).await?;
    let new = keys::NewApiKey {
        name: "owner key (CLI)".into(),
        role: Role::Owner,
        expires_at: None,
    };
    Ok(keys::create(&db, id, Role::Owner, "cli".into(), new)
        .await?
        .key)
}
