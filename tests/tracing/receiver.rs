//! A local OTLP/HTTP receiver: `POST /v1/traces` decoded from protobuf or JSON, as a collector would.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use prost::Message as _;
use serde_json::Value;

/// One span as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    pub name: String,
    pub kind: i32,
    pub start_ns: u64,
    pub end_ns: u64,
    pub attributes: BTreeMap<String, Value>,
    pub service: Option<String>,
    /// The request's content type.
    pub encoding: String,
}

impl Received {
    pub fn attr(&self, key: &str) -> &Value {
        self.attributes.get(key).unwrap_or(&Value::Null)
    }

    pub fn duration_ms(&self) -> f64 {
        (self.end_ns.saturating_sub(self.start_ns)) as f64 / 1e6
    }
}

#[derive(Clone, Default)]
pub struct Receiver {
    spans: Arc<Mutex<Vec<Received>>>,
    pub url: String,
}

fn any(value: Option<Any>) -> Value {
    match value {
        Some(Any::StringValue(s)) => Value::String(s),
        Some(Any::BoolValue(b)) => Value::Bool(b),
        Some(Any::IntValue(i)) => Value::from(i),
        Some(Any::DoubleValue(d)) => Value::from(d),
        Some(other) => Value::String(format!("{other:?}")),
        None => Value::Null,
    }
}

impl Receiver {
    pub async fn start() -> Self {
        let spans = Arc::new(Mutex::new(Vec::new()));
        let stored = spans.clone();
        let app = axum::Router::new().route(
            "/v1/traces",
            post(move |headers: HeaderMap, body: Bytes| {
                let stored = stored.clone();
                async move {
                    let encoding = headers
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    let request = if encoding.contains("json") {
                        serde_json::from_slice::<ExportTraceServiceRequest>(&body)
                            .map_err(|e| e.to_string())
                    } else {
                        ExportTraceServiceRequest::decode(body).map_err(|e| e.to_string())
                    };
                    let Ok(request) = request else {
                        return StatusCode::BAD_REQUEST;
                    };
                    let mut out = stored.lock().unwrap();
                    for resource in request.resource_spans {
                        let service = resource.resource.as_ref().and_then(|r| {
                            r.attributes
                                .iter()
                                .find(|kv| kv.key == "service.name")
                                .and_then(|kv| {
                                    any(kv.value.clone().and_then(|v| v.value))
                                        .as_str()
                                        .map(String::from)
                                })
                        });
                        for scope in resource.scope_spans {
                            for span in scope.spans {
                                out.push(Received {
                                    trace_id: hex::encode(&span.trace_id),
                                    span_id: hex::encode(&span.span_id),
                                    parent_span_id: hex::encode(&span.parent_span_id),
                                    name: span.name,
                                    kind: span.kind,
                                    start_ns: span.start_time_unix_nano,
                                    end_ns: span.end_time_unix_nano,
                                    attributes: span
                                        .attributes
                                        .into_iter()
                                        .map(|kv| (kv.key, any(kv.value.and_then(|v| v.value))))
                                        .collect(),
                                    service: service.clone(),
                                    encoding: encoding.clone(),
                                });
                            }
                        }
                    }
                    StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { spans, url }
    }

    pub fn spans(&self) -> Vec<Received> {
        self.spans.lock().unwrap().clone()
    }

    /// Waits (up to 30 s) until `done` holds for the spans received so far; returns them.
    pub async fn wait_for(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        for _ in 0..300 {
            let spans = self.spans();
            if done(&spans) {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{what} never arrived; got {:#?}",
            self.spans().iter().map(|s| &s.name).collect::<Vec<_>>()
        );
    }
}

/// Every attribute value of every span, as text (to look for what must never be there).
pub fn all_attribute_text(spans: &[Received]) -> String {
    spans
        .iter()
        .flat_map(|s| s.attributes.values().map(|v| v.to_string()))
        .collect::<Vec<_>>()
        .join("\n")
        .to_lowercase()
}
