-- The tenant's API keys for LLM providers. Agents name a provider (`openai`, `groq`, ...); the key is the
-- tenant's, looked up by that name when a call starts, so agents can be shared and exported without secrets.
create table llm_keys (
    provider    text primary key,                          -- openai | groq | together | ollama | vllm | custom
    api_key     text not null,                             -- encrypted with the server key (Secrets)
    api_key_last4 text not null,                           -- shown so people can tell keys apart
    created_at  integer not null,
    updated_at  integer not null
) strict;
