//! The tenant's LLM provider keys: stored sealed with the server key, shown by their last four characters,
//! opened only when a call starts.
//!
//! A key goes only where it belongs: to its provider's public endpoint ([`default_base_url`]), or to the base
//! URL stored with it — which only owners and admins may set. An agent's `baseUrl` is the agent editor's to
//! change; were keys sent wherever it points, anyone who can edit agents could collect the tenant's keys.

use std::collections::HashMap;

use super::AgentError;
use crate::clock::now_ms;
use crate::db::{Database, TenantId};
use crate::error::{ErrorCode, FieldError, InvalidInput};
use crate::model::agent::{KNOWN_PROVIDERS, default_base_url};
use crate::outbound::OutboundPolicy;
use crate::redact::Secret;
use crate::repo;
use crate::repo::llm_keys::LlmKeyRow;
use crate::secrets::Secrets;

/// What a key is bound to when sealed: a ciphertext copied into another tenant's file, or a base URL changed
/// behind the API's back, does not decrypt.
fn key_context(tenant: TenantId, provider: &str, base_url: Option<&str>) -> String {
    match base_url {
        None => format!("tenant:{tenant}:llm_key:{provider}"),
        Some(url) => format!("tenant:{tenant}:llm_key:{provider}:base_url:{url}"),
    }
}

/// A key in clear, with where it may be sent.
#[derive(Debug, Clone)]
pub struct OpenKey {
    pub key: Secret<String>,
    /// The base URL stored with the key (besides the provider's public endpoint).
    pub base_url: Option<String>,
}

impl OpenKey {
    /// Whether the key may be sent to `base_url` for `provider`: its public endpoint or the key's own.
    pub fn may_go_to(&self, provider: &str, base_url: &str) -> bool {
        default_base_url(provider).is_some_and(|official| same_endpoint(official, base_url))
            || self
                .base_url
                .as_deref()
                .is_some_and(|own| same_endpoint(own, base_url))
    }
}

