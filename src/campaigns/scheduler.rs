//! The outbound scheduler: a background task that gives every tenant with outbound work — a running campaign,
//! or placed calls that have not ended — its turns.
//!
//! `region.db`'s `outbound_queue` names those tenants and when each is next due; entries are written before the
//! tenant's own change commits, so after a restart the queue still names every tenant with work, without opening
//! every tenant file. A turn settles placed calls whose news was lost ([`Telephony::reconcile`]) and then runs the
//! tenant's campaigns ([`super::dialer`]). Time comes from the server [`Clock`], so tests move it instead of
//! waiting for windows to open or retries to come due.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use tokio::sync::Notify;

use super::dialer::Dialer;
use crate::billing::Billing;
use crate::clock::Clock;
use crate::db::{Database, StorageError, TenantId};
use crate::error::Reportable as _;
use crate::live::registry::LiveCalls;
use crate::repo;
use crate::telephony::Telephony;
use crate::tenants::Tenants;

/// A tenant with placed calls not ended is looked at this often (the reconciler only acts on stale ones).
const UNENDED_CALLS_EVERY: Duration = Duration::from_secs(5);
/// The longest a tenant with a running campaign waits for its next turn.
const MAX_WAIT: Duration = Duration::from_secs(300);
/// Tenants given turns at once.
const CONCURRENCY: usize = 4;

/// What the scheduler works with. Cheap to clone.
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

struct Inner {
    region_db: Database,
    tenants: Tenants,
    telephony: Telephony,
    billing: Billing,
    live: LiveCalls,
    clock: Clock,
    public_url: Option<String>,
    tick: Duration,
    wake: Notify,
    /// When this server started: placed calls last heard of before it may have lost their sessions.
    started_at: i64,
}

/// The parts of the server the scheduler uses.
pub struct SchedulerParts {
    pub region_db: Database,
    /// Opens tenants (ending calls a previous process left open, first).
    pub tenants: Tenants,
    pub telephony: Telephony,
    pub billing: Billing,
    pub live: LiveCalls,
    pub clock: Clock,
    pub public_url: Option<String>,
    pub tick: Duration,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Scheduler {
    pub fn new(parts: SchedulerParts) -> Self {
        let started_at = parts.clock.now_ms();
        Self {
            inner: Arc::new(Inner {
                region_db: parts.region_db,
                tenants: parts.tenants,
                telephony: parts.telephony,
                billing: parts.billing,
                live: parts.live,
                clock: parts.clock,
                public_url: parts.public_url,
                tick: parts.tick,
                wake: Notify::new(),
                started_at,
            }),
        }
    }

    /// Looks at the queue now (a campaign changed, a call ended).
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Marks `tenant` as having outbound work due now. Call before committing the change that gives it some.
    pub async fn queue(&self, tenant: TenantId) -> Result<(), StorageError> {
        let now = self.inner.clock.now_ms();
        self.inner
            .region_db
            .write(move |tx| repo::outbound::queue_tenant(tx, tenant, now))
            .await
    }

    /// Runs until `stop` resolves.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            let now = self.inner.clock.now_ms();
            let due = self
                .inner
                .region_db
                .read(move |conn| repo::outbound::due_tenants(conn, now, 64))
                .await
                .unwrap_or_else(|e| {
                    tracing::error!(error = %e, "cannot read the outbound queue");
                    Vec::new()
                });
            futures::stream::iter(due)
                .for_each_concurrent(CONCURRENCY, |(tenant, version)| {
                    let this = self.clone();
                    async move { this.process(tenant, version).await }
                })
                .await;
            // The clock may be moved (tests), so the queue is read again at least every tick.
            tokio::select! {
                () = &mut stop => break,
                () = self.inner.wake.notified() => {}
                () = tokio::time::sleep(self.inner.tick) => {}
            }
        }
    }

    async fn process(&self, tenant: String, version: i64) {
        let next = match tenant.parse::<TenantId>() {
            Ok(id) => match self.turn(id).await {
                Ok(next) => next,
                Err(e) => {
                    tracing::error!(tenant_id = %tenant, code = %e.code(), error = %e, "outbound turn failed");
                    Some(self.inner.clock.now_ms() + ms(MAX_WAIT.min(Duration::from_secs(30))))
                }
            },
            Err(_) => None,
        };
        let settled = self
            .inner
            .region_db
            .write(move |tx| repo::outbound::settle_tenant(tx, &tenant, version, next))
            .await;
        if let Err(e) = settled {
            tracing::error!(error = %e, "cannot update the outbound queue");
        }
    }

    /// One turn for a tenant: when it next needs one (`None`: no outbound work left).
    pub async fn turn(&self, id: TenantId) -> Result<Option<i64>, StorageError> {
        let inner = &self.inner;
        let tenant = inner.tenants.open(id).await?;
        let mut next = None;
        match inner
            .telephony
            .reconcile(&tenant, &inner.live, inner.started_at)
            .await
        {
            Ok(0) => {}
            Ok(_) => next = Some(inner.clock.now_ms() + ms(UNENDED_CALLS_EVERY)),
            Err(e) => {
                tracing::warn!(tenant_id = %id, code = %e.code(), error = %e, "cannot settle placed calls");
                next = Some(inner.clock.now_ms() + ms(UNENDED_CALLS_EVERY));
            }
        }
        let dialer = Dialer {
            telephony: &inner.telephony,
            billing: &inner.billing,
            public_url: inner.public_url.as_deref(),
            tick_ms: ms(inner.tick),
            max_wait_ms: ms(MAX_WAIT),
        };
        let now = inner.clock.now_ms();
        let campaigns = match dialer.turn(&tenant, now).await {
            Ok(due) => due,
            Err(e) => {
                tracing::error!(tenant_id = %id, code = %e.code(), error = %e, "campaign turn failed");
                Some(now + ms(MAX_WAIT.min(Duration::from_secs(30))))
            }
        };
        Ok(match (next, campaigns) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }
}
