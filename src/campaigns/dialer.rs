//! One scheduler turn for one tenant's campaigns: record how calls ended (retry or done), complete campaigns
//! whose contacts are all done, and dial the contacts that are due, in their calling windows, within the
//! campaign's and the plan's concurrent-call limits. Returns when the tenant next needs a turn.

use serde_json::json;

use super::window::{Windows, parse_zone};
use super::{CampaignError, campaign_json, changed};
use crate::agents::ActiveAgent;
use crate::billing::{Admission, Billing};
use crate::calls::{self, CallError, NewCall};
use crate::error::Reportable as _;
use crate::live::plan::OutboundDial;
use crate::model::campaign::{CallOutcome, CampaignStatus, ContactStatus, outcome_of};
use crate::model::{Direction, Transport};
use crate::repo;
use crate::repo::calls::CallRow;
use crate::repo::campaigns::{CampaignRow, ContactRow};
use crate::telephony::Telephony;
use crate::tenants::{Change, Tenant};
use crate::webhooks::{self, WebhookEvent};

/// What a turn works with.
pub struct Dialer<'a> {
    pub telephony: &'a Telephony,
    pub billing: &'a Billing,
    /// `--public-url`, else each campaign's recorded origin.
    pub public_url: Option<&'a str>,
    /// How soon to look again while calls are on.
    pub tick_ms: i64,
    /// The longest a tenant with a running campaign waits for its next turn.
    pub max_wait_ms: i64,
}

/// What every call a turn places for one campaign shares.
#[derive(Clone, Copy)]
struct Round<'a> {
    campaign: &'a CampaignRow,
    agent: &'a ActiveAgent,
    /// The tenant's limits, checked again as each call is created.
    admission: &'a Admission,
    origin: &'a str,
}

