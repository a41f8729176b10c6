//! The one error type clients see.
//!
//! Every layer has its own error enum (`StorageError`, ...). They are mapped once, here, into [`ApiError`]:
//! a stable machine-readable [`ErrorCode`], an HTTP status, and a message safe to show. HTTP responses and
//! GraphQL `extensions.code` use the same codes, so clients can branch on them whatever the transport.
//!
//! `ApiError` deliberately does not implement `Display`: async-graphql converts every `Display` type into
//! a code-less error, and we want `?` in a resolver to go through our `From` impl that keeps the code.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Stable error codes. The string form is part of the API: never rename one, only add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 400: the HTTP request itself is malformed (bad JSON, missing `query`, bad parameters).
    BadRequest,
    /// 400: the GraphQL document does not parse.
    GraphqlParseFailed,
    /// 400: the GraphQL document does not validate against the schema.
    GraphqlValidationFailed,
    /// 400: the operation to run cannot be determined (unknown or missing `operationName`).
    GraphqlUnknownOperation,
    /// 400: the query nests deeper than the configured limit.
    QueryTooDeep,
    /// 400: the query's complexity exceeds the configured limit.
    QueryTooComplex,
    /// 400: an argument or input value is invalid (see `extensions.fields`).
    InvalidInput,
    /// 401: the operation needs credentials and none were given.
    Unauthenticated,
    /// 401: the `Authorization` header is not of a form we understand.
    MalformedCredentials,
    /// 401: the API key is unknown or its secret is wrong.
    InvalidApiKey,
    /// 401: the API key was revoked.
    ApiKeyRevoked,
    /// 401: the API key has expired.
    ApiKeyExpired,
    /// 403: authenticated, but the role does not allow this.
    Forbidden,
    /// 404: no such object (or not visible to this principal).
    NotFound,
    /// 405: method not allowed (e.g. a mutation over GET).
    MethodNotAllowed,
    /// 406: the `Accept` header allows no media type we can produce.
    NotAcceptable,
    /// 409: conflicts with existing state (duplicate name, stale version, ...).
    Conflict,
    /// 409: the call's state machine does not allow this transition.
    InvalidStateTransition,
    /// 413: the request body is larger than the configured limit.
    PayloadTooLarge,
    /// 415: the request body's media type is not supported.
    UnsupportedMediaType,
    /// 429: too many requests.
    RateLimited,
    /// 500: an unexpected failure; details are in the server log, never in the response.
    Internal,
    /// 503: the tenant's database cannot be used (corrupt, or written by a newer version).
    TenantUnavailable,
    /// 503: the server is shutting down or not ready.
    ServiceUnavailable,
    /// 401: the access or session token has expired (refresh it, or mint a new one).
    TokenExpired,
    /// 401: the token is not one we issued: malformed, tampered with, wrongly signed, or of the wrong kind
    /// for this endpoint (e.g. a live-call session token sent to GraphQL).
    InvalidToken,
    /// 401: the token's session was signed out or revoked, or its membership ended.
    TokenRevoked,
    /// 401: wrong email or password (deliberately not saying which).
    InvalidCredentials,
    /// 401: a refresh token was used twice; its whole session family is now revoked.
    RefreshTokenReused,
    /// 403: a signed inbound request (e.g. a Twilio webhook) has a missing or wrong signature, or names
    /// a tenant that does not exist (deliberately indistinguishable).
    InvalidSignature,
    /// 404: the tenant has not configured telephony (no Twilio account), so its webhooks cannot be verified.
    TelephonyNotConfigured,
    /// 502: the telephony provider (Twilio) refused a request or could not be reached; the message says why.
    TelephonyProviderError,
}

