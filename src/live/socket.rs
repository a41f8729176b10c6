//! The sending side of a live-call WebSocket.
//!
//! A dedicated writer task owns the sink and drains a bounded queue, so the session never blocks on a client's
//! TCP window. A client that stops reading fills the queue; once a message cannot be queued or written within
//! the write timeout, the client is given up on ([`Gone::TooSlow`]) instead of buffering without bound.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::stream::SplitSink;
use futures::{SinkExt as _, StreamExt as _};
use tokio::sync::{mpsc, watch};

/// Messages queued for the writer before senders wait.
const QUEUE: usize = 256;

/// Why the client can no longer be written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gone {
    /// It did not take what was sent within the write timeout.
    TooSlow,
    /// The connection failed or was closed.
    Disconnected,
}

/// Queue of outgoing messages and the writer task draining it.
pub struct Outbox {
    tx: mpsc::Sender<Message>,
    write_timeout: Duration,
    /// Set by the writer when it stops on its own (the client is gone).
    gone: watch::Receiver<Option<Gone>>,
    writer: tokio::task::JoinHandle<()>,
}

impl Outbox {
    /// Starts the writer for `sink`.
    pub fn start(sink: SplitSink<WebSocket, Message>, write_timeout: Duration) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let (gone_tx, gone) = watch::channel(None);
        let writer = tokio::spawn(async move {
            if let Err(reason) = write_all(sink, rx, write_timeout).await {
                gone_tx.send_replace(Some(reason));
            }
        });
        Self {
            tx,
            write_timeout,
            gone,
            writer,
        }
    }

    /// Queues a message, waiting at most the write timeout for room.
    pub async fn send(&self, message: Message) -> Result<(), Gone> {
        match tokio::time::timeout(self.write_timeout, self.tx.send(message)).await {
            Ok(Ok(())) => Ok(()),
            // The writer stopped: it says why.
            Ok(Err(_)) => Err(self.gone.borrow().unwrap_or(Gone::Disconnected)),
            Err(_) => Err(Gone::TooSlow),
        }
    }

    /// Resolves when the writer gave up on the client.
    pub async fn gone(&mut self) -> Gone {
        let reason = self
            .gone
            .wait_for(Option::is_some)
            .await
            .map(|reason| (*reason).unwrap_or(Gone::Disconnected));
        match reason {
            Ok(reason) => reason,
            // The writer ended without a reason (it was closed): never resolve.
            Err(_) => std::future::pending().await,
        }
    }

    /// Sends a close frame after what is queued and waits (bounded) for the writer to finish.
    pub async fn close(self, code: u16, reason: &str) {
        let frame = CloseFrame {
            code,
            reason: truncate_reason(reason).into(),
        };
        let _ = self.tx.try_send(Message::Close(Some(frame)));
        drop(self.tx);
        let mut writer = self.writer;
        if tokio::time::timeout(self.write_timeout, &mut writer)
            .await
            .is_err()
        {
            writer.abort();
        }
    }
}

async fn write_all(
    mut sink: SplitSink<WebSocket, Message>,
    mut rx: mpsc::Receiver<Message>,
    write_timeout: Duration,
) -> Result<(), Gone> {
    while let Some(message) = rx.recv().await {
        let closing = matches!(message, Message::Close(_));
        match tokio::time::timeout(write_timeout, sink.send(message)).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                tracing::info!(error = %err, "live socket write failed");
                return Err(Gone::Disconnected);
            }
            Err(_) => return Err(Gone::TooSlow),
        }
        if closing {
            break;
        }
    }
    // Flush and end the TCP stream politely; the peer may already be gone.
    let _ = tokio::time::timeout(write_timeout, sink.close()).await;
    Ok(())
}

/// A close reason is limited to 123 bytes (on a character boundary).
pub fn truncate_reason(reason: &str) -> String {
    let mut reason = reason.to_string();
    while reason.len() > 123 {
        reason.pop();
    }
    reason
}

/// Reads the next message, telling apart a message that exceeded the size limit.
pub enum Incoming {
    Message(Message),
    TooLarge,
    /// The connection ended without a close frame (or failed).
    Lost,
}

/// The next incoming message of `stream`.
pub async fn next(stream: &mut futures::stream::SplitStream<WebSocket>) -> Incoming {
    match stream.next().await {
        Some(Ok(message)) => Incoming::Message(message),
        // tungstenite reports `Capacity(MessageTooLong { .. })`; axum only exposes it as a boxed error.
        Some(Err(err)) if err.to_string().contains("too long") => Incoming::TooLarge,
        Some(Err(err)) => {
            tracing::info!(error = %err, "live socket read failed");
            Incoming::Lost
        }
        None => Incoming::Lost,
    }
}
