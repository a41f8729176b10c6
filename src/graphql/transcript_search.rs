//! Full-text search over transcripts (FTS5, bm25), with highlighted snippets and offset cursors.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, InputObject, Object, SimpleObject};

use super::calls::{Call, TranscriptSegment};
use super::context::{ContextExt, tenant};
use super::pagination::{OffsetCursor, PageRequest, connection_complexity};
use crate::auth::Permission;
use crate::calls;
use crate::error::{ApiError, ApiResult, ErrorCode, InvalidInput};
use crate::repo;
use crate::repo::calls::SegmentRow;

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

    async fn call(&self, ctx: &Context<'_>) -> ApiResult<Call> {
        let principal = ctx.authorize(Permission::ReadCalls)?;
        let db = tenant(ctx, principal).await?.db;
        let id = self.segment.call_id.clone();
        db.read(move |conn| repo::calls::get_call(conn, &id))
            .await?
            .map(Call)
            .ok_or_else(|| ApiError::not_found("call"))
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

#[derive(Default)]
pub struct TranscriptSearchQuery;

#[Object]
impl TranscriptSearchQuery {
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
    ) -> ApiResult<Connection<OffsetCursor, TranscriptHit>> {
        let principal = ctx.authorize(Permission::ReadCalls)?;
        let page = PageRequest::new(first, None)?;
        let offset = OffsetCursor::start(after.as_deref())?;
        let fts = calls::fts_query(&query).ok_or_else(|| {
            InvalidInput::field("query", ErrorCode::EmptyQuery, "give at least one word")
        })?;
        let HighlightInput {
            start: highlight_start,
            end: highlight_end,
        } = highlight.unwrap_or_default();
        if highlight_start.len() > 32 || highlight_end.len() > 32 {
            return Err(InvalidInput::field(
                "highlight",
                ErrorCode::TooLong,
                "markers of at most 32 bytes",
            )
            .into());
        }
        let db = tenant(ctx, principal).await?.db;
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
            })
            .await?;
        let has_next = hits.len() > page.limit;
        hits.truncate(page.limit);
        let mut connection = Connection::new(offset > 0, has_next);
        connection
            .edges
            .extend(hits.into_iter().enumerate().map(|(i, hit)| {
                Edge::new(
                    // At most i64::MAX + 100: no overflow in a 64-bit usize.
                    OffsetCursor(offset.saturating_add(i)),
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
