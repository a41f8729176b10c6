-- Telephony: the tenant's Twilio account and the phone numbers that reach its agents. Twilio posts every
-- call to one URL per tenant (the tenant id is in the path), so numbers are looked up here, per tenant.
create table twilio_accounts (
    id               integer primary key check (id = 1),   -- a tenant has at most one account
    account_sid      text not null,                        -- AC + 32 hex digits
    auth_token       text not null,                        -- encrypted with the server key (Secrets)
    auth_token_last4 text not null,                        -- shown so people can tell tokens apart
    created_at       integer not null,
    updated_at       integer not null
) strict;

create table phone_numbers (
    id         text primary key,                           -- ULID
    number     text not null unique,                       -- E.164, e.g. +14155550123
    agent_id   text not null references agents (id),
    label      text,
    created_at integer not null,
    updated_at integer not null
) strict;

create index phone_numbers_by_created on phone_numbers (created_at desc, id desc);
create index phone_numbers_by_agent on phone_numbers (agent_id, created_at desc, id desc);
