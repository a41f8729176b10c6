//! Answering an inbound call, once its webhook's signature has been checked: the number called picks the
//! agent, and the call is connected to the live-call stream with a short-lived session token for it.

use std::time::Duration;

use super::TelephonyError;
use super::twiml;
use super::values::E164;
use crate::auth::TokenSigner;
use crate::db::{Database, StorageError, TenantId};
use crate::redact;
use crate::repo;

/// How long the stream's session token lives: it is only checked when the stream starts, seconds after
/// the webhook answers.
pub const STREAM_TOKEN_TTL: Duration = Duration::from_secs(120);
/// `issued_by` of the session tokens the voice webhook mints.
pub const TOKEN_ISSUER: &str = "twilio";

/// Said when the number called is not routed to any agent.
pub const NOT_ROUTED: &str = "Sorry, this number is not connected to an agent. Goodbye.";
/// Said when the number's agent is archived.
pub const AGENT_UNAVAILABLE: &str = "Sorry, this agent is not available right now. Goodbye.";
/// Said when the tenant is at its plan's concurrent-call limit.
pub const ALL_LINES_BUSY: &str =
    "Sorry, all lines are busy right now. Please call again later. Goodbye.";
/// Said when the tenant is suspended or has used its plan's minutes for the month.
pub const SERVICE_UNAVAILABLE: &str = "Sorry, this service is not available right now. Goodbye.";

/// The webhook parameters an inbound call is answered from.
#[derive(Debug, Clone, Default)]
pub struct InboundCall {
    /// `CallSid`.
    pub call_sid: String,
    /// `From`: the caller (E.164 for phones; may be a SIP URI or `anonymous`).
    pub from: String,
    /// `To`: the tenant's number that was called.
    pub to: String,
}

impl InboundCall {
    /// Picks the parameters out of the webhook's form body.
    pub fn from_params(params: &[(String, String)]) -> Self {
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        Self {
            call_sid: get("CallSid"),
            from: get("From"),
            to: get("To"),
        }
    }
}

/// The TwiML answering `call`: a `<Connect><Stream>` to `stream_url` for the number's agent, or a short
/// message and a hang-up when the number is not routed or its agent is archived.
pub async fn answer(
    db: &Database,
    signer: &TokenSigner,
    tenant: TenantId,
    stream_url: &str,
    call: &InboundCall,
) -> Result<String, TelephonyError> {
    let Ok(to) = E164::parse(&call.to, "To") else {
        tracing::info!(call_sid = %call.call_sid, "inbound call to a number that is not E.164");
        return Ok(twiml::say_and_hang_up(NOT_ROUTED));
    };
    let number = to.as_str().to_string();
    let route = db
        .read(move |conn| {
            let Some(row) = repo::telephony::find_number(conn, &number)? else {
                return Ok(None);
            };
            let agent = repo::agents::get_agent(conn, &row.agent_id)?;
            Ok::<_, StorageError>(Some((row, agent)))
        })
        .await?;
    let to_redacted = redact::phone(to.as_str());
    let agent = match route {
        None => {
            tracing::info!(call_sid = %call.call_sid, to = %to_redacted, "inbound call to an unrouted number");
            return Ok(twiml::say_and_hang_up(NOT_ROUTED));
        }
        Some((_, Some(agent))) if agent.archived_at.is_none() => agent,
        Some((number, _)) => {
            tracing::info!(call_sid = %call.call_sid, to = %to_redacted, agent_id = %number.agent_id, "inbound call to an archived agent");
            return Ok(twiml::say_and_hang_up(AGENT_UNAVAILABLE));
        }
    };
    let (token, _) = signer.issue_session(tenant, &agent.id, TOKEN_ISSUER, STREAM_TOKEN_TTL)?;
    tracing::info!(
        call_sid = %call.call_sid,
        to = %to_redacted,
        from = %redact::phone(&call.from),
        agent_id = %agent.id,
        "inbound call connected to its agent's stream"
    );
    Ok(twiml::connect_stream(
        stream_url,
        &[
            ("token", token.as_str()),
            ("from", call.from.as_str()),
            ("to", to.as_str()),
            ("callSid", call.call_sid.as_str()),
        ],
    ))
}
