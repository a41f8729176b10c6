//! Webhook tools: their configuration, and executing the tool calls of one model response.
//!
//! Every call is validated first; valid webhook calls then run concurrently, a few at a time (a caller
//! waits in silence meanwhile), each bounded by its own timeout. Whatever happens, each call gets a result
//! text, because the next request must answer every call id and because a clear error lets the
//! model recover ("the booking system is down, can I take a message?").

use std::fmt;
use std::time::Duration;

use futures::StreamExt as _;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::chunk::{RawToolCall, shorten};
use super::client::Http;
use super::conversation::ToolExchange;
use super::error::{BrainError, describe};
use super::events::BrainEvent;
use super::tools::{Invocation, ToolSet, config};
use super::turn::Emitter;
use crate::error::ErrorCode;
use crate::outbound::{self, OutboundClient};

/// Longest webhook response passed to the model; more would crowd out the conversation.
const MAX_RESULT_BYTES: usize = 16 * 1024;

/// Webhook calls of one response running at once; the rest wait their turn.
const CONCURRENT_CALLS: usize = 4;

/// A tenant's HTTP endpoint exposed to the model as a function.
#[derive(Clone)]
pub struct WebhookTool {
    /// Function name the model uses (`[A-Za-z0-9_-]{1,64}`).
    pub name: String,
    /// What the tool does and when to use it; the model decides from this text.
    pub description: String,
    /// JSON Schema of the arguments object.
    pub parameters: Value,
    /// Where the arguments are sent.
    pub url: String,
    /// `POST`, `PUT` or `PATCH` send the arguments as a JSON body; `GET` and `DELETE` as query parameters.
    pub method: Method,
    /// Extra request headers, e.g. the tenant's own authorization.
    pub headers: Vec<(String, String)>,
    /// Time allowed for the whole webhook request, response body included.
    pub timeout: Duration,
}

impl WebhookTool {
    /// A `POST` webhook with a 5 s timeout and no extra headers.
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        parameters: Value,
        url: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            parameters,
            url: url.into(),
            method: Method::POST,
            headers: Vec::new(),
            timeout: Duration::from_secs(5),
        }
    }
}

/// Header values often carry tenant secrets; keep them out of logs.
impl fmt::Debug for WebhookTool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("WebhookTool")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("method", &self.method)
            .field("headers", &header_names)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Where and how a webhook is called, parsed at configuration time.
#[derive(Debug)]
pub(crate) struct WebhookTarget {
    pub(crate) url: Url,
    pub(crate) method: Method,
    pub(crate) headers: HeaderMap,
    pub(crate) timeout: Duration,
}

impl WebhookTool {
    /// Parses URL, method and headers once, when the agent is configured.
    pub(crate) fn target(&self) -> Result<WebhookTarget, BrainError> {
        let url =
            Url::parse(&self.url).map_err(|e| config(&self.name, &format!("bad url: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(config(&self.name, "url must be http or https"));
        }
        if ![
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ]
        .contains(&self.method)
        {
            return Err(config(
                &self.name,
                "method must be GET, POST, PUT, PATCH or DELETE",
            ));
        }
        if self.timeout.is_zero() {
            return Err(config(&self.name, "timeout must be positive"));
        }
        let mut headers = HeaderMap::new();
        for (k, v) in &self.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| config(&self.name, &format!("bad header name {k:?}")))?;
            let mut value = HeaderValue::from_str(v)
                .map_err(|_| config(&self.name, &format!("bad value for header {k}")))?;
            value.set_sensitive(true);
            headers.append(name, value);
        }
        Ok(WebhookTarget {
            url,
            method: self.method.clone(),
            headers,
            timeout: self.timeout,
        })
    }
}

/// A call-control action the model chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CallAction {
    EndCall { reason: Option<String> },
    TransferCall { to: String, reason: Option<String> },
}

/// The calls with their results, and the call-control action if one was chosen.
pub(crate) struct Executed {
    pub(crate) exchanges: Vec<ToolExchange>,
    pub(crate) action: Option<CallAction>,
}

/// Why a tool call did not give the model a result: the timeline's code, and the text for the model.
type Failure = (ErrorCode, String);

enum Pending<'a> {
    Ready(Result<String, Failure>),
    Webhook(&'a WebhookTarget, Value),
}

