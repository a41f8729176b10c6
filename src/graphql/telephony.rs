//! Telephony: the tenant's Twilio account and the phone numbers routed to its agents.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Json, MaybeUndefined, Object};
use chrono::{DateTime, Utc};

use super::agents::Agent;
use super::audit;
use super::calls::Call;
use super::context::{ContextExt, RequestMeta, tenant};
use super::pagination::{KeysetCursor, PageRequest, connection_complexity};
use crate::auth::Permission;
use crate::clock::datetime;
use crate::db::TenantId;
use crate::error::{ApiError, ApiResult};
use crate::redact::Secret;
use crate::repo;
use crate::repo::telephony::{PhoneNumberRow, TwilioAccountRow};
use crate::telephony::{self, AccountInput, NumberChange, NumberInput, OutboundCall};

/// The tenant's Twilio account. The auth token is stored encrypted and never shown again.
pub struct TwilioAccount {
    row: TwilioAccountRow,
    voice_url: Option<String>,
}

/// The server's public origin: `--public-url`, else the one the request came in on.
pub(super) fn public_origin(ctx: &Context<'_>) -> Option<String> {
    ctx.app().config.public_url.clone().or_else(|| {
        ctx.data_opt::<RequestMeta>()
            .and_then(|meta| meta.public_origin.clone())
    })
}

impl TwilioAccount {
    fn new(ctx: &Context<'_>, tenant: TenantId, row: TwilioAccountRow) -> Self {
        let origin = public_origin(ctx);
        Self {
            row,
            voice_url: origin.map(|origin| telephony::voice_url(&origin, tenant)),
        }
    }
}

#[Object]
impl TwilioAccount {
    /// `AC` and 32 hex digits.
    async fn account_sid(&self) -> &str {
        &self.row.account_sid
    }

    /// The auth token's last four characters, to tell tokens apart.
    async fn auth_token_last4(&self) -> &str {
        &self.row.auth_token_last4
    }

    /// Paste into the Twilio console: Phone Numbers → your number → Voice → "A call comes in": Webhook,
    /// HTTP POST. Null when the server cannot tell its public URL (set `--public-url`).
    async fn voice_url(&self) -> Option<&str> {
        self.voice_url.as_deref()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        datetime(self.row.created_at)
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        datetime(self.row.updated_at)
    }
}

/// A phone number whose inbound calls one agent answers.
pub struct PhoneNumber(pub PhoneNumberRow);

#[Object]
impl PhoneNumber {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    /// E.164, e.g. `+14155550123`.
    async fn number(&self) -> &str {
        &self.0.number
    }

    async fn label(&self) -> Option<&str> {
        self.0.label.as_deref()
    }

    async fn agent_id(&self) -> ID {
        ID(self.0.agent_id.clone())
    }

    /// The agent that answers calls to this number.
    async fn agent(&self, ctx: &Context<'_>) -> ApiResult<Agent> {
        ctx.authorize(Permission::ReadAgents)?;
        // Agents are never deleted (only archived) and the column is a foreign key.
        ctx.loaders()?
            .agents
            .load(self.0.agent_id.clone())
            .await?
            .map(Agent)
            .ok_or_else(|| ApiError::internal(format!("phone number {} has no agent", self.0.id)))
    }

    async fn created_at(&self) -> DateTime<Utc> {
        datetime(self.0.created_at)
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        datetime(self.0.updated_at)
    }
}

#[derive(InputObject)]
pub struct SetTwilioAccountInput {
    /// `AC` and 32 hex digits (Twilio console, Account Info).
    pub account_sid: String,
    /// 32 hex digits. Stored encrypted; never returned.
    pub auth_token: String,
}

#[derive(InputObject)]
pub struct AddPhoneNumberInput {
    /// E.164 (`+14155550123`); spaces, dashes, dots and parentheses are ignored.
    pub number: String,
    pub agent_id: ID,
    pub label: Option<String>,
}

#[derive(InputObject)]
pub struct UpdatePhoneNumberInput {
    /// Route the number to this agent instead.
    pub agent_id: Option<ID>,
    /// A new label; `null` removes it, leaving it out keeps it.
    pub label: MaybeUndefined<String>,
}

#[derive(Default)]
pub struct TelephonyQuery;

#[Object]
impl TelephonyQuery {
    /// The tenant's Twilio account, if configured.
    async fn twilio_account(&self, ctx: &Context<'_>) -> ApiResult<Option<TwilioAccount>> {
        let principal = ctx.authorize(Permission::ReadTelephony)?;
        let db = tenant(ctx, principal).await?.db;
        Ok(telephony::get_account(&db)
            .await?
            .map(|row| TwilioAccount::new(ctx, principal.tenant_id, row)))
    }

