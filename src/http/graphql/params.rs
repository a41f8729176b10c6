//! The parameters of a GraphQL-over-HTTP request — from a JSON body or the query string — checked before
//! anything executes: the document parses, the operation is known, and its type suits the method.

use async_graphql::Variables;
use async_graphql::parser::types::{DocumentOperations, OperationType};
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, header};
use serde::Deserialize;

use crate::error::{ApiError, ErrorCode};

/// The GraphQL request parameters, from a JSON body or the query string.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphqlParams {
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

pub fn require_json_body(headers: &HeaderMap) -> Result<(), ApiError> {
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

pub fn parse_post_body(bytes: &Bytes) -> Result<GraphqlParams, ApiError> {
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

pub fn parse_get_params(raw: &str) -> Result<GraphqlParams, ApiError> {
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

/// Parses the document and picks the operation, so request errors are known before executing.
pub fn prepare(
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

#[cfg(test)]
mod tests {
    use super::*;

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
