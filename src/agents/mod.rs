//! Voice agents and their versioned configuration.
//!
//! Every change (configuration or name) writes a new immutable version and points the agent at it;
//! rolling back writes a new version copying an old one, so history only grows. Calls pin the version
//! they ran with. The active configuration, which every call start needs, is served from a cache that
//! changes invalidate.

mod draft;
mod error;
pub mod input;
pub mod llm_keys;
pub mod template;
pub mod tool_headers;
mod urls;
mod validate;

pub use draft::ConfigDraft;
pub use error::AgentError;
pub use input::AgentConfigInput;
pub use validate::is_e164;

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use crate::clock::now_ms;
use crate::db::{Database, TenantId};
use crate::model::AgentConfig;
use crate::outbound::OutboundPolicy;
use crate::repo;
use crate::repo::agents::{AgentRow, VersionRow};
use crate::secrets::Secrets;
use crate::tenants::validate_name;

/// An agent with the configuration it currently runs.
#[derive(Debug, Clone)]
pub struct ActiveAgent {
    pub agent: AgentRow,
    pub version: VersionRow,
}

/// Active agent configurations by tenant and agent id, and agent versions (which never change once saved).
#[derive(Clone)]
pub struct AgentCache {
    active: Cache<(TenantId, String), Arc<ActiveAgent>>,
    versions: Cache<(TenantId, String, i64), Arc<VersionRow>>,
}

impl Default for AgentCache {
    fn default() -> Self {
        Self::new()
    }
}

impl AgentCache {
    pub fn new() -> Self {
        Self {
            active: Cache::builder()
                .max_capacity(50_000)
                // Changes invalidate entries at once; the TTL only bounds memory for agents never used again.
                .time_to_idle(Duration::from_secs(3600))
                .support_invalidation_closures()
                .build(),
            versions: Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(3600))
                .support_invalidation_closures()
                .build(),
        }
    }

    /// Version `version` of agent `agent_id`, if it is cached.
    pub async fn version(
        &self,
        tenant: TenantId,
        agent_id: &str,
        version: i64,
    ) -> Option<Arc<VersionRow>> {
        self.versions
            .get(&(tenant, agent_id.to_string(), version))
            .await
    }

    /// Remembers a version read from the tenant's database.
    pub async fn remember_version(&self, tenant: TenantId, row: Arc<VersionRow>) {
        let key = (tenant, row.agent_id.clone(), row.version);
        self.versions.insert(key, row).await;
    }

    /// The agent and its active version, from the cache or the tenant database.
    pub async fn active(
        &self,
        db: &Database,
        tenant: TenantId,
        agent_id: &str,
    ) -> Result<Arc<ActiveAgent>, Arc<AgentError>> {
        let key = (tenant, agent_id.to_string());
        let id = agent_id.to_string();
        let db = db.clone();
        self.active
            .try_get_with(key, async move {
                let loaded = db
                    .read(move |conn| {
                        let Some(agent) = repo::agents::get_agent(conn, &id)? else {
                            return Ok(None);
                        };
                        let version = repo::agents::get_version(conn, &id, agent.active_version)?
                            .ok_or_else(|| {
                            AgentError::Corrupt(format!("agent {id} lacks its active version"))
                        })?;
                        Ok::<_, AgentError>(Some(ActiveAgent { agent, version }))
                    })
                    .await?;
                loaded.map(Arc::new).ok_or(AgentError::NotFound)
            })
            .await
    }

    /// Forgets every agent of `tenant` (its file was restored to an earlier state, where a version number may
    /// come to mean another version).
    pub fn forget_tenant(&self, tenant: TenantId) {
        if self
            .active
            .invalidate_entries_if(move |(t, _), _| *t == tenant)
            .is_err()
        {
            self.active.invalidate_all();
        }
        if self
            .versions
            .invalidate_entries_if(move |(t, _, _), _| *t == tenant)
            .is_err()
        {
            self.versions.invalidate_all();
        }
    }

    async fn forget(&self, tenant: TenantId, agent_id: &str) {
        self.active
            .invalidate(&(tenant, agent_id.to_string()))
            .await;
    }
}

/// What saving a configuration takes besides the database: where its URLs may lead, and the server key that
/// seals its tools' header values (bound to the tenant).
#[derive(Clone, Copy)]
pub struct Saving<'a> {
    pub tenant: TenantId,
    pub outbound: &'a OutboundPolicy,
    pub secrets: &'a Secrets,
}

impl Saving<'_> {
    /// Checks `input` as agent `agent_id`'s configuration: fields, then URLs. Nothing is stored.
    async fn check(
        &self,
        agent_id: &str,
        input: AgentConfigInput,
    ) -> Result<ConfigDraft, AgentError> {
        let draft = {
            let seal = tool_headers::sealer(self.secrets, self.tenant, agent_id);
            input.into_draft("input.config", &seal)?
        };
        urls::check(draft.config(), self.outbound, "input.config").await?;
        Ok(draft)
    }
}

