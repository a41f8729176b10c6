//! Regions: every tenant lives in one home region, the catalog is written in the primary region and read from
//! a Litestream replica everywhere else, and Litestream backs every file up for point-in-time restores and moves.
//!
//! - [`settings`]: this instance's region, the primary, the replica root.
//! - [`Edge`] (here): where a tenant lives ([`Edge::locate`]: the moves this machine made, its own tenant files,
//!   then at most one catalog read), tenants that moved away, audit entries for tenants homed elsewhere.
//! - [`follower`]: the catalog replica outside the primary (`litestream restore -f`), the primary's heartbeat,
//!   and the replication lag; [`freshness`] lets a region wait until its replica holds a credential's session.
//! - [`internal`]: signed requests between regions, through the public origin and Fly's proxy.
//! - [`provision`]: creating a tenant in its home region. [`moves`]: `voxedge tenant move`. [`restore`]:
//!   point-in-time restore of one tenant, and of a whole data directory, from the replica.
//!
//! The HTTP edge (`http::routing`) decides, before any work, whether a request is served here or replayed with
//! `fly-replay`. Fly's proxy does the replaying; Litestream does the copying; nothing here is a replication
//! protocol of its own.

mod error;
pub mod follower;
pub mod freshness;
pub mod internal;
pub mod litestream;
mod live_calls;
pub mod moves;
pub mod provision;
pub mod restore;
pub mod settings;

pub use error::EdgeError;
pub use freshness::Freshness;
pub use live_calls::{CallGuard, LiveCalls};
pub use settings::{EdgeSettings, LOCAL_REGION, ReplicaCredentials, ReplicaRoot};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::audit;
use crate::config::DataDir;
use crate::db::{Database, SqliteSettings, StorageError, TenantId, TenantStore};
use crate::repo;
use internal::Internal;
use litestream::Litestream;

/// Where a tenant lives, as far as this region can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Home {
    /// Served here.
    Here,
    /// Homed in another region.
    Elsewhere(String),
    /// Not in this region's catalog (yet: the replica may be behind the primary).
    Unknown,
}

/// The region services. Cheap to clone.
#[derive(Clone)]
pub struct Edge {
    inner: Arc<Inner>,
}

struct Inner {
    settings: EdgeSettings,
    data_dir: DataDir,
    sqlite: SqliteSettings,
    /// The catalog: writable on the primary, a replica elsewhere.
    catalog: Database,
    /// This machine's own state.
    region_db: Database,
    tenants: TenantStore,
    internal: Internal,
    freshness: Freshness,
    litestream: Litestream,
    /// Live calls per tenant (moves wait for them).
    live_calls: LiveCalls,
    /// Tenants that moved from this machine to another region (from `region.db`).
    moved: std::sync::RwLock<HashMap<TenantId, String>>,
}

/// What `/internal/tenants/{id}/revoke-keys` is asked: revoke the keys one member (or key) made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeysToRevoke {
    /// `user:<id>` or `key:<id>`, as keys record who made them.
    pub creator: String,
    pub at: i64,
}

/// An audit entry sent to a tenant's home region.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Unix ms.
    pub at: i64,
    pub event: audit::Event,
}

