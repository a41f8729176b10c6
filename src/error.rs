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

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Defines [`ErrorCode`] from one table: variant, wire string, HTTP status, meaning.
macro_rules! error_codes {
    ($( $(#[$section:meta])* $variant:ident = ($code:literal, $status:literal, $meaning:literal), )+) => {
        /// Stable error codes. The string form is part of the API: never rename one, only add.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[$section])* #[doc = $meaning] $variant, )+
        }

        impl ErrorCode {
            /// Every code, in table order.
            pub const ALL: &'static [ErrorCode] = &[$(Self::$variant),+];

            /// The stable string clients see in `code` / `extensions.code`.
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $code,)+ }
            }

            /// What the code means, for documentation.
            pub const fn meaning(self) -> &'static str {
                match self { $(Self::$variant => $meaning,)+ }
            }

            /// The HTTP status for a request that fails with this code as a whole.
            pub fn status(self) -> StatusCode {
                let status: u16 = match self { $(Self::$variant => $status,)+ };
                StatusCode::from_u16(status).expect("invariant: the table holds valid statuses")
            }
        }
    };
}

error_codes! {
    // Requests that never reach execution.
    BadRequest = ("BAD_REQUEST", 400, "the HTTP request itself is malformed (bad JSON, missing `query`, bad parameters)"),
    GraphqlParseFailed = ("GRAPHQL_PARSE_FAILED", 400, "the GraphQL document does not parse"),
    GraphqlValidationFailed = ("GRAPHQL_VALIDATION_FAILED", 400, "the GraphQL document does not validate against the schema"),
    GraphqlUnknownOperation = ("GRAPHQL_UNKNOWN_OPERATION", 400, "the operation to run cannot be determined (unknown or missing `operationName`)"),
    QueryTooDeep = ("QUERY_TOO_DEEP", 400, "the query nests deeper than the configured limit"),
    QueryTooComplex = ("QUERY_TOO_COMPLEX", 400, "the query's complexity exceeds the configured limit"),
    TooManyAliases = ("TOO_MANY_ALIASES", 400, "the document uses more field aliases than the configured limit"),
    TooManyDirectives = ("TOO_MANY_DIRECTIVES", 400, "a field carries more directives than the configured limit"),
    TooManyIdentityMutations = ("TOO_MANY_IDENTITY_MUTATIONS", 400, "a request may run at most one of `signUp`, `login`, `acceptInvite`, `refreshSession`, `switchTenant` (aliases included)"),
    MethodNotAllowed = ("METHOD_NOT_ALLOWED", 405, "method not allowed (e.g. a mutation over GET)"),
    NotAcceptable = ("NOT_ACCEPTABLE", 406, "the `Accept` header allows no media type we can produce"),
    PayloadTooLarge = ("PAYLOAD_TOO_LARGE", 413, "the request body is larger than the configured limit"),
    UnsupportedMediaType = ("UNSUPPORTED_MEDIA_TYPE", 415, "the request body's media type is not supported"),

    // Input.
    InvalidInput = ("INVALID_INPUT", 400, "an argument or input value is invalid (see `extensions.fields`)"),

    // Credentials and access.
    Unauthenticated = ("UNAUTHENTICATED", 401, "the operation needs credentials and none were given"),
    MalformedCredentials = ("MALFORMED_CREDENTIALS", 401, "the `Authorization` header is not of a form we understand"),
    InvalidApiKey = ("INVALID_API_KEY", 401, "the API key is unknown or its secret is wrong"),
    ApiKeyRevoked = ("API_KEY_REVOKED", 401, "the API key was revoked"),
    ApiKeyExpired = ("API_KEY_EXPIRED", 401, "the API key has expired"),
    TokenExpired = ("TOKEN_EXPIRED", 401, "the access or session token has expired (refresh it, or mint a new one)"),
    InvalidToken = ("INVALID_TOKEN", 401, "the token is not one we issued, or not for this endpoint"),
    TokenRevoked = ("TOKEN_REVOKED", 401, "the token's session was signed out or revoked, or its membership ended"),
    InvalidCredentials = ("INVALID_CREDENTIALS", 401, "wrong email or password (deliberately not saying which)"),
    RefreshTokenReused = ("REFRESH_TOKEN_REUSED", 401, "a refresh token was used twice; its whole session is now revoked"),
    LinkExpired = ("LINK_EXPIRED", 400, "an emailed link (email verification, password reset, invitation) has expired; ask for a new one"),
    LinkAlreadyUsed = ("LINK_ALREADY_USED", 409, "an emailed link was already used; each works once"),
    EmailNotVerified = ("EMAIL_NOT_VERIFIED", 403, "the account's grace period is over: verify the email address (`resendVerificationEmail`) to go on"),
    Forbidden = ("FORBIDDEN", 403, "authenticated, but the role does not allow this"),
    InvalidSignature = ("INVALID_SIGNATURE", 403, "a signed inbound request has a missing or wrong signature, or names no tenant"),
    RateLimited = ("RATE_LIMITED", 429, "too many requests, or locked out after failed sign-ins (`Retry-After`)"),
    TooManySubscriptions = ("TOO_MANY_SUBSCRIPTIONS", 429, "over the cap of operations running at once on one GraphQL WebSocket, or in one tenant"),
    InviteLocked = ("INVITE_LOCKED", 403, "the invitation is locked after too many wrong passwords; ask for a new one"),
    CsrfCheckFailed = ("CSRF_CHECK_FAILED", 403, "a request using the refresh-token cookie lacks the `X-Voxedge-CSRF` header or comes from another site"),

    // State.
    NotFound = ("NOT_FOUND", 404, "no such object (or not visible to this principal)"),
    Conflict = ("CONFLICT", 409, "conflicts with existing state (duplicate, stale version, archived agent, ...)"),
    InvalidStateTransition = ("INVALID_STATE_TRANSITION", 409, "the call's state machine does not allow this transition"),
    InvalidCampaignState = ("INVALID_CAMPAIGN_STATE", 409, "the campaign's state does not allow this (starting a running campaign, resuming a canceled one, ...)"),
    MissingVariables = ("MISSING_VARIABLES", 400, "the call lacks variables its agent's texts use (`{{name}}`); the message names them"),

    // Telephony.
    TelephonyNotConfigured = ("TELEPHONY_NOT_CONFIGURED", 404, "the tenant has not configured telephony (no Twilio account)"),
    TelephonyProviderError = ("TELEPHONY_PROVIDER_ERROR", 502, "the telephony provider refused a request or could not be reached"),

    // Billing, quotas and payments.
    ConcurrentCallLimit = ("CONCURRENT_CALL_LIMIT", 429, "the tenant is at its plan's concurrent-call limit; a new call can start when one ends"),
    MonthlyMinutesExhausted = ("MONTHLY_MINUTES_EXHAUSTED", 402, "the tenant has used its plan's call minutes for this month; new calls start again next month or on a bigger plan"),
    TenantSuspended = ("TENANT_SUSPENDED", 402, "the tenant is suspended for an unpaid invoice: no new calls until it is paid (data stays readable)"),
    PlanNotAvailable = ("PLAN_NOT_AVAILABLE", 403, "the plan cannot be chosen by the tenant itself (an operator assigns it)"),
    BillingNotConfigured = ("BILLING_NOT_CONFIGURED", 404, "the server has no payment provider configured (`--stripe-secret-key`)"),
    PaymentProviderError = ("PAYMENT_PROVIDER_ERROR", 502, "the payment provider (Stripe) refused a request or could not be reached"),
    WebhookSignatureInvalid = ("WEBHOOK_SIGNATURE_INVALID", 400, "an inbound webhook's signature header is missing or wrong, or its timestamp is outside the tolerance"),

    // The server.
    Internal = ("INTERNAL", 500, "an unexpected failure; details are in the server log, never in the response"),
    TenantUnavailable = ("TENANT_UNAVAILABLE", 503, "the tenant's database cannot be used (corrupt, or written by a newer version)"),
    ServiceUnavailable = ("SERVICE_UNAVAILABLE", 503, "the server is busy, shutting down or not ready (`Retry-After`)"),

    // Regions.
    WrongRegion = ("WRONG_REGION", 409, "the request belongs to another region; the `fly-replay` header names it, and Fly's proxy replays the request there"),
    TenantReadOnly = ("TENANT_READ_ONLY", 503, "the tenant is being moved to another region or restored: reads work, writes are refused for a few seconds (`Retry-After`)"),
    RegionUnavailable = ("REGION_UNAVAILABLE", 503, "another region this request needs could not be reached, or gave no usable answer"),
    ReplicaUnavailable = ("REPLICA_UNAVAILABLE", 503, "the Litestream replica could not be used: not configured, unreachable, or holding nothing for that time"),

    // Voice engines (live calls, `/readyz`).
    VoiceModelMissing = ("VOICE_MODEL_MISSING", 503, "a voice model is not configured or its file does not exist"),
    VoiceModelFailed = ("VOICE_MODEL_FAILED", 503, "a voice model file exists but could not be loaded"),
    VoiceUnavailable = ("VOICE_UNAVAILABLE", 503, "the voice inference pool is shutting down or a worker died"),
    VoiceInferenceFailed = ("VOICE_INFERENCE_FAILED", 500, "voice inference ran and failed"),
    VoicePhonemizerFailed = ("VOICE_PHONEMIZER_FAILED", 500, "the espeak-ng phonemizer failed"),
    VoiceInvalidInput = ("VOICE_INVALID_INPUT", 400, "a voice engine was given input it cannot process"),
    VoiceAudioError = ("VOICE_AUDIO_ERROR", 400, "audio could not be converted"),

    // Live-call protocol errors (the Realtime API's own codes where it has them).
    InvalidJson = ("INVALID_JSON", 400, "a live-call message is not valid JSON"),
    InvalidEvent = ("INVALID_EVENT", 400, "a live-call event lacks a field it needs, or came out of order"),
    InvalidValue = ("INVALID_VALUE", 400, "a live-call event has a value out of range"),
    InvalidAudio = ("INVALID_AUDIO", 400, "live-call audio is not valid base64"),
    UnknownEvent = ("UNKNOWN_EVENT", 400, "a live-call event type that does not exist"),
    UnsupportedEvent = ("UNSUPPORTED_EVENT", 400, "a live-call event type this server does not support"),
    UnsupportedItem = ("UNSUPPORTED_ITEM", 400, "a conversation item of a kind that cannot be added"),
    UnsupportedAudioFormat = ("UNSUPPORTED_AUDIO_FORMAT", 400, "an audio format the server cannot decode or encode"),
    BinaryNotSupported = ("BINARY_NOT_SUPPORTED", 400, "a binary WebSocket message where the protocol is JSON text"),
    MessageTooLarge = ("MESSAGE_TOO_LARGE", 413, "a live-call message over `--live-max-message-bytes`"),
    StartTimeout = ("START_TIMEOUT", 408, "a Twilio stream did not send `start` in time"),
    ConnectionLost = ("CONNECTION_LOST", 400, "the connection closed before the call could start"),
    InputAudioBufferCommitEmpty = ("INPUT_AUDIO_BUFFER_COMMIT_EMPTY", 400, "a commit with no buffered audio"),
    ConversationAlreadyHasActiveResponse = ("CONVERSATION_ALREADY_HAS_ACTIVE_RESPONSE", 409, "a response was asked for while the agent is answering"),
    ResponseCancelNotActive = ("RESPONSE_CANCEL_NOT_ACTIVE", 409, "a cancel with no response in progress"),
    InputAudioTooFast = ("INPUT_AUDIO_TOO_FAST", 429, "live-call audio arrives faster than twice real time (after a 20 s burst); the excess is dropped"),
    InputTextTooLong = ("INPUT_TEXT_TOO_LONG", 413, "a typed message (`conversation.item.create`) over 4,096 characters"),
    ItemRateExceeded = ("ITEM_RATE_EXCEEDED", 429, "typed messages arrive faster than allowed (10 at once, then one a second)"),
    TranscriptionBacklog = ("TRANSCRIPTION_BACKLOG", 503, "too many of the call's utterances wait for transcription; this one was dropped"),
    ItemTruncateInvalidItemId = ("ITEM_TRUNCATE_INVALID_ITEM_ID", 400, "a truncate naming an item that is not the latest agent message"),

    // Why an LLM provider failed (the call timeline's `llm_provider_failed` events).
    CircuitOpen = ("CIRCUIT_OPEN", 503, "the provider's circuit breaker is open, so it was not asked"),
    UrlExpired = ("URL_EXPIRED", 403, "a signed download URL (a call recording's) is past its expiry; ask for a new one"),
    AnalysisInvalidOutput = ("ANALYSIS_INVALID_OUTPUT", 502, "a post-call analysis failed: the agent's LLM answered twice without JSON matching the schema"),
    AnalysisLlmFailed = ("ANALYSIS_LLM_FAILED", 502, "a post-call analysis failed: no LLM provider answered in any attempt"),
    FirstTokenTimeout = ("FIRST_TOKEN_TIMEOUT", 504, "no first token within the provider's first-token timeout"),
    Timeout = ("TIMEOUT", 504, "the reply did not finish within the provider's overall timeout"),
    ProviderStatus = ("PROVIDER_STATUS", 502, "the provider answered with an error status"),
    ProviderUnreachable = ("PROVIDER_UNREACHABLE", 502, "the provider could not be reached"),
    ProviderError = ("PROVIDER_ERROR", 502, "the provider's stream broke, or did not follow the protocol"),
    Config = ("CONFIG", 400, "the agent's LLM or tool configuration is unusable"),
    LlmReplyTooLarge = ("LLM_REPLY_TOO_LARGE", 502, "an LLM reply ran past the reply's byte limit and was cut off there"),
    LlmTooManyToolCalls = ("LLM_TOO_MANY_TOOL_CALLS", 502, "an LLM reply called more tools than one response may; only the first ones ran"),
    ToolFailed = ("TOOL_FAILED", 502, "a webhook tool answered with an error or could not be reached, or the model's call was refused"),

    // Field-level problems (`extensions.fields[].code`).
    Required = ("REQUIRED", 400, "a value is missing or empty"),
    TooShort = ("TOO_SHORT", 400, "a value is shorter than allowed"),
    TooLong = ("TOO_LONG", 400, "a value is longer than allowed"),
    TooMany = ("TOO_MANY", 400, "a list has more items than allowed"),
    OutOfRange = ("OUT_OF_RANGE", 400, "a number is outside its allowed range"),
    Duplicate = ("DUPLICATE", 400, "the same value appears twice where it must be unique"),
    EmptyQuery = ("EMPTY_QUERY", 400, "a search has no words"),
    InThePast = ("IN_THE_PAST", 400, "a time that must be in the future is not"),
    InvalidAddress = ("INVALID_ADDRESS", 400, "a call's from/to is not a valid address for its transport"),
    InvalidAccountSid = ("INVALID_ACCOUNT_SID", 400, "not a Twilio account SID"),
    InvalidAuthToken = ("INVALID_AUTH_TOKEN", 400, "not a Twilio auth token"),
    InvalidCharacters = ("INVALID_CHARACTERS", 400, "a value contains characters it may not"),
    InvalidCursor = ("INVALID_CURSOR", 400, "a pagination cursor we did not issue"),
    InvalidDatetime = ("INVALID_DATETIME", 400, "not an RFC 3339 date-time"),
    InvalidEmail = ("INVALID_EMAIL", 400, "not an email address"),
    InvalidFormat = ("INVALID_FORMAT", 400, "a value is not in the expected format"),
    InvalidId = ("INVALID_ID", 400, "not an id we issue"),
    InvalidJsonSchema = ("INVALID_JSON_SCHEMA", 400, "a tool's parameters or an agent's extraction schema are not a valid JSON Schema"),
    InvalidLanguage = ("INVALID_LANGUAGE", 400, "not a BCP 47 language tag"),
    InvalidMetadata = ("INVALID_METADATA", 400, "metadata is not a JSON object of at most 16 KiB"),
    InvalidName = ("INVALID_NAME", 400, "not a valid name"),
    InvalidPhoneNumber = ("INVALID_PHONE_NUMBER", 400, "not an E.164 phone number"),
    InvalidUrl = ("INVALID_URL", 400, "not an absolute http(s) URL"),
    InvalidTemplate = ("INVALID_TEMPLATE", 400, "a text has a malformed `{{placeholder}}`"),
    InvalidTimezone = ("INVALID_TIMEZONE", 400, "not an IANA time zone such as `America/New_York`"),
    InvalidVariables = ("INVALID_VARIABLES", 400, "variables are not a JSON object of names to short texts"),
    InvalidCsv = ("INVALID_CSV", 400, "a CSV line cannot be read (unbalanced quotes, wrong number of cells, no header)"),
    UrlNotAllowed = ("URL_NOT_ALLOWED", 400, "a URL that points at an address tenants may not reach (loopback, private, link-local, ...; see `--allow-outbound`)"),
    UnknownDirection = ("UNKNOWN_DIRECTION", 400, "not a call direction"),
    UnknownProvider = ("UNKNOWN_PROVIDER", 400, "not an LLM provider we know"),
    UnknownRegion = ("UNKNOWN_REGION", 400, "not a region this deployment runs in (`--regions`)"),
    UnknownStatus = ("UNKNOWN_STATUS", 400, "not a call status"),
    WeakPassword = ("WEAK_PASSWORD", 400, "a password that is too common or contains the email"),
    AgentArchived = ("AGENT_ARCHIVED", 409, "the agent is archived and takes no new calls or numbers"),
}

impl ErrorCode {
    /// The code with this string form (either case).
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|c| c.as_str().eq_ignore_ascii_case(code))
    }

    /// The code as the live-call protocols show it: lowercase, like the Realtime API's own codes.
    pub fn wire(self) -> String {
        self.as_str().to_ascii_lowercase()
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
                | Self::TooManyAliases
                | Self::TooManyDirectives
                | Self::TooManyIdentityMutations
        )
    }
}

/// A shared error (e.g. one cached failure handed to every waiter) reports as the error itself.
impl<E: Reportable> Reportable for std::sync::Arc<E> {
    fn code(&self) -> ErrorCode {
        self.as_ref().code()
    }

    fn inner(&self) -> Option<&dyn Reportable> {
        Some(self.as_ref())
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
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
    fn codes_are_unique_upper_snake_case_and_round_trip() {
        let mut names: Vec<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
        for &code in ErrorCode::ALL {
            let name = code.as_str();
            assert!(
                name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
                "{name}"
            );
            assert_eq!(ErrorCode::from_code(name), Some(code));
            assert_eq!(ErrorCode::from_code(&code.wire()), Some(code));
            assert!(code.status().is_client_error() || code.status().is_server_error());
        }
    }

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
