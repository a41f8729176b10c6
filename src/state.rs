//! The application state: one `Arc`-filled value shared by the edges — HTTP routes, GraphQL resolvers,
//! live-call admission and the CLI. Domain code never takes it; edges hand domain functions the parts they
//! use (a [`Tenant`], the [`Identity`] service, the event bus, the clock).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use scheduled_thread_pool::ScheduledThreadPool;

use crate::agents::AgentCache;
use crate::analysis::{AnalysisQueue, Analyst, AnalystParts};
use crate::auth::{Authenticator, TokenSigner};
use crate::brain::Brain;
use crate::calls::CallCapacity;
use crate::campaigns::Scheduler;
use crate::campaigns::scheduler::SchedulerParts;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::migrations::CATALOG;
use crate::db::{Database, OpenMode, StorageError, TenantId, TenantStore};
use crate::events::EventBus;
use crate::identity::Identity;
use crate::live::registry::LiveCalls;
use crate::ratelimit::RateLimits;
use crate::recordings::Recordings;
use crate::secrets::Secrets;
use crate::shutdown::Shutdown;
use crate::telephony::{Telephony, TwilioApi};
use crate::tenants::Tenant;
use crate::voice::VoiceModels;
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
    /// Portal identity: sign-up, sessions, members.
    pub identity: Identity,
    /// Calls through tenants' Twilio accounts.
    pub telephony: Telephony,
    /// LLM clients and circuit breakers shared by every call.
    pub brain: Brain,
    /// The calls running on this server, for Twilio's callbacks.
    pub live_calls: LiveCalls,
    /// How many calls a tenant may have going at once.
    pub capacity: CallCapacity,
    /// Campaigns and placed calls in the background.
    pub outbound: Scheduler,
    /// Which tenants have post-call analyses to run.
    pub analysis: AnalysisQueue,
    /// Runs post-call analyses in the background.
    pub analyst: Analyst,
    /// Call recordings: files, signed URLs, retention.
    pub recordings: Recordings,
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
        let webhooks = Dispatcher::new(
            config.webhooks.clone(),
            secrets.clone(),
            catalog.clone(),
            tenants.clone(),
        );
        let clock = Clock::new();
        let signer = TokenSigner::new(secrets.clone(), clock.clone(), config.identity.access_ttl);
        let auth = Authenticator::new(
            tenants.clone(),
            catalog.clone(),
            signer.clone(),
            clock.clone(),
            config.api_key_cache_ttl,
            100_000,
        );
        let limits = Arc::new(RateLimits::new(
            &config.rate_limits,
            clock.clone(),
            catalog.clone(),
        ));
        let identity = Identity::new(
            catalog.clone(),
            tenants.clone(),
            auth.clone(),
            clock.clone(),
            limits.clone(),
            config.identity,
            config.region.clone(),
        );
        let telephony = Telephony::new(
            TwilioApi::new(config.twilio_api_url.clone(), Duration::from_secs(10)),
            secrets.clone(),
            signer,
            clock.clone(),
            catalog.clone(),
        );
        let events = EventBus::new(config.event_buffer);
        let live_calls = LiveCalls::new();
        let capacity = CallCapacity::new(config.max_concurrent_calls, limits.clone());
        let recordings = Recordings::new(
            data_dir.recordings(),
            secrets.recording_url_key(),
            config.recordings,
            config.public_url.clone(),
            clock.clone(),
        );
        let analysis = AnalysisQueue::new(catalog.clone(), clock.clone());
        let brain = Brain::new(config.llm.breaker).context("cannot build the LLM clients")?;
        let analyst = Analyst::new(AnalystParts {
            queue: analysis.clone(),
            tenants: tenants.clone(),
            events: events.clone(),
            webhooks: webhooks.clone(),
            brain: brain.clone(),
            secrets: secrets.clone(),
            llm: config.llm.clone(),
            clock: clock.clone(),
        });
        let outbound = Scheduler::new(SchedulerParts {
            catalog: catalog.clone(),
            tenants: tenants.clone(),
            events: events.clone(),
            webhooks: webhooks.clone(),
            analysis: analysis.clone(),
            telephony: telephony.clone(),
            capacity: capacity.clone(),
            live: live_calls.clone(),
            clock: clock.clone(),
            public_url: config.public_url.clone(),
            tick: config.outbound_tick,
        });
        Ok(Self {
            catalog,
            tenants,
            auth,
            identity,
            telephony,
            agents: AgentCache::new(),
            events,
            live_calls,
            capacity,
            outbound,
            analysis,
            analyst,
            recordings,
            webhooks,
            shutdown: Shutdown::new(),
            clock,
            secrets,
            limits,
            voice: Arc::new(VoiceModels::none()),
            brain,
            config: Arc::new(config),
        })
    }

    /// The tenant, its database opened on demand, for domain functions.
    pub async fn tenant(&self, id: TenantId) -> Result<Tenant, StorageError> {
        let db = self.tenants.get(id).await?;
        Ok(Tenant::new(
            id,
            db,
            self.events.clone(),
            self.webhooks.clone(),
            self.analysis.clone(),
        ))
    }
}
