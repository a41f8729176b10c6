-- Tenants that have webhook deliveries waiting, and when the earliest is due. Written right after the
-- tenant's own transaction commits, so the dispatcher finds work without opening every tenant file.
-- `version` changes on every re-queue, so the dispatcher never drops an entry that arrived while it worked.
create table webhook_queue (
    tenant_id text primary key references tenants (id),
    due_at    integer not null,
    version   integer not null default 0
) strict;
