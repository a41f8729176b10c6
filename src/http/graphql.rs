//! GraphQL over HTTP, per the GraphQL-over-HTTP specification.
//!
//! - `POST /graphql` with `application/json`; `GET /graphql?query=...` for queries only (a mutation over
//!   GET is `405`). `GET` with a WebSocket upgrade is the subscription endpoint (see `ws.rs`); `GET` from a
//!   browser without a query serves GraphiQL.
//! - Responses use `application/graphql-response+json` when the client accepts it: a request that fails
//!   before execution (bad JSON, parse or validation error, unknown operation) is then `400` with no
//!   `data`. Legacy `application/json` clients get `200` for every well-formed request.
//! - A bad `Authorization` header is `401` whatever the operation.

use std::time::Instant;

use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{ServerError, Variables};
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::HttpState;
use super::middleware::RequestId;
use crate::auth::Principal;
use crate::error::{ApiError, ErrorCode};
use crate::graphql::codes::code_of;
use crate::graphql::context::RequestMeta;
use crate::ratelimit::Limited;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// The response media type negotiated from `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    GraphqlResponseJson,
    Json,
}

impl Media {
    /// Picks the media type from an `Accept` header. No header, `*/*` and `application/*` get legacy JSON,
    /// which every client understands.
    pub fn negotiate(headers: &HeaderMap) -> Result<Self, ApiError> {
        let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
            return Ok(Media::Json);
        };
        let mut best: Option<(f32, Media)> = None;
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media_range = parts.next().unwrap_or_default().to_ascii_lowercase();
            let quality = parts
                .filter_map(|p| p.strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let media = match media_range.as_str() {
                GRAPHQL_RESPONSE_JSON => Media::GraphqlResponseJson,
                "application/json" | "application/*" | "*/*" => Media::Json,
                _ => continue,
            };
            // Prefer graphql-response+json on equal quality: it is the spec's recommended type.
            let better = match best {
                None => true,
                Some((q, m)) => {
                    quality > q
                        || (quality == q && media == Media::GraphqlResponseJson && m == Media::Json)
                }
            };
            if quality > 0.0 && better {
                best = Some((quality, media));
            }
        }
        best.map(|(_, m)| m).ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotAcceptable,
                format!("acceptable response types: {GRAPHQL_RESPONSE_JSON}, application/json"),
            )
        })
    }

    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Media::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
            Media::Json => "application/json; charset=utf-8",
        })
    }
}

/// The GraphQL request parameters, from a JSON body or the query string.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphqlParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<serde_json::Value>,
    extensions: Option<serde_json::Value>,
}

/// `GET` parameters arrive as strings; `variables` and `extensions` are JSON-encoded.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

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
        let bytes = axum::body::to_bytes(body, state.app.config.max_body_bytes)
            .await
            .map_err(|_| {
                ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    format!(
                        "request body exceeds {} bytes",
                        state.app.config.max_body_bytes
                    ),
                )
            })?;
        parse_post_body(&bytes)
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
        return Html(
            async_graphql::http::GraphiQLSource::build()
                .endpoint("/graphql")
                .subscription_endpoint("/graphql")
                .title("voxedge GraphQL")
                .finish(),
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
        Err(err) => error_response(media, err),
    }
}

fn require_json_body(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "POST /graphql needs `Content-Type: application/json`",
        ))
    }
}

fn parse_post_body(bytes: &Bytes) -> Result<GraphqlParams, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            ErrorCode::BadRequest,
            format!("request body is not valid JSON: {e}"),
        )
    })?;
    if value.is_array() {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "batched requests are not supported",
        ));
    }
    serde_json::from_value(value).map_err(|e| {
        ApiError::new(
            ErrorCode::BadRequest,
            format!("invalid GraphQL request parameters: {e}"),
        )
    })
}

