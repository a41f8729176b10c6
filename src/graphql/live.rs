//! Live subscriptions: a call's state, its transcript as it is spoken, and the tenant's active calls.
//!
//! Each subscription listens on its tenant's bus — and only its tenant's — before reading current state
//! from the database, so nothing committed in between is missed. A subscriber that falls behind the
//! bus (`Lagged`) resynchronises from the database: `callUpdated` re-sends the current call,
//! `transcriptSegments` re-sends every segment it has not delivered, `activeCalls` sends a fresh list.
//!
//! `transcriptSegments` reads stored segments a page at a time, as the subscriber takes them, and
//! remembers what it sent in bounded memory, so a call with a very long transcript costs a page, not the
//! whole call, per subscriber.

use std::collections::BTreeMap;
use std::hash::{Hash as _, Hasher as _};
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

/// Stored transcript segments read per page.
const SEGMENT_PAGE: usize = 100;

/// Segments whose delivered state a `transcriptSegments` subscriber remembers exactly; older final ones
/// are remembered only as a high-water mark.
const REMEMBERED_SEGMENTS: usize = 1024;

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
            let mut sent = Delivered::new(after_seq);
            let mut cursor = after_seq;
            loop {
                let Some(page) = segment_page(&db, &id, cursor).await else { return };
                let done = page.len() < SEGMENT_PAGE;
                for segment in page {
                    cursor = segment.seq;
                    if sent.replayed(&segment) {
                        yield TranscriptSegment(segment);
                    }
                }
                if done {
                    break;
                }
            }
            loop {
                match events.recv().await {
                    Ok(TenantEvent::Segment(segment)) if segment.call_id == id && segment.seq > after_seq => {
                        if sent.live(&segment) {
                            yield TranscriptSegment((*segment).clone());
                        }
                    }
                    Ok(_) => continue,
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "transcriptSegments subscriber lagged; resynchronising");
                        metrics::counter!("voxedge_subscription_resyncs_total", "subscription" => "transcriptSegments").increment(1);
                        let mut cursor = sent.replay_from();
                        loop {
                            let Some(page) = segment_page(&db, &id, cursor).await else { return };
                            let done = page.len() < SEGMENT_PAGE;
                            for segment in page {
                                cursor = segment.seq;
                                if sent.replayed(&segment) {
                                    yield TranscriptSegment(segment);
                                }
                            }
                            if done {
                                break;
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

/// One page of stored segments after `after_seq`; `None` (logged) when the database fails, which ends the
/// subscription rather than silently skipping segments.
async fn segment_page(db: &Database, call_id: &str, after_seq: i64) -> Option<Vec<SegmentRow>> {
    let id = call_id.to_string();
    let page = db
        .read(move |conn| repo::calls::list_segments(conn, &id, after_seq, SEGMENT_PAGE))
        .await;
    page.inspect_err(|err| tracing::warn!(error = %err, "transcript segments could not be read"))
        .ok()
}

/// What a transcript subscriber has been sent, so replays after a resync skip what it already has —
/// in bounded memory: the exact state (final or not, a hash of the text) of the latest
/// [`REMEMBERED_SEGMENTS`] segments, and below that a high-water mark under which every segment not
/// remembered was sent final.
struct Delivered {
    recent: BTreeMap<i64, (bool, u64)>,
    floor: i64,
}

impl Delivered {
    fn new(after_seq: i64) -> Self {
        Self {
            recent: BTreeMap::new(),
            floor: after_seq,
        }
    }

    fn state(segment: &SegmentRow) -> (bool, u64) {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        segment.text.hash(&mut hasher);
        (segment.is_final, hasher.finish())
    }

    /// A segment read from the database: whether the subscriber lacks it (in this state).
    fn replayed(&mut self, segment: &SegmentRow) -> bool {
        let state = Self::state(segment);
        match self.recent.get(&segment.seq) {
            Some(sent) if *sent == state => false,
            None if segment.seq <= self.floor => false,
            _ => {
                self.remember(segment.seq, state);
                true
            }
        }
    }

    /// A segment as it was just recognised or replaced: whether it is news to the subscriber.
    fn live(&mut self, segment: &SegmentRow) -> bool {
        let state = Self::state(segment);
        if self.recent.get(&segment.seq) == Some(&state) {
            return false;
        }
        self.remember(segment.seq, state);
        true
    }

    /// Where a replay must start for nothing unsent to be skipped.
    fn replay_from(&self) -> i64 {
        let open = self
            .recent
            .iter()
            .find(|(_, (is_final, _))| !is_final)
            .map_or(self.floor, |(seq, _)| seq - 1);
        self.floor.min(open)
    }

    fn remember(&mut self, seq: i64, state: (bool, u64)) {
        self.recent.insert(seq, state);
        while self.recent.len() > REMEMBERED_SEGMENTS {
            // Forget the oldest final segment; segments still partial stay remembered exactly.
            let Some(oldest) = self
                .recent
                .iter()
                .find(|(_, (is_final, _))| *is_final)
                .map(|(seq, _)| *seq)
            else {
                break;
            };
            self.recent.remove(&oldest);
            self.floor = self.floor.max(oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Speaker;

    fn segment(seq: i64, text: &str, is_final: bool) -> SegmentRow {
        SegmentRow {
            id: seq,
            call_id: "c".into(),
            seq,
            speaker: Speaker::Caller,
            text: text.into(),
            start_ms: 0,
            end_ms: 0,
            confidence: None,
            is_final,
            created_at: 0,
        }
    }

    #[test]
    fn delivered_segments_are_remembered_in_bounded_memory() {
        let mut sent = Delivered::new(0);
        assert!(sent.replayed(&segment(1, "partial", false)));
        for seq in 2..=5000 {
            assert!(sent.replayed(&segment(seq, "words", true)));
        }
        assert!(sent.recent.len() <= REMEMBERED_SEGMENTS);
        // The partial one is still known exactly, so a replay starts before it.
        assert_eq!(sent.replay_from(), 0);
        assert!(!sent.replayed(&segment(1, "partial", false)));
        assert!(sent.replayed(&segment(1, "partial, now final", true)));
        assert!(sent.replay_from() > 3000);
        // Old final segments are not sent again on a replay; a live change to one is.
        assert!(!sent.replayed(&segment(10, "words", true)));
        assert!(sent.live(&segment(10, "corrected words", true)));
        assert!(!sent.live(&segment(10, "corrected words", true)));
        assert!(sent.replayed(&segment(5001, "new", true)));
    }
}
