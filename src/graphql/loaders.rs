//! DataLoaders: a page of calls resolving their agents costs one query for all agents, not one each.
//! A loader is created per request (or WebSocket connection) for the principal's tenant only.

use std::collections::HashMap;

use async_graphql::dataloader::{DataLoader, Loader};

use crate::db::{TenantId, TenantStore};
use crate::error::ApiError;
use crate::repo;
use crate::repo::agents::{AgentRow, VersionRow};

/// Loads rows of one tenant's database in batches.
pub struct TenantLoader {
    tenants: TenantStore,
    tenant: TenantId,
}

/// Key: an agent id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AgentKey(pub String);

/// Key: an agent version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VersionKey(pub String, pub i64);

/// The loader for `tenant`, to attach to a request's data.
pub fn for_tenant(tenants: &TenantStore, tenant: TenantId) -> DataLoader<TenantLoader> {
    DataLoader::new(
        TenantLoader {
            tenants: tenants.clone(),
            tenant,
        },
        tokio::spawn,
    )
}

impl Loader<AgentKey> for TenantLoader {
    type Value = AgentRow;
    type Error = ApiError;

    async fn load(&self, keys: &[AgentKey]) -> Result<HashMap<AgentKey, AgentRow>, ApiError> {
        let db = self.tenants.get(self.tenant).await?;
        let ids: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let rows = db
            .read(move |conn| repo::agents::get_agents(conn, &ids))
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| (AgentKey(row.id.clone()), row))
            .collect())
    }
}

impl Loader<VersionKey> for TenantLoader {
    type Value = VersionRow;
    type Error = ApiError;

    async fn load(&self, keys: &[VersionKey]) -> Result<HashMap<VersionKey, VersionRow>, ApiError> {
        let db = self.tenants.get(self.tenant).await?;
        let pairs: Vec<(String, i64)> = keys.iter().map(|k| (k.0.clone(), k.1)).collect();
        let rows = db
            .read(move |conn| repo::agents::get_versions(conn, &pairs))
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| (VersionKey(row.agent_id.clone(), row.version), row))
            .collect())
    }
}
