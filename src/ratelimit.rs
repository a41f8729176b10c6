//! Request rate limits: per tenant by plan (GraphQL requests and WebSocket connects), per IP for
//! anonymous requests, and sign-in lock-outs (see [`crate::identity::lockout`]).
//!
//! Limits are GCRA quotas from `governor`, keyed by tenant (or IP), driven by the server [`Clock`] so
//! tests can move time. Every limit is configuration (README, "Rate limits"); 0 means unlimited. Over a
//! limit, requests fail with `RATE_LIMITED` (HTTP 429) and `Retry-After`.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use moka::future::Cache;

use crate::clock::Clock;
use crate::db::{Database, StorageError, TenantId};
use crate::error::{ErrorCode, Reportable};
use crate::identity::lockout::{LockoutPolicy, Lockouts};
use crate::repo;

/// Requests per minute for each plan; 0 is unlimited.
#[derive(Debug, Clone, Copy)]
pub struct PlanLimits {
    pub free: u32,
    pub pro: u32,
    pub enterprise: u32,
}

impl PlanLimits {
    /// The limit of `plan` (unknown plans get the free plan's).
    pub fn for_plan(&self, plan: &str) -> u32 {
        match plan {
            "enterprise" => self.enterprise,
            "pro" => self.pro,
            _ => self.free,
        }
    }
}

/// Every configurable limit.
#[derive(Debug, Clone, Copy)]
pub struct RateLimitSettings {
    /// GraphQL requests per tenant per minute.
    pub graphql: PlanLimits,
    /// WebSocket connects per tenant per minute.
    pub ws_connects: PlanLimits,
    /// Requests without credentials per client IP per minute.
    pub anonymous_per_ip: u32,
    /// Failed sign-ins per account.
    pub login_account: LockoutPolicy,
    /// Failed sign-ins per client IP.
    pub login_ip: LockoutPolicy,
}

/// What a tenant-keyed limit applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    Graphql,
    WsConnect,
}

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, Clock, NoOpMiddleware<Instant>>;

/// One keyed limiter per plan.
struct PerPlan {
    free: Option<Keyed<TenantId>>,
    pro: Option<Keyed<TenantId>>,
    enterprise: Option<Keyed<TenantId>>,
}

impl PerPlan {
    fn new(limits: PlanLimits, clock: &Clock) -> Self {
        Self {
            free: limiter(limits.free, clock),
            pro: limiter(limits.pro, clock),
            enterprise: limiter(limits.enterprise, clock),
        }
    }

    fn for_plan(&self, plan: &str) -> Option<&Keyed<TenantId>> {
        match plan {
            "enterprise" => self.enterprise.as_ref(),
            "pro" => self.pro.as_ref(),
            // Unknown plans get the smallest limits.
            _ => self.free.as_ref(),
        }
    }
}

fn limiter<K: std::hash::Hash + Eq + Clone>(per_minute: u32, clock: &Clock) -> Option<Keyed<K>> {
    NonZeroU32::new(per_minute)
        .map(|n| RateLimiter::dashmap_with_clock(Quota::per_minute(n), clock.clone()))
}

/// The server's rate limiters.
pub struct RateLimits {
    clock: Clock,
    catalog: Database,
    graphql: PerPlan,
    ws_connects: PerPlan,
    anonymous: Option<Keyed<IpAddr>>,
    /// Tenant → plan, re-read from the catalog every minute.
    plans: Cache<TenantId, String>,
    /// Failed sign-ins per account (normalised email).
    pub login_accounts: Lockouts,
    /// Failed sign-ins per client IP.
    pub login_ips: Lockouts,
}

impl RateLimits {
    pub fn new(settings: &RateLimitSettings, clock: Clock, catalog: Database) -> Self {
        Self {
            graphql: PerPlan::new(settings.graphql, &clock),
            ws_connects: PerPlan::new(settings.ws_connects, &clock),
            anonymous: limiter(settings.anonymous_per_ip, &clock),
            plans: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(60))
                .build(),
            login_accounts: Lockouts::new(settings.login_account),
            login_ips: Lockouts::new(settings.login_ip),
            clock,
            catalog,
        }
    }

    /// Counts one request of `tenant_id`; `RATE_LIMITED` when over its plan's limit.
    pub async fn check_tenant(&self, tenant_id: TenantId, what: Limited) -> Result<(), LimitError> {
        let plan = self.plan_of(tenant_id).await?;
        let limiters = match what {
            Limited::Graphql => &self.graphql,
            Limited::WsConnect => &self.ws_connects,
        };
        match limiters.for_plan(&plan) {
            Some(limiter) => self.verdict(limiter.check_key(&tenant_id)),
            None => Ok(()),
        }
    }

    /// Counts one request without credentials from `ip`.
    pub fn check_anonymous(&self, ip: &str) -> Result<(), LimitError> {
        let (Some(limiter), Ok(ip)) = (&self.anonymous, ip.parse::<IpAddr>()) else {
            return Ok(());
        };
        self.verdict(limiter.check_key(&ip))
    }

    fn verdict(&self, outcome: Result<(), governor::NotUntil<Instant>>) -> Result<(), LimitError> {
        outcome.map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(&self.clock));
            LimitError::Limited(RateLimited::after(wait))
        })
    }

    /// The tenant's plan (`free`, `pro`, `enterprise`), cached for a minute.
    pub async fn plan_of(&self, tenant_id: TenantId) -> Result<String, LimitError> {
        let catalog = self.catalog.clone();
        self.plans
            .try_get_with(tenant_id, async move {
                catalog
                    .read(move |conn| repo::tenants::get(conn, tenant_id))
                    .await
                    .map(|t| t.map_or_else(|| "free".to_string(), |t| t.plan))
            })
            .await
            .map_err(|err| LimitError::Storage(StorageError::Open(err)))
    }
}

/// Over a limit, or locked out: retry after the given wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many requests; retry later")]
pub struct RateLimited {
    /// Whole seconds to wait (at least 1).
    pub retry_after_secs: u64,
}

impl RateLimited {
    pub fn after(wait: Duration) -> Self {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Self {
            retry_after_secs: secs.max(1),
        }
    }
}

impl Reportable for RateLimited {
    fn code(&self) -> ErrorCode {
        ErrorCode::RateLimited
    }

    fn retry_after_secs(&self) -> Option<u64> {
        Some(self.retry_after_secs)
    }
}

/// A limit check that refused, or could not read the tenant's plan.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error(transparent)]
    Limited(#[from] RateLimited),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl Reportable for LimitError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Limited(e) => e.code(),
            Self::Storage(e) => e.code(),
        }
    }

    fn inner(&self) -> Option<&dyn Reportable> {
        match self {
            Self::Limited(e) => Some(e),
            Self::Storage(e) => Some(e),
        }
    }
}
