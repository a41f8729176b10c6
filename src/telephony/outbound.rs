//! Outbound calls through the tenant's Twilio account.
//!
//! A call record is created first (outbound, phone, queued) together with a `twilio_calls` row saying a request
//! is on its way, so the call exists whatever Twilio says — and a crash mid-request leaves a trace the
//! reconciler ([`super::reconcile`]) settles by asking Twilio. Then Twilio's REST API is asked to dial
//! (`POST /2010-04-01/Accounts/{sid}/Calls.json`, form fields `To`, `From`, `Twiml`, status callbacks and, when the
//! agent screens for answering machines, asynchronous machine detection). The inline TwiML connects the answered
//! call to the live-call stream like an inbound one, with custom parameters `token` (a session token for the
//! agent), `from`, `to` and `callId` — the voxedge call record, which the stream continues. Twilio's call SID is
//! stored and put on the call's timeline (`twilio_call_created`); a refusal marks the call failed.

use std::time::Duration;

use serde_json::json;

use super::api::{Failure, TwilioApi};
use super::values::E164;
use super::{TelephonyError, get_account, inbound, open_token, status_path, stream_url, twiml};
use crate::agents::ActiveAgent;
use crate::auth::TokenSigner;
use crate::billing::Admission;
use crate::calls::{self, NewCall};
use crate::clock::Clock;
use crate::db::Database;
use crate::error::{ErrorCode, InvalidInput, Reportable as _};
use crate::events::TenantEvent;
use crate::live::plan::{OutboundDial, PlanError};
use crate::model::{CallStatus, Direction, Transport, Variables};
use crate::redact::Secret;
use crate::repo;
use crate::repo::agents::{AgentRow, VersionRow};
use crate::repo::calls::CallRow;
use crate::secrets::Secrets;
use crate::tenants::{Change, Tenant};

/// How long an outbound call's stream token lives: it must outlast the ringing (Twilio gives up after
/// 60 s by default) before the stream starts.
pub const OUTBOUND_STREAM_TOKEN_TTL: Duration = Duration::from_secs(300);

/// Calls through tenants' Twilio accounts: what placing, settling and transferring calls need. Cheap to clone.
#[derive(Clone)]
pub struct Telephony {
    pub(super) twilio: TwilioApi,
    secrets: Secrets,
    signer: TokenSigner,
    pub(super) clock: Clock,
    /// `region.db`, with the outbound queue: tenants whose placed calls the scheduler looks after.
    region_db: Database,
}

/// A call to place.
#[derive(Debug, Clone)]
pub struct OutboundCall {
    pub agent_id: String,
    pub to: String,
    pub from: String,
    /// Fill the agent's `{{placeholders}}` (with `caller_number` / `called_number` added).
    pub variables: Variables,
    /// Kept with the call and shown in webhooks.
    pub metadata: serde_json::Value,
}

/// The numbers of a call to place, checked.
pub struct Numbers {
    pub to: E164,
    pub from: E164,
}

impl Numbers {
    pub fn parse(to: &str, from: &str) -> Result<Self, InvalidInput> {
        match (E164::parse(to, "to"), E164::parse(from, "from")) {
            (Ok(to), Ok(from)) => Ok(Self { to, from }),
            (to, from) => Err(InvalidInput(
                [to.err(), from.err()].into_iter().flatten().collect(),
            )),
        }
    }
}

/// Missing variables, as the input error a caller placing a call sees.
pub fn missing_variables(error: PlanError) -> InvalidInput {
    InvalidInput::field("variables", ErrorCode::MissingVariables, error.to_string())
}

impl Telephony {
    pub fn new(
        twilio: TwilioApi,
        secrets: Secrets,
        signer: TokenSigner,
        clock: Clock,
        region_db: Database,
    ) -> Self {
        Self {
            twilio,
            secrets,
            signer,
            clock,
            region_db,
        }
    }

