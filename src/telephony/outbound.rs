//! Outbound calls through the tenant's Twilio account.
//!
//! A call record is created first (outbound, phone, queued), so the call exists whatever Twilio says; then
//! Twilio's REST API is asked to dial — `POST {api}/2010-04-01/Accounts/{sid}/Calls.json`, HTTP basic
//! auth `sid:token`, form fields `To`, `From` and `Twiml`. The inline TwiML connects the answered call to
//! the live-call stream like an inbound one, with custom parameters `token` (a session token for the
//! agent), `from`, `to` and `callId` — the voxedge call record, which the stream continues instead of
//! creating a new one (Twilio's own `callSid` arrives in the stream's `start` message). Twilio's call SID
//! is recorded on the call's timeline (`twilio_call_created`); a refusal marks the call failed.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use super::values::E164;
use super::{TelephonyError, get_account, inbound, open_token, stream_url, twiml};
use crate::auth::TokenSigner;
use crate::billing::Admission;
use crate::calls::{self, NewCall};
use crate::error::{InvalidInput, Reportable as _};
use crate::model::{CallStatus, Direction, Transport};
use crate::redact::Secret;
use crate::repo::calls::CallRow;
use crate::secrets::Secrets;
use crate::tenants::Tenant;

/// How long an outbound call's stream token lives: it must outlast the ringing (Twilio gives up after
/// 60 s by default) before the stream starts.
pub const OUTBOUND_STREAM_TOKEN_TTL: Duration = Duration::from_secs(300);

/// Twilio's REST API. Cheap to clone.
#[derive(Clone)]
pub struct TwilioApi {
    http: reqwest::Client,
    base: String,
}

/// The parts of Twilio's error body we pass on.
#[derive(Debug, Deserialize)]
struct TwilioError {
    code: Option<i64>,
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CreatedCall {
    sid: String,
}

impl TwilioApi {
    /// A client for the API at `base` (`https://api.twilio.com`).
    pub fn new(base: impl Into<String>, timeout: Duration) -> Self {
        crate::brain::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("voxedge/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("invariant: a client with these options always builds");
        Self {
            http,
            base: base.into(),
        }
    }

    /// Asks Twilio to dial `to` from `from` and run `twiml` when answered. Returns Twilio's call SID.
    pub async fn create_call(
        &self,
        account_sid: &str,
        auth_token: &str,
        to: &str,
        from: &str,
        twiml: &str,
    ) -> Result<String, TelephonyError> {
        let form = [("To", to), ("From", from), ("Twiml", twiml)];
        let text = self
            .post(account_sid, auth_token, "Calls.json", &form, "call")
            .await?;
        serde_json::from_str::<CreatedCall>(&text)
            .map(|call| call.sid)
            .map_err(|err| {
                TelephonyError::Internal(format!("Twilio's call answer does not parse: {err}"))
            })
    }

    /// Replaces what a call in progress runs with `twiml` (e.g. `<Dial>` to transfer it).
    pub async fn update_call(
        &self,
        account_sid: &str,
        auth_token: &str,
        call_sid: &str,
        twiml: &str,
    ) -> Result<(), TelephonyError> {
        if !call_sid.starts_with("CA") || !call_sid.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(TelephonyError::Provider(format!(
                "not a Twilio call SID: {call_sid}"
            )));
        }
        let path = format!("Calls/{call_sid}.json");
        self.post(
            account_sid,
            auth_token,
            &path,
            &[("Twiml", twiml)],
            "call update",
        )
        .await
        .map(drop)
    }

