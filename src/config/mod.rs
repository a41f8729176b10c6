//! Server configuration: command-line flags with environment-variable fallbacks, turned into one typed
//! [`Config`]. Every flag and its default is listed in the README; keep the two in step.
//!
//! - `args`: the flags of `voxedge serve` ([`ServeArgs`]).
//! - this module: the settings derived from them ([`Config`]).
//! - `data_dir`: the data directory's layout ([`DataDir`]).

mod args;
mod data_dir;

pub use args::ServeArgs;
pub use data_dir::DataDir;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::billing::BillingSettings;
use crate::brain::BreakerConfig;
use crate::db::SqliteSettings;
use crate::db::TenantCacheSettings;
use crate::edge::{EdgeSettings, ReplicaCredentials};
use crate::email::EmailSettings;
use crate::identity::IdentitySettings;
use crate::identity::lockout::LockoutPolicy;
use crate::live::{LiveSettings, LlmSettings};
use crate::outbound::OutboundPolicy;
use crate::ratelimit::{PlanLimits, RateLimitSettings};
use crate::redact::Secret;
use crate::voice::VoiceConfig;
use crate::webhooks::DispatcherSettings;

/// Everything `Application::build` needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: DataDir,
    pub listen: SocketAddr,
    /// Regions, the primary, the replicas.
    pub edge: EdgeSettings,
    pub client_ip_header: Option<String>,
    /// `scheme://host[:port]` without a trailing slash, when configured.
    pub public_url: Option<String>,
    /// Twilio's REST API origin, `scheme://host[:port]`.
    pub twilio_api_url: String,
    pub sqlite: SqliteSettings,
    pub tenant_cache: TenantCacheSettings,
    pub api_key_cache_ttl: Duration,
    pub shutdown_grace: Duration,
    pub max_body_bytes: usize,
    pub graphql: GraphqlLimits,
    pub event_buffer: usize,
    pub webhooks: DispatcherSettings,
    /// Where tenants' URLs (webhooks, tools, LLM base URLs) may lead.
    pub outbound: OutboundPolicy,
    /// The configured master key, if any (else the data directory's key file).
    pub secret_key: Option<Secret<String>>,
    pub identity: IdentitySettings,
    pub rate_limits: RateLimitSettings,
    /// Where the voice models are.
    pub voice: VoiceConfig,
    /// Live-call connection limits.
    pub live: LiveSettings,
    /// LLM provider timeouts and circuit breakers.
    pub llm: LlmSettings,
    /// The built portal, served at `/` with a single-page-app fallback.
    pub ui_dir: PathBuf,
    /// Stripe, dunning and the billing job.
    pub billing: BillingSettings,
    /// How often the outbound scheduler looks at running campaigns and unsettled calls.
    pub outbound_tick: Duration,
    /// Call recordings: signed URL lifetime, default retention.
    pub recordings: RecordingSettings,
    /// SMTP and the email outbox.
    pub email: EmailSettings,
    /// Where traces are exported (`None`: nowhere).
    pub otlp: Option<crate::telemetry::OtlpSettings>,
    /// The bearer token `/metrics` requires, when set.
    pub metrics_token: Option<Secret<String>>,
}

/// Call recordings (see `src/recordings`).
#[derive(Debug, Clone, Copy)]
pub struct RecordingSettings {
    pub url_ttl: Duration,
    /// For tenants without their own setting.
    pub retention_days: u32,
    /// How often expired recordings are looked for.
    pub cleanup_every: Duration,
}

/// Limits applied to every GraphQL operation.
#[derive(Debug, Clone, Copy)]
pub struct GraphqlLimits {
    pub max_depth: usize,
    pub max_complexity: usize,
    /// Field aliases per document.
    pub max_aliases: usize,
    /// Directives per field.
    pub max_directives: usize,
    pub graphiql: bool,
    /// Largest WebSocket message.
    pub ws_max_message_bytes: usize,
    /// Operations running at once per WebSocket (0: unlimited).
    pub ws_max_operations: usize,
}