impl ErrorCode {
    /// Every code, for lookups and tests.
    pub const ALL: [ErrorCode; 32] = [
        Self::BadRequest,
        Self::GraphqlParseFailed,
        Self::GraphqlValidationFailed,
        Self::GraphqlUnknownOperation,
        Self::QueryTooDeep,
        Self::QueryTooComplex,
        Self::InvalidInput,
        Self::Unauthenticated,
        Self::MalformedCredentials,
        Self::InvalidApiKey,
        Self::ApiKeyRevoked,
        Self::ApiKeyExpired,
        Self::Forbidden,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::NotAcceptable,
        Self::Conflict,
        Self::InvalidStateTransition,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::RateLimited,
        Self::Internal,
        Self::TenantUnavailable,
        Self::ServiceUnavailable,
        Self::TokenExpired,
        Self::InvalidToken,
        Self::TokenRevoked,
        Self::InvalidCredentials,
        Self::RefreshTokenReused,
        Self::InvalidSignature,
        Self::TelephonyNotConfigured,
        Self::TelephonyProviderError,
    ];

    /// The code with this string form.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == code)
    }

    /// The stable string clients see in `code` / `extensions.code`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "BAD_REQUEST",
            Self::GraphqlParseFailed => "GRAPHQL_PARSE_FAILED",
            Self::GraphqlValidationFailed => "GRAPHQL_VALIDATION_FAILED",
            Self::GraphqlUnknownOperation => "GRAPHQL_UNKNOWN_OPERATION",
            Self::QueryTooDeep => "QUERY_TOO_DEEP",
            Self::QueryTooComplex => "QUERY_TOO_COMPLEX",
            Self::InvalidInput => "INVALID_INPUT",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::MalformedCredentials => "MALFORMED_CREDENTIALS",
            Self::InvalidApiKey => "INVALID_API_KEY",
            Self::ApiKeyRevoked => "API_KEY_REVOKED",
            Self::ApiKeyExpired => "API_KEY_EXPIRED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::NotAcceptable => "NOT_ACCEPTABLE",
            Self::Conflict => "CONFLICT",
            Self::InvalidStateTransition => "INVALID_STATE_TRANSITION",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::RateLimited => "RATE_LIMITED",
            Self::Internal => "INTERNAL",
            Self::TenantUnavailable => "TENANT_UNAVAILABLE",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            Self::TokenExpired => "TOKEN_EXPIRED",
            Self::InvalidToken => "INVALID_TOKEN",
            Self::TokenRevoked => "TOKEN_REVOKED",
            Self::InvalidCredentials => "INVALID_CREDENTIALS",
            Self::RefreshTokenReused => "REFRESH_TOKEN_REUSED",
            Self::InvalidSignature => "INVALID_SIGNATURE",
            Self::TelephonyNotConfigured => "TELEPHONY_NOT_CONFIGURED",
            Self::TelephonyProviderError => "TELEPHONY_PROVIDER_ERROR",
        }
    }

    /// The HTTP status for a request that fails with this code as a whole.
    pub fn status(self) -> StatusCode {
        match self {
            Self::BadRequest
            | Self::GraphqlParseFailed
            | Self::GraphqlValidationFailed
            | Self::GraphqlUnknownOperation
            | Self::QueryTooDeep
            | Self::QueryTooComplex
            | Self::InvalidInput => StatusCode::BAD_REQUEST,
            Self::Unauthenticated
            | Self::MalformedCredentials
            | Self::InvalidApiKey
            | Self::ApiKeyRevoked
            | Self::ApiKeyExpired
            | Self::TokenExpired
            | Self::InvalidToken
            | Self::TokenRevoked
            | Self::InvalidCredentials
            | Self::RefreshTokenReused => StatusCode::UNAUTHORIZED,
            Self::Forbidden | Self::InvalidSignature => StatusCode::FORBIDDEN,
            Self::NotFound | Self::TelephonyNotConfigured => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            Self::Conflict | Self::InvalidStateTransition => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::TelephonyProviderError => StatusCode::BAD_GATEWAY,
            Self::TenantUnavailable | Self::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Codes that mean "the request never reached execution" (GraphQL-over-HTTP maps these to 4xx).
    pub fn is_request_error(self) -> bool {
        matches!(
            self,
            Self::BadRequest
                | Self::GraphqlParseFailed
                | Self::GraphqlValidationFailed
                | Self::GraphqlUnknownOperation
                | Self::QueryTooDeep
                | Self::QueryTooComplex
        )
    }
}

/// One invalid input field, reported in `extensions.fields`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// Path of the input field, e.g. `input.name`.
    pub field: String,
    /// Stable code of the problem, e.g. `TOO_LONG`, `REQUIRED`.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
}

