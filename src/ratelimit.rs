//! Request rate limits: per tenant by plan (GraphQL requests and WebSocket connects), per IP for
//! anonymous requests and for identity mutations (each one counts, however a request bundles them),
//! sign-ups per IP per hour, sign-in lock-outs (see [`crate::identity::lockout`]), and the cap on
//! GraphQL WebSocket operations running at once per tenant.
//!
//! Limits are GCRA quotas from `governor`, keyed by tenant (or IP), driven by the server [`Clock`] so
//! tests can move time. Every limit is configuration (README, "Rate limits"); 0 means unlimited. Over a
//! limit, requests fail with `RATE_LIMITED` (HTTP 429) and `Retry-After`. Keyed state grows with every
//! new key (each client IP), so [`RateLimits::prune`] runs on a timer and forgets keys whose budget is
//! full again.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
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
    /// Identity mutations (sign-up, sign-in, accept invite, refresh, switch tenant) per client IP per
    /// minute, each field counted.
    pub identity_per_ip: u32,
    /// Sign-ups per client IP per hour.
    pub signups_per_ip_per_hour: u32,
    /// GraphQL WebSocket operations running at once per tenant (0: unlimited).
    pub subscriptions_per_tenant: usize,
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

    fn all(&self) -> impl Iterator<Item = &Keyed<TenantId>> {
        [&self.free, &self.pro, &self.enterprise]
            .into_iter()
            .filter_map(Option::as_ref)
    }
}

fn limiter<K: std::hash::Hash + Eq + Clone>(per_minute: u32, clock: &Clock) -> Option<Keyed<K>> {
    NonZeroU32::new(per_minute)
        .map(|n| RateLimiter::dashmap_with_clock(Quota::per_minute(n), clock.clone()))
}

fn hourly<K: std::hash::Hash + Eq + Clone>(per_hour: u32, clock: &Clock) -> Option<Keyed<K>> {
    NonZeroU32::new(per_hour)
        .map(|n| RateLimiter::dashmap_with_clock(Quota::per_hour(n), clock.clone()))
}

/// Forgets keys whose budget has refilled, and gives the memory back; returns the keys left.
fn prune_keyed<K: std::hash::Hash + Eq + Clone>(limiter: &Keyed<K>) -> usize {
    limiter.retain_recent();
    limiter.shrink_to_fit();
    limiter.len()
}

/// The server's rate limiters.
pub struct RateLimits {
    clock: Clock,
    catalog: Database,
    graphql: PerPlan,
    ws_connects: PerPlan,
    anonymous: Option<Keyed<IpAddr>>,
    identity: Option<Keyed<IpAddr>>,
    signups: Option<Keyed<IpAddr>>,
    /// GraphQL WebSocket operations running per tenant.
    pub subscriptions: Arc<OperationSlots>,
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
            identity: limiter(settings.identity_per_ip, &clock),
            signups: hourly(settings.signups_per_ip_per_hour, &clock),
            subscriptions: Arc::new(OperationSlots::new(settings.subscriptions_per_tenant)),
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

    /// Counts one identity mutation field from `ip` (and, for a sign-up, one against the hourly sign-up
    /// budget), whatever else the request carries.
    pub fn check_identity(&self, ip: Option<&str>, sign_up: bool) -> Result<(), LimitError> {
        // Without a client address (never the case for requests from the network) there is no key.
        let Some(ip) = ip.and_then(|ip| ip.parse::<IpAddr>().ok()) else {
            return Ok(());
        };
        if let Some(limiter) = &self.identity {
            self.verdict(limiter.check_key(&ip))?;
        }
        match &self.signups {
            Some(limiter) if sign_up => self.verdict(limiter.check_key(&ip)),
            _ => Ok(()),
        }
    }

    /// Forgets keyed state whose budget has refilled and stale lock-out entries. Returns the keys still
    /// tracked. Run it on a timer: without it every client IP ever seen stays in memory.
    pub fn prune(&self) -> usize {
        let per_plan = self
            .graphql
            .all()
            .chain(self.ws_connects.all())
            .map(prune_keyed)
            .sum::<usize>();
        let per_ip = [&self.anonymous, &self.identity, &self.signups]
            .into_iter()
            .flatten()
            .map(prune_keyed)
            .sum::<usize>();
        let now = self.clock.instant();
        per_plan + per_ip + self.login_accounts.prune(now) + self.login_ips.prune(now)
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
        Ok(self
            .plans
            .try_get_with(tenant_id, async move {
                catalog
                    .read(move |conn| repo::tenants::get(conn, tenant_id))
                    .await
                    .map(|t| t.map_or_else(|| "free".to_string(), |t| t.plan))
            })
            .await?)
    }
}

