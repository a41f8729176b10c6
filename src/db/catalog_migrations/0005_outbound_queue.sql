-- Tenants with outbound work: a running campaign, or calls placed through Twilio that have not ended. Written
-- before the tenant's own change commits (a stale entry only costs one look), so the scheduler finds every such
-- tenant after a restart without opening every tenant file. `version` changes on every re-queue.
create table outbound_queue (
    tenant_id text primary key references tenants (id),
    due_at    integer not null,
    version   integer not null default 0
) strict;
