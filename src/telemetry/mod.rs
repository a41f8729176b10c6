//! Logs (tracing, JSON by default), metrics (Prometheus, through the `metrics` facade) and traces
//! (OpenTelemetry, exported over OTLP/HTTP when `--otlp-endpoint` is set).
//!
//! - [`otlp`]: the exporter.
//! - [`trace`]: trace context at the edges (`traceparent`, trace ids in logs) and spans of past work.
//!
//! What is traced: every HTTP request (`GET /graphql`, ...), every GraphQL operation over HTTP (tenant,
//! operation type and name, outcome), the SQLite work they do, and live calls — one trace per call, with a span
//! per turn and its stages. Attributes never hold personal data: ids, names of operations, codes and timings.

pub mod otlp;
pub mod trace;

pub use otlp::{OtlpProtocol, OtlpSettings};

use std::sync::OnceLock;

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line, with the request span's fields (for production).
    Json,
    /// Human-readable lines (for a terminal).
    Text,
}

/// Installs the global tracing subscriber writing logs to `writer`, without trace export.
pub fn init_tracing<W>(format: LogFormat, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    // Without an exporter nothing can fail.
    let _ = init(format, writer, None, None);
}

/// What [`init`] started; [`Telemetry::shutdown`] exports the spans still buffered.
#[must_use]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Flushes and stops the exporter (waits up to its timeout). Call before the runtime stops.
    pub async fn shutdown(self) {
        if let Some(provider) = self.provider {
            // The batch processor exports from its own thread through the runtime: wait for it off the runtime.
            let done = tokio::task::spawn_blocking(move || provider.shutdown()).await;
            if let Ok(Err(e)) = done {
                tracing::warn!(error = %e, "traces not all exported at shutdown");
            }
        }
    }
}

/// Installs the global tracing subscriber: logs to `writer` in `format`, and, with `otlp`, spans exported to
/// a collector. The filter comes from `VOXEDGE_LOG` (e.g. `info,voxedge=debug`), falling back to `RUST_LOG`,
/// then `info`; it applies to exported spans too. Call inside the Tokio runtime when `otlp` is set.
pub fn init<W>(
    format: LogFormat,
    writer: W,
    otlp: Option<&OtlpSettings>,
    region: Option<&str>,
) -> anyhow::Result<Telemetry>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = std::env::var("VOXEDGE_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer().with_writer(writer);
    let logs = match format {
        LogFormat::Json => fmt
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .flatten_event(true)
            .boxed(),
        LogFormat::Text => fmt.boxed(),
    };
    let provider = otlp.map(|o| otlp::provider(o, region)).transpose()?;
    let traces = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("voxedge"))
            .with_tracked_inactivity(false)
    });
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(traces)
        .try_init();
    // A second init (several servers in one test process) keeps the first subscriber.
    if installed.is_ok()
        && let Some(provider) = &provider
    {
        // Spans of past work (live-call turns) are built through the global tracer.
        opentelemetry::global::set_tracer_provider(provider.clone());
    }
    Ok(Telemetry {
        provider: installed.is_ok().then_some(provider).flatten(),
    })
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
        "voxedge_calls_recovered_total",
        "Calls a previous process left open (killed, crashed) and this one ended with endedReason server_crashed."
    );
    describe_counter!(
        "voxedge_call_recorder_waits_total",
        "Times a live call waited for its recorder's queue (storage far behind)."
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
        "voxedge_outbound_refused_total",
        "Requests to tenant URLs refused by the outbound policy (loopback, private, ...), by purpose: input (a URL being saved), webhook, tool, llm."
    );
    describe_counter!(
        "voxedge_emails_total",
        "Email send attempts by kind and outcome (sent, logged without SMTP, retry, gave_up)."
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
