//! The one error type clients see, and the one table of codes every error carries.
//!
//! Every layer has its own error enum (`StorageError`, `CallError`, `VoiceError`, ...). Each says which
//! [`ErrorCode`] it is by implementing [`Reportable`]; the edge turns any of them into [`ApiError`] with one
//! generic `From`, so the mapping happens once. GraphQL (`extensions.code`), HTTP error bodies and the
//! live-call protocols' `error` events all draw their codes from the same table. GraphQL and HTTP show a
//! code as written (`NOT_FOUND`); the live-call protocols follow the OpenAI Realtime style and show it in
//! lowercase (`not_found`, `input_audio_buffer_commit_empty`).
//!
//! `ApiError` deliberately does not implement `Display`: async-graphql converts every `Display` type into
//! a code-less error, and we want `?` in a resolver to go through our `From` impl that keeps the code.

mod codes;

pub use codes::ErrorCode;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A shared error (e.g. one cached failure handed to every waiter) reports as the error itself.
impl<E: Reportable> Reportable for std::sync::Arc<E> {
    fn code(&self) -> ErrorCode {
        self.as_ref().code()
    }

    fn inner(&self) -> Option<&dyn Reportable> {
        Some(self.as_ref())
    }

    fn message(&self) -> String {
        self.as_ref().message()
    }

    fn fields(&self) -> Vec<FieldError> {
        self.as_ref().fields()
    }

    fn retry_after_secs(&self) -> Option<u64> {
        self.as_ref().retry_after_secs()
    }
}

/// One invalid input field, reported in `extensions.fields`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// Path of the input field, e.g. `input.name`.
    pub field: String,
    /// What is wrong, e.g. `TOO_LONG`, `REQUIRED`.
    pub code: ErrorCode,
    /// Human-readable explanation.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}

/// Input that failed validation: every problem at once, as field errors. Domain errors embed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe_fields(.0))]
pub struct InvalidInput(pub Vec<FieldError>);

/// One invalid field is invalid input, so a validating parser's `?` reports it.
impl From<FieldError> for InvalidInput {
    fn from(error: FieldError) -> Self {
        Self(vec![error])
    }
}

impl InvalidInput {
    /// One invalid field.
    pub fn field(field: impl Into<String>, code: ErrorCode, message: impl Into<String>) -> Self {
        Self(vec![FieldError::new(field, code, message)])
    }

    /// `Ok` when nothing was collected.
    pub fn check(errors: Vec<FieldError>) -> Result<(), Self> {
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Self(errors))
        }
    }
}

fn describe_fields(fields: &[FieldError]) -> String {
    match fields {
        [one] => format!("{}: {}", one.field, one.message),
        _ => format!("{} input fields are invalid", fields.len()),
    }
}

impl Reportable for InvalidInput {
    fn code(&self) -> ErrorCode {
        ErrorCode::InvalidInput
    }

    fn fields(&self) -> Vec<FieldError> {
        self.0.clone()
    }
}

/// An error of some layer that a client may be told about: its code from the table, and what to say.
///
/// The message is the error's `Display` unless [`Reportable::message`] says otherwise; for
/// [`ErrorCode::Internal`] the cause is logged and the client gets a generic message. A domain error that
/// wraps another layer's error (storage, invalid input) names it in [`Reportable::inner`], and that one is
/// reported instead.
pub trait Reportable: std::fmt::Display {
    /// The code this error is reported with.
    fn code(&self) -> ErrorCode;

    /// The wrapped error to report instead of this one, if this variant only carries another layer's error.
    fn inner(&self) -> Option<&dyn Reportable> {
        None
    }

    /// What the client is told.
    fn message(&self) -> String {
        self.to_string()
    }

    /// Field-level problems, for `INVALID_INPUT`.
    fn fields(&self) -> Vec<FieldError> {
        Vec::new()
    }

    /// Seconds to wait before retrying, for `RATE_LIMITED` and `SERVICE_UNAVAILABLE`.
    fn retry_after_secs(&self) -> Option<u64> {
        None
    }
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

/// What resolvers and handlers return.
pub type ApiResult<T> = Result<T, ApiError>;

/// The one mapping from a layer's error to what the client sees.
impl<E: Reportable> From<E> for ApiError {
    fn from(err: E) -> Self {
        ApiError::report(&err)
    }
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

    /// What the client sees of `err` (see [`Reportable`]).
    pub fn report(err: &dyn Reportable) -> Self {
        if let Some(inner) = err.inner() {
            return Self::report(inner);
        }
        let code = err.code();
        if code == ErrorCode::Internal {
            return Self::internal(err);
        }
        Self {
            code,
            message: err.message(),
            fields: err.fields(),
            retry_after_secs: err.retry_after_secs(),
        }
    }

    /// An unexpected failure: the cause is logged here, the client only sees a generic message.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(ErrorCode::Internal, "internal error")
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

    /// The error as a GraphQL error object (`{"message", "extensions": {"code", ...}}`).
    pub fn to_graphql_json(&self) -> serde_json::Value {
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

/// Counts an error sent to a client (`voxedge_api_errors_total`): plain HTTP error responses, GraphQL requests
/// refused before execution, and every error in a GraphQL response (see `graphql::codes`).
pub fn count_sent(code: &str) {
    metrics::counter!("voxedge_api_errors_total", "code" => code.to_string()).increment(1);
}

/// Plain HTTP endpoints answer with the same shape as a GraphQL error response, so clients parse one format.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        count_sent(self.code.as_str());
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
    fn graphql_error_keeps_code_and_fields() {
        let err = ApiError::from(InvalidInput::field(
            "input.name",
            ErrorCode::TooLong,
            "at most 100 characters",
        ));
        assert_eq!(err.message, "input.name: at most 100 characters");
        let gql: async_graphql::Error = err.into();
        let ext = gql.extensions.expect("extensions set");
        assert_eq!(
            ext.get("code"),
            Some(&async_graphql::Value::from("INVALID_INPUT"))
        );
        let fields = ext.get("fields").expect("fields set").clone().into_json();
        assert_eq!(fields.unwrap()[0]["code"], "TOO_LONG");
    }
}
