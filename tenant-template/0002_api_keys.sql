-- API keys for tenant backends. The secret is never stored: only its argon2id hash (PHC string).
-- Timestamps are unix milliseconds (UTC) throughout the tenant schema.
create table api_keys (
    id           text primary key,   -- public key id, also embedded in the key string
    name         text not null,
    role         text not null check (role in ('owner', 'admin', 'developer', 'viewer', 'billing')),
    secret_hash  text not null,
    created_by   text not null,      -- 'cli', 'api_key:<id>', 'user:<id>'
    created_at   integer not null,
    expires_at   integer,
    last_used_at integer,
    revoked_at   integer
) strict;

create index api_keys_by_created on api_keys (created_at desc, id desc);
