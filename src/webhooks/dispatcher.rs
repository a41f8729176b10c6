//! Sends queued webhook deliveries, fairly across tenants.
//!
//! `region.db`'s `webhook_queue` names tenants with pending deliveries and when the earliest is due. The
//! dispatcher wakes when something is queued, comes due or a worker finishes, and starts a worker for each due
//! tenant that has none, up to `concurrency` tenants at once, earliest due first. Workers run independently:
//! a tenant whose endpoint hangs holds only its own worker, never the queue.
//!
//! A worker ([`super::deliver`]) has a time slice: when it is used up the tenant goes back in the queue, behind
//! every tenant that was due before it, so one tenant with a huge backlog takes turns with the others. Within a
//! tenant, deliveries to one endpoint go out in order, and a few endpoints are served at once.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::{Id, JoinSet};

use crate::clock::now_ms;
use crate::db::{Database, TenantId, TenantStore};
use crate::outbound::{OutboundClient, OutboundPolicy};
use crate::repo;
use crate::repo::webhooks::QueuedTenant;
use crate::secrets::Secrets;

/// Retry, timeout and fairness policy.
#[derive(Debug, Clone)]
pub struct DispatcherSettings {
    /// Attempts before a delivery is given up (marked failed).
    pub max_attempts: u32,
    /// Delay before the first retry; each later retry waits three times longer.
    pub retry_base: Duration,
    /// Longest delay between retries.
    pub retry_max: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Tenants served at once. A worker mostly waits on the network, so this can be generous.
    pub concurrency: usize,
    /// Endpoints of one tenant served at once (each endpoint's deliveries go out in order).
    pub per_tenant: usize,
    /// How long a tenant's worker runs before the tenant goes back in the queue behind the others (a request
    /// under way finishes first, within `timeout`).
    pub slice: Duration,
}

impl DispatcherSettings {
    /// Delay after the `attempts`-th failure: base × 3^(attempts−1), capped.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let factor = 3u32.saturating_pow(attempts.saturating_sub(1));
        self.retry_base.saturating_mul(factor).min(self.retry_max)
    }
}

impl Default for DispatcherSettings {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            retry_base: Duration::from_secs(10),
            retry_max: Duration::from_secs(3600),
            timeout: Duration::from_secs(10),
            concurrency: 32,
            per_tenant: 4,
            slice: Duration::from_secs(5),
        }
    }
}

#[derive(Clone)]
pub struct Dispatcher {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) settings: DispatcherSettings,
    /// `region.db`, holding the webhook queue (which tenants have deliveries due).
    queue: Database,
    pub(super) tenants: TenantStore,
    wake: Notify,
    /// Tenants' endpoints are tenant input: every request goes through the outbound policy.
    pub(super) http: OutboundClient,
    /// Decrypts endpoints' signing secrets.
    pub(super) secrets: Secrets,
}

impl Dispatcher {
    pub fn new(
        settings: DispatcherSettings,
        outbound: &OutboundPolicy,
        secrets: Secrets,
        queue: Database,
        tenants: TenantStore,
    ) -> Self {
        let http = outbound
            .client(
                "webhook",
                reqwest::Client::builder()
                    .timeout(settings.timeout)
                    .user_agent(concat!("voxedge-webhooks/", env!("CARGO_PKG_VERSION"))),
            )
            .expect("invariant: a client with these options always builds");
        Self {
            inner: Arc::new(Inner {
                settings,
                queue,
                tenants,
                wake: Notify::new(),
                http,
                secrets,
            }),
        }
    }

    /// Records in the queue that `tenant` has deliveries due now, and wakes the dispatcher. Call after
    /// the transaction that wrote them committed.
    pub async fn queued(&self, tenant: TenantId) {
        let now = now_ms();
        let result = self
            .inner
            .queue
            .write(move |tx| repo::webhooks::queue_tenant(tx, tenant, now))
            .await;
        if let Err(err) = result {
            tracing::error!(tenant_id = %tenant, error = %err, "cannot queue webhook deliveries");
        }
        self.inner.wake.notify_one();
    }

