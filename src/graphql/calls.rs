//! Calls, their timelines and transcripts.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Json, Object};
use chrono::{DateTime, Utc};

use super::agents::{Agent, AgentVersion, load_version};
use super::analysis::CallAnalysis;
use super::billing_types::{CallCostLine, Money};
use super::context::{ContextExt, tenant};
use super::pagination::{KeysetCursor, PageRequest, connection_complexity};
use super::recordings::CallRecording;
use crate::auth::Permission;
use crate::calls::{self, NewCall};
use crate::clock::datetime;
use crate::error::{ApiError, ApiResult, ErrorCode, InvalidInput};
use crate::model::analysis::Sentiment;
use crate::model::{CallStatus, Direction, Speaker, Transport};
use crate::repo;
use crate::repo::calls::{CallEventRow, CallFilter, CallRow, NewSegment, SegmentRow};

/// A phone or web conversation with an agent.
pub struct Call(pub CallRow);

impl Call {
    /// The call's cost; `ReadBilling` only.
    async fn priced(&self, ctx: &Context<'_>) -> ApiResult<crate::billing::usage::Cost> {
        let principal = ctx.authorize(Permission::ReadBilling)?;
        let tenant = tenant(ctx, principal).await?;
        Ok(crate::billing::usage::call_cost(&ctx.app().billing, &tenant, &self.0).await?)
    }
}

#[Object]
impl Call {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    /// The agent (batched: a page of calls loads its agents in one query).
    async fn agent(&self, ctx: &Context<'_>) -> ApiResult<Agent> {
        ctx.loaders()?
            .agents
            .load(self.0.agent_id.clone())
            .await?
            .map(Agent)
            .ok_or_else(|| ApiError::internal(format!("call {} has no agent", self.0.id)))
    }

    /// The agent version the call ran with.
    async fn agent_version(&self, ctx: &Context<'_>) -> ApiResult<AgentVersion> {
        load_version(ctx, &self.0.agent_id, self.0.agent_version).await
    }

    async fn direction(&self) -> Direction {
        self.0.direction
    }

    async fn transport(&self) -> Transport {
        self.0.transport
    }

    /// Caller's number (E.164) or client label. Roles without ReadPhoneNumbers (viewers) see numbers masked
    /// (`+1 415 ••• 0199`) and labels hidden (`•••`).
    async fn from(&self, ctx: &Context<'_>) -> Option<String> {
        self.0.from_address.as_deref().map(|v| ctx.phone_number(v))
    }

    /// The number called (E.164) or a label; masked like `from`.
    async fn to(&self, ctx: &Context<'_>) -> Option<String> {
        self.0.to_address.as_deref().map(|v| ctx.phone_number(v))
    }

    async fn status(&self) -> CallStatus {
        self.0.status
    }

    /// Why the call ended (`caller_hangup`, `max_duration`, `silence_timeout`, ...).
    async fn ended_reason(&self) -> Option<&str> {
        self.0.ended_reason.as_deref()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        datetime(self.0.created_at)
    }

