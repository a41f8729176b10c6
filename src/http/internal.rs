//! `/internal/…`: what regions ask each other, and what `voxedge tenant move` and `voxedge restore --at` ask a
//! region. Every request is signed with the key derived from the master key ([`crate::edge::internal`]); routing
//! has already brought it to the region it names (the tenant's home, the region in the path, the primary).
//!
//! | route | where | what |
//! |---|---|---|
//! | `POST /internal/primary/tenants` | primary | create a tenant (CLI `tenant create --region`) |
//! | `POST /internal/primary/tenants/{id}/home` | primary | record a moved tenant's new home |
//! | `POST /internal/regions/{r}/tenants/{id}` | `r` | create a new tenant's file |
//! | `POST /internal/regions/{r}/tenants/{id}/pull`, `…/activate` | `r` | take a moving tenant from its replica |
//! | `POST /internal/tenants/{id}/audit` | home | append an audit entry (catalog changes made in the primary) |
//! | `POST /internal/tenants/{id}/verify-key` | home | check one of its API keys for the primary |
//! | `POST /internal/tenants/{id}/move` | home | move the tenant to another region |
//! | `POST /internal/tenants/{id}/restore` | home | restore the tenant to a point in time |

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::HttpState;
use crate::auth::{KeyToVerify, KeyVerdict};
use crate::db::TenantId;
use crate::db::ids::InvalidId;
use crate::edge::internal::{HEADER, verify};
use crate::edge::{AuditEntry, EdgeError, KeysToRevoke, moves, provision, restore};
use crate::error::{ApiError, ApiResult, ErrorCode, Reportable};
use crate::state::AppState;

/// Why an internal request was refused before it reached the domain.
#[derive(Debug, thiserror::Error)]
enum Refused {
    #[error("internal requests must be signed with the server's key")]
    Unsigned,
    #[error("body does not parse: {0}")]
    Body(#[from] serde_json::Error),
    /// An id that does not parse names no tenant.
    #[error("no such tenant")]
    NoTenant(#[from] InvalidId),
    #[error("this is region {here}, not {asked}")]
    WrongRegion { here: String, asked: String },
}

impl Reportable for Refused {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Unsigned => ErrorCode::InvalidSignature,
            Self::Body(_) => ErrorCode::BadRequest,
            Self::NoTenant(_) => ErrorCode::NotFound,
            Self::WrongRegion { .. } => ErrorCode::WrongRegion,
        }
    }
}

/// Checks the signature and reads the JSON body.
fn signed<T: DeserializeOwned>(
    app: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<T, Refused> {
    let header = headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let key = app.secrets.internal_request_key();
    if !verify(key, header, uri.path(), body, app.clock.now_secs()) {
        return Err(Refused::Unsigned);
    }
    Ok(serde_json::from_slice(body)?)
}

fn tenant(id: &str) -> Result<TenantId, Refused> {
    Ok(id.parse()?)
}

/// Refuses a region-addressed request that reached another region (only without routing: a single server).
fn here(app: &AppState, region: &str) -> Result<(), Refused> {
    let here = app.edge.settings().region();
    if region == here {
        Ok(())
    } else {
        Err(Refused::WrongRegion {
            here: here.to_owned(),
            asked: region.to_owned(),
        })
    }
}

fn ok<T: Serialize>(value: T) -> ApiResult<Json<Value>> {
    Ok(Json(serde_json::to_value(value).unwrap_or(Value::Null)))
}

#[derive(serde::Deserialize)]
pub struct CreateTenant {
    name: String,
    region: Option<String>,
}

pub async fn create_tenant(
    State(state): State<HttpState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let ask: CreateTenant = signed(&state.app, &uri, &headers, &body)?;
    let created = provision::provision(
        &state.app.edge,
        &ask.name,
        ask.region.as_deref(),
        "region",
        true,
    )
    .await?;
    ok(json!({ "tenant_id": created.record.id.to_string(), "api_key": created.owner_key }))
}

pub async fn set_home(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let ask: moves::SetHome = signed(&state.app, &uri, &headers, &body)?;
    moves::record_home(&state.app.edge, tenant(&id)?, &ask.region).await?;
    ok(json!({ "ok": true }))
}

pub async fn create_file(
    State(state): State<HttpState>,
    Path((region, id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let ask: provision::CreateFile = signed(&state.app, &uri, &headers, &body)?;
    here(&state.app, &region)?;
    ok(provision::create_file(&state.app.tenants, tenant(&id)?, ask).await?)
}

pub async fn pull(
    State(state): State<HttpState>,
    Path((region, id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let ask: moves::Pull = signed(&state.app, &uri, &headers, &body)?;
    here(&state.app, &region)?;
    ok(moves::pull(&state.app.edge, tenant(&id)?, ask).await?)
}

pub async fn activate(
    State(state): State<HttpState>,
    Path((region, id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let step: moves::MoveStep = signed(&state.app, &uri, &headers, &body)?;
    here(&state.app, &region)?;
    let id = tenant(&id)?;
    moves::activate(&state.app.edge, id, step).await?;
    // Deliveries the tenant had waiting go out from here now.
    state.app.webhooks.queued(id).await;
    ok(json!({ "ok": true }))
}

pub async fn audit(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let entry: AuditEntry = signed(&state.app, &uri, &headers, &body)?;
    let id = tenant(&id)?;
    if !state.app.tenants.is_here(id) {
        return Err(EdgeError::NotFound.into());
    }
    let db = state.app.tenants.get(id).await?;
    crate::audit::record(&db, entry.at, entry.event).await?;
    ok(json!({ "ok": true }))
}

pub async fn revoke_keys(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let ask: KeysToRevoke = signed(&state.app, &uri, &headers, &body)?;
    let id = tenant(&id)?;
    if !state.app.tenants.is_here(id) {
        return Err(EdgeError::NotFound.into());
    }
    let db = state.app.tenants.get(id).await?;
    let revoked =
        crate::auth::keys::revoke_created_by(&db, &state.app.auth, id, ask.creator, ask.at).await?;
    ok(revoked)
}

pub async fn verify_key(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let ask: KeyToVerify = signed(&state.app, &uri, &headers, &body)?;
    let verdict: KeyVerdict = state.app.auth.verify_key_here(&ask.key).await?;
    if !ask.key.contains(&tenant(&id)?.to_string()) {
        return Err(ApiError::new(ErrorCode::InvalidApiKey, "invalid API key"));
    }
    ok(verdict)
}

#[derive(serde::Deserialize)]
pub struct MoveTo {
    to: String,
}

pub async fn move_tenant(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let ask: MoveTo = signed(&state.app, &uri, &headers, &body)?;
    ok(moves::move_tenant(&state.app.edge, tenant(&id)?, &ask.to).await?)
}

pub async fn restore_tenant(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let ask: restore::RestoreAt = signed(&state.app, &uri, &headers, &body)?;
    let id = tenant(&id)?;
    let restored = restore::tenant_to(&state.app.edge, id, &ask.at).await?;
    // Nothing cached from before the restore may answer for the tenant now.
    state.app.agents.forget_tenant(id);
    state.app.auth.forget_tenant_keys(id);
    ok(restored)
}
