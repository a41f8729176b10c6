//! GraphQL over HTTP, per the GraphQL-over-HTTP specification.
//!
//! - `POST /graphql` with `application/json`; `GET /graphql?query=...` for queries only (a mutation over
//!   GET is `405`). `GET` with a WebSocket upgrade is the subscription endpoint (see `ws.rs`); `GET` from a
//!   browser without a query serves GraphiQL.
//! - Responses use `application/graphql-response+json` when the client accepts it: a request that fails
//!   before execution (bad JSON, parse or validation error, unknown operation) is then `400` with no
//!   `data`. Legacy `application/json` clients get `200` for every well-formed request.
//! - A bad `Authorization` header is `401` whatever the operation.

mod media;
mod params;

pub use media::Media;

use std::time::Instant;

use async_graphql::ServerError;
use async_graphql::parser::types::OperationType;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::HttpState;
use super::middleware::RequestId;
use crate::auth::Principal;
use crate::error::{ApiError, ErrorCode};
use crate::graphql::codes::code_of;
use crate::graphql::context::{RequestMeta, SessionId};
use crate::graphql::session_cookie::CookieSession;
use crate::ratelimit::Limited;
use params::{GraphqlParams, parse_get_params, parse_post_body, prepare, require_json_body};

pub async fn post(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    request_id: Option<axum::Extension<RequestId>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let media = match Media::negotiate(&headers) {
        Ok(media) => media,
        Err(err) => return err.into_response(),
    };
    let result = async {
        require_json_body(&headers)?;
        let bytes = super::read_body(body, state.app.config.max_body_bytes).await?;
        Ok::<_, ApiError>(parse_post_body(&bytes)?)
    }
    .await;
    let meta = request_meta(&state, &headers, peer, request_id);
    match result {
        Ok(params) => execute(&state, &headers, media, Method::POST, params, meta).await,
        Err(err) => error_response(media, err),
    }
}

/// `GET /graphql`: a query in the query string, or GraphiQL for a browser.
pub async fn get(
    state: HttpState,
    peer: std::net::SocketAddr,
    request_id: Option<RequestId>,
    headers: HeaderMap,
    raw_query: Option<String>,
) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if raw_query.as_deref().is_none_or(str::is_empty)
        && wants_html
        && state.app.config.graphql.graphiql
    {
        // GraphiQL loads its scripts and styles from a CDN, so its policy restricts only framing.
        return (
            [
                (
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static("frame-ancestors 'none'"),
                ),
                (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
                (
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("no-referrer"),
                ),
            ],
            Html(
                async_graphql::http::GraphiQLSource::build()
                    .endpoint("/graphql")
                    .subscription_endpoint("/graphql")
                    .title("voxedge GraphQL")
                    .finish(),
            ),
        )
            .into_response();
    }
    let media = match Media::negotiate(&headers) {
        Ok(media) => media,
        Err(err) => return err.into_response(),
    };
    let meta = request_meta(&state, &headers, peer, request_id.map(axum::Extension));
    match parse_get_params(raw_query.as_deref().unwrap_or_default()) {
        Ok(params) => execute(&state, &headers, media, Method::GET, params, meta).await,
        Err(err) => error_response(media, err.into()),
    }
}

fn request_meta(
    state: &HttpState,
    headers: &HeaderMap,
    peer: std::net::SocketAddr,
    request_id: Option<axum::Extension<RequestId>>,
) -> RequestMeta {
    RequestMeta {
        request_id: request_id.map(|axum::Extension(id)| id.0),
        ip: Some(super::client_ip(&state.app, headers, peer)),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(256).collect()),
        public_origin: super::request_origin(headers),
        serving_region: super::routing::replayed_from(headers),
    }
}

