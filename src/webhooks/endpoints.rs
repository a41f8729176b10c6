//! Managing webhook endpoints and retrying deliveries by hand.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng as _;

use super::{WebhookError, WebhookEvent};
use crate::clock::now_ms;
use crate::db::TenantId;
use crate::error::{ErrorCode, FieldError, InvalidInput};
use crate::outbound::OutboundPolicy;
use crate::repo;
use crate::repo::webhooks::{DeliveryRow, EndpointRow};
use crate::secrets::Secrets;
use crate::tenants::{Change, Tenant};

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

/// Checks the input; the URL must also lead somewhere tenants may send to (see [`crate::outbound`]).
async fn validate(input: &EndpointInput, outbound: &OutboundPolicy) -> Result<(), InvalidInput> {
    let mut errors = Vec::new();
    let mut fail = |field: &str, code: ErrorCode, message: &str| {
        errors.push(FieldError::new(format!("input.{field}"), code, message))
    };
    match reqwest::Url::parse(&input.url) {
        Ok(url)
            if matches!(url.scheme(), "http" | "https")
                && url.host().is_some()
                && input.url.len() <= 2000 => {}
        _ => fail(
            "url",
            ErrorCode::InvalidUrl,
            "must be an absolute http(s) URL",
        ),
    }
    if input.events.is_empty() {
        fail(
            "events",
            ErrorCode::Required,
            "subscribe to at least one event type",
        );
    }
    if input.description.chars().count() > 500 {
        fail(
            "description",
            ErrorCode::TooLong,
            "must be at most 500 characters",
        );
    }
    if errors.is_empty()
        && let Err(refused) = outbound.check_url(&input.url).await
    {
        errors.push(refused.field("input.url"));
    }
    InvalidInput::check(errors)
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
    tenant: &Tenant,
    secrets: &Secrets,
    outbound: &OutboundPolicy,
    input: EndpointInput,
) -> Result<(EndpointRow, String), WebhookError> {
    validate(&input, outbound).await?;
    let now = now_ms();
    let id = crate::db::new_id();
    let secret = new_secret();
    let row = EndpointRow {
        secret: secrets.encrypt(secret.as_bytes(), &secret_context(tenant.id, &id)),
        id,
        url: input.url,
        description: input.description,
        events: event_names(&input.events),
        enabled: input.enabled,
        created_at: now,
        updated_at: now,
    };
    let stored = row.clone();
    tenant
        .db
        .write(move |tx| repo::webhooks::insert_endpoint(tx, &stored))
        .await?;
    Ok((row, secret))
}

pub async fn update_endpoint(
    tenant: &Tenant,
    outbound: &OutboundPolicy,
    id: String,
    input: EndpointInput,
) -> Result<EndpointRow, WebhookError> {
    validate(&input, outbound).await?;
    tenant
        .db
        .write(move |tx| {
            let mut row =
                repo::webhooks::get_endpoint(tx, &id)?.ok_or(WebhookError::EndpointNotFound)?;
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
    tenant: &Tenant,
    secrets: &Secrets,
    id: String,
) -> Result<(EndpointRow, String), WebhookError> {
    let secret = new_secret();
    let sealed = secrets.encrypt(secret.as_bytes(), &secret_context(tenant.id, &id));
    let row = tenant
        .db
        .write(move |tx| {
            let mut row =
                repo::webhooks::get_endpoint(tx, &id)?.ok_or(WebhookError::EndpointNotFound)?;
            row.secret = sealed;
            row.updated_at = now_ms();
            repo::webhooks::update_endpoint(tx, &row)?;
            Ok::<_, WebhookError>(row)
        })
        .await?;
    Ok((row, secret))
}

/// Deletes an endpoint and its delivery log.
pub async fn delete_endpoint(tenant: &Tenant, id: String) -> Result<(), WebhookError> {
    let deleted = tenant
        .db
        .write(move |tx| repo::webhooks::delete_endpoint(tx, &id))
        .await?;
    if deleted {
        Ok(())
    } else {
        Err(WebhookError::EndpointNotFound)
    }
}

/// Gives a failed delivery one more attempt, now.
pub async fn retry_delivery(tenant: &Tenant, id: String) -> Result<DeliveryRow, WebhookError> {
    tenant
        .commit(move |tx| {
            let mut row =
                repo::webhooks::get_delivery(tx, &id)?.ok_or(WebhookError::DeliveryNotFound)?;
            if row.status != "failed" {
                return Err(WebhookError::NotRetryable(row.status));
            }
            row.status = "pending".into();
            row.next_attempt_at = Some(now_ms());
            repo::webhooks::update_delivery(tx, &row)?;
            Ok(Change {
                value: row,
                events: Vec::new(),
                deliveries: 1,
            })
        })
        .await
}
