//! Exporting traces over OTLP/HTTP (protobuf or JSON) to an OpenTelemetry collector.
//!
//! The SDK's batch processor exports from a thread of its own, outside the async runtime; requests go through
//! [`RuntimeHttp`], which runs them on the server's runtime with the same reqwest stack as everything else
//! (no second HTTP client, no blocking client).

use std::time::Duration;

use anyhow::Context as _;
use opentelemetry::KeyValue;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;

/// OTLP/HTTP encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OtlpProtocol {
    /// `application/x-protobuf` (what collectors expect by default).
    Protobuf,
    /// `application/json`.
    Json,
}

/// Where and how traces go.
#[derive(Debug, Clone)]
pub struct OtlpSettings {
    /// The collector's origin, e.g. `http://127.0.0.1:4318`; spans go to `/v1/traces` under it.
    pub endpoint: String,
    pub protocol: OtlpProtocol,
}

/// A tracer provider exporting to the collector in batches. Needs a Tokio runtime (requests run on it).
pub fn provider(
    settings: &OtlpSettings,
    region: Option<&str>,
) -> anyhow::Result<SdkTracerProvider> {
    crate::brain::install_crypto_provider();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .user_agent(concat!("voxedge-otlp/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("cannot build the OTLP HTTP client")?;
    let http = RuntimeHttp {
        client,
        runtime: tokio::runtime::Handle::try_current()
            .context("OTLP export needs the Tokio runtime")?,
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(http)
        .with_endpoint(format!(
            "{}/v1/traces",
            settings.endpoint.trim_end_matches('/')
        ))
        .with_protocol(match settings.protocol {
            OtlpProtocol::Protobuf => Protocol::HttpBinary,
            OtlpProtocol::Json => Protocol::HttpJson,
        })
        .with_timeout(Duration::from_secs(10))
        .build()
        .context("cannot build the OTLP exporter")?;
    let mut attributes = vec![KeyValue::new("service.version", env!("CARGO_PKG_VERSION"))];
    if let Some(region) = region {
        attributes.push(KeyValue::new("cloud.region", region.to_string()));
    }
    let resource = Resource::builder()
        .with_service_name("voxedge")
        .with_attributes(attributes)
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// An OTLP HTTP client that runs each request on the server's Tokio runtime, whichever thread asks.
#[derive(Debug)]
struct RuntimeHttp {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for RuntimeHttp {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let task = self.runtime.spawn(async move {
            let request = reqwest::Request::try_from(request)?;
            let response = client.execute(request).await?;
            let status = response.status();
            let headers = response.headers().clone();
            // Collectors answer with a small status message; a runaway body is cut off.
            let body = response.bytes().await?;
            let body = body.slice(..body.len().min(1 << 20));
            let mut out = Response::builder().status(status);
            if let Some(h) = out.headers_mut() {
                *h = headers;
            }
            Ok::<_, HttpError>(out.body(body)?)
        });
        task.await?
    }
}