/// Creates an agent at version 1.
pub async fn create(
    db: &Database,
    saving: Saving<'_>,
    created_by: String,
    name: &str,
    config: AgentConfigInput,
) -> Result<(AgentRow, VersionRow), AgentError> {
    let name = validate_name(name, "input.name")?;
    let id = crate::db::new_id();
    let config = saving.check(&id, config).await?.complete(None);
    let now = now_ms();
    let agent = AgentRow {
        id,
        name: name.clone(),
        active_version: 1,
        archived_at: None,
        created_at: now,
        updated_at: now,
    };
    let version = VersionRow {
        agent_id: agent.id.clone(),
        version: 1,
        name,
        config,
        note: None,
        created_by,
        created_at: now,
    };
    let (a, v) = (agent.clone(), version.clone());
    db.write(move |tx| {
        repo::agents::insert_agent(tx, &a)?;
        repo::agents::insert_version(tx, &v)
    })
    .await?;
    Ok((agent, version))
}

/// A change to an agent: a new name, a new configuration, or both.
#[derive(Debug, Clone, Default)]
pub struct AgentChange {
    pub name: Option<String>,
    pub config: Option<AgentConfigInput>,
    /// Refuse with `CONFLICT` unless this is still the active version (optimistic concurrency).
    pub expected_version: Option<i64>,
    pub note: Option<String>,
}

/// Saves a change as a new version and makes it active.
pub async fn update(
    db: &Database,
    cache: &AgentCache,
    saving: Saving<'_>,
    created_by: String,
    id: String,
    change: AgentChange,
) -> Result<(AgentRow, VersionRow), AgentError> {
    if change.name.is_none() && change.config.is_none() {
        return Err(AgentError::NothingToChange);
    }
    let name = change
        .name
        .as_deref()
        .map(|n| validate_name(n, "input.name"))
        .transpose()?;
    let draft = match change.config {
        Some(config) => Some(saving.check(&id, config).await?),
        None => None,
    };
    let expected = change.expected_version;
    let note = change.note;
    let result = new_version(db, id.clone(), expected, created_by, move |current| {
        (
            name.unwrap_or_else(|| current.name.clone()),
            draft.map_or_else(
                || current.config.clone(),
                |draft| draft.complete(Some(&current.config)),
            ),
            note,
        )
    })
    .await;
    cache.forget(saving.tenant, &id).await;
    result
}

/// Makes a copy of version `to_version` the new active version.
pub async fn rollback(
    db: &Database,
    cache: &AgentCache,
    tenant: TenantId,
    created_by: String,
    id: String,
    to_version: i64,
) -> Result<(AgentRow, VersionRow), AgentError> {
    let agent_id = id.clone();
    let target = db
        .read(move |conn| repo::agents::get_version(conn, &agent_id, to_version))
        .await?
        .ok_or(AgentError::VersionNotFound)?;
    let result = new_version(db, id.clone(), None, created_by, move |_| {
        (
            target.name,
            target.config,
            Some(format!("rollback to version {to_version}")),
        )
    })
    .await;
    cache.forget(tenant, &id).await;
    result
}

async fn new_version(
    db: &Database,
    id: String,
    expected_version: Option<i64>,
    created_by: String,
    make: impl FnOnce(&VersionRow) -> (String, AgentConfig, Option<String>) + Send + 'static,
) -> Result<(AgentRow, VersionRow), AgentError> {
    db.write(move |tx| {
        let mut agent = repo::agents::get_agent(tx, &id)?.ok_or(AgentError::NotFound)?;
        if let Some(expected) = expected_version
            && expected != agent.active_version
        {
            return Err(AgentError::VersionConflict {
                current: agent.active_version,
                expected,
            });
        }
        let current = repo::agents::get_version(tx, &id, agent.active_version)?
            .ok_or_else(|| AgentError::Corrupt(format!("agent {id} lacks its active version")))?;
        let latest = repo::agents::latest_version(tx, &id)?;
        let (name, config, note) = make(&current);
        let now = now_ms();
        let version = VersionRow {
            agent_id: id.clone(),
            version: latest + 1,
            name,
            config,
            note,
            created_by,
            created_at: now,
        };
        repo::agents::insert_version(tx, &version)?;
        repo::agents::set_active_version(tx, &id, version.version, &version.name, now)?;
        agent.active_version = version.version;
        agent.name = version.name.clone();
        agent.updated_at = now;
        Ok((agent, version))
    })
    .await
}

/// Archives (or restores) an agent; archived agents take no new calls and are hidden from lists.
pub async fn set_archived(
    db: &Database,
    cache: &AgentCache,
    tenant: TenantId,
    id: String,
    archived: bool,
) -> Result<AgentRow, AgentError> {
    let agent_id = id.clone();
    let result = db
        .write(move |tx| {
            let mut agent = repo::agents::get_agent(tx, &agent_id)?.ok_or(AgentError::NotFound)?;
            let now = now_ms();
            agent.archived_at = if archived {
                agent.archived_at.or(Some(now))
            } else {
                None
            };
            agent.updated_at = now;
            repo::agents::set_archived(tx, &agent_id, agent.archived_at, now)?;
            Ok::<_, AgentError>(agent)
        })
        .await;
    cache.forget(tenant, &id).await;
    result
}
