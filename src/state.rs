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
use crate::billing::Billing;
use crate::brain::Brain;
use crate::campaigns::Scheduler;
use crate::campaigns::scheduler::SchedulerParts;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::migrations::{CATALOG, REGION};
use crate::db::{Database, OpenMode, SqliteSettings, StorageError, TenantId, TenantStore};
use crate::edge::follower::{self, FollowSettings, Lag};
use crate::edge::internal::Internal;
use crate::edge::litestream::Litestream;
use crate::edge::{Edge, Freshness};
use crate::email::Mailer;
use crate::events::EventBus;
use crate::identity::Identity;
use crate::live::registry::LiveCalls;
use crate::ratelimit::RateLimits;
use crate::recordings::{Recordings, Replica};
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
    /// Portal identity: sign-up, sessions, members, the links it mails.
    pub identity: Identity,
    /// The email outbox and its sender.
    pub mailer: Mailer,
    /// Calls through tenants' Twilio accounts.
    pub telephony: Telephony,
    /// LLM clients and circuit breakers shared by every call.
    pub brain: Brain,
    /// Plans, prices, quotas, invoices, dunning, Stripe.
    pub billing: Billing,
    /// The calls running on this server, for Twilio's callbacks.
    pub live_calls: LiveCalls,
    /// Campaigns and placed calls in the background.
    pub scheduler: Scheduler,
    /// Which tenants have post-call analyses to run.
    pub analysis: AnalysisQueue,
    /// Runs post-call analyses in the background.
    pub analyst: Analyst,
    /// Call recordings: files, signed URLs, retention.
    pub recordings: Recordings,
    /// Ends the calls a previous process left open, once per tenant.
    pub recovery: crate::calls::Recovery,
    /// Regions: where tenants live, the catalog replica, moves and restores.
    pub edge: Edge,
    /// How far the catalog replica is behind the primary (when Litestream is configured).
    pub lag: Lag,
}

/// Who opens the state: the server follows the catalog replica; a one-shot command reads the server's copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opener {
    Server,
    Command,
}

impl AppState {
    /// Opens the data directory (creating it if needed) and the catalog. Used by the server and the CLI.
    pub async fn open(config: Config) -> anyhow::Result<Self> {
        Self::open_as(config, Opener::Command).await
    }

    /// [`open`](Self::open), for the server or a one-shot command.
    pub async fn open_as(config: Config, opener: Opener) -> anyhow::Result<Self> {
        config.edge.validate().context("regions")?;
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
        let lag = Lag::default();
        let primary = config.edge.is_primary();
        let freshness = if primary {
            Freshness::primary()
        } else {
            Freshness::replica()
        };
        let follow = config.edge.replica.as_ref().map(|root| FollowSettings {
            litestream: Litestream::new(config.edge.litestream.clone()),
            url: root.catalog(),
            dir: data_dir.replica(),
            sqlite: config.sqlite.clone(),
        });
        let catalog = match (primary, opener, follow) {
            (true, _, _) => open_file(data_dir.catalog(), &CATALOG, &config.sqlite, &threads)
                .await
                .with_context(|| format!("cannot open catalog {}", data_dir.catalog().display()))?,
            (false, Opener::Server, Some(follow)) => {
                follower::open_replica(follow, freshness.clone(), lag.clone())
                    .await
                    .context("cannot follow the catalog replica")?
            }
            (false, _, _) => server_replica(&data_dir.replica(), &config.sqlite)?,
        };
        let region_db = open_file(data_dir.region_db(), &REGION, &config.sqlite, &threads)
            .await
            .with_context(|| format!("cannot open {}", data_dir.region_db().display()))?;
        if primary {
            move_webhook_queue(&catalog, &region_db).await?;
        }
        let secret_key = config.secret_key.as_ref().map(|k| k.expose().as_str());
        let secrets = Secrets::load(secret_key, data_dir.root())
            .context("cannot load the server secret key")?;
        let tenants = TenantStore::new(
            data_dir.tenants(),
            config.sqlite.clone(),
            &config.tenant_cache,
            threads,
            secrets.clone(),
        );
        let webhooks = Dispatcher::new(
            config.webhooks.clone(),
            &config.outbound,
            secrets.clone(),
            region_db.clone(),
            tenants.clone(),
        );
        let clock = Clock::new();
        let internal = Internal::new(
            config.edge.public_url.clone(),
            secrets.clone(),
            clock.clone(),
        );
        let signer = TokenSigner::new(secrets.clone(), clock.clone(), config.identity.access_ttl);
        let auth = Authenticator::new(
            tenants.clone(),
            catalog.clone(),
            signer.clone(),
            clock.clone(),
            config.api_key_cache_ttl,
            100_000,
            freshness.clone(),
            config.edge.multi_region().then(|| internal.clone()),
        );
        let edge = Edge::new(
            config.edge.clone(),
            data_dir.clone(),
            config.sqlite.clone(),
            catalog.clone(),
            region_db.clone(),
            tenants.clone(),
            internal,
            freshness,
        )
        .await
        .context("cannot read region.db")?;
        let limits = Arc::new(RateLimits::new(
            &config.rate_limits,
            clock.clone(),
            catalog.clone(),
        ));
        let mailer = Mailer::new(config.email.clone(), catalog.clone(), secrets.clone())?;
        let identity = Identity::new(
            catalog.clone(),
            edge.clone(),
            auth.clone(),
            clock.clone(),
            limits.clone(),
            config.identity,
            mailer.clone(),
        );
        let telephony = Telephony::new(
            TwilioApi::new(config.twilio_api_url.clone(), Duration::from_secs(10)),
            secrets.clone(),
            signer,
            clock.clone(),
            region_db.clone(),
        );
        let portal_origin = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", config.listen));
        let billing = Billing::new(
            catalog.clone(),
            mailer.clone(),
            portal_origin,
            clock.clone(),
            config.billing.clone(),
        )
        .context("cannot set up billing")?;
        if primary {
            // Elsewhere the catalog is the primary's replica, price book included.
            billing
                .seed_defaults()
                .await
                .context("cannot seed the default price book")?;
        }
        let events = EventBus::new(config.event_buffer);
        let live_calls = LiveCalls::new();
        // Recordings go to the same replica root as the tenant files, with Litestream's S3 credentials.
        let recordings_replica = config
            .edge
            .replica
            .as_ref()
            .map(|root| Replica::new(root, config.edge.replica_credentials.as_ref()))
            .transpose()
            .context("recordings replica")?;
        let recordings = Recordings::new(
            data_dir.recordings(),
            secrets.recording_url_key(),
            config.recordings,
            config.public_url.clone(),
            clock.clone(),
            recordings_replica,
        );
        let analysis = AnalysisQueue::new(region_db.clone(), clock.clone());
        let brain = Brain::new(config.llm.breaker, &config.outbound)
            .context("cannot build the LLM clients")?;
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
        let recovery = crate::calls::Recovery::default();
        let scheduler = Scheduler::new(SchedulerParts {
            region_db: region_db.clone(),
            tenants: crate::tenants::Tenants::new(
                tenants.clone(),
                events.clone(),
                webhooks.clone(),
                analysis.clone(),
                recovery.clone(),
            ),
            telephony: telephony.clone(),
            billing: billing.clone(),
            live: live_calls.clone(),
            clock: clock.clone(),
            public_url: config.public_url.clone(),
            tick: config.outbound_tick,
        });
        Ok(Self {
            billing,
            catalog,
            tenants,
            auth,
            identity,
            mailer,
            telephony,
            agents: AgentCache::new(),
            events,
            live_calls,
            scheduler,
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
            recovery,
            edge,
            lag,
            config: Arc::new(config),
        })
    }