    /// The tenant's Twilio account SID and auth token in clear.
    pub(super) async fn credentials(
        &self,
        tenant: &Tenant,
    ) -> Result<(String, Secret<String>), TelephonyError> {
        let account = get_account(&tenant.db)
            .await?
            .ok_or(TelephonyError::NotConfigured(
                "this tenant has no Twilio account configured",
            ))?;
        let token = open_token(&self.secrets, tenant.id, &account)?;
        let token = Secret::new(String::from_utf8_lossy(token.expose()).into_owned());
        Ok((account.account_sid, token))
    }

    /// Transfers a phone call in progress to `number` through the tenant's Twilio account.
    pub async fn transfer_call(
        &self,
        tenant: &Tenant,
        call_sid: &str,
        number: &str,
    ) -> Result<(), TelephonyError> {
        let number = E164::parse(number, "to")?;
        let (account_sid, auth_token) = self.credentials(tenant).await?;
        let twiml = twiml::dial(number.as_str());
        self.twilio
            .update_call(&account_sid, auth_token.expose(), call_sid, &twiml)
            .await
    }

    /// Marks `tenant` in `region.db` as having outbound work, due at once. Written before the tenant's own change
    /// commits, so no crash can leave a call the scheduler does not know about.
    pub async fn queue(&self, tenant: &Tenant) -> Result<(), TelephonyError> {
        let (id, now) = (tenant.id, self.clock.now_ms());
        self.region_db
            .write(move |tx| repo::outbound::queue_tenant(tx, id, now))
            .await?;
        Ok(())
    }

    /// Places a call from the agent through the tenant's Twilio account. `origin` is the server's public
    /// origin, where Twilio opens the stream and posts status callbacks. The call record is created only if
    /// `limits` admit one more call (checked in the transaction that creates it); it holds a concurrent-call slot
    /// from then on.
    pub async fn place_call(
        &self,
        tenant: &Tenant,
        origin: Option<String>,
        call: OutboundCall,
        limits: Admission,
    ) -> Result<CallRow, TelephonyError> {
        let numbers = Numbers::parse(&call.to, &call.from)?;
        self.credentials(tenant).await?;
        let origin = origin.ok_or(TelephonyError::NotConfigured(
            "the server does not know its public URL; set --public-url",
        ))?;
        let agent_id = call.agent_id.clone();
        let agent = tenant
            .db
            .read(move |conn| {
                let Some(agent) = repo::agents::get_agent(conn, &agent_id)? else {
                    return Ok(None);
                };
                let version = repo::agents::get_version(conn, &agent_id, agent.active_version)?;
                Ok::<_, crate::db::StorageError>(version.map(|version| (agent, version)))
            })
            .await?
            .ok_or(TelephonyError::AgentNotFound)?;
        let variables = call
            .variables
            .with_phone_numbers(Some(numbers.from.as_str()), Some(numbers.to.as_str()));
        let dial = outbound_dial(agent, &variables)?;
        self.queue(tenant).await?;
        let new = NewCall {
            agent_id: call.agent_id,
            direction: Direction::Outbound,
            transport: Transport::Phone,
            from: Some(numbers.from.as_str().to_string()),
            to: Some(numbers.to.as_str().to_string()),
            metadata: call.metadata,
            variables,
        };
        let (tenant_id, now) = (tenant.id, self.clock.now_ms());
        let row = tenant
            .commit(move |tx| {
                let (call, events, deliveries) =
                    calls::insert(tx, tenant_id, new, Some(&limits), now)?;
                repo::outbound::insert_twilio_call(tx, &call.id, now)?;
                Ok::<_, TelephonyError>(Change {
                    value: call,
                    events,
                    deliveries,
                })
            })
            .await
            .inspect_err(|e| {
                if let TelephonyError::Call(calls::CallError::Refused(refusal)) = e {
                    metrics::counter!("voxedge_call_admissions_refused_total", "reason" => refusal.refusal_reason())
                        .increment(1);
                }
            })?;
        self.dial(tenant, &origin, &row, &dial).await?;
        Ok(row)
    }

