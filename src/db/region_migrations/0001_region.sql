-- DATA_DIR/region.db: this machine's own state, writable in every region (the catalog is a read-only replica
-- outside the primary). Timestamps are unix milliseconds (UTC).

-- Tenants with webhook deliveries waiting, and when the earliest is due (moved here from the catalog).
-- `version` changes on every re-queue, so the dispatcher never drops an entry that arrived while it worked.
create table webhook_queue (
    tenant_id text primary key,
    due_at    integer not null,
    version   integer not null default 0
) strict;

-- Tenants that lived here and moved to another region (`voxedge tenant move`). Requests for them are replayed
-- there at once, before this region's catalog replica says so.
create table moved_tenants (
    tenant_id text primary key,
    to_region text not null,
    move_id   text not null,
    moved_at  integer not null
) strict;