/// An error as the client sees it.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// Stable machine-readable code.
    pub code: ErrorCode,
    /// Message safe to show to the client.
    pub message: String,
    /// Field-level problems, for `InvalidInput`.
    pub fields: Vec<FieldError>,
    /// Seconds to wait before retrying, for `RateLimited` and `ServiceUnavailable`.
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            fields: Vec::new(),
            retry_after_secs: None,
        }
    }

    /// An unexpected failure: the cause is logged here, the client only sees a generic message.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(ErrorCode::Internal, "internal error")
    }

    /// Input validation failed on one or more fields.
    pub fn invalid_input(fields: Vec<FieldError>) -> Self {
        let message = match fields.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            _ => format!("{} input fields are invalid", fields.len()),
        };
        Self {
            fields,
            ..Self::new(ErrorCode::InvalidInput, message)
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    /// The error as a GraphQL error object (`{"message", "extensions": {"code", ...}}`). Every error sent outside
    /// a GraphQL execution result comes through here, so it is counted here (`voxedge_api_errors_total`).
    pub fn to_graphql_json(&self) -> serde_json::Value {
        metrics::counter!("voxedge_api_errors_total", "code" => self.code.as_str()).increment(1);
        let mut extensions = json!({ "code": self.code.as_str() });
        if !self.fields.is_empty() {
            extensions["fields"] = json!(self.fields);
        }
        if let Some(secs) = self.retry_after_secs {
            extensions["retryAfter"] = json!(secs);
        }
        json!({ "message": self.message, "extensions": extensions })
    }
}

/// Plain HTTP endpoints answer with the same shape as a GraphQL error response, so clients parse one format.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.code.status(),
            axum::Json(json!({ "errors": [self.to_graphql_json()] })),
        )
            .into_response();
        let headers = response.headers_mut();
        if let Some(secs) = self.retry_after_secs {
            headers.insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        if self.code.status() == StatusCode::UNAUTHORIZED {
            headers.insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"voxedge\""),
            );
        }
        response
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(err: ApiError) -> Self {
        metrics::counter!("voxedge_api_errors_total", "code" => err.code.as_str()).increment(1);
        let mut gql = async_graphql::Error::new(err.message);
        let mut extensions = async_graphql::ErrorExtensionValues::default();
        extensions.set("code", err.code.as_str());
        if !err.fields.is_empty() {
            extensions.set(
                "fields",
                async_graphql::Value::from_json(json!(err.fields)).unwrap_or_default(),
            );
        }
        if let Some(secs) = err.retry_after_secs {
            extensions.set("retryAfter", secs);
        }
        gql.extensions = Some(extensions);
        gql
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut names: Vec<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(code.as_str()), Some(code));
        }
    }

    #[test]
    fn graphql_error_keeps_code_and_fields() {
        let err = ApiError::invalid_input(vec![FieldError {
            field: "input.name".into(),
            code: "TOO_LONG",
            message: "at most 100 characters".into(),
        }]);
        let gql: async_graphql::Error = err.into();
        let ext = gql.extensions.expect("extensions set");
        assert_eq!(
            ext.get("code"),
            Some(&async_graphql::Value::from("INVALID_INPUT"))
        );
        assert!(ext.get("fields").is_some());
    }
}
