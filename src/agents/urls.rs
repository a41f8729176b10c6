//! The URLs an agent calls — its LLM base URLs and webhook tools — must lead where tenants may send requests
//! (see [`crate::outbound`]). Checked when a configuration is saved, so mistakes and probes are refused with
//! `URL_NOT_ALLOWED` at once; the check made at every request is the one that counts.

use futures::future::join_all;

use crate::error::{FieldError, InvalidInput};
use crate::model::AgentConfig;
use crate::outbound::OutboundPolicy;

/// Refuses the configuration if any of its URLs leads to a refused address; fields are under `prefix`.
pub async fn check(
    config: &AgentConfig,
    outbound: &OutboundPolicy,
    prefix: &str,
) -> Result<(), InvalidInput> {
    let llm = &config.llm;
    let mut urls: Vec<(String, &str)> = vec![(
        format!("{prefix}.llm.primary.baseUrl"),
        llm.primary.base_url.as_str(),
    )];
    for (i, fallback) in llm.fallbacks.iter().enumerate() {
        urls.push((
            format!("{prefix}.llm.fallbacks[{i}].baseUrl"),
            &fallback.base_url,
        ));
    }
    for (i, tool) in config.tools.iter().enumerate() {
        if let Some(url) = &tool.url {
            urls.push((format!("{prefix}.tools[{i}].url"), url));
        }
    }
    let checks = urls.iter().map(|(field, url)| async move {
        outbound
            .check_url(url)
            .await
            .err()
            .map(|refused| refused.field(field.clone()))
    });
    let errors: Vec<FieldError> = join_all(checks).await.into_iter().flatten().collect();
    InvalidInput::check(errors)
}
