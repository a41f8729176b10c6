//! Outbound campaigns: an agent calls a list of contacts (uploaded as CSV), within calling windows in each
//! contact's time zone, a few calls at a time (within the plan's limit), retrying busy, unanswered or voicemail
//! outcomes by rule, until every contact has a final outcome — then a `campaign.completed` webhook.
//!
//! - this file: creating, filling (CSV), starting, pausing, resuming, canceling; progress.
//! - [`csv`]: contacts from CSV, with per-line errors.
//! - [`window`]: calling windows in a contact's time zone.
//! - [`dialer`]: one scheduler turn for a tenant: record how calls ended, decide retries, dial the next contacts.
//! - [`scheduler`]: [`Scheduler`], the background task that gives every tenant with outbound work its turns.
//!
//! Everything the scheduler decides is in the tenant's database before a call is placed: a contact's attempt is a
//! row (unique per contact and attempt number) written with its call record in one transaction, and Twilio is
//! asked only after it commits. After a crash the scheduler reads where every contact stands, and the reconciler
//! ([`crate::telephony::reconcile`]) finds out what became of requests whose answer was lost — so no contact is
//! called twice for one attempt, and none is forgotten.

pub mod csv;
pub mod dialer;
mod error;
pub mod scheduler;
pub mod window;

pub use error::CampaignError;
pub use scheduler::Scheduler;

use std::sync::Arc;

use serde_json::{Value, json};

use crate::agents::template;
use crate::clock::datetime;
use crate::error::{ErrorCode, FieldError, InvalidInput};
use crate::events::TenantEvent;
use crate::model::campaign::{
    CallOutcome, CallingWindow, CampaignStatus, ContactStatus, RetryRules,
};
use crate::model::variables::{CALLED_NUMBER, CALLER_NUMBER};
use crate::repo;
use crate::repo::campaigns::{CampaignRow, ContactRow, Progress};
use crate::telephony::values::E164;
use crate::tenants::{Change, Tenant};
use window::Windows;

/// A campaign to create.
#[derive(Debug, Clone)]
pub struct CampaignInput {
    pub name: String,
    pub agent_id: String,
    /// E.164, a number of the tenant's Twilio account.
    pub from_number: String,
    /// IANA zone for contacts without their own (default `UTC`).
    pub timezone: Option<String>,
    pub windows: Vec<CallingWindow>,
    pub max_concurrent_calls: i32,
    pub retry: RetryRules,
}

/// What an upload added and left out.
#[derive(Debug, Clone, Default)]
pub struct ContactImport {
    pub added: usize,
    pub rejected: Vec<csv::Rejected>,
}

/// The event a campaign change publishes (subscribers re-read its progress).
pub fn changed(campaign_id: &str) -> TenantEvent {
    TenantEvent::Campaign(Arc::new(campaign_id.to_string()))
}

fn validate(input: &CampaignInput, plan_limit: u32) -> Result<(String, String), InvalidInput> {
    let mut errors: Vec<FieldError> = Vec::new();
    let name = input.name.trim();
    if !(1..=100).contains(&name.chars().count()) {
        errors.push(FieldError::new(
            "input.name",
            ErrorCode::TooLong,
            "1–100 characters",
        ));
    }
    let from = E164::parse(&input.from_number, "input.fromNumber")
        .ok()
        .filter(|n| crate::agents::is_e164(n.as_str()));
    if from.is_none() {
        errors.push(FieldError::new(
            "input.fromNumber",
            ErrorCode::InvalidPhoneNumber,
            "must be an E.164 number such as +14155550123",
        ));
    }
    let zone = input.timezone.as_deref().unwrap_or("UTC");
    if window::parse_zone(zone).is_none() {
        errors.push(FieldError::new(
            "input.timezone",
            ErrorCode::InvalidTimezone,
            "an IANA time zone such as America/New_York",
        ));
    }
    if let Err(e) = Windows::parse(&input.windows, "input.windows") {
        errors.extend(e);
    }
    let max = input.max_concurrent_calls;
    if max < 1 || (plan_limit > 0 && max as u32 > plan_limit) {
        let message = if plan_limit > 0 {
            format!("1 to {plan_limit} (the plan's concurrent-call limit)")
        } else {
            "at least 1".into()
        };
        errors.push(FieldError::new(
            "input.maxConcurrentCalls",
            ErrorCode::OutOfRange,
            message,
        ));
    }
    let retry = &input.retry;
    if !(1..=10_080).contains(&retry.delay_minutes) {
        errors.push(FieldError::new(
            "input.retry.delayMinutes",
            ErrorCode::OutOfRange,
            "1 to 10080 (a week)",
        ));
    }
    if !(1..=10).contains(&retry.max_attempts) {
        errors.push(FieldError::new(
            "input.retry.maxAttempts",
            ErrorCode::OutOfRange,
            "1 to 10",
        ));
    }
    InvalidInput::check(errors)?;
    let from = from.map(|n| n.as_str().to_string()).unwrap_or_default();
    Ok((name.to_string(), from))
}

