//! `heartbeat`: a subscription that proves the WebSocket path end to end and keeps idle sockets open
//! through proxies.

use std::time::Duration;

use async_graphql::{Context, ID, Result, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures::Stream;
use futures::StreamExt as _;
use tokio_stream::wrappers::IntervalStream;

use super::context::ContextExt;
use crate::error::{ApiError, ErrorCode, InvalidInput};

#[derive(Default)]
pub struct HeartbeatSubscription;

/// One tick of `heartbeat`.
#[derive(SimpleObject)]
pub struct Heartbeat {
    /// 1, 2, 3, ... per subscription.
    pub sequence: i32,
    pub at: DateTime<Utc>,
    /// The tenant the subscription is scoped to.
    pub tenant_id: ID,
}

#[Subscription]
impl HeartbeatSubscription {
    /// Ticks every `intervalMs` milliseconds (100–60000), starting immediately.
    async fn heartbeat(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 1000)] interval_ms: i32,
    ) -> Result<impl Stream<Item = Heartbeat> + use<>> {
        let principal = ctx.principal()?;
        if !(100..=60_000).contains(&interval_ms) {
            let invalid = InvalidInput::field(
                "intervalMs",
                ErrorCode::OutOfRange,
                "must be between 100 and 60000",
            );
            return Err(ApiError::from(invalid).into());
        }
        let tenant_id = ID(principal.tenant_id.to_string());
        let interval = tokio::time::interval(Duration::from_millis(interval_ms as u64));
        Ok(IntervalStream::new(interval)
            .zip(futures::stream::iter(1..))
            .map(move |(_, sequence)| Heartbeat {
                sequence,
                at: Utc::now(),
                tenant_id: tenant_id.clone(),
            }))
    }
}
