//! Operational endpoints: liveness, readiness, metrics.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::HttpState;
use crate::db::{AtPath as _, StorageError};
use crate::error::{ApiError, ErrorCode};

/// The process is up.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready to take traffic: the catalog answers, the data directory is writable, and we are not draining. Also
/// reports the region, and how far the catalog replica is behind the primary when Litestream is configured.
pub async fn readyz(State(state): State<HttpState>) -> Response {
    let app = &state.app;
    let catalog = app
        .catalog
        .read(|conn| Ok::<_, StorageError>(conn.query_row("select 1", [], |_| Ok(()))?))
        .await;
    let root = app.config.data_dir.root().to_path_buf();
    let data_dir = tokio::task::spawn_blocking(move || {
        let probe = root.join(format!(".readyz-{}", crate::db::new_ulid()));
        std::fs::write(&probe, b"ok").and_then(|()| std::fs::remove_file(&probe))
    })
    .await;
    let data_dir = match data_dir {
        Ok(written) => written.at(app.config.data_dir.root()),
        Err(e) => Err(e.into()),
    };
    let draining = app.shutdown.is_draining();
    let ready = catalog.is_ok() && data_dir.is_ok() && !draining;
    let check = |r: Result<(), StorageError>| {
        r.map_or_else(
            |e| json!({ "ok": false, "error": e.to_string() }),
            |()| json!({ "ok": true }),
        )
    };
    // Missing voice models do not make the server unready: the API works without them, and calls that need a
    // model are refused with an error naming the setting.
    let voice = app.voice.status();
    let edge = app.edge.settings();
    // Lag is reported, not judged: a region behind the primary still serves its own tenants.
    let replication = json!({
        "region": edge.region(),
        "primary": edge.primary(),
        "litestream": edge.replica.is_some(),
        "catalog": app.lag.get(),
    });
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "draining": draining,
        "checks": {
            "catalog": check(catalog),
            "data_dir": check(data_dir),
        },
        "voice": {
            "ready": voice.ready(),
            "models": voice,
        },
        "replication": replication,
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// Prometheus text exposition; behind `Authorization: Bearer <--metrics-token>` when one is set.
pub async fn metrics(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    let app = &state.app;
    if let Some(expected) = &app.config.metrics_token
        && let Err(err) = check_metrics_token(&headers, expected.expose())
    {
        return err.into_response();
    }
    // Apply pending evictions first so the open-tenant gauge is exact at scrape time.
    app.tenants.run_pending_tasks().await;
    metrics::gauge!("voxedge_tenants_open").set(app.tenants.open_count() as f64);
    metrics::gauge!("voxedge_live_sessions").set(app.shutdown.live_sessions() as f64);
    // How far webhook dispatch is behind: ~0 while it keeps up, growing while deliveries wait past their due time.
    let earliest_due = app
        .edge
        .region_db()
        .read(crate::repo::webhooks::earliest_due)
        .await;
    if let Ok(earliest_due) = earliest_due {
        let overdue_ms = earliest_due.map_or(0, |at| (crate::clock::now_ms() - at).max(0));
        metrics::gauge!("voxedge_webhook_queue_overdue_seconds").set(overdue_ms as f64 / 1000.0);
    }
    let body = crate::telemetry::metrics_handle().render();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// The scrape's bearer token must be the configured one (compared in constant time, as digests so the
/// length does not show either).
fn check_metrics_token(headers: &HeaderMap, expected: &str) -> Result<(), ApiError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let Some(presented) = presented else {
        return Err(ApiError::new(
            ErrorCode::Unauthenticated,
            "/metrics needs `Authorization: Bearer <metrics token>`",
        ));
    };
    let same: bool = Sha256::digest(presented.as_bytes())
        .ct_eq(&Sha256::digest(expected.as_bytes()))
        .into();
    if same {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::InvalidToken,
            "wrong metrics token",
        ))
    }
}
