//! The provider chain: try each provider in order, behind its circuit breaker, within its timeouts.
//!
//! Failing over is only safe while the caller has heard nothing of this response: once text has
//! been streamed, a second provider would start a different sentence, so a failure then ends the
//! reply instead. Tool-call fragments are buffered, never streamed, so they do not count.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use tokio::time::{Instant, timeout_at};

use super::breaker::{BreakerConfig, BreakerState, CircuitBreaker};
use super::chunk::{Accumulator, Cut, Response};
use super::client::{Http, Item, ProviderStream, Request};
use super::config::{AgentSpec, Provider, ReplyLimits};
use super::error::BrainError;
use super::events::BrainEvent;
use super::turn::Emitter;
use crate::error::ErrorCode;
use crate::outbound::OutboundClient;

/// One breaker per provider name, shared by every call in the process: when a provider is down,
/// one call's failures spare the next calls the wait.
#[derive(Debug)]
pub(crate) struct Breakers {
    config: BreakerConfig,
    by_provider: Mutex<HashMap<String, CircuitBreaker>>,
}

impl Breakers {
    pub(crate) fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            by_provider: Mutex::new(HashMap::new()),
        }
    }

    fn with<T>(&self, provider: &str, f: impl FnOnce(&mut CircuitBreaker) -> T) -> T {
        // Breaker methods cannot panic half-way, so a poisoned lock still guards consistent state.
        let mut map = self
            .by_provider
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let breaker = map
            .entry(provider.to_owned())
            .or_insert_with(|| CircuitBreaker::new(self.config));
        f(breaker)
    }

    pub(crate) fn state(&self, provider: &str) -> BreakerState {
        self.with(provider, |b| b.state(Instant::now()))
    }

    /// Asks the breaker for a request slot; `None` when it is open.
    fn permit<'a>(&'a self, provider: &'a str) -> Option<Permit<'a>> {
        // Lazily: a permit built and dropped for a refused request would release someone's probe.
        self.with(provider, |b| b.allow(Instant::now()))
            .then(|| Permit {
                breakers: self,
                provider,
                settled: false,
            })
    }
}

/// A request slot from a breaker. Dropped unsettled (the reply was cancelled), it hands a
/// half-open probe back instead of leaving the breaker waiting for a result that never comes.
struct Permit<'a> {
    breakers: &'a Breakers,
    provider: &'a str,
    settled: bool,
}

impl Permit<'_> {
    fn settle(mut self, ok: bool) {
        self.settled = true;
        let now = Instant::now();
        self.breakers.with(self.provider, |b| {
            if ok {
                b.record_success(now);
            } else {
                b.record_failure(now);
            }
        });
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.breakers
                .with(self.provider, CircuitBreaker::release_probe);
        }
    }
}

/// How one request round ended.
pub(crate) enum RoundOutcome {
    /// A provider answered completely.
    Answered {
        provider: String,
        response: Response,
    },
    /// A provider failed after streaming `text`; the reply must end.
    BrokeMidStream { provider: String, text: String },
    /// Every provider failed or was skipped before saying anything.
    AllFailed,
}

/// Sends `request` to the agent's providers in order until one answers, streaming its text.
pub(crate) async fn run_round(
    http: &Http,
    breakers: &Breakers,
    agent: &AgentSpec,
    request: Request<'_>,
    id_prefix: &str,
    emit: &Emitter,
) -> RoundOutcome {
    for provider in agent.providers() {
        let name = provider.config.name.as_str();
        let Some(permit) = breakers.permit(name) else {
            emit.failed(name, BrainError::CircuitOpen, false);
            continue;
        };
        let result = match http.llm_client(provider.config.connect_timeout) {
            Ok(client) => {
                attempt(&client, provider, request, agent.limits(), id_prefix, emit).await
            }
            Err(error) => Err((error, String::new())),
        };
        match result {
            Ok(response) => {
                permit.settle(true);
                return RoundOutcome::Answered {
                    provider: name.to_owned(),
                    response,
                };
            }
            Err((error, streamed)) => {
                permit.settle(false);
                tracing::warn!(provider = name, %error, mid_stream = !streamed.is_empty(), "LLM provider failed");
                emit.failed(name, error, !streamed.is_empty());
                if !streamed.is_empty() {
                    return RoundOutcome::BrokeMidStream {
                        provider: name.to_owned(),
                        text: streamed,
                    };
                }
            }
        }
    }
    RoundOutcome::AllFailed
}

/// One request to one provider, cut off at `limits`. On failure returns the error and the text already streamed.
async fn attempt(
    client: &OutboundClient,
    provider: &Provider,
    request: Request<'_>,
    limits: ReplyLimits,
    id_prefix: &str,
    emit: &Emitter,
) -> Result<Response, (BrainError, String)> {
    let config = &provider.config;
    let start = Instant::now();
    let first_token_by = start + config.first_token_timeout;
    let overall_by = start + config.overall_timeout;
    let mut acc = Accumulator::default();
    let mut streamed = String::new();
    // Until the first token the tighter of both deadlines applies, after it only the overall one.
    let deadline = |acc: &Accumulator| {
        if acc.has_output() {
            (
                overall_by,
                BrainError::OverallTimeout(config.overall_timeout),
            )
        } else if first_token_by <= overall_by {
            (
                first_token_by,
                BrainError::FirstTokenTimeout(config.first_token_timeout),
            )
        } else {
            (
                overall_by,
                BrainError::OverallTimeout(config.overall_timeout),
            )
        }
    };

    let (by, timeout_error) = deadline(&acc);
    let mut stream = match timeout_at(by, ProviderStream::open(client, provider, request)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => return Err((error, streamed)),
        Err(_) => return Err((timeout_error, streamed)),
    };
    let cut = loop {
        let (by, timeout_error) = deadline(&acc);
        let item = match timeout_at(by, stream.next()).await {
            Ok(Ok(item)) => item,
            Ok(Err(error)) => return Err((error, streamed)),
            Err(_) => return Err((timeout_error, streamed)),
        };
        match item {
            Item::Data(data) => match acc.apply_data(&data) {
                Ok(Some(text)) => {
                    streamed.push_str(&text);
                    emit.send(BrainEvent::TextDelta(text));
                }
                Ok(None) => {}
                Err(error) => return Err((error, streamed)),
            },
            Item::Done => break None,
            Item::Overflow => break Some(Cut::TooLarge),
            // Some servers close right after the finishing chunk without `[DONE]`; without a
            // finish reason the response is cut off.
            Item::Eof if acc.is_finished() => break None,
            Item::Eof => {
                let error =
                    BrainError::Stream("connection closed before the reply finished".into());
                return Err((error, streamed));
            }
        }
        if let Some(cut) = acc.over(&limits) {
            break Some(cut);
        }
    };
    let Some(cut) = cut else {
        return Ok(acc.finish(id_prefix));
    };
    // Dropping the stream closes the connection: the provider stops generating.
    drop(stream);
    let (code, limit) = match cut {
        Cut::TooLarge => (ErrorCode::LlmReplyTooLarge, limits.max_bytes),
        Cut::TooManyToolCalls => (ErrorCode::LlmTooManyToolCalls, limits.max_tool_calls),
    };
    tracing::warn!(provider = %config.name, %code, limit, "LLM reply cut off");
    emit.send(BrainEvent::ReplyCut {
        provider: config.name.clone(),
        code,
        limit,
    });
    Ok(acc.finish_cut(id_prefix, cut, limits.max_tool_calls))
}