    /// Runs until `stop` resolves. Workers still sending then are dropped: their deliveries stay pending and
    /// go out again later (receivers deduplicate by `X-Voxedge-Delivery`).
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let concurrency = self.inner.settings.concurrency.max(1);
        let mut workers = JoinSet::new();
        // Which tenant each worker serves, and the tenants that have one.
        let mut serving: HashMap<Id, String> = HashMap::new();
        let mut active: HashSet<String> = HashSet::new();
        loop {
            while let Some(done) = workers.try_join_next_with_id() {
                finished(done, &mut serving, &mut active);
            }
            let free = concurrency - workers.len();
            let waiting: Vec<QueuedTenant> = self
                .queue_head(active.len() + free + 1)
                .await
                .into_iter()
                .filter(|q| !active.contains(&q.tenant_id))
                .collect();
            let now = now_ms();
            let mut next_due = None;
            for queued in waiting {
                if queued.due_at > now || workers.len() >= concurrency {
                    next_due = Some(queued.due_at);
                    break;
                }
                let this = self.clone();
                let tenant = queued.tenant_id.clone();
                let handle = workers.spawn(async move { this.serve(queued).await });
                serving.insert(handle.id(), tenant.clone());
                active.insert(tenant);
            }
            // With every slot taken, only a finishing worker frees one; otherwise sleep until the next is due.
            let wait = match next_due {
                Some(at) if workers.len() < concurrency => {
                    Duration::from_millis((at - now_ms()).clamp(0, 30_000) as u64)
                }
                _ => Duration::from_secs(30),
            };
            tokio::select! {
                () = &mut stop => break,
                () = self.inner.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
                Some(done) = workers.join_next_with_id(), if !workers.is_empty() => {
                    finished(done, &mut serving, &mut active);
                }
            }
        }
        workers.shutdown().await;
    }

    async fn queue_head(&self, limit: usize) -> Vec<QueuedTenant> {
        self.inner
            .queue
            .read(move |conn| repo::webhooks::queue_head(conn, limit))
            .await
            .unwrap_or_else(|err| {
                tracing::error!(error = %err, "cannot read the webhook queue");
                Vec::new()
            })
    }

    /// One turn of a tenant: deliver what is due within the time slice, then put the tenant back in the queue
    /// for its next due delivery (now, if the slice ran out first), or take it off.
    async fn serve(&self, queued: QueuedTenant) {
        let QueuedTenant {
            tenant_id, version, ..
        } = queued;
        let next_due = match tenant_id.parse() {
            Ok(id) => self.deliver_slice(id).await.unwrap_or_else(|err| {
                // Retry the tenant later rather than spinning on a broken database.
                tracing::error!(tenant_id = %tenant_id, error = %err, "webhook dispatch failed");
                Some(now_ms() + self.inner.settings.retry_base.as_millis() as i64)
            }),
            Err(_) => {
                tracing::error!(tenant_id = %tenant_id, "bad tenant id in webhook_queue");
                None
            }
        };
        let settled = self
            .inner
            .queue
            .write(move |tx| repo::webhooks::settle_tenant(tx, &tenant_id, version, next_due))
            .await;
        if let Err(err) = settled {
            tracing::error!(error = %err, "cannot update the webhook queue");
        }
    }
}

/// Forgets a finished worker's tenant, so it can be served again.
fn finished(
    done: Result<(Id, ()), tokio::task::JoinError>,
    serving: &mut HashMap<Id, String>,
    active: &mut HashSet<String>,
) {
    let id = match done {
        Ok((id, ())) => id,
        Err(err) => {
            tracing::error!(error = %err, "a webhook worker failed");
            err.id()
        }
    };
    if let Some(tenant) = serving.remove(&id) {
        active.remove(&tenant);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_by_three_and_is_capped() {
        let settings = DispatcherSettings::default();
        assert_eq!(settings.backoff(1), Duration::from_secs(10));
        assert_eq!(settings.backoff(2), Duration::from_secs(30));
        assert_eq!(settings.backoff(3), Duration::from_secs(90));
        assert_eq!(settings.backoff(20), Duration::from_secs(3600));
    }
}
