//! Calls, their timelines and transcripts, and transcript search.

use async_graphql::connection::{Connection, CursorType, Edge};
use async_graphql::{Context, ID, InputObject, Json, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::agents::{Agent, AgentVersion, load_version};
use super::context::{ContextExt, tenant_db};
use super::loaders::AgentKey;
use super::pagination::{KeysetCursor, PageRequest, connection_complexity};
use super::scalars::datetime;
use crate::auth::Permission;
use crate::calls::{self, CallStatus, Direction, NewCall, Speaker, Transport};
use crate::error::{ApiError, FieldError};
use crate::repo;
use crate::repo::calls::{CallEventRow, CallFilter, CallRow, NewSegment, SegmentRow};

/// A phone or web conversation with an agent.
pub struct Call(pub CallRow);

#[Object]
impl Call {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    /// The agent (batched: a page of calls loads its agents in one query).
    async fn agent(&self, ctx: &Context<'_>) -> Result<Agent> {
        ctx.loader()?
            .load_one(AgentKey(self.0.agent_id.clone()))
            .await?
            .map(Agent)
            .ok_or_else(|| ApiError::internal(format!("call {} has no agent", self.0.id)).into())
    }

    /// The agent version the call ran with.
    async fn agent_version(&self, ctx: &Context<'_>) -> Result<AgentVersion> {
        load_version(ctx, &self.0.agent_id, self.0.agent_version).await
    }

    async fn direction(&self) -> Direction {
        self.0.direction
    }

    async fn transport(&self) -> Transport {
        self.0.transport
    }

    /// Caller's number (E.164) or client label.
    async fn from(&self) -> Option<&str> {
        self.0.from_address.as_deref()
    }

    async fn to(&self) -> Option<&str> {
        self.0.to_address.as_deref()
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

    /// The call's timeline, oldest first.
    #[graphql(complexity = "connection_complexity(child_complexity, first)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<KeysetCursor, CallEvent>> {
        let principal = ctx.authorize(Permission::ReadCalls)?;
        let page = PageRequest::new(first, after)?;
        let db = tenant_db(ctx, principal).await?;
        let (id, after_seq, limit) = (
            self.0.id.clone(),
            page.after.as_ref().map_or(0, |c| c.at),
            page.fetch_limit(),
        );
        let rows = db
            .read(move |conn| {
                repo::calls::list_events(conn, &id, after_seq, limit).map_err(ApiError::from)
            })
            .await?;
        Ok(page.connection(
            rows,
            |e| KeysetCursor {
                at: e.seq,
                id: e.call_id.clone(),
            },
            CallEvent,
        ))
    }

    /// What was said, in order.
    #[graphql(complexity = "connection_complexity(child_complexity, first)")]
    async fn transcript(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<KeysetCursor, TranscriptSegment>> {
        let principal = ctx.authorize(Permission::ReadCalls)?;
        let page = PageRequest::new(first, after)?;
        let db = tenant_db(ctx, principal).await?;
        let (id, after_seq, limit) = (
            self.0.id.clone(),
            page.after.as_ref().map_or(0, |c| c.at),
            page.fetch_limit(),
        );
        let rows = db
            .read(move |conn| {
                repo::calls::list_segments(conn, &id, after_seq, limit).map_err(ApiError::from)
            })
            .await?;
        Ok(page.connection(
            rows,
            |s| KeysetCursor {
                at: s.seq,
                id: s.call_id.clone(),
            },
            TranscriptSegment,
        ))
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
}

impl CallFilterInput {
    pub fn into_filter(self) -> Result<CallFilter, ApiError> {
        let transcript_terms = match self.text {
            Some(text) => {
                let terms = calls::fts_terms(&text);
                if terms.is_empty() {
                    return Err(ApiError::invalid_input(vec![FieldError {
                        field: "filter.text".into(),
                        code: "EMPTY_QUERY",
                        message: "give at least one word".into(),
                    }]));
                }
                terms
            }
            None => Vec::new(),
        };
        Ok(CallFilter {
            statuses: self.status,
            agent_id: self.agent_id.map(|id| id.0),
            direction: self.direction,
            created_after: self.created_after.map(|t| t.timestamp_millis()),
            created_before: self.created_before.map(|t| t.timestamp_millis()),
            transcript_terms,
        })
    }
}

/// A transcript search result.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct TranscriptHit {
    /// The segment's text around the match, with matches wrapped in the highlight markers.
    pub snippet: String,
    /// Relevance (bm25; lower is better).
    pub rank: f64,
    #[graphql(skip)]
    segment: SegmentRow,
}

#[async_graphql::ComplexObject]
impl TranscriptHit {
    async fn segment(&self) -> TranscriptSegment {
        TranscriptSegment(self.segment.clone())
    }

    async fn call(&self, ctx: &Context<'_>) -> Result<Call> {
        let principal = ctx.authorize(Permission::ReadCalls)?;
        let db = tenant_db(ctx, principal).await?;
        let id = self.segment.call_id.clone();
        db.read(move |conn| repo::calls::get_call(conn, &id).map_err(ApiError::from))
            .await?
            .map(Call)
            .ok_or_else(|| ApiError::not_found("call").into())
    }
}

/// What wraps each match in a search snippet.
#[derive(InputObject)]
pub struct HighlightInput {
    #[graphql(default = "<mark>")]
    pub start: String,
    #[graphql(default = "</mark>")]
    pub end: String,
}

impl Default for HighlightInput {
    fn default() -> Self {
        Self {
            start: "<mark>".into(),
            end: "</mark>".into(),
        }
    }
}

/// How transcript search results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, async_graphql::Enum)]
pub enum TranscriptSearchOrder {
    /// Most relevant first (bm25). Every match is scored: slower for words found in many segments.
    #[default]
    Relevance,
    /// Most recent first; as fast for common words as for rare ones.
    Newest,
}

impl From<TranscriptSearchOrder> for repo::calls::SearchOrder {
    fn from(order: TranscriptSearchOrder) -> Self {
        match order {
            TranscriptSearchOrder::Relevance => Self::Relevance,
            TranscriptSearchOrder::Newest => Self::Newest,
        }
    }
}

/// Offset cursors for search results (ranked lists have no stable key).
#[derive(Debug, Clone, Copy)]
pub struct OffsetCursor(pub usize);

impl CursorType for OffsetCursor {
    type Error = &'static str;

    fn decode_cursor(s: &str) -> Result<Self, Self::Error> {
        s.strip_prefix("o:")
            .and_then(|n| n.parse().ok())
            .map(Self)
            .ok_or("invalid cursor")
    }

    fn encode_cursor(&self) -> String {
        format!("o:{}", self.0)
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
    async fn call(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Call>> {
        let principal = ctx.authorize(Permission::ReadCalls)?;
        let db = tenant_db(ctx, principal).await?;
        Ok(db
            .read(move |conn| repo::calls::get_call(conn, &id).map_err(ApiError::from))
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
    ) -> Result<Connection<KeysetCursor, Call>> {
        let principal = ctx.authorize(Permission::ReadCalls)?;
        let page = PageRequest::new(first, after)?;
        let filter = filter.unwrap_or_default().into_filter()?;
        let db = tenant_db(ctx, principal).await?;
        let (after, limit) = (page.after_pair(), page.fetch_limit());
        let rows = db
            .read(move |conn| {
                repo::calls::list_calls(conn, &filter, after, limit).map_err(ApiError::from)
            })
            .await?;
        Ok(page.connection(
            rows,
            |c| KeysetCursor {
                at: c.created_at,
                id: c.id.clone(),
            },
            Call,
        ))
    }

    /// Full-text search over final transcript segments. Every word must match.
    #[graphql(complexity = "connection_complexity(child_complexity, first)")]
    async fn search_transcripts(
        &self,
        ctx: &Context<'_>,
        query: String,
        first: Option<i32>,
        after: Option<String>,
        highlight: Option<HighlightInput>,
        #[graphql(default)] order: TranscriptSearchOrder,
    ) -> Result<Connection<OffsetCursor, TranscriptHit>> {
        let principal = ctx.authorize(Permission::ReadCalls)?;
        let page = PageRequest::new(first, None)?;
        let offset = match after {
            Some(cursor) => {
                OffsetCursor::decode_cursor(&cursor)
                    .map_err(|e| {
                        ApiError::invalid_input(vec![FieldError {
                            field: "after".into(),
                            code: "INVALID_CURSOR",
                            message: e.into(),
                        }])
                    })?
                    .0
                    + 1
            }
            None => 0,
        };
        let fts = calls::fts_query(&query).ok_or_else(|| {
            ApiError::invalid_input(vec![FieldError {
                field: "query".into(),
                code: "EMPTY_QUERY",
                message: "give at least one word".into(),
            }])
        })?;
        let HighlightInput {
            start: highlight_start,
            end: highlight_end,
        } = highlight.unwrap_or_default();
        if highlight_start.len() > 32 || highlight_end.len() > 32 {
            return Err(ApiError::invalid_input(vec![FieldError {
                field: "highlight".into(),
                code: "TOO_LONG",
                message: "markers of at most 32 bytes".into(),
            }])
            .into());
        }
        let db = tenant_db(ctx, principal).await?;
        let limit = page.fetch_limit();
        let mut hits = db
            .read(move |conn| {
                repo::calls::search_segments(
                    conn,
                    &fts,
                    (&highlight_start, &highlight_end),
                    order.into(),
                    offset,
                    limit,
                )
                .map_err(ApiError::from)
            })
            .await?;
        let has_next = hits.len() > page.limit;
        hits.truncate(page.limit);
        let mut connection = Connection::new(offset > 0, has_next);
        connection
            .edges
            .extend(hits.into_iter().enumerate().map(|(i, hit)| {
                Edge::new(
                    OffsetCursor(offset + i),
                    TranscriptHit {
                        snippet: hit.snippet,
                        rank: hit.rank,
                        segment: hit.segment,
                    },
                )
            }));
        Ok(connection)
    }
}

#[derive(Default)]
pub struct CallMutation;

#[Object]
impl CallMutation {
    /// Creates a call record (queued) for an agent, pinned to its active version. Live-call endpoints
    /// create calls themselves; use this to record calls placed through your own telephony.
    async fn create_call(&self, ctx: &Context<'_>, input: CreateCallInput) -> Result<Call> {
        let principal = ctx.authorize(Permission::ManageCalls)?;
        let call = calls::create(
            ctx.app(),
            principal.tenant_id,
            NewCall {
                agent_id: input.agent_id.0,
                direction: input.direction,
                transport: input.transport,
                from: input.from,
                to: input.to,
                metadata: input
                    .metadata
                    .map_or_else(|| serde_json::json!({}), |Json(m)| m),
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
    ) -> Result<Call> {
        let principal = ctx.authorize(Permission::ManageCalls)?;
        Ok(Call(
            calls::transition(ctx.app(), principal.tenant_id, id.0, status, reason).await?,
        ))
    }

    /// Adds transcript segments to a call (≤ 500 at once); a segment with an existing seq replaces it.
    async fn add_transcript_segments(
        &self,
        ctx: &Context<'_>,
        call_id: ID,
        segments: Vec<TranscriptSegmentInput>,
    ) -> Result<Vec<TranscriptSegment>> {
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
        let stored = calls::add_segments(
            ctx.app(),
            principal.tenant_id,
            call_id.0,
            segments,
            Vec::new(),
        )
        .await?;
        Ok(stored.into_iter().map(TranscriptSegment).collect())
    }
}
