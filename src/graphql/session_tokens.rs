//! `createSessionToken`: ephemeral credentials for browsers and SDKs joining a live call.

use std::time::Duration;

use async_graphql::{Context, ID, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::context::{ContextExt, tenant};
use crate::agents::template;
use crate::auth::Permission;
use crate::auth::tokens::MAX_SESSION_TOKEN_TTL;
use crate::clock::datetime;
use crate::error::{ApiResult, ErrorCode, InvalidInput};
use crate::model::Variables;

/// A live-call session token. It opens the live-call WebSocket for one agent, for minutes, and nothing
/// else (GraphQL refuses it).
#[derive(SimpleObject)]
pub struct SessionToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub agent_id: ID,
}

#[derive(Default)]
pub struct SessionTokenMutation;

#[Object]
impl SessionTokenMutation {
    /// Mints a token valid for `ttlSeconds` (1–600) that lets a browser or SDK connect to a live call
    /// with agent `agentId` without holding a real key. `variables` (a JSON object of names to texts) fill the
    /// agent's `{{placeholders}}`; they travel in the token encrypted. When the agent exists, a placeholder
    /// without a value fails with MISSING_VARIABLES now; the WebSocket checks again when it connects.
    async fn create_session_token(
        &self,
        ctx: &Context<'_>,
        agent_id: ID,
        #[graphql(default = 300)] ttl_seconds: i32,
        variables: Option<Json<serde_json::Value>>,
    ) -> ApiResult<SessionToken> {
        let principal = ctx.authorize(Permission::CreateSessionTokens)?;
        let variables = Variables::from_json(variables.map(|Json(v)| v), "variables")?;
        let invalid = InvalidInput::field;
        let max = MAX_SESSION_TOKEN_TTL.as_secs() as i32;
        if !(1..=max).contains(&ttl_seconds) {
            return Err(invalid(
                "ttlSeconds",
                ErrorCode::OutOfRange,
                "must be between 1 and 600",
            )
            .into());
        }
        if !is_sane_agent_id(&agent_id) {
            return Err(invalid(
                "agentId",
                ErrorCode::InvalidId,
                "must be 1–64 letters, digits, '-' or '_'",
            )
            .into());
        }
        let app = ctx.app();
        let tenant = tenant(ctx, principal).await?;
        if let Ok(agent) = app.agents.active(&tenant.db, tenant.id, &agent_id).await {
            template::check_complete(&agent.version.config, &variables, "variables")?;
        }
        let (token, expires_at) = app.auth.signer().issue_session_with(
            principal.tenant_id,
            &agent_id,
            &principal.actor.label(),
            Duration::from_secs(ttl_seconds.unsigned_abs().into()),
            &variables,
        )?;
        Ok(SessionToken {
            token,
            expires_at: datetime(expires_at.saturating_mul(1000)),
            agent_id,
        })
    }
}

fn is_sane_agent_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
