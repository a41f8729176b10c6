//! HTTP to the providers: building the request and reading the event stream.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde::Serialize;
use serde_json::Value;

use super::chunk::shorten;
use super::config::Provider;
use super::error::{BrainError, describe};
use super::sse::SseDecoder;
use crate::outbound::{self, OutboundClient, OutboundPolicy};

/// Installs rustls' `ring` crypto provider as the process default, once.
///
/// reqwest is built with `rustls-no-provider`, so no HTTPS client can be built before a provider is
/// installed. Safe to call from anywhere, any number of times; if the application installed a
/// provider of its own first, that one is kept.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err only means a provider is installed already, which is all we need.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The HTTP clients the brain shares across calls, so connections to a provider are reused. Providers' base
/// URLs and webhook tools' URLs are tenant input, so every client obeys the outbound policy.
#[derive(Debug)]
pub(crate) struct Http {
    outbound: OutboundPolicy,
    /// reqwest sets the connect timeout per client, so providers with the same connect timeout
    /// share one client (and its connection pools).
    llm: Mutex<HashMap<Duration, OutboundClient>>,
    webhooks: OutboundClient,
}

/// An HTTP client held to `outbound`'s rules; one that cannot be built is a configuration error.
fn client(
    outbound: &OutboundPolicy,
    purpose: &'static str,
    builder: reqwest::ClientBuilder,
) -> Result<OutboundClient, BrainError> {
    outbound
        .client(purpose, builder)
        .map_err(|e| BrainError::Config(format!("HTTP client: {e}")))
}

impl Http {
    pub(crate) fn new(outbound: &OutboundPolicy) -> Result<Self, BrainError> {
        install_crypto_provider();
        let webhooks = client(
            outbound,
            "tool",
            reqwest::Client::builder().connect_timeout(Duration::from_secs(5)),
        )?;
        Ok(Self {
            outbound: outbound.clone(),
            llm: Mutex::new(HashMap::new()),
            webhooks,
        })
    }

    pub(crate) fn llm_client(
        &self,
        connect_timeout: Duration,
    ) -> Result<OutboundClient, BrainError> {
        // The map is only ever inserted into, so a poisoned lock still holds usable clients.
        let mut clients = self.llm.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(client) = clients.get(&connect_timeout) {
            return Ok(client.clone());
        }
        let client = client(
            &self.outbound,
            "llm",
            reqwest::Client::builder()
                .connect_timeout(connect_timeout)
                .tcp_nodelay(true),
        )?;
        clients.insert(connect_timeout, client.clone());
        Ok(client)
    }

    pub(crate) fn webhooks(&self) -> &OutboundClient {
        &self.webhooks
    }
}

/// The provider-independent part of one request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Request<'a> {
    pub(crate) messages: &'a [Value],
    pub(crate) tools: &'a [Value],
    /// Forbid tool calls (`tool_choice: "none"`): the model must answer in words now.
    pub(crate) words_only: bool,
    /// Most bytes of the response body read before it is cut off.
    pub(crate) max_stream_bytes: usize,
}

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    messages: &'a [Value],
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "<[Value]>::is_empty")]
    tools: &'a [Value],
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<&'static str>,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

/// What the next read of the stream produced.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Item {
    /// One event's data.
    Data(String),
    /// `data: [DONE]`: the provider finished.
    Done,
    /// The body ended without `[DONE]`.
    Eof,
    /// More bytes than the response may have were read; stop reading.
    Overflow,
}

/// One streaming response. Dropping it drops the connection, which is how a cancelled reply stops
/// the provider from generating further.
pub(crate) struct ProviderStream {
    response: reqwest::Response,
    decoder: SseDecoder,
    pending: VecDeque<String>,
    eof: bool,
    /// Bytes of the body read so far, and how many may be.
    read: usize,
    max_bytes: usize,
}

impl ProviderStream {
    /// Sends the request and checks the response head; the body is read by [`Self::next`].
    pub(crate) async fn open(
        client: &OutboundClient,
        provider: &Provider,
        request: Request<'_>,
    ) -> Result<Self, BrainError> {
        let config = &provider.config;
        let body = Body {
            model: &config.model,
            messages: request.messages,
            stream: true,
            stream_options: config.stream_usage.then_some(StreamOptions {
                include_usage: true,
            }),
            temperature: config.temperature,
            max_tokens: config.max_tokens,
            tools: request.tools,
            tool_choice: (request.words_only && !request.tools.is_empty()).then_some("none"),
        };
        let mut builder = client
            .request(Method::POST, provider.url.clone())?
            .header(ACCEPT, "text/event-stream")
            .json(&body);
        if let Some(key) = &config.api_key {
            builder = builder.bearer_auth(key);
        }
        let mut response = builder.send().await.map_err(|e| request_failed(&e))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(BrainError::Status {
                status: status.as_u16(),
                body: "redirects are not followed".into(),
            });
        }
        if !status.is_success() {
            let mut body = Vec::new();
            // The start of the error body is enough to say why; never read an unbounded body.
            while body.len() < 2048 {
                match response.chunk().await {
                    Ok(Some(bytes)) => body.extend_from_slice(&bytes),
                    Ok(None) | Err(_) => break,
                }
            }
            return Err(BrainError::Status {
                status: status.as_u16(),
                body: shorten(String::from_utf8_lossy(&body).trim(), 500),
            });
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if content_type.starts_with("application/json") {
            return Err(BrainError::Protocol(
                "provider answered with JSON instead of an event stream".into(),
            ));
        }
        Ok(Self {
            response,
            decoder: SseDecoder::new(),
            pending: VecDeque::new(),
            eof: false,
            read: 0,
            max_bytes: request.max_stream_bytes,
        })
    }

    /// The next event's data, reading more of the body as needed.
    pub(crate) async fn next(&mut self) -> Result<Item, BrainError> {
        loop {
            if let Some(data) = self.pending.pop_front() {
                if data.trim() == "[DONE]" {
                    return Ok(Item::Done);
                }
                return Ok(Item::Data(data));
            }
            if self.eof {
                return Ok(Item::Eof);
            }
            if self.read > self.max_bytes {
                return Ok(Item::Overflow);
            }
            match self.response.chunk().await {
                Ok(Some(bytes)) => {
                    self.read += bytes.len();
                    self.pending.extend(self.decoder.feed(&bytes)?);
                }
                Ok(None) => {
                    self.eof = true;
                    self.pending.extend(self.decoder.finish());
                }
                Err(e) => return Err(BrainError::Stream(describe(&e))),
            }
        }
    }
}

/// A request that could not be sent: refused by the outbound policy, or failed on the network.
pub(crate) fn request_failed(error: &reqwest::Error) -> BrainError {
    match outbound::refusal(error) {
        Some(refused) => BrainError::NotAllowed(refused.to_string()),
        None => BrainError::Request(describe(error)),
    }
}