    /// Background work of the regions, for the server: the primary's heartbeat, and following its own catalog
    /// replica to measure the lag (other regions already follow theirs).
    pub fn start_edge(&self) {
        let settings = &self.config.edge;
        if !settings.is_primary() {
            return;
        }
        if settings.multi_region() || settings.replica.is_some() {
            follower::beat(self.catalog.clone(), settings.region().to_string());
        }
        if let Some(root) = &settings.replica {
            follower::measure_own_lag(
                FollowSettings {
                    litestream: Litestream::new(settings.litestream.clone()),
                    url: root.catalog(),
                    dir: self.config.data_dir.replica(),
                    sqlite: self.config.sqlite.clone(),
                },
                self.lag.clone(),
            );
        }
    }

    /// Opens tenants by id, for background work over many of them.
    pub fn tenant_opener(&self) -> crate::tenants::Tenants {
        crate::tenants::Tenants::new(
            self.tenants.clone(),
            self.events.clone(),
            self.webhooks.clone(),
            self.analysis.clone(),
            self.recovery.clone(),
        )
    }

    /// The tenant, its database opened on demand, for domain functions.
    pub async fn tenant(&self, id: TenantId) -> Result<Tenant, StorageError> {
        self.tenant_opener().open(id).await
    }
}

/// Opens (creating if needed) a database this machine writes: the catalog on the primary, region.db.
async fn open_file(
    path: std::path::PathBuf,
    migrations: &'static crate::db::migrations::Migrations,
    sqlite: &SqliteSettings,
    threads: &Arc<ScheduledThreadPool>,
) -> Result<Database, StorageError> {
    let (sqlite, threads) = (sqlite.clone(), threads.clone());
    tokio::task::spawn_blocking(move || {
        Database::open(
            &path,
            migrations,
            &sqlite,
            OpenMode::CreateIfMissing,
            &threads,
        )
    })
    .await?
}

/// For a one-shot command outside the primary: the newest catalog copy the server keeps.
fn server_replica(dir: &std::path::Path, sqlite: &SqliteSettings) -> anyhow::Result<Database> {
    let newest = std::fs::read_dir(dir)
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            name.starts_with("catalog-") && name.ends_with(".db")
        })
        .max();
    match newest {
        Some(path) => Ok(Database::replica(&path, sqlite)),
        None => anyhow::bail!(
            "this region is not the primary and holds no catalog replica yet (start the server first, or run this in the primary region)"
        ),
    }
}

/// The webhook queue lived in the catalog before regions; its rows move to region.db once.
async fn move_webhook_queue(catalog: &Database, region_db: &Database) -> anyhow::Result<()> {
    let rows = catalog.read(crate::repo::webhooks::catalog_queue).await?;
    if rows.is_empty() {
        return Ok(());
    }
    let count = rows.len();
    region_db
        .write(move |tx| {
            for (tenant, due_at) in &rows {
                if let Ok(tenant) = tenant.parse::<TenantId>() {
                    crate::repo::webhooks::queue_tenant(tx, tenant, *due_at)?;
                }
            }
            Ok::<_, StorageError>(())
        })
        .await?;
    catalog
        .write(|tx| crate::repo::webhooks::forget_catalog_queue(tx))
        .await?;
    tracing::info!(
        count,
        "moved the webhook queue from the catalog to region.db"
    );
    Ok(())
}
