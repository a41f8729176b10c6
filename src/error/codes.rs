//! [`ErrorCode`]: the one table of codes every error a client sees carries — its wire string, HTTP status and
//! meaning, in one row per code.

use axum::http::StatusCode;

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
    CallInProgress = ("CALL_IN_PROGRESS", 409, "the call has not ended; a call can be deleted once it has"),
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
}
