//! Settling placed calls whose outcome we may have missed, by asking Twilio.
//!
//! - A call whose request to Twilio never got an answer (a crash, a timeout) has no SID. Once the request is
//!   surely over ([`REQUEST_SETTLED`]), Twilio's calls between the same numbers since the request are read: one we
//!   do not know yet is ours (placed, so never placed again); none means Twilio never took the request, and the
//!   call fails `not_placed` — its campaign, if any, places it again.
//! - A call with a SID that no session here holds and that Twilio has not told us about for [`STALE`] (or since
//!   before this server started) is read back by SID and its status applied as a callback would.

use std::time::Duration;

use super::status::{TwilioReport, apply};
use super::{Telephony, TelephonyError};
use crate::calls;
use crate::error::Reportable as _;
use crate::live::registry::LiveCalls;
use crate::model::CallStatus;
use crate::repo;
use crate::repo::calls::CallRow;
use crate::repo::outbound::TwilioCallRow;
use crate::tenants::Tenant;

/// A request to Twilio is over by then, answered or not (the client times out after 10 s).
pub const REQUEST_SETTLED: Duration = Duration::from_secs(15);
/// Twilio calls back on every change; this long without news, we ask.
pub const STALE: Duration = Duration::from_secs(120);

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Telephony {
    /// Settles the tenant's placed calls that need it; `started_at` is when this server started (state older than
    /// that may belong to a session that died with the previous process). Returns how many placed calls have not
    /// ended.
    pub async fn reconcile(
        &self,
        tenant: &Tenant,
        live: &LiveCalls,
        started_at: i64,
    ) -> Result<usize, TelephonyError> {
        let unended = tenant
            .db
            .read(|conn| repo::outbound::unended_twilio_calls(conn, 500))
            .await?;
        let count = unended.len();
        for (twilio, call) in unended {
            if live.is_live(tenant.id, &call.id) {
                continue;
            }
            let now = self.clock.now_ms();
            let result = match &twilio.call_sid {
                None if now - twilio.requested_at >= ms(REQUEST_SETTLED) => {
                    self.find_lost(tenant, live, &twilio, &call).await
                }
                Some(sid)
                    if twilio.updated_at < started_at || now - twilio.updated_at >= ms(STALE) =>
                {
                    self.refresh(tenant, live, &call, sid).await
                }
                _ => Ok(()),
            };
            if let Err(e) = result {
                tracing::warn!(call_id = %call.id, code = %e.code(), error = %e, "cannot settle a placed call");
            }
        }
        Ok(count)
    }

    /// Reads a call back by SID and applies its status.
    async fn refresh(
        &self,
        tenant: &Tenant,
        live: &LiveCalls,
        call: &CallRow,
        sid: &str,
    ) -> Result<(), TelephonyError> {
        let (account_sid, token) = self.credentials(tenant).await?;
        let found = self
            .twilio
            .fetch_call(&account_sid, token.expose(), sid)
            .await?;
        let report = TwilioReport {
            call_sid: Some(found.sid),
            status: Some(found.status),
            answered_by: found.answered_by,
            details: serde_json::json!({ "reconciled": true }),
        };
        apply(tenant, live, &call.id, report, self.clock.now_ms()).await?;
        Ok(())
    }

    /// A request whose answer we never got: did Twilio place the call?
    async fn find_lost(
        &self,
        tenant: &Tenant,
        live: &LiveCalls,
        twilio: &TwilioCallRow,
        call: &CallRow,
    ) -> Result<(), TelephonyError> {
        let (Some(to), Some(from)) = (call.to_address.as_deref(), call.from_address.as_deref())
        else {
            return Ok(());
        };
        let (account_sid, token) = self.credentials(tenant).await?;
        let candidates = self
            .twilio
            .find_calls(&account_sid, token.expose(), to, from)
            .await?;
        // Twilio's times have whole seconds; allow for that and for clocks a little apart.
        let since = twilio.requested_at - 5_000;
        let mut ours = None;
        for candidate in candidates {
            if candidate.created_ms().is_none_or(|at| at < since) {
                continue;
            }
            let sid = candidate.sid.clone();
            let known = tenant
                .db
                .read(move |conn| repo::outbound::sid_known(conn, &sid))
                .await?;
            if !known {
                ours = Some(candidate);
                break;
            }
        }
        match ours {
            Some(found) => {
                tracing::info!(call_id = %call.id, "a call whose request was lost had been placed");
                self.placed(tenant, &call.id, &found.sid).await?;
                let report = TwilioReport {
                    call_sid: Some(found.sid),
                    status: Some(found.status),
                    answered_by: found.answered_by,
                    details: serde_json::json!({ "reconciled": true }),
                };
                apply(tenant, live, &call.id, report, self.clock.now_ms()).await?;
            }
            None => {
                tracing::info!(call_id = %call.id, "a call whose request was lost never reached Twilio");
                calls::transition(
                    tenant,
                    call.id.clone(),
                    CallStatus::Failed,
                    Some("not_placed".into()),
                )
                .await?;
            }
        }
        Ok(())
    }
}
