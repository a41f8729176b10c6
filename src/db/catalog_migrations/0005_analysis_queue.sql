-- Tenants with post-call analysis to run. Written before the change that ends a call commits (a stale entry
-- only costs one look), so the analyst finds every such tenant after a restart without opening every tenant
-- file. `version` changes on every re-queue.
create table analysis_queue (
    tenant_id text primary key references tenants (id),
    due_at    integer not null,
    version   integer not null default 0
) strict;
