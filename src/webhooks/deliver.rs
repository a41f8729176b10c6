//! One tenant's turn at the dispatcher: its due deliveries, grouped by endpoint, sent within a time slice.
//!
//! Each endpoint's deliveries go out one after another, in order; a few endpoints are served at once. When an
//! attempt fails, the endpoint's other pending deliveries wait for that one's retry: a dead or hanging endpoint
//! then costs one request per retry interval, not one timeout per queued delivery.

use futures::StreamExt as _;
use reqwest::{Method, Url};
use tokio::time::Instant;

use super::dispatcher::Dispatcher;
use super::endpoints::secret_context;
use super::signature;
use crate::clock::now_ms;
use crate::db::{Database, StorageError, TenantId};
use crate::outbound;
use crate::repo;
use crate::repo::webhooks::{DeliveryRow, EndpointRow};

/// Deliveries read per round.
const BATCH: usize = 50;

/// How one attempt went: the status code, or what went wrong.
type Outcome = Result<u16, Failure>;

/// Why an attempt failed; its text is the delivery's `last_error`.
#[derive(Debug, thiserror::Error)]
enum Failure {
    /// The server key changed since the secret was stored: rotating the secret repairs it.
    #[error("cannot decrypt the signing secret; rotate it")]
    Secret,
    #[error("bad URL: {0}")]
    BadUrl(#[from] url::ParseError),
    #[error("refused: {0}")]
    Refused(#[from] outbound::Refused),
    #[error("HTTP {0}: redirects are not followed")]
    Redirect(reqwest::StatusCode),
    #[error("HTTP {0}")]
    Status(reqwest::StatusCode),
    #[error("timed out")]
    Timeout,
    #[error("connection failed")]
    Connection,
}

impl Failure {
    /// The status code the endpoint answered with, if it answered.
    fn status(&self) -> Option<u16> {
        match self {
            Self::Redirect(status) | Self::Status(status) => Some(status.as_u16()),
            _ => None,
        }
    }
}

impl Dispatcher {
    /// Sends the tenant's due deliveries until none is left or the slice is used up; returns when the next
    /// pending one is due (now, if the slice ran out).
    pub(super) async fn deliver_slice(
        &self,
        tenant: TenantId,
    ) -> Result<Option<i64>, StorageError> {
        let db = self.inner.tenants.get(tenant).await?;
        let until = Instant::now() + self.inner.settings.slice;
        loop {
            let now = now_ms();
            let due = db
                .read(move |conn| repo::webhooks::due_deliveries(conn, now, BATCH))
                .await?;
            if due.is_empty() {
                break;
            }
            let per_tenant = self.inner.settings.per_tenant.max(1);
            let sends: Vec<_> = by_endpoint(due)
                .into_iter()
                .map(|(endpoint, deliveries)| {
                    self.deliver_to(&db, tenant, endpoint, deliveries, until)
                })
                .collect();
            let results: Vec<Result<(), StorageError>> = futures::stream::iter(sends)
                .buffer_unordered(per_tenant)
                .collect()
                .await;
            results.into_iter().collect::<Result<(), _>>()?;
            if Instant::now() >= until {
                break;
            }
        }
        db.read(repo::webhooks::next_due).await
    }

    /// Sends one endpoint's deliveries in order, stopping at the first failure or when the slice is over.
    async fn deliver_to(
        &self,
        db: &Database,
        tenant: TenantId,
        endpoint: EndpointRow,
        deliveries: Vec<DeliveryRow>,
        until: Instant,
    ) -> Result<(), StorageError> {
        for delivery in deliveries {
            if Instant::now() >= until {
                break;
            }
            let outcome = self.attempt(tenant, &delivery, &endpoint).await;
            let failed = outcome.is_err();
            let updated = self.record(delivery, outcome);
            let hold_until = updated
                .next_attempt_at
                .unwrap_or_else(|| now_ms() + self.inner.settings.retry_base.as_millis() as i64);
            let endpoint_id = endpoint.id.clone();
            db.write(move |tx| {
                repo::webhooks::update_delivery(tx, &updated)?;
                if failed {
                    repo::webhooks::postpone_endpoint(tx, &endpoint_id, hold_until)?;
                }
                Ok::<_, StorageError>(())
            })
            .await?;
            if failed {
                break;
            }
        }
        Ok(())
    }

    async fn attempt(
        &self,
        tenant: TenantId,
        delivery: &DeliveryRow,
        endpoint: &EndpointRow,
    ) -> Outcome {
        let context = secret_context(tenant, &endpoint.id);
        let Ok(secret) = self.inner.secrets.decrypt(&endpoint.secret, &context) else {
            return Err(Failure::Secret);
        };
        let secret = String::from_utf8_lossy(secret.expose()).into_owned();
        let url = Url::parse(&endpoint.url)?;
        let request = self.inner.http.request(Method::POST, url)?;
        let timestamp = now_ms() / 1000;
        let response = request
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
            Ok(response) if response.status().is_redirection() => {
                Err(Failure::Redirect(response.status()))
            }
            Ok(response) => Err(Failure::Status(response.status())),
            Err(err) => Err(if let Some(refused) = outbound::refusal(&err) {
                Failure::Refused(refused.clone())
            } else if err.is_timeout() {
                Failure::Timeout
            } else {
                Failure::Connection
            }),
        }
    }

    fn record(&self, mut delivery: DeliveryRow, outcome: Outcome) -> DeliveryRow {
        let now = now_ms();
        let settings = &self.inner.settings;
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
            Err(failure) => {
                delivery.last_status_code = failure.status().map(i64::from);
                delivery.last_error = Some(failure.to_string());
                if delivery.attempts >= i64::from(settings.max_attempts) {
                    delivery.status = "failed".into();
                    delivery.next_attempt_at = None;
                    metrics::counter!("voxedge_webhook_attempts_total", "outcome" => "gave_up")
                        .increment(1);
                } else {
                    let backoff = settings.backoff(delivery.attempts as u32);
                    delivery.next_attempt_at = Some(now + backoff.as_millis() as i64);
                    metrics::counter!("voxedge_webhook_attempts_total", "outcome" => "retry")
                        .increment(1);
                }
            }
        }
        delivery
    }
}

/// Due deliveries grouped by endpoint, each group oldest first, groups in order of their oldest delivery.
fn by_endpoint(due: Vec<(DeliveryRow, EndpointRow)>) -> Vec<(EndpointRow, Vec<DeliveryRow>)> {
    let mut groups: Vec<(EndpointRow, Vec<DeliveryRow>)> = Vec::new();
    for (delivery, endpoint) in due {
        match groups.iter_mut().find(|(e, _)| e.id == endpoint.id) {
            Some((_, deliveries)) => deliveries.push(delivery),
            None => groups.push((endpoint, vec![delivery])),
        }
    }
    groups
}