fn earliest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl Dialer<'_> {
    /// One turn for `tenant` at `now`: when it next needs one (`None`: no campaign to look after).
    pub async fn turn(&self, tenant: &Tenant, now: i64) -> Result<Option<i64>, CampaignError> {
        let campaigns = tenant.db.read(repo::campaigns::scheduled_campaigns).await?;
        let mut next = None;
        for campaign in campaigns {
            let id = campaign.id.clone();
            let due = match self.campaign_turn(tenant, campaign, now).await {
                Ok(due) => due,
                Err(e) => {
                    tracing::error!(campaign_id = %id, code = %e.code(), error = %e, "campaign turn failed");
                    Some(now + self.max_wait_ms)
                }
            };
            next = earliest(next, due);
        }
        Ok(next)
    }

    async fn campaign_turn(
        &self,
        tenant: &Tenant,
        campaign: CampaignRow,
        now: i64,
    ) -> Result<Option<i64>, CampaignError> {
        let campaign = settle(tenant, campaign.id.clone(), now).await?;
        let open = {
            let id = campaign.id.clone();
            tenant
                .db
                .read(move |conn| repo::campaigns::open_attempts(conn, &id))
                .await?
        };
        let mut next = (open > 0).then_some(now + self.tick_ms);
        if campaign.status != CampaignStatus::Running {
            return Ok(next);
        }
        let dialled = self.dial_due(tenant, &campaign, open, now).await?;
        if dialled > 0 {
            next = Some(now + self.tick_ms);
        }
        next = earliest(next, self.next_opening(tenant, &campaign, now).await?);
        Ok(next.map(|at| at.min(now + self.max_wait_ms)))
    }

    /// When the next pending contact may be called (its retry delay over, its window open).
    async fn next_opening(
        &self,
        tenant: &Tenant,
        campaign: &CampaignRow,
        now: i64,
    ) -> Result<Option<i64>, CampaignError> {
        let id = campaign.id.clone();
        let zones = tenant
            .db
            .read(move |conn| repo::campaigns::pending_zones(conn, &id))
            .await?;
        let windows = Windows::stored(&campaign.windows);
        let mut next = None;
        for (zone, earliest_attempt) in zones {
            let Some(zone) = zone
                .as_deref()
                .or(Some(&campaign.timezone))
                .and_then(parse_zone)
            else {
                continue;
            };
            let from = earliest_attempt.max(now);
            // Due now but not dialled (no free slot): the next turn tries again.
            let at = windows
                .next_open(zone, from)
                .map(|at| at.max(now + self.tick_ms));
            next = earliest(next, at);
        }
        Ok(next)
    }

    /// Dials the due contacts that fit; returns how many calls were placed.
    async fn dial_due(
        &self,
        tenant: &Tenant,
        campaign: &CampaignRow,
        open: i64,
        now: i64,
    ) -> Result<usize, CampaignError> {
        let mut slots = (campaign.max_concurrent_calls - open).max(0) as usize;
        let admission = self.billing.admission(tenant.id).await?;
        let limits = admission.clone();
        if let Some(free) = tenant.db.read(move |conn| limits.free_slots(conn)).await? {
            slots = slots.min(free);
        }
        if slots == 0 {
            return Ok(0);
        }
        let Some(origin) = self
            .public_url
            .map(str::to_string)
            .or_else(|| campaign.public_origin.clone())
        else {
            tracing::error!(campaign_id = %campaign.id, "no public URL for Twilio to reach; set --public-url");
            return Ok(0);
        };
        let (campaign_id, agent_id) = (campaign.id.clone(), campaign.agent_id.clone());
        let (due, agent) = tenant
            .db
            .read(move |conn| {
                let due = repo::campaigns::due_contacts(conn, &campaign_id, now, 500)?;
                let agent = match repo::agents::get_agent(conn, &agent_id)? {
                    Some(agent) => {
                        repo::agents::get_version(conn, &agent_id, agent.active_version)?
                            .map(|version| ActiveAgent { agent, version })
                    }
                    None => None,
                };
                Ok::<_, crate::db::StorageError>((due, agent))
            })
            .await?;
        let Some(agent) = agent else {
            return Err(CampaignError::AgentNotFound);
        };
        let windows = Windows::stored(&campaign.windows);
        let default_zone = parse_zone(&campaign.timezone).unwrap_or(chrono_tz::UTC);
        let round = Round {
            campaign,
            agent: &agent,
            admission: &admission,
            origin: &origin,
        };
        let mut dialled = 0;
        for contact in due {
            if dialled >= slots {
                break;
            }
            let zone = contact
                .timezone
                .as_deref()
                .and_then(parse_zone)
                .unwrap_or(default_zone);
            if !windows.is_open(zone, now) {
                continue;
            }
            if self.dial_contact(tenant, &round, contact, now).await? {
                dialled += 1;
            }
        }
        Ok(dialled)
    }

    /// Places the next attempt of `contact`: its call and attempt are written in one transaction, then Twilio is
    /// asked (in the background: the turn does not wait for Twilio).
    async fn dial_contact(
        &self,
        tenant: &Tenant,
        round: &Round<'_>,
        contact: ContactRow,
        now: i64,
    ) -> Result<bool, CampaignError> {
        let Round {
            campaign,
            agent,
            admission,
            origin,
        } = *round;
        if agent.agent.archived_at.is_some() {
            return Err(CampaignError::AgentArchived);
        }
        let variables = contact
            .variables
            .clone()
            .with_phone_numbers(Some(&campaign.from_number), Some(&contact.phone_number));
        let Ok(dial) = OutboundDial::new(agent, &variables) else {
            // The agent's texts changed since the upload: this contact cannot be called as it stands.
            tracing::warn!(campaign_id = %campaign.id, line = contact.line, "contact lacks variables the agent now uses");
            finish_unplaceable(tenant, contact, now).await?;
            return Ok(false);
        };
        let attempt = contact.attempts + 1;
        let new = NewCall {
            agent_id: agent.agent.id.clone(),
            direction: Direction::Outbound,
            transport: Transport::Phone,
            from: Some(campaign.from_number.clone()),
            to: Some(contact.phone_number.clone()),
            metadata: json!({ "campaignId": campaign.id, "contactId": contact.id, "attempt": attempt }),
            variables,
        };
        let (tenant_id, campaign_id, contact_id, admission) = (
            tenant.id,
            campaign.id.clone(),
            contact.id.clone(),
            admission.clone(),
        );
        let placed = tenant
            .commit(move |tx| {
                // Another turn may have taken it meanwhile; the contact's row decides.
                let Some(mut contact) = repo::campaigns::get_contact(tx, &contact_id)? else {
                    return Ok(Change::quiet(None));
                };
                if contact.status != ContactStatus::Pending || contact.attempts + 1 != attempt {
                    return Ok(Change::quiet(None));
                }
                let (call, mut events, deliveries) =
                    calls::insert(tx, tenant_id, new, Some(&admission), now)?;
                repo::outbound::insert_twilio_call(tx, &call.id, now)?;
                repo::campaigns::insert_attempt(
                    tx,
                    &campaign_id,
                    &contact.id,
                    attempt,
                    &call.id,
                    now,
                )?;
                contact.status = ContactStatus::Calling;
                contact.attempts = attempt;
                contact.updated_at = now;
                repo::campaigns::update_contact(tx, &contact)?;
                events.push(changed(&campaign_id));
                Ok::<_, CampaignError>(Change {
                    value: Some(call),
                    events,
                    deliveries,
                })
            })
            .await;
        let call: Option<CallRow> = match placed {
            Ok(call) => call,
            // Another call took the plan's last slot (or the tenant was suspended) since the turn looked: the
            // contact waits for the next turn.
            Err(CampaignError::Call(CallError::Refused(refusal))) => {
                tracing::info!(campaign_id = %campaign.id, code = %refusal.code(), "campaign call waits for room");
                None
            }
            Err(e) => return Err(e),
        };
        let Some(call) = call else {
            return Ok(false);
        };
        metrics::counter!("voxedge_campaign_calls_total").increment(1);
        let (telephony, tenant, origin) =
            (self.telephony.clone(), tenant.clone(), origin.to_string());
        tokio::spawn(async move {
            if let Err(e) = telephony.dial(&tenant, &origin, &call, &dial).await {
                tracing::warn!(call_id = %call.id, code = %e.code(), error = %e, "campaign call not placed");
            }
        });
        Ok(true)
    }
}

