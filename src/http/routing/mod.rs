//! Routing by region, before any work: one middleware decides whether a request is served here or answered
//! `409 WRONG_REGION` with `fly-replay: region=<r>`, which Fly's proxy turns into the same request delivered
//! in region `r` (WebSocket upgrades included, since nothing has been upgraded yet).
//!
//! What a request belongs to, cheapest first (see [`classify`]):
//!
//! | request | belongs to |
//! |---|---|
//! | `/internal/regions/{r}/…`, `/internal/primary/…`, `/internal/tenants/{id}/…` | region `r`, the primary, the tenant |
//! | `/v1/twilio/{id}/voice`, `/v1/twilio/{id}/stream` | the tenant in the path |
//! | `POST /graphql` running a catalog mutation ([`crate::graphql::CATALOG_MUTATIONS`]) | the primary |
//! | `/graphql`, `/export/calls.csv`, `/v1/realtime`, `/v1/twilio/stream` | the tenant its credential names |
//! | anything else (health, metrics, the portal) | any region |
//!
//! Credentials name their tenant: API keys `vxk_<tenant>_…`, access tokens and live-call session tokens the `tid`
//! claim (their signatures are checked, which costs no I/O). A WebSocket that authenticates after the upgrade
//! (GraphQL subscriptions) names its tenant in `?tenant=`. Then [`Edge::locate`] says where the tenant lives,
//! with at most one catalog read, and none for the tenants of this machine. A tenant this region's catalog
//! replica does not know yet (made moments ago) is replayed to the primary, which does.
//!
//! Single-region servers (no `--primary-region`) skip all of this.

mod graphql;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::HttpState;
use crate::auth::ApiKeyToken;
use crate::auth::tokens::SESSION_TOKEN_PREFIX;
use crate::db::TenantId;
use crate::edge::{Edge, Home};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// Replays a request may go through before we refuse to send it on (a loop means regions disagree).
const MAX_HOPS: u32 = 3;
/// Marks our replays in `fly-replay`'s `state`, which Fly hands back in `fly-replay-src`.
const HOPS_STATE: &str = "voxedge-hops-";

/// What a request belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Anywhere,
    Primary,
    Region(String),
    Tenant(TenantId),
}

pub async fn route(State(state): State<HttpState>, request: Request, next: Next) -> Response {
    let app = &state.app;
    if !app.edge.settings().multi_region() {
        return next.run(request).await;
    }
    let (target, request) = match classify(app, request).await {
        Ok(classified) => classified,
        Err(refused) => return refused.into_response(),
    };
    let (region, reason) = match destination(&app.edge, &target).await {
        Ok(Some(found)) => found,
        Ok(None) => return next.run(request).await,
        Err(err) => return err.into_response(),
    };
    let hops = hops(request.headers());
    if hops >= MAX_HOPS {
        tracing::warn!(
            ?target,
            region,
            hops,
            "routing loop: regions disagree about where this belongs"
        );
        return ApiError::new(
            ErrorCode::RegionUnavailable,
            "the regions disagree about where this request belongs; retry in a moment",
        )
        .with_retry_after(2)
        .into_response();
    }
    metrics::counter!("voxedge_region_replays_total", "reason" => reason).increment(1);
    let mut response = ApiError::new(
        ErrorCode::WrongRegion,
        format!("this request is served in region {region}"),
    )
    .into_response();
    let replay = format!("region={region};state={HOPS_STATE}{}", hops + 1);
    if let Ok(value) = HeaderValue::from_str(&replay) {
        response.headers_mut().insert("fly-replay", value);
    }
    response
}

/// Where a request of `target` must go, and why; `None` to serve it here.
async fn destination(
    edge: &Edge,
    target: &Target,
) -> Result<Option<(String, &'static str)>, ApiError> {
    let settings = edge.settings();
    let elsewhere =
        |region: &str, reason| (region != settings.region()).then(|| (region.to_string(), reason));
    Ok(match target {
        Target::Anywhere => None,
        Target::Primary => elsewhere(settings.primary(), "catalog"),
        Target::Region(region) => elsewhere(region, "internal"),
        Target::Tenant(id) => match edge.locate(*id).await? {
            Home::Here => None,
            Home::Elsewhere(region) => elsewhere(&region, "tenant"),
            // Made moments ago, or unknown anywhere: the primary knows which.
            Home::Unknown => elsewhere(settings.primary(), "unknown_tenant"),
        },
    })
}

