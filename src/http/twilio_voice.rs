//! `POST /v1/twilio/{tenant_id}/voice`: Twilio's voice webhook ("A call comes in") for a tenant's numbers.
//!
//! Twilio posts `application/x-www-form-urlencoded` parameters (`CallSid`, `From`, `To`, ...) and signs
//! them with the tenant's auth token in `X-Twilio-Signature` over the exact URL it called — this
//! server's public origin (`--public-url`, else `Host` + `X-Forwarded-Proto`) plus the request's path
//! and query. Checks, in order:
//!
//! 1. form body (`415`/`400`), a signature header present;
//! 2. the tenant exists — if not, the same `403 INVALID_SIGNATURE` as a bad signature, so the endpoint
//!    does not reveal which tenant ids exist;
//! 3. the tenant has a Twilio account (`404 TELEPHONY_NOT_CONFIGURED`);
//! 4. the signature, in constant time (`403 INVALID_SIGNATURE`);
//! 5. the tenant's request budget (`429 RATE_LIMITED`, so Twilio falls back to the number's fallback URL).
//!
//! A suspended tenant, or one at its plan's concurrent-call limit or past its monthly minutes, gets a short
//! `<Say>` and a hang-up. Then the call is answered with TwiML (see [`crate::telephony::inbound`]).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Response};

use super::HttpState;
use crate::billing::BillingError;
use crate::db::TenantId;
use crate::error::{ApiError, ErrorCode, Reportable};
use crate::ratelimit::Limited;
use crate::repo;
use crate::telephony::{self, InboundCall, TelephonyError, inbound, signature, twiml};

const SIGNATURE_HEADER: &str = "x-twilio-signature";

pub async fn voice(
    State(state): State<HttpState>,
    Path(tenant_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match answer(&state, &tenant_id, &uri, &headers, body).await {
        Ok(xml) => ([(header::CONTENT_TYPE, twiml::CONTENT_TYPE)], xml).into_response(),
        Err(err) => err.into_response(),
    }
}

/// The one refusal for a bad signature and for a tenant that does not exist.
fn denied() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidSignature,
        "missing or invalid X-Twilio-Signature",
    )
}

/// A Twilio webhook whose signature checked out.
pub(super) struct Verified {
    pub tenant: TenantId,
    /// The tenant's catalog status (`active`, `suspended`, ...).
    pub status: String,
    pub db: crate::db::Database,
    pub params: Vec<(String, String)>,
    /// The public origin the signature was checked against.
    pub origin: String,
}

/// Steps 1–4 above, shared by every Twilio webhook.
pub(super) async fn verify(
    state: &HttpState,
    tenant_id: &str,
    uri: &Uri,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Verified, ApiError> {
    let app = &state.app;
    let params = form_params(headers, body, app.config.max_body_bytes)?;
    let provided = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(denied)?;
    let tenant: TenantId = tenant_id.parse().map_err(|_| denied())?;
    let record = app
        .catalog
        .read(move |conn| repo::tenants::get(conn, tenant))
        .await?
        .ok_or_else(denied)?;
    let db = match app.tenants.get(tenant).await {
        Err(err) if err.code() == ErrorCode::NotFound => return Err(denied()),
        other => other?,
    };
    let account = telephony::get_account(&db)
        .await?
        .ok_or(TelephonyError::NotConfigured(
            "this tenant has no Twilio account configured",
        ))?;
    let auth_token = telephony::open_token(&app.secrets, tenant, &account)?;
    let origin = super::public_origin(app, headers).ok_or_else(denied)?;
    let path = uri
        .path_and_query()
        .map_or_else(|| uri.path(), |pq| pq.as_str());
    let url = format!("{origin}{path}");
    if !signature::verify(auth_token.expose(), &url, &params, provided) {
        // The URL is what the signature was checked against: when it is not the one Twilio called
        // (a proxy rewrote Host or the scheme), `--public-url` fixes it.
        tracing::warn!(tenant_id = %tenant, url = %url, "Twilio webhook with a bad signature");
        return Err(denied());
    }
    Ok(Verified {
        tenant,
        status: record.status,
        db,
        params,
        origin,
    })
}

async fn answer(
    state: &HttpState,
    tenant_id: &str,
    uri: &Uri,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<String, ApiError> {
    let app = &state.app;
    let Verified {
        tenant,
        status,
        db,
        params,
        origin,
    } = verify(state, tenant_id, uri, headers, body).await?;
    // The same standing and limits as every other call start; the stream's admission checks them again,
    // atomically, when it creates the call — this answers the caller in words instead of a dropped line.
    let limits = app.billing.admission(tenant).await?;
    let admitted = match limits.check_status() {
        Ok(()) => db.read(move |conn| limits.check(conn)).await,
        Err(refusal) => Err(refusal),
    };
    if let Err(refusal) = admitted {
        if !refusal.is_refusal() {
            return Err(refusal.into());
        }
        tracing::info!(tenant_id = %tenant, status = %status, code = %refusal.code(), "inbound call refused by the tenant's plan or standing");
        metrics::counter!("voxedge_call_admissions_refused_total", "reason" => refusal.refusal_reason())
            .increment(1);
        let message = match refusal {
            BillingError::ConcurrentCallLimit { .. } => inbound::ALL_LINES_BUSY,
            _ => inbound::SERVICE_UNAVAILABLE,
        };
        return Ok(twiml::say_and_hang_up(message));
    }
    app.limits.check_tenant(tenant, Limited::Graphql).await?;
    let call = InboundCall::from_params(&params);
    Ok(inbound::answer(
        &db,
        app.auth.signer(),
        tenant,
        &telephony::stream_url(&origin, tenant),
        &call,
    )
    .await?)
}

/// Why a webhook's form body was refused.
#[derive(Debug, thiserror::Error)]
enum FormError {
    #[error("Twilio webhooks are `application/x-www-form-urlencoded`")]
    NotForm,
    #[error("request body exceeds {0} bytes")]
    TooLarge(usize),
    #[error("the request body could not be read")]
    Unreadable,
    /// The parser's detail is not worth telling Twilio.
    #[error("the form body does not parse")]
    Unparsable(#[from] serde_urlencoded::de::Error),
}

impl Reportable for FormError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::NotForm => ErrorCode::UnsupportedMediaType,
            Self::TooLarge(_) => ErrorCode::PayloadTooLarge,
            Self::Unreadable | Self::Unparsable(_) => ErrorCode::BadRequest,
        }
    }
}

/// The form body's parameters, in the order sent.
fn form_params(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    max_body_bytes: usize,
) -> Result<Vec<(String, String)>, FormError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(FormError::NotForm);
    }
    let body = body.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            FormError::TooLarge(max_body_bytes)
        } else {
            FormError::Unreadable
        }
    })?;
    Ok(serde_urlencoded::from_bytes(&body)?)
}