/// A contact that cannot be called: done, `failed`.
async fn finish_unplaceable(
    tenant: &Tenant,
    mut contact: ContactRow,
    now: i64,
) -> Result<(), CampaignError> {
    tenant
        .commit(move |tx| {
            contact.status = ContactStatus::Done;
            contact.outcome = Some(CallOutcome::Failed);
            contact.updated_at = now;
            repo::campaigns::update_contact(tx, &contact)?;
            Ok::<_, CampaignError>(Change {
                value: (),
                events: vec![changed(&contact.campaign_id)],
                deliveries: 0,
            })
        })
        .await
}

/// Records how the campaign's ended calls went (retry or done) and completes a running campaign whose contacts
/// are all done — with its `campaign.completed` webhook, in the same transaction. Returns the campaign.
pub async fn settle(
    tenant: &Tenant,
    campaign_id: String,
    now: i64,
) -> Result<CampaignRow, CampaignError> {
    let tenant_id = tenant.id;
    tenant
        .commit(move |tx| {
            let mut campaign =
                repo::campaigns::get_campaign(tx, &campaign_id)?.ok_or(CampaignError::NotFound)?;
            let ended = repo::campaigns::ended_attempts(tx, &campaign.id)?;
            let mut events = Vec::new();
            let mut deliveries = 0;
            for (attempt, status, reason) in &ended {
                let Some(mut contact) = repo::campaigns::get_contact(tx, &attempt.contact_id)? else {
                    continue;
                };
                let over = campaign.status == CampaignStatus::Canceled;
                match outcome_of(*status, reason.as_deref()) {
                    None => {
                        // The call never reached Twilio: the same attempt is made again.
                        repo::campaigns::void_attempt(tx, attempt.id, now)?;
                        contact.attempts = (attempt.attempt - 1).max(0);
                        contact.status = if over { ContactStatus::Canceled } else { ContactStatus::Pending };
                        contact.next_attempt_at = Some(now);
                    }
                    Some(outcome) => {
                        repo::campaigns::finish_attempt(tx, attempt.id, outcome, now)?;
                        contact.outcome = Some(outcome);
                        let retry = &campaign.retry;
                        if !over && retry.retries(outcome) && contact.attempts < i64::from(retry.max_attempts) {
                            contact.status = ContactStatus::Pending;
                            contact.next_attempt_at = Some(now + i64::from(retry.delay_minutes) * 60_000);
                        } else {
                            contact.status = ContactStatus::Done;
                        }
                    }
                }
                contact.updated_at = now;
                repo::campaigns::update_contact(tx, &contact)?;
            }
            if !ended.is_empty() {
                events.push(changed(&campaign.id));
            }
            if campaign.status == CampaignStatus::Running {
                let progress = repo::campaigns::progress(tx, &campaign.id)?;
                if progress.pending == 0 && progress.calling == 0 {
                    campaign.status = CampaignStatus::Completed;
                    campaign.completed_at = Some(now);
                    campaign.updated_at = now;
                    repo::campaigns::update_campaign(tx, &campaign)?;
                    deliveries += webhooks::enqueue(
                        tx,
                        tenant_id,
                        WebhookEvent::CampaignCompleted,
                        json!({ "campaign": campaign_json(&campaign, &progress) }),
                    )?;
                    events.push(changed(&campaign.id));
                    tracing::info!(campaign_id = %campaign.id, contacts = progress.total, "campaign completed");
                }
            }
            Ok::<_, CampaignError>(Change {
                value: campaign,
                events,
                deliveries,
            })
        })
        .await
}