/// Two base URLs name the same endpoint (scheme, host and port compared as URLs, a trailing `/` ignored).
fn same_endpoint(a: &str, b: &str) -> bool {
    let parse = |u: &str| reqwest::Url::parse(u.trim_end_matches('/')).ok();
    match (parse(a), parse(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

fn check(provider: &str, api_key: &str, base_url: Option<&str>) -> Result<(), InvalidInput> {
    let mut errors = Vec::new();
    if !KNOWN_PROVIDERS.contains(&provider) {
        errors.push(FieldError::new(
            "input.provider",
            ErrorCode::UnknownProvider,
            format!("must be one of {}", KNOWN_PROVIDERS.join(", ")),
        ));
    }
    let key = api_key.trim();
    if key.len() < 8 || key.len() > 512 || key.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        errors.push(FieldError::new(
            "input.apiKey",
            ErrorCode::InvalidFormat,
            "must be 8 to 512 characters without spaces",
        ));
    }
    if let Some(url) = base_url {
        let parsed = reqwest::Url::parse(url).ok();
        let usable = parsed.is_some_and(|u| {
            matches!(u.scheme(), "http" | "https") && u.host().is_some() && url.len() <= 2000
        });
        if !usable {
            errors.push(FieldError::new(
                "input.baseUrl",
                ErrorCode::InvalidUrl,
                "must be an absolute http(s) URL",
            ));
        }
    }
    InvalidInput::check(errors)
}

/// Stores the provider's key, replacing any previous one, for its public endpoint and `base_url` (checked
/// against the outbound policy). The key is sealed before it leaves this function. Who may name a base URL is
/// the caller's to check.
pub async fn set_key(
    db: &Database,
    secrets: &Secrets,
    outbound: &OutboundPolicy,
    tenant: TenantId,
    provider: String,
    api_key: Secret<String>,
    base_url: Option<String>,
) -> Result<LlmKeyRow, AgentError> {
    let base_url = base_url.map(|u| u.trim().trim_end_matches('/').to_owned());
    check(&provider, api_key.expose(), base_url.as_deref())?;
    if let Some(url) = &base_url {
        outbound
            .check_url(url)
            .await
            .map_err(|refused| InvalidInput(vec![refused.field("input.baseUrl")]))?;
    }
    let key = api_key.expose().trim();
    let now = now_ms();
    let row = LlmKeyRow {
        api_key: secrets.encrypt(
            key.as_bytes(),
            &key_context(tenant, &provider, base_url.as_deref()),
        ),
        api_key_last4: key
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect(),
        provider,
        base_url,
        created_at: now,
        updated_at: now,
    };
    let stored = db
        .write(move |tx| {
            repo::llm_keys::put(tx, &row)?;
            repo::llm_keys::get(tx, &row.provider)
        })
        .await?;
    stored.ok_or_else(|| AgentError::Corrupt("an LLM key vanished after writing it".into()))
}

pub async fn list_keys(db: &Database) -> Result<Vec<LlmKeyRow>, AgentError> {
    Ok(db.read(repo::llm_keys::list).await?)
}

/// Removes the provider's key; returns whether there was one.
pub async fn delete_key(db: &Database, provider: String) -> Result<bool, AgentError> {
    Ok(db
        .write(move |tx| repo::llm_keys::delete(tx, &provider))
        .await?)
}

/// Every provider key of the tenant, in clear, for the providers of a call about to start.
pub async fn open_keys(
    db: &Database,
    secrets: &Secrets,
    tenant: TenantId,
) -> Result<HashMap<String, OpenKey>, AgentError> {
    let rows = list_keys(db).await?;
    let mut keys = HashMap::with_capacity(rows.len());
    for row in rows {
        let context = key_context(tenant, &row.provider, row.base_url.as_deref());
        let key = secrets.decrypt_text(&row.api_key, &context).map_err(|e| {
            AgentError::UnreadableKey {
                provider: row.provider.clone(),
                why: e.to_string(),
            }
        })?;
        keys.insert(
            row.provider,
            OpenKey {
                key,
                base_url: row.base_url,
            },
        );
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_bound_to_their_tenant_and_provider() {
        let secrets = Secrets::from_master(&[5; 32]);
        let (a, b) = (TenantId::generate(), TenantId::generate());
        let sealed = secrets.encrypt(b"sk-test-123456", &key_context(a, "openai", None));
        assert!(
            secrets
                .decrypt(&sealed, &key_context(a, "openai", None))
                .is_ok()
        );
        assert!(
            secrets
                .decrypt(&sealed, &key_context(b, "openai", None))
                .is_err()
        );
        assert!(
            secrets
                .decrypt(&sealed, &key_context(a, "groq", None))
                .is_err()
        );
        let here = Some("https://llm.example.com/v1");
        let bound = secrets.encrypt(b"sk-test-123456", &key_context(a, "custom", here));
        let elsewhere = Some("https://evil.example.com/v1");
        assert!(
            secrets
                .decrypt(&bound, &key_context(a, "custom", here))
                .is_ok()
        );
        assert!(
            secrets
                .decrypt(&bound, &key_context(a, "custom", elsewhere))
                .is_err()
        );
        assert!(
            secrets
                .decrypt(&bound, &key_context(a, "custom", None))
                .is_err()
        );
    }

    #[test]
    fn bad_input_is_refused_with_codes() {
        let err = check("acme", "short", Some("ftp://x")).unwrap_err();
        let codes: Vec<_> = err.0.iter().map(|f| f.code).collect();
        assert_eq!(
            codes,
            [
                ErrorCode::UnknownProvider,
                ErrorCode::InvalidFormat,
                ErrorCode::InvalidUrl
            ]
        );
        assert!(check("groq", "gsk_0123456789", None).is_ok());
    }

    #[test]
    fn keys_go_to_their_public_endpoint_or_their_own_base_url_only() {
        let key = |base_url: Option<&str>| OpenKey {
            key: Secret::new("sk-x".into()),
            base_url: base_url.map(str::to_owned),
        };
        let plain = key(None);
        assert!(plain.may_go_to("openai", "https://api.openai.com/v1"));
        assert!(plain.may_go_to("openai", "https://API.openai.com:443/v1/"));
        assert!(!plain.may_go_to("openai", "https://api.openai.com.evil.example/v1"));
        assert!(!plain.may_go_to("openai", "http://api.openai.com/v1"));
        assert!(!plain.may_go_to("openai", "https://api.openai.com/v2"));
        assert!(!plain.may_go_to("custom", "https://llm.example.com/v1"));
        let bound = key(Some("https://llm.example.com/v1"));
        assert!(bound.may_go_to("custom", "https://llm.example.com/v1/"));
        assert!(!bound.may_go_to("custom", "https://llm.example.com/other"));
        assert!(bound.may_go_to("openai", "https://api.openai.com/v1"));
    }
}
