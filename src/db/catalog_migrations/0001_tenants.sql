-- The global catalog: one row per tenant. Everything else about a tenant lives in its own file.
-- Timestamps are unix milliseconds (UTC).
create table tenants (
    id          text primary key,    -- ULID; the tenant file is tenants/<id>.db
    slug        text not null unique,
    name        text not null,
    home_region text,                -- Fly region the tenant lives in; null = any
    plan        text not null default 'free',
    status      text not null default 'active' check (status in ('active', 'suspended', 'deleted')),
    created_at  integer not null
) strict;
