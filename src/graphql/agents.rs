//! Agents and their versions.

use async_graphql::connection::Connection;
use async_graphql::{ComplexObject, Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};

use super::context::{ContextExt, tenant};
use super::pagination::{KeysetCursor, PageRequest, connection_complexity};
use crate::agents::{self, AgentChange, AgentConfigInput};
use crate::auth::{Permission, Principal};
use crate::clock::datetime;
use crate::error::{ApiError, ApiResult};
use crate::model::AgentConfig;
use crate::model::agent::{LlmTarget, Tool};
use crate::redact;
use crate::repo;
use crate::repo::agents::{AgentRow, VersionRow};

/// A voice agent.
pub struct Agent(pub AgentRow);

#[Object]
impl Agent {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The version new calls run with.
    async fn active_version(&self) -> i64 {
        self.0.active_version
    }

    /// The active version's configuration.
    async fn config(&self, ctx: &Context<'_>) -> ApiResult<AgentConfig> {
        let version = load_version(ctx, &self.0.id, self.0.active_version).await?;
        Ok(version.0.config)
    }

    /// One version of this agent.
    async fn version(&self, ctx: &Context<'_>, number: i64) -> ApiResult<Option<AgentVersion>> {
        Ok(ctx
            .loaders()?
            .version(&self.0.id, number)
            .await?
            .map(AgentVersion))
    }

    /// Every version, newest first.
    #[graphql(complexity = "connection_complexity(child_complexity, first)")]
    async fn versions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<KeysetCursor, AgentVersion>> {
        let principal = ctx.authorize(Permission::ReadAgents)?;
        let tenant = tenant(ctx, principal).await?;
        let id = self.0.id.clone();
        PageRequest::new(first, after)?
            .load(
                &tenant.db,
                move |conn, after, limit| {
                    repo::agents::list_versions(conn, &id, after.map(|c| c.at), limit)
                },
                |v| KeysetCursor {
                    at: v.version,
                    id: v.agent_id.clone(),
                },
                AgentVersion,
            )
            .await
    }

    /// Archived agents take no new calls.
    async fn archived_at(&self) -> Option<DateTime<Utc>> {
        self.0.archived_at.map(datetime)
    }

    async fn created_at(&self) -> DateTime<Utc> {
        datetime(self.0.created_at)
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        datetime(self.0.updated_at)
    }
}

/// An immutable snapshot of an agent's configuration.
pub struct AgentVersion(pub VersionRow);