/// Says what `request` belongs to; reads the body of a GraphQL POST (and puts it back).
pub async fn classify(app: &AppState, request: Request) -> Result<(Target, Request), ApiError> {
    let path = request.uri().path();
    if let Some(rest) = path.strip_prefix("/internal/") {
        let mut parts = rest.split('/');
        let target = match (parts.next(), parts.next()) {
            (Some("regions"), Some(region)) => Target::Region(region.to_string()),
            (Some("primary"), _) => Target::Primary,
            (Some("tenants"), Some(id)) => id.parse().map_or(Target::Anywhere, Target::Tenant),
            _ => Target::Anywhere,
        };
        return Ok((target, request));
    }
    if let Some(rest) = path.strip_prefix("/v1/twilio/")
        && let Some((id, _)) = rest.split_once('/')
        && let Ok(id) = id.parse()
    {
        return Ok((Target::Tenant(id), request));
    }
    if !matches!(
        path,
        "/graphql" | "/export/calls.csv" | "/v1/realtime" | "/v1/twilio/stream"
    ) {
        return Ok((Target::Anywhere, request));
    }
    let request = if path == "/graphql" && request.method() == Method::POST {
        let (parts, body) = request.into_parts();
        let max = app.config.max_body_bytes;
        let bytes = super::read_body(body, max).await?;
        if graphql::writes_catalog(&bytes) {
            return Ok((
                Target::Primary,
                Request::from_parts(parts, Body::from(bytes)),
            ));
        }
        Request::from_parts(parts, Body::from(bytes))
    } else {
        request
    };
    let target = credential_tenant(app, request.headers(), request.uri().query())
        .map_or(Target::Anywhere, Target::Tenant);
    Ok((target, request))
}

/// The tenant a request's credential names, if it carries one we can read: `Authorization`, the Realtime
/// subprotocol credential, or a `tenant` query parameter (GraphQL WebSockets, whose credentials come later).
fn credential_tenant(app: &AppState, headers: &HeaderMap, query: Option<&str>) -> Option<TenantId> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, credential)| credential.trim());
    let subprotocol = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| p.trim().strip_prefix("openai-insecure-api-key."));
    if let Some(tenant) = bearer.or(subprotocol).and_then(|c| tenant_of(app, c)) {
        return Some(tenant);
    }
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("tenant="))
        .and_then(|id| id.parse().ok())
}

/// The tenant a credential names: an API key's tenant part, a token's signed `tid` claim.
fn tenant_of(app: &AppState, credential: &str) -> Option<TenantId> {
    let signer = app.auth.signer();
    if credential.starts_with("vxk_") {
        ApiKeyToken::parse(credential).ok().map(|t| t.tenant_id)
    } else if credential.starts_with(SESSION_TOKEN_PREFIX) {
        signer.verify_session(credential).ok().map(|g| g.tenant_id)
    } else {
        signer.verify_access(credential).ok().map(|g| g.tenant_id)
    }
}

/// How many times our replays have sent this request on (`fly-replay-src: …;state=voxedge-hops-N`).
fn hops(headers: &HeaderMap) -> u32 {
    replay_source(headers, "state")
        .and_then(|state| state.strip_prefix(HOPS_STATE)?.parse().ok())
        .unwrap_or(0)
}

/// The region that replayed this request here (`fly-replay-src: …;region=fra;…`), if one did.
pub fn replayed_from(headers: &HeaderMap) -> Option<String> {
    replay_source(headers, "region").filter(|r| crate::edge::settings::is_region_code(r))
}

fn replay_source(headers: &HeaderMap, field: &str) -> Option<String> {
    headers
        .get("fly-replay-src")?
        .to_str()
        .ok()?
        .split(';')
        .filter_map(|part| part.trim().split_once('='))
        .find(|(key, _)| *key == field)
        .map(|(_, value)| value.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_sources_are_read_field_by_field() {
        let mut headers = HeaderMap::new();
        assert_eq!(hops(&headers), 0);
        headers.insert(
            "fly-replay-src",
            HeaderValue::from_static("instance=abc;region=fra;t=123;state=voxedge-hops-2"),
        );
        assert_eq!(hops(&headers), 2);
        assert_eq!(replayed_from(&headers).as_deref(), Some("fra"));
        headers.insert("fly-replay-src", HeaderValue::from_static("region=../x"));
        assert_eq!(replayed_from(&headers), None);
    }
}