    /// When the call connected.
    async fn answered_at(&self) -> Option<DateTime<Utc>> {
        self.0.answered_at.map(datetime)
    }

    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.0.ended_at.map(datetime)
    }

    /// From answer to end, in milliseconds (0 if never answered).
    async fn duration_ms(&self) -> Option<i64> {
        self.0.duration_ms
    }

    async fn metadata(&self) -> Json<&serde_json::Value> {
        Json(&self.0.metadata)
    }

    /// What the call cost: its usage at the tenant's unit prices on the day it was made (list price, before
    /// the plan's included quantities, which only the month's invoice applies), rounded half-even to the
    /// cent per metric. Owners, admins and billing members only.
    async fn cost(&self, ctx: &Context<'_>) -> ApiResult<Money> {
        let cost = self.priced(ctx).await?;
        Ok(Money::cents(cost.total, &cost.currency))
    }

    /// The cost by metric. Owners, admins and billing members only.
    async fn cost_breakdown(&self, ctx: &Context<'_>) -> ApiResult<Vec<CallCostLine>> {
        let cost = self.priced(ctx).await?;
        let currency = cost.currency.clone();
        Ok(cost
            .lines
            .into_iter()
            .map(|line| CallCostLine::new(line, &currency))
            .collect())
    }

    /// What the agent's `{{placeholders}}` were filled with (given when the call was placed or its session
    /// token minted, plus `caller_number` / `called_number` on phone calls, masked like `from`).
    async fn variables(&self, ctx: &Context<'_>) -> ApiResult<Json<serde_json::Value>> {
        let principal = ctx.authorize(Permission::ReadCalls)?;
        let db = tenant(ctx, principal).await?.db;
        let id = self.0.id.clone();
        let variables = db
            .read(move |conn| repo::call_variables::get(conn, &id))
            .await?;
        Ok(Json(
            variables
                .map_phone_numbers(|n| ctx.phone_number(n))
                .to_json(),
        ))
    }

    /// The post-call analysis (agents with `analysis.enabled`, answered calls, once ended).
    async fn analysis(&self, ctx: &Context<'_>) -> ApiResult<Option<CallAnalysis>> {
        let principal = ctx.authorize(Permission::ReadCalls)?;
        let db = tenant(ctx, principal).await?.db;
        let id = self.0.id.clone();
        let row = db.read(move |conn| repo::analysis::get(conn, &id)).await?;
        Ok(row.map(CallAnalysis))
    }

    /// The call's recording (live calls of agents that record), once the call has ended.
    async fn recording(&self, ctx: &Context<'_>) -> ApiResult<Option<CallRecording>> {
        super::recordings::load(ctx, &self.0.id).await
    }

    /// The call's timeline, oldest first.
    #[graphql(complexity = "connection_complexity(child_complexity, first)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<KeysetCursor, CallEvent>> {
        let principal = ctx.authorize(Permission::ReadCalls)?;
        let tenant = tenant(ctx, principal).await?;
        let id = self.0.id.clone();
        PageRequest::new(first, after)?
            .load(
                &tenant.db,
                move |conn, after, limit| {
                    repo::calls::list_events(conn, &id, after.map_or(0, |c| c.at), limit)
                },
                |e| KeysetCursor {
                    at: e.seq,
                    id: e.call_id.clone(),
                },
                CallEvent,
            )
            .await
    }

    /// What was said, in order.
    #[graphql(complexity = "connection_complexity(child_complexity, first)")]
    async fn transcript(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<KeysetCursor, TranscriptSegment>> {
        let principal = ctx.authorize(Permission::ReadCalls)?;
        let tenant = tenant(ctx, principal).await?;
        let id = self.0.id.clone();
        PageRequest::new(first, after)?
            .load(
                &tenant.db,
                move |conn, after, limit| {
                    repo::calls::list_segments(conn, &id, after.map_or(0, |c| c.at), limit)
                },
                |s| KeysetCursor {
                    at: s.seq,
                    id: s.call_id.clone(),
                },
                TranscriptSegment,
            )
            .await
    }
}

/// One entry of a call's timeline.
pub struct CallEvent(pub CallEventRow);

#[Object]
impl CallEvent {
    /// 1, 2, 3, ... within the call.
    async fn seq(&self) -> i64 {
        self.0.seq
    }

    /// `created`, `status_changed`, `speech_started`, `interruption`, `tool_called`, ...
    #[graphql(name = "type")]
    async fn kind(&self) -> &str {
        &self.0.kind
    }

    async fn data(&self) -> Json<&serde_json::Value> {
        Json(&self.0.data)
    }

    async fn at(&self) -> DateTime<Utc> {
        datetime(self.0.at)
    }
}

/// A stretch of speech by the caller or the agent.
pub struct TranscriptSegment(pub SegmentRow);

#[Object]
impl TranscriptSegment {
    async fn call_id(&self) -> ID {
        ID(self.0.call_id.clone())
    }

