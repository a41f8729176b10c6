//! Outbound campaigns: create one, upload its contacts as CSV, start / pause / resume / cancel it, read its
//! contacts and progress ([`super::campaign_progress`] has the progress counts and their subscription).

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::agents::Agent;
use super::audit;
use super::calls::Call;
use super::campaign_progress::CampaignProgress;
use super::context::{ContextExt, tenant};
use super::pagination::{KeysetCursor, PageRequest, connection_complexity};
use super::telephony::public_origin;
use crate::auth::Permission;
use crate::campaigns::{self, Action, CampaignInput};
use crate::clock::datetime;
use crate::db::Database;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::model::campaign::{
    CallOutcome, CallingWindow, CampaignStatus, ContactStatus, RetryRules, Weekday,
};
use crate::repo;
use crate::repo::campaigns::{CampaignRow, ContactRow};

/// An agent calling a list of contacts.
pub struct Campaign(pub CampaignRow);

#[Object]
impl Campaign {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn agent_id(&self) -> ID {
        ID(self.0.agent_id.clone())
    }

    async fn agent(&self, ctx: &Context<'_>) -> ApiResult<Agent> {
        ctx.authorize(Permission::ReadAgents)?;
        ctx.loaders()?
            .agents
            .load(self.0.agent_id.clone())
            .await?
            .map(Agent)
            .ok_or_else(|| ApiError::internal(format!("campaign {} has no agent", self.0.id)))
    }

    /// The number calls come from (E.164).
    async fn from_number(&self) -> &str {
        &self.0.from_number
    }

    async fn status(&self) -> CampaignStatus {
        self.0.status
    }

    /// IANA time zone of contacts without their own.
    async fn timezone(&self) -> &str {
        &self.0.timezone
    }

    /// When calls may be placed, in each contact's local time (none: any time).
    async fn windows(&self) -> &[CallingWindow] {
        &self.0.windows
    }

    async fn max_concurrent_calls(&self) -> i64 {
        self.0.max_concurrent_calls
    }

    async fn retry(&self) -> &RetryRules {
        &self.0.retry
    }

    async fn created_at(&self) -> DateTime<Utc> {
        datetime(self.0.created_at)
    }

    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at.map(datetime)
    }

    /// When it completed or was canceled.
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.completed_at.map(datetime)
    }

    async fn progress(&self, ctx: &Context<'_>) -> ApiResult<CampaignProgress> {
        let principal = ctx.authorize(Permission::ReadCalls)?;
        let tenant = tenant(ctx, principal).await?;
        Ok(CampaignProgress::new(
            &self.0.id,
            campaigns::progress(&tenant, self.0.id.clone()).await?,
        ))
    }

    /// Contacts in the order they were uploaded, optionally in one status.
    #[graphql(complexity = "connection_complexity(child_complexity, first)")]
    async fn contacts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<ContactStatus>,
    ) -> ApiResult<Connection<KeysetCursor, CampaignContact>> {
        let principal = ctx.authorize(Permission::ReadCalls)?;
        let tenant = tenant(ctx, principal).await?;
        let id = self.0.id.clone();
        PageRequest::new(first, after)?
            .load(
                &tenant.db,
                move |conn, after, limit| {
                    repo::campaigns::list_contacts(
                        conn,
                        &id,
                        status,
                        after.map(|c| (c.at, c.id)),
                        limit,
                    )
                },
                |c| KeysetCursor {
                    at: c.line,
                    id: c.id.clone(),
                },
                CampaignContact,
            )
            .await
    }
}

/// One phone number a campaign calls.
pub struct CampaignContact(pub ContactRow);

#[Object]
impl CampaignContact {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    /// The CSV line it came from.
    async fn line(&self) -> i64 {
        self.0.line
    }

    /// E.164; masked (`+1 415 ••• 0199`) for roles without ReadPhoneNumbers.
    async fn phone_number(&self, ctx: &Context<'_>) -> String {
        ctx.phone_number(&self.0.phone_number)
    }

    /// Its own IANA time zone (null: the campaign's).
    async fn timezone(&self) -> Option<&str> {
        self.0.timezone.as_deref()
    }

    async fn variables(&self) -> Json<serde_json::Value> {
        Json(self.0.variables.to_json())
    }

    async fn status(&self) -> ContactStatus {
        self.0.status
    }

    /// Attempts placed so far.
    async fn attempts(&self) -> i64 {
        self.0.attempts
    }

    /// The latest attempt's outcome.
    async fn outcome(&self) -> Option<CallOutcome> {
        self.0.outcome
    }

