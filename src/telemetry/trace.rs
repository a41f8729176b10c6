//! Trace context at the edges, and spans of things that already happened.
//!
//! - [`adopt_parent`]: a request that carries a W3C `traceparent` continues that trace; its trace id goes into
//!   the span's `trace_id` field, so the JSON log lines of the request carry it.
//! - [`PastSpan`] / [`export_past`]: a live call's turn is measured as it happens and exported once it is over,
//!   with the real start and end times of each stage (the same figures as the call's `turn` timeline event).
//!
//! Without an exporter (`--otlp-endpoint` unset) all of this is nearly free: there is no OpenTelemetry layer, so
//! span contexts are empty and nothing is built.

use std::time::SystemTime;

use axum::http::HeaderMap;
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{TraceContextExt as _, Tracer as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_http::HeaderExtractor;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Makes `span` a child of the request's `traceparent`, if it has a valid one, and records the trace id in the
/// span's `trace_id` field (declared `tracing::field::Empty`).
pub fn adopt_parent(span: &tracing::Span, headers: &HeaderMap) {
    let remote = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    let remote_id = remote.span().span_context().clone();
    if remote_id.is_valid() {
        // Fails only without the OpenTelemetry layer (no export): the incoming id still goes into the logs.
        let _ = span.set_parent(remote);
    }
    let id = trace_id(span).or_else(|| {
        remote_id
            .is_valid()
            .then(|| remote_id.trace_id().to_string())
    });
    if let Some(id) = id {
        span.record("trace_id", id.as_str());
    }
}

/// The span's trace id (32 hex digits), when traces are exported.
pub fn trace_id(span: &tracing::Span) -> Option<String> {
    let cx = span.context();
    let id = cx.span().span_context().clone();
    id.is_valid().then(|| id.trace_id().to_string())
}

/// Records the span's trace id in its `trace_id` field, when traces are exported.
pub fn record_trace_id(span: &tracing::Span) {
    if let Some(id) = trace_id(span) {
        span.record("trace_id", id.as_str());
    }
}

/// A span of work that already happened, with its children.
#[derive(Debug, Clone)]
pub struct PastSpan {
    pub name: &'static str,
    pub start: SystemTime,
    pub end: SystemTime,
    pub attributes: Vec<KeyValue>,
    pub children: Vec<PastSpan>,
}

impl PastSpan {
    pub fn new(name: &'static str, start: SystemTime, end: SystemTime) -> Self {
        Self {
            name,
            start,
            end: end.max(start),
            attributes: Vec::new(),
            children: Vec::new(),
        }
    }

    pub fn with(mut self, key: &'static str, value: impl Into<opentelemetry::Value>) -> Self {
        self.attributes.push(KeyValue::new(key, value));
        self
    }
}

/// Exports `span` (and its children) as a child of `parent`'s current OpenTelemetry span.
pub fn export_past(parent: &tracing::Span, span: PastSpan) {
    let cx = parent.context();
    if !cx.span().span_context().is_valid() {
        return;
    }
    let tracer = opentelemetry::global::tracer("voxedge");
    start_past(&tracer, &cx, span);
}

fn start_past(tracer: &opentelemetry::global::BoxedTracer, parent: &Context, span: PastSpan) {
    let PastSpan {
        name,
        start,
        end,
        attributes,
        children,
    } = span;
    let started = tracer
        .span_builder(name)
        .with_start_time(start)
        .with_attributes(attributes)
        .start_with_context(tracer, parent);
    let cx = parent.with_span(started);
    for child in children {
        start_past(tracer, &cx, child);
    }
    cx.span().end_with_timestamp(end);
}

/// Monotonic instants as wall-clock times (spans are exported in wall-clock time), all from one reading of both
/// clocks, so instants keep their order and exact distances.
#[derive(Debug, Clone, Copy)]
pub struct Wall {
    instant: tokio::time::Instant,
    system: SystemTime,
}

impl Wall {
    pub fn now() -> Self {
        Self {
            instant: tokio::time::Instant::now(),
            system: SystemTime::now(),
        }
    }

    pub fn at(&self, at: tokio::time::Instant) -> SystemTime {
        if at <= self.instant {
            self.system - (self.instant - at)
        } else {
            self.system + (at - self.instant)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_map_to_wall_clock_times_in_order() {
        let now = tokio::time::Instant::now();
        let earlier = now - std::time::Duration::from_millis(250);
        let wall = Wall::now();
        let (a, b) = (wall.at(earlier), wall.at(now));
        assert_eq!(b.duration_since(a).unwrap().as_millis(), 250);
    }
}
