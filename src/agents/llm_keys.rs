//! The tenant's LLM provider keys: stored sealed with the server key, shown by their last four characters,
//! opened only when a call starts.

use std::collections::HashMap;

use super::AgentError;
use crate::clock::now_ms;
use crate::db::{Database, TenantId};
use crate::error::{ErrorCode, FieldError, InvalidInput};
use crate::model::agent::KNOWN_PROVIDERS;
use crate::redact::Secret;
use crate::repo;
use crate::repo::llm_keys::LlmKeyRow;
use crate::secrets::Secrets;

/// What a key is bound to when sealed: a ciphertext copied into another tenant's file does not decrypt there.
fn key_context(tenant: TenantId, provider: &str) -> String {
    format!("tenant:{tenant}:llm_key:{provider}")
}

fn check(provider: &str, api_key: &str) -> Result<(), InvalidInput> {
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
    InvalidInput::check(errors)
}

/// Stores the provider's key, replacing any previous one. The key is sealed before it leaves this function.
pub async fn set_key(
    db: &Database,
    secrets: &Secrets,
    tenant: TenantId,
    provider: String,
    api_key: Secret<String>,
) -> Result<LlmKeyRow, AgentError> {
    check(&provider, api_key.expose())?;
    let key = api_key.expose().trim();
    let now = now_ms();
    let row = LlmKeyRow {
        api_key: secrets.encrypt(key.as_bytes(), &key_context(tenant, &provider)),
        api_key_last4: key
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect(),
        provider,
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
) -> Result<HashMap<String, Secret<String>>, AgentError> {
    let rows = list_keys(db).await?;
    let mut keys = HashMap::with_capacity(rows.len());
    for row in rows {
        let unreadable = |why: String| AgentError::UnreadableKey {
            provider: row.provider.clone(),
            why,
        };
        let clear = secrets
            .decrypt(&row.api_key, &key_context(tenant, &row.provider))
            .map_err(|e| unreadable(e.to_string()))?;
        let text = String::from_utf8(clear.expose().clone())
            .map_err(|_| unreadable("not UTF-8".into()))?;
        keys.insert(row.provider, Secret::new(text));
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
        let sealed = secrets.encrypt(b"sk-test-123456", &key_context(a, "openai"));
        assert!(secrets.decrypt(&sealed, &key_context(a, "openai")).is_ok());
        assert!(secrets.decrypt(&sealed, &key_context(b, "openai")).is_err());
        assert!(secrets.decrypt(&sealed, &key_context(a, "groq")).is_err());
    }

    #[test]
    fn bad_input_is_refused_with_codes() {
        let err = check("acme", "short").unwrap_err();
        let codes: Vec<_> = err.0.iter().map(|f| f.code).collect();
        assert_eq!(
            codes,
            [ErrorCode::UnknownProvider, ErrorCode::InvalidFormat]
        );
        assert!(check("groq", "gsk_0123456789").is_ok());
    }
}