    /// Order within the call (1, 2, 3, ...); a later segment with the same seq replaces this one.
    async fn seq(&self) -> i64 {
        self.0.seq
    }

    async fn speaker(&self) -> Speaker {
        self.0.speaker
    }

    async fn text(&self) -> &str {
        &self.0.text
    }

    /// Offset from the start of the call, in milliseconds.
    async fn start_ms(&self) -> i64 {
        self.0.start_ms
    }

    async fn end_ms(&self) -> i64 {
        self.0.end_ms
    }

    /// Recognition confidence, 0–1 (caller speech).
    async fn confidence(&self) -> Option<f64> {
        self.0.confidence
    }

    /// False while the text may still change.
    async fn is_final(&self) -> bool {
        self.0.is_final
    }
}

/// Which calls to list. All given conditions must hold.
#[derive(InputObject, Default)]
pub struct CallFilterInput {
    #[graphql(default)]
    pub status: Vec<CallStatus>,
    pub agent_id: Option<ID>,
    pub direction: Option<Direction>,
    /// Created at or after.
    pub created_after: Option<DateTime<Utc>>,
    /// Created before.
    pub created_before: Option<DateTime<Utc>>,
    /// Every word must occur in the call's transcript.
    pub text: Option<String>,
    /// The post-call analysis judged the call a success (true) or not (false).
    pub success: Option<bool>,
    /// The post-call analysis found the caller's sentiment to be this.
    pub sentiment: Option<Sentiment>,
    /// Every word must occur in the post-call analysis summary.
    pub summary: Option<String>,
    /// The call was from or to this phone number (E.164; spaces, dashes and parentheses are ignored). Exact
    /// match only: numbers are stored sealed, and matched through a keyed index.
    pub number: Option<String>,
}

impl CallFilterInput {
    pub fn into_filter(self) -> Result<CallFilter, InvalidInput> {
        let transcript_terms = match self.text {
            Some(text) => {
                let terms = calls::fts_terms(&text);
                if terms.is_empty() {
                    return Err(InvalidInput::field(
                        "filter.text",
                        ErrorCode::EmptyQuery,
                        "give at least one word",
                    ));
                }
                terms
            }
            None => Vec::new(),
        };
        let summary_terms = match self.summary {
            Some(text) => {
                let words: Vec<String> = text
                    .split(|c: char| !c.is_alphanumeric() && c != '\'')
                    .filter(|w| !w.is_empty())
                    .take(32)
                    .map(str::to_lowercase)
                    .collect();
                if words.is_empty() {
                    return Err(InvalidInput::field(
                        "filter.summary",
                        ErrorCode::EmptyQuery,
                        "give at least one word",
                    ));
                }
                words
            }
            None => Vec::new(),
        };
        let number = match self.number {
            Some(number) => Some(crate::pii::normalize(&number).ok_or_else(|| {
                InvalidInput::field(
                    "filter.number",
                    ErrorCode::InvalidPhoneNumber,
                    "must be an E.164 number such as +14155550123",
                )
            })?),
            None => None,
        };
        Ok(CallFilter {
            number,
            success: self.success,
            sentiment: self.sentiment,
            summary_terms,
            statuses: self.status,
            agent_id: self.agent_id.map(|id| id.0),
            direction: self.direction,
            created_after: self.created_after.map(|t| t.timestamp_millis()),
            created_before: self.created_before.map(|t| t.timestamp_millis()),
            transcript_terms,
        })
    }
}

#[derive(InputObject)]
pub struct CreateCallInput {
    pub agent_id: ID,
    pub direction: Direction,
    pub transport: Transport,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Your own data, returned with the call and in webhooks (a JSON object, ≤ 16 KiB).
    pub metadata: Option<Json<serde_json::Value>>,
}

#[derive(InputObject)]
pub struct TranscriptSegmentInput {
    pub seq: i64,
    pub speaker: Speaker,
    pub text: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub confidence: Option<f64>,
    #[graphql(default = true)]
    pub is_final: bool,
}

