//! Webhook endpoints and their delivery log.

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::context::{ContextExt, tenant};
use super::pagination::{KeysetCursor, PageRequest, connection_complexity};
use crate::auth::Permission;
use crate::clock::datetime;
use crate::error::ApiResult;
use crate::repo;
use crate::repo::webhooks::{DeliveryRow, EndpointRow};
use crate::webhooks::{self, EndpointInput, WebhookEvent};

/// Where voxedge sends signed event notifications.
pub struct WebhookEndpoint(pub EndpointRow);

#[Object]
impl WebhookEndpoint {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    async fn url(&self) -> &str {
        &self.0.url
    }

    async fn description(&self) -> &str {
        &self.0.description
    }

    async fn events(&self) -> Vec<WebhookEvent> {
        self.0
            .events
            .iter()
            .filter_map(|e| WebhookEvent::parse(e))
            .collect()
    }

    async fn enabled(&self) -> bool {
        self.0.enabled
    }

    async fn created_at(&self) -> DateTime<Utc> {
        datetime(self.0.created_at)
    }

    /// Deliveries to this endpoint, newest first.
    #[graphql(complexity = "connection_complexity(child_complexity, first)")]
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<DeliveryStatus>,
    ) -> ApiResult<Connection<KeysetCursor, WebhookDelivery>> {
        let principal = ctx.authorize(Permission::ManageWebhooks)?;
        let tenant = tenant(ctx, principal).await?;
        let id = self.0.id.clone();
        let status = status.map(DeliveryStatus::as_str);
        PageRequest::new(first, after)?
            .load(
                &tenant.db,
                move |conn, after, limit| {
                    let after = after.map(|c| (c.at, c.id));
                    repo::webhooks::list_deliveries(conn, &id, status, after, limit)
                },
                |d| KeysetCursor {
                    at: d.created_at,
                    id: d.id.clone(),
                },
                WebhookDelivery,
            )
            .await
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Every attempt failed; `retryWebhookDelivery` tries once more.
    Failed,
}

impl DeliveryStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "delivered" => Self::Delivered,
            "failed" => Self::Failed,
            _ => Self::Pending,
        }
    }
}

/// One event sent (or to be sent) to one endpoint.
pub struct WebhookDelivery(pub DeliveryRow);

#[Object]
impl WebhookDelivery {
    /// Sent as `X-Voxedge-Delivery`; the same on every retry.
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    /// `call.created`, `call.started`, `call.ended`, `transcript.ready`.
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }

    async fn status(&self) -> DeliveryStatus {
        DeliveryStatus::parse(&self.0.status)
    }

    async fn attempts(&self) -> i64 {
        self.0.attempts
    }

    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        self.0.next_attempt_at.map(datetime)
    }

    /// HTTP status of the last attempt, if the endpoint answered.
    async fn last_status_code(&self) -> Option<i64> {
        self.0.last_status_code
    }

    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }

    /// The exact JSON body that is signed and sent.
    async fn payload(&self) -> &str {
        &self.0.payload
    }

    async fn created_at(&self) -> DateTime<Utc> {
        datetime(self.0.created_at)
    }

    async fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.0.delivered_at.map(datetime)
    }
}

#[derive(InputObject)]
pub struct WebhookEndpointInput {
    /// http(s) URL that receives POSTs.
    pub url: String,
    #[graphql(default)]
    pub description: String,
    pub events: Vec<WebhookEvent>,
    #[graphql(default = true)]
    pub enabled: bool,
}

impl From<WebhookEndpointInput> for EndpointInput {
    fn from(input: WebhookEndpointInput) -> Self {
        EndpointInput {
            url: input.url,
            description: input.description,
            events: input.events,
            enabled: input.enabled,
        }
    }
}

/// An endpoint with its signing secret, which is shown only here.
#[derive(SimpleObject)]
pub struct WebhookSecretPayload {
    pub endpoint: WebhookEndpoint,
    /// HMAC-SHA256 key for `X-Voxedge-Signature`. Store it now: it is not shown again.
    pub secret: String,
}

#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    async fn webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<Option<WebhookEndpoint>> {
        let principal = ctx.authorize(Permission::ManageWebhooks)?;
        let db = tenant(ctx, principal).await?.db;
        Ok(db
            .read(move |conn| repo::webhooks::get_endpoint(conn, &id))
            .await?
            .map(WebhookEndpoint))
    }

    #[graphql(complexity = "connection_complexity(child_complexity, first)")]
    async fn webhook_endpoints(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<KeysetCursor, WebhookEndpoint>> {
        let principal = ctx.authorize(Permission::ManageWebhooks)?;
        let tenant = tenant(ctx, principal).await?;
        PageRequest::new(first, after)?
            .load(
                &tenant.db,
                |conn, after, limit| {
                    repo::webhooks::list_endpoints(conn, after.map(|c| (c.at, c.id)), limit)
                },
                |e| KeysetCursor {
                    at: e.created_at,
                    id: e.id.clone(),
                },
                WebhookEndpoint,
            )
            .await
    }
}

#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    async fn create_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        input: WebhookEndpointInput,
    ) -> ApiResult<WebhookSecretPayload> {
        let principal = ctx.authorize(Permission::ManageWebhooks)?;
        let tenant = tenant(ctx, principal).await?;
        let app = ctx.app();
        let (row, secret) =
            webhooks::create_endpoint(&tenant, &app.secrets, &app.config.outbound, input.into())
                .await?;
        Ok(WebhookSecretPayload {
            secret,
            endpoint: WebhookEndpoint(row),
        })
    }

    async fn update_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: WebhookEndpointInput,
    ) -> ApiResult<WebhookEndpoint> {
        let principal = ctx.authorize(Permission::ManageWebhooks)?;
        let tenant = tenant(ctx, principal).await?;
        Ok(WebhookEndpoint(
            webhooks::update_endpoint(&tenant, &ctx.app().config.outbound, id.0, input.into())
                .await?,
        ))
    }

    /// Deletes the endpoint and its delivery log. Returns its id.
    async fn delete_webhook_endpoint(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ID> {
        let principal = ctx.authorize(Permission::ManageWebhooks)?;
        let tenant = tenant(ctx, principal).await?;
        webhooks::delete_endpoint(&tenant, id.0.clone()).await?;
        Ok(id)
    }

    /// Replaces the signing secret.
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<WebhookSecretPayload> {
        let principal = ctx.authorize(Permission::ManageWebhooks)?;
        let tenant = tenant(ctx, principal).await?;
        let (row, secret) = webhooks::rotate_secret(&tenant, &ctx.app().secrets, id.0).await?;
        Ok(WebhookSecretPayload {
            secret,
            endpoint: WebhookEndpoint(row),
        })
    }

    /// Gives a failed delivery one more attempt, now.
    async fn retry_webhook_delivery(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<WebhookDelivery> {
        let principal = ctx.authorize(Permission::ManageWebhooks)?;
        let tenant = tenant(ctx, principal).await?;
        Ok(WebhookDelivery(
            webhooks::retry_delivery(&tenant, id.0).await?,
        ))
    }
}
