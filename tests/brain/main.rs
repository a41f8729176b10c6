//! The agent brain against real local HTTP servers: a scripted OpenAI-compatible provider and a
//! small webhook receiver. Nothing of the brain is mocked; time is paused where timeouts matter so
//! the tests run in milliseconds and never depend on the machine's speed.

#[path = "../support/openai_server.rs"]
mod openai_server;

mod failover;
mod streaming;
mod tools;

// Imports and helpers shared by the test modules, which `use crate::*`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use openai_server::{OpenAiServer, Scripted};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use voxedge::brain::{
    AgentSpec, Brain, BrainError, BrainEvent, BreakerConfig, BreakerState, Conversation, Finish,
    ProviderConfig, ReplySummary, ToolSet, ToolSpec, Turn, WebhookTool,
};
use voxedge::outbound::OutboundPolicy;

pub(crate) fn provider(name: &str, server: &OpenAiServer) -> ProviderConfig {
    let mut p = ProviderConfig::new(name, server.base_url(), format!("{name}-model"))
        .with_api_key(format!("sk-{name}"));
    p.temperature = Some(0.3);
    p.first_token_timeout = Duration::from_secs(2);
    p.overall_timeout = Duration::from_secs(30);
    p
}

pub(crate) fn agent(providers: Vec<ProviderConfig>, tools: Vec<ToolSpec>) -> Arc<AgentSpec> {
    let tools = ToolSet::new(tools).expect("test tools are valid");
    Arc::new(
        AgentSpec::new(providers, tools)
            .expect("test providers are valid")
            .with_apology("Sorry, one moment please."),
    )
}

pub(crate) fn brain() -> Brain {
    Brain::new(BreakerConfig::default(), &loopback()).expect("brain builds")
}

/// The stand-ins run on 127.0.0.1, which tenants' URLs may only reach when the operator allows it.
pub(crate) fn loopback() -> OutboundPolicy {
    OutboundPolicy::parse("127.0.0.1/32").expect("a valid range")
}

pub(crate) fn conversation() -> Conversation {
    let mut c = Conversation::with_first_message("You are a test agent.", "Hi, how can I help?");
    c.push_user("What's the weather in Oslo?");
    c
}

pub(crate) async fn run(
    brain: &Brain,
    agent: &Arc<AgentSpec>,
    conversation: &Conversation,
) -> Vec<BrainEvent> {
    let reply = brain.reply(agent.clone(), conversation, CancellationToken::new());
    tokio::time::timeout(Duration::from_secs(300), reply.collect::<Vec<_>>())
        .await
        .expect("reply finishes")
}

pub(crate) fn text(events: &[BrainEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            BrainEvent::TextDelta(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

pub(crate) fn summary(events: &[BrainEvent]) -> &ReplySummary {
    match events.last() {
        Some(BrainEvent::Done(summary)) => summary,
        other => panic!("last event must be Done, got {other:?}"),
    }
}

pub(crate) fn failures(events: &[BrainEvent]) -> Vec<(&str, &BrainError, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            BrainEvent::ProviderFailed {
                provider,
                error,
                mid_stream,
            } => Some((provider.as_str(), error, *mid_stream)),
            _ => None,
        })
        .collect()
}

pub(crate) type Calls = Arc<Mutex<Vec<(HeaderMap, Value)>>>;

/// A tenant webhook endpoint that records what it receives.
#[derive(Clone, Default)]
pub(crate) struct Hook {
    calls: Calls,
    base: String,
}

impl Hook {
    pub(crate) async fn start() -> Self {
        let calls: Calls = Arc::default();
        fn record(calls: &Calls, headers: HeaderMap, body: Value) {
            calls.lock().expect("test lock").push((headers, body));
        }
        let app =
            Router::new()
                .route(
                    "/weather",
                    post(
                        |State(calls): State<Calls>,
                         headers: HeaderMap,
                         Json(body): Json<Value>| async move {
                            record(&calls, headers, body);
                            Json(json!({"temp_c": 21, "sky": "clear"}))
                        },
                    ),
                )
                .route(
                    "/lookup",
                    get(
                        |State(calls): State<Calls>,
                         headers: HeaderMap,
                         RawQuery(query): RawQuery| async move {
                            record(&calls, headers, Value::String(query.unwrap_or_default()));
                            Json(json!({"found": true}))
                        },
                    ),
                )
                .route(
                    "/broken",
                    post(
                        |State(calls): State<Calls>,
                         headers: HeaderMap,
                         Json(body): Json<Value>| async move {
                            record(&calls, headers, body);
                            (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance")
                        },
                    ),
                )
                .route(
                    "/slow",
                    post(
                        |State(calls): State<Calls>,
                         headers: HeaderMap,
                         Json(body): Json<Value>| async move {
                            record(&calls, headers, body);
                            tokio::time::sleep(Duration::from_secs(600)).await;
                            "too late"
                        },
                    ),
                )
                .with_state(calls.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        Self {
            calls,
            base: format!("http://{addr}"),
        }
    }

    pub(crate) fn tool(&self, path: &str) -> ToolSpec {
        let mut tool = WebhookTool::new(
            "get_weather",
            "Current weather for a city.",
            json!({
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
                "required": ["city"],
                "additionalProperties": false
            }),
            format!("{}{path}", self.base),
        );
        tool.headers = vec![("x-tenant-secret".into(), "s3cret".into())];
        tool.timeout = Duration::from_secs(3);
        ToolSpec::Webhook(tool)
    }

    pub(crate) fn received(&self) -> Vec<(HeaderMap, Value)> {
        self.calls.lock().expect("test lock").clone()
    }
}