    /// Pending: not called before this.
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        self.0.next_attempt_at.map(datetime)
    }

    /// Every call placed to it, oldest first.
    async fn calls(&self, ctx: &Context<'_>) -> ApiResult<Vec<Call>> {
        let principal = ctx.authorize(Permission::ReadCalls)?;
        let db = tenant(ctx, principal).await?.db;
        let id = self.0.id.clone();
        let calls = db
            .read(move |conn| {
                let attempts = repo::campaigns::contact_attempts(conn, &id)?;
                let ids: Vec<String> = attempts.into_iter().map(|a| a.call_id).collect();
                let mut calls = repo::calls::get_calls(conn, &ids)?;
                calls.sort_by_key(|c| ids.iter().position(|id| *id == c.id));
                Ok::<_, crate::db::StorageError>(calls)
            })
            .await?;
        Ok(calls.into_iter().map(Call).collect())
    }
}

/// A CSV line that was not kept.
#[derive(SimpleObject)]
pub struct RejectedLine {
    /// 1 is the header.
    pub line: i64,
    pub column: Option<String>,
    pub code: String,
    pub message: String,
}

/// What an upload added.
#[derive(SimpleObject)]
pub struct ContactImport {
    pub added: i32,
    pub rejected: Vec<RejectedLine>,
    pub campaign: CampaignRef,
}

/// The campaign an upload went to.
#[derive(SimpleObject)]
pub struct CampaignRef {
    pub id: ID,
}

#[derive(InputObject)]
pub struct CallingWindowInput {
    pub days: Vec<Weekday>,
    /// `HH:MM`, 24-hour.
    pub start: String,
    /// `HH:MM`, after `start`; `24:00` ends the day.
    pub end: String,
}

#[derive(InputObject, Default)]
pub struct RetryRulesInput {
    /// Default true.
    pub on_busy: Option<bool>,
    /// Default true.
    pub on_no_answer: Option<bool>,
    /// Default false.
    pub on_voicemail: Option<bool>,
    /// Default false.
    pub on_failed: Option<bool>,
    /// Default 60.
    pub delay_minutes: Option<i32>,
    /// Default 3 (the first attempt included).
    pub max_attempts: Option<i32>,
}

#[derive(InputObject)]
pub struct CreateCampaignInput {
    pub name: String,
    pub agent_id: ID,
    /// A number of the tenant's Twilio account (E.164).
    pub from_number: String,
    /// IANA time zone for contacts without their own (default `UTC`).
    pub timezone: Option<String>,
    /// When calls may be placed, in each contact's local time; none: any time.
    #[graphql(default)]
    pub windows: Vec<CallingWindowInput>,
    /// Default 1; at most the plan's concurrent-call limit.
    pub max_concurrent_calls: Option<i32>,
    pub retry: Option<RetryRulesInput>,
}

#[derive(Default)]
pub struct CampaignQuery;

