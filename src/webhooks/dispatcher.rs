//! Sends queued webhook deliveries.
//!
//! `region.db`'s `webhook_queue` names tenants with pending deliveries and when the earliest is due; the
//! dispatcher wakes when something is queued or comes due, works through due tenants (several at once,
//! one task per tenant so each tenant's deliveries go out in order), and records every attempt in the
//! tenant's delivery log. Failures retry with exponential backoff until the attempt budget is spent.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use tokio::sync::Notify;

use super::endpoints::secret_context;
use super::signature;
use crate::clock::now_ms;
use crate::db::{Database, StorageError, TenantId, TenantStore};
use crate::repo;
use crate::repo::webhooks::{DeliveryRow, EndpointRow};
use crate::secrets::Secrets;

/// Retry and timeout policy.
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
    /// Tenants processed at once.
    pub concurrency: usize,
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
            concurrency: 8,
        }
    }
}

#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    settings: DispatcherSettings,
    /// `region.db`, holding the webhook queue (which tenants have deliveries due).
    queue: Database,
    tenants: TenantStore,
    wake: Notify,
    http: reqwest::Client,
    /// Decrypts endpoints' signing secrets.
    secrets: Secrets,
}

impl Dispatcher {
    pub fn new(
        settings: DispatcherSettings,
        secrets: Secrets,
        queue: Database,
        tenants: TenantStore,
    ) -> Self {
        crate::brain::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            // A redirect could point a tenant's webhook anywhere; endpoints must answer directly.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("voxedge-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
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

    /// Runs until `stop` resolves.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let queue = self.inner.queue.clone();
        loop {
            let now = now_ms();
            let due = queue
                .read(move |conn| repo::webhooks::due_tenants(conn, now, 64))
                .await
                .unwrap_or_else(|err| {
                    tracing::error!(error = %err, "cannot read the webhook queue");
                    Vec::new()
                });
            let busy = !due.is_empty();
            futures::stream::iter(due)
                .for_each_concurrent(self.inner.settings.concurrency, |(tenant, version)| {
                    let this = self.clone();
                    async move { this.process_tenant(tenant, version).await }
                })
                .await;
            if busy {
                continue;
            }
            let earliest = queue
                .read(repo::webhooks::earliest_due)
                .await
                .ok()
                .flatten();
            let wait = earliest.map_or(Duration::from_secs(30), |at| {
                Duration::from_millis((at - now_ms()).clamp(0, 30_000) as u64)
            });
            tokio::select! {
                () = &mut stop => break,
                () = self.inner.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn process_tenant(&self, tenant: String, version: i64) {
        let next_due = match self.deliver_due(&tenant).await {
            Ok(next_due) => next_due,
            Err(err) => {
                // Retry the tenant later rather than spinning on a broken database.
                tracing::error!(tenant_id = %tenant, error = %err, "webhook dispatch failed");
                Some(now_ms() + self.inner.settings.retry_base.as_millis() as i64)
            }
        };
        let settled = self
            .inner
            .queue
            .write(move |tx| repo::webhooks::settle_tenant(tx, &tenant, version, next_due))
            .await;
        if let Err(err) = settled {
            tracing::error!(error = %err, "cannot update the webhook queue");
        }
    }

    /// Sends every due delivery of one tenant; returns when the next pending one is due.
    async fn deliver_due(&self, tenant: &str) -> Result<Option<i64>, StorageError> {
        let id: TenantId = tenant.parse().map_err(|_| {
            StorageError::Corrupt(format!("bad tenant id {tenant:?} in webhook_queue"))
        })?;
        let db = self.inner.tenants.get(id).await?;
        loop {
            let now = now_ms();
            let due = db
                .read(move |conn| repo::webhooks::due_deliveries(conn, now, 50))
                .await?;
            if due.is_empty() {
                break;
            }
            for (delivery, endpoint) in due {
                let outcome = self.attempt(id, &delivery, &endpoint).await;
                let updated = self.record(delivery, outcome);
                db.write(move |tx| repo::webhooks::update_delivery(tx, &updated))
                    .await?;
            }
        }
        db.read(repo::webhooks::next_due).await
    }

    async fn attempt(
        &self,
        tenant: TenantId,
        delivery: &DeliveryRow,
        endpoint: &EndpointRow,
    ) -> Result<u16, (Option<u16>, String)> {
        let context = secret_context(tenant, &endpoint.id);
        let Ok(secret) = self.inner.secrets.decrypt(&endpoint.secret, &context) else {
            // The server key changed since the secret was stored: rotating the secret repairs it.
            return Err((
                None,
                "cannot decrypt the signing secret; rotate it".to_string(),
            ));
        };
        let secret = String::from_utf8_lossy(secret.expose()).into_owned();
        let timestamp = now_ms() / 1000;
        let response = self
            .inner
            .http
            .post(&endpoint.url)
            .header("content-type", "application/json")
            .header("x-voxedge-event", &delivery.event_type)
            .header("x-voxedge-delivery", &delivery.id)
            .header(
                "x-voxedge-signature",
                signature(&secret, timestamp, &delivery.payload),
            )
            .body(delivery.payload.clone())
            .send()
            .await;
        match response {
            Ok(response) if response.status().is_success() => Ok(response.status().as_u16()),
            Ok(response) => Err((
                Some(response.status().as_u16()),
                format!("HTTP {}", response.status()),
            )),
            Err(err) => Err((
                None,
                if err.is_timeout() {
                    "timed out".to_string()
                } else {
                    "connection failed".to_string()
                },
            )),
        }
    }

    fn record(
        &self,
        mut delivery: DeliveryRow,
        outcome: Result<u16, (Option<u16>, String)>,
    ) -> DeliveryRow {
        let now = now_ms();
        delivery.attempts += 1;
        match outcome {
            Ok(status) => {
                delivery.status = "delivered".into();
                delivery.last_status_code = Some(status.into());
                delivery.last_error = None;
                delivery.delivered_at = Some(now);
                delivery.next_attempt_at = None;
                metrics::counter!("voxedge_webhook_attempts_total", "outcome" => "delivered")
                    .increment(1);
            }
            Err((status, error)) => {
                delivery.last_status_code = status.map(i64::from);
                delivery.last_error = Some(error);
                if delivery.attempts >= i64::from(self.inner.settings.max_attempts) {
                    delivery.status = "failed".into();
                    delivery.next_attempt_at = None;
                    metrics::counter!("voxedge_webhook_attempts_total", "outcome" => "gave_up")
                        .increment(1);
                } else {
                    delivery.next_attempt_at = Some(
                        now + self
                            .inner
                            .settings
                            .backoff(delivery.attempts as u32)
                            .as_millis() as i64,
                    );
                    metrics::counter!("voxedge_webhook_attempts_total", "outcome" => "retry")
                        .increment(1);
                }
            }
        }
        delivery
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
