-- Tenants with post-call analysis to run. Written before the change that ends a call commits (a stale entry
-- only costs one look), so the analyst finds every such tenant after a restart without opening every tenant
-- file. `version` changes on every re-queue. In region.db because calls end in their tenant's home region,
-- whose catalog may be a read-only replica.
create table analysis_queue (
    tenant_id text primary key,
    due_at    integer not null,
    version   integer not null default 0
) strict;