/// Creates a campaign (draft). `plan_limit` bounds its concurrent calls (0: no limit).
pub async fn create(
    tenant: &Tenant,
    input: CampaignInput,
    plan_limit: u32,
    now: i64,
) -> Result<CampaignRow, CampaignError> {
    let (name, from_number) = validate(&input, plan_limit)?;
    tenant
        .commit(move |tx| {
            let agent = repo::agents::get_agent(tx, &input.agent_id)?
                .ok_or(CampaignError::AgentNotFound)?;
            if agent.archived_at.is_some() {
                return Err(CampaignError::AgentArchived);
            }
            let campaign = CampaignRow {
                id: crate::db::new_id(),
                name,
                agent_id: agent.id,
                from_number,
                status: CampaignStatus::Draft,
                timezone: input.timezone.unwrap_or_else(|| "UTC".into()),
                windows: input.windows,
                max_concurrent_calls: i64::from(input.max_concurrent_calls),
                retry: input.retry,
                public_origin: None,
                created_at: now,
                updated_at: now,
                started_at: None,
                completed_at: None,
            };
            repo::campaigns::insert_campaign(tx, &campaign)?;
            Ok(Change {
                events: vec![changed(&campaign.id)],
                value: campaign,
                deliveries: 0,
            })
        })
        .await
}

/// Adds the contacts of a CSV upload to a campaign not yet over. Lines that fail are reported, the rest kept.
pub async fn add_contacts(
    tenant: &Tenant,
    campaign_id: String,
    text: String,
    now: i64,
) -> Result<ContactImport, CampaignError> {
    tenant
        .commit(move |tx| {
            let campaign =
                repo::campaigns::get_campaign(tx, &campaign_id)?.ok_or(CampaignError::NotFound)?;
            if matches!(
                campaign.status,
                CampaignStatus::Completed | CampaignStatus::Canceled
            ) {
                return Err(CampaignError::InvalidState {
                    status: campaign.status,
                    action: "take contacts",
                });
            }
            let agent = repo::agents::get_agent(tx, &campaign.agent_id)?
                .ok_or(CampaignError::AgentNotFound)?;
            let version = repo::agents::get_version(tx, &agent.id, agent.active_version)?
                .ok_or(CampaignError::AgentNotFound)?;
            let required = template::required(&version.config);
            let parsed = csv::parse(&text, &required, &[CALLER_NUMBER, CALLED_NUMBER])?;
            let mut import = ContactImport {
                added: 0,
                rejected: parsed.rejected,
            };
            for contact in parsed.contacts {
                let row = ContactRow {
                    id: crate::db::new_id(),
                    campaign_id: campaign.id.clone(),
                    line: contact.line,
                    phone_number: contact.phone_number,
                    timezone: contact.timezone,
                    variables: contact.variables,
                    status: ContactStatus::Pending,
                    attempts: 0,
                    next_attempt_at: None,
                    outcome: None,
                    created_at: now,
                    updated_at: now,
                };
                match repo::campaigns::insert_contact(tx, &row) {
                    Ok(()) => import.added += 1,
                    Err(e) if repo::is_unique_violation(&e) => {
                        import.rejected.push(csv::Rejected {
                            line: row.line,
                            column: None,
                            code: ErrorCode::Duplicate,
                            message: format!("{} is already in this campaign", row.phone_number),
                        })
                    }
                    Err(e) => return Err(crate::db::StorageError::from(e).into()),
                }
            }
            import.rejected.sort_by_key(|r| r.line);
            Ok(Change {
                events: vec![changed(&campaign.id)],
                value: import,
                deliveries: 0,
            })
        })
        .await
}

