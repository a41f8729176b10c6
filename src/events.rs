//! The in-process event bus: one broadcast channel per tenant with subscribers.
//!
//! A tenant lives in one region, so its live events are local. Events are published right after the
//! transaction that made them commits, while the tenant's writer is still held, so subscribers see them
//! in commit order. A subscriber that falls more than the channel capacity behind gets `Lagged` from its
//! receiver and must resynchronise from the database; it never silently misses events.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::db::TenantId;
use crate::repo::calls::{CallEventRow, CallRow, SegmentRow};

/// Something that happened in a tenant.
#[derive(Debug, Clone)]
pub enum TenantEvent {
    /// A call was created or changed (status, timestamps).
    Call(Arc<CallRow>),
    /// An event was added to a call's timeline.
    CallEvent(Arc<CallEventRow>),
    /// A transcript segment was added or replaced.
    Segment(Arc<SegmentRow>),
    /// A campaign (its id) changed: its state, or where its contacts stand.
    Campaign(Arc<String>),
}

impl TenantEvent {
    /// The call the event is about, if it is about one.
    pub fn call_id(&self) -> Option<&str> {
        match self {
            TenantEvent::Call(call) => Some(&call.id),
            TenantEvent::CallEvent(event) => Some(&event.call_id),
            TenantEvent::Segment(segment) => Some(&segment.call_id),
            TenantEvent::Campaign(_) => None,
        }
    }
}

/// Per-tenant broadcast channels, created on first subscription and dropped when nobody listens.
#[derive(Clone)]
pub struct EventBus {
    channels: Arc<Mutex<HashMap<TenantId, broadcast::Sender<TenantEvent>>>>,
    capacity: usize,
}

impl EventBus {
    /// `capacity` events may be buffered per tenant before a slow subscriber lags.
    pub fn new(capacity: usize) -> Self {
        Self {
            channels: Arc::default(),
            capacity: capacity.max(16),
        }
    }

    /// Delivers `event` to the tenant's current subscribers (none: dropped, nobody is listening).
    pub fn publish(&self, tenant: TenantId, event: TenantEvent) {
        let mut channels = self
            .channels
            .lock()
            .expect("invariant: the bus lock is never poisoned");
        // No receiver left: forget the channel.
        if let Some(sender) = channels.get(&tenant)
            && sender.send(event).is_err()
        {
            channels.remove(&tenant);
        }
    }

    /// Publishes several events in order.
    pub fn publish_all(&self, tenant: TenantId, events: impl IntoIterator<Item = TenantEvent>) {
        for event in events {
            self.publish(tenant, event);
        }
    }

    /// A receiver of the tenant's events from now on. Only that tenant's events ever reach it.
    pub fn subscribe(&self, tenant: TenantId) -> broadcast::Receiver<TenantEvent> {
        let mut channels = self
            .channels
            .lock()
            .expect("invariant: the bus lock is never poisoned");
        channels
            .entry(tenant)
            .or_insert_with(|| broadcast::channel(self.capacity).0)
            .subscribe()
    }

    /// Tenants with at least one live channel (for metrics).
    pub fn channel_count(&self) -> usize {
        self.channels
            .lock()
            .expect("invariant: the bus lock is never poisoned")
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(call_id: &str, seq: i64) -> TenantEvent {
        TenantEvent::Segment(Arc::new(SegmentRow {
            id: seq,
            call_id: call_id.into(),
            seq,
            speaker: crate::model::Speaker::Caller,
            text: String::new(),
            start_ms: 0,
            end_ms: 0,
            confidence: None,
            is_final: true,
            created_at: 0,
        }))
    }

    #[tokio::test]
    async fn tenants_are_separate_and_lag_is_reported() {
        let bus = EventBus::new(16);
        let (a, b) = (TenantId::generate(), TenantId::generate());
        let mut rx_a = bus.subscribe(a);
        let mut rx_b = bus.subscribe(b);
        bus.publish(a, segment("call-a", 1));
        assert_eq!(rx_a.recv().await.unwrap().call_id(), Some("call-a"));
        assert!(
            rx_b.try_recv().is_err(),
            "tenant b sees nothing of tenant a"
        );
        for seq in 0..40 {
            bus.publish(b, segment("call-b", seq));
        }
        assert!(matches!(
            rx_b.recv().await,
            Err(broadcast::error::RecvError::Lagged(_))
        ));
        drop(rx_a);
        bus.publish(a, segment("call-a", 2));
        assert_eq!(
            bus.channel_count(),
            1,
            "a channel without receivers is dropped"
        );
    }
}