#[Object]
impl CampaignQuery {
    async fn campaign(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Campaign>> {
        let principal = ctx.authorize(Permission::ReadCalls)?;
        let db = tenant(ctx, principal).await?.db;
        Ok(read(&db, id.0).await?.map(Campaign))
    }

    /// Campaigns, newest first, optionally in one status.
    #[graphql(complexity = "connection_complexity(child_complexity, first)")]
    async fn campaigns(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<CampaignStatus>,
    ) -> ApiResult<Connection<KeysetCursor, Campaign>> {
        let principal = ctx.authorize(Permission::ReadCalls)?;
        let tenant = tenant(ctx, principal).await?;
        PageRequest::new(first, after)?
            .load(
                &tenant.db,
                move |conn, after, limit| {
                    repo::campaigns::list_campaigns(
                        conn,
                        status,
                        after.map(|c| (c.at, c.id)),
                        limit,
                    )
                },
                |c| KeysetCursor {
                    at: c.created_at,
                    id: c.id.clone(),
                },
                Campaign,
            )
            .await
    }
}

async fn read(db: &Database, id: String) -> ApiResult<Option<CampaignRow>> {
    Ok(db
        .read(move |conn| repo::campaigns::get_campaign(conn, &id))
        .await?)
}

#[derive(Default)]
pub struct CampaignMutation;

impl CampaignMutation {
    async fn act(&self, ctx: &Context<'_>, id: ID, action: Action) -> ApiResult<Campaign> {
        let principal = ctx.authorize(Permission::ManageCalls)?;
        let app = ctx.app();
        let tenant = tenant(ctx, principal).await?;
        if matches!(action, Action::Start | Action::Resume) {
            crate::telephony::get_account(&tenant.db).await?.ok_or(
                crate::telephony::TelephonyError::NotConfigured(
                    "this tenant has no Twilio account configured",
                ),
            )?;
            // Before the change commits, so a crash cannot leave a running campaign nobody schedules.
            app.scheduler.queue(tenant.id).await?;
        }
        let origin = public_origin(ctx);
        if matches!(action, Action::Start | Action::Resume) && origin.is_none() {
            return Err(ApiError::new(
                ErrorCode::TelephonyNotConfigured,
                "the server does not know its public URL; set --public-url",
            ));
        }
        let campaign = campaigns::act(&tenant, id.0, action, origin, app.clock.now_ms()).await?;
        audit::note(ctx, |n| n.target = Some(campaign.id.clone()));
        app.scheduler.wake();
        Ok(Campaign(campaign))
    }
}

#[Object]
impl CampaignMutation {
    /// Creates a campaign (draft) for an agent; add contacts, then start it.
    async fn create_campaign(
        &self,
        ctx: &Context<'_>,
        input: CreateCampaignInput,
    ) -> ApiResult<Campaign> {
        let principal = ctx.authorize(Permission::ManageCalls)?;
        let app = ctx.app();
        let tenant = tenant(ctx, principal).await?;
        let retry_in = input.retry.unwrap_or_default();
        let defaults = RetryRules::default();
        let input = CampaignInput {
            name: input.name,
            agent_id: input.agent_id.0,
            from_number: input.from_number,
            timezone: input.timezone,
            windows: input
                .windows
                .into_iter()
                .map(|w| CallingWindow {
                    days: w.days,
                    start: w.start,
                    end: w.end,
                })
                .collect(),
            max_concurrent_calls: input.max_concurrent_calls.unwrap_or(1),
            retry: RetryRules {
                on_busy: retry_in.on_busy.unwrap_or(defaults.on_busy),
                on_no_answer: retry_in.on_no_answer.unwrap_or(defaults.on_no_answer),
                on_voicemail: retry_in.on_voicemail.unwrap_or(defaults.on_voicemail),
                on_failed: retry_in.on_failed.unwrap_or(defaults.on_failed),
                delay_minutes: retry_in.delay_minutes.unwrap_or(defaults.delay_minutes),
                max_attempts: retry_in.max_attempts.unwrap_or(defaults.max_attempts),
            },
        };
        let limit = app
            .billing
            .admission(tenant.id)
            .await?
            .concurrent_calls
            .unwrap_or(0);
        let campaign = campaigns::create(&tenant, input, limit, app.clock.now_ms()).await?;
        audit::note(ctx, |n| n.target = Some(campaign.id.clone()));
        Ok(Campaign(campaign))
    }

    /// Adds contacts from CSV text: a header row naming a phone number column (`phone`, `phone_number`,
    /// `number` or `to`), an optional `timezone` column (IANA), and one column per variable the agent's texts
    /// use. Valid lines are kept; the others come back in `rejected` with their line number and why.
    async fn add_campaign_contacts(
        &self,
        ctx: &Context<'_>,
        campaign_id: ID,
        csv: String,
    ) -> ApiResult<ContactImport> {
        let principal = ctx.authorize(Permission::ManageCalls)?;
        let app = ctx.app();
        let tenant = tenant(ctx, principal).await?;
        let id = campaign_id.0.clone();
        let import = campaigns::add_contacts(&tenant, id, csv, app.clock.now_ms()).await?;
        audit::note(ctx, |n| n.target = Some(campaign_id.0.clone()));
        app.scheduler.wake();
        Ok(ContactImport {
            added: import.added as i32,
            rejected: import
                .rejected
                .into_iter()
                .map(|r| RejectedLine {
                    line: r.line,
                    column: r.column,
                    code: r.code.as_str().to_string(),
                    message: r.message,
                })
                .collect(),
            campaign: CampaignRef { id: campaign_id },
        })
    }

    /// Starts dialling (draft → running). Needs contacts and the tenant's Twilio account.
    async fn start_campaign(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Campaign> {
        self.act(ctx, id, Action::Start).await
    }

    /// Stops placing new calls (calls on the phone go on).
    async fn pause_campaign(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Campaign> {
        self.act(ctx, id, Action::Pause).await
    }

    async fn resume_campaign(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Campaign> {
        self.act(ctx, id, Action::Resume).await
    }

    /// Stops for good: contacts not yet called never will be (calls on the phone go on).
    async fn cancel_campaign(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Campaign> {
        self.act(ctx, id, Action::Cancel).await
    }
}
