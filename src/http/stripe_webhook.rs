//! `POST /v1/stripe/webhook`: Stripe's events (see [`crate::billing::stripe::webhook`]).
//!
//! `200 {"received": true, "outcome": ...}` once an event is applied (or was before); `400
//! WEBHOOK_SIGNATURE_INVALID` for a missing or wrong signature or a stale timestamp, `400 BAD_REQUEST` for a
//! body that is not an event — in both cases nothing changed; `404 BILLING_NOT_CONFIGURED` without
//! `--stripe-secret-key` and `--stripe-webhook-secret`. Anything else (storage) is a `5xx`, so Stripe retries.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::HttpState;
use crate::billing::stripe::webhook;
use crate::error::ApiError;

pub async fn receive(State(state): State<HttpState>, headers: HeaderMap, body: Bytes) -> Response {
    let app = &state.app;
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    match webhook::handle(&app.billing, &app.tenant_opener(), signature, &body).await {
        Ok(outcome) => {
            metrics::counter!("voxedge_stripe_webhooks_total", "outcome" => if outcome == "duplicate" { "duplicate" } else { "processed" })
                .increment(1);
            tracing::info!(outcome = %outcome, "Stripe webhook");
            Json(json!({ "received": true, "outcome": outcome })).into_response()
        }
        Err(err) => {
            metrics::counter!("voxedge_stripe_webhooks_total", "outcome" => "refused").increment(1);
            tracing::warn!(error = %err, "Stripe webhook refused");
            ApiError::from(err).into_response()
        }
    }
}
