//! Logs (tracing, JSON by default) and metrics (Prometheus, through the `metrics` facade).

use std::sync::OnceLock;

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line, with the request span's fields (for production).
    Json,
    /// Human-readable lines (for a terminal).
    Text,
}

/// Installs the global tracing subscriber writing to `writer`. The filter comes from `VOXEDGE_LOG`
/// (e.g. `info,voxedge=debug`), falling back to `RUST_LOG`, then `info`.
pub fn init_tracing<W>(format: LogFormat, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = std::env::var("VOXEDGE_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let result = match format {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .flatten_event(true)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
    // A second init (several servers in one test process) keeps the first subscriber.
    drop(result);
}

/// Latency buckets in seconds: 0.5 ms to 30 s.
const SECONDS_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process-wide Prometheus recorder's handle, installing the recorder on first use.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                .expect("invariant: the bucket list is non-empty")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
            }
            describe();
            handle
        })
        .clone()
}

/// Help text for every metric (promtool wants it, and operators read it).
fn describe() {
    describe_counter!(
        "voxedge_http_requests_total",
        "HTTP requests by route, method and status."
    );
    describe_histogram!(
        "voxedge_http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request latency by route and method."
    );
    describe_counter!(
        "voxedge_graphql_operations_total",
        "GraphQL operations over HTTP by type and outcome (ok, error, rejected)."
    );
    describe_histogram!(
        "voxedge_graphql_operation_duration_seconds",
        Unit::Seconds,
        "GraphQL operation execution time by type."
    );
    describe_gauge!(
        "voxedge_graphql_ws_connections",
        "Open GraphQL WebSocket connections."
    );
    describe_counter!(
        "voxedge_graphql_ws_closes_total",
        "GraphQL WebSockets closed by the server, by close code (4401: credential no longer valid, 4403: role no longer allows a running subscription)."
    );
    describe_gauge!(
        "voxedge_rate_limit_keys",
        "Clients (IPs, tenants, accounts) the rate limiters and lock-outs track after pruning."
    );
    describe_gauge!("voxedge_tenants_open", "Tenant databases currently open.");
    describe_gauge!(
        "voxedge_live_sessions",
        "Live WebSocket sessions (subscriptions and calls)."
    );
    describe_counter!(
        "voxedge_cache_hits_total",
        "Cache hits by cache (tenant_db, api_key)."
    );
    describe_counter!(
        "voxedge_cache_misses_total",
        "Cache misses by cache (tenant_db, api_key)."
    );
    describe_counter!(
        "voxedge_tenant_evictions_total",
        "Tenant databases closed by the open-tenant cache."
    );
    describe_counter!(
        "voxedge_tenant_open_failures_total",
        "Tenant databases not opened, by reason: refused (damaged or too new: TENANT_UNAVAILABLE) or missing."
    );
    describe_counter!(
        "voxedge_api_errors_total",
        "Errors sent to API clients by code: HTTP error responses and GraphQL field errors."
    );
    describe_gauge!(
        "voxedge_webhook_queue_overdue_seconds",
        "How long the most overdue queued webhook delivery has waited past its due time (0: keeping up)."
    );
    describe_counter!(
        "voxedge_sign_in_failures_total",
        "Failed sign-ins (wrong email or password, lock-outs), including unknown emails."
    );
    describe_histogram!(
        "voxedge_tenant_open_duration_seconds",
        Unit::Seconds,
        "Time to open (and migrate) a tenant database."
    );
}