/// What starting, pausing, resuming or canceling does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Start,
    Pause,
    Resume,
    Cancel,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Cancel => "be canceled",
        }
    }

    /// The status this action leads to from `from`, if allowed.
    pub fn target(self, from: CampaignStatus) -> Option<CampaignStatus> {
        use CampaignStatus::*;
        match (self, from) {
            (Self::Start, Draft) => Some(Running),
            (Self::Pause, Running) => Some(Paused),
            (Self::Resume, Paused) => Some(Running),
            (Self::Cancel, Draft | Running | Paused) => Some(Canceled),
            _ => None,
        }
    }
}

/// Starts, pauses, resumes or cancels a campaign. Starting records `origin` (where Twilio reaches this server)
/// and needs contacts; canceling cancels the contacts not yet called (calls on the phone go on).
pub async fn act(
    tenant: &Tenant,
    campaign_id: String,
    action: Action,
    origin: Option<String>,
    now: i64,
) -> Result<CampaignRow, CampaignError> {
    tenant
        .commit(move |tx| {
            let mut campaign =
                repo::campaigns::get_campaign(tx, &campaign_id)?.ok_or(CampaignError::NotFound)?;
            let to = action
                .target(campaign.status)
                .ok_or(CampaignError::InvalidState {
                    status: campaign.status,
                    action: action.name(),
                })?;
            if action == Action::Start {
                if repo::campaigns::progress(tx, &campaign.id)?.pending == 0 {
                    return Err(CampaignError::NothingToCall("add contacts before starting"));
                }
                campaign.started_at = Some(now);
            }
            if matches!(action, Action::Start | Action::Resume) && origin.is_some() {
                campaign.public_origin = origin;
            }
            if action == Action::Cancel {
                repo::campaigns::cancel_pending(tx, &campaign.id, now)?;
                campaign.completed_at = Some(now);
            }
            campaign.status = to;
            campaign.updated_at = now;
            repo::campaigns::update_campaign(tx, &campaign)?;
            Ok(Change {
                events: vec![changed(&campaign.id)],
                value: campaign,
                deliveries: 0,
            })
        })
        .await
}

/// A campaign's progress now.
pub async fn progress(tenant: &Tenant, campaign_id: String) -> Result<Progress, CampaignError> {
    Ok(tenant
        .db
        .read(move |conn| repo::campaigns::progress(conn, &campaign_id))
        .await?)
}

/// The JSON shape of a campaign in webhooks (camelCase, like GraphQL).
pub fn campaign_json(campaign: &CampaignRow, progress: &Progress) -> Value {
    let outcomes: serde_json::Map<String, Value> = CallOutcome::ALL
        .iter()
        .map(|o| {
            let n = progress
                .outcomes
                .iter()
                .find(|(x, _)| x == o)
                .map_or(0, |(_, n)| *n);
            (o.as_str().to_string(), json!(n))
        })
        .collect();
    json!({
        "id": campaign.id,
        "name": campaign.name,
        "agentId": campaign.agent_id,
        "status": campaign.status.as_str(),
        "createdAt": datetime(campaign.created_at),
        "startedAt": campaign.started_at.map(datetime),
        "completedAt": campaign.completed_at.map(datetime),
        "progress": {
            "total": progress.total,
            "pending": progress.pending,
            "inProgress": progress.calling,
            "done": progress.done,
            "canceled": progress.canceled,
            "attempts": progress.attempts,
            "outcomes": outcomes,
        },
    })
}
