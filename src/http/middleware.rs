//! Per-request telemetry: a request id, a tracing span (exported as the request's server span, continuing an
//! incoming `traceparent`), one log line, and Prometheus metrics; and `X-Content-Type-Options: nosniff` on every
//! response.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The request's id: the client's `x-request-id` when it is sane, else a new ULID.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

const REQUEST_ID_HEADER: &str = "x-request-id";

pub async fn observe(mut request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| is_sane_request_id(id))
        .map_or_else(crate::db::new_id, str::to_owned);
    request
        .extensions_mut()
        .insert(RequestId(request_id.clone()));
    // The route template, never the raw path: raw paths would make unbounded metric label sets.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |path| path.as_str())
        .to_owned();
    let method = request.method().to_string();
    let span = tracing::info_span!(
        "request",
        otel.name = %format!("{method} {route}"),
        otel.kind = "server",
        request_id = %request_id,
        method = %method,
        route = %route,
        trace_id = tracing::field::Empty,
    );
    crate::telemetry::trace::adopt_parent(&span, request.headers());
    span.set_attribute("http.request.method", method.clone());
    span.set_attribute("http.route", route.clone());
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    span.set_attribute("http.response.status_code", i64::from(status));
    if status >= 500 {
        span.set_status(opentelemetry::trace::Status::error(format!(
            "HTTP {status}"
        )));
    }
    metrics::counter!(
        "voxedge_http_requests_total",
        "route" => route.clone(), "method" => method.clone(), "status" => status.to_string()
    )
    .increment(1);
    metrics::histogram!("voxedge_http_request_duration_seconds", "route" => route, "method" => method)
        .record(elapsed.as_secs_f64());
    span.in_scope(|| {
        tracing::info!(
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request completed"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// Every response is to be taken as the type it says it is (JSON stays JSON, never sniffed into HTML).
pub async fn nosniff(mut response: Response) -> Response {
    response.headers_mut().insert(
        axum::http::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn is_sane_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}
