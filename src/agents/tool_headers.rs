//! Webhook tools' request headers (`Authorization: Bearer ...` and the like): tenant secrets, so their values
//! are sealed with the server key when saved, never served back, and opened only when a call starts.

use std::collections::HashMap;

use super::AgentError;
use crate::db::TenantId;
use crate::model::AgentConfig;
use crate::model::agent::ToolKind;
use crate::redact::Secret;
use crate::secrets::Secrets;

/// What a value is bound to when sealed: another tenant, agent or header name cannot open it.
fn context(tenant: TenantId, agent_id: &str, header: &str) -> String {
    format!(
        "tenant:{tenant}:agent:{agent_id}:tool_header:{}",
        header.to_ascii_lowercase()
    )
}

/// Seals header values of `agent_id`'s tools: (header name, clear value) → sealed text.
pub fn sealer<'a>(
    secrets: &'a Secrets,
    tenant: TenantId,
    agent_id: &'a str,
) -> impl Fn(&str, &str) -> String + 'a {
    move |header, value| secrets.encrypt(value.as_bytes(), &context(tenant, agent_id, header))
}

/// A tool's headers in clear, as its webhook sends them.
pub type OpenHeaders = Vec<(String, Secret<String>)>;

/// The headers of every webhook tool of `config` (agent `agent_id`), in clear, by tool name.
pub fn open(
    secrets: &Secrets,
    tenant: TenantId,
    agent_id: &str,
    config: &AgentConfig,
) -> Result<HashMap<String, OpenHeaders>, AgentError> {
    let mut open = HashMap::new();
    for tool in config.tools.iter().filter(|t| t.kind == ToolKind::Webhook) {
        let mut headers = Vec::with_capacity(tool.headers.len());
        for header in &tool.headers {
            let value = secrets
                .decrypt_text(&header.sealed, &context(tenant, agent_id, &header.name))
                .map_err(|why| {
                    AgentError::Corrupt(format!(
                        "the {} header of tool {} cannot be opened: {why}",
                        header.name, tool.name
                    ))
                })?;
            headers.push((header.name.clone(), value));
        }
        open.insert(tool.name.clone(), headers);
    }
    Ok(open)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::agent::ToolHeader;

    #[test]
    fn values_open_only_where_they_were_sealed() {
        let secrets = Secrets::from_master(&[9; 32]);
        let tenant = TenantId::generate();
        let seal = sealer(&secrets, tenant, "agent-1");
        let sealed = seal("authorization", "Bearer t0ps3cret");
        assert!(!sealed.contains("t0ps3cret"));
        let mut config = crate::agents::AgentConfigInput {
            system_prompt: "Hi".into(),
            ..Default::default()
        }
        .into_config("config")
        .unwrap();
        config.tools.push(crate::model::agent::Tool {
            kind: ToolKind::Webhook,
            name: "lookup".into(),
            description: String::new(),
            parameters: None,
            url: Some("https://example.com/x".into()),
            method: None,
            timeout_ms: None,
            destinations: Vec::new(),
            headers: vec![ToolHeader {
                name: "Authorization".into(),
                sealed,
            }],
        });
        let opened = open(&secrets, tenant, "agent-1", &config).unwrap();
        assert_eq!(opened["lookup"][0].1.expose(), "Bearer t0ps3cret");
        assert!(open(&secrets, tenant, "agent-2", &config).is_err());
        assert!(open(&secrets, TenantId::generate(), "agent-1", &config).is_err());
    }
}