#[Object]
impl AgentVersion {
    async fn version(&self) -> i64 {
        self.0.version
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn config(&self) -> &AgentConfig {
        &self.0.config
    }

    /// Why this version exists, e.g. `rollback to version 2`.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }

    async fn created_by(&self) -> &str {
        &self.0.created_by
    }

    async fn created_at(&self) -> DateTime<Utc> {
        datetime(self.0.created_at)
    }
}

/// Tool and LLM URLs may carry credentials in their query or user info; only roles that can edit agents see
/// them whole.
#[ComplexObject]
impl LlmTarget {
    /// Base URL of the Chat Completions API; defaults to the provider's public endpoint. Without EditAgents,
    /// shown without query string and user info.
    async fn base_url(&self, ctx: &Context<'_>) -> String {
        shown_url(ctx, &self.base_url)
    }
}

#[ComplexObject]
impl Tool {
    /// Where a webhook tool is called (http or https). Without EditAgents, shown without query string and
    /// user info.
    async fn url(&self, ctx: &Context<'_>) -> Option<String> {
        self.url.as_deref().map(|url| shown_url(ctx, url))
    }
}

/// `url` as the principal may see it.
pub(super) fn shown_url(ctx: &Context<'_>, url: &str) -> String {
    if ctx.authorize(Permission::EditAgents).is_ok() {
        url.to_owned()
    } else {
        redact::url(url)
    }
}

/// Loads one version through the request's batching loader.
pub async fn load_version(
    ctx: &Context<'_>,
    agent_id: &str,
    version: i64,
) -> ApiResult<AgentVersion> {
    ctx.loaders()?
        .version(agent_id, version)
        .await?
        .map(AgentVersion)
        .ok_or_else(|| ApiError::internal(format!("agent {agent_id} lacks version {version}")))
}

#[derive(Default)]
pub struct AgentQuery;

#[Object]
impl AgentQuery {
    async fn agent(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Agent>> {
        let principal = ctx.authorize(Permission::ReadAgents)?;
        let db = tenant(ctx, principal).await?.db;
        Ok(db
            .read(move |conn| repo::agents::get_agent(conn, &id))
            .await?
            .map(Agent))
    }

    /// Agents, newest first.
    #[graphql(complexity = "connection_complexity(child_complexity, first)")]
    async fn agents(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        #[graphql(default)] include_archived: bool,
    ) -> ApiResult<Connection<KeysetCursor, Agent>> {
        let principal = ctx.authorize(Permission::ReadAgents)?;
        let tenant = tenant(ctx, principal).await?;
        PageRequest::new(first, after)?
            .load(
                &tenant.db,
                move |conn, after, limit| {
                    repo::agents::list_agents(
                        conn,
                        include_archived,
                        after.map(|c| (c.at, c.id)),
                        limit,
                    )
                },
                |a| KeysetCursor {
                    at: a.created_at,
                    id: a.id.clone(),
                },
                Agent,
            )
            .await
    }
}

#[derive(InputObject)]
pub struct CreateAgentInput {
    pub name: String,
    pub config: AgentConfigInput,
}

#[derive(InputObject)]
pub struct UpdateAgentInput {
    /// New name (also versioned).
    pub name: Option<String>,
    /// The complete new configuration (omitted fields take their defaults).
    pub config: Option<AgentConfigInput>,
    /// Fail with CONFLICT unless the agent is still at this version.
    pub expected_version: Option<i64>,
    /// Why the change was made; kept with the version.
    pub note: Option<String>,
}

/// What saving a configuration needs from the server, for the principal's tenant.
fn saving<'a>(ctx: &'a Context<'_>, principal: &Principal) -> agents::Saving<'a> {
    let app = ctx.app();
    agents::Saving {
        tenant: principal.tenant_id,
        outbound: &app.config.outbound,
        secrets: &app.secrets,
    }
}

#[derive(Default)]
pub struct AgentMutation;

#[Object]
impl AgentMutation {
    async fn create_agent(&self, ctx: &Context<'_>, input: CreateAgentInput) -> ApiResult<Agent> {
        let principal = ctx.authorize(Permission::EditAgents)?;
        let db = tenant(ctx, principal).await?.db;
        let saving = saving(ctx, principal);
        let (agent, _) = agents::create(
            &db,
            saving,
            principal.actor.label(),
            &input.name,
            input.config,
        )
        .await?;
        Ok(Agent(agent))
    }

    /// Saves a new version and makes it active.
    async fn update_agent(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateAgentInput,
    ) -> ApiResult<Agent> {
        let principal = ctx.authorize(Permission::EditAgents)?;
        let db = tenant(ctx, principal).await?.db;
        let change = AgentChange {
            name: input.name,
            config: input.config,
            expected_version: input.expected_version,
            note: input.note,
        };
        let (agent, _) = agents::update(
            &db,
            &ctx.app().agents,
            saving(ctx, principal),
            principal.actor.label(),
            id.0,
            change,
        )
        .await?;
        Ok(Agent(agent))
    }

    /// Makes a copy of an earlier version the active one (history is kept).
    async fn rollback_agent(&self, ctx: &Context<'_>, id: ID, version: i64) -> ApiResult<Agent> {
        let principal = ctx.authorize(Permission::EditAgents)?;
        let db = tenant(ctx, principal).await?.db;
        let (agent, _) = agents::rollback(
            &db,
            &ctx.app().agents,
            principal.tenant_id,
            principal.actor.label(),
            id.0,
            version,
        )
        .await?;
        Ok(Agent(agent))
    }

    async fn archive_agent(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Agent> {
        let principal = ctx.authorize(Permission::EditAgents)?;
        let db = tenant(ctx, principal).await?.db;
        Ok(Agent(
            agents::set_archived(&db, &ctx.app().agents, principal.tenant_id, id.0, true).await?,
        ))
    }

    async fn unarchive_agent(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Agent> {
        let principal = ctx.authorize(Permission::EditAgents)?;
        let db = tenant(ctx, principal).await?.db;
        Ok(Agent(
            agents::set_archived(&db, &ctx.app().agents, principal.tenant_id, id.0, false).await?,
        ))
    }
}