fn parse_get_params(raw: &str) -> Result<GraphqlParams, ApiError> {
    let bad = |what: String| ApiError::new(ErrorCode::BadRequest, what);
    let params: GetParams =
        serde_urlencoded::from_str(raw).map_err(|e| bad(format!("invalid query string: {e}")))?;
    let decode =
        |name: &str, value: Option<String>| -> Result<Option<serde_json::Value>, ApiError> {
            value
                .map(|v| {
                    serde_json::from_str(&v)
                        .map_err(|e| bad(format!("`{name}` is not valid JSON: {e}")))
                })
                .transpose()
        };
    Ok(GraphqlParams {
        query: params.query,
        operation_name: params.operation_name,
        variables: decode("variables", params.variables)?,
        extensions: decode("extensions", params.extensions)?,
    })
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
    let principal = match super::authenticate(&state.app, headers).await {
        Ok(principal) => principal,
        Err(err) => return error_response(media, err),
    };
    let limited = match &principal {
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
        return error_response(media, err);
    }
    let request = match prepare(params, &method) {
        Ok(request) => request,
        Err(err) => return error_response(media, err),
    };
    let (mut request, operation_type) = request;
    if let Some(principal) = principal {
        request = request
            .data(crate::graphql::loaders::for_tenant(
                &state.app,
                principal.tenant_id,
            ))
            .data::<Principal>(principal);
    }
    request = request.data(meta);
    let started = Instant::now();
    let response = state.schema.execute(request).await;
    let kind = match operation_type {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    };
    let request_error = response.errors.iter().any(is_request_error);
    let outcome = if response.errors.is_empty() {
        "ok"
    } else if request_error {
        "rejected"
    } else {
        "error"
    };
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
    let mut response = json_response(media, status, serde_json::Value::Object(body));
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, secs.into());
    }
    response
}

/// Parses the document and picks the operation, so request errors are known before executing.
fn prepare(
    params: GraphqlParams,
    method: &Method,
) -> Result<(async_graphql::Request, OperationType), ApiError> {
    let query = params
        .query
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| ApiError::new(ErrorCode::BadRequest, "missing `query`"))?;
    let variables = match params.variables {
        None | Some(serde_json::Value::Null) => Variables::default(),
        Some(value @ serde_json::Value::Object(_)) => Variables::from_json(value),
        Some(_) => {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                "`variables` must be an object",
            ));
        }
    };
    if params
        .extensions
        .as_ref()
        .is_some_and(|e| !e.is_object() && !e.is_null())
    {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "`extensions` must be an object",
        ));
    }
    let mut request = async_graphql::Request::new(query).variables(variables);
    if let Some(name) = &params.operation_name {
        request = request.operation_name(name.clone());
    }
    let document = request
        .parsed_query()
        .map_err(|err| ApiError::new(ErrorCode::GraphqlParseFailed, err.message))?;
    let operation_type = match (&document.operations, params.operation_name.as_deref()) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| op.node.ty),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| op.node.ty)
        }
        (DocumentOperations::Multiple(_), None) => {
            return Err(ApiError::new(
                ErrorCode::GraphqlUnknownOperation,
                "the document has several operations: give `operationName`",
            ));
        }
    }
    .ok_or_else(|| {
        ApiError::new(
            ErrorCode::GraphqlUnknownOperation,
            "no operation with that `operationName`",
        )
    })?;
    match (operation_type, method) {
        (OperationType::Mutation, &Method::GET) => Err(ApiError::new(
            ErrorCode::MethodNotAllowed,
            "mutations must use POST",
        )),
        (OperationType::Subscription, _) => Err(ApiError::new(
            ErrorCode::BadRequest,
            "subscriptions run over WebSocket (graphql-transport-ws) at this same path",
        )),
        _ => Ok((request, operation_type)),
    }
}

fn is_request_error(err: &ServerError) -> bool {
    code_of(err)
        .and_then(ErrorCode::from_code)
        .is_some_and(ErrorCode::is_request_error)
}

/// A request that failed before execution: the status follows the error, except that legacy JSON clients
/// get 200 for GraphQL-level request errors, as the specification asks.
fn error_response(media: Media, err: ApiError) -> Response {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn negotiates_media_types() {
        assert_eq!(Media::negotiate(&HeaderMap::new()).unwrap(), Media::Json);
        assert_eq!(Media::negotiate(&accept("*/*")).unwrap(), Media::Json);
        assert_eq!(
            Media::negotiate(&accept(
                "application/graphql-response+json, application/json;q=0.9"
            ))
            .unwrap(),
            Media::GraphqlResponseJson
        );
        assert_eq!(
            Media::negotiate(&accept(
                "application/graphql-response+json;q=0.5, application/json"
            ))
            .unwrap(),
            Media::Json
        );
        assert_eq!(
            Media::negotiate(&accept("text/html")).unwrap_err().code,
            ErrorCode::NotAcceptable
        );
        assert_eq!(
            Media::negotiate(&accept("application/json;q=0"))
                .unwrap_err()
                .code,
            ErrorCode::NotAcceptable
        );
    }

    #[test]
    fn mutations_over_get_are_refused() {
        let params = GraphqlParams {
            query: Some("mutation { x }".into()),
            operation_name: None,
            variables: None,
            extensions: None,
        };
        assert_eq!(
            prepare(params, &Method::GET).unwrap_err().code,
            ErrorCode::MethodNotAllowed
        );
    }
}
