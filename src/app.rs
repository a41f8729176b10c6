//! Application assembly: open storage, build the shared state, bind the listener, serve until stopped.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use scheduled_thread_pool::ScheduledThreadPool;
use tokio::net::TcpListener;

use crate::agents::AgentCache;
use crate::auth::{Authenticator, TokenSigner};
use crate::brain::Brain;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::migrations::CATALOG;
use crate::db::{Database, OpenMode, TenantId, TenantStore};
use crate::error::ApiError;
use crate::events::EventBus;
use crate::ratelimit::RateLimits;
use crate::secrets::Secrets;
use crate::shutdown::Shutdown;
use crate::telephony::TwilioApi;
use crate::voice::{VoiceModels, VoiceOptions};
use crate::webhooks::Dispatcher;

/// Everything request handlers and resolvers share. Cheap to clone (all `Arc`s inside).
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    /// `catalog.db`: tenants, users, memberships, sign-in sessions, invitations.
    pub catalog: Database,
    /// Open tenant databases.
    pub tenants: TenantStore,
    /// Credentials → principals.
    pub auth: Authenticator,
    /// Active agent configurations.
    pub agents: AgentCache,
    /// Live events per tenant, for subscriptions.
    pub events: EventBus,
    /// Outgoing webhook deliveries.
    pub webhooks: Dispatcher,
    pub shutdown: Shutdown,
    /// "Now" for expiry, rate limits and lock-outs (tests move it).
    pub clock: Clock,
    /// Keys derived from the server secret; `encrypt`/`decrypt` for tenant secrets at rest.
    pub secrets: Secrets,
    /// Rate limits and sign-in lock-outs.
    pub limits: Arc<RateLimits>,
    /// Voice engines (VAD, STT, TTS). Loaded by the server at start; CLI commands run without them.
    pub voice: Arc<VoiceModels>,
    /// Twilio's REST API, for outbound calls.
    pub twilio: TwilioApi,
    /// LLM clients and circuit breakers shared by every call.
    pub brain: Brain,
}

impl AppState {
    /// Opens the data directory (creating it if needed) and the catalog. Used by the server and the CLI.
    pub async fn open(config: Config) -> anyhow::Result<Self> {
        let data_dir = config.data_dir.clone();
        data_dir.ensure().with_context(|| {
            format!("cannot create data directory {}", data_dir.root().display())
        })?;
        let threads = Arc::new(
            ScheduledThreadPool::builder()
                .num_threads(2)
                .thread_name_pattern("voxedge-sqlite-{}")
                .build(),
        );
        let catalog_path = data_dir.catalog();
        let sqlite = config.sqlite.clone();
        let catalog_threads = threads.clone();
        let catalog = tokio::task::spawn_blocking(move || {
            Database::open(
                &catalog_path,
                &CATALOG,
                &sqlite,
                OpenMode::CreateIfMissing,
                &catalog_threads,
            )
        })
        .await?
        .with_context(|| format!("cannot open catalog {}", data_dir.catalog().display()))?;
        let tenants = TenantStore::new(
            data_dir.tenants(),
            config.sqlite.clone(),
            &config.tenant_cache,
            threads,
        );
        let secret_key = config.secret_key.as_ref().map(|k| k.expose().as_str());
        let secrets = Secrets::load(secret_key, data_dir.root())
            .context("cannot load the server secret key")?;
        let webhooks = Dispatcher::new(config.webhooks.clone(), secrets.clone());
        let clock = Clock::new();
        let signer = TokenSigner::new(secrets.clone(), clock.clone(), config.identity.access_ttl);
        let auth = Authenticator::new(
            tenants.clone(),
            catalog.clone(),
            signer,
            clock.clone(),
            config.api_key_cache_ttl,
            100_000,
        );
        let limits = Arc::new(RateLimits::new(
            &config.rate_limits,
            clock.clone(),
            catalog.clone(),
        ));
        Ok(Self {
            catalog,
            tenants,
            auth,
            agents: AgentCache::new(),
            events: EventBus::new(config.event_buffer),
            webhooks,
            shutdown: Shutdown::new(),
            clock,
            secrets,
            limits,
            voice: Arc::new(VoiceModels::none()),
            twilio: TwilioApi::new(config.twilio_api_url.clone(), Duration::from_secs(10)),
            brain: Brain::new(config.llm.breaker).context("cannot build the LLM clients")?,
            config: Arc::new(config),
        })
    }

    /// The tenant's database, opened on demand.
    pub async fn tenant_db(&self, id: TenantId) -> Result<Database, ApiError> {
        Ok(self.tenants.get(id).await?)
    }
}

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
        let mut state = AppState::open(config).await?;
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
            region = state.config.region.as_deref().unwrap_or("-"),
            data_dir = %state.config.data_dir.root().display(),
            "voxedge listening"
        );
        spawn_housekeeping(&state);
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

/// Background work: webhook delivery, and periodic upkeep that applies the tenant cache's pending
/// evictions, so idle tenants close even when no request comes to trigger it.
fn spawn_housekeeping(state: &AppState) {
    tokio::spawn(state.webhooks.clone().run(
        state.catalog.clone(),
        state.tenants.clone(),
        state.shutdown.draining(),
    ));
    let tenants = state.tenants.clone();
    let draining = state.shutdown.draining();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(15));
        tokio::pin!(draining);
        loop {
            tokio::select! {
                _ = tick.tick() => tenants.run_pending_tasks().await,
                () = &mut draining => break,
            }
        }
    });
}