/// Operations running at once per tenant, capped. A slot is held for as long as its [`Slot`] lives.
#[derive(Debug)]
pub struct OperationSlots {
    /// 0: unlimited.
    per_tenant: usize,
    running: Mutex<HashMap<TenantId, usize>>,
}

/// One running operation of a tenant; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot {
    slots: Arc<OperationSlots>,
    tenant: TenantId,
}

impl OperationSlots {
    pub fn new(per_tenant: usize) -> Self {
        Self {
            per_tenant,
            running: Mutex::default(),
        }
    }

    /// A slot for one more operation of `tenant`, or `None` at the cap.
    pub fn acquire(self: &Arc<Self>, tenant: TenantId) -> Option<Slot> {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let count = running.entry(tenant).or_insert(0);
        if self.per_tenant > 0 && *count >= self.per_tenant {
            return None;
        }
        *count += 1;
        Some(Slot {
            slots: self.clone(),
            tenant,
        })
    }

    /// Operations running for `tenant`.
    pub fn running(&self, tenant: TenantId) -> usize {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running.get(&tenant).copied().unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut running = self.slots.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = running.get_mut(&self.tenant) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                running.remove(&self.tenant);
            }
        }
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

/// A failed plan lookup, shared by every request that waited on the same cache entry.
impl From<std::sync::Arc<StorageError>> for LimitError {
    fn from(err: std::sync::Arc<StorageError>) -> Self {
        Self::Storage(err.into())
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::lockout::LockoutPolicy;

    fn settings() -> RateLimitSettings {
        let policy = LockoutPolicy {
            max_failures: 3,
            window: Duration::from_secs(60),
            lockout: Duration::from_secs(60),
        };
        RateLimitSettings {
            graphql: PlanLimits {
                free: 10,
                pro: 10,
                enterprise: 10,
            },
            ws_connects: PlanLimits {
                free: 10,
                pro: 10,
                enterprise: 10,
            },
            anonymous_per_ip: 10,
            identity_per_ip: 3,
            signups_per_ip_per_hour: 2,
            subscriptions_per_tenant: 2,
            login_account: policy,
            login_ip: policy,
        }
    }

    fn catalog(dir: &std::path::Path) -> Database {
        Database::open(
            &dir.join("catalog.db"),
            &crate::db::migrations::CATALOG,
            &crate::db::SqliteSettings::default(),
            crate::db::OpenMode::CreateIfMissing,
            &Arc::new(scheduled_thread_pool::ScheduledThreadPool::new(1)),
        )
        .unwrap()
    }

    #[test]
    fn keyed_state_is_pruned_once_budgets_refill() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::new();
        let limits = RateLimits::new(&settings(), clock.clone(), catalog(dir.path()));
        for i in 0..1000u32 {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i).to_string();
            limits.check_anonymous(&ip).unwrap();
            limits.check_identity(Some(&ip), true).unwrap();
        }
        assert_eq!(
            limits.prune(),
            3000,
            "fresh state is kept while budgets refill"
        );
        clock.advance(Duration::from_secs(3600));
        assert_eq!(limits.prune(), 0, "refilled budgets are forgotten");
    }

    #[test]
    fn identity_mutations_and_sign_ups_have_their_own_budgets() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::new();
        let limits = RateLimits::new(&settings(), clock.clone(), catalog(dir.path()));
        let ip = Some("192.0.2.1");
        limits.check_identity(ip, true).unwrap();
        limits.check_identity(ip, true).unwrap();
        assert!(
            limits.check_identity(ip, true).is_err(),
            "two sign-ups an hour"
        );
        clock.advance(Duration::from_secs(60));
        limits.check_identity(ip, false).unwrap();
        assert!(
            limits.check_identity(ip, true).is_err(),
            "still two an hour"
        );
        limits.check_identity(Some("192.0.2.2"), true).unwrap();
    }

    #[test]
    fn operation_slots_are_capped_per_tenant_and_freed_on_drop() {
        let slots = Arc::new(OperationSlots::new(2));
        let (a, b) = (TenantId::generate(), TenantId::generate());
        let first = slots.acquire(a).unwrap();
        let _second = slots.acquire(a).unwrap();
        assert!(slots.acquire(a).is_none());
        assert!(slots.acquire(b).is_some(), "other tenants have their own");
        drop(first);
        assert_eq!(slots.running(a), 1);
        assert!(slots.acquire(a).is_some());
    }
}