/// Validates and runs `calls`, emitting a `ToolCall` event for each and then its `ToolResult`.
pub(crate) async fn execute(
    http: &Http,
    tools: &ToolSet,
    calls: Vec<RawToolCall>,
    emit: &Emitter,
) -> Executed {
    let mut action = None;
    let pending: Vec<Pending<'_>> = calls
        .iter()
        .map(|call| {
            emit.send(BrainEvent::ToolCall {
                id: call.id.clone(),
                name: call.name.clone(),
                arguments: call.arguments.clone(),
            });
            let chosen = match tools.resolve(&call.name, &call.arguments) {
                Invocation::Webhook { target, args } => return Pending::Webhook(target, args),
                Invocation::Refused(reason) => {
                    return Pending::Ready(Err((ErrorCode::ToolFailed, reason)));
                }
                Invocation::SendDtmf { digits } => {
                    // In order with the calls around it: the pipeline plays the tones where they fall.
                    emit.send(BrainEvent::SendDtmf {
                        digits: digits.clone(),
                    });
                    let result = json!({"status": "pressed", "digits": digits});
                    return Pending::Ready(Ok(result.to_string()));
                }
                Invocation::EndCall { reason } => CallAction::EndCall { reason },
                Invocation::TransferCall { to, reason } => CallAction::TransferCall { to, reason },
            };
            // Only the first call-control action counts; a model asking to both hang up and
            // transfer gets told the second one was not done.
            if action.is_some() {
                return Pending::Ready(Err((
                    ErrorCode::ToolFailed,
                    "not done: another call-control action was already taken".into(),
                )));
            }
            let result = match &chosen {
                CallAction::EndCall { .. } => json!({"status": "the call ends after your reply"}),
                CallAction::TransferCall { to, .. } => {
                    json!({"status": "the caller is transferred after your reply", "to": to})
                }
            };
            action = Some(chosen);
            Pending::Ready(Ok(result.to_string()))
        })
        .collect();

    let client = http.webhooks();
    let runs: Vec<_> = pending
        .into_iter()
        .zip(&calls)
        .map(|(p, call)| run(client, p, call))
        .collect();
    let results: Vec<_> = futures::stream::iter(runs)
        .buffered(CONCURRENT_CALLS)
        .collect()
        .await;

    let mut exchanges = Vec::with_capacity(calls.len());
    for ((result, elapsed), call) in results.into_iter().zip(calls) {
        let code = result.as_ref().err().map(|(code, _)| *code);
        let content = result.unwrap_or_else(|(_, error)| json!({ "error": error }).to_string());
        emit.send(BrainEvent::ToolResult {
            id: call.id.clone(),
            name: call.name.clone(),
            ok: code.is_none(),
            code,
            content: content.clone(),
            elapsed,
        });
        exchanges.push(ToolExchange {
            id: call.id,
            name: call.name,
            arguments: call.arguments,
            result: content,
        });
    }
    Executed { exchanges, action }
}

/// One call's result, and how long it took.
async fn run(
    client: &OutboundClient,
    pending: Pending<'_>,
    call: &RawToolCall,
) -> (Result<String, Failure>, Duration) {
    let started = Instant::now();
    let result = match pending {
        Pending::Ready(result) => result,
        Pending::Webhook(target, args) => call_webhook(client, target, call, &args).await,
    };
    (result, started.elapsed())
}

/// Sends validated arguments to a webhook; `Err` holds a code for the timeline and a text for the model.
async fn call_webhook(
    client: &OutboundClient,
    target: &WebhookTarget,
    call: &RawToolCall,
    args: &Value,
) -> Result<String, Failure> {
    let sends_body = !matches!(target.method, Method::GET | Method::DELETE);
    let mut url = target.url.clone();
    if !sends_body && let Value::Object(map) = args {
        let mut query = url.query_pairs_mut();
        for (key, value) in map {
            match value {
                Value::String(s) => query.append_pair(key, s),
                other => query.append_pair(key, &other.to_string()),
            };
        }
    }
    let not_allowed = |refused: &outbound::Refused| {
        (
            ErrorCode::UrlNotAllowed,
            format!("{} was not called: {refused}", call.name),
        )
    };
    let mut request = client
        .request(target.method.clone(), url)
        .map_err(|refused| not_allowed(&refused))?
        .headers(target.headers.clone())
        // Lets the tenant's endpoint recognise a retried call.
        .header("x-voxedge-tool-call-id", &call.id)
        .timeout(target.timeout);
    if sends_body {
        request = request.json(args);
    }
    // Webhook URLs may carry tenant secrets in their query; keep them out of error texts.
    let failed = |e: reqwest::Error| {
        if let Some(refused) = outbound::refusal(&e) {
            not_allowed(refused)
        } else if e.is_timeout() {
            (
                ErrorCode::Timeout,
                format!("{} did not answer within {:?}", call.name, target.timeout),
            )
        } else {
            (
                ErrorCode::ToolFailed,
                format!("{} failed: {}", call.name, describe(&e.without_url())),
            )
        }
    };
    let answer = async {
        let mut response = request.send().await?;
        let mut body = Vec::new();
        while body.len() <= MAX_RESULT_BYTES {
            match response.chunk().await? {
                Some(bytes) => body.extend_from_slice(&bytes),
                None => break,
            }
        }
        Ok::<_, reqwest::Error>((response.status(), body))
    };
    let (status, body) = answer.await.map_err(failed)?;
    let text = String::from_utf8_lossy(&body);
    let text = text.trim();
    if status.is_redirection() {
        return Err((
            ErrorCode::ToolFailed,
            format!(
                "{} answered {} (redirects are not followed)",
                call.name,
                status_text(status)
            ),
        ));
    }
    if !status.is_success() {
        return Err((
            ErrorCode::ToolFailed,
            format!(
                "{} answered {}: {}",
                call.name,
                status_text(status),
                shorten(text, 500)
            ),
        ));
    }
    if text.is_empty() {
        return Ok(json!({"ok": true}).to_string());
    }
    Ok(shorten(text, MAX_RESULT_BYTES))
}

fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("HTTP {} {reason}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    }
}
