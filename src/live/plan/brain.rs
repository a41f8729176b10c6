//! The brain's view of an agent: its provider chain (with the tenant's keys, each only where it belongs) and its
//! tools (with their headers) — for live calls, and for reading a call afterwards (post-call analysis), which uses
//! the same providers without tools.

use std::collections::HashMap;
use std::time::Duration;

use super::CallSecrets;
use crate::agents::llm_keys::OpenKey;

use crate::brain::{AgentSpec, BrainError, ProviderConfig, ToolSet, ToolSpec, WebhookTool};
use crate::db::TenantId;
use crate::live::LlmSettings;
use crate::model::AgentConfig;
use crate::model::agent::{HttpMethod, ToolKind};

/// Post-call analysis answers in one JSON object that may be long; a voice reply's token limit is too tight.
const ANALYSIS_MIN_TOKENS: u32 = 1_500;
/// Nobody waits on the line for an analysis: a slow first token is no reason to give up on a provider.
const ANALYSIS_FIRST_TOKEN: Duration = Duration::from_secs(60);

/// The agent's providers in order, primary first, each with the tenant's key for it.
fn providers(
    config: &AgentConfig,
    tenant: TenantId,
    keys: &HashMap<String, OpenKey>,
    settings: &LlmSettings,
) -> Vec<ProviderConfig> {
    let llm = &config.llm;
    std::iter::once(&llm.primary)
        .chain(&llm.fallbacks)
        .enumerate()
        .map(|(i, target)| {
            // The name keys the circuit breaker: per tenant, so one tenant's bad key never opens another's circuit.
            let mut provider = ProviderConfig::new(
                format!("{tenant}/{}#{i}:{}", target.provider, target.model),
                target.base_url.clone(),
                target.model.clone(),
            );
            // The agent's base URL is an editor's to change; the key goes there only if it is the provider's
            // public endpoint or the one stored with the key.
            provider.api_key = keys
                .get(&target.provider)
                .filter(|key| key.may_go_to(&target.provider, &target.base_url))
                .map(|key| key.key.expose().clone());
            provider.temperature = Some(llm.temperature as f32);
            provider.max_tokens = Some(llm.max_tokens.max(1) as u32);
            provider.connect_timeout = settings.connect_timeout;
            provider.first_token_timeout = settings.first_token_timeout;
            provider
        })
        .collect()
}

/// How a live call's agent thinks: its providers and its tools.
pub(super) fn call_spec(
    config: &AgentConfig,
    tenant: TenantId,
    secrets: &CallSecrets,
    settings: &LlmSettings,
) -> Result<AgentSpec, BrainError> {
    let llm = &config.llm;
    let providers = providers(config, tenant, &secrets.llm_keys, settings);
    let tools = config
        .tools
        .iter()
        .map(|tool| match tool.kind {
            ToolKind::EndCall => ToolSpec::EndCall,
            ToolKind::SendDtmf => ToolSpec::SendDtmf,
            ToolKind::TransferCall => ToolSpec::TransferCall {
                destinations: tool.destinations.iter().map(|d| d.name.clone()).collect(),
            },
            ToolKind::Webhook => {
                let parameters = tool.parameters.as_ref().map_or_else(
                    || serde_json::json!({"type": "object", "properties": {}}),
                    |p| p.0.clone(),
                );
                let mut webhook = WebhookTool::new(
                    tool.name.clone(),
                    tool.description.clone(),
                    parameters,
                    tool.url.clone().unwrap_or_default(),
                );
                if tool.method == Some(HttpMethod::Get) {
                    webhook.method = reqwest::Method::GET;
                }
                if let Some(ms) = tool.timeout_ms {
                    webhook.timeout = Duration::from_millis(ms.max(1) as u64);
                }
                if let Some(headers) = secrets.tool_headers.get(&tool.name) {
                    webhook.headers = headers
                        .iter()
                        .map(|(name, value)| (name.clone(), value.expose().clone()))
                        .collect();
                }
                ToolSpec::Webhook(webhook)
            }
        })
        .collect();
    Ok(AgentSpec::new(providers, ToolSet::new(tools)?)?.with_apology(llm.apology_message.clone()))
}

/// How the agent's LLM reads a finished call: the same providers, no tools, deterministic and with room to answer.
pub fn analysis_spec(
    config: &AgentConfig,
    tenant: TenantId,
    keys: &HashMap<String, OpenKey>,
    settings: &LlmSettings,
) -> Result<AgentSpec, BrainError> {
    let providers = providers(config, tenant, keys, settings)
        .into_iter()
        .map(|mut provider| {
            provider.temperature = Some(0.0);
            provider.max_tokens = provider.max_tokens.map(|n| n.max(ANALYSIS_MIN_TOKENS));
            provider.first_token_timeout = provider.first_token_timeout.max(ANALYSIS_FIRST_TOKEN);
            provider
        })
        .collect();
    AgentSpec::new(providers, ToolSet::new(Vec::new())?)
}