    async fn phone_number(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<PhoneNumber>> {
        let principal = ctx.authorize(Permission::ReadTelephony)?;
        let db = tenant(ctx, principal).await?.db;
        Ok(db
            .read(move |conn| repo::telephony::get_number(conn, &id))
            .await?
            .map(PhoneNumber))
    }

    /// Phone numbers, newest first, optionally of one agent.
    #[graphql(complexity = "connection_complexity(child_complexity, first)")]
    async fn phone_numbers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        agent_id: Option<ID>,
    ) -> ApiResult<Connection<KeysetCursor, PhoneNumber>> {
        let principal = ctx.authorize(Permission::ReadTelephony)?;
        let tenant = tenant(ctx, principal).await?;
        PageRequest::new(first, after)?
            .load(
                &tenant.db,
                move |conn, after, limit| {
                    repo::telephony::list_numbers(
                        conn,
                        agent_id.as_deref().map(String::as_str),
                        after.map(|c| (c.at, c.id)),
                        limit,
                    )
                },
                |n| KeysetCursor {
                    at: n.created_at,
                    id: n.id.clone(),
                },
                PhoneNumber,
            )
            .await
    }
}

#[derive(Default)]
pub struct TelephonyMutation;

#[Object]
impl TelephonyMutation {
    /// Sets (or replaces) the tenant's Twilio account. Its auth token verifies Twilio's webhooks.
    async fn set_twilio_account(
        &self,
        ctx: &Context<'_>,
        input: SetTwilioAccountInput,
    ) -> ApiResult<TwilioAccount> {
        let principal = ctx.authorize(Permission::ManageTelephony)?;
        let db = tenant(ctx, principal).await?.db;
        let input = AccountInput {
            account_sid: input.account_sid,
            auth_token: Secret::new(input.auth_token),
        };
        let row =
            telephony::set_account(&db, &ctx.app().secrets, principal.tenant_id, input).await?;
        audit::note(ctx, |n| n.target = Some(row.account_sid.clone()));
        Ok(TwilioAccount::new(ctx, principal.tenant_id, row))
    }

    /// Removes the Twilio account (phone numbers stay). Its webhooks are refused until one is set again.
    /// Returns whether there was one.
    async fn delete_twilio_account(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        let principal = ctx.authorize(Permission::ManageTelephony)?;
        let db = tenant(ctx, principal).await?.db;
        let deleted = telephony::delete_account(&db).await?;
        if let Some(row) = &deleted {
            audit::note(ctx, |n| n.target = Some(row.account_sid.clone()));
        }
        Ok(deleted.is_some())
    }

    /// Routes a number's inbound calls to an agent.
    async fn add_phone_number(
        &self,
        ctx: &Context<'_>,
        input: AddPhoneNumberInput,
    ) -> ApiResult<PhoneNumber> {
        let principal = ctx.authorize(Permission::ManageTelephony)?;
        let db = tenant(ctx, principal).await?.db;
        let row = telephony::add_number(
            &db,
            NumberInput {
                number: input.number,
                agent_id: input.agent_id.0,
                label: input.label,
            },
        )
        .await?;
        audit::note(ctx, |n| n.target = Some(row.id.clone()));
        Ok(PhoneNumber(row))
    }

    async fn update_phone_number(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdatePhoneNumberInput,
    ) -> ApiResult<PhoneNumber> {
        let principal = ctx.authorize(Permission::ManageTelephony)?;
        let db = tenant(ctx, principal).await?.db;
        let change = NumberChange {
            agent_id: input.agent_id.map(|id| id.0),
            label: match input.label {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(label) => Some(Some(label)),
            },
        };
        Ok(PhoneNumber(
            telephony::update_number(&db, id.0, change).await?,
        ))
    }

    /// Calls `to` (E.164) from `from` (a number of the tenant's Twilio account) and connects the agent
    /// once answered. `variables` (a JSON object of names to texts) fill the agent's `{{placeholders}}`, with
    /// `caller_number` and `called_number` added; a placeholder without a value fails with MISSING_VARIABLES
    /// before anyone is dialled. Twilio reports back (ringing, answered, busy, no answer, ...) and, when the
    /// agent screens for answering machines, who answered. Returns the call record (outbound, queued); if Twilio
    /// refuses, the call is marked failed and the error (TELEPHONY_PROVIDER_ERROR) says why. A tenant at its
    /// plan's concurrent-call limit, past its monthly minutes or suspended is refused (CONCURRENT_CALL_LIMIT,
    /// MONTHLY_MINUTES_EXHAUSTED, TENANT_SUSPENDED) before anything is created or dialled.
    async fn place_call(
        &self,
        ctx: &Context<'_>,
        agent_id: ID,
        to: String,
        from: String,
        variables: Option<Json<serde_json::Value>>,
    ) -> ApiResult<Call> {
        let principal = ctx.authorize(Permission::ManageCalls)?;
        let variables =
            crate::model::Variables::from_json(variables.map(|Json(v)| v), "variables")?;
        let call = OutboundCall {
            agent_id: agent_id.0,
            to,
            from,
            variables,
            metadata: serde_json::json!({ "provider": "twilio" }),
        };
        let tenant = tenant(ctx, principal).await?;
        let limits = ctx.app().billing.admission(tenant.id).await?;
        let row = ctx
            .app()
            .telephony
            .place_call(&tenant, public_origin(ctx), call, limits)
            .await?;
        Ok(Call(row))
    }

    /// Stops routing a number. Returns its id.
    async fn remove_phone_number(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ID> {
        let principal = ctx.authorize(Permission::ManageTelephony)?;
        let db = tenant(ctx, principal).await?.db;
        telephony::remove_number(&db, id.0.clone()).await?;
        Ok(id)
    }
}
