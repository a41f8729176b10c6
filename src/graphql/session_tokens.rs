//! `createSessionToken`: ephemeral credentials for browsers and SDKs joining a live call.

use std::time::Duration;

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::context::ContextExt;
use crate::auth::Permission;
use crate::auth::tokens::MAX_SESSION_TOKEN_TTL;
use crate::clock::datetime;
use crate::error::{ApiResult, ErrorCode, InvalidInput};

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
    /// with agent `agentId` without holding a real key. The agent's existence is checked when the
    /// WebSocket connects.
    async fn create_session_token(
        &self,
        ctx: &Context<'_>,
        agent_id: ID,
        #[graphql(default = 300)] ttl_seconds: i32,
    ) -> ApiResult<SessionToken> {
        let principal = ctx.authorize(Permission::CreateSessionTokens)?;
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
        let (token, expires_at) = ctx.app().auth.signer().issue_session(
            principal.tenant_id,
            &agent_id,
            &principal.actor.label(),
            Duration::from_secs(ttl_seconds.unsigned_abs().into()),
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
