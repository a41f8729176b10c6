//! The parameters of a GraphQL-over-HTTP request — from a JSON body or the query string — checked before
//! anything executes: the document parses, the operation is known, and its type suits the method.

use async_graphql::Variables;
use async_graphql::parser::types::{DocumentOperations, OperationType};
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, header};
use serde::Deserialize;

use crate::error::{ErrorCode, Reportable};

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

/// Why a GraphQL-over-HTTP request was refused before executing; reported with the code [`Reportable`] gives.
#[derive(Debug, thiserror::Error)]
pub enum ParamsError {
    #[error("POST /graphql needs `Content-Type: application/json`")]
    NotJson,
    #[error("request body is not valid JSON: {0}")]
    Body(#[from] serde_json::Error),
    #[error("batched requests are not supported")]
    Batched,
    #[error("invalid GraphQL request parameters: {0}")]
    Params(serde_json::Error),
    #[error("invalid query string: {0}")]
    QueryString(#[from] serde_urlencoded::de::Error),
    #[error("`{name}` is not valid JSON: {source}")]
    FieldJson {
        name: &'static str,
        source: serde_json::Error,
    },
    #[error("missing `query`")]
    MissingQuery,
    #[error("`variables` must be an object")]
    VariablesNotObject,
    #[error("`extensions` must be an object")]
    ExtensionsNotObject,
    /// The document does not parse; the parser's message is the client's.
    #[error("{0}")]
    Parse(String),
    #[error("the document has several operations: give `operationName`")]
    OperationNameNeeded,
    #[error("no operation with that `operationName`")]
    UnknownOperation,
    #[error("mutations must use POST")]
    MutationOverGet,
    #[error("subscriptions run over WebSocket (graphql-transport-ws) at this same path")]
    SubscriptionOverHttp,
}

/// `ServerError` is not a `std::error::Error`, so it cannot be a `#[from]` source; its message is all it says.
impl From<async_graphql::ServerError> for ParamsError {
    fn from(err: async_graphql::ServerError) -> Self {
        Self::Parse(err.message)
    }
}

impl Reportable for ParamsError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::NotJson => ErrorCode::UnsupportedMediaType,
            Self::Parse(_) => ErrorCode::GraphqlParseFailed,
            Self::OperationNameNeeded | Self::UnknownOperation => {
                ErrorCode::GraphqlUnknownOperation
            }
            Self::MutationOverGet => ErrorCode::MethodNotAllowed,
            Self::Body(_)
            | Self::Batched
            | Self::Params(_)
            | Self::QueryString(_)
            | Self::FieldJson { .. }
            | Self::MissingQuery
            | Self::VariablesNotObject
            | Self::ExtensionsNotObject
            | Self::SubscriptionOverHttp => ErrorCode::BadRequest,
        }
    }
}

pub fn require_json_body(headers: &HeaderMap) -> Result<(), ParamsError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ParamsError::NotJson)
    }
}

pub fn parse_post_body(bytes: &Bytes) -> Result<GraphqlParams, ParamsError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)?;
    if value.is_array() {
        return Err(ParamsError::Batched);
    }
    serde_json::from_value(value).map_err(ParamsError::Params)
}

pub fn parse_get_params(raw: &str) -> Result<GraphqlParams, ParamsError> {
    let params: GetParams = serde_urlencoded::from_str(raw)?;
    let decode = |name: &'static str, value: Option<String>| {
        value
            .map(|v| {
                serde_json::from_str(&v).map_err(|source| ParamsError::FieldJson { name, source })
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
) -> Result<(async_graphql::Request, OperationType), ParamsError> {
    let query = params
        .query
        .filter(|q| !q.trim().is_empty())
        .ok_or(ParamsError::MissingQuery)?;
    let variables = match params.variables {
        None | Some(serde_json::Value::Null) => Variables::default(),
        Some(value @ serde_json::Value::Object(_)) => Variables::from_json(value),
        Some(_) => return Err(ParamsError::VariablesNotObject),
    };
    if params
        .extensions
        .as_ref()
        .is_some_and(|e| !e.is_object() && !e.is_null())
    {
        return Err(ParamsError::ExtensionsNotObject);
    }
    let mut request = async_graphql::Request::new(query).variables(variables);
    if let Some(name) = &params.operation_name {
        request = request.operation_name(name.clone());
    }
    let document = request.parsed_query()?;
    let operation_type = match (&document.operations, params.operation_name.as_deref()) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| op.node.ty),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| op.node.ty)
        }
        (DocumentOperations::Multiple(_), None) => return Err(ParamsError::OperationNameNeeded),
    }
    .ok_or(ParamsError::UnknownOperation)?;
    match (operation_type, method) {
        (OperationType::Mutation, &Method::GET) => Err(ParamsError::MutationOverGet),
        (OperationType::Subscription, _) => Err(ParamsError::SubscriptionOverHttp),
        _ => Ok((request, operation_type)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;

    #[test]
    fn mutations_over_get_are_refused() {
        let params = GraphqlParams {
            query: Some("mutation { x }".into()),
            operation_name: None,
            variables: None,
            extensions: None,
        };
        assert_eq!(
            ApiError::from(prepare(params, &Method::GET).unwrap_err()).code,
            ErrorCode::MethodNotAllowed
        );
    }
}
