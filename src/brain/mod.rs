//! The agent brain: streams an agent's reply from an LLM, with tools, failover and usage.
//!
//! The live-call pipeline calls [`Brain::reply`] once per caller turn and consumes the returned
//! [`Reply`] stream of [`BrainEvent`]s: text deltas to speak as they come, tool activity for the
//! call timeline, call-control actions, usage for billing, and `Done` with the turns to record.
//! Any OpenAI-compatible Chat Completions endpoint works (OpenAI, Groq, Together, Ollama, vLLM).
//!
//! ```no_run
//! # async fn example() -> Result<(), voxedge::brain::BrainError> {
//! use std::sync::Arc;
//! use futures::StreamExt;
//! use tokio_util::sync::CancellationToken;
//! use voxedge::brain::*;
//!
//! // One per process. Providers' URLs may only reach public addresses, plus a local Ollama here.
//! let outbound = voxedge::outbound::OutboundPolicy::parse("127.0.0.1/32").expect("a valid range");
//! let brain = Brain::new(BreakerConfig::default(), &outbound)?;
//! let agent = Arc::new(AgentSpec::new(
//!     vec![
//!         ProviderConfig::new("groq", "https://api.groq.com/openai/v1", "llama-3.3-70b-versatile")
//!             .with_api_key("gsk_..."),
//!         ProviderConfig::new("ollama", "http://127.0.0.1:11434/v1", "llama3.2"),
//!     ],
//!     ToolSet::new(vec![ToolSpec::EndCall])?,
//! )?);
//! let mut conversation = Conversation::with_first_message("You are a receptionist.", "Hello!");
//! conversation.push_user("Can I book a table for two?");
//! let barge_in = CancellationToken::new();
//! let mut reply = brain.reply(agent, &conversation, barge_in.child_token());
//! while let Some(event) = reply.next().await {
//!     match event {
//!         BrainEvent::TextDelta(text) | BrainEvent::Apology(text) => { /* sentence chunker, TTS */ }
//!         BrainEvent::EndCall { .. } => { /* hang up once queued audio has played */ }
//!         BrainEvent::Done(summary) => conversation.extend(summary.turns),
//!         _ => { /* call timeline, metrics, usage ledger */ }
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - [`config`]: providers ([`ProviderConfig`]) and the per-agent [`AgentSpec`].
//! - [`conversation`]: [`Conversation`] and [`Turn`]s, trimmed to a token budget per request.
//! - [`tools`]: webhook and built-in tools, schemas compiled once, arguments validated.
//! - `webhook`: [`WebhookTool`]s, and running a response's tool calls so every call gets a result.
//! - [`sse`]: sans-I/O server-sent-events decoder; `chunk`: stream chunks → one response.
//! - `client`: HTTP clients and the streaming request to one provider.
//! - [`breaker`]: a circuit breaker with time as an input; `chain`: providers tried in order.
//! - `turn`: one reply's rounds; `reply`: [`Brain`] and the cancellable [`Reply`] stream.
//! - [`events`]: what the stream yields; [`error`]: the one [`BrainError`].

pub mod breaker;
mod chain;
mod chunk;
mod client;
pub mod config;
pub mod conversation;
pub mod error;
pub mod events;
mod reply;
pub mod sse;
pub mod tools;
mod turn;
mod webhook;

pub use breaker::{BreakerConfig, BreakerState, CircuitBreaker};
pub use client::install_crypto_provider;
pub use config::{AgentSpec, ProviderConfig, ReplyLimits};
pub use conversation::{Conversation, ToolExchange, Turn, estimate_tokens};
pub use error::BrainError;
pub use events::{BrainEvent, Finish, ReplySummary};
pub use reply::{Brain, Reply};
pub use tools::{ToolSet, ToolSpec};
pub use webhook::WebhookTool;
