-- Tenants with outbound work: a running campaign, or calls placed through Twilio that have not ended. Written
-- before the tenant's own change commits (a stale entry only costs one look), so the scheduler finds every such
-- tenant after a restart without opening every tenant file. `version` changes on every re-queue. In region.db
-- because a tenant's calls are placed by its home region, whose catalog may be a read-only replica.
create table outbound_queue (
    tenant_id text primary key,
    due_at    integer not null,
    version   integer not null default 0
) strict;