#[derive(Default)]
pub struct CallQuery;

#[Object]
impl CallQuery {
    async fn call(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Call>> {
        let principal = ctx.authorize(Permission::ReadCalls)?;
        let db = tenant(ctx, principal).await?.db;
        Ok(db
            .read(move |conn| repo::calls::get_call(conn, &id))
            .await?
            .map(Call))
    }

    /// Calls, newest first. Cursors stay valid while new calls arrive.
    #[graphql(complexity = "connection_complexity(child_complexity, first)")]
    async fn calls(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<CallFilterInput>,
    ) -> ApiResult<Connection<KeysetCursor, Call>> {
        let principal = ctx.authorize(Permission::ReadCalls)?;
        let page = PageRequest::new(first, after)?;
        let filter = filter.unwrap_or_default().into_filter()?;
        let tenant = tenant(ctx, principal).await?;
        page.load(
            &tenant.db,
            move |conn, after, limit| {
                repo::calls::list_calls(conn, &filter, after.map(|c| (c.at, c.id)), limit)
            },
            |c| KeysetCursor {
                at: c.created_at,
                id: c.id.clone(),
            },
            Call,
        )
        .await
    }
}

#[derive(Default)]
pub struct CallMutation;

#[Object]
impl CallMutation {
    /// Creates a call record (queued) for an agent, pinned to its active version. Live-call endpoints
    /// create calls themselves; use this to record calls placed through your own telephony.
    async fn create_call(&self, ctx: &Context<'_>, input: CreateCallInput) -> ApiResult<Call> {
        let principal = ctx.authorize(Permission::ManageCalls)?;
        let tenant = tenant(ctx, principal).await?;
        let call = calls::create(
            &tenant,
            NewCall {
                agent_id: input.agent_id.0,
                direction: input.direction,
                transport: input.transport,
                from: input.from,
                to: input.to,
                metadata: input
                    .metadata
                    .map_or_else(|| serde_json::json!({}), |Json(m)| m),
                variables: Default::default(),
            },
        )
        .await?;
        Ok(Call(call))
    }

    /// Moves a call through its state machine; illegal transitions fail with INVALID_STATE_TRANSITION.
    async fn update_call_status(
        &self,
        ctx: &Context<'_>,
        id: ID,
        status: CallStatus,
        reason: Option<String>,
    ) -> ApiResult<Call> {
        let principal = ctx.authorize(Permission::ManageCalls)?;
        let tenant = tenant(ctx, principal).await?;
        Ok(Call(
            calls::transition(&tenant, id.0, status, reason).await?,
        ))
    }

    /// Deletes an ended call: its transcript, timeline, analysis, numbers, metadata and recording are erased
    /// (CALL_IN_PROGRESS while it is on). Usage it was billed for stays. Returns the call's id.
    async fn delete_call(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ID> {
        let principal = ctx.authorize(Permission::ManageCalls)?;
        let tenant = tenant(ctx, principal).await?;
        calls::delete(&tenant, &ctx.app().recordings, id.0.clone()).await?;
        Ok(id)
    }

    /// Adds transcript segments to a call (≤ 500 at once); a segment with an existing seq replaces it.
    async fn add_transcript_segments(
        &self,
        ctx: &Context<'_>,
        call_id: ID,
        segments: Vec<TranscriptSegmentInput>,
    ) -> ApiResult<Vec<TranscriptSegment>> {
        let principal = ctx.authorize(Permission::ManageCalls)?;
        let segments = segments
            .into_iter()
            .map(|s| NewSegment {
                seq: s.seq,
                speaker: s.speaker,
                text: s.text,
                start_ms: s.start_ms,
                end_ms: s.end_ms,
                confidence: s.confidence,
                is_final: s.is_final,
            })
            .collect();
        let tenant = tenant(ctx, principal).await?;
        let stored = calls::add_segments(&tenant, call_id.0, segments, Vec::new()).await?;
        Ok(stored.into_iter().map(TranscriptSegment).collect())
    }
}
