-- Outgoing webhooks: endpoints and a transactional outbox of deliveries.
create table webhook_endpoints (
    id          text primary key,         -- ULID
    url         text not null,
    description text not null default '',
    events      text not null,            -- JSON array of event types
    secret      text not null,            -- signing secret (whsec_...), encrypted with the server key
    enabled     integer not null default 1 check (enabled in (0, 1)),
    created_at  integer not null,
    updated_at  integer not null
) strict;

-- A delivery is written in the same transaction as the change it reports, then sent by the dispatcher.
create table webhook_deliveries (
    id               text primary key,    -- ULID; sent as the X-Voxedge-Delivery header
    endpoint_id      text not null references webhook_endpoints (id) on delete cascade,
    event_type       text not null,
    payload          text not null,       -- the exact JSON body that is signed and sent
    status           text not null check (status in ('pending', 'delivered', 'failed')),
    attempts         integer not null default 0,
    next_attempt_at  integer,             -- null once delivered or given up
    last_status_code integer,
    last_error       text,
    created_at       integer not null,
    delivered_at     integer
) strict;

create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where status = 'pending';
create index webhook_deliveries_by_endpoint on webhook_deliveries (endpoint_id, created_at desc, id desc);
