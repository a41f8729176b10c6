//! Live subscriptions: a call's state, its transcript as it is spoken, and the tenant's active calls.
//!
//! Each subscription listens on its tenant's bus — and only its tenant's — before reading current state
//! from the database, so nothing committed in between is missed. A subscriber that falls behind the
//! bus (`Lagged`) resynchronises from the database: `callUpdated` re-sends the current call,
//! `transcriptSegments` re-sends every segment it has not delivered, `activeCalls` sends a fresh list.

use std::collections::HashMap;
use std::time::Duration;

use async_graphql::{Context, ID, Result, Subscription};
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::calls::{Call, TranscriptSegment};
use super::context::{ContextExt, tenant};
use crate::auth::Permission;
use crate::db::Database;
use crate::error::{ApiError, ApiResult};
use crate::events::TenantEvent;
use crate::repo;
use crate::repo::calls::SegmentRow;

/// Most calls one `activeCalls` message lists.
const ACTIVE_CALLS_LIMIT: usize = 500;

#[derive(Default)]
pub struct LiveSubscription;

#[Subscription]
impl LiveSubscription {
    /// The call now, then again on every change; completes after the call reaches a final state.
    async fn call_updated(
        &self,
        ctx: &Context<'_>,
        call_id: ID,
    ) -> Result<impl Stream<Item = Call> + use<>> {
        let principal = ctx.authorize(Permission::ReadCalls)?;
        let app = ctx.app().clone();
        let mut events = app.events.subscribe(principal.tenant_id);
        let db = tenant(ctx, principal).await?.db;
        let id = call_id.0;
        let current = read_call(&db, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("call"))?;
        Ok(async_stream::stream! {
            let done = current.status.is_terminal();
            yield Call(current);
            if done {
                return;
            }
            loop {
                let call = match events.recv().await {
                    Ok(TenantEvent::Call(call)) if call.id == id => (*call).clone(),
                    Ok(_) => continue,
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "callUpdated subscriber lagged; resynchronising");
                        metrics::counter!("voxedge_subscription_resyncs_total", "subscription" => "callUpdated").increment(1);
                        match read_call(&db, &id).await {
                            Ok(Some(call)) => call,
                            _ => break,
                        }
                    }
                    Err(RecvError::Closed) => break,
                };
                let done = call.status.is_terminal();
                yield Call(call);
                if done {
                    break;
                }
            }
        })
    }

    /// The call's transcript segments with `seq` above `afterSeq` (stored ones first), then each new or
    /// replaced segment as it is recognised. Resume after a disconnect with the last seq you received.
    async fn transcript_segments(
        &self,
        ctx: &Context<'_>,
        call_id: ID,
        after_seq: Option<i64>,
    ) -> Result<impl Stream<Item = TranscriptSegment> + use<>> {
        let after_seq = after_seq.unwrap_or(0);
        let principal = ctx.authorize(Permission::ReadCalls)?;
        let app = ctx.app().clone();
        let mut events = app.events.subscribe(principal.tenant_id);
        let db = tenant(ctx, principal).await?.db;
        let id = call_id.0;
        read_call(&db, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("call"))?;
        Ok(async_stream::stream! {
            let mut sent = Delivered::default();
            for segment in stored_segments(&db, &id, after_seq).await {
                if sent.is_new(&segment) {
                    yield TranscriptSegment(segment);
                }
            }
            loop {
                match events.recv().await {
                    Ok(TenantEvent::Segment(segment)) if segment.call_id == id && segment.seq > after_seq => {
                        if sent.is_new(&segment) {
                            yield TranscriptSegment((*segment).clone());
                        }
                    }
                    Ok(_) => continue,
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "transcriptSegments subscriber lagged; resynchronising");
                        metrics::counter!("voxedge_subscription_resyncs_total", "subscription" => "transcriptSegments").increment(1);
                        for segment in stored_segments(&db, &id, after_seq).await {
                            if sent.is_new(&segment) {
                                yield TranscriptSegment(segment);
                            }
                        }
                    }
                    Err(RecvError::Closed) => break,
                }
            }
        })
    }

    /// The tenant's calls that are queued, ringing or in progress: the full list now, then again
    /// whenever it changes (changes arriving together are sent as one list).
    async fn active_calls(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = Vec<Call>> + use<>> {
        let principal = ctx.authorize(Permission::ReadCalls)?;
        let app = ctx.app().clone();
        let mut events = app.events.subscribe(principal.tenant_id);
        let db = tenant(ctx, principal).await?.db;
        let first = active(&db).await?;
        Ok(async_stream::stream! {
            yield first;
            loop {
                match events.recv().await {
                    Ok(TenantEvent::Call(_)) | Err(RecvError::Lagged(_)) => {
                        // A lag needs no special handling here: every message is a complete list.
                        // Coalesce a burst of changes into one message.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        while events.try_recv().is_ok() {}
                        match active(&db).await {
                            Ok(calls) => yield calls,
                            Err(_) => break,
                        }
                    }
                    Ok(_) => continue,
                    Err(RecvError::Closed) => break,
                }
            }
        })
    }
}

async fn read_call(db: &Database, id: &str) -> ApiResult<Option<repo::calls::CallRow>> {
    let id = id.to_string();
    Ok(db
        .read(move |conn| repo::calls::get_call(conn, &id))
        .await?)
}

async fn active(db: &Database) -> ApiResult<Vec<Call>> {
    let rows = db
        .read(|conn| repo::calls::active_calls(conn, ACTIVE_CALLS_LIMIT))
        .await?;
    Ok(rows.into_iter().map(Call).collect())
}

/// Every stored segment after `after_seq`, read in pages.
async fn stored_segments(db: &Database, call_id: &str, after_seq: i64) -> Vec<SegmentRow> {
    let mut all = Vec::new();
    let mut cursor = after_seq;
    loop {
        let id = call_id.to_string();
        let page = db
            .read(move |conn| repo::calls::list_segments(conn, &id, cursor, 1000))
            .await
            .unwrap_or_default();
        let Some(last) = page.last() else { break };
        cursor = last.seq;
        let done = page.len() < 1000;
        all.extend(page);
        if done {
            break;
        }
    }
    all
}

/// What a transcript subscriber has been sent, so replays after a resync skip what it already has.
#[derive(Default)]
struct Delivered {
    by_seq: HashMap<i64, (bool, String)>,
}

impl Delivered {
    fn is_new(&mut self, segment: &SegmentRow) -> bool {
        let state = (segment.is_final, segment.text.clone());
        if self.by_seq.get(&segment.seq) == Some(&state) {
            return false;
        }
        self.by_seq.insert(segment.seq, state);
        true
    }
}
