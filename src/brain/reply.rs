//! The brain's entry point and the reply stream it hands out.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use super::breaker::{BreakerConfig, BreakerState};
use super::chain::Breakers;
use super::client::Http;
use super::config::AgentSpec;
use super::conversation::Conversation;
use super::error::BrainError;
use super::events::BrainEvent;
use super::turn::{Emitter, Shared, drive};
use crate::outbound::OutboundPolicy;

/// The agent brain: one per process, cheap to clone. It holds the HTTP clients (so connections to
/// providers are reused across calls) and one circuit breaker per provider name.
#[derive(Debug, Clone)]
pub struct Brain {
    shared: Arc<Shared>,
}

impl Brain {
    /// A brain whose breakers open as `breaker` says, reaching providers and webhook tools only where
    /// `outbound` allows. Installs the TLS crypto provider if needed.
    pub fn new(breaker: BreakerConfig, outbound: &OutboundPolicy) -> Result<Self, BrainError> {
        Ok(Self {
            shared: Arc::new(Shared {
                http: Http::new(outbound)?,
                breakers: Breakers::new(breaker),
            }),
        })
    }

    /// Starts the agent's reply to `conversation` (whose last turn is normally the caller's) and
    /// returns its events as a stream.
    ///
    /// The work runs on its own task, so the provider is read at full speed even while the caller
    /// of this method is busy with TTS. Cancelling `cancel` (barge-in) or dropping the [`Reply`]
    /// aborts that task at once: the HTTP request is dropped mid-stream, tool webhooks in flight
    /// are abandoned, and the stream yields nothing more.
    ///
    /// Must be called within a tokio runtime.
    pub fn reply(
        &self,
        agent: Arc<AgentSpec>,
        conversation: &Conversation,
        cancel: CancellationToken,
    ) -> Reply {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn({
            let cancel = cancel.clone();
            let work = drive(
                self.shared.clone(),
                agent,
                conversation.clone(),
                Emitter(tx),
            );
            async move {
                tokio::select! {
                    biased;
                    () = cancel.cancelled() => {}
                    () = work => {}
                }
            }
        });
        Reply {
            events: rx,
            cancelled: Box::pin(cancel.clone().cancelled_owned()),
            cancel,
            task,
        }
    }

    /// The breaker state of a provider, for metrics and health pages.
    pub fn breaker_state(&self, provider: &str) -> BreakerState {
        self.shared.breakers.state(provider)
    }
}

/// The events of one reply, ending after [`BrainEvent::Done`] — or right away once cancelled.
#[derive(Debug)]
pub struct Reply {
    events: mpsc::UnboundedReceiver<BrainEvent>,
    cancelled: Pin<Box<WaitForCancellationFutureOwned>>,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

impl Reply {
    /// Cancels the reply, exactly like cancelling the token it was started with.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }
}

impl Stream for Reply {
    type Item = BrainEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<BrainEvent>> {
        // Checked first so that text already queued is not handed out after a barge-in.
        if self.cancelled.as_mut().poll(cx).is_ready() {
            self.task.abort();
            return Poll::Ready(None);
        }
        self.events.poll_recv(cx)
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        self.task.abort();
    }
}