    /// POSTs a form to `/2010-04-01/Accounts/{account}/{path}`; returns the body of a success.
    async fn post(
        &self,
        account_sid: &str,
        auth_token: &str,
        path: &str,
        form: &[(&str, &str)],
        what: &str,
    ) -> Result<String, TelephonyError> {
        let url = format!("{}/2010-04-01/Accounts/{account_sid}/{path}", self.base);
        let body = serde_urlencoded::to_string(form)
            .map_err(|err| TelephonyError::Internal(err.to_string()))?;
        let response = self
            .http
            .post(&url)
            .basic_auth(account_sid, Some(auth_token))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .map_err(|err| {
                tracing::warn!(error = %err, "Twilio API unreachable");
                TelephonyError::Provider("Twilio could not be reached; try again".into())
            })?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if status.is_success() {
            return Ok(text);
        }
        let detail: Option<TwilioError> = serde_json::from_str(&text).ok();
        let (code, message) = detail.map_or((None, None), |d| (d.code, d.message));
        tracing::warn!(status = status.as_u16(), twilio_code = ?code, "Twilio refused a {what}");
        Err(TelephonyError::Provider(format!(
            "Twilio refused the {what} ({}{}): {}",
            status.as_u16(),
            code.map(|c| format!(", error {c}")).unwrap_or_default(),
            message.unwrap_or_else(|| "no reason given".into())
        )))
    }
}

/// Calls through tenants' Twilio accounts: what placing and transferring calls need. Cheap to clone.
#[derive(Clone)]
pub struct Telephony {
    twilio: TwilioApi,
    secrets: Secrets,
    signer: TokenSigner,
}

/// A call to place.
#[derive(Debug, Clone)]
pub struct OutboundCall {
    pub agent_id: String,
    pub to: String,
    pub from: String,
}

impl Telephony {
    pub fn new(twilio: TwilioApi, secrets: Secrets, signer: TokenSigner) -> Self {
        Self {
            twilio,
            secrets,
            signer,
        }
    }

    /// The tenant's Twilio account SID and auth token in clear.
    async fn credentials(
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
        let number = E164::parse(number, "to").map_err(|e| InvalidInput(vec![e]))?;
        let (account_sid, auth_token) = self.credentials(tenant).await?;
        let twiml = twiml::dial(number.as_str());
        self.twilio
            .update_call(&account_sid, auth_token.expose(), call_sid, &twiml)
            .await
    }

    /// Places a call from the agent through the tenant's Twilio account. `origin` is the server's public
    /// origin, where Twilio opens the stream. The call record is created only if `limits` admit one more
    /// call (checked in the transaction that creates it); it holds a concurrent-call slot from then on.
    pub async fn place_call(
        &self,
        tenant: &Tenant,
        origin: Option<String>,
        call: OutboundCall,
        limits: Admission,
    ) -> Result<CallRow, TelephonyError> {
        let (to, from) = match (E164::parse(&call.to, "to"), E164::parse(&call.from, "from")) {
            (Ok(to), Ok(from)) => (to, from),
            (to, from) => {
                let errors = [to.err(), from.err()].into_iter().flatten().collect();
                return Err(InvalidInput(errors).into());
            }
        };
        let (account_sid, auth_token) = self.credentials(tenant).await?;
        let origin = origin.ok_or(TelephonyError::NotConfigured(
            "the server does not know its public URL; set --public-url",
        ))?;
        let row = calls::create_admitted(
            tenant,
            NewCall {
                agent_id: call.agent_id,
                direction: Direction::Outbound,
                transport: Transport::Phone,
                from: Some(from.as_str().to_string()),
                to: Some(to.as_str().to_string()),
                metadata: json!({ "provider": "twilio" }),
            },
            limits,
        )
        .await
        .inspect_err(|e| {
            if let calls::CallError::Refused(refusal) = e {
                metrics::counter!("voxedge_call_admissions_refused_total", "reason" => refusal.refusal_reason())
                    .increment(1);
            }
        })?;
        let (token, _) = self.signer.issue_session(
            tenant.id,
            &row.agent_id,
            inbound::TOKEN_ISSUER,
            OUTBOUND_STREAM_TOKEN_TTL,
        )?;
        let twiml = twiml::connect_stream(
            &stream_url(&origin),
            &[
                ("token", token.as_str()),
                ("from", from.as_str()),
                ("to", to.as_str()),
                ("callId", row.id.as_str()),
            ],
        );
        let created = self
            .twilio
            .create_call(
                &account_sid,
                auth_token.expose(),
                to.as_str(),
                from.as_str(),
                &twiml,
            )
            .await;
        match created {
            Ok(twilio_sid) => {
                calls::record_event(
                    tenant,
                    row.id.clone(),
                    "twilio_call_created",
                    json!({ "callSid": twilio_sid }),
                )
                .await?;
                Ok(row)
            }
            Err(err) => {
                let failed = calls::transition(
                    tenant,
                    row.id.clone(),
                    CallStatus::Failed,
                    Some("twilio_refused".into()),
                )
                .await;
                if let Err(failed) = failed {
                    tracing::error!(call_id = %row.id, code = %failed.code(), "could not mark a refused call failed");
                }
                Err(err)
            }
        }
    }
}