impl Edge {
    /// Assembles the services; `region_db` is open, the moves it records are loaded.
    #[allow(clippy::too_many_arguments)]
    pub async fn new(
        settings: EdgeSettings,
        data_dir: DataDir,
        sqlite: SqliteSettings,
        catalog: Database,
        region_db: Database,
        tenants: TenantStore,
        internal: Internal,
        freshness: Freshness,
    ) -> Result<Self, StorageError> {
        let moved = region_db.read(repo::regions::all_moves).await?;
        let litestream = Litestream::new(settings.litestream.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                settings,
                data_dir,
                sqlite,
                catalog,
                region_db,
                tenants,
                internal,
                freshness,
                litestream,
                live_calls: LiveCalls::default(),
                moved: std::sync::RwLock::new(moved.into_iter().collect()),
            }),
        })
    }

    pub fn settings(&self) -> &EdgeSettings {
        &self.inner.settings
    }

    pub fn data_dir(&self) -> &DataDir {
        &self.inner.data_dir
    }

    pub fn sqlite(&self) -> &SqliteSettings {
        &self.inner.sqlite
    }

    pub fn catalog(&self) -> &Database {
        &self.inner.catalog
    }

    pub fn region_db(&self) -> &Database {
        &self.inner.region_db
    }

    pub fn tenants(&self) -> &TenantStore {
        &self.inner.tenants
    }

    pub fn internal(&self) -> &Internal {
        &self.inner.internal
    }

    pub fn freshness(&self) -> &Freshness {
        &self.inner.freshness
    }

    pub fn litestream(&self) -> &Litestream {
        &self.inner.litestream
    }

    pub fn live_calls(&self) -> &LiveCalls {
        &self.inner.live_calls
    }

    /// The replica root, or why there is none.
    pub fn replica(&self) -> Result<&ReplicaRoot, EdgeError> {
        self.inner.settings.replica.as_ref().ok_or_else(|| {
            EdgeError::NotConfigured(
                "no Litestream replica is configured (--replica-url / VOXEDGE_REPLICA_URL)".into(),
            )
        })
    }

    /// Where `tenant` lives: a move this machine made wins, then a tenant file here, then the catalog (one read).
    /// A tenant file is made in the home region before the catalog names it, and a moved tenant's file leaves
    /// before the catalog says so, so the file is the truth for this machine's own tenants.
    pub async fn locate(&self, tenant: TenantId) -> Result<Home, StorageError> {
        if let Some(region) = self.moved_to(tenant) {
            return Ok(Home::Elsewhere(region));
        }
        if self.inner.tenants.is_here(tenant) {
            return Ok(Home::Here);
        }
        let record = self
            .inner
            .catalog
            .read(move |conn| repo::tenants::get(conn, tenant))
            .await?;
        let settings = &self.inner.settings;
        Ok(match record {
            None => Home::Unknown,
            // Tenants made before regions existed belong to the primary.
            Some(t) => match t.home_region.as_deref().unwrap_or(settings.primary()) {
                home if home == settings.region() => Home::Here,
                home => Home::Elsewhere(home.to_string()),
            },
        })
    }

    /// The region `tenant` moved to from this machine, if it did.
    pub fn moved_to(&self, tenant: TenantId) -> Option<String> {
        self.inner
            .moved
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&tenant)
            .cloned()
    }

    /// Remembers (durably) that `tenant` now lives in `region`, or, with `None`, that it lives here again.
    pub async fn record_move(
        &self,
        tenant: TenantId,
        region: Option<&str>,
        move_id: &str,
    ) -> Result<(), StorageError> {
        let (to, id, at) = (
            region.map(String::from),
            move_id.to_string(),
            crate::clock::now_ms(),
        );
        let stored = to.clone();
        self.inner
            .region_db
            .write(move |tx| match &stored {
                Some(to) => repo::regions::record_move(tx, tenant, to, &id, at),
                None => repo::regions::forget_move(tx, tenant),
            })
            .await?;
        let mut moved = self
            .inner
            .moved
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match to {
            Some(to) => moved.insert(tenant, to),
            None => moved.remove(&tenant),
        };
        Ok(())
    }

    /// Revokes the API keys `creator` made in `tenant`, wherever the tenant lives (removing a member is a catalog
    /// change, made in the primary; the keys are in the tenant's own file). Returns the ids revoked.
    pub async fn revoke_keys_created_by(
        &self,
        auth: &crate::auth::Authenticator,
        tenant: TenantId,
        creator: String,
        at: i64,
    ) -> Result<Vec<String>, EdgeError> {
        match self.locate(tenant).await? {
            Home::Here => {
                let db = self.inner.tenants.get(tenant).await?;
                Ok(crate::auth::keys::revoke_created_by(&db, auth, tenant, creator, at).await?)
            }
            Home::Elsewhere(region) => {
                let path = format!("/internal/tenants/{tenant}/revoke-keys");
                let ask = KeysToRevoke { creator, at };
                Ok(self
                    .inner
                    .internal
                    .post(Some(&region), &path, &ask, Duration::from_secs(10))
                    .await?)
            }
            Home::Unknown => Err(EdgeError::NotFound),
        }
    }

    /// Appends an audit entry to `tenant`'s log, wherever it lives (catalog changes are made in the primary,
    /// but a tenant's audit log is in its own file, in its home region).
    pub async fn record_audit(
        &self,
        tenant: TenantId,
        at: i64,
        event: audit::Event,
    ) -> Result<(), EdgeError> {
        match self.locate(tenant).await? {
            Home::Here => {
                let db = self.inner.tenants.get(tenant).await?;
                Ok(audit::record(&db, at, event).await?)
            }
            Home::Elsewhere(region) => {
                let path = format!("/internal/tenants/{tenant}/audit");
                let entry = AuditEntry { at, event };
                let _: serde_json::Value = self
                    .inner
                    .internal
                    .post(Some(&region), &path, &entry, Duration::from_secs(10))
                    .await?;
                Ok(())
            }
            Home::Unknown => Err(EdgeError::NotFound),
        }
    }
}