/// Runs one GraphQL request and shapes the HTTP response.
async fn execute(
    state: &HttpState,
    headers: &HeaderMap,
    media: Media,
    method: Method,
    params: GraphqlParams,
    meta: RequestMeta,
) -> Response {
    let verified = match super::authenticate(&state.app, headers).await {
        Ok(verified) => verified,
        Err(err) => return error_response(media, err),
    };
    let principal = verified.as_ref().map(|v| &v.principal);
    let limited = match principal {
        Some(p) => {
            state
                .app
                .limits
                .check_tenant(p.tenant_id, Limited::Graphql)
                .await
        }
        None => state
            .app
            .limits
            .check_anonymous(meta.ip.as_deref().unwrap_or_default()),
    };
    if let Err(err) = limited {
        return error_response(media, err.into());
    }
    let request = match prepare(params, &method) {
        Ok(request) => request,
        Err(err) => return error_response(media, err.into()),
    };
    let (mut request, operation_type) = request;
    let tenant = verified.as_ref().map(|v| v.principal.tenant_id);
    if let Some(verified) = verified {
        request = request.data(crate::graphql::loaders::for_tenant(
            &state.app.tenants,
            &state.app.agents,
            verified.principal.tenant_id,
        ));
        if let Some(session) = verified.session_id {
            request = request.data(SessionId(session));
        }
        request = request.data::<Principal>(verified.principal);
    }
    request = request
        .data(meta)
        .data(CookieSession::from_headers(headers));
    let kind = match operation_type {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    };
    let span = operation_span(kind, request.operation_name.as_deref(), tenant);
    let started = Instant::now();
    let response = state.schema.execute(request).instrument(span.clone()).await;
    let request_error = response.errors.iter().any(is_request_error);
    let outcome = if response.errors.is_empty() {
        "ok"
    } else if request_error {
        "rejected"
    } else {
        "error"
    };
    span.set_attribute("voxedge.outcome", outcome);
    if let Some(code) = response.errors.first().and_then(code_of) {
        span.set_attribute("error.code", code.to_string());
        if outcome == "error" && code == ErrorCode::Internal.as_str() {
            span.set_status(opentelemetry::trace::Status::error("INTERNAL"));
        }
    }
    metrics::counter!("voxedge_graphql_operations_total", "type" => kind, "outcome" => outcome)
        .increment(1);
    metrics::histogram!("voxedge_graphql_operation_duration_seconds", "type" => kind)
        .record(started.elapsed().as_secs_f64());

    let mut body = serde_json::Map::new();
    if !request_error {
        body.insert(
            "data".into(),
            serde_json::to_value(&response.data).unwrap_or_default(),
        );
    }
    if !response.errors.is_empty() {
        body.insert(
            "errors".into(),
            serde_json::to_value(&response.errors).unwrap_or_default(),
        );
    }
    if !response.extensions.is_empty() {
        body.insert(
            "extensions".into(),
            serde_json::to_value(&response.extensions).unwrap_or_default(),
        );
    }
    // A resolver that refused for rate reasons (sign-in lock-out) makes the whole response a 429.
    let retry_after = response
        .errors
        .iter()
        .find(|e| code_of(e) == Some(ErrorCode::RateLimited.as_str()))
        .map(|e| {
            e.extensions
                .as_ref()
                .and_then(|x| x.get("retryAfter"))
                .and_then(|v| match v {
                    async_graphql::Value::Number(n) => n.as_u64(),
                    _ => None,
                })
                .unwrap_or(1)
        });
    let status = if request_error && media == Media::GraphqlResponseJson {
        StatusCode::BAD_REQUEST
    } else if retry_after.is_some() {
        StatusCode::TOO_MANY_REQUESTS
    } else {
        StatusCode::OK
    };
    let mut http_response = json_response(media, status, serde_json::Value::Object(body));
    // Headers resolvers set (the session cookie).
    for (name, value) in &response.http_headers {
        http_response
            .headers_mut()
            .append(name.clone(), value.clone());
    }
    let mut response = http_response;
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, secs.into());
    }
    response
}

/// The span of one GraphQL operation: its type and name (bounded, as the client chose it — never the document
/// or variables, which may hold personal data) and the tenant; the outcome is added once it ran.
fn operation_span(
    kind: &str,
    name: Option<&str>,
    tenant: Option<crate::db::TenantId>,
) -> tracing::Span {
    let name: Option<String> = name
        .filter(|n| !n.is_empty())
        .map(|n| n.chars().take(100).collect());
    let span = tracing::info_span!(
        "graphql",
        otel.name = %match &name {
            Some(name) => format!("{kind} {name}"),
            None => kind.to_string(),
        },
        trace_id = tracing::field::Empty,
    );
    span.set_attribute("graphql.operation.type", kind.to_string());
    if let Some(name) = name {
        span.set_attribute("graphql.operation.name", name);
    }
    if let Some(tenant) = tenant {
        span.set_attribute("voxedge.tenant_id", tenant.to_string());
    }
    crate::telemetry::trace::record_trace_id(&span);
    span
}

fn is_request_error(err: &ServerError) -> bool {
    code_of(err)
        .and_then(ErrorCode::from_code)
        .is_some_and(ErrorCode::is_request_error)
}

/// A request that failed before execution: the status follows the error, except that legacy JSON clients
/// get 200 for GraphQL-level request errors, as the specification asks.
fn error_response(media: Media, err: ApiError) -> Response {
    crate::error::count_sent(err.code.as_str());
    let legacy_ok = media == Media::Json
        && matches!(
            err.code,
            ErrorCode::GraphqlParseFailed
                | ErrorCode::GraphqlUnknownOperation
                | ErrorCode::GraphqlValidationFailed
        );
    let status = if legacy_ok {
        StatusCode::OK
    } else {
        err.code.status()
    };
    let mut response = json_response(media, status, json!({ "errors": [err.to_graphql_json()] }));
    let headers = response.headers_mut();
    if err.code == ErrorCode::MethodNotAllowed {
        headers.insert(header::ALLOW, HeaderValue::from_static("POST"));
    }
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"voxedge\""),
        );
    }
    if let Some(secs) = err.retry_after_secs {
        headers.insert(header::RETRY_AFTER, secs.into());
    }
    response
}

fn json_response(media: Media, status: StatusCode, body: serde_json::Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, media.content_type());
    response
}
