//! Graceful shutdown, in two steps.
//!
//! 1. *Draining* (SIGTERM/SIGINT): stop accepting connections, report not-ready, refuse new live sessions;
//!    in-flight requests and WebSocket sessions keep running.
//! 2. *Closing* (the grace period is over): every live session must close now, cleanly (WebSockets send a
//!    `1001 going away` close frame).
//!
//! WebSocket sessions outlive the HTTP request that upgraded them, so they register in a task tracker
//! that shutdown waits on.

use std::future::Future;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Shared shutdown state; cheap to clone.
#[derive(Clone, Default)]
pub struct Shutdown {
    draining: CancellationToken,
    closing: CancellationToken,
    sessions: TaskTracker,
}

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }

    /// Enters the draining step.
    pub fn start_draining(&self) {
        self.draining.cancel();
    }

    /// Enters the closing step (implies draining).
    pub fn close_now(&self) {
        self.draining.cancel();
        self.closing.cancel();
    }

    pub fn is_draining(&self) -> bool {
        self.draining.is_cancelled()
    }

    /// Resolves when draining starts.
    pub fn draining(&self) -> impl Future<Output = ()> + Send + 'static {
        self.draining.clone().cancelled_owned()
    }

    /// Resolves when live sessions must close.
    pub fn closing(&self) -> impl Future<Output = ()> + Send + 'static {
        self.closing.clone().cancelled_owned()
    }

    /// Runs a live session (a WebSocket) as a tracked task, so shutdown can wait for it.
    pub fn spawn_session<F>(&self, session: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.sessions.spawn(session);
    }

    /// Number of live sessions.
    pub fn live_sessions(&self) -> usize {
        self.sessions.len()
    }

    /// Resolves once every session has ended. Call after draining started.
    pub async fn sessions_ended(&self) {
        self.sessions.close();
        self.sessions.wait().await;
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn signal() {
    let interrupt = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!(signal = "SIGINT", "shutdown requested"),
        () = terminate => tracing::info!(signal = "SIGTERM", "shutdown requested"),
    }
}
