//! Outgoing webhooks: tenants register endpoints for event types; every event becomes a delivery in an
//! outbox table, written in the same transaction as the change it reports, and the [`Dispatcher`] sends
//! it, signed, retrying with exponential backoff.
//!
//! # Signature
//! Each request carries `X-Voxedge-Signature: t=<unix seconds>,v1=<hex>` where `<hex>` is
//! HMAC-SHA256, keyed with the endpoint's secret, of `"<t>.<raw request body>"`. Receivers recompute it,
//! compare in constant time, and reject timestamps older than a few minutes (replay protection).
//! Also sent: `X-Voxedge-Event` (event type) and `X-Voxedge-Delivery` (unique delivery id, stable across
//! retries, for idempotency).

mod deliver;
mod dispatcher;
mod endpoints;
mod error;

pub use dispatcher::{Dispatcher, DispatcherSettings};
pub use endpoints::{
    EndpointInput, create_endpoint, delete_endpoint, retry_delivery, rotate_secret, update_endpoint,
};
pub use error::WebhookError;

use async_graphql::Enum;
use hmac::{Hmac, Mac};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::clock::now_ms;
use crate::db::{StorageError, TenantId};
use crate::repo;
use crate::repo::webhooks::DeliveryRow;

/// Event types an endpoint can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Enum)]
pub enum WebhookEvent {
    /// A call was created (queued).
    #[graphql(name = "CALL_CREATED")]
    CallCreated,
    /// A call connected (in progress).
    #[graphql(name = "CALL_STARTED")]
    CallStarted,
    /// A call reached a final state (completed, failed, no answer, busy, canceled).
    #[graphql(name = "CALL_ENDED")]
    CallEnded,
    /// A finished call's full transcript.
    #[graphql(name = "TRANSCRIPT_READY")]
    TranscriptReady,
    /// A month's invoice was issued (finalized).
    #[graphql(name = "BILLING_INVOICE_ISSUED")]
    BillingInvoiceIssued,
    /// An invoice was paid.
    #[graphql(name = "BILLING_INVOICE_PAID")]
    BillingInvoicePaid,
    /// A payment of an invoice failed.
    #[graphql(name = "BILLING_PAYMENT_FAILED")]
    BillingPaymentFailed,
    /// The tenant became active, past due or suspended.
    #[graphql(name = "BILLING_STATUS_CHANGED")]
    BillingStatusChanged,
    /// Every contact of a campaign reached a final outcome (with the campaign's progress).
    #[graphql(name = "CAMPAIGN_COMPLETED")]
    CampaignCompleted,
    /// A call's post-call analysis finished (done or failed), with the analysis.
    #[graphql(name = "CALL_ANALYZED")]
    CallAnalyzed,
}

impl WebhookEvent {
    pub const ALL: [WebhookEvent; 10] = [
        Self::CallCreated,
        Self::CallStarted,
        Self::CallEnded,
        Self::TranscriptReady,
        Self::BillingInvoiceIssued,
        Self::BillingInvoicePaid,
        Self::BillingPaymentFailed,
        Self::BillingStatusChanged,
        Self::CampaignCompleted,
        Self::CallAnalyzed,
    ];

    /// The wire name, e.g. `call.ended`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CallCreated => "call.created",
            Self::CallStarted => "call.started",
            Self::CallEnded => "call.ended",
            Self::TranscriptReady => "transcript.ready",
            Self::BillingInvoiceIssued => "billing.invoice_issued",
            Self::BillingInvoicePaid => "billing.invoice_paid",
            Self::BillingPaymentFailed => "billing.payment_failed",
            Self::BillingStatusChanged => "billing.status_changed",
            Self::CampaignCompleted => "campaign.completed",
            Self::CallAnalyzed => "call.analyzed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

/// Writes one delivery per subscribed endpoint for `event`, inside the caller's transaction. Returns how
/// many were written (the caller then tells the dispatcher, after commit).
pub fn enqueue(
    conn: &Connection,
    tenant: TenantId,
    event: WebhookEvent,
    data: serde_json::Value,
) -> Result<usize, StorageError> {
    let endpoints = repo::webhooks::subscribed_endpoints(conn, event.as_str())?;
    let now = now_ms();
    for endpoint in &endpoints {
        let id = crate::db::new_id();
        let payload = serde_json::json!({
            "id": id,
            "type": event.as_str(),
            "createdAt": crate::clock::datetime(now),
            "tenantId": tenant.to_string(),
            "data": data,
        });
        repo::webhooks::insert_delivery(
            conn,
            &DeliveryRow {
                id,
                endpoint_id: endpoint.id.clone(),
                event_type: event.as_str().into(),
                payload: payload.to_string(),
                status: "pending".into(),
                attempts: 0,
                next_attempt_at: Some(now),
                last_status_code: None,
                last_error: None,
                created_at: now,
                delivered_at: None,
            },
        )?;
    }
    Ok(endpoints.len())
}

/// The `X-Voxedge-Signature` header value for `body` sent at `timestamp` (unix seconds).
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .expect("invariant: HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// Checks a signature header the way a receiver should (used by tests and documented for tenants).
pub fn verify_signature(
    secret: &str,
    header: &str,
    body: &str,
    now_secs: i64,
    tolerance_secs: i64,
) -> bool {
    let mut timestamp = None;
    let mut provided = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => provided = hex::decode(v).ok(),
            _ => {}
        }
    }
    let (Some(timestamp), Some(provided)) = (timestamp, provided) else {
        return false;
    };
    if (now_secs - timestamp).abs() > tolerance_secs {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .expect("invariant: HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    mac.verify_slice(&provided).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_resist_tampering_and_replay() {
        let header = signature("whsec_test", 1_700_000_000, "{\"a\":1}");
        assert!(verify_signature(
            "whsec_test",
            &header,
            "{\"a\":1}",
            1_700_000_010,
            300
        ));
        assert!(
            !verify_signature("whsec_test", &header, "{\"a\":2}", 1_700_000_010, 300),
            "body changed"
        );
        assert!(
            !verify_signature("whsec_other", &header, "{\"a\":1}", 1_700_000_010, 300),
            "wrong secret"
        );
        assert!(
            !verify_signature("whsec_test", &header, "{\"a\":1}", 1_700_001_000, 300),
            "too old"
        );
        assert!(!verify_signature(
            "whsec_test",
            "garbage",
            "{\"a\":1}",
            1_700_000_010,
            300
        ));
    }

    #[test]
    fn event_names_round_trip() {
        for event in WebhookEvent::ALL {
            assert_eq!(WebhookEvent::parse(event.as_str()), Some(event));
        }
    }
}
