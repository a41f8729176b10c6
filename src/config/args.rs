//! [`ServeArgs`]: the flags of `voxedge serve`, each with its environment-variable fallback and default.
//! [`Config::from_args`](super::Config::from_args) turns them into settings.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::parse_origin;
use crate::billing::BillingArgs;
use crate::edge::ReplicaRoot;
use crate::voice::VoiceConfig;

/// Flags of `voxedge serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the bound address is logged).
    #[arg(long, env = "VOXEDGE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Region this instance serves (tenants homed elsewhere are replayed there with `fly-replay`); unset:
    /// `FLY_REGION`.
    #[arg(long, env = "VOXEDGE_REGION")]
    pub region: Option<String>,
    /// The region that owns the catalog; catalog writes made elsewhere are replayed there. Unset:
    /// `PRIMARY_REGION`; neither: a single-region server.
    #[arg(long, env = "VOXEDGE_PRIMARY_REGION")]
    pub primary_region: Option<String>,
    /// Every region the app runs in, comma-separated (sign-up and moves accept only these); unset: any.
    #[arg(long, env = "VOXEDGE_REGIONS", value_delimiter = ',')]
    pub regions: Vec<String>,
    /// Root URL of the Litestream replicas (`s3://bucket/prefix?endpoint=…`, `file:///dir`), laid out as
    /// deploy/litestream-config writes them: regions follow the catalog from it, moves and restores read it.
    #[arg(long, env = "VOXEDGE_REPLICA_URL", value_parser = parse_replica)]
    pub replica_url: Option<ReplicaRoot>,
    /// The Litestream executable (catalog replica, restores, moves).
    #[arg(long, env = "VOXEDGE_LITESTREAM", default_value = "litestream")]
    pub litestream: PathBuf,
    /// Header holding the client's IP, set by a trusted proxy (e.g. `fly-client-ip`); unset: the TCP peer.
    #[arg(long, env = "VOXEDGE_CLIENT_IP_HEADER")]
    pub client_ip_header: Option<String>,
    /// The origin callers and Twilio reach this server at (e.g. `https://voxedge.fly.dev`); unset: each
    /// request's `Host` header and `X-Forwarded-Proto`.
    #[arg(long, env = "VOXEDGE_PUBLIC_URL", value_parser = parse_origin)]
    pub public_url: Option<String>,
    /// Twilio's REST API origin (tests point it at a local server speaking the same protocol).
    #[arg(
        long,
        env = "VOXEDGE_TWILIO_API_URL",
        default_value = "https://api.twilio.com",
        value_parser = parse_origin
    )]
    pub twilio_api_url: String,
    /// Maximum tenant databases open at once.
    #[arg(long, env = "VOXEDGE_TENANT_CACHE_CAPACITY", default_value_t = 1024)]
    pub tenant_cache_capacity: u64,
    /// Seconds after which an unused tenant database is closed.
    #[arg(long, env = "VOXEDGE_TENANT_IDLE_SECS", default_value_t = 600)]
    pub tenant_idle_secs: u64,
    /// Read connections per open database.
    #[arg(long, env = "VOXEDGE_READ_POOL_SIZE", default_value_t = 4)]
    pub read_pool_size: u32,
    /// Milliseconds a statement waits for a database lock.
    #[arg(long, env = "VOXEDGE_BUSY_TIMEOUT_MS", default_value_t = 5000)]
    pub busy_timeout_ms: u64,
    /// WAL pages between automatic checkpoints; 0 leaves checkpointing to Litestream.
    #[arg(long, env = "VOXEDGE_WAL_AUTOCHECKPOINT", default_value_t = 1000)]
    pub wal_autocheckpoint: u32,
    /// Seconds a verified API key is trusted before it is checked against the database again.
    #[arg(long, env = "VOXEDGE_API_KEY_CACHE_TTL_SECS", default_value_t = 60)]
    pub api_key_cache_ttl_secs: u64,
    /// Seconds in-flight requests and WebSockets get to finish after SIGTERM/SIGINT.
    #[arg(long, env = "VOXEDGE_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "VOXEDGE_MAX_BODY_BYTES", default_value_t = 1 << 20)]
    pub max_body_bytes: usize,
    /// Deepest accepted GraphQL selection nesting.
    #[arg(long, env = "VOXEDGE_GRAPHQL_MAX_DEPTH", default_value_t = 16)]
    pub graphql_max_depth: usize,
    /// Largest accepted GraphQL query complexity (each field costs 1, lists multiply by page size).
    #[arg(long, env = "VOXEDGE_GRAPHQL_MAX_COMPLEXITY", default_value_t = 2000)]
    pub graphql_max_complexity: usize,
    /// Most field aliases one GraphQL document may use (fragments counted where they are spread).
    #[arg(long, env = "VOXEDGE_GRAPHQL_MAX_ALIASES", default_value_t = 30)]
    pub graphql_max_aliases: usize,
    /// Most directives one GraphQL field may carry.
    #[arg(long, env = "VOXEDGE_GRAPHQL_MAX_DIRECTIVES", default_value_t = 5)]
    pub graphql_max_directives: usize,
    /// Largest GraphQL WebSocket message, in bytes (checked from the first message, before credentials).
    #[arg(long, env = "VOXEDGE_GRAPHQL_WS_MAX_MESSAGE_BYTES", default_value_t = 64 * 1024)]
    pub graphql_ws_max_message_bytes: usize,
    /// Most operations running at once on one GraphQL WebSocket (0: unlimited).
    #[arg(
        long,
        env = "VOXEDGE_GRAPHQL_WS_MAX_SUBSCRIPTIONS",
        default_value_t = 50
    )]
    pub graphql_ws_max_subscriptions: usize,
    /// Most GraphQL WebSocket operations running at once per tenant, over all its sockets (0: unlimited).
    #[arg(
        long,
        env = "VOXEDGE_GRAPHQL_WS_MAX_TENANT_SUBSCRIPTIONS",
        default_value_t = 1000
    )]
    pub graphql_ws_max_tenant_subscriptions: usize,
    /// Events buffered per tenant for live subscriptions before a slow subscriber must resynchronise.
    #[arg(long, env = "VOXEDGE_EVENT_BUFFER", default_value_t = 4096)]
    pub event_buffer: usize,
    /// Attempts per webhook delivery before it is marked failed.
    #[arg(long, env = "VOXEDGE_WEBHOOK_MAX_ATTEMPTS", default_value_t = 8)]
    pub webhook_max_attempts: u32,
    /// Milliseconds before the first webhook retry; each later retry waits 3× longer (capped at 1 h).
    #[arg(long, env = "VOXEDGE_WEBHOOK_RETRY_BASE_MS", default_value_t = 10_000)]
    pub webhook_retry_base_ms: u64,
    /// Webhook request timeout in milliseconds.
    #[arg(long, env = "VOXEDGE_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000)]
    pub webhook_timeout_ms: u64,
    /// Address ranges (CIDR, comma-separated) tenants' URLs may reach besides public addresses, e.g.
    /// `127.0.0.1/32` for a local Ollama. Default: none.
    #[arg(
        long,
        env = "VOXEDGE_ALLOW_OUTBOUND",
        value_delimiter = ',',
        value_parser = crate::outbound::parse_range
    )]
    pub allow_outbound: Vec<ipnet::IpNet>,
    /// Serve GraphiQL to browsers at GET /graphql.
    #[arg(long, env = "VOXEDGE_GRAPHIQL", default_value_t = true, action = clap::ArgAction::Set)]
    pub graphiql: bool,
    /// The built portal (`npm run build` in `ui/`), served at `/`; missing: `/` says how to build it.
    #[arg(long, env = "VOXEDGE_UI_DIR", default_value = "ui/dist")]
    pub ui_dir: PathBuf,
    /// Server master key (32 bytes, base64), shared by every instance; unset: DATA_DIR/secret.key.
    #[arg(long, env = "VOXEDGE_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Seconds an access token (JWT) is valid.
    #[arg(long, env = "VOXEDGE_ACCESS_TOKEN_TTL_SECS", default_value_t = 900)]
    pub access_token_ttl_secs: u64,
    /// Seconds a refresh token is valid (each is used once; sessions last while refreshed).
    #[arg(long, env = "VOXEDGE_REFRESH_TOKEN_TTL_SECS", default_value_t = 30 * 24 * 3600)]
    pub refresh_token_ttl_secs: u64,
    /// Seconds an invitation can be accepted.
    #[arg(long, env = "VOXEDGE_INVITE_TTL_SECS", default_value_t = 7 * 24 * 3600)]
    pub invite_ttl_secs: u64,
    /// SMTP server for email: `smtp://user:pass@host:587?tls=required` (STARTTLS), `smtps://...:465`
    /// (TLS), `smtp://host:25` (plain). Unset: emails are written to the log (redacted), not sent.
    #[arg(long, env = "VOXEDGE_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The `From:` of every email.
    #[arg(
        long,
        env = "VOXEDGE_EMAIL_FROM",
        default_value = "voxedge <no-reply@localhost>"
    )]
    pub email_from: String,
    /// Attempts per email before it is given up.
    #[arg(long, env = "VOXEDGE_EMAIL_MAX_ATTEMPTS", default_value_t = 8)]
    pub email_max_attempts: u32,
    /// Milliseconds before the first retry of an email; each later one waits 3× longer (at most 1 h).
    #[arg(long, env = "VOXEDGE_EMAIL_RETRY_BASE_MS", default_value_t = 30_000)]
    pub email_retry_base_ms: u64,
    /// Seconds an email verification link works.
    #[arg(
        long,
        env = "VOXEDGE_EMAIL_VERIFICATION_TTL_SECS",
        default_value_t = 3 * 24 * 3600
    )]
    pub email_verification_ttl_secs: u64,
    /// Seconds a new account may be used before its email address must be verified.
    #[arg(
        long,
        env = "VOXEDGE_EMAIL_VERIFICATION_GRACE_SECS",
        default_value_t = 7 * 24 * 3600
    )]
    pub email_verification_grace_secs: u64,
    /// Seconds a password reset link works.
    #[arg(long, env = "VOXEDGE_PASSWORD_RESET_TTL_SECS", default_value_t = 3600)]
    pub password_reset_ttl_secs: u64,
    /// OpenTelemetry collector to export traces to over OTLP/HTTP, e.g. `http://127.0.0.1:4318` (spans are
    /// posted to `/v1/traces` under it). Unset: no traces are exported.
    #[arg(long, env = "VOXEDGE_OTLP_ENDPOINT", value_parser = parse_origin)]
    pub otlp_endpoint: Option<String>,
    /// OTLP/HTTP encoding: `protobuf` or `json`.
    #[arg(long, env = "VOXEDGE_OTLP_PROTOCOL", value_enum, default_value_t = crate::telemetry::OtlpProtocol::Protobuf)]
    pub otlp_protocol: crate::telemetry::OtlpProtocol,
    /// Seconds a sign-in session lasts at most, however often it is refreshed.
    #[arg(long, env = "VOXEDGE_SESSION_MAX_LIFETIME_SECS", default_value_t = 30 * 24 * 3600)]
    pub session_max_lifetime_secs: u64,
    /// Bearer token `GET /metrics` requires; unset: /metrics is open (keep it off the public network).
    #[arg(long, env = "VOXEDGE_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// GraphQL requests per minute per tenant on the free plan (0: unlimited).
    #[arg(long, env = "VOXEDGE_RATE_LIMIT_FREE", default_value_t = 600)]
    pub rate_limit_free: u32,
    /// GraphQL requests per minute per tenant on the pro plan (0: unlimited).
    #[arg(long, env = "VOXEDGE_RATE_LIMIT_PRO", default_value_t = 3000)]
    pub rate_limit_pro: u32,
    /// GraphQL requests per minute per tenant on the enterprise plan (0: unlimited).
    #[arg(long, env = "VOXEDGE_RATE_LIMIT_ENTERPRISE", default_value_t = 12000)]
    pub rate_limit_enterprise: u32,
    /// WebSocket connects per minute per tenant on the free plan (0: unlimited).
    #[arg(long, env = "VOXEDGE_WS_CONNECT_LIMIT_FREE", default_value_t = 60)]
    pub ws_connect_limit_free: u32,
    /// WebSocket connects per minute per tenant on the pro plan (0: unlimited).
    #[arg(long, env = "VOXEDGE_WS_CONNECT_LIMIT_PRO", default_value_t = 300)]
    pub ws_connect_limit_pro: u32,
    /// WebSocket connects per minute per tenant on the enterprise plan (0: unlimited).
    #[arg(
        long,
        env = "VOXEDGE_WS_CONNECT_LIMIT_ENTERPRISE",
        default_value_t = 1200
    )]
    pub ws_connect_limit_enterprise: u32,
    /// Requests without credentials (sign-up, sign-in, ...) per minute per client IP (0: unlimited).
    #[arg(long, env = "VOXEDGE_RATE_LIMIT_ANONYMOUS", default_value_t = 120)]
    pub rate_limit_anonymous: u32,
    /// Identity mutations (signUp, login, acceptInvite, refreshSession, switchTenant) per minute per
    /// client IP, each counted (0: unlimited).
    #[arg(long, env = "VOXEDGE_RATE_LIMIT_IDENTITY", default_value_t = 60)]
    pub rate_limit_identity: u32,
    /// Sign-ups per hour per client IP (0: unlimited).
    #[arg(long, env = "VOXEDGE_SIGNUP_LIMIT_PER_HOUR", default_value_t = 10)]
    pub signup_limit_per_hour: u32,
    /// Failed sign-ins to one account, within the window, that lock it out (0: never).
    #[arg(
        long,
        env = "VOXEDGE_LOGIN_MAX_FAILURES_PER_ACCOUNT",
        default_value_t = 5
    )]
    pub login_max_failures_per_account: u32,
    /// Failed sign-ins from one IP, within the window, that lock it out (0: never).
    #[arg(long, env = "VOXEDGE_LOGIN_MAX_FAILURES_PER_IP", default_value_t = 50)]
    pub login_max_failures_per_ip: u32,
    /// Seconds over which failed sign-ins are counted.
    #[arg(long, env = "VOXEDGE_LOGIN_FAILURE_WINDOW_SECS", default_value_t = 900)]
    pub login_failure_window_secs: u64,
    /// Seconds a lock-out lasts.
    #[arg(long, env = "VOXEDGE_LOGIN_LOCKOUT_SECS", default_value_t = 900)]
    pub login_lockout_secs: u64,
    /// Voice model files and the ONNX Runtime library.
    #[command(flatten)]
    pub voice: VoiceConfig,
    /// Stripe, dunning and the billing job.
    #[command(flatten)]
    pub billing: BillingArgs,
    /// Milliseconds between WebSocket pings on live calls.
    #[arg(long, env = "VOXEDGE_LIVE_PING_INTERVAL_MS", default_value_t = 5000)]
    pub live_ping_interval_ms: u64,
    /// Milliseconds a live-call client may go without answering a ping (or sending anything) before the
    /// call ends as `connection_lost`.
    #[arg(long, env = "VOXEDGE_LIVE_IDLE_TIMEOUT_MS", default_value_t = 20_000)]
    pub live_idle_timeout_ms: u64,
    /// Milliseconds a live-call client may take to accept what the server sends before it is dropped as too slow.
    #[arg(long, env = "VOXEDGE_LIVE_WRITE_TIMEOUT_MS", default_value_t = 5000)]
    pub live_write_timeout_ms: u64,
    /// Largest accepted live-call WebSocket message, in bytes.
    #[arg(long, env = "VOXEDGE_LIVE_MAX_MESSAGE_BYTES", default_value_t = 512 * 1024)]
    pub live_max_message_bytes: usize,
    /// Milliseconds allowed to connect to an LLM provider before the next one is tried.
    #[arg(long, env = "VOXEDGE_LLM_CONNECT_TIMEOUT_MS", default_value_t = 2000)]
    pub llm_connect_timeout_ms: u64,
    /// Milliseconds from sending a request to an LLM provider to its first token before the next one is tried.
    #[arg(
        long,
        env = "VOXEDGE_LLM_FIRST_TOKEN_TIMEOUT_MS",
        default_value_t = 4000
    )]
    pub llm_first_token_timeout_ms: u64,
    /// Milliseconds between the outbound scheduler's looks at running campaigns and unsettled calls.
    #[arg(long, env = "VOXEDGE_OUTBOUND_TICK_MS", default_value_t = 1000)]
    pub outbound_tick_ms: u64,
    /// Consecutive failures of an LLM provider (per tenant) that open its circuit.
    #[arg(long, env = "VOXEDGE_LLM_BREAKER_FAILURES", default_value_t = 5)]
    pub llm_breaker_failures: u32,
    /// Seconds an open LLM circuit skips its provider before letting one request probe it.
    #[arg(long, env = "VOXEDGE_LLM_BREAKER_OPEN_SECS", default_value_t = 30)]
    pub llm_breaker_open_secs: u64,
    /// Seconds a recording's signed download URL (`Call.recording.url`) stays valid.
    #[arg(long, env = "VOXEDGE_RECORDING_URL_TTL_SECS", default_value_t = 300)]
    pub recording_url_ttl_secs: u64,
    /// Days call recordings are kept, for tenants that have not set their own (`setRecordingRetention`).
    #[arg(long, env = "VOXEDGE_RECORDING_RETENTION_DAYS", default_value_t = 30)]
    pub recording_retention_days: u32,
}

fn parse_replica(value: &str) -> Result<ReplicaRoot, String> {
    ReplicaRoot::parse(value)
}
