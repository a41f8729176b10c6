//! Managing webhook endpoints and retrying deliveries by hand.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng as _;

use super::{Dispatcher, WebhookEvent};
use crate::db::{Database, StorageError, TenantId, now_ms};
use crate::error::{ApiError, ErrorCode, FieldError};
use crate::repo;
use crate::repo::webhooks::{DeliveryRow, EndpointRow};
use crate::secrets::Secrets;

/// An endpoint as clients describe it.
#[derive(Debug, Clone)]
pub struct EndpointInput {
    pub url: String,
    pub description: String,
    pub events: Vec<WebhookEvent>,
    pub enabled: bool,
}

fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill(&mut bytes);
    format!("whsec_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// What an endpoint's signing secret is bound to when encrypted at rest: a ciphertext copied to
/// another endpoint or tenant does not decrypt.
pub(super) fn secret_context(tenant: TenantId, endpoint_id: &str) -> String {
    format!("tenant:{tenant}:webhook_endpoint:{endpoint_id}:signing_secret")
}

fn validate(input: &EndpointInput) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    let mut fail = |field: &str, code: &'static str, message: &str| {
        errors.push(FieldError {
            field: format!("input.{field}"),
            code,
            message: message.into(),
        })
    };
    match reqwest::Url::parse(&input.url) {
        Ok(url)
            if matches!(url.scheme(), "http" | "https")
                && url.host().is_some()
                && input.url.len() <= 2000 => {}
        _ => fail("url", "INVALID_URL", "must be an absolute http(s) URL"),
    }
    if input.events.is_empty() {
        fail("events", "REQUIRED", "subscribe to at least one event type");
    }
    if input.description.chars().count() > 500 {
        fail("description", "TOO_LONG", "must be at most 500 characters");
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid_input(errors))
    }
}

fn event_names(events: &[WebhookEvent]) -> Vec<String> {
    let mut names: Vec<String> = events.iter().map(|e| e.as_str().to_string()).collect();
    names.sort();
    names.dedup();
    names
}

/// Creates an endpoint with a fresh signing secret, stored encrypted. Returns the row and the secret in
/// clear, to show once.
pub async fn create_endpoint(
    db: &Database,
    secrets: &Secrets,
    tenant: TenantId,
    input: EndpointInput,
) -> Result<(EndpointRow, String), ApiError> {
    validate(&input)?;
    let now = now_ms();
    let id = crate::db::new_id();
    let secret = new_secret();
    let row = EndpointRow {
        secret: secrets.encrypt(secret.as_bytes(), &secret_context(tenant, &id)),
        id,
        url: input.url,
        description: input.description,
        events: event_names(&input.events),
        enabled: input.enabled,
        created_at: now,
        updated_at: now,
    };
    let stored = row.clone();
    db.write(move |tx| repo::webhooks::insert_endpoint(tx, &stored).map_err(StorageError::from))
        .await?;
    Ok((row, secret))
}

pub async fn update_endpoint(
    db: &Database,
    id: String,
    input: EndpointInput,
) -> Result<EndpointRow, ApiError> {
    validate(&input)?;
    db.write(move |tx| {
        let mut row = repo::webhooks::get_endpoint(tx, &id)?
            .ok_or_else(|| ApiError::not_found("webhook endpoint"))?;
        row.url = input.url;
        row.description = input.description;
        row.events = event_names(&input.events);
        row.enabled = input.enabled;
        row.updated_at = now_ms();
        repo::webhooks::update_endpoint(tx, &row)?;
        Ok(row)
    })
    .await
}

/// Replaces the signing secret; the old one stops being used at once. Returns the new one in clear.
pub async fn rotate_secret(
    db: &Database,
    secrets: &Secrets,
    tenant: TenantId,
    id: String,
) -> Result<(EndpointRow, String), ApiError> {
    let secret = new_secret();
    let sealed = secrets.encrypt(secret.as_bytes(), &secret_context(tenant, &id));
    let row = db
        .write(move |tx| {
            let mut row = repo::webhooks::get_endpoint(tx, &id)?
                .ok_or_else(|| ApiError::not_found("webhook endpoint"))?;
            row.secret = sealed;
            row.updated_at = now_ms();
            repo::webhooks::update_endpoint(tx, &row)?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    Ok((row, secret))
}

/// Deletes an endpoint and its delivery log.
pub async fn delete_endpoint(db: &Database, id: String) -> Result<(), ApiError> {
    let deleted = db
        .write(move |tx| repo::webhooks::delete_endpoint(tx, &id).map_err(StorageError::from))
        .await?;
    if deleted {
        Ok(())
    } else {
        Err(ApiError::not_found("webhook endpoint"))
    }
}

/// Gives a failed delivery one more attempt, now.
pub async fn retry_delivery(
    db: &Database,
    catalog: &Database,
    dispatcher: &Dispatcher,
    tenant: TenantId,
    id: String,
) -> Result<DeliveryRow, ApiError> {
    let row = db
        .write(move |tx| {
            let mut row = repo::webhooks::get_delivery(tx, &id)?
                .ok_or_else(|| ApiError::not_found("webhook delivery"))?;
            if row.status != "failed" {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    format!(
                        "only failed deliveries can be retried (this one is {})",
                        row.status
                    ),
                ));
            }
            row.status = "pending".into();
            row.next_attempt_at = Some(now_ms());
            repo::webhooks::update_delivery(tx, &row)?;
            Ok(row)
        })
        .await?;
    dispatcher.queued(catalog, tenant).await;
    Ok(row)
}
