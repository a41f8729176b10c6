//! Telephony: tenants bring their own Twilio account and route its phone numbers to agents.
//!
//! - [`account`]: the tenant's Twilio account; the auth token is sealed at rest with
//!   [`Secrets`](crate::secrets::Secrets), bound to the tenant, and only its last four characters are shown.
//! - [`numbers`]: E.164 numbers → agents, one route per number per tenant.
//! - [`signature`]: `X-Twilio-Signature`, checked on every webhook with the tenant's auth token.
//! - [`inbound`]: answering an inbound call with TwiML ([`twiml`]): `<Connect><Stream>` to the live-call
//!   stream with a short-lived session token for the number's agent, or a message and a hang-up.
//! - [`outbound`]: placing a call from an agent through Twilio's REST API ([`api`]), with the same stream TwiML,
//!   status callbacks and answering-machine detection.
//! - [`status`]: Twilio's status and answering-machine callbacks, mapped onto the call's state machine.
//! - [`reconcile`]: settling placed calls whose outcome we missed (a lost callback, a restart) by asking Twilio.
//!
//! Twilio reaches a tenant at its own voice URL, `{public url}/v1/twilio/{tenant id}/voice`
//! ([`voice_url`]), so the number lookup happens in that tenant's database. The HTTP edge
//! (`http::twilio_voice`) verifies the signature before anything here runs. The stream itself
//! ([`stream_url`], `/v1/twilio/{tenant id}/stream`) is served by the live-call pipeline, which verifies the
//! token; the tenant in its path lets routing send it to the tenant's home region before the upgrade.

pub mod account;
pub mod api;
mod error;
pub mod inbound;
pub mod numbers;
pub mod outbound;
pub mod reconcile;
pub mod signature;
pub mod status;
pub mod twiml;
pub mod values;

pub use account::{AccountInput, delete_account, get_account, open_token, set_account};
pub use api::TwilioApi;
pub use error::TelephonyError;
pub use inbound::InboundCall;
pub use numbers::{NumberChange, NumberInput, add_number, remove_number, update_number};
pub use outbound::{OutboundCall, Telephony};

use crate::db::TenantId;

/// Where Twilio opened Media Streams before streams named their tenant (still served, in the tenant's region).
pub const STREAM_PATH: &str = "/v1/twilio/stream";

/// The voice webhook's path for a tenant.
pub fn voice_path(tenant: TenantId) -> String {
    format!("/v1/twilio/{tenant}/voice")
}

/// Where Twilio posts a tenant's call status and answering-machine callbacks (`?callId=` names the call).
pub fn status_path(tenant: TenantId) -> String {
    format!("/v1/twilio/{tenant}/status")
}

/// The URL to paste into the Twilio console ("A call comes in" → Webhook, HTTP POST), given the server's
/// public origin (`https://voxedge.fly.dev`).
pub fn voice_url(public_origin: &str, tenant: TenantId) -> String {
    format!("{public_origin}{}", voice_path(tenant))
}

/// The Media Stream URL of `tenant` for a public origin: `wss://` for `https://` origins, `ws://` for `http://`.
pub fn stream_url(public_origin: &str, tenant: TenantId) -> String {
    let host = public_origin
        .strip_prefix("https://")
        .map(|host| format!("wss://{host}"))
        .or_else(|| {
            public_origin
                .strip_prefix("http://")
                .map(|host| format!("ws://{host}"))
        })
        .unwrap_or_else(|| format!("wss://{public_origin}"));
    format!("{host}/v1/twilio/{tenant}/stream")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_public_origin() {
        let tenant = TenantId::generate();
        assert_eq!(
            voice_url("https://voxedge.fly.dev", tenant),
            format!("https://voxedge.fly.dev/v1/twilio/{tenant}/voice")
        );
        assert_eq!(
            stream_url("https://voxedge.fly.dev", tenant),
            format!("wss://voxedge.fly.dev/v1/twilio/{tenant}/stream")
        );
        assert_eq!(
            stream_url("http://127.0.0.1:8080", tenant),
            format!("ws://127.0.0.1:8080/v1/twilio/{tenant}/stream")
        );
    }
}