/// Accepts an http(s) origin (`scheme://host[:port]`, an optional trailing `/`) and returns it without the
/// slash. Paths are refused: for `--public-url`, Twilio signs the exact URL it called, which must be this
/// origin plus the path the server sees.
pub fn parse_origin(value: &str) -> Result<String, OriginError> {
    let url = reqwest::Url::parse(value.trim())?;
    let origin_only = url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() || !origin_only {
        return Err(OriginError::NotAnOrigin);
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// Why a value is not an http(s) origin ([`parse_origin`]).
#[derive(Debug, thiserror::Error)]
pub enum OriginError {
    #[error("not a URL: {0}")]
    NotAUrl(#[from] url::ParseError),
    #[error("expected an http(s) origin such as https://voxedge.fly.dev (no path)")]
    NotAnOrigin,
}

impl Config {
    pub fn from_args(data_dir: PathBuf, args: ServeArgs) -> Self {
        // Flags win; Fly sets FLY_REGION on every machine, and fly.toml sets PRIMARY_REGION.
        let env = |name: &str| std::env::var(name).ok();
        let region = args
            .region
            .or_else(|| env("FLY_REGION"))
            .filter(|r| !r.is_empty());
        let primary = args
            .primary_region
            .or_else(|| env("PRIMARY_REGION"))
            .filter(|r| !r.is_empty());
        let edge = EdgeSettings {
            region,
            primary,
            regions: args.regions.into_iter().filter(|r| !r.is_empty()).collect(),
            replica: args.replica_url,
            replica_credentials: ReplicaCredentials::from_env(),
            litestream: args.litestream,
            public_url: args.public_url.clone(),
        };
        Self {
            data_dir: DataDir::new(data_dir),
            listen: args.listen,
            edge,
            client_ip_header: args.client_ip_header.map(|h| h.to_ascii_lowercase()),
            public_url: args.public_url,
            twilio_api_url: args.twilio_api_url,
            sqlite: SqliteSettings {
                busy_timeout: Duration::from_millis(args.busy_timeout_ms),
                wal_autocheckpoint: args.wal_autocheckpoint,
                read_pool_size: args.read_pool_size,
                ..SqliteSettings::default()
            },
            tenant_cache: TenantCacheSettings {
                capacity: args.tenant_cache_capacity,
                time_to_idle: Duration::from_secs(args.tenant_idle_secs),
            },
            api_key_cache_ttl: Duration::from_secs(args.api_key_cache_ttl_secs),
            shutdown_grace: Duration::from_secs(args.shutdown_grace_secs),
            max_body_bytes: args.max_body_bytes,
            event_buffer: args.event_buffer,
            webhooks: DispatcherSettings {
                max_attempts: args.webhook_max_attempts.max(1),
                retry_base: Duration::from_millis(args.webhook_retry_base_ms),
                timeout: Duration::from_millis(args.webhook_timeout_ms),
                ..DispatcherSettings::default()
            },
            outbound: OutboundPolicy::allowing(args.allow_outbound),
            graphql: GraphqlLimits {
                max_depth: args.graphql_max_depth,
                max_complexity: args.graphql_max_complexity,
                max_aliases: args.graphql_max_aliases,
                max_directives: args.graphql_max_directives,
                graphiql: args.graphiql,
                ws_max_message_bytes: args.graphql_ws_max_message_bytes.max(1024),
                ws_max_operations: args.graphql_ws_max_subscriptions,
            },
            secret_key: args.secret_key.map(Secret::new),
            metrics_token: args
                .metrics_token
                .filter(|t| !t.trim().is_empty())
                .map(Secret::new),
            ui_dir: args.ui_dir,
            identity: IdentitySettings {
                access_ttl: Duration::from_secs(args.access_token_ttl_secs),
                refresh_ttl: Duration::from_secs(args.refresh_token_ttl_secs),
                invite_ttl: Duration::from_secs(args.invite_ttl_secs),
                verify_ttl: Duration::from_secs(args.email_verification_ttl_secs),
                reset_ttl: Duration::from_secs(args.password_reset_ttl_secs),
                verification_grace: Duration::from_secs(args.email_verification_grace_secs),
                session_lifetime: Duration::from_secs(args.session_max_lifetime_secs.max(1)),
            },
            email: EmailSettings {
                smtp_url: args.smtp_url.filter(|u| !u.is_empty()).map(Secret::new),
                from: args.email_from,
                max_attempts: args.email_max_attempts.max(1),
                retry_base: Duration::from_millis(args.email_retry_base_ms),
            },
            otlp: args
                .otlp_endpoint
                .map(|endpoint| crate::telemetry::OtlpSettings {
                    endpoint,
                    protocol: args.otlp_protocol,
                }),
            rate_limits: RateLimitSettings {
                graphql: PlanLimits {
                    free: args.rate_limit_free,
                    pro: args.rate_limit_pro,
                    enterprise: args.rate_limit_enterprise,
                },
                ws_connects: PlanLimits {
                    free: args.ws_connect_limit_free,
                    pro: args.ws_connect_limit_pro,
                    enterprise: args.ws_connect_limit_enterprise,
                },
                anonymous_per_ip: args.rate_limit_anonymous,
                identity_per_ip: args.rate_limit_identity,
                signups_per_ip_per_hour: args.signup_limit_per_hour,
                subscriptions_per_tenant: args.graphql_ws_max_tenant_subscriptions,
                login_account: LockoutPolicy {
                    max_failures: args.login_max_failures_per_account,
                    window: Duration::from_secs(args.login_failure_window_secs),
                    lockout: Duration::from_secs(args.login_lockout_secs),
                },
                login_ip: LockoutPolicy {
                    max_failures: args.login_max_failures_per_ip,
                    window: Duration::from_secs(args.login_failure_window_secs),
                    lockout: Duration::from_secs(args.login_lockout_secs),
                },
            },
            voice: args.voice,
            billing: BillingSettings::from_args(args.billing),
            live: LiveSettings {
                ping_interval: Duration::from_millis(args.live_ping_interval_ms.max(1)),
                idle_timeout: Duration::from_millis(args.live_idle_timeout_ms.max(1)),
                write_timeout: Duration::from_millis(args.live_write_timeout_ms.max(1)),
                max_message_bytes: args.live_max_message_bytes,
            },
            outbound_tick: Duration::from_millis(args.outbound_tick_ms.max(10)),
            recordings: RecordingSettings {
                url_ttl: Duration::from_secs(args.recording_url_ttl_secs.max(1)),
                retention_days: args.recording_retention_days.max(1),
                cleanup_every: Duration::from_secs(3600),
            },
            llm: LlmSettings {
                connect_timeout: Duration::from_millis(args.llm_connect_timeout_ms.max(1)),
                first_token_timeout: Duration::from_millis(args.llm_first_token_timeout_ms.max(1)),
                breaker: BreakerConfig {
                    failure_threshold: args.llm_breaker_failures.max(1),
                    open_for: Duration::from_secs(args.llm_breaker_open_secs),
                },
            },
        }
    }

    /// The defaults, on `127.0.0.1:0`, for tests and tools.
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        use clap::Parser as _;
        #[derive(clap::Parser)]
        struct Defaults {
            #[command(flatten)]
            serve: ServeArgs,
        }
        let mut config = Self::from_args(data_dir.into(), Defaults::parse_from(["voxedge"]).serve);
        config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_origins() {
        assert_eq!(
            parse_origin("https://voxedge.fly.dev/").unwrap(),
            "https://voxedge.fly.dev"
        );
        assert_eq!(
            parse_origin("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            parse_origin("HTTPS://Voxedge.Fly.Dev:443").unwrap(),
            "https://voxedge.fly.dev"
        );
        for bad in [
            "voxedge.fly.dev",
            "ftp://voxedge.fly.dev",
            "https://voxedge.fly.dev/api",
            "https://voxedge.fly.dev/?a=1",
            "https://user:pw@voxedge.fly.dev",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }
}
