//! The agent brain: streams an agent's reply from an LLM, with tools, failover and usage.
//!
//! # Layout
//! - [`conversation`]: [`Conversation`] and [`Turn`]s, trimmed to a token budget per request.
//! - [`sse`]: sans-I/O server-sent-events decoder; `chunk`: stream chunks → one response.
//! - [`breaker`]: a circuit breaker with time as an input.
//! - [`error`]: the one [`BrainError`].

pub mod breaker;
#[allow(dead_code)] // Used by the streaming client, which comes next.
mod chunk;
pub mod conversation;
pub mod error;
pub mod sse;

pub use breaker::{BreakerConfig, BreakerState, CircuitBreaker};
pub use conversation::{Conversation, ToolExchange, Turn, estimate_tokens};
pub use error::BrainError;
