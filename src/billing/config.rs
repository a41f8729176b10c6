//! Billing flags of `voxedge serve` (Stripe, dunning, the billing job), each with an environment fallback.

use std::time::Duration;

use crate::redact::Secret;

/// Flags of `voxedge serve` for billing; flattened into [`crate::config::ServeArgs`].
#[derive(Debug, Clone, clap::Args)]
pub struct BillingArgs {
    /// Stripe secret key (`sk_live_…`/`sk_test_…`). Unset: no Stripe; invoices are computed locally.
    #[arg(long, env = "VOXEDGE_STRIPE_SECRET_KEY", hide_env_values = true)]
    pub stripe_secret_key: Option<String>,
    /// Stripe's API origin (tests point it at a local server speaking the same protocol).
    #[arg(
        long,
        env = "VOXEDGE_STRIPE_API_URL",
        default_value = "https://api.stripe.com",
        value_parser = crate::config::parse_origin
    )]
    pub stripe_api_url: String,
    /// Signing secret(s) of the Stripe webhook endpoint (`whsec_…`); several, comma-separated, while one
    /// is rotated out.
    #[arg(
        long,
        env = "VOXEDGE_STRIPE_WEBHOOK_SECRET",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub stripe_webhook_secret: Vec<String>,
    /// Seconds a Stripe webhook's signed timestamp may be away from now.
    #[arg(
        long,
        env = "VOXEDGE_STRIPE_WEBHOOK_TOLERANCE_SECS",
        default_value_t = 300
    )]
    pub stripe_webhook_tolerance_secs: u64,
    /// Days a past-due tenant keeps starting calls before it is suspended.
    #[arg(long, env = "VOXEDGE_DUNNING_GRACE_DAYS", default_value_t = 14)]
    pub dunning_grace_days: u64,
    /// Seconds a month's invoice stays a draft (for corrections) before it is finalized.
    #[arg(
        long,
        env = "VOXEDGE_INVOICE_FINALIZE_DELAY_SECS",
        default_value_t = 3600
    )]
    pub invoice_finalize_delay_secs: u64,
    /// Milliseconds between runs of the billing job (close months, finalize, suspend, report usage).
    #[arg(
        long,
        env = "VOXEDGE_BILLING_JOB_INTERVAL_MS",
        default_value_t = 60_000
    )]
    pub billing_job_interval_ms: u64,
}

/// Billing settings, as the server uses them.
#[derive(Debug, Clone)]
pub struct BillingSettings {
    pub stripe: Option<StripeSettings>,
    pub grace: Duration,
    pub finalize_delay: Duration,
    pub job_interval: Duration,
}

/// Stripe's settings, present when a secret key is configured.
#[derive(Debug, Clone)]
pub struct StripeSettings {
    pub secret_key: Secret<String>,
    pub api_url: String,
    pub webhook_secrets: Vec<Secret<String>>,
    pub webhook_tolerance: Duration,
}

impl BillingSettings {
    pub fn from_args(args: BillingArgs) -> Self {
        let webhook_secrets = args
            .stripe_webhook_secret
            .into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .map(Secret::new)
            .collect();
        Self {
            stripe: args
                .stripe_secret_key
                .filter(|k| !k.is_empty())
                .map(|key| StripeSettings {
                    secret_key: Secret::new(key),
                    api_url: args.stripe_api_url,
                    webhook_secrets,
                    webhook_tolerance: Duration::from_secs(args.stripe_webhook_tolerance_secs),
                }),
            grace: Duration::from_secs(args.dunning_grace_days.saturating_mul(86_400)),
            finalize_delay: Duration::from_secs(args.invoice_finalize_delay_secs),
            job_interval: Duration::from_millis(args.billing_job_interval_ms.max(10)),
        }
    }
}
