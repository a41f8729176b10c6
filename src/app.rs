//! Application assembly: load the voice models, open the state, bind the listener, serve until stopped.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::state::{AppState, Opener};
use crate::voice::{VoiceModels, VoiceOptions};

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Opens storage and binds the listen address (port 0 picks a free port).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let listen = config.listen;
        // Install the metrics recorder before anything records.
        crate::telemetry::metrics_handle();
        let voice_config = config.voice.clone();
        let voice = tokio::task::spawn_blocking(move || {
            VoiceModels::load(&voice_config, VoiceOptions::default())
        });
        let mut state = AppState::open_as(config, Opener::Server).await?;
        state.voice = Arc::new(voice.await?);
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        Ok(Self { listener, state })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("invariant: a bound TCP listener has a local address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `stop` resolves, then drains: new connections are refused, in-flight requests and
    /// WebSockets get the grace period, and whatever is left is closed.
    pub async fn run_until_stopped(
        self,
        stop: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        let Self { listener, state } = self;
        let shutdown = state.shutdown.clone();
        let grace = state.config.shutdown_grace;
        tracing::info!(
            address = %listener.local_addr()?,
            region = state.config.edge.region(),
            primary = state.config.edge.primary(),
            data_dir = %state.config.data_dir.root().display(),
            "voxedge listening"
        );
        spawn_housekeeping(&state);
        state.start_edge();
        let router = crate::http::router(state.clone());
        let server = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown.draining());
        let mut server = tokio::spawn(server.into_future());

        tokio::select! {
            () = stop => {}
            result = &mut server => {
                result?.context("server failed")?;
                return Ok(());
            }
        }
        shutdown.start_draining();
        tracing::info!(
            grace_secs = grace.as_secs(),
            live_sessions = shutdown.live_sessions(),
            "draining"
        );
        let drained = tokio::time::timeout(grace, async {
            let _ = (&mut server).await;
            shutdown.sessions_ended().await;
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                live_sessions = shutdown.live_sessions(),
                "grace period over; closing what is left"
            );
            shutdown.close_now();
            // Sessions get a moment to send their close frames before the runtime stops.
            let _ = tokio::time::timeout(Duration::from_secs(2), shutdown.sessions_ended()).await;
            server.abort();
        }
        tracing::info!("voxedge stopped");
        Ok(())
    }
}

/// Deletes recordings past their tenant's retention, every `cleanup_every` (the first time right after start).
async fn sweep_recordings(state: AppState) {
    let draining = state.shutdown.draining();
    tokio::pin!(draining);
    let mut tick = tokio::time::interval(state.recordings.cleanup_every());
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = &mut draining => break,
        }
        for id in state.recordings.tenants_with_recordings() {
            let swept = match state.tenant(id).await {
                Ok(tenant) => state.recordings.sweep(&tenant).await,
                Err(e) => Err(e),
            };
            match swept {
                Ok(0) => {}
                Ok(n) => tracing::info!(tenant_id = %id, deleted = n, "expired recordings deleted"),
                Err(e) => tracing::warn!(tenant_id = %id, error = %e, "cannot sweep recordings"),
            }
        }
    }
}

/// Background work: webhook and email delivery, the billing job, the outbound scheduler (campaigns, placed
/// calls), post-call analysis, the recordings' retention sweep and replication, and periodic upkeep that applies the tenant cache's pending evictions, so idle tenants close even when
/// no request comes to trigger it, and forgets rate-limit state of clients whose budgets have refilled (it would
/// otherwise grow with every IP ever seen).
///
/// The email outbox and the billing job write the catalog, so they run in the primary region only (elsewhere
/// the catalog is a read-only replica); the billing job there bills the tenants homed in the primary region.
fn spawn_housekeeping(state: &AppState) {
    tokio::spawn(state.webhooks.clone().run(state.shutdown.draining()));
    tokio::spawn(state.scheduler.clone().run(state.shutdown.draining()));
    tokio::spawn(state.analyst.clone().run(state.shutdown.draining()));
    tokio::spawn(sweep_recordings(state.clone()));
    tokio::spawn(
        state
            .recordings
            .clone()
            .replicate(state.tenant_opener(), state.shutdown.draining()),
    );
    let edge = &state.config.edge;
    if edge.is_primary() {
        tokio::spawn(state.mailer.clone().run(state.shutdown.draining()));
        tokio::spawn(crate::billing::job::run(
            state.billing.clone(),
            state.tenant_opener(),
            edge.multi_region().then(|| edge.region().to_string()),
            state.shutdown.draining(),
        ));
    }
    let tenants = state.tenants.clone();
    let limits = state.limits.clone();
    let draining = state.shutdown.draining();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(15));
        let mut round = 0u32;
        tokio::pin!(draining);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    tenants.run_pending_tasks().await;
                    // Once a minute: budgets are per minute, so state a minute old has refilled.
                    if round.is_multiple_of(4) {
                        let keys = limits.prune();
                        metrics::gauge!("voxedge_rate_limit_keys").set(keys as f64);
                    }
                    round = round.wrapping_add(1);
                }
                () = &mut draining => break,
            }
        }
    });
}
