-- Regions: the primary rewrites this row every second. Every region reads it from its catalog replica to know
-- how far behind the primary it is (`voxedge_replication_lag_seconds`), and waits on it when a credential is
-- newer than what its replica holds (read-your-writes after sign-in). `webhook_queue` moved to region.db,
-- which is writable in every region; rows left here are moved there once, at start.
create table catalog_heartbeat (
    id     integer primary key check (id = 1),
    region text not null,       -- the primary that wrote it
    at     integer not null     -- unix ms, the primary's clock
) strict;