    /// Asks Twilio to dial `call` (created with its `twilio_calls` row). Twilio's SID is stored; a sure refusal
    /// fails the call (`twilio_refused`); when it is unknown whether Twilio got the request, the call is left for
    /// the reconciler, which asks Twilio.
    pub async fn dial(
        &self,
        tenant: &Tenant,
        origin: &str,
        call: &CallRow,
        dial: &OutboundDial,
    ) -> Result<(), TelephonyError> {
        let (account_sid, auth_token) = self.credentials(tenant).await?;
        let (Some(to), Some(from)) = (call.to_address.as_deref(), call.from_address.as_deref())
        else {
            return Err(TelephonyError::Internal(format!(
                "outbound call {} lacks its numbers",
                call.id
            )));
        };
        let (token, _) = self.signer.issue_session(
            tenant.id,
            &call.agent_id,
            inbound::TOKEN_ISSUER,
            OUTBOUND_STREAM_TOKEN_TTL,
        )?;
        let twiml = twiml::connect_stream(
            &stream_url(origin, tenant.id),
            &[
                ("token", token.as_str()),
                ("from", from),
                ("to", to),
                ("callId", call.id.as_str()),
            ],
        );
        let callback = format!("{origin}{}?callId={}", status_path(tenant.id), call.id);
        let mut form = vec![
            ("To", to),
            ("From", from),
            ("Twiml", twiml.as_str()),
            ("StatusCallback", callback.as_str()),
            ("StatusCallbackMethod", "POST"),
            ("StatusCallbackEvent", "initiated"),
            ("StatusCallbackEvent", "ringing"),
            ("StatusCallbackEvent", "answered"),
            ("StatusCallbackEvent", "completed"),
        ];
        if dial.machine_detection {
            // Asynchronous: the call connects to the agent at once, the verdict follows as a callback, after the
            // greeting (so a machine's beep has sounded when it says "machine_end_beep").
            form.extend([
                ("MachineDetection", "DetectMessageEnd"),
                ("AsyncAmd", "true"),
                ("AsyncAmdStatusCallback", callback.as_str()),
                ("AsyncAmdStatusCallbackMethod", "POST"),
            ]);
        }
        match self
            .twilio
            .create_call(&account_sid, auth_token.expose(), &form)
            .await
        {
            Ok(sid) => self.placed(tenant, &call.id, &sid).await,
            Err(Failure::Refused(err)) => {
                let failed = calls::transition(
                    tenant,
                    call.id.clone(),
                    CallStatus::Failed,
                    Some("twilio_refused".into()),
                )
                .await;
                if let Err(failed) = failed {
                    tracing::error!(call_id = %call.id, code = %failed.code(), "could not mark a refused call failed");
                }
                Err(err)
            }
            Err(Failure::Unknown(err)) => {
                tracing::warn!(call_id = %call.id, "unknown whether Twilio placed a call; the reconciler will ask");
                Err(err)
            }
        }
    }

    /// Twilio placed `call_id` as `sid`: stored, and on the timeline.
    pub(super) async fn placed(
        &self,
        tenant: &Tenant,
        call_id: &str,
        sid: &str,
    ) -> Result<(), TelephonyError> {
        let (call_id, sid, now) = (call_id.to_string(), sid.to_string(), self.clock.now_ms());
        tenant
            .commit(move |tx| {
                repo::outbound::set_call_sid(tx, &call_id, &sid, now)?;
                let event = repo::calls::insert_event(
                    tx,
                    &call_id,
                    "twilio_call_created",
                    &json!({ "callSid": sid }),
                    now,
                )?;
                Ok::<_, TelephonyError>(Change {
                    value: (),
                    events: vec![TenantEvent::CallEvent(std::sync::Arc::new(event))],
                    deliveries: 0,
                })
            })
            .await
    }
}

/// How to dial with the agent (its active version), once `variables` are known to fill its texts.
pub fn outbound_dial(
    (agent, version): (AgentRow, VersionRow),
    variables: &Variables,
) -> Result<OutboundDial, TelephonyError> {
    if agent.archived_at.is_some() {
        return Err(calls::CallError::AgentArchived.into());
    }
    let active = ActiveAgent { agent, version };
    Ok(OutboundDial::new(&active, variables)?)
}
